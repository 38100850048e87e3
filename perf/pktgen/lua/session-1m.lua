-- cidlb profile `session-1m`: plain CoAP, 1 M live 5-tuples visited in turn (session hits, table beyond the caches).
-- Target: cidlb Mpps ≥ 0.8 × session-1k-long's (1 M live sessions vs 1 K).
-- Compare its highest loss-free Mpps with session-1k-long's (run that script too).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/session-1m.pcap -f perf/pktgen/lua/session-1m.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("session-1m", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `session-1k`: plain CoAP, 1024 live 5-tuples (session hits).
-- Target: ≥ 0.8 × 5tswap (session hit path).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/session-1k.pcap -f perf/pktgen/lua/session-1k.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("session-1k", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `session-1k-long`: session-1k's 1024 live 5-tuples in session-1m's capture length (1 Mi packets), pool and table: the base of session-1m's target.
-- Target: — (input of session-1m's).
-- An input of session-1m's target: run it with session-1m.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/session-1k-long.pcap -f perf/pktgen/lua/session-1k-long.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("session-1k-long", {10, 25, 50, 75, 90, 100}, 10)

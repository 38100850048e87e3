-- cidlb profile `flow-label-zero`: IPv6 TCP, zero label, extension headers: 5-tuple after the walk.
-- Target: ≥ 0.8 × 5tswap (flow-label path (5-tuple fallback)).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label-zero.pcap -f perf/pktgen/lua/flow-label-zero.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label-zero", {10, 25, 50, 75, 90, 100}, 10)

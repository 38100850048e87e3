-- cidlb profile `flow-label-ext`: as flow-label, with hop-by-hop and destination options headers.
-- Target: ≥ 0.8 × 5tswap (flow-label path).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label-ext.pcap -f perf/pktgen/lua/flow-label-ext.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label-ext", {10, 25, 50, 75, 90, 100}, 10)

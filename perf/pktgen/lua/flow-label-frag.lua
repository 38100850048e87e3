-- cidlb profile `flow-label-frag`: IPv6 UDP, labelled, every datagram in two fragments (1280 + ~200 bytes).
-- Target: ≥ 0.8 × 5tswap (flow-label path).
-- Large frames (1280 + ~200 bytes): line rate is reached at fewer Mpps.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label-frag.pcap -f perf/pktgen/lua/flow-label-frag.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label-frag", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `flow-label-ipip`: as flow-label, forwarded in IPv6-in-IPv6 tunnels.
-- Target: ≥ 0.8 × 5tswap (ipip).
-- cidlb forwards every packet in an IPv6-in-IPv6 tunnel, 40 bytes longer than it came: near line rate the link back, not cidlb, limits what returns.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label-ipip.pcap -f perf/pktgen/lua/flow-label-ipip.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label-ipip", {10, 25, 50, 75, 90, 100}, 10)

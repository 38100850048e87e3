-- cidlb profile `flow-label`: IPv6 TCP, non-zero flow labels, 1000 flows.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label.pcap -f perf/pktgen/lua/flow-label.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `flow-label-ext`: IPv6 TCP with hop-by-hop and destination options.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label-ext.pcap -f perf/pktgen/lua/flow-label-ext.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label-ext", {10, 25, 50, 75, 90, 100}, 10)

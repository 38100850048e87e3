-- cidlb profile `flow-label-frag`: IPv6 UDP, labelled, two fragments per datagram (large frames: line rate is reached at fewer Mpps).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flow-label-frag.pcap -f perf/pktgen/lua/flow-label-frag.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flow-label-frag", {10, 25, 50, 75, 100}, 10)

-- cidlb profile `cid-k16`: DTLS CID records over 16 nodes.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/cid-k16.pcap -f perf/pktgen/lua/cid-k16.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("cid-k16", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `cid`: DTLS CID records, 1000 clients over 3 nodes (target: 0.9 of testpmd 5tswap).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/cid.pcap -f perf/pktgen/lua/cid.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("cid", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `cid-k16`: DTLS CID records, 1000 clients over 16 nodes.
-- Target: ≥ 0.9 × 5tswap (CID NAT path).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/cid-k16.pcap -f perf/pktgen/lua/cid-k16.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("cid-k16", {10, 25, 50, 75, 90, 100}, 10)

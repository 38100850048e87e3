-- cidlb profile `cid`: DTLS CID records, 1000 clients over 3 nodes.
-- Target: ≥ 0.9 × 5tswap (CID NAT path).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/cid.pcap -f perf/pktgen/lua/cid.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("cid", {10, 25, 50, 75, 90, 100}, 10)

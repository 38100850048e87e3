-- cidlb profile `handshake-1k`: DTLS ClientHellos from 1024 5-tuples (no CID: session path, hits after the first pass).
-- Target: ≥ 0.8 × 5tswap (session hit path).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/handshake-1k.pcap -f perf/pktgen/lua/handshake-1k.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("handshake-1k", {10, 25, 50, 75, 90, 100}, 10)

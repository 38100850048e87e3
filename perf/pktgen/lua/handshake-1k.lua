-- cidlb profile `handshake-1k`: DTLS ClientHellos from 1024 5-tuples.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/handshake-1k.pcap -f perf/pktgen/lua/handshake-1k.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("handshake-1k", {10, 25, 50, 75, 100}, 10)

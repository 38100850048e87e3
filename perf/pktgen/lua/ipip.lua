-- cidlb profile `ipip`: DTLS CID records, 1000 clients over 3 nodes, forwarded in IPv4-in-IPv4 tunnels.
-- Target: ≥ 0.8 × 5tswap (ipip).
-- cidlb forwards every packet in an IPv4-in-IPv4 tunnel, 20 bytes longer than it came: near line rate the link back, not cidlb, limits what returns.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/ipip.pcap -f perf/pktgen/lua/ipip.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("ipip", {10, 25, 50, 75, 90, 100}, 10)

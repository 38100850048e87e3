-- cidlb profile `hello-flood`: clients' first DTLS ClientHellos (no cookie) from 128 K 5-tuples: each a new flow, answered by Maglev over its 5-tuple with no session (a spoofed handshake flood).
-- Target: —.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/hello-flood.pcap -f perf/pktgen/lua/hello-flood.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("hello-flood", {10, 25, 50, 75, 90, 100}, 10)

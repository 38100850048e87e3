-- cidlb profile `mix`: 70% CID, 10% ClientHellos, 10% CoAP sessions, 10% IPv6 flow-label.
-- Target: —.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/mix.pcap -f perf/pktgen/lua/mix.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("mix", {10, 25, 50, 75, 90, 100}, 10)

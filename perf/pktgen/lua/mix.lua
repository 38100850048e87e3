-- cidlb profile `mix`: 70% CID, 10% ClientHellos, 10% CoAP, 10% flow-label.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/mix.pcap -f perf/pktgen/lua/mix.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("mix", {10, 25, 50, 75, 90, 100}, 10)

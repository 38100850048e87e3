-- cidlb profile `session-1k`: plain CoAP, 1024 live 5-tuples (session hits).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/session-1k.pcap -f perf/pktgen/lua/session-1k.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("session-1k", {10, 25, 50, 75, 90, 100}, 10)

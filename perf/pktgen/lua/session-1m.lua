-- cidlb profile `session-1m`: plain CoAP, 1 M live 5-tuples (table beyond the caches; compare with session-1k).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/session-1m.pcap -f perf/pktgen/lua/session-1m.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("session-1m", {10, 25, 50, 75, 90, 100}, 10)

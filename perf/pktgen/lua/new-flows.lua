-- cidlb profile `new-flows`: ClientHellos from 128 K 5-tuples; run cidlb with its config's 1 ms session timeout so every packet is a new session.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/new-flows.pcap -f perf/pktgen/lua/new-flows.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("new-flows", {5, 10, 25, 50, 75, 100}, 10)

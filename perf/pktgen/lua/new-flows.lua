-- cidlb profile `new-flows`: DTLS ClientHellos from 128 K 5-tuples with a 1 ms session timeout: every packet misses and inserts (table filling).
-- Target: ≥ 0.5 × 5tswap (every packet a new flow).
-- Run cidlb with this profile's config (configs/new-flows.toml): its 1 ms session timeout makes every packet a new session.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/new-flows.pcap -f perf/pktgen/lua/new-flows.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("new-flows", {10, 25, 50, 75, 90, 100}, 10)

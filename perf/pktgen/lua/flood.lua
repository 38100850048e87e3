-- cidlb profile `flood`: 75% flood-base's CID records, 25% spoofed new flows (128 K distinct per pass, each a miss that evicts from the full 64 K-session table).
-- Target: CID throughput under flood ≥ 0.95 × without (flood-base) (CID path under a new-flow flood).
-- With c = 1 / the Mpps cidlb forwards at 100 % (saturated) for each of flood-base, flood and flood-only: CID cost under flood = (c(flood) − 0.25 × c(flood-only)) / 0.75, held against c(flood-base) (run all three scripts).
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flood.pcap -f perf/pktgen/lua/flood.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flood", {10, 25, 50, 75, 90, 100}, 10)

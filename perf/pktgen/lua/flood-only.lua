-- cidlb profile `flood-only`: flood's spoofed new flows alone (512 K distinct per pass), same table.
-- Target: — (input of flood's).
-- An input of flood's target: run it with flood.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flood-only.pcap -f perf/pktgen/lua/flood-only.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flood-only", {10, 25, 50, 75, 90, 100}, 10)

-- cidlb profile `flood-base`: DTLS CID records as in cid, in a flood-sized capture and config: the no-flood baseline of flood.
-- Target: — (input of flood's).
-- An input of flood's target: run it with flood.
-- Run: pktgen <EAL args> -- -P -m "[1:2].0" -s 0:perf/pktgen/captures/flood-base.pcap -f perf/pktgen/lua/flood-base.lua
-- Frame sizes come from the capture; rates are percent of the link speed.
-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.
package.path = package.path .. ";perf/pktgen/lua/?.lua;lua/?.lua;?.lua"
require "Pktgen"
local cidlb = require "cidlb"
cidlb.run("flood-base", {10, 25, 50, 75, 90, 100}, 10)

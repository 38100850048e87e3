-- Shared steps of the cidlb profiles for Pktgen-DPDK (tested against the Lua API of
-- Pktgen 23.x/24.x: pktgen.set, start, stop, clr, delay, portStats).
--
-- Topology: Pktgen port 0 is cabled to cidlb's port. The capture (loaded with `-s 0:FILE`)
-- addresses cidlb's MAC 02:00:00:00:00:01; cidlb NATs each packet toward a node on the same
-- link, so the forwarded packets come back into Pktgen port 0 (promiscuous). Received /
-- sent per step is what cidlb forwarded; the rest it dropped (read `cidlb stats` for why).
local M = {}

M.port = "0"

local function stats(port)
    local s = pktgen.portStats(port, "port")[tonumber(port)]
    return s.opackets, s.ipackets
end

-- Replay the loaded capture at each rate (percent of link speed) for `seconds`; print one
-- line per step: rate, packets sent, received, Mpps in each direction, loss.
function M.run(name, rates, seconds)
    local port = M.port
    pktgen.screen("off")
    -- pcap mode is on once a capture is loaded with -s; enabling it again is harmless, and
    -- older releases without pktgen.pcap have it on already.
    pcall(function() pktgen.pcap(port, "on") end)
    pktgen.set(port, "count", 0)
    printf("profile %s: %d s per step\n", name, seconds)
    printf("%8s %14s %14s %10s %10s %8s\n", "rate %", "sent", "received", "tx Mpps", "rx Mpps", "loss %")
    for _, rate in ipairs(rates) do
        pktgen.stop(port)
        pktgen.delay(500)
        pktgen.clr()
        pktgen.set(port, "rate", rate)
        pktgen.delay(200)
        local tx0, rx0 = stats(port)
        pktgen.start(port)
        pktgen.delay(seconds * 1000)
        pktgen.stop(port)
        pktgen.delay(500) -- what is in flight arrives
        local tx1, rx1 = stats(port)
        local sent, received = tx1 - tx0, rx1 - rx0
        local loss = 0
        if sent > 0 then loss = 100 * (sent - received) / sent end
        printf("%8.1f %14d %14d %10.3f %10.3f %8.3f\n", rate, sent, received, sent / seconds / 1e6, received / seconds / 1e6, loss)
    end
    pktgen.screen("on")
end

return M

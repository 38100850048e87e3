#!/usr/bin/env bash
# Write the captures Pktgen-DPDK replays (captures/NAME.pcap) and the cidlb config of each
# profile for a real NIC (configs/NAME.toml). Usage, from anywhere:
#   perf/pktgen/gen-captures.sh [PCI_ADDRESS]        (default 0000:00:00.0: edit before use)
# Captures are not committed (session-1m is ~120 MB); they are deterministic (seed 1).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pci="${1:-0000:00:00.0}"
perf="${CIDLB_PERF:-${CARGO_TARGET_DIR:-$repo/target}/release/cidlb-perf}"
if [ ! -x "$perf" ]; then
    (cd "$repo" && cargo build --release -p cidlb-perf)
fi
mkdir -p "$here/captures" "$here/configs"
# One capture and config per profile script (lua/NAME.lua; cidlb.lua is the shared library).
for script in "$here"/lua/*.lua; do
    profile=$(basename "$script" .lua)
    [ "$profile" != cidlb ] || continue
    "$perf" gen --profile "$profile" --out "$here/captures/$profile.pcap"
    # The bench config, on the NIC: an explicit PCI allow-list instead of --no-pci, the PCI
    # address as the device, hugepages, and the NIC's RX/TX rings instead of a capture's pool.
    "$perf" bench-config --profile "$profile" \
        | sed -e "s|^args = \[\"--no-pci\"\]|args = [\"-a\", \"$pci\", \"--in-memory\"]|" \
              -e "s|^device = \"net_pcap0\"|device = \"$pci\"|" \
              -e "s|^mbufs = .*|mbufs = 65535|" \
              -e "s|^# Memory and the net_pcap device.*|# EAL: the NIC by PCI allow-list, hugepages.|" \
        > "$here/configs/$profile.toml"
done
echo "captures in $here/captures, cidlb configs (device $pci) in $here/configs"

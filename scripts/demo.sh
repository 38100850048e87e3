#!/usr/bin/env bash
# The main job. Usage (as root):
#   scripts/demo.sh            the real-peer lab: build cidlb and the lab's peers (Mbed TLS 3.6
#                              ssl_client2/ssl_server2 and a CID server, libcoap, the Linux IPv6
#                              stack), set up network namespaces (clients behind a masquerading
#                              home router, the balancer on a veth through DPDK net_af_packet,
#                              two or three nodes routing through it, two IP-in-IP nodes
#                              answering directly), run scenarios a to i (lab/lab.sh), print
#                              what went where per node and per scenario and the balancer's
#                              stats, tear everything down.
#   scripts/demo.sh --capture  no namespaces: generate a capture holding every scenario of the
#                              data path, push it through a DPDK net_pcap port, print what went
#                              where, and compare with `cidlb replay`. Also the fallback when the
#                              lab cannot run here (it says why).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=lab
case "${1:-}" in
  --capture) mode=capture ;;
  ""|--lab) ;;
  -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
  *) echo "demo.sh: unknown argument '$1' (--capture or nothing)" >&2; exit 2 ;;
esac
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
target=${CARGO_TARGET_DIR:-target}

if [ "$mode" = lab ]; then
  echo "== build (release)"
  cargo build --release --quiet -p cidlb
  echo "== the real-peer lab (lab/lab.sh all)"
  rc=0
  lab/lab.sh --cidlb "$target/release/cidlb" all || rc=$?
  if [ $rc = 0 ]; then
    echo
    echo "demo: OK"
    exit 0
  elif [ $rc != 77 ]; then
    echo "demo: the lab failed (exit $rc)" >&2
    exit $rc
  fi
  echo "demo: the lab cannot run on this machine (see SKIP above); running the capture demo instead"
fi

echo "== build (release)"
cargo build --release --quiet -p cidlb -p cidlb-perf

work=$(mktemp -d /tmp/cidlb-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
bin=$target/release

echo "== generate the demo capture"
"$bin/cidlb-perf" gen --profile demo --flows 300 --out "$work/in.pcap"

echo "== check the config"
"$bin/cidlb" check --config examples/demo.toml

# Hugepages when there are enough free ones, else --no-huge (see README).
free_pages=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
if [ "${free_pages:-0}" -ge 256 ] && grep -qs " hugetlbfs " /proc/mounts; then
  memory=(--in-memory)
else
  memory=(--no-huge -m 512 --no-shconf)
fi

echo "== run cidlb on a DPDK port (net_pcap) for 3 s"
"$bin/cidlb" run --config examples/demo.toml --duration 3 --stats-json "$work/stats.json" -- \
  --no-pci "${memory[@]}" --vdev="net_pcap0,rx_pcap=$work/in.pcap,tx_pcap=$work/out.pcap" \
  2> "$work/cidlb.log" || { cat "$work/cidlb.log" >&2; exit 1; }

echo
echo "== what went where (decoded from the balancer's output, checked against the rules)"
"$bin/cidlb-perf" summarize --config examples/demo.toml --check "$work/out.pcap"
echo
echo "== the same capture through 'cidlb replay' (same worker code, capture timestamps)"
"$bin/cidlb" replay --config examples/demo.toml --in "$work/in.pcap" --out "$work/replay.pcap" | head -12
# Compare the packets (not the pcap timestamps) of the two outputs.
python3 - "$work/out.pcap" "$work/replay.pcap" <<'PY'
import struct, sys
def packets(path):
    data = open(path, "rb").read()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return out
a, b = packets(sys.argv[1]), packets(sys.argv[2])
same = a == b
print(f"DPDK output {len(a)} packets, replay output {len(b)} packets: {'identical' if same else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY
echo
echo "demo: OK"

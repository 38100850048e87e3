#!/usr/bin/env bash
# Benchmark cidlb against dpdk-testpmd and measure latency under load; rewrite the README's
# performance tables. Usage: scripts/bench.sh [ROUNDS] [SECONDS] [extra `cidlb-perf bench` args]
#   ROUNDS (3) and SECONDS (5) per program, profile and round. BENCH_PROFILES=cid,session-1k
#   limits the profiles; SKIP_LATENCY=1 skips the latency runs.
# Needs: a Rust toolchain, libdpdk-dev (scripts/setup.sh), dpdk-testpmd (Debian package `dpdk`),
# root for DPDK. Every DPDK process runs with --no-pci on virtual devices only.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
seconds="${2:-5}"
shift $(( $# > 2 ? 2 : $# )) || true

command -v dpdk-testpmd >/dev/null || { echo "bench.sh: dpdk-testpmd not found (apt-get install dpdk)" >&2; exit 1; }
cargo build --release --bins --workspace
target="${CARGO_TARGET_DIR:-target}/release"
work="$(mktemp -d /tmp/cidlb-bench.XXXXXX)"
[ -n "${KEEP_WORK:-}" ] || trap 'rm -rf "$work"' EXIT

profiles=()
[ -n "${BENCH_PROFILES:-}" ] && profiles=(--profiles "$BENCH_PROFILES")
echo "bench.sh: load average before: $(cut -d' ' -f1-3 /proc/loadavg); captures and logs in $work" >&2
"$target/cidlb-perf" bench --cidlb "$target/cidlb" --rounds "$rounds" --seconds "$seconds" \
    --workdir "$work/bench" --readme README.md --json "$work/bench.json" "${profiles[@]}" "$@"
if [ -z "${SKIP_LATENCY:-}" ]; then
    "$target/cidlb-perf" latency --cidlb "$target/cidlb" --workdir "$work/latency" --readme README.md
    "$target/cidlb-perf" latency --via testpmd --workdir "$work/latency-baseline" --readme README.md
fi
echo "bench.sh: README.md updated; load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

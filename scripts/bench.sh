#!/usr/bin/env bash
# Benchmark cidlb against dpdk-testpmd and measure latency under load; rewrite the README's
# performance tables. Usage: scripts/bench.sh [ROUNDS] [SECONDS] [extra `cidlb-perf bench` args]
#   ROUNDS (3) and SECONDS (5) per program, profile and round. BENCH_PROFILES=cid,session-1k
#   limits the profiles; SKIP_LATENCY=1 skips the latency runs; BENCH_HUGEPAGES (2560) 2 MiB
#   pages are reserved for the run and the earlier reservation restored (0: leave it).
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

# Hugepages for the run, as a DPDK deployment has them. Without enough of them the profiles with
# large capture pools (`session-1m` ~4.7 GB, `flood*` ~2.6 GB, `new-flows` ~1.1 GB) run with
# `--no-huge`, which puts both programs' mbufs on 4 KiB pages and measures TLB misses more than
# either program. BENCH_HUGEPAGES (2 MiB pages, default 2560 = 5 GiB) is reserved for the run,
# when root and the memory is there, and the earlier reservation restored at the end;
# BENCH_HUGEPAGES=0 leaves the machine's reservation as it is.
nr_hugepages=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
want_pages="${BENCH_HUGEPAGES:-2560}"
restore_pages=""
case "$want_pages" in ''|*[!0-9]*) echo "bench.sh: BENCH_HUGEPAGES must be a number" >&2; exit 2 ;; esac
if [ "$want_pages" -gt 0 ] && [ -w "$nr_hugepages" ]; then
    had_pages=$(cat "$nr_hugepages")
    available_mb=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
    if [ "$had_pages" -ge "$want_pages" ]; then
        :
    elif [ "$available_mb" -ge $(( (want_pages - had_pages) * 2 + 4096 )) ]; then
        restore_pages=$had_pages
        scripts/hugepages.sh "$want_pages" >&2
    else
        echo "bench.sh: ${available_mb} MB available, not enough for $want_pages hugepages and 4 GB to spare; large profiles run with --no-huge" >&2
    fi
fi
cleanup() {
    [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
    if [ -n "$restore_pages" ]; then
        echo "$restore_pages" > "$nr_hugepages" || true
        echo "bench.sh: hugepages back to $(cat "$nr_hugepages") reserved" >&2
    fi
}
trap cleanup EXIT

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

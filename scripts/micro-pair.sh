#!/usr/bin/env bash
# A/B of two cidlb-perf builds on this noisy machine: both binaries run `cidlb-perf micro` at
# the same time, one per core, cores swapped every pair, so whatever else the machine does hits
# both alike. Prints, per profile, the ratio B/A of CPU-time ns/packet for every pair (below 1:
# B is faster), then A's and B's own figures.
# Usage: scripts/micro-pair.sh PROFILES PAIRS PACKETS BIN_A BIN_B
#   e.g. scripts/micro-pair.sh cid,session-1m 4 2000000 /tmp/old/cidlb-perf target/release/cidlb-perf
# Build the old binary in a worktree: git worktree add /tmp/old HEAD~1 &&
#   (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release -p cidlb-perf)
set -euo pipefail
[ $# -eq 5 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
profiles=$1 pairs=$2 packets=$3 a=$4 b=$5
work="$(mktemp -d /tmp/cidlb-pair.XXXXXX)"
trap 'rm -rf "$work"' EXIT
table() { awk -F'|' '/^\| `/{gsub(/[ `]/,"",$2); print $2, $5}' "$1" | sort; }
for pair in $(seq "$pairs"); do
    if [ $((pair % 2)) = 0 ]; then core_a=0 core_b=1; else core_a=1 core_b=0; fi
    taskset -c "$core_a" "$a" micro --profiles "$profiles" --packets "$packets" >"$work/a" 2>/dev/null &
    pid_a=$!
    taskset -c "$core_b" "$b" micro --profiles "$profiles" --packets "$packets" >"$work/b" 2>/dev/null &
    pid_b=$!
    wait "$pid_a" "$pid_b"
    join <(table "$work/a") <(table "$work/b")
done | awk '{ r[$1] = r[$1] sprintf(" %.3f", $3 / $2); a[$1] = a[$1] " " $2; b[$1] = b[$1] " " $3 }
    END { for (p in r) printf "%-16s B/A:%s   A:%s   B:%s\n", p, r[p], a[p], b[p] }' | sort

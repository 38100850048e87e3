#!/usr/bin/env bash
# Soak: `cidlb run` for MINUTES (default 10) under a spoofed new-flow flood mixed with DTLS CID
# records (the `flood` bench profile's traffic, into a 4 Ki-session table it overfills four
# times a pass), while its config is reloaded every RELOAD_SECONDS (default 2): valid reloads
# alternate two node sets of the `coap` service, and every tenth reload is an invalid file,
# which must be refused while forwarding goes on. At every reload the metrics endpoint is
# scraped and the process's resident memory read.
#
# Fails unless: the process runs to the end of --duration and exits 0 with its stats; the
# worker received packets between every two scrapes; the session table never held more than
# its capacity; every valid reload was applied and every invalid one refused; no panic was
# logged; the resident memory at the end is within SOAK_RSS_SLACK_KIB (default 4096) of its
# level after the first minute (what the first minute allocates stays; nothing may grow after);
# the worker thread makes no system call in the first SOAK_SYSCALL_WINDOW seconds (default 12,
# several reloads), watched by strace.
#
# Traffic never leaves the process: net_pcap with infinite_rx on a generated capture, transmit
# dropped. DPDK runs with --no-pci and --in-memory (hugepages) or --no-huge.
# Usage: scripts/soak.sh [MINUTES]        SOAK_KEEP=1 keeps the work directory.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
minutes=${1:-10}
reload_seconds=${RELOAD_SECONDS:-2}
slack_kib=${SOAK_RSS_SLACK_KIB:-4096}
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -ge 2 ]] || { echo "soak: MINUTES must be a whole number, at least 2" >&2; exit 2; }

scripts/setup.sh >/dev/null
cargo build --release -q -p cidlb -p cidlb-perf
cidlb="${CARGO_TARGET_DIR:-target}/release/cidlb"
perf="${CARGO_TARGET_DIR:-target}/release/cidlb-perf"

work=$(mktemp -d /tmp/cidlb-soak.XXXXXX)
pid=
strace_pid=
cleanup() {
    if [ -n "$strace_pid" ]; then kill -INT "$strace_pid" 2>/dev/null || true; wait "$strace_pid" 2>/dev/null || true; fi
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    if [ -n "${SOAK_KEEP:-}" ]; then echo "soak: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# A free loopback port for the metrics endpoint.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sessions=4096
"$perf" gen --profile flood --packets 65536 --out "$work/flood.pcap" >/dev/null
"$perf" bench-config --profile flood | sed \
    -e "s/^sessions_per_worker = .*/sessions_per_worker = $sessions/" \
    -e 's/^mbufs = .*/mbufs = 131071/' \
    -e "s|^metrics = .*|metrics = \"127.0.0.1:$port\"\npidfile = \"$work/cidlb.pid\"|" >"$work/a.toml"
# B: the coap service on nodes 1 and 2 only.
awk '/^\[/ { coap = 0 } /^name = "coap"$/ { coap = 1 }
     coap && /^nodes = / { print "nodes = [1, 2]"; coap = 0; next } { print }' "$work/a.toml" >"$work/b.toml"
sed -e 's/^burst = 32$/burst = "thirty-two"/' "$work/a.toml" >"$work/invalid.toml"
for f in a b; do "$cidlb" check --config "$work/$f.toml" >/dev/null; done
cmp -s "$work/a.toml" "$work/b.toml" && { echo "soak: config B does not differ from A" >&2; exit 1; }
if "$cidlb" check --config "$work/invalid.toml" >/dev/null 2>&1; then echo "soak: the invalid config passed check" >&2; exit 1; fi
cp "$work/a.toml" "$work/cidlb.toml"

free_mib=$(awk '/HugePages_Free/ { free = $2 } /Hugepagesize/ { size = $2 } END { print int(free * size / 1024) }' /proc/meminfo)
if [ "$free_mib" -ge 768 ]; then memory=(--in-memory); else memory=(--no-huge -m 1024 --no-shconf); fi

duration=$((minutes * 60))
RUST_LOG=info NO_COLOR=1 "$cidlb" run --config "$work/cidlb.toml" --duration "$duration" --stats-json "$work/stats.json" \
    -- "${memory[@]}" "--vdev=net_pcap0,rx_pcap=$work/flood.pcap,infinite_rx=1" >"$work/stdout" 2>"$work/stderr" &
pid=$!
echo "soak: cidlb pid $pid, $minutes min, reload every ${reload_seconds}s, metrics 127.0.0.1:$port, EAL memory ${memory[*]}"

metric() { # name [label=value]: the sample's value in the last scrape, 0 if absent (as an
    # integer: awk would print a count beyond 2^31 as 2.1e+09)
    awk -v name="$1" -v label="${2:-}" '$1 == name || index($1, name "{") == 1 {
        if (label == "" || index($1, label) > 0) { v = $2 } } END { printf "%.0f\n", v + 0 }' "$work/scrape"
}
scrape() { timeout 5 "$cidlb" stats --metrics "127.0.0.1:$port" --raw >"$work/scrape" 2>/dev/null; }
logged() { grep -c "$1" "$work/stderr" || true; }

# Wait (bounded) for the endpoint and for traffic.
started=$(date +%s)
until scrape 2>/dev/null && [ "$(metric cidlb_rx_packets_total)" -gt 0 ]; do
    kill -0 "$pid" 2>/dev/null || { echo "soak: cidlb exited during start-up" >&2; tail -20 "$work/stderr" >&2; exit 1; }
    [ $(( $(date +%s) - started )) -lt 60 ] || { echo "soak: no traffic after 60 s" >&2; tail -20 "$work/stderr" >&2; exit 1; }
    sleep 0.5
done

failures=0
fail() { echo "soak: FAIL: $*" >&2; failures=$((failures + 1)); }

# The worker makes no system call while it forwards, reloads included: strace (ptrace, which
# stops a thread only at a system call or a signal) watches the worker thread alone for
# $syscall_window s, across several reloads; every line it writes is a system call or a signal
# the worker took.
syscall_window=${SOAK_SYSCALL_WINDOW:-12}
worker_tid=$(grep -l "worker" /proc/"$pid"/task/*/comm 2>/dev/null | head -1 | cut -d/ -f5)
if [ -z "$worker_tid" ]; then
    fail "no worker thread found in /proc/$pid/task"
else
    timeout -s INT "$syscall_window" strace -qq -p "$worker_tid" -o "$work/worker.strace" 2>"$work/strace.err" &
    strace_pid=$!
fi
reloads=0 valid=0 invalid=0 last_rx=0 stalls=0 max_live=0 rss_base= rss_max=0 rss=0
deadline=$((started + duration - 2 * reload_seconds - 5))
while [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$pid" 2>/dev/null; do
    sleep "$reload_seconds"
    reloads=$((reloads + 1))
    if [ $((reloads % 10)) = 0 ]; then
        cp "$work/invalid.toml" "$work/cidlb.toml"; invalid=$((invalid + 1)); expect="reload refused: the config is invalid"; count=$invalid
    else
        if [ $((valid % 2)) = 0 ]; then cp "$work/b.toml" "$work/cidlb.toml"; else cp "$work/a.toml" "$work/cidlb.toml"; fi
        valid=$((valid + 1)); expect="reload applied"; count=$valid
    fi
    kill -HUP "$pid" 2>/dev/null || break
    for _ in $(seq 50); do [ "$(logged "$expect")" -ge "$count" ] && break; sleep 0.1; done
    [ "$(logged "$expect")" -ge "$count" ] || fail "reload $reloads: no \"$expect\" within 5 s"
    scrape || { fail "scrape after reload $reloads"; continue; }
    rx=$(metric cidlb_rx_packets_total)
    [ "$rx" -gt "$last_rx" ] || stalls=$((stalls + 1))
    last_rx=$rx
    live=$(metric cidlb_sessions_live)
    [ "$live" -le "$max_live" ] || max_live=$live
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "$rss" -le "$rss_max" ] || rss_max=$rss
    if [ -z "$rss_base" ] && [ $(( $(date +%s) - started )) -ge 60 ]; then rss_base=$rss; fi
done
if [ -n "${strace_pid:-}" ]; then
    wait "$strace_pid" || true; strace_pid=
    if [ -s "$work/strace.err" ]; then
        fail "strace could not watch the worker thread: $(head -3 "$work/strace.err")"
    elif [ ! -e "$work/worker.strace" ]; then
        fail "strace wrote nothing about the worker thread"
    else
        syscalls=$(wc -l <"$work/worker.strace")
        [ "$syscalls" = 0 ] || fail "the worker thread made $syscalls system calls in ${syscall_window} s: $(cut -c1-60 "$work/worker.strace" | sort | uniq -c | sort -rn | head -5 | tr '\n' ';')"
    fi
fi
[ "$(date +%s)" -ge "$deadline" ] || fail "cidlb stopped $(( deadline - $(date +%s) )) s before the end of its run"
applied=$(metric cidlb_reloads_total 'result="applied"')
refused=$(metric cidlb_reloads_total 'result="invalid"')
evicted=$(metric cidlb_sessions_evicted_total)
rss_end=$rss

# The end of --duration (bounded wait), then the stats.
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
    fail "still running 60 s after its duration"; status=1   # cleanup stops it (pid kept)
else
    status=0; wait "$pid" || status=$?; pid=
fi
[ "$status" = 0 ] || fail "cidlb exited with status $status"
[ -s "$work/stats.json" ] || fail "no stats JSON"
[ "$stalls" = 0 ] || fail "no packet received between $stalls pairs of scrapes"
[ "$max_live" -le "$sessions" ] || fail "sessions_live reached $max_live, above the capacity $sessions"
[ "$applied" = "$valid" ] || fail "$applied reloads applied, $valid sent"
[ "$refused" = "$invalid" ] || fail "$refused invalid reloads counted, $invalid sent"
[ "$evicted" -gt 0 ] || fail "the flood evicted nothing: the table was not under pressure"
if [ -n "$rss_base" ]; then
    growth=$((rss_end - rss_base))
    [ "$growth" -le "$slack_kib" ] || fail "resident memory grew by $growth KiB after the first minute"
else
    fail "ran too briefly for a memory baseline"
fi
panics=$(grep -c -i "panicked" "$work/stderr" || true)
[ "$panics" = 0 ] || fail "$panics panics in the log"

rx_total=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(s["totals"]["rx_packets"])' "$work/stats.json" 2>/dev/null || echo "?")
echo "soak: $minutes min: $rx_total packets received, ${syscalls:-?} system calls by the worker thread in ${syscall_window} s of reloads, $evicted sessions evicted (table of $sessions, at most $max_live live);" \
    "$reloads reloads: $applied applied, $refused invalid refused;" \
    "resident memory $rss_base KiB after the first minute, $rss_end KiB at the end, at most $rss_max KiB"
if [ "$failures" -gt 0 ]; then echo "soak: $failures failures"; exit 1; fi
echo "soak: OK"

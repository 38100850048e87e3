#!/usr/bin/env bash
# Bounded fuzz smoke run: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 25)
# from the seed corpus (written from tests/fixtures.rs and the perf profiles). Fails on any
# crash, panic, timeout or out-of-memory. The fuzzing itself is bounded to
# targets x FUZZ_SECONDS (5 x 25 s ~ 2 min); building the targets the first time takes longer.
#
# Stable toolchain only: `cargo fuzz ... -s none` builds with libFuzzer's coverage
# instrumentation but no sanitizer, which needs no nightly feature. (The packet path is
# `#![forbid(unsafe_code)]`; bounds are checked by Rust itself, overflow checks and debug
# assertions are on in fuzz/Cargo.toml's profile.)
#
# Usage: scripts/fuzz-smoke.sh [target...]      FUZZ_SECONDS=600 scripts/fuzz-smoke.sh pipeline
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never
seconds=${FUZZ_SECONDS:-25}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

echo "== fuzz seeds (tests/fixtures.rs write_fuzz_seeds)"
CIDLB_FUZZ_SEEDS="$PWD/fuzz/corpus" cargo test -q --no-default-features --test fixtures write_fuzz_seeds -- --nocapture 2>&1 | grep -E "wrote|FAILED|panicked" || true
[ -d fuzz/corpus/pipeline ] || { echo "fuzz-smoke: no seed corpus written"; exit 1; }

cd fuzz
echo "== building fuzz targets"
cargo fuzz build -O -s none
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
failed=0
passed=0
for target in "${targets[@]}"; do
    log=$(mktemp)
    # libFuzzer stops itself after -max_total_time; `timeout` is the backstop.
    # Inputs that once failed (fuzz/regressions/<target>/, committed) are replayed first.
    extra=()
    [ -d "regressions/$target" ] && extra=("regressions/$target")
    if timeout $((seconds + 60)) cargo fuzz run -O -s none "$target" "corpus/$target" "${extra[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(grep -oE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || echo "?")
        echo "fuzz $target: ok, $runs runs in ${seconds}s without a crash"
        passed=$((passed + 1))
    else
        echo "fuzz $target: FAILED"
        grep -E "panicked|ERROR|SUMMARY|Test unit written|artifact_prefix" "$log" | head -20 || tail -30 "$log"
        failed=$((failed + 1))
    fi
    rm -f "$log"
done
echo "fuzz-smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

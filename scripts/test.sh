#!/usr/bin/env bash
# The whole cidlb test suite: installs what is missing, then runs every test.
# Usage (as root): scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TERM_COLOR=never

echo "== build"
cargo build --workspace --all-targets
echo "== tests"
cargo test --workspace --no-fail-fast
scripts/fuzz-smoke.sh

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
# The flow hash has two builds of one function (dataplane/src/select/hash.rs): AES-NI inline
# with the `aes` target feature (.cargo/config.toml, what the line above ran) and RustCrypto's
# portable AES without it. Its tests pin the same values for both.
echo "== flow hash, portable build (RUSTFLAGS=\"\")"
RUSTFLAGS="" CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/portable" cargo test -p cidlb-dataplane --lib select::hash
# No unwrap/expect on the packet path: dataplane/src/lib.rs denies them outside #[cfg(test)]
# code, and clippy is what enforces that attribute.
if cargo clippy --version >/dev/null 2>&1; then
    echo "== no unwrap/expect in dataplane outside tests (clippy)"
    cargo clippy -p cidlb-dataplane --lib --features dpdk
else
    echo "test.sh: cargo clippy is not installed (rustup component add clippy); skipping the unwrap check" >&2
fi
scripts/fuzz-smoke.sh
# The release binary for two minutes of flood and reloads (scripts/soak.sh 30 is the long run).
echo "== soak (2 minutes)"
scripts/soak.sh 2

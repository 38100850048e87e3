#!/usr/bin/env bash
# Install what cidlb needs on a Debian 12 machine, idempotently. Run as root.
# Called by scripts/demo.sh and scripts/test.sh; safe to run again and again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: run as root (DPDK needs hugepages and raw device access): sudo $0" >&2
  exit 1
fi

# Debian packages: DPDK 22.11 and its headers, clang for bindgen, pcap, and the lab (lab/lab.sh):
# tcpdump, libcoap, conntrack/iptables for the masquerading router, ethtool, python3, strace (the
# soak's no-system-call check of the worker thread), and
# dpkg-dev/make to fetch and build Mbed TLS 3.6 (lab/build-peers.sh).
packages=(
  dpdk dpdk-dev libdpdk-dev pkg-config clang libclang-dev libpcap-dev
  iproute2 tcpdump tshark python3 python3-scapy libcoap3-bin conntrack iptables ethtool iputils-ping strace
  dpkg-dev make
  build-essential ca-certificates
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no without a prompt.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: Debian packages present"
fi

# Rust: cidlb needs a current stable toolchain (cargo >= 1.80). Debian 12's own rustc is too old.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no cargo found. Install a stable Rust toolchain with rustup (see the README), then run this again." >&2
  exit 1
fi
rust_minor=$(rustc --version | sed -E 's/rustc 1\.([0-9]+).*/\1/')
if [ "${rust_minor:-0}" -lt 80 ]; then
  echo "setup: $(rustc --version) is too old; cidlb needs Rust 1.80 or newer (rustup update stable)." >&2
  exit 1
fi
echo "setup: $(cargo --version)"

# Hugepages for DPDK (falls back to --no-huge where they cannot be reserved).
if [ -x "$here/hugepages.sh" ]; then
  "$here/hugepages.sh" || true
fi
echo "setup: done"

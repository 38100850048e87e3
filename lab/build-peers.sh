#!/usr/bin/env bash
# Build the lab's DTLS peers: Mbed TLS 3.6 (Debian 13's source package, RFC 9146 Connection
# ID on by default) and its sample programs ssl_server2 / ssl_client2, plus the lab's own
# test peers in lab/peers/ linked against the same library. Test tooling, not product code.
#
# Idempotent and cached under lab/build/ (git-ignored): a second run only checks.
# The Debian archive is the one this machine's apt already uses (read from its sources);
# a private apt state under lab/build/apt is used for `apt-get source` only, so the system's
# package lists and sources are not touched.
#
# Usage: lab/build-peers.sh           prints the directory holding the binaries on success
set -euo pipefail
lab=$(cd "$(dirname "$0")" && pwd)
build="$lab/build"
out="$build/bin"
mkdir -p "$build" "$out"

log() { echo "build-peers: $*" >&2; }

find_mbedtls_dir() { ls -d "$build"/src/mbedtls-3.* 2>/dev/null | head -n1; }

# 1. Source: Debian 13 (trixie) `mbedtls`, fetched once.
src=$(find_mbedtls_dir || true)
if [ -z "$src" ] || [ ! -f "$src/include/mbedtls/ssl.h" ]; then
  # The Debian mirror this machine uses: the first deb URI of the main archive (not
  # -security) in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources|*.list.
  uri=""
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    u=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' "$f" | grep -v -- '-security' | head -n1 || true)
    [ -n "$u" ] && { uri=$u; break; }
  done
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
      | grep -v -- '-security' | head -n1 || true)
  fi
  if [ -z "$uri" ]; then
    log "cannot find the Debian archive URL in this machine's apt configuration"
    exit 1
  fi
  log "fetching Debian 13 mbedtls source from $uri"
  apt_dir="$build/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/etc"
  keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  echo "deb-src [signed-by=$keyring] $uri trixie main" > "$apt_dir/etc/sources.list"
  apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Get::List-Cleanup=0"
    -o "APT::Sandbox::User=root"
  )
  apt-get "${apt_opts[@]}" update -qq >&2
  mkdir -p "$build/src"
  (cd "$build/src" && apt-get "${apt_opts[@]}" source --only-source mbedtls >&2)
  src=$(find_mbedtls_dir || true)
  if [ -z "$src" ]; then
    log "apt-get source mbedtls did not give a 3.x tree (is trixie's mbedtls still 3.x?)"
    exit 1
  fi
fi
log "Mbed TLS source: $src"

# 2. The library and the sample programs (CID is on by default in 3.6's mbedtls_config.h).
jobs=$(nproc 2>/dev/null || echo 2)
if [ ! -x "$src/programs/ssl/ssl_server2" ] || [ ! -x "$src/programs/ssl/ssl_client2" ] || [ ! -f "$src/library/libmbedtls.a" ]; then
  log "building Mbed TLS library and ssl_server2 / ssl_client2"
  grep -q '^#define MBEDTLS_SSL_DTLS_CONNECTION_ID' "$src/include/mbedtls/mbedtls_config.h" || {
    log "MBEDTLS_SSL_DTLS_CONNECTION_ID is not enabled in $src/include/mbedtls/mbedtls_config.h"; exit 1; }
  make -C "$src/library" -j"$jobs" >&2
  make -C "$src/programs" -j"$jobs" ssl/ssl_server2 ssl/ssl_client2 >&2
fi
cp -f "$src/programs/ssl/ssl_server2" "$src/programs/ssl/ssl_client2" "$out/"

# 3. The lab's own peers (lab/peers/*.c), rebuilt when their source is newer.
for c in "$lab"/peers/*.c; do
  [ -f "$c" ] || continue
  bin="$out/$(basename "$c" .c)"
  if [ ! -x "$bin" ] || [ "$c" -nt "$bin" ]; then
    log "building $(basename "$bin")"
    cc -O2 -Wall -Wextra -o "$bin" "$c" -I"$src/include" \
      "$src/library/libmbedtls.a" "$src/library/libmbedx509.a" "$src/library/libmbedcrypto.a"
  fi
done
echo "$out"

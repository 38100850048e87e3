#!/usr/bin/env bash
# The real-peer lab: cidlb between third-party DTLS CID clients and servers, CoAP and IPv6 peers,
# all in network namespaces this script creates and removes.
#
#   clients (198.51.100.2, 2001:db8:c::2; MTU 1280)
#      |
#   home router: iptables MASQUERADE --random-fully (IPv4), IPv6 forwarding
#      | 192.0.2.254, 2001:db8::fe
#   ---+-------------- bridge (its own namespace) ------------------------------
#      |                         |                      |                     |
#   cidlb on eth0 (net_af_packet) node 1                node 2                (node 3: f, g)
#   192.0.2.1, 2001:db8::1       192.0.2.11/32          192.0.2.12/32
#   VIPs 192.0.2.10,             2001:db8::11/128       2001:db8::12/128
#        2001:db8::10            default via the balancer (the seed's node setup)
#   IP-in-IP VIPs 192.0.2.20,    nodes 4 and 5 (h, i): 192.0.2.14/15, 2001:db8::14/15, the
#        2001:db8::20            IP-in-IP VIPs on lo, default via the home router (direct
#                                server return); a test helper decapsulates into a TUN
#
# Usage: lab/lab.sh [--id ID] [--cidlb PATH] [--keep] [--quiet] SCENARIO...
#          SCENARIO: a b c d e f g h i, or `all` (a to e, h, i, plus f and g when the cidlb
#          supports them)
#        lab/lab.sh teardown ID      remove what a run with that id left behind
# Exit: 0 all scenarios passed; 1 a scenario failed; 77 skipped (the reason is printed).
#
# Scenarios:
#  a  several DTLS 1.2 CID clients (dtls_cid_peer and Mbed TLS ssl_client2) handshake through
#     the VIP; each node only sees its own CIDs (capture on its interface); data is echoed.
#     Also Mbed TLS ssl_server2 on the nodes behind a second service, with ssl_client2.
#  b  silence longer than session_timeout, then more data: records still reach their node.
#  c  NAT rebinding (conntrack -F on the masquerading router) mid-session: the session survives.
#  d  plain CoAP (libcoap) through the VIP: each client sticks to one node.
#  e  IPv6 with the kernel's flow labels: TCP connections and UDP datagrams fragmented on the
#     1280-byte client link reach one node each and reassemble there.
#  f  a node stops: it is marked down, new handshakes land on the survivors (needs health checks)
#  g  SIGHUP adds a node under traffic: nothing lost, new sessions reach it (needs reload)
#  h  IP-in-IP (direct server return), IPv4-in-IPv4 and IPv6-in-IPv6: Mbed TLS ssl_client2 with
#     ssl_server2 on nodes 4 and 5 (bound to the VIPs); every frame from the balancer to those
#     nodes is a tunnel packet to the node with TTL tunnel_ttl whose inner packet is what the
#     router sent; the nodes' replies go to the router, never through the balancer.
#  i  path MTU discovery through the balancer: 200 KB TCP downloads (client link 1280, nodes
#     1500, client announces MSS 1460) over NAT and IP-in-IP, IPv4 and IPv6: the router's
#     "fragmentation needed" / Packet Too Big reaches the node (NAT: quote translated back)
#     and the transfer completes; a 1500-byte datagram with DF to an IP-in-IP VIP gets
#     "too big" from the balancer with 1500 - 20 / 1500 - 40.
set -euo pipefail
lab=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$lab/.." && pwd)
PYTHON=${PYTHON:-python3}
[ -x /usr/bin/python3 ] && PYTHON=/usr/bin/python3

PSK=6c61622d7073682d6b6579          # "lab-psh-key", identity "lab"
SESSION_TIMEOUT=3                   # seconds, short so scenario b and d can outwait it
VIP4=192.0.2.10
VIP6=2001:db8::10
V6PORT=7007
VIP4_DSR=192.0.2.20                 # IP-in-IP services (h, i)
VIP6_DSR=2001:db8::20
BULK_PORT=8080                      # TCP downloads (i), every node, NAT and IP-in-IP
TUNNEL_TTL=17                       # outer TTL / hop limit, not a common default on purpose
LB_MAC=02:cb:00:00:00:01

id=""; cidlb=""; keep=0; quiet=0; scenarios=()
while [ $# -gt 0 ]; do
  case "$1" in
    --id) id=$2; shift 2 ;;
    --cidlb) cidlb=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --quiet) quiet=1; shift ;;
    teardown) shift; [ $# -ge 1 ] || { echo "usage: lab.sh teardown ID" >&2; exit 2; }; id=$1; scenarios=(teardown); shift ;;
    all) scenarios+=(a b c d e h i all-optional); shift ;;
    a|b|c|d|e|f|g|h|i) scenarios+=("$1"); shift ;;
    -h|--help) sed -n '2,44p' "$0"; exit 0 ;;
    *) echo "lab.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#scenarios[@]} -gt 0 ] || { echo "lab.sh: name at least one scenario (a..i or all); --help explains" >&2; exit 2; }
[ -n "$id" ] || id=$(printf '%04x' $((RANDOM ^ $$ & 0xffff)))
case "$id" in *[!a-z0-9]*|'') echo "lab.sh: --id must be lower-case letters and digits" >&2; exit 2 ;; esac
[ ${#id} -le 8 ] || { echo "lab.sh: --id at most 8 characters" >&2; exit 2; }

# Namespace names: unique per run, so parallel runs and leftovers never collide.
NS_BR="cl$id-br"; NS_LB="cl$id-lb"; NS_RT="cl$id-rt"; NS_CL="cl$id-cl"
node_ns() { echo "cl$id-n$1"; }

say() { [ "$quiet" = 1 ] || echo "$@"; }
skip() { echo "SKIP: $*"; exit 77; }

teardown() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^cl$id-(br|lb|rt|cl|n[0-9])$" || true); do
    # Every process still inside one of our namespaces, by pid.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
  done
  sleep 0.3
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^cl$id-(br|lb|rt|cl|n[0-9])$" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}

if [ "${scenarios[0]}" = teardown ]; then
  teardown
  exit 0
fi

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || skip "the lab needs root (network namespaces, raw sockets for DPDK af_packet)"
for tool in ip ping iptables conntrack tcpdump ethtool coap-server-notls coap-client-notls cc make; do
  command -v "$tool" >/dev/null 2>&1 || skip "'$tool' is missing: run scripts/setup.sh (Debian packages)"
done
"$PYTHON" -c 'import hashlib, selectors' 2>/dev/null || skip "python3 is missing: run scripts/setup.sh"
ip netns add "cl$id-probe" 2>/dev/null || skip "cannot create network namespaces here"
ip netns del "cl$id-probe"

if [ -z "$cidlb" ]; then
  cidlb="${CARGO_TARGET_DIR:-$repo/target}/release/cidlb"
fi
[ -x "$cidlb" ] || { echo "lab.sh: no cidlb binary at $cidlb (cargo build --release, or --cidlb PATH)" >&2; exit 2; }
cidlb=$(cd "$(dirname "$cidlb")" && pwd)/$(basename "$cidlb")

mkdir -p "$lab/build"
peers=$("$lab/build-peers.sh" 2>"$lab/build/build-peers.log") || {
  tail -n 20 "$lab/build/build-peers.log" >&2
  skip "could not fetch or build Mbed TLS 3.6 (lab/build-peers.sh; log: lab/build/build-peers.log)"
}

run="${LAB_RUN_DIR:-$lab/build/runs/$id}"
rm -rf "$run"; mkdir -p "$run"
pids=()
failed=()
passed=()

cleanup() {
  local rc=$?
  set +e
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  [ -n "${cidlb_pid:-}" ] && kill -TERM "$cidlb_pid" 2>/dev/null
  sleep 0.2
  teardown
  if [ "$keep" = 0 ] && [ $rc = 0 ]; then rm -rf "$run"; else echo "lab: logs and captures kept in $run"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ---------------------------------------------------------------- topology
nodes_up=(1 2)
want_node3=0
dsr_nodes=()
for s in "${scenarios[@]}"; do case "$s" in f|g|all-optional) want_node3=1 ;; h|i) dsr_nodes=(4 5) ;; esac; done
# h and i decapsulate through a TUN device (lab/tools/ipip_decap.py).
no_tun=""
if [ ${#dsr_nodes[@]} -gt 0 ] && [ ! -c /dev/net/tun ]; then no_tun="(no /dev/net/tun for the nodes' decapsulating helper)"; dsr_nodes=(); fi
[ $want_node3 = 1 ] && nodes_up=(1 2 3)

# A veth from namespace $1 (name $2, MAC $3) to the bridge (port name $4).
veth_to_bridge() {
  ip -n "$1" link add "$2" address "$3" type veth peer name "$4" netns "$NS_BR"
  ip -n "$NS_BR" link set "$4" master br0 up
  # Checksums and segmentation in software: af_packet hands DPDK the frame as it is, so a
  # partial checksum or a GSO super-frame from a veth would reach the nodes broken.
  ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$NS_BR" ethtool -K "$4" tx off tso off gso off gro off >/dev/null 2>&1 || true
}

setup_topology() {
  local n ns
  for ns in "$NS_BR" "$NS_LB" "$NS_RT" "$NS_CL"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
  for n in "${nodes_up[@]}"; do ns=$(node_ns "$n"); ip netns add "$ns"; ip -n "$ns" link set lo up; done
  ip -n "$NS_BR" link add br0 type bridge
  ip netns exec "$NS_BR" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
  ip -n "$NS_BR" link set br0 up

  # The balancer's port: no kernel addresses, DPDK owns it through a packet socket.
  veth_to_bridge "$NS_LB" eth0 02:cb:00:00:00:01 lb
  ip netns exec "$NS_LB" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "$NS_LB" link set eth0 up

  # Nodes: a host route to the balancer and the default route through it (the seed's script).
  for n in "${nodes_up[@]}"; do
    ns=$(node_ns "$n")
    veth_to_bridge "$ns" eth0 "02:cb:00:00:00:1$n" "n$n"
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "192.0.2.1$n/32" dev eth0
    ip -n "$ns" -6 addr add "2001:db8::1$n/128" dev eth0 nodad
    ip -n "$ns" route add 192.0.2.1/32 dev eth0
    ip -n "$ns" route add default via 192.0.2.1 dev eth0
    ip -n "$ns" -6 route add 2001:db8::1/128 dev eth0
    ip -n "$ns" -6 route add default via 2001:db8::1 dev eth0
  done

  # IP-in-IP nodes (h, i): direct server return, as deployed. The balancer carries only the
  # inbound half: the node owns the VIPs on lo and its default route is the home router, so
  # replies leave from the VIP straight to the router. arp_ignore/arp_announce keep the node
  # from answering ARP for the VIPs (the balancer does), VIPs on lo are not advertised by ND.
  # No ipip/ip6_tunnel module in this kernel: lab/tools/ipip_decap.py unwraps into a TUN.
  for n in "${dsr_nodes[@]}"; do
    ns=$(node_ns "$n"); ip netns add "$ns"; ip -n "$ns" link set lo up
    veth_to_bridge "$ns" eth0 "02:cb:00:00:00:1$n" "n$n"
    ip -n "$ns" link set eth0 up
    ip -n "$ns" addr add "192.0.2.1$n/32" dev eth0
    ip -n "$ns" -6 addr add "2001:db8::1$n/128" dev eth0 nodad
    ip -n "$ns" addr add "$VIP4_DSR/32" dev lo
    ip -n "$ns" -6 addr add "$VIP6_DSR/128" dev lo
    ip -n "$ns" route add 192.0.2.1/32 dev eth0
    ip -n "$ns" route add 192.0.2.254/32 dev eth0
    ip -n "$ns" route add default via 192.0.2.254 dev eth0
    ip -n "$ns" -6 route add 2001:db8::1/128 dev eth0
    ip -n "$ns" -6 route add 2001:db8::fe/128 dev eth0
    ip -n "$ns" -6 route add default via 2001:db8::fe dev eth0
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
      net.ipv4.conf.eth0.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
  done

  # The home router: masquerading with random ports, so a flushed conntrack entry rebinds.
  veth_to_bridge "$NS_RT" eth0 02:cb:00:00:00:fe rt
  ip -n "$NS_RT" link add eth1 address 02:cb:00:00:01:fe mtu 1280 type veth peer name eth0 netns "$NS_CL"
  ip netns exec "$NS_RT" ethtool -K eth1 tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$NS_CL" ethtool -K eth0 tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip -n "$NS_CL" link set eth0 address 02:cb:00:00:01:02 mtu 1280
  ip -n "$NS_RT" addr add 192.0.2.254/24 dev eth0
  ip -n "$NS_RT" -6 addr add 2001:db8::fe/64 dev eth0 nodad
  ip -n "$NS_RT" addr add 198.51.100.1/24 dev eth1
  ip -n "$NS_RT" -6 addr add 2001:db8:c::1/64 dev eth1 nodad
  ip -n "$NS_RT" link set eth0 up
  ip -n "$NS_RT" link set eth1 up
  ip netns exec "$NS_RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  ip netns exec "$NS_RT" iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE --random-fully

  ip -n "$NS_CL" addr add 198.51.100.2/24 dev eth0
  ip -n "$NS_CL" -6 addr add 2001:db8:c::2/64 dev eth0 nodad
  ip -n "$NS_CL" link set eth0 up
  ip -n "$NS_CL" route add default via 198.51.100.1
  ip -n "$NS_CL" -6 route add default via 2001:db8:c::1
  # The kernel picks a flow label per flow (RFC 6437 §3); 1 is the default, made explicit.
  ip netns exec "$NS_CL" sysctl -qw net.ipv6.auto_flowlabels=1
}

# ---------------------------------------------------------------- cidlb
memory_args() {
  local free=0
  if grep -qs " hugetlbfs " /proc/mounts; then
    free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
  fi
  if [ "$free" -ge 128 ]; then echo '"--in-memory"'; else echo '"--no-huge", "-m", "512", "--no-shconf"'; fi
}

write_config() {
  local nodes="$1" n
  cat > "$run/cidlb.toml" <<EOF
# cidlb in the lab (written by lab/lab.sh): one port on the bridge through af_packet.
[eal]
args = ["--no-pci", $(memory_args), "--file-prefix", "cidlb-lab-$id", "--vdev=net_af_packet0,iface=eth0", "--log-level=notice"]

[dataplane]
workers = [1]
control_core = 0
session_timeout = "${SESSION_TIMEOUT}s"
sessions_per_worker = 65536
fragments_per_worker = 4096
hash_key = "000102030405060708090a0b0c0d0e0f"
mbufs = 8191
tunnel_ttl = $TUNNEL_TTL

[control]
metrics = "127.0.0.1:9781"   # inside the balancer's namespace (scenario i reads counters)
pidfile = "$run/cidlb.pid"

[[port]]
name = "lan"
device = "net_af_packet0"
ipv4 = "192.0.2.1/24"
ipv6 = "2001:db8::1/64"
gateway4 = "192.0.2.254"
gateway6 = "2001:db8::fe"
mtu = 1500
EOF
  for n in $nodes; do
    cat >> "$run/cidlb.toml" <<EOF

[[node]]
id = $n
address = "192.0.2.1$n"
# libcoap's coap-server answers a CoAP ping (empty CON) with RST (RFC 7252 §4.3).
health = { probe = "coap-ping", port = 5683, interval = "500ms", timeout = "300ms", rise = 1, fall = 2 }
[[node]]
id = 2$n
address = "2001:db8::1$n"
EOF
  done
  local v4 v6
  v4=$(echo $nodes | sed 's/ /, /g')
  v6=$(for n in $nodes; do printf '2%s ' "$n"; done | sed 's/ $//; s/ /, /g')
  cat >> "$run/cidlb.toml" <<EOF

[[service]]
name = "coaps"                # dtls_cid_peer and ssl_client2 clients, dtls_cid_peer on the nodes
vip = "$VIP4"
port = 5684
protocol = "udp"
balance = "dtls-cid"
cid_length = 6
node_id_offset = 0
node_id_length = 1
unknown_cid = "drop"
nodes = [$v4]

[[service]]
name = "coaps-mbedtls"        # Mbed TLS ssl_server2 on the nodes
vip = "$VIP4"
port = 5685
protocol = "udp"
balance = "dtls-cid"
cid_length = 6
nodes = [$v4]

[[service]]
name = "coap"                 # libcoap coap-server on the nodes
vip = "$VIP4"
port = 5683
protocol = "udp"
balance = "five-tuple"
nodes = [$v4]

[[service]]
name = "echo6"                # TCP and UDP echo over IPv6, by <source, flow label>
vip = "$VIP6"
port = $V6PORT
protocol = "any"
balance = "flow-label"
nodes = [$v6]

[[service]]
name = "bulk"                 # TCP downloads through NAT (scenario i)
vip = "$VIP4"
port = $BULK_PORT
protocol = "tcp"
balance = "five-tuple"
nodes = [$v4]

[[service]]
name = "bulk6"
vip = "$VIP6"
port = $BULK_PORT
protocol = "tcp"
balance = "five-tuple"
nodes = [$v6]
EOF
  [ ${#dsr_nodes[@]} -gt 0 ] || return 0
  for n in "${dsr_nodes[@]}"; do
    cat >> "$run/cidlb.toml" <<EOF

[[node]]                      # IP-in-IP node: answers clients directly (DSR)
id = $n
address = "192.0.2.1$n"
[[node]]
id = 2$n
address = "2001:db8::1$n"
EOF
  done
  local d4 d6
  d4=$(echo "${dsr_nodes[@]}" | sed 's/ /, /g')
  d6=$(for n in "${dsr_nodes[@]}"; do printf '2%s ' "$n"; done | sed 's/ $//; s/ /, /g')
  cat >> "$run/cidlb.toml" <<EOF

[[service]]
name = "coaps-ipip"           # Mbed TLS ssl_server2 on the IP-in-IP nodes, IPv4 in IPv4
vip = "$VIP4_DSR"
port = 5685
protocol = "udp"
balance = "dtls-cid"
cid_length = 6
forward = "ipip"
nodes = [$d4]

[[service]]
name = "coaps-ipip6"          # IPv6 in IPv6
vip = "$VIP6_DSR"
port = 5685
protocol = "udp"
balance = "dtls-cid"
cid_length = 6
forward = "ipip"
nodes = [$d6]

[[service]]
name = "bulk-ipip"            # TCP downloads and DF datagrams through the tunnel (scenario i)
vip = "$VIP4_DSR"
port = $BULK_PORT
protocol = "any"
balance = "five-tuple"
forward = "ipip"
nodes = [$d4]

[[service]]
name = "bulk-ipip6"
vip = "$VIP6_DSR"
port = $BULK_PORT
protocol = "any"
balance = "five-tuple"
forward = "ipip"
nodes = [$d6]
EOF
}

start_cidlb() {
  ip netns exec "$NS_LB" env RUST_LOG=info NO_COLOR=1 "$cidlb" run --config "$run/cidlb.toml" \
    --stats-json "$run/stats.json" >"$run/cidlb.out" 2>"$run/cidlb.err" &
  cidlb_pid=$!
  local i
  for i in $(seq 1 100); do
    grep -q "forwarding" "$run/cidlb.err" 2>/dev/null && break
    kill -0 "$cidlb_pid" 2>/dev/null || { cat "$run/cidlb.err" >&2; echo "lab: cidlb exited during start" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "forwarding" "$run/cidlb.err" || { cat "$run/cidlb.err" >&2; echo "lab: cidlb did not start within 10 s" >&2; exit 1; }
}

stop_cidlb() {
  [ -n "${cidlb_pid:-}" ] || return 0
  kill -TERM "$cidlb_pid" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$cidlb_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$cidlb_pid" 2>/dev/null || true
  wait "$cidlb_pid" 2>/dev/null || true
  cidlb_pid=""
}

# ---------------------------------------------------------------- node services
start_node_services() {
  local n ns
  for n in "$@"; do
    ns=$(node_ns "$n")
    ip netns exec "$ns" "$peers/dtls_cid_peer" server node="$n" port=5684 psk=$PSK seconds=900 >"$run/n$n-dtls.log" 2>&1 &
    pids+=($!)
    # Mbed TLS's own sample server: one connection at a time, the CID it issues starts with n.
    ip netns exec "$ns" "$peers/ssl_server2" server_port=5685 dtls=1 force_version=dtls12 cid=1 \
      "cid_val=0${n}5a5a5a5a5a" psk=$PSK psk_identity=lab force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8 \
      exchanges=2 read_timeout=3000 >"$run/n$n-ssl_server2.log" 2>&1 &
    pids+=($!)
    ip netns exec "$ns" coap-server-notls -p 5683 >"$run/n$n-coap.log" 2>&1 &
    pids+=($!)
    ip netns exec "$ns" "$PYTHON" "$lab/tools/echo_server.py" "$n" "$V6PORT" >"$run/n$n-echo.log" 2>&1 &
    pids+=($!)
    ip netns exec "$ns" "$PYTHON" "$lab/tools/pmtu.py" server "$BULK_PORT" "$n" >"$run/n$n-bulk.log" 2>&1 &
    pids+=($!)
  done
}

# IP-in-IP nodes: the decapsulating helper, Mbed TLS ssl_server2 bound to each VIP (a UDP
# server behind DSR must answer from the VIP: bound to the wildcard address it would answer
# from the node's own address), the TCP download server.
start_dsr_services() {
  local n ns i
  for n in "$@"; do
    ns=$(node_ns "$n")
    ip netns exec "$ns" "$PYTHON" "$lab/tools/ipip_decap.py" dsr0 seconds=900 >"$run/n$n-decap.log" 2>&1 &
    pids+=($!)
    ip netns exec "$ns" "$peers/ssl_server2" server_addr=$VIP4_DSR server_port=5685 dtls=1 force_version=dtls12 cid=1 \
      "cid_val=0${n}5a5a5a5a5a" psk=$PSK psk_identity=lab force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8 \
      exchanges=2 read_timeout=3000 >"$run/n$n-ssl_server2.log" 2>&1 &
    pids+=($!)
    # The IPv6 node entry has id 2N: its CIDs start with that byte (hex).
    ip netns exec "$ns" "$peers/ssl_server2" server_addr=$VIP6_DSR server_port=5685 dtls=1 force_version=dtls12 cid=1 \
      "cid_val=$(printf '%02x' $((20 + n)))5a5a5a5a5a" psk=$PSK psk_identity=lab force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8 \
      exchanges=2 read_timeout=3000 >"$run/n$n-ssl_server2-6.log" 2>&1 &
    pids+=($!)
    ip netns exec "$ns" "$PYTHON" "$lab/tools/pmtu.py" server "$BULK_PORT" "$n" >"$run/n$n-bulk.log" 2>&1 &
    pids+=($!)
  done
  for n in "$@"; do
    for i in $(seq 1 50); do grep -q "event=ready" "$run/n$n-decap.log" 2>/dev/null && break; sleep 0.1; done
    grep -q "event=ready" "$run/n$n-decap.log" || { cat "$run/n$n-decap.log" >&2; echo "lab: the decapsulating helper of node $n did not start" >&2; exit 1; }
  done
}

# Capture on every node's interface for one scenario: $run/<scenario>-n<node>.pcap.
capture_pids=()
start_captures() {
  local scenario=$1 n ns
  capture_pids=()
  for n in "${nodes_up[@]}"; do
    ns=$(node_ns "$n")
    ip netns exec "$ns" tcpdump -i eth0 --immediate-mode -U -n -s 2048 -w "$run/$scenario-n$n.pcap" 'not arp' \
      2>"$run/$scenario-n$n.tcpdump" &
    capture_pids+=($!)
  done
  local i
  for i in $(seq 1 50); do
    local ready=0
    for n in "${nodes_up[@]}"; do grep -q "listening on" "$run/$scenario-n$n.tcpdump" 2>/dev/null && ready=$((ready + 1)); done
    [ $ready = ${#nodes_up[@]} ] && break
    sleep 0.1
  done
}
# One more capture for the running scenario: namespace, interface, file, filter.
capture_on() {
  local ns=$1 iface=$2 file=$3 filter=$4 i
  # shellcheck disable=SC2086 # the filter is several words
  ip netns exec "$ns" tcpdump -i "$iface" --immediate-mode -U -n -s 2048 -w "$file" $filter 2>"$file.tcpdump" &
  capture_pids+=($!)
  for i in $(seq 1 50); do grep -q "listening on" "$file.tcpdump" 2>/dev/null && break; sleep 0.1; done
}
stop_captures() {
  sleep 0.3
  local pid i
  # SIGTERM, not SIGINT: background jobs of a non-interactive shell ignore SIGINT.
  for pid in "${capture_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 1 30); do
    local alive=0
    for pid in "${capture_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${capture_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  capture_pids=()
}
pcaps() {
  local scenario=$1 n
  for n in "${nodes_up[@]}"; do printf '%s=%s ' "$n" "$run/$scenario-n$n.pcap"; done
}

# ---------------------------------------------------------------- readiness
wait_ready() {
  local i ok=0
  # The balancer answers ARP/ND and echo for its VIPs; it must also have resolved every node.
  for i in $(seq 1 40); do
    if ip netns exec "$NS_CL" ping -c1 -W1 -q "$VIP4" >/dev/null 2>&1 && ip netns exec "$NS_CL" ping -6 -c1 -W1 -q "$VIP6" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.25
  done
  [ $ok = 1 ] || { echo "lab: the VIPs do not answer ping through the router" >&2; return 1; }
  ok=0
  for i in $(seq 1 40); do
    if ip netns exec "$NS_CL" timeout 2 coap-client-notls -B 1 -m get "coap://$VIP4/" >/dev/null 2>&1 \
       && ip netns exec "$NS_CL" "$PYTHON" "$lab/tools/v6_client.py" "$VIP6" "$V6PORT" probe >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.25
  done
  [ $ok = 1 ] || { echo "lab: no answer from a node through the VIPs" >&2; return 1; }
  sleep 1.2 # every node's MAC resolved (the balancer asks for unresolved ones every second)
}

skipped=()
result() {
  local scenario=$1 status=$2; shift 2
  case "$status" in
    PASS) passed+=("$scenario") ;;
    SKIP) skipped+=("$scenario") ;;
    *) failed+=("$scenario") ;;
  esac
  echo "scenario $scenario: $status $*"
}

# ---------------------------------------------------------------- scenarios
dtls_client() { # name, extra options...
  local name=$1; shift
  ip netns exec "$NS_CL" timeout 60 "$peers/dtls_cid_peer" client host=$VIP4 port=5684 psk=$PSK name="$name" "$@"
}

scenario_a() {
  say "== a: DTLS 1.2 CID clients through the VIP; each node sees only its own CIDs"
  start_captures a
  local c pids_a=() bad=0
  for c in $(seq 1 12); do
    dtls_client "a$c" count=5 interval_ms=50 >"$run/a-client$c.log" 2>&1 &
    pids_a+=($!)
  done
  for c in "${pids_a[@]}"; do wait "$c" || bad=$((bad + 1)); done
  # Mbed TLS ssl_client2 against the lab server and against Mbed TLS ssl_server2.
  local port ok2=0 n2=0
  for port in 5684 5684 5685 5685 5685 5685; do
    n2=$((n2 + 1))
    if ip netns exec "$NS_CL" timeout 30 "$peers/ssl_client2" server_addr=$VIP4 server_port=$port dtls=1 \
        force_version=dtls12 cid=1 psk=$PSK psk_identity=lab force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8 \
        exchanges=2 read_timeout=3000 >"$run/a-ssl_client2-$n2.log" 2>&1; then
      ok2=$((ok2 + 1))
    fi
  done
  stop_captures
  local n
  for c in $(seq 1 12); do grep "event=result" "$run/a-client$c.log" | sed 's/^/  /' || true; done
  for n in "${nodes_up[@]}"; do
    say "  node $n (dtls_cid_peer): $(grep -c 'event=handshake ' "$run/n$n-dtls.log" || true) handshakes, CIDs issued: $(grep -o 'event=handshake cid=..' "$run/n$n-dtls.log" | sed 's/.*cid=//' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
  done
  say "  Mbed TLS ssl_client2: $ok2 of $n2 sessions echoed (2 with dtls_cid_peer on 5684, 4 with ssl_server2 on 5685)"
  say "  capture on the nodes, DTLS port 5684:"
  "$PYTHON" "$lab/tools/analyze.py" dtls 5684 $(pcaps a) > "$run/a-analyze-5684.txt" || true
  [ "$quiet" = 1 ] || cat "$run/a-analyze-5684.txt" | sed 's/^/    /'
  "$PYTHON" "$lab/tools/analyze.py" dtls 5685 $(pcaps a) > "$run/a-analyze-5685.txt" || true
  say "  capture on the nodes, Mbed TLS ssl_server2 port 5685:"
  [ "$quiet" = 1 ] || sed 's/^/    /' "$run/a-analyze-5685.txt"
  local used=0
  for n in 1 2; do grep -q "event=handshake " "$run/n$n-dtls.log" && used=$((used + 1)); done
  if [ $bad -gt 0 ]; then result a FAIL "($bad of 12 clients did not get every echo)"
  elif [ $ok2 -ne $n2 ]; then result a FAIL "($((n2 - ok2)) of $n2 ssl_client2 sessions failed)"
  elif ! grep -q "check=ok" "$run/a-analyze-5684.txt" "$run/a-analyze-5685.txt" \
       || grep -q "check=FAIL" "$run/a-analyze-5684.txt" "$run/a-analyze-5685.txt"; then result a FAIL "(a node saw another node's CID)"
  elif grep -q "event=foreign_cid" "$run"/n*-dtls.log; then result a FAIL "(a node's server got another node's CID)"
  elif [ $used -lt 2 ]; then result a FAIL "(every handshake landed on one node)"
  else result a PASS "(12 + $n2 sessions, both nodes used, no foreign CID on any node)"; fi
}

scenario_b() {
  local pause=$(( (SESSION_TIMEOUT + 2) * 1000 ))
  say "== b: silence of ${pause} ms (session_timeout ${SESSION_TIMEOUT}s), then more data"
  start_captures b
  local c pids_b=() bad=0
  for c in 1 2 3 4; do
    dtls_client "b$c" count=4 pause_after=2 pause_ms=$pause >"$run/b-client$c.log" 2>&1 &
    pids_b+=($!)
  done
  for c in "${pids_b[@]}"; do wait "$c" || bad=$((bad + 1)); done
  stop_captures
  for c in 1 2 3 4; do grep -E "event=(result|pause|timeout|lost)" "$run/b-client$c.log" | sed 's/^/  /' || true; done
  "$PYTHON" "$lab/tools/analyze.py" dtls 5684 $(pcaps b) > "$run/b-analyze.txt" || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/b-analyze.txt"
  if [ $bad -gt 0 ]; then result b FAIL "($bad of 4 clients lost data after the silence)"
  elif ! grep -q "check=ok" "$run/b-analyze.txt"; then result b FAIL "(a node saw another node's CID)"
  else result b PASS "(records after ${pause} ms of silence reached the handshake node)"; fi
}

scenario_c() {
  say "== c: NAT rebinding through the masquerading router mid-session"
  start_captures c
  local c pids_c=() bad=0
  for c in 1 2 3; do
    dtls_client "c$c" count=6 pause_after=3 pause_ms=1500 >"$run/c-client$c.log" 2>&1 &
    pids_c+=($!)
  done
  local i paused=0
  for i in $(seq 1 100); do
    paused=$(cat "$run"/c-client*.log 2>/dev/null | grep -c "event=pause" || true)
    [ "$paused" -ge 3 ] && break
    sleep 0.05
  done
  say "  router: $(ip netns exec "$NS_RT" conntrack -L -p udp --dport 5684 2>/dev/null | grep -c . || true) UDP mappings toward port 5684 before the flush"
  ip netns exec "$NS_RT" conntrack -F >/dev/null 2>&1 || true
  say "  conntrack -F on the router: the next datagram of every client leaves from a new port"
  for c in "${pids_c[@]}"; do wait "$c" || bad=$((bad + 1)); done
  say "  router: after the flush the clients were mapped to ports $(ip netns exec "$NS_RT" conntrack -L -p udp --dport 5684 2>/dev/null | grep -o 'dport=5684 src=[^ ]* dst=[^ ]* sport=[^ ]* dport=[0-9]*' | awk '{print $5}' | sed 's/dport=//' | tr '\n' ' ')"
  stop_captures
  local moved=0 cid
  for c in 1 2 3; do
    grep -E "event=result" "$run/c-client$c.log" | sed 's/^/  /' || true
    cid=$(grep -o 'event=handshake cid=[0-9a-f]*' "$run/c-client$c.log" | sed 's/.*cid=//' || true)
    if [ -n "$cid" ] && grep -h "event=moved cid=$cid" "$run"/n*-dtls.log | sed 's/^/  /' | grep .; then moved=$((moved + 1)); fi
  done
  "$PYTHON" "$lab/tools/analyze.py" dtls 5684 $(pcaps c) > "$run/c-analyze.txt" || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/c-analyze.txt"
  if [ $bad -gt 0 ]; then result c FAIL "($bad of 3 sessions did not survive the rebinding)"
  elif [ $moved -lt 3 ]; then result c FAIL "(only $moved of 3 sessions were seen to change address: no rebinding?)"
  elif ! grep -q "check=ok" "$run/c-analyze.txt"; then result c FAIL "(a node saw another node's CID)"
  else result c PASS "(3 sessions rebound to new ports and kept going on their node)"; fi
}

scenario_d() {
  say "== d: plain CoAP (libcoap) through the VIP, sticky for the session timeout"
  start_captures d
  local c r bad=0
  for r in 1 2 3; do
    for c in 1 2 3 4 5 6 7 8; do
      # A fixed local port per client: one 5-tuple per client through the router.
      ip netns exec "$NS_CL" timeout 5 coap-client-notls -B 2 -p $((41000 + c)) -m get "coap://$VIP4/" \
        >"$run/d-client$c-$r.log" 2>&1 || bad=$((bad + 1))
      grep -q . "$run/d-client$c-$r.log" || bad=$((bad + 1))
    done
    sleep 0.3
  done
  stop_captures
  # The balancer's own CoAP pings (health probes, from 192.0.2.1) are not clients.
  "$PYTHON" "$lab/tools/analyze.py" coap 5683 ignore=192.0.2.1 $(pcaps d) > "$run/d-analyze.txt" || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/d-analyze.txt"
  local clients
  clients=$(grep -c "^client " "$run/d-analyze.txt" || true)
  local nodes_used
  nodes_used=$(grep -o "on node [0-9]*" "$run/d-analyze.txt" | sort -u | wc -l)
  if [ $bad -gt 0 ]; then result d FAIL "($bad of 24 CoAP requests got no answer)"
  elif ! grep -q "check=ok" "$run/d-analyze.txt"; then result d FAIL "(a client was split over nodes)"
  elif [ "$clients" -ne 8 ]; then result d FAIL "(expected 8 client 5-tuples at the nodes, saw $clients)"
  else result d PASS "(8 clients x 3 requests, each client on one node, $nodes_used nodes used)"; fi
}

scenario_e() {
  say "== e: IPv6 flow labels: TCP connections and fragmented UDP datagrams (1280-byte client link)"
  start_captures e
  local bad=0
  ip netns exec "$NS_CL" timeout 60 "$PYTHON" "$lab/tools/v6_client.py" "$VIP6" "$V6PORT" tcp=6 udp=6 rounds=3 size=3000 \
    >"$run/e-client.log" 2>&1 || bad=1
  stop_captures
  [ "$quiet" = 1 ] || grep -E "round=0|result|split|False" "$run/e-client.log" | sed 's/^/  /'
  "$PYTHON" "$lab/tools/analyze.py" v6 $V6PORT $(pcaps e) > "$run/e-analyze.txt" || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/e-analyze.txt"
  if [ $bad -gt 0 ]; then result e FAIL "(an echo failed or a flow was split: $run/e-client.log)"
  elif ! grep -q "check=ok" "$run/e-analyze.txt"; then result e FAIL "($(grep check= "$run/e-analyze.txt"))"
  else result e PASS "(6 TCP connections, 6 UDP flows of 3000-byte datagrams reassembled on one node each)"; fi
}

# Health checks and reload landed together (with `cidlb reload` and `cidlb stats`).
supports_health() { "$cidlb" --help 2>/dev/null | grep -qE "^ +(reload|stats) "; }
supports_reload() { "$cidlb" --help 2>/dev/null | grep -qE "^ +reload"; }

scenario_f() {
  say "== f: a node stops: marked down, new handshakes land on the survivors"
  if ! supports_health; then result f SKIP "(this cidlb has no health checks yet)"; return; fi
  local ns2 c bad=0 pid
  ns2=$(node_ns 2)
  # Node 2 stops: every process in its namespace (DTLS servers, the CoAP server that answers
  # the health probes, the echo server), by pid.
  for pid in $(ip netns pids "$ns2"); do kill -TERM "$pid" 2>/dev/null || true; done
  sleep 2 # fall = 2 probes at 500 ms, and a margin
  grep -E "node.*(down|Down)" "$run/cidlb.err" | tail -3 | sed 's/^/  /' || true
  start_captures f
  for c in $(seq 1 8); do dtls_client "f$c" count=2 >"$run/f-client$c.log" 2>&1 || bad=$((bad + 1)); done
  stop_captures
  "$PYTHON" "$lab/tools/analyze.py" dtls 5684 $(pcaps f) > "$run/f-analyze.txt" || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/f-analyze.txt"
  if [ $bad -gt 0 ]; then result f FAIL "($bad of 8 new sessions failed with node 2 stopped)"
  elif grep -q "^node 2: [1-9]" "$run/f-analyze.txt"; then result f FAIL "(node 2 still got CID records)"
  else result f PASS "(8 new sessions on the surviving nodes)"; fi
}

scenario_g() {
  say "== g: SIGHUP adds a node under traffic"
  if ! supports_reload; then result g SKIP "(this cidlb has no config reload yet)"; return; fi
  local c bad=0 pids_g=()
  start_captures g
  for c in 1 2 3 4; do
    dtls_client "g$c" count=30 interval_ms=100 >"$run/g-client$c.log" 2>&1 &
    pids_g+=($!)
  done
  sleep 1
  write_config "1 2 3"
  kill -HUP "$cidlb_pid"
  say "  SIGHUP: node 3 added to the config"
  sleep 1
  # New sessions pick their node by Maglev over a keyed hash of their 5-tuple, so each lands on
  # node 3 with a chance of 1 in 3: 24 of them all miss it in 1 run of 17,000 ((2/3)^24), where
  # 12 did in 1 of 130 (a failure seen once, session 14, with node 3 probed and up).
  for c in $(seq 5 28); do dtls_client "g$c" count=2 >"$run/g-client$c.log" 2>&1 || bad=$((bad + 1)); done
  for c in "${pids_g[@]}"; do wait "$c" || bad=$((bad + 1)); done
  stop_captures
  "$PYTHON" "$lab/tools/analyze.py" dtls 5684 $(pcaps g) > "$run/g-analyze.txt" || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/g-analyze.txt"
  if [ $bad -gt 0 ]; then result g FAIL "($bad sessions lost data across the reload)"
  elif ! grep -q "^node 3: [1-9]" "$run/g-analyze.txt"; then result g FAIL "(no new session reached node 3)"
  else result g PASS "(no data lost across the reload; new sessions reached node 3)"; fi
}

# A counter of the running cidlb, summed over workers, from its metrics endpoint.
cidlb_counter() {
  ip netns exec "$NS_LB" "$cidlb" stats --metrics 127.0.0.1:9781 --raw 2>/dev/null \
    | awk -v m="cidlb_$1_total" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%d\n", s }'
}

scenario_h() {
  say "== h: IP-in-IP (direct server return) to Mbed TLS ssl_server2 on nodes ${dsr_nodes[*]:-}, IPv4 and IPv6"
  if [ -n "$no_tun" ]; then result h SKIP "$no_tun"; return; fi
  local n c ok=0 total=0 family vip
  capture_pids=()
  # What the router sends toward the VIPs (after masquerading): the inner packets must match.
  capture_on "$NS_RT" eth0 "$run/h-rt.pcap" "dst host $VIP4_DSR or dst host $VIP6_DSR"
  for n in "${dsr_nodes[@]}"; do capture_on "$(node_ns "$n")" eth0 "$run/h-n$n.pcap" "not arp"; done
  local encapsulated_before
  encapsulated_before=$(cidlb_counter tunnel_encapsulated)
  for family in 4 6; do
    vip=$VIP4_DSR; [ $family = 6 ] && vip=$VIP6_DSR
    for c in 1 2 3 4; do
      total=$((total + 1))
      if ip netns exec "$NS_CL" timeout 30 "$peers/ssl_client2" server_addr=$vip server_port=5685 dtls=1 \
          force_version=dtls12 cid=1 psk=$PSK psk_identity=lab force_ciphersuite=TLS-PSK-WITH-AES-128-CCM-8 \
          exchanges=2 read_timeout=3000 >"$run/h-ssl_client2-$family-$c.log" 2>&1; then
        ok=$((ok + 1))
      fi
    done
  done
  local encapsulated=$(( $(cidlb_counter tunnel_encapsulated) - encapsulated_before ))
  stop_captures
  say "  Mbed TLS ssl_client2: $ok of $total sessions echoed (4 to $VIP4_DSR, 4 to $VIP6_DSR); cidlb encapsulated $encapsulated packets"
  for n in "${dsr_nodes[@]}"; do
    say "  node $n: ssl_server2 sessions with a CID: IPv4 $(grep -c '(initial handshake) Use of Connection ID has been negotiated' "$run/n$n-ssl_server2.log" 2>/dev/null || true), IPv6 $(grep -c '(initial handshake) Use of Connection ID has been negotiated' "$run/n$n-ssl_server2-6.log" 2>/dev/null || true); decapsulated: $(grep -c 'event=decap kind=4in4' "$run/n$n-decap.log" || true) 4in4, $(grep -c 'event=decap kind=6in6' "$run/n$n-decap.log" || true) 6in6"
  done
  local specs=()
  for n in "${dsr_nodes[@]}"; do specs+=("192.0.2.1$n,2001:db8::1$n=$run/h-n$n.pcap"); done
  "$PYTHON" "$lab/tools/tunnel_check.py" tunnel "$LB_MAC" "$TUNNEL_TTL" "$run/h-rt.pcap" "$VIP4_DSR,$VIP6_DSR" "${specs[@]}" \
    > "$run/h-analyze.txt" 2>&1 || true
  [ "$quiet" = 1 ] || sed 's/^/  /' "$run/h-analyze.txt"
  # Direct server return: the nodes' replies (source = a VIP) went to the router's MAC.
  local replies_via_lb replies_via_router
  replies_via_lb=0; replies_via_router=0
  for n in "${dsr_nodes[@]}"; do
    replies_via_lb=$((replies_via_lb + $(tcpdump -r "$run/h-n$n.pcap" -n -e "ether dst $LB_MAC and (src host $VIP4_DSR or src host $VIP6_DSR)" 2>/dev/null | grep -c . || true)))
    replies_via_router=$((replies_via_router + $(tcpdump -r "$run/h-n$n.pcap" -n -e "ether dst 02:cb:00:00:00:fe and (src host $VIP4_DSR or src host $VIP6_DSR)" 2>/dev/null | grep -c . || true)))
  done
  say "  the nodes' replies from the VIPs: $replies_via_router to the home router, $replies_via_lb to the balancer"
  if [ $ok -ne $total ]; then result h FAIL "($((total - ok)) of $total ssl_client2 sessions failed through the tunnel)"
  elif ! grep -q "check=ok" "$run/h-analyze.txt"; then result h FAIL "($(grep check= "$run/h-analyze.txt"))"
  elif ! grep -q "4in4=" "$run/h-analyze.txt" || ! grep -q "6in6=" "$run/h-analyze.txt"; then result h FAIL "(not both 4in4 and 6in6 seen)"
  elif [ "$replies_via_lb" -gt 0 ] || [ "$replies_via_router" -eq 0 ]; then result h FAIL "(replies did not go straight to the router)"
  else result h PASS "($total DTLS CID sessions through IPv4-in-IPv4 and IPv6-in-IPv6, outer TTL $TUNNEL_TTL, inner packets unchanged, replies direct)"; fi
}

scenario_i() {
  say "== i: path MTU discovery through the balancer (client link 1280, nodes 1500, client MSS 1460)"
  if [ -n "$no_tun" ]; then result i SKIP "$no_tun"; return; fi
  local vip n bad=0 size=204800 specs_nat=() specs_ipip=() delivered_before too_big_before
  # No MSS clamping anywhere: the client announces 1460 (1440 over IPv6) toward the VIPs as
  # if its own link were 1500, so the nodes really send 1500-byte segments with DF set.
  for vip in $VIP4 $VIP4_DSR; do ip -n "$NS_CL" route replace "$vip/32" via 198.51.100.1 dev eth0 advmss 1460; done
  for vip in $VIP6 $VIP6_DSR; do ip -n "$NS_CL" -6 route replace "$vip/128" via 2001:db8:c::1 dev eth0 advmss 1440; done
  ip netns exec "$NS_RT" iptables -t mangle -S 2>/dev/null | grep -q TCPMSS && { result i FAIL "(the router clamps MSS)"; return; }
  # The control: with the router's "fragmentation needed" dropped, the same download stalls
  # (so it is path MTU discovery, nothing else, that makes the real ones complete).
  local control
  ip netns exec "$NS_RT" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
  ip netns exec "$NS_CL" timeout 8 "$PYTHON" "$lab/tools/pmtu.py" fetch "$VIP4" "$BULK_PORT" $size 3 >"$run/i-control.log" 2>&1 && control=completed || control=stalled
  # The client reset the stalled connection: nothing retransmits once the errors flow again.
  sleep 0.3
  ip netns exec "$NS_RT" iptables -D OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
  for n in "${nodes_up[@]}"; do ip -n "$(node_ns "$n")" route flush cache 2>/dev/null || true; done
  say "  control, the router's too-big errors dropped: the NAT download $control ($(grep -o 'bytes=[0-9]*' "$run/i-control.log" | head -1) of $size in 3 s)"
  [ $control = stalled ] || { result i FAIL "(the download completed without path MTU discovery: the test proves nothing)"; return; }
  sleep 0.5
  capture_pids=()
  for n in "${nodes_up[@]}" "${dsr_nodes[@]}"; do
    capture_on "$(node_ns "$n")" eth0 "$run/i-n$n.pcap" "tcp port $BULK_PORT or icmp or icmp6 or ip proto 4 or ip6 proto 41"
  done
  for n in "${nodes_up[@]}"; do specs_nat+=("192.0.2.1$n,2001:db8::1$n=$run/i-n$n.pcap"); done
  for n in "${dsr_nodes[@]}"; do specs_ipip+=("192.0.2.1$n,2001:db8::1$n=$run/i-n$n.pcap"); done
  delivered_before=$(cidlb_counter icmp_errors_delivered)
  # A broken path MTU discovery stalls the download (the big segments are dropped for ever,
  # tcp_mtu_probing is off): each client gives up after 20 s.
  local mode
  for vip in $VIP4 $VIP6 $VIP4_DSR $VIP6_DSR; do
    mode=NAT; case "$vip" in "$VIP4_DSR"|"$VIP6_DSR") mode=IP-in-IP ;; esac
    if ip netns exec "$NS_CL" timeout 25 "$PYTHON" "$lab/tools/pmtu.py" fetch "$vip" "$BULK_PORT" $size 20 >"$run/i-fetch-$vip.log" 2>&1; then
      say "  $mode $(cat "$run/i-fetch-$vip.log")"
    else
      say "  $mode FAILED: $(cat "$run/i-fetch-$vip.log")"
      bad=$((bad + 1))
    fi
  done
  local delivered=$(( $(cidlb_counter icmp_errors_delivered) - delivered_before ))
  stop_captures
  say "  cidlb: icmp_errors_delivered +$delivered"
  "$PYTHON" "$lab/tools/tunnel_check.py" pmtu "$BULK_PORT" nat "${specs_nat[@]}" > "$run/i-analyze-nat.txt" 2>&1 || true
  "$PYTHON" "$lab/tools/tunnel_check.py" pmtu "$BULK_PORT" ipip "${specs_ipip[@]}" > "$run/i-analyze-ipip.txt" 2>&1 || true
  [ "$quiet" = 1 ] || { say "  NAT nodes:"; sed 's/^/    /' "$run/i-analyze-nat.txt"; say "  IP-in-IP nodes:"; sed 's/^/    /' "$run/i-analyze-ipip.txt"; }
  for n in "${nodes_up[@]}" "${dsr_nodes[@]}"; do
    grep -h "event=sent" "$run/n$n-bulk.log" 2>/dev/null | sed 's/^/    /' || true
  done

  # Too big for the tunnel: with the client link raised to 1500 for a moment, a 1500-byte
  # datagram with DF to an IP-in-IP VIP cannot get 20 (40) more bytes through the balancer's
  # 1500-byte port: the balancer answers "fragmentation needed" / Packet Too Big itself, the
  # router carries it back through its NAT, and the client's kernel lowers its path MTU.
  too_big_before=$(cidlb_counter icmp_too_big_sent)
  ip -n "$NS_RT" link set eth1 mtu 1500
  ip -n "$NS_CL" link set eth0 mtu 1500
  local mtu4 mtu6
  ip netns exec "$NS_CL" timeout 10 "$PYTHON" "$lab/tools/pmtu.py" toobig "$VIP4_DSR" "$BULK_PORT" 1500 5 >"$run/i-toobig4.log" 2>&1 || true
  ip netns exec "$NS_CL" timeout 10 "$PYTHON" "$lab/tools/pmtu.py" toobig "$VIP6_DSR" "$BULK_PORT" 1500 5 >"$run/i-toobig6.log" 2>&1 || true
  ip -n "$NS_RT" link set eth1 mtu 1280
  ip -n "$NS_CL" link set eth0 mtu 1280
  ip -n "$NS_CL" route flush cache 2>/dev/null || true
  ip -n "$NS_CL" -6 route flush cache 2>/dev/null || true
  local too_big=$(( $(cidlb_counter icmp_too_big_sent) - too_big_before ))
  mtu4=$(grep -o 'event=result.*path_mtu=[0-9]*' "$run/i-toobig4.log" | grep -o 'path_mtu=[0-9]*' | cut -d= -f2 || true)
  mtu6=$(grep -o 'event=result.*path_mtu=[0-9]*' "$run/i-toobig6.log" | grep -o 'path_mtu=[0-9]*' | cut -d= -f2 || true)
  say "  1500-byte datagrams with DF to the IP-in-IP VIPs: the client's path MTU became ${mtu4:-?} (IPv4) and ${mtu6:-?} (IPv6); cidlb: icmp_too_big_sent +$too_big"

  if [ $bad -gt 0 ]; then result i FAIL "($bad of 4 downloads stalled or broke: path MTU discovery through the balancer failed)"
  elif ! grep -q "^connections=2$" "$run/i-analyze-nat.txt" || ! grep -q "^connections=2$" "$run/i-analyze-ipip.txt"; then
    result i FAIL "(expected 2 downloads each through NAT and IP-in-IP in the nodes' captures)"
  elif ! grep -q "check=ok" "$run/i-analyze-nat.txt"; then result i FAIL "(NAT: $(grep check= "$run/i-analyze-nat.txt"))"
  elif ! grep -q "check=ok" "$run/i-analyze-ipip.txt"; then result i FAIL "(IP-in-IP: $(grep check= "$run/i-analyze-ipip.txt"))"
  elif [ "$delivered" -le 0 ]; then result i FAIL "(icmp_errors_delivered did not grow)"
  elif [ "${mtu4:-0}" != 1480 ] || [ "${mtu6:-0}" != 1460 ]; then result i FAIL "(too big for the tunnel: path MTU ${mtu4:-?}/${mtu6:-?}, expected 1480/1460)"
  elif [ "$too_big" -le 0 ]; then result i FAIL "(icmp_too_big_sent did not grow)"
  else result i PASS "(4 downloads of $size bytes through NAT and IP-in-IP completed after $delivered too-big errors reached their node; too big for the tunnel: 1480/1460)"; fi
}

# ---------------------------------------------------------------- main
say "lab $id: cidlb $("$cidlb" --version 2>/dev/null | head -n1), peers in $peers, logs in $run"
setup_topology
# Node 3 runs from the start when f or g is asked for, but joins the config only in g.
write_config "1 2"
start_node_services "${nodes_up[@]}"
[ ${#dsr_nodes[@]} -gt 0 ] && start_dsr_services "${dsr_nodes[@]}"
start_cidlb
[ -n "${LAB_HOLD:-}" ] && { echo "lab: holding ${LAB_HOLD}s for debugging"; sleep "$LAB_HOLD"; }
wait_ready || { result setup FAIL "(the lab did not come up; see $run/cidlb.err)"; exit 1; }
say "lab $id: up (cidlb pid $cidlb_pid, nodes ${nodes_up[*]}, VIPs $VIP4 and $VIP6)"

for s in "${scenarios[@]}"; do
  case "$s" in
    all-optional) scenario_g; scenario_f ;;
    *) "scenario_$s" ;;
  esac
done

stop_cidlb
say ""
say "== what went where (cidlb's own stats)"
[ "$quiet" = 1 ] || sed 's/^/  /' "$run/cidlb.out"
say ""
echo "lab $id: passed: ${passed[*]:-none}; skipped: ${skipped[*]:-none}; failed: ${failed[*]:-none}"
[ ${#failed[@]} = 0 ]

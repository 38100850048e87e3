#!/usr/bin/env bash
# Prepare a Linux node behind cidlb. Run on the node, as root.
#
#   scripts/node-setup.sh nat  BALANCER_ADDRESS                 # NAT mode (the seed's setup)
#   scripts/node-setup.sh ipip VIP [VIP ...]                    # IP-in-IP (direct server return)
#
# NAT mode: replies must go back through the balancer (it rewrites their source to the VIP),
# so the balancer is the node's default gateway, as in the Californium seed.
#
# IP-in-IP: the balancer wraps client packets in IPv4 (protocol 4) or IPv6 (next header 41)
# addressed to the node; the node unwraps them, owns the VIPs on a loopback device and
# answers clients directly. That needs:
#   - the ipip / ip6tnl modules and fallback tunnel devices (tunl0, ip6tnl0) up, which accept
#     encapsulated packets from any source;
#   - each VIP on lo (/32 or /128), so the node's sockets accept the inner packets;
#   - rp_filter off on the tunnel devices (the inner source, the client, is not routed via them);
#   - arp_ignore=1 / arp_announce=2 so the node never answers ARP for a VIP on the wire (the
#     balancer answers for it); for IPv6, VIPs on lo are not advertised by ND;
#   - a path MTU that leaves room for the tunnel header, or clients' PMTU discovery (the
#     balancer answers "too big" with MTU minus the 20/40-byte overhead);
#   - a default route via the site's router (not the balancer), and UDP servers bound to
#     the VIP, so replies leave from the VIP directly.
# A kernel without ipip/ip6_tunnel (the test machines): the lab unwraps in user space with
# lab/tools/ipip_decap.py (raw sockets for protocols 4 and 41 into a TUN), test tooling only.
set -euo pipefail
mode=${1:-}
shift || true
case "$mode" in
  nat)
    balancer=${1:?usage: node-setup.sh nat BALANCER_ADDRESS}
    if [[ "$balancer" == *:* ]]; then
      ip -6 route replace default via "$balancer"
    else
      ip route replace default via "$balancer"
    fi
    echo "node-setup: default route via $balancer (replies return through cidlb)"
    ;;
  ipip)
    [ $# -ge 1 ] || { echo "usage: node-setup.sh ipip VIP [VIP ...]" >&2; exit 2; }
    modprobe ipip || { echo "node-setup: no ipip module in this kernel" >&2; exit 1; }
    modprobe ip6_tunnel || echo "node-setup: no ip6_tunnel module: IPv6 tunnels will not work" >&2
    ip link set tunl0 up
    ip link set ip6tnl0 up 2>/dev/null || true
    sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0
    sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
    for vip in "$@"; do
      if [[ "$vip" == *:* ]]; then
        ip -6 addr replace "$vip/128" dev lo
      else
        ip addr replace "$vip/32" dev lo
      fi
      echo "node-setup: VIP $vip on lo"
    done
    echo "node-setup: tunl0/ip6tnl0 up, rp_filter off, arp_ignore=1 arp_announce=2"
    ;;
  *)
    sed -n '2,24p' "$0"
    exit 2
    ;;
esac

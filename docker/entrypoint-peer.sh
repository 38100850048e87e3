#!/bin/sh
# Lab peers: ROLE picks what this container does (see docker/compose.yaml).
set -eu
ethtool -K eth0 tx off tso off gso off >/dev/null 2>&1 || true
case "${ROLE:-}" in
  node)
    # The seed's node setup: no on-link route to the subnet, a host route to the balancer and
    # the default route through it, so replies go back through the balancer.
    b4=${BALANCER4:-192.0.2.1}; b6=${BALANCER6:-2001:db8::1}
    dev=$(ip -o -4 route get "$b4" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
    ip route flush dev "$dev" scope link
    ip route add "$b4/32" dev "$dev"
    ip route replace default via "$b4" dev "$dev"
    ip -6 route flush dev "$dev" proto kernel 2>/dev/null || true
    ip -6 route add fe80::/64 dev "$dev" 2>/dev/null || true
    ip -6 route add "$b6/128" dev "$dev" 2>/dev/null || true
    ip -6 route replace default via "$b6" dev "$dev" 2>/dev/null || true
    dtls_cid_peer server node="${NODE_ID:?NODE_ID}" port=5684 &
    coap-server-notls -p 5683 &
    python3 /lab/lab/tools/echo_server.py "${NODE_ID}" 7007 &
    wait
    ;;
  router)
    # The clients' home router: masquerading with random ports, so `conntrack -F` rebinds.
    sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    wan=$(ip -o -4 route get "${BALANCER4:-192.0.2.1}" | sed -n 's/.* dev \([^ ]*\).*/\1/p')
    iptables -t nat -A POSTROUTING -o "$wan" -j MASQUERADE --random-fully
    exec sleep infinity
    ;;
  client)
    ip route replace default via "${ROUTER4:-198.51.100.254}"
    exec sleep infinity
    ;;
  *)
    exec "$@"
    ;;
esac

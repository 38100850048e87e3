#!/bin/sh
# The balancer's container: its interface belongs to DPDK (net_af_packet in the compose lab,
# a vfio-pci NIC in production), so the kernel must not answer for the balancer's addresses.
set -eu
if [ "${CIDLB_IFACE:-}" != "" ]; then
  ip addr flush dev "$CIDLB_IFACE" 2>/dev/null || true
  sysctl -qw "net.ipv6.conf.$CIDLB_IFACE.disable_ipv6=1" 2>/dev/null || true
  # af_packet gets frames as the kernel holds them: no checksum or segmentation offload.
  ethtool -K "$CIDLB_IFACE" tx off tso off gso off gro off >/dev/null 2>&1 || true
fi
cidlb check --config /etc/cidlb/cidlb.toml
exec cidlb "$@"

#!/usr/bin/env python3
"""Lab test tool: a node's IP-in-IP decapsulation, for kernels without ipip / ip6_tunnel.

  ipip_decap.py TUN_NAME [seconds=N]

What a real node does with `tunl0` / `ip6tnl0` (scripts/node-setup.sh ipip), done in user
space because the lab's kernel has neither module:

- Raw sockets for IP protocol 4 (IPv4 inside) and 41 (IPv6 inside), over both IPv4 and IPv6
  outer headers, receive every tunnel packet addressed to this node. The kernel has already
  reassembled outer fragments. A raw socket for the protocol also keeps the kernel from
  answering "protocol unreachable" (it has no handler of its own for 4 or 41 here).
- An IPv4 raw socket hands over the outer header too: it is stripped (IHL). An IPv6 raw
  socket hands over the payload after the outer header (and its extension headers), which
  is the inner packet already.
- The inner packet is written, byte for byte, into a TUN device (no packet-info header: the
  kernel reads the family from the version nibble), so the node's own stack receives it as
  if it had arrived on a tunnel device: addressed to a VIP on `lo`, it reaches the socket
  bound there (rp_filter must be off: the inner source is not routed via the TUN).

One line per packet on stdout (event=decap ...), a summary when it stops. Test tooling for
tests and the lab, not part of cidlb.
"""
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def sysctl(path, value):
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        print(f"event=warning sysctl={path} error={e}", flush=True)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    name = sys.argv[1]
    seconds = 900
    for a in sys.argv[2:]:
        if a.startswith("seconds="):
            seconds = int(a.split("=", 1)[1])
    tun = open_tun(name)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    # The inner source (a client) is reached through eth0, not the TUN: strict reverse-path
    # filtering would drop every inner packet.
    for conf in ("all", "default", name):
        sysctl(f"/proc/sys/net/ipv4/conf/{conf}/rp_filter", "0")
    sockets = {}
    for family, outer in ((socket.AF_INET, 4), (socket.AF_INET6, 6)):
        for proto in (IPPROTO_IPIP, IPPROTO_IPV6):
            s = socket.socket(family, socket.SOCK_RAW, proto)
            s.setblocking(False)
            sockets[s.fileno()] = (s, outer, proto)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__(0, True))
    print(f"event=ready tun={name} sockets={len(sockets)}", flush=True)
    count = {}
    deadline = time.monotonic() + seconds
    poller = select.poll()
    for fd in sockets:
        poller.register(fd, select.POLLIN)
    while not stop[0] and time.monotonic() < deadline:
        try:
            events = poller.poll(500)
        except InterruptedError:
            continue
        for fd, _ in events:
            s, outer, proto = sockets[fd]
            for _ in range(64):  # bounded per wake-up
                try:
                    data, peer = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if outer == 4:
                    if len(data) < 20:
                        continue
                    ihl = (data[0] & 15) * 4
                    outer_ttl = data[8]
                    inner = data[ihl:]
                else:
                    outer_ttl = -1  # an IPv6 raw socket does not show the outer header
                    inner = data
                if not inner or inner[0] >> 4 not in (4, 6):
                    continue
                expected = 4 if proto == IPPROTO_IPIP else 6
                if inner[0] >> 4 != expected:
                    print(f"event=mismatch outer={outer} proto={proto} inner_version={inner[0] >> 4}", flush=True)
                    continue
                os.write(tun, inner)
                key = f"{expected}in{outer}"
                count[key] = count.get(key, 0) + 1
                print(f"event=decap kind={key} from={peer[0]} outer_ttl={outer_ttl} inner_len={len(inner)}", flush=True)
    summary = " ".join(f"{k}={v}" for k, v in sorted(count.items())) or "none"
    print(f"event=stopped decapsulated {summary}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

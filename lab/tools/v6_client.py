#!/usr/bin/env python3
"""Lab test tool: IPv6 client for scenario e (flow-label balancing).

Opens `tcp` TCP connections and `udp` UDP sockets to [vip]:port. The kernel labels every
flow itself (net.ipv6.auto_flowlabels). Each TCP connection sends `rounds` messages and
checks the echo; each UDP socket sends `rounds` datagrams of `size` bytes (larger than the
1280-byte link MTU, so the kernel fragments them) and checks the node's length and digest.
Exit 0 when every exchange succeeded and each flow stayed on one node.
Usage: v6_client.py VIP PORT [tcp=4] [udp=4] [rounds=3] [size=3000] [probe]
"""
import hashlib
import socket
import sys
import time

def opt(name, default):
    for a in sys.argv[3:]:
        if a.startswith(name + "="):
            return int(a.split("=", 1)[1])
    return default

def recv_exact_tcp(sock, want):
    buf = b""
    while len(buf) < want:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf

def main():
    vip, port = sys.argv[1], int(sys.argv[2])
    if "probe" in sys.argv[3:]:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        s.sendto(b"probe", (vip, port))
        try:
            print(s.recv(2048).decode())
            return 0
        except OSError:
            return 1
    tcp_n, udp_n, rounds, size = opt("tcp", 4), opt("udp", 4), opt("rounds", 3), opt("size", 3000)
    failures = 0
    # TCP: every connection is one flow, one label, one node.
    conns = []
    for i in range(tcp_n):
        c = socket.create_connection((vip, port), timeout=3)
        conns.append([c, None, i])
    for r in range(rounds):
        for entry in conns:
            c, node, i = entry
            msg = (f"tcp{i} round{r} ".encode() + b"y" * 1500)
            c.sendall(msg)
            expect = len(msg) + (0 if node else len(b"nX:"))
            reply = recv_exact_tcp(c, len(msg) + (0 if node else 3))
            if node is None:
                if not reply.startswith(b"n") or b":" not in reply[:4]:
                    print(f"tcp{i} event=bad_reply", flush=True)
                    failures += 1
                    continue
                head, rest = reply.split(b":", 1)
                entry[1] = head.decode()
                rest = rest + recv_exact_tcp(c, len(msg) - len(rest))
                ok = rest == msg
            else:
                ok = reply == msg
            print(f"tcp{i} event=echo round={r} node={entry[1]} ok={ok} expect={expect}", flush=True)
            failures += 0 if ok else 1
    for c, node, i in conns:
        c.close()
    # UDP: datagrams larger than the link MTU, fragmented by the kernel.
    for i in range(udp_n):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        s.connect((vip, port))
        nodes = set()
        for r in range(rounds):
            data = (f"udp{i} round{r} ".encode() + bytes((i * 7 + r + k) % 251 for k in range(size)))[:size]
            want = hashlib.sha256(data).hexdigest()
            reply = None
            for attempt in range(3):
                s.send(data)
                try:
                    reply = s.recv(4096).decode()
                    break
                except OSError:
                    print(f"udp{i} event=timeout round={r} attempt={attempt}", flush=True)
            ok = reply is not None and f"len={size} sha256={want}" in reply
            node = reply.split(":", 1)[0] if reply else "-"
            nodes.add(node)
            print(f"udp{i} event=echo round={r} node={node} bytes={size} reassembled={ok}", flush=True)
            failures += 0 if ok else 1
        if len(nodes) != 1:
            print(f"udp{i} event=split nodes={sorted(nodes)}", flush=True)
            failures += 1
        s.close()
    print(f"result failures={failures}", flush=True)
    return 1 if failures else 0

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Lab test tool: what the IP-in-IP nodes and the path-MTU scenario saw, from pcaps.

  tunnel_check.py tunnel LB_MAC TTL ROUTER_PCAP VIPS NODE=PCAP...
      NODE is "ADDR4,ADDR6" (the node's own addresses), VIPS "VIP4,VIP6". Every frame the
      balancer (source MAC LB_MAC) sent to a node, other than ARP and neighbour discovery,
      must be IP-in-IP (protocol 4 / next header 41) with the node's address as outer
      destination and TTL / hop limit TTL; its inner packet must be byte for byte a packet the
      router sent to a VIP (ROUTER_PCAP, captured on the router's side toward the balancer).

  tunnel_check.py pmtu PORT MODE NODE=PCAP...
      MODE nat or ipip. The node's TCP segments from PORT larger than 1280 bytes, the ICMP
      "fragmentation needed" / Packet Too Big it received (unwrapped when tunnelled) with the
      quoted source (nat: must be the node's own address, translated back by the balancer;
      ipip: the VIP, as the router sent it), and the size of the node's last segments.

Prints one line per node and `check=ok` or `check=FAIL reason`; exit status 1 on FAIL.
"""
import ipaddress
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyze import packets  # noqa: E402

ND_TYPES = (133, 134, 135, 136, 137)


def mac(text):
    return bytes(int(x, 16) for x in text.split(":"))


def addr(b):
    return str(ipaddress.ip_address(bytes(b)))


def ip_packet(frame):
    """-> (version, ip bytes trimmed to their length) or None (ARP, other)."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    if etype == 0x0800 and len(p) >= 20:
        return 4, p[:struct.unpack("!H", p[2:4])[0]]
    if etype == 0x86DD and len(p) >= 40:
        return 6, p[:40 + struct.unpack("!H", p[4:6])[0]]
    return None


def is_nd(version, p):
    return version == 6 and p[6] == 58 and len(p) > 40 and p[40] in ND_TYPES


def outer_fields(version, p):
    """-> (protocol / next header, ttl, src, dst, inner bytes)."""
    if version == 4:
        ihl = (p[0] & 15) * 4
        return p[9], p[8], p[12:16], p[16:20], p[ihl:]
    return p[6], p[7], p[8:24], p[24:40], p[40:]


def tunnel(args):
    lb_mac, ttl, router_pcap, vips = mac(args[0]), int(args[1]), args[2], args[3].split(",")
    vip_bytes = {ipaddress.ip_address(v).packed for v in vips}
    sent_by_router = {}
    for frame in packets(router_pcap):
        got = ip_packet(frame)
        if not got:
            continue
        version, p = got
        dst = p[16:20] if version == 4 else p[24:40]
        if dst in vip_bytes:
            sent_by_router[bytes(p)] = sent_by_router.get(bytes(p), 0) + 1
    failures = []
    total = 0
    for spec in args[4:]:
        node, path = spec.split("=", 1)
        own = {ipaddress.ip_address(a).packed for a in node.split(",")}
        counts = {"4in4": 0, "6in6": 0, "4in6": 0, "6in4": 0}
        bad = []
        unmatched = 0
        ttls = set()
        for frame in packets(path):
            if frame[6:12] != lb_mac:
                continue
            got = ip_packet(frame)
            if not got:
                continue  # ARP
            version, p = got
            if is_nd(version, p):
                continue
            proto, outer_ttl, src, dst, inner = outer_fields(version, p)
            if proto not in (4, 41):
                bad.append(f"not tunnelled: IPv{version} protocol {proto} {addr(src)} -> {addr(dst)}")
                continue
            if dst not in own:
                bad.append(f"outer destination {addr(dst)} is not the node")
            ttls.add(outer_ttl)
            if outer_ttl != ttl:
                bad.append(f"outer TTL {outer_ttl}, expected {ttl}")
            counts[f"{4 if proto == 4 else 6}in{version}"] += 1
            if sent_by_router.get(bytes(inner), 0) == 0:
                unmatched += 1
        n = sum(counts.values())
        total += n
        print(f"node {node}: " + " ".join(f"{k}={v}" for k, v in counts.items() if v)
              + f" outer_ttl={sorted(ttls)} inner_unchanged={n - unmatched}/{n} other_from_balancer={len(bad)}")
        for b in sorted(set(bad))[:5]:
            print(f"  {b}")
        if bad:
            failures.append(f"node {node}: {len(bad)} frames from the balancer not as expected")
        if unmatched:
            failures.append(f"node {node}: {unmatched} inner packets differ from what the router sent")
    if total == 0:
        failures.append("no tunnel packet reached a node")
    print("check=ok" if not failures else "check=FAIL " + "; ".join(failures))
    return 1 if failures else 0


def pmtu(args):
    port, mode = int(args[0]), args[1]
    failures = []
    for spec in args[2:]:
        node, path = spec.split("=", 1)
        own = {ipaddress.ip_address(a).packed for a in node.split(",")}
        big = small = 0
        last_sizes = []
        errors = []
        for frame in packets(path):
            got = ip_packet(frame)
            if not got:
                continue
            version, p = got
            proto, _, src, dst, l4 = outer_fields(version, p)
            if proto in (4, 41) and dst in own:
                # An error the balancer tunnelled to the node: look inside.
                inner = l4
                version = inner[0] >> 4 if inner else 0
                if version not in (4, 6):
                    continue
                proto, _, src, dst, l4 = outer_fields(version, inner)
                via = "tunnel"
            else:
                via = "plain"
            if proto == 6 and len(l4) >= 20 and struct.unpack("!H", l4[0:2])[0] == port:
                data = len(l4) - (l4[12] >> 4) * 4
                if data > 0:
                    size = len(p) if via == "plain" else len(p)
                    if size > 1280:
                        big += 1
                    else:
                        small += 1
                    last_sizes = (last_sizes + [size])[-5:]
            too_big = (proto == 1 and len(l4) >= 8 and l4[0] == 3 and l4[1] == 4) or \
                      (proto == 58 and len(l4) >= 8 and l4[0] == 2)
            if too_big:
                mtu = struct.unpack("!H", l4[6:8])[0] if proto == 1 else struct.unpack("!I", l4[4:8])[0]
                quoted = l4[8:]
                qsrc = quoted[12:16] if proto == 1 else quoted[8:24]
                errors.append((via, mtu, addr(qsrc), qsrc in own))
        kinds = sorted({f"{v}:mtu={m}:quote_src={q}" for v, m, q, _ in errors})
        print(f"node {node}: segments>1280={big} segments<=1280={small} last_sizes={last_sizes} "
              f"too_big_received={len(errors)} {' '.join(kinds)}")
        if big == 0 and not errors:
            continue  # this node served no transfer
        if big == 0:
            failures.append(f"node {node} never sent a segment over 1280 bytes (MSS clamped?)")
        if not errors:
            failures.append(f"node {node} sent big segments but no too-big error reached it")
        if mode == "nat" and any(not mine for _, _, _, mine in errors):
            failures.append(f"node {node}: a quote was not translated back to the node's address")
        if mode == "ipip" and any(v != "tunnel" for v, _, _, _ in errors):
            failures.append(f"node {node}: an error arrived outside the tunnel")
        if last_sizes and last_sizes[-1] > 1280:
            failures.append(f"node {node}: still sending segments over 1280 bytes at the end")
    print("check=ok" if not failures else "check=FAIL " + "; ".join(failures))
    return 1 if failures else 0


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "tunnel":
        return tunnel(sys.argv[2:])
    if len(sys.argv) >= 4 and sys.argv[1] == "pmtu":
        return pmtu(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())

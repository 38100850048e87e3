#!/usr/bin/env python3
"""Lab test tool: what the IP-in-IP nodes and the path-MTU scenario saw, from pcaps.

  tunnel_check.py tunnel LB_MAC TTL ROUTER_PCAP VIPS NODE=PCAP...
      NODE is "ADDR4,ADDR6" (the node's own addresses), VIPS "VIP4,VIP6". Every frame the
      balancer (source MAC LB_MAC) sent to a node, other than ARP and neighbour discovery,
      must be IP-in-IP (protocol 4 / next header 41) with the node's address as outer
      destination and TTL / hop limit TTL; its inner packet must be byte for byte a packet the
      router sent to a VIP (ROUTER_PCAP, captured on the router's side toward the balancer).

  tunnel_check.py pmtu PORT MODE NODE=PCAP...
      MODE nat or ipip. Per TCP connection from PORT: the node's data segments over 1280
      bytes (there must be some: no MSS clamping), the ICMP "fragmentation needed" / Packet
      Too Big errors quoting it that reached the node (unwrapped when tunnelled; nat: the
      quote must name the node's own address, translated back by the balancer; ipip: the
      VIP, as the router sent it; checksums must hold), and the last segment's size (at most
      1280 once the node has lowered its path MTU). Prints connections=N.

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


def ones_complement(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def icmp_checksum_ok(version, ip, icmp):
    """The error's own checksum (ICMPv6: with the pseudo-header, RFC 4443 §2.3)."""
    if version == 4:
        return ones_complement(bytes(icmp)) == 0xFFFF
    pseudo = ip[8:40] + struct.pack("!IxxxB", len(icmp), 58)
    return ones_complement(bytes(pseudo) + bytes(icmp)) == 0xFFFF


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
    total = 0
    for spec in args[2:]:
        node, path = spec.split("=", 1)
        own = {ipaddress.ip_address(a).packed for a in node.split(",")}
        # Per connection (IP version, client port): the node's data segments by size, the
        # too-big errors that quote one of them, and whether anything small followed.
        conns = {}
        errors = []
        for frame in packets(path):
            got = ip_packet(frame)
            if not got:
                continue
            version, p = got
            proto, _, src, dst, l4 = outer_fields(version, p)
            if proto in (4, 41) and dst in own:
                # An error the balancer tunnelled to the node: look inside.
                p = l4
                version = p[0] >> 4 if p else 0
                if version not in (4, 6):
                    continue
                proto, _, src, dst, l4 = outer_fields(version, p)
                via = "tunnel"
            else:
                via = "plain"
            if proto == 6 and len(l4) >= 20 and struct.unpack("!H", l4[0:2])[0] == port:
                data = len(l4) - (l4[12] >> 4) * 4
                if data > 0:
                    c = conns.setdefault((version, struct.unpack("!H", l4[2:4])[0]), {"big": 0, "small": 0, "errors": 0, "last": 0})
                    c["big" if len(p) > 1280 else "small"] += 1
                    c["last"] = len(p)
            too_big = (proto == 1 and len(l4) >= 8 and l4[0] == 3 and l4[1] == 4) or \
                      (proto == 58 and len(l4) >= 8 and l4[0] == 2)
            if too_big:
                mtu = struct.unpack("!H", l4[6:8])[0] if proto == 1 else struct.unpack("!I", l4[4:8])[0]
                quoted = l4[8:]
                if proto == 1:
                    qsrc, qports = quoted[12:16], quoted[(quoted[0] & 15) * 4:][:4]
                else:
                    qsrc, qports = quoted[8:24], quoted[40:44]
                # Every checksum a translation touches must still hold: the error's own and
                # the quoted IPv4 header's (the quoted TCP checksum covers bytes the quote
                # cut off, so it cannot be checked here).
                sums_ok = icmp_checksum_ok(version, p, l4)
                if proto == 1 and len(quoted) >= 20:
                    sums_ok = sums_ok and ones_complement(bytes(quoted[:(quoted[0] & 15) * 4])) == 0xFFFF
                errors.append((via, mtu, addr(qsrc), qsrc in own, sums_ok))
                if len(qports) == 4:
                    key = (version, struct.unpack("!H", qports[2:4])[0])
                    if key in conns:
                        conns[key]["errors"] += 1
        total += len(conns)
        kinds = sorted({f"{v}:mtu={m}:quote_src={q}" for v, m, q, _, _ in errors})
        bad_sums = sum(1 for e in errors if not e[4])
        print(f"node {node}: too_big_received={len(errors)} bad_checksums={bad_sums} {' '.join(kinds)}")
        for (version, client_port), c in sorted(conns.items()):
            print(f"  IPv{version} connection to client port {client_port}: segments over 1280 bytes {c['big']}, "
                  f"at most 1280 {c['small']}, too-big errors quoting it {c['errors']}, last segment {c['last']} bytes")
            name = f"node {node} IPv{version} connection {client_port}"
            if c["big"] == 0:
                failures.append(f"{name} never sent a segment over 1280 bytes (MSS clamped?)")
            if c["errors"] == 0:
                failures.append(f"{name}: no too-big error about it reached the node")
            if c["last"] > 1280:
                failures.append(f"{name} still sent segments over 1280 bytes at the end")
        if bad_sums:
            failures.append(f"node {node}: {bad_sums} errors with a wrong checksum")
        if mode == "nat" and any(not e[3] for e in errors):
            failures.append(f"node {node}: a quote was not translated back to the node's address")
        if mode == "ipip" and any(e[0] != "tunnel" for e in errors):
            failures.append(f"node {node}: an error arrived outside the tunnel")
    print(f"connections={total}")
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

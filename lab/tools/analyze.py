#!/usr/bin/env python3
"""Lab test tool: what each node received, from the pcap captured on its interface.

  analyze.py dtls PORT NODE_ID=PCAP...    tls12_cid records per node by the CID's node id
                                          byte (RFC 9146 §4: the CID is at byte 11)
  analyze.py coap PORT NODE_ID=PCAP...    UDP sources per node: each must be on one node
  (any mode) ignore=ADDR                  leave out packets from ADDR (the balancer's probes)
  analyze.py v6 PORT NODE_ID=PCAP...      IPv6 <source, flow label> flows, TCP connections and
                                          fragments per node: each flow must be on one node
Prints a summary per node and `check=ok` or `check=FAIL reason`; exit status 1 on FAIL.
Plain struct parsing of classic pcap (tcpdump -w), Ethernet link type: no dependencies.
"""
import collections
import struct
import sys

def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield data[off:off + incl]
        off += incl

def parse(frame):
    """-> dict with family, src, dst, proto, sport, dport, label, frag, payload (or None)."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    p = frame[14:]
    if etype == 0x0800 and len(p) >= 20:
        ihl = (p[0] & 15) * 4
        total = struct.unpack("!H", p[2:4])[0]
        frag_field = struct.unpack("!H", p[6:8])[0]
        offset, more = frag_field & 0x1FFF, bool(frag_field & 0x2000)
        r = dict(family=4, src=p[12:16], dst=p[16:20], proto=p[9], label=0,
                 frag=(offset, more) if offset or more else None)
        l4 = p[ihl:total] if offset == 0 else None
    elif etype == 0x86DD and len(p) >= 40:
        label = struct.unpack("!I", p[0:4])[0] & 0xFFFFF
        plen = struct.unpack("!H", p[4:6])[0]
        nh, q = p[6], p[40:40 + plen]
        r = dict(family=6, src=p[8:24], dst=p[24:40], label=label, frag=None)
        l4 = q
        while nh in (0, 43, 60, 44) and len(q) >= 8:
            if nh == 44:
                fo = struct.unpack("!H", q[2:4])[0]
                r["frag"] = (fo >> 3, bool(fo & 1))
                nh, q = q[0], q[8:]
                l4 = q if fo >> 3 == 0 else None
                break
            nh, q = q[0], q[(q[1] + 1) * 8:]
            l4 = q
        r["proto"] = nh
    else:
        return None
    r["sport"] = r["dport"] = None
    r["payload"] = b""
    if l4 is not None and r["proto"] in (6, 17) and len(l4) >= 8:
        r["sport"], r["dport"] = struct.unpack("!HH", l4[0:4])
        if r["proto"] == 17:
            r["payload"] = l4[8:]
        elif len(l4) >= 20:
            r["payload"] = l4[(l4[12] >> 4) * 4:]
    return r

def ip(b):
    import ipaddress
    return str(ipaddress.ip_address(bytes(b)))

def node_args(args):
    out = []
    for a in args:
        node, path = a.split("=", 1)
        out.append((int(node), path))
    return out

def dtls(port, nodes):
    bad = []
    total = 0
    for node, path in nodes:
        by_id = collections.Counter()
        other = 0
        for pkt in filter(None, map(parse, packets(path))):
            if pkt["dport"] != port or pkt["proto"] != 17:
                continue
            pl = pkt["payload"]
            if len(pl) >= 17 and pl[0] == 0x19 and pl[1:3] == b"\xfe\xfd":
                by_id[pl[11]] += 1
            else:
                other += 1
        ids = ", ".join(f"node id {k}: {v}" for k, v in sorted(by_id.items())) or "none"
        print(f"node {node}: {sum(by_id.values())} tls12_cid records ({ids}), {other} other DTLS datagrams (handshake)")
        total += sum(by_id.values())
        foreign = sum(v for k, v in by_id.items() if k != node)
        if foreign:
            bad.append(f"node {node} received {foreign} records carrying another node's CID")
    if total == 0:
        bad.append("no tls12_cid record was captured on any node")
    return bad

def sources(port, nodes, key):
    seen = collections.defaultdict(collections.Counter)
    for node, path in nodes:
        for pkt in filter(None, map(parse, packets(path))):
            if IGNORED_SOURCES and ip(pkt["src"]) in IGNORED_SOURCES:
                continue
            k = key(pkt)
            if k is not None:
                seen[k][node] += 1
    return seen

def coap(port, nodes):
    seen = sources(port, nodes, lambda p: (ip(p["src"]), p["sport"]) if p["proto"] == 17 and p["dport"] == port else None)
    bad = []
    per_node = collections.Counter()
    for (src, sport), where in sorted(seen.items()):
        per_node[tuple(where)] += 1
        print(f"client {src}:{sport}: " + ", ".join(f"{n} requests on node {node}" for node, n in sorted(where.items())))
        if len(where) != 1:
            bad.append(f"{src}:{sport} was split over nodes {sorted(where)}")
    if not seen:
        bad.append("no CoAP request was captured on any node")
    return bad

def v6(port, nodes):
    bad = []
    labels = sources(port, nodes, lambda p: (ip(p["src"]), p["label"]) if p["family"] == 6 and p["label"] and (p["dport"] == port or p["frag"]) else None)
    tcp = sources(port, nodes, lambda p: (ip(p["src"]), p["sport"]) if p["family"] == 6 and p["proto"] == 6 and p["dport"] == port else None)
    frags = sources(port, nodes, lambda p: (ip(p["src"]), p["label"]) if p["family"] == 6 and p["frag"] else None)
    unlabelled = sources(port, nodes, lambda p: "zero" if p["family"] == 6 and p["label"] == 0 and p["dport"] == port else None)
    for node, _ in nodes:
        flows = [k for k, w in labels.items() if node in w]
        conns = [k for k, w in tcp.items() if node in w]
        nfrag = sum(w[node] for w in frags.values())
        print(f"node {node}: {len(flows)} <source, flow label> flows, {len(conns)} TCP connections, {nfrag} fragments")
    for (src, label), where in sorted(labels.items()):
        if len(where) != 1:
            bad.append(f"flow <{src}, {label:#07x}> split over nodes {sorted(where)}")
    for k, where in tcp.items():
        if len(where) != 1:
            bad.append(f"TCP connection {k} split over nodes {sorted(where)}")
    if not frags:
        bad.append("no IPv6 fragments reached any node")
    if not labels:
        bad.append("no flow-labelled packets reached any node")
    if unlabelled:
        print(f"note: {sum(unlabelled['zero'].values())} packets with flow label 0")
    return bad

IGNORED_SOURCES = set()

def main():
    # ignore=ADDR: packets from ADDR are not clients (the balancer's own health probes).
    rest = [a for a in sys.argv[3:] if not a.startswith("ignore=")]
    IGNORED_SOURCES.update(a.split("=", 1)[1] for a in sys.argv[3:] if a.startswith("ignore="))
    mode, port, nodes = sys.argv[1], int(sys.argv[2]), node_args(rest)
    bad = {"dtls": dtls, "coap": coap, "v6": v6}[mode](port, nodes)
    if bad:
        print("check=FAIL " + "; ".join(bad))
        return 1
    print("check=ok")
    return 0

if __name__ == "__main__":
    sys.exit(main())

//! IP-in-IP forwarding (issue 4): every family combination, DF and no DF, the ICMP "too big"
//! answers and the outer flow label, byte-exact against packets built from scratch, and every
//! output checked once more by an independent decoder (scapy).

mod support;

use cidlb_dataplane::counters::DropReason;
use cidlb_dataplane::wire::build::{dtls, PacketBuilder};
use cidlb_dataplane::wire::{self, L3};
use cidlb_perf::profiles::{cid_for, client4, client6, BALANCER_MAC, GATEWAY_MAC};
use std::net::{Ipv4Addr, Ipv6Addr};
use support::{node_mac, Harness, Outcome};

const S: u64 = 1_000_000_000;
const PORT4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PORT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 20);
const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20);

/// One port with both families; node 1 (IPv4) and node 2 (IPv6); four ipip services, one per
/// family combination.
fn config(mtu: u16) -> String {
    format!(
        r#"
[eal]
args = ["--no-pci"]
[dataplane]
hash_key = "000102030405060708090a0b0c0d0e0f"
tunnel_ttl = 32
icmp_errors_per_second = 3
[[port]]
name = "net0"
device = "net_null0"
mac = "02:00:00:00:00:01"
ipv4 = "192.0.2.1/24"
ipv6 = "2001:db8::1/64"
gateway4 = "192.0.2.254"
gateway6 = "2001:db8::fe"
mtu = {mtu}
[[neighbor]]
ip = "192.0.2.254"
mac = "02:00:00:00:00:fe"
[[neighbor]]
ip = "2001:db8::fe"
mac = "02:00:00:00:00:fe"
[[neighbor]]
ip = "192.0.2.11"
mac = "02:00:00:00:00:11"
[[neighbor]]
ip = "2001:db8::12"
mac = "02:00:00:00:00:12"
[[node]]
id = 1
address = "192.0.2.11"
[[node]]
id = 2
address = "2001:db8::12"
[[service]]
name = "4in4"
vip = "192.0.2.20"
port = 5684
protocol = "udp"
balance = "dtls-cid"
forward = "ipip"
nodes = [1]
[[service]]
name = "4in6"
vip = "192.0.2.20"
port = 5685
protocol = "udp"
balance = "five-tuple"
forward = "ipip"
nodes = [2]
[[service]]
name = "6in6"
vip = "2001:db8::20"
port = 443
protocol = "any"
balance = "flow-label"
forward = "ipip"
nodes = [2]
[[service]]
name = "6in4"
vip = "2001:db8::20"
port = 5684
protocol = "udp"
balance = "five-tuple"
forward = "ipip"
nodes = [1]
"#
    )
}

fn harness(mtu: u16) -> Harness {
    Harness::new(support::config(&config(mtu)))
}

/// The IP packet of a frame (no Ethernet header).
fn ip_of(frame: &[u8]) -> Vec<u8> {
    let parsed = wire::parse(frame).unwrap();
    frame[parsed.l3_offset as usize..parsed.ip_end()].to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn udp4(dport: u16, payload: &[u8]) -> PacketBuilder {
    PacketBuilder::udp4(client4(5), VIP4, 10005, dport).payload(payload).macs(GATEWAY_MAC, BALANCER_MAC)
}

fn udp6(dport: u16, payload: &[u8]) -> PacketBuilder {
    PacketBuilder::udp6(client6(5), VIP6, 10005, dport).payload(payload).macs(GATEWAY_MAC, BALANCER_MAC)
}

/// Every output frame of a test goes here and is checked by scapy at the end.
struct Outputs(Vec<Vec<u8>>);

impl Outputs {
    fn keep(&mut self, frame: &[u8]) -> Vec<u8> {
        self.0.push(frame.to_vec());
        frame.to_vec()
    }
}

#[test]
fn every_family_combination_is_encapsulated_byte_for_byte() {
    let mut out = Outputs(Vec::new());
    let mut h = harness(1500);
    let record = dtls::cid_record(&cid_for(1, 5), 1, 7, &[0xab; 40]);

    // 4 in 4: DF copied from the inner header, inner TTL untouched, outer TTL from config.
    let inner = udp4(5684, &record).dont_fragment().identification(0x1111);
    let got = out.keep(&h.forward(S, &inner.build()));
    let expected = PacketBuilder::raw4(PORT4, Ipv4Addr::new(192, 0, 2, 11), 4)
        .ttl(32)
        .identification(0)
        .dont_fragment()
        .payload(&inner.build_ip())
        .macs(BALANCER_MAC, node_mac(0x11))
        .build();
    assert_eq!(hex(&got), hex(&expected), "4 in 4");
    // Without DF the outer header has none either.
    let inner = udp4(5684, &record).identification(0x2222);
    let got = out.keep(&h.forward(S, &inner.build()));
    let expected = PacketBuilder::raw4(PORT4, Ipv4Addr::new(192, 0, 2, 11), 4)
        .ttl(32)
        .identification(1)
        .payload(&inner.build_ip())
        .macs(BALANCER_MAC, node_mac(0x11))
        .build();
    assert_eq!(hex(&got), hex(&expected), "4 in 4 without DF");

    // 4 in 6: outer flow label derived from the inner 5-tuple, never zero.
    let inner = udp4(5685, b"coap").dont_fragment();
    let got = out.keep(&h.forward(S, &inner.build()));
    let parsed = wire::parse(&got).unwrap();
    assert_eq!(parsed.l3, L3::Ipv6);
    assert_eq!(parsed.proto, 4);
    assert_ne!(parsed.flow_label, 0);
    let expected = PacketBuilder::raw6(PORT6, Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x12), 4)
        .ttl(32)
        .flow_label(parsed.flow_label)
        .payload(&inner.build_ip())
        .macs(BALANCER_MAC, node_mac(0x12))
        .build();
    assert_eq!(hex(&got), hex(&expected), "4 in 6");
    // The same flow always gets the same label; another flow (most likely) another.
    let again = out.keep(&h.forward(S, &inner.build()));
    assert_eq!(wire::parse(&again).unwrap().flow_label, parsed.flow_label);

    // 6 in 6: the inner label becomes the outer label (RFC 6438).
    let inner = PacketBuilder::tcp6(client6(5), VIP6, 40005, 443).flow_label(0xabcde).payload(&[7; 30]).macs(GATEWAY_MAC, BALANCER_MAC);
    let got = out.keep(&h.forward(S, &inner.build()));
    let expected = PacketBuilder::raw6(PORT6, Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x12), 41)
        .ttl(32)
        .flow_label(0xabcde)
        .payload(&inner.build_ip())
        .macs(BALANCER_MAC, node_mac(0x12))
        .build();
    assert_eq!(hex(&got), hex(&expected), "6 in 6");

    // 6 in 4: protocol 41, DF set (IPv6 is never fragmented on the way).
    let inner = udp6(5684, b"hello");
    let got = out.keep(&h.forward(S, &inner.build()));
    let expected = PacketBuilder::raw4(PORT4, Ipv4Addr::new(192, 0, 2, 11), 41)
        .ttl(32)
        .identification(5) // the sixth tunnel packet of this worker
        .dont_fragment()
        .payload(&inner.build_ip())
        .macs(BALANCER_MAC, node_mac(0x11))
        .build();
    assert_eq!(hex(&got), hex(&expected), "6 in 4");
    assert_eq!(h.counters.tunnel_encapsulated.get(), 6);
    // The inner packet is exactly what the client sent, TTL included.
    assert_eq!(ip_of(&got)[20..], inner.build_ip()[..]);
    scapy_check(&out.0);
}

#[test]
fn too_big_for_the_tunnel_answers_with_icmp_or_fragments() {
    let mut out = Outputs(Vec::new());
    let mut h = harness(1300);
    // Inner IPv4 with DF, 1290 bytes + 20 > 1300: "fragmentation needed", MTU 1280.
    let big = udp4(5684, &dtls::cid_record(&cid_for(1, 5), 1, 7, &vec![0xab; 1243])).dont_fragment();
    let sent = big.build();
    assert_eq!(ip_of(&sent).len(), 1290);
    let reply = out.keep(&h.forward(S, &sent));
    let parsed = wire::parse(&reply).unwrap();
    assert_eq!(parsed.l3, L3::Ipv4);
    assert_eq!(parsed.proto, 1);
    assert_eq!(parsed.dst_ip(), std::net::IpAddr::V4(client4(5)));
    assert_eq!(parsed.src_ip(), std::net::IpAddr::V4(PORT4));
    let icmp = &reply[parsed.l4_offset as usize..];
    assert_eq!((icmp[0], icmp[1]), (3, 4));
    assert_eq!(u16::from_be_bytes([icmp[6], icmp[7]]), 1280, "MTU minus the tunnel overhead");
    assert_eq!(&icmp[8..8 + 28], &ip_of(&sent)[..28], "quotes the packet's header and more");
    assert!(reply.len() - 14 <= 576);
    assert_eq!(&reply[0..6], &GATEWAY_MAC, "back toward the hop it came from");
    assert_eq!(h.counters.icmp_too_big_sent.get(), 1);

    // Inner IPv6 to an IPv6 node (6 in 6): Packet Too Big, MTU 1300 - 40.
    let big6 = PacketBuilder::tcp6(client6(5), VIP6, 40005, 443).flow_label(3).payload(&vec![1; 1240]).macs(GATEWAY_MAC, BALANCER_MAC);
    let reply = out.keep(&h.forward(S, &big6.build()));
    let parsed = wire::parse(&reply).unwrap();
    assert_eq!((parsed.l3, parsed.proto), (L3::Ipv6, 58));
    let icmp = &reply[parsed.l4_offset as usize..];
    assert_eq!((icmp[0], icmp[1]), (2, 0));
    assert_eq!(u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]), 1260);
    assert!(reply.len() - 14 <= 1280);

    // Inner IPv4 without DF: outer fragments; they reassemble to the whole tunnel packet.
    let big = udp4(5684, &dtls::cid_record(&cid_for(1, 5), 1, 7, &vec![0xcd; 1243])).identification(0x3333);
    let inner_ip = big.build_ip();
    let frames = match h.send(S, &big.build()) {
        Outcome::Sent(frames) => frames,
        other => panic!("expected fragments, got {other:?}"),
    };
    assert_eq!(frames.len(), 2);
    let mut payload = Vec::new();
    for f in &frames {
        out.keep(f);
        let p = wire::parse(f).unwrap();
        assert!(p.ip_len as usize <= 1300);
        assert_eq!(p.proto, 4);
        assert!(wire::checksum::verify_frame(f, &p));
        let frag = p.frag.expect("an outer fragment");
        assert_eq!(frag.offset as usize * 8, payload.len());
        payload.extend_from_slice(&f[p.l3_offset as usize + 20..p.ip_end()]);
    }
    assert_eq!(payload, inner_ip, "the outer fragments carry the inner packet intact");
    assert_eq!(h.counters.tunnel_fragmented.get(), 1);

    // The ICMP budget (3 per second here) is a hard limit; the rest are dropped and counted.
    let sent = udp4(5684, &dtls::cid_record(&cid_for(1, 5), 1, 7, &vec![0xab; 1243])).dont_fragment().build();
    assert!(matches!(h.send(S, &sent), Outcome::Sent(_)));
    assert_eq!(h.send(S, &sent), Outcome::Dropped(DropReason::MtuExceeded));
    assert!(matches!(h.send(2 * S, &sent), Outcome::Sent(_)), "a new second, a new budget");
    scapy_check(&out.0);
}

#[test]
fn fragments_of_an_ipv6_outer_header_carry_a_fragment_header() {
    // 4 in 6 without DF over a small MTU: IPv6 outer fragments (RFC 2473 §7.1).
    let mut h = harness(1300);
    let big = udp4(5685, &vec![0x42; 1262]).identification(0x4444);
    assert_eq!(big.build_ip().len(), 1290);
    let frames = match h.send(S, &big.build()) {
        Outcome::Sent(frames) => frames,
        other => panic!("expected fragments, got {other:?}"),
    };
    assert_eq!(frames.len(), 2);
    let mut payload = Vec::new();
    for f in &frames {
        let p = wire::parse(f).unwrap();
        assert_eq!(p.l3, L3::Ipv6);
        assert!(p.ip_len as usize <= 1300);
        let frag = p.frag.expect("a Fragment header");
        assert_eq!(p.proto, 4, "the Fragment header names IPv4 as what follows");
        assert_eq!(frag.offset as usize * 8, payload.len());
        payload.extend_from_slice(&f[p.l4_offset as usize..p.ip_end()]);
    }
    assert_eq!(payload, big.build_ip());
    scapy_check(&frames);
}

/// Write the frames to a pcap and have scapy (Debian's python3-scapy) recompute every
/// checksum and length field; they must match what cidlb wrote. Skipped with a message when
/// scapy is not installed (scripts/setup.sh installs it).
fn scapy_check(frames: &[Vec<u8>]) {
    let python = "/usr/bin/python3";
    let available = std::process::Command::new(python).args(["-c", "import scapy.all"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !available {
        println!("SKIPPED scapy check: /usr/bin/python3 cannot import scapy (apt-get install python3-scapy)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cidlb-tunnel-{}-{}", std::process::id(), frames.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.pcap");
    let packets: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, b)| cidlb_dataplane::io::pcap::CapturedPacket { port: 0, timestamp_ns: i as u64, bytes: b.clone() })
        .collect();
    cidlb_dataplane::io::pcap::write_pcap(&path, &packets).unwrap();
    let script = r#"
import sys
from scapy.all import rdpcap, Ether, IP, IPv6, UDP, TCP, ICMP, IPv6ExtHdrFragment
from scapy.layers.inet6 import _ICMPv6
bad = 0
count = 0
for i, p in enumerate(rdpcap(sys.argv[1])):
    count += 1
    raw = bytes(p)
    q = Ether(raw)
    fragmented = IPv6ExtHdrFragment in q or (IP in q and (q[IP].flags.MF or q[IP].frag))
    layer = q
    depth = 0
    while layer is not None and layer.__class__.__name__ not in ("NoPayload", "Raw", "Padding"):
        # delattr (not fields.pop) also drops scapy's cached raw bytes, forcing a rebuild.
        for name in ("chksum", "len", "ihl", "plen", "cksum"):
            if name in layer.fields:
                delattr(layer, name)
        if isinstance(layer, (IP, IPv6)):
            depth += 1
        # What follows an ICMP error is a quote of part of a packet, and what follows the
        # outer header of a fragment is part of the inner packet: their own length and
        # checksum fields describe the whole packet, not these bytes. Stop there.
        if isinstance(layer, (ICMP, _ICMPv6)) or (fragmented and (isinstance(layer, IPv6ExtHdrFragment) or (depth == 1 and isinstance(layer, IP)))):
            break
        layer = layer.payload
    rebuilt = bytes(q)
    if rebuilt != raw:
        print("packet", i, "differs after scapy recomputed its checksums and lengths")
        print(raw.hex()); print(rebuilt.hex()); bad += 1
print("scapy checked", count, "packets,", bad, "bad")
sys.exit(1 if bad else 0)
"#;
    let output = std::process::Command::new(python).args(["-c", script, path.to_str().unwrap()]).output().expect("run scapy");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "scapy disagrees:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{}", String::from_utf8_lossy(&output.stdout).trim());
}

#[test]
fn icmp_errors_about_a_tunnelled_flow_are_tunnelled_to_its_node_untouched() {
    let mut h = harness(1500);
    // A 4-in-6 five-tuple flow creates a session on node 2.
    h.forward(S, &udp4(5685, b"coap").build());
    // A router tells the VIP its reply to the client was too big (DSR: node 2 sent it from the
    // VIP). The error goes to node 2 as is, in the tunnel: node 2 owns the VIP.
    let reply = PacketBuilder::udp4(VIP4, client4(5), 5685, 10005).payload(&[9; 1400]).build_ip();
    let error = PacketBuilder::icmp4(Ipv4Addr::new(198, 18, 0, 1), VIP4, 3, 4, [0, 0, 0x05, 0x00]).payload(&reply[..28]).macs(GATEWAY_MAC, BALANCER_MAC);
    let out = h.forward(2 * S, &error.build());
    let parsed = wire::parse(&out).unwrap();
    assert_eq!((parsed.l3, parsed.proto), (L3::Ipv6, 4));
    assert_eq!(parsed.dst_ip(), std::net::IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x12)));
    assert_eq!(ip_of(&out)[40..], error.build_ip()[..], "the error itself is not changed");
    assert_eq!(h.counters.icmp_errors_delivered.get(), 1);
}

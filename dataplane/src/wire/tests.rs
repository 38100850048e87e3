//! Tests of `parse` and the builder: golden bytes, every truncation point, re-parsing.
#![forbid(unsafe_code)]
// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
use super::build::{dtls, fragment, ExtensionHeader, PacketBuilder};
use super::*;
use proptest::prelude::*;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Verifies the upper-layer checksum of a parsed, unfragmented packet by full recomputation.
pub(crate) fn l4_checksum_ok(frame: &[u8], p: &Parsed) -> bool {
    let l4 = p.l4(frame);
    let pseudo = match (p.l3, p.proto) {
        (L3::Ipv4, protocol::ICMP) => 0,
        (L3::Ipv4, proto) => {
            checksum::pseudo_header_v4(p.src[..4].try_into().unwrap(), p.dst[..4].try_into().unwrap(), proto, l4.len() as u16)
        }
        (L3::Ipv6, proto) => checksum::pseudo_header_v6(p.src, p.dst, proto, l4.len() as u32),
        _ => return false,
    };
    checksum::with_pseudo_header(pseudo, l4) == 0
}

fn ipv4_header_ok(frame: &[u8], p: &Parsed) -> bool {
    ipv4::Ipv4Packet::new_checked(&frame[p.l3_offset as usize..]).unwrap().verify_checksum()
}

/// A hand-assembled IPv6 frame (not a capture), checksum computed independently with
/// Python's struct module: 2001:db8:0:1::10 -> 2001:db8:0:2::20, flow label 0xabcde, hop
/// limit 64; hop-by-hop (router alert + PadN), destination options (PadN), an atomic Fragment
/// header (offset 0, M 0, id 0x0badcafe), UDP 49152 -> 5684 (checksum 0x54d7) carrying the
/// RFC 9146 record of `dtls::tests` (CID 02a1b2c3d4e5).
const GOLDEN_IPV6: &str = "02000000000102000000000a86dd600abcde0054004020010db8000000010000\
    00000000001020010db80000000200000000000000203c000502000001002c00\
    010400000000110000000badcafec0001634003c54d719fefd00010000000000\
    0502a1b2c3d4e5002100010000000000058f1e2d3c4b5a697887001122334455\
    66778899aabbccddeeff";

#[test]
fn golden_ipv6_with_extension_headers() {
    let f = hex(GOLDEN_IPV6);
    let p = parse(&f).unwrap();
    assert_eq!(p.l3, L3::Ipv6);
    assert_eq!(p.flow_label, 0xabcde);
    assert_eq!((p.proto, p.ttl, p.ip_len, p.l4_offset), (17, 64, 124, 14 + 40 + 24));
    assert_eq!(p.frag, Some(FragInfo { id: 0x0bad_cafe, offset: 0, more: false }));
    assert!(p.is_first_fragment() && p.l4_present);
    assert_eq!((p.sport, p.dport), (49152, 5684));
    assert_eq!(p.src_ip(), "2001:db8:0:1::10".parse::<IpAddr>().unwrap());
    assert_eq!(p.dst_ip(), "2001:db8:0:2::20".parse::<IpAddr>().unwrap());
    assert!(l4_checksum_ok(&f, &p));
    assert!(p.is_whole()); // an atomic fragment
    let payload = p.udp_payload(&f);
    assert_eq!(dtls::cid_record(&[2, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5], 1, 5, &payload[19..]), payload);
    assert_eq!(super::dtls::first_cid(payload, 6), Ok(Some(&[2, 0xa1, 0xb2, 0xc3, 0xd4, 0xe5][..])));

    for n in 0..f.len() {
        let expected = if n < 14 {
            DropReason::EthernetTruncated
        } else if n < 54 {
            DropReason::Ipv6Truncated
        } else {
            DropReason::Ipv6BadHeader
        };
        assert_eq!(parse(&f[..n]), Err(expected), "prefix {n}");
    }
    // A payload length that stops early (the rest is padding): every header in the chain.
    for k in 0..84u16 {
        let mut g = f.clone();
        g[18..20].copy_from_slice(&k.to_be_bytes());
        let expected = match k {
            0..=23 => Err(DropReason::Ipv6ExtensionTruncated),
            _ => Err(DropReason::UdpTruncated),
        };
        assert_eq!(parse(&g).map(|_| ()), expected, "payload length {k}");
    }
}

#[test]
fn every_ipv4_truncation_point() {
    for (name, builder, l4_error) in [
        ("udp", PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000).payload(b"hello dtls"), DropReason::UdpTruncated),
        ("tcp", PacketBuilder::tcp4([10, 0, 0, 1], [10, 0, 0, 2], 1000, 2000).payload(b"xy"), DropReason::TcpTruncated),
        ("icmp", PacketBuilder::echo_request4([10, 0, 0, 1], [10, 0, 0, 2], 7, 1).payload(b"ping"), DropReason::IcmpTruncated),
    ] {
        for vlan in [None, Some(5)] {
            let mut b = builder.clone().ip_options(&[0x94, 0x04, 0, 0]); // router alert
            if let Some(v) = vlan {
                b = b.vlan(v);
            }
            let f = b.build();
            let l3 = if vlan.is_some() { 18 } else { 14 };
            let p = parse(&f).unwrap();
            assert_eq!((p.l3_offset as usize, p.l4_offset as usize, p.vlan), (l3, l3 + 24, vlan), "{name}");
            assert!(ipv4_header_ok(&f, &p) && l4_checksum_ok(&f, &p), "{name}");
            for n in 0..f.len() {
                let expected = if n < l3 {
                    DropReason::EthernetTruncated
                } else if n < l3 + 24 {
                    DropReason::Ipv4Truncated
                } else {
                    DropReason::Ipv4BadHeader
                };
                assert_eq!(parse(&f[..n]), Err(expected), "{name} prefix {n}");
            }
            // Total length cut short with the rest as padding: IP then L4 errors.
            for k in 0..(f.len() - l3) as u16 {
                let mut g = f.clone();
                g[l3 + 2..l3 + 4].copy_from_slice(&k.to_be_bytes());
                let expected = if k < 24 {
                    Err(DropReason::Ipv4BadHeader)
                } else if name == "udp" || k < 24 + if name == "tcp" { 20 } else { 8 } {
                    Err(l4_error)
                } else {
                    Ok(())
                };
                assert_eq!(parse(&g).map(|_| ()), expected, "{name} total length {k}");
            }
        }
    }
}

#[test]
fn ipv4_header_rules() {
    let f = PacketBuilder::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2).build();
    let mut g = f.clone();
    g[14] = 0x44; // IHL 4
    assert_eq!(parse(&g), Err(DropReason::Ipv4BadHeader));
    g[14] = 0x65; // version 6
    assert_eq!(parse(&g), Err(DropReason::Ipv4BadHeader));
    // Ethernet padding after the packet is fine and ignored.
    let padded = PacketBuilder::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2).pad_to(60).build();
    let p = parse(&padded).unwrap();
    assert_eq!((padded.len(), p.ip_len, p.ip_end()), (60, 28, 42));
    assert!(p.udp_payload(&padded).is_empty());
    // Unsupported EtherType.
    let mut h = f.clone();
    h[12..14].copy_from_slice(&[0x88, 0xcc]);
    assert_eq!(parse(&h), Err(DropReason::UnsupportedEthertype));
}

#[test]
fn ipv4_fragments() {
    let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let original = PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 5684, 5684)
        .payload(&payload)
        .ip_options(&[0x94, 0x04, 0, 0, 0x01, 0x07, 0x03, 0x00]) // router alert (copied), NOP, 3-byte option (not copied)
        .build();
    let pieces = fragment(&original, 1000, 0xbeef);
    assert_eq!(pieces.len(), 4);
    let mut data = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let p = parse(piece).unwrap();
        assert!(p.ip_len <= 1000);
        assert!(ipv4_header_ok(piece, &p));
        let frag = p.frag.unwrap();
        assert_eq!(frag.id, 0xbeef);
        assert_eq!(frag.more, i + 1 < pieces.len());
        assert_eq!(frag.offset as usize * 8, data.len());
        assert_eq!(p.l4_present, i == 0);
        assert_eq!(p.is_first_fragment(), i == 0);
        assert_eq!(p.is_non_first_fragment(), i != 0);
        assert_eq!((p.sport, p.dport), if i == 0 { (5684, 5684) } else { (0, 0) });
        let header = p.l4_offset - p.l3_offset;
        assert_eq!(header, if i == 0 { 28 } else { 24 }); // only the copied option remains
        data.extend_from_slice(p.l4(piece));
    }
    let whole = parse(&original).unwrap();
    assert_eq!(data, whole.l4(&original));
}

#[test]
fn ipv6_builder_chain_and_fragments() {
    let headers = [
        ExtensionHeader::HopByHop(vec![5, 2, 0, 0]),
        ExtensionHeader::DestinationOptions(vec![]),
        ExtensionHeader::Routing { routing_type: 0, segments_left: 0, data: vec![0; 4] },
        ExtensionHeader::Authentication { spi: 0x100, sequence: 1, icv: vec![0xaa; 12] },
        ExtensionHeader::DestinationOptions(vec![0x1e, 3, 1, 2, 3]),
    ];
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let f = PacketBuilder::udp6(Ipv6Addr::LOCALHOST, "2001:db8::5".parse::<Ipv6Addr>().unwrap(), 4000, 5684)
        .flow_label(0x12345)
        .ext_headers(&headers)
        .payload(&payload)
        .outer_vlan(100)
        .vlan(20)
        .build();
    let p = parse(&f).unwrap();
    assert_eq!((p.outer_vlan, p.vlan, p.l3_offset), (Some(100), Some(20), 22));
    assert_eq!((p.flow_label, p.proto, p.sport, p.dport), (0x12345, 17, 4000, 5684));
    let chain_len: usize = headers.iter().map(|h| h.encode(0).len()).sum();
    assert_eq!(chain_len, 8 + 8 + 8 + 24 + 8);
    assert_eq!(p.l4_offset as usize, 22 + 40 + chain_len);
    assert!(l4_checksum_ok(&f, &p));
    assert_eq!(p.udp_payload(&f), &payload[..]);

    let pieces = fragment(&f, 1280, 0xfeed_f00d);
    assert!(pieces.len() >= 3);
    let mut data = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        assert!(piece.len() - 22 <= 1280);
        let p = parse(piece).unwrap();
        let frag = p.frag.unwrap();
        assert_eq!((frag.id, frag.more, frag.offset as usize * 8), (0xfeed_f00d, i + 1 < pieces.len(), data.len()));
        assert_eq!(p.l4_present, i == 0);
        assert_eq!(p.flow_label, 0x12345);
        // The fragmentable part starts after HBH, dest opts, routing: AH first.
        let fragment_header_at = 22 + 40 + 24;
        assert_eq!(piece[fragment_header_at], protocol::AUTHENTICATION);
        let start = fragment_header_at + 8;
        data.extend_from_slice(&piece[start..p.ip_end()]);
    }
    let whole = &f[22 + 40 + 24..];
    assert_eq!(data, whole);
}

#[test]
fn ipv6_non_first_fragment_has_no_ports() {
    let f = PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2)
        .ext_headers(&[ExtensionHeader::Fragment { offset: 185, more: true, identification: 9 }])
        .payload(&[0; 16])
        .build();
    let p = parse(&f).unwrap();
    assert_eq!(p.frag, Some(FragInfo { id: 9, offset: 185, more: true }));
    assert!(!p.l4_present && p.is_non_first_fragment());
    assert_eq!((p.proto, p.sport, p.dport), (17, 0, 0));
    assert_eq!(p.l4_offset, 14 + 48);
}

#[test]
fn icmp_and_tcp_views_reparse() {
    let f = PacketBuilder::tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 443, 55000)
        .tcp_flags(tcp::flags::SYN | tcp::flags::ACK)
        .build();
    let p = parse(&f).unwrap();
    let t = tcp::TcpPacket::new_checked(p.l4(&f)).unwrap();
    assert!(t.syn() && t.ack() && !t.fin() && !t.rst());
    assert_eq!((t.source_port(), t.destination_port(), t.header_len()), (443, 55000, 20));
    assert!(l4_checksum_ok(&f, &p));

    let f = PacketBuilder::echo_request6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 0x77, 3).payload(b"abc").build();
    let p = parse(&f).unwrap();
    let m = icmpv6::Icmpv6Packet::new_checked(p.l4(&f)).unwrap();
    assert_eq!((m.message_type(), m.echo_identifier(), m.echo_sequence(), m.data()), (128, 0x77, 3, &b"abc"[..]));
    assert!(l4_checksum_ok(&f, &p));

    // An ICMPv4 error embeds the offending packet.
    let inner = PacketBuilder::udp4([10, 0, 0, 2], [10, 0, 0, 9], 5684, 9999).build_ip();
    let f = PacketBuilder::icmp4([10, 0, 0, 9], [10, 0, 0, 2], icmpv4::message::DESTINATION_UNREACHABLE, 3, [0; 4])
        .payload(&inner[..28])
        .build();
    let p = parse(&f).unwrap();
    let m = icmpv4::Icmpv4Packet::new_checked(p.l4(&f)).unwrap();
    assert!(m.is_error() && m.verify_checksum());
    let embedded = ipv4::Ipv4Packet::new_unchecked(m.embedded().unwrap());
    assert_eq!(embedded.destination(), [10, 0, 0, 9]);

    // ND messages need their target.
    let ns = PacketBuilder::neighbor_solicitation(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, [2, 0, 0, 0, 0, 7]).build();
    let p = parse(&ns).unwrap();
    let m = icmpv6::Icmpv6Packet::new_checked(p.l4(&ns)).unwrap();
    assert_eq!(m.nd_target(), Ipv6Addr::LOCALHOST.octets());
    assert_eq!(m.nd_link_layer_address(icmpv6::OPTION_SOURCE_LINK_LAYER_ADDRESS), Ok(Some([2, 0, 0, 0, 0, 7])));
    for k in 0..32u16 {
        let mut g = ns.clone();
        g[18..20].copy_from_slice(&k.to_be_bytes());
        let got = parse(&g).map(|_| ());
        assert_eq!(got, if k < 24 { Err(DropReason::IcmpTruncated) } else { Ok(()) }, "{k}");
    }
    // A zero-length option is malformed (RFC 4861 §4.6).
    let mut bad = ns.clone();
    bad[14 + 40 + 25] = 0;
    let p = parse(&bad).unwrap();
    let m = icmpv6::Icmpv6Packet::new_checked(p.l4(&bad)).unwrap();
    assert_eq!(m.nd_link_layer_address(1), Err(DropReason::NdIgnored));
}

#[test]
fn arp_frames() {
    let mut buf = [0u8; 64];
    let n = crate::rewrite::arp_request(&mut buf, [2, 0, 0, 0, 0, 1], Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 11));
    let p = parse(&buf[..n]).unwrap();
    assert_eq!((p.l3, p.ethertype, p.ip_len), (L3::Arp, ethernet::ethertype::ARP, 28));
    for k in 14..42 {
        assert_eq!(parse(&buf[..k]), Err(DropReason::ArpIgnored), "{k}");
    }
    let mut bad = buf;
    bad[14 + 5] = 16; // IPv6-sized protocol address
    assert_eq!(parse(&bad[..n]), Err(DropReason::ArpIgnored));
}

#[test]
fn dtls_payloads_through_parse() {
    let cid = [2u8, 0, 0, 0, 0, 1];
    let f = PacketBuilder::udp4([198, 51, 100, 7], [192, 0, 2, 10], 40000, 5684)
        .payload(&dtls::cid_record(&cid, 1, 9, &[0xee; 40]))
        .build();
    let p = parse(&f).unwrap();
    assert_eq!(super::dtls::first_cid(p.udp_payload(&f), 6), Ok(Some(&cid[..])));
    let f = PacketBuilder::udp4([198, 51, 100, 7], [192, 0, 2, 10], 40000, 5684).payload(&dtls::client_hello(60)).build();
    let p = parse(&f).unwrap();
    let records: Vec<_> = super::dtls::Records::new(p.udp_payload(&f), 6).collect();
    assert_eq!(records.len(), 1);
    let r = records[0].unwrap();
    assert_eq!((r.content_type, r.epoch, r.body.len()), (22, 0, 72));
}

/// Valid frames of every kind, for the no-panic sweeps.
fn corpus() -> Vec<Vec<u8>> {
    let mut v = vec![
        hex(GOLDEN_IPV6),
        PacketBuilder::udp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).payload(&dtls::cid_record(&[1; 6], 1, 1, b"x")).vlan(3).build(),
        PacketBuilder::tcp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).ip_options(&[1, 1, 1, 1]).build(),
        PacketBuilder::echo_request4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).build(),
        PacketBuilder::echo_request6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2).outer_vlan(1).vlan(2).build(),
        PacketBuilder::neighbor_solicitation(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, [2; 6]).build(),
        PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2)
            .ext_headers(&[
                ExtensionHeader::HopByHop(vec![]),
                ExtensionHeader::Authentication { spi: 1, sequence: 1, icv: vec![1; 4] },
                ExtensionHeader::Fragment { offset: 0, more: true, identification: 1 },
            ])
            .build(),
    ];
    let mut arp = [0u8; 60];
    crate::rewrite::arp_request(&mut arp, [2; 6], Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(1, 1, 1, 2));
    v.push(arp.to_vec());
    v.extend(fragment(&PacketBuilder::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2).payload(&[7; 200]).build(), 100, 1));
    v.extend(fragment(&PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2).payload(&[7; 200]).build(), 100, 1));
    v
}

#[test]
fn builder_output_reparses_with_valid_checksums() {
    for f in corpus() {
        let p = parse(&f).unwrap();
        if p.l3 == L3::Ipv4 {
            assert!(ipv4_header_ok(&f, &p));
        }
        if p.l3 != L3::Arp && p.frag.is_none() {
            assert!(l4_checksum_ok(&f, &p), "{p:?}");
        }
    }
}

#[test]
fn no_prefix_of_any_frame_panics() {
    for f in corpus() {
        for n in 0..=f.len() {
            let _ = parse(&f[..n]);
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic(which in 0usize..12, edits in proptest::collection::vec((any::<u16>(), any::<u8>()), 1..6), cut in any::<u16>()) {
        let corpus = corpus();
        let mut f = corpus[which % corpus.len()].clone();
        for (at, byte) in edits {
            let i = at as usize % f.len();
            f[i] = byte;
        }
        let n = cut as usize % (f.len() + 1);
        if let Ok(p) = parse(&f[..n]) {
            // Whatever parse accepts, its offsets are inside the frame.
            prop_assert!(p.ip_end() <= n);
            prop_assert!(p.l4_offset as usize <= p.ip_end() || p.l3 == L3::Arp);
            let _ = super::dtls::first_cid(p.udp_payload(&f[..n]), 6);
            let mut g = f[..n].to_vec();
            let _ = crate::rewrite::nat_destination(&mut g, &p, p.src_ip(), Some(1));
            let _ = crate::rewrite::nat_source(&mut g, &p, p.dst_ip(), Some(2));
            let _ = crate::rewrite::icmp_echo_reply_v4(&mut g, &p);
            let _ = crate::rewrite::icmpv6_echo_reply(&mut g, &p);
            let _ = crate::rewrite::nd_advertisement(&mut g, &p, [2; 6]);
            let _ = crate::rewrite::arp_reply(&mut g, [2; 6]);
        }
    }
}

/// Frames of the shapes `parse_common` takes (and near misses once mutated); the last seven
/// carry extension headers (its out-of-line walk), five of them a Fragment header.
fn common_shapes() -> Vec<Vec<u8>> {
    let cid = dtls::cid_record(&[2, 1, 1, 1, 1, 1], 1, 7, &[9; 40]);
    let mut padded = PacketBuilder::udp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).payload(b"ab").build();
    padded.resize(60, 0);
    let mut shapes = vec![
        PacketBuilder::udp4([1, 2, 3, 4], [5, 6, 7, 8], 40000, 5684).payload(&cid).build(),
        PacketBuilder::tcp4([1, 2, 3, 4], [5, 6, 7, 8], 40000, 80).payload(&[3; 30]).build(),
        PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 40000, 5684).flow_label(0x12345).payload(&cid).build(),
        PacketBuilder::tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 40000, 80).flow_label(7).payload(&[3; 30]).build(),
        padded,
        PacketBuilder::tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 40000, 443)
            .flow_label(0xabcde)
            .payload(&[3; 30])
            .ext_headers(&[ExtensionHeader::HopByHop(vec![]), ExtensionHeader::DestinationOptions(vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])])
            .build(),
        PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2).payload(&[1; 30]).ext_headers(&[ExtensionHeader::HopByHop(vec![])]).build(),
    ];
    // Fragments: the first and a later one of labelled UDP and of TCP, and an atomic fragment.
    let udp = PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 40000, 5684).flow_label(0x12345).payload(&[7; 300]).build();
    let tcp = PacketBuilder::tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 40000, 80).payload(&[3; 300]).build();
    for frame in [udp, tcp] {
        let pieces = build::fragment(&frame, 200, 77);
        assert!(pieces.len() >= 2);
        shapes.extend(pieces.into_iter().take(2));
    }
    shapes.push(
        PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2)
            .payload(&[1; 30])
            .ext_headers(&[ExtensionHeader::Fragment { offset: 0, more: false, identification: 9 }])
            .build(),
    );
    shapes
}

#[test]
fn common_shapes_take_the_fast_parse_and_agree() {
    for f in common_shapes() {
        let fast = super::parse_common(&f).expect("a common shape is parsed by parse_common");
        assert_eq!(Ok(fast), super::parse_general(&f));
    }
    // Shapes it must leave to the general walk.
    let tagged = PacketBuilder::udp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).payload(b"abc").vlan(3).build();
    let options = PacketBuilder::udp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).payload(&[1; 30]).ip_options(&[1, 1, 1, 1]).build();
    let fragment = PacketBuilder::udp4([1, 2, 3, 4], [5, 6, 7, 8], 1, 2).payload(&[1; 30]).fragment_fields(0, true).build();
    // A first IPv6 fragment too short for the TCP header: the general parse names the reason.
    let mut short = PacketBuilder::tcp6(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 1, 2)
        .payload(&[1; 30])
        .ext_headers(&[ExtensionHeader::Fragment { offset: 0, more: true, identification: 9 }])
        .build();
    let payload_length = 8 + 12;
    short[18..20].copy_from_slice(&(payload_length as u16).to_be_bytes());
    short.truncate(14 + 40 + payload_length);
    assert_eq!(parse(&short), Err(DropReason::TcpTruncated));
    assert_eq!(super::parse_common(&short), None);
    for f in [tagged, options, fragment] {
        assert_eq!(super::parse_common(&f), None);
        assert!(parse(&f).is_ok());
    }
}

proptest! {
    /// Differential: wherever the fast parse answers, the general walk gives the same answer.
    #[test]
    fn fast_parse_agrees_with_the_general_walk(
        which in 0usize..12,
        edits in proptest::collection::vec((0usize..80, any::<u8>()), 0..4),
        cut in any::<u16>(),
    ) {
        let shapes = common_shapes();
        let mut f = shapes[which % shapes.len()].clone();
        for (at, byte) in edits {
            let i = at % f.len();
            f[i] = byte;
        }
        let n = f.len() - (cut as usize % 24).min(f.len());
        let f = &f[..n];
        if let Some(fast) = super::parse_common(f) {
            prop_assert_eq!(Ok(fast), super::parse_general(f));
        }
        prop_assert_eq!(parse(f), super::parse_general(f));
    }
}

/// Writes builder output to a pcap and lets scapy (an independent implementation) check every
/// IP/UDP/TCP/ICMP checksum. Skipped, with a printed reason, when scapy is not installed.
#[test]
fn scapy_agrees_with_builder_checksums() {
    let has_scapy = std::process::Command::new("python3")
        .args(["-c", "import scapy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_scapy {
        eprintln!("skipping scapy_agrees_with_builder_checksums: python3-scapy is not installed");
        return;
    }
    let frames: Vec<Vec<u8>> = corpus().into_iter().filter(|f| parse(f).map(|p| p.frag.is_none() && p.l3 != L3::Arp).unwrap_or(false)).collect();
    let mut pcap = Vec::new();
    pcap.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    pcap.extend_from_slice(&2u16.to_le_bytes());
    pcap.extend_from_slice(&4u16.to_le_bytes());
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&65535u32.to_le_bytes());
    pcap.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for f in &frames {
        pcap.extend_from_slice(&[0; 8]);
        pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
        pcap.extend_from_slice(&(f.len() as u32).to_le_bytes());
        pcap.extend_from_slice(f);
    }
    let path = std::env::temp_dir().join(format!("cidlb-wire-{}.pcap", std::process::id()));
    std::fs::write(&path, &pcap).unwrap();
    let script = r#"
import sys
from scapy.all import rdpcap, Ether
from scapy.layers.inet import IP, UDP, TCP, ICMP
from scapy.layers.inet6 import IPv6
bad = 0
for pkt in rdpcap(sys.argv[1]):
    for layer in (IP, UDP, TCP, ICMP):
        if layer in pkt and hasattr(pkt[layer], 'chksum'):
            got = pkt[layer].chksum
            fresh = Ether(bytes(pkt))
            del fresh[layer].chksum
            want = Ether(bytes(fresh))[layer].chksum
            if got != want and not (layer is UDP and got == 0):
                bad += 1
                print('mismatch', layer.__name__, hex(got), hex(want))
    for name in ('ICMPv6EchoRequest', 'ICMPv6ND_NS'):
        pass
print('checked', len(rdpcap(sys.argv[1])))
sys.exit(1 if bad else 0)
"#;
    let out = std::process::Command::new("python3").arg("-c").arg(script).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn parsed_stays_small() {
    assert!(std::mem::size_of::<Parsed>() <= 80, "{}", std::mem::size_of::<Parsed>());
}

/// Rough per-packet cost on this machine (noisy; compare ratios, not absolutes).
#[test]
#[ignore = "timing: cargo test --release -p cidlb-dataplane --lib cost -- --ignored --nocapture"]
fn parse_and_rewrite_cost() {
    use std::hint::black_box;
    use std::time::Instant;
    let cid_frame = PacketBuilder::udp4([198, 51, 100, 7], [192, 0, 2, 10], 40000, 5684)
        .payload(&dtls::cid_record(&[2, 0, 0, 0, 0, 1], 1, 9, &[0xee; 32]))
        .build();
    let v6_frame = hex(GOLDEN_IPV6);
    let rounds = 5_000_000u32;
    for (name, frame) in [("ipv4 dtls-cid", &cid_frame), ("ipv6 3 ext headers", &v6_frame)] {
        let start = Instant::now();
        let mut sum = 0u64;
        for _ in 0..rounds {
            let p = parse(black_box(frame)).unwrap();
            if let Ok(Some(cid)) = super::dtls::first_cid(p.udp_payload(frame), 6) {
                sum += cid[0] as u64;
            }
            sum += p.dport as u64;
        }
        let parse_ns = start.elapsed().as_nanos() as f64 / rounds as f64;
        let mut buffer = frame.clone();
        let p = parse(frame).unwrap();
        let new = if p.is_ipv4() { IpAddr::V4(Ipv4Addr::new(10, 0, 0, 11)) } else { IpAddr::V6(Ipv6Addr::LOCALHOST) };
        let start = Instant::now();
        for _ in 0..rounds {
            buffer[p.l3_offset as usize + if p.is_ipv4() { 8 } else { 7 }] = 64;
            crate::rewrite::nat_destination(black_box(&mut buffer), &p, new, Some(5684)).unwrap();
            crate::rewrite::set_macs(&mut buffer, [2; 6], [4; 6]);
        }
        let rewrite_ns = start.elapsed().as_nanos() as f64 / rounds as f64;
        println!("{name}: parse+first_cid {parse_ns:.1} ns, nat_destination+set_macs {rewrite_ns:.1} ns ({sum})");
    }
}

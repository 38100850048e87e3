//! Rewrites checked against the builder: NAT by RFC 1624 must equal a packet built from
#![forbid(unsafe_code)]
//! scratch with the new fields (full checksum recomputation).
// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
use super::*;
use crate::wire::build::{fragment, ExtensionHeader, PacketBuilder};
use crate::wire::{checksum, parse};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Equal frames, allowing a checksum written as 0xffff where a full computation gives 0
/// (the same one's-complement number, RFC 1624 §3).
fn assert_same(got: &[u8], want: &[u8]) {
    assert_eq!(got.len(), want.len());
    let mut i = 0;
    while i < got.len() {
        if got[i] != want[i] {
            let at = i & !1;
            let pair = (u16::from_be_bytes([got[at], got[at + 1]]), u16::from_be_bytes([want[at], want[at + 1]]));
            assert!(matches!(pair, (0, 0xffff) | (0xffff, 0)), "differ at {i}: {got:02x?}\n vs {want:02x?}");
            i = at + 2;
        } else {
            i += 1;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Udp,
    Tcp,
    Echo,
}

fn v4(kind: Kind, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> PacketBuilder {
    match kind {
        Kind::Udp => PacketBuilder::udp4(src, dst, sport, dport),
        Kind::Tcp => PacketBuilder::tcp4(src, dst, sport, dport),
        Kind::Echo => PacketBuilder::echo_request4(src, dst, sport, dport),
    }
}

fn v6(kind: Kind, src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> PacketBuilder {
    match kind {
        Kind::Udp => PacketBuilder::udp6(src, dst, sport, dport),
        Kind::Tcp => PacketBuilder::tcp6(src, dst, sport, dport),
        Kind::Echo => PacketBuilder::echo_request6(src, dst, sport, dport),
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Udp), Just(Kind::Tcp), Just(Kind::Echo)]
}

proptest! {
    #[test]
    fn nat_v4_equals_rebuilt(
        kind in kind(), src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), new in any::<[u8; 4]>(),
        sport in any::<u16>(), dport in any::<u16>(), new_port in any::<u16>(), ttl in 2u8..=255,
        payload in proptest::collection::vec(any::<u8>(), 0..64), vlan in any::<bool>(), reverse in any::<bool>(),
    ) {
        let with = |b: PacketBuilder| { let b = b.payload(&payload).ip_options(&[1, 1, 1, 1]); if vlan { b.vlan(7) } else { b } };
        let mut frame = with(v4(kind, src, dst, sport, dport).ttl(ttl)).build();
        let p = parse(&frame).unwrap();
        let ports = !matches!(kind, Kind::Echo);
        let want = if reverse {
            nat_source(&mut frame, &p, IpAddr::V4(new.into()), Some(new_port)).unwrap();
            with(v4(kind, new, dst, if ports { new_port } else { sport }, dport).ttl(ttl - 1)).build()
        } else {
            nat_destination(&mut frame, &p, IpAddr::V4(new.into()), Some(new_port)).unwrap();
            with(v4(kind, src, new, sport, if ports { new_port } else { dport }).ttl(ttl - 1)).build()
        };
        assert_same(&frame, &want);
    }

    /// The fast NAT paths (UDP and TCP over IPv4 and IPv6) and the general one agree on every
    /// input: result and bytes, for either side, with or without a port, a zero (absent) UDP
    /// checksum, any TTL, IPv4 options or IPv6 extension headers, a frame cut short behind its
    /// `Parsed` and a `Parsed` whose L4 offset is off (an error, the frame untouched).
    #[test]
    fn nat_fast_paths_equal_the_general_path(
        v6 in any::<bool>(), tcp in any::<bool>(), src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), new in any::<[u8; 16]>(),
        sport in any::<u16>(), dport in any::<u16>(), port in any::<Option<u16>>(), ttl in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..16), zero in any::<bool>(), options in any::<bool>(),
        source in any::<bool>(), cut in 0usize..64, shift in -24i32..8,
    ) {
        let first4 = |a: [u8; 16]| [a[0], a[1], a[2], a[3]];
        let kind = if tcp { Kind::Tcp } else { Kind::Udp };
        let mut b = if v6 { self::v6(kind, src, dst, sport, dport) } else { v4(kind, first4(src), first4(dst), sport, dport) };
        b = b.payload(&payload).ttl(ttl);
        if zero && !tcp { b = b.zero_udp_checksum(); }
        if options {
            b = if v6 { b.ext_headers(&[ExtensionHeader::HopByHop(vec![]), ExtensionHeader::DestinationOptions(vec![])]) } else { b.ip_options(&[1, 1, 1, 1]) };
        }
        let frame = b.build();
        let mut p = parse(&frame).unwrap();
        prop_assert_eq!((p.l3 == L3::Ipv6, p.proto), (v6, if tcp { protocol::TCP } else { protocol::UDP }));
        // Now and then a `Parsed` whose L4 offset is not the frame's.
        if shift % 3 == 0 { p.l4_offset = (i32::from(p.l4_offset) + shift) as u16; }
        let side = if source { Side::Source } else { Side::Destination };
        let address = if v6 { new } else { let mut a = [0u8; 16]; a[..4].copy_from_slice(&new[..4]); a };
        let frame = frame[..frame.len() - cut.min(frame.len())].to_vec();
        let (mut fast, mut general) = (frame.clone(), frame.clone());
        let fast_result = match (v6, tcp) {
            (false, false) => nat_fast::<false, false>(&mut fast, At::of(&p), side, &address, port),
            (false, true) => nat_fast::<false, true>(&mut fast, At::of(&p), side, &address, port),
            (true, false) => nat_fast::<true, false>(&mut fast, At::of(&p), side, &address, port),
            (true, true) => nat_fast::<true, true>(&mut fast, At::of(&p), side, &address, port),
        };
        let general_result = nat_general(&mut general, &p, side, &address, v6, port);
        prop_assert_eq!(&fast, &general);
        match (fast_result, general_result) {
            (Ok(()), Ok(())) => {}
            // Both refuse, the frame untouched; for a `Parsed` of these very bytes, alike.
            (Err(fast_reason), Err(general_reason)) => {
                prop_assert_eq!(&fast, &frame);
                if shift % 3 != 0 { prop_assert_eq!(fast_reason, general_reason); }
            }
            other => prop_assert!(false, "fast and general disagree: {:?}", other),
        }
    }

    #[test]
    fn dnat_at_fixed_offsets_equals_dnat(
        src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), new in any::<[u8; 4]>(), sport in any::<u16>(), dport in any::<u16>(),
        port in any::<Option<u16>>(), ttl in any::<u8>(), payload in proptest::collection::vec(any::<u8>(), 0..16), zero in any::<bool>(),
    ) {
        // The worker's CID lane rewrites untagged IPv4 UDP without options from the bytes.
        let mut b = v4(Kind::Udp, src, dst, sport, dport).payload(&payload).ttl(ttl);
        if zero { b = b.zero_udp_checksum(); }
        let frame = b.build();
        let p = parse(&frame).unwrap();
        let mut address = [0u8; 16];
        address[..4].copy_from_slice(&new);
        let (mut fixed, mut parsed) = (frame.clone(), frame.clone());
        prop_assert_eq!(dnat_ipv4_udp(&mut fixed, frame[22], &address, port), dnat(&mut parsed, &p, &address, false, port));
        prop_assert_eq!(fixed, parsed);
    }

    #[test]
    fn dnat_of_a_later_ipv6_fragment_from_the_bytes_equals_dnat(
        src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), new in any::<[u8; 16]>(), ttl in any::<u8>(),
        size in 0usize..400, label in 0u32..0x100000, tcp in any::<bool>(),
    ) {
        // The worker's IPv6 lane rewrites later fragments of labelled flows from the bytes.
        let payload: Vec<u8> = (0..size as u32 + 200).map(|i| (i * 7) as u8).collect();
        let kind = if tcp { Kind::Tcp } else { Kind::Udp };
        let original = v6(kind, src, dst, 4000, 5684).payload(&payload).flow_label(label).ttl(ttl).build();
        for piece in fragment(&original, 200, 9).iter().skip(1) {
            let p = parse(piece).unwrap();
            prop_assert!(!p.l4_present);
            let (mut fixed, mut parsed) = (piece.clone(), piece.clone());
            prop_assert_eq!(dnat_ipv6_no_upper(&mut fixed, &new), dnat(&mut parsed, &p, &new, true, Some(80)));
            prop_assert_eq!(fixed, parsed);
        }
    }

    #[test]
    fn nat_v6_equals_rebuilt(
        kind in kind(), src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), new in any::<[u8; 16]>(),
        sport in any::<u16>(), dport in any::<u16>(), new_port in proptest::option::of(any::<u16>()), ttl in 2u8..=255,
        payload in proptest::collection::vec(any::<u8>(), 0..64), label in 0u32..0x100000, reverse in any::<bool>(),
    ) {
        let with = |b: PacketBuilder| b.payload(&payload).flow_label(label)
            .ext_headers(&[ExtensionHeader::HopByHop(vec![]), ExtensionHeader::DestinationOptions(vec![])]);
        let mut frame = with(v6(kind, src, dst, sport, dport).ttl(ttl)).build();
        let p = parse(&frame).unwrap();
        let port = |old: u16| if matches!(kind, Kind::Echo) { old } else { new_port.unwrap_or(old) };
        let want = if reverse {
            nat_source(&mut frame, &p, IpAddr::V6(new.into()), new_port).unwrap();
            with(v6(kind, new, dst, port(sport), dport).ttl(ttl - 1)).build()
        } else {
            nat_destination(&mut frame, &p, IpAddr::V6(new.into()), new_port).unwrap();
            with(v6(kind, src, new, sport, port(dport)).ttl(ttl - 1)).build()
        };
        assert_same(&frame, &want);
    }

    #[test]
    fn nat_fragments_equal_fragments_of_rebuilt(new in any::<[u8; 4]>(), new6 in any::<[u8; 16]>(), port in any::<u16>()) {
        let payload: Vec<u8> = (0..1500u32).map(|i| (i * 13) as u8).collect();
        let original = PacketBuilder::udp4([10, 0, 0, 1], [192, 0, 2, 10], 4000, 5684).payload(&payload).build();
        let rebuilt = PacketBuilder::udp4([10, 0, 0, 1], new, 4000, port).payload(&payload).ttl(63).build();
        let mut pieces = fragment(&original, 576, 77);
        let want = fragment(&rebuilt, 576, 77);
        prop_assert_eq!(pieces.len(), want.len());
        for (piece, want) in pieces.iter_mut().zip(&want) {
            let p = parse(piece).unwrap();
            nat_destination(piece, &p, IpAddr::V4(new.into()), Some(port)).unwrap();
            assert_same(piece, want);
        }
        let original = PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 4000, 5684).payload(&payload).build();
        let rebuilt = PacketBuilder::udp6(Ipv6Addr::LOCALHOST, new6, 4000, port).payload(&payload).ttl(63).build();
        let mut pieces = fragment(&original, 1280, 78);
        let want = fragment(&rebuilt, 1280, 78);
        for (piece, want) in pieces.iter_mut().zip(&want) {
            let p = parse(piece).unwrap();
            nat_destination(piece, &p, IpAddr::V6(new6.into()), Some(port)).unwrap();
            assert_same(piece, want);
        }
    }
}

#[test]
fn zero_udp_checksum_stays_zero() {
    let mut frame = PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).payload(b"abc").zero_udp_checksum().build();
    let p = parse(&frame).unwrap();
    nat_destination(&mut frame, &p, IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)), Some(99)).unwrap();
    let p = parse(&frame).unwrap();
    assert_eq!(&frame[p.l4_offset as usize + 6..p.l4_offset as usize + 8], &[0, 0]);
    assert_eq!(p.dport, 99);
    let header = &frame[14..34];
    assert_eq!(checksum::checksum(header), 0);
}

/// A zero IPv6 UDP checksum is no checksum at all (RFC 8200 §8.1: receivers discard it; RFC
/// 6935 lets tunnels send it): NAT forwards it as it came, and `verify_frame` calls it invalid
/// before and after, even where the one's-complement sum holds with it by chance (the fuzz
/// pipeline's "valid after if and only if valid before" found such a frame).
#[test]
fn zero_udp6_checksum_stays_zero_and_is_never_valid() {
    // Payload ending in a zero word; moving the computed checksum into that word and a zero
    // into the checksum field keeps the sum.
    let mut frame = PacketBuilder::udp6([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99], [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10], 40000, 443)
        .payload(b"hello world!\0\0")
        .build();
    let p = parse(&frame).unwrap();
    let (c, end) = (p.l4_offset as usize + 6, p.ip_end());
    let computed = [frame[c], frame[c + 1]];
    assert_ne!(computed, [0, 0]);
    frame[end - 2..end].copy_from_slice(&computed);
    frame[c..c + 2].copy_from_slice(&[0, 0]);
    let l4 = &frame[p.l4_offset as usize..end];
    let pseudo = checksum::pseudo_header_v6(p.src, p.dst, protocol::UDP, l4.len() as u32);
    assert_eq!(checksum::with_pseudo_header(pseudo, l4), 0, "the sum holds with the zero");
    assert!(!checksum::verify_frame(&frame, &p));

    nat_destination(&mut frame, &p, IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x21)), None).unwrap();
    let p = parse(&frame).unwrap();
    assert_eq!(&frame[c..c + 2], &[0, 0], "forwarded as it came");
    assert!(!checksum::verify_frame(&frame, &p));

    // Over IPv4 a zero is "no checksum" (RFC 768): valid.
    let frame = PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).payload(b"abc").zero_udp_checksum().build();
    assert!(checksum::verify_frame(&frame, &parse(&frame).unwrap()));
}

#[test]
fn ttl_exceeded_and_family_mismatch_leave_the_frame_alone() {
    for ttl in [0, 1] {
        let original = PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).ttl(ttl).build();
        let mut frame = original.clone();
        let p = parse(&frame).unwrap();
        assert_eq!(nat_destination(&mut frame, &p, IpAddr::V4(Ipv4Addr::LOCALHOST), Some(5)), Err(DropReason::TtlExceeded));
        assert_eq!(nat_source(&mut frame, &p, IpAddr::V4(Ipv4Addr::LOCALHOST), None), Err(DropReason::TtlExceeded));
        assert_eq!(frame, original);
        let original = PacketBuilder::udp6(Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 1, 2).ttl(ttl).build();
        let mut frame = original.clone();
        let p = parse(&frame).unwrap();
        assert_eq!(nat_destination(&mut frame, &p, IpAddr::V6(Ipv6Addr::LOCALHOST), None), Err(DropReason::TtlExceeded));
        assert_eq!(frame, original);
    }
    let original = PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).build();
    let mut frame = original.clone();
    let p = parse(&frame).unwrap();
    assert_eq!(nat_destination(&mut frame, &p, IpAddr::V6(Ipv6Addr::LOCALHOST), None), Err(DropReason::AddressFamilyMismatch));
    assert_eq!(frame, original);
    // A `Parsed` from other bytes: an error, not a panic.
    let mut short = original[..20].to_vec();
    assert_eq!(nat_destination(&mut short, &p, IpAddr::V4(Ipv4Addr::LOCALHOST), None), Err(DropReason::NoRoom));
}

#[test]
fn non_first_fragment_changes_the_ip_header_only() {
    let original = PacketBuilder::udp4([10, 0, 0, 1], [10, 0, 0, 2], 1, 2).payload(&[9; 100]).build();
    let pieces = fragment(&original, 60, 5);
    let mut last = pieces.last().unwrap().clone();
    let before = last.clone();
    let p = parse(&last).unwrap();
    assert!(!p.l4_present);
    nat_destination(&mut last, &p, IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)), Some(7)).unwrap();
    assert_eq!(&last[34..], &before[34..]);
    assert_eq!(checksum::checksum(&last[14..34]), 0);
    assert_eq!(&last[30..34], &[1, 2, 3, 4]);
}

#[test]
fn set_macs_writes_both() {
    let mut frame = PacketBuilder::udp4([1, 1, 1, 1], [2, 2, 2, 2], 1, 2).build();
    set_macs(&mut frame, [1; 6], [2; 6]);
    assert_eq!(&frame[..12], &[2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1]);
    let mut tiny = [0u8; 5];
    set_macs(&mut tiny, [1; 6], [2; 6]);
    assert_eq!(tiny, [0; 5]);
}

const OUR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const PEER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

#[test]
fn arp_request_becomes_reply() {
    let mut frame = [0u8; 60];
    let n = arp_request(&mut frame, PEER_MAC, Ipv4Addr::new(192, 0, 2, 254), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(n, 60);
    assert_eq!(&frame[..6], &[0xff; 6]);
    assert!(arp_reply(&mut frame, OUR_MAC));
    let a = arp::ArpPacket::new_checked(&frame[14..]).unwrap();
    assert_eq!(a.operation(), arp::OPERATION_REPLY);
    assert_eq!((a.sender_hardware_addr(), a.sender_protocol_addr()), (OUR_MAC, [192, 0, 2, 1]));
    assert_eq!((a.target_hardware_addr(), a.target_protocol_addr()), (PEER_MAC, [192, 0, 2, 254]));
    assert_eq!((&frame[..6], &frame[6..12]), (&PEER_MAC[..], &OUR_MAC[..]));
    // A reply is not answered again.
    assert!(!arp_reply(&mut frame, OUR_MAC));
    assert_eq!(arp_request(&mut [0u8; 59], OUR_MAC, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST), 0);
}

#[test]
fn echo_requests_become_replies() {
    let mut frame = PacketBuilder::echo_request4([198, 51, 100, 7], [192, 0, 2, 10], 0x42, 9)
        .payload(b"ping payload")
        .ttl(3)
        .macs(PEER_MAC, OUR_MAC)
        .build();
    let p = parse(&frame).unwrap();
    assert!(icmp_echo_reply_v4(&mut frame, &p));
    let want = PacketBuilder::icmp4([192, 0, 2, 10], [198, 51, 100, 7], 0, 0, [0, 0x42, 0, 9])
        .payload(b"ping payload")
        .ttl(REPLY_TTL)
        .macs(OUR_MAC, PEER_MAC)
        .build();
    assert_same(&frame, &want);
    let p = parse(&frame).unwrap();
    assert!(!icmp_echo_reply_v4(&mut frame, &p), "a reply is not answered");

    // An echo request of id 0, sequence 0 and no data: the reply is all zeros but for its
    // checksum, which must be 0xffff (a found by the fuzz pipeline: eqn. 3 gave 0x0000).
    let mut frame = PacketBuilder::echo_request4([203, 0, 113, 1], [192, 0, 2, 1], 0, 0).macs(PEER_MAC, OUR_MAC).build();
    let p = parse(&frame).unwrap();
    assert!(checksum::verify_frame(&frame, &p));
    assert!(icmp_echo_reply_v4(&mut frame, &p));
    let p = parse(&frame).unwrap();
    assert_eq!(p.l4(&frame), &[0, 0, 0xff, 0xff, 0, 0, 0, 0]);
    assert!(checksum::verify_frame(&frame, &p));

    let a: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let b: Ipv6Addr = "2001:db8::10".parse().unwrap();
    let mut frame = PacketBuilder::echo_request6(a, b, 0x42, 9).payload(b"ping6").macs(PEER_MAC, OUR_MAC).flow_label(5).build();
    let p = parse(&frame).unwrap();
    assert!(!icmp_echo_reply_v4(&mut frame, &p));
    assert!(icmpv6_echo_reply(&mut frame, &p));
    let want = PacketBuilder::icmp6(b, a, 129, 0, [0, 0x42, 0, 9]).payload(b"ping6").ttl(REPLY_TTL).macs(OUR_MAC, PEER_MAC).flow_label(5).build();
    assert_same(&frame, &want);
}

fn icmpv6_ok(frame: &[u8]) -> bool {
    let p = parse(frame).unwrap();
    let l4 = p.l4(frame);
    let pseudo = checksum::pseudo_header_v6(p.src, p.dst, 58, l4.len() as u32);
    checksum::with_pseudo_header(pseudo, l4) == 0
}

#[test]
fn neighbor_solicitation_becomes_advertisement() {
    let ours: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let peer: Ipv6Addr = "2001:db8::fe".parse().unwrap();
    // Our own builder's solicitation, answered by our own advertisement.
    let mut buffer = [0u8; 128];
    let n = neighbor_solicitation(&mut buffer, PEER_MAC, peer, ours);
    let mut frame = buffer[..n].to_vec();
    assert_eq!(&frame[..6], &[0x33, 0x33, 0xff, 0, 0, 1]);
    assert!(icmpv6_ok(&frame));
    let p = parse(&frame).unwrap();
    assert_eq!(p.dst_ip(), "ff02::1:ff00:1".parse::<IpAddr>().unwrap());
    assert_eq!(p.ttl, 255);
    let len = nd_advertisement(&mut frame, &p, OUR_MAC).unwrap();
    assert_eq!(len, frame.len());
    assert!(icmpv6_ok(&frame));
    let p = parse(&frame).unwrap();
    assert_eq!((p.src_ip(), p.dst_ip(), p.ttl), (IpAddr::V6(ours), IpAddr::V6(peer), 255));
    assert_eq!((&frame[..6], &frame[6..12]), (&PEER_MAC[..], &OUR_MAC[..]));
    let m = icmpv6::Icmpv6Packet::new_checked(p.l4(&frame)).unwrap();
    assert_eq!(m.message_type(), icmpv6::message::NEIGHBOR_ADVERTISEMENT);
    assert_eq!(m.nd_flags(), icmpv6::nd_flags::SOLICITED | icmpv6::nd_flags::OVERRIDE);
    assert_eq!(m.nd_target(), ours.octets());
    assert_eq!(m.nd_link_layer_address(icmpv6::OPTION_TARGET_LINK_LAYER_ADDRESS), Ok(Some(OUR_MAC)));
    // An advertisement is not answered.
    assert_eq!(nd_advertisement(&mut frame, &p, OUR_MAC), None);
}

#[test]
fn solicitation_validation() {
    let ours: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let peer: Ipv6Addr = "2001:db8::fe".parse().unwrap();
    // RFC 4861 §7.1.1: hop limit must be 255.
    let mut frame = PacketBuilder::neighbor_solicitation(peer, ours, ours, PEER_MAC).ttl(64).build();
    let p = parse(&frame).unwrap();
    assert_eq!(nd_advertisement(&mut frame, &p, OUR_MAC), None);
    // Bad checksum.
    let mut frame = PacketBuilder::neighbor_solicitation(peer, ours, ours, PEER_MAC).build();
    let at = frame.len() - 1;
    frame[at] ^= 1;
    let p = parse(&frame).unwrap();
    assert_eq!(nd_advertisement(&mut frame, &p, OUR_MAC), None);
    // Unicast NUD probe without the source option: answered without a target option.
    let target = ours.octets();
    let mut frame = PacketBuilder::icmp6(peer, ours, icmpv6::message::NEIGHBOR_SOLICITATION, 0, [0; 4])
        .payload(&target)
        .ttl(255)
        .macs(PEER_MAC, OUR_MAC)
        .build();
    let p = parse(&frame).unwrap();
    assert_eq!(nd_advertisement(&mut frame, &p, OUR_MAC), Some(frame.len()));
    assert!(icmpv6_ok(&frame));
    assert_eq!(&frame[..6], &PEER_MAC);
    // Duplicate address detection: from ::, answered to all-nodes without S.
    let mut frame = PacketBuilder::icmp6(Ipv6Addr::UNSPECIFIED, crate::wire::ipv6::solicited_node(target), 135, 0, [0; 4])
        .payload(&[&target[..], &[0u8; 8]].concat()) // room for the option (a nonce option, say)
        .ttl(255)
        .build();
    frame[14 + 40 + 24..14 + 40 + 26].copy_from_slice(&[14, 1]); // nonce option (RFC 3971), 8 bytes
    let p = parse(&frame).unwrap();
    let mut fixed = frame.clone();
    let pseudo = checksum::pseudo_header_v6(p.src, p.dst, 58, 32);
    fixed[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&[0, 0]);
    let c = checksum::with_pseudo_header(pseudo, &fixed[14 + 40..]);
    fixed[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&c.to_be_bytes());
    let p = parse(&fixed).unwrap();
    assert!(nd_advertisement(&mut fixed, &p, OUR_MAC).is_some());
    let p = parse(&fixed).unwrap();
    assert_eq!(p.dst_ip(), "ff02::1".parse::<IpAddr>().unwrap());
    assert_eq!(&fixed[..6], &[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(fixed[14 + 40 + 4], icmpv6::nd_flags::OVERRIDE);
    assert!(icmpv6_ok(&fixed));
}

/// The IPv6 fast path sums the addresses over 64-bit words with end-around carry. Rewriting
/// `::` (whose complement is all ones) to an address whose first word is all ones and whose
/// second is 2 (native order) makes the 128-bit sum 3 · 2^64 − 1: its first fold carries out
/// again, which random addresses almost never do.
#[test]
fn ipv6_address_sum_that_carries_twice() {
    let mut new = [0xffu8; 16];
    new[8..].copy_from_slice(&2u64.to_ne_bytes());
    for (kind, reverse) in [(Kind::Udp, false), (Kind::Tcp, false), (Kind::Udp, true), (Kind::Tcp, true)] {
        let (src, dst) = if reverse { ([0; 16], [0x20; 16]) } else { ([0x20; 16], [0; 16]) };
        let mut frame = v6(kind, src, dst, 4000, 5684).payload(b"carry").ttl(64).build();
        let p = parse(&frame).unwrap();
        let want = if reverse {
            nat_source(&mut frame, &p, IpAddr::V6(new.into()), None).unwrap();
            v6(kind, new, dst, 4000, 5684).payload(b"carry").ttl(63).build()
        } else {
            nat_destination(&mut frame, &p, IpAddr::V6(new.into()), None).unwrap();
            v6(kind, src, new, 4000, 5684).payload(b"carry").ttl(63).build()
        };
        assert_same(&frame, &want);
    }
}

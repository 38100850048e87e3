//! The fixture table of issue 3: `{description, input, expected verdict, expected output}`,
//! run through the replay path (the same worker code as on DPDK, time passed in).
//!
//! Expected outputs are built from scratch with the packet builder (full checksums), so a
//! byte-for-byte match also proves the incremental checksum updates (RFC 1624).

mod support;

use cidlb_dataplane::counters::DropReason;
use cidlb_dataplane::wire::build::{dtls, ExtensionHeader, PacketBuilder};
use cidlb_dataplane::wire::{self, L3};
use cidlb_perf::profiles::{self, cid_for, client4, client6, BALANCER_MAC, GATEWAY_MAC, VIP4, VIP6};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use support::{node_mac, Harness, Outcome};

const S: u64 = 1_000_000_000;

fn node4(id: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + id)
}
fn node6(id: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, id)
}

/// Expected shape of one step's result.
enum Expect {
    /// Exactly these bytes out.
    Exact(Vec<u8>),
    /// One frame out, to this IP address (NAT) from the balancer's MAC.
    To(IpAddr),
    Dropped(DropReason),
    Consumed,
}

struct Fixture {
    description: &'static str,
    /// (seconds, input frame, expectation)
    steps: Vec<(u64, Vec<u8>, Expect)>,
}

/// The NAT rewrite of a client datagram to `node`: destination, TTL - 1, MACs.
fn nat4(client: u32, sport: u16, dport: u16, node: u8, payload: &[u8]) -> Vec<u8> {
    PacketBuilder::udp4(client4(client), node4(node), sport, dport)
        .ttl(63)
        .payload(payload)
        .macs(BALANCER_MAC, node_mac(0x10 + node))
        .build()
}

fn from_client4(client: u32, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    PacketBuilder::udp4(client4(client), VIP4, sport, dport).payload(payload).macs(GATEWAY_MAC, BALANCER_MAC).build()
}

fn fixtures() -> Vec<Fixture> {
    let record = |node: u8, client: u32| dtls::cid_record(&cid_for(node, client), 1, 5, &[0xab; 32]);
    let mut table = vec![];
    for node in 1..=3u8 {
        table.push(Fixture {
            description: "a CID record reaches the node named by its CID's first byte (NAT, checksums)",
            steps: vec![(
                1,
                from_client4(40 + node as u32, 10040, 5684, &record(node, 40)),
                Expect::Exact(nat4(40 + node as u32, 10040, 5684, node, &record(node, 40))),
            )],
        });
    }
    let mut flight = dtls::client_hello(20);
    flight.extend(record(3, 7));
    table.push(Fixture {
        description: "the CID record behind a handshake record decides",
        steps: vec![(1, from_client4(7, 10007, 5684, &flight), Expect::Exact(nat4(7, 10007, 5684, 3, &flight)))],
    });
    table.push(Fixture {
        description: "an unknown node id is dropped (unknown_cid = drop)",
        steps: vec![(1, from_client4(1, 10001, 5684, &record(9, 1)), Expect::Dropped(DropReason::UnknownCid))],
    });
    let mut truncated = dtls::cid_record(&cid_for(1, 1), 1, 5, &[]);
    truncated.truncate(11 + 3); // type, version, epoch, sequence, 3 of 6 CID bytes
    table.push(Fixture {
        description: "a CID record too short to hold the CID is dropped and counted",
        steps: vec![(1, from_client4(1, 10001, 5684, &truncated), Expect::Dropped(DropReason::CidTruncated))],
    });
    table.push(Fixture {
        description: "TTL 1 would reach zero: dropped",
        steps: vec![(
            1,
            PacketBuilder::udp4(client4(1), VIP4, 1, 5684).ttl(1).payload(&record(1, 1)).macs(GATEWAY_MAC, BALANCER_MAC).build(),
            Expect::Dropped(DropReason::TtlExceeded),
        )],
    });
    table.push(Fixture {
        description: "no service on that VIP port",
        steps: vec![(1, from_client4(1, 1, 9999, b"x"), Expect::Dropped(DropReason::NoService))],
    });
    table.push(Fixture {
        description: "an address that is neither ours, a VIP nor a node's reply",
        steps: vec![(
            1,
            PacketBuilder::udp4(client4(1), Ipv4Addr::new(192, 0, 2, 99), 1, 5684).macs(GATEWAY_MAC, BALANCER_MAC).build(),
            Expect::Dropped(DropReason::NotForUs),
        )],
    });
    table.push(Fixture {
        description: "a unicast frame for another MAC",
        steps: vec![(
            1,
            PacketBuilder::udp4(client4(1), VIP4, 1, 5684).payload(&record(1, 1)).macs(GATEWAY_MAC, [2, 0, 0, 0, 0, 0x77]).build(),
            Expect::Dropped(DropReason::NotOurMac),
        )],
    });
    // Reverse NAT: node 2 answers client 5; the source becomes the VIP, toward the gateway.
    let reply = dtls::cid_record(&[], 1, 100, &[0xee; 30]);
    table.push(Fixture {
        description: "a node's reply leaves with the VIP as source, toward the gateway",
        steps: vec![(
            1,
            PacketBuilder::udp4(node4(2), client4(5), 5684, 10005).payload(&reply).macs(node_mac(0x12), BALANCER_MAC).build(),
            Expect::Exact(PacketBuilder::udp4(VIP4, client4(5), 5684, 10005).ttl(63).payload(&reply).macs(BALANCER_MAC, GATEWAY_MAC).build()),
        )],
    });
    // A zero IPv4 UDP checksum stays zero (RFC 768).
    table.push(Fixture {
        description: "a zero IPv4 UDP checksum stays zero after NAT",
        steps: vec![(
            1,
            PacketBuilder::udp4(client4(9), VIP4, 10009, 5684).zero_udp_checksum().payload(&record(2, 9)).macs(GATEWAY_MAC, BALANCER_MAC).build(),
            Expect::Exact(
                PacketBuilder::udp4(client4(9), node4(2), 10009, 5684)
                    .zero_udp_checksum()
                    .ttl(63)
                    .payload(&record(2, 9))
                    .macs(BALANCER_MAC, node_mac(0x12))
                    .build(),
            ),
        )],
    });
    // 802.1Q: the tag is kept.
    table.push(Fixture {
        description: "a VLAN-tagged CID record is forwarded with its tag",
        steps: vec![(
            1,
            PacketBuilder::udp4(client4(4), VIP4, 10004, 5684).vlan(100).payload(&record(1, 4)).macs(GATEWAY_MAC, BALANCER_MAC).build(),
            Expect::Exact(
                PacketBuilder::udp4(client4(4), node4(1), 10004, 5684)
                    .vlan(100)
                    .ttl(63)
                    .payload(&record(1, 4))
                    .macs(BALANCER_MAC, node_mac(0x11))
                    .build(),
            ),
        )],
    });
    // Echo to the VIPs and to the balancer's own address: answered back to the client.
    for (description, request, client) in [
        ("ICMP echo to the IPv4 VIP is answered", PacketBuilder::echo_request4(client4(1), VIP4, 7, 1), IpAddr::V4(client4(1))),
        (
            "ICMP echo to the balancer's address is answered",
            PacketBuilder::echo_request4(client4(1), Ipv4Addr::new(192, 0, 2, 1), 7, 2),
            IpAddr::V4(client4(1)),
        ),
        ("ICMPv6 echo to the IPv6 VIP is answered", PacketBuilder::echo_request6(client6(1), VIP6, 7, 3), IpAddr::V6(client6(1))),
    ] {
        table.push(Fixture { description, steps: vec![(1, request.macs(GATEWAY_MAC, BALANCER_MAC).build(), Expect::To(client))] });
    }
    table.push(Fixture {
        description: "a reply to the balancer's own address (a health probe's) goes to the control thread",
        steps: vec![(
            1,
            PacketBuilder::udp4(node4(1), Ipv4Addr::new(192, 0, 2, 1), 5683, 40001)
                .payload(&[0x70, 0x00, 0x12, 0x34])
                .macs(node_mac(0x11), BALANCER_MAC)
                .build(),
            Expect::Consumed,
        )],
    });
    // IPv6 flow labels, extension headers, fragments, relabels: their own tests below.
    table
}

#[test]
fn fixture_table() {
    for fixture in fixtures() {
        let mut harness = Harness::demo();
        for (i, (at, input, expect)) in fixture.steps.iter().enumerate() {
            let outcome = harness.send(at * S, input);
            let context = format!("{} (step {i})", fixture.description);
            match expect {
                Expect::Exact(bytes) => match &outcome {
                    Outcome::Sent(frames) => {
                        assert_eq!(frames.len(), 1, "{context}");
                        assert_eq!(hex(&frames[0]), hex(bytes), "{context}");
                    }
                    other => panic!("{context}: expected a frame, got {other:?}"),
                },
                Expect::To(ip) => match &outcome {
                    Outcome::Sent(frames) => {
                        let parsed = wire::parse(&frames[0]).unwrap_or_else(|r| panic!("{context}: output does not parse: {r:?}"));
                        assert_eq!(parsed.dst_ip(), *ip, "{context}");
                        assert_eq!(&frames[0][6..12], &BALANCER_MAC, "{context}: source MAC");
                        assert_valid_checksums(&frames[0], &context);
                    }
                    other => panic!("{context}: expected a frame, got {other:?}"),
                },
                Expect::Dropped(reason) => assert_eq!(outcome, Outcome::Dropped(*reason), "{context}"),
                Expect::Consumed => assert_eq!(outcome, Outcome::Consumed, "{context}"),
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Verify IPv4 header and UDP/TCP/ICMP checksums of an output frame from scratch.
fn assert_valid_checksums(frame: &[u8], context: &str) {
    let parsed = wire::parse(frame).expect("parse");
    assert!(wire::checksum::verify_frame(frame, &parsed), "{context}: a checksum is wrong");
}

#[test]
fn handshake_sticks_for_the_timeout_then_is_chosen_again() {
    let mut h = Harness::demo();
    let hello = profiles::handshake_packet(11, 10011);
    let first = h.forward(S, &hello);
    let node = wire::parse(&first).unwrap().dst_ip();
    for t in [2, 5, 10, 16] {
        let again = h.forward(t * S, &hello);
        assert_eq!(wire::parse(&again).unwrap().dst_ip(), node, "still sticky at {t}s (idle < 15 s each time)");
    }
    assert_eq!(h.counters.sessions_created.get(), 1);
    // 15 s of silence: the session is gone; Maglev chooses again (the same node: the same
    // key on the same table) and a new session is created.
    let later = h.forward(32 * S, &hello);
    assert_eq!(wire::parse(&later).unwrap().dst_ip(), node);
    assert_eq!(h.counters.sessions_created.get(), 2, "a new session after the timeout");
}

#[test]
fn cid_records_reach_their_node_after_the_handshake_session_expired() {
    let mut h = Harness::demo();
    let hello = profiles::handshake_packet(12, 10012);
    let handshake_node = wire::parse(&h.forward(S, &hello)).unwrap().dst_ip();
    let IpAddr::V4(v4) = handshake_node else { panic!() };
    let node_id = v4.octets()[3] - 10;
    // 60 s later, from another source port (NAT rebinding): stateless by CID.
    let record = dtls::cid_record(&cid_for(node_id, 12), 1, 9, &[0xab; 32]);
    let out = h.forward(61 * S, &from_client4(12, 31012, 5684, &record));
    assert_eq!(wire::parse(&out).unwrap().dst_ip(), handshake_node);
    assert_eq!(h.counters.cid_forwarded.get(), 1);
}

#[test]
fn flow_label_flows_with_extension_headers_stick_and_survive_a_relabel() {
    let mut h = Harness::demo();
    let nodes = [IpAddr::V6(node6(0x21)), IpAddr::V6(node6(0x22))];
    let segment = |label: u32| {
        PacketBuilder::tcp6(client6(3), VIP6, 40003, 443)
            .flow_label(label)
            .ext_headers(&[ExtensionHeader::HopByHop(vec![0; 6]), ExtensionHeader::DestinationOptions(vec![0; 6])])
            .payload(&[1; 20])
            .macs(GATEWAY_MAC, BALANCER_MAC)
            .build()
    };
    let first = h.forward(S, &segment(0x12345));
    let node = wire::parse(&first).unwrap().dst_ip();
    assert!(nodes.contains(&node));
    assert_valid_checksums(&first, "flow label NAT");
    assert_eq!(wire::parse(&first).unwrap().flow_label, 0x12345, "the label is not touched");
    for i in 0..5 {
        assert_eq!(wire::parse(&h.forward(S + i, &segment(0x12345))).unwrap().dst_ip(), node);
    }
    // Linux relabels after a retransmission timeout: same 5-tuple, new label, same node.
    for label in [0x54321, 0xabcde, 0x00777] {
        assert_eq!(wire::parse(&h.forward(2 * S, &segment(label))).unwrap().dst_ip(), node, "relabel to {label:#x}");
    }
    assert_eq!(h.counters.relabels.get(), 3);
    // Many labelled flows spread over both nodes.
    let mut seen = std::collections::HashSet::new();
    for f in 0..64 {
        seen.insert(wire::parse(&h.forward(3 * S, &profiles::label_tcp_packet(100 + f, 0x1000 + f, 10))).unwrap().dst_ip());
    }
    assert_eq!(seen.len(), 2, "both nodes get flows");
}

/// Reassemble IPv6 or IPv4 fragments (same flow, in order) and return the upper-layer bytes.
fn reassemble(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut pieces: Vec<(u16, Vec<u8>)> = frames
        .iter()
        .map(|f| {
            let p = wire::parse(f).unwrap();
            let frag = p.frag.expect("a fragment");
            (frag.offset, f[p.l4_offset as usize..p.ip_end()].to_vec())
        })
        .collect();
    pieces.sort_by_key(|p| p.0);
    let mut out = Vec::new();
    for (offset, bytes) in pieces {
        assert_eq!(out.len(), offset as usize * 8, "contiguous fragments");
        out.extend(bytes);
    }
    out
}

#[test]
fn fragments_labelled_and_unlabelled_follow_their_flow_and_reassemble_intact() {
    for label in [0x5000u32, 0] {
        let mut h = Harness::demo();
        let fragments = profiles::label_udp_fragments(77, label, 3000, 1280, 0xabc);
        assert!(fragments.len() >= 3);
        let out: Vec<Vec<u8>> = fragments.iter().map(|f| h.forward(S, f)).collect();
        let nodes: std::collections::HashSet<IpAddr> = out.iter().map(|f| wire::parse(f).unwrap().dst_ip()).collect();
        assert_eq!(nodes.len(), 1, "label {label:#x}: every fragment on one node");
        // Reassembled: the UDP datagram is intact and its checksum (over the node's address)
        // is right.
        let udp = reassemble(&out);
        let first = wire::parse(&out[0]).unwrap();
        let IpAddr::V6(dst) = first.dst_ip() else { panic!() };
        let IpAddr::V6(src) = first.src_ip() else { panic!() };
        assert!(wire::checksum::verify_udp6(&src.octets(), &dst.octets(), &udp), "label {label:#x}: reassembled UDP checksum");
        assert_eq!(&udp[8..], &vec![0x42; 3000][..]);
        if label == 0 {
            assert_eq!(h.counters.fragments_forwarded.get(), fragments.len() as u64 - 1);
        }
    }
}

#[test]
fn ipv4_fragments_follow_the_first_and_strays_are_counted() {
    let mut h = Harness::demo();
    let big = PacketBuilder::udp4(client4(8), VIP4, 10008, 5683).identification(0x4242).payload(&[0x33; 2500]).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let fragments = cidlb_dataplane::wire::build::fragment(&big, 1000, 0x4242);
    assert_eq!(fragments.len(), 3);
    let out: Vec<Vec<u8>> = fragments.iter().map(|f| h.forward(S, f)).collect();
    let nodes: std::collections::HashSet<IpAddr> = out.iter().map(|f| wire::parse(f).unwrap().dst_ip()).collect();
    assert_eq!(nodes.len(), 1);
    for f in &out {
        let p = wire::parse(f).unwrap();
        assert_eq!(p.l3, L3::Ipv4);
        assert!(wire::checksum::verify_frame(f, &p), "IPv4 header checksum of each fragment");
    }
    // A later fragment of a datagram whose first fragment was never seen.
    let stray = cidlb_dataplane::wire::build::fragment(
        &PacketBuilder::udp4(client4(9), VIP4, 10009, 5683).identification(0x9999).payload(&[0x33; 2500]).macs(GATEWAY_MAC, BALANCER_MAC).build(),
        1000,
        0x9999,
    );
    assert_eq!(h.send(S, &stray[1]), Outcome::Dropped(DropReason::FragmentUnmatched));
}

#[test]
fn arp_and_neighbour_discovery_are_answered_for_our_addresses_and_vips() {
    let mut h = Harness::demo();
    for target in [VIP4, Ipv4Addr::new(192, 0, 2, 1)] {
        let request = wire::build::arp_request_frame(GATEWAY_MAC, Ipv4Addr::new(192, 0, 2, 254), target);
        let reply = h.forward(S, &request);
        let arp = wire::arp_summary(&reply).expect("an ARP reply");
        assert!(!arp.is_request);
        assert_eq!(arp.sender_ip, target);
        assert_eq!(arp.sender_mac, BALANCER_MAC);
        assert_eq!(&reply[0..6], &GATEWAY_MAC);
    }
    let other = wire::build::arp_request_frame(GATEWAY_MAC, Ipv4Addr::new(192, 0, 2, 254), Ipv4Addr::new(192, 0, 2, 77));
    assert_eq!(h.send(S, &other), Outcome::Dropped(DropReason::ArpIgnored));

    let solicitation = PacketBuilder::neighbor_solicitation(node6(0xfe), solicited_node(VIP6), VIP6, GATEWAY_MAC)
        .macs(GATEWAY_MAC, [0x33, 0x33, 0xff, 0, 0, 0x10])
        .ttl(255)
        .build();
    let advert = h.forward(S, &solicitation);
    let parsed = wire::parse(&advert).unwrap();
    let nd = wire::nd_summary(&parsed, &advert).expect("a neighbour advertisement");
    assert!(nd.is_advertisement);
    assert_eq!(nd.target, VIP6);
    assert_eq!(nd.link_layer, Some(BALANCER_MAC));
    assert!(wire::checksum::verify_frame(&advert, &parsed));
}

fn solicited_node(ip: Ipv6Addr) -> Ipv6Addr {
    let o = ip.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | o[13] as u16, u16::from_be_bytes([o[14], o[15]]))
}

#[test]
fn truncated_packets_of_every_header_type_are_dropped_with_a_reason() {
    let mut h = Harness::demo();
    let samples = vec![
        from_client4(1, 10001, 5684, &dtls::cid_record(&cid_for(1, 1), 1, 5, &[0xab; 32])),
        PacketBuilder::udp4(client4(1), VIP4, 1, 5684).vlan(5).ip_options(&[1, 1, 1, 1]).payload(&[1; 40]).macs(GATEWAY_MAC, BALANCER_MAC).build(),
        PacketBuilder::tcp6(client6(1), VIP6, 1, 443).flow_label(7).ext_headers(&[ExtensionHeader::HopByHop(vec![0; 6])]).macs(GATEWAY_MAC, BALANCER_MAC).build(),
        PacketBuilder::echo_request4(client4(1), VIP4, 1, 1).macs(GATEWAY_MAC, BALANCER_MAC).build(),
        PacketBuilder::echo_request6(client6(1), VIP6, 1, 1).macs(GATEWAY_MAC, BALANCER_MAC).build(),
        wire::build::arp_request_frame(GATEWAY_MAC, Ipv4Addr::new(192, 0, 2, 254), VIP4),
    ];
    let mut reasons = std::collections::BTreeSet::new();
    for sample in &samples {
        // Bytes past the IP packet (or ARP message) are Ethernet padding: cut before that.
        let meaningful = wire::parse(sample).expect("sample parses").ip_end();
        for len in 0..meaningful {
            match h.send(S, &sample[..len]) {
                Outcome::Dropped(reason) => {
                    reasons.insert(reason.name());
                }
                Outcome::Sent(frames) => panic!("a truncated frame ({len} of {meaningful}) was sent: {:?}", frames),
                Outcome::Consumed | Outcome::Held => panic!("a truncated frame was handed on"),
            }
            // The same cut with the IP length fields telling the truth about it: now the
            // upper-layer header itself is what is short.
            let parsed = wire::parse(sample).expect("sample parses");
            let l3 = parsed.l3_offset as usize;
            let header = if parsed.l3 == L3::Ipv6 { 40 } else { 20 };
            if parsed.l3 != L3::Arp && len >= l3 + header && len < parsed.l4_offset as usize + 20 {
                let mut cut = sample[..len].to_vec();
                match parsed.l3 {
                    L3::Ipv4 => cut[l3 + 2..l3 + 4].copy_from_slice(&((len - l3) as u16).to_be_bytes()),
                    _ => cut[l3 + 4..l3 + 6].copy_from_slice(&((len - l3 - 40) as u16).to_be_bytes()),
                }
                match h.send(S, &cut) {
                    Outcome::Dropped(reason) => {
                        reasons.insert(reason.name());
                    }
                    other => panic!("a consistent cut at {len} was not dropped: {other:?}"),
                }
            }
        }
    }
    for expected in ["ethernet_truncated", "ipv4_truncated", "ipv6_truncated", "udp_truncated", "tcp_truncated", "icmp_truncated", "arp_ignored"] {
        assert!(reasons.contains(expected), "no {expected} among {reasons:?}");
    }
}

#[test]
fn unknown_cid_can_fall_back_to_the_session_path() {
    let text = support::demo_config_text().replace("unknown_cid = \"drop\"", "unknown_cid = \"session\"");
    let mut h = Harness::new(support::config(&text));
    let record = dtls::cid_record(&cid_for(9, 1), 1, 5, &[0xab; 32]);
    let out = h.forward(S, &from_client4(1, 10001, 5684, &record));
    assert!(matches!(wire::parse(&out).unwrap().dst_ip(), IpAddr::V4(a) if (11..=13).contains(&a.octets()[3])));
    assert_eq!(h.counters.sessions_created.get(), 1);
}

#[test]
fn unresolved_next_hops_are_resolved_by_arp_and_held_frames_released() {
    // The demo config without the static neighbour entry for node 1.
    let text = support::demo_config_text().replace("[[neighbor]]\nip = \"192.0.2.11\"\nmac = \"02:00:00:00:00:11\"\n", "");
    assert!(!text.contains("192.0.2.11\"\nmac"), "entry removed");
    let mut h = Harness::new(support::config(&text));
    // The control thread asks for node 1 on its first tick: an ARP request goes out.
    let sent = h.tick(S / 2);
    let request = sent.iter().find_map(|f| wire::arp_summary(f)).expect("an ARP request for node 1");
    assert!(request.is_request);
    assert_eq!(request.target_ip, node4(1));
    assert_eq!(request.sender_ip, Ipv4Addr::new(192, 0, 2, 1));
    // A CID record for node 1 waits for the answer.
    let record = dtls::cid_record(&cid_for(1, 3), 1, 5, &[0xab; 32]);
    assert_eq!(h.send(S, &from_client4(3, 10003, 5684, &record)), Outcome::Held);
    assert_eq!(h.pump.pending(), 1);
    // Node 1 answers; the control thread learns and publishes; the held frame leaves.
    let mut reply = wire::build::arp_request_frame(node_mac(0x11), node4(1), Ipv4Addr::new(192, 0, 2, 1));
    reply[0..6].copy_from_slice(&BALANCER_MAC);
    reply[21] = 2; // ARP operation: reply
    reply[32..38].copy_from_slice(&BALANCER_MAC);
    assert_eq!(h.send(S + 1, &reply), Outcome::Consumed);
    let released = h.tick(S + 2);
    assert_eq!(released.len(), 1, "the held frame is sent once node 1 is resolved");
    assert_eq!(hex(&released[0]), hex(&nat4(3, 10003, 5684, 1, &record)));
    // A frame that waits too long is dropped and counted.
    let text = support::demo_config_text().replace("[[neighbor]]\nip = \"192.0.2.12\"\nmac = \"02:00:00:00:00:12\"\n", "");
    let mut h = Harness::new(support::config(&text));
    let record = dtls::cid_record(&cid_for(2, 3), 1, 5, &[0xab; 32]);
    assert_eq!(h.send(S, &from_client4(3, 10003, 5684, &record)), Outcome::Held);
    h.tick(S + cidlb_dataplane::worker::PENDING_TIMEOUT_NS);
    assert_eq!(h.pump.pending(), 0);
    assert_eq!(h.counters.drops[DropReason::NeighborUnresolved as usize].get(), 1);
}

/// Writes the fuzz seed corpus (issue 8) from this fixture table and the perf profiles, in
/// the formats of `fuzz/` (see `fuzz/src/lib.rs` for the pipeline's): run by
/// `scripts/fuzz-smoke.sh` with `CIDLB_FUZZ_SEEDS=fuzz/corpus`. Without the variable it only
/// checks that the seeds can be made.
#[test]
fn write_fuzz_seeds() {
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut sequences: Vec<Vec<Vec<u8>>> = Vec::new();
    for fixture in fixtures() {
        let steps: Vec<Vec<u8>> = fixture.steps.iter().map(|s| s.1.clone()).collect();
        frames.extend(steps.iter().cloned());
        sequences.push(steps);
    }
    frames.push(wire::build::arp_request_frame(GATEWAY_MAC, Ipv4Addr::new(192, 0, 2, 254), VIP4));
    frames.push(
        PacketBuilder::neighbor_solicitation(node6(0xfe), solicited_node(VIP6), VIP6, GATEWAY_MAC)
            .macs(GATEWAY_MAC, [0x33, 0x33, 0xff, 0, 0, 0x10])
            .ttl(255)
            .build(),
    );
    let params = profiles::ProfileParams { packets: 64, flows: 12, size: 40, seed: 8, gap_ns: 10_000, ..Default::default() };
    for (profile, _) in profiles::PROFILES {
        let packets: Vec<Vec<u8>> = profiles::generate(profile, &params).expect("profile").into_iter().map(|p| p.bytes).collect();
        for chunk in packets.chunks(24) {
            sequences.push(chunk.to_vec());
        }
        frames.extend(packets);
    }
    for label in [0x5000u32, 0] {
        let fragments = profiles::label_udp_fragments(5, label, 3000, 1280, 0xabc);
        frames.extend(fragments.iter().cloned());
        sequences.push(fragments);
    }
    frames.sort();
    frames.dedup();

    let mut corpus: Vec<(&str, Vec<u8>)> = Vec::new();
    for frame in &frames {
        corpus.push(("parse", frame.clone()));
        corpus.push(("arp_nd", frame.clone()));
        if let Ok(parsed) = wire::parse(frame) {
            let payload = parsed.udp_payload(frame);
            if !payload.is_empty() {
                corpus.push(("dtls_records", [&[6u8][..], payload].concat()));
            }
        }
    }
    for text in [support::demo_config_text(), std::fs::read_to_string(support::repo().join("config/examples/cidlb.toml")).unwrap()] {
        corpus.push(("config", text.into_bytes()));
    }
    // Pipeline: [config][health] then (u16 le length, time step, port, frame) per frame.
    for (i, sequence) in sequences.iter().enumerate() {
        for config in 0..7u8 {
            let health = if i % 3 == 0 { 0 } else { 1 << (i % 5) };
            let mut input = vec![config, health];
            for frame in sequence {
                let len = frame.len().min(2048) as u16;
                input.extend_from_slice(&len.to_le_bytes());
                input.extend_from_slice(&[1, 0]);
                input.extend_from_slice(&frame[..len as usize]);
            }
            corpus.push(("pipeline", input));
        }
    }
    assert!(corpus.iter().filter(|c| c.0 == "pipeline").count() >= 50);
    let Ok(dir) = std::env::var("CIDLB_FUZZ_SEEDS") else { return };
    for (i, (target, bytes)) in corpus.iter().enumerate() {
        let target_dir = std::path::Path::new(&dir).join(target);
        std::fs::create_dir_all(&target_dir).unwrap();
        std::fs::write(target_dir.join(format!("seed-{i:05}")), bytes).unwrap();
    }
    eprintln!("wrote {} seeds to {dir}", corpus.len());
}

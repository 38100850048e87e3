//! Hostile traffic (issue 8): floods that try to exhaust state, spoofed and random CIDs, and
//! a table of malformed headers with the exact fate of each. Everything runs through the
//! replay harness (the worker code `cidlb replay` and `cidlb run` use), time passed in.

mod support;

use cidlb_config::{MacAddr, UnknownCid};
use cidlb_dataplane::counters::{DropReason, WorkerCounters};
use cidlb_dataplane::frame::{Frame, VecFrame};
use cidlb_dataplane::session::SessionTable;
use cidlb_dataplane::snapshot::{NodeState, RuntimeState, Snapshot, SnapshotSource};
use cidlb_dataplane::wire::build::{self, dtls, ExtensionHeader, PacketBuilder};
use cidlb_dataplane::wire;
use cidlb_dataplane::worker::{Action, ControlRings, Worker, WorkerParams};
use cidlb_perf::profiles::{cid_for, client4, client6, BALANCER_MAC, GATEWAY_MAC, VIP4, VIP6};
use cidlb_perf::Rng;
use proptest::prelude::*;
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn node6(id: u16) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, id)
}
use std::sync::Arc;
use support::{Harness, Outcome};

const S: u64 = 1_000_000_000;
const US: u64 = 1_000;

fn node4(id: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + id)
}

/// The demo topology with small tables, so a flood overfills them many times over.
fn small_tables(sessions: u32, fragments: u32) -> Harness {
    let text = support::demo_config_text()
        .replace("sessions_per_worker = 65536", &format!("sessions_per_worker = {sessions}"))
        .replace("fragments_per_worker = 4096", &format!("fragments_per_worker = {fragments}"));
    Harness::new(support::config(&text))
}

fn destination(frame: &[u8]) -> IpAddr {
    wire::parse(frame).expect("output parses").dst_ip()
}

fn sent_to(outcome: &Outcome) -> Option<IpAddr> {
    match outcome {
        Outcome::Sent(frames) if frames.len() == 1 => Some(destination(&frames[0])),
        _ => None,
    }
}

fn random_source(rng: &mut Rng) -> Ipv4Addr {
    // Any unicast address: a spoofer chooses freely.
    Ipv4Addr::from((rng.next_u64() as u32 & 0x7fff_ffff) | 0x0100_0000)
}

fn cid_record_from(client: u32, source_port: u16, node: u8, sequence: u64) -> Vec<u8> {
    let record = dtls::cid_record(&cid_for(node, client), 1, sequence, &[0xab; 32]);
    PacketBuilder::udp4(client4(client), VIP4, source_port, 5684).payload(&record).macs(GATEWAY_MAC, BALANCER_MAC).build()
}

/// A spoofed flood of first ClientHellos (well formed, no cookie: what a spoofing sender can
/// send, as it never sees the HelloVerifyRequest) goes by Maglev and leaves the session table
/// untouched; a real client's second ClientHello (with the cookie) creates the session, on the
/// node its first one went to.
#[test]
fn first_client_hellos_take_no_session_and_the_cookie_flight_keeps_their_node() {
    const FLOOD: u32 = 5_000;
    let mut h = small_tables(1024, 256);
    let mut rng = Rng::new(0x4e110);
    let hello = |source: Ipv4Addr, port: u16, cookie: &[u8]| {
        PacketBuilder::udp4(source, VIP4, port, 5684).payload(&dtls::client_hello_with(&[], cookie)).macs(GATEWAY_MAC, BALANCER_MAC).build()
    };
    let mut nodes = HashSet::new();
    for i in 0..FLOOD {
        let source = random_source(&mut rng);
        let to = sent_to(&h.send(S + u64::from(i) * US, &hello(source, 1024 + (i % 60_000) as u16, &[]))).expect("forwarded");
        assert!(matches!(to, IpAddr::V4(a) if (11..=13).contains(&a.octets()[3])), "{to}");
        nodes.insert(to);
    }
    assert_eq!(nodes.len(), 3, "Maglev spreads them over the service's nodes");
    let c = &h.counters;
    assert_eq!(c.hello_forwarded.get(), u64::from(FLOOD));
    assert_eq!(c.sessions_created.get(), 0, "no session for a first ClientHello");
    assert_eq!(h.pump.worker.classifier.sessions.len(), 0);
    // A real client: first ClientHello, then the one with the cookie, then a retransmission.
    for client in 0..50u32 {
        let (source, port) = (client4(client), 20_000 + client as u16);
        let first = sent_to(&h.send(2 * S, &hello(source, port, &[]))).expect("first forwarded");
        let created = h.counters.sessions_created.get();
        let second = sent_to(&h.send(2 * S, &hello(source, port, &[0xc0; 32]))).expect("second forwarded");
        assert_eq!(second, first, "client {client}: the cookie flight goes where the first went");
        assert_eq!(h.counters.sessions_created.get(), created + 1, "the cookie flight creates the session");
        assert_eq!(sent_to(&h.send(2 * S, &hello(source, port, &[0xc0; 32]))), Some(first));
    }
    assert_eq!(h.counters.dropped_total(), 0);
}

/// A spoofed new-flow flood at a five-tuple service and at a dtls-cid service's handshake
/// path: the session table stays at its configured memory, `len() <= capacity`, evicts the
/// least recently used (counted in `sessions_evicted`), an active session refreshed during
/// the flood keeps its node, and every CID record interleaved with the flood reaches the node
/// its CID names.
#[test]
fn spoofed_new_flow_flood_is_bounded_and_leaves_the_cid_path_alone() {
    const FLOOD: u32 = 24_000;
    let mut h = small_tables(1024, 256);
    let (capacity, memory) = {
        let sessions = &h.pump.worker.classifier.sessions;
        (sessions.capacity(), sessions.memory_bytes())
    };
    assert_eq!(capacity, 1024);
    assert_eq!(memory, capacity * SessionTable::BYTES_PER_ENTRY, "72 bytes per entry, allocated once");

    let mut rng = Rng::new(0xf100d);
    // A legitimate client mid-handshake before the flood starts.
    let hello = cidlb_perf::profiles::handshake_packet(7, 10007);
    let handshake_node = sent_to(&h.send(S, &hello)).expect("handshake forwarded");
    let mut cid_records = 0u64;
    let mut now = S;
    for i in 0..FLOOD {
        now += 10 * US;
        let source = random_source(&mut rng);
        let source_port = 1024 + (rng.next_u64() % 60_000) as u16;
        let flood = if i % 2 == 0 {
            PacketBuilder::udp4(source, VIP4, source_port, 5683).payload(&[0x40, 1, 0, 1]).macs(GATEWAY_MAC, BALANCER_MAC).build()
        } else {
            PacketBuilder::udp4(source, VIP4, source_port, 5684)
                .payload(&dtls::client_hello(40))
                .macs(GATEWAY_MAC, BALANCER_MAC)
                .build()
        };
        let to = sent_to(&h.send(now, &flood)).expect("flood packets are still balanced");
        assert!(matches!(to, IpAddr::V4(a) if (11..=13).contains(&a.octets()[3])));
        if i % 10 == 0 {
            let node = 1 + (i / 10 % 3) as u8;
            let client = 100 + i % 50;
            let out = h.send(now, &cid_record_from(client, 20_000 + (i % 50) as u16, node, i as u64));
            assert_eq!(sent_to(&out), Some(IpAddr::V4(node4(node))), "CID record {i} during the flood");
            cid_records += 1;
            // The legitimate handshake goes on: refreshed, it is never the least recently used.
            assert_eq!(sent_to(&h.send(now, &hello)), Some(handshake_node), "active session kept at {i}");
        }
        if i % 1000 == 0 {
            let sessions = &h.pump.worker.classifier.sessions;
            assert!(sessions.len() <= sessions.capacity());
            assert_eq!(sessions.memory_bytes(), memory);
        }
    }
    let sessions = &h.pump.worker.classifier.sessions;
    let c = &h.counters;
    assert!(sessions.len() <= capacity);
    assert_eq!(sessions.memory_bytes(), memory, "memory stays at the configured bound");
    assert_eq!(c.cid_forwarded.get(), cid_records, "every CID record went by its CID");
    assert!(c.sessions_evicted.get() >= u64::from(FLOOD) - capacity as u64 - 8, "evictions counted: {}", c.sessions_evicted.get());
    assert_eq!(
        c.sessions_created.get() - c.sessions_evicted.get() - c.sessions_expired.get(),
        sessions.len() as u64,
        "created = live + evicted + expired"
    );
    assert_eq!(c.dropped_total(), 0, "nothing dropped");
}

/// Fragment floods: first fragments from spoofed sources fill the fragment table only to its
/// bound; non-first fragments with no first are each dropped and counted; a real fragmented
/// datagram sent after the flood still arrives whole at one node.
#[test]
fn fragment_floods_are_bounded_and_counted() {
    let mut h = small_tables(1024, 256);
    let memory = h.pump.worker.classifier.fragments.memory_bytes();
    let capacity = h.pump.worker.classifier.fragments.capacity();
    assert_eq!(memory, capacity * SessionTable::BYTES_PER_ENTRY);
    let mut rng = Rng::new(0xf4a6);
    let mut now = S;
    for i in 0..6_000u32 {
        now += 10 * US;
        let first = PacketBuilder::udp4(random_source(&mut rng), VIP4, 1024 + i as u16 % 50_000, 5683)
            .identification(rng.next_u64() as u16)
            .fragment_fields(0, true)
            .payload(&[0x11; 64])
            .macs(GATEWAY_MAC, BALANCER_MAC)
            .build();
        assert!(sent_to(&h.send(now, &first)).is_some(), "a first fragment is routed by its ports");
        let fragments = &h.pump.worker.classifier.fragments;
        assert!(fragments.len() <= fragments.capacity());
        assert_eq!(fragments.memory_bytes(), memory);
    }
    let unmatched_before = h.counters.drops[DropReason::FragmentUnmatched as usize].get();
    for i in 0..3_000u32 {
        now += 10 * US;
        let stray4 = PacketBuilder::raw4(random_source(&mut rng), VIP4, 17)
            .identification(rng.next_u64() as u16)
            .fragment_fields(1 + (i % 100) as u16, i % 2 == 0)
            .payload(&[0x22; 64])
            .macs(GATEWAY_MAC, BALANCER_MAC)
            .build();
        assert_eq!(h.send(now, &stray4), Outcome::Dropped(DropReason::FragmentUnmatched));
        let stray6 = PacketBuilder::raw6(client6(rng.next_u64() as u32), VIP6, 17)
            .ext_headers(&[ExtensionHeader::Fragment { offset: 1 + (i % 100) as u16, more: true, identification: rng.next_u64() as u32 }])
            .payload(&[0x22; 64])
            .macs(GATEWAY_MAC, BALANCER_MAC)
            .build();
        assert_eq!(h.send(now, &stray6), Outcome::Dropped(DropReason::FragmentUnmatched));
    }
    assert_eq!(h.counters.drops[DropReason::FragmentUnmatched as usize].get() - unmatched_before, 6_000, "every stray counted");
    // A genuine datagram after the flood: all its fragments on one node.
    let big = PacketBuilder::udp4(client4(8), VIP4, 10008, 5683).identification(0x4242).payload(&[0x33; 2500]).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let nodes: HashSet<IpAddr> = build::fragment(&big, 1000, 0x4242).iter().map(|f| sent_to(&h.send(now, f)).expect("forwarded")).collect();
    assert_eq!(nodes.len(), 1);
    assert_eq!(h.pump.worker.classifier.fragments.memory_bytes(), memory);
}

// ---------------------------------------------------------------------------------------
// Spoofed and random CIDs under every health state.

/// One worker over the demo config with `down` node ids marked down and `unknown_cid` set.
pub(crate) fn worker_with_health(down: &[u32], unknown_cid: UnknownCid) -> (Worker, Arc<Snapshot>) {
    let text = support::demo_config_text().replace(
        "unknown_cid = \"drop\"",
        if unknown_cid == UnknownCid::Drop { "unknown_cid = \"drop\"" } else { "unknown_cid = \"session\"" },
    );
    let config = support::config(&text);
    let mut runtime = RuntimeState::default();
    for id in down {
        runtime.health.insert(*id, NodeState::Down);
    }
    let macs = vec![MacAddr(BALANCER_MAC); config.port.len()];
    let key = config.dataplane.hash_key_bytes().expect("demo has a key");
    let snapshot = Snapshot::build_with(&config, &macs, 1, key, &runtime).expect("snapshot");
    let source = Arc::new(SnapshotSource::new(snapshot));
    let mut params = WorkerParams::from_config(0, &config.dataplane);
    params.sessions = 256;
    params.fragments = 64;
    let worker = Worker::new(params, Arc::clone(&source), Arc::new(WorkerCounters::default()), Arc::new(ControlRings::new(8)));
    (worker, source.load())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random CID bytes from random sources, under any health of nodes 1..3, with either
    /// `unknown_cid` policy: a record is forwarded only to a configured node of the service
    /// that is not down; to exactly the node its CID names when that node is up; otherwise it
    /// is dropped as `unknown_cid`, or (policy `session`) balanced over the nodes that are up.
    #[test]
    fn spoofed_cids_reach_only_configured_healthy_nodes(
        cid in any::<[u8; 6]>(),
        source in any::<u32>(),
        source_port in 1u16..,
        health in 0u8..8,
        session_fallback in any::<bool>(),
        body in 0usize..64,
    ) {
        let down: Vec<u32> = (1..=3u32).filter(|id| health & (1 << (id - 1)) != 0).collect();
        let policy = if session_fallback { UnknownCid::Session } else { UnknownCid::Drop };
        let (mut worker, snapshot) = worker_with_health(&down, policy);
        let record = dtls::cid_record(&cid, 1, 1, &vec![0xcc; body]);
        let input = PacketBuilder::udp4(Ipv4Addr::from(source), VIP4, source_port, 5684)
            .payload(&record)
            .macs(GATEWAY_MAC, BALANCER_MAC)
            .build();
        let mut frame = VecFrame::from_bytes(&input);
        let action = worker.process(S, 0, &mut frame);
        let named = u32::from(cid[0]);
        let named_is_up = (1..=3).contains(&named) && !down.contains(&named);
        let up: Vec<IpAddr> = (1..=3u8).filter(|id| !down.contains(&u32::from(*id))).map(|id| IpAddr::V4(node4(id))).collect();
        match action {
            Action::Transmit { .. } => {
                let to = destination(frame.data());
                prop_assert!(up.contains(&to), "forwarded to {to}, not a healthy node of the service");
                if named_is_up {
                    prop_assert_eq!(to, IpAddr::V4(node4(cid[0])));
                } else {
                    prop_assert!(session_fallback, "an unknown CID forwarded under unknown_cid = drop");
                }
                let node = snapshot.nodes.iter().find(|n| n.address.to_ip() == to).expect("a configured node");
                prop_assert_ne!(node.state, NodeState::Down);
            }
            Action::Drop(DropReason::UnknownCid) => prop_assert!(!named_is_up && !session_fallback),
            Action::Drop(DropReason::NoHealthyNode) => prop_assert!(!named_is_up && session_fallback && up.is_empty()),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Malformed headers: the exact fate of each.

#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Dropped(DropReason),
    /// Forwarded by its CID to this node.
    Cid(u8),
    /// Forwarded through the session path (a handshake, as far as the balancer can tell).
    Session,
    /// Forwarded to this address.
    To(IpAddr),
}

fn from_client(payload: &[u8]) -> PacketBuilder {
    PacketBuilder::udp4(client4(3), VIP4, 10003, 5684).payload(payload).macs(GATEWAY_MAC, BALANCER_MAC)
}

fn set16(frame: &mut [u8], at: usize, value: u16) {
    frame[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

fn records(count: usize, record: &[u8]) -> Vec<u8> {
    record.iter().copied().cycle().take(record.len() * count).collect()
}

fn v6_with(headers: &[ExtensionHeader]) -> Vec<u8> {
    PacketBuilder::udp6(client6(4), VIP6, 40004, 443).flow_label(0).ext_headers(headers).payload(&[5; 16]).macs(GATEWAY_MAC, BALANCER_MAC).build()
}

fn malformed_cases() -> Vec<(&'static str, Vec<u8>, Fate)> {
    let cid = |node: u8| dtls::cid_record(&cid_for(node, 3), 1, 9, &[0xab; 24]);
    let plain = || from_client(&cid(1)).build();
    let zero_length = dtls::record(23, 1, 1, &[]);
    let destination_options = |n: usize| vec![ExtensionHeader::DestinationOptions(vec![]); n];
    let mut cases: Vec<(&'static str, Vec<u8>, Fate)> = vec![
        ("a well-formed CID record (control case)", plain(), Fate::Cid(1)),
        ("13 bytes: shorter than an Ethernet header", plain()[..13].to_vec(), Fate::Dropped(DropReason::EthernetTruncated)),
        ("an 802.1Q tag cut off", plain()[..16].iter().copied().enumerate().map(|(i, b)| if i == 12 { 0x81 } else if i == 13 { 0 } else { b }).collect(), Fate::Dropped(DropReason::EthernetTruncated)),
        ("802.1ad + 802.1Q (QinQ) is forwarded", from_client(&cid(2)).outer_vlan(20).vlan(10).build(), Fate::Cid(2)),
        ("an unknown EtherType (LLDP)", { let mut f = plain(); set16(&mut f, 12, 0x88cc); f }, Fate::Dropped(DropReason::UnsupportedEthertype)),
        ("IPv4 shorter than 20 bytes", plain()[..14 + 19].to_vec(), Fate::Dropped(DropReason::Ipv4Truncated)),
        ("IPv4 IHL below 5", { let mut f = plain(); f[14] = 0x44; f }, Fate::Dropped(DropReason::Ipv4BadHeader)),
        ("IPv4 IHL (60 bytes) above the total length (40)", { let mut f = plain(); f[14] = 0x4f; set16(&mut f, 16, 40); f }, Fate::Dropped(DropReason::Ipv4BadHeader)),
        ("IPv4 total length beyond the frame", { let mut f = plain(); set16(&mut f, 16, 1400); f }, Fate::Dropped(DropReason::Ipv4BadHeader)),
        ("IPv4 version 6 under EtherType IPv4", { let mut f = plain(); f[14] = 0x65; f }, Fate::Dropped(DropReason::Ipv4BadHeader)),
        ("UDP length beyond the IP payload", { let mut f = plain(); let n = u16::from_be_bytes([f[38], f[39]]); set16(&mut f, 38, n + 1); f }, Fate::Dropped(DropReason::UdpTruncated)),
        ("UDP length below its header", { let mut f = plain(); set16(&mut f, 38, 7); f }, Fate::Dropped(DropReason::UdpTruncated)),
        ("TCP data offset below 5", { let mut f = PacketBuilder::tcp4(client4(3), VIP4, 1, 5683).macs(GATEWAY_MAC, BALANCER_MAC).build(); f[14 + 20 + 12] = 0x40; f }, Fate::Dropped(DropReason::TcpTruncated)),
        ("TCP data offset beyond the segment", { let mut f = PacketBuilder::tcp6(client6(3), VIP6, 1, 443).macs(GATEWAY_MAC, BALANCER_MAC).build(); f[14 + 40 + 12] = 0xf0; f }, Fate::Dropped(DropReason::TcpTruncated)),
        ("ICMP header cut, lengths consistent", { let mut f = PacketBuilder::echo_request4(client4(3), VIP4, 1, 1).macs(GATEWAY_MAC, BALANCER_MAC).build(); f.truncate(14 + 20 + 3); set16(&mut f, 16, 23); f }, Fate::Dropped(DropReason::IcmpTruncated)),
        ("IPv4 TTL 1", from_client(&cid(1)).ttl(1).build(), Fate::Dropped(DropReason::TtlExceeded)),
        ("IPv4 TTL 0", from_client(&cid(1)).ttl(0).build(), Fate::Dropped(DropReason::TtlExceeded)),
        ("IPv6 hop limit 1", PacketBuilder::tcp6(client6(3), VIP6, 1, 443).flow_label(9).ttl(1).macs(GATEWAY_MAC, BALANCER_MAC).build(), Fate::Dropped(DropReason::TtlExceeded)),
        ("IPv6 shorter than 40 bytes", v6_with(&[])[..14 + 39].to_vec(), Fate::Dropped(DropReason::Ipv6Truncated)),
        ("IPv6 payload length beyond the frame", { let mut f = v6_with(&[]); set16(&mut f, 18, 1000); f }, Fate::Dropped(DropReason::Ipv6BadHeader)),
        ("IPv6 version 4 under EtherType IPv6", { let mut f = v6_with(&[]); f[14] = 0x40; f }, Fate::Dropped(DropReason::Ipv6BadHeader)),
        ("8 extension headers: at the limit, forwarded", v6_with(&destination_options(8)), Fate::Session),
        ("9 extension headers: over the limit", v6_with(&destination_options(9)), Fate::Dropped(DropReason::Ipv6ExtensionChainTooLong)),
        ("a looping chain: routing headers naming routing headers, 40 deep", v6_with(&vec![ExtensionHeader::Routing { routing_type: 0, segments_left: 0, data: vec![] }; 40]), Fate::Dropped(DropReason::Ipv6ExtensionChainTooLong)),
        ("an extension header running past the packet", { let mut f = v6_with(&destination_options(1)); f[14 + 40 + 1] = 200; f }, Fate::Dropped(DropReason::Ipv6ExtensionTruncated)),
        ("an extension header cut, lengths consistent", { let mut f = v6_with(&destination_options(1)); f.truncate(14 + 40 + 4); set16(&mut f, 18, 4); f }, Fate::Dropped(DropReason::Ipv6ExtensionTruncated)),
        ("a DTLS CID record cut inside its CID", { let r = cid(1); from_client(&r[..14]).build() }, Fate::Dropped(DropReason::CidTruncated)),
        ("a DTLS CID record whose length overruns the datagram", { let mut r = cid(1); let at = 11 + 6; set16(&mut r, at, 500); from_client(&r).build() }, Fate::Dropped(DropReason::CidTruncated)),
        ("a handshake record whose length overruns: the session path", { let mut r = dtls::client_hello(20); set16(&mut r, 11, 900); from_client(&r).build() }, Fate::Session),
        ("15 zero-length records, then the CID record (16th): routed by CID", from_client(&[records(15, &zero_length), cid(3)].concat()).build(), Fate::Cid(3)),
        ("16 zero-length records, then the CID record (17th): the walk stops, session path", from_client(&[records(16, &zero_length), cid(3)].concat()).build(), Fate::Session),
        ("a zero-length CID record still names its node", from_client(&dtls::cid_record(&cid_for(2, 3), 1, 1, &[])).build(), Fate::Cid(2)),
        ("a CID record of DTLS 1.0: not routed by CID", { let mut r = cid(1); r[2] = 0xff; from_client(&r).build() }, Fate::Session),
        ("a CID naming no configured node", from_client(&cid(77)).build(), Fate::Dropped(DropReason::UnknownCid)),
        ("an empty UDP payload: the session path", from_client(&[]).build(), Fate::Session),
        ("to a VIP port with no service", PacketBuilder::udp4(client4(3), VIP4, 1, 9).macs(GATEWAY_MAC, BALANCER_MAC).build(), Fate::Dropped(DropReason::NoService)),
        ("a non-first IPv4 fragment without its first", PacketBuilder::raw4(client4(3), VIP4, 17).fragment_fields(10, false).payload(&[1; 32]).macs(GATEWAY_MAC, BALANCER_MAC).build(), Fate::Dropped(DropReason::FragmentUnmatched)),
        ("ARP for hardware type 6 (IEEE 802)", { let mut f = build::arp_request_frame(GATEWAY_MAC, Ipv4Addr::new(192, 0, 2, 254), VIP4); set16(&mut f, 14, 6); f }, Fate::Dropped(DropReason::ArpIgnored)),
        ("to an address that is not ours", PacketBuilder::udp4(client4(3), Ipv4Addr::new(203, 0, 113, 200), 1, 5684).macs(GATEWAY_MAC, BALANCER_MAC).build(), Fate::Dropped(DropReason::NotForUs)),
        ("unicast to another MAC", PacketBuilder::udp4(client4(3), VIP4, 1, 5684).macs(GATEWAY_MAC, [2, 0, 0, 0, 0, 0x99]).build(), Fate::Dropped(DropReason::NotOurMac)),
    ];
    // Three VLAN tags (802.1ad, 802.1Q, 802.1Q): never more than two are read.
    let mut triple = from_client(&cid(1)).outer_vlan(20).vlan(10).build();
    triple.splice(20..20, [0x81, 0x00, 0x00, 0x05]);
    cases.push(("three VLAN tags", triple, Fate::Dropped(DropReason::UnsupportedEthertype)));
    cases
}

/// Every malformed case meets exactly its fate, and the fate is counted: a drop under its
/// reason, a forward under the CID or session counter.
#[test]
fn malformed_headers_each_meet_their_exact_fate() {
    let mut failures = Vec::new();
    for (description, frame, fate) in malformed_cases() {
        let mut h = Harness::demo();
        let cid_before = h.counters.cid_forwarded.get();
        let session_before = h.counters.session_forwarded.get();
        let outcome = h.send(S, &frame);
        let got = match &outcome {
            Outcome::Dropped(reason) => {
                assert_eq!(h.counters.drops[*reason as usize].get(), 1, "{description}: counted once");
                Fate::Dropped(*reason)
            }
            Outcome::Sent(frames) if frames.len() == 1 => {
                let to = destination(&frames[0]);
                if h.counters.cid_forwarded.get() > cid_before {
                    match to {
                        IpAddr::V4(a) => Fate::Cid(a.octets()[3] - 10),
                        other => Fate::To(other),
                    }
                } else if h.counters.session_forwarded.get() > session_before {
                    Fate::Session
                } else {
                    Fate::To(to)
                }
            }
            other => panic!("{description}: {other:?}"),
        };
        if got != fate {
            failures.push(format!("{description}: expected {fate:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert!(malformed_cases().len() >= 40);
}

// ---------------------------------------------------------------------------------------
// The whole pipeline, as properties.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any health of the five demo nodes, any new flow of the session services (IPv4
    /// five-tuple, IPv6 flow label with or without a label, UDP or TCP): forwarded only to a
    /// node of that service that is not down, else dropped as `no_healthy_node` exactly when
    /// every node of the service is down.
    #[test]
    fn session_services_never_pick_a_down_node_or_one_outside_the_service(
        health in 0u8..32,
        source in any::<[u8; 16]>(),
        source_port in 1u16..,
        label in 0u32..0x100000,
        v6 in any::<bool>(),
        tcp in any::<bool>(),
    ) {
        let ids = [1u32, 2, 3, 21, 22];
        let down: Vec<u32> = ids.iter().enumerate().filter(|(i, _)| health & (1 << i) != 0).map(|(_, id)| *id).collect();
        let (mut worker, _) = worker_with_health(&down, UnknownCid::Drop);
        let (input, members): (Vec<u8>, Vec<IpAddr>) = if v6 {
            let b = if tcp { PacketBuilder::tcp6(source, VIP6, source_port, 443) } else { PacketBuilder::udp6(source, VIP6, source_port, 443) };
            (b.flow_label(label).payload(&[1; 20]).macs(GATEWAY_MAC, BALANCER_MAC).build(), [21u32, 22].iter().filter(|id| !down.contains(id)).map(|id| IpAddr::V6(node6(if *id == 21 { 0x21 } else { 0x22 }))).collect())
        } else {
            let s4 = [source[0], source[1], source[2], source[3]];
            (PacketBuilder::udp4(s4, VIP4, source_port, 5683).payload(&[1; 20]).macs(GATEWAY_MAC, BALANCER_MAC).build(), [1u8, 2, 3].iter().filter(|id| !down.contains(&u32::from(**id))).map(|id| IpAddr::V4(node4(*id))).collect())
        };
        let mut frame = VecFrame::from_bytes(&input);
        match worker.process(S, 0, &mut frame) {
            Action::Transmit { .. } => {
                let to = destination(frame.data());
                prop_assert!(members.contains(&to), "{} is down or not in the service", to);
                let parsed = wire::parse(frame.data()).unwrap();
                prop_assert!(wire::checksum::verify_frame(frame.data(), &parsed));
            }
            Action::Drop(DropReason::NoHealthyNode) => prop_assert!(members.is_empty()),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// NAT then reverse NAT round-trips: a client's datagram to the VIP reaches a node with
    /// only the destination and TTL changed, and the node's answer leaves with the VIP as its
    /// source, byte for byte what a packet from the VIP would be (checksums included).
    #[test]
    fn nat_then_reverse_nat_round_trips(
        client in any::<u32>(),
        source_port in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        answer in proptest::collection::vec(any::<u8>(), 0..200),
        v6 in any::<bool>(),
        label in 0u32..0x100000,
    ) {
        let mut h = Harness::demo();
        if v6 {
            let client = client6(client);
            let request = PacketBuilder::udp6(client, VIP6, source_port, 443).flow_label(label).payload(&payload);
            let out = h.forward(S, &request.clone().macs(GATEWAY_MAC, BALANCER_MAC).build());
            let IpAddr::V6(node) = destination(&out) else { panic!("v6 node") };
            let node_mac = [2, 0, 0, 0, 0, node.octets()[15]];
            prop_assert_eq!(&out, &PacketBuilder::udp6(client, node, source_port, 443).flow_label(label).payload(&payload).ttl(63).macs(BALANCER_MAC, node_mac).build());
            let reply = PacketBuilder::udp6(node, client, 443, source_port).payload(&answer).macs(node_mac, BALANCER_MAC).build();
            let back = h.forward(S + 1, &reply);
            prop_assert_eq!(back, PacketBuilder::udp6(VIP6, client, 443, source_port).payload(&answer).ttl(63).macs(BALANCER_MAC, GATEWAY_MAC).build());
        } else {
            let client = client4(client);
            let request = PacketBuilder::udp4(client, VIP4, source_port, 5683).payload(&payload).macs(GATEWAY_MAC, BALANCER_MAC).build();
            let out = h.forward(S, &request);
            let IpAddr::V4(node) = destination(&out) else { panic!("v4 node") };
            let node_mac = [2, 0, 0, 0, 0, 0x10 + node.octets()[3] - 10];
            prop_assert_eq!(&out, &PacketBuilder::udp4(client, node, source_port, 5683).payload(&payload).ttl(63).macs(BALANCER_MAC, node_mac).build());
            let reply = PacketBuilder::udp4(node, client, 5683, source_port).payload(&answer).macs(node_mac, BALANCER_MAC).build();
            let back = h.forward(S + 1, &reply);
            prop_assert_eq!(back, PacketBuilder::udp4(VIP4, client, 5683, source_port).payload(&answer).ttl(63).macs(BALANCER_MAC, GATEWAY_MAC).build());
        }
    }
}

/// The perf `flood` profile through the harness: every CID record reaches its node, every
/// spoofed flow is balanced, the table holds its bound. (Its throughput against the `cid`
/// profile's is measured by the perf harness.)
#[test]
fn perf_flood_profile_keeps_cid_records_on_their_nodes() {
    let mut h = small_tables(512, 64);
    let params = cidlb_perf::profiles::ProfileParams { packets: 4_000, flows: 100, size: 40, seed: 3, gap_ns: 1_000, ..Default::default() };
    let packets = cidlb_perf::profiles::generate("flood", &params).expect("flood profile");
    let mut cid_records = 0;
    for packet in &packets {
        let parsed = wire::parse(&packet.bytes).unwrap();
        let payload = parsed.udp_payload(&packet.bytes);
        let named = wire::dtls::first_cid(payload, 6).ok().flatten().map(|cid| cid[0]);
        let to = sent_to(&h.send(packet.timestamp_ns, &packet.bytes)).expect("forwarded");
        if let Some(node) = named {
            assert_eq!(to, IpAddr::V4(node4(node)));
            cid_records += 1;
        }
    }
    assert_eq!(cid_records, 3_000);
    assert_eq!(h.counters.cid_forwarded.get(), 3_000);
    assert!(h.counters.sessions_evicted.get() > 0);
    let sessions = &h.pump.worker.classifier.sessions;
    assert!(sessions.len() <= sessions.capacity());
}

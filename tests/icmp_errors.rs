//! ICMP errors about a VIP's flows (issue 4, item 3): a router that cannot deliver a node's
//! reply tells the VIP; the balancer hands the error to the node serving the flow (NAT mode:
//! the quoted header translated back to the node), or to every node when the flow is unknown.
//! Expected packets are built from scratch, so a byte match proves every checksum.

mod support;

use cidlb_dataplane::counters::DropReason;
use cidlb_dataplane::wire::build::{dtls, PacketBuilder};
use cidlb_dataplane::wire::{self, L3};
use cidlb_perf::profiles::{self, client4, client6, BALANCER_MAC, GATEWAY_MAC, VIP4, VIP6};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use support::{node_mac, Harness, Outcome};

const S: u64 = 1_000_000_000;
const ROUTER4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xff, 0, 0, 0, 0, 1);

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// "Fragmentation needed" from a router about `quoted` (an IP packet), RFC 1191.
fn frag_needed(quoted: &[u8], to: Ipv4Addr) -> PacketBuilder {
    PacketBuilder::icmp4(ROUTER4, to, 3, 4, [0, 0, 0x05, 0x78]).payload(&quoted[..28])
}

fn node4(id: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + id)
}

#[test]
fn nat_mode_error_reaches_the_session_node_with_the_quote_translated() {
    let mut h = Harness::demo();
    // Client 11's handshake made a session; its node is where the error must go.
    let first = h.forward(S, &profiles::handshake_packet(11, 10011));
    let IpAddr::V4(node) = wire::parse(&first).unwrap().dst_ip() else { panic!() };
    let node_id = node.octets()[3] - 10;
    // The node's reply as it left the balancer (source = VIP), and as the node sent it.
    let reply_payload = dtls::record(22, 0, 1, &[0x0e; 40]);
    let reply_as_sent_by_vip = PacketBuilder::udp4(VIP4, client4(11), 5684, 10011).ttl(60).payload(&reply_payload).build_ip();
    let reply_as_node_sent = PacketBuilder::udp4(node, client4(11), 5684, 10011).ttl(60).payload(&reply_payload).build_ip();
    let error = frag_needed(&reply_as_sent_by_vip, VIP4).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let out = h.forward(2 * S, &error);
    let expected = frag_needed(&reply_as_node_sent, node).ttl(63).macs(BALANCER_MAC, node_mac(0x10 + node_id)).build();
    assert_eq!(hex(&out), hex(&expected));
    assert_eq!(h.counters.icmp_errors_delivered.get(), 1);
}

#[test]
fn an_error_about_an_unknown_flow_goes_to_every_node_and_is_rate_limited() {
    let mut h = Harness::demo();
    let quoted = PacketBuilder::udp4(VIP4, client4(99), 5684, 20099).payload(&[1; 40]).build_ip();
    let error = frag_needed(&quoted, VIP4).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let frames = match h.send(S, &error) {
        Outcome::Sent(frames) => frames,
        other => panic!("expected copies, got {other:?}"),
    };
    let nodes: BTreeSet<IpAddr> = frames.iter().map(|f| wire::parse(f).unwrap().dst_ip()).collect();
    assert_eq!(nodes, (1..=3).map(|i| IpAddr::V4(node4(i))).collect::<BTreeSet<_>>(), "every node of the service");
    for f in &frames {
        let p = wire::parse(f).unwrap();
        assert!(wire::checksum::verify_frame(f, &p), "ICMP checksum over the translated quote");
        let quoted = wire::embedded(&p, f).unwrap();
        assert_eq!(&quoted.src[..4], &match p.dst_ip() {
            IpAddr::V4(a) => a.octets(),
            _ => unreachable!(),
        }, "each copy's quote names its own node");
    }
    // 100 broadcasts per second per worker (icmp_errors_per_second): the 101st is dropped.
    for _ in 1..100 {
        assert!(matches!(h.send(S, &error), Outcome::Sent(_)));
    }
    assert_eq!(h.send(S, &error), Outcome::Dropped(DropReason::IcmpRateLimited));
}

#[test]
fn packet_too_big_for_an_ipv6_flow_label_flow_reaches_its_node() {
    let mut h = Harness::demo();
    let segment = PacketBuilder::tcp6(client6(3), VIP6, 40003, 443).flow_label(0x777).payload(&[5; 100]).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let IpAddr::V6(node) = wire::parse(&h.forward(S, &segment)).unwrap().dst_ip() else { panic!() };
    let reply_from_vip = PacketBuilder::tcp6(VIP6, client6(3), 443, 40003).flow_label(0x999).payload(&[6; 1400]).build_ip();
    let reply_from_node = PacketBuilder::tcp6(node, client6(3), 443, 40003).flow_label(0x999).payload(&[6; 1400]).build_ip();
    let quote = |ip: &[u8]| ip[..1280 - 48].to_vec();
    let ptb = |to: Ipv6Addr, quoted: &[u8], ttl: u8| PacketBuilder::icmp6(ROUTER6, to, 2, 0, 1280u32.to_be_bytes()).ttl(ttl).payload(&quote(quoted));
    let out = h.forward(2 * S, &ptb(VIP6, &reply_from_vip, 64).macs(GATEWAY_MAC, BALANCER_MAC).build());
    let node_last = node.octets()[15];
    let expected = ptb(node, &reply_from_node, 63).macs(BALANCER_MAC, node_mac(node_last)).build();
    assert_eq!(hex(&out), hex(&expected));
    assert_eq!(wire::parse(&out).unwrap().l3, L3::Ipv6);
}

#[test]
fn errors_that_are_not_about_a_vip_flow_are_dropped() {
    let mut h = Harness::demo();
    // The quote is about some other address: nothing to do with us.
    let quoted = PacketBuilder::udp4(Ipv4Addr::new(192, 0, 2, 99), client4(1), 5684, 1).payload(&[0; 8]).build_ip();
    assert_eq!(h.send(S, &frag_needed(&quoted, VIP4).macs(GATEWAY_MAC, BALANCER_MAC).build()), Outcome::Dropped(DropReason::IcmpIgnored));
    // A quote about a port with no service.
    let quoted = PacketBuilder::udp4(VIP4, client4(1), 9999, 1).payload(&[0; 8]).build_ip();
    assert_eq!(h.send(S, &frag_needed(&quoted, VIP4).macs(GATEWAY_MAC, BALANCER_MAC).build()), Outcome::Dropped(DropReason::NoService));
    // A quote cut short of an IP header.
    let short = PacketBuilder::icmp4(ROUTER4, VIP4, 3, 4, [0, 0, 5, 0x78]).payload(&[0x45, 0, 0]).macs(GATEWAY_MAC, BALANCER_MAC).build();
    assert_eq!(h.send(S, &short), Outcome::Dropped(DropReason::IcmpIgnored));
}

//! Generated traffic. Addresses match `examples/demo.toml` and the bench configs: clients
//! behind the gateway (MAC 02:00:00:00:00:fe) send to the balancer (MAC 02:00:00:00:00:01).
//! All addresses are documentation ranges (RFC 5737, RFC 3849); the captures only ever go
//! through DPDK virtual devices and replay.

use crate::Rng;
use cidlb_dataplane::io::pcap::CapturedPacket;
use cidlb_dataplane::wire::build::{self, dtls, ExtensionHeader, PacketBuilder};
use std::net::{Ipv4Addr, Ipv6Addr};

pub const BALANCER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
pub const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10);
pub const COAPS_PORT: u16 = 5684;
pub const COAP_PORT: u16 = 5683;
pub const WEB6_PORT: u16 = 443;
/// Node ids of the demo's IPv4 nodes (CID byte 0) and their addresses.
pub const NODES4: [(u8, Ipv4Addr); 3] =
    [(1, Ipv4Addr::new(192, 0, 2, 11)), (2, Ipv4Addr::new(192, 0, 2, 12)), (3, Ipv4Addr::new(192, 0, 2, 13))];

/// A client address in 198.51.100.0/24 or 203.0.113.0/24.
pub fn client4(i: u32) -> Ipv4Addr {
    let net = if i.is_multiple_of(2) { [198, 51, 100] } else { [203, 0, 113] };
    Ipv4Addr::new(net[0], net[1], net[2], (1 + (i / 2) % 250) as u8)
}

/// A client address in 2001:db8:100::/48.
pub fn client6(i: u32) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0x100, (i >> 16) as u16, 0, 0, 0, (i & 0xffff) as u16 + 1)
}

/// A 6-byte Californium-style CID: node id in byte 0, the rest per client.
pub fn cid_for(node: u8, client: u32) -> [u8; 6] {
    let c = client.to_be_bytes();
    [node, 0xc1, c[0], c[1], c[2], c[3]]
}

fn from_gateway(b: PacketBuilder) -> PacketBuilder {
    b.macs(GATEWAY_MAC, BALANCER_MAC)
}

/// A DTLS 1.2 record with a CID from `client` for `node`, `size` bytes of ciphertext.
pub fn cid_packet(client: u32, source_port: u16, node: u8, sequence: u64, size: usize) -> Vec<u8> {
    let record = dtls::cid_record(&cid_for(node, client), 1, sequence, &vec![0xab; size]);
    from_gateway(PacketBuilder::udp4(client4(client), VIP4, source_port, COAPS_PORT).payload(&record)).build()
}

/// A ClientHello from `client` (the session path).
pub fn handshake_packet(client: u32, source_port: u16) -> Vec<u8> {
    from_gateway(PacketBuilder::udp4(client4(client), VIP4, source_port, COAPS_PORT).payload(&dtls::client_hello(60))).build()
}

/// A client's first DTLS 1.2 ClientHello (no cookie, message_seq 0: RFC 6347 §4.2.1) from
/// `client`: the `dtls-cid` service answers it statelessly (the `Hello` route, no session).
pub fn first_hello_packet(client: u32, source_port: u16) -> Vec<u8> {
    from_gateway(PacketBuilder::udp4(client4(client), VIP4, source_port, COAPS_PORT).payload(&dtls::client_hello_with(&[], &[]))).build()
}

/// A plain CoAP confirmable GET from `client` (RFC 7252 §3).
pub fn coap_packet(client: u32, source_port: u16, message_id: u16) -> Vec<u8> {
    let id = message_id.to_be_bytes();
    let coap = [0x40, 0x01, id[0], id[1], 0xb4, b't', b'e', b's', b't'];
    from_gateway(PacketBuilder::udp4(client4(client), VIP4, source_port, COAP_PORT).payload(&coap)).build()
}

/// An IPv6 TCP segment of flow `flow` with flow label `label`.
pub fn label_tcp_packet(flow: u32, label: u32, size: usize) -> Vec<u8> {
    let port = 40000 + (flow % 20000) as u16;
    from_gateway(PacketBuilder::tcp6(client6(flow), VIP6, port, WEB6_PORT).flow_label(label).payload(&vec![0x17; size])).build()
}

/// An IPv6 UDP datagram of `size` bytes, fragmented to `mtu`, with or without a label.
pub fn label_udp_fragments(flow: u32, label: u32, size: usize, mtu: usize, id: u32) -> Vec<Vec<u8>> {
    let port = 50000 + (flow % 10000) as u16;
    let frame = from_gateway(
        PacketBuilder::udp6(client6(flow), VIP6, port, WEB6_PORT).flow_label(label).payload(&vec![0x42; size]),
    )
    .build();
    build::fragment(&frame, mtu, id)
}

/// The node of id `id` (1-based) for CID profiles over K nodes: 192.0.2.(10 + id); ids 1..=3
/// are the demo's [`NODES4`].
pub fn node4(id: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10u8.saturating_add(id))
}

/// The MAC of node `id` in the demo and bench configs (static neighbours).
pub fn node_mac(id: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, id]
}

/// An IPv6 TCP segment with hop-by-hop and destination options headers before TCP.
pub fn label_tcp_ext_packet(flow: u32, label: u32, size: usize) -> Vec<u8> {
    let port = 40000 + (flow % 20000) as u16;
    from_gateway(
        PacketBuilder::tcp6(client6(flow), VIP6, port, WEB6_PORT)
            .flow_label(label)
            .ext_headers(&[ExtensionHeader::HopByHop(vec![0; 6]), ExtensionHeader::DestinationOptions(vec![0; 6])])
            .payload(&vec![0x17; size]),
    )
    .build()
}

/// The non-zero flow label of flow `flow` (a constant per flow, RFC 6437 §3).
pub fn label_of(flow: u32) -> u32 {
    1 + (flow.wrapping_mul(2_654_435_761) & 0xf_fffe)
}

/// The profiles `cidlb-perf gen` knows. `cidlb-perf bench` runs named variants of these
/// (flow counts, node counts, timeouts): see [`crate::bench::BENCH_PROFILES`].
pub const PROFILES: &[(&str, &str)] = &[
    ("demo", "a mix of every scenario: handshakes, CID records (also after NAT rebinding), plain CoAP, IPv6 flow-label TCP and fragmented UDP, node replies, ARP/echo, and malformed packets"),
    ("cid", "DTLS CID records from `flows` clients over `nodes` nodes (the stateless path)"),
    ("handshake", "DTLS ClientHellos, every one a new 5-tuple (`packets` distinct 5-tuples: table filling)"),
    ("hello", "clients' first DTLS ClientHellos (no cookie), every one from a new 5-tuple (`packets` distinct 5-tuples): a spoofed handshake flood, answered without a session"),
    ("session", "plain CoAP over a fixed set of `flows` 5-tuples (the session hit path)"),
    ("flow-label", "IPv6 TCP with non-zero flow labels over a fixed set of flows"),
    ("flow-label-ext", "as flow-label, with hop-by-hop and destination options headers"),
    ("flood", "75% DTLS CID records (the cid profile's records, in its order) and 25% spoofed new flows (random sources and ports, half CoAP POSTs to the five-tuple service, half ClientHellos to the dtls-cid service: each a new session), every frame as long as the CID records; against a `cid` capture and `flood-only` it gives the CID cost under flood (bench profiles flood-base, flood, flood-only)"),
    ("flood-only", "the flood profile's spoofed new flows alone, in the same order (no CID record)"),
    ("flow-label-frag", "IPv6 UDP with non-zero flow labels, every datagram in two fragments (the label routes every fragment)"),
    ("flow-label-zero", "IPv6 TCP with a zero flow label and extension headers (5-tuple after the extension-header walk)"),
    ("mix", "70% CID records, 10% ClientHellos from new 5-tuples, 10% plain CoAP sessions, 10% IPv6 flow-label TCP"),
    ("ipip", "the cid profile's traffic, for a config that forwards it in IP-in-IP tunnels"),
];

#[derive(Clone, Debug)]
pub struct ProfileParams {
    pub packets: usize,
    /// Distinct clients / flows.
    pub flows: u32,
    /// Ciphertext / payload bytes.
    pub size: usize,
    pub seed: u64,
    /// Nanoseconds between packets.
    pub gap_ns: u64,
    /// Nodes the CID profiles spread over (node ids 1..=nodes).
    pub nodes: u8,
    /// `flood`: the spoofed packets come in runs of this many (the CID records in runs three
    /// times as long); 1 spreads them evenly. A diagnostic: with the worker's burst size
    /// every burst is all CID records or all spoofed, so the two never share a burst.
    pub flood_run: usize,
}

impl Default for ProfileParams {
    fn default() -> Self {
        ProfileParams { packets: 10_000, flows: 1000, size: 40, seed: 1, gap_ns: 10_000, nodes: 3, flood_run: 1 }
    }
}

/// Whether `gen` knows `profile`.
pub fn is_profile(profile: &str) -> bool {
    PROFILES.iter().any(|p| p.0 == profile)
}

pub fn generate(profile: &str, params: &ProfileParams) -> Result<Vec<CapturedPacket>, String> {
    let mut rng = Rng::new(params.seed);
    let flows = params.flows.max(1);
    let nodes = params.nodes.max(1);
    let frames: Vec<Vec<u8>> = match profile {
        "demo" => demo(&mut rng, params),
        "cid" | "ipip" => (0..params.packets).map(|i| cid_stream_packet(&mut rng, params, i as u64)).collect(),
        // Address and source port both vary: up to 32 M distinct 5-tuples.
        "handshake" => (0..params.packets).map(|i| handshake_packet(i as u32 % 500, 1024 + ((i / 500) % 64000) as u16)).collect(),
        "hello" => (0..params.packets).map(|i| first_hello_packet(i as u32 % 500, 1024 + ((i / 500) % 64000) as u16)).collect(),
        // Flows visited in order: each 5-tuple once per `flows` packets, so with more flows
        // than the cache holds every lookup misses the cache (the 1 M live sessions case).
        "session" => (0..params.packets)
            .map(|i| {
                let client = if params.packets as u64 >= flows as u64 { i as u32 % flows } else { rng.below(flows as u64) as u32 };
                session_packet(client, i as u16)
            })
            .collect(),
        "flow-label" => (0..params.packets)
            .map(|_| {
                let flow = rng.below(flows as u64) as u32;
                label_tcp_packet(flow, label_of(flow), params.size)
            })
            .collect(),
        // Two independent streams: packet j of the CID stream is packet j of the `cid`
        // capture, spoofed packet j is packet j of the `flood-only` capture.
        "flood" => {
            let mut spoofer = Spoofer::new(params);
            let mut cids = 0u64;
            (0..params.packets)
                .map(|i| {
                    if flood_is_cid(i / params.flood_run.max(1), FLOOD_CID_SHARE) {
                        cids += 1;
                        cid_stream_packet(&mut rng, params, cids - 1)
                    } else {
                        spoofer.next()
                    }
                })
                .collect()
        }
        "flood-only" => {
            let mut spoofer = Spoofer::new(params);
            (0..params.packets).map(|_| spoofer.next()).collect()
        }
        "flow-label-ext" => (0..params.packets)
            .map(|_| {
                let flow = rng.below(flows as u64) as u32;
                label_tcp_ext_packet(flow, label_of(flow), params.size)
            })
            .collect(),
        "flow-label-zero" => (0..params.packets)
            .map(|_| {
                let flow = rng.below(flows as u64) as u32;
                label_tcp_ext_packet(flow, 0, params.size)
            })
            .collect(),
        "flow-label-frag" => {
            let mut out = Vec::with_capacity(params.packets + 1);
            let mut id = 0u32;
            while out.len() < params.packets {
                let flow = rng.below(flows as u64) as u32;
                id = id.wrapping_add(1);
                // 1400 bytes of UDP payload over a 1280-byte path MTU: two fragments.
                out.extend(label_udp_fragments(flow, label_of(flow), 1400, 1280, id));
            }
            out.truncate(params.packets);
            out
        }
        "mix" => {
            let mut new_flow = 0u32;
            (0..params.packets)
                .map(|i| match rng.below(10) {
                    0 => {
                        new_flow += 1;
                        handshake_packet(1_000_000 + new_flow, 1024 + (new_flow % 60000) as u16)
                    }
                    1 => session_packet(rng.below(flows as u64) as u32, i as u16),
                    2 => {
                        let flow = rng.below(flows as u64) as u32;
                        label_tcp_packet(flow, label_of(flow), params.size)
                    }
                    _ => {
                        let client = rng.below(flows as u64) as u32;
                        let node = 1 + (client % nodes as u32) as u8;
                        cid_packet(client, 20000 + (client % 40000) as u16, node, i as u64, params.size)
                    }
                })
                .collect()
        }
        other => return Err(format!("unknown profile `{other}`; known: {}", PROFILES.iter().map(|p| p.0).collect::<Vec<_>>().join(", "))),
    };
    Ok(frames
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| CapturedPacket { port: 0, timestamp_ns: 1_000_000_000 + i as u64 * params.gap_ns, bytes })
        .collect())
}

/// Packet `i` of the `cid` capture: a CID record from one of `flows` clients, for the node
/// its CID names (ids 1..=`nodes`, by client).
fn cid_stream_packet(rng: &mut Rng, params: &ProfileParams, i: u64) -> Vec<u8> {
    let client = rng.below(u64::from(params.flows.max(1))) as u32;
    let node = 1 + (client % u32::from(params.nodes.max(1))) as u8;
    cid_packet(client, 20000 + (client % 40000) as u16, node, i, params.size)
}

/// The share of DTLS CID records in the `flood` capture; the rest are spoofed new flows.
pub const FLOOD_CID_SHARE: f64 = 0.75;

/// Whether packet `i` of a flood capture with CID share `share` is a CID record: the first
/// `n` packets hold exactly ⌊n × share⌋ of them, spread evenly (0.75: spoofed, CID, CID, CID).
/// With runs of `r` packets (`ProfileParams::flood_run`), run `i / r` is decided the same way.
pub fn flood_is_cid(i: usize, share: f64) -> bool {
    ((i + 1) as f64 * share).floor() > (i as f64 * share).floor()
}

/// The spoofed new flows of `flood` and `flood-only`: any unicast source, any source port (so
/// never the same 5-tuple twice in practice), alternately a CoAP POST to the five-tuple service
/// and a ClientHello to the dtls-cid service (no CID: the session path). Each one misses the
/// session table and inserts.
///
/// Every spoofed frame is as long as the CID records beside it ([`flood_frame_len`]), so the
/// three flood captures differ in what cidlb does with a packet and in nothing the harness
/// does. net_pcap's receive copies each frame into a fresh mbuf; with frames of three lengths
/// in one capture (46, 101 and 127 bytes until session 12), testpmd's `io` forwarding, which
/// does nothing but receive and transmit, cost 1.46–1.52 × on the mix what the weighted sum of
/// its two parts predicts (1.00–1.03 with one length), and the CID-under-flood derivation
/// charged that to the CID records. A real NIC writes frames by DMA, so their length costs
/// cidlb's core nothing; one frame size per run is also how RFC 2544 benchmarks are run.
struct Spoofer {
    rng: Rng,
    sent: u32,
    /// The length of every frame, at least [`SPOOF_MIN_FRAME_LEN`].
    frame_len: usize,
}

/// Ethernet + IPv4 + UDP headers of the spoofed frames.
const SPOOF_HEADERS: usize = 14 + 20 + 8;
/// The shortest spoofed frame: a ClientHello of 13 (record) + 12 (handshake) + 2 (version)
/// bytes after the headers.
const SPOOF_MIN_FRAME_LEN: usize = SPOOF_HEADERS + 13 + 12 + 2;

/// The length of the flood captures' frames: that of their CID records (101 bytes at the
/// default 40 bytes of ciphertext).
pub fn flood_frame_len(params: &ProfileParams) -> usize {
    cid_packet(0, 20000, 1, 0, params.size).len()
}

impl Spoofer {
    fn new(params: &ProfileParams) -> Self {
        // Its own stream, independent of the CID records drawn beside it.
        Spoofer {
            rng: Rng::new(params.seed ^ 0x5b0f_ed5b_0f00_d5ed),
            sent: 0,
            frame_len: flood_frame_len(params).max(SPOOF_MIN_FRAME_LEN),
        }
    }

    fn next(&mut self) -> Vec<u8> {
        let j = self.sent;
        self.sent += 1;
        let source = Ipv4Addr::from((self.rng.next_u64() as u32 & 0x7fff_ffff) | 0x0100_0000);
        let source_port = 1024 + self.rng.below(64_000) as u16;
        // At least 27 bytes (`SPOOF_MIN_FRAME_LEN`): room for either message.
        let udp_payload = self.frame_len - SPOOF_HEADERS;
        let builder = if j.is_multiple_of(2) {
            // A confirmable POST (RFC 7252 §3, §5.5: the payload after the 0xff marker): a
            // reading of `udp_payload - 5` bytes.
            let mut coap = vec![0x40, 0x02, (j >> 8) as u8, j as u8, 0xff];
            coap.resize(udp_payload, 0x2a);
            PacketBuilder::udp4(source, VIP4, source_port, COAP_PORT).payload(&coap)
        } else {
            // A ClientHello whose record fills the datagram (13 + 12 bytes of headers).
            PacketBuilder::udp4(source, VIP4, source_port, COAPS_PORT).payload(&dtls::client_hello(udp_payload - 25))
        };
        from_gateway(builder).build()
    }
}

/// Plain CoAP from session `i`: client address and source port both vary, so a million
/// sessions are a million distinct 5-tuples (250 addresses per /24 × two /24s × ports).
pub fn session_packet(i: u32, message_id: u16) -> Vec<u8> {
    let address = i % 500;
    let port = 1024 + (i / 500) as u16 % 64000;
    coap_packet(address, port, message_id)
}

/// The demo mix: every scenario of the data path in one capture.
fn demo(rng: &mut Rng, params: &ProfileParams) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let clients = params.flows.clamp(3, 500);
    // Handshakes, then CID records naming the node each client's CID was issued by.
    for c in 0..clients {
        out.push(handshake_packet(c, 10000 + c as u16));
    }
    for round in 0..4u64 {
        for c in 0..clients {
            let node = NODES4[(c % 3) as usize].0;
            // Half the clients rebind (new source port, as after a NAT timeout) after round 1.
            let port = if round >= 2 && c % 2 == 0 { 30000 + c as u16 } else { 10000 + c as u16 };
            out.push(cid_packet(c, port, node, round, params.size));
        }
    }
    // A flight [handshake][CID record] follows the CID.
    let mut flight = dtls::client_hello(20);
    flight.extend(dtls::cid_record(&cid_for(2, 7), 1, 9, &[0xcd; 24]));
    out.push(from_gateway(PacketBuilder::udp4(client4(7), VIP4, 10007, COAPS_PORT).payload(&flight)).build());
    // Plain CoAP, three requests per client from the same 5-tuple.
    for m in 0..3u16 {
        for c in 0..clients / 2 {
            out.push(coap_packet(c, 40000 + c as u16, m));
        }
    }
    // IPv6 flow-label TCP flows, and fragmented UDP with and without labels.
    for seg in 0..3 {
        for f in 0..clients / 4 {
            out.push(label_tcp_packet(f, 0x1000 + f, 100 + seg));
        }
    }
    for f in 0..8 {
        let label = if f % 2 == 0 { 0x5000 + f } else { 0 };
        out.extend(label_udp_fragments(1000 + f, label, 3000, 1280, 0xf000 + f));
    }
    // Node replies (reverse NAT) for a few clients.
    for c in 0..clients.min(20) {
        let (_, node) = NODES4[(c % 3) as usize];
        let record = dtls::cid_record(&[], 1, 100, &[0xee; 30]);
        out.push(
            PacketBuilder::udp4(node, client4(c), COAPS_PORT, 10000 + c as u16)
                .payload(&record)
                .macs([0x02, 0, 0, 0, 0, 0x11 + (c % 3) as u8], BALANCER_MAC)
                .build(),
        );
    }
    // The balancer's own duties: echo to the VIP and to its address.
    out.push(from_gateway(PacketBuilder::echo_request4(client4(1), VIP4, 1, 1)).build());
    out.push(from_gateway(PacketBuilder::echo_request6(client6(1), VIP6, 1, 1)).build());
    // Hostile and broken input: each must be dropped and counted, never forwarded.
    out.push(cid_packet(1, 10001, 9, 1, 16)); // unknown node id 9
    let mut short = cid_packet(2, 10002, 1, 1, 16);
    let keep = 14 + 20 + 8 + 14; // a CID record cut inside its CID
    short.truncate(keep);
    let fixed = fix_lengths_v4(short);
    out.push(fixed);
    out.push(from_gateway(PacketBuilder::udp4(client4(3), VIP4, 10003, COAPS_PORT).ttl(1).payload(&dtls::client_hello(10))).build());
    out.push(from_gateway(PacketBuilder::udp4(client4(3), VIP4, 10003, 9999).payload(b"no service")).build());
    for n in [0usize, 10, 20, 40] {
        out.push(rng.bytes(n).into_iter().chain(std::iter::repeat(0)).take(n).collect());
    }
    out
}

/// Make the IPv4 total length and UDP length of a truncated frame consistent (so the parser
/// accepts the IP and UDP headers and the DTLS walk sees the truncation).
fn fix_lengths_v4(mut frame: Vec<u8>) -> Vec<u8> {
    let ip_len = (frame.len() - 14) as u16;
    frame[16..18].copy_from_slice(&ip_len.to_be_bytes());
    frame[24..26].copy_from_slice(&[0, 0]);
    let mut sum = 0u32;
    for i in (14..34).step_by(2) {
        sum += u16::from_be_bytes([frame[i], frame[i + 1]]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    frame[24..26].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let udp_len = ip_len - 20;
    frame[38..40].copy_from_slice(&udp_len.to_be_bytes());
    frame[40..42].copy_from_slice(&[0, 0]); // no UDP checksum (RFC 768 allows it on IPv4)
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::{self, Target};
    use cidlb_dataplane::wire;
    use std::collections::HashSet;

    /// The CID a frame's first DTLS CID record carries, if it is one to the dtls-cid service.
    fn cid_of(frame: &[u8]) -> Option<Vec<u8>> {
        let parsed = wire::parse(frame).expect("generated frames parse");
        if parsed.dport != COAPS_PORT {
            return None;
        }
        wire::dtls::first_cid(parsed.udp_payload(frame), 6).ok().flatten().map(<[u8]>::to_vec)
    }

    fn five_tuple(frame: &[u8]) -> ([u8; 16], u16, u16) {
        let parsed = wire::parse(frame).unwrap();
        (parsed.src, parsed.sport, parsed.dport)
    }

    fn frames(generator: &str, params: &ProfileParams) -> Vec<Vec<u8>> {
        generate(generator, params).unwrap().into_iter().map(|p| p.bytes).collect()
    }

    #[test]
    fn flood_cid_share_is_the_targets_and_flood_only_has_no_cid_record() {
        let profile = bench::find("flood").unwrap();
        let Target::CidUnderFlood { base, flood_only, cid_share, .. } = profile.target else { panic!("flood's target") };
        let params = ProfileParams { packets: 40_000, ..profile.params() };
        let flood = frames(profile.generator, &params);
        let cid_records = flood.iter().filter(|f| cid_of(f).is_some()).count();
        assert_eq!(cid_records as f64, cid_share * params.packets as f64, "flood's CID share");
        assert_eq!(cid_share, FLOOD_CID_SHARE);
        // Every 4-packet window holds exactly its share: the mix is even, not bursty.
        for window in flood.chunks(4) {
            assert_eq!(window.iter().filter(|f| cid_of(f).is_some()).count(), 3);
        }

        let only = frames(bench::find(flood_only).unwrap().generator, &params);
        assert!(only.iter().all(|f| cid_of(f).is_none()), "flood-only has no CID record");
        // flood = the base's CID records and flood-only's packets, each in its own order.
        let cids: Vec<&Vec<u8>> = flood.iter().filter(|f| cid_of(f).is_some()).collect();
        let spoofed: Vec<&Vec<u8>> = flood.iter().filter(|f| cid_of(f).is_none()).collect();
        let base = frames(bench::find(base).unwrap().generator, &params);
        assert!(cids.iter().zip(&base).all(|(a, b)| *a == b), "flood's CID records are the base capture's, in order");
        assert!(spoofed.iter().zip(&only).all(|(a, b)| *a == b), "flood's spoofed packets are flood-only's, in order");
        // Half CoAP to the five-tuple service, half ClientHellos to the dtls-cid service.
        let coap = only.iter().filter(|f| five_tuple(f).2 == COAP_PORT).count();
        assert_eq!(coap * 2, only.len());
    }

    /// `flood_run` moves the flood's packets into runs and changes nothing else: the same CID
    /// records and spoofed packets, each stream in its own order, the same share.
    #[test]
    fn flood_runs_regroup_the_same_packets() {
        let profile = bench::find("flood").unwrap();
        let even = ProfileParams { packets: 4096, ..profile.params() };
        let runs = ProfileParams { flood_run: 32, ..even };
        let (even, runs) = (frames(profile.generator, &even), frames(profile.generator, &runs));
        // Every 128 packets: 32 spoofed, then 96 CID records.
        for (i, window) in runs.chunks(128).enumerate() {
            let kinds: Vec<bool> = window.iter().map(|f| cid_of(f).is_some()).collect();
            assert!(kinds[..32].iter().all(|c| !c) && kinds[32..].iter().all(|&c| c), "window {i}");
        }
        let split = |frames: &[Vec<u8>]| -> (Vec<Vec<u8>>, Vec<Vec<u8>>) { frames.iter().cloned().partition(|f| cid_of(f).is_some()) };
        assert_eq!(split(&even), split(&runs));
    }

    /// The three flood captures hold frames of one length, so net_pcap's copy of a frame costs
    /// the same in each and the derivation sees cidlb's work only; the spoofed packets are
    /// still what they were: CoAP requests and ClientHellos that are not a first ClientHello
    /// (those go by Maglev without a session), so each one takes the session path.
    #[test]
    fn flood_captures_have_one_frame_length() {
        let profile = bench::find("flood").unwrap();
        let Target::CidUnderFlood { base, flood_only, .. } = profile.target else { panic!("flood's target") };
        // From 8 bytes of ciphertext up (a 69-byte CID record), every frame has the CID
        // records' length; below that the spoofed frames keep their shortest, 69 bytes.
        for size in [40, 8, 200, 0] {
            let params = ProfileParams { packets: 4096, size, ..profile.params() };
            let cid_len = flood_frame_len(&params);
            for name in [profile.name, base, flood_only] {
                for frame in frames(bench::find(name).unwrap().generator, &params) {
                    let len = if cid_of(&frame).is_some() { cid_len } else { cid_len.max(SPOOF_MIN_FRAME_LEN) };
                    assert_eq!(frame.len(), len, "{name} at size {size}");
                    assert!(size < 8 || len == cid_len);
                }
            }
        }
        let params = ProfileParams { packets: 64, ..profile.params() };
        assert_eq!(flood_frame_len(&params), 101);
        for frame in frames(flood_only, &params) {
            let parsed = wire::parse(&frame).unwrap();
            let payload = &frame[parsed.l4_offset as usize + 8..];
            assert_eq!(payload.len(), 101 - SPOOF_HEADERS);
            match parsed.dport {
                COAP_PORT => assert_eq!(&payload[..2], &[0x40, 0x02], "a confirmable POST"),
                COAPS_PORT => {
                    assert_eq!(&payload[..3], &[22, 0xfe, 0xfd], "a DTLS 1.2 handshake record");
                    assert_eq!(payload[13], 1, "a ClientHello");
                    assert!(!wire::dtls::is_first_client_hello(payload), "not a first ClientHello: the session path");
                }
                other => panic!("spoofed packet to port {other}"),
            }
        }
    }

    /// Every spoofed 5-tuple of a pass over the bench capture is distinct, and a pass holds at
    /// least twice the session table: when the capture comes round to a spoofed flow again it
    /// has been evicted, so every spoofed packet misses and inserts into a full table.
    #[test]
    fn flood_captures_overfill_the_session_table_each_pass() {
        for name in ["flood", "flood-only"] {
            let profile = bench::find(name).unwrap();
            let frames = frames(profile.generator, &profile.params());
            assert_eq!(frames.len(), profile.packets);
            let spoofed: Vec<_> = frames.iter().filter(|f| cid_of(f).is_none()).map(|f| five_tuple(f)).collect();
            let distinct: HashSet<_> = spoofed.iter().collect();
            assert!(distinct.len() + 8 >= spoofed.len(), "{name}: {} distinct of {}", distinct.len(), spoofed.len());
            assert!(distinct.len() >= 2 * profile.sessions_per_worker as usize, "{name}: {} spoofed flows per pass", distinct.len());
        }
    }
}

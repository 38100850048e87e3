//! In-band health checks: one state machine per node, pure (time is passed in).
//!
//! The checker decides *when* to probe and *what* a probe carries; [`crate::Control`] turns
//! each [`ProbeRequest`] into a frame a worker transmits through the DPDK port (nodes may be
//! reachable only through it), and hands back every reply the workers pass up, parsed with
//! [`parse_reply`]. Replies are matched by node address, ports and a per-probe sequence number
//! (the CoAP message id, the ICMP echo sequence, and a per-probe source port), so a late or
//! stray reply never counts for the wrong probe.
//!
//! States: a probed node starts **up** (a fresh balancer serves at once) and goes **down**
//! after `fall` consecutive failures (timeout, ICMP unreachable, a reply without the expected
//! bytes); a down node comes back **up** after `rise` consecutive successes. At most one probe
//! per node is outstanding (validation keeps `timeout < interval`). Draining is configuration
//! (`weight = 0`, `drain = true`), not health: a draining node is still probed.

use cidlb_config::{Config, ProbeKind};
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// The ICMP echo identifier of every probe (RFC 792, RFC 4443 §4.1); the sequence number
/// tells probes apart.
pub const ECHO_IDENTIFIER: u16 = 0xc1db;
/// UDP probes leave from `PROBE_PORT_BASE + sequence % PROBE_PORT_SPAN` on the egress port's
/// own address: an ephemeral port per probe (RFC 6335 §6 dynamic range).
pub const PROBE_PORT_BASE: u16 = 49152;
pub const PROBE_PORT_SPAN: u16 = 16384;

/// What a probe asks of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeSpec {
    /// An empty Confirmable CoAP message (a "CoAP ping"), answered by a Reset with the same
    /// message id (RFC 7252 §4.3).
    CoapPing { port: u16 },
    /// A datagram with `payload`; a reply holding `expect` (anywhere; empty: any reply).
    Udp { port: u16, payload: Vec<u8>, expect: Vec<u8> },
    /// ICMP / ICMPv6 echo (RFC 792, RFC 4443 §4.1).
    Icmp,
    /// Never probed: always up.
    None,
}

impl ProbeSpec {
    pub fn from_config(health: &cidlb_config::Health) -> ProbeSpec {
        let hex = |s: &Option<String>| s.as_deref().and_then(decode_hex).unwrap_or_default();
        match health.probe {
            ProbeKind::CoapPing => ProbeSpec::CoapPing { port: health.port.unwrap_or(5683) },
            ProbeKind::Udp => {
                ProbeSpec::Udp { port: health.port.unwrap_or(0), payload: hex(&health.payload), expect: hex(&health.expect) }
            }
            ProbeKind::Icmp => ProbeSpec::Icmp,
            ProbeKind::None => ProbeSpec::None,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            ProbeSpec::CoapPing { .. } => "coap-ping",
            ProbeSpec::Udp { .. } => "udp",
            ProbeSpec::Icmp => "icmp",
            ProbeSpec::None => "none",
        }
    }
}

/// Hex digits to bytes (validation has checked the config's `payload` and `expect`).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

/// Probe timing of one node, in nanoseconds and counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub interval_ns: u64,
    pub timeout_ns: u64,
    pub rise: u32,
    pub fall: u32,
}

impl Timing {
    pub fn from_config(health: &cidlb_config::Health) -> Timing {
        Timing {
            interval_ns: health.interval.as_nanos_u64().max(1),
            timeout_ns: health.timeout.as_nanos_u64().max(1),
            rise: health.rise.max(1),
            fall: health.fall.max(1),
        }
    }
}

/// A node's health as the checks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Up,
    Down,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Up => "up",
            Status::Down => "down",
        }
    }
}

/// A probe to send now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRequest {
    pub node: u32,
    pub address: IpAddr,
    pub packet: ProbePacket,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbePacket {
    Udp { source_port: u16, port: u16, payload: Vec<u8> },
    Echo { identifier: u16, sequence: u16 },
}

/// A packet from a node that may answer a probe (parsed from the frame by [`parse_reply`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply<'a> {
    Udp { from: IpAddr, source_port: u16, destination_port: u16, payload: &'a [u8] },
    EchoReply { from: IpAddr, identifier: u16, sequence: u16 },
    /// ICMP destination unreachable quoting one of our UDP probes (RFC 792, RFC 4443 §3.1):
    /// `node` and `node_port` are the quoted destination, `our_port` the quoted source port.
    Unreachable { node: IpAddr, our_port: u16, node_port: u16 },
}

/// A change of a node's health, to log, count and publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub node: u32,
    pub address: IpAddr,
    pub from: Status,
    pub to: Status,
    pub reason: String,
}

#[derive(Clone, Debug)]
struct Outstanding {
    sequence: u16,
    sent_at: u64,
    /// Why the probe could not even be sent (no route, next hop unresolved), if so.
    unsent: Option<&'static str>,
}

/// One node's checks and counters.
#[derive(Clone, Debug)]
pub struct NodeHealth {
    pub id: u32,
    pub address: IpAddr,
    pub spec: ProbeSpec,
    pub timing: Timing,
    pub status: Status,
    /// Consecutive successes (while down) or failures (while up) so far.
    pub streak: u32,
    pub probes_sent: u64,
    pub successes: u64,
    pub failures: u64,
    pub went_down: u64,
    pub went_up: u64,
    pub last_reason: String,
    next_probe_at: Option<u64>,
    outstanding: Option<Outstanding>,
}

impl NodeHealth {
    fn new(id: u32, address: IpAddr, spec: ProbeSpec, timing: Timing) -> Self {
        NodeHealth {
            id,
            address,
            spec,
            timing,
            status: Status::Up,
            streak: 0,
            probes_sent: 0,
            successes: 0,
            failures: 0,
            went_down: 0,
            went_up: 0,
            last_reason: String::new(),
            next_probe_at: None,
            outstanding: None,
        }
    }

    fn success(&mut self, reason: &str) -> Option<Transition> {
        self.outstanding = None;
        self.successes += 1;
        match self.status {
            Status::Up => {
                self.streak = 0;
                None
            }
            Status::Down => {
                self.streak += 1;
                (self.streak >= self.timing.rise).then(|| self.change(Status::Up, format!("{} consecutive successes ({reason})", self.streak)))
            }
        }
    }

    fn failure(&mut self, reason: &str) -> Option<Transition> {
        self.outstanding = None;
        self.failures += 1;
        self.last_reason = reason.to_string();
        match self.status {
            Status::Down => {
                self.streak = 0;
                None
            }
            Status::Up => {
                self.streak += 1;
                (self.streak >= self.timing.fall).then(|| self.change(Status::Down, format!("{} consecutive failures (last: {reason})", self.streak)))
            }
        }
    }

    fn change(&mut self, to: Status, reason: String) -> Transition {
        let from = self.status;
        self.status = to;
        self.streak = 0;
        match to {
            Status::Down => self.went_down += 1,
            Status::Up => self.went_up += 1,
        }
        self.last_reason = reason.clone();
        Transition { node: self.id, address: self.address, from, to, reason }
    }
}

/// Every node's checks.
#[derive(Clone, Debug, Default)]
pub struct HealthChecker {
    nodes: Vec<NodeHealth>,
    sequence: u16,
    /// Replies that matched no outstanding probe (late, duplicated or foreign).
    pub unmatched_replies: u64,
}

impl HealthChecker {
    pub fn new(config: &Config) -> Self {
        let mut checker = HealthChecker::default();
        checker.reconcile(config);
        checker
    }

    /// Adopt a (reloaded) config: nodes that still exist keep their status and counters; a
    /// node whose address or probe changed is probed afresh (next `poll`); new nodes start up.
    pub fn reconcile(&mut self, config: &Config) {
        let mut old: FxHashMap<u32, NodeHealth> = self.nodes.drain(..).map(|n| (n.id, n)).collect();
        for node in &config.node {
            let spec = ProbeSpec::from_config(&node.health);
            let timing = Timing::from_config(&node.health);
            let entry = match old.remove(&node.id) {
                Some(mut kept) => {
                    if kept.address != node.address || kept.spec != spec {
                        kept.outstanding = None;
                        kept.next_probe_at = None;
                        kept.streak = 0;
                    }
                    if spec == ProbeSpec::None {
                        kept.status = Status::Up; // an unprobed node is up
                    }
                    kept.address = node.address;
                    kept.spec = spec;
                    kept.timing = timing;
                    kept
                }
                None => NodeHealth::new(node.id, node.address, spec, timing),
            };
            self.nodes.push(entry);
        }
    }

    pub fn nodes(&self) -> &[NodeHealth] {
        &self.nodes
    }

    pub fn status(&self, node: u32) -> Option<Status> {
        self.nodes.iter().find(|n| n.id == node).map(|n| n.status)
    }

    /// Nodes that are down, for `RuntimeState::health`.
    pub fn down(&self) -> impl Iterator<Item = u32> + '_ {
        self.nodes.iter().filter(|n| n.status == Status::Down).map(|n| n.id)
    }

    /// Run the timers at `now`: probes that timed out fail, and nodes whose interval has come
    /// get a new probe. Returns the probes to send and the transitions that happened.
    pub fn poll(&mut self, now: u64) -> (Vec<ProbeRequest>, Vec<Transition>) {
        let mut probes = Vec::new();
        let mut transitions = Vec::new();
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            if node.spec == ProbeSpec::None {
                continue;
            }
            if let Some(o) = &node.outstanding {
                if now.saturating_sub(o.sent_at) >= node.timing.timeout_ns {
                    let reason = match o.unsent {
                        Some(why) => why.to_string(),
                        None => format!("no reply within {} ms", node.timing.timeout_ns / 1_000_000),
                    };
                    transitions.extend(node.failure(&reason));
                } else {
                    continue;
                }
            }
            if node.next_probe_at.is_some_and(|t| now < t) {
                continue;
            }
            self.sequence = self.sequence.wrapping_add(1);
            let sequence = self.sequence;
            let node = &mut self.nodes[i];
            node.next_probe_at = Some(now + node.timing.interval_ns);
            node.outstanding = Some(Outstanding { sequence, sent_at: now, unsent: None });
            node.probes_sent += 1;
            let packet = match &node.spec {
                ProbeSpec::CoapPing { port } => {
                    ProbePacket::Udp { source_port: probe_port(sequence), port: *port, payload: coap_ping(sequence).to_vec() }
                }
                ProbeSpec::Udp { port, payload, .. } => {
                    ProbePacket::Udp { source_port: probe_port(sequence), port: *port, payload: payload.clone() }
                }
                ProbeSpec::Icmp => ProbePacket::Echo { identifier: ECHO_IDENTIFIER, sequence },
                ProbeSpec::None => continue,
            };
            probes.push(ProbeRequest { node: node.id, address: node.address, packet });
        }
        (probes, transitions)
    }

    /// The probe to `node` could not be sent (`why`): it fails when it times out, with `why`
    /// as the reason (the node is not given up earlier than a lost probe would be).
    pub fn not_sent(&mut self, node: u32, why: &'static str) {
        if let Some(o) = self.nodes.iter_mut().find(|n| n.id == node).and_then(|n| n.outstanding.as_mut()) {
            o.unsent = Some(why);
        }
    }

    /// Match a reply to an outstanding probe. Returns whether it matched, and the transition
    /// it caused, if any. Unmatched replies are counted and otherwise ignored.
    pub fn on_reply(&mut self, reply: &Reply<'_>) -> (bool, Option<Transition>) {
        let found = self.nodes.iter_mut().find_map(|node| {
            let o = node.outstanding.as_ref()?;
            if o.unsent.is_some() {
                return None;
            }
            let verdict = match (reply, &node.spec) {
                (Reply::Udp { from, source_port, destination_port, payload }, ProbeSpec::CoapPing { port }) => {
                    if *from != node.address || source_port != port || *destination_port != probe_port(o.sequence) {
                        return None;
                    }
                    match coap_answer(payload, o.sequence) {
                        Some(true) => Ok("CoAP reset"),
                        Some(false) => Err("CoAP reply that is not an empty Reset or ACK"),
                        None => return None, // another message id: not this probe's answer
                    }
                }
                (Reply::Udp { from, source_port, destination_port, payload }, ProbeSpec::Udp { port, expect, .. }) => {
                    if *from != node.address || source_port != port || *destination_port != probe_port(o.sequence) {
                        return None;
                    }
                    if expect.is_empty() || contains(payload, expect) {
                        Ok("UDP reply")
                    } else {
                        Err("UDP reply without the expected bytes")
                    }
                }
                (Reply::EchoReply { from, identifier, sequence }, ProbeSpec::Icmp) => {
                    if *from != node.address || *identifier != ECHO_IDENTIFIER || *sequence != o.sequence {
                        return None;
                    }
                    Ok("echo reply")
                }
                (Reply::Unreachable { node: to, our_port, node_port }, ProbeSpec::CoapPing { port } | ProbeSpec::Udp { port, .. }) => {
                    if *to != node.address || node_port != port || *our_port != probe_port(o.sequence) {
                        return None;
                    }
                    Err("ICMP destination unreachable")
                }
                _ => return None,
            };
            Some(match verdict {
                Ok(reason) => node.success(reason),
                Err(reason) => node.failure(reason),
            })
        });
        match found {
            Some(transition) => (true, transition),
            None => {
                self.unmatched_replies += 1;
                (false, None)
            }
        }
    }
}

fn probe_port(sequence: u16) -> u16 {
    PROBE_PORT_BASE + sequence % PROBE_PORT_SPAN
}

/// Is `port` one a UDP probe may leave from?
pub fn is_probe_port(port: u16) -> bool {
    port >= PROBE_PORT_BASE
}

/// An empty Confirmable message (RFC 7252 §3: Ver = 1, T = CON (0), TKL = 0, Code 0.00) with
/// `message_id`: a "CoAP ping" (RFC 7252 §4.3).
pub fn coap_ping(message_id: u16) -> [u8; 4] {
    let id = message_id.to_be_bytes();
    [0x40, 0x00, id[0], id[1]]
}

/// Does `payload` answer the ping `message_id`? `None`: not about this message id (or not
/// CoAP); `Some(true)`: an empty Reset (or empty ACK) with it; `Some(false)`: something else
/// with this id.
pub fn coap_answer(payload: &[u8], message_id: u16) -> Option<bool> {
    let [first, code, id_high, id_low, ..] = *payload else { return None };
    if first >> 6 != 1 || u16::from_be_bytes([id_high, id_low]) != message_id {
        return None;
    }
    let kind = (first >> 4) & 0b11; // 0 CON, 1 NON, 2 ACK, 3 RST
    Some((kind == 3 || kind == 2) && code == 0)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Pick out what may answer a probe from a frame the workers passed up: UDP datagrams, echo
/// replies and ICMP unreachables quoting a UDP datagram. Never panics on any input.
pub fn parse_reply<'a>(parsed: &cidlb_dataplane::wire::Parsed, frame: &'a [u8]) -> Option<Reply<'a>> {
    use cidlb_dataplane::wire::L3;
    if !parsed.l4_present || !parsed.is_whole() {
        return None;
    }
    let from = parsed.src_ip();
    let l4 = parsed.l4(frame);
    match (parsed.l3, parsed.proto) {
        (_, 17) => Some(Reply::Udp {
            from,
            source_port: parsed.sport,
            destination_port: parsed.dport,
            payload: parsed.udp_payload(frame),
        }),
        // ICMP echo reply (type 0) / ICMPv6 echo reply (129): identifier, sequence at 4..8.
        (L3::Ipv4, 1) if l4.first() == Some(&0) => echo(from, l4),
        (L3::Ipv6, 58) if l4.first() == Some(&129) => echo(from, l4),
        // Destination unreachable: the invoking packet is quoted after 8 bytes.
        (L3::Ipv4, 1) if l4.first() == Some(&3) => {
            let inner = l4.get(8..)?;
            let ihl = usize::from(inner.first()? & 0x0f) * 4;
            if inner.first()? >> 4 != 4 || ihl < 20 || *inner.get(9)? != 17 {
                return None;
            }
            let node = IpAddr::from(<[u8; 4]>::try_from(inner.get(16..20)?).ok()?);
            quoted_udp(node, inner.get(ihl..)?)
        }
        (L3::Ipv6, 58) if l4.first() == Some(&1) => {
            let inner = l4.get(8..)?;
            if inner.first()? >> 4 != 6 || *inner.get(6)? != 17 {
                return None;
            }
            let node = IpAddr::from(<[u8; 16]>::try_from(inner.get(24..40)?).ok()?);
            quoted_udp(node, inner.get(40..)?)
        }
        _ => None,
    }
}

fn echo(from: IpAddr, l4: &[u8]) -> Option<Reply<'_>> {
    let bytes = l4.get(4..8)?;
    Some(Reply::EchoReply {
        from,
        identifier: u16::from_be_bytes([bytes[0], bytes[1]]),
        sequence: u16::from_be_bytes([bytes[2], bytes[3]]),
    })
}

fn quoted_udp(node: IpAddr, udp: &[u8]) -> Option<Reply<'static>> {
    let ports = udp.get(0..4)?;
    Some(Reply::Unreachable {
        node,
        our_port: u16::from_be_bytes([ports[0], ports[1]]),
        node_port: u16::from_be_bytes([ports[2], ports[3]]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn checker(health: &str) -> HealthChecker {
        let text = format!(
            "[eal]\nargs = [\"--no-pci\"]\n[[port]]\nname = \"p\"\ndevice = \"d\"\nipv4 = \"192.0.2.1/24\"\n\
             [[node]]\nid = 1\naddress = \"192.0.2.11\"\nhealth = {health}\n\
             [[node]]\nid = 2\naddress = \"192.0.2.12\"\n"
        );
        HealthChecker::new(&cidlb_config::parse(&text, "t.toml").unwrap())
    }

    fn coap() -> HealthChecker {
        checker("{ probe = \"coap-ping\", port = 5683, interval = \"1s\", timeout = \"500ms\", rise = 2, fall = 3 }")
    }

    fn node() -> IpAddr {
        "192.0.2.11".parse().unwrap()
    }

    /// The reply a CoAP server gives to a probe: an empty Reset with its message id.
    fn reset_for(probe: &ProbeRequest) -> (u16, u16, [u8; 4]) {
        let ProbePacket::Udp { source_port, port, payload } = &probe.packet else { panic!("not udp") };
        let id = u16::from_be_bytes([payload[2], payload[3]]);
        let id_bytes = id.to_be_bytes();
        (*port, *source_port, [0x70, 0x00, id_bytes[0], id_bytes[1]])
    }

    fn answer(c: &mut HealthChecker, probe: &ProbeRequest) -> (bool, Option<Transition>) {
        let (sport, dport, payload) = reset_for(probe);
        c.on_reply(&Reply::Udp { from: node(), source_port: sport, destination_port: dport, payload: &payload })
    }

    #[test]
    fn coap_ping_is_an_empty_confirmable_message() {
        assert_eq!(coap_ping(0x1234), [0x40, 0x00, 0x12, 0x34]);
        assert_eq!(coap_answer(&[0x70, 0, 0x12, 0x34], 0x1234), Some(true));
        assert_eq!(coap_answer(&[0x60, 0, 0x12, 0x34], 0x1234), Some(true), "an empty ACK also shows life");
        assert_eq!(coap_answer(&[0x70, 0, 0x12, 0x35], 0x1234), None, "another message id");
        assert_eq!(coap_answer(&[0x60, 0x45, 0x12, 0x34], 0x1234), Some(false), "a 2.05 response is not a pong");
        assert_eq!(coap_answer(&[0x70, 0], 0x1234), None, "truncated");
        assert_eq!(coap_answer(&[0xb0, 0, 0x12, 0x34], 0x1234), None, "version 2");
    }

    #[test]
    fn starts_up_probes_at_once_and_every_interval() {
        let mut c = coap();
        assert_eq!(c.status(1), Some(Status::Up), "up until `fall` failures");
        let (probes, t) = c.poll(0);
        assert!(t.is_empty());
        assert_eq!(probes.len(), 1, "node 2 has no probe");
        assert_eq!(probes[0].node, 1);
        let ProbePacket::Udp { port, payload, source_port } = &probes[0].packet else { panic!() };
        assert_eq!((*port, payload.len()), (5683, 4));
        assert!(is_probe_port(*source_port));
        assert!(answer(&mut c, &probes[0]).0);
        assert!(c.poll(999 * MS).0.is_empty(), "not before the interval");
        assert_eq!(c.poll(1000 * MS).0.len(), 1);
    }

    #[test]
    fn falls_after_fall_timeouts_and_rises_after_rise_replies() {
        let mut c = coap();
        let mut down_at = None;
        for i in 0..5u64 {
            let (probes, transitions) = c.poll(i * 1000 * MS);
            assert_eq!(probes.len(), 1);
            if let Some(t) = transitions.first() {
                assert_eq!((t.node, t.from, t.to), (1, Status::Up, Status::Down));
                assert!(t.reason.contains("3 consecutive failures"), "{}", t.reason);
                assert!(t.reason.contains("no reply within 500 ms"), "{}", t.reason);
                down_at.get_or_insert(i);
            }
        }
        // Probes at 0, 1, 2 s time out when checked at 1, 2, 3 s: down at the third.
        assert_eq!(down_at, Some(3));
        assert_eq!(c.down().collect::<Vec<_>>(), vec![1]);
        let (probes, _) = c.poll(10_000 * MS);
        assert_eq!(answer(&mut c, &probes[0]), (true, None), "one success is not `rise`");
        let (probes, _) = c.poll(11_000 * MS);
        let (matched, t) = answer(&mut c, &probes[0]);
        assert!(matched);
        let t = t.expect("up after two successes");
        assert_eq!((t.from, t.to), (Status::Down, Status::Up));
        assert_eq!(c.status(1), Some(Status::Up));
        let n = &c.nodes()[0];
        assert_eq!((n.went_down, n.went_up), (1, 1));
    }

    #[test]
    fn a_success_resets_the_failure_streak() {
        let mut c = coap();
        for round in 0..10u64 {
            let (probes, t) = c.poll(round * 1000 * MS);
            assert!(t.is_empty(), "never three failures in a row");
            if round % 2 == 0 {
                answer(&mut c, &probes[0]);
            }
        }
        assert_eq!(c.status(1), Some(Status::Up));
    }

    #[test]
    fn wrong_replies_are_ignored() {
        let mut c = coap();
        let (probes, _) = c.poll(0);
        let (sport, dport, mut payload) = reset_for(&probes[0]);
        let other: IpAddr = "192.0.2.99".parse().unwrap();
        let wrong = [
            Reply::Udp { from: other, source_port: sport, destination_port: dport, payload: &payload },
            Reply::Udp { from: node(), source_port: sport + 1, destination_port: dport, payload: &payload },
            Reply::Udp { from: node(), source_port: sport, destination_port: dport.wrapping_add(1), payload: &payload },
            Reply::EchoReply { from: node(), identifier: ECHO_IDENTIFIER, sequence: 1 },
        ];
        for r in &wrong {
            assert_eq!(c.on_reply(r), (false, None), "{r:?}");
        }
        payload[3] ^= 1; // another message id
        assert!(!c.on_reply(&Reply::Udp { from: node(), source_port: sport, destination_port: dport, payload: &payload }).0);
        assert_eq!(c.unmatched_replies, 5);
        // The right one still matches, once.
        assert!(answer(&mut c, &probes[0]).0);
        assert!(!answer(&mut c, &probes[0]).0, "a duplicate reply matches nothing");
        assert_eq!(c.nodes()[0].successes, 1);
    }

    #[test]
    fn a_late_reply_does_not_count_for_the_next_probe() {
        let mut c = coap();
        let (first, _) = c.poll(0);
        let (second, _) = c.poll(1000 * MS); // the first timed out
        assert_eq!(c.nodes()[0].failures, 1);
        assert!(!answer(&mut c, &first[0]).0, "the first probe's answer came too late");
        assert!(answer(&mut c, &second[0]).0);
    }

    #[test]
    fn icmp_unreachable_fails_the_probe_at_once() {
        let mut c = checker("{ probe = \"coap-ping\", port = 5683, fall = 1 }");
        let (probes, _) = c.poll(0);
        let ProbePacket::Udp { source_port, .. } = probes[0].packet else { panic!() };
        let (matched, t) = c.on_reply(&Reply::Unreachable { node: node(), our_port: source_port, node_port: 5683 });
        assert!(matched);
        assert_eq!(t.map(|t| t.to), Some(Status::Down));
        assert!(c.nodes()[0].last_reason.contains("unreachable"));
    }

    #[test]
    fn icmp_echo_matches_identifier_and_sequence() {
        let mut c = checker("{ probe = \"icmp\", fall = 1, rise = 1 }");
        let (probes, _) = c.poll(0);
        let ProbePacket::Echo { identifier, sequence } = probes[0].packet else { panic!() };
        assert_eq!(identifier, ECHO_IDENTIFIER);
        assert!(!c.on_reply(&Reply::EchoReply { from: node(), identifier, sequence: sequence.wrapping_add(1) }).0);
        assert!(c.on_reply(&Reply::EchoReply { from: node(), identifier, sequence }).0);
    }

    #[test]
    fn udp_probe_needs_the_expected_bytes() {
        let mut c = checker("{ probe = \"udp\", port = 7, payload = \"70696e67\", expect = \"706f6e67\", fall = 1 }");
        let (probes, _) = c.poll(0);
        let ProbePacket::Udp { source_port, port, payload } = &probes[0].packet else { panic!() };
        assert_eq!(payload, b"ping");
        let ok = Reply::Udp { from: node(), source_port: *port, destination_port: *source_port, payload: b"..pong.." };
        assert_eq!(c.on_reply(&ok), (true, None));
        let (probes, _) = c.poll(1000 * MS);
        let ProbePacket::Udp { source_port, port, .. } = &probes[0].packet else { panic!() };
        let bad = Reply::Udp { from: node(), source_port: *port, destination_port: *source_port, payload: b"nope" };
        let (matched, t) = c.on_reply(&bad);
        assert!(matched);
        assert_eq!(t.map(|t| t.to), Some(Status::Down));
    }

    #[test]
    fn unsent_probes_fail_with_their_reason_at_the_timeout() {
        let mut c = checker("{ probe = \"icmp\", fall = 1 }");
        c.poll(0);
        c.not_sent(1, "next hop MAC unresolved");
        assert!(c.poll(100 * MS).1.is_empty(), "not before the timeout");
        let (_, t) = c.poll(500 * MS);
        assert_eq!(t[0].to, Status::Down);
        assert!(t[0].reason.contains("next hop MAC unresolved"), "{}", t[0].reason);
    }

    #[test]
    fn reconcile_keeps_state_of_nodes_that_stay() {
        let mut c = checker("{ probe = \"icmp\", fall = 1 }");
        c.poll(0);
        c.poll(1000 * MS);
        assert_eq!(c.status(1), Some(Status::Down));
        let text = "[eal]\nargs = [\"--no-pci\"]\n[[port]]\nname = \"p\"\ndevice = \"d\"\nipv4 = \"192.0.2.1/24\"\n\
            [[node]]\nid = 3\naddress = \"192.0.2.13\"\n\
            [[node]]\nid = 1\naddress = \"192.0.2.11\"\nhealth = { probe = \"icmp\", fall = 1, rise = 5 }\n";
        c.reconcile(&cidlb_config::parse(text, "t.toml").unwrap());
        assert_eq!(c.status(1), Some(Status::Down), "kept");
        assert_eq!(c.nodes()[1].timing.rise, 5, "new timing adopted");
        assert_eq!(c.status(3), Some(Status::Up));
        assert_eq!(c.status(2), None, "removed");
    }

    #[test]
    fn parse_reply_never_panics_on_short_icmp() {
        use cidlb_dataplane::wire::build::PacketBuilder;
        let own: std::net::Ipv4Addr = "192.0.2.1".parse().unwrap();
        let n: std::net::Ipv4Addr = "192.0.2.11".parse().unwrap();
        let frame = PacketBuilder::icmp4(n, own, 3, 3, [0; 4]).build();
        let parsed = cidlb_dataplane::wire::parse(&frame).unwrap();
        assert_eq!(parse_reply(&parsed, &frame), None);
        // A port unreachable quoting a probe.
        let probe = PacketBuilder::udp4(own, n, 49153, 5683).payload(&coap_ping(1)).build_ip();
        let frame = PacketBuilder::icmp4(n, own, 3, 3, [0; 4]).payload(&probe).build();
        let parsed = cidlb_dataplane::wire::parse(&frame).unwrap();
        assert_eq!(
            parse_reply(&parsed, &frame),
            Some(Reply::Unreachable { node: IpAddr::V4(n), our_port: 49153, node_port: 5683 })
        );
        let frame = PacketBuilder::echo_request4(n, own, 7, 9).build();
        let mut frame = frame;
        let parsed = cidlb_dataplane::wire::parse(&frame).unwrap();
        frame[parsed.l4_offset as usize] = 0; // echo reply
        assert_eq!(parse_reply(&parsed, &frame), Some(Reply::EchoReply { from: IpAddr::V4(n), identifier: 7, sequence: 9 }));
        for cut in 0..frame.len() {
            if let Ok(p) = cidlb_dataplane::wire::parse(&frame[..cut]) {
                let _ = parse_reply(&p, &frame[..cut]);
            }
        }
    }
}

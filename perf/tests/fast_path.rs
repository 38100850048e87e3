//! Differential test of the data path's common-case shortcuts: every bench profile's traffic,
//! and damaged copies of it, through `Worker::process` (fixed-offset parse, `Classifier::lead`)
//! and through `Worker::process_reference` (the general parse and classifier) on two workers
//! built alike. Every decision, every output byte and every counter must agree.

use cidlb_dataplane::classify::Lead;
use cidlb_dataplane::counters::DropReason;
use cidlb_dataplane::frame::{Frame, VecFrame};
use cidlb_dataplane::snapshot::{NodeState, RuntimeState, Snapshot, SnapshotSource};
use cidlb_dataplane::worker::{Action, ControlRings, Worker, WorkerParams};
use cidlb_perf::bench::{BenchProfile, BENCH_PROFILES};
use cidlb_perf::micro::worker_for;
use cidlb_perf::profiles::generate;
use cidlb_perf::Rng;
use std::sync::Arc;

/// A profile's traffic cut to at most 3000 packets over at most `flows` flows.
fn small_capture(profile: &BenchProfile, flows: u32) -> Vec<cidlb_dataplane::io::pcap::CapturedPacket> {
    let mut params = profile.params();
    params.packets = params.packets.min(3000);
    params.flows = params.flows.min(flows);
    generate(profile.generator, &params).unwrap()
}

fn counters(w: &Worker) -> String {
    format!("{:?}", w.counters)
}

#[test]
fn shortcuts_decide_exactly_as_the_reference_path() {
    let mut rng = Rng::new(7);
    let mut compared = 0;
    let mut fast_forwarded = 0;
    for profile in BENCH_PROFILES {
        let packets = small_capture(profile, 2000);
        let (mut fast, _c1) = worker_for(profile).unwrap();
        let (mut reference, _c2) = worker_for(profile).unwrap();
        let mut now = 1_000_000_000u64;
        for (i, p) in packets.iter().enumerate() {
            let mut bytes = p.bytes.clone();
            // One packet in four damaged in its headers: the shortcuts must hand those on.
            if i % 4 == 3 {
                for _ in 0..1 + rng.below(3) {
                    let at = rng.below(bytes.len().min(90) as u64) as usize;
                    bytes[at] = rng.next_u64() as u8;
                }
                if rng.below(4) == 0 {
                    bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
                }
            }
            let mut a = VecFrame::from_bytes(&bytes);
            let mut b = VecFrame::from_bytes(&bytes);
            let action_a = fast.process(now, 0, &mut a);
            let action_b = reference.process_reference(now, 0, &mut b);
            assert_eq!(action_a, action_b, "{}: packet {i} decided differently", profile.name);
            assert_eq!(a.data(), b.data(), "{}: packet {i} rewritten differently", profile.name);
            if matches!(action_a, Action::Transmit { .. }) && i % 4 != 3 {
                fast_forwarded += 1;
            }
            compared += 1;
            now += 20_000;
            if i % 32 == 31 {
                fast.housekeeping(now);
                reference.housekeeping(now);
            }
        }
        assert_eq!(counters(&fast), counters(&reference), "{}: counters differ", profile.name);
    }
    assert!(compared > 20_000 && fast_forwarded > 10_000, "{compared} compared, {fast_forwarded} forwarded");
}

/// A port that hands out a fixed list of frames in bursts and records what is sent.
struct ListIo {
    frames: std::collections::VecDeque<Vec<u8>>,
    sent: Vec<Vec<u8>>,
}

impl cidlb_dataplane::io::PacketIo for ListIo {
    type Buf = VecFrame;
    fn ports(&self) -> u16 {
        1
    }
    fn rx_burst(&mut self, _port: u16, out: &mut cidlb_dataplane::io::Burst<VecFrame>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            let Some(bytes) = self.frames.pop_front() else { break };
            out.push(VecFrame::from_bytes(&bytes));
            n += 1;
        }
        n
    }
    fn tx_burst(&mut self, _port: u16, bufs: &mut cidlb_dataplane::io::Burst<VecFrame>) -> usize {
        let n = bufs.len();
        self.sent.extend(bufs.drain(..).map(|f| f.data().to_vec()));
        n
    }
    fn alloc(&mut self) -> Option<VecFrame> {
        Some(VecFrame::new())
    }
}

/// The counters a worker keeps itself: the burst loop's own (rx, tx, bursts) are zeroed.
fn decision_counters(w: &Worker) -> String {
    let c = &w.counters;
    for counter in [&c.rx_packets, &c.rx_bytes, &c.tx_packets, &c.tx_bytes, &c.bursts] {
        counter.set(0);
    }
    format!("{c:?}")
}

/// The burst loop prepares a whole burst (parse, lead, prefetch) before it finishes any of it:
/// it must decide, rewrite and count exactly as the reference path taking the frames one by
/// one, so nothing the first pass reads may depend on what finishing an earlier frame of the
/// same burst changes (new sessions of the same flow inside one burst included).
#[test]
fn the_burst_loop_decides_as_the_reference_frame_by_frame() {
    let mut rng = Rng::new(11);
    let mut sent_total = 0;
    for profile in BENCH_PROFILES {
        let packets = small_capture(profile, 200);
        let mut frames: Vec<Vec<u8>> = packets.iter().map(|p| p.bytes.clone()).collect();
        for bytes in frames.iter_mut().skip(5).step_by(7) {
            let at = rng.below(bytes.len().min(90) as u64) as usize;
            bytes[at] = rng.next_u64() as u8;
        }
        let (burst_worker, _c1) = worker_for(profile).unwrap();
        let (mut reference, _c2) = worker_for(profile).unwrap();
        let burst = burst_worker.params.burst;
        let io = ListIo { frames: frames.iter().cloned().collect(), sent: Vec::new() };
        let mut pump = cidlb_dataplane::worker::Pump::new(io, burst_worker, vec![std::sync::Arc::new(Default::default())]);
        let mut expected = Vec::new();
        let mut now = 1_000_000_000u64;
        for chunk in frames.chunks(burst) {
            pump.poll(now);
            for bytes in chunk {
                let mut frame = VecFrame::from_bytes(bytes);
                match reference.process_reference(now, 0, &mut frame) {
                    Action::Transmit { .. } => expected.push(frame.data().to_vec()),
                    // The burst loop counts drops as it carries them out.
                    Action::Drop(reason) => reference.counters.count_drop(reason),
                    other => panic!("{}: unexpected action {other:?} in a bench profile", profile.name),
                }
            }
            reference.housekeeping(now);
            now += 640_000;
        }
        pump.flush();
        assert_eq!(pump.io.frames.len(), 0, "{}: frames left unread", profile.name);
        assert_eq!(pump.io.sent.len(), expected.len(), "{}: forwarded counts differ", profile.name);
        for (i, (a, b)) in pump.io.sent.iter().zip(&expected).enumerate() {
            assert_eq!(a, b, "{}: forwarded frame {i} differs", profile.name);
        }
        assert_eq!(decision_counters(&pump.worker), decision_counters(&reference), "{}: counters differ", profile.name);
        sent_total += expected.len();
    }
    assert!(sent_total > 20_000, "{sent_total} forwarded");
}

/// Two workers over one snapshot of `config` (with `runtime`'s health and neighbours): the
/// first to decide as the data path does, the second by the reference path.
fn workers_over(config: &str, runtime: &RuntimeState) -> (Worker, Worker) {
    let config = cidlb_config::parse(config, "lane").unwrap();
    let macs: Vec<cidlb_config::MacAddr> = config.port.iter().map(|p| p.mac.unwrap()).collect();
    let snapshot = Snapshot::build_with(&config, &macs, 1, [7; 16], runtime).unwrap();
    let source = Arc::new(SnapshotSource::new(snapshot));
    let worker = || Worker::new(WorkerParams::from_config(0, &config.dataplane), Arc::clone(&source), Default::default(), Arc::new(ControlRings::new(8)));
    (worker(), worker())
}

/// A bench profile's `config` with the neighbour entry of node 2 (`192.0.2.12`), or of node 34
/// (`2001:db8::22`) when `v6`, moved to an address no node has: that node's next hop unknown.
fn unresolved_node(config: &str, v6: bool) -> String {
    let (ip, elsewhere, mac) = if v6 { ("2001:db8::22", "2001:db8::99", "02:00:00:00:00:22") } else { ("192.0.2.12", "192.0.2.99", "02:00:00:00:00:02") };
    config.replace(&format!("ip = \"{ip}\"\nmac = \"{mac}\"\n"), &format!("ip = \"{elsewhere}\"\nmac = \"{mac}\"\n"))
}

/// The CID lane (`Worker::prepare` deciding a CID record from its bytes, with no parse) takes
/// the `cid` profile's records and decides each as the reference path does, also where the
/// reference does not simply NAT it (its TTL spent, its node's next hop unknown); it leaves to
/// the general path whatever the reference would not forward by its CID (the node down, a
/// record of another version or cut short, a datagram shorter than its IP header says).
#[test]
fn the_cid_lane_takes_cid_records_and_decides_them_as_the_reference() {
    let profile = cidlb_perf::bench::find("cid").unwrap();
    let packets = small_capture(profile, 1000);
    let config = profile.config();
    // Node 2's next hop unknown: the reference holds its frames for the neighbour.
    let unresolved = unresolved_node(&config, false);
    assert_ne!(unresolved, config);
    let mut down = RuntimeState::default();
    down.health.insert(3, NodeState::Down);
    let mut rng = Rng::new(5);
    for (name, config, runtime) in [("as generated", &config, RuntimeState::default()), ("node 2 unresolved", &unresolved, RuntimeState::default()), ("node 3 down", &config, down)] {
        let (mut lane, mut reference) = workers_over(config, &runtime);
        let (mut laned, mut held, mut unknown) = (0, 0, 0);
        let mut now = 1_000_000_000u64;
        for (i, p) in packets.iter().enumerate() {
            let mut bytes = p.bytes.clone();
            match i % 8 {
                // TTL 1 (the lane's, dropped as the reference drops it); DTLS version 1.0; the
                // record's length one past the datagram; the frame cut short of its IP length.
                1 => bytes[22] = 1,
                3 => bytes[44] = 0xff,
                5 => {
                    let at = 42 + 11 + 6;
                    let length = u16::from_be_bytes([bytes[at], bytes[at + 1]]) + 1;
                    bytes[at..at + 2].copy_from_slice(&length.to_be_bytes());
                }
                7 => {
                    let cut = bytes.len() - 1 - rng.below(4) as usize;
                    bytes.truncate(cut);
                }
                _ => {}
            }
            let took = matches!(lane.prepare(0, &bytes).lead(), Lead::Cid { .. });
            let mut a = VecFrame::from_bytes(&bytes);
            let mut b = VecFrame::from_bytes(&bytes);
            let action = lane.process(now, 0, &mut a);
            assert_eq!(action, reference.process_reference(now, 0, &mut b), "{name}: packet {i} decided differently");
            assert_eq!(a.data(), b.data(), "{name}: packet {i} rewritten differently");
            // Every record to a node that is not down is the lane's, the damaged ones are not.
            let to_down_node = action == Action::Drop(DropReason::UnknownCid);
            let lanes = matches!(i % 8, 0 | 1 | 2 | 4 | 6) && !to_down_node;
            assert_eq!(took, lanes, "{name}: packet {i} ({action:?}) in the lane: {took}");
            laned += usize::from(took);
            held += usize::from(matches!(action, Action::Hold { .. }));
            unknown += usize::from(to_down_node);
            now += 20_000;
        }
        assert_eq!(counters(&lane), counters(&reference), "{name}: counters differ");
        // Five packets in eight are records the lane may take; a third of them go to each node.
        let records = packets.len() * 5 / 8;
        let (min_held, min_unknown) = match name {
            "as generated" => (0, 0),
            "node 2 unresolved" => (records / 5, 0),
            _ => (0, records / 5),
        };
        assert!(held >= min_held && unknown >= min_unknown && (min_held > 0 || held == 0), "{name}: {held} held, {unknown} to a down node");
        assert!(laned > records / 2, "{name}: {laned} of {records} in the lane");
    }
}

/// The CID lane's IP-in-IP finish (`Worker::tunnel_lane`: the outer header written at the
/// lane's fixed offsets, no parse) encapsulates the `ipip` profile's records exactly as the
/// reference path does, and leaves to the general path what it does not: a record too big for
/// the tunnel (answered "too big" with DF, cut in outer fragments without), a node's next hop
/// unknown. Ethernet padding, DF flipped and a TOS byte are carried as the reference carries them.
#[test]
fn the_tunnel_lane_encapsulates_cid_records_as_the_reference() {
    let profile = cidlb_perf::bench::find("ipip").unwrap();
    let packets = small_capture(profile, 1000);
    let config = profile.config();
    assert!(config.contains("forward = \"ipip\""));
    let unresolved = unresolved_node(&config, false);
    assert_ne!(unresolved, config);
    for (name, config) in [("as generated", &config), ("node 2 unresolved", &unresolved)] {
        let (mut lane, mut reference) = workers_over(config, &RuntimeState::default());
        let (mut tunnelled, mut fragmented, mut too_big, mut held) = (0, 0, 0, 0);
        let mut now = 1_000_000_000u64;
        for (i, p) in packets.iter().enumerate() {
            let mut bytes = p.bytes.clone();
            // The IP packet grown to `total` bytes by zeros after the record, in the IPv4 total
            // length and the UDP length (the header checksum left stale: no one checks it here).
            let grow = |bytes: &mut Vec<u8>, total: usize| {
                bytes[16..18].copy_from_slice(&(total as u16).to_be_bytes());
                bytes[38..40].copy_from_slice(&((total - 20) as u16).to_be_bytes());
                bytes.resize(14 + total, 0);
            };
            match i % 6 {
                // Ethernet padding after the IP packet; 1490 bytes of IP with DF, then without
                // (1510 through the tunnel, past the port's 1500); DF flipped and a TOS byte.
                1 => bytes.extend_from_slice(&[0xee; 10]),
                2 => {
                    grow(&mut bytes, 1490);
                    bytes[20] |= 0x40;
                }
                3 => {
                    grow(&mut bytes, 1490);
                    bytes[20] &= !0x40;
                }
                4 => {
                    bytes[20] ^= 0x40;
                    bytes[15] = 0xb8;
                }
                _ => {}
            }
            assert!(matches!(lane.prepare(0, &bytes).lead(), Lead::Cid { .. }), "{name}: packet {i} not in the lane");
            let mut a = VecFrame::from_bytes(&bytes);
            let mut b = VecFrame::from_bytes(&bytes);
            let action = lane.process(now, 0, &mut a);
            assert_eq!(action, reference.process_reference(now, 0, &mut b), "{name}: packet {i} decided differently");
            assert_eq!(a.data(), b.data(), "{name}: packet {i} rewritten differently");
            match action {
                Action::Transmit { .. } if a.data().len() == bytes.len() + 20 - if i % 6 == 1 { 10 } else { 0 } => tunnelled += 1,
                // Answered "too big", within the ICMP rate limit.
                Action::Transmit { .. } | Action::Drop(DropReason::MtuExceeded) => too_big += 1,
                Action::Fragments { .. } => fragmented += 1,
                // Waiting for the neighbour (a frame to cut in fragments cannot wait: dropped).
                Action::Hold { .. } | Action::Drop(DropReason::NeighborUnresolved) => held += 1,
                other => panic!("{name}: packet {i}: {other:?}"),
            }
            now += 20_000;
        }
        assert_eq!(counters(&lane), counters(&reference), "{name}: counters differ");
        let n = packets.len();
        assert!(tunnelled >= n / 3 && fragmented >= n / 12 && too_big >= 1, "{name}: {tunnelled} tunnelled, {fragmented} fragmented, {too_big} too big");
        assert_eq!(held > 0, name == "node 2 unresolved", "{name}: {held} held");
    }
}

/// The IPv6 lane's IP-in-IP finish (`Worker::tunnel_lane` for IPv6: the outer header written at
/// the lane's fixed offsets, no parse) encapsulates the `flow-label-ipip` profile's segments
/// exactly as the reference path does: the inner label as the outer one or, for a zero label,
/// one derived from the 5-tuple (also found after option headers), the traffic class carried,
/// Ethernet padding removed, a packet that fills the port's MTU in its tunnel exactly; and it
/// leaves to the general path a packet one byte too big (answered with Packet Too Big) and a
/// node whose next hop is unknown.
#[test]
fn the_tunnel_lane_encapsulates_ipv6_flows_as_the_reference() {
    let profile = cidlb_perf::bench::find("flow-label-ipip").unwrap();
    let packets = small_capture(profile, 300);
    let config = profile.config();
    assert!(config.contains("balance = \"flow-label\"\nforward = \"ipip\""));
    let unresolved = unresolved_node(&config, true);
    assert_ne!(unresolved, config);
    for (name, config) in [("as generated", &config), ("node 34 unresolved", &unresolved)] {
        let (mut lane, mut reference) = workers_over(config, &RuntimeState::default());
        let (mut tunnelled, mut too_big, mut held) = (0, 0, 0);
        let mut now = 1_000_000_000u64;
        for (i, p) in packets.iter().enumerate() {
            let mut bytes = p.bytes.clone();
            assert_eq!(&bytes[12..14], &[0x86, 0xdd], "an IPv6 frame");
            // The payload grown to `payload` bytes by zeros after the segment.
            let grow = |bytes: &mut Vec<u8>, payload: usize| {
                bytes[18..20].copy_from_slice(&(payload as u16).to_be_bytes());
                bytes.resize(14 + 40 + payload, 0);
            };
            let zero_label = |bytes: &mut Vec<u8>| {
                bytes[15] &= 0xf0;
                bytes[16] = 0;
                bytes[17] = 0;
            };
            let padding = if i % 8 == 1 { 10 } else { 0 };
            match i % 8 {
                1 => bytes.extend_from_slice(&[0xee; 10]),
                // 1460 bytes of IP: 1500 in the tunnel, the port's MTU; then one byte more.
                2 => grow(&mut bytes, 1420),
                3 => grow(&mut bytes, 1421),
                // A traffic class (0xb8) and a zero label; a zero label after two option headers.
                4 => {
                    bytes[14] = 0x6b;
                    bytes[15] = 0x80 | (bytes[15] & 0x0f);
                    zero_label(&mut bytes);
                }
                5 => {
                    // Hop-by-hop and destination options, 8 bytes each, before the segment.
                    let next = bytes[20];
                    bytes[20] = 0;
                    bytes.splice(54..54, [60, 0, 1, 4, 0, 0, 0, 0, next, 0, 1, 4, 0, 0, 0, 0]);
                    let payload = u16::from_be_bytes([bytes[18], bytes[19]]) + 16;
                    bytes[18..20].copy_from_slice(&payload.to_be_bytes());
                    zero_label(&mut bytes);
                }
                _ => {}
            }
            let (action, out) = decide_both(&mut lane, &mut reference, now, &bytes, true, &format!("{name}: packet {i}"));
            match action {
                Action::Transmit { .. } if out.len() == bytes.len() + 40 - padding => {
                    tunnelled += 1;
                    // The outer label: never zero, the inner one where there is one.
                    let (outer, inner) = (&out[14..18], &out[54..58]);
                    let label = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) & 0xf_ffff;
                    assert!(label(outer) != 0 && (label(inner) == 0 || label(outer) == label(inner)), "{name}: packet {i}");
                }
                // Answered "too big", within the ICMP rate limit.
                Action::Transmit { .. } | Action::Drop(DropReason::MtuExceeded) => too_big += 1,
                Action::Hold { .. } => held += 1,
                other => panic!("{name}: packet {i}: {other:?}"),
            }
            now += 20_000;
        }
        assert_eq!(counters(&lane), counters(&reference), "{name}: counters differ");
        let n = packets.len();
        assert_eq!(too_big, (0..n).filter(|i| i % 8 == 3).count(), "{name}: {too_big} too big");
        assert!(tunnelled + held + too_big == n && tunnelled >= n / 3, "{name}: {tunnelled} tunnelled, {held} held");
        assert_eq!(held > 0, name == "node 34 unresolved", "{name}: {held} held");
    }
}

/// `bytes` through the data path (`lane`) and the reference path: the same action and output
/// bytes, and the session or label lane took the frame exactly when `lanes`. The action and
/// the frame out.
fn decide_both(lane: &mut Worker, reference: &mut Worker, now: u64, bytes: &[u8], lanes: bool, what: &str) -> (Action, Vec<u8>) {
    let took = lane.prepare(0, bytes).in_session_lane();
    let mut a = VecFrame::from_bytes(bytes);
    let mut b = VecFrame::from_bytes(bytes);
    let action = lane.process(now, 0, &mut a);
    assert_eq!(action, reference.process_reference(now, 0, &mut b), "{what} decided differently");
    assert_eq!(a.data(), b.data(), "{what} rewritten differently");
    assert_eq!(took, lanes, "{what} ({action:?}) in the lane: {took}");
    (action, a.data().to_vec())
}

/// One case of a lane test: its name, config, health, and a flag for the test's `shape`.
type LaneCase<'a> = (&'a str, &'a String, RuntimeState, bool);

/// Runs each case over `rounds` passes of `packets` through `decide_both` (a data-path worker
/// and a reference worker built alike): `shape(flag, i, round, bytes)` makes packet `i` of
/// `round` and says whether the lane must take it and, if given, the action it must come to.
/// Per case the counters must agree, at least a third of the frames must have been the lane's,
/// frames held only where a next hop is unresolved (a fifth of the lane's at least there), and
/// nearly all tunnelled (`grow` bytes longer) in the IP-in-IP case; `after(name, worker)` checks
/// the rest.
fn run_lane_cases(
    cases: Vec<LaneCase>,
    packets: &[cidlb_dataplane::io::pcap::CapturedPacket],
    rounds: usize,
    grow: usize,
    shape: impl Fn(bool, usize, usize, &mut Vec<u8>) -> (bool, Option<Action>),
    after: impl Fn(&str, &Worker),
) {
    for (name, config, runtime, flag) in cases {
        let (mut lane, mut reference) = workers_over(config, &runtime);
        let (mut laned, mut held, mut tunneled) = (0, 0, 0);
        let mut now = 1_000_000_000u64;
        for round in 0..rounds {
            for (i, p) in packets.iter().enumerate() {
                let mut bytes = p.bytes.clone();
                let (lanes, must) = shape(flag, i, round, &mut bytes);
                let what = format!("{name}: packet {i} of round {round}");
                let (action, out) = decide_both(&mut lane, &mut reference, now, &bytes, lanes, &what);
                if let Some(must) = must {
                    assert_eq!(action, must, "{what}");
                }
                laned += usize::from(lanes);
                held += usize::from(matches!(action, Action::Hold { .. }));
                tunneled += usize::from(out.len() == bytes.len() + grow);
                now += 20_000;
            }
        }
        assert_eq!(counters(&lane), counters(&reference), "{name}: counters differ");
        let total = packets.len() * rounds;
        assert!(laned * 3 >= total, "{name}: {laned} of {total} in the lane");
        if name.ends_with("unresolved") {
            assert!(held >= laned / 5, "{name}: {held} held");
        } else {
            assert_eq!(held, 0, "{name}: {held} held");
        }
        if name == "IP-in-IP" {
            assert!(tunneled >= laned * 9 / 10, "{name}: {tunneled} tunnelled");
        }
        after(name, &lane);
    }
}

/// The session lane (`Worker::prepare` reading a frame's 5-tuple from its bytes, with no parse;
/// `Worker::finish_tuple`) takes the `session-1k` profile's datagrams, and the same turned into
/// TCP segments for a service that takes both, and decides each as the reference path does:
/// new sessions and hits, the TTL spent, a target port, a node's next hop unknown, IP-in-IP,
/// a node down. It leaves to the general path what the fixed-offset parse does not take (IP
/// options, fragments, a datagram longer than its packet, a TCP header that does not fit) and
/// what is not a lane service's (another port, a multicast MAC).
#[test]
fn the_session_lane_takes_5_tuple_flows_and_decides_them_as_the_reference() {
    let profile = cidlb_perf::bench::find("session-1k").unwrap();
    let packets = small_capture(profile, 300);
    let config = profile.config();
    let coap = "protocol = \"udp\"\nbalance = \"five-tuple\"";
    assert!(config.contains(coap));
    let any = config.replace(coap, "protocol = \"any\"\nbalance = \"five-tuple\"\ntarget_port = 7000");
    let unresolved = unresolved_node(&config, false);
    let ipip = config.replace(coap, "protocol = \"udp\"\nbalance = \"five-tuple\"\nforward = \"ipip\"");
    assert!(unresolved != config && any != config && ipip != config);
    let mut down = RuntimeState::default();
    down.health.insert(3, NodeState::Down);
    let cases = [
        ("as generated", &config, RuntimeState::default(), false),
        ("TCP and UDP, target port", &any, RuntimeState::default(), true),
        ("node 2 unresolved", &unresolved, RuntimeState::default(), false),
        ("IP-in-IP", &ipip, RuntimeState::default(), false),
        ("node 3 down", &config, down, false),
    ];
    // Twice over the flows: new sessions first, hits after.
    let shape = |tcp: bool, i: usize, round: usize, bytes: &mut Vec<u8>| {
        let is_tcp = tcp && i % 2 == 1;
        if is_tcp {
            // The protocol, room for a 20-byte TCP header (the IP length grown by as much) and
            // its data offset, 5 words.
            let grow = (14 + 20 + 20usize).saturating_sub(bytes.len());
            bytes.resize(bytes.len() + grow, 0);
            let total = u16::from_be_bytes([bytes[16], bytes[17]]) + grow as u16;
            bytes[16..18].copy_from_slice(&total.to_be_bytes());
            bytes[23] = 6;
            bytes[46] = 0x50;
        }
        let damage = (i / 2 + round) % 10;
        match damage {
            // TTL 1 (the lane's, dropped as the reference drops it).
            1 => bytes[22] = 1,
            // UDP: the datagram one byte longer than its packet; TCP: a header that does not
            // fit the segment.
            3 if is_tcp => bytes[46] = 0xf0,
            3 => {
                let length = u16::from_be_bytes([bytes[38], bytes[39]]) + 1;
                bytes[38..40].copy_from_slice(&length.to_be_bytes());
            }
            // More fragments; IHL 6 (an option); a multicast destination MAC; another port.
            5 => bytes[20] |= 0x20,
            7 => bytes[14] = 0x46,
            8 => bytes[0] = 0x01,
            9 => bytes[37] ^= 0x01,
            _ => {}
        }
        (matches!(damage, 0 | 1 | 2 | 4 | 6), None)
    };
    run_lane_cases(cases.into(), &packets, 2, 20, shape, |name, lane| {
        if name == "node 3 down" {
            assert!(lane.counters.sessions_created.get() > 0, "{name}: no session");
        }
    });
}

/// The IPv6 lane (`Worker::prepare` reading a frame's `<source, destination, label>` key or
/// 5-tuple from its bytes, with no parse; `Worker::finish_ipv6`) takes the `flow-label`
/// profile's segments, and the same turned into UDP datagrams, and decides each as the
/// reference path does: new labels and hits, relabelled flows, suspect labels (`verify`), zero
/// labels (the 5-tuple path), the hop limit spent, a target port, a node's next hop unknown,
/// IP-in-IP, a node down. It leaves to the general path a Fragment header with no UDP or TCP
/// after it, a payload longer than the frame, another port, a multicast MAC.
#[test]
fn the_ipv6_lane_takes_labelled_flows_and_decides_them_as_the_reference() {
    let profile = cidlb_perf::bench::find("flow-label").unwrap();
    let packets = small_capture(profile, 300);
    let config = profile.config();
    let web6 = "protocol = \"any\"\nbalance = \"flow-label\"";
    assert!(config.contains(web6));
    let verify = config.replace(web6, "protocol = \"any\"\nbalance = \"flow-label\"\nlabel_policy = \"verify\"");
    let target = config.replace(web6, "protocol = \"any\"\nbalance = \"flow-label\"\ntarget_port = 8443");
    let unresolved = unresolved_node(&config, true);
    let ipip = config.replace(web6, "protocol = \"any\"\nbalance = \"flow-label\"\nforward = \"ipip\"");
    assert!([&verify, &target, &unresolved, &ipip].iter().all(|c| **c != config));
    let mut down = RuntimeState::default();
    down.health.insert(33, NodeState::Down);
    let cases = [
        ("as generated", &config, RuntimeState::default(), false),
        ("labels verified", &verify, RuntimeState::default(), false),
        ("UDP and TCP, target port", &target, RuntimeState::default(), true),
        ("node 34 unresolved", &unresolved, RuntimeState::default(), false),
        ("IP-in-IP", &ipip, RuntimeState::default(), false),
        ("node 33 down", &config, down, false),
    ];
    // Three times over the flows: new labels first, hits and relabels after.
    let shape = |udp: bool, i: usize, round: usize, bytes: &mut Vec<u8>| {
        assert_eq!(&bytes[12..14], &[0x86, 0xdd], "an IPv6 frame");
        let payload = u16::from_be_bytes([bytes[18], bytes[19]]);
        if udp && i % 2 == 1 {
            // Next header UDP, the datagram as long as the payload.
            bytes[20] = 17;
            bytes[58..60].copy_from_slice(&payload.to_be_bytes());
        }
        let damage = (i / 2 + round) % 10;
        match damage {
            // The hop limit spent (the lane's, dropped as the reference drops it).
            1 => bytes[21] = 1,
            // After the first round: a new label on the same 5-tuple (a relabel); then the next
            // flow's source and label on this flow's ports, a label key another 5-tuple owns
            // (suspect under `verify`).
            2 if round == 1 => {
                let label = (u32::from_be_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]) ^ 0x5a5) | 1;
                bytes[14..18].copy_from_slice(&label.to_be_bytes());
            }
            2 if round == 2 => {
                let next = &packets[(i + 1) % packets.len()].bytes;
                bytes[15] = (bytes[15] & 0xf0) | (next[15] & 0x0f);
                bytes[16..18].copy_from_slice(&next[16..18]);
                bytes[22..38].copy_from_slice(&next[22..38]);
            }
            // A zero label (the lane's 5-tuple path); a Fragment header named (the header after
            // it neither UDP nor TCP: the general path's); the payload one byte past the frame; a
            // multicast MAC; another port.
            3 => {
                bytes[15] &= 0xf0;
                bytes[16] = 0;
                bytes[17] = 0;
            }
            5 => bytes[20] = 44,
            7 => bytes[18..20].copy_from_slice(&(payload + 1).to_be_bytes()),
            8 => bytes[0] = 0x33,
            9 => bytes[57] ^= 0x01,
            _ => {}
        }
        (matches!(damage, 0..=4 | 6), None)
    };
    run_lane_cases(cases.into(), &packets, 3, 40, shape, |name, lane| {
        if name != "labels verified" {
            assert!(lane.counters.relabels.get() > 0, "{name}: no relabel");
        } else {
            assert!(lane.counters.labels_suspect.get() > 0, "{name}: no suspect label");
        }
    });
}

/// The IPv6 lane takes the fragments of labelled flows (`Worker::ipv6_fragment_lane`: the
/// `flow-label-frag` profile's datagrams in two fragments, some turned into TCP) of a service
/// that trusts labels, first and later ones, and decides each as the reference path does: new
/// labels and hits, relabels, the hop limit spent, a target port (first fragments only), a
/// node's next hop unknown, IP-in-IP, a node down. It leaves to the general path a zero label,
/// an atomic fragment, a Fragment header too short or followed by another protocol, a first
/// fragment whose UDP or TCP header is not all there, a payload longer than the frame, another
/// port, a multicast MAC; and every fragment of a service that does not trust labels
/// (`verify`, `ignore`, `five-tuple`), which goes by the fragment table.
#[test]
fn the_ipv6_lane_takes_labelled_fragments_and_decides_them_as_the_reference() {
    let profile = cidlb_perf::bench::find("flow-label-frag").unwrap();
    let packets = small_capture(profile, 300);
    let config = profile.config();
    let web6 = "protocol = \"any\"\nbalance = \"flow-label\"";
    assert!(config.contains(web6));
    let with = |extra: &str| config.replace(web6, &format!("{web6}\n{extra}"));
    let target = with("target_port = 8443");
    let unresolved = unresolved_node(&config, true);
    let ipip = with("forward = \"ipip\"");
    assert!(unresolved != config);
    let mut down = RuntimeState::default();
    down.health.insert(33, NodeState::Down);
    let cases = [
        ("as generated", &config, RuntimeState::default(), false),
        ("target port", &target, RuntimeState::default(), false),
        ("node 34 unresolved", &unresolved, RuntimeState::default(), false),
        ("IP-in-IP", &ipip, RuntimeState::default(), false),
        ("node 33 down", &config, down, false),
    ];
    // Ethernet 0..14, IPv6 14..54 (label 15..18, payload length 18..20, next header 20, hop
    // limit 21), Fragment header 54..62 (next header 54, offset and M 56..58), upper layer 62..
    let shape = |_: bool, i: usize, round: usize, bytes: &mut Vec<u8>| {
        assert_eq!((&bytes[12..14], bytes[20]), (&[0x86, 0xdd][..], 44), "an IPv6 fragment");
        let first = u16::from_be_bytes([bytes[56], bytes[57]]) >> 3 == 0;
        assert_eq!(first, i.is_multiple_of(2), "packet {i}: the profile's datagrams come in two fragments");
        let payload = u16::from_be_bytes([bytes[18], bytes[19]]);
        let damage = (i / 2 + round) % 16;
        let lanes = match damage {
            // The hop limit spent (the lane's, dropped as the reference drops it).
            1 => {
                bytes[21] = 1;
                true
            }
            // After the first round: a new label on the same datagram's flow (a relabel for
            // the first fragment, a new label for the later one).
            2 if round > 0 => {
                let label = (u32::from_be_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]) ^ 0x5a5) | 1;
                bytes[14..18].copy_from_slice(&label.to_be_bytes());
                true
            }
            // A zero label: the fragment table's.
            3 => {
                bytes[15] &= 0xf0;
                bytes[16] = 0;
                bytes[17] = 0;
                false
            }
            // An atomic fragment (M clear at offset 0): a whole datagram, the general path's.
            4 if first => {
                bytes[57] &= !1;
                false
            }
            // ICMPv6 after the Fragment header; the payload one byte past the frame; a multicast
            // MAC; the Fragment header past the payload.
            5 => {
                bytes[54] = 58;
                false
            }
            6 => {
                bytes[18..20].copy_from_slice(&(payload + 1).to_be_bytes());
                false
            }
            7 => {
                bytes[0] = 0x33;
                false
            }
            9 => {
                bytes[18..20].copy_from_slice(&4u16.to_be_bytes());
                false
            }
            // Another port (a later fragment has none: its bytes are data).
            8 => {
                bytes[65] ^= 0x01;
                !first
            }
            // The packet ends 4 bytes into the upper layer: no room for a UDP header in a first
            // fragment; a later fragment's data is only short.
            10 => {
                bytes[18..20].copy_from_slice(&12u16.to_be_bytes());
                !first
            }
            // TCP: with a 20-byte header, or a data offset of 16 bytes (a first fragment's
            // header that does not fit the rules).
            11 | 12 => {
                bytes[54] = 6;
                bytes[74] = if damage == 11 { 0x50 } else { 0x40 };
                damage == 11 || !first
            }
            // Reserved bits of the Fragment header set (ignored); a first fragment moved to
            // offset 8 (a later one, by the label).
            13 => {
                bytes[57] |= 0x06;
                true
            }
            14 => {
                bytes[57] |= 0x08;
                true
            }
            _ => true,
        };
        (lanes, None)
    };
    run_lane_cases(cases.into(), &packets, 3, 40, shape, |name, lane| {
        assert!(lane.counters.relabels.get() > 0, "{name}: no relabel");
    });
    // Labels verified or ignored, or a five-tuple service: every fragment is the general
    // path's (the first leaves a trail in the fragment table, the later ones follow it).
    for (name, config) in [("labels verified", with("label_policy = \"verify\"")), ("labels ignored", with("label_policy = \"ignore\"")), ("five-tuple", config.replace("flow-label", "five-tuple"))] {
        let (mut lane, mut reference) = workers_over(&config, &RuntimeState::default());
        let mut now = 1_000_000_000u64;
        for (i, p) in packets.iter().enumerate() {
            decide_both(&mut lane, &mut reference, now, &p.bytes, false, &format!("{name}: packet {i}"));
            now += 20_000;
        }
        assert_eq!(counters(&lane), counters(&reference), "{name}: counters differ");
        assert!(lane.counters.fragments_forwarded.get() * 3 >= packets.len() as u64, "{name}: {} by the fragment table", lane.counters.fragments_forwarded.get());
    }
}

/// The session lane takes a `dtls-cid` service's datagrams without a CID record (the
/// `handshake-1k` profile's ClientHellos, a ClientHello with a cookie, an alert: the session
/// path; a client's first ClientHello: the stateless Hello route) and decides them as the
/// reference path does, by NAT and in IP-in-IP tunnels, and leaves the rest to the general path: a CID record to a node that
/// is down (`unknown_cid = "session"`), a CID record cut short (dropped).
#[test]
fn the_session_lane_takes_dtls_datagrams_bound_for_the_session_path() {
    use cidlb_dataplane::wire::build::dtls;
    let profile = cidlb_perf::bench::find("handshake-1k").unwrap();
    let packets = small_capture(profile, 300);
    let config = profile.config().replace("unknown_cid = \"drop\"", "unknown_cid = \"session\"");
    assert_ne!(config, profile.config());
    let ipip = config.replace("unknown_cid = \"session\"\nforward = \"nat\"", "unknown_cid = \"session\"\nforward = \"ipip\"");
    assert_ne!(ipip, config);
    let mut down = RuntimeState::default();
    down.health.insert(3, NodeState::Down);
    // The frame's Ethernet, IPv4 and UDP headers around another DTLS payload.
    let with_payload = |frame: &[u8], payload: &[u8]| {
        let mut bytes = frame[..42].to_vec();
        bytes.extend_from_slice(payload);
        bytes[16..18].copy_from_slice(&(28 + payload.len() as u16).to_be_bytes());
        bytes[38..40].copy_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        bytes
    };
    for (name, config, runtime) in [("as generated", &config, RuntimeState::default()), ("node 3 down", &config, down), ("IP-in-IP", &ipip, RuntimeState::default())] {
        let (mut lane, mut reference) = workers_over(config, &runtime);
        let (mut laned, mut hellos) = (0, 0);
        let mut now = 1_000_000_000u64;
        for round in 0..2 {
            for (i, p) in packets.iter().enumerate() {
                let kind = (i + round) % 6;
                let bytes = match kind {
                    1 => with_payload(&p.bytes, &dtls::client_hello_with(&[7; 8], &[])),
                    2 => with_payload(&p.bytes, &dtls::client_hello_with(&[7; 8], &[1, 2, 3, 4])),
                    3 => with_payload(&p.bytes, &dtls::cid_record(&[3, 1, 2, 3, 4, 5], 1, i as u64, &[0xab; 24])),
                    4 => with_payload(&p.bytes, &dtls::cid_record(&[3, 1, 2, 3, 4, 5], 1, i as u64, &[0xab; 24])[..16]),
                    5 => with_payload(&p.bytes, &dtls::record(21, 1, i as u64, &[2, 40])),
                    _ => p.bytes.clone(),
                };
                // The CID record goes to the CID lane, or with its node down to the general path.
                let lanes = matches!(kind, 0 | 1 | 2 | 5);
                let (action, _) = decide_both(&mut lane, &mut reference, now, &bytes, lanes, &format!("{name}: packet {i} ({kind}) of round {round}"));
                laned += usize::from(lanes);
                hellos += usize::from(kind == 1 && matches!(action, Action::Transmit { .. }));
                now += 20_000;
            }
        }
        assert_eq!(counters(&lane), counters(&reference), "{name}: counters differ");
        assert!(laned >= packets.len() * 9 / 10, "{name}: {laned} in the lane");
        assert!(hellos >= packets.len() / 4, "{name}: {hellos} first ClientHellos forwarded");
        assert!(lane.counters.hello_forwarded.get() > 0 && lane.counters.session_forwarded.get() > 0, "{name}");
        assert_eq!(lane.counters.tunnel_encapsulated.get() > 0, name == "IP-in-IP", "{name}");
    }
}

/// `frame` (an Ethernet and IPv6 frame of the `flow-label-ext` profile: hop-by-hop and
/// destination options headers, 8 bytes each, before a TCP segment) with `count` option
/// headers instead (a hop-by-hop header, then destination options headers), 8 bytes each.
fn with_option_headers(frame: &[u8], count: usize) -> Vec<u8> {
    const UPPER: usize = 14 + 40 + 16;
    let mut bytes = frame[..54].to_vec();
    bytes[20] = 0;
    for i in 0..count {
        let next = if i + 1 == count { frame[62] } else { 60 };
        bytes.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    bytes.extend_from_slice(&frame[UPPER..]);
    let payload = (bytes.len() - 54) as u16;
    bytes[18..20].copy_from_slice(&payload.to_be_bytes());
    bytes
}

/// The IPv6 lane takes the `flow-label-ext` profile's segments (hop-by-hop and destination
/// options headers before TCP), with labels and, as in `flow-label-zero`, without, and the same
/// turned into UDP datagrams, for every kind of service it serves (labels trusted, verified,
/// ignored; `five-tuple`), and decides each as the reference path does, the upper layer found
/// after the options (new sessions and hits, the hop limit spent, a target port, a node's next
/// hop unknown, IP-in-IP, a node down). It leaves to the general path what its walk does not
/// take: an option header longer than the packet, a routing header, a Fragment header, a chain
/// longer than eight headers, a payload longer than the frame; and another port, a multicast MAC.
#[test]
fn the_ipv6_lane_takes_option_headers_and_zero_labels_as_the_reference() {
    let profile = cidlb_perf::bench::find("flow-label-ext").unwrap();
    let packets = small_capture(profile, 300);
    assert!(packets.iter().all(|p| p.bytes[20] == 0 && p.bytes[54] == 60 && p.bytes[62] == 6), "hop-by-hop, destination options, TCP");
    let config = profile.config();
    let web6 = "protocol = \"any\"\nbalance = \"flow-label\"";
    assert!(config.contains(web6));
    let with = |extra: &str| config.replace(web6, &format!("{web6}\n{extra}"));
    let verify = with("label_policy = \"verify\"");
    let ignore = with("label_policy = \"ignore\"");
    let five = config.replace(web6, "protocol = \"any\"\nbalance = \"five-tuple\"");
    let target = with("target_port = 8443");
    let unresolved = unresolved_node(&config, true);
    let ipip = with("forward = \"ipip\"");
    assert!([&verify, &ignore, &five, &target, &unresolved, &ipip].iter().all(|c| **c != config));
    let mut down = RuntimeState::default();
    down.health.insert(33, NodeState::Down);
    let cases = [
        ("as generated", &config, RuntimeState::default(), false),
        ("labels verified", &verify, RuntimeState::default(), false),
        ("labels ignored", &ignore, RuntimeState::default(), false),
        ("five-tuple", &five, RuntimeState::default(), false),
        ("UDP and TCP, target port", &target, RuntimeState::default(), true),
        ("node 34 unresolved", &unresolved, RuntimeState::default(), false),
        ("IP-in-IP", &ipip, RuntimeState::default(), false),
        ("node 33 down", &config, down, false),
    ];
    // Twice over the flows: new sessions first, hits after.
    let shape = |udp: bool, i: usize, round: usize, bytes: &mut Vec<u8>| {
        if udp && i % 2 == 1 {
            // The destination options header's next header UDP, the datagram as long as what
            // follows the options.
            bytes[62] = 17;
            let length = u16::from_be_bytes([bytes[18], bytes[19]]) - 16;
            bytes[74..76].copy_from_slice(&length.to_be_bytes());
        }
        // Half the flows without a label, as in `flow-label-zero`.
        if (i / 3) % 2 == 1 {
            bytes[15] &= 0xf0;
            bytes[16] = 0;
            bytes[17] = 0;
        }
        let damage = (i / 2 + round) % 12;
        match damage {
            // The hop limit spent (the lane's, dropped as the reference drops it).
            1 => bytes[21] = 1,
            // Eight option headers (the most the walk takes).
            2 => *bytes = with_option_headers(bytes, 8),
            // The hop-by-hop header longer than the packet; a routing header after it; a
            // Fragment header after the destination options; nine option headers; the payload
            // one byte past the frame; a multicast MAC; another port.
            3 => bytes[55] = 0x20,
            5 => bytes[54] = 43,
            7 => bytes[62] = 44,
            8 => *bytes = with_option_headers(bytes, 9),
            9 => {
                let payload = u16::from_be_bytes([bytes[18], bytes[19]]) + 1;
                bytes[18..20].copy_from_slice(&payload.to_be_bytes());
            }
            10 => bytes[0] = 0x33,
            11 => bytes[73] ^= 0x01,
            _ => {}
        }
        (matches!(damage, 0 | 1 | 2 | 4 | 6), (damage == 8).then_some(Action::Drop(DropReason::Ipv6ExtensionChainTooLong)))
    };
    let lane_frames = (packets.len() * 2 * 5 / 12) as u64;
    run_lane_cases(cases.into(), &packets, 2, 40, shape, |name, lane| {
        let forwarded = lane.counters.session_forwarded.get();
        assert!(forwarded >= lane_frames / 2, "{name}: {forwarded} forwarded");
    });
}

/// The `hello-flood` bench profile is what it says: every frame a client's first ClientHello
/// from a new 5-tuple, forwarded by the `Hello` route with no session (the lane's, as the
/// reference decides it).
#[test]
fn the_hello_flood_profile_is_first_client_hellos_answered_without_a_session() {
    let profile = cidlb_perf::bench::find("hello-flood").unwrap();
    let packets = small_capture(profile, u32::MAX);
    let (mut lane, mut reference) = workers_over(&profile.config(), &RuntimeState::default());
    let mut tuples = std::collections::HashSet::new();
    for (i, p) in packets.iter().enumerate() {
        tuples.insert(p.bytes[26..38].to_vec());
        let (action, _) = decide_both(&mut lane, &mut reference, 1_000_000_000 + i as u64 * 1000, &p.bytes, true, &format!("packet {i}"));
        assert!(matches!(action, Action::Transmit { .. }), "packet {i}: {action:?}");
    }
    assert_eq!(tuples.len(), packets.len(), "a new 5-tuple every frame");
    assert_eq!(lane.counters.hello_forwarded.get(), packets.len() as u64);
    assert_eq!(lane.counters.sessions_created.get(), 0);
    assert_eq!(counters(&lane), counters(&reference));
}

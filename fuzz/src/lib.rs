//! Shared code of the fuzz targets: the pipeline target's input format and its checks.
//!
//! # Pipeline input format
//!
//! ```text
//! byte 0   which config (index into `CONFIGS`, modulo their number)
//! byte 1   node health: bit i set = the i-th [[node]] of the config is down
//! then, repeated until the input ends:
//!   u16 le  frame length (clamped to what is left and to 2048)
//!   u8      time step before this frame, in units of 50 ms (sessions age at 15 s)
//!   u8      input port (modulo ports + 1: one past the last port is tried too)
//!   bytes   the frame
//! ```
//!
//! `tests/fixtures.rs` (`write_fuzz_seeds`) writes seeds in this format from the fixture
//! table and the perf profiles.
#![forbid(unsafe_code)]

use cidlb_config::{Config, MacAddr};
use cidlb_dataplane::counters::WorkerCounters;
use cidlb_dataplane::frame::{Frame, VecFrame};
use cidlb_dataplane::snapshot::{Address, NodeState, RuntimeState, Snapshot, SnapshotSource};
use cidlb_dataplane::wire::{self, L3};
use cidlb_dataplane::worker::{Action, ControlRings, Worker, WorkerParams};
use std::sync::{Arc, OnceLock};

pub const DEMO: &str = include_str!("../../examples/demo.toml");
const MS: u64 = 1_000_000;
const KEY: [u8; 16] = *b"fuzzing-hash-key";

/// (description, edit of the demo config, sessions per worker, fragments per worker)
type ConfigEdit = (&'static str, fn(&str) -> String, u32, u32);

/// The config variants inputs choose from: the demo topology and edits of it that reach the
/// other branches (session fallback for unknown CIDs, two-byte node ids at an offset, target
/// ports, any-port services, unresolved neighbours, tiny tables that evict).
pub const CONFIGS: &[ConfigEdit] = &[
    ("demo", |t| t.to_string(), 64, 16),
    (
        "unknown CIDs take the session path, 2-byte node id at offset 1, target port",
        |t| {
            t.replace("unknown_cid = \"drop\"", "unknown_cid = \"session\"\ntarget_port = 6000")
                .replace("node_id_offset = 0", "node_id_offset = 1")
                .replace("node_id_length = 1", "node_id_length = 2")
        },
        64,
        16,
    ),
    ("tiny tables: constant eviction", |t| t.to_string(), 16, 16),
    (
        "any protocol on every port of a second IPv4 VIP",
        |t| {
            t.replace(
                "name = \"coap\"\nvip = \"192.0.2.10\"\nport = 5683\nprotocol = \"udp\"",
                "name = \"coap\"\nvip = \"192.0.2.20\"\nport = 0\nprotocol = \"any\"",
            )
        },
        64,
        16,
    ),
    (
        "neighbours of nodes 2 and 22 unresolved",
        |t| {
            t.replace("[[neighbor]]\nip = \"192.0.2.12\"\nmac = \"02:00:00:00:00:12\"\n", "")
                .replace("[[neighbor]]\nip = \"2001:db8::22\"\nmac = \"02:00:00:00:00:22\"\n", "")
        },
        64,
        16,
    ),
    (
        "flow labels verified (suspect labels take the 5-tuple)",
        |t| t.replace("balance = \"flow-label\"", "balance = \"flow-label\"\nlabel_policy = \"verify\""),
        64,
        16,
    ),
    (
        "flow labels ignored",
        |t| t.replace("balance = \"flow-label\"", "balance = \"flow-label\"\nlabel_policy = \"ignore\""),
        16,
        16,
    ),
    (
        "TCP and UDP to the IPv4 five-tuple service (the session lane's both shapes), target port",
        |t| t.replace("protocol = \"udp\"\nbalance = \"five-tuple\"", "protocol = \"any\"\nbalance = \"five-tuple\"\ntarget_port = 7000"),
        64,
        16,
    ),
    (
        "the IPv6 service by the five-tuple (the IPv6 lane's 5-tuple path), target port",
        |t| t.replace("protocol = \"any\"\nbalance = \"flow-label\"", "protocol = \"any\"\nbalance = \"five-tuple\"\ntarget_port = 8443"),
        64,
        16,
    ),
];

/// The demo config with small Maglev tables (fast to build per input) and `edit` applied.
pub fn config_text(edit: fn(&str) -> String) -> String {
    edit(DEMO).replace("\nbalance = ", "\nmaglev_table_size = 307\nbalance = ")
}

fn configs() -> &'static [Config] {
    static PARSED: OnceLock<Vec<Config>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CONFIGS
            .iter()
            .map(|(name, edit, _, _)| {
                cidlb_config::parse(&config_text(*edit), name).unwrap_or_else(|e| panic!("fuzz config `{name}`: {e}"))
            })
            .collect()
    })
}

/// One frame of a pipeline input.
pub struct Step<'a> {
    pub time_step: u8,
    pub port: u8,
    pub bytes: &'a [u8],
}

/// Splits a pipeline input into (config index, health bits, frames).
pub fn decode(data: &[u8]) -> Option<(usize, u8, Vec<Step<'_>>)> {
    let (&choice, rest) = data.split_first()?;
    let (&health, mut rest) = rest.split_first()?;
    let mut steps = Vec::new();
    while rest.len() >= 4 && steps.len() < 64 {
        let len = (u16::from_le_bytes([rest[0], rest[1]]) as usize).min(rest.len() - 4).min(2048);
        steps.push(Step { time_step: rest[2], port: rest[3], bytes: &rest[4..4 + len] });
        rest = &rest[4 + len..];
    }
    Some((choice as usize % CONFIGS.len(), health, steps))
}

/// Encodes one step (the inverse of [`decode`]'s loop), for seed writers.
pub fn encode_step(out: &mut Vec<u8>, time_step: u8, port: u8, frame: &[u8]) {
    let len = frame.len().min(2048) as u16;
    out.extend_from_slice(&len.to_le_bytes());
    out.push(time_step);
    out.push(port);
    out.extend_from_slice(&frame[..len as usize]);
}

/// (per node, per service, per service replies, ND answers) packet counts.
fn counts(c: &WorkerCounters, snapshot: &Snapshot) -> (Vec<u64>, Vec<u64>, Vec<u64>, u64) {
    let nodes = (0..snapshot.nodes.len()).map(|i| c.node_packets[i].get()).collect();
    let services = (0..snapshot.services.len()).map(|i| c.service_packets[i].get()).collect();
    let replies = (0..snapshot.services.len()).map(|i| c.service_replies[i].get()).collect();
    (nodes, services, replies, c.nd_replies.get())
}

fn changed(before: &[u64], after: &[u64]) -> Vec<usize> {
    before.iter().zip(after).enumerate().filter(|(_, (b, a))| a != b).map(|(i, _)| i).collect()
}

/// Runs a pipeline input through one worker and checks every packet's fate:
/// - every frame ends as exactly one `Action` (transmitted, consumed or dropped with a reason);
/// - a transmitted frame parses, keeps its length (an ND answer may shrink), its checksums
///   are valid if and only if the input's were (an ND answer's always are);
/// - a forwarded frame goes to a node of its service that is not down, at that node's
///   address, with TTL / hop limit one less and the source untouched;
/// - a node's reply leaves with its service's VIP as source;
/// - the session and fragment tables never hold more than their capacity.
pub fn run_pipeline(data: &[u8]) {
    let Some((choice, health_bits, steps)) = decode(data) else { return };
    let config = &configs()[choice];
    let (_, _, sessions, fragments) = CONFIGS[choice];
    let mut runtime = RuntimeState::default();
    for (i, node) in config.node.iter().enumerate().take(8) {
        if health_bits & (1 << i) != 0 {
            runtime.health.insert(node.id, NodeState::Down);
        }
    }
    let macs: Vec<MacAddr> = config.port.iter().map(|p| p.mac.unwrap_or(MacAddr([2, 0, 0, 0, 0, 1]))).collect();
    let snapshot = Snapshot::build_with(config, &macs, 1, KEY, &runtime).expect("fuzz configs build");
    let ports = snapshot.ports.len();
    let source = Arc::new(SnapshotSource::new(snapshot));
    let snapshot = source.load();
    let rings = Arc::new(ControlRings::new(8));
    let counters = Arc::new(WorkerCounters::default());
    let mut params = WorkerParams::from_config(0, &config.dataplane);
    params.sessions = sessions;
    params.fragments = fragments;
    // The same worker deciding by the reference path (no common-case shortcuts): every
    // decision and output byte must agree.
    let mut reference = Worker::new(params.clone(), Arc::clone(&source), Arc::new(WorkerCounters::default()), Arc::new(ControlRings::new(8)));
    let mut worker = Worker::new(params, source, Arc::clone(&counters), Arc::clone(&rings));
    let mut now = 1_000 * MS;
    for step in steps {
        now += u64::from(step.time_step) * 50 * MS;
        let in_port = u16::from(step.port) % (ports as u16 + 1);
        let input = step.bytes;
        let before = counts(&counters, &snapshot);
        let mut frame = VecFrame::from_bytes(input);
        let action = worker.process(now, in_port, &mut frame);
        let mut reference_frame = VecFrame::from_bytes(input);
        let reference_action = reference.process_reference(now, in_port, &mut reference_frame);
        assert_eq!(action, reference_action, "shortcut and reference path decide differently");
        assert_eq!(frame.data(), reference_frame.data(), "shortcut and reference path rewrite differently");
        while reference.rings.to_control.pop().is_some() {}
        let after = counts(&counters, &snapshot);
        match action {
            Action::Transmit { port } => {
                assert!((port as usize) < ports, "transmit on a port that does not exist");
                let parsed_in = wire::parse(input).expect("a transmitted frame parsed on input");
                let out = frame.data();
                let parsed_out = wire::parse(out).unwrap_or_else(|r| panic!("output does not parse: {r:?}"));
                assert!(parsed_out.ip_end() <= out.len());
                let answered_nd = after.3 != before.3;
                if answered_nd {
                    assert!(out.len() <= input.len());
                    assert!(wire::checksum::verify_frame(out, &parsed_out), "ND answer checksum");
                } else {
                    assert_eq!(out.len(), input.len(), "forwarding keeps the length");
                    assert_eq!(parsed_out.ip_len, parsed_in.ip_len);
                    if parsed_in.l3 != L3::Arp {
                        assert_eq!(
                            wire::checksum::verify_frame(input, &parsed_in),
                            wire::checksum::verify_frame(out, &parsed_out),
                            "checksums valid after if and only if valid before"
                        );
                    }
                }
                let nodes = changed(&before.0, &after.0);
                let services = changed(&before.1, &after.1);
                if !nodes.is_empty() {
                    assert_eq!((nodes.len(), services.len()), (1, 1));
                    let node = &snapshot.nodes[nodes[0]];
                    let service = &snapshot.services[services[0]];
                    assert!(service.nodes.contains(&(nodes[0] as u16)), "forwarded to a node outside the service");
                    assert_ne!(node.state, NodeState::Down, "forwarded to a node that is down");
                    assert_eq!(Address::from_ip(parsed_out.dst_ip()), node.address, "NAT to the node's address");
                    assert_eq!(parsed_out.src, parsed_in.src, "the source is untouched");
                    assert_eq!(Address::from_ip(parsed_in.dst_ip()), service.vip, "only traffic to the VIP is forwarded");
                    assert_eq!(parsed_out.ttl, parsed_in.ttl - 1);
                } else if let [service] = changed(&before.2, &after.2)[..] {
                    let service = &snapshot.services[service];
                    assert_eq!(Address::from_ip(parsed_out.src_ip()), service.vip, "a reply leaves from its service's VIP");
                    assert_eq!(parsed_out.dst, parsed_in.dst, "a reply keeps its destination");
                    assert_eq!(parsed_out.ttl, parsed_in.ttl - 1);
                }
            }
            Action::Consumed => {
                assert!(wire::parse(input).is_ok(), "only parsed frames reach the control thread");
                while rings.to_control.pop().is_some() {}
            }
            Action::Hold { port, next_hop } => {
                // Waiting for a neighbour: only a forward or a reply, on a real port, to a next
                // hop the snapshot does not know yet.
                assert!((port as usize) < ports, "held for a port that does not exist");
                assert!(snapshot.neighbor_mac(&next_hop).is_none(), "held although the next hop is known");
            }
            Action::Fragments { port, mtu, .. } => {
                assert!((port as usize) < ports);
                assert!(frame.data().len() > mtu as usize, "fragments only for what does not fit");
            }
            Action::Broadcast { service, .. } => {
                assert!((service as usize) < snapshot.services.len());
                let parsed = wire::parse(input).expect("a broadcast ICMP error parsed");
                assert!(wire::is_icmp_error(&parsed, input), "only ICMP errors are copied to every node");
            }
            Action::Drop(_) => {}
        }
        worker.housekeeping(now);
        reference.housekeeping(now);
        let classifier = &worker.classifier;
        assert!(classifier.sessions.len() <= classifier.sessions.capacity());
        assert!(classifier.fragments.len() <= classifier.fragments.capacity());
    }
}

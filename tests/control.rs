//! The control plane through the replay harness (the same worker and `Control` as `cidlb
//! run`, time passed in): health checks taking nodes down and up, and reloads.

mod support;

use cidlb_control::health::coap_answer;
use cidlb_control::ReloadError;
use cidlb_dataplane::wire::build::PacketBuilder;
use cidlb_dataplane::wire::{self};
use cidlb_perf::profiles::{coap_packet, BALANCER_MAC};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use support::{config, demo_config_text, node_mac, Harness, Outcome};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const OWN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn node4(id: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + id)
}

/// The demo config with a CoAP ping on nodes 1-3: every 1 s, 500 ms timeout, rise 2, fall 3.
fn probed_demo() -> String {
    let mut text = demo_config_text();
    for id in 1..=3u8 {
        let line = format!("address = \"{}\"\n", node4(id));
        text = text.replace(
            &line,
            &format!("{line}health = {{ probe = \"coap-ping\", port = 5683, interval = \"1s\", timeout = \"500ms\", rise = 2, fall = 3 }}\n"),
        );
    }
    text
}

/// A CoAP ping found in frames the balancer sent: (node, our source port, message id).
fn pings(frames: &[Vec<u8>]) -> Vec<(Ipv4Addr, u16, u16)> {
    frames
        .iter()
        .filter_map(|f| {
            let p = wire::parse(f).ok()?;
            let payload = p.udp_payload(f);
            (p.is_ipv4() && p.src_v4() == OWN && p.dport == 5683 && payload.len() == 4 && payload[0] == 0x40)
                .then(|| (p.dst_v4(), p.sport, u16::from_be_bytes([payload[2], payload[3]])))
        })
        .collect()
}

/// The node's CoAP Reset answering a ping (RFC 7252 §4.3).
fn reset(node: Ipv4Addr, our_port: u16, message_id: u16) -> Vec<u8> {
    let id = message_id.to_be_bytes();
    let payload = [0x70, 0x00, id[0], id[1]];
    assert_eq!(coap_answer(&payload, message_id), Some(true));
    PacketBuilder::udp4(node, OWN, 5683, our_port).payload(&payload).macs(node_mac(0x10 + node.octets()[3] - 10), BALANCER_MAC).build()
}

/// Answer the pings of `frames` from the nodes in `answering`.
fn answer(h: &mut Harness, at: u64, frames: &[Vec<u8>], answering: &[u8]) {
    for (node, port, id) in pings(frames) {
        if answering.iter().any(|a| node4(*a) == node) {
            assert_eq!(h.send(at, &reset(node, port, id)), Outcome::Consumed, "the reply goes to the control thread");
        }
    }
}

/// Where a forwarded frame went (its destination address).
fn destination(frame: &[u8]) -> IpAddr {
    wire::parse(frame).expect("forwarded frame parses").dst_ip()
}

/// New CoAP sessions from clients `from..to`: how many reached each node.
fn spread(h: &mut Harness, at: u64, clients: std::ops::Range<u32>) -> HashMap<IpAddr, usize> {
    let mut by_node = HashMap::new();
    for c in clients {
        let frame = forward_client(h, at, &coap_packet(c, 20000 + c as u16, c as u16));
        *by_node.entry(destination(&frame)).or_insert(0) += 1;
    }
    by_node
}

/// Send a client's packet and return the one frame forwarded for it (probes the control
/// thread sends meanwhile, from the balancer's own address, are left aside).
fn forward_client(h: &mut Harness, at: u64, frame: &[u8]) -> Vec<u8> {
    match h.send(at, frame) {
        Outcome::Sent(frames) => {
            let mut forwarded: Vec<Vec<u8>> =
                frames.into_iter().filter(|f| wire::parse(f).map_or(true, |p| p.src_ip() != IpAddr::V4(OWN))).collect();
            assert_eq!(forwarded.len(), 1, "one frame forwarded");
            forwarded.remove(0)
        }
        other => panic!("expected a forwarded frame, got {other:?}"),
    }
}

#[test]
fn a_silent_node_goes_down_within_interval_times_fall_and_comes_back_after_rise() {
    let mut h = Harness::new(config(&probed_demo()));
    let mut t = 0;
    let mut down_at = None;
    // Everyone answers for 1 s; then node 3 stops answering (its last answered probe: t = 0,
    // so it is silent from the probe at 1 s on).
    let before = spread(&mut h, 0, 0..300);
    assert!(before.get(&IpAddr::V4(node4(3))).copied().unwrap_or(0) > 0, "node 3 takes sessions while up: {before:?}");
    while t <= 6 * S {
        let frames = h.tick(t);
        let answering: &[u8] = if t < S { &[1, 2, 3] } else { &[1, 2] };
        answer(&mut h, t, &frames, answering);
        if down_at.is_none() && h.control.health().status(3) == Some(cidlb_control::health::Status::Down) {
            down_at = Some(t);
        }
        t += 100 * MS;
    }
    let down_at = down_at.expect("node 3 went down");
    // Silent from the probe at 1 s: down no later than interval x fall after it.
    assert!(down_at <= S + 3 * S, "down at {down_at} ns");
    assert_eq!(h.control.health().status(1), Some(cidlb_control::health::Status::Up));
    let snapshot = h.control.snapshot();
    assert_eq!(snapshot.nodes[snapshot.node_ids.get(3).expect("node 3") as usize].state, cidlb_dataplane::snapshot::NodeState::Down);

    // No new session reaches node 3, and its existing sessions moved on their next packet.
    let after = spread(&mut h, t, 1000..1300);
    assert_eq!(after.get(&IpAddr::V4(node4(3))), None, "{after:?}");
    let again = spread(&mut h, t, 0..300);
    assert_eq!(again.get(&IpAddr::V4(node4(3))), None, "{again:?}");
    assert!(h.counters.sessions_rescheduled.get() > 0);

    // Node 3 answers again: up after `rise` = 2 successes.
    let mut up_at = None;
    let resumed = t;
    while t <= resumed + 4 * S {
        let frames = h.tick(t);
        answer(&mut h, t, &frames, &[1, 2, 3]);
        if up_at.is_none() && h.control.health().status(3) == Some(cidlb_control::health::Status::Up) {
            up_at = Some(t);
        }
        t += 100 * MS;
    }
    let up_at = up_at.expect("node 3 came back");
    assert!(up_at - resumed <= 2 * S, "up {} ms after it answered again", (up_at - resumed) / MS);
    let back = spread(&mut h, t, 2000..2300);
    assert!(back.get(&IpAddr::V4(node4(3))).copied().unwrap_or(0) > 0, "node 3 takes new sessions again: {back:?}");
    let node = &h.control.health().nodes()[2];
    assert_eq!((node.id, node.went_down, node.went_up), (3, 1, 1));
    let metrics = h.control.render_metrics(&[], "test", "none");
    assert!(metrics.contains("cidlb_node_health_transitions_total{node=\"3\",address=\"192.0.2.13\",to=\"down\"} 1"), "{metrics}");
}

#[test]
fn wrong_replies_do_not_keep_a_node_up() {
    let mut h = Harness::new(config(&probed_demo()));
    let mut t = 0;
    while t <= 5 * S {
        let frames = h.tick(t);
        for (node, port, id) in pings(&frames) {
            // Node 1 answers with the wrong message id, node 2 to the wrong port.
            let reply = match node.octets()[3] {
                11 => reset(node, port, id.wrapping_add(1)),
                12 => reset(node, port.wrapping_add(1), id),
                _ => reset(node, port, id),
            };
            h.send(t, &reply);
        }
        t += 100 * MS;
    }
    use cidlb_control::health::Status;
    assert_eq!(h.control.health().status(1), Some(Status::Down));
    assert_eq!(h.control.health().status(2), Some(Status::Down));
    assert_eq!(h.control.health().status(3), Some(Status::Up));
    assert!(h.control.health().unmatched_replies >= 8);
}

#[test]
fn reload_adds_a_node_new_sessions_reach_it_existing_ones_stay() {
    let full = demo_config_text();
    let two = full.replacen("balance = \"five-tuple\"\nnodes = [1, 2, 3]", "balance = \"five-tuple\"\nnodes = [1, 2]", 1);
    assert_ne!(full, two);
    let mut h = Harness::new(config(&two));
    let mut first: HashMap<u32, IpAddr> = HashMap::new();
    for c in 0..300 {
        let frame = h.forward(S, &coap_packet(c, 20000 + c as u16, c as u16));
        first.insert(c, destination(&frame));
    }
    assert!(first.values().all(|n| *n != IpAddr::V4(node4(3))));
    let generation = h.control.generation();
    let reloaded = h.control.reload(config(&full)).expect("a valid reload applies");
    assert_eq!(reloaded.generation, generation + 1);
    // Existing sessions keep their nodes (sessions store node ids; the table survives).
    for c in 0..300 {
        let frame = h.forward(2 * S, &coap_packet(c, 20000 + c as u16, c as u16));
        assert_eq!(destination(&frame), first[&c], "client {c} kept its node");
    }
    let new = spread(&mut h, 2 * S, 1000..1300);
    assert!(new.get(&IpAddr::V4(node4(3))).copied().unwrap_or(0) > 50, "new sessions reach the new member: {new:?}");
    assert_eq!(h.control.reloads.applied, 1);
}

#[test]
fn reload_removing_a_node_moves_only_its_sessions() {
    let full = demo_config_text();
    let mut h = Harness::new(config(&full));
    let mut first: HashMap<u32, IpAddr> = HashMap::new();
    for c in 0..300 {
        first.insert(c, destination(&h.forward(S, &coap_packet(c, 20000 + c as u16, c as u16))));
    }
    let two = full.replacen("balance = \"five-tuple\"\nnodes = [1, 2, 3]", "balance = \"five-tuple\"\nnodes = [1, 2]", 1);
    h.control.reload(config(&two)).expect("reload");
    // Node 3 still exists (the coaps service has it), so its sessions stay (draining-like):
    // a service losing a member keeps sessions that name a node that still exists.
    for c in 0..300 {
        let to = destination(&h.forward(2 * S, &coap_packet(c, 20000 + c as u16, c as u16)));
        if first[&c] != IpAddr::V4(node4(3)) {
            assert_eq!(to, first[&c], "sessions of the remaining nodes stay");
        }
    }
}

#[test]
fn an_invalid_reload_is_rejected_and_the_old_config_keeps_forwarding() {
    let mut h = Harness::demo();
    let client = coap_packet(7, 20007, 1);
    let before = destination(&h.forward(S, &client));
    let generation = h.control.generation();

    let dir = std::env::temp_dir().join(format!("cidlb-control-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, demo_config_text().replace("nodes = [21, 22]", "nodes = [21, 99]")).unwrap();
    match h.control.reload_file(&path) {
        Err(ReloadError::Invalid(errors)) => {
            assert!(errors.iter().any(|e| e.key.starts_with("service[2].nodes") && e.line.is_some()), "{errors:?}");
        }
        other => panic!("expected an invalid config, got {other:?}"),
    }
    // A change that needs a restart is refused, naming the key.
    let restart = demo_config_text().replace("workers = [1]", "workers = [2]").replace("sessions_per_worker = 65536", "sessions_per_worker = 1024");
    match h.control.reload(config(&restart)) {
        Err(ReloadError::RestartRequired(keys)) => {
            let keys: Vec<&str> = keys.iter().map(|k| k.key.as_str()).collect();
            assert_eq!(keys, ["dataplane.workers", "dataplane.sessions_per_worker"]);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(h.control.generation(), generation, "nothing was published");
    assert_eq!(destination(&h.forward(2 * S, &client)), before, "the old config keeps forwarding");
    assert_eq!(h.control.reloads.invalid, 1);
    assert_eq!(h.control.reloads.refused, 1);
}

//! `[[service]] label_policy` (RFC 6437 §5 suspect labels; draft-ietf-intarea-flow-label-
//! balancing §5): trust, verify, ignore.

mod support;

use cidlb_dataplane::counters::DropReason;
use cidlb_dataplane::wire;
use cidlb_dataplane::wire::build::PacketBuilder;
use cidlb_perf::profiles::{self, client6, BALANCER_MAC, GATEWAY_MAC, VIP6};
use std::collections::HashSet;
use std::net::IpAddr;
use support::{Harness, Outcome};

const S: u64 = 1_000_000_000;

fn with_policy(policy: &str) -> Harness {
    let text = support::demo_config_text().replace("balance = \"flow-label\"", &format!("balance = \"flow-label\"\nlabel_policy = \"{policy}\""));
    Harness::new(support::config(&text))
}

/// 64 TCP flows (distinct source ports) from one source, all with the same label.
fn one_label_many_flows(port: u16) -> Vec<u8> {
    PacketBuilder::tcp6(client6(9), VIP6, port, 443).flow_label(0x777).payload(&[1; 10]).macs(GATEWAY_MAC, BALANCER_MAC).build()
}

fn node_of(h: &mut Harness, at: u64, frame: &[u8]) -> IpAddr {
    wire::parse(&h.forward(at, frame)).unwrap().dst_ip()
}

#[test]
fn trust_puts_every_flow_of_one_label_on_one_node() {
    let mut h = Harness::demo();
    let nodes: HashSet<IpAddr> = (0..64).map(|i| node_of(&mut h, S, &one_label_many_flows(40_000 + i))).collect();
    assert_eq!(nodes.len(), 1, "the label is the key");
    assert_eq!(h.counters.labels_suspect.get(), 0);
}

#[test]
fn verify_sends_flows_that_share_a_label_by_their_five_tuple_and_keeps_each_sticky() {
    let mut h = with_policy("verify");
    let first: Vec<IpAddr> = (0..64).map(|i| node_of(&mut h, S, &one_label_many_flows(40_000 + i))).collect();
    let nodes: HashSet<&IpAddr> = first.iter().collect();
    assert_eq!(nodes.len(), 2, "a shared label no longer pins every flow to one node");
    assert!(h.counters.labels_suspect.get() >= 60, "suspect labels counted: {}", h.counters.labels_suspect.get());
    // Each flow stays where it went.
    for round in 0..3 {
        for (i, node) in first.iter().enumerate() {
            assert_eq!(node_of(&mut h, 2 * S + round, &one_label_many_flows(40_000 + i as u16)), *node, "flow {i} round {round}");
        }
    }
    // A well-behaved flow (its own label) is not suspect, and a relabel still sticks.
    let suspect = h.counters.labels_suspect.get();
    let flow = |label: u32| PacketBuilder::tcp6(client6(10), VIP6, 50_000, 443).flow_label(label).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let node = node_of(&mut h, 3 * S, &flow(0x1234));
    for _ in 0..5 {
        assert_eq!(node_of(&mut h, 3 * S, &flow(0x1234)), node);
    }
    assert_eq!(node_of(&mut h, 4 * S, &flow(0x4321)), node, "relabelled flow keeps its node");
    assert_eq!(node_of(&mut h, 4 * S, &flow(0x4321)), node);
    assert_eq!(h.counters.labels_suspect.get(), suspect, "no suspect label in a well-behaved flow");
}

#[test]
fn labelled_fragments_follow_their_first_fragment_under_verify_and_ignore() {
    for policy in ["verify", "ignore"] {
        let mut h = with_policy(policy);
        let fragments = profiles::label_udp_fragments(31, 0x5151, 3000, 1280, 0xbeef);
        let nodes: HashSet<IpAddr> = fragments.iter().map(|f| node_of(&mut h, S, f)).collect();
        assert_eq!(nodes.len(), 1, "{policy}: one node for the datagram");
        assert_eq!(h.counters.fragments_forwarded.get(), fragments.len() as u64 - 1, "{policy}: by the fragment table");
        // A later fragment whose first was never seen is not routed by its label.
        let stray = profiles::label_udp_fragments(32, 0x5151, 3000, 1280, 0xf00d);
        assert_eq!(h.send(S, &stray[1]), Outcome::Dropped(DropReason::FragmentUnmatched), "{policy}");
    }
    // Trust: the label routes a fragment whose first was not seen.
    let mut h = Harness::demo();
    let stray = profiles::label_udp_fragments(32, 0x5151, 3000, 1280, 0xf00d);
    assert!(matches!(h.send(S, &stray[1]), Outcome::Sent(_)));
}

#[test]
fn ignore_balances_labelled_flows_by_five_tuple() {
    let mut h = with_policy("ignore");
    let nodes: HashSet<IpAddr> = (0..64).map(|i| node_of(&mut h, S, &one_label_many_flows(40_000 + i))).collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!(h.counters.labels_suspect.get(), 0);
    assert_eq!(h.counters.relabels.get(), 0);
    // The same 5-tuple under a new label is simply the same session.
    let flow = |label: u32| PacketBuilder::tcp6(client6(11), VIP6, 50_001, 443).flow_label(label).macs(GATEWAY_MAC, BALANCER_MAC).build();
    let node = node_of(&mut h, S, &flow(1));
    assert_eq!(node_of(&mut h, S, &flow(2)), node);
}

#[test]
fn label_policy_is_validated_and_summarised() {
    let base = support::demo_config_text();
    let wrong = base.replace("balance = \"five-tuple\"", "balance = \"five-tuple\"\nlabel_policy = \"verify\"");
    let error = cidlb_config::parse(&wrong, "t.toml").unwrap_err();
    assert_eq!(error.key, "service[1].label_policy", "{error}");
    let typo = base.replace("balance = \"flow-label\"", "balance = \"flow-label\"\nlabel_policy = \"suspicious\"");
    let error = cidlb_config::parse(&typo, "t.toml").unwrap_err();
    assert!(error.to_string().contains("label_policy"), "{error}");
    let good = base.replace("balance = \"flow-label\"", "balance = \"flow-label\"\nlabel_policy = \"verify\"");
    let config = support::config(&good);
    assert_eq!(config.service[2].label_policy, Some(cidlb_config::LabelPolicy::Verify));
    assert!(config.summary().contains("suspect labels verified"), "{}", config.summary());
    assert_eq!(support::config(&base).service[2].label_policy, None, "absent: trust");
}

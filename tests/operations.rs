//! Operations (issue 8): a bad config never replaces a good one, `cidlb check` says no with a
//! non-zero exit, the metrics endpoint is loopback-only by default.

mod support;

use cidlb_config::MacAddr;
use cidlb_control::Control;
use cidlb_dataplane::io::pcap::CapturedPacket;
use std::process::Command;
use std::sync::Arc;
use support::{Harness, BALANCER_MAC};

fn check(text: &str, name: &str) -> (bool, String) {
    // One directory per call (tests run in parallel threads), removed after.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cidlb-operations-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cidlb")).args(["check", "--config"]).arg(&path).output().expect("cidlb runs");
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// 257 nodes: valid key by key, but more than a snapshot holds (per-node counters).
fn too_many_nodes() -> String {
    let mut text = support::demo_config_text();
    for id in 100..352u32 {
        text.push_str(&format!("\n[[node]]\nid = {id}\naddress = \"10.{}.{}.1\"\n", id / 256, id % 256));
    }
    text
}

#[test]
fn check_exits_non_zero_on_every_kind_of_bad_config() {
    let good = support::demo_config_text();
    let (ok, out) = check(&good, "good.toml");
    assert!(ok, "{out}");
    assert!(out.contains("OK"));
    let cases = [
        ("syntax.toml", good.replace("[dataplane]", "[dataplane"), "syntax"),
        ("unknown-key.toml", good.replace("burst = 32", "burts = 32"), "burts"),
        ("range.toml", good.replace("burst = 32", "burst = 0"), "dataplane.burst"),
        ("unknown-node.toml", good.replace("nodes = [21, 22]", "nodes = [21, 99]"), "99"),
        ("bad-key.toml", good.replace("000102030405060708090a0b0c0d0e0f", "00010203"), "hash_key"),
        ("label-policy.toml", good.replace("balance = \"five-tuple\"", "balance = \"five-tuple\"\nlabel_policy = \"verify\""), "label_policy"),
        ("too-many-nodes.toml", too_many_nodes(), "at most 256 nodes"),
    ];
    for (name, text, mention) in cases {
        let (ok, out) = check(&text, name);
        assert!(!ok, "{name}: accepted\n{out}");
        assert!(out.contains(mention), "{name}: the error does not mention `{mention}`:\n{out}");
    }
}

/// A config that validates but cannot be built into a snapshot is an error from
/// `Control::new`, never a panic, and a running instance's snapshot is untouched.
#[test]
fn control_rejects_an_unbuildable_config_and_the_running_one_keeps_forwarding() {
    let mut running = Harness::demo();
    let before = running.control.source().load().generation;
    let config = support::config(&too_many_nodes());
    let error = Control::new(config, vec![MacAddr(BALANCER_MAC)]).err().expect("rejected");
    assert!(error.contains("at most 256 nodes"), "{error}");
    let hello = cidlb_perf::profiles::handshake_packet(1, 10001);
    running.forward(1_000_000_000, &hello);
    assert_eq!(running.control.source().load().generation, before);
}

/// A worker that adopts a newer snapshot only lets go of the old one: the control thread frees
/// it on its next tick (so the packet loop never runs a snapshot's destructor).
#[test]
fn replaced_snapshots_are_freed_by_the_control_thread_not_the_worker() {
    let mut running = Harness::demo();
    let hello = cidlb_perf::profiles::handshake_packet(1, 10001);
    running.forward(1_000_000_000, &hello);
    let first = Arc::downgrade(&running.pump.worker.snapshot);
    let config = running.control.config().clone();
    running.control.reload(config).expect("reload");
    // The worker still holds the first snapshot until its next burst.
    assert!(first.upgrade().is_some());
    assert_eq!(running.control.source().reap(), 1, "held by the worker, so still retired");
    // Its next burst adopts the new snapshot and drops its reference: not the last one.
    running.pump.io.push(CapturedPacket { port: 0, timestamp_ns: 1_001_000_000, bytes: hello.clone() });
    running.pump.poll(1_001_000_000);
    assert_ne!(running.pump.worker.snapshot.generation, first.upgrade().expect("still alive after the worker let go").generation);
    // The control thread's tick frees it.
    running.control.poll(1_002_000_000);
    assert!(first.upgrade().is_none(), "freed by the control thread");
    assert_eq!(running.control.source().reap(), 0);
}

#[test]
fn metrics_listen_on_loopback_unless_configured_otherwise() {
    let without_control = support::demo_config_text().replace("[control]\nmetrics = \"off\"\n", "");
    assert!(!without_control.contains("[control]"));
    let config = support::config(&without_control);
    let address = config.control.metrics.expect("on by default");
    assert!(address.ip().is_loopback(), "{address}");
    assert_eq!(address.port(), 9781);
    let example = cidlb_config::load(&support::repo().join("config/examples/cidlb.toml")).expect("example");
    assert!(example.control.metrics.expect("example sets one").ip().is_loopback());
}

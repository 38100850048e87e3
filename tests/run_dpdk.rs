//! End-to-end runs of the real `cidlb run` binary on DPDK virtual devices.
//!
//! Every run: `--no-pci` (the host's NIC is never probed), its own `--file-prefix`, lcore 0 for
//! control and 1 for the worker, a `--duration` (or a signal) to end it, and a test-side
//! timeout that kills the child by its pid if it hangs.
//!
//! Memory: with at least 128 free 2 MiB hugepages on a mounted hugetlbfs
//! (`scripts/hugepages.sh`) runs use `--in-memory`; otherwise `--no-huge -m 256 --no-shconf`
//! (`--in-memory` cannot be combined with `--no-huge`; `--no-shconf` is the part of it that
//! keeps parallel runs from sharing a runtime directory). `CIDLB_TEST_MEMORY=no-huge` or
//! `=huge` forces one mode. If a run fails because the EAL cannot start in hugepage mode it
//! is retried with `--no-huge`; if that fails too the test prints why and is skipped.
#![cfg(feature = "dpdk")]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::dpdk::{free_hugepages, udp_frame, write_pcap, TestDir, CIDLB};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Memory {
    Huge,
    NoHuge,
}

fn preferred_memory() -> Memory {
    match std::env::var("CIDLB_TEST_MEMORY").as_deref() {
        Ok("no-huge") => Memory::NoHuge,
        Ok("huge") => Memory::Huge,
        _ if free_hugepages() >= 128 => Memory::Huge,
        _ => Memory::NoHuge,
    }
}

fn memory_args(memory: Memory, prefix: &str) -> Vec<String> {
    let mut args: Vec<String> = match memory {
        Memory::Huge => vec!["--in-memory".into()],
        Memory::NoHuge => vec!["--no-huge".into(), "-m".into(), "256".into(), "--no-shconf".into()],
    };
    args.extend(["--file-prefix".to_string(), format!("cidlb-test-{prefix}-{}", std::process::id())]);
    args.push("--log-level=notice".into());
    args
}

/// A config with `ports` (name, device) on lcores 0 (control) and `workers`.
fn config(eal_args: &[&str], workers: &[u32], ports: &[(&str, &str)]) -> String {
    let eal: Vec<String> = eal_args.iter().map(|a| format!("{a:?}")).collect();
    let workers: Vec<String> = workers.iter().map(u32::to_string).collect();
    let mut text = format!(
        "[eal]\nargs = [{}]\n\n[dataplane]\nworkers = [{}]\ncontrol_core = 0\nmbufs = 16383\nmbuf_cache = 128\n",
        eal.join(", "),
        workers.join(", ")
    );
    for (i, (name, device)) in ports.iter().enumerate() {
        text += &format!(
            "\n[[port]]\nname = {name:?}\ndevice = {device:?}\nmac = \"02:00:00:00:00:0{}\"\nipv4 = \"192.0.{}.1/24\"\n",
            i + 1,
            i + 2
        );
    }
    text
}

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn eal_failed(&self) -> bool {
        self.stderr.contains("DPDK EAL initialisation failed") || self.stderr.contains("cannot create the packet pool")
    }
}

fn spawn(dir: &TestDir, args: &[String]) -> Child {
    let out = File::create(dir.path("stdout.txt")).expect("stdout file");
    let err = File::create(dir.path("stderr.txt")).expect("stderr file");
    Command::new(CIDLB)
        .args(args)
        .current_dir(&dir.0)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start cidlb")
}

/// Wait for `child` until `timeout`; past it, kill it (by its pid) and fail the test.
fn wait_bounded(dir: &TestDir, mut child: Child, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for cidlb") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill(); // SIGKILL to this child's pid only
            let _ = child.wait();
            panic!(
                "cidlb (pid {}) did not exit within {timeout:?}; stderr:\n{}",
                child.id(),
                std::fs::read_to_string(dir.path("stderr.txt")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Outcome {
        status,
        stdout: std::fs::read_to_string(dir.path("stdout.txt")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.path("stderr.txt")).unwrap_or_default(),
    }
}

/// `cidlb run --config <config> <run_args> -- <memory args> <eal_args>`, bounded by `timeout`.
/// `before_wait` runs right after the start (e.g. to send a signal). Returns None (after
/// printing why) when DPDK cannot start on this machine in either memory mode.
fn run_cidlb(
    dir: &TestDir,
    prefix: &str,
    config: &Path,
    run_args: &[&str],
    eal_args: &[&str],
    timeout: Duration,
    before_wait: &dyn Fn(&Child),
) -> Option<Outcome> {
    let first = preferred_memory();
    let modes: &[Memory] = if first == Memory::Huge { &[Memory::Huge, Memory::NoHuge] } else { &[Memory::NoHuge] };
    let mut last = None;
    for &memory in modes {
        let mut args: Vec<String> = vec!["run".into(), "--config".into(), config.display().to_string()];
        args.extend(run_args.iter().map(|a| a.to_string()));
        args.push("--".into());
        args.extend(memory_args(memory, prefix));
        args.extend(eal_args.iter().map(|a| a.to_string()));
        let child = spawn(dir, &args);
        before_wait(&child);
        let outcome = wait_bounded(dir, child, timeout);
        if !outcome.eal_failed() {
            return Some(outcome);
        }
        eprintln!("DPDK did not start with {memory:?} memory:\n{}", outcome.stderr);
        last = Some(outcome);
    }
    let why = last.map(|o| o.stderr).unwrap_or_default();
    println!("SKIPPED: DPDK is not usable here (no hugepages, and --no-huge failed too):\n{why}");
    None
}

fn no_signal(_: &Child) {}

fn count_pcap(path: &Path) -> u64 {
    let mut reader = pcap_file::pcap::PcapReader::new(File::open(path).expect("open out.pcap")).expect("out.pcap is a valid pcap");
    let mut n = 0;
    while let Some(packet) = reader.next_packet() {
        packet.expect("valid pcap record");
        n += 1;
    }
    n
}

fn stats(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("stats JSON written")).expect("stats JSON parses")
}

#[test]
fn pcap_in_to_out_counts_every_packet() {
    let dir = TestDir::new("pcap");
    let frames: Vec<Vec<u8>> = (0..100).map(udp_frame).collect();
    write_pcap(&dir.path("in.pcap"), &frames);
    let config = dir.write("cidlb.toml", &config(&["--no-pci"], &[1], &[("net0", "net_pcap0")]));
    let Some(outcome) = run_cidlb(
        &dir,
        "pcap",
        &config,
        &["--duration", "2", "--stats-json", "s.json"],
        &["--vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"],
        Duration::from_secs(30),
        &no_signal,
    ) else {
        return;
    };
    assert!(outcome.status.success(), "exit {:?}\nstderr:\n{}", outcome.status, outcome.stderr);
    assert!(outcome.stdout.contains("forwarded for"), "stats on stdout:\n{}", outcome.stdout);
    assert!(outcome.stderr.contains("opened port"), "{}", outcome.stderr);

    let s = stats(&dir.path("s.json"));
    assert!(s["duration_seconds"].as_f64().unwrap() > 0.0);
    let port = &s["ports"][0];
    assert_eq!(port["name"], "net0");
    let rx = port["rx_packets"].as_u64().unwrap();
    let tx = port["tx_packets"].as_u64().unwrap();
    let dropped = port["dropped"].as_u64().unwrap();
    assert_eq!(rx, 100, "{port}");
    assert_eq!(rx, tx + dropped, "every received packet is transmitted or dropped: {port}");
    assert_eq!(port["device"]["ipackets"], 100);
    assert_eq!(port["device"]["imissed"], 0);
    assert_eq!(port["device"]["rx_nombuf"], 0);
    let by_reason: u64 = s["drops"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_reason, s["dropped_total"].as_u64().unwrap());
    assert_eq!(by_reason, dropped, "every drop has a reason: {}", s["drops"]);
    assert_eq!(s["workers"][0]["lcore"], 1);
    // The worker timed every burst that held packets: at least one, at most one per packet.
    let bursts = &s["workers"][0]["burst_cycles"];
    let count = bursts["count"].as_u64().unwrap_or(0);
    assert!((1..=rx).contains(&count), "{bursts}");
    assert!(bursts["p50"].as_u64().unwrap() > 0 && bursts["p50"].as_u64() <= bursts["max"].as_u64(), "{bursts}");
    // net_pcap completes out.pcap when the port is closed.
    assert_eq!(count_pcap(&dir.path("out.pcap")), tx, "out.pcap holds what was transmitted");
}

#[test]
fn sigterm_stops_cleanly_with_stats() {
    let dir = TestDir::new("sigterm");
    let config = dir.write("cidlb.toml", &config(&["--no-pci"], &[1], &[("null0", "net_null0")]));
    let send_sigterm = |child: &Child| {
        std::thread::sleep(Duration::from_millis(1500));
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {}", child.id());
    };
    let Some(outcome) =
        run_cidlb(&dir, "sigterm", &config, &["--stats-json", "s.json"], &["--vdev=net_null0"], Duration::from_secs(20), &send_sigterm)
    else {
        return;
    };
    assert!(outcome.status.success(), "exit {:?}\nstderr:\n{}", outcome.status, outcome.stderr);
    assert!(outcome.stderr.contains("stop requested"), "{}", outcome.stderr);
    assert!(outcome.stdout.contains("forwarded for") && outcome.stdout.contains("null0"), "{}", outcome.stdout);
    let s = stats(&dir.path("s.json"));
    let port = &s["ports"][0];
    let rx = port["rx_packets"].as_u64().unwrap();
    assert!(rx > 0, "net_null produces packets: {port}");
    assert_eq!(rx, port["tx_packets"].as_u64().unwrap() + port["dropped"].as_u64().unwrap(), "{port}");
}

#[test]
fn net_ring_and_two_workers_on_rss_queues() {
    // net_ring0 without arguments is a loopback ring device with no traffic; net_null0 feeds
    // both workers (two queues; lcores 1 and 2 share CPU 1 through --lcores).
    let dir = TestDir::new("ring");
    let config = dir.write("cidlb.toml", &config(&["--no-pci", "--lcores", "0@0,1@1,2@1"], &[1, 2], &[("null0", "net_null0"), ("ring0", "net_ring0")]));
    let Some(outcome) = run_cidlb(
        &dir,
        "ring",
        &config,
        &["--duration", "1", "--stats-json", "s.json"],
        &["--vdev=net_null0", "--vdev=net_ring0"],
        Duration::from_secs(30),
        &no_signal,
    ) else {
        return;
    };
    assert!(outcome.status.success(), "exit {:?}\nstderr:\n{}", outcome.status, outcome.stderr);
    let s = stats(&dir.path("s.json"));
    assert_eq!(s["ports"][1]["name"], "ring0");
    assert_eq!(s["ports"][1]["rx_packets"], 0);
    let workers = s["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2);
    for w in workers {
        assert!(w["counters"]["rx_packets"].as_u64().unwrap() > 0, "each worker polls its own queue: {w}");
    }
    assert!(outcome.stderr.contains("queues=2"), "{}", outcome.stderr);
}

#[test]
fn refuses_eal_args_without_no_pci() {
    let dir = TestDir::new("nopci");
    let config = dir.write("cidlb.toml", &config(&["--in-memory"], &[1], &[("null0", "net_null0")]));
    let args: Vec<String> = ["run", "--config", &config.display().to_string(), "--duration", "1", "--", "--vdev=net_null0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let child = spawn(&dir, &args);
    let outcome = wait_bounded(&dir, child, Duration::from_secs(20));
    assert!(!outcome.status.success());
    assert!(outcome.stderr.contains("--no-pci"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("eal.args"), "{}", outcome.stderr);
    assert!(!outcome.stderr.contains("EAL:"), "refused before the EAL started:\n{}", outcome.stderr);
}

#[test]
fn unknown_device_is_named_in_the_error() {
    let dir = TestDir::new("nodev");
    let config = dir.write("cidlb.toml", &config(&["--no-pci"], &[1], &[("net0", "net_null7")]));
    let Some(outcome) =
        run_cidlb(&dir, "nodev", &config, &["--duration", "1"], &["--vdev=net_null0"], Duration::from_secs(30), &no_signal)
    else {
        return;
    };
    assert!(!outcome.status.success());
    assert!(outcome.stderr.contains("no DPDK device named `net_null7`"), "{}", outcome.stderr);
}

/// The fixture subset on DPDK: the demo capture (every scenario of the data path) through a
/// real DPDK port gives exactly the packets `cidlb replay` gives, in the same order, and they
/// obey the rules (CID records on their node, flows on one node).
#[test]
fn demo_capture_through_dpdk_matches_replay() {
    use cidlb_dataplane::io::pcap::{read_pcap, write_pcap as write_captured};
    let dir = TestDir::new("demo");
    let packets = cidlb_perf::profiles::generate("demo", &cidlb_perf::profiles::ProfileParams { flows: 60, ..Default::default() })
        .expect("demo profile");
    write_captured(&dir.path("in.pcap"), &packets).expect("write capture");
    let config_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo.toml");
    let Some(outcome) = run_cidlb(
        &dir,
        "demo",
        &config_path,
        &["--duration", "2", "--stats-json", "s.json"],
        &["--vdev=net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"],
        Duration::from_secs(30),
        &no_signal,
    ) else {
        return;
    };
    assert!(outcome.status.success(), "exit {:?}\nstderr:\n{}", outcome.status, outcome.stderr);
    let replay = Command::new(CIDLB)
        .current_dir(&dir.0)
        .args(["replay", "--config", &config_path.display().to_string(), "--in", "in.pcap", "--out", "replay.pcap"])
        .output()
        .expect("run replay");
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));

    let dpdk: Vec<Vec<u8>> = read_pcap(&dir.path("out.pcap"), 0).expect("out.pcap").into_iter().map(|p| p.bytes).collect();
    let replayed: Vec<Vec<u8>> = read_pcap(&dir.path("replay.pcap"), 0).expect("replay.pcap").into_iter().map(|p| p.bytes).collect();
    assert_eq!(dpdk.len(), replayed.len(), "as many packets out of DPDK as out of replay");
    for (i, (a, b)) in dpdk.iter().zip(&replayed).enumerate() {
        assert_eq!(a, b, "packet {i} differs between DPDK and replay");
    }
    let s = stats(&dir.path("s.json"));
    assert_eq!(s["ports"][0]["rx_packets"].as_u64(), Some(packets.len() as u64));
    assert!(s["totals"]["cid_forwarded"].as_u64().unwrap() > 0);
    for reason in ["unknown_cid", "cid_truncated", "ttl_exceeded", "no_service"] {
        assert_eq!(s["drops"][reason].as_u64(), Some(1), "{reason}");
    }
    let config = cidlb_config::load(&config_path).expect("demo config");
    let summary = cidlb_perf::summary::Summary::of(&config, &read_pcap(&dir.path("out.pcap"), 0).unwrap());
    assert!(summary.is_correct(), "{}", summary.render());
    assert_eq!(summary.cid_records, s["totals"]["cid_forwarded"].as_u64().unwrap());
}

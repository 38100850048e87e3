//! End-to-end control plane of the real `cidlb run` binary on DPDK virtual devices: SIGHUP
//! reloads under steady traffic (nothing lost), the metrics endpoint scraped and checked
//! line by line against the Prometheus text format, `cidlb stats` and `cidlb reload`, and
//! health checks against a real CoAP server (libcoap's `coap-server`) in a network namespace
//! reached through DPDK's `net_af_packet` on a veth.
//!
//! Machine rules: `--no-pci`, `--in-memory` (or `--no-huge --no-shconf`) with a unique
//! `--file-prefix`, lcore 0 control and 1 worker, every wait bounded, children killed by pid,
//! namespaces and veths named after the test's pid and removed by a drop guard.
#![cfg(feature = "dpdk")]

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::dpdk::{free_hugepages, udp_frame, write_pcap, TestDir, CIDLB};

/// A running `cidlb run`, killed by its pid if the test ends without stopping it.
struct Running {
    child: Option<Child>,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill {signal} {}", self.pid());
    }
    /// SIGTERM, then wait (bounded) for a clean exit.
    fn stop(mut self, dir: &TestDir) -> std::process::ExitStatus {
        self.signal("-TERM");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("cidlb did not stop within 20 s; stderr:\n{}", dir.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn exited(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_some())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL to this child's pid only
            let _ = child.wait();
        }
    }
}

/// Memory arguments: `--in-memory` on hugepages, else `--no-huge`; a unique file prefix.
fn memory_args(prefix: &str, huge: bool) -> Vec<String> {
    let mut args: Vec<String> = if huge {
        vec!["--in-memory".into()]
    } else {
        vec!["--no-huge".into(), "-m".into(), "256".into(), "--no-shconf".into()]
    };
    args.extend(["--file-prefix".to_string(), format!("cidlb-ctl-{prefix}-{}", std::process::id()), "--log-level=notice".into()]);
    args
}

/// Start `cidlb run` and wait (bounded) until it forwards. None (after saying why) when DPDK
/// cannot start here.
fn start(dir: &TestDir, prefix: &str, config: &Path, eal: &[String]) -> Option<Running> {
    let modes: &[bool] = if free_hugepages() >= 128 && std::env::var("CIDLB_TEST_MEMORY").as_deref() != Ok("no-huge") { &[true, false] } else { &[false] };
    for &huge in modes {
        let mut args: Vec<String> = vec!["run".into(), "--config".into(), config.display().to_string(), "--stats-json".into(), "s.json".into(), "--".into()];
        args.extend(memory_args(prefix, huge));
        args.extend(eal.iter().cloned());
        let child = Command::new(CIDLB)
            .args(&args)
            .current_dir(&dir.0)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(File::create(dir.path("stdout.txt")).expect("stdout"))
            .stderr(File::create(dir.path("stderr.txt")).expect("stderr"))
            .spawn()
            .expect("start cidlb");
        let mut running = Running { child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let err = dir.stderr();
            if err.contains("forwarding; SIGINT") && (err.contains("metrics endpoint listening") || err.contains("metrics` is off")) {
                return Some(running);
            }
            if running.exited() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let err = dir.stderr();
        drop(running);
        if !(err.contains("DPDK EAL initialisation failed") || err.contains("cannot create the packet pool")) {
            panic!("cidlb did not start:\n{err}");
        }
        eprintln!("DPDK did not start (huge = {huge}):\n{err}");
    }
    println!("SKIPPED: DPDK is not usable here");
    None
}

/// The metrics address cidlb logged (it binds port 0 in tests).
fn metrics_address(dir: &TestDir) -> std::net::SocketAddr {
    let err = dir.stderr();
    let line = err.lines().find(|l| l.contains("metrics endpoint listening")).expect("metrics endpoint logged");
    let at = line.find("address=").expect("address field") + "address=".len();
    line[at..].split_whitespace().next().unwrap().parse().expect("a socket address")
}

/// Wait (bounded) until `count(stderr) >= n`.
fn wait_log(dir: &TestDir, what: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let have = dir.stderr().matches(what).count();
        if have >= n {
            return;
        }
        assert!(Instant::now() < deadline, "waited {timeout:?} for {n} x `{what}`, saw {have}; stderr:\n{}", dir.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One port `net0` on `device`, nodes 1-3 with static neighbours, a five-tuple service on
/// 192.0.2.10:5684 over `members` with node 2 at `weight2`.
fn traffic_config(device: &str, pidfile: &Path, members: &str, weight2: u32, extra: &str) -> String {
    format!(
        r#"[eal]
args = ["--no-pci"]

[dataplane]
workers = [1]
control_core = 0
mbufs = 8191
mbuf_cache = 128
sessions_per_worker = 65536
fragments_per_worker = 1024
hash_key = "000102030405060708090a0b0c0d0e0f"
{extra}
[control]
metrics = "127.0.0.1:0"
pidfile = "{}"

[[port]]
name = "net0"
device = "{device}"
mac = "02:00:00:00:00:01"
ipv4 = "192.0.2.1/24"
gateway4 = "192.0.2.254"

[[neighbor]]
ip = "192.0.2.254"
mac = "02:00:00:00:00:fe"
[[neighbor]]
ip = "192.0.2.11"
mac = "02:00:00:00:00:11"
[[neighbor]]
ip = "192.0.2.12"
mac = "02:00:00:00:00:12"
[[neighbor]]
ip = "192.0.2.13"
mac = "02:00:00:00:00:13"

[[node]]
id = 1
address = "192.0.2.11"
[[node]]
id = 2
address = "192.0.2.12"
weight = {weight2}
[[node]]
id = 3
address = "192.0.2.13"

[[service]]
name = "udp"
vip = "192.0.2.10"
port = 5684
protocol = "udp"
balance = "five-tuple"
nodes = {members}
"#,
        pidfile.display()
    )
}

fn cidlb(dir: &TestDir, args: &[&str]) -> std::process::Output {
    let mut child = Command::new(CIDLB)
        .args(args)
        .current_dir(&dir.0)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cidlb");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("cidlb {args:?} did not finish within 20 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().expect("output")
}

#[test]
fn sighup_under_traffic_loses_nothing_and_metrics_parse() {
    let dir = TestDir::new("sighup");
    let frames: Vec<Vec<u8>> = (0..200).map(udp_frame).collect();
    write_pcap(&dir.path("in.pcap"), &frames);
    let pidfile = dir.path("cidlb.pid");
    let config = dir.write("cidlb.toml", &traffic_config("net_pcap0", &pidfile, "[1, 2]", 1, ""));
    // Infinite RX from the capture; with no tx_pcap the PMD counts and drops what it sends.
    let eal = vec!["--vdev=net_pcap0,rx_pcap=in.pcap,infinite_rx=1".to_string()];
    let Some(running) = start(&dir, "sighup", &config, &eal) else { return };
    let pid = std::fs::read_to_string(&pidfile).expect("pidfile written");
    assert_eq!(pid.trim(), running.pid().to_string());
    let address = metrics_address(&dir);

    // 100 valid reloads in a loop, each waited for (bounded): membership and weights change.
    let started = Instant::now();
    for i in 0..100usize {
        let members = if i % 2 == 0 { "[1, 2, 3]" } else { "[1, 2]" };
        std::fs::write(&config, traffic_config("net_pcap0", &pidfile, members, 1 + (i % 3) as u32, "")).unwrap();
        let out = cidlb(&dir, &["reload", "--pidfile", pidfile.to_str().unwrap()]);
        assert!(out.status.success(), "cidlb reload: {}", String::from_utf8_lossy(&out.stderr));
        wait_log(&dir, "reload applied", i + 1, Duration::from_secs(10));
        assert!(started.elapsed() < Duration::from_secs(120), "100 reloads took too long");
    }

    // An invalid file: refused with key and line, the old config keeps forwarding.
    let valid = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, valid.replace("nodes = [1, 2, 3]", "nodes = [1, 2, 9]").replace("nodes = [1, 2]\n", "nodes = [1, 9]\n")).unwrap();
    let checked = cidlb(&dir, &["reload", "--config", config.to_str().unwrap()]);
    assert!(!checked.status.success(), "reload --config validates first and sends nothing");
    assert!(String::from_utf8_lossy(&checked.stderr).contains("service[0].nodes[") , "{}", String::from_utf8_lossy(&checked.stderr));
    running.signal("-HUP");
    wait_log(&dir, "reload refused: the config is invalid", 1, Duration::from_secs(10));
    assert!(dir.stderr().contains("key=service[0].nodes["), "errors name the key:\n{}", dir.stderr());
    // A change that needs a restart: refused, naming the key.
    std::fs::write(&config, valid.replace("sessions_per_worker = 65536", "sessions_per_worker = 1024")).unwrap();
    running.signal("-HUP");
    wait_log(&dir, "`dataplane.sessions_per_worker`: cannot change on reload", 1, Duration::from_secs(10));
    std::fs::write(&config, &valid).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // The metrics endpoint: every line valid text format, and the numbers add up.
    let text = cidlb_control::metrics::scrape(address, Duration::from_secs(5)).expect("scrape");
    validate_exposition(&text);
    let samples = cidlb_control::metrics::parse_samples(&text);
    let value = |name: &str, label: Option<(&str, &str)>| {
        samples.iter().find(|s| s.name == name && label.is_none_or(|(k, v)| s.label(k) == Some(v))).map(|s| s.value).unwrap_or(f64::NAN)
    };
    assert_eq!(value("cidlb_reloads_total", Some(("result", "applied"))), 100.0);
    assert_eq!(value("cidlb_reloads_total", Some(("result", "invalid"))), 1.0);
    assert_eq!(value("cidlb_reloads_total", Some(("result", "refused"))), 1.0);
    assert!(value("cidlb_rx_packets_total", Some(("worker", "0"))) > 1000.0);
    assert!(value("cidlb_burst_latency_seconds", Some(("quantile", "0.99"))) > 0.0);
    assert!(value("cidlb_port_device_rx_packets_total", Some(("port", "net0"))) > 0.0);
    let stats = cidlb(&dir, &["stats", "--metrics", &address.to_string()]);
    let table = String::from_utf8_lossy(&stats.stdout);
    assert!(stats.status.success() && table.contains("net0") && table.contains("p99 ns"), "{table}");

    let status = running.stop(&dir);
    assert!(status.success(), "exit {status:?}\n{}", dir.stderr());
    assert!(!pidfile.exists(), "pidfile removed on exit");
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.path("s.json")).expect("stats")).expect("json");
    let port = &s["ports"][0];
    let rx = port["rx_packets"].as_u64().unwrap();
    assert!(rx > 10_000, "steady traffic: {port}");
    assert_eq!(s["dropped_total"], 0, "nothing dropped across 100 reloads: {}", s["drops"]);
    assert_eq!(port["tx_packets"].as_u64().unwrap(), rx, "every packet received was sent: {port}");
    assert_eq!(port["device"]["ipackets"].as_u64().unwrap(), rx, "device and workers agree on RX: {port}");
    assert_eq!(port["device"]["opackets"].as_u64().unwrap(), rx, "device and workers agree on TX: {port}");
    assert_eq!(port["device"]["imissed"], 0);
}

/// Check every line of a text exposition (format 0.0.4): HELP and TYPE before a family's
/// samples, each family once and contiguous, names and labels well formed, values numeric,
/// counters named `_total`, every name `cidlb_*`.
fn validate_exposition(text: &str) {
    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    fn is_label_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }
    fn is_value(s: &str) -> bool {
        matches!(s, "+Inf" | "-Inf" | "NaN") || s.parse::<f64>().is_ok()
    }
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    let mut types: std::collections::HashMap<String, String> = Default::default();
    let mut helped = std::collections::HashSet::new();
    let mut finished = std::collections::HashSet::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = format!("line {}: `{line}`", n + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name, tail) = (parts.next().unwrap(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            match keyword {
                "HELP" => {
                    assert!(is_name(name), "{at}");
                    assert!(!tail.is_empty(), "{at}: empty help");
                    assert!(helped.insert(name.to_string()), "{at}: HELP twice");
                }
                "TYPE" => {
                    assert!(is_name(name), "{at}");
                    assert!(["counter", "gauge", "summary", "histogram", "untyped"].contains(&tail), "{at}");
                    assert!(types.insert(name.to_string(), tail.to_string()).is_none(), "{at}: TYPE twice");
                    assert!(helped.contains(name), "{at}: TYPE without HELP");
                    if let Some(previous) = current.replace(name.to_string()) {
                        finished.insert(previous);
                    }
                }
                _ => {}
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "{at}: blank line");
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{at}: no value"));
        let name = &line[..name_end];
        assert!(is_name(name) && name.starts_with("cidlb_"), "{at}: metric name");
        let family = types.keys().find(|f| name == f.as_str() || ["_sum", "_count", "_bucket"].iter().any(|s| name == format!("{f}{s}")));
        let family = family.unwrap_or_else(|| panic!("{at}: sample before its TYPE"));
        assert!(!finished.contains(family), "{at}: family samples not contiguous");
        assert_eq!(current.as_deref(), Some(family.as_str()), "{at}: sample outside its family");
        if types[family] == "counter" {
            assert!(name.ends_with("_total"), "{at}: counters end in _total");
        }
        let mut rest = &line[name_end..];
        if let Some(labels) = rest.strip_prefix('{') {
            let bytes = labels.as_bytes();
            let mut i = 0;
            let mut seen = std::collections::HashSet::new();
            loop {
                if bytes.get(i) == Some(&b'}') {
                    i += 1;
                    break;
                }
                let eq = labels[i..].find('=').map(|p| p + i).unwrap_or_else(|| panic!("{at}: label without ="));
                let key = &labels[i..eq];
                assert!(is_label_name(key), "{at}: label name `{key}`");
                assert!(seen.insert(key.to_string()), "{at}: label `{key}` twice");
                assert_eq!(bytes.get(eq + 1), Some(&b'"'), "{at}: label value not quoted");
                let mut j = eq + 2;
                loop {
                    match bytes.get(j) {
                        Some(b'\\') => {
                            assert!(matches!(bytes.get(j + 1), Some(b'\\' | b'"' | b'n')), "{at}: bad escape");
                            j += 2;
                        }
                        Some(b'"') => break,
                        Some(b'\n') | None => panic!("{at}: unterminated label value"),
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
                match bytes.get(i) {
                    Some(b',') => i += 1,
                    Some(b'}') => {}
                    _ => panic!("{at}: expected , or }} after a label"),
                }
            }
            rest = &labels[i..];
        }
        let mut fields = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{at}: one space before the value")).split(' ');
        let value = fields.next().unwrap_or("");
        assert!(is_value(value), "{at}: value `{value}`");
        if let Some(timestamp) = fields.next() {
            assert!(timestamp.parse::<i64>().is_ok(), "{at}: timestamp");
        }
        assert!(fields.next().is_none(), "{at}: trailing fields");
    }
    for family in types.keys() {
        assert!(helped.contains(family), "{family} has no HELP");
    }
}

// --- Health checks against a real CoAP server, in a namespace, through net_af_packet. ---

/// A network namespace with one end of a veth and a CoAP server in it; removed on drop.
struct Namespace {
    name: String,
    host_veth: String,
    server: Option<Child>,
    server_binary: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Namespace {
    fn create(tag: &str, server_binary: &str) -> Option<Namespace> {
        let pid = std::process::id();
        let ns = Namespace {
            name: format!("cidlb-{tag}-{pid}"),
            host_veth: format!("vc{tag}{pid}"),
            server: None,
            server_binary: server_binary.to_string(),
        };
        let peer = format!("vn{tag}{pid}");
        let steps: [&[&str]; 6] = [
            &["netns", "add", &ns.name],
            &["link", "add", &ns.host_veth, "type", "veth", "peer", "name", &peer],
            &["link", "set", &peer, "netns", &ns.name],
            &["-n", &ns.name, "addr", "add", "192.0.2.11/24", "dev", &peer],
            &["-n", &ns.name, "link", "set", &peer, "up"],
            &["link", "set", &ns.host_veth, "up"],
        ];
        for step in steps {
            if !ip(step) {
                println!("SKIPPED: `ip {}` failed (needs root, ip netns and veth)", step.join(" "));
                return None; // the drop guard removes what was made
            }
        }
        let _ = ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        // The host side only carries DPDK's frames: no IPv6 autoconfiguration chatter.
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{}/disable_ipv6", ns.host_veth), "1");
        Some(ns)
    }

    fn start_server(&mut self) {
        assert!(self.server.is_none());
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, &self.server_binary, "-A", "192.0.2.11", "-p", "5683"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start coap-server");
        self.server = Some(child);
    }

    /// Kill the server by its pid (`ip netns exec` execs it, so the child is the server).
    fn stop_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.stop_server();
        let _ = ip(&["link", "del", &self.host_veth]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn coap_server_binary() -> Option<String> {
    ["coap-server-notls", "coap-server", "coap-server-openssl", "coap-server-gnutls"]
        .iter()
        .find(|b| Command::new("sh").args(["-c", &format!("command -v {b}")]).stdout(Stdio::null()).status().is_ok_and(|s| s.success()))
        .map(|b| b.to_string())
}

#[test]
fn health_follows_a_real_coap_server_through_af_packet() {
    let Some(server) = coap_server_binary() else {
        println!("SKIPPED: no coap-server (apt-get install libcoap3-bin)");
        return;
    };
    let Some(mut ns) = Namespace::create("hc", &server) else { return };
    ns.start_server();
    let dir = TestDir::new("coap");
    let pidfile = dir.path("cidlb.pid");
    let health = r#"health = { probe = "coap-ping", port = 5683, interval = "300ms", timeout = "200ms", rise = 2, fall = 2 }"#;
    let text = traffic_config("net_af_packet0", &pidfile, "[1]", 1, "")
        // The node is resolved by ARP through the port, and probed.
        .replace("[[neighbor]]\nip = \"192.0.2.11\"\nmac = \"02:00:00:00:00:11\"\n", "")
        .replace("id = 1\naddress = \"192.0.2.11\"\n", &format!("id = 1\naddress = \"192.0.2.11\"\n{health}\n"));
    let config = dir.write("cidlb.toml", &text);
    let eal = vec![format!("--vdev=net_af_packet0,iface={}", ns.host_veth)];
    let Some(running) = start(&dir, "coap", &config, &eal) else { return };
    let address = metrics_address(&dir);
    let probe_successes = || {
        let text = cidlb_control::metrics::scrape(address, Duration::from_secs(5)).unwrap_or_default();
        cidlb_control::metrics::parse_samples(&text)
            .iter()
            .find(|s| s.name == "cidlb_node_probe_successes_total" && s.label("node") == Some("1"))
            .map_or(0.0, |s| s.value)
    };
    // The server answers: probes succeed (ARP resolved in-band first), the node stays up.
    let deadline = Instant::now() + Duration::from_secs(15);
    while probe_successes() < 3.0 {
        assert!(Instant::now() < deadline, "no CoAP pong through af_packet; stderr:\n{}", dir.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!dir.stderr().contains("to=\"down\""), "{}", dir.stderr());

    // Kill the server: down within interval x fall (+ slack for the machine).
    ns.stop_server();
    wait_log(&dir, "to=\"down\"", 1, Duration::from_secs(10));
    // Start it again: up after `rise` answers.
    ns.start_server();
    wait_log(&dir, "from=\"down\" to=\"up\"", 1, Duration::from_secs(15));
    let text = cidlb_control::metrics::scrape(address, Duration::from_secs(5)).expect("scrape");
    validate_exposition(&text);
    assert!(text.contains("cidlb_node_health_transitions_total{node=\"1\",address=\"192.0.2.11\",to=\"down\"} 1"), "{text}");
    assert!(text.contains("cidlb_node_state{node=\"1\",address=\"192.0.2.11\",state=\"up\"} 1"), "{text}");

    let status = running.stop(&dir);
    assert!(status.success(), "{}", dir.stderr());
    drop(ns);
}

//! The real-peer lab (issue 6; h and i: issue 4): `cidlb run` on a veth through DPDK's `net_af_packet`, between
//! third-party DTLS 1.2 Connection ID peers (Mbed TLS 3.6), libcoap and the Linux IPv6 stack,
//! in network namespaces that `lab/lab.sh` creates and removes. One test per scenario; they
//! take a lock so only one lab runs at a time (each starts its own cidlb on lcores 0 and 1).
//!
//! Needs root. A test is skipped, with the reason printed, only when a prerequisite truly
//! cannot be had (not root, no namespaces, Mbed TLS cannot be fetched): `lab.sh` exits 77 then.
//! Every run has its own id; a guard removes the run's namespaces and processes (by the names
//! it created and by pid) even when the test fails or times out.
#![cfg(feature = "dpdk")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CIDLB: &str = env!("CARGO_BIN_EXE_cidlb");
static ONE_LAB_AT_A_TIME: Mutex<()> = Mutex::new(());

fn lab_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/lab.sh")
}

/// Removes what a run left behind (namespaces, the processes in them), whatever happened.
struct Teardown {
    id: String,
    child: Option<Child>,
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                // SIGTERM to lab.sh's own pid: its trap stops what it started.
                let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
                std::thread::sleep(Duration::from_secs(2));
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        let _ = Command::new(lab_script()).args(["teardown", &self.id]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// Run `lab.sh` for `scenarios`; panic with its output unless every one passed. Exit 77 (a
/// prerequisite is missing) prints the reason and returns.
fn lab(scenarios: &[&str], timeout: Duration) {
    let _one = ONE_LAB_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let id = format!("t{:x}{}", std::process::id() % 0xfff, scenarios.join(""));
    let dir = std::env::temp_dir().join(format!("cidlb-lab-{id}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the lab's output dir");
    let out_path = dir.join("lab.out");
    let out = std::fs::File::create(&out_path).expect("lab output file");
    let err = out.try_clone().expect("lab output file");
    let child = Command::new(lab_script())
        .args(["--id", &id, "--cidlb", CIDLB])
        .args(scenarios)
        .env("LAB_RUN_DIR", dir.join("run"))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start lab/lab.sh");
    let mut guard = Teardown { id: id.clone(), child: Some(child) };
    let deadline = Instant::now() + timeout;
    let status = loop {
        let child = guard.child.as_mut().expect("child");
        if let Some(status) = child.try_wait().expect("wait for lab.sh") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    println!("{output}");
    let Some(status) = status else {
        drop(guard);
        panic!("lab {scenarios:?} did not finish within {timeout:?}; output above, logs in {}", dir.display());
    };
    guard.child = None;
    drop(guard);
    if status.code() == Some(77) {
        let reason = output.lines().find(|l| l.starts_with("SKIP")).unwrap_or("SKIP: (no reason printed)");
        eprintln!("lab {scenarios:?} skipped: {reason}");
        return;
    }
    for s in scenarios {
        let line = output.lines().find(|l| l.starts_with(&format!("scenario {s}:")));
        match line {
            Some(l) if l.contains(": PASS") => {}
            Some(l) if l.contains(": SKIP") => eprintln!("lab: {l}"),
            Some(l) => panic!("{l}\nlogs and captures in {}", dir.join("run").display()),
            None => panic!("lab.sh printed no result for scenario {s} (exit {status}); logs in {}", dir.display()),
        }
    }
    assert!(status.success(), "lab.sh exited with {status}; logs in {}", dir.display());
    let _ = std::fs::remove_dir_all(&dir);
}

/// a. Several clients handshake through the VIP; each node sees only CIDs with its own node
/// id (capture on its interface); application data is echoed end to end.
#[test]
fn lab_a_dtls_cid_clients_reach_the_node_of_their_cid() {
    lab(&["a"], Duration::from_secs(180));
}

/// b. Silence longer than `session_timeout`, then more data: records still reach the
/// handshake node (the CID path is stateless).
#[test]
fn lab_b_cid_records_after_the_session_timeout() {
    lab(&["b"], Duration::from_secs(120));
}

/// c. NAT rebinding through the masquerading router (conntrack -F) mid-session: the
/// session survives.
#[test]
fn lab_c_nat_rebinding_mid_session() {
    lab(&["c"], Duration::from_secs(120));
}

/// d. Plain CoAP (libcoap) through the VIP: each client sticks to one node.
#[test]
fn lab_d_plain_coap_is_sticky() {
    lab(&["d"], Duration::from_secs(120));
}

/// e. IPv6 with the kernel's flow labels: TCP connections and UDP datagrams fragmented on a
/// 1280-byte link reach one node each and reassemble there.
#[test]
fn lab_e_ipv6_flow_labels_tcp_and_fragments() {
    lab(&["e"], Duration::from_secs(120));
}

/// f. A node stops: marked down by its health probe, new handshakes land on the survivors.
/// Prints SKIP (and passes) while this cidlb has no health checks.
#[test]
fn lab_f_node_down_new_handshakes_on_survivors() {
    lab(&["f"], Duration::from_secs(120));
}

/// g. SIGHUP adds a node under traffic: nothing lost, new sessions reach it. Prints SKIP
/// (and passes) while this cidlb has no config reload.
#[test]
fn lab_g_reload_adds_a_node_under_traffic() {
    lab(&["g"], Duration::from_secs(120));
}

/// h. IP-in-IP (direct server return): Mbed TLS ssl_client2 with ssl_server2 on two nodes
/// behind an IPv4 and an IPv6 VIP, through IPv4-in-IPv4 and IPv6-in-IPv6; every frame from the
/// balancer to those nodes is a tunnel packet to the node with TTL `tunnel_ttl` whose inner
/// packet is byte for byte what the router sent; the replies go straight to the router. The
/// nodes decapsulate with lab/tools/ipip_decap.py (no ipip module in the test kernels).
#[test]
fn lab_h_ipip_direct_server_return_with_a_real_dtls_server() {
    lab(&["h"], Duration::from_secs(150));
}

/// i. Path MTU discovery through the balancer: 200 KB TCP downloads over NAT and IP-in-IP,
/// IPv4 and IPv6, with the client link at 1280 and no MSS clamping: the router's too-big
/// errors reach the node (NAT: quote translated back, checksums right) and the downloads
/// complete (a control with those errors dropped stalls); a 1500-byte DF datagram to an
/// IP-in-IP VIP gets "too big" from the balancer with 1480 / 1460.
#[test]
fn lab_i_path_mtu_discovery_through_the_balancer() {
    lab(&["i"], Duration::from_secs(150));
}

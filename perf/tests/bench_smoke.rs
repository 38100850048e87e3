//! A cheap smoke check of `cidlb-perf bench`: one profile, one round, one second. Ignored by
//! default (it needs root, DPDK, dpdk-testpmd and a built `cidlb`), and it never asserts on
//! speed: only that both programs ran and forwarded something.
//!
//!     cargo build --release && cargo test --release -p cidlb-perf --test bench_smoke -- --ignored
//!
//! `CIDLB_BIN` names the cidlb binary (default: `cidlb` next to `cidlb-perf`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PERF: &str = env!("CARGO_BIN_EXE_cidlb-perf");

/// The cidlb binary: `CIDLB_BIN`, else `cidlb` next to `cidlb-perf`.
fn cidlb_binary() -> PathBuf {
    let cidlb = std::env::var_os("CIDLB_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(PERF).with_file_name("cidlb"));
    assert!(cidlb.exists(), "{} not found: build cidlb (cargo build --release) or set CIDLB_BIN", cidlb.display());
    cidlb
}

/// An empty directory of this test run's own under the temp dir.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cidlb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
#[ignore = "needs DPDK, dpdk-testpmd, root and a built cidlb; run with --ignored"]
fn bench_one_profile_one_round() {
    let cidlb = cidlb_binary();
    let dir = fresh_dir("bench-smoke");
    let readme = dir.join("README.md");
    std::fs::write(&readme, "# x\n<!-- perf-table:start -->\nold\n<!-- perf-table:end -->\n").unwrap();
    let json = dir.join("bench.json");
    let mut child = Command::new(PERF)
        .args(["bench", "--profiles", "cid", "--rounds", "1", "--seconds", "1", "--no-io"])
        .arg("--cidlb")
        .arg(&cidlb)
        .arg("--workdir")
        .arg(dir.join("work"))
        .arg("--readme")
        .arg(&readme)
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cidlb-perf");
    // Bounded: a hung run is killed by its pid.
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cidlb-perf bench (pid {}) did not finish within 180 s", child.id());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "exit {status}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let cid = &results[0];
    assert_eq!(cid["name"], "cid");
    assert!(cid["error"].is_null(), "{cid}");
    assert!(cid["cidlb"][0]["packets"].as_u64().unwrap() > 0, "{cid}");
    assert!(cid["testpmd_5tswap"][0]["packets"].as_u64().unwrap() > 0, "{cid}");
    // Every packet of the cid profile is forwarded (no drops), whatever the speed.
    assert_eq!(cid["cidlb"][0]["packets"], cid["cidlb"][0]["transmitted"], "{cid}");
    let text = std::fs::read_to_string(&readme).unwrap();
    assert!(text.contains("| `cid` |") && !text.contains("old"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `cidlb-perf latency` at one low rate plus its saturation run and the row at half of the
/// maximum, briefly: the table has its three rows and the summary names the maximum and the
/// target. Never asserts on speed.
///
///     cargo build --release && cargo test --release -p cidlb-perf --test bench_smoke -- --ignored latency
#[test]
#[ignore = "needs DPDK (net_memif), root and a built cidlb; run with --ignored"]
fn latency_one_rate_and_the_maximum() {
    let cidlb = cidlb_binary();
    let dir = fresh_dir("latency-smoke");
    let child = Command::new(PERF)
        .args(["latency", "--rates", "0.01", "--seconds", "0.5"])
        .arg("--cidlb")
        .arg(&cidlb)
        .arg("--workdir")
        .arg(dir.join("work"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cidlb-perf");
    let pid = child.id();
    // Bounded: a hung run is killed by its pid (its cidlb child stops at its --duration).
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = done.send(());
        output
    });
    if finished.recv_timeout(Duration::from_secs(180)).is_err() {
        let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        panic!("cidlb-perf latency (pid {pid}) did not finish within 180 s");
    }
    let output = waiter.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| offered")).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    assert!(rows[0].starts_with("| 0.01 |") && rows[1].contains("(½ max)") && rows[2].contains("(saturation)"), "{stdout}");
    // Something came back at every rate.
    for row in &rows {
        let received: u64 = row.split('|').nth(4).unwrap().trim().parse().unwrap();
        assert!(received > 0, "{row}");
    }
    assert!(stdout.contains("Maximum rate: ") && stdout.contains("the target (p99 under 20 µs at half of the maximum rate) is **"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

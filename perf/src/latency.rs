//! `cidlb-perf latency`: latency under load through a real `cidlb run`.
//!
//! Two DPDK processes joined by a `net_memif` pair: cidlb (control on lcore 0, worker on
//! lcore 1) is the memif server; this generator is the client and runs on one lcore (0, its main
//! thread), which it shares with cidlb's control thread (asleep between ticks) — on a 2-core
//! machine there is no other choice. The generator sends DTLS CID records whose last 8 bytes
//! carry the send time (the TSC, in ns), paced to a fixed rate; cidlb NATs them toward a node
//! whose next hop is back over the same memif port; the generator receives them and records
//! `now − stamp` in an HDR histogram. One TSC clock stamps and reads, so no clock sync.
//!
//! Uses the project's safe DPDK layer (`cidlb_dataplane::io::dpdk`), no unsafe of its own.

use crate::bench;
use crate::profiles;
use anyhow::{anyhow, bail, Context};
use cidlb_dataplane::frame::Frame;
use cidlb_dataplane::io::dpdk::{Eal, Mempool, Port, PortOptions};
use cidlb_dataplane::io::{Burst, PacketIo};
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug)]
pub struct LatencyArgs {
    /// Offered rates in Mpps, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.1,0.5,1,2")]
    pub rates: Vec<f64>,
    /// Seconds of traffic per rate.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// DTLS ciphertext bytes per record (the frame is 61 bytes more).
    #[arg(long, default_value_t = 40)]
    pub size: usize,
    /// The cidlb binary [default: `cidlb` next to this program].
    #[arg(long)]
    pub cidlb: Option<PathBuf>,
    /// Where the config, logs and the memif socket go.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Replace the table between the markers of this README (`latency-table` for cidlb,
    /// `latency-baseline` for testpmd).
    #[arg(long, value_name = "README.md")]
    pub readme: Option<PathBuf>,
    /// What reflects the traffic: `cidlb`, or `testpmd` (macswap on the same memif pair and
    /// cores: the floor of the generator, memif and the machine's scheduling).
    #[arg(long, default_value = "cidlb", value_parser = ["cidlb", "testpmd"])]
    pub via: String,
    #[arg(long, default_value = "dpdk-testpmd")]
    pub testpmd: PathBuf,
    /// Skip the saturation run that finds the maximum rate (and so the row at half of it).
    #[arg(long)]
    pub no_max: bool,
}

/// What a row of the table offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Offer {
    /// A rate of `--rates`.
    #[default]
    Fixed,
    /// Half of the rate that came back at saturation (the latency target).
    HalfMax,
    /// As fast as the generator sends: the maximum rate.
    Saturation,
}

/// The result at one offered rate.
#[derive(Clone, Debug, Default)]
pub struct RateResult {
    pub offer: Offer,
    /// The offered rate; at saturation, what the generator managed to send.
    pub offered_mpps: f64,
    pub sent: u64,
    pub received: u64,
    pub seconds: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// What the ring into the reflector refused (full): at saturation not sent, at a fixed
    /// rate counted as sent and lost (the reflector was not draining its ring).
    pub refused: u64,
}

impl RateResult {
    /// The rate that came back.
    pub fn achieved_mpps(&self) -> f64 {
        self.received as f64 / self.seconds / 1e6
    }
}

const STAMP_BYTES: usize = 8;

/// The config cidlb runs with: the `cid` bench profile on `net_memif0`.
fn config() -> String {
    let cid = bench::find("cid").expect("the cid bench profile exists");
    let mut text = cid.config();
    text = text.replace("mbufs = 32767", "mbufs = 16383").replace("device = \"net_pcap0\"", "device = \"net_memif0\"");
    text
}

/// net_memif registers a multi-process action at probe, so neither `--in-memory` nor
/// `--no-shconf` will do: each process gets its own `--file-prefix` (hugepage files unlinked
/// at once with `--huge-unlink`; the runtime directory is removed at the end).
fn file_prefix(prefix: &str) -> String {
    format!("cidlb-latency-{prefix}-{}", std::process::id())
}

fn remove_runtime_dirs() {
    for prefix in ["cidlb", "gen"] {
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", file_prefix(prefix)));
    }
}

fn memory_args(prefix: &str) -> Vec<String> {
    let free_mb = std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 2;
    let mounted = std::fs::read_to_string("/proc/mounts").map(|m| m.contains(" hugetlbfs ")).unwrap_or(false);
    let mut args: Vec<String> = if mounted && free_mb >= 512 {
        vec!["--huge-unlink".into()]
    } else {
        vec!["--no-huge".into(), "-m".into(), "256".into()]
    };
    args.push(format!("--file-prefix={}", file_prefix(prefix)));
    args.push("--log-level=notice".into());
    args
}

struct CidlbChild {
    child: Child,
    stderr: PathBuf,
}

impl Drop for CidlbChild {
    fn drop(&mut self) {
        // Stop it by its pid: SIGTERM (clean stop with stats), then SIGKILL after 20 s.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn run(args: &LatencyArgs) -> anyhow::Result<()> {
    if args.rates.is_empty() || args.rates.iter().any(|r| !(*r > 0.0 && *r <= 100.0)) {
        bail!("--rates: give rates in Mpps in (0, 100]");
    }
    if !(args.seconds > 0.0 && args.seconds <= 60.0) {
        bail!("--seconds must be in (0, 60]");
    }
    let cidlb = match &args.cidlb {
        Some(p) => p.clone(),
        None => std::env::current_exe()?.with_file_name("cidlb"),
    };
    let workdir = args.workdir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("cidlb-latency-{}", std::process::id())));
    std::fs::create_dir_all(&workdir)?;
    let socket = workdir.join("memif.sock");
    let _ = std::fs::remove_file(&socket);
    let config_path = workdir.join("latency.toml");
    std::fs::write(&config_path, config())?;

    // The reflector is the memif server, bounded by --duration (cidlb) and by the SIGTERM on
    // drop; testpmd also has a deadline through the same drop.
    let budget = (args.rates.len() + 2) as f64 * (args.seconds + 1.0) + 30.0;
    let stderr = workdir.join(format!("{}.stderr", args.via));
    let vdev = format!("--vdev=net_memif0,role=server,socket={},socket-abstract=no", socket.display());
    let child = if args.via == "testpmd" {
        Command::new(&args.testpmd)
            .args(["-l", "0,1", "--main-lcore", "0", "--no-pci"])
            .args(memory_args("cidlb"))
            .arg(&vdev)
            .args(["--", "--forward-mode=macswap", "--nb-cores=1", "--auto-start", "--burst=32"])
            .stdin(Stdio::piped())
            .stdout(std::fs::File::create(workdir.join("testpmd.stdout"))?)
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {}", args.testpmd.display()))?
    } else {
        Command::new(&cidlb)
            .args(["run", "--config"])
            .arg(&config_path)
            .arg("--duration")
            .arg(budget.to_string())
            .arg("--stats-json")
            .arg(workdir.join("cidlb.stats.json"))
            .arg("--")
            .args(memory_args("cidlb"))
            .arg(&vdev)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(workdir.join("cidlb.stdout"))?)
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()
            .with_context(|| format!("starting {}", cidlb.display()))?
    };
    let mut cidlb_child = CidlbChild { child, stderr };
    // Wait for the server's socket (and for cidlb, for it to forward).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = std::fs::read_to_string(&cidlb_child.stderr).unwrap_or_default();
        let ready = if args.via == "testpmd" { socket.exists() } else { log.contains("forwarding;") };
        if ready {
            std::thread::sleep(Duration::from_millis(500));
            break;
        }
        if let Some(status) = cidlb_child.child.try_wait()? {
            bail!("{} exited ({status}) before forwarding:\n{log}", args.via);
        }
        if Instant::now() >= deadline {
            bail!("{} did not start forwarding within 60 s:\n{log}", args.via);
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    // DPDK pins its control threads (interrupts, multi-process, telemetry) to the CPUs this
    // thread may use minus its lcores: with lcore 0 alone, to core 1, the reflector's
    // forwarding core, where each wake-up preempted it. With this thread narrowed to core 0
    // first (the reflector, already started, keeps both), the EAL keeps them on core 0.
    let mut generator_core = rustix::thread::CpuSet::new();
    generator_core.set(0);
    if let Err(e) = rustix::thread::sched_setaffinity(None, &generator_core) {
        eprintln!("warning: cannot keep the generator on core 0 ({e}); its EAL threads may share the reflector's core");
    }
    let mut argv = vec!["cidlb-perf".to_string(), "-l".into(), "0".into(), "--no-pci".into()];
    argv.extend(memory_args("gen"));
    argv.push(format!("--vdev=net_memif0,role=client,socket={},socket-abstract=no", socket.display()));
    let eal = Eal::init(&argv).context("starting the generator's EAL")?;
    let reflector_pid = cidlb_child.child.id();
    let (steal_before, preempted_before) = (steal_ticks(), forwarding_thread_preemptions(reflector_pid));
    let results = generate(&eal, args);
    let (steal_after, preempted_after) = (steal_ticks(), forwarding_thread_preemptions(reflector_pid));
    let preempted = preempted_before.zip(preempted_after).map(|(before, after)| after.saturating_sub(before));
    // Ports and pools are gone here (generate owns them).
    drop(cidlb_child);
    let _ = eal.cleanup();
    remove_runtime_dirs();
    let results = results?;
    let mut table = render(&results, args);
    if let Some(line) = conditions_line(&steal_before, &steal_after, preempted) {
        table.push_str(&line);
        table.push('\n');
    }
    println!("{table}");
    if let Some(path) = &args.readme {
        let text = std::fs::read_to_string(path)?;
        let (start, end) = if args.via == "testpmd" { (BASELINE_START, BASELINE_END) } else { (LATENCY_START, LATENCY_END) };
        std::fs::write(path, replace_section(&text, &table, start, end)?)?;
        eprintln!("{}: latency table replaced", path.display());
    }
    Ok(())
}

fn generate(eal: &Eal, args: &LatencyArgs) -> anyhow::Result<Vec<RateResult>> {
    let pool = Mempool::new(eal, "latency_pool", 16383, 256, -1).context("generator packet pool")?;
    let options = PortOptions { queues: 1, rx_descriptors: 1024, tx_descriptors: 1024, mac: Some(profiles::GATEWAY_MAC), mtu: 1500 };
    let port = Port::open(eal, "net_memif0", &options, &pool).context("opening the generator's memif port")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !port.link().map(|l| l.up).unwrap_or(false) {
        if Instant::now() >= deadline {
            bail!("the memif link to cidlb did not come up within 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let ports = [port];
    let mut io = Port::worker_io(&ports, 0, &pool)?;
    let clock = eal.clock();
    // Warm up (ARP-free: every neighbour is static) and let the link settle.
    let template = profiles::cid_packet(7, 20007, 1, 1, args.size.max(STAMP_BYTES));
    let mut results = Vec::new();
    let mut rates: Vec<(f64, Offer)> = args.rates.iter().map(|&rate| (rate, Offer::Fixed)).collect();
    if !args.no_max {
        // The saturation run first: its result decides the rate of the half-maximum row.
        let max = one_rate(&mut io, &clock, &template, None, args.seconds)?;
        if max.received == 0 {
            bail!("no packet came back at saturation ({} sent): is {} forwarding?", max.sent, args.via);
        }
        rates.push((max.achieved_mpps() / 2.0, Offer::HalfMax));
        results.push(max);
        std::thread::sleep(Duration::from_millis(200));
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (rate, offer) in rates {
        let mut result = one_rate(&mut io, &clock, &template, Some(rate * 1e6), args.seconds)?;
        result.offer = offer;
        results.push(result);
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(io);
    let [port] = ports;
    let _ = port.close();
    drop(pool);
    Ok(results)
}

fn one_rate(
    io: &mut cidlb_dataplane::io::dpdk::DpdkIo,
    clock: &cidlb_dataplane::io::dpdk::TscClock,
    template: &[u8],
    pps: Option<f64>,
    seconds: f64,
) -> anyhow::Result<RateResult> {
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).map_err(|e| anyhow!("{e}"))?;
    let stamp_at = template.len() - STAMP_BYTES;
    let mut tx: Burst<cidlb_dataplane::io::dpdk::Mbuf> = Burst::new();
    let mut rx: Burst<cidlb_dataplane::io::dpdk::Mbuf> = Burst::new();
    let (mut sent, mut received, mut refused) = (0u64, 0u64, 0u64);
    let start = clock.now_ns();
    let end = start + (seconds * 1e9) as u64;
    let drain_until = end + 200_000_000;
    loop {
        let now = clock.now_ns();
        if now < end {
            // At saturation a full burst every turn, as many as the ring takes.
            let n = match pps {
                Some(pps) => (((now - start) as f64 * pps / 1e9) as u64).saturating_sub(sent).min(32) as usize,
                None => 32,
            };
            for _ in 0..n {
                let Some(mut m) = io.alloc() else { break };
                if !m.append(template.len()) {
                    continue;
                }
                m.data_mut().copy_from_slice(template);
                tx.push(m);
            }
            if !tx.is_empty() {
                let stamp = clock.now_ns().to_be_bytes();
                for m in tx.iter_mut() {
                    m.data_mut()[stamp_at..].copy_from_slice(&stamp);
                }
                let queued = tx.len() as u64;
                let took = io.tx_burst(0, &mut tx) as u64;
                // At a fixed rate what the ring did not take counts as sent and lost: the rate
                // is offered. At saturation a full ring is the generator's pace: not sent.
                sent += if pps.is_some() { queued.max(took) } else { took };
                refused += queued - took.min(queued);
            }
        } else if now >= drain_until || received >= sent {
            break;
        }
        rx.clear();
        let n = io.rx_burst(0, &mut rx, 32);
        if n > 0 {
            let now = clock.now_ns();
            for m in rx.drain(..) {
                let data = m.data();
                if data.len() != template.len() {
                    continue;
                }
                let mut stamp = [0u8; STAMP_BYTES];
                stamp.copy_from_slice(&data[stamp_at..]);
                let latency = now.saturating_sub(u64::from_be_bytes(stamp)).max(1);
                let _ = histogram.record(latency);
                received += 1;
            }
        }
    }
    let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(RateResult {
        offer: if pps.is_some() { Offer::Fixed } else { Offer::Saturation },
        offered_mpps: pps.map_or(sent as f64 / seconds / 1e6, |pps| pps / 1e6),
        sent,
        received,
        seconds,
        p50_us: us(0.5),
        p99_us: us(0.99),
        p999_us: us(0.999),
        max_us: histogram.max() as f64 / 1000.0,
        refused,
    })
}

/// Per CPU (`cpuN`), the steal time of `/proc/stat` in clock ticks: time the hypervisor ran
/// something else while this VM's CPU wanted to run. Empty where there is no such file.
fn steal_ticks() -> Vec<(String, u64)> {
    std::fs::read_to_string("/proc/stat").map(|text| parse_steal(&text)).unwrap_or_default()
}

fn parse_steal(stat: &str) -> Vec<(String, u64)> {
    stat.lines()
        .filter(|line| line.starts_with("cpu") && line.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let cpu = fields.next()?.to_string();
            // user nice system idle iowait irq softirq steal
            let steal = fields.nth(7)?.parse().ok()?;
            Some((cpu, steal))
        })
        .collect()
}

/// Involuntary context switches so far of the reflector's forwarding thread (the one whose
/// name holds `worker`: DPDK's `rte-worker-N`): how often another task took its core.
fn forwarding_thread_preemptions(pid: u32) -> Option<u64> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.contains("worker") {
            let status = std::fs::read_to_string(task.path().join("status")).ok()?;
            return status.lines().find_map(|line| line.strip_prefix("nonvoluntary_ctxt_switches:")).and_then(|v| v.trim().parse().ok());
        }
    }
    None
}

/// What the machine did to the run, as one line: the steal time of each CPU (in ms; USER_HZ
/// is 100 on Linux) and how often the forwarding thread lost its core to another task.
fn conditions_line(before: &[(String, u64)], after: &[(String, u64)], preempted: Option<u64>) -> Option<String> {
    let steal: Vec<String> = after
        .iter()
        .filter_map(|(cpu, end)| {
            let start = before.iter().find(|(c, _)| c == cpu)?.1;
            Some(format!("{cpu} {} ms", end.saturating_sub(start) * 10))
        })
        .collect();
    let mut parts = Vec::new();
    if !steal.is_empty() {
        parts.push(format!("steal time (the hypervisor running something else on this VM's CPUs) {}", steal.join(", ")));
    }
    if let Some(n) = preempted {
        parts.push(format!("the reflector's forwarding thread preempted {n} times (involuntary context switches: kernel threads and other tasks on its core)"));
    }
    (!parts.is_empty()).then(|| format!("Over the run: {}.", parts.join("; ")))
}

/// The latency target of the performance issue: p99 under this at half of the maximum rate.
pub const TARGET_P99_US: f64 = 20.0;

pub fn render(results: &[RateResult], args: &LatencyArgs) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| offered Mpps | achieved Mpps | sent | received | lost | of which refused | p50 µs | p99 µs | p99.9 µs | max µs |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    // The fixed rates and the half-maximum row in rising order, the saturation row last.
    let mut rows: Vec<&RateResult> = results.iter().filter(|r| r.offer != Offer::Saturation).collect();
    rows.sort_by(|a, b| a.offered_mpps.total_cmp(&b.offered_mpps));
    rows.extend(results.iter().filter(|r| r.offer == Offer::Saturation));
    for r in rows {
        let offered = match r.offer {
            Offer::Fixed => format!("{:.2}", r.offered_mpps),
            Offer::HalfMax => format!("{:.2} (½ max)", r.offered_mpps),
            Offer::Saturation => format!("{:.2} (saturation)", r.offered_mpps),
        };
        // At saturation a refused packet was never sent, so it is not part of the loss.
        let refused = if r.offer == Offer::Saturation { "—".to_string() } else { r.refused.to_string() };
        let _ = writeln!(
            out,
            "| {offered} | {:.2} | {} | {} | {} | {refused} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r.achieved_mpps(),
            r.sent,
            r.received,
            r.sent.saturating_sub(r.received),
            r.p50_us,
            r.p99_us,
            r.p999_us,
            r.max_us
        );
    }
    let _ = writeln!(
        out,
        "\n{} s per rate, {}-byte frames (DTLS CID records), generator and {} over a net_memif pair; lost = sent − received, of which refused = what the ring into the reflector did not take (it was not draining: off its core or saturated), the rest lost in it or on the way back; load average at the end: {}.",
        args.seconds,
        profiles::cid_packet(7, 20007, 1, 1, args.size.max(STAMP_BYTES)).len(),
        if args.via == "testpmd" { "dpdk-testpmd macswap (the baseline)" } else { "cidlb" },
        bench::load_average()
    );
    if let Some(summary) = summary(results, args.via == "testpmd") {
        let _ = writeln!(out, "{summary}");
    }
    out
}

/// The maximum rate and, for cidlb, the target at half of it; `None` without a saturation row.
pub fn summary(results: &[RateResult], baseline: bool) -> Option<String> {
    let max = results.iter().find(|r| r.offer == Offer::Saturation)?;
    let lost = max.sent.saturating_sub(max.received);
    let reflector = if baseline { "testpmd" } else { "cidlb" };
    // Which side set the pace: if the ring into the reflector filled (refused more than 1 % of
    // what the generator offered), the reflector did; if it hardly ever filled, the generator
    // (on the core it shares with the reflector's control thread) could not send faster.
    let bound = if max.refused * 100 > max.sent + max.refused {
        format!(
            "the ring into {reflector} full, refusing {:.0} % of the generator's packets: {reflector}'s limit over memif; {lost} lost",
            max.refused as f64 * 100.0 / (max.sent + max.refused) as f64
        )
    } else {
        format!("the ring into {reflector} hardly ever full: the generator's own limit, so {reflector}'s maximum is at least this; {lost} lost")
    };
    let mut text = format!(
        "Maximum rate: {:.2} Mpps came back at saturation, the generator sending {:.2} Mpps ({bound}).",
        max.achieved_mpps(),
        max.offered_mpps
    );
    if let Some(half) = results.iter().find(|r| r.offer == Offer::HalfMax) {
        let _ = write!(text, " At half of it, {:.2} Mpps offered: p99 {:.1} µs", half.offered_mpps, half.p99_us);
        if baseline {
            text.push('.');
        } else {
            let _ = write!(
                text,
                ", {} lost: the target (p99 under {TARGET_P99_US} µs at half of the maximum rate) is **{}** in this run.",
                half.sent.saturating_sub(half.received),
                if half.p99_us < TARGET_P99_US { "met" } else { "missed" }
            );
        }
    }
    Some(text)
}

pub const LATENCY_START: &str = "<!-- latency-table:start -->";
pub const LATENCY_END: &str = "<!-- latency-table:end -->";

pub const BASELINE_START: &str = "<!-- latency-baseline:start -->";
pub const BASELINE_END: &str = "<!-- latency-baseline:end -->";

fn replace_section(readme: &str, table: &str, start_marker: &str, end_marker: &str) -> anyhow::Result<String> {
    let start = readme.find(start_marker).ok_or_else(|| anyhow!("no `{start_marker}` marker"))?;
    let end = readme.find(end_marker).ok_or_else(|| anyhow!("no `{end_marker}` marker"))?;
    if end < start {
        bail!("markers out of order");
    }
    Ok(format!("{}{start_marker}\n{}\n{}", &readme[..start], table.trim_end(), &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(offer: Offer, offered_mpps: f64, sent: u64, received: u64, p99_us: f64) -> RateResult {
        RateResult { offer, offered_mpps, sent, received, seconds: 2.0, p50_us: 1.0, p99_us, p999_us: p99_us, max_us: p99_us, refused: 0 }
    }

    fn args(via: &str) -> LatencyArgs {
        LatencyArgs {
            rates: vec![0.01],
            seconds: 2.0,
            size: 40,
            cidlb: None,
            workdir: None,
            readme: None,
            via: via.into(),
            testpmd: "dpdk-testpmd".into(),
            no_max: false,
        }
    }

    #[test]
    fn summary_names_the_limit_and_judges_the_half_maximum_row() {
        // Generator-bound: 16 M sent in 2 s, all back, the ring hardly ever full.
        let mut max = row(Offer::Saturation, 8.0, 16_000_000, 16_000_000, 900.0);
        max.refused = 160_000;
        let results = [max, row(Offer::HalfMax, 4.0, 8_000_000, 8_000_000, 11.6)];
        let text = summary(&results, false).unwrap();
        assert!(
            text.starts_with("Maximum rate: 8.00 Mpps came back at saturation, the generator sending 8.00 Mpps (the ring into cidlb hardly ever full: the generator's own limit, so cidlb's maximum is at least this; 0 lost)."),
            "{text}"
        );
        assert!(text.contains("At half of it, 4.00 Mpps offered: p99 11.6 µs, 0 lost: the target (p99 under 20 µs at half of the maximum rate) is **met** in this run."), "{text}");
        // Reflector-bound (the ring refused half) and slow at half: missed.
        let mut max = row(Offer::Saturation, 12.0, 24_000_000, 10_000_000, 900.0);
        max.refused = 24_000_000;
        let results = [max, row(Offer::HalfMax, 2.5, 5_000_000, 4_999_000, 20.0)];
        let text = summary(&results, false).unwrap();
        assert!(text.contains("5.00 Mpps came back") && text.contains("the ring into cidlb full, refusing 50 % of the generator's packets: cidlb's limit over memif; 14000000 lost"), "{text}");
        assert!(text.contains("p99 20.0 µs, 1000 lost") && text.contains("**missed**"), "{text}");
        // The baseline gets the maximum, never a verdict.
        let text = summary(&results, true).unwrap();
        assert!(text.contains("testpmd's limit") && !text.contains("target"), "{text}");
        // Without a saturation run there is nothing to say.
        assert!(summary(&[row(Offer::Fixed, 1.0, 10, 10, 1.0)], false).is_none());
    }

    #[test]
    fn run_conditions_from_proc() {
        let before = parse_steal("cpu  4131308 29238 280977 4413526 17904 0 26664 11676 0 0\ncpu0 1 2 3 4 5 6 7 600 0 0\ncpu1 1 2 3 4 5 6 7 5068 0 0\nintr 1 2\n");
        assert_eq!(before, [("cpu0".to_string(), 600), ("cpu1".to_string(), 5068)]);
        let after = parse_steal("cpu0 1 2 3 4 5 6 7 612 0 0\ncpu1 1 2 3 4 5 6 7 5068 0 0\n");
        assert_eq!(
            conditions_line(&before, &after, Some(512)).unwrap(),
            "Over the run: steal time (the hypervisor running something else on this VM's CPUs) cpu0 120 ms, cpu1 0 ms; \
             the reflector's forwarding thread preempted 512 times (involuntary context switches: kernel threads and other tasks on its core)."
        );
        assert_eq!(conditions_line(&before, &after, None).unwrap(), "Over the run: steal time (the hypervisor running something else on this VM's CPUs) cpu0 120 ms, cpu1 0 ms.");
        assert_eq!(conditions_line(&[], &[], None), None);
        // This test's own process has no thread named like a forwarding thread.
        assert_eq!(forwarding_thread_preemptions(std::process::id()), None);
    }

    #[test]
    fn table_rises_by_offered_rate_with_saturation_last() {
        let results = [
            row(Offer::Saturation, 7.9, 15_800_000, 15_800_000, 500.0),
            row(Offer::Fixed, 0.01, 20_000, 20_000, 3.0),
            row(Offer::HalfMax, 3.95, 7_900_000, 7_900_000, 9.0),
            RateResult { refused: 7, ..row(Offer::Fixed, 2.0, 4_000_000, 3_999_990, 5.0) },
        ];
        let table = render(&results, &args("cidlb"));
        let rows: Vec<Vec<&str>> = table.lines().skip(2).take_while(|l| l.starts_with('|')).map(|l| l.split('|').map(str::trim).collect()).collect();
        let offered: Vec<&str> = rows.iter().map(|r| r[1]).collect();
        assert_eq!(offered, ["0.01", "2.00", "3.95 (½ max)", "7.90 (saturation)"]);
        // Refused is part of the loss at a fixed rate, not at saturation (never sent).
        assert_eq!(rows[1][6], "7", "{table}");
        assert_eq!(rows[3][6], "—", "{table}");
        assert!(table.contains("is **met** in this run."), "{table}");
    }
}

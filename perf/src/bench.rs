//! `cidlb-perf bench`: cidlb against `dpdk-testpmd` on the same capture, core and device.
//!
//! For every bench profile: a capture is generated, then in each round `cidlb run` (one worker
//! on lcore 1, control on lcore 0) and `dpdk-testpmd` (`5tswap`, then `io`) each forward it for
//! a fixed time on `net_pcap,rx_pcap=FILE,infinite_rx=1`. With no `tx_pcap`/`tx_iface` the
//! pcap PMD drops on transmit ("Dropping packets on tx since no tx queues were provided"), so
//! both programs pay the same RX cost (an mbuf allocated and the frame copied from the
//! in-memory ring) and the same TX cost (the mbuf freed). Rounds alternate the programs so
//! that machine noise hits them alike; the ratio is the median of the per-round ratios.
//!
//! Cycles per packet: `tsc_hz × duration / packets` of the single busy-polling worker (it
//! never idles: infinite_rx always has packets), the EAL's TSC frequency from cidlb's log.

use crate::memory::MemoryProbe;
use crate::profiles::{self, ProfileParams, BALANCER_MAC, GATEWAY_MAC};
use anyhow::{anyhow, bail, Context};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a profile's result is held against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// cidlb Mpps at least this fraction of testpmd 5tswap Mpps (same capture, same run).
    VsTestpmd(f64),
    /// cidlb/5tswap ratio at least this fraction of another profile's cidlb/5tswap ratio.
    VsProfile(&'static str, f64),
    /// The CID path under a spoofed new-flow flood (issue 8): this profile mixes CID records
    /// (`cid_share` of its packets) with the spoofed packets that `flood_only` sends alone;
    /// `base` sends the CID records alone. With c = cidlb's cost per packet in CPU time, in
    /// each round: c_CID under flood = (c(this) − (1 − cid_share) × c(flood_only)) / cid_share,
    /// and the figure c(base) / c_CID under flood, its median over the rounds at least `min`.
    CidUnderFlood { base: &'static str, flood_only: &'static str, cid_share: f64, min: f64 },
    /// Measured, no target.
    None,
}

impl Target {
    /// The other profiles this target is computed from (they must run in the same rounds).
    pub fn inputs(&self) -> Vec<&'static str> {
        match *self {
            Target::VsProfile(other, _) => vec![other],
            Target::CidUnderFlood { base, flood_only, .. } => vec![base, flood_only],
            Target::VsTestpmd(_) | Target::None => Vec::new(),
        }
    }
}

/// A named benchmark: a generated capture and the cidlb config that goes with it.
#[derive(Clone, Debug)]
pub struct BenchProfile {
    pub name: &'static str,
    /// The `gen` profile.
    pub generator: &'static str,
    pub packets: usize,
    pub flows: u32,
    /// Nodes of the dtls-cid and five-tuple services (ids 1..=nodes).
    pub nodes: u8,
    pub session_timeout: &'static str,
    pub sessions_per_worker: u32,
    pub target: Target,
    /// What the target is called in the issue.
    pub target_name: &'static str,
    pub about: &'static str,
    /// False: a slot for a feature that does not exist yet (skipped by `bench`).
    pub implemented: bool,
    /// Every service forwards in IP-in-IP tunnels (`forward = "ipip"`) instead of by NAT.
    pub ipip: bool,
}

const fn profile(name: &'static str, generator: &'static str, packets: usize, flows: u32, target: Target, target_name: &'static str, about: &'static str) -> BenchProfile {
    BenchProfile {
        name,
        generator,
        packets,
        flows,
        nodes: 3,
        session_timeout: "15s",
        sessions_per_worker: 1 << 20,
        target,
        target_name,
        about,
        implemented: true,
        ipip: false,
    }
}

/// The profiles `bench` runs, in table order.
pub const BENCH_PROFILES: &[BenchProfile] = &[
    profile("cid", "cid", 8192, 1000, Target::VsTestpmd(0.9), "CID NAT path", "DTLS CID records, 1000 clients over 3 nodes"),
    BenchProfile { nodes: 16, ..profile("cid-k16", "cid", 8192, 1000, Target::VsTestpmd(0.9), "CID NAT path", "DTLS CID records, 1000 clients over 16 nodes") },
    profile("session-1k", "session", 8192, 1024, Target::VsTestpmd(0.8), "session hit path", "plain CoAP, 1024 live 5-tuples (session hits)"),
    BenchProfile {
        sessions_per_worker: 1 << 21,
        ..profile("session-1k-long", "session", 1 << 20, 1024, Target::None, "", "session-1k's 1024 live 5-tuples in session-1m's capture length (1 Mi packets), pool and table: the base of session-1m's target")
    },
    BenchProfile {
        sessions_per_worker: 1 << 21,
        ..profile("session-1m", "session", 1 << 20, 1 << 20, Target::VsProfile("session-1k-long", 0.8), "1 M live sessions vs 1 K", "plain CoAP, 1 M live 5-tuples visited in turn (session hits, table beyond the caches)")
    },
    profile("handshake-1k", "handshake", 1024, 1024, Target::VsTestpmd(0.8), "session hit path", "DTLS ClientHellos from 1024 5-tuples (no CID: session path, hits after the first pass)"),
    BenchProfile {
        session_timeout: "1ms",
        ..profile("new-flows", "handshake", 1 << 17, 1 << 17, Target::VsTestpmd(0.5), "every packet a new flow", "DTLS ClientHellos from 128 K 5-tuples with a 1 ms session timeout: every packet misses and inserts (table filling)")
    },
    profile("hello-flood", "hello", 1 << 17, 1 << 17, Target::None, "", "clients' first DTLS ClientHellos (no cookie) from 128 K 5-tuples: each a new flow, answered by Maglev over its 5-tuple with no session (a spoofed handshake flood)"),
    profile("flow-label", "flow-label", 8192, 1000, Target::VsTestpmd(0.8), "flow-label path", "IPv6 TCP, non-zero labels, 1000 flows"),
    profile("flow-label-ext", "flow-label-ext", 8192, 1000, Target::VsTestpmd(0.8), "flow-label path", "as flow-label, with hop-by-hop and destination options headers"),
    profile("flow-label-frag", "flow-label-frag", 8192, 1000, Target::VsTestpmd(0.8), "flow-label path", "IPv6 UDP, labelled, every datagram in two fragments (1280 + ~200 bytes)"),
    profile("flow-label-zero", "flow-label-zero", 8192, 1000, Target::VsTestpmd(0.8), "flow-label path (5-tuple fallback)", "IPv6 TCP, zero label, extension headers: 5-tuple after the walk"),
    profile("mix", "mix", 8192, 1000, Target::None, "", "70% CID, 10% ClientHellos, 10% CoAP sessions, 10% IPv6 flow-label"),
    BenchProfile { ipip: true, ..profile("ipip", "ipip", 8192, 1000, Target::VsTestpmd(0.8), "ipip", "DTLS CID records, 1000 clients over 3 nodes, forwarded in IPv4-in-IPv4 tunnels") },
    BenchProfile {
        ipip: true,
        ..profile("flow-label-ipip", "flow-label", 8192, 1000, Target::VsTestpmd(0.8), "ipip", "as flow-label, forwarded in IPv6-in-IPv6 tunnels")
    },
    flood_profile("flood-base", "cid", Target::None, "", "DTLS CID records as in cid, in a flood-sized capture and config: the no-flood baseline of flood"),
    flood_profile(
        "flood",
        "flood",
        Target::CidUnderFlood { base: "flood-base", flood_only: "flood-only", cid_share: profiles::FLOOD_CID_SHARE, min: 0.95 },
        "CID path under a new-flow flood",
        "75% flood-base's CID records, 25% spoofed new flows (128 K distinct per pass, each a miss that evicts from the full 64 K-session table)",
    ),
    flood_profile("flood-only", "flood-only", Target::None, "", "flood's spoofed new flows alone (512 K distinct per pass), same table"),
];

/// Packets of the flood captures: 128 K spoofed flows per pass in `flood`, twice the table, so
/// a spoofed 5-tuple has always been evicted when the capture comes round to it again.
pub const FLOOD_PACKETS: usize = 1 << 19;
/// Session-table capacity of the flood profiles (4.5 MiB: beyond this machine's L2).
pub const FLOOD_SESSIONS: u32 = 1 << 16;

/// The flood profiles share capture size and config: a table full and evicting (never
/// expiring: the timeout outlasts any run), and the same RX cost (same pool, same capture
/// size, one frame length: see `profiles::flood_frame_len`) for the three, so that the
/// differences are cidlb's work.
const fn flood_profile(name: &'static str, generator: &'static str, target: Target, target_name: &'static str, about: &'static str) -> BenchProfile {
    BenchProfile {
        session_timeout: "10m",
        sessions_per_worker: FLOOD_SESSIONS,
        ..profile(name, generator, FLOOD_PACKETS, 1000, target, target_name, about)
    }
}

/// The lcore of the one cidlb worker in every bench config (control on 0).
pub const WORKER_CORE: usize = 1;
/// Reads of each kind in the memory probe of a `VsProfile` row (~1-2 s in all).
const MEMORY_PROBE_READS: usize = 4_000_000;

pub fn find(name: &str) -> Option<&'static BenchProfile> {
    BENCH_PROFILES.iter().find(|p| p.name == name)
}

/// `profiles` and the profiles their targets are computed from (a `VsProfile` target's other
/// profile, a `CidUnderFlood` target's base and flood), added in table order when missing.
pub fn with_companions(profiles: Vec<&'static BenchProfile>) -> Vec<&'static BenchProfile> {
    let needed: Vec<&'static str> = profiles.iter().flat_map(|p| p.target.inputs()).collect();
    let mut out = profiles;
    for p in BENCH_PROFILES {
        if needed.contains(&p.name) && !out.iter().any(|o| o.name == p.name) {
            out.push(p);
        }
    }
    out
}

impl BenchProfile {
    pub fn params(&self) -> ProfileParams {
        ProfileParams { packets: self.packets, flows: self.flows, nodes: self.nodes, ..ProfileParams::default() }
    }

    /// Packet-pool size: the whole capture sits in mbufs (net_pcap infinite_rx) plus the
    /// working set (rings, bursts, caches), as 2^n − 1.
    pub fn mbufs(&self) -> u32 {
        let needed = self.packets as u64 + 16384;
        // 2^n − 1 is DPDK's most memory-efficient size; past 64 K, rounding up would double
        // a large pool for nothing.
        let size = if needed <= 1 << 16 { needed.next_power_of_two() - 1 } else { needed };
        size.min(u64::from(u32::MAX)) as u32
    }

    /// Bytes of the profile's session table (what cidlb allocates for it per worker).
    pub fn table_bytes(&self) -> usize {
        self.sessions_per_worker as usize * cidlb_dataplane::session::SessionTable::BYTES_PER_ENTRY
    }

    /// Memory the EAL needs for the pool, in MiB: ~4 KB per mbuf (2176 bytes of buffer, the
    /// mbuf header, mempool object header and padding) and slack for rings and the rest.
    pub fn memory_mb(&self) -> u64 {
        u64::from(self.mbufs()) * 4096 / (1 << 20) + 512
    }

    /// The bench config: one port (`net_pcap0`; the device arguments come on the command
    /// line), one worker on lcore 1, control on lcore 0, every neighbour static.
    pub fn config(&self) -> String {
        let mut c = String::new();
        let mac = |m: [u8; 6]| m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        let _ = writeln!(c, "# cidlb-perf bench profile `{}`: {}", self.name, self.about);
        let _ = writeln!(c, "# Generated by `cidlb-perf bench-config --profile {}`.\n", self.name);
        let _ = writeln!(c, "[eal]\n# Memory and the net_pcap device come on the command line.\nargs = [\"--no-pci\"]\n");
        let _ = writeln!(
            c,
            "[dataplane]\nworkers = [1]\ncontrol_core = 0\nburst = 32\nsession_timeout = {:?}\nsessions_per_worker = {}\nhash_key = \"000102030405060708090a0b0c0d0e0f\"\nmbufs = {}\nmbuf_cache = 256\n",
            self.session_timeout,
            self.sessions_per_worker,
            self.mbufs()
        );
        let _ = writeln!(c, "[control]\nmetrics = \"off\"\n");
        let _ = writeln!(
            c,
            "[[port]]\nname = \"net0\"\ndevice = \"net_pcap0\"\nmac = \"{}\"\nipv4 = \"192.0.2.1/24\"\nipv6 = \"2001:db8::1/64\"\ngateway4 = \"192.0.2.254\"\ngateway6 = \"2001:db8::fe\"\n",
            mac(BALANCER_MAC)
        );
        for ip in ["192.0.2.254", "2001:db8::fe"] {
            let _ = writeln!(c, "[[neighbor]]\nip = \"{ip}\"\nmac = \"{}\"", mac(GATEWAY_MAC));
        }
        for id in 1..=self.nodes {
            let _ = writeln!(c, "[[neighbor]]\nip = \"{}\"\nmac = \"{}\"", profiles::node4(id), mac(profiles::node_mac(id)));
        }
        for id in [0x21u8, 0x22] {
            let _ = writeln!(c, "[[neighbor]]\nip = \"2001:db8::{id:x}\"\nmac = \"{}\"", mac(profiles::node_mac(id)));
        }
        c.push('\n');
        for id in 1..=self.nodes {
            let _ = writeln!(c, "[[node]]\nid = {id}\naddress = \"{}\"", profiles::node4(id));
        }
        let _ = writeln!(c, "[[node]]\nid = 33\naddress = \"2001:db8::21\"\n[[node]]\nid = 34\naddress = \"2001:db8::22\"\n");
        let nodes: Vec<String> = (1..=self.nodes).map(|n| n.to_string()).collect();
        let nodes = nodes.join(", ");
        // NAT is the default: said for coaps (as ever), for the others only for IP-in-IP.
        let forward = if self.ipip { "forward = \"ipip\"\n" } else { "" };
        let coaps_forward = if self.ipip { forward } else { "forward = \"nat\"\n" };
        let _ = writeln!(
            c,
            "[[service]]\nname = \"coaps\"\nvip = \"192.0.2.10\"\nport = 5684\nprotocol = \"udp\"\nbalance = \"dtls-cid\"\ncid_length = 6\nnode_id_offset = 0\nnode_id_length = 1\nunknown_cid = \"drop\"\n{coaps_forward}nodes = [{nodes}]\n"
        );
        let _ = writeln!(c, "[[service]]\nname = \"coap\"\nvip = \"192.0.2.10\"\nport = 5683\nprotocol = \"udp\"\nbalance = \"five-tuple\"\n{forward}nodes = [{nodes}]\n");
        let _ = writeln!(c, "[[service]]\nname = \"web6\"\nvip = \"2001:db8::10\"\nport = 443\nprotocol = \"any\"\nbalance = \"flow-label\"\n{forward}nodes = [33, 34]");
        c
    }
}

/// Options of one `bench` invocation.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub profiles: Vec<&'static BenchProfile>,
    pub rounds: usize,
    pub seconds: f64,
    pub workdir: PathBuf,
    pub cidlb: PathBuf,
    pub testpmd: PathBuf,
    /// Also run testpmd `io` (the I/O floor).
    pub io_floor: bool,
    /// Force `--no-huge` even when hugepages would do.
    pub no_huge: bool,
}

/// One timed run.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    pub packets: u64,
    pub seconds: f64,
    /// Transmitted (cidlb: forwarded; testpmd: TX-packets).
    pub transmitted: u64,
    pub tsc_hz: u64,
    /// CPU time of the forwarding lcore's thread (`rte-worker-1`), from /proc: the share of
    /// the core it really got on a loaded machine.
    pub cpu_seconds: f64,
    /// cidlb only: the median and 99th percentile of its per-burst processing time (TSC
    /// cycles, from the worker's burst latency histogram in the stats JSON) and the mean
    /// packets of a measured burst; 0 when unknown (testpmd, older results).
    #[serde(default)]
    pub burst_p50_cycles: f64,
    #[serde(default)]
    pub burst_p99_cycles: f64,
    #[serde(default)]
    pub packets_per_burst: f64,
}

impl Sample {
    /// Packets per CPU-second of the forwarding thread, in millions.
    pub fn mpps_cpu(&self) -> f64 {
        if self.cpu_seconds > 0.0 {
            self.packets as f64 / self.cpu_seconds / 1e6
        } else {
            0.0
        }
    }
    /// TSC Hz × CPU time of the forwarding thread / packets: what a packet costs when the
    /// thread runs, robust to the time it was preempted.
    pub fn cycles_per_packet_cpu(&self, tsc_hz: u64) -> f64 {
        if self.packets > 0 {
            tsc_hz as f64 * self.cpu_seconds / self.packets as f64
        } else {
            0.0
        }
    }
    pub fn mpps(&self) -> f64 {
        if self.seconds > 0.0 {
            self.packets as f64 / self.seconds / 1e6
        } else {
            0.0
        }
    }
    pub fn cycles_per_packet(&self) -> f64 {
        if self.packets > 0 {
            self.tsc_hz as f64 * self.seconds / self.packets as f64
        } else {
            0.0
        }
    }
    /// The per-burst cost's p50 and p99 per packet of a burst, when the run reported them.
    pub fn burst_cycles_per_packet(&self) -> Option<(f64, f64)> {
        (self.packets_per_burst > 0.0 && self.burst_p50_cycles > 0.0)
            .then(|| (self.burst_p50_cycles / self.packets_per_burst, self.burst_p99_cycles / self.packets_per_burst))
    }
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ProfileResult {
    pub name: String,
    pub memory: String,
    pub cidlb: Vec<Sample>,
    pub testpmd_5tswap: Vec<Sample>,
    pub testpmd_io: Vec<Sample>,
    /// cidlb / 5tswap per round.
    pub ratios: Vec<f64>,
    /// cidlb / 5tswap per round, in packets per CPU-second of the forwarding thread.
    pub cpu_ratios: Vec<f64>,
    /// cidlb's drops by reason in the last round (non-zero only).
    pub drops: Vec<(String, u64)>,
    /// Sessions cidlb evicted (table full) and expired (idle) in the last round.
    #[serde(default)]
    pub sessions_evicted: u64,
    #[serde(default)]
    pub sessions_expired: u64,
    pub error: Option<String>,
    pub skipped: Option<String>,
    /// Set when the row comes from an earlier run (`--merge`): that run's load average.
    #[serde(default)]
    pub earlier_run: Option<String>,
    /// Load average when this profile finished.
    #[serde(default)]
    pub load: String,
    /// For a `VsProfile` target (`session-1m`): this machine's memory at the size of the
    /// profile's session table, measured before the rounds (see [`crate::memory`]).
    #[serde(default)]
    pub memory_probe: Option<MemoryProbe>,
}

/// `fresh` results replace those of `earlier` with the same name; the rest of `earlier` is
/// kept (marked as from an earlier run), in table order.
pub fn merge(earlier: Vec<ProfileResult>, fresh: Vec<ProfileResult>) -> Vec<ProfileResult> {
    let mut all: Vec<ProfileResult> = earlier
        .into_iter()
        .filter(|e| !fresh.iter().any(|f| f.name == e.name))
        .map(|mut e| {
            if e.earlier_run.is_none() {
                e.earlier_run = Some(e.load.clone());
            }
            e
        })
        .collect();
    all.extend(fresh);
    all.sort_by_key(|r| BENCH_PROFILES.iter().position(|p| p.name == r.name).unwrap_or(usize::MAX));
    all
}

pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 })
}

impl ProfileResult {
    pub fn cidlb_mpps(&self) -> Option<f64> {
        median(&mut self.cidlb.iter().map(Sample::mpps).collect::<Vec<_>>())
    }
    pub fn tswap_mpps(&self) -> Option<f64> {
        median(&mut self.testpmd_5tswap.iter().map(Sample::mpps).collect::<Vec<_>>())
    }
    pub fn io_mpps(&self) -> Option<f64> {
        median(&mut self.testpmd_io.iter().map(Sample::mpps).collect::<Vec<_>>())
    }
    pub fn ratio(&self) -> Option<f64> {
        median(&mut self.ratios.clone())
    }
    pub fn cycles(&self) -> Option<f64> {
        median(&mut self.cidlb.iter().map(Sample::cycles_per_packet).collect::<Vec<_>>())
    }
    pub fn cpu_ratio(&self) -> Option<f64> {
        median(&mut self.cpu_ratios.clone())
    }
    fn tsc_hz(&self) -> u64 {
        self.cidlb.iter().map(|s| s.tsc_hz).find(|h| *h > 0).unwrap_or(0)
    }
    /// Medians over the rounds of the per-burst cost's p50 and p99, per packet.
    pub fn burst_cycles(&self) -> Option<(f64, f64)> {
        let per_packet: Vec<(f64, f64)> = self.cidlb.iter().filter_map(Sample::burst_cycles_per_packet).collect();
        Some((median(&mut per_packet.iter().map(|p| p.0).collect::<Vec<_>>())?, median(&mut per_packet.iter().map(|p| p.1).collect::<Vec<_>>())?))
    }
    pub fn cycles_cpu(&self) -> Option<f64> {
        let hz = self.tsc_hz();
        median(&mut self.cidlb.iter().filter(|s| s.cpu_seconds > 0.0).map(|s| s.cycles_per_packet_cpu(hz)).collect::<Vec<_>>())
    }
    pub fn tswap_cycles_cpu(&self) -> Option<f64> {
        let hz = self.tsc_hz();
        median(&mut self.testpmd_5tswap.iter().filter(|s| s.cpu_seconds > 0.0).map(|s| s.cycles_per_packet_cpu(hz)).collect::<Vec<_>>())
    }
    pub fn forwarded_fraction(&self) -> Option<f64> {
        let s = self.cidlb.last()?;
        (s.packets > 0).then(|| s.transmitted as f64 / s.packets as f64)
    }
}

/// Free 2 MiB hugepages on a mounted hugetlbfs, in MiB.
fn free_hugepage_mb() -> u64 {
    let mounted = std::fs::read_to_string("/proc/mounts").map(|m| m.lines().any(|l| l.contains(" hugetlbfs "))).unwrap_or(false);
    if !mounted {
        return 0;
    }
    std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 2
}

/// EAL memory arguments for a profile: `--in-memory` when the free hugepages hold the pool
/// with room to spare, else `--no-huge -m`. Each process gets its own file prefix.
fn memory_args(profile: &BenchProfile, prefix: &str, force_no_huge: bool) -> (Vec<String>, String) {
    let need = profile.memory_mb();
    let mut args = if !force_no_huge && free_hugepage_mb() >= need + 256 {
        vec!["--in-memory".to_string()]
    } else {
        vec!["--no-huge".to_string(), "-m".to_string(), need.to_string(), "--no-shconf".to_string()]
    };
    let what = if args[0] == "--in-memory" { "hugepages".to_string() } else { format!("--no-huge -m {need}") };
    args.push(format!("--file-prefix={}", file_prefix(prefix)));
    args.push("--log-level=notice".to_string());
    (args, what)
}

fn file_prefix(tag: &str) -> String {
    format!("cidlb-bench-{tag}-{}", std::process::id())
}

/// DPDK leaves a runtime directory (telemetry socket) per file prefix, even in-memory.
fn remove_runtime_dir(tag: &str) {
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", file_prefix(tag)));
}

fn vdev(capture: &Path) -> String {
    format!("--vdev=net_pcap0,rx_pcap={},infinite_rx=1", capture.display())
}

/// CPU time of one thread of a child, by name (DPDK names its lcore threads `rte-worker-N`),
/// sampled while the child lives: the largest value seen. In nanoseconds from
/// `/proc/PID/task/TID/schedstat` where the kernel has it, else in clock ticks (10 ms) from
/// `stat`.
pub struct ThreadCpu {
    pid: u32,
    name: &'static str,
    tid: Option<String>,
    ticks: u64,
    nanos: u64,
}

/// The CPU time a thread has run, in ns (the first field of its `schedstat`).
pub fn schedstat_ns(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
}

impl ThreadCpu {
    pub fn new(pid: u32, name: &'static str) -> Self {
        ThreadCpu { pid, name, tid: None, ticks: 0, nanos: 0 }
    }
    pub fn sample(&mut self) {
        if self.tid.is_none() {
            let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else { return };
            for task in tasks.flatten() {
                let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if comm.trim() == self.name {
                    self.tid = Some(task.file_name().to_string_lossy().into_owned());
                }
            }
        }
        let Some(tid) = &self.tid else { return };
        if let Some(nanos) = schedstat_ns(&format!("/proc/{}/task/{tid}/schedstat", self.pid)) {
            self.nanos = self.nanos.max(nanos);
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/task/{tid}/stat", self.pid)) else { return };
        // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { return };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) + fields.get(12).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0);
        self.ticks = self.ticks.max(ticks);
    }
    pub fn seconds(&self) -> f64 {
        if self.nanos > 0 {
            self.nanos as f64 / 1e9
        } else {
            self.ticks as f64 / clock_ticks_per_second() as f64
        }
    }
}

fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf").arg("CLK_TCK").output().ok().and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(100)
    })
}

/// Wait for `child` at most `timeout`; past it kill it (SIGKILL to its pid) and fail.
fn wait_bounded(child: &mut Child, timeout: Duration, what: &str) -> anyhow::Result<std::process::ExitStatus> {
    wait_sampling(child, timeout, what, None)
}

fn wait_sampling(child: &mut Child, timeout: Duration, what: &str, mut cpu: Option<&mut ThreadCpu>) -> anyhow::Result<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(cpu) = cpu.as_deref_mut() {
            cpu.sample();
        }
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} (pid {}) did not finish within {timeout:?}; killed", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// What one `cidlb run` reported besides its [`Sample`].
#[derive(Clone, Debug, Default)]
pub struct CidlbReport {
    /// Drops by reason (non-zero only).
    pub drops: Vec<(String, u64)>,
    pub sessions_evicted: u64,
    pub sessions_expired: u64,
}

/// `cidlb run` on the capture for `seconds`; packets and duration from its stats JSON.
pub fn run_cidlb(options: &BenchOptions, profile: &BenchProfile, capture: &Path, config: &Path, tag: &str) -> anyhow::Result<(Sample, CidlbReport)> {
    let dir = &options.workdir;
    let stats = dir.join(format!("{tag}.stats.json"));
    let _ = std::fs::remove_file(&stats);
    let (memory, _) = memory_args(profile, tag, options.no_huge);
    let stdout = dir.join(format!("{tag}.stdout"));
    let stderr = dir.join(format!("{tag}.stderr"));
    let mut child = Command::new(&options.cidlb)
        .arg("run")
        .arg("--config")
        .arg(config)
        .arg("--duration")
        .arg(options.seconds.to_string())
        .arg("--stats-json")
        .arg(&stats)
        .arg("--")
        .args(&memory)
        .arg(vdev(capture))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout)?)
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()
        .with_context(|| format!("starting {}", options.cidlb.display()))?;
    let mut cpu = ThreadCpu::new(child.id(), "rte-worker-1");
    let status = wait_sampling(&mut child, Duration::from_secs_f64(options.seconds + 120.0), "cidlb", Some(&mut cpu));
    remove_runtime_dir(tag);
    let status = status?;
    if !status.success() {
        bail!("cidlb exited with {status}:\n{}", tail(&stderr, 15));
    }
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&stats).context("reading cidlb's stats JSON")?)?;
    let packets = json["totals"]["rx_packets"].as_u64().ok_or_else(|| anyhow!("no totals.rx_packets in {}", stats.display()))?;
    let transmitted = json["totals"]["tx_packets"].as_u64().unwrap_or(0);
    let seconds = json["duration_seconds"].as_f64().ok_or_else(|| anyhow!("no duration_seconds"))?;
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    let tsc_hz = log
        .split("tsc_hz=")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let drops = json["drops"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k.clone(), n))).collect())
        .unwrap_or_default();
    let report = CidlbReport {
        drops,
        sessions_evicted: json["totals"]["sessions_evicted"].as_u64().unwrap_or(0),
        sessions_expired: json["totals"]["sessions_expired"].as_u64().unwrap_or(0),
    };
    // The one worker's burst latency histogram (bursts that held packets).
    let burst = &json["workers"][0]["burst_cycles"];
    let bursts = burst["count"].as_u64().unwrap_or(0);
    let sample = Sample {
        packets,
        seconds,
        transmitted,
        tsc_hz,
        cpu_seconds: cpu.seconds(),
        burst_p50_cycles: burst["p50"].as_f64().unwrap_or(0.0),
        burst_p99_cycles: burst["p99"].as_f64().unwrap_or(0.0),
        packets_per_burst: if bursts > 0 { packets as f64 / bursts as f64 } else { 0.0 },
    };
    Ok((sample, report))
}

/// `dpdk-testpmd --forward-mode=<mode>` driven through its prompt: start, wait, stop, quit;
/// packets from the accumulated forward statistics, time from start to stop.
pub fn run_testpmd(options: &BenchOptions, profile: &BenchProfile, capture: &Path, mode: &str, tag: &str) -> anyhow::Result<Sample> {
    let dir = &options.workdir;
    let (memory, _) = memory_args(profile, tag, options.no_huge);
    let stdout = dir.join(format!("{tag}.stdout"));
    let stderr = dir.join(format!("{tag}.stderr"));
    let mbufs = profile.mbufs();
    let mut child = Command::new(&options.testpmd)
        .args(["-l", "0,1", "--main-lcore", "0", "--no-pci"])
        .args(&memory)
        .arg(vdev(capture))
        .arg("--")
        .arg("-i")
        .arg(format!("--forward-mode={mode}"))
        .args(["--nb-cores=1", "--rxq=1", "--txq=1", "--burst=32", "--rxd=1024", "--txd=1024", "--mbcache=256"])
        .arg(format!("--total-num-mbufs={mbufs}"))
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&stdout)?)
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()
        .with_context(|| format!("starting {}", options.testpmd.display()))?;
    let result = drive_testpmd(&mut child, &stdout, options.seconds);
    // Whatever happened, the child ends here: it quit, or it is killed by its pid.
    drop(child.stdin.take());
    let status = wait_bounded(&mut child, Duration::from_secs(60), "dpdk-testpmd");
    remove_runtime_dir(tag);
    let sample = result.with_context(|| format!("dpdk-testpmd {mode}:\n{}\n{}", tail(&stdout, 10), tail(&stderr, 10)))?;
    status?;
    Ok(sample)
}

fn drive_testpmd(child: &mut Child, stdout: &Path, seconds: f64) -> anyhow::Result<Sample> {
    // The prompt appears once the ports are up (the capture is loaded then).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if std::fs::read_to_string(stdout).unwrap_or_default().contains("testpmd>") {
            break;
        }
        if let Some(status) = child.try_wait()? {
            bail!("exited before its prompt ({status})");
        }
        if Instant::now() >= deadline {
            bail!("no prompt within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id();
    let stdin = child.stdin.as_mut().ok_or_else(|| anyhow!("no stdin"))?;
    stdin.write_all(b"start\n")?;
    stdin.flush()?;
    let started = Instant::now();
    let mut cpu = ThreadCpu::new(pid, "rte-worker-1");
    while started.elapsed().as_secs_f64() < seconds {
        cpu.sample();
        std::thread::sleep(Duration::from_secs_f64((seconds - started.elapsed().as_secs_f64()).clamp(0.0, 0.05)));
    }
    // testpmd's statistics go through stdio, fully buffered into a file: they appear when it
    // exits, so `quit` follows `stop` at once.
    stdin.write_all(b"stop\n")?;
    stdin.flush()?;
    let elapsed = started.elapsed().as_secs_f64();
    // The forwarding thread stops within a moment of `stop`; its CPU time stays.
    std::thread::sleep(Duration::from_millis(200));
    cpu.sample();
    stdin.write_all(b"quit\n")?;
    stdin.flush()?;
    wait_bounded(child, Duration::from_secs(60), "dpdk-testpmd")?;
    let text = std::fs::read_to_string(stdout).unwrap_or_default();
    if !text.contains("Accumulated forward statistics") {
        bail!("no forward statistics in its output");
    }
    let block = text.rsplit("Accumulated forward statistics").next().unwrap_or_default();
    let field = |name: &str| -> anyhow::Result<u64> {
        block
            .split(name)
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow!("no {name} in testpmd's statistics"))
    };
    Ok(Sample { packets: field("RX-packets:")?, transmitted: field("TX-packets:")?, seconds: elapsed, tsc_hz: 0, cpu_seconds: cpu.seconds(), ..Default::default() })
}

/// Run every profile of `options`, printing progress to stderr. Rounds go over the profiles
/// in turn (round 1 of every profile, then round 2, ...), so that machine noise hits the
/// profiles alike too, and the same round of profiles that are compared with each other
/// (`CidUnderFlood`) is measured close together. A profile that fails is not run again.
pub fn run(options: &BenchOptions) -> anyhow::Result<Vec<ProfileResult>> {
    std::fs::create_dir_all(&options.workdir)?;
    let mut results = Vec::new();
    let mut inputs = Vec::new();
    for profile in &options.profiles {
        let mut result = ProfileResult { name: profile.name.to_string(), ..Default::default() };
        let mut input = None;
        if !profile.implemented {
            result.skipped = Some("not implemented yet".into());
        } else {
            result.memory = memory_args(profile, "probe", options.no_huge).1;
            if let Target::VsProfile(..) = profile.target {
                eprintln!("bench {}: this machine's memory at the size of its session table", profile.name);
                match crate::memory::probe_on_core(WORKER_CORE, profile.table_bytes(), MEMORY_PROBE_READS) {
                    Ok(probe) => result.memory_probe = Some(probe),
                    Err(why) => eprintln!("bench {}: no memory note: {why}", profile.name),
                }
            }
            match prepare(options, profile) {
                Ok(files) => input = Some(files),
                Err(e) => fail(&mut result, &e),
            }
        }
        results.push(result);
        inputs.push(input);
    }
    for round in 0..options.rounds {
        for ((profile, result), input) in options.profiles.iter().zip(&mut results).zip(&inputs) {
            let Some((capture, config)) = input else { continue };
            if result.error.is_some() {
                continue;
            }
            if let Err(e) = run_round(options, profile, capture, config, round, result) {
                fail(result, &e);
            }
            result.load = load_average();
        }
    }
    Ok(results)
}

fn fail(result: &mut ProfileResult, e: &anyhow::Error) {
    eprintln!("bench {}: {e:#}", result.name);
    result.error = Some(e.root_cause().to_string().lines().next().unwrap_or_default().to_string());
}

/// The profile's capture (generated unless present) and config, in the work directory.
fn prepare(options: &BenchOptions, profile: &BenchProfile) -> anyhow::Result<(PathBuf, PathBuf)> {
    let capture = options.workdir.join(format!("{}.pcap", profile.name));
    if !capture.exists() {
        let packets = profiles::generate(profile.generator, &profile.params()).map_err(|e| anyhow!(e))?;
        cidlb_dataplane::io::pcap::write_pcap(&capture, &packets).map_err(|e| anyhow!("{e}"))?;
    }
    let config = options.workdir.join(format!("{}.toml", profile.name));
    std::fs::write(&config, profile.config())?;
    Ok((capture, config))
}

fn run_round(options: &BenchOptions, profile: &BenchProfile, capture: &Path, config: &Path, round: usize, result: &mut ProfileResult) -> anyhow::Result<()> {
    let tag = |what: &str| format!("{}-{what}-r{round}", profile.name);
    eprintln!("bench {} round {}/{}: cidlb", profile.name, round + 1, options.rounds);
    let (cidlb, report) = run_cidlb(options, profile, capture, config, &tag("cidlb"))?;
    eprintln!("  cidlb {:.2} Mpps; testpmd 5tswap", cidlb.mpps());
    let tswap = run_testpmd(options, profile, capture, "5tswap", &tag("5tswap"))?;
    eprintln!("  5tswap {:.2} Mpps", tswap.mpps());
    if options.io_floor {
        let io = run_testpmd(options, profile, capture, "io", &tag("io"))?;
        eprintln!("  io {:.2} Mpps", io.mpps());
        result.testpmd_io.push(io);
    }
    if tswap.mpps() > 0.0 {
        result.ratios.push(cidlb.mpps() / tswap.mpps());
    }
    if tswap.mpps_cpu() > 0.0 && cidlb.mpps_cpu() > 0.0 {
        result.cpu_ratios.push(cidlb.mpps_cpu() / tswap.mpps_cpu());
    }
    result.cidlb.push(cidlb);
    result.testpmd_5tswap.push(tswap);
    result.drops = report.drops;
    result.sessions_evicted = report.sessions_evicted;
    result.sessions_expired = report.sessions_expired;
    Ok(())
}

/// Whether a result meets its target (None: no target or no numbers).
pub fn target_met(result: &ProfileResult, all: &[ProfileResult]) -> Option<bool> {
    let profile = find(&result.name)?;
    match profile.target {
        Target::VsTestpmd(t) => Some(result.ratio()? >= t),
        // Strict: cidlb's own Mpps against its Mpps on the other profile (the normalised
        // ratio-of-ratios is shown beside it, not used).
        Target::VsProfile(other, t) => Some(vs_profile(result, all, other)? >= t),
        Target::CidUnderFlood { min, .. } => {
            // Without evictions the table was not churning: nothing was measured.
            if result.sessions_evicted == 0 {
                return None;
            }
            Some(cid_under_flood(result, all)? >= min)
        }
        Target::None => None,
    }
}

/// A `VsProfile` figure: cidlb's Mpps on `result` against its Mpps on `other`, the median of
/// the per-round ratios when both rows come from the same run (the two profiles run next to
/// each other in every round, so a slow phase of the machine hits both, as with the ratios to
/// 5tswap), else the ratio of the two medians.
pub fn vs_profile(result: &ProfileResult, all: &[ProfileResult], other: &str) -> Option<f64> {
    let base = all.iter().find(|r| r.name == other)?;
    if base.earlier_run == result.earlier_run {
        let mut rounds: Vec<f64> =
            result.cidlb.iter().zip(&base.cidlb).filter(|(_, b)| b.mpps() > 0.0).map(|(r, b)| r.mpps() / b.mpps()).collect();
        if let Some(figure) = median(&mut rounds) {
            return Some(figure);
        }
    }
    Some(result.cidlb_mpps()? / base.cidlb_mpps()?)
}

/// What a `VsTestpmd` target leaves cidlb, in CPU-time cycles a packet above the I/O floor
/// (testpmd `io`, which only receives and transmits, on the same capture, core and device),
/// each a median over the rounds (the three programs of a round paired by index).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WorkBudget {
    /// 5tswap's cost / target − io's cost: what everything cidlb does above receiving and
    /// transmitting may take for the target to hold.
    pub budget: f64,
    /// cidlb's cost − io's cost: what it took.
    pub cidlb: f64,
    /// 5tswap's cost − io's cost: testpmd's own work of swapping the fields.
    pub tswap: f64,
}

/// The [`WorkBudget`] of a row. None without a `VsTestpmd` target, without the io floor
/// (`--no-io`) or without CPU times.
pub fn work_budget(result: &ProfileResult) -> Option<WorkBudget> {
    let Target::VsTestpmd(target) = find(&result.name)?.target else { return None };
    let hz = result.tsc_hz();
    let cpu = |s: &Sample| (s.cpu_seconds > 0.0 && s.packets > 0).then(|| s.cycles_per_packet_cpu(hz));
    let rounds: Vec<[f64; 3]> = result
        .cidlb
        .iter()
        .zip(&result.testpmd_5tswap)
        .zip(&result.testpmd_io)
        .filter_map(|((c, t), io)| {
            let (c, t, io) = (cpu(c)?, cpu(t)?, cpu(io)?);
            Some([t / target - io, c - io, t - io])
        })
        .collect();
    let column = |i: usize| median(&mut rounds.iter().map(|r| r[i]).collect::<Vec<_>>());
    Some(WorkBudget { budget: column(0)?, cidlb: column(1)?, tswap: column(2)? })
}

/// The note under the table that turns each missed `VsTestpmd` target into cycles: the
/// budget the target leaves cidlb above the I/O floor, against what cidlb's work took and
/// what 5tswap's own took.
fn work_budget_note(results: &[ProfileResult]) -> Option<String> {
    let rows: Vec<String> = results
        .iter()
        .filter(|r| r.error.is_none() && r.skipped.is_none() && target_met(r, results) == Some(false))
        .filter_map(|r| {
            let w = work_budget(r)?;
            let Target::VsTestpmd(target) = find(&r.name)?.target else { return None };
            let budget = if w.budget > 0.0 { format!("{:.0}", w.budget) } else { format!("none (5tswap's cost / {target} is below io's)") };
            Some(format!("`{}` (≥ {target}): budget {budget}, cidlb {:.0}, 5tswap {:.0}", r.name, w.cidlb, w.tswap))
        })
        .collect();
    (!rows.is_empty()).then(|| {
        format!(
            "What a missed target leaves cidlb, in cycles a packet of CPU time above the I/O floor (medians over the rounds): the target allows cidlb 5tswap's cost / target; testpmd `io`, which only receives and transmits, spends part of that on the same capture, core and device; the rest is the budget for everything cidlb does above receiving and transmitting (parse, check, classify, look up, rewrite with checksums, count). Budget; what cidlb's work took (its cost − io's); what 5tswap's own work took (swapping MACs, addresses and ports, no checksum): {}",
            rows.join("; ")
        )
    })
}

/// The cost of a CID packet under the flood, from the cost per packet of the mix (CID share
/// `cid_share`) and of the flood alone: (c_mix − (1 − cid_share) × c_flood) / cid_share.
pub fn cid_cost_under_flood(c_mix: f64, c_flood_only: f64, cid_share: f64) -> f64 {
    (c_mix - (1.0 - cid_share) * c_flood_only) / cid_share
}

/// A program's cost per packet in CPU time (seconds of the forwarding thread per packet).
fn cpu_cost(sample: &Sample) -> Option<f64> {
    (sample.cpu_seconds > 0.0 && sample.packets > 0).then(|| sample.cpu_seconds / sample.packets as f64)
}

/// Per round, for a `CidUnderFlood` profile: (c(base), c_CID under flood) in CPU seconds per
/// packet, from the runs of the same round (the three are paired by round index; a profile
/// that failed stops, so its samples are rounds 0..n). None when the target is another kind,
/// a companion is missing or the rows come from different runs (`--merge`).
pub fn cid_under_flood_rounds(result: &ProfileResult, all: &[ProfileResult]) -> Option<Vec<(f64, f64)>> {
    flood_rounds(result, all, |r| &r.cidlb)
}

/// [`cid_under_flood_rounds`] over testpmd 5tswap's runs of the same rounds: a control. 5tswap
/// keeps no table, so whatever the derivation finds for it is what the captures and the I/O
/// (net_pcap's copy into a fresh mbuf, the transmit) make of the mix, not a flood's effect.
pub fn testpmd_under_flood_rounds(result: &ProfileResult, all: &[ProfileResult]) -> Option<Vec<(f64, f64)>> {
    flood_rounds(result, all, |r| &r.testpmd_5tswap)
}

/// The flood derivation over one program's samples (`samples` picks them from a row).
fn flood_rounds(result: &ProfileResult, all: &[ProfileResult], samples: fn(&ProfileResult) -> &Vec<Sample>) -> Option<Vec<(f64, f64)>> {
    let Target::CidUnderFlood { base, flood_only, cid_share, .. } = find(&result.name)?.target else { return None };
    let base = all.iter().find(|r| r.name == base)?;
    let flood_only = all.iter().find(|r| r.name == flood_only)?;
    if base.earlier_run != result.earlier_run || flood_only.earlier_run != result.earlier_run {
        return None;
    }
    let rounds: Vec<(f64, f64)> = samples(base)
        .iter()
        .zip(samples(result))
        .zip(samples(flood_only))
        .filter_map(|((b, m), f)| Some((cpu_cost(b)?, cid_cost_under_flood(cpu_cost(m)?, cpu_cost(f)?, cid_share))))
        .filter(|(_, under)| *under > 0.0)
        .collect();
    (!rounds.is_empty()).then_some(rounds)
}

/// The `CidUnderFlood` figure: the median over the rounds of c(base) / c_CID under flood
/// (CID throughput under flood as a fraction of without).
pub fn cid_under_flood(result: &ProfileResult, all: &[ProfileResult]) -> Option<f64> {
    median(&mut cid_under_flood_rounds(result, all)?.iter().map(|(base, under)| base / under).collect::<Vec<_>>())
}

pub fn target_text(profile: &BenchProfile) -> String {
    match profile.target {
        Target::VsTestpmd(t) => format!("≥ {t} × 5tswap ({})", profile.target_name),
        Target::VsProfile(other, t) => format!("cidlb Mpps ≥ {t} × {other}'s ({})", profile.target_name),
        Target::CidUnderFlood { base, min, .. } => format!("CID throughput under flood ≥ {min} × without ({base}) ({})", profile.target_name),
        Target::None => match BENCH_PROFILES.iter().find(|p| p.target.inputs().contains(&profile.name)) {
            Some(user) => format!("— (input of {}'s)", user.name),
            None => "—".into(),
        },
    }
}

/// The Markdown table (and notes) of a bench run.
pub fn render_table(results: &[ProfileResult], options: &BenchOptions, load: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| profile | cidlb Mpps | testpmd 5tswap Mpps | testpmd io Mpps | ratio | cycles/packet | ratio (CPU time) | cycles/packet (CPU time) cidlb / 5tswap | cidlb cycles/packet per burst p50 / p99 | target | met? |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    let f = |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "—".into());
    for r in results {
        let Some(profile) = find(&r.name) else { continue };
        if let Some(why) = &r.skipped {
            let _ = writeln!(out, "| `{}` | — | — | — | — | — | — | — | — | {why} | — |", r.name);
            continue;
        }
        if let Some(e) = &r.error {
            let _ = writeln!(out, "| `{}` | failed | — | — | — | — | — | — | — | {} | no: {} |", r.name, target_text(profile), e.replace('|', "/"));
            continue;
        }
        let met = match target_met(r, results) {
            Some(true) => "yes".to_string(),
            Some(false) => "**no**".to_string(),
            None => "—".to_string(),
        };
        let ratio = match profile.target {
            Target::VsProfile(other, _) => {
                let base = results.iter().find(|o| o.name == other);
                match (r.ratio(), base.and_then(ProfileResult::ratio), vs_profile(r, results, other)) {
                    (Some(a), Some(b), Some(mpps)) => format!("{a:.2}; cidlb Mpps {mpps:.3} of {other}'s (as ratios to 5tswap: {:.2})", a / b),
                    _ => f(r.ratio(), 2),
                }
            }
            Target::CidUnderFlood { .. } => match cid_under_flood(r, results) {
                Some(under) => format!("{}; CID under flood {under:.3} of without (derived, see below)", f(r.ratio(), 2)),
                None => format!("{}; CID under flood: — (see below)", f(r.ratio(), 2)),
            },
            _ => f(r.ratio(), 2),
        };
        let burst = r.burst_cycles();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {ratio} | {} | {} | {} / {} | {} / {} | {} | {met} |",
            r.name,
            f(r.cidlb_mpps(), 2),
            f(r.tswap_mpps(), 2),
            f(r.io_mpps(), 2),
            f(r.cycles(), 0),
            f(r.cpu_ratio(), 2),
            f(r.cycles_cpu(), 0),
            f(r.tswap_cycles_cpu(), 0),
            f(burst.map(|b| b.0), 0),
            f(burst.map(|b| b.1), 0),
            target_text(profile)
        );
    }
    out.push('\n');
    let tsc = results.iter().flat_map(|r| r.cidlb.iter()).map(|s| s.tsc_hz).find(|h| *h > 0).unwrap_or(0);
    let _ = writeln!(
        out,
        "{} rounds × {} s per program and profile, medians. Mpps = packets received / forwarding time (cidlb: `--stats-json` totals.rx_packets / duration_seconds; testpmd: accumulated RX-packets / time from `start` to `stop`). ratio = median of per-round cidlb / 5tswap (the target and met? use it). cycles/packet = TSC Hz ({:.2} GHz) × duration / packets of the one busy-polling worker (wall clock: includes time the worker was preempted). The CPU-time columns use the forwarding thread's own CPU time (`/proc/PID/task/TID/schedstat`, else `stat`, of `rte-worker-1`) instead of the wall clock, which removes the preemption of a shared machine. Per burst: the median and 99th percentile of cidlb's per-burst processing time (the worker's HDR burst latency histogram in its stats JSON: TSC cycles from before the receive to after the transmit, buckets 3.1 % wide) divided by the mean packets of a burst; a burst during which the worker was preempted lands in the tail, so p50 is the cost of a packet with the core to itself and p99 shows the machine's interruptions. Load average at the end: {load}. Machine: {}.",
        options.rounds,
        options.seconds,
        tsc as f64 / 1e9,
        machine()
    );
    let mut notes = Vec::new();
    for r in results {
        if let Some(fraction) = r.forwarded_fraction() {
            if fraction < 0.99 {
                let drops: Vec<String> = r.drops.iter().map(|(k, v)| format!("{k} {v}")).collect();
                notes.push(format!("`{}`: cidlb forwarded {:.1}% (drops: {})", r.name, fraction * 100.0, drops.join(", ")));
            }
        }
        if let Some(note) = cid_under_flood_note(r, results) {
            notes.push(note);
        }
        if let Some(note) = memory_note(r, results) {
            notes.push(note);
        }
        if r.memory.starts_with("--no-huge") {
            notes.push(format!("`{}`: both programs ran with `{}` (not enough free hugepages for the capture's pool)", r.name, r.memory));
        }
    }
    notes.extend(work_budget_note(results));
    // Rows merged from earlier runs (`--merge`): one note per earlier run.
    let mut earlier: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in results {
        if let Some(load) = &r.earlier_run {
            match earlier.iter_mut().find(|(l, _)| *l == load.as_str()) {
                Some((_, names)) => names.push(&r.name),
                None => earlier.push((load, vec![&r.name])),
            }
        }
    }
    for (load, names) in earlier {
        let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        notes.push(format!("{} come from an earlier run of the same cidlb binary (load average at its end: {load}); the other rows were re-run and merged with `--merge`", names.join(", ")));
    }
    for n in notes {
        let _ = writeln!(out, "\n- {n}");
    }
    out
}

/// How a `CidUnderFlood` row's figure was computed, with its inputs.
fn cid_under_flood_note(r: &ProfileResult, all: &[ProfileResult]) -> Option<String> {
    let profile = find(&r.name)?;
    let Target::CidUnderFlood { base, flood_only, cid_share, .. } = profile.target else { return None };
    let flood_share = 1.0 - cid_share;
    let mut note = format!(
        "`{}`: CID under flood = median over the rounds of c(`{base}`) / c_CID, c_CID = (c(`{}`) − {flood_share} × c(`{flood_only}`)) / {cid_share}: the cost of a CID packet while the flood churns the session table, against its cost without the flood (c = cidlb's cycles per packet in CPU time; the three profiles run in turn within each round, and each round's three runs give one value)",
        r.name, r.name
    );
    match cid_under_flood_rounds(r, all) {
        Some(rounds) => {
            let hz = r.tsc_hz() as f64;
            let per_round = |rounds: &[(f64, f64)]| {
                rounds.iter().map(|(b, u)| format!("{:.3} ({:.0} / {:.0} cycles)", b / u, b * hz, u * hz)).collect::<Vec<_>>().join(", ")
            };
            let _ = write!(note, "; per round: {}", per_round(&rounds));
            if let Some(control) = testpmd_under_flood_rounds(r, all) {
                let mut figures: Vec<f64> = control.iter().map(|(b, u)| b / u).collect();
                let _ = write!(
                    note,
                    ". The same derivation on testpmd 5tswap, which keeps no table (a control: what the captures and the I/O alone make of the mix): {:.3} (per round: {})",
                    median(&mut figures).unwrap_or(f64::NAN),
                    per_round(&control)
                );
            }
        }
        None => {
            let _ = write!(note, "; not computed: needs `{base}`, `{}` and `{flood_only}` measured in the same run", r.name);
        }
    }
    let evictions = |name: &str| all.iter().find(|o| o.name == name).map(|o| format!("{} evicted, {} expired", o.sessions_evicted, o.sessions_expired)).unwrap_or_else(|| "not run".into());
    let _ = write!(
        note,
        ". Session table of {} entries, timeout {}; last round: `{}` {}, `{flood_only}` {}{}",
        profile.sessions_per_worker,
        profile.session_timeout,
        r.name,
        evictions(&r.name),
        evictions(flood_only),
        if r.sessions_evicted == 0 { " (no eviction: the flood did not churn the table, so no figure is claimed)" } else { "" }
    );
    Some(note)
}

/// What a `VsProfile` row's table costs in this machine's memory, against the cycles the
/// profile costs more than its base and the cycles its target allows (None without a probe or
/// without both rows' CPU times).
pub fn memory_note(r: &ProfileResult, all: &[ProfileResult]) -> Option<String> {
    let probe = r.memory_probe?;
    let profile = find(&r.name)?;
    let Target::VsProfile(other, target) = profile.target else { return None };
    let base = all.iter().find(|o| o.name == other)?;
    let (cost, base_cost) = (r.cycles_cpu()?, base.cycles_cpu()?);
    let cycles = |ns: f64| ns * r.tsc_hz() as f64 / 1e9;
    let allowed = base_cost / target - base_cost;
    let floor = cycles(probe.lookup_ns);
    if floor <= 0.0 || !floor.is_finite() {
        return None;
    }
    let mib = |bytes: usize| bytes as f64 / f64::from(1 << 20);
    Some(format!(
        "`{}`: its session table ({} entries, {:.0} MiB) in this machine's memory (`cidlb-perf memory`, run on the worker's core before the rounds; huge pages asked for {:.0} MiB of it): a read that waits for the one before it takes {:.0} ns ({:.0} cycles); independent reads, as a burst's prefetches issue them, take {:.1} ns ({:.0} cycles) a line and {:.1} ns ({:.0} cycles) for the two lines of a session hit (its bucket's metadata line and one entry line): the memory floor of a hit, however little the core does. `{}` cost {:.0} cycles a packet more than `{other}` ({:.0} against {:.0}, CPU time, medians): {:.1} times that floor. The target ({target} of `{other}`'s Mpps) allows {:.0} cycles above `{other}`'s cost, {}",
        r.name,
        profile.sessions_per_worker,
        mib(probe.bytes),
        mib(probe.huge_page_bytes),
        probe.dependent_ns,
        cycles(probe.dependent_ns),
        probe.line_ns,
        cycles(probe.line_ns),
        probe.lookup_ns,
        floor,
        r.name,
        cost - base_cost,
        cost,
        base_cost,
        (cost - base_cost) / floor,
        allowed,
        if allowed < floor {
            format!("less than the floor of a two-line hit: out of reach on this machine for a table that reads two lines a hit (one line a hit would have a floor of {:.0})", cycles(probe.line_ns))
        } else {
            format!("{:.1} times the floor of a two-line hit", allowed / floor)
        }
    ))
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|s| s.trim().to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_else(|_| "unknown".into())
}

pub const TABLE_START: &str = "<!-- perf-table:start -->";
pub const TABLE_END: &str = "<!-- perf-table:end -->";

/// Replace what sits between the markers of `readme` with `table`.
pub fn replace_table(readme: &str, table: &str) -> anyhow::Result<String> {
    let start = readme.find(TABLE_START).ok_or_else(|| anyhow!("no `{TABLE_START}` marker"))?;
    let end = readme.find(TABLE_END).ok_or_else(|| anyhow!("no `{TABLE_END}` marker"))?;
    if end < start {
        bail!("`{TABLE_END}` comes before `{TABLE_START}`");
    }
    Ok(format!("{}{TABLE_START}\n{}{}", &readme[..start], table.trim_end().to_string() + "\n", &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bench_config_is_valid() {
        for p in BENCH_PROFILES {
            let config = cidlb_config::parse(&p.config(), p.name).unwrap_or_else(|e| panic!("{}: {e}\n{}", p.name, p.config()));
            assert_eq!(config.dataplane.workers, vec![1]);
            assert_eq!(config.dataplane.control_core, 0);
            assert!(profiles::is_profile(p.generator), "{}", p.generator);
        }
    }

    #[test]
    fn replaces_between_markers() {
        let readme = format!("a\n{TABLE_START}\nold\n{TABLE_END}\nb\n");
        let new = replace_table(&readme, "| new |\n").unwrap();
        assert_eq!(new, format!("a\n{TABLE_START}\n| new |\n{TABLE_END}\nb\n"));
        assert!(replace_table("no markers", "x").is_err());
    }

    #[test]
    fn merge_keeps_earlier_rows_in_table_order() {
        let row = |name: &str, load: &str| ProfileResult { name: name.into(), load: load.into(), ..Default::default() };
        let merged = merge(vec![row("mix", "1"), row("cid", "1"), row("session-1k", "1")], vec![row("session-1k", "2"), row("session-1m", "2")]);
        let names: Vec<&str> = merged.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["cid", "session-1k", "session-1m", "mix"]);
        assert_eq!(merged[0].earlier_run.as_deref(), Some("1"));
        assert_eq!(merged[1].earlier_run, None);
        assert_eq!(merged[1].load, "2");
    }

    /// A result whose cidlb samples cost `costs` cycles per packet in CPU time (at 1 GHz).
    fn costed(name: &str, costs: &[f64], evicted: u64) -> ProfileResult {
        let sample = |c: &f64| Sample { packets: 1_000_000, seconds: 2.0, transmitted: 1_000_000, tsc_hz: 1_000_000_000, cpu_seconds: c * 1e-3, ..Default::default() };
        let tswap = Sample { packets: 4_000_000, seconds: 2.0, transmitted: 4_000_000, tsc_hz: 0, cpu_seconds: 2.0, ..Default::default() };
        ProfileResult {
            name: name.into(),
            cidlb: costs.iter().map(sample).collect(),
            testpmd_5tswap: vec![tswap; costs.len()],
            ratios: vec![0.25; costs.len()],
            sessions_evicted: evicted,
            load: "0.5 0.5 0.5".into(),
            ..Default::default()
        }
    }

    fn options() -> BenchOptions {
        BenchOptions {
            profiles: Vec::new(),
            rounds: 3,
            seconds: 2.0,
            workdir: PathBuf::from("/tmp"),
            cidlb: PathBuf::from("cidlb"),
            testpmd: PathBuf::from("dpdk-testpmd"),
            io_floor: false,
            no_huge: false,
        }
    }

    #[test]
    fn cid_cost_under_flood_undoes_the_mix() {
        // CID packets 400 cycles, spoofed 1600: the 75/25 mix costs 700 a packet.
        let mix = 0.75 * 400.0 + 0.25 * 1600.0;
        assert!((cid_cost_under_flood(mix, 1600.0, 0.75) - 400.0).abs() < 1e-9);
        assert!((cid_cost_under_flood(1000.0, 1000.0, 0.5) - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn flood_profiles_share_capture_and_config() {
        let flood = find("flood").unwrap();
        let Target::CidUnderFlood { base, flood_only, cid_share, min } = flood.target else { panic!("flood's target") };
        assert_eq!((cid_share, min), (profiles::FLOOD_CID_SHARE, 0.95));
        for other in [find(base).unwrap(), find(flood_only).unwrap()] {
            assert_eq!((other.packets, other.sessions_per_worker, other.session_timeout, other.mbufs()), (flood.packets, flood.sessions_per_worker, flood.session_timeout, flood.mbufs()), "{}", other.name);
            assert_eq!(other.target, Target::None);
        }
        assert_eq!(find(base).unwrap().generator, "cid");
        // The flood's spoofed flows per pass: at least twice the table (see profiles' tests).
        assert!((1.0 - cid_share) * flood.packets as f64 >= 2.0 * f64::from(flood.sessions_per_worker));
    }

    #[test]
    fn selecting_flood_brings_its_companions() {
        let names = |v: Vec<&BenchProfile>| v.iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(with_companions(vec![find("flood").unwrap()])), ["flood", "flood-base", "flood-only"]);
        assert_eq!(names(with_companions(vec![find("flood-only").unwrap(), find("flood").unwrap(), find("flood-base").unwrap()])), ["flood-only", "flood", "flood-base"]);
        assert_eq!(names(with_companions(vec![find("cid").unwrap()])), ["cid"]);
        assert_eq!(names(with_companions(vec![find("session-1m").unwrap()])), ["session-1m", "session-1k-long"]);
        assert_eq!(target_text(find("session-1k-long").unwrap()), "— (input of session-1m's)");
    }

    /// `session-1m` against a base that differs from it only in its live flows: the same capture
    /// length, pool and table, so net_pcap's receive (which costs more on a longer capture) is
    /// the same for both and the figure is the 1 M-session table's cost.
    #[test]
    fn session_1m_base_differs_only_in_its_flows() {
        let target = find("session-1m").unwrap();
        let Target::VsProfile(other, min) = target.target else { panic!("session-1m's target") };
        assert_eq!((other, min), ("session-1k-long", 0.8));
        let base = find(other).unwrap();
        assert_eq!((base.generator, base.packets, base.sessions_per_worker, base.session_timeout, base.mbufs(), base.nodes), (target.generator, target.packets, target.sessions_per_worker, target.session_timeout, target.mbufs(), target.nodes));
        assert_eq!((base.flows, target.flows), (1024, 1 << 20));
        assert_eq!(base.flows, find("session-1k").unwrap().flows);
        let settings = |p: &BenchProfile| p.config().lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(settings(base), settings(target));
    }

    #[test]
    fn cid_under_flood_is_the_median_of_per_round_figures() {
        // Round costs (cycles/packet): base 400, 400, 500; flood-only 1600, 1600, 1600; the mix
        // 700 (CID 400), 730 (CID 440), 700 (CID 400). Per round: 1.0, 0.909, 1.25 → 1.0.
        let all = vec![costed("flood-base", &[400.0, 400.0, 500.0], 0), costed("flood", &[700.0, 730.0, 700.0], 9), costed("flood-only", &[1600.0, 1600.0, 1600.0], 9)];
        let rounds = cid_under_flood_rounds(&all[1], &all).unwrap();
        assert_eq!(rounds.len(), 3);
        assert!((rounds[1].1 * 1e9 - 440.0).abs() < 1e-6, "{rounds:?}");
        let figure = cid_under_flood(&all[1], &all).unwrap();
        assert!((figure - 1.0).abs() < 1e-9, "{figure}");
        assert_eq!(target_met(&all[1], &all), Some(true));
        // The base and flood-only rows have no target of their own.
        assert_eq!(target_met(&all[0], &all), None);
        assert_eq!(target_met(&all[2], &all), None);

        // CID packets 10% dearer under flood in every round: not met.
        let slow = vec![costed("flood-base", &[400.0; 3], 0), costed("flood", &[730.0; 3], 9), costed("flood-only", &[1600.0; 3], 9)];
        let figure = cid_under_flood(&slow[1], &slow).unwrap();
        assert!((figure - 400.0 / 440.0).abs() < 1e-9, "{figure}");
        assert_eq!(target_met(&slow[1], &slow), Some(false));

        // Paired by round: a companion that stopped after one round gives one figure.
        let short = vec![costed("flood-base", &[400.0], 0), costed("flood", &[700.0, 900.0], 9), costed("flood-only", &[1600.0; 2], 9)];
        assert_eq!(cid_under_flood_rounds(&short[1], &short).unwrap().len(), 1);

        // The control reads testpmd's samples, not cidlb's: 5tswap 100 ns a packet alone, 130
        // in the mix, 100 on the flood alone → its "CID" 140 ns, 100 / 140 in every round.
        let mut control = all.clone();
        for (row, ns) in control.iter_mut().zip([100.0, 130.0, 100.0]) {
            for sample in &mut row.testpmd_5tswap {
                sample.cpu_seconds = ns * 1e-9 * sample.packets as f64;
            }
        }
        let rounds = testpmd_under_flood_rounds(&control[1], &control).unwrap();
        assert!(rounds.iter().all(|(b, u)| (b / u - 100.0 / 140.0).abs() < 1e-9), "{rounds:?}");
        assert_eq!(cid_under_flood_rounds(&control[1], &control), cid_under_flood_rounds(&all[1], &all));
        // No figure without a companion, from rows of different runs, or without evictions.
        assert_eq!(cid_under_flood(&all[1], &all[1..]), None);
        let mut merged = all.clone();
        merged[0].earlier_run = Some("1.0 1.0 1.0".into());
        assert_eq!(cid_under_flood(&merged[1], &merged), None);
        assert_eq!(target_met(&merged[1], &merged), None);
        let mut calm = all.clone();
        calm[1].sessions_evicted = 0;
        assert_eq!(target_met(&calm[1], &calm), None);
    }

    #[test]
    fn table_shows_the_per_burst_cost_per_packet() {
        let burst = |p50: f64, p99: f64| Sample {
            packets: 3_200_000,
            seconds: 1.0,
            transmitted: 3_200_000,
            tsc_hz: 2_000_000_000,
            cpu_seconds: 1.0,
            burst_p50_cycles: p50,
            burst_p99_cycles: p99,
            packets_per_burst: 32.0,
        };
        let mut cid = ProfileResult { name: "cid".into(), ratios: vec![0.4; 3], ..Default::default() };
        cid.cidlb = vec![burst(9_600.0, 32_000.0), burst(10_240.0, 64_000.0), burst(12_800.0, 40_000.0)];
        let mut old = ProfileResult { name: "ipip".into(), ratios: vec![0.3], ..Default::default() };
        old.cidlb = vec![Sample { packets: 1, seconds: 1.0, ..Default::default() }];
        let table = render_table(&[cid, old], &options(), "x");
        assert!(table.contains("| cidlb cycles/packet per burst p50 / p99 |"), "{table}");
        // Medians over the rounds of p50 / 32 and p99 / 32.
        let row = table.lines().find(|l| l.starts_with("| `cid` |")).unwrap();
        assert!(row.contains("| 320 / 1250 |"), "{row}");
        // A result without the histogram (testpmd-only or an older results file) shows dashes.
        let row = table.lines().find(|l| l.starts_with("| `ipip` |")).unwrap();
        assert!(row.contains("| — / — |"), "{row}");
        assert_eq!(row.matches('|').count(), table.lines().next().unwrap().matches('|').count(), "{row}");
    }

    #[test]
    fn table_shows_the_cid_under_flood_figure_and_how_it_is_computed() {
        let all = vec![costed("flood-base", &[400.0, 400.0, 500.0], 0), costed("flood", &[700.0, 730.0, 700.0], 123), costed("flood-only", &[1600.0; 3], 456)];
        let table = render_table(&all, &options(), "0.5 0.5 0.5");
        let row = table.lines().find(|l| l.starts_with("| `flood` |")).unwrap();
        assert!(row.contains("0.25; CID under flood 1.000 of without"), "{row}");
        assert!(row.contains("CID throughput under flood ≥ 0.95 × without (flood-base)"), "{row}");
        assert!(row.ends_with("| yes |"), "{row}");
        let base = table.lines().find(|l| l.starts_with("| `flood-base` |")).unwrap();
        assert!(base.contains("— (input of flood's) | — |"), "{base}");
        let note = table.lines().find(|l| l.starts_with("- `flood`: CID under flood")).unwrap();
        assert!(note.contains("(c(`flood`) − 0.25 × c(`flood-only`)) / 0.75"), "{note}");
        assert!(note.contains("per round: 1.000 (400 / 400 cycles), 0.909 (400 / 440 cycles), 1.250 (500 / 400 cycles)"), "{note}");
        assert!(note.contains("`flood` 123 evicted, 0 expired, `flood-only` 456 evicted"), "{note}");
        // The control: testpmd's runs (500 ns a packet in every profile here) through the same
        // derivation.
        assert!(note.contains("The same derivation on testpmd 5tswap, which keeps no table (a control: what the captures and the I/O alone make of the mix): 1.000 (per round: 1.000 (500 / 500 cycles)"), "{note}");

        // The JSON results file round-trips to the same table.
        let json = serde_json::to_string_pretty(&all).unwrap();
        let back: Vec<ProfileResult> = serde_json::from_str(&json).unwrap();
        assert_eq!(render_table(&back, &options(), "0.5 0.5 0.5"), table);

        let slow = vec![costed("flood-base", &[400.0; 3], 0), costed("flood", &[730.0; 3], 1), costed("flood-only", &[1600.0; 3], 1)];
        let table = render_table(&slow, &options(), "x");
        let row = table.lines().find(|l| l.starts_with("| `flood` |")).unwrap();
        assert!(row.contains("CID under flood 0.909 of without") && row.ends_with("| **no** |"), "{row}");

        let alone = render_table(&slow[1..2], &options(), "x");
        let row = alone.lines().find(|l| l.starts_with("| `flood` |")).unwrap();
        assert!(row.contains("CID under flood: —") && row.ends_with("| — |"), "{row}");
        assert!(alone.contains("not computed: needs `flood-base`, `flood` and `flood-only` measured in the same run"), "{alone}");
    }

    #[test]
    fn one_profile_against_another_pairs_the_rounds() {
        // cidlb ns a packet, round by round: session-1k-long 100, 200, 100; session-1m 120, 250, 200.
        // Mpps 10, 5, 10 and 8.33, 4, 5: per round 0.833, 0.8, 0.5 → 0.8 (met); the ratio of
        // the medians would say 5 / 10 = 0.5.
        let all = vec![costed("session-1k-long", &[100.0, 200.0, 100.0], 0), costed("session-1m", &[120.0, 250.0, 200.0], 0)];
        let mut all: Vec<ProfileResult> = all
            .into_iter()
            .map(|mut r| {
                for sample in &mut r.cidlb {
                    sample.seconds = sample.cpu_seconds;
                }
                r
            })
            .collect();
        let figure = vs_profile(&all[1], &all, "session-1k-long").unwrap();
        assert!((figure - 0.8).abs() < 1e-9, "{figure}");
        assert_eq!(target_met(&all[1], &all), Some(true));
        let table = render_table(&all, &options(), "x");
        let row = table.lines().find(|l| l.starts_with("| `session-1m` |")).unwrap();
        assert!(row.contains("cidlb Mpps 0.800 of session-1k-long's") && row.ends_with("| yes |"), "{row}");
        // Rows of different runs cannot be paired: the ratio of the medians.
        all[0].earlier_run = Some("1.0 1.0 1.0".into());
        let figure = vs_profile(&all[1], &all, "session-1k-long").unwrap();
        assert!((figure - 0.5).abs() < 1e-9, "{figure}");
        assert_eq!(target_met(&all[1], &all), Some(false));
        assert_eq!(vs_profile(&all[1], &all[1..], "session-1k-long"), None);
    }

    #[test]
    fn a_missed_target_is_shown_as_a_budget_in_cycles() {
        // At 1 GHz, one CPU-second per million packets is 1000 cycles a packet.
        let at = |cycles: f64, hz: u64| Sample { packets: 1_000_000, seconds: 1.0, transmitted: 1_000_000, tsc_hz: hz, cpu_seconds: cycles * 1e-3, ..Default::default() };
        let row = |name: &str, cidlb: &[f64], tswap: &[f64], io: &[f64]| ProfileResult {
            name: name.into(),
            cidlb: cidlb.iter().map(|c| at(*c, 1_000_000_000)).collect(),
            testpmd_5tswap: tswap.iter().map(|c| at(*c, 0)).collect(),
            testpmd_io: io.iter().map(|c| at(*c, 0)).collect(),
            ratios: cidlb.iter().zip(tswap).map(|(c, t)| t / c).collect(),
            ..Default::default()
        };
        // cid (≥ 0.9): per round 5tswap 90, 99, 81 → at most 100, 110, 90; io 63, 70, 60 →
        // budgets 37, 40, 30 → 37; cidlb 226, 250, 200 → work 163, 180, 140 → 163.
        let cid = row("cid", &[226.0, 250.0, 200.0], &[90.0, 99.0, 81.0], &[63.0, 70.0, 60.0]);
        let w = work_budget(&cid).unwrap();
        // 5tswap's own work: 27, 29, 21 → 27.
        assert!((w.budget - 37.0).abs() < 1e-6 && (w.cidlb - 163.0).abs() < 1e-6 && (w.tswap - 27.0).abs() < 1e-6, "{w:?}");
        // session-1k (≥ 0.8): 5tswap 40 allows 50, below io's 60: no budget at all.
        let session = row("session-1k", &[300.0], &[40.0], &[60.0]);
        // flow-label met its target: not listed. ipip without the io floor: not listed.
        let met = row("flow-label", &[100.0], &[90.0], &[60.0]);
        let no_io = row("ipip", &[300.0], &[90.0], &[]);
        assert_eq!(work_budget(&no_io), None);
        // session-1m's target is against another profile: no budget.
        assert_eq!(work_budget(&row("session-1m", &[300.0], &[90.0], &[60.0])), None);
        let table = render_table(&[cid, session, met, no_io], &options(), "x");
        let note = table.lines().find(|l| l.starts_with("- What a missed target leaves cidlb")).unwrap();
        assert!(note.contains("`cid` (≥ 0.9): budget 37, cidlb 163, 5tswap 27; `session-1k` (≥ 0.8): budget none (5tswap's cost / 0.8 is below io's), cidlb 240, 5tswap -20"), "{note}");
        assert!(!note.contains("flow-label") && !note.contains("ipip"), "{note}");
        // Nothing missed: no note.
        let table = render_table(&[row("cid", &[95.0], &[90.0], &[60.0])], &options(), "x");
        assert!(!table.contains("What a missed target leaves"), "{table}");
    }

    #[test]
    fn the_memory_note_reads_session_1m_against_its_table_in_memory() {
        // 2 GHz; a packet of CPU time costs cpu_seconds × 2e9 / 1e6 cycles.
        let row = |name: &str, cycles: f64| ProfileResult {
            name: name.into(),
            cidlb: vec![Sample { packets: 1_000_000, seconds: 1.0, tsc_hz: 2_000_000_000, cpu_seconds: cycles / 2e3, ..Default::default() }],
            ..Default::default()
        };
        let probe = MemoryProbe { bytes: 144 << 20, huge_page_bytes: 142 << 20, dependent_ns: 150.0, line_ns: 10.0, lookup_ns: 20.0 };
        // session-1k-long 200 cycles: the 0.8 target allows 250, 50 above; the floor is 40.
        let base = row("session-1k-long", 200.0);
        let mut m = row("session-1m", 320.0);
        m.memory_probe = Some(probe);
        let table = render_table(&[base.clone(), m.clone()], &options(), "x");
        let note = table.lines().find(|l| l.starts_with("- `session-1m`: its session table")).unwrap_or_else(|| panic!("{table}"));
        assert!(note.contains("(2097152 entries, 144 MiB)") && note.contains("huge pages asked for 142 MiB"), "{note}");
        assert!(note.contains("takes 150 ns (300 cycles)") && note.contains("10.0 ns (20 cycles) a line and 20.0 ns (40 cycles) for the two lines"), "{note}");
        assert!(note.contains("cost 120 cycles a packet more than `session-1k-long` (320 against 200, CPU time, medians): 3.0 times that floor"), "{note}");
        assert!(note.contains("allows 50 cycles above `session-1k-long`'s cost, 1.2 times the floor"), "{note}");
        // A floor above what the target allows says so.
        m.memory_probe = Some(MemoryProbe { lookup_ns: 30.0, ..probe });
        let note = memory_note(&m, &[base.clone(), m.clone()]).unwrap();
        assert!(note.ends_with("less than the floor of a two-line hit: out of reach on this machine for a table that reads two lines a hit (one line a hit would have a floor of 20)"), "{note}");
        // No probe, no TSC frequency, no base row, or another target: no note.
        let mut no_hz = m.clone();
        no_hz.cidlb[0].tsc_hz = 0;
        assert_eq!(memory_note(&no_hz, &[base.clone(), no_hz.clone()]), None);
        m.memory_probe = None;
        assert_eq!(memory_note(&m, &[base.clone(), m.clone()]), None);
        m.memory_probe = Some(probe);
        assert_eq!(memory_note(&m, std::slice::from_ref(&m)), None);
        let mut cid = row("cid", 100.0);
        cid.memory_probe = Some(probe);
        assert_eq!(memory_note(&cid, &[base, cid.clone()]), None);
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}

//! `cidlb-perf micro`: the worker's burst loop ([`Pump`]) over a bench profile's capture held
//! in memory, without DPDK. The I/O backend here copies each frame into a recycled buffer on
//! receive and recycles it on transmit, which is what `net_pcap` with `infinite_rx=1` does for
//! `cidlb-perf bench`; so the figure is the cost of cidlb's own code per packet.
//!
//! It is the inner loop of tuning: quick (no EAL start, no testpmd), and deterministic under
//! `valgrind --tool=callgrind` (instructions per packet, whatever else the machine runs).
//! The numbers that count are still `cidlb-perf bench`'s, on DPDK against testpmd.

use crate::bench::{cid_cost_under_flood as cost_under_flood, BenchProfile, Target};
use crate::profiles::{self};
use anyhow::anyhow;
use cidlb_control::Control;
use cidlb_dataplane::counters::{PortCounters, WorkerCounters};
use cidlb_dataplane::frame::VecFrame;
use cidlb_dataplane::io::{Burst, PacketIo};
use cidlb_dataplane::worker::{ControlRings, Pump, Worker, WorkerParams};
use std::sync::Arc;
use std::time::Instant;

/// One port whose RX queue never runs dry: a capture, round and round. It can hold several
/// captures and replays the one [`select`](Self::select)ed, each from where it last stopped
/// (the interleaved CID-under-flood run switches between three).
pub struct LoopIo {
    captures: Vec<Vec<Vec<u8>>>,
    next: Vec<usize>,
    active: usize,
    spare: Vec<VecFrame>,
    pub transmitted: u64,
}

impl LoopIo {
    pub fn new(frames: Vec<Vec<u8>>, buffers: usize) -> Self {
        Self::with_captures(vec![frames], buffers)
    }

    /// Several captures (none empty), the first selected.
    pub fn with_captures(captures: Vec<Vec<Vec<u8>>>, buffers: usize) -> Self {
        assert!(!captures.is_empty() && captures.iter().all(|c| !c.is_empty()), "LoopIo needs frames to replay");
        let next = vec![0; captures.len()];
        LoopIo { captures, next, active: 0, spare: (0..buffers).map(|_| VecFrame::new()).collect(), transmitted: 0 }
    }

    /// Replay capture `index` from now on.
    pub fn select(&mut self, index: usize) {
        assert!(index < self.captures.len(), "capture {index} of {}", self.captures.len());
        self.active = index;
    }
}

impl PacketIo for LoopIo {
    type Buf = VecFrame;

    fn ports(&self) -> u16 {
        1
    }

    fn rx_burst(&mut self, _port: u16, out: &mut Burst<VecFrame>, max: usize) -> usize {
        let frames = &self.captures[self.active];
        let next = &mut self.next[self.active];
        let mut n = 0;
        while n < max && out.remaining_capacity() > 0 {
            // A frame the worker dropped was freed (as an mbuf goes back to its pool): a new
            // buffer takes its place, so a capture with drops never runs the queue dry.
            let mut frame = self.spare.pop().unwrap_or_default();
            frame.set(&frames[*next]);
            *next += 1;
            if *next == frames.len() {
                *next = 0;
            }
            out.push(frame);
            n += 1;
        }
        n
    }

    fn tx_burst(&mut self, _port: u16, bufs: &mut Burst<VecFrame>) -> usize {
        let n = bufs.len();
        self.transmitted += n as u64;
        self.spare.extend(bufs.drain(..));
        n
    }

    fn alloc(&mut self) -> Option<VecFrame> {
        let mut frame = self.spare.pop()?;
        frame.set(&[]);
        Some(frame)
    }
}

/// A worker (and the control state that publishes its snapshot) for `profile`'s bench config.
pub fn worker_for(profile: &BenchProfile) -> anyhow::Result<(Worker, Control)> {
    worker_for_config(cidlb_config::parse(&profile.config(), profile.name).map_err(|e| anyhow!("{e}"))?)
}

/// A worker (id 0) and its control state for `config`.
pub fn worker_for_config(config: cidlb_config::Config) -> anyhow::Result<(Worker, Control)> {
    let macs = config.port.iter().map(|p| p.mac.unwrap_or(cidlb_config::MacAddr([2, 0, 0, 0, 0, 1]))).collect();
    let mut control = Control::new(config.clone(), macs).map_err(|e| anyhow!(e))?;
    let rings = Arc::new(ControlRings::new(1024));
    control.attach(Arc::clone(&rings));
    let params = WorkerParams::from_config(0, &config.dataplane);
    let worker = Worker::new(params, control.source(), Arc::new(WorkerCounters::default()), rings);
    Ok((worker, control))
}

/// What one micro run measured.
#[derive(Clone, Debug)]
pub struct MicroResult {
    pub packets: u64,
    pub transmitted: u64,
    pub seconds: f64,
    /// CPU time of the measuring thread (`CLOCK_THREAD_CPUTIME_ID`).
    pub cpu_seconds: Option<f64>,
    pub dropped: u64,
}

impl MicroResult {
    /// Wall clock per packet.
    pub fn ns_per_packet(&self) -> f64 {
        self.seconds * 1e9 / self.packets.max(1) as f64
    }
    /// CPU time per packet (robust to preemption on a shared machine); the wall clock's
    /// figure when CPU time is unknown.
    pub fn cpu_ns_per_packet(&self) -> f64 {
        self.cpu_seconds.map_or_else(|| self.ns_per_packet(), |s| s * 1e9 / self.packets.max(1) as f64)
    }
}

/// CPU time of the calling thread: `CLOCK_THREAD_CPUTIME_ID`, exact at every read (the
/// scheduler's figure in `/proc/thread-self/schedstat` lags by up to one tick, 4 ms at 250 Hz,
/// which the interleaved run's segments cannot afford).
fn thread_cpu_ns() -> Option<u64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let ns = u64::try_from(t.tv_sec).ok()? * 1_000_000_000 + u64::try_from(t.tv_nsec).ok()?;
    (ns > 0).then_some(ns)
}

/// Run `profile`'s traffic through a worker for `packets` packets (after one warm-up pass over
/// the capture, which fills the session table as the bench's first seconds do). `flood_run`:
/// [`ProfileParams::flood_run`](profiles::ProfileParams::flood_run) (1: the bench's capture).
pub fn run(profile: &BenchProfile, packets: u64, flood_run: usize) -> anyhow::Result<MicroResult> {
    run_frames(profile, capture(profile, flood_run)?, packets)
}

/// The frames of `profile`'s generated capture.
fn capture(profile: &BenchProfile, flood_run: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let params = profiles::ProfileParams { flood_run, ..profile.params() };
    Ok(profiles::generate(profile.generator, &params).map_err(|e| anyhow!(e))?.into_iter().map(|p| p.bytes).collect())
}

/// As [`run`], over `frames` instead of the profile's capture (with the profile's config).
pub fn run_frames(profile: &BenchProfile, frames: Vec<Vec<u8>>, packets: u64) -> anyhow::Result<MicroResult> {
    let warm_up = frames.len() as u64;
    let (worker, _control) = worker_for(profile)?;
    let counters = Arc::clone(&worker.counters);
    let buffers = 4 * worker.params.burst + 64;
    let mut pump = Pump::new(LoopIo::new(frames, buffers), worker, vec![Arc::new(PortCounters::default())]);
    let start = Instant::now();
    let mut received = 0u64;
    let mut measured_from = None;
    while received < warm_up + packets {
        if measured_from.is_none() && received >= warm_up {
            measured_from = Some((Instant::now(), thread_cpu_ns(), received, pump.io.transmitted, counters.dropped_total()));
        }
        let now = start.elapsed().as_nanos() as u64;
        received += pump.poll(now) as u64;
    }
    pump.flush();
    let seconds = measured_from.map_or(start, |m| m.0).elapsed().as_secs_f64();
    let cpu_end = thread_cpu_ns();
    let (_, cpu0, r0, tx0, d0) = measured_from.unwrap_or((start, None, 0, 0, 0));
    Ok(MicroResult {
        packets: received - r0,
        transmitted: pump.io.transmitted - tx0,
        seconds,
        cpu_seconds: cpu0.zip(cpu_end).map(|(a, b)| b.saturating_sub(a) as f64 / 1e9),
        dropped: counters.dropped_total() - d0,
    })
}

/// The CID-under-flood figure of one `CidUnderFlood` profile, measured interleaved.
#[derive(Clone, Debug)]
pub struct FloodFigure {
    pub profile: &'static str,
    pub base: &'static str,
    pub flood_only: &'static str,
    pub cid_share: f64,
    pub min: f64,
    /// The mix's spoofed packets came in runs of this many (1: the bench's even spread).
    pub flood_run: usize,
    /// CPU ns per packet over all segments: base, the mix (`profile`), flood alone.
    pub ns: [f64; 3],
    /// Per round: c(base) / c_CID under flood.
    pub rounds: Vec<f64>,
}

impl FloodFigure {
    /// The figure held against the target: the median of the rounds.
    pub fn median(&self) -> f64 {
        crate::bench::median(&mut self.rounds.clone()).unwrap_or(f64::NAN)
    }

    /// The figure over all segments together.
    pub fn overall(&self) -> f64 {
        self.ns[0] / cost_under_flood(self.ns[1], self.ns[2], self.cid_share)
    }

    pub fn render(&self) -> String {
        let mut sorted = self.rounds.clone();
        sorted.sort_by(f64::total_cmp);
        let (lowest, highest) = (sorted.first().copied().unwrap_or(f64::NAN), sorted.last().copied().unwrap_or(f64::NAN));
        let runs = if self.flood_run > 1 { format!(", spoofed packets in runs of {} (a diagnostic, not the bench's capture)", self.flood_run) } else { String::new() };
        format!(
            "`{name}` (interleaved, {n} rounds{runs}): CID throughput under flood **{median:.3}** of without (median of the rounds, {lowest:.3}–{highest:.3}; target ≥ {min}); \
             over all rounds: CID cost under flood (`{name}` {mix:.1} ns − {share_rest} × `{flood_only}` {only:.1} ns) / {share} = {under:.1} ns against {base_ns:.1} ns without (`{base}`), {overall:.3}",
            name = self.profile,
            n = self.rounds.len(),
            median = self.median(),
            min = self.min,
            mix = self.ns[1],
            share_rest = 1.0 - self.cid_share,
            flood_only = self.flood_only,
            only = self.ns[2],
            share = self.cid_share,
            under = cost_under_flood(self.ns[1], self.ns[2], self.cid_share),
            base_ns = self.ns[0],
            base = self.base,
            overall = self.overall(),
        )
    }
}

/// The CID-under-flood figure of `profile` (a `CidUnderFlood` profile) in memory, measured so
/// that machine noise cancels: one worker (the three profiles share one config) replays the
/// three captures in turn, `segment` packets at a time, rotating which goes first, until about
/// `packets` were measured in all. Each round of three segments gives one value of
/// c(base) / c_CID under flood (CPU time), c_CID = (c(mix) − (1 − share) × c(flood only)) /
/// share; the segments are milliseconds apart, so a neighbour's load hits all three alike,
/// where separate runs seconds apart can differ by ±20 % on a shared VM.
/// `flood_run`: as for [`run`], for the mix's capture.
pub fn cid_under_flood(profile: &BenchProfile, packets: u64, segment: u64, flood_run: usize) -> anyhow::Result<FloodFigure> {
    let Target::CidUnderFlood { base, flood_only, cid_share, min } = profile.target else {
        anyhow::bail!("`{}` has no CID-under-flood target", profile.name);
    };
    let find = |name| crate::bench::find(name).ok_or_else(|| anyhow!("no bench profile `{name}`"));
    let (base_profile, only_profile) = (find(base)?, find(flood_only)?);
    // The same config but for the comment lines that name the profile.
    let settings = |p: &BenchProfile| p.config().lines().filter(|l| !l.starts_with('#')).collect::<Vec<_>>().join("\n");
    if settings(base_profile) != settings(profile) || settings(only_profile) != settings(profile) {
        anyhow::bail!("`{}`, `{base}` and `{flood_only}` must share one config to run interleaved", profile.name);
    }
    let captures = vec![capture(base_profile, 1)?, capture(profile, flood_run)?, capture(only_profile, 1)?];
    let warm_up: Vec<u64> = captures.iter().map(|c| c.len() as u64).collect();
    let (worker, _control) = worker_for(profile)?;
    let buffers = 4 * worker.params.burst + 64;
    let mut pump = Pump::new(LoopIo::with_captures(captures, buffers), worker, vec![Arc::new(PortCounters::default())]);
    let start = Instant::now();
    let run = |pump: &mut Pump<LoopIo>, capture: usize, count: u64| -> Option<u64> {
        pump.io.select(capture);
        let cpu0 = thread_cpu_ns();
        let mut received = 0u64;
        while received < count {
            received += pump.poll(start.elapsed().as_nanos() as u64) as u64;
        }
        Some(thread_cpu_ns()?.saturating_sub(cpu0?))
    };
    // One pass over each capture first: the mix's fills the session table.
    for (capture, &count) in warm_up.iter().enumerate() {
        run(&mut pump, capture, count);
    }
    let segment = segment.max(1024);
    let round_count = (packets / (3 * segment)).max(1);
    let mut total_ns = [0u64; 3];
    let mut rounds = Vec::new();
    for round in 0..round_count {
        let mut ns = [0f64; 3];
        for k in 0..3 {
            let capture = (round as usize + k) % 3;
            let cpu = run(&mut pump, capture, segment).ok_or_else(|| anyhow!("no per-thread CPU time (/proc/thread-self/schedstat)"))?;
            total_ns[capture] += cpu;
            ns[capture] = cpu as f64 / segment as f64;
        }
        rounds.push(ns[0] / cost_under_flood(ns[1], ns[2], cid_share));
    }
    pump.flush();
    let per_packet = |i: usize| total_ns[i] as f64 / (round_count * segment) as f64;
    Ok(FloodFigure { profile: profile.name, base, flood_only, cid_share, min, flood_run, ns: [per_packet(0), per_packet(1), per_packet(2)], rounds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cidlb_dataplane::frame::Frame;

    #[test]
    fn flood_figure_from_segments() {
        // CID packets 40 ns with or without the flood, spoofed ones 160 ns: the mix costs 70.
        let figure = FloodFigure { profile: "flood", base: "flood-base", flood_only: "flood-only", cid_share: 0.75, min: 0.95, flood_run: 1, ns: [40.0, 70.0, 160.0], rounds: vec![0.9, 1.2, 1.0] };
        assert!((figure.overall() - 1.0).abs() < 1e-9);
        assert_eq!(figure.median(), 1.0);
        let line = figure.render();
        assert!(line.contains("`flood` (interleaved, 3 rounds): CID throughput under flood **1.000** of without (median of the rounds, 0.900–1.200"), "{line}");
        assert!(line.contains("= 40.0 ns against 40.0 ns without (`flood-base`), 1.000"), "{line}");
        let runs = FloodFigure { flood_run: 32, ..figure }.render();
        assert!(runs.contains("(interleaved, 3 rounds, spoofed packets in runs of 32 (a diagnostic, not the bench's capture))"), "{runs}");
    }

    #[test]
    fn interleaved_flood_run_measures_every_segment_and_refuses_other_profiles() {
        let flood = crate::bench::find("flood").unwrap();
        let figure = cid_under_flood(flood, 3 * 2 * 4096, 4096, 1).unwrap();
        assert_eq!(figure.rounds.len(), 2);
        assert!(figure.ns.iter().all(|&ns| ns > 0.0), "{figure:?}");
        assert!(figure.rounds.iter().all(|r| r.is_finite()), "{figure:?}");
        assert!(cid_under_flood(crate::bench::find("cid").unwrap(), 10_000, 4096, 1).is_err());
    }

    #[test]
    fn loop_io_replaces_dropped_frames_and_switches_captures() {
        let mut io = LoopIo::with_captures(vec![vec![vec![1u8; 60]], vec![vec![2u8; 60], vec![3u8; 60]]], 1);
        let mut burst = Burst::new();
        // Only one spare buffer, yet a second burst still receives (the first was dropped).
        assert_eq!(io.rx_burst(0, &mut burst, 1), 1);
        burst.clear();
        assert_eq!(io.rx_burst(0, &mut burst, 1), 1);
        assert_eq!(burst[0].data(), &[1u8; 60][..]);
        io.select(1);
        burst.clear();
        assert_eq!(io.rx_burst(0, &mut burst, 3), 3);
        let firsts: Vec<u8> = burst.iter().map(|f| f.data()[0]).collect();
        assert_eq!(firsts, [2, 3, 2], "capture 1 from its start, round and round");
    }

    #[test]
    fn loop_io_recycles_and_cid_profile_forwards_everything() {
        let profile = crate::bench::find("cid").unwrap();
        let result = run(profile, 20_000, 1).unwrap();
        assert!(result.packets >= 20_000);
        assert_eq!(result.dropped, 0, "the cid profile forwards every packet");
        assert!(result.transmitted + 64 >= result.packets, "{result:?}");
    }
}

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

/// One port whose RX queue never runs dry: the capture, round and round.
pub struct LoopIo {
    frames: Vec<Vec<u8>>,
    next: usize,
    spare: Vec<VecFrame>,
    pub transmitted: u64,
}

impl LoopIo {
    pub fn new(frames: Vec<Vec<u8>>, buffers: usize) -> Self {
        LoopIo { frames, next: 0, spare: (0..buffers).map(|_| VecFrame::new()).collect(), transmitted: 0 }
    }
}

impl PacketIo for LoopIo {
    type Buf = VecFrame;

    fn ports(&self) -> u16 {
        1
    }

    fn rx_burst(&mut self, _port: u16, out: &mut Burst<VecFrame>, max: usize) -> usize {
        let mut n = 0;
        while n < max && out.remaining_capacity() > 0 {
            let Some(mut frame) = self.spare.pop() else { break };
            frame.set(&self.frames[self.next]);
            self.next += 1;
            if self.next == self.frames.len() {
                self.next = 0;
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
    let config = cidlb_config::parse(&profile.config(), profile.name).map_err(|e| anyhow!("{e}"))?;
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
    /// CPU time of the measuring thread (`/proc/thread-self/schedstat`), when the kernel has it.
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

fn thread_cpu_ns() -> Option<u64> {
    crate::bench::schedstat_ns("/proc/thread-self/schedstat").filter(|n| *n > 0)
}

/// Run `profile`'s traffic through a worker for `packets` packets (after one warm-up pass over
/// the capture, which fills the session table as the bench's first seconds do).
pub fn run(profile: &BenchProfile, packets: u64) -> anyhow::Result<MicroResult> {
    let frames: Vec<Vec<u8>> = profiles::generate(profile.generator, &profile.params()).map_err(|e| anyhow!(e))?.into_iter().map(|p| p.bytes).collect();
    run_frames(profile, frames, packets)
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

/// Figures derived from several profiles' ns/packet (`measured`: name, ns/packet): the CID
/// cost under flood of each `CidUnderFlood` profile whose companions were measured too, as
/// `cidlb-perf bench` derives it (here from one sequential run of each, not per round; use
/// CPU-time figures).
pub fn derived(measured: &[(&str, f64)]) -> Vec<String> {
    let ns = |name: &str| measured.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let mut out = Vec::new();
    for (name, mix) in measured {
        let Some(profile) = crate::bench::find(name) else { continue };
        let Target::CidUnderFlood { base, flood_only, cid_share, min } = profile.target else { continue };
        let (Some(base_ns), Some(flood_ns)) = (ns(base), ns(flood_only)) else { continue };
        let under = cost_under_flood(*mix, flood_ns, cid_share);
        out.push(format!(
            "`{name}`: CID cost under flood (ns/packet of `{name}` − {} × `{flood_only}`) / {cid_share} = {under:.1} ns against {base_ns:.1} ns without (`{base}`): CID throughput under flood {:.3} of without (target ≥ {min})",
            1.0 - cid_share,
            base_ns / under
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_cid_under_flood() {
        // CID packets 40 ns with or without the flood, spoofed ones 160 ns: the mix costs 70.
        let lines = derived(&[("flood-base", 40.0), ("flood", 70.0), ("flood-only", 160.0), ("cid", 30.0)]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("= 40.0 ns against 40.0 ns without (`flood-base`): CID throughput under flood 1.000 of without"), "{}", lines[0]);
        assert!(derived(&[("flood", 70.0), ("flood-only", 160.0)]).is_empty());
    }

    #[test]
    fn loop_io_recycles_and_cid_profile_forwards_everything() {
        let profile = crate::bench::find("cid").unwrap();
        let result = run(profile, 20_000).unwrap();
        assert!(result.packets >= 20_000);
        assert_eq!(result.dropped, 0, "the cid profile forwards every packet");
        assert!(result.transmitted + 64 >= result.packets, "{result:?}");
    }
}

//! `cidlb-perf micro`: the worker's burst loop ([`Pump`]) over a bench profile's capture held
//! in memory, without DPDK. The I/O backend here copies each frame into a recycled buffer on
//! receive and recycles it on transmit, which is what `net_pcap` with `infinite_rx=1` does for
//! `cidlb-perf bench`; so the figure is the cost of cidlb's own code per packet.
//!
//! It is the inner loop of tuning: quick (no EAL start, no testpmd), and deterministic under
//! `valgrind --tool=callgrind` (instructions per packet, whatever else the machine runs).
//! The numbers that count are still `cidlb-perf bench`'s, on DPDK against testpmd.

use crate::bench::BenchProfile;
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
    pub dropped: u64,
}

impl MicroResult {
    pub fn ns_per_packet(&self) -> f64 {
        self.seconds * 1e9 / self.packets.max(1) as f64
    }
}

/// Run `profile`'s traffic through a worker for `packets` packets (after one warm-up pass over
/// the capture, which fills the session table as the bench's first seconds do).
pub fn run(profile: &BenchProfile, packets: u64) -> anyhow::Result<MicroResult> {
    let frames: Vec<Vec<u8>> = profiles::generate(profile.generator, &profile.params()).map_err(|e| anyhow!(e))?.into_iter().map(|p| p.bytes).collect();
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
            measured_from = Some((Instant::now(), received, pump.io.transmitted, counters.dropped_total()));
        }
        let now = start.elapsed().as_nanos() as u64;
        received += pump.poll(now) as u64;
    }
    pump.flush();
    let (t0, r0, tx0, d0) = measured_from.unwrap_or((start, 0, 0, 0));
    Ok(MicroResult {
        packets: received - r0,
        transmitted: pump.io.transmitted - tx0,
        seconds: t0.elapsed().as_secs_f64(),
        dropped: counters.dropped_total() - d0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_io_recycles_and_cid_profile_forwards_everything() {
        let profile = crate::bench::find("cid").unwrap();
        let result = run(profile, 20_000).unwrap();
        assert!(result.packets >= 20_000);
        assert_eq!(result.dropped, 0, "the cid profile forwards every packet");
        assert!(result.transmitted + 64 >= result.packets, "{result:?}");
    }
}

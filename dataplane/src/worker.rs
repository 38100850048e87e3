//! The worker: a pure per-packet decision ([`Worker::process`]) and the run-to-completion
//! burst loop ([`Pump`]) that drives it over any [`PacketIo`] backend (DPDK or pcap).
#![forbid(unsafe_code)]

use crate::counters::{DropReason, PortCounters, WorkerCounters};
use crate::frame::Frame;
use crate::io::{Burst, PacketIo};
use crate::snapshot::{Snapshot, SnapshotSource};
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// What the worker does with one packet after `process`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the (rewritten) frame out of this port.
    Transmit { port: u16 },
    /// Copied to the control ring (health-probe reply, neighbour message); free the frame.
    Consumed,
    Drop(DropReason),
}

/// Bytes of a packet crossing between a worker and the control thread.
pub const CONTROL_PACKET_BYTES: usize = 512;

/// A packet copied between a worker and the control thread (not on the forwarding path).
#[derive(Clone)]
pub struct ControlPacket {
    pub port: u16,
    pub len: u16,
    pub bytes: [u8; CONTROL_PACKET_BYTES],
}

impl ControlPacket {
    pub fn new(port: u16, data: &[u8]) -> Self {
        let len = data.len().min(CONTROL_PACKET_BYTES);
        let mut bytes = [0u8; CONTROL_PACKET_BYTES];
        bytes[..len].copy_from_slice(&data[..len]);
        ControlPacket { port, len: len as u16, bytes }
    }
    pub fn data(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The two lock-free rings between one worker and the control thread.
pub struct ControlRings {
    /// Worker -> control: probe replies, ARP/ND the control thread learns from.
    pub to_control: ArrayQueue<ControlPacket>,
    /// Control -> worker: probes, ARP requests and neighbour solicitations to transmit.
    pub from_control: ArrayQueue<ControlPacket>,
}

impl ControlRings {
    pub fn new(capacity: usize) -> Self {
        ControlRings { to_control: ArrayQueue::new(capacity), from_control: ArrayQueue::new(capacity) }
    }
}

/// The sizes a worker is built with (from `[dataplane]`).
#[derive(Clone, Debug)]
pub struct WorkerParams {
    pub id: u16,
    pub burst: usize,
    pub drain_ns: u64,
}

/// One worker's decision state: owned, never shared, no locks.
pub struct Worker {
    pub params: WorkerParams,
    pub snapshot: Arc<Snapshot>,
    source: Arc<SnapshotSource>,
    pub counters: Arc<WorkerCounters>,
    pub rings: Arc<ControlRings>,
}

impl Worker {
    pub fn new(params: WorkerParams, source: Arc<SnapshotSource>, counters: Arc<WorkerCounters>, rings: Arc<ControlRings>) -> Self {
        let snapshot = source.load();
        Worker { params, snapshot, source, counters, rings }
    }

    /// Adopt a newer snapshot if the control thread published one (once per burst).
    #[inline]
    pub fn refresh_snapshot(&mut self) {
        if self.source.generation() != self.snapshot.generation {
            self.snapshot = self.source.load();
        }
    }

    /// Decide what to do with one received frame, rewriting it in place.
    pub fn process<F: Frame>(&mut self, _now: u64, _in_port: u16, _frame: &mut F) -> Action {
        Action::Drop(DropReason::NoService)
    }

    /// Bounded per-burst housekeeping (session expiry).
    pub fn housekeeping(&mut self, _now: u64) {}
}

/// The run-to-completion burst loop of one worker over its queues.
pub struct Pump<Io: PacketIo> {
    pub io: Io,
    pub worker: Worker,
    rx: Burst<Io::Buf>,
    tx: TxBuffers<Io::Buf>,
    /// The worker's counters, held here too so the loop can count while the worker is
    /// borrowed (cloned once at start: no refcount traffic per burst).
    counters: Arc<WorkerCounters>,
    last_drain: u64,
}

/// Per-port transmit buffers and this worker's per-port counters.
struct TxBuffers<B> {
    buffers: Vec<Burst<B>>,
    port_counters: Vec<Arc<PortCounters>>,
    burst: usize,
}

impl<B: Frame> TxBuffers<B> {
    fn enqueue<Io: PacketIo<Buf = B>>(&mut self, io: &mut Io, counters: &WorkerCounters, port: u16, frame: B) {
        let Some(buffer) = self.buffers.get_mut(port as usize) else {
            counters.count_drop(DropReason::TxFull);
            return;
        };
        buffer.push(frame);
        if buffer.len() >= self.burst {
            self.send(io, counters, port);
        }
    }

    fn send<Io: PacketIo<Buf = B>>(&mut self, io: &mut Io, counters: &WorkerCounters, port: u16) {
        let buffer = &mut self.buffers[port as usize];
        let queued = buffer.len();
        if queued == 0 {
            return;
        }
        let bytes: u64 = buffer.iter().map(|f| f.len() as u64).sum();
        // tx_burst frees whatever the queue did not take (DPDK l3fwd send_burst).
        let sent = io.tx_burst(port, buffer);
        buffer.clear();
        counters.tx_packets.add(sent as u64);
        counters.tx_bytes.add(bytes);
        let port_counters = &self.port_counters[port as usize];
        port_counters.tx_packets.add(sent as u64);
        let unsent = (queued - sent.min(queued)) as u64;
        if unsent > 0 {
            counters.drops[DropReason::TxFull as usize].add(unsent);
            port_counters.dropped.add(unsent);
        }
    }
}

impl<Io: PacketIo> Pump<Io> {
    /// `port_counters[p]` is this worker's block for port `p`.
    pub fn new(io: Io, worker: Worker, port_counters: Vec<Arc<PortCounters>>) -> Self {
        let ports = io.ports() as usize;
        assert_eq!(port_counters.len(), ports, "one PortCounters block per port");
        let burst = worker.params.burst.clamp(1, crate::MAX_BURST);
        let tx = TxBuffers { buffers: (0..ports).map(|_| Burst::new()).collect(), port_counters, burst };
        let counters = Arc::clone(&worker.counters);
        Pump { io, worker, rx: Burst::new(), tx, counters, last_drain: 0 }
    }

    /// One pass: receive a burst on every port, decide, buffer for transmit, drain buffers
    /// that are full or older than the drain interval. Returns packets received.
    pub fn poll(&mut self, now: u64) -> usize {
        let Pump { io, worker, rx, tx, counters, last_drain } = self;
        let counters: &WorkerCounters = counters;
        worker.refresh_snapshot();
        let mut received = 0;
        for port in 0..tx.buffers.len() as u16 {
            rx.clear();
            let n = io.rx_burst(port, rx, tx.burst);
            if n == 0 {
                continue;
            }
            received += n;
            counters.bursts.inc();
            counters.rx_packets.add(n as u64);
            tx.port_counters[port as usize].rx_packets.add(n as u64);
            for mut frame in rx.drain(..) {
                counters.rx_bytes.add(frame.len() as u64);
                match worker.process(now, port, &mut frame) {
                    Action::Transmit { port: out } => tx.enqueue(io, counters, out, frame),
                    Action::Consumed => counters.to_control.inc(),
                    Action::Drop(reason) => {
                        counters.count_drop(reason);
                        tx.port_counters[port as usize].dropped.inc();
                    }
                }
            }
        }
        // Packets the control thread asked this worker to send (probes, ARP/ND requests).
        while let Some(packet) = worker.rings.from_control.pop() {
            let Some(mut buf) = io.alloc() else {
                counters.count_drop(DropReason::NoBuffer);
                continue;
            };
            let len = packet.data().len();
            if !buf.append(len) {
                counters.count_drop(DropReason::NoRoom);
                continue;
            }
            buf.data_mut()[..len].copy_from_slice(packet.data());
            tx.enqueue(io, counters, packet.port, buf);
        }
        worker.housekeeping(now);
        if now.saturating_sub(*last_drain) >= worker.params.drain_ns {
            for port in 0..tx.buffers.len() as u16 {
                tx.send(io, counters, port);
            }
            *last_drain = now;
        }
        received
    }

    /// Send everything buffered (drain timer, and before stopping).
    pub fn flush(&mut self) {
        for port in 0..self.tx.buffers.len() as u16 {
            self.tx.send(&mut self.io, &self.counters, port);
        }
    }
}

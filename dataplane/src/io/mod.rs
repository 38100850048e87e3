//! Packet I/O backends. The worker's burst loop ([`crate::worker::Pump`]) is generic over
//! [`PacketIo`]; `pcap` drives it from a capture, `dpdk` from real or virtual DPDK ports.

use crate::frame::Frame;
use arrayvec::ArrayVec;

pub mod pcap;
#[cfg(feature = "dpdk")]
pub mod dpdk;

pub type Burst<B> = ArrayVec<B, { crate::MAX_BURST }>;

/// One worker's view of its queues: one RX and one TX queue on every port.
pub trait PacketIo {
    type Buf: Frame;
    /// Number of ports (indexes 0..n).
    fn ports(&self) -> u16;
    /// Receive up to `max` packets from `port` into `out` (appended). Returns how many.
    fn rx_burst(&mut self, port: u16, out: &mut Burst<Self::Buf>, max: usize) -> usize;
    /// Transmit `bufs` on `port`; the queue takes ownership of what it sends. Whatever it did
    /// not take is freed here. Returns how many were sent.
    fn tx_burst(&mut self, port: u16, bufs: &mut Burst<Self::Buf>) -> usize;
    /// A fresh, empty buffer for a packet we build ourselves (probe, ARP request, ICMP error).
    fn alloc(&mut self) -> Option<Self::Buf>;
}

//! The capture backend: the same worker code over packets held in memory, read from and
//! written to pcap files. `cidlb replay` and the fixture tests drive the worker through it.
//!
//! Time comes from the capture: the worker's `now` for a packet is its timestamp, so session
//! aging in a replay is deterministic.
#![forbid(unsafe_code)]

use super::{Burst, PacketIo};
use crate::frame::{Frame, VecFrame};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use pcap_file::DataLink;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;
use std::time::Duration;

/// A packet of a capture: its bytes and its timestamp in nanoseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedPacket {
    pub port: u16,
    pub timestamp_ns: u64,
    pub bytes: Vec<u8>,
}

/// In-memory queues standing in for NIC queues.
#[derive(Default)]
pub struct CaptureIo {
    ports: u16,
    input: VecDeque<CapturedPacket>,
    /// Everything transmitted, in order, stamped with the timestamp of the packet being
    /// processed when it was sent.
    pub output: Vec<CapturedPacket>,
    current_timestamp_ns: u64,
    /// Frames handed back by tx, reused by rx and alloc so a long replay does not allocate
    /// per packet.
    spare: Vec<VecFrame>,
}

impl CaptureIo {
    pub fn new(ports: u16) -> Self {
        CaptureIo { ports, ..Default::default() }
    }
    pub fn push(&mut self, packet: CapturedPacket) {
        self.input.push_back(packet);
    }
    /// The timestamp of the next packet to be received, if any.
    pub fn next_timestamp_ns(&self) -> Option<u64> {
        self.input.front().map(|p| p.timestamp_ns)
    }
    pub fn pending(&self) -> usize {
        self.input.len()
    }
    fn frame(&mut self) -> VecFrame {
        self.spare.pop().unwrap_or_default()
    }
}

impl PacketIo for CaptureIo {
    type Buf = VecFrame;

    fn ports(&self) -> u16 {
        self.ports
    }

    /// Receives the packets at the head of the capture that arrived on `port` with the same
    /// timestamp (so each burst has one `now`), at most `max`.
    fn rx_burst(&mut self, port: u16, out: &mut Burst<VecFrame>, max: usize) -> usize {
        let mut n = 0;
        let Some(first) = self.input.front() else { return 0 };
        let timestamp = first.timestamp_ns;
        while n < max && out.remaining_capacity() > 0 {
            match self.input.front() {
                Some(p) if p.port == port && p.timestamp_ns == timestamp => {}
                _ => break,
            }
            let Some(packet) = self.input.pop_front() else { break };
            self.current_timestamp_ns = packet.timestamp_ns;
            let mut frame = self.frame();
            frame.set(&packet.bytes);
            out.push(frame);
            n += 1;
        }
        n
    }

    fn tx_burst(&mut self, port: u16, bufs: &mut Burst<VecFrame>) -> usize {
        let n = bufs.len();
        for frame in bufs.drain(..) {
            self.output.push(CapturedPacket { port, timestamp_ns: self.current_timestamp_ns, bytes: frame.data().to_vec() });
            self.spare.push(frame);
        }
        n
    }

    fn alloc(&mut self) -> Option<VecFrame> {
        let mut frame = self.frame();
        frame.set(&[]);
        Some(frame)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a readable pcap file: {message}")]
    Format { path: String, message: String },
    #[error("{path}: link type {link:?} is not Ethernet; cidlb replays Ethernet captures")]
    LinkType { path: String, link: DataLink },
}

/// Read every packet of an Ethernet pcap file, as received on `port`.
pub fn read_pcap(path: &Path, port: u16) -> Result<Vec<CapturedPacket>, CaptureError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| CaptureError::Io { path: name.clone(), source })?;
    let mut reader = PcapReader::new(BufReader::new(file))
        .map_err(|e| CaptureError::Format { path: name.clone(), message: e.to_string() })?;
    let link = reader.header().datalink;
    if link != DataLink::ETHERNET {
        return Err(CaptureError::LinkType { path: name, link });
    }
    let mut packets = Vec::new();
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| CaptureError::Format { path: name.clone(), message: e.to_string() })?;
        packets.push(CapturedPacket {
            port,
            timestamp_ns: u64::try_from(packet.timestamp.as_nanos()).unwrap_or(u64::MAX),
            bytes: packet.data.into_owned(),
        });
    }
    Ok(packets)
}

/// Write packets to an Ethernet pcap file (microsecond timestamps).
pub fn write_pcap(path: &Path, packets: &[CapturedPacket]) -> Result<(), CaptureError> {
    let name = path.display().to_string();
    let file = File::create(path).map_err(|source| CaptureError::Io { path: name.clone(), source })?;
    let header = PcapHeader { datalink: DataLink::ETHERNET, snaplen: 65535, ..Default::default() };
    let mut writer = PcapWriter::with_header(BufWriter::new(file), header)
        .map_err(|e| CaptureError::Format { path: name.clone(), message: e.to_string() })?;
    for p in packets {
        let packet = PcapPacket::new(Duration::from_nanos(p.timestamp_ns), p.bytes.len() as u32, &p.bytes);
        writer.write_packet(&packet).map_err(|e| CaptureError::Format { path: name.clone(), message: e.to_string() })?;
    }
    Ok(())
}

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_share_one_timestamp_and_port() {
        let mut io = CaptureIo::new(2);
        for (port, ts) in [(0, 10), (0, 10), (0, 20), (1, 20)] {
            io.push(CapturedPacket { port, timestamp_ns: ts, bytes: vec![port as u8; 60] });
        }
        let mut burst = Burst::new();
        assert_eq!(io.rx_burst(0, &mut burst, 32), 2);
        burst.clear();
        assert_eq!(io.rx_burst(1, &mut burst, 32), 0, "head packet is on port 0");
        assert_eq!(io.rx_burst(0, &mut burst, 32), 1);
        let n = io.tx_burst(1, &mut burst);
        assert_eq!(n, 1);
        assert_eq!(io.output[0].timestamp_ns, 20);
        assert_eq!(io.output[0].port, 1);
        burst.clear();
        assert_eq!(io.rx_burst(1, &mut burst, 32), 1);
        assert_eq!(io.next_timestamp_ns(), None);
    }

    #[test]
    fn pcap_round_trip() {
        let dir = std::env::temp_dir().join(format!("cidlb-pcap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.pcap");
        let packets = vec![
            CapturedPacket { port: 0, timestamp_ns: 1_000_000_000, bytes: vec![1; 64] },
            CapturedPacket { port: 0, timestamp_ns: 1_500_000_000, bytes: vec![2; 90] },
        ];
        write_pcap(&path, &packets).unwrap();
        assert_eq!(read_pcap(&path, 0).unwrap(), packets);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

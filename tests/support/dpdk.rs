//! Shared pieces of the tests that start the real binary on DPDK virtual devices.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const CIDLB: &str = env!("CARGO_BIN_EXE_cidlb");

/// A scratch directory per test, removed when the test passes (kept for a look when it fails).
pub struct TestDir(pub PathBuf);

impl TestDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cidlb-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        TestDir(dir)
    }
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
    pub fn write(&self, file: &str, text: &str) -> PathBuf {
        let p = self.path(file);
        std::fs::write(&p, text).expect("write test file");
        p
    }
    /// What the child wrote to `stderr.txt` in this directory.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr.txt")).unwrap_or_default()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Free 2 MiB hugepages on a mounted hugetlbfs (0 when none is mounted).
pub fn free_hugepages() -> u64 {
    let mounted = std::fs::read_to_string("/proc/mounts").map(|m| m.lines().any(|l| l.contains(" hugetlbfs "))).unwrap_or(false);
    if !mounted {
        return 0;
    }
    std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// An Ethernet/IPv4/UDP frame from the gateway to 192.0.2.10:5684, `i` in the source port.
pub fn udp_frame(i: u16) -> Vec<u8> {
    use cidlb_dataplane::wire::build::PacketBuilder;
    PacketBuilder::udp4([198, 51, 100, 1 + (i % 200) as u8], [192, 0, 2, 10], 40000 + i, 5684)
        .payload(&[0x17; 20])
        .macs([0x02, 0, 0, 0, 0, 0xfe], [0x02, 0, 0, 0, 0, 0x01])
        .build()
}

/// A pcap file of `frames`, one millisecond apart.
pub fn write_pcap(path: &Path, frames: &[Vec<u8>]) {
    let mut writer = pcap_file::pcap::PcapWriter::new(File::create(path).expect("create pcap")).expect("pcap header");
    for (i, frame) in frames.iter().enumerate() {
        let packet = pcap_file::pcap::PcapPacket::new(Duration::from_millis(i as u64), frame.len() as u32, frame);
        writer.write_packet(&packet).expect("write pcap packet");
    }
}

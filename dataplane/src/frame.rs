//! A packet buffer the pure code can read, rewrite in place, and grow or shrink at either end
//! (IP-in-IP needs headroom). DPDK mbufs and the Vec-backed [`VecFrame`] implement it.
#![forbid(unsafe_code)]

pub trait Frame {
    /// The packet bytes, from the Ethernet header on.
    fn data(&self) -> &[u8];
    fn data_mut(&mut self) -> &mut [u8];
    /// Grow at the front by `n` bytes (uninitialised content); false if there is no headroom.
    fn prepend(&mut self, n: usize) -> bool;
    /// Remove `n` bytes from the front; false if the packet is shorter.
    fn adj(&mut self, n: usize) -> bool;
    /// Grow at the end by `n` bytes; false if there is no tailroom.
    fn append(&mut self, n: usize) -> bool;
    /// Remove `n` bytes from the end; false if the packet is shorter.
    fn trim(&mut self, n: usize) -> bool;
    fn len(&self) -> usize {
        self.data().len()
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Headroom every frame keeps, as DPDK's RTE_PKTMBUF_HEADROOM.
pub const HEADROOM: usize = 128;
/// Room of one buffer, as a DPDK default mbuf data room (2048 + headroom).
pub const BUF_SIZE: usize = 2048 + HEADROOM;

/// A heap frame with DPDK-like headroom and tailroom, for replay and tests.
/// The allocation happens once when the frame is made; the pcap backend recycles them.
#[derive(Clone)]
pub struct VecFrame {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl VecFrame {
    pub fn new() -> Self {
        VecFrame { buf: vec![0; BUF_SIZE], start: HEADROOM, end: HEADROOM }
    }
    /// A frame holding a copy of `bytes` (truncated to the buffer's room).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut f = VecFrame::new();
        f.set(bytes);
        f
    }
    /// Replace the content with `bytes`, headroom restored.
    pub fn set(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - HEADROOM);
        self.start = HEADROOM;
        self.end = HEADROOM + n;
        self.buf[self.start..self.end].copy_from_slice(&bytes[..n]);
    }
    pub fn headroom(&self) -> usize {
        self.start
    }
}

impl Default for VecFrame {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for VecFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VecFrame({} bytes)", self.end - self.start)
    }
}

impl Frame for VecFrame {
    // Inlined as the DPDK frame's are, so that `cidlb-perf micro` and the pcap backend run the
    // worker's code as the DPDK build compiles it (left to the inliner, a change elsewhere in
    // the worker once made `data_mut` a call).
    #[inline(always)]
    fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }
    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }
    fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }
    fn adj(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.start += n;
        true
    }
    fn append(&mut self, n: usize) -> bool {
        if n > self.buf.len() - self.end {
            return false;
        }
        self.end += n;
        true
    }
    fn trim(&mut self, n: usize) -> bool {
        if n > self.end - self.start {
            return false;
        }
        self.end -= n;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn grows_and_shrinks_within_room() {
        let mut f = VecFrame::from_bytes(&[1, 2, 3]);
        assert!(f.prepend(20));
        assert_eq!(f.len(), 23);
        assert_eq!(&f.data()[20..], &[1, 2, 3]);
        assert!(f.adj(20));
        assert!(!f.prepend(HEADROOM + 1));
        assert!(f.trim(1));
        assert_eq!(f.data(), &[1, 2]);
        assert!(!f.trim(3));
        assert!(f.append(2));
        assert_eq!(f.len(), 4);
    }
}

//! Traffic profiles (generated captures) and capture summaries for demos and benchmarks.
#![forbid(unsafe_code)]

pub mod bench;
pub mod micro;
pub mod pktgen;
#[cfg(feature = "dpdk")]
pub mod latency;
pub mod memory;
pub mod profiles;
pub mod summary;

/// A small deterministic PRNG (xorshift64*): profiles are reproducible from a seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

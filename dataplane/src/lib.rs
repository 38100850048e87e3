//! The cidlb packet path.
//!
//! Everything but `io::dpdk` is pure: bytes and a `now` in, verdicts and rewritten bytes out,
//! tested without DPDK. The DPDK and pcap backends drive the very same [`worker`] code.
// `io::dpdk` is the module allowed to opt out (DESIGN.md convention 4), and `hint` (a cache
// prefetch Rust only marks unsafe, and huge-page advice at allocation: see that module).
#![deny(unsafe_code)]
// No `unwrap`/`expect` outside tests: a malformed packet is a counted drop, never a panic. Every
// `.unwrap()` in this crate sits in a `#[cfg(test)]` module (`tests.rs`, `timing.rs`, `mod tests`),
// where a failing unwrap is a failing test; clippy (`cargo clippy --workspace`) enforces the rest.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod classify;
pub mod counters;
pub mod frame;
pub mod hint;
pub mod icmp_error;
pub mod io;
pub mod rewrite;
pub mod select;
pub mod session;
pub mod snapshot;
pub mod tunnel;
pub mod wire;
pub mod worker;

/// Largest burst the worker handles; `[dataplane] burst` is at most this.
pub const MAX_BURST: usize = 256;

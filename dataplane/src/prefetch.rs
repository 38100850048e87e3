//! A cache prefetch hint, for the burst loop's first pass (it names the session bucket a
//! packet will need while earlier packets are still being decided).
//!
//! The one `unsafe` of the pure packet path besides `io::dpdk`: `_mm_prefetch` is a hint that
//! never faults and never changes program state, whatever the address, but Rust marks the
//! intrinsic unsafe to call outside a `#[target_feature(enable = "sse")]` function.
#![allow(unsafe_code)]

/// Ask the CPU to bring the cache line holding `value` into all cache levels.
#[inline(always)]
pub fn read<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads no memory architecturally and cannot fault; `value` is a live
    // reference besides. SSE is part of the x86_64 baseline, so the instruction exists.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

//! Hints to the hardware and the kernel: they change how fast memory is reached, never what
//! it holds, so a hint that is ignored (another CPU, a kernel without transparent huge pages)
//! only costs speed.
//!
//! The one module of the pure packet path besides `io::dpdk` that uses `unsafe`: `_mm_prefetch`
//! never faults and never changes program state, whatever the address, but Rust marks the
//! intrinsic unsafe to call outside a `#[target_feature(enable = "sse")]` function; `madvise`
//! is a system call (at allocation, never on the packet path) over memory we own.
#![allow(unsafe_code)]

/// Ask the CPU to bring the cache line holding `value` into all cache levels.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads no memory architecturally and cannot fault; `value` is a live
    // reference besides. SSE is part of the x86_64 baseline, so the instruction exists.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Size of a transparent huge page on x86_64 Linux.
pub const HUGE_PAGE: usize = 2 << 20;

/// Advise the kernel to back the whole 2 MiB pages inside `memory` with transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`), so that a large table costs one TLB entry per 2 MiB instead of
/// per 4 KiB. Call it on memory not yet touched (a `Vec`'s spare capacity): the pages are then
/// huge from their first fault on when `/sys/kernel/mm/transparent_hugepage/enabled` is
/// `madvise` or `always`. Returns the bytes advised (0 when the range holds no whole huge page or
/// the kernel refused).
pub fn huge_pages<T>(memory: &mut [std::mem::MaybeUninit<T>]) -> usize {
    let start = memory.as_mut_ptr() as usize;
    let end = start + std::mem::size_of_val(memory);
    let first = start.next_multiple_of(HUGE_PAGE);
    let last = end & !(HUGE_PAGE - 1);
    if last <= first {
        return 0;
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: [first, last) lies inside `memory`, which the caller holds exclusively;
        // MADV_HUGEPAGE changes how those pages are backed, never their contents or mapping.
        let result = unsafe { libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE) };
        if result == 0 {
            return last - first;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_page_advice_covers_only_whole_pages_inside() {
        let mut small: Vec<u64> = Vec::with_capacity(16);
        assert_eq!(huge_pages(small.spare_capacity_mut()), 0);
        let mut large: Vec<u8> = Vec::with_capacity(5 * HUGE_PAGE);
        let advised = huge_pages(large.spare_capacity_mut());
        // Whole pages inside the allocation, or nothing where the kernel has no THP.
        assert!(advised == 0 || (advised.is_multiple_of(HUGE_PAGE) && (3 * HUGE_PAGE..=5 * HUGE_PAGE).contains(&advised)), "{advised}");
        large.resize(5 * HUGE_PAGE, 7);
        assert!(large.iter().all(|&b| b == 7));
    }
}

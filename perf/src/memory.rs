//! What this machine's memory costs a session lookup: random reads over a buffer the size of a
//! session table, timed three ways. `cidlb-perf memory` prints them; `bench` measures them at
//! the size of `session-1m`'s table and says under the table how much of that profile's gap
//! to `session-1k-long` they account for (a session table far beyond the caches costs its
//! memory's latency and parallelism, which no code on the core can go below).
//!
//! - *dependent*: each read's address comes from the previous read (a pointer chase over a
//!   random cycle through every line): the latency of one miss, nothing overlapped;
//! - *line*: independent reads of random lines (the address from a generator, not from
//!   memory), as a burst's prefetches issue them: the time per line when the core keeps as
//!   many misses in flight as it can, i.e. latency / parallelism;
//! - *lookup*: the same with the two lines a session hit reads, the metadata line of a random
//!   576-byte bucket and one of its 8 entry lines (`SessionTable`'s layout): the memory floor
//!   of a hit in a table of that size, per packet.
//!
//! The buffer is advised to transparent huge pages like the session table
//! (`cidlb_dataplane::hint::huge_pages`), so the figures include the same TLB behaviour.

use std::time::Instant;

/// Bytes of a cache line.
const LINE: usize = 64;
/// `u64` words in a line.
const WORDS: usize = LINE / 8;
/// Entry lines of a session-table bucket.
const WAYS: usize = 8;
/// Lines of a session-table bucket: one metadata line and its entry lines.
const BUCKET_LINES: usize = 1 + WAYS;
// The probe reads the table's layout: a change of it must change the probe too.
const _: () = assert!(BUCKET_LINES * LINE == WAYS * cidlb_dataplane::session::SessionTable::BYTES_PER_ENTRY);

/// The figures of one buffer size.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemoryProbe {
    /// Buffer size.
    pub bytes: usize,
    /// Bytes of it the kernel was asked to back with huge pages.
    pub huge_page_bytes: usize,
    /// ns per read, each read waiting for the one before.
    pub dependent_ns: f64,
    /// ns per read of a random line, reads independent.
    pub line_ns: f64,
    /// ns per two-line session lookup (metadata line and one entry line of a random bucket),
    /// lookups independent.
    pub lookup_ns: f64,
}

/// The next line of a single cycle through all `lines` lines in random order: `next[i]` is the
/// line after line `i`. Every line is visited once per turn, so a chase of `lines` steps
/// touches the whole buffer.
pub fn random_cycle(lines: usize, seed: u64) -> Vec<u32> {
    let mut order: Vec<u32> = (0..lines as u32).collect();
    let mut rng = crate::Rng::new(seed);
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut next = vec![0u32; lines];
    for (k, &line) in order.iter().enumerate() {
        next[line as usize] = order[(k + 1) % order.len()];
    }
    next
}

/// A random index below `n` from a 64-bit random word (multiply-shift: no division on the
/// timed path).
#[inline(always)]
fn below(random: u64, n: usize) -> usize {
    (((random >> 32) * n as u64) >> 32) as usize
}

/// Measure a buffer of `bytes` (rounded down to whole buckets of 9 lines, at least 2 buckets)
/// with `reads` reads of each kind (at least one). An error for a buffer the probe cannot
/// index (2^32 lines and more) or the machine cannot allocate.
pub fn probe(bytes: usize, reads: usize) -> Result<MemoryProbe, String> {
    let reads = reads.max(1);
    let buckets = (bytes / (BUCKET_LINES * LINE)).max(2);
    let lines = buckets * BUCKET_LINES;
    if lines > u32::MAX as usize {
        return Err(format!("a buffer of {bytes} bytes is too large for the probe (at most {} lines)", u32::MAX));
    }
    let mut buffer: Vec<u64> = Vec::new();
    buffer.try_reserve_exact(lines * WORDS).map_err(|e| format!("cannot allocate {} bytes: {e}", lines * LINE))?;
    let huge_page_bytes = cidlb_dataplane::hint::huge_pages(buffer.spare_capacity_mut());
    buffer.resize(lines * WORDS, 0);
    for (line, next) in random_cycle(lines, 7).into_iter().enumerate() {
        buffer[line * WORDS] = u64::from(next);
    }
    // One turn of the cycle first: every page faulted in and the caches in their steady state.
    let mut at = 0usize;
    for _ in 0..lines {
        at = buffer[at * WORDS] as usize;
    }
    let start = Instant::now();
    for _ in 0..reads {
        at = buffer[at * WORDS] as usize;
    }
    let dependent_ns = start.elapsed().as_secs_f64() * 1e9 / reads as f64;
    std::hint::black_box(at);

    // A linear congruential generator (Knuth's MMIX constants): the next address never waits
    // for memory.
    let step = |x: u64| x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    let mut x = 12_345u64;
    let mut sum = 0u64;
    let start = Instant::now();
    for _ in 0..reads {
        x = step(x);
        sum = sum.wrapping_add(buffer[below(x, lines) * WORDS]);
    }
    let line_ns = start.elapsed().as_secs_f64() * 1e9 / reads as f64;

    let start = Instant::now();
    for _ in 0..reads {
        x = step(x);
        let bucket = below(x, buckets) * BUCKET_LINES;
        let way = (x >> 8) as usize % WAYS;
        sum = sum.wrapping_add(buffer[bucket * WORDS]).wrapping_add(buffer[(bucket + 1 + way) * WORDS]);
    }
    let lookup_ns = start.elapsed().as_secs_f64() * 1e9 / reads as f64;
    std::hint::black_box(sum);
    Ok(MemoryProbe { bytes: lines * LINE, huge_page_bytes, dependent_ns, line_ns, lookup_ns })
}

/// Run `probe` on a thread pinned to `core` (the bench's worker core), so the figures come from
/// the core cidlb's worker runs on. Runs where the scheduler puts it, with a warning, when the
/// affinity cannot be set.
pub fn probe_on_core(core: usize, bytes: usize, reads: usize) -> Result<MemoryProbe, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(move || {
                let pinned = if core < rustix::thread::CpuSet::MAX_CPU {
                    let mut set = rustix::thread::CpuSet::new();
                    set.set(core);
                    rustix::thread::sched_setaffinity(None, &set).map_err(|e| e.to_string())
                } else {
                    Err(format!("no core has an id that high, the most is {}", rustix::thread::CpuSet::MAX_CPU - 1))
                };
                if let Err(why) = pinned {
                    eprintln!("warning: cannot run the memory probe on core {core} ({why}); it runs where the scheduler puts it");
                }
                probe(bytes, reads)
            })
            .join()
            .unwrap_or_else(|_| Err("the probe's thread panicked".into()))
    })
}

/// The Markdown table of `cidlb-perf memory`, cycles at `tsc_hz` (0: ns only).
pub fn render(probes: &[MemoryProbe], tsc_hz: u64) -> String {
    use std::fmt::Write;
    let cycles = |ns: f64| if tsc_hz > 0 { format!(" ({:.0})", ns * tsc_hz as f64 / 1e9) } else { String::new() };
    let mut out = String::from(
        "| buffer | huge pages | dependent read ns (cycles) | independent line ns (cycles) | two-line lookup ns (cycles) |\n|---:|---:|---:|---:|---:|\n",
    );
    for p in probes {
        let _ = writeln!(
            out,
            "| {:.1} MiB | {:.0} MiB | {:.1}{} | {:.1}{} | {:.1}{} |",
            p.bytes as f64 / (1 << 20) as f64,
            p.huge_page_bytes as f64 / (1 << 20) as f64,
            p.dependent_ns,
            cycles(p.dependent_ns),
            p.line_ns,
            cycles(p.line_ns),
            p.lookup_ns,
            cycles(p.lookup_ns)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chase_is_one_cycle_through_every_line() {
        for lines in [1usize, 2, 9, 1000, 4096] {
            let next = random_cycle(lines, 3);
            let mut seen = vec![false; lines];
            let mut at = 0usize;
            for _ in 0..lines {
                assert!(!seen[at], "line {at} visited twice in a turn of {lines}");
                seen[at] = true;
                at = next[at] as usize;
            }
            assert_eq!(at, 0, "a turn ends where it began");
            assert!(seen.iter().all(|&s| s));
        }
        // Random, not the identity's successor.
        let next = random_cycle(4096, 3);
        assert!(next.iter().enumerate().filter(|&(i, &n)| n as usize == i + 1).count() < 64);
    }

    #[test]
    fn a_buffer_beyond_the_probe_is_an_error_not_a_panic() {
        let why = probe(usize::MAX / 2, 1).unwrap_err();
        assert!(why.contains("too large for the probe"), "{why}");
        let why = probe_on_core(CORE_FOR_TESTS, usize::MAX / 2, 1).unwrap_err();
        assert!(why.contains("too large for the probe"), "{why}");
    }

    /// Core 0 exists on every machine.
    const CORE_FOR_TESTS: usize = 0;

    #[test]
    fn below_stays_below() {
        for n in [1usize, 2, 9, 1 << 20, 16_777_215] {
            for x in [0u64, 1, u64::MAX, 0x8000_0000_0000_0000, 0x1234_5678_9abc_def0] {
                assert!(below(x, n) < n);
            }
        }
    }

    #[test]
    fn a_small_probe_reports_its_size_and_finite_times() {
        let p = probe(64 << 10, 20_000).unwrap();
        assert_eq!(p.bytes % (BUCKET_LINES * LINE), 0);
        assert!(p.bytes <= 64 << 10 && p.bytes > 60 << 10, "{p:?}");
        for ns in [p.dependent_ns, p.line_ns, p.lookup_ns] {
            assert!(ns.is_finite() && ns > 0.0, "{p:?}");
        }
        let table = render(&[p], 2_600_000_000);
        assert!(table.lines().nth(2).is_some_and(|row| row.starts_with("| 0.1 MiB") && row.matches('(').count() == 3), "{table}");
    }
}

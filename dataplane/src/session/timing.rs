//! Timing harness for the session table and the keyed hash (no criterion: a plain ignored
//! test keeps the build light on the shared machine). Run:
//!
//! ```text
//! cargo test --release -p cidlb-dataplane --lib session::timing -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Measured numbers are recorded in the report and the module docs of `session`.
use super::*;
use std::hint::black_box;
use std::time::Instant;

const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// A deterministic pseudo-random permutation source (xorshift), so keys are scattered.
fn scramble(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

fn ipv6_key(index: u64) -> FlowKey {
    let random = scramble(index);
    let mut source = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    source[8..].copy_from_slice(&random.to_le_bytes());
    FlowKey::five_tuple_v6(source, [0x20; 16], (random >> 7) as u16, 5684, 17)
}

fn ipv4_key(index: u64) -> FlowKey {
    let random = scramble(index);
    FlowKey::five_tuple_v4((random as u32).to_le_bytes(), [192, 0, 2, 10], (random >> 40) as u16, 5684, 17)
}

/// Nanoseconds this thread has run on a CPU (Linux `/proc/thread-self/schedstat`, first
/// field): unlike wall time it does not count the time other jobs on this shared 2-core machine
/// hold the CPU. Falls back to wall time elsewhere.
fn thread_cpu_nanoseconds() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Best of 60 short runs of `iterations / 40` calls (a few ms each, about a scheduler time
/// slice): on this shared 2-core machine the fastest run is the one no other job interrupted.
fn nanoseconds_per(iterations: usize, mut body: impl FnMut(usize)) -> f64 {
    let per_run = (iterations / 40).max(1);
    let mut counter = 0usize;
    (0..60)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_run {
                body(counter);
                counter = counter.wrapping_add(1);
            }
            start.elapsed().as_nanos() as f64 / per_run as f64
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
#[ignore = "timing; run in release with --nocapture"]
fn hash_cost() {
    let hasher = FlowHasher::new(KEY);
    let reference = siphasher::sip::SipHasher13::new_with_key(&KEY);
    let keys6: Vec<FlowKey> = (0..1024).map(ipv6_key).collect();
    let keys4: Vec<FlowKey> = (0..1024).map(ipv4_key).collect();
    // A 37-byte IPv6 5-tuple as bytes: src 16, dst 16, ports 4, next header 1.
    let tuples: Vec<[u8; 37]> = (0..1024u64)
        .map(|i| {
            let mut bytes = [0u8; 37];
            bytes[..8].copy_from_slice(&scramble(i).to_le_bytes());
            bytes[36] = 17;
            bytes
        })
        .collect();
    let iterations = 4_000_000;
    let crate_37 = nanoseconds_per(iterations, |i| {
        black_box(reference.hash(black_box(&tuples[i & 1023])));
    });
    let words_40 = nanoseconds_per(iterations, |i| {
        black_box(hasher.hash_flow(black_box(&keys6[i & 1023])));
    });
    let words_16 = nanoseconds_per(iterations, |i| {
        black_box(hasher.hash_flow(black_box(&keys4[i & 1023])));
    });
    let words_40_plain = nanoseconds_per(iterations, |i| {
        black_box(hasher.hash_flow_words(black_box(&keys6[i & 1023])));
    });
    let siphash_24 = nanoseconds_per(iterations, |i| {
        black_box(hasher.hash_flow_siphash(black_box(&keys6[i & 1023])));
    });
    let calibration = nanoseconds_per(iterations, |i| {
        black_box(scramble(black_box(i as u64)));
    });
    println!("calibration, one 64-bit mixer (2 multiplies): {calibration:.1} ns");
    println!("SipHash-1-3 word-wise, 40-byte IPv6 key: {words_40_plain:.1} ns");
    println!("siphasher SipHash-1-3, 37-byte IPv6 5-tuple: {crate_37:.1} ns");
    println!("NH + SipHash-1-3 over 24 bytes, IPv6 key (session 24's flow hash): {siphash_24:.1} ns");
    println!("FlowHasher::hash_flow, IPv6 key (NH over 48 bytes + AES-128): {words_40:.1} ns");
    println!("FlowHasher::hash_flow, IPv4 key (AES-128 of 16 bytes): {words_16:.1} ns");
}

fn table_timing(live: usize, capacity: u32, make_key: fn(u64) -> FlowKey, label: &str) {
    let mut table = SessionTable::new(capacity, 15_000_000_000, FlowHasher::new(KEY));
    let keys: Vec<FlowKey> = (0..live as u64).map(make_key).collect();
    // Inserts into an emptied table: wall time, best of several rounds for the small table
    // (too short for the scheduler's CPU-time accounting), CPU time for one round of the big.
    let rounds = if live <= 1 << 12 { 200 } else { 1 };
    let timeout = 15_000_000_000u64;
    let mut insert = f64::INFINITY;
    for round in 0..rounds {
        let now = round * 2 * timeout;
        table.expire_step(now, usize::MAX);
        assert!(table.is_empty());
        let cpu_start = thread_cpu_nanoseconds();
        let start = Instant::now();
        for (index, key) in keys.iter().enumerate() {
            table.insert(*key, SessionValue { node_id: index as u32, aux: 0 }, now);
        }
        let elapsed = match (rounds, cpu_start, thread_cpu_nanoseconds()) {
            (1, Some(before), Some(after)) => after.saturating_sub(before) as f64,
            _ => start.elapsed().as_nanos() as f64,
        };
        insert = insert.min(elapsed / live as f64);
    }
    let now = (rounds - 1) * 2 * timeout + 1_000_000;
    let evicted = live - table.len();
    // Keys are read in order (as a packet's key is at hand), their buckets are scattered by the
    // hash, so the 1 M case misses the caches on the table only.
    let hashes: Vec<u64> = keys.iter().map(|key| table.hash(key)).collect();
    let iterations = 4_000_000;
    let mask = live - 1;
    let hit = nanoseconds_per(iterations, |i| {
        let key = &keys[i & mask];
        black_box(table.lookup(black_box(key), now));
    });
    let hit_hashed = nanoseconds_per(iterations, |i| {
        let index = i & mask;
        black_box(table.lookup_hashed(black_box(&keys[index]), hashes[index], now));
    });
    let miss = nanoseconds_per(iterations, |i| {
        let key = make_key((live + (i & mask)) as u64);
        black_box(table.lookup(black_box(&key), now));
    });
    println!(
        "{label}: {live} live in {} capacity ({} MiB): insert {insert:.1} ns, hit {hit:.1} ns \
         (without hash {hit_hashed:.1} ns), miss {miss:.1} ns; {evicted} evicted at 50% load",
        table.capacity(),
        table.memory_bytes() >> 20
    );
}

#[test]
#[ignore = "timing; run in release with --nocapture"]
fn lookup_and_insert_cost() {
    table_timing(1 << 10, 2 << 10, ipv4_key, "IPv4");
    table_timing(1 << 10, 2 << 10, ipv6_key, "IPv6");
    table_timing(1 << 20, 2 << 20, ipv4_key, "IPv4");
    table_timing(1 << 20, 2 << 20, ipv6_key, "IPv6");
}

//! Session table tests: deterministic time, eviction policy, bounds, and a model check.
// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
use super::*;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

const TICK: u64 = 1 << TICK_SHIFT;
const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

fn hasher() -> FlowHasher {
    FlowHasher::new(KEY)
}

fn key(index: u32) -> FlowKey {
    let [a, b, c, d] = index.to_be_bytes();
    match index % 4 {
        0 => FlowKey::five_tuple_v4([10, b, c, d], [192, 0, 2, 10], 40000 + a as u16, 5684, 17),
        1 => {
            let mut source = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, a, b, c, d];
            source[5] = 1;
            FlowKey::five_tuple_v6(source, [0x20; 16], 1234, 5684, 17)
        }
        2 => FlowKey::label([a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20; 16], index & 0xf_ffff),
        _ => FlowKey::fragment_v4([10, 0, 0, 1], [192, 0, 2, 10], index as u16, 17),
    }
}

fn value(node_id: u32) -> SessionValue {
    SessionValue { node_id, aux: node_id.wrapping_mul(3) }
}

/// Keys that all land in one bucket of `table`, to exercise eviction.
fn keys_in_one_bucket(table: &SessionTable, count: usize) -> Vec<FlowKey> {
    let target = table.bucket_of(&key(0));
    (0..).map(key).filter(|k| table.bucket_of(k) == target).take(count).collect()
}

#[test]
fn layout_is_one_line_of_metadata_and_one_line_per_entry() {
    assert_eq!(std::mem::size_of::<BucketMeta>(), 64);
    assert_eq!(std::mem::size_of::<Entry>(), 64);
    assert_eq!(std::mem::size_of::<Bucket>(), 64 * 9);
    assert_eq!(std::mem::align_of::<Bucket>(), 64);
    assert_eq!(SessionTable::bytes_per_entry(), 72);
    let table = SessionTable::new(1000, 1, hasher());
    assert_eq!(table.capacity(), 1024, "rounded up to a power of two");
    assert_eq!(table.memory_bytes(), 1024 * 72);
    assert_eq!(SessionTable::new(0, 1, hasher()).capacity(), WAYS);
}

#[test]
fn a_large_table_asks_for_huge_pages_and_still_works() {
    // 64 Ki entries: 4.5 MiB, so at least one whole 2 MiB page lies inside the allocation.
    let mut table = SessionTable::new(1 << 16, 10_000_000_000, hasher());
    assert!(table.huge_page_bytes() <= table.memory_bytes());
    assert_eq!(table.huge_page_bytes() % crate::hint::HUGE_PAGE, 0);
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if thp.contains("[always]") || thp.contains("[madvise]") {
        assert!(table.huge_page_bytes() >= crate::hint::HUGE_PAGE, "THP is on ({thp:?}) but nothing was advised");
    }
    for i in 0..1000 {
        table.insert(key(i), value(i % 7), 1);
    }
    assert_eq!(table.len(), 1000);
    assert!((0..1000).all(|i| table.lookup(&key(i), 2) == Some(value(i % 7))));
    // Small tables are left alone.
    assert_eq!(SessionTable::new(64, 1, hasher()).huge_page_bytes(), 0);
}

#[test]
fn insert_lookup_and_lazy_expiry() {
    let timeout = 15_000_000_000;
    let mut table = SessionTable::new(1024, timeout, hasher());
    assert!(table.is_empty());
    assert_eq!(table.insert(key(1), value(7), 0), InsertOutcome::Inserted);
    assert_eq!(table.insert(key(2), value(8), 0), InsertOutcome::Inserted);
    assert_eq!(table.len(), 2);
    assert_eq!(table.lookup(&key(1), 1_000_000_000), Some(value(7)));
    assert_eq!(table.lookup(&key(3), 1_000_000_000), None);
    assert_eq!(table.insert(key(1), value(9), 2_000_000_000), InsertOutcome::Updated);
    assert_eq!(table.lookup(&key(1), 2_000_000_000), Some(value(9)));
    // 20 s later key 2 (last seen at 0) is gone to lookups but still counted until swept.
    assert_eq!(table.lookup(&key(2), 20_000_000_000), None);
    assert_eq!(table.len(), 2);
    // Key 1 was refreshed at 2 s, so it lives until 17 s.
    assert_eq!(table.lookup(&key(1), 16_900_000_000), Some(value(9)));
    assert_eq!(table.expire_step(20_000_000_000, usize::MAX), 1);
    assert_eq!(table.len(), 1);
    // A new session on an expired key reuses its way and reports the expiry.
    assert_eq!(table.lookup(&key(1), 40_000_000_000), None);
    assert_eq!(table.insert(key(1), value(1), 40_000_000_000), InsertOutcome::ReplacedExpired);
    assert_eq!(table.len(), 1);
}

#[test]
fn timeout_boundary_is_exact_in_ticks_and_never_early() {
    let timeout = 1000 * TICK;
    let start = 5 * TICK;
    for (idle, alive) in [
        (0, true),
        (timeout - 1, true),
        (timeout, true),
        (timeout + TICK - 1, true), // same tick as `timeout`
        (timeout + TICK, false),
        (timeout * 3, false),
    ] {
        let mut table = SessionTable::new(64, timeout, hasher());
        table.insert(key(9), value(1), start);
        assert_eq!(table.lookup(&key(9), start + idle).is_some(), alive, "idle {idle} ns");
        let mut table = SessionTable::new(64, timeout, hasher());
        table.insert(key(9), value(1), start);
        assert_eq!(table.expire_step(start + idle, usize::MAX), usize::from(!alive), "sweep, idle {idle} ns");
    }
    // A timeout that is not a whole number of ticks rounds up: never early.
    let mut table = SessionTable::new(64, 10 * TICK + 1, hasher());
    table.insert(key(9), value(1), 0);
    assert!(table.lookup(&key(9), 10 * TICK + 1).is_some());
}

#[test]
fn time_slightly_in_the_past_reads_as_fresh() {
    let mut table = SessionTable::new(64, 10 * TICK, hasher());
    table.insert(key(1), value(1), 100 * TICK);
    assert_eq!(table.lookup(&key(1), 99 * TICK), Some(value(1)));
    // ... and does not move the stamp backwards.
    assert_eq!(table.lookup(&key(1), 110 * TICK), Some(value(1)));
}

#[test]
fn a_probe_miss_inserts_where_it_left_off() {
    let mut table = SessionTable::new(64, 10 * TICK, hasher());
    let (fresh, aged) = (key(4), key(8));
    let at = 1_000 * TICK;
    table.insert(aged, value(1), at);
    let later = at + 20 * TICK;
    let hash = table.hash(&fresh);
    let vacancy = table.probe_hashed(&fresh, hash, later).unwrap_err();
    assert_eq!(vacancy.expired_way(), None);
    assert_eq!(table.insert_vacant(fresh, hash, value(2), later, vacancy), InsertOutcome::Inserted);
    let hash = table.hash(&aged);
    let vacancy = table.probe_hashed(&aged, hash, later).unwrap_err();
    assert!(vacancy.expired_way().is_some(), "an expired session is a vacancy in its own way");
    assert_eq!(table.insert_vacant(aged, hash, value(3), later, vacancy), InsertOutcome::ReplacedExpired);
    assert_eq!(table.probe_hashed(&aged, hash, later), Ok(value(3)));
    assert_eq!(table.lookup(&fresh, later), Some(value(2)));
    assert_eq!(table.len(), 2);
}

/// A vacancy that does not describe the key (here: the key is live) is a caller's bug that a
/// debug build catches, rather than storing the key twice.
#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "insert_vacant needs the vacancy of this key's probe")]
fn a_stale_vacancy_is_caught_in_debug_builds() {
    let mut table = SessionTable::new(64, 10 * TICK, hasher());
    let k = key(4);
    let hash = table.hash(&k);
    let vacancy = table.probe_hashed(&k, hash, TICK).unwrap_err();
    table.insert_vacant(k, hash, value(1), TICK, vacancy);
    table.insert_vacant(k, hash, value(2), TICK, vacancy);
}

#[test]
fn hit_refreshes_last_seen() {
    let mut table = SessionTable::new(64, 10 * TICK, hasher());
    table.insert(key(1), value(1), 0);
    for step in 1..10 {
        assert!(table.lookup(&key(1), step * 8 * TICK).is_some());
    }
    assert_eq!(table.expire_step(80 * TICK, usize::MAX), 0);
}

#[test]
fn full_bucket_evicts_the_least_recently_used_and_says_so() {
    let mut table = SessionTable::new(64, 100 * TICK, hasher());
    let keys = keys_in_one_bucket(&table, WAYS + 3);
    for (i, k) in keys[..WAYS].iter().enumerate() {
        assert_eq!(table.insert(*k, value(i as u32), i as u64 * TICK), InsertOutcome::Inserted);
    }
    // Touch key 0 so key 1 becomes the least recently used.
    assert!(table.lookup(&keys[0], 20 * TICK).is_some());
    assert_eq!(table.insert(keys[WAYS], value(100), 21 * TICK), InsertOutcome::Evicted);
    assert_eq!(table.len(), WAYS);
    assert_eq!(table.lookup(&keys[1], 21 * TICK), None);
    assert!(table.lookup(&keys[0], 21 * TICK).is_some());
    assert!(table.lookup(&keys[WAYS], 21 * TICK).is_some());
    // Once key 2 (stamped at tick 2) has expired, it goes first and is reported as expired.
    assert_eq!(table.insert(keys[WAYS + 1], value(101), 103 * TICK), InsertOutcome::ReplacedExpired);
    assert_eq!(table.lookup(&keys[2], 103 * TICK), None);
    assert_eq!(table.len(), WAYS);
}

#[test]
fn the_oldest_way_is_the_first_of_the_least_recently_used() {
    let meta = |last_seen: [u32; WAYS]| BucketMeta { signatures: [0; WAYS], last_seen, occupied: 0xff };
    assert_eq!(oldest_way(&meta([9, 3, 7, 3, 8, 9, 5, 4]), 10), (1, 7), "ties: the first");
    assert_eq!(oldest_way(&meta([10; WAYS]), 10), (0, 0));
    // Across the wrap of the tick counter, and a stamp in the future reading as fresh.
    assert_eq!(oldest_way(&meta([2, u32::MAX - 1, 1, 0, 12, 3, 3, 1]), 3), (1, 5));
    assert_eq!(oldest_way(&meta([u32::MAX, 0, 5, 5, 5, 5, 5, 5]), 4), (0, 5));
    // Against the plain loop, over many stamps.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10_000 {
        let mut last_seen = [0u32; WAYS];
        for stamp in &mut last_seen {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *stamp = 1000u32.wrapping_sub((state >> 60) as u32);
        }
        let now = 1000 + (state >> 62) as u32;
        let ages = last_seen.map(|l| age(l, now));
        let oldest_age = *ages.iter().max().unwrap();
        let first = ages.iter().position(|&a| a == oldest_age).unwrap();
        assert_eq!(oldest_way(&meta(last_seen), now), (first, oldest_age), "{last_seen:?} at {now}");
    }
}

#[test]
fn update_and_remove_touch_live_sessions_only() {
    let mut table = SessionTable::new(64, 10 * TICK, hasher());
    assert!(!table.update(&key(1), value(2), 0));
    assert!(!table.remove(&key(1), 0));
    table.insert(key(1), value(1), 0);
    assert!(table.update(&key(1), value(2), 5 * TICK));
    assert_eq!(table.lookup(&key(1), 5 * TICK), Some(value(2)));
    assert!(table.remove(&key(1), 5 * TICK));
    assert_eq!(table.len(), 0);
    assert_eq!(table.lookup(&key(1), 5 * TICK), None);
    table.insert(key(2), value(1), 0);
    assert!(!table.update(&key(2), value(3), 20 * TICK), "expired");
    assert!(!table.remove(&key(2), 20 * TICK), "expired: left for the sweep to count");
    assert_eq!(table.expire_step(20 * TICK, usize::MAX), 1);
    assert!(table.is_empty());
}

#[test]
fn ten_times_capacity_stays_within_capacity_and_memory() {
    let mut table = SessionTable::new(4096, 1_000 * TICK, hasher());
    let memory = table.memory_bytes();
    let capacity = table.capacity();
    let mut outcomes = HashMap::new();
    for i in 0..(10 * capacity as u32) {
        let outcome = table.insert(key(i), value(i), u64::from(i) * 1000);
        *outcomes.entry(outcome).or_insert(0usize) += 1;
        assert!(table.len() <= capacity);
    }
    assert_eq!(table.memory_bytes(), memory);
    assert_eq!(table.capacity(), capacity);
    assert_eq!(outcomes.get(&InsertOutcome::Inserted).copied().unwrap_or(0), table.len());
    // Every insert beyond the first `len` pushed out exactly one live session.
    assert_eq!(outcomes.get(&InsertOutcome::Evicted).copied().unwrap_or(0), 10 * capacity - table.len());
    assert_eq!(table.occupied_entries().len(), table.len());
    assert!(table.len() > capacity * 9 / 10, "8-way buckets fill well: {}", table.len());
}

#[test]
fn expire_step_is_bounded_and_eventually_clears_everything() {
    let mut table = SessionTable::new(1024, 10 * TICK, hasher());
    for i in 0..700 {
        table.insert(key(i), value(i), 0);
    }
    let buckets = table.capacity() / WAYS;
    let inserted = table.len();
    assert!(inserted > 600);
    assert_eq!(table.expire_step(5 * TICK, usize::MAX), 0, "nothing expired yet");
    let budget = 5;
    let mut calls = 0;
    let mut total = 0;
    while !table.is_empty() {
        let cleared = table.expire_step(20 * TICK, budget);
        assert!(cleared <= budget * WAYS);
        total += cleared;
        calls += 1;
        assert!(calls <= buckets.div_ceil(budget), "one pass over the buckets clears all");
    }
    assert_eq!(total, inserted);
    assert_eq!(table.expire_step(20 * TICK, 0), 0);
}

#[derive(Clone, Debug)]
enum Operation {
    Insert(u32, u32),
    /// As the classifier's session path: `probe_hashed`, and on a miss `insert_vacant`.
    ProbeInsert(u32, u32),
    Lookup(u32),
    Update(u32, u32),
    Remove(u32),
    Advance(u64),
    Sweep(usize),
}

fn operation(keys: u32) -> impl Strategy<Value = Operation> {
    prop_oneof![
        4 => (0..keys, any::<u32>()).prop_map(|(k, v)| Operation::Insert(k, v)),
        3 => (0..keys, any::<u32>()).prop_map(|(k, v)| Operation::ProbeInsert(k, v)),
        4 => (0..keys).prop_map(Operation::Lookup),
        1 => (0..keys, any::<u32>()).prop_map(|(k, v)| Operation::Update(k, v)),
        1 => (0..keys).prop_map(Operation::Remove),
        2 => (0..4 * TICK).prop_map(Operation::Advance),
        1 => (0usize..3).prop_map(Operation::Sweep),
    ]
}

/// Runs `operations` against the table and a model (`HashMap` of occupied keys with value and
/// last-seen tick), checking every outcome, the LRU / expired-first eviction policy and that
/// `len()` equals the occupied set.
fn check_against_model(capacity: u32, operations: &[Operation]) -> Result<(), TestCaseError> {
    let timeout_ticks = 6u32;
    let mut table = SessionTable::new(capacity, u64::from(timeout_ticks) * TICK, hasher());
    let mut model: HashMap<FlowKey, (SessionValue, u32)> = HashMap::new();
    let mut now_ns = 1_000 * TICK;
    let live = |last: u32, now: u32| age(last, now) <= timeout_ticks as i32;
    for operation in operations {
        let now = tick_of(now_ns);
        if let Operation::Insert(k, _) | Operation::ProbeInsert(k, _) | Operation::Lookup(k) = *operation {
            // As the burst loop does before a lookup or insert: a hint, which must change nothing.
            let hash = table.hash(&key(k));
            table.prefetch(hash);
            // "Sure to miss" only for a key the table does not hold (the model's occupied set).
            if table.prefetch_target(hash, now_ns) {
                prop_assert!(!model.contains_key(&key(k)), "prefetch_target promised a miss for a held key");
            }
        }
        match *operation {
            Operation::Insert(k, v) | Operation::ProbeInsert(k, v) => 'insert: {
                let k = key(k);
                let outcome = if let Operation::ProbeInsert(..) = *operation {
                    let hash = table.hash(&k);
                    match table.probe_hashed(&k, hash, now_ns) {
                        Ok(found) => {
                            // A hit: the model must hold the key live, and the hit refreshes it.
                            match model.get_mut(&k) {
                                Some(entry) if live(entry.1, now) => {
                                    prop_assert_eq!(found, entry.0);
                                    entry.1 = now;
                                }
                                _ => prop_assert!(false, "probe_hashed found a session the model has not live"),
                            }
                            break 'insert;
                        }
                        Err(vacancy) => {
                            let outcome = table.insert_vacant(k, hash, value(v), now_ns, vacancy);
                            prop_assert_ne!(outcome, InsertOutcome::Updated, "a vacancy is never a live session");
                            outcome
                        }
                    }
                } else {
                    table.insert(k, value(v), now_ns)
                };
                match model.get(&k) {
                    Some(&(_, last)) => {
                        let expected = if live(last, now) { InsertOutcome::Updated } else { InsertOutcome::ReplacedExpired };
                        prop_assert_eq!(outcome, expected);
                    }
                    None => {
                        let bucket = table.bucket_of(&k);
                        let neighbours: Vec<FlowKey> =
                            model.keys().filter(|other| table.bucket_of(other) == bucket).copied().collect();
                        if neighbours.len() < WAYS {
                            prop_assert_eq!(outcome, InsertOutcome::Inserted);
                        } else {
                            let occupied: HashSet<FlowKey> = table.occupied_entries().iter().map(|e| e.0).collect();
                            let victims: Vec<FlowKey> =
                                neighbours.iter().filter(|other| !occupied.contains(other)).copied().collect();
                            prop_assert_eq!(victims.len(), 1);
                            let oldest = neighbours.iter().map(|other| age(model[other].1, now)).max().unwrap_or(0);
                            prop_assert_eq!(age(model[&victims[0]].1, now), oldest, "victim is least recently used");
                            let expected = if oldest > timeout_ticks as i32 {
                                InsertOutcome::ReplacedExpired
                            } else {
                                InsertOutcome::Evicted
                            };
                            prop_assert_eq!(outcome, expected);
                            model.remove(&victims[0]);
                        }
                    }
                }
                model.insert(k, (value(v), now));
            }
            Operation::Lookup(k) => {
                let k = key(k);
                let expected = match model.get_mut(&k) {
                    Some(entry) if live(entry.1, now) => {
                        entry.1 = now;
                        Some(entry.0)
                    }
                    _ => None,
                };
                prop_assert_eq!(table.lookup(&k, now_ns), expected);
            }
            Operation::Update(k, v) => {
                let k = key(k);
                let expected = match model.get_mut(&k) {
                    Some(entry) if live(entry.1, now) => {
                        *entry = (value(v), now);
                        true
                    }
                    _ => false,
                };
                prop_assert_eq!(table.update(&k, value(v), now_ns), expected);
            }
            Operation::Remove(k) => {
                let k = key(k);
                let expected = matches!(model.get(&k), Some(&(_, last)) if live(last, now));
                if expected {
                    model.remove(&k);
                }
                prop_assert_eq!(table.remove(&k, now_ns), expected);
            }
            Operation::Advance(delta) => now_ns += delta,
            Operation::Sweep(budget) => {
                let budget = [1, 2, usize::MAX][budget];
                let cleared = table.expire_step(now_ns, budget);
                let occupied: HashSet<FlowKey> = table.occupied_entries().iter().map(|e| e.0).collect();
                let gone: Vec<FlowKey> = model.keys().filter(|k| !occupied.contains(k)).copied().collect();
                prop_assert_eq!(gone.len(), cleared);
                prop_assert!(cleared <= budget.saturating_mul(WAYS));
                for k in gone {
                    prop_assert!(!live(model[&k].1, now), "only expired sessions are swept");
                    model.remove(&k);
                }
                if budget == usize::MAX {
                    prop_assert!(model.values().all(|&(_, last)| live(last, now)), "a full sweep leaves none expired");
                }
            }
        }
        prop_assert_eq!(table.len(), model.len());
        let mut actual = table.occupied_entries();
        actual.sort_by_key(|e| format!("{:?}", e.0));
        let mut expected: Vec<(FlowKey, SessionValue, u32)> = model.iter().map(|(k, v)| (*k, v.0, v.1)).collect();
        expected.sort_by_key(|e| format!("{:?}", e.0));
        prop_assert_eq!(actual, expected);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Two buckets and 40 keys: constant eviction pressure.
    #[test]
    fn matches_model_under_pressure(operations in proptest::collection::vec(operation(40), 1..300)) {
        check_against_model(16, &operations)?;
    }

    /// Room for all keys: mostly inserts, hits and expiry.
    #[test]
    fn matches_model_with_room(operations in proptest::collection::vec(operation(64), 1..300)) {
        check_against_model(256, &operations)?;
    }

    /// No key, value or time panics, and `len()` never exceeds capacity.
    #[test]
    fn no_panic_on_any_input(
        entries in proptest::collection::vec(
            (any::<[u8; 16]>(), any::<[u8; 16]>(), any::<u32>(), any::<u8>(), any::<u64>(), any::<u8>()),
            1..100,
        ),
        hash_key in any::<[u8; 16]>(),
        timeout in any::<u64>(),
        capacity in 0u32..200,
    ) {
        let mut table = SessionTable::new(capacity, timeout, FlowHasher::new(hash_key));
        for (source, destination, number, protocol, now, choice) in entries {
            let flow = match choice % 5 {
                0 => FlowKey::five_tuple_v6(source, destination, number as u16, (number >> 16) as u16, protocol),
                1 => FlowKey::label(source, destination, number),
                2 => FlowKey::fragment_v6(source, destination, number, protocol),
                3 => FlowKey::five_tuple_v4([source[0], source[1], source[2], source[3]], [destination[0]; 4], number as u16, 1, protocol),
                _ => FlowKey::fragment_v4([source[0]; 4], [destination[0]; 4], number as u16, protocol),
            };
            table.insert(flow, value(number), now);
            let _ = table.lookup(&flow, now);
            let _ = table.update(&flow, value(1), now);
            if choice & 0x80 != 0 {
                table.remove(&flow, now);
            }
            table.expire_step(now, usize::from(choice));
            prop_assert!(table.len() <= table.capacity());
            prop_assert_eq!(table.len(), table.occupied_entries().len());
        }
    }
}

#[test]
fn prefetch_target_tells_a_sure_miss() {
    let mut table = SessionTable::new(64, 1_000 * TICK, hasher());
    let now_ns = 10 * TICK;
    let hash = table.hash(&key(1));
    assert!(!table.prefetch_target(hash, now_ns), "a free preferred way promises nothing");
    table.insert(key(1), value(7), now_ns);
    assert!(!table.prefetch_target(hash, now_ns), "a held key is no sure miss");
    // A full bucket of other keys: the way to evict is prefetched and the miss is sure.
    for k in 2..2000 {
        table.insert(key(k), value(k), now_ns);
    }
    let absent = (5000..6000).map(key).find(|k| table.lookup(k, now_ns).is_none()).unwrap();
    let hash = table.hash(&absent);
    let bucket = table.bucket_of(&absent);
    let in_bucket: Vec<FlowKey> = table.occupied_entries().iter().map(|e| e.0).filter(|k| table.bucket_of(k) == bucket).collect();
    assert_eq!(in_bucket.len(), WAYS, "the bucket is full");
    let same_signature = in_bucket.iter().any(|k| signature_of(table.hash(k)) == signature_of(hash));
    assert_eq!(table.prefetch_target(hash, now_ns), !same_signature);
}

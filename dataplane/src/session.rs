//! Per-worker session table with aging: one per worker, owned, no lock, no atomic and no
//! allocation after [`SessionTable::new`] (DESIGN.md: per-worker state is owned; RSS on
//! addresses keeps every packet of a source on one worker, so its sessions are local).
//!
//! # Layout
//!
//! An 8-way set-associative table. A bucket is one 64-byte line of metadata followed by its
//! 8 entries, one 64-byte line each, contiguous (576 bytes):
//!
//! ```text
//! line 0      signatures [u16; 8]   top 16 bits of each entry's flow hash
//!             last_seen  [u32; 8]   coarse time stamps (ticks of 2^20 ns ~ 1.05 ms)
//!             occupied   u8         bit per way
//! line 1..=8  entry: FlowKey (40 bytes) + SessionValue (8 bytes), padded to 64
//! ```
//!
//! A key is stored in its *preferred way* (3 bits of its hash) when that way is free, else in
//! any free way. A lookup reads the preferred way's entry line and the metadata line
//! independently (both addresses come from the hash alone, so on a large table both misses are
//! in flight at once): a hit in the preferred way, the common case while the table is not
//! crowded, costs one memory latency. Otherwise it compares the 8 signatures at once and reads
//! the full key only of a way whose signature matches (a false match costs one more line with
//! probability ~8/65536). Expiry sweeps read only metadata lines, each prefetched a few
//! buckets ahead. The burst loop prefetches both lines after its first pass, for the whole
//! burst back to back ([`SessionTable::prefetch`]), then the one other entry line the lookup or
//! insert will touch ([`SessionTable::prefetch_target`]: a matching way, or the free or least
//! recently used way an insert takes), then does the lookups. On this repo's VM a lookup in a
//! table far beyond the caches costs its page walk more than its lines: reading one line a hit
//! instead of two was no faster there (docs/tuning-log.md, twenty-second round).
//!
//! **Memory: [`SessionTable::BYTES_PER_ENTRY`] = 72 bytes per entry** (64-byte entry line + 8
//! bytes of its bucket's metadata line), i.e. 72 MiB for the default 1 Mi sessions per worker,
//! allocated once. Entries of 48 bytes packed would save 16 bytes each but make half of them
//! straddle two lines.
//!
//! # Time
//!
//! `now_ns` is passed in (DESIGN.md convention 6). Time stamps are stored as u32 ticks of
//! 2^20 ns (~1.05 ms); the timeout is rounded up to whole ticks. An entry is live while
//! `now_tick - last_seen_tick <= timeout_ticks`: it never expires early and at most ~2.1 ms
//! late. Ticks wrap after ~52 days; ages are computed with wrapping arithmetic and read as
//! signed, so wrap-around is harmless as long as the sweep ([`SessionTable::expire_step`])
//! visits every bucket more often than every ~26 days, and a `now` slightly in the past (a
//! reordered capture) reads as "just seen", never as "expired".
//!
//! # Counting
//!
//! [`SessionTable::len`] counts occupied entries: an idle entry past its timeout is already
//! absent to [`SessionTable::lookup`] but stays counted until the sweep clears it (returned by
//! `expire_step`) or a new session takes its way ([`InsertOutcome::ReplacedExpired`]). So a
//! worker keeps `sessions_live`, `sessions_expired` and `sessions_evicted` exact from return
//! values alone.
//!
//! # Speed
//!
//! Measured by the `timing` harness (`cargo test --release -p cidlb-dataplane --lib
//! session::timing -- --ignored --nocapture --test-threads 1`) on this repo's shared 2-core
//! 2.3 GHz Xeon VM, 4 KiB pages, best of 60 short runs, tables at 50% load (capacity 2x live):
//!
//! | live entries     | hit, incl. hash | hit, hash given | miss, incl. hash | insert    |
//! |------------------|-----------------|-----------------|------------------|-----------|
//! | 1 Ki, IPv4       | 18 ns           | 6.2 ns          | 20 ns            | 25 ns     |
//! | 1 Ki, IPv6       | 23 ns           | 6.3 ns          | 23 ns            | 29 ns     |
//! | 1 Mi, IPv4       | 117-136 ns      | 46-60 ns        | 112-121 ns       | 134+ ns   |
//! | 1 Mi, IPv6       | 123-134 ns      | 42-47 ns        | 116-118 ns       | 170+ ns   |
//!
//! The keyed hash is most of the small-table cost (9.6 ns IPv4, 13.2 ns IPv6: see
//! `select::hash`); it is computed once per packet and shared with Maglev. At 1 Mi a hit costs
//! about one memory access (plus a page walk on 4 KiB pages) more than at 1 Ki and no more than
//! a miss: the entry and metadata lines load in parallel. "Hash given" lets consecutive
//! lookups overlap their misses, as a burst loop that hashes the whole burst first would.
//! (These figures predate huge pages.) [`SessionTable::new`] now asks the kernel for transparent
//! huge pages under the buckets before it touches them (`hint::huge_pages`, `madvise`), so one
//! TLB entry covers 2 MiB of buckets instead of 4 KiB: about −10 % per packet on the 1 Mi-session
//! bench profile (`cidlb-perf micro`, paired runs). About 0.9% of inserts evict at 50% load
//! (8-way buckets overflowing).
#![forbid(unsafe_code)]

mod key;
#[cfg(test)]
mod timing;

pub use key::{FlowKey, FlowKind};

use crate::select::FlowHasher;

/// What a session remembers: the node that owns it and one word for the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SessionValue {
    /// The configured node id (not a snapshot index), so sessions survive a config reload.
    pub node_id: u32,
    /// Caller's word, e.g. the flow label last seen on a 5-tuple session (relabel detection).
    pub aux: u32,
}

/// What [`SessionTable::insert`] did. The caller turns it into counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InsertOutcome {
    /// A new session took a free way: `len` grew by one.
    Inserted,
    /// A new session took the way of an expired one (the same key or another): count one
    /// session expired; `len` is unchanged.
    ReplacedExpired,
    /// The key had a live session: its value was replaced and its time refreshed.
    Updated,
    /// The bucket was full of live sessions: the least recently used one was replaced. Count
    /// it as evicted; `len` is unchanged.
    Evicted,
}

/// Ways per bucket. 8 two-byte signatures and 8 four-byte stamps fill one metadata line.
const WAYS: usize = 8;
const WAY_MASK: usize = WAYS - 1;
/// One tick = 2^20 ns (~1.05 ms): fine enough for a 15 s timeout, fits u32 for ~52 days.
const TICK_SHIFT: u32 = 20;
/// How many buckets ahead of its cursor the sweep prefetches a metadata line. The sweep walks
/// the buckets in order, but 576 bytes apart the hardware prefetchers lose it at every 4 KiB
/// page; under `new-flows`' 1 ms timeout, where it runs at its full budget every burst, it
/// waited for memory ~90 cycles a packet (perf). 8 ahead took ~30 of those off, 32 ~60; 64 and
/// 128 no more (the tuning log, twenty-second round). Ahead of the budget's end too: the next
/// call's first buckets are on their way.
const SWEEP_AHEAD: usize = 32;
/// Ages are read as i32; keep timeouts well inside that.
const LONGEST_TIMEOUT_TICKS: u32 = 1 << 30;
/// Signature bits: the top 16 of the flow hash (the low bits pick the bucket).
const SIGNATURE_SHIFT: u32 = 48;
/// Preferred-way bits: 40..43 of the flow hash.
const PREFERRED_WAY_SHIFT: u32 = 40;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct BucketMeta {
    signatures: [u16; WAYS],
    last_seen: [u32; WAYS],
    /// Bit `w` set: way `w` holds a session (live or expired but not yet swept).
    occupied: u8,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Entry {
    key: FlowKey,
    value: SessionValue,
}

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    meta: BucketMeta,
    entries: [Entry; WAYS],
}

const EMPTY_BUCKET: Bucket = Bucket {
    meta: BucketMeta { signatures: [0; WAYS], last_seen: [0; WAYS], occupied: 0 },
    entries: [Entry {
        key: FlowKey::five_tuple_v4([0; 4], [0; 4], 0, 0, 0),
        value: SessionValue { node_id: 0, aux: 0 },
    }; WAYS],
};

#[inline(always)]
fn tick_of(now_ns: u64) -> u32 {
    (now_ns >> TICK_SHIFT) as u32
}

/// Ticks since `last_seen`, signed so that a stamp slightly in the future reads as fresh.
#[inline(always)]
fn age(last_seen: u32, now: u32) -> i32 {
    now.wrapping_sub(last_seen) as i32
}

/// The way a key goes to when it is free: bits 40..43 of the flow hash (neither bucket nor
/// signature bits).
#[inline(always)]
fn preferred_way(hash: u64) -> usize {
    (hash >> PREFERRED_WAY_SHIFT) as usize & WAY_MASK
}

#[inline(always)]
fn signature_of(hash: u64) -> u16 {
    (hash >> SIGNATURE_SHIFT) as u16
}

/// Bit `w` set where `signatures[w] == signature` (the compiler turns it into one vector
/// compare and a move-mask).
#[inline(always)]
fn matching_ways(signatures: &[u16; WAYS], signature: u16) -> u32 {
    let mut mask = 0u32;
    for (way, &candidate) in signatures.iter().enumerate() {
        mask |= u32::from(candidate == signature) << way;
    }
    mask
}

/// The least recently used way of a bucket and its age in ticks (the first of equals).
/// Without a branch on the ages (a maximum, then a compare mask: vector instructions), so a
/// flood of inserts into full buckets costs no mispredicted branch per way.
#[inline(always)]
fn oldest_way(meta: &BucketMeta, now: u32) -> (usize, i32) {
    let mut ages = [0i32; WAYS];
    for (slot, &last_seen) in ages.iter_mut().zip(&meta.last_seen) {
        *slot = age(last_seen, now);
    }
    let oldest_age = ages.iter().copied().fold(i32::MIN, i32::max);
    let mut oldest = 0u32;
    for (way, &age) in ages.iter().enumerate() {
        oldest |= u32::from(age == oldest_age) << way;
    }
    (oldest.trailing_zeros() as usize & WAY_MASK, oldest_age)
}

/// Where a key that [`SessionTable::probe_hashed`] found no live session for stands in its
/// bucket: absent, or in a way whose session expired (not yet swept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vacancy(u8);

impl Vacancy {
    const ABSENT: Vacancy = Vacancy(WAYS as u8);

    /// The way of the key's expired session, if it has one.
    #[inline(always)]
    fn expired_way(self) -> Option<usize> {
        (usize::from(self.0) < WAYS).then_some(usize::from(self.0) & WAY_MASK)
    }
}

/// Bit `w` set where way `w`'s stamp is older than `timeout` ticks, occupied or not. Without a
/// branch per way, so the sweep under short timeouts, where it runs at its full budget every
/// burst, mispredicts nothing (it was ~80 instructions a bucket with a branch per way).
#[inline(always)]
fn expired_ways(meta: &BucketMeta, now: u32, timeout: i32) -> u32 {
    let mut mask = 0u32;
    for (way, &last_seen) in meta.last_seen.iter().enumerate() {
        mask |= u32::from(age(last_seen, now) > timeout) << way;
    }
    mask
}

/// The number of ways set in a bucket's 8-bit way mask: one load, where `count_ones` without
/// the `popcnt` target feature (not in the x86-64 baseline) is a dozen instructions.
const WAYS_SET: [u8; 1 << WAYS] = {
    let mut table = [0u8; 1 << WAYS];
    let mut mask = 0;
    while mask < 1 << WAYS {
        table[mask] = (mask as u32).count_ones() as u8;
        mask += 1;
    }
    table
};

/// The session table of one worker. See the module docs for layout, time and counting.
pub struct SessionTable {
    buckets: Vec<Bucket>,
    /// Bytes of `buckets` advised to transparent huge pages at allocation.
    huge_page_bytes: usize,
    bucket_mask: usize,
    timeout_ticks: u32,
    hasher: FlowHasher,
    live: usize,
    /// Next bucket the sweep visits.
    sweep_cursor: usize,
    timeout_ns: u64,
    /// When `expire_due` last swept.
    last_sweep_ns: u64,
}

impl std::fmt::Debug for SessionTable {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SessionTable")
            .field("capacity", &self.capacity())
            .field("len", &self.live)
            .field("timeout_ticks", &self.timeout_ticks)
            .finish_non_exhaustive()
    }
}

impl SessionTable {
    /// Bytes of memory per entry of capacity (entry line plus its share of the metadata line).
    pub const BYTES_PER_ENTRY: usize = std::mem::size_of::<Bucket>() / WAYS;

    /// A table of `capacity` entries rounded up to a power of two (at least 8, at most 2^31),
    /// with sessions idle longer than `timeout_ns` expiring. Allocates
    /// `capacity * BYTES_PER_ENTRY` bytes, once.
    pub fn new(capacity: u32, timeout_ns: u64, hasher: FlowHasher) -> SessionTable {
        let capacity = capacity.max(WAYS as u32).checked_next_power_of_two().unwrap_or(1 << 31);
        let bucket_count = capacity as usize / WAYS;
        let tick = 1u64 << TICK_SHIFT;
        let timeout_ticks = timeout_ns.div_ceil(tick).min(u64::from(LONGEST_TIMEOUT_TICKS)) as u32;
        // Huge pages first, while the memory is untouched, then the buckets: the table is the
        // worker's largest structure and every lookup lands at a random place in it.
        let mut buckets = Vec::with_capacity(bucket_count);
        let huge_page_bytes = crate::hint::huge_pages(buckets.spare_capacity_mut());
        buckets.resize(bucket_count, EMPTY_BUCKET);
        SessionTable {
            buckets,
            huge_page_bytes,
            bucket_mask: bucket_count - 1,
            timeout_ticks,
            hasher,
            live: 0,
            sweep_cursor: 0,
            timeout_ns,
            last_sweep_ns: 0,
        }
    }

    /// Entries the table holds at most.
    pub fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// Occupied entries (live, or expired and not yet swept or replaced): the `sessions_live`
    /// gauge.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes per entry; see [`SessionTable::BYTES_PER_ENTRY`].
    pub const fn bytes_per_entry() -> usize {
        Self::BYTES_PER_ENTRY
    }

    /// Total bytes held by the table's storage.
    pub fn memory_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }

    /// Bytes of the table the kernel was asked to back with transparent huge pages (whole 2 MiB
    /// pages inside the allocation; 0 for a small table or a kernel that refused). Whether it did
    /// shows in `AnonHugePages` of `/proc/meminfo`.
    pub fn huge_page_bytes(&self) -> usize {
        self.huge_page_bytes
    }

    pub fn hasher(&self) -> &FlowHasher {
        &self.hasher
    }

    /// The flow hash this table uses; pass it to the `*_hashed` methods and to
    /// [`crate::select::MaglevTable::lookup`] to hash a packet once.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        self.hasher.hash_flow(key)
    }

    /// Start loading the two lines a lookup of a key with this `hash` reads first (its
    /// bucket's metadata and the preferred way's entry), so that a lookup a few packets later
    /// finds them in cache. A hint: no effect on the table.
    #[inline(always)]
    pub fn prefetch(&self, hash: u64) {
        if let Some(bucket) = self.buckets.get(hash as usize & self.bucket_mask) {
            crate::hint::prefetch(&bucket.meta);
            crate::hint::prefetch(&bucket.entries[preferred_way(hash)]);
        }
    }

    /// The second step of a prefetch, once the metadata line [`prefetch`](Self::prefetch)
    /// asked for has arrived: start loading the entry line that the lookup (and, on a miss, the
    /// insert) of a key with this `hash` will touch besides the preferred way's. That is a way
    /// whose signature matches, else the way an insert takes: a free one, else the least
    /// recently used, which a new session evicts. Without it, an insert into a full bucket
    /// writes to a line nothing has loaded and waits for memory (the largest part of a spoofed
    /// packet's extra cost under a flood in session 4, docs/tuning-log.md "CID under flood").
    /// A hint: reads the metadata, changes nothing. Returns `true` when the lookup is sure to
    /// miss (the preferred way holds another key and no occupied way carries the key's
    /// signature: a full bucket under a new-flow flood), so that the caller can prefetch what a
    /// miss reads next (the Maglev slot); `false` promises nothing.
    #[inline(always)]
    pub fn prefetch_target(&self, hash: u64, now_ns: u64) -> bool {
        let Some(bucket) = self.buckets.get(hash as usize & self.bucket_mask) else {
            return false;
        };
        let preferred = preferred_way(hash);
        let occupied = u32::from(bucket.meta.occupied);
        let signature = signature_of(hash);
        // The common case first, in few instructions: the preferred way (in cache already)
        // holds the key, or is free for it (then no miss is promised: the key may sit in
        // another way, and an insert needs no other line).
        if occupied & (1 << preferred) == 0 || bucket.meta.signatures[preferred] == signature {
            return false;
        }
        let matching = matching_ways(&bucket.meta.signatures, signature) & occupied;
        let free = !occupied & ((1 << WAYS) - 1);
        let way = if matching != 0 {
            matching.trailing_zeros() as usize
        } else if free != 0 {
            free.trailing_zeros() as usize
        } else {
            oldest_way(&bucket.meta, tick_of(now_ns)).0
        };
        crate::hint::prefetch(&bucket.entries[way & WAY_MASK]);
        matching == 0
    }

    #[inline(always)]
    fn is_live(&self, last_seen: u32, now: u32) -> bool {
        age(last_seen, now) <= self.timeout_ticks as i32
    }

    /// The way holding `key` in bucket `index`, live or not.
    #[inline(always)]
    fn find_way(&self, index: usize, key: &FlowKey, hash: u64) -> Option<usize> {
        let bucket = &self.buckets[index];
        // The preferred way's entry line is read before and independently of the metadata line,
        // so on a large table both misses are in flight at once (see "Layout").
        let preferred = preferred_way(hash);
        let preferred_holds_key = bucket.entries[preferred].key == *key;
        let occupied = u32::from(bucket.meta.occupied);
        if preferred_holds_key && occupied & (1 << preferred) != 0 {
            return Some(preferred);
        }
        let mut candidates = matching_ways(&bucket.meta.signatures, signature_of(hash)) & occupied & !(1 << preferred);
        while candidates != 0 {
            let way = candidates.trailing_zeros() as usize & WAY_MASK;
            candidates &= candidates - 1;
            if bucket.entries[way].key == *key {
                return Some(way);
            }
        }
        None
    }

    /// The live session of `key`, refreshing its last-seen time; `None` if absent or idle
    /// longer than the timeout.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey, now_ns: u64) -> Option<SessionValue> {
        let hash = self.hash(key);
        self.lookup_hashed(key, hash, now_ns)
    }

    /// [`SessionTable::lookup`] with `hash` = [`SessionTable::hash`]`(key)` computed by the
    /// caller (a wrong hash only makes the key not found).
    #[inline]
    pub fn lookup_hashed(&mut self, key: &FlowKey, hash: u64, now_ns: u64) -> Option<SessionValue> {
        self.probe_hashed(key, hash, now_ns).ok()
    }

    /// [`SessionTable::lookup_hashed`] that, on a miss, also says where the key stands, so
    /// that [`SessionTable::insert_vacant`] can insert it without searching its bucket again
    /// (a new flow's second search: ~30 instructions a packet under a new-flow flood).
    #[inline(always)]
    pub(crate) fn probe_hashed(&mut self, key: &FlowKey, hash: u64, now_ns: u64) -> Result<SessionValue, Vacancy> {
        let now = tick_of(now_ns);
        let index = hash as usize & self.bucket_mask;
        let Some(way) = self.find_way(index, key, hash) else {
            return Err(Vacancy::ABSENT);
        };
        let timeout = self.timeout_ticks as i32;
        let bucket = &mut self.buckets[index];
        let age = age(bucket.meta.last_seen[way], now);
        if age > timeout {
            // Lazy expiry: left for the sweep (or a new session) to count and clear.
            return Err(Vacancy(way as u8));
        }
        if age > 0 {
            bucket.meta.last_seen[way] = now;
        }
        Ok(bucket.entries[way].value)
    }

    /// Inserts or replaces the session of `key`. When its bucket is full, an expired way is
    /// reused first, else the least recently used live session is evicted.
    #[inline]
    pub fn insert(&mut self, key: FlowKey, value: SessionValue, now_ns: u64) -> InsertOutcome {
        let hash = self.hash(&key);
        self.insert_hashed(key, hash, value, now_ns)
    }

    /// [`SessionTable::insert`] with the caller's hash (see [`SessionTable::lookup_hashed`];
    /// the hash must be the right one, or the key is stored where lookups will not find it).
    pub fn insert_hashed(&mut self, key: FlowKey, hash: u64, value: SessionValue, now_ns: u64) -> InsertOutcome {
        let now = tick_of(now_ns);
        let index = hash as usize & self.bucket_mask;
        if let Some(way) = self.find_way(index, &key, hash) {
            let live = self.is_live(self.buckets[index].meta.last_seen[way], now);
            let bucket = &mut self.buckets[index];
            bucket.meta.last_seen[way] = now;
            bucket.entries[way].value = value;
            return if live { InsertOutcome::Updated } else { InsertOutcome::ReplacedExpired };
        }
        self.insert_new(index, key, hash, value, now)
    }

    /// Inserts `key`, which [`SessionTable::probe_hashed`] has just reported missing with
    /// `vacancy`, the table unchanged since: the same as [`SessionTable::insert_hashed`]
    /// without its search of the bucket, so never [`InsertOutcome::Updated`]. A `vacancy` from
    /// another key or an older probe may store the key twice: the caller keeps to the rule.
    #[inline(always)]
    pub(crate) fn insert_vacant(&mut self, key: FlowKey, hash: u64, value: SessionValue, now_ns: u64, vacancy: Vacancy) -> InsertOutcome {
        let now = tick_of(now_ns);
        let index = hash as usize & self.bucket_mask;
        debug_assert!(
            match self.find_way(index, &key, hash) {
                None => vacancy == Vacancy::ABSENT,
                Some(way) => {
                    !self.is_live(self.buckets[index].meta.last_seen[way], now) && vacancy.expired_way() == Some(way)
                }
            },
            "insert_vacant needs the vacancy of this key's probe, the table unchanged since"
        );
        if let Some(way) = vacancy.expired_way() {
            let bucket = &mut self.buckets[index];
            bucket.meta.last_seen[way] = now;
            bucket.entries[way].value = value;
            return InsertOutcome::ReplacedExpired;
        }
        self.insert_new(index, key, hash, value, now)
    }

    /// The insert of a key that bucket `index` does not hold: a free way (the preferred one
    /// first), else the least recently used (expired or evicted).
    #[inline(always)]
    fn insert_new(&mut self, index: usize, key: FlowKey, hash: u64, value: SessionValue, now: u32) -> InsertOutcome {
        let timeout = self.timeout_ticks as i32;
        let bucket = &mut self.buckets[index];
        let free = !u32::from(bucket.meta.occupied) & ((1 << WAYS) - 1);
        let preferred = preferred_way(hash);
        let (way, outcome) = if free & (1 << preferred) != 0 {
            self.live += 1;
            (preferred, InsertOutcome::Inserted)
        } else if free != 0 {
            self.live += 1;
            (free.trailing_zeros() as usize & WAY_MASK, InsertOutcome::Inserted)
        } else {
            // Full: the oldest way. If anything in the bucket expired, the oldest did.
            let (oldest, oldest_age) = oldest_way(&bucket.meta, now);
            let outcome = if oldest_age > timeout { InsertOutcome::ReplacedExpired } else { InsertOutcome::Evicted };
            (oldest, outcome)
        };
        bucket.meta.signatures[way] = signature_of(hash);
        bucket.meta.last_seen[way] = now;
        bucket.meta.occupied |= 1 << way;
        bucket.entries[way] = Entry { key, value };
        outcome
    }

    /// Replaces the value of a live session and refreshes it (e.g. its node went down and it was
    /// rescheduled, or its flow label changed). `false` if `key` has no live session.
    pub fn update(&mut self, key: &FlowKey, value: SessionValue, now_ns: u64) -> bool {
        let hash = self.hash(key);
        let now = tick_of(now_ns);
        let index = hash as usize & self.bucket_mask;
        match self.find_way(index, key, hash) {
            Some(way) if self.is_live(self.buckets[index].meta.last_seen[way], now) => {
                let bucket = &mut self.buckets[index];
                bucket.meta.last_seen[way] = now;
                bucket.entries[way].value = value;
                true
            }
            _ => false,
        }
    }

    /// Removes the live session of `key`; `true` if there was one. An expired session is left
    /// for the sweep, which counts it as expired.
    pub fn remove(&mut self, key: &FlowKey, now_ns: u64) -> bool {
        let hash = self.hash(key);
        let now = tick_of(now_ns);
        let index = hash as usize & self.bucket_mask;
        match self.find_way(index, key, hash) {
            Some(way) if self.is_live(self.buckets[index].meta.last_seen[way], now) => {
                self.buckets[index].meta.occupied &= !(1 << way);
                self.live -= 1;
                true
            }
            _ => false,
        }
    }

    /// Sweeps at most `bucket_budget` buckets (8 entries each) from where the last call stopped,
    /// clearing sessions idle longer than the timeout; returns how many it cleared. Calling it
    /// once per burst with a small budget keeps `len()` close to the live count at a bounded,
    /// predictable cost (reads metadata lines only, each prefetched `SWEEP_AHEAD` buckets ahead);
    /// `capacity / 8 / budget` calls sweep it all.
    /// Out of line: inlined into the burst loop (it is called once a burst), it costs the loop
    /// registers and the CID path a few instructions a packet.
    #[inline(never)]
    pub fn expire_step(&mut self, now_ns: u64, bucket_budget: usize) -> usize {
        let now = tick_of(now_ns);
        let timeout = self.timeout_ticks as i32;
        let mut cleared = 0;
        for _ in 0..bucket_budget.min(self.buckets.len()) {
            if let Some(ahead) = self.buckets.get((self.sweep_cursor + SWEEP_AHEAD) & self.bucket_mask) {
                crate::hint::prefetch(&ahead.meta);
            }
            let meta = &mut self.buckets[self.sweep_cursor].meta;
            let occupied = u32::from(meta.occupied);
            let expired = expired_ways(meta, now, timeout) & occupied;
            meta.occupied = (occupied & !expired) as u8;
            cleared += usize::from(WAYS_SET[expired as usize & ((1 << WAYS) - 1)]);
            self.sweep_cursor = (self.sweep_cursor + 1) & self.bucket_mask;
        }
        self.live -= cleared;
        cleared
    }

    /// Sweep at the pace that visits every bucket twice per timeout, at most `max_buckets`
    /// at a time: the work follows time, not the packet rate, so a busy worker spends almost
    /// nothing per burst and an idle one nothing at all. Returns how many sessions it cleared.
    pub fn expire_due(&mut self, now_ns: u64, max_buckets: usize) -> usize {
        let period = (self.timeout_ns / 2).max(1);
        let elapsed = now_ns.saturating_sub(self.last_sweep_ns);
        let due = (u128::from(elapsed) * self.buckets.len() as u128 / u128::from(period)) as usize;
        if due == 0 {
            return 0;
        }
        self.last_sweep_ns = now_ns;
        self.expire_step(now_ns, due.min(max_buckets))
    }

    /// The bucket index of `key` (for tests that model the eviction policy).
    #[cfg(test)]
    fn bucket_of(&self, key: &FlowKey) -> usize {
        self.hash(key) as usize & self.bucket_mask
    }

    /// Every occupied key with its value and last-seen tick (for tests).
    #[cfg(test)]
    fn occupied_entries(&self) -> Vec<(FlowKey, SessionValue, u32)> {
        let mut all = Vec::new();
        for bucket in &self.buckets {
            for way in 0..WAYS {
                if bucket.meta.occupied & (1 << way) != 0 {
                    all.push((bucket.entries[way].key, bucket.entries[way].value, bucket.meta.last_seen[way]));
                }
            }
        }
        all
    }
}

#[cfg(test)]
mod tests;

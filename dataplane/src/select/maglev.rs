//! Weighted Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software
//! Network Load Balancer", NSDI 2016, §3.4).
//!
//! Each node walks its own permutation of the table slots and claims the next free slot when
//! its turn comes, until the table is full. A node's permutation is `offset + j * skip (mod M)`
//! with `offset` and `skip` from the keyed hash of its *node id* (not its position in the
//! list), so adding or removing one node disturbs the others' slots minimally (§3.4: about
//! `1/N` of the slots move).
//!
//! Weights follow Katran's `MaglevV2`: every round each node adds its weight to a running sum
//! and takes a turn each time that sum reaches the largest weight, so a node of weight `w`
//! claims about `w / Σw` of the slots. Weight 0 takes no slot.
#![forbid(unsafe_code)]

use super::FlowHasher;

/// The Maglev paper's suggestion for up to a few hundred nodes (§3.4: `M` prime, `M >> N`; the
/// paper uses 65537 in its evaluation, §5.3).
pub const DEFAULT_TABLE_SIZE: u32 = 65_537;

/// The lookup table: slot -> index into the node slice given to [`Maglev::build`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MaglevTable {
    /// Empty when no node has weight, else exactly `size` entries.
    slots: Vec<u16>,
}

/// Namespace for the population algorithm.
#[derive(Debug)]
pub enum Maglev {}

fn is_prime(number: u32) -> bool {
    if number < 2 {
        return false;
    }
    let mut divisor = 2u32;
    while divisor.saturating_mul(divisor) <= number {
        if number.checked_rem(divisor) == Some(0) {
            return false;
        }
        divisor += 1;
    }
    true
}

/// The smallest prime `>= number` (at least 2). The permutation needs `M` prime so that every
/// `skip` in `1..M` is coprime with it and each permutation visits every slot (§3.4).
fn prime_at_least(number: u32) -> u32 {
    let mut candidate = number.max(2);
    while !is_prime(candidate) {
        candidate += 1;
    }
    candidate
}

impl Maglev {
    /// Populates a table of `table_size` slots (rounded up to the next prime if it is not one,
    /// so every balancer given the same config still builds the same table) from
    /// `(node id, weight)` pairs. Slot values index `nodes`. Only the first 65536 nodes can be
    /// referenced; later ones get no slot. Nodes with weight 0 get no slot; with no weighted
    /// node the table is empty and [`MaglevTable::lookup`] returns `None`.
    ///
    /// Cost: `O(M log M)` expected for the free-slot search plus `O(N)` per round (control
    /// plane only; ~1 ms for 65537 slots and 16 nodes).
    pub fn build(nodes: &[(u32, u32)], table_size: u32, hasher: &FlowHasher) -> MaglevTable {
        let size = prime_at_least(table_size);
        let eligible: Vec<(u16, u64)> = nodes
            .iter()
            .take(usize::from(u16::MAX) + 1)
            .enumerate()
            .filter(|(_, &(_, weight))| weight > 0)
            // The index fits: `take` above bounds it by u16::MAX.
            .map(|(index, &(_, weight))| (index as u16, u64::from(weight)))
            .collect();
        if eligible.is_empty() {
            return MaglevTable { slots: Vec::new() };
        }
        let modulus = u64::from(size);
        // Per node: (next slot of its permutation, its skip). §3.4: offset = h1(name) mod M,
        // skip = h2(name) mod (M - 1) + 1; h1 and h2 are the two halves of one keyed hash.
        let mut walks: Vec<(u64, u64)> = eligible
            .iter()
            .map(|&(index, _)| {
                let hash = hasher.hash_node(nodes[usize::from(index)].0);
                let offset = (hash & 0xffff_ffff) % modulus;
                let skip = (hash >> 32) % (modulus - 1) + 1;
                (offset, skip)
            })
            .collect();
        let largest_weight = eligible.iter().map(|&(_, weight)| weight).max().unwrap_or(1);
        let mut accumulated = vec![0u64; eligible.len()];
        const EMPTY: u32 = u32::MAX;
        let mut slots = vec![EMPTY; size as usize];
        let mut filled = 0u32;
        'rounds: loop {
            for (node, &(index, weight)) in eligible.iter().enumerate() {
                accumulated[node] += weight;
                if accumulated[node] < largest_weight {
                    continue;
                }
                accumulated[node] -= largest_weight;
                let (next, skip) = &mut walks[node];
                // Each permutation visits every slot and the table is not full yet, so this
                // finds a free one.
                while slots[*next as usize] != EMPTY {
                    *next += *skip;
                    if *next >= modulus {
                        *next -= modulus;
                    }
                }
                slots[*next as usize] = u32::from(index);
                filled += 1;
                if filled == size {
                    break 'rounds;
                }
            }
        }
        MaglevTable { slots: slots.into_iter().map(|index| index as u16).collect() }
    }
}

impl MaglevTable {
    /// The node index for a flow hash ([`FlowHasher::hash_flow`]), `None` if no node has weight.
    ///
    /// The slot is `(hash >> 32) * M >> 32` (Lemire's multiply-shift range reduction) rather
    /// than `hash % M`: one multiply instead of a 64-bit division on the packet path, uniform to
    /// within `M / 2^32`.
    #[inline]
    pub fn lookup(&self, hash: u64) -> Option<u16> {
        self.slots.get(self.slot_of(hash)).copied()
    }

    /// Start loading the slot [`lookup`](Self::lookup) of `hash` reads. A hint: no effect.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if let Some(value) = self.slots.get(self.slot_of(hash)) {
            crate::hint::prefetch(value);
        }
    }

    /// The slot index of `hash`: `(hash >> 32) * M >> 32` (see [`lookup`](Self::lookup)).
    #[inline(always)]
    fn slot_of(&self, hash: u64) -> usize {
        (((hash >> 32) * self.slots.len() as u64) >> 32) as usize
    }

    /// All slots, for stats and tests.
    pub fn slots(&self) -> &[u16] {
        &self.slots
    }

    /// Number of slots (a prime), 0 when empty.
    pub fn size(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    fn hasher() -> FlowHasher {
        FlowHasher::new(KEY)
    }

    /// Slot -> node id, to compare tables built from different node lists.
    fn owners(nodes: &[(u32, u32)], table: &MaglevTable) -> Vec<u32> {
        table.slots().iter().map(|&index| nodes[usize::from(index)].0).collect()
    }

    fn shares(nodes: &[(u32, u32)], table: &MaglevTable) -> Vec<usize> {
        let mut counts = vec![0usize; nodes.len()];
        for &index in table.slots() {
            counts[usize::from(index)] += 1;
        }
        counts
    }

    fn assert_balanced(nodes: &[(u32, u32)], table: &MaglevTable) {
        let total_weight: u64 = nodes.iter().map(|&(_, weight)| u64::from(weight)).sum();
        let size = table.size() as f64;
        for (count, &(id, weight)) in shares(nodes, table).iter().zip(nodes) {
            let expected = size * weight as f64 / total_weight as f64;
            assert!(
                (*count as f64 - expected).abs() <= expected * 0.01 + 1.0,
                "node {id} weight {weight}: {count} slots, expected {expected:.1}"
            );
        }
    }

    fn moved(before: &[u32], after: &[u32]) -> f64 {
        before.iter().zip(after).filter(|(a, b)| a != b).count() as f64 / before.len() as f64
    }

    #[test]
    fn primes() {
        assert_eq!(prime_at_least(65_537), 65_537);
        assert_eq!(prime_at_least(65_536), 65_537);
        assert_eq!(prime_at_least(0), 2);
        assert_eq!(prime_at_least(252), 257);
        assert!(!is_prime(65_535));
    }

    #[test]
    fn empty_and_all_zero_give_none() {
        for nodes in [&[][..], &[(1, 0), (2, 0)][..]] {
            let table = Maglev::build(nodes, DEFAULT_TABLE_SIZE, &hasher());
            assert!(table.is_empty());
            assert_eq!(table.lookup(0), None);
            assert_eq!(table.lookup(u64::MAX), None);
        }
    }

    #[test]
    fn zero_weight_gets_no_slot_and_lookup_covers_the_table() {
        let nodes = [(10, 1), (11, 0), (12, 3)];
        let table = Maglev::build(&nodes, 251, &hasher());
        assert_eq!(table.size(), 251);
        assert!(table.slots().iter().all(|&index| index != 1));
        assert_eq!(table.lookup(0), Some(table.slots()[0]));
        assert_eq!(table.lookup(u64::MAX), Some(table.slots()[250]));
        assert_balanced(&nodes, &table);
    }

    #[test]
    fn equal_weights_balance_within_one_percent() {
        for count in 2..=16u32 {
            let nodes: Vec<(u32, u32)> = (0..count).map(|i| (100 + i, 1)).collect();
            let table = Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher());
            assert_eq!(table.size(), 65_537);
            assert_balanced(&nodes, &table);
        }
    }

    #[test]
    fn weighted_shares_follow_weights() {
        for count in 2..=16u32 {
            let nodes: Vec<(u32, u32)> = (0..count).map(|i| (i * 7 + 1, 1 + (i * 5) % 9)).collect();
            let table = Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher());
            assert_balanced(&nodes, &table);
        }
        // A heavy weight against light ones, and large weights that must not overflow.
        let nodes = [(1, 100), (2, 1), (3, 1)];
        assert_balanced(&nodes, &Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher()));
        let nodes = [(1, u32::MAX), (2, u32::MAX / 2)];
        assert_balanced(&nodes, &Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher()));
    }

    #[test]
    fn removing_or_adding_one_node_moves_about_one_nth() {
        for count in 3..=16u32 {
            let nodes: Vec<(u32, u32)> = (0..count).map(|i| (1000 + i * 3, 1)).collect();
            let full = owners(&nodes, &Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher()));
            // Remove a node in the middle: list positions shift, permutations do not.
            let mut fewer = nodes.clone();
            fewer.remove(count as usize / 2);
            let reduced = owners(&fewer, &Maglev::build(&fewer, DEFAULT_TABLE_SIZE, &hasher()));
            let share = 1.0 / f64::from(count);
            let removed = moved(&full, &reduced);
            assert!(removed >= share * 0.99 && removed < share * 1.5, "{count} nodes, remove: {removed:.4} vs 1/N {share:.4}");
            // Adding it back is the same change seen from the other side.
            let mut more = nodes.clone();
            more.push((5000, 1));
            let grown = owners(&more, &Maglev::build(&more, DEFAULT_TABLE_SIZE, &hasher()));
            let share = 1.0 / f64::from(count + 1);
            let added = moved(&full, &grown);
            assert!(added >= share * 0.99 && added < share * 1.5, "{count} nodes, add: {added:.4} vs 1/(N+1) {share:.4}");
        }
    }

    #[test]
    fn order_of_the_node_list_does_not_matter_to_owners() {
        let nodes: Vec<(u32, u32)> = (0..8).map(|i| (i + 1, 1)).collect();
        let mut reversed = nodes.clone();
        reversed.reverse();
        let forward = owners(&nodes, &Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher()));
        let backward = owners(&reversed, &Maglev::build(&reversed, DEFAULT_TABLE_SIZE, &hasher()));
        // Turn order differs, so a few contested slots may differ; nearly all agree.
        assert!(moved(&forward, &backward) < 0.05, "{}", moved(&forward, &backward));
    }

    #[test]
    fn deterministic_per_key_and_different_across_keys() {
        let nodes: Vec<(u32, u32)> = (0..5).map(|i| (i + 1, 1 + i)).collect();
        let one = Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &hasher());
        assert_eq!(one, Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &FlowHasher::new(KEY)));
        let other = Maglev::build(&nodes, DEFAULT_TABLE_SIZE, &FlowHasher::new([9; 16]));
        assert!(moved(&owners(&nodes, &one), &owners(&nodes, &other)) > 0.5);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_node_list_fills_the_table(
            nodes in proptest::collection::vec((any::<u32>(), 0u32..20), 0..24),
            size in 2u32..3000,
            key in any::<[u8; 16]>(),
        ) {
            let table = Maglev::build(&nodes, size, &FlowHasher::new(key));
            if nodes.iter().all(|&(_, weight)| weight == 0) {
                prop_assert!(table.is_empty());
            } else {
                prop_assert!(table.size() as u32 >= size && is_prime(table.size() as u32));
                for &index in table.slots() {
                    prop_assert!(nodes[usize::from(index)].1 > 0);
                }
                prop_assert!(table.lookup(u64::from(key[0]).wrapping_mul(0x0123_4567_89ab_cdef)).is_some());
            }
        }
    }
}

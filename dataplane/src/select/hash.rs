//! Keyed hashing for every stateless choice: flow -> Maglev slot, flow -> session bucket and
//! node id -> Maglev permutation.
//!
//! Why keyed: an unkeyed hash lets anyone compute which bucket or node a 5-tuple lands on and
//! aim a flood of flows at one session bucket (evicting its live sessions) or one node. With
//! SipHash keyed by the cluster-wide `hash_key`, predicting that needs the key. The key is
//! equal on every balancer of a cluster, so all of them pick the same node for a flow.
//!
//! Why SipHash-1-3 (Aumasson & Bernstein, "SipHash: a fast short-input PRF", 2012; 1 compression
//! round, 3 finalisation rounds, the variant Rust's std `HashMap` uses): a PRF, not just a
//! well-mixed function, so seed-independent multicollisions (as for MurmurHash/CityHash) are
//! not known. The full 2-4 variant costs about twice as much for no practical gain here.
//!
//! Cost, measured by `session::timing` (release, this repo's shared 2-core 2.3 GHz Xeon VM,
//! best of 60 runs; for scale a 2-multiply 64-bit mixer costs 1.0 ns there):
//!
//! | message                                                | ns   |
//! |--------------------------------------------------------|------|
//! | `siphasher` SipHash-1-3, 37-byte IPv6 5-tuple          | 14.2 |
//! | SipHash-1-3 word-wise, the 40-byte IPv6 key            | 15.5 |
//! | NH + SipHash-1-3 over 24 bytes, IPv6 key (used)        | 13.5 |
//! | SipHash-1-3 word-wise, the 16-byte IPv4 key (used)     |  9.6 |
//!
//! That is a quarter to a third of the ~40 ns per-packet budget, so the trade-off is: keep the
//! hash keyed and strong (an attacker must not aim flows at one bucket or node), make the
//! message compact (16 bytes for IPv4, 24 after NH for IPv6), and hash each packet exactly
//! once ([`FlowHasher::hash_flow`]), reusing that one value for the session bucket, its
//! signature and, on a miss, the Maglev slot (`SessionTable::lookup_hashed` /
//! `insert_hashed`, [`crate::select::MaglevTable::lookup`]).
#![forbid(unsafe_code)]

use crate::session::FlowKey;

/// Keyed SipHash-1-3 over flow keys and node ids; cheap to clone (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FlowHasher {
    /// The SipHash initial state `v0..v3` after mixing in the key (the constants of the SipHash
    /// paper §2, "somepseudorandomlygeneratedbytes"), precomputed once.
    initial_state: [u64; 4],
    /// NH subkeys for IPv6 addresses (see [`FlowHasher::hash_flow`]).
    compression_key: [u64; 4],
}

impl std::fmt::Debug for FlowHasher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key: it is what keeps buckets unpredictable.
        formatter.write_str("FlowHasher { .. }")
    }
}

/// One SipRound (SipHash paper §2) on the state held in four locals.
macro_rules! sip_round {
    ($v0:ident, $v1:ident, $v2:ident, $v3:ident) => {
        $v0 = $v0.wrapping_add($v1);
        $v1 = $v1.rotate_left(13);
        $v1 ^= $v0;
        $v0 = $v0.rotate_left(32);
        $v2 = $v2.wrapping_add($v3);
        $v3 = $v3.rotate_left(16);
        $v3 ^= $v2;
        $v0 = $v0.wrapping_add($v3);
        $v3 = $v3.rotate_left(21);
        $v3 ^= $v0;
        $v2 = $v2.wrapping_add($v1);
        $v1 = $v1.rotate_left(17);
        $v1 ^= $v2;
        $v2 = $v2.rotate_left(32);
    };
}

impl FlowHasher {
    /// From the 16-byte `hash_key` of the config (two little-endian words, as `siphasher`).
    pub fn new(key: [u8; 16]) -> FlowHasher {
        let key0 = u64::from_le_bytes([key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7]]);
        let key1 = u64::from_le_bytes([key[8], key[9], key[10], key[11], key[12], key[13], key[14], key[15]]);
        let mut hasher = FlowHasher {
            initial_state: [
                key0 ^ 0x736f_6d65_7073_6575,
                key1 ^ 0x646f_7261_6e64_6f6d,
                key0 ^ 0x6c79_6765_6e65_7261,
                key1 ^ 0x7465_6462_7974_6573,
            ],
            compression_key: [0; 4],
        };
        // Derived subkeys (a PRF of the key with a 24-byte domain no other message uses).
        let mut compression_key = [0u64; 4];
        for (index, subkey) in compression_key.iter_mut().enumerate() {
            *subkey = hasher.sip13_words([index as u64, 0x6e68, 0]);
        }
        hasher.compression_key = compression_key;
        hasher
    }

    /// SipHash-1-3 of the little-endian bytes of `words`; equal to `siphasher`'s
    /// `SipHasher13::hash` over those `8 * N` bytes (tested), without its byte buffering.
    #[inline(always)]
    fn sip13_words<const N: usize>(&self, words: [u64; N]) -> u64 {
        let [mut v0, mut v1, mut v2, mut v3] = self.initial_state;
        let mut index = 0;
        while index < N {
            let word = words[index];
            v3 ^= word;
            sip_round!(v0, v1, v2, v3);
            v0 ^= word;
            index += 1;
        }
        // SipHash §2: the last block holds the message length (mod 256) in its top byte; our
        // messages are whole words, so no tail bytes.
        let last = ((8 * N) as u64) << 56;
        v3 ^= last;
        sip_round!(v0, v1, v2, v3);
        v0 ^= last;
        v2 ^= 0xff;
        sip_round!(v0, v1, v2, v3);
        sip_round!(v0, v1, v2, v3);
        sip_round!(v0, v1, v2, v3);
        v0 ^ v1 ^ v2 ^ v3
    }

    /// The one hash of a packet's flow. Its low bits pick the session bucket, its top 16 bits
    /// are the bucket signature and its high 32 bits pick the Maglev slot; hash once, use thrice.
    ///
    /// IPv4 keys: SipHash-1-3 over words 0 and 4 (16 bytes; words 1..=3 are zero). IPv6 keys:
    /// the four address words are first compressed to 128 bits with NH (UMAC's hash, RFC 4418
    /// §5; Black et al., CRYPTO 1999) over 64-bit words, keyed with subkeys derived from the
    /// same key, then SipHash-1-3 runs over those 2 words and word 4 (24 bytes instead of 40:
    /// ~13% less time). NH with 64-bit words is 2^-64-almost-universal, so two distinct address
    /// pairs collide with probability at most 2^-64 for an attacker who does not know the key:
    /// no weaker than SipHash's own 64-bit output. The kind byte in word 4 and the message
    /// length keep IPv4 and IPv6 domains apart.
    #[inline]
    pub fn hash_flow(&self, key: &FlowKey) -> u64 {
        let words = key.words();
        if key.kind().is_ipv4() {
            return self.sip13_words([words[0], words[4]]);
        }
        let compressed = self.nh_addresses(words);
        self.sip13_words([compressed as u64, (compressed >> 64) as u64, words[4]])
    }

    /// NH over the four address words: `(w0 + k0)(w1 + k1) + (w2 + k2)(w3 + k3) mod 2^128`.
    #[inline(always)]
    fn nh_addresses(&self, words: &[u64; 5]) -> u128 {
        let subkeys = &self.compression_key;
        let first = u128::from(words[0].wrapping_add(subkeys[0])) * u128::from(words[1].wrapping_add(subkeys[1]));
        let second = u128::from(words[2].wrapping_add(subkeys[2])) * u128::from(words[3].wrapping_add(subkeys[3]));
        first.wrapping_add(second)
    }

    /// The pre-NH construction (SipHash-1-3 over all 40 bytes), kept for the timing harness.
    #[cfg(test)]
    pub(crate) fn hash_flow_words(&self, key: &FlowKey) -> u64 {
        self.sip13_words(*key.words())
    }

    /// The hash of a node id for its Maglev permutation (8-byte message: a domain of its own,
    /// since SipHash mixes in the length and flow messages are 16 or 40 bytes).
    pub fn hash_node(&self, node_id: u32) -> u64 {
        self.sip13_words([node_id as u64])
    }

    /// SipHash-1-3 of arbitrary bytes (control-plane use; not on the packet path).
    pub fn hash_bytes(&self, bytes: &[u8]) -> u64 {
        let [v0, v1, ..] = self.initial_state;
        let key0 = v0 ^ 0x736f_6d65_7073_6575;
        let key1 = v1 ^ 0x646f_7261_6e64_6f6d;
        siphasher::sip::SipHasher13::new_with_keys(key0, key1).hash(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

    fn bytes_of(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|word| word.to_le_bytes()).collect()
    }

    #[test]
    fn matches_reference_siphash13() {
        let hasher = FlowHasher::new(KEY);
        let reference = siphasher::sip::SipHasher13::new_with_key(&KEY);
        let key = FlowKey::five_tuple_v6([1; 16], [2; 16], 3, 4, 17);
        assert_eq!(hasher.hash_flow_words(&key), reference.hash(&bytes_of(key.words())));
        // IPv6: NH of the addresses, then SipHash-1-3 over (NH low, NH high, word 4).
        let words = key.words();
        let subkeys: Vec<u64> =
            (0..4u64).map(|index| reference.hash(&bytes_of(&[index, 0x6e68, 0]))).collect();
        let nh = u128::from(words[0].wrapping_add(subkeys[0]))
            .wrapping_mul(u128::from(words[1].wrapping_add(subkeys[1])))
            .wrapping_add(u128::from(words[2].wrapping_add(subkeys[2])).wrapping_mul(u128::from(words[3].wrapping_add(subkeys[3]))));
        assert_eq!(hasher.hash_flow(&key), reference.hash(&bytes_of(&[nh as u64, (nh >> 64) as u64, words[4]])));
        let key = FlowKey::five_tuple_v4([192, 0, 2, 1], [192, 0, 2, 10], 40000, 5684, 17);
        assert_eq!(hasher.hash_flow(&key), reference.hash(&bytes_of(&[key.words()[0], key.words()[4]])));
        assert_eq!(hasher.hash_node(7), reference.hash(&7u64.to_le_bytes()));
        assert_eq!(hasher.hash_bytes(b"cidlb"), reference.hash(b"cidlb"));
    }

    #[test]
    fn depends_on_the_key() {
        let key = FlowKey::label([1; 16], [2; 16], 0x12345);
        let one = FlowHasher::new(KEY);
        let mut other_key = KEY;
        other_key[15] ^= 1;
        let other = FlowHasher::new(other_key);
        assert_eq!(one.hash_flow(&key), FlowHasher::new(KEY).hash_flow(&key));
        assert_ne!(one.hash_flow(&key), other.hash_flow(&key));
        assert_eq!(format!("{one:?}"), "FlowHasher { .. }");
    }

    proptest! {
        /// Flipping any bit of an IPv6 key changes the hash (NH is injective enough in practice;
        /// a collision here would be a 2^-64 event).
        #[test]
        fn any_bit_flip_changes_the_hash(source in any::<[u8; 16]>(), destination in any::<[u8; 16]>(), bit in 0usize..256) {
            let hasher = FlowHasher::new(KEY);
            let key = FlowKey::five_tuple_v6(source, destination, 1, 2, 17);
            let (mut source2, mut destination2) = (source, destination);
            if bit < 128 { source2[bit / 8] ^= 1 << (bit % 8) } else { destination2[(bit - 128) / 8] ^= 1 << (bit % 8) }
            let other = FlowKey::five_tuple_v6(source2, destination2, 1, 2, 17);
            prop_assert_ne!(hasher.hash_flow(&key), hasher.hash_flow(&other));
        }

        #[test]
        fn word_wise_equals_reference(words in proptest::array::uniform5(any::<u64>()), key in any::<[u8; 16]>()) {
            let hasher = FlowHasher::new(key);
            let reference = siphasher::sip::SipHasher13::new_with_key(&key);
            prop_assert_eq!(hasher.sip13_words(words), reference.hash(&bytes_of(&words)));
        }
    }
}

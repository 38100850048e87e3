//! Keyed hashing for every stateless choice: flow -> Maglev slot, flow -> session bucket and
//! node id -> Maglev permutation.
//!
//! Why keyed: an unkeyed hash lets anyone compute which bucket or node a 5-tuple lands on and
//! aim a flood of flows at one session bucket (evicting its live sessions) or one node. With
//! a PRF keyed by the cluster-wide `hash_key`, predicting that needs the key. The key is
//! equal on every balancer of a cluster, so all of them pick the same node for a flow.
//!
//! The flow hash (session 25): AES-128 of one 16-byte block. An IPv4 key's two words (its
//! addresses and its ports, protocol and kind) are that block as they are. An IPv6 key's five
//! words (40 bytes) are first compressed to 128 bits with NH (UMAC's hash, RFC 4418 §5; Black et
//! al., CRYPTO 1999) over 64-bit words, keyed with subkeys derived from the same key. AES-128 is
//! a pseudorandom permutation of 128-bit blocks, hence a PRF up to the birthday bound; NH with
//! 64-bit words is 2^-64-almost-universal, and an almost-universal hash followed by a PRF is a
//! PRF (the advantage grows by q² · 2^-64 for q flows). So predicting a bucket or a node still
//! needs the key. The AES key is itself derived from the config's `hash_key` (see
//! [`FlowHasher::new`]). How the cipher runs: AES-NI inline where the build enables it, else
//! RustCrypto's `aes` (see `cipher` below); both give the same bytes.
//!
//! Why not SipHash-1-3 any more (Aumasson & Bernstein, 2012; sessions 4 to 24 hashed flows with
//! it, over NH's output for IPv6): seven SipRounds are ~135 instructions a packet, 11–13 % of
//! the session and flow-label paths' whole count; one block through AES-NI is 11 instructions
//! and the three multiplies of NH for IPv6 (callgrind: session-1k 821 → 723 instructions a
//! packet, flow-label 1025 → 916; the tuning log, twenty-fifth round). SipHash stays for what
//! is not on the packet path: node ids for Maglev's permutations and control-plane bytes
//! ([`FlowHasher::hash_node`], [`FlowHasher::hash_bytes`]).
//!
//! Cost, measured by `session::timing` (release, this repo's shared 2-core 2.6 GHz Xeon VM,
//! best of 60 runs of independent hashes; for scale a 2-multiply 64-bit mixer costs 0.6 ns there):
//!
//! | message                                                | ns   |
//! |--------------------------------------------------------|------|
//! | `siphasher` SipHash-1-3, 37-byte IPv6 5-tuple          | 11.4 |
//! | SipHash-1-3 word-wise, the 40-byte IPv6 key            | 11.6 |
//! | NH + SipHash-1-3 over 24 bytes, IPv6 key (until s. 24) | 10.1 |
//! | NH over 48 bytes + AES-128 (AES-NI), IPv6 key (used)   |  3.2 |
//! | AES-128 (AES-NI) of the 16-byte IPv4 key (used)        |  1.7 |
//!
//! The message is compact (one block), each packet is hashed exactly once
//! ([`FlowHasher::hash_flow`]) and that one value serves the session bucket, its signature and,
//! on a miss, the Maglev slot (`SessionTable::lookup_hashed` / `insert_hashed`,
//! [`crate::select::MaglevTable::lookup`]).
//!
//! Every balancer of a cluster must run the same function to pick the same node for a new
//! flow: a balancer from before session 25 (SipHash) and one from after pick differently until
//! all are upgraded (established sessions stay where they are; the README's upgrade note).
#![forbid(unsafe_code)]

use crate::session::FlowKey;

/// NH subkeys: one a word of the IPv6 message (five key words and one zero word).
const COMPRESSION_WORDS: usize = 6;

/// The keyed flow hash (AES-128 of one block, NH-compressed for IPv6) and keyed SipHash-1-3
/// for node ids and control-plane bytes. Built once a worker and snapshot; 256 bytes (the
/// portable build's ~0.8 KiB), of which a packet reads the 176 bytes of AES round keys and,
/// for an IPv6 key, the 48 of NH subkeys.
#[derive(Clone)]
pub struct FlowHasher {
    /// The expanded AES-128 key of the flow hash (see the `cipher` module).
    cipher: cipher::Aes128,
    /// NH subkeys for IPv6 keys (see [`FlowHasher::hash_flow`]).
    compression_key: [u64; COMPRESSION_WORDS],
    /// The SipHash initial state `v0..v3` after mixing in the key (the constants of the SipHash
    /// paper §2, "somepseudorandomlygeneratedbytes"), precomputed once.
    initial_state: [u64; 4],
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
    ///
    /// Derived keys, each SipHash-1-3 under `hash_key` of a 24-byte message no other hash takes
    /// (flows are hashed by AES, node ids are 8 bytes): NH subkey `i` (0..6) of the words
    /// `[i, 0x6e68, 0]` ("nh"), and the AES-128 key as the little-endian bytes of the words
    /// `[6, 0x6e68, 0]` and `[7, 0x6e68, 0]`.
    pub fn new(key: [u8; 16]) -> FlowHasher {
        let key0 = u64::from_le_bytes([key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7]]);
        let key1 = u64::from_le_bytes([key[8], key[9], key[10], key[11], key[12], key[13], key[14], key[15]]);
        let initial_state = [
            key0 ^ 0x736f_6d65_7073_6575,
            key1 ^ 0x646f_7261_6e64_6f6d,
            key0 ^ 0x6c79_6765_6e65_7261,
            key1 ^ 0x7465_6462_7974_6573,
        ];
        let derive = |index: u64| sip13_words(&initial_state, [index, 0x6e68, 0]);
        let compression_key = std::array::from_fn(|index| derive(index as u64));
        let mut cipher_key = [0u8; 16];
        cipher_key[..8].copy_from_slice(&derive(COMPRESSION_WORDS as u64).to_le_bytes());
        cipher_key[8..].copy_from_slice(&derive(COMPRESSION_WORDS as u64 + 1).to_le_bytes());
        FlowHasher { cipher: cipher::Aes128::new(cipher_key), compression_key, initial_state }
    }

    /// SipHash-1-3 of the little-endian bytes of `words` under the hasher's key.
    #[inline(always)]
    fn sip13_words<const N: usize>(&self, words: [u64; N]) -> u64 {
        sip13_words(&self.initial_state, words)
    }

    /// The one hash of a packet's flow. Its low bits pick the session bucket, its top 16 bits
    /// are the bucket signature and its high 32 bits pick the Maglev slot; hash once, use thrice.
    ///
    /// The low 64 bits (little-endian) of AES-128 of one block: for an IPv4 key its words 0
    /// and 4 (addresses; ports, protocol and kind: words 1..=3 are zero), for an IPv6 key the NH
    /// of its five words (`nh_key`). Two distinct IPv6 keys reach the same block
    /// with probability at most 2^-64, and an IPv6 key reaches a given IPv4 block with
    /// probability at most 2^-63, for an attacker who does not know the key (NH's bound, and
    /// NH's output is that close to uniform on any one value).
    #[inline]
    pub fn hash_flow(&self, key: &FlowKey) -> u64 {
        let words = key.words();
        let block = if key.kind().is_ipv4() { u128::from(words[0]) | u128::from(words[4]) << 64 } else { self.nh_key(words) };
        self.cipher.encrypt_low64(block)
    }

    /// NH over the key's five words and a zero word, pairwise:
    /// `(w0 + k0)(w1 + k1) + (w2 + k2)(w3 + k3) + (w4 + k4)(0 + k5) mod 2^128`, each sum mod
    /// 2^64. Keys differing in any word collide with probability at most 2^-64 over the
    /// subkeys (Black et al., Theorem 4.2: the pair where they differ fixes at most one value
    /// of its other subkey, the zero word included).
    #[inline(always)]
    fn nh_key(&self, words: &[u64; 5]) -> u128 {
        let k = &self.compression_key;
        nh_pair(words[0], words[1], k[0], k[1]).wrapping_add(nh_pair(words[2], words[3], k[2], k[3])).wrapping_add(nh_pair(words[4], 0, k[4], k[5]))
    }

    /// Session 24's flow hash (NH of the addresses, then SipHash-1-3 over 24 bytes), kept for
    /// the timing harness.
    #[cfg(test)]
    pub(crate) fn hash_flow_siphash(&self, key: &FlowKey) -> u64 {
        let words = key.words();
        let k = &self.compression_key;
        let compressed = nh_pair(words[0], words[1], k[0], k[1]).wrapping_add(nh_pair(words[2], words[3], k[2], k[3]));
        self.sip13_words([compressed as u64, (compressed >> 64) as u64, words[4]])
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

/// Whether this CPU runs what this build was compiled for: a build with the `aes` target
/// feature (the repo's `.cargo/config.toml` turns it on for x86-64) executes AES-NI in the flow
/// hash and would die of SIGILL on a CPU without it. Both binaries ask before anything else;
/// `Err` says what to do. Linux only (`/proc/cpuinfo`); where that cannot be read, `Ok`.
pub fn check_cpu() -> Result<(), String> {
    match std::fs::read_to_string("/proc/cpuinfo") {
        Ok(cpuinfo) => check_cpu_flags(cipher::NEEDS_AES_NI, &cpuinfo),
        Err(_) => Ok(()),
    }
}

/// [`check_cpu`] over the text of `/proc/cpuinfo`.
fn check_cpu_flags(needs_aes_ni: bool, cpuinfo: &str) -> Result<(), String> {
    if !needs_aes_ni {
        return Ok(());
    }
    match cpuinfo.lines().find(|line| line.starts_with("flags")) {
        Some(flags) if !flags.split_whitespace().any(|flag| flag == "aes") => Err(
            "this build of cidlb hashes flows with AES-NI (target feature `aes`, set in .cargo/config.toml) and this CPU has none; \
             build with RUSTFLAGS=\"\" for the portable AES (the same hashes, slower)"
                .to_string(),
        ),
        _ => Ok(()),
    }
}

/// AES-128 encryption of one block, the flow hash's PRF. Two implementations of the same
/// function (FIPS-197; the tests pin its values, and `scripts/test.sh` runs them in both
/// builds), so balancers built either way pick the same nodes:
/// - with the `aes` target feature at compile time (x86-64 through `.cargo/config.toml`):
///   AES-NI inline through `safe_arch`'s safe wrappers, the block built in a register (no
///   store to memory and load back, which stalled ~12 cycles a packet through `aes`'s API, and
///   no call);
/// - otherwise RustCrypto's `aes`: AES-NI detected at run time, else constant-time software.
#[cfg(all(target_arch = "x86_64", target_feature = "aes"))]
mod cipher {
    use safe_arch::{
        aes_encrypt_last_m128i, aes_encrypt_m128i, aes_key_gen_assist_m128i, byte_shl_imm_u128_m128i, get_i64_from_m128i_s,
        m128i, set_i64_m128i, shuffle_ai_f32_all_m128i,
    };

    pub(super) const NEEDS_AES_NI: bool = true;

    /// The 11 round keys.
    #[derive(Clone)]
    pub(super) struct Aes128([m128i; 11]);

    /// One step of the AES-128 key schedule (FIPS-197 §5.2) with AES-NI's key-generation assist.
    #[inline(always)]
    fn expand_step<const RCON: i32>(key: m128i) -> m128i {
        let assist = shuffle_ai_f32_all_m128i::<0xff>(aes_key_gen_assist_m128i::<RCON>(key));
        let key = key ^ byte_shl_imm_u128_m128i::<4>(key);
        let key = key ^ byte_shl_imm_u128_m128i::<4>(key);
        let key = key ^ byte_shl_imm_u128_m128i::<4>(key);
        key ^ assist
    }

    impl Aes128 {
        pub(super) fn new(key: [u8; 16]) -> Aes128 {
            let k0 = m128i::from(key);
            let k1 = expand_step::<0x01>(k0);
            let k2 = expand_step::<0x02>(k1);
            let k3 = expand_step::<0x04>(k2);
            let k4 = expand_step::<0x08>(k3);
            let k5 = expand_step::<0x10>(k4);
            let k6 = expand_step::<0x20>(k5);
            let k7 = expand_step::<0x40>(k6);
            let k8 = expand_step::<0x80>(k7);
            let k9 = expand_step::<0x1b>(k8);
            let k10 = expand_step::<0x36>(k9);
            Aes128([k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10])
        }

        /// The low 64 bits (little-endian) of the encryption of `block`'s little-endian bytes.
        #[inline(always)]
        pub(super) fn encrypt_low64(&self, block: u128) -> u64 {
            let [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10] = self.0;
            let mut state = set_i64_m128i((block >> 64) as i64, block as i64) ^ k0;
            for round_key in [k1, k2, k3, k4, k5, k6, k7, k8, k9] {
                state = aes_encrypt_m128i(state, round_key);
            }
            get_i64_from_m128i_s(aes_encrypt_last_m128i(state, k10)) as u64
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "aes")))]
mod cipher {
    use aes::cipher::{BlockEncrypt, KeyInit};

    pub(super) const NEEDS_AES_NI: bool = false;

    #[derive(Clone)]
    pub(super) struct Aes128(aes::Aes128Enc);

    impl Aes128 {
        pub(super) fn new(key: [u8; 16]) -> Aes128 {
            Aes128(aes::Aes128Enc::new(&key.into()))
        }

        /// The low 64 bits (little-endian) of the encryption of `block`'s little-endian bytes.
        #[inline(always)]
        pub(super) fn encrypt_low64(&self, block: u128) -> u64 {
            let mut block = aes::Block::from(block.to_le_bytes());
            self.0.encrypt_block(&mut block);
            let (low, _) = block.split_at(8);
            u64::from_le_bytes([low[0], low[1], low[2], low[3], low[4], low[5], low[6], low[7]])
        }
    }
}

/// One NH term: `(a + ka)(b + kb)`, each sum mod 2^64, the product in 128 bits.
#[inline(always)]
fn nh_pair(a: u64, b: u64, ka: u64, kb: u64) -> u128 {
    u128::from(a.wrapping_add(ka)) * u128::from(b.wrapping_add(kb))
}

/// SipHash-1-3 of the little-endian bytes of `words` from the keyed `initial_state`; equal to
/// `siphasher`'s `SipHasher13::hash` over those `8 * N` bytes (tested), without its byte
/// buffering.
#[inline(always)]
fn sip13_words<const N: usize>(initial_state: &[u64; 4], words: [u64; N]) -> u64 {
    let [mut v0, mut v1, mut v2, mut v3] = *initial_state;
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

#[cfg(test)]
mod tests {
    // Test-only (never compiled into a binary, so never run on network input): each unwrap()
    // below is on a fixture the test built.
    use super::*;
    use aes::cipher::{BlockEncrypt, KeyInit};
    use proptest::prelude::*;

    const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    const PIN_V4: u64 = 0x330dcdf942509f47;
    const PIN_V6: u64 = 0xbc2d0c721fc7fccd;
    const PIN_LABEL: u64 = 0x27d9eb62ba82fa85;
    const PIN_NODE: u64 = 0x33d5b3229db273eb;

    fn bytes_of(words: &[u64]) -> Vec<u8> {
        words.iter().flat_map(|word| word.to_le_bytes()).collect()
    }

    /// The flow hash is the documented construction, rebuilt here from `siphasher` (the derived
    /// keys) and `aes` (the block cipher), and the SipHash uses equal `siphasher`'s.
    #[test]
    fn matches_the_reference_construction() {
        let hasher = FlowHasher::new(KEY);
        let reference = siphasher::sip::SipHasher13::new_with_key(&KEY);
        let derived = |index: u64| reference.hash(&bytes_of(&[index, 0x6e68, 0]));
        let cipher_key: Vec<u8> = bytes_of(&[derived(6), derived(7)]);
        let cipher = aes::Aes128Enc::new_from_slice(&cipher_key).unwrap();
        let encrypt = |block: u128| {
            let mut block = aes::Block::from(block.to_le_bytes());
            cipher.encrypt_block(&mut block);
            u64::from_le_bytes(block[..8].try_into().unwrap())
        };
        // IPv6: NH of the five words and a zero word, then AES-128.
        for key in [FlowKey::five_tuple_v6([1; 16], [2; 16], 3, 4, 17), FlowKey::label([7; 16], [8; 16], 0x12345)] {
            let words = key.words();
            let mut message = [0u64; 6];
            message[..5].copy_from_slice(words);
            let nh = message.chunks_exact(2).enumerate().fold(0u128, |sum, (pair, word)| {
                let first = word[0].wrapping_add(derived(2 * pair as u64));
                let second = word[1].wrapping_add(derived(2 * pair as u64 + 1));
                sum.wrapping_add(u128::from(first) * u128::from(second))
            });
            assert_eq!(hasher.hash_flow(&key), encrypt(nh));
        }
        // IPv4: words 0 and 4 are the block.
        let key = FlowKey::five_tuple_v4([192, 0, 2, 1], [192, 0, 2, 10], 40000, 5684, 17);
        assert_eq!(hasher.hash_flow(&key), encrypt(u128::from(key.words()[0]) | u128::from(key.words()[4]) << 64));
        assert_eq!(hasher.hash_flow_words(&key), reference.hash(&bytes_of(key.words())));
        assert_eq!(hasher.hash_node(7), reference.hash(&7u64.to_le_bytes()));
        assert_eq!(hasher.hash_bytes(b"cidlb"), reference.hash(b"cidlb"));
    }

    /// The cipher is standard AES-128 on this CPU (FIPS-197 Appendix C.1), whichever backend
    /// `aes` detected: balancers of one cluster on different CPUs compute the same hashes.
    #[test]
    fn the_block_cipher_is_aes_128() {
        let cipher = aes::Aes128Enc::new_from_slice(&KEY).unwrap();
        let mut block = aes::Block::from([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
        cipher.encrypt_block(&mut block);
        assert_eq!(block.as_slice(), [0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a]);
    }

    /// Pinned values: a change of the flow hash moves new flows to other nodes on a cluster
    /// whose balancers run different versions, so it must be deliberate (update these and the
    /// README's upgrade note together).
    #[test]
    fn flow_hashes_are_pinned() {
        let hasher = FlowHasher::new(KEY);
        let v4 = FlowKey::five_tuple_v4([192, 0, 2, 1], [192, 0, 2, 10], 40000, 5684, 17);
        let v6 = FlowKey::five_tuple_v6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20; 16], 40000, 5684, 17);
        let label = FlowKey::label([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0x20; 16], 0x12345);
        assert_eq!(
            [hasher.hash_flow(&v4), hasher.hash_flow(&v6), hasher.hash_flow(&label), hasher.hash_node(7)],
            [PIN_V4, PIN_V6, PIN_LABEL, PIN_NODE]
        );
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

    #[test]
    fn a_build_with_aes_ni_refuses_a_cpu_without_it() {
        let with = "processor\t: 0\nflags\t\t: fpu sse2 ssse3 pclmulqdq aes avx2\n";
        let without = "processor\t: 0\nflags\t\t: fpu sse2 ssse3 pclmulqdq avx2 vaes\n";
        assert_eq!(check_cpu_flags(true, with), Ok(()));
        assert!(check_cpu_flags(true, without).unwrap_err().contains("RUSTFLAGS=\"\""));
        assert_eq!(check_cpu_flags(false, without), Ok(()));
        // This machine runs the tests, so it runs what they were built for.
        assert_eq!(check_cpu(), Ok(()));
    }

    proptest! {
        /// Flipping any bit of a key's fields changes the hash: the addresses, ports and
        /// protocol of an IPv6 or IPv4 5-tuple (a collision here would be a 2^-64 event).
        #[test]
        fn any_bit_flip_changes_the_hash(
            source in any::<[u8; 16]>(),
            destination in any::<[u8; 16]>(),
            ports in any::<[u8; 4]>(),
            protocol in any::<u8>(),
            bit in 0usize..296,
        ) {
            let hasher = FlowHasher::new(KEY);
            let mut fields = [0u8; 37];
            fields[..16].copy_from_slice(&source);
            fields[16..32].copy_from_slice(&destination);
            fields[32..36].copy_from_slice(&ports);
            fields[36] = protocol;
            let v6 = |f: &[u8; 37]| {
                let port = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
                FlowKey::five_tuple_v6(f[..16].try_into().unwrap(), f[16..32].try_into().unwrap(), port(32), port(34), f[36])
            };
            let v4 = |f: &[u8; 37]| {
                let port = |at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
                FlowKey::five_tuple_v4(f[..4].try_into().unwrap(), f[16..20].try_into().unwrap(), port(32), port(34), f[36])
            };
            let mut flipped = fields;
            flipped[bit / 8] ^= 1 << (bit % 8);
            prop_assert_ne!(hasher.hash_flow(&v6(&fields)), hasher.hash_flow(&v6(&flipped)));
            if v4(&fields) != v4(&flipped) {
                prop_assert_ne!(hasher.hash_flow(&v4(&fields)), hasher.hash_flow(&v4(&flipped)));
            }
        }

        #[test]
        fn word_wise_equals_reference(words in proptest::array::uniform5(any::<u64>()), key in any::<[u8; 16]>()) {
            let hasher = FlowHasher::new(key);
            let reference = siphasher::sip::SipHasher13::new_with_key(&key);
            prop_assert_eq!(hasher.sip13_words(words), reference.hash(&bytes_of(&words)));
        }
    }
}

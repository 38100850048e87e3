//! The internet checksum (RFC 1071) and its incremental update (RFC 1624).
//!
//! NAT changes a handful of bytes per packet; recomputing the UDP checksum over the payload
//! would cost far more than the 40 ns budget, so the rewrite path uses RFC 1624 eqn. 3,
//! HC' = ~(~HC + ~m + m'), over each changed 16-bit word. Full sums are for builders, ND
//! replies (a few dozen bytes) and tests.
#![forbid(unsafe_code)]

/// One's-complement sum of `data` as big-endian 16-bit words (a trailing odd byte is padded
/// with zero, RFC 1071 §4.1), not yet folded.
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    // Sum 32-bit big-endian words into a u64: 2^32 additions cannot overflow, and the fold
    // below is the same one's-complement arithmetic (RFC 1071 §2(B), byte order independence
    // and deferred carries).
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        acc += u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as u64;
    }
    let rest = chunks.remainder();
    let mut i = 0;
    while i + 1 < rest.len() {
        acc += u16::from_be_bytes([rest[i], rest[i + 1]]) as u64;
        i += 2;
    }
    if i < rest.len() {
        acc += (rest[i] as u64) << 8;
    }
    // Fold 64 -> 32 bits with end-around carry.
    while acc >> 32 != 0 {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// Folds a 32-bit accumulator to 16 bits with end-around carry.
#[inline]
pub const fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// Adds two unfolded sums without losing a carry.
#[inline]
pub const fn add(a: u32, b: u32) -> u32 {
    let (s, carry) = a.overflowing_add(b);
    s + carry as u32
}

/// The checksum of `data`: the complement of its folded sum.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data))
}

/// Sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1).
#[inline]
pub fn pseudo_header_v4(source: [u8; 4], destination: [u8; 4], protocol: u8, length: u16) -> u32 {
    let mut s = u16::from_be_bytes([source[0], source[1]]) as u32
        + u16::from_be_bytes([source[2], source[3]]) as u32
        + u16::from_be_bytes([destination[0], destination[1]]) as u32
        + u16::from_be_bytes([destination[2], destination[3]]) as u32;
    s += protocol as u32 + length as u32;
    s
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1): addresses, 32-bit upper-layer length,
/// next header.
#[inline]
pub fn pseudo_header_v6(source: [u8; 16], destination: [u8; 16], protocol: u8, length: u32) -> u32 {
    let s = add(sum(&source), sum(&destination));
    add(s, (length >> 16) + (length & 0xffff) + protocol as u32)
}

/// The checksum of an upper-layer message with its pseudo-header sum.
#[inline]
pub fn with_pseudo_header(pseudo_header: u32, data: &[u8]) -> u16 {
    !fold(add(pseudo_header, sum(data)))
}

/// RFC 1624 eqn. 3 for one 16-bit word: HC' = ~(~HC + ~m + m').
#[inline(always)]
pub const fn update16(checksum: u16, old: u16, new: u16) -> u16 {
    let s = (!checksum) as u32 + (!old) as u32 + new as u32;
    !fold(s)
}

/// RFC 1624 eqn. 3 over a 32-bit field (an IPv4 address), as two 16-bit words.
#[inline(always)]
pub const fn update32(checksum: u16, old: [u8; 4], new: [u8; 4]) -> u16 {
    let s = (!checksum) as u32
        + (!u16::from_be_bytes([old[0], old[1]])) as u32
        + (!u16::from_be_bytes([old[2], old[3]])) as u32
        + u16::from_be_bytes([new[0], new[1]]) as u32
        + u16::from_be_bytes([new[2], new[3]]) as u32;
    !fold(s)
}

/// Sum of the four big-endian 16-bit words of a u64 (at most 4 * 0xffff, no overflow).
#[inline(always)]
const fn word_sum64(x: u64) -> u32 {
    let pairs = (x & 0x0000_ffff_0000_ffff) + ((x >> 16) & 0x0000_ffff_0000_ffff);
    ((pairs & 0xffff_ffff) + (pairs >> 32)) as u32
}

/// RFC 1624 eqn. 3 over a 128-bit field (an IPv6 address): the eight 16-bit words summed
/// two 64-bit lanes at a time.
#[inline(always)]
pub fn update128(checksum: u16, old: [u8; 16], new: [u8; 16]) -> u16 {
    let old = u128::from_be_bytes(old);
    let new = u128::from_be_bytes(new);
    let s = (!checksum) as u32
        + word_sum64(!(old >> 64) as u64)
        + word_sum64(!old as u64)
        + word_sum64((new >> 64) as u64)
        + word_sum64(new as u64);
    !fold(s)
}

/// RFC 1624 eqn. 3 over any even-length field; `old` and `new` have equal lengths.
#[inline]
pub fn update_bytes(checksum: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut s = (!checksum) as u32;
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        s += (!u16::from_be_bytes([o[0], o[1]])) as u32 + u16::from_be_bytes([n[0], n[1]]) as u32;
    }
    !fold(s)
}

/// Verify every checksum of a parsed frame from scratch: the IPv4 header, and the UDP, TCP,
/// ICMP or ICMPv6 checksum when the whole upper-layer message is in this packet (not a
/// fragment). For tests and tools, not the fast path.
pub fn verify_frame(frame: &[u8], parsed: &super::Parsed) -> bool {
    use super::{protocol, L3};
    let l3 = parsed.l3_offset as usize;
    let end = parsed.ip_end().min(frame.len());
    if parsed.l3 == L3::Ipv4 {
        let header_len = ((frame[l3] & 0x0f) as usize) * 4;
        if checksum(&frame[l3..l3 + header_len]) != 0 {
            return false;
        }
    }
    if !parsed.l4_present || parsed.frag.is_some() {
        return true;
    }
    let l4 = &frame[parsed.l4_offset as usize..end];
    let length = l4.len() as u32;
    let pseudo = match parsed.l3 {
        L3::Ipv4 => {
            let s = [parsed.src[0], parsed.src[1], parsed.src[2], parsed.src[3]];
            let d = [parsed.dst[0], parsed.dst[1], parsed.dst[2], parsed.dst[3]];
            pseudo_header_v4(s, d, parsed.proto, length as u16)
        }
        L3::Ipv6 => pseudo_header_v6(parsed.src, parsed.dst, parsed.proto, length),
        L3::Arp => return true,
    };
    match (parsed.l3, parsed.proto) {
        // A zero IPv4 UDP checksum means "none" (RFC 768). Over IPv6 a zero is never a
        // checksum (a computed zero is sent as all ones) and receivers discard it (RFC 8200
        // §8.1; RFC 6935/6936 allow it on tunnels only, and then it is not verified): invalid
        // here, although the one's-complement sum may hold with it by chance.
        (L3::Ipv4, protocol::UDP) if l4.len() >= 8 && l4[6] == 0 && l4[7] == 0 => true,
        (L3::Ipv6, protocol::UDP) if l4.len() >= 8 && l4[6] == 0 && l4[7] == 0 => false,
        (_, protocol::UDP) | (_, protocol::TCP) | (L3::Ipv6, protocol::ICMPV6) => with_pseudo_header(pseudo, l4) == 0,
        (L3::Ipv4, protocol::ICMP) => checksum(l4) == 0,
        _ => true,
    }
}

/// Verify a reassembled IPv6 UDP datagram's checksum.
pub fn verify_udp6(source: &[u8; 16], destination: &[u8; 16], udp: &[u8]) -> bool {
    let pseudo = pseudo_header_v6(*source, *destination, super::protocol::UDP, udp.len() as u32);
    with_pseudo_header(pseudo, udp) == 0
}

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        // Odd length pads with zero.
        assert_eq!(fold(sum(&[0xab])), 0xab00);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn ipv4_header_known_checksum() {
        // A widely quoted example header; checksum 0xb861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
    }

    fn naive(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            s += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    /// Equal as one's-complement numbers (0x0000 and 0xffff are both zero).
    fn same(a: u16, b: u16) -> bool {
        a == b || (a == 0 && b == 0xffff) || (a == 0xffff && b == 0)
    }

    proptest! {
        #[test]
        fn fast_sum_matches_naive(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(checksum(&data), naive(&data));
        }

        #[test]
        fn incremental_matches_recomputed(
            mut data in proptest::collection::vec(any::<u8>(), 40..80),
            at in 0usize..9, new4 in any::<[u8; 4]>(), new16 in any::<[u8; 16]>(),
        ) {
            let at = at * 2; // fields start on 16-bit boundaries
            let before = checksum(&data);
            let old4: [u8; 4] = data[at..at + 4].try_into().unwrap();
            data[at..at + 4].copy_from_slice(&new4);
            prop_assert!(same(update32(before, old4, new4), checksum(&data)));

            let before = checksum(&data);
            let old16: [u8; 16] = data[at..at + 16].try_into().unwrap();
            data[at..at + 16].copy_from_slice(&new16);
            prop_assert!(same(update128(before, old16, new16), checksum(&data)));

            let before = checksum(&data);
            let old = u16::from_be_bytes([data[at], data[at + 1]]);
            let new = old.wrapping_add(0x1234);
            data[at..at + 2].copy_from_slice(&new.to_be_bytes());
            prop_assert!(same(update16(before, old, new), checksum(&data)));
        }

        #[test]
        fn pseudo_header_v6_matches_bytes(s in any::<[u8; 16]>(), d in any::<[u8; 16]>(), len in any::<u32>(), p in any::<u8>()) {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&s);
            bytes.extend_from_slice(&d);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&[0, 0, 0, p]);
            prop_assert_eq!(fold(pseudo_header_v6(s, d, p, len)), fold(sum(&bytes)));
        }

        #[test]
        fn pseudo_header_v4_matches_bytes(s in any::<[u8; 4]>(), d in any::<[u8; 4]>(), len in any::<u16>(), p in any::<u8>()) {
            let mut bytes = Vec::new();
            bytes.extend_from_slice(&s);
            bytes.extend_from_slice(&d);
            bytes.extend_from_slice(&[0, p]);
            bytes.extend_from_slice(&len.to_be_bytes());
            prop_assert_eq!(fold(pseudo_header_v4(s, d, p, len)), fold(sum(&bytes)));
        }
    }
}

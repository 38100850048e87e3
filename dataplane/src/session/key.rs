//! The session key: a compact, fixed-size, `Copy` description of one flow.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which fields a [`FlowKey`] holds. The kind is part of the key and of its hash, so keys of
/// different kinds never compare equal even when their bytes happen to match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FlowKind {
    /// IPv4 `<source, destination, source port, destination port, protocol>`.
    FiveTupleV4 = 1,
    /// IPv6 `<source, destination, source port, destination port, next header>`.
    FiveTupleV6 = 2,
    /// IPv6 `<source, destination (the VIP), flow label>` (RFC 6437 §3, RFC 7098 §3): the label
    /// is constant for a transport flow, so no extension-header walk is needed.
    LabelV6 = 3,
    /// IPv4 `<source, destination, identification, protocol>` (RFC 791): every fragment of
    /// one datagram shares it.
    FragmentV4 = 4,
    /// IPv6 `<source, destination, identification, next header>` (RFC 8200 §4.5).
    FragmentV6 = 5,
}

impl FlowKind {
    const fn from_byte(byte: u8) -> FlowKind {
        match byte {
            1 => FlowKind::FiveTupleV4,
            2 => FlowKind::FiveTupleV6,
            3 => FlowKind::LabelV6,
            4 => FlowKind::FragmentV4,
            _ => FlowKind::FragmentV6,
        }
    }

    /// True for the kinds whose addresses are IPv4.
    pub const fn is_ipv4(self) -> bool {
        matches!(self, FlowKind::FiveTupleV4 | FlowKind::FragmentV4)
    }
}

/// One flow, as the session table and the keyed hash see it: 40 bytes, 8-aligned.
///
/// Stored as five little-endian words so that equality is five word compares and the keyed
/// hash reads words without any byte shuffling:
///
/// ```text
/// word 0..=1  source address       (IPv6: 16 bytes; IPv4: word 0 bits 0..32)
/// word 2..=3  destination address  (IPv6: 16 bytes; IPv4: word 0 bits 32..64, words 1..=3 zero)
/// word 4      bits  0..32  discriminator: source port << 16 | destination port (five-tuple),
///                          flow label (label), identification (fragment)
///             bits 32..40  protocol / next header (0 for a label key)
///             bits 40..48  kind (never 0)
/// ```
///
/// IPv4 keys use only words 0 and 4, so [`crate::select::FlowHasher`] hashes 16 bytes for
/// them instead of 40 (the common DTLS-over-IPv4 case is the cheapest).
// The manual `PartialEq` below compares exactly what the derived `Hash` hashes.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Copy, Hash)]
#[repr(C, align(8))]
pub struct FlowKey {
    words: [u64; 5],
}

/// Word-wise compare folded into one test: the derived compare of an array calls libc's
/// `memcmp`, which showed up in profiles of the session path (issue 7). Same meaning as the
/// derived one, so it agrees with the derived `Hash`.
impl PartialEq for FlowKey {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.words, &other.words);
        ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0
    }
}

impl Eq for FlowKey {}

const fn word_from(bytes: &[u8; 16], offset: usize) -> u64 {
    u64::from_le_bytes([
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
        bytes[offset + 4],
        bytes[offset + 5],
        bytes[offset + 6],
        bytes[offset + 7],
    ])
}

const fn meta_word(discriminator: u32, protocol: u8, kind: FlowKind) -> u64 {
    discriminator as u64 | (protocol as u64) << 32 | (kind as u64) << 40
}

/// RFC 6437 §2: the flow label is 20 bits.
const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

impl FlowKey {
    const fn ipv4(source: [u8; 4], destination: [u8; 4], meta: u64) -> FlowKey {
        let addresses = u32::from_le_bytes(source) as u64 | (u32::from_le_bytes(destination) as u64) << 32;
        FlowKey { words: [addresses, 0, 0, 0, meta] }
    }

    const fn ipv6(source: &[u8; 16], destination: &[u8; 16], meta: u64) -> FlowKey {
        FlowKey {
            words: [
                word_from(source, 0),
                word_from(source, 8),
                word_from(destination, 0),
                word_from(destination, 8),
                meta,
            ],
        }
    }

    /// IPv4 five-tuple.
    pub const fn five_tuple_v4(
        source: [u8; 4],
        destination: [u8; 4],
        source_port: u16,
        destination_port: u16,
        protocol: u8,
    ) -> FlowKey {
        let ports = (source_port as u32) << 16 | destination_port as u32;
        FlowKey::ipv4(source, destination, meta_word(ports, protocol, FlowKind::FiveTupleV4))
    }

    /// IPv6 five-tuple; `next_header` is the upper-layer protocol found by the extension walk.
    pub const fn five_tuple_v6(
        source: [u8; 16],
        destination: [u8; 16],
        source_port: u16,
        destination_port: u16,
        next_header: u8,
    ) -> FlowKey {
        let ports = (source_port as u32) << 16 | destination_port as u32;
        FlowKey::ipv6(&source, &destination, meta_word(ports, next_header, FlowKind::FiveTupleV6))
    }

    /// Five-tuple from `std::net` addresses; `None` when the families differ.
    pub fn five_tuple(
        source: IpAddr,
        destination: IpAddr,
        source_port: u16,
        destination_port: u16,
        protocol: u8,
    ) -> Option<FlowKey> {
        match (source, destination) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                Some(FlowKey::five_tuple_v4(s.octets(), d.octets(), source_port, destination_port, protocol))
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                Some(FlowKey::five_tuple_v6(s.octets(), d.octets(), source_port, destination_port, protocol))
            }
            _ => None,
        }
    }

    /// IPv6 `<source, flow label>` (RFC 6437 §3; draft-ietf-intarea-flow-label-balancing),
    /// with the destination so two VIPs never share a session. The label is masked to 20 bits.
    pub const fn label(source: [u8; 16], destination: [u8; 16], flow_label: u32) -> FlowKey {
        FlowKey::ipv6(&source, &destination, meta_word(flow_label & FLOW_LABEL_MASK, 0, FlowKind::LabelV6))
    }

    /// IPv4 fragment key `<source, destination, identification, protocol>` (RFC 791).
    pub const fn fragment_v4(source: [u8; 4], destination: [u8; 4], identification: u16, protocol: u8) -> FlowKey {
        FlowKey::ipv4(source, destination, meta_word(identification as u32, protocol, FlowKind::FragmentV4))
    }

    /// IPv6 fragment key `<source, destination, identification, next header>` (RFC 8200 §4.5).
    pub const fn fragment_v6(
        source: [u8; 16],
        destination: [u8; 16],
        identification: u32,
        next_header: u8,
    ) -> FlowKey {
        FlowKey::ipv6(&source, &destination, meta_word(identification, next_header, FlowKind::FragmentV6))
    }

    pub const fn kind(&self) -> FlowKind {
        FlowKind::from_byte((self.words[4] >> 40) as u8)
    }

    /// Protocol (IPv4) or next header (IPv6); 0 for a label key.
    pub const fn protocol(&self) -> u8 {
        (self.words[4] >> 32) as u8
    }

    const fn discriminator(&self) -> u32 {
        self.words[4] as u32
    }

    pub fn source(&self) -> IpAddr {
        if self.kind().is_ipv4() {
            IpAddr::V4(Ipv4Addr::from((self.words[0] as u32).to_le_bytes()))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.address_bytes(0)))
        }
    }

    pub fn destination(&self) -> IpAddr {
        if self.kind().is_ipv4() {
            IpAddr::V4(Ipv4Addr::from(((self.words[0] >> 32) as u32).to_le_bytes()))
        } else {
            IpAddr::V6(Ipv6Addr::from(self.address_bytes(2)))
        }
    }

    fn address_bytes(&self, first_word: usize) -> [u8; 16] {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.words[first_word].to_le_bytes());
        bytes[8..].copy_from_slice(&self.words[first_word + 1].to_le_bytes());
        bytes
    }

    /// `(source port, destination port)` of a five-tuple key.
    pub const fn ports(&self) -> Option<(u16, u16)> {
        match self.kind() {
            FlowKind::FiveTupleV4 | FlowKind::FiveTupleV6 => {
                Some(((self.discriminator() >> 16) as u16, self.discriminator() as u16))
            }
            _ => None,
        }
    }

    /// The 20-bit flow label of a label key.
    pub const fn flow_label(&self) -> Option<u32> {
        match self.kind() {
            FlowKind::LabelV6 => Some(self.discriminator()),
            _ => None,
        }
    }

    /// The identification of a fragment key.
    pub const fn identification(&self) -> Option<u32> {
        match self.kind() {
            FlowKind::FragmentV4 | FlowKind::FragmentV6 => Some(self.discriminator()),
            _ => None,
        }
    }

    /// The key as the words the keyed hash reads.
    #[inline(always)]
    pub(crate) const fn words(&self) -> &[u64; 5] {
        &self.words
    }
}

impl fmt::Debug for FlowKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = formatter.debug_struct("FlowKey");
        debug.field("kind", &self.kind()).field("source", &self.source()).field("destination", &self.destination());
        if let Some((source_port, destination_port)) = self.ports() {
            debug.field("source_port", &source_port).field("destination_port", &destination_port);
        }
        if let Some(flow_label) = self.flow_label() {
            debug.field("flow_label", &flow_label);
        }
        if let Some(identification) = self.identification() {
            debug.field("identification", &identification);
        }
        if self.kind() != FlowKind::LabelV6 {
            debug.field("protocol", &self.protocol());
        }
        debug.finish()
    }
}

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_forty_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<FlowKey>(), 40);
        let key = FlowKey::five_tuple_v4([192, 0, 2, 1], [192, 0, 2, 10], 40000, 5684, 17);
        assert_eq!(key.kind(), FlowKind::FiveTupleV4);
        assert_eq!(key.source(), "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(key.destination(), "192.0.2.10".parse::<IpAddr>().unwrap());
        assert_eq!(key.ports(), Some((40000, 5684)));
        assert_eq!(key.protocol(), 17);

        let source: Ipv6Addr = "2001:db8::5".parse().unwrap();
        let vip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let label = FlowKey::label(source.octets(), vip.octets(), 0xfff_ffff);
        assert_eq!(label.flow_label(), Some(0xf_ffff), "masked to 20 bits (RFC 6437)");
        assert_eq!(label.source(), IpAddr::V6(source));
        assert_eq!(label.destination(), IpAddr::V6(vip));
        let fragment = FlowKey::fragment_v6(source.octets(), vip.octets(), 0xdead_beef, 17);
        assert_eq!(fragment.identification(), Some(0xdead_beef));
        assert_eq!(fragment.ports(), None);
        assert!(format!("{fragment:?}").contains("identification"));
    }

    #[test]
    fn kinds_never_collide() {
        let source = [0u8; 16];
        let destination = [0u8; 16];
        let keys = [
            FlowKey::five_tuple_v6(source, destination, 0, 1, 17),
            FlowKey::label(source, destination, 1),
            FlowKey::fragment_v6(source, destination, 1, 17),
            FlowKey::five_tuple_v4([0; 4], [0; 4], 0, 1, 17),
            FlowKey::fragment_v4([0; 4], [0; 4], 1, 17),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(FlowKey::five_tuple("192.0.2.1".parse().unwrap(), "2001:db8::1".parse().unwrap(), 1, 2, 17), None);
    }
}

//! IPv6 header (RFC 8200 §3) and a bounded walk of its extension-header chain (§4).
//!
//! The flow-label path never walks the chain (the label is at a fixed offset, RFC 6437);
//! the 5-tuple path does, and must stop on hostile chains: at most
//! [`MAX_EXTENSION_HEADERS`] headers, each proven to fit before it is read.
#![forbid(unsafe_code)]

use super::{be16, be32, protocol};
use crate::counters::DropReason;

/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// |                     Source Address (16)                       |
/// |                  Destination Address (16)                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub mod field {
    use core::ops::Range;
    pub const VERSION_CLASS_LABEL: Range<usize> = 0..4;
    pub const PAYLOAD_LENGTH: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SOURCE: Range<usize> = 8..24;
    pub const DESTINATION: Range<usize> = 24..40;
    pub const HEADER_LEN: usize = 40;
}

/// Fragment header (RFC 8200 §4.5).
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Next Header   |   Reserved    |      Fragment Offset    |Res|M|
/// |                         Identification                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub mod fragment_field {
    use core::ops::Range;
    pub const NEXT_HEADER: usize = 0;
    pub const OFFSET_FLAGS: Range<usize> = 2..4;
    pub const IDENTIFICATION: Range<usize> = 4..8;
    pub const LEN: usize = 8;
}

/// Most extension headers the walk reads before giving up
/// (`DropReason::Ipv6ExtensionChainTooLong`).
pub const MAX_EXTENSION_HEADERS: usize = 8;

/// True for the extension headers the walk steps over.
pub const fn is_extension_header(next_header: u8) -> bool {
    matches!(
        next_header,
        protocol::HOP_BY_HOP
            | protocol::ROUTING
            | protocol::FRAGMENT
            | protocol::DESTINATION_OPTIONS
            | protocol::AUTHENTICATION
    )
}

#[derive(Debug, Clone)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Fixed header present, version 6, payload length within the buffer (trailing padding
    /// is allowed and ignored).
    pub fn check_len(&self) -> Result<(), DropReason> {
        let b = self.buffer.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(DropReason::Ipv6Truncated);
        }
        if self.version() != 6 || self.total_len() > b.len() {
            return Err(DropReason::Ipv6BadHeader);
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    fn first_word(&self) -> u32 {
        be32(self.buffer.as_ref(), 0)
    }
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }
    /// The 20-bit flow label (RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }
    pub fn payload_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PAYLOAD_LENGTH.start)
    }
    /// Header plus payload length: the packet's bytes without any padding.
    pub fn total_len(&self) -> usize {
        field::HEADER_LEN + self.payload_len() as usize
    }
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }
    pub fn source(&self) -> [u8; 16] {
        self.buffer.as_ref()[field::SOURCE].try_into().unwrap_or_default()
    }
    pub fn destination(&self) -> [u8; 16] {
        self.buffer.as_ref()[field::DESTINATION].try_into().unwrap_or_default()
    }
    /// The header and payload, padding excluded.
    pub fn packet(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.total_len().min(b.len())]
    }
    pub fn payload(&self) -> &[u8] {
        let p = self.packet();
        &p[field::HEADER_LEN.min(p.len())..]
    }
    /// Walks the extension-header chain; see [`walk_extensions`].
    pub fn walk_extensions(&self) -> Result<ExtensionWalk, DropReason> {
        walk_extensions(self.packet())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    /// Version 6, traffic class and flow label in one word.
    pub fn set_version_class_label(&mut self, traffic_class: u8, flow_label: u32) {
        let word = (6u32 << 28) | ((traffic_class as u32) << 20) | (flow_label & 0x000f_ffff);
        self.buffer.as_mut()[field::VERSION_CLASS_LABEL].copy_from_slice(&word.to_be_bytes());
    }
    pub fn set_payload_len(&mut self, v: u16) {
        self.buffer.as_mut()[field::PAYLOAD_LENGTH].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_next_header(&mut self, v: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = v;
    }
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }
    pub fn set_source(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a);
    }
    pub fn set_destination(&mut self, a: [u8; 16]) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a);
    }
}

/// What the extension-header walk found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionWalk {
    /// The upper-layer protocol (for a non-first fragment: the Fragment header's next header).
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub upper_offset: usize,
    /// Number of extension headers stepped over.
    pub count: u8,
    /// The Fragment header, if any: (identification, offset in 8-byte units, more fragments).
    pub fragment: Option<(u32, u16, bool)>,
    /// False for a non-first fragment: the upper-layer header is in another packet.
    pub upper_present: bool,
}

/// Walks the chain of `packet` (an IPv6 packet, padding excluded, fixed header present).
///
/// RFC 8200 §4: hop-by-hop (0), routing (43), destination options (60) count their length in
/// 8-byte units after the first 8; the Fragment header (44) is always 8 bytes; AH (51, RFC 4302
/// §2.2) counts 4-byte units minus 2. A non-first fragment ends the walk at its Fragment
/// header. ESP (50), No Next Header (59) and anything else end it as the upper layer.
pub fn walk_extensions(packet: &[u8]) -> Result<ExtensionWalk, DropReason> {
    if packet.len() < field::HEADER_LEN {
        return Err(DropReason::Ipv6Truncated);
    }
    let mut next = packet[field::NEXT_HEADER];
    let mut offset = field::HEADER_LEN;
    let mut count = 0u8;
    let mut fragment = None;
    while is_extension_header(next) {
        if count as usize == MAX_EXTENSION_HEADERS {
            return Err(DropReason::Ipv6ExtensionChainTooLong);
        }
        count += 1;
        // Every extension header is at least 8 bytes.
        if packet.len() < offset + 8 {
            return Err(DropReason::Ipv6ExtensionTruncated);
        }
        let length_byte = packet[offset + 1] as usize;
        let header_len = match next {
            protocol::FRAGMENT => fragment_field::LEN,
            protocol::AUTHENTICATION => (length_byte + 2) * 4,
            _ => (length_byte + 1) * 8,
        };
        if packet.len() < offset + header_len {
            return Err(DropReason::Ipv6ExtensionTruncated);
        }
        let this = next;
        next = packet[offset];
        if this == protocol::FRAGMENT {
            let offset_flags = be16(packet, offset + fragment_field::OFFSET_FLAGS.start);
            let fragment_offset = offset_flags >> 3;
            let more = offset_flags & 1 == 1;
            fragment = Some((be32(packet, offset + 4), fragment_offset, more));
            if fragment_offset != 0 {
                return Ok(ExtensionWalk {
                    protocol: next,
                    upper_offset: offset + header_len,
                    count,
                    fragment,
                    upper_present: false,
                });
            }
        }
        offset += header_len;
    }
    Ok(ExtensionWalk { protocol: next, upper_offset: offset, count, fragment, upper_present: true })
}

/// Solicited-node multicast address ff02::1:ffXX:XXXX for `address` (RFC 4291 §2.7.1).
pub fn solicited_node(address: [u8; 16]) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xff;
    a[1] = 0x02;
    a[11] = 0x01;
    a[12] = 0xff;
    a[13..16].copy_from_slice(&address[13..16]);
    a
}

/// Ethernet multicast MAC 33:33:xx:xx:xx:xx for an IPv6 multicast address (RFC 2464 §7).
pub fn multicast_mac(address: [u8; 16]) -> [u8; 6] {
    [0x33, 0x33, address[12], address[13], address[14], address[15]]
}

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&payload_len.to_be_bytes());
        p[6] = next;
        p
    }

    #[test]
    fn walks_each_kind_with_its_length_unit() {
        // HBH (8) -> AH (len 4 => 24 bytes) -> dest opts (len 1 => 16) -> UDP
        let mut p = header(0, 8 + 24 + 16 + 8);
        p.extend_from_slice(&[51, 0, 1, 4, 0, 0, 0, 0]);
        let mut ah = vec![60, 4];
        ah.resize(24, 0);
        p.extend_from_slice(&ah);
        let mut dst = vec![17, 1];
        dst.resize(16, 0);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&[0; 8]);
        let w = walk_extensions(&p).unwrap();
        assert_eq!((w.protocol, w.upper_offset, w.count, w.upper_present), (17, 40 + 48, 3, true));
        for n in 40..p.len() - 8 {
            assert_eq!(walk_extensions(&p[..n]), Err(DropReason::Ipv6ExtensionTruncated), "{n}");
        }
    }

    #[test]
    fn bounds_the_chain() {
        let build = |n: usize| {
            let mut p = header(60, (n * 8 + 8) as u16);
            for i in 0..n {
                p.extend_from_slice(&[if i + 1 == n { 17 } else { 60 }, 0, 1, 4, 0, 0, 0, 0]);
            }
            p.extend_from_slice(&[0; 8]);
            p
        };
        assert_eq!(walk_extensions(&build(8)).unwrap().count, 8);
        assert_eq!(walk_extensions(&build(9)), Err(DropReason::Ipv6ExtensionChainTooLong));
        assert_eq!(walk_extensions(&build(200)), Err(DropReason::Ipv6ExtensionChainTooLong));
    }

    #[test]
    fn non_first_fragment_stops_at_fragment_header() {
        let mut p = header(44, 16);
        p.extend_from_slice(&[17, 0, 0x00, 0xb9, 0xde, 0xad, 0xbe, 0xef]); // offset 23, M=1
        p.extend_from_slice(&[0; 8]);
        let w = walk_extensions(&p).unwrap();
        assert_eq!(w.fragment, Some((0xdeadbeef, 23, true)));
        assert!(!w.upper_present);
        assert_eq!((w.protocol, w.upper_offset), (17, 48));
    }

    #[test]
    fn solicited_node_and_mac() {
        let a: [u8; 16] = "2001:db8::1:2:3".parse::<std::net::Ipv6Addr>().unwrap().octets();
        let s = solicited_node(a);
        assert_eq!(std::net::Ipv6Addr::from(s), "ff02::1:ff02:3".parse::<std::net::Ipv6Addr>().unwrap());
        assert_eq!(multicast_mac(s), [0x33, 0x33, 0xff, 0x02, 0x00, 0x03]);
    }
}

//! IPv4 header (RFC 791): IHL and options, fragmentation fields.
#![forbid(unsafe_code)]

use super::{be16, checksum};
use crate::counters::DropReason;

/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// |         Identification        |Flags|      Fragment Offset    |
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// |                       Source Address                          |
/// |                    Destination Address                        |
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub mod field {
    use core::ops::Range;
    pub const VERSION_IHL: usize = 0;
    pub const TYPE_OF_SERVICE: usize = 1;
    pub const TOTAL_LENGTH: Range<usize> = 2..4;
    pub const IDENTIFICATION: Range<usize> = 4..6;
    pub const FLAGS_FRAGMENT_OFFSET: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SOURCE: Range<usize> = 12..16;
    pub const DESTINATION: Range<usize> = 16..20;
    pub const OPTIONS_START: usize = 20;
    pub const MIN_HEADER_LEN: usize = 20;
}

pub const FLAG_DONT_FRAGMENT: u16 = 0x4000;
pub const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
pub const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

#[derive(Debug, Clone)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Header present and consistent: version 4, IHL >= 5, header <= total length <= buffer.
    /// Bytes after the total length (Ethernet padding) are allowed and ignored.
    pub fn check_len(&self) -> Result<(), DropReason> {
        let b = self.buffer.as_ref();
        if b.len() < field::MIN_HEADER_LEN {
            return Err(DropReason::Ipv4Truncated);
        }
        if self.version() != 4 || self.header_len() < field::MIN_HEADER_LEN {
            return Err(DropReason::Ipv4BadHeader);
        }
        if b.len() < self.header_len() {
            return Err(DropReason::Ipv4Truncated);
        }
        let total = self.total_len() as usize;
        if total < self.header_len() || total > b.len() {
            return Err(DropReason::Ipv4BadHeader);
        }
        Ok(())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_IHL] >> 4
    }
    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        (self.buffer.as_ref()[field::VERSION_IHL] & 0x0f) as usize * 4
    }
    pub fn type_of_service(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE_OF_SERVICE]
    }
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TOTAL_LENGTH.start)
    }
    pub fn identification(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENTIFICATION.start)
    }
    fn flags_offset(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS_FRAGMENT_OFFSET.start)
    }
    pub fn dont_fragment(&self) -> bool {
        self.flags_offset() & FLAG_DONT_FRAGMENT != 0
    }
    pub fn more_fragments(&self) -> bool {
        self.flags_offset() & FLAG_MORE_FRAGMENTS != 0
    }
    /// Fragment offset in 8-byte units.
    pub fn fragment_offset(&self) -> u16 {
        self.flags_offset() & FRAGMENT_OFFSET_MASK
    }
    /// A fragment is any packet with MF set or a non-zero offset (RFC 791 §3.2).
    pub fn is_fragment(&self) -> bool {
        self.flags_offset() & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK) != 0
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
    pub fn source(&self) -> [u8; 4] {
        self.buffer.as_ref()[field::SOURCE].try_into().unwrap_or_default()
    }
    pub fn destination(&self) -> [u8; 4] {
        self.buffer.as_ref()[field::DESTINATION].try_into().unwrap_or_default()
    }
    pub fn options(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[field::OPTIONS_START..self.header_len().clamp(field::OPTIONS_START, b.len())]
    }
    /// True when the header checksum verifies.
    pub fn verify_checksum(&self) -> bool {
        let b = self.buffer.as_ref();
        checksum::checksum(&b[..self.header_len().min(b.len())]) == 0
    }
    /// The bytes after the header up to the total length (padding excluded).
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (self.total_len() as usize).min(b.len());
        &b[self.header_len().min(end)..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    fn set_be16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    /// Version 4 and the header length in bytes (a multiple of 4).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VERSION_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }
    pub fn set_type_of_service(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE_OF_SERVICE] = v;
    }
    pub fn set_total_len(&mut self, v: u16) {
        self.set_be16(field::TOTAL_LENGTH.start, v);
    }
    pub fn set_identification(&mut self, v: u16) {
        self.set_be16(field::IDENTIFICATION.start, v);
    }
    pub fn set_fragment(&mut self, dont_fragment: bool, more_fragments: bool, offset: u16) {
        let mut v = offset & FRAGMENT_OFFSET_MASK;
        if dont_fragment {
            v |= FLAG_DONT_FRAGMENT;
        }
        if more_fragments {
            v |= FLAG_MORE_FRAGMENTS;
        }
        self.set_be16(field::FLAGS_FRAGMENT_OFFSET.start, v);
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.set_be16(field::CHECKSUM.start, v);
    }
    pub fn set_source(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&a);
    }
    pub fn set_destination(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&a);
    }
    /// Recomputes the header checksum from scratch (builders, not the fast path).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let len = self.header_len().min(self.buffer.as_ref().len());
        let sum = checksum::checksum(&self.buffer.as_ref()[..len]);
        self.set_checksum(sum);
    }
}

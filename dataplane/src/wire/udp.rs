//! UDP header (RFC 768).
#![forbid(unsafe_code)]

use super::be16;
use crate::counters::DropReason;

/// ```text
///  0      7 8     15 16    23 24    31
/// +--------+--------+--------+--------+
/// |   Source Port   |   Dest Port     |
/// |     Length      |    Checksum     |
/// +--------+--------+--------+--------+
/// ```
pub mod field {
    use core::ops::Range;
    pub const SOURCE_PORT: Range<usize> = 0..2;
    pub const DESTINATION_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const HEADER_LEN: usize = 8;
}

#[derive(Debug, Clone)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// The 8-byte header is present. The length field is checked by `check_length_field`
    /// only for whole datagrams (a first fragment holds less than the field says).
    pub fn check_len(&self) -> Result<(), DropReason> {
        if self.buffer.as_ref().len() < field::HEADER_LEN {
            return Err(DropReason::UdpTruncated);
        }
        Ok(())
    }
    /// Whole datagram: header <= length field <= the bytes the IP layer delivered.
    pub fn check_length_field(&self) -> Result<(), DropReason> {
        self.check_len()?;
        let len = self.len() as usize;
        if len < field::HEADER_LEN || len > self.buffer.as_ref().len() {
            return Err(DropReason::UdpTruncated);
        }
        Ok(())
    }
    pub fn source_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SOURCE_PORT.start)
    }
    pub fn destination_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DESTINATION_PORT.start)
    }
    /// The length field (header included).
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH.start)
    }
    pub fn is_empty(&self) -> bool {
        self.len() as usize <= field::HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
    /// The payload per the length field, clamped to the buffer.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = (self.len() as usize).clamp(field::HEADER_LEN, b.len().max(field::HEADER_LEN));
        &b[field::HEADER_LEN.min(b.len())..end.min(b.len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    fn set_be16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_source_port(&mut self, v: u16) {
        self.set_be16(field::SOURCE_PORT.start, v);
    }
    pub fn set_destination_port(&mut self, v: u16) {
        self.set_be16(field::DESTINATION_PORT.start, v);
    }
    pub fn set_len(&mut self, v: u16) {
        self.set_be16(field::LENGTH.start, v);
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.set_be16(field::CHECKSUM.start, v);
    }
}

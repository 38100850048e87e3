//! ICMP for IPv4 (RFC 792): echo, and errors that embed the offending packet's header.
#![forbid(unsafe_code)]

use super::{be16, checksum};
use crate::counters::DropReason;

/// ```text
///  0                   1                   2                   3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// |   Identifier (echo) / unused  |  Sequence (echo) / next MTU   |
/// |     Data (echo) / embedded IP header + 8 bytes (errors) ...
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENTIFIER: Range<usize> = 4..6;
    pub const ECHO_SEQUENCE: Range<usize> = 6..8;
    pub const REST_OF_HEADER: Range<usize> = 4..8;
    pub const HEADER_LEN: usize = 8;
}

pub mod message {
    pub const ECHO_REPLY: u8 = 0;
    pub const DESTINATION_UNREACHABLE: u8 = 3;
    pub const SOURCE_QUENCH: u8 = 4;
    pub const REDIRECT: u8 = 5;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
    pub const PARAMETER_PROBLEM: u8 = 12;
}

#[derive(Debug, Clone)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Every message we handle has the 8-byte header.
    pub fn check_len(&self) -> Result<(), DropReason> {
        if self.buffer.as_ref().len() < field::HEADER_LEN {
            return Err(DropReason::IcmpTruncated);
        }
        Ok(())
    }
    pub fn message_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM.start)
    }
    pub fn echo_identifier(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_IDENTIFIER.start)
    }
    pub fn echo_sequence(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ECHO_SEQUENCE.start)
    }
    pub fn is_error(&self) -> bool {
        use message::*;
        matches!(
            self.message_type(),
            DESTINATION_UNREACHABLE | SOURCE_QUENCH | REDIRECT | TIME_EXCEEDED | PARAMETER_PROBLEM
        )
    }
    /// Echo data, or for errors the embedded IP header and first 8 bytes (RFC 792).
    pub fn data(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[field::HEADER_LEN.min(b.len())..]
    }
    /// The embedded packet of an error message; `None` for other messages.
    pub fn embedded(&self) -> Option<&[u8]> {
        self.is_error().then(|| self.data())
    }
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    pub fn set_message_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_rest_of_header(&mut self, v: [u8; 4]) {
        self.buffer.as_mut()[field::REST_OF_HEADER].copy_from_slice(&v);
    }
    /// Checksum over the whole message (no pseudo-header in ICMPv4).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

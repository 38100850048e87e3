//! ICMPv6 (RFC 4443) and the neighbour discovery messages we answer (RFC 4861 §4.3, §4.4).
#![forbid(unsafe_code)]

use super::be16;
use crate::counters::DropReason;

/// ```text
///  0                   1                   2                   3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     Type      |     Code      |          Checksum             |
/// |  Identifier (echo) / flags R S O (NA) / reserved / MTU / ptr  |
/// |  echo data / embedded packet (errors) / target address (ND)   |
/// |  ... ND options: type(1) length(1, 8-byte units) value ...    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
pub mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENTIFIER: Range<usize> = 4..6;
    pub const ECHO_SEQUENCE: Range<usize> = 6..8;
    /// Neighbour advertisement flags: R (0x80), S (0x40), O (0x20).
    pub const ND_FLAGS: usize = 4;
    pub const ND_RESERVED: Range<usize> = 4..8;
    pub const ND_TARGET: Range<usize> = 8..24;
    pub const ND_OPTIONS_START: usize = 24;
    pub const HEADER_LEN: usize = 8;
    pub const ND_LEN: usize = 24;
}

pub mod message {
    pub const DESTINATION_UNREACHABLE: u8 = 1;
    pub const PACKET_TOO_BIG: u8 = 2;
    pub const TIME_EXCEEDED: u8 = 3;
    pub const PARAMETER_PROBLEM: u8 = 4;
    pub const ECHO_REQUEST: u8 = 128;
    pub const ECHO_REPLY: u8 = 129;
    pub const NEIGHBOR_SOLICITATION: u8 = 135;
    pub const NEIGHBOR_ADVERTISEMENT: u8 = 136;
}

pub mod nd_flags {
    pub const ROUTER: u8 = 0x80;
    pub const SOLICITED: u8 = 0x40;
    pub const OVERRIDE: u8 = 0x20;
}

/// ND option types (RFC 4861 §4.6.1).
pub const OPTION_SOURCE_LINK_LAYER_ADDRESS: u8 = 1;
pub const OPTION_TARGET_LINK_LAYER_ADDRESS: u8 = 2;
/// Options read before giving up on a hostile message.
pub const MAX_ND_OPTIONS: usize = 16;

#[derive(Debug, Clone)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// The 8-byte header; neighbour solicitations and advertisements also need their target.
    pub fn check_len(&self) -> Result<(), DropReason> {
        let b = self.buffer.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(DropReason::IcmpTruncated);
        }
        if self.is_neighbor_discovery() && b.len() < field::ND_LEN {
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
    /// RFC 4443 §2.1: types below 128 are errors.
    pub fn is_error(&self) -> bool {
        self.message_type() < 128
    }
    pub fn is_neighbor_discovery(&self) -> bool {
        matches!(
            self.message_type(),
            message::NEIGHBOR_SOLICITATION | message::NEIGHBOR_ADVERTISEMENT
        )
    }
    /// Bytes after the 8-byte header: echo data, or an error's embedded packet.
    pub fn data(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[field::HEADER_LEN.min(b.len())..]
    }
    pub fn embedded(&self) -> Option<&[u8]> {
        self.is_error().then(|| self.data())
    }
    pub fn nd_flags(&self) -> u8 {
        self.buffer.as_ref()[field::ND_FLAGS]
    }
    /// The ND target address; all zero when the message is not ND or too short.
    pub fn nd_target(&self) -> [u8; 16] {
        self.buffer.as_ref().get(field::ND_TARGET).and_then(|s| s.try_into().ok()).unwrap_or_default()
    }
    pub fn nd_options(&self) -> NdOptions<'_> {
        let b = self.buffer.as_ref();
        NdOptions { bytes: b.get(field::ND_OPTIONS_START..).unwrap_or(&[]), count: 0 }
    }
    /// The first link-layer address option of `option_type` with an Ethernet address.
    /// `Err` when an option is malformed (length 0 or overrunning): RFC 4861 §4.6 says discard.
    pub fn nd_link_layer_address(&self, option_type: u8) -> Result<Option<[u8; 6]>, DropReason> {
        for option in self.nd_options() {
            let (kind, value) = option?;
            if kind == option_type && value.len() >= 6 {
                let mut mac = [0u8; 6];
                mac.copy_from_slice(&value[..6]);
                return Ok(Some(mac));
            }
        }
        Ok(None)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    pub fn set_message_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }
    pub fn set_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }
    pub fn set_checksum(&mut self, v: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&v.to_be_bytes());
    }
}

/// ND options (RFC 4861 §4.6): yields `(type, value)` where value excludes type and length.
/// Bounded to [`MAX_ND_OPTIONS`]; a zero length or an overrun yields one `Err` and ends.
pub struct NdOptions<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Iterator for NdOptions<'a> {
    type Item = Result<(u8, &'a [u8]), DropReason>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.bytes.is_empty() {
            return None;
        }
        self.count += 1;
        let len = self.bytes.get(1).map(|&l| l as usize * 8).unwrap_or(0);
        if self.count > MAX_ND_OPTIONS || len == 0 || len > self.bytes.len() {
            self.bytes = &[];
            return Some(Err(DropReason::NdIgnored));
        }
        let (option, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Some(Ok((option[0], &option[2..])))
    }
}

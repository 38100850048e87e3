//! ARP for Ethernet and IPv4 (RFC 826), the only hardware/protocol pair the balancer speaks.
#![forbid(unsafe_code)]

use crate::counters::DropReason;

/// ```text
///  0       2       4   5   6       8            14        18           24        28
/// +-------+-------+---+---+-------+------------+---------+------------+---------+
/// | htype | ptype |hln|pln| oper  | sender MAC | send IP | target MAC | targ IP |
/// +-------+-------+---+---+-------+------------+---------+------------+---------+
/// ```
pub mod field {
    use core::ops::Range;
    pub const HARDWARE_TYPE: Range<usize> = 0..2;
    pub const PROTOCOL_TYPE: Range<usize> = 2..4;
    pub const HARDWARE_LEN: usize = 4;
    pub const PROTOCOL_LEN: usize = 5;
    pub const OPERATION: Range<usize> = 6..8;
    pub const SENDER_HARDWARE_ADDR: Range<usize> = 8..14;
    pub const SENDER_PROTOCOL_ADDR: Range<usize> = 14..18;
    pub const TARGET_HARDWARE_ADDR: Range<usize> = 18..24;
    pub const TARGET_PROTOCOL_ADDR: Range<usize> = 24..28;
    pub const LEN: usize = 28;
}

pub const HARDWARE_ETHERNET: u16 = 1;
pub const OPERATION_REQUEST: u16 = 1;
pub const OPERATION_REPLY: u16 = 2;

#[derive(Debug, Clone)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }
    /// Length only; `is_ethernet_ipv4()` says whether the sizes match what we speak.
    pub fn check_len(&self) -> Result<(), DropReason> {
        if self.buffer.as_ref().len() < field::LEN {
            return Err(DropReason::ArpIgnored);
        }
        Ok(())
    }
    fn be16(&self, r: core::ops::Range<usize>) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[r.start], b[r.start + 1]])
    }
    pub fn hardware_type(&self) -> u16 {
        self.be16(field::HARDWARE_TYPE)
    }
    pub fn protocol_type(&self) -> u16 {
        self.be16(field::PROTOCOL_TYPE)
    }
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HARDWARE_LEN]
    }
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL_LEN]
    }
    /// Ethernet (1) / IPv4 (0x0800) with 6- and 4-byte addresses.
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.hardware_type() == HARDWARE_ETHERNET
            && self.protocol_type() == super::ethernet::ethertype::IPV4
            && self.hardware_len() == 6
            && self.protocol_len() == 4
    }
    pub fn operation(&self) -> u16 {
        self.be16(field::OPERATION)
    }
    pub fn sender_hardware_addr(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::SENDER_HARDWARE_ADDR].try_into().unwrap_or_default()
    }
    pub fn sender_protocol_addr(&self) -> [u8; 4] {
        self.buffer.as_ref()[field::SENDER_PROTOCOL_ADDR].try_into().unwrap_or_default()
    }
    pub fn target_hardware_addr(&self) -> [u8; 6] {
        self.buffer.as_ref()[field::TARGET_HARDWARE_ADDR].try_into().unwrap_or_default()
    }
    pub fn target_protocol_addr(&self) -> [u8; 4] {
        self.buffer.as_ref()[field::TARGET_PROTOCOL_ADDR].try_into().unwrap_or_default()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    fn set_be16(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    /// Writes htype/ptype/hlen/plen for Ethernet/IPv4.
    pub fn set_ethernet_ipv4(&mut self) {
        self.set_be16(field::HARDWARE_TYPE, HARDWARE_ETHERNET);
        self.set_be16(field::PROTOCOL_TYPE, super::ethernet::ethertype::IPV4);
        let b = self.buffer.as_mut();
        b[field::HARDWARE_LEN] = 6;
        b[field::PROTOCOL_LEN] = 4;
    }
    pub fn set_operation(&mut self, op: u16) {
        self.set_be16(field::OPERATION, op);
    }
    pub fn set_sender_hardware_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::SENDER_HARDWARE_ADDR].copy_from_slice(&a);
    }
    pub fn set_sender_protocol_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::SENDER_PROTOCOL_ADDR].copy_from_slice(&a);
    }
    pub fn set_target_hardware_addr(&mut self, a: [u8; 6]) {
        self.buffer.as_mut()[field::TARGET_HARDWARE_ADDR].copy_from_slice(&a);
    }
    pub fn set_target_protocol_addr(&mut self, a: [u8; 4]) {
        self.buffer.as_mut()[field::TARGET_PROTOCOL_ADDR].copy_from_slice(&a);
    }
}

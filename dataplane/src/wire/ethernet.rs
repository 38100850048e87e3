//! Ethernet II with up to two VLAN tags (IEEE 802.1Q, and an 802.1ad QinQ outer tag).
//!
//! The tags sit between the source address and the EtherType, so the L3 offset is only known
//! after reading them: `header_len()` computes it once and `check_len()` proves it fits.
#![forbid(unsafe_code)]

use crate::counters::DropReason;

/// ```text
///  0                   6                  12      14
/// +-------------------+-------------------+-------+---------- - -
/// | destination       | source            | type  | payload
/// +-------------------+-------------------+-------+---------- - -
/// with tags, type is 0x8100 (or 0x88a8) and is followed by the TCI then the next type:
/// | destination | source | 0x88a8 | TCI | 0x8100 | TCI | type | payload
/// ```
pub mod field {
    use core::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HEADER_LEN: usize = 14;
    /// One tag: TPID(2) + TCI(2).
    pub const TAG_LEN: usize = 4;
}

pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const IPV6: u16 = 0x86dd;
    /// IEEE 802.1Q customer tag.
    pub const VLAN: u16 = 0x8100;
    /// IEEE 802.1ad service tag (QinQ outer).
    pub const QINQ: u16 = 0x88a8;
}

/// The tags a frame carries, resolved once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Tags {
    /// Number of tags (0, 1 or 2).
    pub count: u8,
    /// The inner (or only) 802.1Q VLAN id.
    pub vlan: Option<u16>,
    /// The 802.1ad outer VLAN id when the frame is double tagged.
    pub outer_vlan: Option<u16>,
    /// The EtherType after the tags.
    pub ethertype: u16,
}

impl Tags {
    pub const fn header_len(&self) -> usize {
        field::HEADER_LEN + self.count as usize * field::TAG_LEN
    }
}

#[derive(Debug, Clone)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

#[inline(always)]
fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads the tags from untrusted bytes. Returns `EthernetTruncated` when a tag or the
/// EtherType after it is cut off.
#[inline]
pub fn read_tags(b: &[u8]) -> Result<Tags, DropReason> {
    if b.len() < field::HEADER_LEN {
        return Err(DropReason::EthernetTruncated);
    }
    let mut tags = Tags { ethertype: be16(b, 12), ..Tags::default() };
    // Outer tag: 802.1ad or a plain 802.1Q tag.
    if tags.ethertype == ethertype::QINQ || tags.ethertype == ethertype::VLAN {
        if b.len() < field::HEADER_LEN + field::TAG_LEN {
            return Err(DropReason::EthernetTruncated);
        }
        let outer_is_service = tags.ethertype == ethertype::QINQ;
        let vid = be16(b, 14) & 0x0fff;
        tags.count = 1;
        tags.ethertype = be16(b, 16);
        tags.vlan = Some(vid);
        // IEEE 802.1ad: an S-tag may be followed by one C-tag. 0x8100 0x8100 is also seen
        // in the field (pre-standard QinQ); accept both, never a third tag.
        if tags.ethertype == ethertype::VLAN {
            if b.len() < field::HEADER_LEN + 2 * field::TAG_LEN {
                return Err(DropReason::EthernetTruncated);
            }
            tags.count = 2;
            tags.outer_vlan = Some(vid);
            tags.vlan = Some(be16(b, 18) & 0x0fff);
            tags.ethertype = be16(b, 20);
        } else if outer_is_service {
            tags.outer_vlan = Some(vid);
            tags.vlan = None;
        }
    }
    Ok(tags)
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }
    pub fn new_checked(buffer: T) -> Result<Self, DropReason> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }
    /// Proves the addresses, every tag and the final EtherType are present.
    pub fn check_len(&self) -> Result<(), DropReason> {
        read_tags(self.buffer.as_ref()).map(|_| ())
    }
    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn destination(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::DESTINATION]);
        a
    }
    pub fn source(&self) -> [u8; 6] {
        let mut a = [0; 6];
        a.copy_from_slice(&self.buffer.as_ref()[field::SOURCE]);
        a
    }
    /// Tags and the EtherType after them. Infallible after `check_len`.
    pub fn tags(&self) -> Tags {
        read_tags(self.buffer.as_ref()).unwrap_or_default()
    }
    pub fn ethertype(&self) -> u16 {
        self.tags().ethertype
    }
    pub fn header_len(&self) -> usize {
        self.tags().header_len()
    }
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len().min(b.len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    pub fn set_destination(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&mac);
    }
    pub fn set_source(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&mac);
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        let b = self.buffer.as_mut();
        let at = at.min(b.len());
        &mut b[at..]
    }
}

/// True for group addresses (broadcast included): the I/G bit.
pub const fn is_multicast(mac: [u8; 6]) -> bool {
    mac[0] & 1 == 1
}

pub const BROADCAST: [u8; 6] = [0xff; 6];

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_single_and_double_tags() {
        let mut f = vec![0u8; 30];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let t = read_tags(&f).unwrap();
        assert_eq!((t.count, t.vlan, t.ethertype, t.header_len()), (0, None, 0x0800, 14));

        f[12..18].copy_from_slice(&[0x81, 0x00, 0x20, 0x0a, 0x86, 0xdd]);
        let t = read_tags(&f).unwrap();
        assert_eq!((t.count, t.vlan, t.outer_vlan, t.ethertype), (1, Some(10), None, 0x86dd));

        f[12..22].copy_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0b, 0x08, 0x06]);
        let t = read_tags(&f).unwrap();
        assert_eq!((t.count, t.vlan, t.outer_vlan, t.ethertype), (2, Some(11), Some(100), 0x0806));
        assert_eq!(t.header_len(), 22);
        for n in 0..22 {
            assert_eq!(read_tags(&f[..n]), Err(DropReason::EthernetTruncated), "prefix {n}");
        }
    }

    #[test]
    fn setters_write_addresses() {
        let mut f = EthernetFrame::new_checked(vec![0u8; 14]).unwrap();
        f.set_destination([1, 2, 3, 4, 5, 6]);
        f.set_source([7, 8, 9, 10, 11, 12]);
        assert_eq!(f.destination(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(f.source(), [7, 8, 9, 10, 11, 12]);
        assert!(f.payload().is_empty());
    }
}

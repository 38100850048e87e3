//! Typed zero-copy views over packet bytes, and [`parse`], the one-pass front end.
//!
//! Why our own views rather than `smoltcp::wire`: smoltcp's views are excellent but know no
//! 802.1Q/802.1ad tags, no AH in the IPv6 chain walk, no bounded walk with our drop reasons,
//! and no DTLS; and its `Ipv4Packet::check_len` returns a unit error we would have to map
//! back to a reason per header. So each module here follows smoltcp's *shape* (a `field`
//! module of byte ranges under the header diagram, `new_checked`/`check_len`, getters on
//! `AsRef<[u8]>`, setters on `AsMut<[u8]>`, no accessor panics after `check_len`), with
//! errors that are already [`DropReason`]s. On the fast path the classifier does not even
//! hold views: [`parse`] validates each header once and returns the offsets and fields it
//! needs in a small `Copy` struct, so nothing is re-validated per accessor.
#![forbid(unsafe_code)]

pub mod arp;
pub mod build;
pub mod checksum;
pub mod dtls;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

use crate::counters::DropReason;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IP protocol numbers (IANA), including the IPv6 extension headers.
pub mod summary;
pub use summary::{arp_summary, destination_mac, embedded, is_icmp_error, nd_summary, nd_target, ArpSummary, Embedded, NdSummary};

pub mod protocol {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ICMP: u8 = 1;
    pub const IPV4_IN_IP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_IN_IP: u8 = 41;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const ESP: u8 = 50;
    pub const AUTHENTICATION: u8 = 51;
    pub const ICMPV6: u8 = 58;
    pub const NO_NEXT_HEADER: u8 = 59;
    pub const DESTINATION_OPTIONS: u8 = 60;
}

/// Big-endian reads used by the views after their `check_len` proved the bytes are there.
#[inline(always)]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[inline(always)]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The network layer of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum L3 {
    Arp,
    Ipv4,
    Ipv6,
}

/// An IPv4 fragment or an IPv6 Fragment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragInfo {
    /// IPv4 identification (16 bits) or IPv6 Fragment identification (32 bits).
    pub id: u32,
    /// Fragment offset in 8-byte units.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
}

/// What [`parse`] learned about a frame, in one pass. Offsets are from the frame start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub l3_offset: u16,
    /// The inner (or only) 802.1Q VLAN id.
    pub vlan: Option<u16>,
    /// The 802.1ad outer VLAN id of a double-tagged frame.
    pub outer_vlan: Option<u16>,
    /// EtherType after the tags.
    pub ethertype: u16,
    pub l3: L3,
    // IP only (zero for ARP):
    /// IPv4 addresses fill the first 4 bytes, the rest is zero.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    /// Upper-layer protocol, after the IPv6 extension-header walk.
    pub proto: u8,
    /// TTL / hop limit.
    pub ttl: u8,
    /// IPv6 flow label (20 bits); 0 for IPv4.
    pub flow_label: u32,
    /// Bytes of the IP packet per its header (IPv4 total length, IPv6 40 + payload length).
    pub ip_len: u16,
    /// Offset of the upper-layer header (valid even when it is not in this packet).
    pub l4_offset: u16,
    /// Set for IPv4 fragments and for IPv6 packets with a Fragment header.
    pub frag: Option<FragInfo>,
    /// UDP/TCP ports when the L4 header is present; else 0.
    pub sport: u16,
    pub dport: u16,
    /// The upper-layer header is in this packet (false for non-first fragments).
    pub l4_present: bool,
}

impl Parsed {
    /// What the link layer tells: the IP fields zero, for the parser to fill in.
    #[inline(always)]
    fn headers_only(l3_offset: u16, vlan: Option<u16>, outer_vlan: Option<u16>, ethertype: u16, l3: L3, l4_present: bool) -> Parsed {
        Parsed {
            l3_offset,
            vlan,
            outer_vlan,
            ethertype,
            l3,
            src: ZERO,
            dst: ZERO,
            proto: 0,
            ttl: 0,
            flow_label: 0,
            ip_len: 0,
            l4_offset: 0,
            frag: None,
            sport: 0,
            dport: 0,
            l4_present,
        }
    }

    pub fn is_ipv4(&self) -> bool {
        self.l3 == L3::Ipv4
    }
    pub fn is_ipv6(&self) -> bool {
        self.l3 == L3::Ipv6
    }
    pub fn src_v4(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.src[0], self.src[1], self.src[2], self.src[3])
    }
    pub fn dst_v4(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.dst[0], self.dst[1], self.dst[2], self.dst[3])
    }
    /// The source address (IPv4 for ARP frames too: all zero).
    pub fn src_ip(&self) -> IpAddr {
        match self.l3 {
            L3::Ipv6 => IpAddr::V6(Ipv6Addr::from(self.src)),
            _ => IpAddr::V4(self.src_v4()),
        }
    }
    pub fn dst_ip(&self) -> IpAddr {
        match self.l3 {
            L3::Ipv6 => IpAddr::V6(Ipv6Addr::from(self.dst)),
            _ => IpAddr::V4(self.dst_v4()),
        }
    }
    pub fn is_fragment(&self) -> bool {
        self.frag.is_some()
    }
    /// Unfragmented, or the fragment at offset 0 (which holds the L4 header).
    pub fn is_first_fragment(&self) -> bool {
        self.frag.is_some_and(|f| f.offset == 0)
    }
    /// The whole datagram is in this packet: not fragmented, or an atomic fragment
    /// (offset 0, no more fragments; RFC 6946).
    pub fn is_whole(&self) -> bool {
        !matches!(self.frag, Some(f) if f.offset != 0 || f.more)
    }
    /// A fragment whose L4 header is in another packet.
    pub fn is_non_first_fragment(&self) -> bool {
        self.frag.is_some_and(|f| f.offset != 0)
    }
    /// Offset of the first byte after the IP packet (Ethernet padding starts here).
    pub fn ip_end(&self) -> usize {
        self.l3_offset as usize + self.ip_len as usize
    }
    /// The upper-layer bytes of this packet: from `l4_offset` to the end of the IP packet.
    pub fn l4<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        let end = self.ip_end().min(frame.len());
        &frame[(self.l4_offset as usize).min(end)..end]
    }
    /// The UDP payload (per the UDP length field) of a whole datagram; empty otherwise.
    pub fn udp_payload<'a>(&self, frame: &'a [u8]) -> &'a [u8] {
        if self.proto != protocol::UDP || !self.l4_present || !self.is_whole() {
            return &[];
        }
        let l4 = self.l4(frame);
        if l4.len() < udp::field::HEADER_LEN {
            return &[];
        }
        let length = udp::UdpPacket::new_unchecked(l4).len() as usize;
        &l4[udp::field::HEADER_LEN..length.clamp(udp::field::HEADER_LEN, l4.len())]
    }
}

const ZERO: [u8; 16] = [0; 16];

/// Parses and validates a frame in one pass, from the Ethernet header to the L4 ports.
///
/// Never panics. Ethernet padding after the IP packet is ignored. Every failure is the drop
/// reason the worker counts. ARP is only size- and type-checked; the reply logic reads it.
#[inline]
pub fn parse(frame: &[u8]) -> Result<Parsed, DropReason> {
    match parse_common(frame) {
        Some(parsed) => Ok(parsed),
        None => parse_general(frame),
    }
}

/// The shapes that carry nearly all traffic, checked with fixed offsets: untagged IPv4
/// without options and not fragmented, or IPv6 without extension headers, carrying a whole
/// UDP datagram or a TCP segment; and IPv6 whose first extension header is hop-by-hop,
/// routing, destination options or a Fragment header, its chain walked out of line
/// ([`walk_chain`]): an unfragmented or atomic (offset 0, no more to come; RFC 6946) packet
/// with a whole UDP datagram or TCP segment, a first fragment with its UDP header or whole TCP
/// header, a later fragment with no upper-layer header at all. Whatever it returns is
/// exactly what [`parse_general`] returns for the same bytes (a property test and the `parse`
/// fuzz target hold it to that); anything else (tags, IPv4 options and fragments, other
/// protocols, every malformed frame) is `None` and takes the general walk, which names the
/// drop reason.
#[inline(always)]
fn parse_common(frame: &[u8]) -> Option<Parsed> {
    const ETH: usize = ethernet::field::HEADER_LEN;
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let mut parsed = Parsed::headers_only(ETH as u16, None, None, ethertype, L3::Ipv4, true);
    let (ip_len, l4_offset) = match ethertype {
        ethernet::ethertype::IPV4 => {
            let h: &[u8; 20] = frame.get(ETH..ETH + 20)?.try_into().ok()?;
            let total = u16::from_be_bytes([h[2], h[3]]);
            // Version 4, IHL 5; MF clear and offset zero (DF may be set).
            if h[0] != 0x45 || (total as usize) < 20 || ETH + total as usize > frame.len() || h[6] & 0x3f != 0 || h[7] != 0 {
                return None;
            }
            parsed.src[..4].copy_from_slice(&h[12..16]);
            parsed.dst[..4].copy_from_slice(&h[16..20]);
            parsed.proto = h[9];
            parsed.ttl = h[8];
            (total, ETH + 20)
        }
        ethernet::ethertype::IPV6 => {
            let h: &[u8; 40] = frame.get(ETH..ETH + 40)?.try_into().ok()?;
            let payload = u16::from_be_bytes([h[4], h[5]]) as usize;
            if h[0] >> 4 != 6 || ETH + 40 + payload > frame.len() {
                return None;
            }
            let total = u16::try_from(40 + payload).ok()?;
            parsed.l3 = L3::Ipv6;
            parsed.src.copy_from_slice(&h[8..24]);
            parsed.dst.copy_from_slice(&h[24..40]);
            parsed.proto = h[6];
            parsed.ttl = h[7];
            parsed.flow_label = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) & 0x000f_ffff;
            if matches!(parsed.proto, protocol::HOP_BY_HOP | protocol::ROUTING | protocol::DESTINATION_OPTIONS | protocol::FRAGMENT) {
                let walk = walk_chain(frame.get(ETH..ETH + total as usize)?)?;
                parsed.proto = walk.protocol;
                let upper_offset = ETH + walk.upper_offset;
                let Some((id, offset, more)) = walk.fragment else {
                    return upper_layer(frame, parsed, total, upper_offset);
                };
                parsed.frag = Some(FragInfo { id, offset, more });
                if parsed.is_whole() {
                    return upper_layer(frame, parsed, total, upper_offset);
                }
                parsed.ip_len = total;
                parsed.l4_offset = upper_offset as u16;
                parsed.l4_present = walk.upper_present;
                if walk.upper_present {
                    (parsed.sport, parsed.dport) = first_fragment_ports(frame, parsed.proto, upper_offset, ETH + total as usize - upper_offset)?;
                }
                return Some(parsed);
            }
            (total, ETH + 40)
        }
        _ => return None,
    };
    upper_layer(frame, parsed, ip_len, l4_offset)
}

/// For [`parse_common`], an IPv6 packet with extension headers: the general parse's own walk
/// ([`ipv6::walk_extensions`]), from here instead of from the Ethernet header again. A
/// malformed chain is `None`: the general parse takes the frame and names the drop reason.
/// Out of line and over the bytes alone, so that `parse_common`'s result stays in registers
/// and the far more common packet without extension headers keeps its upper layer at a
/// constant offset.
#[inline(never)]
fn walk_chain(packet: &[u8]) -> Option<ipv6::ExtensionWalk> {
    ipv6::walk_extensions(packet).ok()
}

/// For [`parse_common`], a first fragment that is not atomic: the ports of its UDP header
/// (whose length field counts the whole datagram, so it is not held to this fragment's
/// `l4_len` bytes) or of its TCP header, which must be here whole. As [`parse_general`] checks
/// them. Out of line and over the bytes alone, as [`walk_chain`].
#[inline(never)]
fn first_fragment_ports(frame: &[u8], protocol: u8, l4_offset: usize, l4_len: usize) -> Option<(u16, u16)> {
    let l4: &[u8; 8] = frame.get(l4_offset..l4_offset + 8)?.try_into().ok()?;
    match protocol {
        protocol::UDP if l4_len >= 8 => {}
        protocol::TCP => {
            let header = (*frame.get(l4_offset + 12)? >> 4) as usize * 4;
            if header < 20 || header > l4_len {
                return None;
            }
        }
        _ => return None,
    }
    Some((u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]])))
}

/// The end of [`parse_common`]: a whole UDP datagram or a TCP segment at `l4_offset`, inside
/// the `ip_len` bytes of the IP packet.
#[inline(always)]
fn upper_layer(frame: &[u8], mut parsed: Parsed, ip_len: u16, l4_offset: usize) -> Option<Parsed> {
    const ETH: usize = ethernet::field::HEADER_LEN;
    // The upper-layer bytes the IP header delivers.
    let l4_len = (ETH + ip_len as usize - l4_offset) as u16;
    let l4: &[u8; 8] = frame.get(l4_offset..l4_offset + 8)?.try_into().ok()?;
    match parsed.proto {
        protocol::UDP => {
            let length = u16::from_be_bytes([l4[4], l4[5]]);
            if length < 8 || length > l4_len {
                return None;
            }
        }
        protocol::TCP => {
            let header = (*frame.get(l4_offset + 12)? >> 4) as u16 * 4;
            if header < 20 || header > l4_len {
                return None;
            }
        }
        _ => return None,
    }
    parsed.sport = u16::from_be_bytes([l4[0], l4[1]]);
    parsed.dport = u16::from_be_bytes([l4[2], l4[3]]);
    parsed.ip_len = ip_len;
    parsed.l4_offset = l4_offset as u16;
    Some(parsed)
}

/// The full parse: tags, options, fragments, the extension-header walk, ARP, every error.
pub fn parse_general(frame: &[u8]) -> Result<Parsed, DropReason> {
    let tags = ethernet::read_tags(frame)?;
    let l3_offset = tags.header_len();
    let l3_bytes = &frame[l3_offset..];
    let mut parsed = Parsed::headers_only(l3_offset as u16, tags.vlan, tags.outer_vlan, tags.ethertype, L3::Arp, false);
    let l4_relative = match tags.ethertype {
        ethernet::ethertype::ARP => {
            let arp = arp::ArpPacket::new_checked(l3_bytes)?;
            if !arp.is_ethernet_ipv4() {
                return Err(DropReason::ArpIgnored);
            }
            parsed.ip_len = arp::field::LEN as u16;
            return Ok(parsed);
        }
        ethernet::ethertype::IPV4 => {
            let ip = ipv4::Ipv4Packet::new_checked(l3_bytes)?;
            parsed.l3 = L3::Ipv4;
            parsed.src[..4].copy_from_slice(&ip.source());
            parsed.dst[..4].copy_from_slice(&ip.destination());
            parsed.proto = ip.protocol();
            parsed.ttl = ip.ttl();
            parsed.ip_len = ip.total_len();
            if ip.is_fragment() {
                parsed.frag = Some(FragInfo {
                    id: ip.identification() as u32,
                    offset: ip.fragment_offset(),
                    more: ip.more_fragments(),
                });
            }
            parsed.l4_present = ip.fragment_offset() == 0;
            ip.header_len()
        }
        ethernet::ethertype::IPV6 => {
            let ip = ipv6::Ipv6Packet::new_checked(l3_bytes)?;
            parsed.l3 = L3::Ipv6;
            parsed.src = ip.source();
            parsed.dst = ip.destination();
            parsed.ttl = ip.hop_limit();
            parsed.flow_label = ip.flow_label();
            // 40 + 65535 fits no u16: such a packet exceeds any frame we receive anyway.
            parsed.ip_len = u16::try_from(ip.total_len()).map_err(|_| DropReason::Ipv6BadHeader)?;
            let walk = ip.walk_extensions()?;
            parsed.proto = walk.protocol;
            parsed.frag = walk.fragment.map(|(id, offset, more)| FragInfo { id, offset, more });
            parsed.l4_present = walk.upper_present;
            walk.upper_offset
        }
        _ => return Err(DropReason::UnsupportedEthertype),
    };
    parsed.l4_offset = (l3_offset + l4_relative) as u16;
    if !parsed.l4_present {
        return Ok(parsed);
    }
    let l4 = parsed.l4(frame);
    let whole = parsed.is_whole();
    match parsed.proto {
        protocol::UDP => {
            let udp = udp::UdpPacket::new_checked(l4)?;
            if whole {
                udp.check_length_field()?;
            }
            parsed.sport = udp.source_port();
            parsed.dport = udp.destination_port();
        }
        protocol::TCP => {
            let tcp = tcp::TcpPacket::new_checked(l4)?;
            parsed.sport = tcp.source_port();
            parsed.dport = tcp.destination_port();
        }
        protocol::ICMP if parsed.l3 == L3::Ipv4 => {
            icmpv4::Icmpv4Packet::new_checked(l4)?;
        }
        protocol::ICMPV6 if parsed.l3 == L3::Ipv6 => {
            icmpv6::Icmpv6Packet::new_checked(l4)?;
        }
        _ => {}
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;

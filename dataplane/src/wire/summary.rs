//! Small read-only summaries of the messages the classifier and the control thread act on
//! (ARP, neighbour discovery), built on the header views.
#![forbid(unsafe_code)]

use super::{arp, icmpv6, parse, protocol, Parsed, L3};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The destination MAC of a frame (all zero when the frame is shorter than 6 bytes).
#[inline(always)]
pub fn destination_mac(frame: &[u8]) -> [u8; 6] {
    frame.get(..6).and_then(|b| b.try_into().ok()).unwrap_or_default()
}

/// An Ethernet/IPv4 ARP message (RFC 826).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpSummary {
    pub is_request: bool,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

/// The ARP request or reply in `frame`, if it is one.
pub fn arp_summary(frame: &[u8]) -> Option<ArpSummary> {
    let parsed = parse(frame).ok()?;
    if parsed.l3 != L3::Arp {
        return None;
    }
    let packet = arp::ArpPacket::new_checked(frame.get(parsed.l3_offset as usize..)?).ok()?;
    let is_request = match packet.operation() {
        arp::OPERATION_REQUEST => true,
        arp::OPERATION_REPLY => false,
        _ => return None,
    };
    Some(ArpSummary {
        is_request,
        sender_mac: packet.sender_hardware_addr(),
        sender_ip: Ipv4Addr::from(packet.sender_protocol_addr()),
        target_ip: Ipv4Addr::from(packet.target_protocol_addr()),
    })
}

/// A neighbour solicitation or advertisement (RFC 4861 §4.3, §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NdSummary {
    pub is_advertisement: bool,
    pub target: Ipv6Addr,
    /// Source link-layer option of a solicitation, target link-layer option of an
    /// advertisement.
    pub link_layer: Option<[u8; 6]>,
}

fn nd_message<'a>(parsed: &Parsed, frame: &'a [u8]) -> Option<icmpv6::Icmpv6Packet<&'a [u8]>> {
    if parsed.l3 != L3::Ipv6 || parsed.proto != protocol::ICMPV6 || !parsed.l4_present || parsed.frag.is_some() {
        return None;
    }
    let message = icmpv6::Icmpv6Packet::new_checked(parsed.l4(frame)).ok()?;
    (message.is_neighbor_discovery() && message.code() == 0 && parsed.l4(frame).len() >= icmpv6::field::ND_LEN)
        .then_some(message)
}

/// The target address of a neighbour solicitation.
pub fn nd_target(parsed: &Parsed, frame: &[u8]) -> Option<Ipv6Addr> {
    let message = nd_message(parsed, frame)?;
    (message.message_type() == icmpv6::message::NEIGHBOR_SOLICITATION).then(|| Ipv6Addr::from(message.nd_target()))
}

/// The neighbour solicitation or advertisement in a parsed frame, if it is one. Hop limit
/// must be 255 (RFC 4861 §7.1): anything else may come from off-link and is ignored.
pub fn nd_summary(parsed: &Parsed, frame: &[u8]) -> Option<NdSummary> {
    if parsed.ttl != 255 {
        return None;
    }
    let message = nd_message(parsed, frame)?;
    let is_advertisement = message.message_type() == icmpv6::message::NEIGHBOR_ADVERTISEMENT;
    let option = if is_advertisement {
        icmpv6::OPTION_TARGET_LINK_LAYER_ADDRESS
    } else {
        icmpv6::OPTION_SOURCE_LINK_LAYER_ADDRESS
    };
    Some(NdSummary {
        is_advertisement,
        target: Ipv6Addr::from(message.nd_target()),
        link_layer: message.nd_link_layer_address(option).ok().flatten(),
    })
}

/// The packet quoted in an ICMP or ICMPv6 error (RFC 792, RFC 4443 §2.4): often only its IP
/// header and 8 bytes, so only the addresses, protocol and ports are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Embedded {
    pub v6: bool,
    /// Addresses as in [`Parsed`]: IPv4 in the first 4 bytes.
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub proto: u8,
    /// UDP/TCP ports, when the quote holds them (0 otherwise).
    pub sport: u16,
    pub dport: u16,
    /// Offset of the quoted IP header and of its upper-layer header, from the frame start.
    pub ip_offset: usize,
    pub l4_offset: usize,
}

/// Is this ICMP/ICMPv6 message an error that quotes a packet (destination unreachable,
/// which includes "fragmentation needed", time exceeded, parameter problem, packet too big)?
pub fn is_icmp_error(parsed: &Parsed, frame: &[u8]) -> bool {
    if !parsed.l4_present || parsed.frag.is_some() {
        return false;
    }
    let Some(&kind) = frame.get(parsed.l4_offset as usize) else { return false };
    match (parsed.l3, parsed.proto) {
        (L3::Ipv4, protocol::ICMP) => matches!(kind, 3 | 11 | 12),
        (L3::Ipv6, protocol::ICMPV6) => matches!(kind, 1..=4),
        _ => false,
    }
}

/// The packet quoted by an ICMP error in `frame` (call after [`is_icmp_error`]).
pub fn embedded(parsed: &Parsed, frame: &[u8]) -> Option<Embedded> {
    let ip_offset = parsed.l4_offset as usize + 8;
    let end = parsed.ip_end().min(frame.len());
    let quote = frame.get(ip_offset..end)?;
    let mut e = Embedded { v6: false, src: [0; 16], dst: [0; 16], proto: 0, sport: 0, dport: 0, ip_offset, l4_offset: 0 };
    match parsed.l3 {
        L3::Ipv4 => {
            if quote.len() < 20 || quote[0] >> 4 != 4 {
                return None;
            }
            let header = ((quote[0] & 0x0f) as usize) * 4;
            if header < 20 {
                return None;
            }
            e.src[..4].copy_from_slice(&quote[12..16]);
            e.dst[..4].copy_from_slice(&quote[16..20]);
            e.proto = quote[9];
            e.l4_offset = ip_offset + header;
        }
        _ => {
            // Only an upper-layer header right after the fixed header is looked at: errors
            // about packets with extension headers go to every node of the service.
            if quote.len() < 40 || quote[0] >> 4 != 6 {
                return None;
            }
            e.v6 = true;
            e.src.copy_from_slice(&quote[8..24]);
            e.dst.copy_from_slice(&quote[24..40]);
            e.proto = quote[6];
            e.l4_offset = ip_offset + 40;
        }
    }
    if matches!(e.proto, protocol::UDP | protocol::TCP) {
        if let Some(ports) = frame.get(e.l4_offset..e.l4_offset + 4) {
            e.sport = u16::from_be_bytes([ports[0], ports[1]]);
            e.dport = u16::from_be_bytes([ports[2], ports[3]]);
        }
    }
    Some(e)
}

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

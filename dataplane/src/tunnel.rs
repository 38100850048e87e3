//! IP-in-IP forwarding (direct server return): the node decapsulates, owns the VIP and answers
//! the client itself, so the balancer carries only the inbound half.
//!
//! - IPv4-in-IPv4 (protocol 4, RFC 2003), IPv6-in-IPv6 (next header 41, RFC 2473) and the
//!   mixed families (4 in 6, 6 in 4, RFC 4213 §3.5).
//! - The inner packet is untouched (its TTL as received). The outer header gets the
//!   configured TTL / hop limit; an outer IPv4 header copies DF from an inner IPv4 header
//!   (RFC 2003 §3.1) and sets DF over IPv6 (IPv6 never fragments in the network); an outer
//!   IPv6 header carries a flow label derived from the inner flow, never zero (RFC 6438 §3),
//!   so routers between the balancer and the nodes spread tunnels by ECMP.
//! - Too big for the egress MTU: an inner IPv4 packet with DF, or any inner IPv6 packet, is
//!   answered with ICMP "fragmentation needed" (RFC 1191) / ICMPv6 Packet Too Big (RFC 8201)
//!   carrying the MTU minus the tunnel overhead; an inner IPv4 packet without DF is carried in
//!   outer fragments (RFC 2003 §5.1; RFC 2473 §7.1 for an IPv6 outer header).
//!
//! Everything here works in place on a [`Frame`]; nothing allocates (fragmentation asks the
//! caller for buffers).
#![forbid(unsafe_code)]

use crate::counters::DropReason;
use crate::frame::Frame;
use crate::wire::checksum;
use crate::wire::ethernet::ethertype;
use crate::wire::{protocol, Parsed, L3};
use std::net::IpAddr;

pub const IPV4_HEADER: usize = 20;
pub const IPV6_HEADER: usize = 40;
pub const IPV6_FRAGMENT_HEADER: usize = 8;
/// ICMPv6 errors stay within the IPv6 minimum MTU (RFC 4443 §2.4 (c)).
const ICMPV6_ERROR_MAX: usize = 1280;
/// ICMPv4 errors quote at most this much so the error fits in 576 bytes (RFC 1812 §4.3.2.3).
const ICMPV4_ERROR_MAX: usize = 576;

/// Bytes an outer header of this family adds.
#[inline]
pub fn overhead(outer_v6: bool) -> usize {
    if outer_v6 {
        IPV6_HEADER
    } else {
        IPV4_HEADER
    }
}

/// Does the inner IPv4 header forbid fragmentation?
#[inline]
pub fn inner_dont_fragment(parsed: &Parsed, frame: &[u8]) -> bool {
    match parsed.l3 {
        L3::Ipv4 => frame.get(parsed.l3_offset as usize + 6).is_some_and(|b| b & 0x40 != 0),
        _ => true,
    }
}

/// What to do with a packet of `parsed.ip_len` bytes through a tunnel on a port of `mtu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    Fits,
    /// Inner IPv4 without DF: send it in outer fragments of at most `mtu` bytes.
    Fragment,
    /// Tell the client the path MTU inside the tunnel.
    TooBig { mtu: u16 },
}

pub fn fit(parsed: &Parsed, frame: &[u8], outer_v6: bool, port_mtu: u16) -> Fit {
    let inner = parsed.ip_len as usize;
    let overhead = overhead(outer_v6);
    if inner + overhead <= port_mtu as usize {
        return Fit::Fits;
    }
    if inner_dont_fragment(parsed, frame) {
        Fit::TooBig { mtu: (port_mtu as usize).saturating_sub(overhead) as u16 }
    } else {
        Fit::Fragment
    }
}

/// The outer IPv6 flow label for an inner flow (RFC 6438 §3): the inner label when it has
/// one, else a mix of the inner addresses, protocol and ports ([`derived_flow_label`]); never
/// zero.
pub fn outer_flow_label(parsed: &Parsed) -> u32 {
    if parsed.l3 == L3::Ipv6 && parsed.flow_label != 0 {
        return parsed.flow_label & 0xf_ffff;
    }
    derived_flow_label(&parsed.src, &parsed.dst, parsed.sport, parsed.dport, parsed.proto)
}

/// The outer flow label of an inner flow without a label of its own: a mix of its addresses
/// (as [`Parsed`] holds them, 16 bytes each), upper-layer protocol and ports; never zero.
#[inline]
pub fn derived_flow_label(source: &[u8; 16], destination: &[u8; 16], sport: u16, dport: u16, proto: u8) -> u32 {
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for chunk in source.chunks_exact(8).chain(destination.chunks_exact(8)) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    h = (h ^ ((sport as u64) << 24 | (dport as u64) << 8 | proto as u64)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 29;
    let label = (h as u32) & 0xf_ffff;
    if label == 0 {
        1
    } else {
        label
    }
}

/// The outer header's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Outer {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub ttl: u8,
    /// IPv4 identification (used when the outer packet may be fragmented).
    pub identification: u16,
}

/// Wrap the frame's IP packet in an outer header: `[L2][inner]` becomes `[L2][outer][inner]`.
/// Ethernet padding after the inner packet is removed first. The L2 header (with any VLAN
/// tags) is kept and its EtherType set for the outer family.
pub fn encapsulate<F: Frame>(frame: &mut F, parsed: &Parsed, outer: &Outer) -> Result<(), DropReason> {
    let l3 = parsed.l3_offset as usize;
    let inner_len = parsed.ip_len as usize;
    if parsed.l3 == L3::Arp || source_destination_mismatch(outer) {
        return Err(DropReason::AddressFamilyMismatch);
    }
    if frame.len() < l3 + inner_len {
        return Err(DropReason::NoRoom);
    }
    let padding = frame.len() - (l3 + inner_len);
    if padding > 0 && !frame.trim(padding) {
        return Err(DropReason::NoRoom);
    }
    let inner_v6 = parsed.l3 == L3::Ipv6;
    let (inner_tos, inner_df) = {
        let data = frame.data();
        let tos = if inner_v6 {
            ((data[l3] & 0x0f) << 4) | (data[l3 + 1] >> 4)
        } else {
            data[l3 + 1]
        };
        (tos, inner_dont_fragment(parsed, data))
    };
    let outer_v6 = outer.destination.is_ipv6();
    let added = overhead(outer_v6);
    if !frame.prepend(added) {
        return Err(DropReason::NoRoom);
    }
    let data = frame.data_mut();
    // Move the L2 header (and tags) to the new front; the outer header goes where it was.
    data.copy_within(added..added + l3, 0);
    let next = if inner_v6 { protocol::IPV6_IN_IP } else { protocol::IPV4_IN_IP };
    if outer_v6 {
        data[l3 - 2..l3].copy_from_slice(&ethertype::IPV6.to_be_bytes());
        write_ipv6_header(&mut data[l3..l3 + IPV6_HEADER], inner_tos, outer_flow_label(parsed), inner_len as u16, next, outer);
    } else {
        data[l3 - 2..l3].copy_from_slice(&ethertype::IPV4.to_be_bytes());
        let df = inner_df; // an inner IPv6 packet reports DF as set
        write_ipv4_header(&mut data[l3..l3 + IPV4_HEADER], inner_tos, (IPV4_HEADER + inner_len) as u16, df, next, outer);
    }
    Ok(())
}

/// [`encapsulate`] in an outer IPv4 header, then the MACs set (`rewrite::set_macs`), of an
/// untagged Ethernet frame carrying IPv4 without options, for a caller that checked that shape
/// from the bytes (the worker's CID lane) and so has no [`Parsed`]; `macs` is (source,
/// destination). The same bytes and result as the general path's. The L2 header is written
/// whole rather than moved: only its MACs and EtherType survive encapsulation.
#[inline(always)]
pub fn encapsulate_ipv4_in_ipv4<F: Frame>(frame: &mut F, source: [u8; 4], destination: [u8; 4], ttl: u8, identification: u16, macs: ([u8; 6], [u8; 6])) -> Result<(), DropReason> {
    const ETH: usize = crate::wire::ethernet::field::HEADER_LEN;
    let data = frame.data();
    let Some(inner) = data.get(ETH..ETH + IPV4_HEADER) else {
        return Err(DropReason::NoRoom);
    };
    let (inner_len, tos, flags) = (usize::from(u16::from_be_bytes([inner[2], inner[3]])), inner[1], inner[6] & 0x40);
    if inner_len < IPV4_HEADER || data.len() < ETH + inner_len {
        return Err(DropReason::NoRoom);
    }
    let padding = data.len() - (ETH + inner_len);
    if padding > 0 && !frame.trim(padding) {
        return Err(DropReason::NoRoom);
    }
    if !frame.prepend(IPV4_HEADER) {
        return Err(DropReason::NoRoom);
    }
    let total = ((IPV4_HEADER + inner_len) as u16).to_be_bytes();
    let id = identification.to_be_bytes();
    let mut h = [
        0x45, tos, total[0], total[1], id[0], id[1], flags, 0, ttl, protocol::IPV4_IN_IP, 0, 0, source[0], source[1], source[2], source[3], destination[0], destination[1],
        destination[2], destination[3],
    ];
    let sum = checksum::checksum(&h).to_be_bytes();
    h[10] = sum[0];
    h[11] = sum[1];
    let Some(front) = frame.data_mut().get_mut(..ETH + IPV4_HEADER) else {
        return Err(DropReason::NoRoom);
    };
    front[0..6].copy_from_slice(&macs.1);
    front[6..12].copy_from_slice(&macs.0);
    front[12..14].copy_from_slice(&ethertype::IPV4.to_be_bytes());
    front[ETH..].copy_from_slice(&h);
    Ok(())
}

/// [`encapsulate`] in an outer IPv6 header, then the MACs set (`rewrite::set_macs`), of an
/// untagged Ethernet frame carrying IPv6, for a caller that checked that shape from the bytes
/// (the worker's IPv6 lane) and so has no [`Parsed`]; `flow_label` is the outer label
/// ([`outer_flow_label`] of the frame's parse), `macs` is (source, destination). The same
/// bytes and result as the general path's. The L2 header is written whole rather than moved:
/// only its MACs and EtherType survive encapsulation.
#[inline(always)]
pub fn encapsulate_ipv6_in_ipv6<F: Frame>(frame: &mut F, source: &[u8; 16], destination: &[u8; 16], hop_limit: u8, flow_label: u32, macs: ([u8; 6], [u8; 6])) -> Result<(), DropReason> {
    const ETH: usize = crate::wire::ethernet::field::HEADER_LEN;
    let data = frame.data();
    let Some(inner) = data.get(ETH..ETH + IPV6_HEADER) else {
        return Err(DropReason::NoRoom);
    };
    let inner_len = IPV6_HEADER + usize::from(u16::from_be_bytes([inner[4], inner[5]]));
    let traffic_class = ((inner[0] & 0x0f) << 4) | (inner[1] >> 4);
    if data.len() < ETH + inner_len {
        return Err(DropReason::NoRoom);
    }
    let padding = data.len() - (ETH + inner_len);
    if padding > 0 && !frame.trim(padding) {
        return Err(DropReason::NoRoom);
    }
    if !frame.prepend(IPV6_HEADER) {
        return Err(DropReason::NoRoom);
    }
    let Some(front) = frame.data_mut().get_mut(..ETH + IPV6_HEADER) else {
        return Err(DropReason::NoRoom);
    };
    front[0..6].copy_from_slice(&macs.1);
    front[6..12].copy_from_slice(&macs.0);
    front[12..14].copy_from_slice(&ethertype::IPV6.to_be_bytes());
    let h = &mut front[ETH..];
    let first = (6u32 << 28) | (u32::from(traffic_class) << 20) | (flow_label & 0xf_ffff);
    h[0..4].copy_from_slice(&first.to_be_bytes());
    h[4..6].copy_from_slice(&(inner_len as u16).to_be_bytes());
    h[6] = protocol::IPV6_IN_IP;
    h[7] = hop_limit;
    h[8..24].copy_from_slice(source);
    h[24..40].copy_from_slice(destination);
    Ok(())
}

fn source_destination_mismatch(outer: &Outer) -> bool {
    outer.source.is_ipv4() != outer.destination.is_ipv4()
}

fn write_ipv4_header(h: &mut [u8], tos: u8, total_len: u16, dont_fragment: bool, next: u8, outer: &Outer) {
    let (IpAddr::V4(source), IpAddr::V4(destination)) = (outer.source, outer.destination) else { return };
    h[0] = 0x45;
    h[1] = tos;
    h[2..4].copy_from_slice(&total_len.to_be_bytes());
    h[4..6].copy_from_slice(&outer.identification.to_be_bytes());
    h[6..8].copy_from_slice(&(if dont_fragment { 0x4000u16 } else { 0 }).to_be_bytes());
    h[8] = outer.ttl;
    h[9] = next;
    h[10..12].copy_from_slice(&[0, 0]);
    h[12..16].copy_from_slice(&source.octets());
    h[16..20].copy_from_slice(&destination.octets());
    let sum = checksum::checksum(&h[..IPV4_HEADER]);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
}

fn write_ipv6_header(h: &mut [u8], traffic_class: u8, flow_label: u32, payload_len: u16, next: u8, outer: &Outer) {
    let (IpAddr::V6(source), IpAddr::V6(destination)) = (outer.source, outer.destination) else { return };
    let first = (6u32 << 28) | ((traffic_class as u32) << 20) | (flow_label & 0xf_ffff);
    h[0..4].copy_from_slice(&first.to_be_bytes());
    h[4..6].copy_from_slice(&payload_len.to_be_bytes());
    h[6] = next;
    h[7] = outer.ttl;
    h[8..24].copy_from_slice(&source.octets());
    h[24..40].copy_from_slice(&destination.octets());
}

/// Split an encapsulated frame (`[L2][outer][inner]`, outer header at `l3`) into outer
/// fragments of at most `mtu` bytes of IP: the frame keeps the first, `more` provides empty
/// buffers for the others and `emit` takes each filled one. Outer IPv4 uses MF/offset;
/// outer IPv6 gets a Fragment header (RFC 8200 §4.5) with `identification`.
pub fn fragment_outer<F: Frame>(
    frame: &mut F,
    l3: usize,
    mtu: u16,
    identification: u32,
    mut more: impl FnMut() -> Option<F>,
    mut emit: impl FnMut(F),
) -> Result<usize, DropReason> {
    let outer_v6 = frame.data().get(l3).is_some_and(|b| b >> 4 == 6);
    let header = if outer_v6 { IPV6_HEADER } else { IPV4_HEADER };
    let fragment_header = if outer_v6 { IPV6_FRAGMENT_HEADER } else { 0 };
    let total = frame.len().checked_sub(l3 + header).ok_or(DropReason::NoRoom)?;
    let chunk = ((mtu as usize).saturating_sub(header + fragment_header) / 8) * 8;
    if chunk == 0 {
        return Err(DropReason::MtuExceeded);
    }
    if outer_v6 {
        // Make room for the Fragment header in the first fragment.
        if !frame.prepend(IPV6_FRAGMENT_HEADER) {
            return Err(DropReason::NoRoom);
        }
        let data = frame.data_mut();
        data.copy_within(IPV6_FRAGMENT_HEADER..IPV6_FRAGMENT_HEADER + l3 + header, 0);
    }
    let payload_start = l3 + header + fragment_header;
    let mut sent = 0;
    let mut offset = chunk;
    while offset < total {
        let len = chunk.min(total - offset);
        let mut piece = more().ok_or(DropReason::NoBuffer)?;
        if !piece.append(payload_start + len) {
            return Err(DropReason::NoRoom);
        }
        {
            let source = frame.data();
            let target = piece.data_mut();
            target[..payload_start].copy_from_slice(&source[..payload_start]);
            target[payload_start..].copy_from_slice(&source[payload_start + offset..payload_start + offset + len]);
            let last = offset + len == total;
            set_fragment_fields(&mut target[l3..], outer_v6, len, offset, !last, identification);
        }
        emit(piece);
        sent += 1;
        offset += len;
    }
    // The first fragment: this frame, cut to one chunk.
    let first = chunk.min(total);
    let cut = frame.len() - (payload_start + first);
    if !frame.trim(cut) {
        return Err(DropReason::NoRoom);
    }
    set_fragment_fields(&mut frame.data_mut()[l3..], outer_v6, first, 0, first < total, identification);
    Ok(sent + 1)
}

/// Fill the outer header of one fragment carrying `len` payload bytes at byte `offset`.
fn set_fragment_fields(ip: &mut [u8], outer_v6: bool, len: usize, offset: usize, more: bool, identification: u32) {
    let units = (offset / 8) as u16;
    if outer_v6 {
        let next = ip[6];
        ip[4..6].copy_from_slice(&((IPV6_FRAGMENT_HEADER + len) as u16).to_be_bytes());
        // The Fragment header's own next header is what the outer header named before.
        let inner_next = if next == protocol::FRAGMENT { ip[IPV6_HEADER] } else { next };
        ip[6] = protocol::FRAGMENT;
        let f = &mut ip[IPV6_HEADER..IPV6_HEADER + IPV6_FRAGMENT_HEADER];
        f[0] = inner_next;
        f[1] = 0;
        f[2..4].copy_from_slice(&((units << 3) | more as u16).to_be_bytes());
        f[4..8].copy_from_slice(&identification.to_be_bytes());
    } else {
        ip[2..4].copy_from_slice(&((IPV4_HEADER + len) as u16).to_be_bytes());
        ip[6..8].copy_from_slice(&((units & 0x1fff) | if more { 0x2000 } else { 0 }).to_be_bytes());
        ip[10..12].copy_from_slice(&[0, 0]);
        let sum = checksum::checksum(&ip[..IPV4_HEADER]);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
    }
}

/// Turn the frame into an ICMP "fragmentation needed" (type 3 code 4, RFC 1191 §4) or ICMPv6
/// Packet Too Big (type 2, RFC 4443 §3.2) back to the packet's source, from `our_address`,
/// quoting as much of the packet as the rules allow. The MACs are swapped (it leaves by the
/// port it came in on, toward the hop it came from).
pub fn too_big_reply<F: Frame>(frame: &mut F, parsed: &Parsed, our_mac: [u8; 6], our_address: IpAddr, mtu: u16) -> Result<(), DropReason> {
    let l3 = parsed.l3_offset as usize;
    let v6 = parsed.l3 == L3::Ipv6;
    if our_address.is_ipv6() != v6 || parsed.l3 == L3::Arp {
        return Err(DropReason::AddressFamilyMismatch);
    }
    let header = overhead(v6);
    let limit = if v6 { ICMPV6_ERROR_MAX } else { ICMPV4_ERROR_MAX };
    let quoted = (parsed.ip_len as usize).min(limit - header - 8).min(frame.len().saturating_sub(l3));
    let wanted = l3 + header + 8 + quoted;
    // Move the quoted bytes into place first (they start at l3 now, at l3 + header + 8 after).
    let grow = wanted.saturating_sub(frame.len());
    if grow > 0 && !frame.append(grow) {
        return Err(DropReason::NoRoom);
    }
    {
        let data = frame.data_mut();
        data.copy_within(l3..l3 + quoted, l3 + header + 8);
        // Swap MACs: back to where it came from, from us.
        let mut previous_hop = [0u8; 6];
        previous_hop.copy_from_slice(&data[6..12]);
        data[0..6].copy_from_slice(&previous_hop);
        data[6..12].copy_from_slice(&our_mac);
    }
    let extra = frame.len() - wanted;
    if extra > 0 && !frame.trim(extra) {
        return Err(DropReason::NoRoom);
    }
    let data = frame.data_mut();
    let destination = parsed.src;
    match our_address {
        IpAddr::V4(source) => {
            let h = &mut data[l3..l3 + IPV4_HEADER];
            h[0] = 0x45;
            h[1] = 0;
            h[2..4].copy_from_slice(&((IPV4_HEADER + 8 + quoted) as u16).to_be_bytes());
            h[4..8].copy_from_slice(&[0, 0, 0, 0]);
            h[8] = 64;
            h[9] = protocol::ICMP;
            h[10..12].copy_from_slice(&[0, 0]);
            h[12..16].copy_from_slice(&source.octets());
            h[16..20].copy_from_slice(&destination[..4]);
            let sum = checksum::checksum(h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            let icmp = &mut data[l3 + IPV4_HEADER..];
            icmp[0] = 3;
            icmp[1] = 4;
            icmp[2..4].copy_from_slice(&[0, 0]);
            icmp[4..6].copy_from_slice(&[0, 0]);
            icmp[6..8].copy_from_slice(&mtu.to_be_bytes());
            let sum = checksum::checksum(icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        IpAddr::V6(source) => {
            let payload = (8 + quoted) as u16;
            let h = &mut data[l3..l3 + IPV6_HEADER];
            h[0..4].copy_from_slice(&(6u32 << 28).to_be_bytes());
            h[4..6].copy_from_slice(&payload.to_be_bytes());
            h[6] = protocol::ICMPV6;
            h[7] = 64;
            h[8..24].copy_from_slice(&source.octets());
            h[24..40].copy_from_slice(&destination);
            let icmp = &mut data[l3 + IPV6_HEADER..];
            icmp[0] = 2;
            icmp[1] = 0;
            icmp[2..4].copy_from_slice(&[0, 0]);
            icmp[4..8].copy_from_slice(&(mtu as u32).to_be_bytes());
            let pseudo = checksum::pseudo_header_v6(source.octets(), destination, protocol::ICMPV6, payload as u32);
            let sum = checksum::with_pseudo_header(pseudo, icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        }
    }
    Ok(())
}

/// A per-worker token bucket for the ICMP errors the balancer generates.
#[derive(Clone, Debug)]
pub struct RateLimit {
    per_second: u32,
    tokens: u32,
    refilled_at: u64,
}

impl RateLimit {
    pub fn new(per_second: u32) -> Self {
        RateLimit { per_second, tokens: per_second, refilled_at: 0 }
    }
    /// Take a token; false when the budget of this second is spent.
    pub fn allow(&mut self, now: u64) -> bool {
        if now.saturating_sub(self.refilled_at) >= 1_000_000_000 {
            self.tokens = self.per_second;
            self.refilled_at = now;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::VecFrame;
    use crate::wire::build::PacketBuilder;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    proptest! {
        /// The lane's fixed-offset encapsulation writes what the general path (`encapsulate`,
        /// then `set_macs`) writes, with or without DF, a TOS byte or Ethernet padding.
        #[test]
        fn ipv4_in_ipv4_at_fixed_offsets_equals_encapsulate(
            src in any::<[u8; 4]>(), dst in any::<[u8; 4]>(), outer_src in any::<[u8; 4]>(), outer_dst in any::<[u8; 4]>(),
            tos in any::<u8>(), df in any::<bool>(), ttl in any::<u8>(), id in any::<u16>(), outer_ttl in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64), pad in 0usize..140, macs in any::<([u8; 6], [u8; 6])>(),
        ) {
            let mut b = PacketBuilder::udp4(src, dst, 1000, 5684).payload(&payload).ttl(ttl).traffic_class(tos).pad_to(pad);
            if df { b = b.dont_fragment(); }
            let bytes = b.build();
            let parsed = crate::wire::parse(&bytes).unwrap();
            let mut want = VecFrame::from_bytes(&bytes);
            let outer = Outer { source: Ipv4Addr::from(outer_src).into(), destination: Ipv4Addr::from(outer_dst).into(), ttl: outer_ttl, identification: id };
            encapsulate(&mut want, &parsed, &outer).unwrap();
            crate::rewrite::set_macs(want.data_mut(), macs.0, macs.1);
            let mut got = VecFrame::from_bytes(&bytes);
            encapsulate_ipv4_in_ipv4(&mut got, outer_src, outer_dst, outer_ttl, id, macs).unwrap();
            prop_assert_eq!(got.data(), want.data());
        }

        /// The IPv6 lane's fixed-offset encapsulation, given the outer label the general path
        /// derives (`outer_flow_label` of the parse: the inner label, or one of the 5-tuple
        /// for a zero label), writes what the general path writes, with any traffic class, UDP
        /// or TCP, with or without Ethernet padding.
        #[test]
        fn ipv6_in_ipv6_at_fixed_offsets_equals_encapsulate(
            src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), outer_src in any::<[u8; 16]>(), outer_dst in any::<[u8; 16]>(),
            ports in any::<(u16, u16)>(), tcp in any::<bool>(), traffic_class in any::<u8>(), label in prop_oneof![Just(0u32), 0u32..1 << 20],
            hop_limit in any::<u8>(), outer_hop_limit in any::<u8>(),
            payload in proptest::collection::vec(any::<u8>(), 0..64), pad in 0usize..140, macs in any::<([u8; 6], [u8; 6])>(),
        ) {
            let b = if tcp { PacketBuilder::tcp6(src, dst, ports.0, ports.1) } else { PacketBuilder::udp6(src, dst, ports.0, ports.1) };
            let bytes = b.payload(&payload).ttl(hop_limit).traffic_class(traffic_class).flow_label(label).pad_to(pad).build();
            let parsed = crate::wire::parse(&bytes).unwrap();
            let mut want = VecFrame::from_bytes(&bytes);
            let outer = Outer { source: std::net::Ipv6Addr::from(outer_src).into(), destination: std::net::Ipv6Addr::from(outer_dst).into(), ttl: outer_hop_limit, identification: 0 };
            encapsulate(&mut want, &parsed, &outer).unwrap();
            crate::rewrite::set_macs(want.data_mut(), macs.0, macs.1);
            let outer_label = if label != 0 { label } else { derived_flow_label(&src, &dst, ports.0, ports.1, if tcp { protocol::TCP } else { protocol::UDP }) };
            prop_assert_eq!(outer_label, outer_flow_label(&parsed));
            let mut got = VecFrame::from_bytes(&bytes);
            encapsulate_ipv6_in_ipv6(&mut got, &outer_src, &outer_dst, outer_hop_limit, outer_label, macs).unwrap();
            prop_assert_eq!(got.data(), want.data());
        }
    }
}

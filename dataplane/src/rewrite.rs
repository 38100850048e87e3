//! In-place packet rewriting: NAT, reverse NAT, MAC rewrite, and the local answers
//! (ARP reply, ICMP echo replies, neighbour advertisement) turned around in the same buffer.
//!
//! Everything works on `&mut [u8]` plus the [`Parsed`] that `wire::parse` produced for those
//! very bytes, so no header is re-validated; bounds are still checked once per call so a
//! mismatched `Parsed` yields an error, never a panic. Checksums are updated incrementally
//! (RFC 1624), never recomputed over the payload.
#![forbid(unsafe_code)]

use crate::counters::DropReason;
use crate::wire::checksum::{self, update16};
use crate::wire::{arp, ethernet, icmpv4, icmpv6, ipv4, ipv6, protocol, Parsed, L3};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// TTL / hop limit we put in locally generated answers.
pub const REPLY_TTL: u8 = 64;

#[inline(always)]
fn read16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}
#[inline(always)]
fn write16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Which address (and port) of the packet a NAT rewrites.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

/// DNAT: rewrite the destination address (and the UDP/TCP destination port when given and
/// the L4 header is in this packet), decrementing the TTL / hop limit first.
///
/// Err(TtlExceeded) leaves the frame untouched. The address family must match the packet's.
pub fn nat_destination(frame: &mut [u8], parsed: &Parsed, new_dst: IpAddr, new_dport: Option<u16>) -> Result<(), DropReason> {
    let (bytes, v6) = ip_bytes(new_dst);
    nat(frame, parsed, Side::Destination, &bytes, v6, new_dport)
}

/// Reverse NAT: rewrite the source address (and port). We are a router: the TTL drops too.
pub fn nat_source(frame: &mut [u8], parsed: &Parsed, new_src: IpAddr, new_sport: Option<u16>) -> Result<(), DropReason> {
    let (bytes, v6) = ip_bytes(new_src);
    nat(frame, parsed, Side::Source, &bytes, v6, new_sport)
}

/// [`nat_destination`] with the address as the data path holds it: 16 bytes (IPv4 in the
/// first 4) and the family.
#[inline]
pub fn dnat(frame: &mut [u8], parsed: &Parsed, bytes: &[u8; 16], v6: bool, new_dport: Option<u16>) -> Result<(), DropReason> {
    nat(frame, parsed, Side::Destination, bytes, v6, new_dport)
}

/// [`nat_source`] with the address as the data path holds it.
#[inline]
pub fn snat(frame: &mut [u8], parsed: &Parsed, bytes: &[u8; 16], v6: bool, new_sport: Option<u16>) -> Result<(), DropReason> {
    nat(frame, parsed, Side::Source, bytes, v6, new_sport)
}

fn ip_bytes(ip: IpAddr) -> ([u8; 16], bool) {
    match ip {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            (b, false)
        }
        IpAddr::V6(a) => (a.octets(), true),
    }
}

// The checksum arithmetic below reads and writes 16-bit words in *native* byte order: the
// one's-complement sum is byte-order independent (RFC 1071 §2(B)), so a sum of byte-swapped
// words is the byte-swapped sum, and no word needs swapping on a little-endian machine.

#[inline(always)]
fn ne16(b: &[u8], at: usize) -> u32 {
    u16::from_ne_bytes([b[at], b[at + 1]]) as u32
}

/// The native 64-bit word at `b[i..i + 8]`.
#[inline(always)]
fn word(b: &[u8], i: usize) -> u64 {
    u64::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7]])
}

/// Sum of the two native 16-bit halves of a native 32-bit word.
#[inline(always)]
const fn halves(x: u32) -> u32 {
    (x & 0xffff) + (x >> 16)
}

/// Sum of the four native 16-bit words of a native 64-bit word.
#[inline(always)]
const fn quarters(x: u64) -> u32 {
    let pairs = (x & 0x0000_ffff_0000_ffff) + ((x >> 16) & 0x0000_ffff_0000_ffff);
    ((pairs & 0xffff_ffff) + (pairs >> 32)) as u32
}

/// RFC 1624 eqn. 3: HC' = ~(~HC + sum of ~m + sum of m'), `delta` being the sums of the
/// complemented old and the new words (unfolded, well below 2^32 here).
#[inline(always)]
const fn adjust(checksum: u32, delta: u64) -> u16 {
    let mut s = (!checksum & 0xffff) as u64 + delta;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

#[inline(always)]
fn nat(frame: &mut [u8], parsed: &Parsed, side: Side, address: &[u8; 16], v6: bool, port: Option<u16>) -> Result<(), DropReason> {
    if parsed.l4_present {
        match (parsed.l3, v6, parsed.proto) {
            (L3::Ipv4, false, protocol::UDP) => return nat_fast::<false, false>(frame, At::of(parsed), side, address, port),
            (L3::Ipv4, false, protocol::TCP) => return nat_fast_outlined::<false, true>(frame, At::of(parsed), side, address, port),
            (L3::Ipv6, true, protocol::UDP) => return nat_fast_outlined::<true, false>(frame, At::of(parsed), side, address, port),
            (L3::Ipv6, true, protocol::TCP) => return nat_fast_outlined::<true, true>(frame, At::of(parsed), side, address, port),
            _ => {}
        }
    }
    nat_general(frame, parsed, side, address, v6, port)
}

/// [`nat`] of the most common packets, whole UDP datagrams and TCP segments over IPv4 (`V6`
/// false) or IPv6, in few instructions (~80 fewer per packet than [`nat_general`], callgrind):
/// the bounds checked once, up front, so no slice below needs a check; for IPv4 the TTL's
/// checksum change is a constant of the byte order. The same result as [`nat_general`] (a property test holds
/// them equal on any input). IPv4 UDP, the CID path, is inlined into [`nat`]; the other
/// shapes are called out of line ([`nat_fast_outlined`]): inlined together, the shapes cost
/// one another tens of instructions of code layout (callgrind).
#[inline(always)]
fn nat_fast<const V6: bool, const TCP: bool>(frame: &mut [u8], at: At, side: Side, address: &[u8; 16], port: Option<u16>) -> Result<(), DropReason> {
    let (header_len, window, checksum_at) = (if V6 { 40 } else { 20 }, if TCP { 18 } else { 8 }, if TCP { 16 } else { 6 });
    let At { l3, l4, ttl } = at;
    // The bounds first, together: a `Parsed` of other bytes is refused as by the general
    // path (which, where the TTL is spent too, may name the TTL instead).
    if l4 < l3 + header_len || l4 + window > frame.len() {
        return Err(DropReason::NoRoom);
    }
    if ttl <= 1 {
        return Err(DropReason::TtlExceeded);
    }
    let (head, upper) = frame.split_at_mut(l4);
    let header = &mut head[l3..l3 + header_len];
    let upper = &mut upper[..window];
    let port_at = if side == Side::Source { 0 } else { 2 };
    let address_delta = if V6 {
        let at = if side == Side::Source { ipv6::field::SOURCE.start } else { ipv6::field::DESTINATION.start };
        // The one's-complement sum of the old address's complement and the new address, over
        // 64-bit words with end-around carry (RFC 1071 §2 (C): any word size folds to the same
        // 16-bit sum), folded to below 2^33: fewer instructions than summing 16-bit quarters.
        let wide = u128::from(!word(header, at)) + u128::from(!word(header, at + 8)) + u128::from(word(address, 0)) + u128::from(word(address, 8));
        let carried = u128::from(wide as u64) + (wide >> 64);
        let folded = (carried as u64) + (carried >> 64) as u64;
        // No IPv6 header checksum; the hop limit is not in the pseudo-header.
        header[ipv6::field::HOP_LIMIT] -= 1;
        header[at..at + 16].copy_from_slice(address);
        (folded & 0xffff_ffff) + (folded >> 32)
    } else {
        let at = if side == Side::Source { ipv4::field::SOURCE.start } else { ipv4::field::DESTINATION.start };
        let old = u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let delta = (halves(!old) + halves(u32::from_ne_bytes([address[0], address[1], address[2], address[3]]))) as u64;
        // The TTL is the first byte of its 16-bit word (TTL, protocol): minus one, with no
        // borrow as it is at least 2, takes `from_ne_bytes([1, 0])` off the native word, i.e.
        // adds its complement (RFC 1624 eqn. 3 with m' = m - 1): 0xfffe on a little-endian
        // machine, 0xfeff on a big-endian one.
        const TTL_MINUS_ONE: u64 = !u16::from_ne_bytes([1, 0]) as u64;
        header[ipv4::field::TTL] -= 1;
        let c = adjust(ne16(header, ipv4::field::CHECKSUM.start), delta + TTL_MINUS_ONE);
        header[ipv4::field::CHECKSUM].copy_from_slice(&c.to_ne_bytes());
        header[at..at + 4].copy_from_slice(&address[..4]);
        delta
    };
    // RFC 768: a zero UDP checksum means none, left alone; a computed zero is sent as all ones.
    let c = ne16(upper, checksum_at);
    let update = |delta: u64| match adjust(c, delta) {
        0 if !TCP => 0xffff,
        c => c,
    };
    if let Some(p) = port {
        let new = p.to_be_bytes();
        if TCP || c != 0 {
            let c = update(address_delta + ((!ne16(upper, port_at) & 0xffff) + u16::from_ne_bytes(new) as u32) as u64);
            upper[checksum_at..checksum_at + 2].copy_from_slice(&c.to_ne_bytes());
        }
        upper[port_at..port_at + 2].copy_from_slice(&new);
    } else if TCP || c != 0 {
        upper[checksum_at..checksum_at + 2].copy_from_slice(&update(address_delta).to_ne_bytes());
    }
    Ok(())
}

/// [`nat_fast`] in a function of its own.
#[inline(never)]
fn nat_fast_outlined<const V6: bool, const TCP: bool>(frame: &mut [u8], at: At, side: Side, address: &[u8; 16], port: Option<u16>) -> Result<(), DropReason> {
    nat_fast::<V6, TCP>(frame, at, side, address, port)
}

/// Where [`nat_fast`] finds the headers it rewrites: the IP header's and the upper layer's
/// offsets in the frame, and the TTL (hop limit) the IP header carries.
#[derive(Clone, Copy)]
struct At {
    l3: usize,
    l4: usize,
    ttl: u8,
}

impl At {
    #[inline(always)]
    fn of(parsed: &Parsed) -> At {
        At { l3: parsed.l3_offset as usize, l4: parsed.l4_offset as usize, ttl: parsed.ttl }
    }
}

/// [`dnat`] of an untagged Ethernet frame carrying IPv4 without options and a whole UDP
/// datagram, to the IPv4 address in `bytes[..4]`, for a caller that checked that shape from
/// the bytes (the worker's CID lane) and so has no [`Parsed`]: `ttl` is the header's TTL.
/// The same bytes and result as [`dnat`] of that frame's parse.
#[inline(always)]
pub fn dnat_ipv4_udp(frame: &mut [u8], ttl: u8, bytes: &[u8; 16], new_dport: Option<u16>) -> Result<(), DropReason> {
    const ETH: usize = ethernet::field::HEADER_LEN;
    nat_fast::<false, false>(frame, At { l3: ETH, l4: ETH + 20, ttl }, Side::Destination, bytes, new_dport)
}

/// [`dnat`] of an untagged Ethernet frame carrying IPv4 without options (`V6` false) or IPv6
/// with its upper layer at `l4_at` (after the fixed header, or after hop-by-hop and destination
/// options headers), and a whole UDP datagram or (`tcp`) a TCP header within the packet, to the
/// address in `bytes` (its first four for IPv4), for a caller that checked that shape from the
/// bytes (the worker's session and IPv6 lanes) and so has no [`Parsed`]: `ttl` is the header's
/// TTL or hop limit. The same bytes and result as [`dnat`] of that frame's parse. (IPv4 UDP,
/// the CID lane's, is [`dnat_ipv4_udp`], inlined.)
#[inline(always)]
pub fn dnat_untagged<const V6: bool>(frame: &mut [u8], tcp: bool, ttl: u8, l4_at: usize, bytes: &[u8; 16], new_dport: Option<u16>) -> Result<(), DropReason> {
    let at = At { l3: ethernet::field::HEADER_LEN, l4: l4_at, ttl };
    if tcp {
        nat_fast_outlined::<V6, true>(frame, at, Side::Destination, bytes, new_dport)
    } else {
        nat_fast_outlined::<V6, false>(frame, at, Side::Destination, bytes, new_dport)
    }
}

/// [`dnat`] of an untagged Ethernet frame carrying IPv6 whose upper layer is in another packet
/// (a later fragment: a Fragment header right after the fixed header, at a non-zero offset),
/// to the IPv6 address `bytes`, for a caller that checked that shape from the bytes (the
/// worker's IPv6 lane) and so has no [`Parsed`]: the hop limit and the destination, nothing
/// else (no upper-layer checksum is in this packet). The same bytes and result as [`dnat`] of
/// that frame's parse.
#[inline(always)]
pub fn dnat_ipv6_no_upper(frame: &mut [u8], bytes: &[u8; 16]) -> Result<(), DropReason> {
    const IP: usize = ethernet::field::HEADER_LEN;
    let Some(header) = frame.get_mut(IP..IP + ipv6::field::HEADER_LEN) else {
        return Err(DropReason::NoRoom);
    };
    if header[ipv6::field::HOP_LIMIT] <= 1 {
        return Err(DropReason::TtlExceeded);
    }
    header[ipv6::field::HOP_LIMIT] -= 1;
    header[ipv6::field::DESTINATION].copy_from_slice(bytes);
    Ok(())
}

#[inline(never)]
fn nat_general(frame: &mut [u8], parsed: &Parsed, side: Side, address: &[u8; 16], v6: bool, port: Option<u16>) -> Result<(), DropReason> {
    let l3 = parsed.l3_offset as usize;
    let l4 = parsed.l4_offset as usize;
    // The L4 bytes this rewrite touches: the ports and the checksum (whether zero means "no
    // checksum": UDP). ICMPv4 has no pseudo-header, so an address change leaves it alone.
    let (l4_window, checksum_at, zero_means_none, has_ports) = match (parsed.l4_present, parsed.proto) {
        (true, protocol::UDP) => (8, 6, true, true),
        (true, protocol::TCP) => (18, 16, false, true),
        (true, protocol::ICMPV6) if parsed.l3 == L3::Ipv6 => (4, 2, false, false),
        _ => (0, 0, false, false),
    };
    // Every check before the first write: a `Parsed` from other bytes errs, never panics,
    // and leaves the frame untouched.
    if l4 < l3 || l4 > frame.len() {
        return Err(DropReason::NoRoom);
    }
    let (head, upper) = frame.split_at_mut(l4);
    let Some(upper) = upper.get_mut(..l4_window) else {
        return Err(DropReason::NoRoom);
    };
    if parsed.ttl <= 1 {
        return Err(DropReason::TtlExceeded);
    }
    let port = if has_ports { port } else { None };
    let port_at = if side == Side::Source { 0 } else { 2 };
    let address_delta: u64 = match (parsed.l3, v6) {
        (L3::Ipv4, false) => {
            let Some(header) = head.get_mut(l3..l3 + 20) else { return Err(DropReason::NoRoom) };
            let at = if side == Side::Source { ipv4::field::SOURCE.start } else { ipv4::field::DESTINATION.start };
            let old = u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
            let new = u32::from_ne_bytes([address[0], address[1], address[2], address[3]]);
            let delta = (halves(!old) + halves(new)) as u64;
            // RFC 1624: TTL shares a 16-bit word with the protocol.
            let ttl = ipv4::field::TTL;
            let old_word = ne16(header, ttl);
            header[ttl] -= 1;
            let ttl_delta = ((!old_word & 0xffff) + ne16(header, ttl)) as u64;
            let c = adjust(ne16(header, ipv4::field::CHECKSUM.start), delta + ttl_delta);
            header[ipv4::field::CHECKSUM].copy_from_slice(&c.to_ne_bytes());
            header[at..at + 4].copy_from_slice(&address[..4]);
            delta
        }
        (L3::Ipv6, true) => {
            let Some(header) = head.get_mut(l3..l3 + 40) else { return Err(DropReason::NoRoom) };
            let at = if side == Side::Source { ipv6::field::SOURCE.start } else { ipv6::field::DESTINATION.start };
            let delta = quarters(!word(header, at)) + quarters(!word(header, at + 8)) + quarters(word(address, 0)) + quarters(word(address, 8));
            // No IPv6 header checksum; the hop limit is not in the pseudo-header.
            header[ipv6::field::HOP_LIMIT] -= 1;
            header[at..at + 16].copy_from_slice(address);
            delta as u64
        }
        _ => return Err(DropReason::AddressFamilyMismatch),
    };
    if l4_window == 0 {
        return Ok(());
    }
    // The port change, as a checksum delta (native order).
    let port_delta = match port {
        Some(p) => (!ne16(upper, port_at) & 0xffff) + u16::from_ne_bytes(p.to_be_bytes()) as u32,
        None => 0,
    };
    let c = ne16(upper, checksum_at);
    // RFC 768 (and RFC 6935 for IPv6 tunnels): a zero UDP checksum means none; leave it.
    if !(zero_means_none && c == 0) {
        let mut c = adjust(c, address_delta + port_delta as u64);
        if zero_means_none && c == 0 {
            c = 0xffff; // RFC 768: zero is "no checksum"; send all ones.
        }
        upper[checksum_at..checksum_at + 2].copy_from_slice(&c.to_ne_bytes());
    }
    if let Some(p) = port {
        upper[port_at..port_at + 2].copy_from_slice(&p.to_be_bytes());
    }
    Ok(())
}

/// Writes the Ethernet source and destination. Frames shorter than 12 bytes are left alone.
#[inline]
pub fn set_macs(frame: &mut [u8], source: [u8; 6], destination: [u8; 6]) {
    if frame.len() >= 12 {
        frame[ethernet::field::DESTINATION].copy_from_slice(&destination);
        frame[ethernet::field::SOURCE].copy_from_slice(&source);
    }
}

fn swap_macs(frame: &mut [u8], our_mac: Option<[u8; 6]>) {
    let mut destination = [0u8; 6];
    destination.copy_from_slice(&frame[ethernet::field::SOURCE]);
    let source = our_mac.unwrap_or_else(|| {
        let mut s = [0u8; 6];
        s.copy_from_slice(&frame[ethernet::field::DESTINATION]);
        s
    });
    set_macs(frame, source, destination);
}

/// Turns an Ethernet/IPv4 ARP request into the reply in place (RFC 826 "Packet Reception").
/// The caller has checked the target address is ours. False (frame untouched) for anything
/// but a well-formed request.
pub fn arp_reply(frame: &mut [u8], our_mac: [u8; 6]) -> bool {
    let Ok(tags) = ethernet::read_tags(frame) else { return false };
    if tags.ethertype != ethernet::ethertype::ARP {
        return false;
    }
    let l3 = tags.header_len();
    let Ok(mut packet) = arp::ArpPacket::new_checked(&mut frame[l3..]) else { return false };
    if !packet.is_ethernet_ipv4() || packet.operation() != arp::OPERATION_REQUEST {
        return false;
    }
    let requester_mac = packet.sender_hardware_addr();
    let requester_ip = packet.sender_protocol_addr();
    let our_ip = packet.target_protocol_addr();
    packet.set_operation(arp::OPERATION_REPLY);
    packet.set_target_hardware_addr(requester_mac);
    packet.set_target_protocol_addr(requester_ip);
    packet.set_sender_hardware_addr(our_mac);
    packet.set_sender_protocol_addr(our_ip);
    set_macs(frame, our_mac, requester_mac);
    true
}

/// Turns an ICMPv4 echo request into the echo reply in place (RFC 792, RFC 1122 §3.2.2.6):
/// addresses and MACs swapped, TTL reset, type 0, checksums updated. Unfragmented only.
pub fn icmp_echo_reply_v4(frame: &mut [u8], parsed: &Parsed) -> bool {
    let l3 = parsed.l3_offset as usize;
    let l4 = parsed.l4_offset as usize;
    if parsed.l3 != L3::Ipv4 || parsed.proto != protocol::ICMP || !parsed.l4_present || parsed.frag.is_some() || frame.len() < l4 + 8 || l4 < l3 + 20 {
        return false;
    }
    if frame[l4] != icmpv4::message::ECHO_REQUEST || frame[l4 + 1] != 0 {
        return false;
    }
    let old_type_code = read16(frame, l4);
    frame[l4] = icmpv4::message::ECHO_REPLY;
    // RFC 1624 eqn. 3 gives 0x0000 where the sum is -0; the two zeros verify alike except
    // over an all-zero message (no pseudo-header: a reply of id 0, sequence 0, no data),
    // whose checksum must be 0xffff. 0xffff is right in every case.
    let c = match update16(read16(frame, l4 + 2), old_type_code, read16(frame, l4)) {
        0 => 0xffff,
        c => c,
    };
    write16(frame, l4 + 2, c);
    // Swapping the addresses leaves the header sum unchanged; the TTL word does not.
    let ttl_at = l3 + ipv4::field::TTL;
    let old_word = read16(frame, ttl_at);
    frame[ttl_at] = REPLY_TTL;
    let header_checksum = update16(read16(frame, l3 + 10), old_word, read16(frame, ttl_at));
    write16(frame, l3 + 10, header_checksum);
    let (source, destination) = (ipv4::field::SOURCE, ipv4::field::DESTINATION);
    for i in 0..4 {
        frame.swap(l3 + source.start + i, l3 + destination.start + i);
    }
    swap_macs(frame, None);
    true
}

/// Turns an ICMPv6 echo request into the echo reply in place (RFC 4443 §4.2). The caller
/// has checked the destination is one of our unicast addresses. Unfragmented only.
pub fn icmpv6_echo_reply(frame: &mut [u8], parsed: &Parsed) -> bool {
    let l3 = parsed.l3_offset as usize;
    let l4 = parsed.l4_offset as usize;
    if parsed.l3 != L3::Ipv6 || parsed.proto != protocol::ICMPV6 || !parsed.l4_present || parsed.frag.is_some() || frame.len() < l4 + 8 || l4 < l3 + 40 {
        return false;
    }
    if frame[l4] != icmpv6::message::ECHO_REQUEST || frame[l4 + 1] != 0 {
        return false;
    }
    let old_type_code = read16(frame, l4);
    frame[l4] = icmpv6::message::ECHO_REPLY;
    // The pseudo-header sum is unchanged by swapping source and destination.
    let c = update16(read16(frame, l4 + 2), old_type_code, read16(frame, l4));
    write16(frame, l4 + 2, c);
    frame[l3 + ipv6::field::HOP_LIMIT] = REPLY_TTL;
    for i in 0..16 {
        frame.swap(l3 + ipv6::field::SOURCE.start + i, l3 + ipv6::field::DESTINATION.start + i);
    }
    swap_macs(frame, None);
    true
}

/// ICMPv6 length of the advertisement we write: header, target, target link-layer option.
const ADVERTISEMENT_LEN: usize = icmpv6::field::ND_LEN + 8;

/// Turns a neighbour solicitation into a solicited advertisement in place (RFC 4861 §7.2.4),
/// with the target link-layer address option, hop limit 255 (§7.1.2), S and O flags.
///
/// Validates the solicitation per §7.1.1: hop limit 255, code 0, checksum, target not
/// multicast, options well formed, no source link-layer option from the unspecified address.
/// Answers duplicate address detection (source ::) to all-nodes ff02::1 without S. The
/// caller has checked the target is ours.
///
/// Returns the new frame length (the caller trims the frame to it), or `None` when the
/// packet is not a valid solicitation, or is multicast and the frame has no room for the
/// option (a unicast one is answered without it, as §7.2.4 allows).
pub fn nd_advertisement(frame: &mut [u8], parsed: &Parsed, our_mac: [u8; 6]) -> Option<usize> {
    let l3 = parsed.l3_offset as usize;
    let l4 = parsed.l4_offset as usize;
    if parsed.l3 != L3::Ipv6 || parsed.proto != protocol::ICMPV6 || !parsed.l4_present || parsed.frag.is_some() || parsed.ttl != 255 {
        return None;
    }
    let icmp_bytes = parsed.l4(frame);
    let message = icmpv6::Icmpv6Packet::new_checked(icmp_bytes).ok()?;
    if message.message_type() != icmpv6::message::NEIGHBOR_SOLICITATION || message.code() != 0 {
        return None;
    }
    let pseudo = checksum::pseudo_header_v6(parsed.src, parsed.dst, protocol::ICMPV6, icmp_bytes.len() as u32);
    if checksum::with_pseudo_header(pseudo, icmp_bytes) != 0 {
        return None;
    }
    let target = message.nd_target();
    if target[0] == 0xff {
        return None;
    }
    let source_link_layer = message.nd_link_layer_address(icmpv6::OPTION_SOURCE_LINK_LAYER_ADDRESS).ok()?;
    let from_unspecified = parsed.src == [0u8; 16];
    if from_unspecified && source_link_layer.is_some() {
        return None;
    }
    // The option needs 8 bytes more than a bare solicitation has. §7.2.4 lets a reply to a
    // unicast solicitation omit it; a multicast one must carry it.
    let with_option = frame.len() >= l4 + ADVERTISEMENT_LEN;
    if !with_option && parsed.dst[0] == 0xff {
        return None;
    }
    let icmp_len = if with_option { ADVERTISEMENT_LEN } else { icmpv6::field::ND_LEN };
    let end = l4 + icmp_len;
    let all_nodes: [u8; 16] = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets();
    let destination = if from_unspecified { all_nodes } else { parsed.src };
    let destination_mac = if from_unspecified {
        ipv6::multicast_mac(all_nodes)
    } else {
        source_link_layer.unwrap_or_else(|| frame[ethernet::field::SOURCE].try_into().unwrap_or_default())
    };
    // IPv6 header: source is the target (our address), hop limit 255, payload 32 bytes.
    let header_end = l4 - l3; // extension headers (none expected on ND) keep their bytes
    let payload_len = (header_end - ipv6::field::HEADER_LEN + icmp_len) as u16;
    {
        let mut ip = ipv6::Ipv6Packet::new_unchecked(&mut frame[l3..]);
        ip.set_payload_len(payload_len);
        ip.set_hop_limit(255);
        ip.set_source(target);
        ip.set_destination(destination);
    }
    let flags = if from_unspecified { icmpv6::nd_flags::OVERRIDE } else { icmpv6::nd_flags::SOLICITED | icmpv6::nd_flags::OVERRIDE };
    let m = &mut frame[l4..end];
    m[0] = icmpv6::message::NEIGHBOR_ADVERTISEMENT;
    m[1] = 0;
    m[2..4].copy_from_slice(&[0, 0]);
    m[4..8].copy_from_slice(&[flags, 0, 0, 0]);
    // Target (8..24) stays.
    if with_option {
        m[24] = icmpv6::OPTION_TARGET_LINK_LAYER_ADDRESS;
        m[25] = 1;
        m[26..32].copy_from_slice(&our_mac);
    }
    let pseudo = checksum::pseudo_header_v6(target, destination, protocol::ICMPV6, icmp_len as u32);
    let c = checksum::with_pseudo_header(pseudo, m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    set_macs(frame, our_mac, destination_mac);
    Some(end)
}

/// Writes a broadcast ARP request for `target_ip` into `buffer` (padded to the 60-byte
/// Ethernet minimum). Returns the frame length, or 0 when `buffer` is too small.
pub fn arp_request(buffer: &mut [u8], our_mac: [u8; 6], our_ip: Ipv4Addr, target_ip: Ipv4Addr) -> usize {
    const LEN: usize = 60;
    let Some(frame) = buffer.get_mut(..LEN) else { return 0 };
    frame.fill(0);
    set_macs(frame, our_mac, ethernet::BROADCAST);
    frame[ethernet::field::ETHERTYPE].copy_from_slice(&ethernet::ethertype::ARP.to_be_bytes());
    let mut packet = arp::ArpPacket::new_unchecked(&mut frame[ethernet::field::HEADER_LEN..]);
    packet.set_ethernet_ipv4();
    packet.set_operation(arp::OPERATION_REQUEST);
    packet.set_sender_hardware_addr(our_mac);
    packet.set_sender_protocol_addr(our_ip.octets());
    packet.set_target_hardware_addr([0; 6]);
    packet.set_target_protocol_addr(target_ip.octets());
    LEN
}

/// Writes a neighbour solicitation for `target` (RFC 4861 §4.3, §7.2.2) into `buffer`: to the
/// solicited-node multicast address and its 33:33:ff:xx:xx:xx MAC, hop limit 255, with our
/// source link-layer address option. Returns the frame length, or 0 when `buffer` is too small.
pub fn neighbor_solicitation(buffer: &mut [u8], our_mac: [u8; 6], our_ip6: Ipv6Addr, target: Ipv6Addr) -> usize {
    const ICMP_LEN: usize = icmpv6::field::ND_LEN + 8;
    const LEN: usize = ethernet::field::HEADER_LEN + ipv6::field::HEADER_LEN + ICMP_LEN;
    let Some(frame) = buffer.get_mut(..LEN) else { return 0 };
    frame.fill(0);
    let group = ipv6::solicited_node(target.octets());
    set_macs(frame, our_mac, ipv6::multicast_mac(group));
    frame[ethernet::field::ETHERTYPE].copy_from_slice(&ethernet::ethertype::IPV6.to_be_bytes());
    let l3 = ethernet::field::HEADER_LEN;
    {
        let mut ip = ipv6::Ipv6Packet::new_unchecked(&mut frame[l3..]);
        ip.set_version_class_label(0, 0);
        ip.set_payload_len(ICMP_LEN as u16);
        ip.set_next_header(protocol::ICMPV6);
        ip.set_hop_limit(255);
        ip.set_source(our_ip6.octets());
        ip.set_destination(group);
    }
    let m = &mut frame[l3 + ipv6::field::HEADER_LEN..];
    m[0] = icmpv6::message::NEIGHBOR_SOLICITATION;
    m[icmpv6::field::ND_TARGET].copy_from_slice(&target.octets());
    m[24] = icmpv6::OPTION_SOURCE_LINK_LAYER_ADDRESS;
    m[25] = 1;
    m[26..32].copy_from_slice(&our_mac);
    let pseudo = checksum::pseudo_header_v6(our_ip6.octets(), group, protocol::ICMPV6, ICMP_LEN as u32);
    let c = checksum::with_pseudo_header(pseudo, m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    LEN
}

#[cfg(test)]
mod tests;

//! ICMP errors about a VIP's flows (RFC 792, RFC 4443): a router between a node and a client
//! that cannot deliver a reply (too big, unreachable, TTL) tells the reply's source, the VIP,
//! which lands here. The balancer hands the error to the node that serves the flow, so path
//! MTU discovery (RFC 1191, RFC 8201) works through it. In NAT mode the node knows the flow by
//! its own address and port, so the quoted header is translated back: VIP -> node address,
//! service port -> target port, with every checksum the change touches updated (RFC 1624),
//! including the ICMP checksum that covers the quote.
#![forbid(unsafe_code)]

use crate::wire::checksum::{update128, update16, update32, update_bytes};
use crate::wire::{protocol, Embedded, Parsed, L3};
use std::net::IpAddr;

fn read16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn write16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Replace the quoted packet's address `old` (the VIP, as source or destination) by the
/// node's, and `old_port` by `new_port` when given. Returns false (frame untouched) when the
/// quote does not hold what it should.
pub fn translate_embedded(frame: &mut [u8], parsed: &Parsed, embedded: &Embedded, vip_is_source: bool, node: IpAddr, new_port: Option<u16>) -> bool {
    let icmp_checksum_at = parsed.l4_offset as usize + 2;
    let ip = embedded.ip_offset;
    let l4 = embedded.l4_offset;
    if frame.len() < icmp_checksum_at + 2 {
        return false;
    }
    let mut icmp_sum = read16(frame, icmp_checksum_at);
    // The address, and the quoted IPv4 header checksum that covers it.
    match (parsed.l3, node) {
        (L3::Ipv4, IpAddr::V4(node)) => {
            let at = ip + if vip_is_source { 12 } else { 16 };
            if frame.len() < ip + 20 {
                return false;
            }
            let old: [u8; 4] = frame[at..at + 4].try_into().unwrap_or_default();
            let new = node.octets();
            let old_ip_sum = read16(frame, ip + 10);
            let new_ip_sum = update32(old_ip_sum, old, new);
            frame[at..at + 4].copy_from_slice(&new);
            write16(frame, ip + 10, new_ip_sum);
            icmp_sum = update32(icmp_sum, old, new);
            icmp_sum = update16(icmp_sum, old_ip_sum, new_ip_sum);
            icmp_sum = quoted_l4_address(frame, embedded, l4, icmp_sum, &old, &new);
        }
        (L3::Ipv6, IpAddr::V6(node)) => {
            let at = ip + if vip_is_source { 8 } else { 24 };
            if frame.len() < ip + 40 {
                return false;
            }
            let old: [u8; 16] = frame[at..at + 16].try_into().unwrap_or_default();
            let new = node.octets();
            frame[at..at + 16].copy_from_slice(&new);
            icmp_sum = update128(icmp_sum, old, new);
            icmp_sum = quoted_l4_address(frame, embedded, l4, icmp_sum, &old, &new);
        }
        _ => return false,
    }
    // The port on the node's side of the flow.
    if let Some(new_port) = new_port {
        let at = l4 + if vip_is_source { 0 } else { 2 };
        if matches!(embedded.proto, protocol::UDP | protocol::TCP) && frame.len() >= at + 2 {
            let old_port = read16(frame, at);
            write16(frame, at, new_port);
            icmp_sum = update16(icmp_sum, old_port, new_port);
            if let Some(sum_at) = quoted_l4_checksum_at(frame, embedded, l4) {
                let old_sum = read16(frame, sum_at);
                let new_sum = update16(old_sum, old_port, new_port);
                write16(frame, sum_at, new_sum);
                icmp_sum = update16(icmp_sum, old_sum, new_sum);
            }
        }
    }
    write16(frame, icmp_checksum_at, icmp_sum);
    true
}

/// Where the quoted UDP/TCP checksum sits, if the quote holds it (and it is in use).
fn quoted_l4_checksum_at(frame: &[u8], embedded: &Embedded, l4: usize) -> Option<usize> {
    let at = match embedded.proto {
        protocol::UDP => l4 + 6,
        protocol::TCP => l4 + 16,
        _ => return None,
    };
    if frame.len() < at + 2 {
        return None;
    }
    // A zero IPv4 UDP checksum means none (RFC 768): it stays zero.
    if embedded.proto == protocol::UDP && !embedded.v6 && read16(frame, at) == 0 {
        return None;
    }
    Some(at)
}

/// The quoted UDP/TCP checksum covers the pseudo-header's address: update it too.
fn quoted_l4_address(frame: &mut [u8], embedded: &Embedded, l4: usize, mut icmp_sum: u16, old: &[u8], new: &[u8]) -> u16 {
    if let Some(at) = quoted_l4_checksum_at(frame, embedded, l4) {
        let old_sum = read16(frame, at);
        let new_sum = update_bytes(old_sum, old, new);
        write16(frame, at, new_sum);
        icmp_sum = update16(icmp_sum, old_sum, new_sum);
    }
    icmp_sum
}

//! Packet builder for tests, fixtures and traffic generators. It allocates; it is never on
//! the fast path. Every length and checksum it writes is correct unless asked otherwise.
//!
//! ```
//! use cidlb_dataplane::wire::build::{dtls, PacketBuilder};
//! let frame = PacketBuilder::udp4([192, 0, 2, 7], [192, 0, 2, 10], 40000, 5684)
//!     .payload(&dtls::cid_record(&[2, 0, 0, 0, 0, 1], 1, 7, b"sealed"))
//!     .vlan(10)
//!     .build();
//! assert!(cidlb_dataplane::wire::parse(&frame).is_ok());
//! ```
#![forbid(unsafe_code)]

use super::ethernet::ethertype;
use super::{checksum, ipv4, ipv6, protocol};
use std::net::{Ipv4Addr, Ipv6Addr};

pub const DEFAULT_SOURCE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const DEFAULT_DESTINATION_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

#[derive(Clone, Copy, Debug)]
enum Addresses {
    V4([u8; 4], [u8; 4]),
    V6([u8; 16], [u8; 16]),
}

#[derive(Clone, Debug)]
enum Upper {
    Udp { source_port: u16, destination_port: u16 },
    Tcp { source_port: u16, destination_port: u16, flags: u8, sequence: u32, ack: u32, window: u16 },
    /// ICMPv4 or ICMPv6 (by address family): type, code and the 4 bytes after the checksum.
    Icmp { message_type: u8, code: u8, rest: [u8; 4] },
    Raw(u8),
}

/// An IPv6 extension header to put in the chain (RFC 8200 §4), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExtensionHeader {
    /// Option TLVs; padded with Pad1/PadN to a multiple of 8 bytes.
    HopByHop(Vec<u8>),
    DestinationOptions(Vec<u8>),
    /// Type-specific data after the 4 fixed bytes; zero-padded to a multiple of 8.
    Routing { routing_type: u8, segments_left: u8, data: Vec<u8> },
    Fragment { offset: u16, more: bool, identification: u32 },
    /// RFC 4302: SPI, sequence, ICV (zero-padded so the header is a multiple of 8 bytes).
    Authentication { spi: u32, sequence: u32, icv: Vec<u8> },
}

impl ExtensionHeader {
    pub fn kind(&self) -> u8 {
        match self {
            ExtensionHeader::HopByHop(_) => protocol::HOP_BY_HOP,
            ExtensionHeader::DestinationOptions(_) => protocol::DESTINATION_OPTIONS,
            ExtensionHeader::Routing { .. } => protocol::ROUTING,
            ExtensionHeader::Fragment { .. } => protocol::FRAGMENT,
            ExtensionHeader::Authentication { .. } => protocol::AUTHENTICATION,
        }
    }

    /// The header's bytes, with `next_header` in its first byte.
    pub fn encode(&self, next_header: u8) -> Vec<u8> {
        let mut out = vec![next_header, 0];
        match self {
            ExtensionHeader::HopByHop(options) | ExtensionHeader::DestinationOptions(options) => {
                out.extend_from_slice(options);
                pad_options(&mut out);
                out[1] = (out.len() / 8 - 1) as u8;
            }
            ExtensionHeader::Routing { routing_type, segments_left, data } => {
                out.extend_from_slice(&[*routing_type, *segments_left]);
                out.extend_from_slice(data);
                out.resize(out.len().div_ceil(8).max(1) * 8, 0);
                out[1] = (out.len() / 8 - 1) as u8;
            }
            ExtensionHeader::Fragment { offset, more, identification } => {
                out.extend_from_slice(&((offset << 3) | *more as u16).to_be_bytes());
                out.extend_from_slice(&identification.to_be_bytes());
            }
            ExtensionHeader::Authentication { spi, sequence, icv } => {
                out.extend_from_slice(&[0, 0]);
                out.extend_from_slice(&spi.to_be_bytes());
                out.extend_from_slice(&sequence.to_be_bytes());
                out.extend_from_slice(icv);
                out.resize(out.len().div_ceil(8) * 8, 0);
                // RFC 4302 §2.2: length in 4-byte units, minus 2.
                out[1] = (out.len() / 4 - 2) as u8;
            }
        }
        out
    }
}

/// RFC 8200 §4.2: Pad1 (0) for one byte, PadN (1, n-2, zeros) for more.
fn pad_options(out: &mut Vec<u8>) {
    let missing = (8 - out.len() % 8) % 8;
    match missing {
        0 => {}
        1 => out.push(0),
        n => {
            out.extend_from_slice(&[1, (n - 2) as u8]);
            out.resize(out.len() + n - 2, 0);
        }
    }
}

/// Builds one Ethernet frame. Start with a constructor, chain options, call `build()`.
#[derive(Clone, Debug)]
pub struct PacketBuilder {
    source_mac: [u8; 6],
    destination_mac: [u8; 6],
    vlan: Option<u16>,
    outer_vlan: Option<u16>,
    addresses: Addresses,
    ttl: u8,
    traffic_class: u8,
    flow_label: u32,
    dont_fragment: bool,
    identification: u16,
    fragment: Option<(u16, bool)>,
    ip_options: Vec<u8>,
    extension_headers: Vec<ExtensionHeader>,
    upper: Upper,
    payload: Vec<u8>,
    zero_udp_checksum: bool,
    pad_to: usize,
}

impl PacketBuilder {
    fn new(addresses: Addresses, upper: Upper) -> Self {
        PacketBuilder {
            source_mac: DEFAULT_SOURCE_MAC,
            destination_mac: DEFAULT_DESTINATION_MAC,
            vlan: None,
            outer_vlan: None,
            addresses,
            ttl: 64,
            traffic_class: 0,
            flow_label: 0,
            dont_fragment: false,
            identification: 0x1234,
            fragment: None,
            ip_options: Vec::new(),
            extension_headers: Vec::new(),
            upper,
            payload: Vec::new(),
            zero_udp_checksum: false,
            pad_to: 0,
        }
    }
    fn v4(src: impl Into<Ipv4Addr>, dst: impl Into<Ipv4Addr>, upper: Upper) -> Self {
        Self::new(Addresses::V4(src.into().octets(), dst.into().octets()), upper)
    }
    fn v6(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, upper: Upper) -> Self {
        Self::new(Addresses::V6(src.into().octets(), dst.into().octets()), upper)
    }
    fn tcp(source_port: u16, destination_port: u16) -> Upper {
        Upper::Tcp { source_port, destination_port, flags: super::tcp::flags::ACK, sequence: 1, ack: 1, window: 65535 }
    }

    pub fn udp4(src: impl Into<Ipv4Addr>, dst: impl Into<Ipv4Addr>, sport: u16, dport: u16) -> Self {
        Self::v4(src, dst, Upper::Udp { source_port: sport, destination_port: dport })
    }
    pub fn udp6(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, sport: u16, dport: u16) -> Self {
        Self::v6(src, dst, Upper::Udp { source_port: sport, destination_port: dport })
    }
    /// TCP with ACK set; change with `.tcp_flags()`.
    pub fn tcp4(src: impl Into<Ipv4Addr>, dst: impl Into<Ipv4Addr>, sport: u16, dport: u16) -> Self {
        Self::v4(src, dst, Self::tcp(sport, dport))
    }
    pub fn tcp6(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, sport: u16, dport: u16) -> Self {
        Self::v6(src, dst, Self::tcp(sport, dport))
    }
    /// ICMPv4 of any type; `rest` is the 4 bytes after the checksum.
    pub fn icmp4(src: impl Into<Ipv4Addr>, dst: impl Into<Ipv4Addr>, message_type: u8, code: u8, rest: [u8; 4]) -> Self {
        Self::v4(src, dst, Upper::Icmp { message_type, code, rest })
    }
    pub fn icmp6(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, message_type: u8, code: u8, rest: [u8; 4]) -> Self {
        Self::v6(src, dst, Upper::Icmp { message_type, code, rest })
    }
    pub fn echo_request4(src: impl Into<Ipv4Addr>, dst: impl Into<Ipv4Addr>, identifier: u16, sequence: u16) -> Self {
        Self::icmp4(src, dst, super::icmpv4::message::ECHO_REQUEST, 0, echo_rest(identifier, sequence))
    }
    pub fn echo_request6(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, identifier: u16, sequence: u16) -> Self {
        Self::icmp6(src, dst, super::icmpv6::message::ECHO_REQUEST, 0, echo_rest(identifier, sequence))
    }
    /// A neighbour solicitation for `target` with a source link-layer address option
    /// (RFC 4861 §4.3), hop limit 255, to `dst` (unicast or the solicited-node group).
    pub fn neighbor_solicitation(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, target: Ipv6Addr, source_mac: [u8; 6]) -> Self {
        let mut body = target.octets().to_vec();
        body.extend_from_slice(&[super::icmpv6::OPTION_SOURCE_LINK_LAYER_ADDRESS, 1]);
        body.extend_from_slice(&source_mac);
        Self::icmp6(src, dst, super::icmpv6::message::NEIGHBOR_SOLICITATION, 0, [0; 4])
            .payload(&body)
            .ttl(255)
            .macs(source_mac, DEFAULT_DESTINATION_MAC)
    }
    /// Any other protocol; the payload is the whole upper-layer message.
    pub fn raw4(src: impl Into<Ipv4Addr>, dst: impl Into<Ipv4Addr>, protocol: u8) -> Self {
        Self::v4(src, dst, Upper::Raw(protocol))
    }
    pub fn raw6(src: impl Into<Ipv6Addr>, dst: impl Into<Ipv6Addr>, protocol: u8) -> Self {
        Self::v6(src, dst, Upper::Raw(protocol))
    }

    pub fn payload(mut self, bytes: &[u8]) -> Self {
        self.payload = bytes.to_vec();
        self
    }
    pub fn macs(mut self, source: [u8; 6], destination: [u8; 6]) -> Self {
        self.source_mac = source;
        self.destination_mac = destination;
        self
    }
    /// One 802.1Q tag.
    pub fn vlan(mut self, id: u16) -> Self {
        self.vlan = Some(id);
        self
    }
    /// An 802.1ad outer tag (with `.vlan()` for the inner one).
    pub fn outer_vlan(mut self, id: u16) -> Self {
        self.outer_vlan = Some(id);
        self
    }
    /// TTL or hop limit.
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = ttl;
        self
    }
    pub fn traffic_class(mut self, v: u8) -> Self {
        self.traffic_class = v;
        self
    }
    pub fn flow_label(mut self, label: u32) -> Self {
        self.flow_label = label & 0x000f_ffff;
        self
    }
    pub fn dont_fragment(mut self) -> Self {
        self.dont_fragment = true;
        self
    }
    pub fn identification(mut self, id: u16) -> Self {
        self.identification = id;
        self
    }
    /// IPv4 only: fragment fields as given (offset in 8-byte units); the content is still
    /// the whole upper-layer message. Use [`fragment`] for real fragments.
    pub fn fragment_fields(mut self, offset: u16, more: bool) -> Self {
        self.fragment = Some((offset, more));
        self
    }
    /// IPv4 options, zero-padded (EOL) to a multiple of 4.
    pub fn ip_options(mut self, options: &[u8]) -> Self {
        self.ip_options = options.to_vec();
        self
    }
    pub fn ext_headers(mut self, headers: &[ExtensionHeader]) -> Self {
        self.extension_headers = headers.to_vec();
        self
    }
    pub fn tcp_flags(mut self, flags: u8) -> Self {
        if let Upper::Tcp { flags: f, .. } = &mut self.upper {
            *f = flags;
        }
        self
    }
    /// IPv4 UDP with checksum 0 ("no checksum", RFC 768).
    pub fn zero_udp_checksum(mut self) -> Self {
        self.zero_udp_checksum = true;
        self
    }
    /// Pad the frame with zeros to at least `len` bytes (Ethernet minimum is 60).
    pub fn pad_to(mut self, len: usize) -> Self {
        self.pad_to = len;
        self
    }

    fn upper_protocol(&self) -> u8 {
        let v6 = matches!(self.addresses, Addresses::V6(..));
        match self.upper {
            Upper::Udp { .. } => protocol::UDP,
            Upper::Tcp { .. } => protocol::TCP,
            Upper::Icmp { .. } if v6 => protocol::ICMPV6,
            Upper::Icmp { .. } => protocol::ICMP,
            Upper::Raw(p) => p,
        }
    }

    /// The upper-layer message with its checksum.
    fn upper_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.payload.len());
        let checksum_at = match &self.upper {
            Upper::Udp { source_port, destination_port } => {
                out.extend_from_slice(&source_port.to_be_bytes());
                out.extend_from_slice(&destination_port.to_be_bytes());
                out.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                out.extend_from_slice(&[0, 0]);
                Some(6)
            }
            Upper::Tcp { source_port, destination_port, flags, sequence, ack, window } => {
                out.extend_from_slice(&source_port.to_be_bytes());
                out.extend_from_slice(&destination_port.to_be_bytes());
                out.extend_from_slice(&sequence.to_be_bytes());
                out.extend_from_slice(&ack.to_be_bytes());
                out.extend_from_slice(&[5 << 4, *flags]);
                out.extend_from_slice(&window.to_be_bytes());
                out.extend_from_slice(&[0, 0, 0, 0]);
                Some(16)
            }
            Upper::Icmp { message_type, code, rest } => {
                out.extend_from_slice(&[*message_type, *code, 0, 0]);
                out.extend_from_slice(rest);
                Some(2)
            }
            Upper::Raw(_) => None,
        };
        out.extend_from_slice(&self.payload);
        let Some(at) = checksum_at else { return out };
        let proto = self.upper_protocol();
        let pseudo = match self.addresses {
            Addresses::V4(..) if proto == protocol::ICMP => 0,
            Addresses::V4(s, d) => checksum::pseudo_header_v4(s, d, proto, out.len() as u16),
            Addresses::V6(s, d) => checksum::pseudo_header_v6(s, d, proto, out.len() as u32),
        };
        let mut sum = checksum::with_pseudo_header(pseudo, &out);
        if proto == protocol::UDP {
            if self.zero_udp_checksum {
                sum = 0;
            } else if sum == 0 {
                sum = 0xffff; // RFC 768: a computed zero is sent as all ones.
            }
        }
        out[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        out
    }

    /// The IP packet (no Ethernet header).
    pub fn build_ip(&self) -> Vec<u8> {
        let upper = self.upper_bytes();
        match self.addresses {
            Addresses::V4(s, d) => {
                let mut options = self.ip_options.clone();
                options.resize(options.len().div_ceil(4) * 4, 0);
                let header_len = 20 + options.len();
                let mut p = vec![0u8; header_len];
                p[20..].copy_from_slice(&options);
                p.extend_from_slice(&upper);
                let mut ip = ipv4::Ipv4Packet::new_unchecked(&mut p[..]);
                ip.set_version_and_header_len(header_len);
                ip.set_type_of_service(self.traffic_class);
                ip.set_total_len((header_len + upper.len()) as u16);
                ip.set_identification(self.identification);
                let (offset, more) = self.fragment.unwrap_or((0, false));
                ip.set_fragment(self.dont_fragment, more, offset);
                ip.set_ttl(self.ttl);
                ip.set_protocol(self.upper_protocol());
                ip.set_source(s);
                ip.set_destination(d);
                ip.fill_checksum();
                p
            }
            Addresses::V6(s, d) => {
                let mut chain = Vec::new();
                let kinds: Vec<u8> = self.extension_headers.iter().map(ExtensionHeader::kind).collect();
                for (i, header) in self.extension_headers.iter().enumerate() {
                    let next = kinds.get(i + 1).copied().unwrap_or(self.upper_protocol());
                    chain.extend(header.encode(next));
                }
                let mut p = vec![0u8; 40];
                p.extend_from_slice(&chain);
                p.extend_from_slice(&upper);
                let mut ip = ipv6::Ipv6Packet::new_unchecked(&mut p[..]);
                ip.set_version_class_label(self.traffic_class, self.flow_label);
                ip.set_payload_len((chain.len() + upper.len()) as u16);
                ip.set_next_header(kinds.first().copied().unwrap_or(self.upper_protocol()));
                ip.set_hop_limit(self.ttl);
                ip.set_source(s);
                ip.set_destination(d);
                p
            }
        }
    }

    /// The Ethernet frame.
    pub fn build(&self) -> Vec<u8> {
        let ip = self.build_ip();
        let ether = match self.addresses {
            Addresses::V4(..) => ethertype::IPV4,
            Addresses::V6(..) => ethertype::IPV6,
        };
        let mut frame = ethernet_header(self.source_mac, self.destination_mac, self.outer_vlan, self.vlan, ether);
        frame.extend_from_slice(&ip);
        if frame.len() < self.pad_to {
            frame.resize(self.pad_to, 0);
        }
        frame
    }
}

fn echo_rest(identifier: u16, sequence: u16) -> [u8; 4] {
    let [a, b] = identifier.to_be_bytes();
    let [c, d] = sequence.to_be_bytes();
    [a, b, c, d]
}

/// An Ethernet header with optional 802.1ad outer and 802.1Q inner tags.
pub fn ethernet_header(source: [u8; 6], destination: [u8; 6], outer_vlan: Option<u16>, vlan: Option<u16>, ether: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(22);
    f.extend_from_slice(&destination);
    f.extend_from_slice(&source);
    if let Some(id) = outer_vlan {
        f.extend_from_slice(&ethertype::QINQ.to_be_bytes());
        f.extend_from_slice(&(id & 0x0fff).to_be_bytes());
    }
    if let Some(id) = vlan {
        f.extend_from_slice(&ethertype::VLAN.to_be_bytes());
        f.extend_from_slice(&(id & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ether.to_be_bytes());
    f
}

/// Splits the IP packet of an Ethernet frame into fragments whose IP packets are at most
/// `mtu` bytes (RFC 791 §3.2; RFC 8200 §4.5), each in a copy of the frame's Ethernet header.
/// IPv4 copies only options with the copied flag into non-first fragments. IPv6 inserts a
/// Fragment header after the unfragmentable part (hop-by-hop, routing and the destination
/// options before a routing header). Returns the frame unchanged when it already fits or
/// cannot be parsed.
pub fn fragment(frame: &[u8], mtu: usize, identification: u32) -> Vec<Vec<u8>> {
    let Ok(parsed) = super::parse(frame) else { return vec![frame.to_vec()] };
    let l3 = parsed.l3_offset as usize;
    let ip = &frame[l3..parsed.ip_end()];
    if ip.len() <= mtu || parsed.l3 == super::L3::Arp {
        return vec![frame.to_vec()];
    }
    let link = &frame[..l3];
    let mut out = Vec::new();
    if parsed.l3 == super::L3::Ipv4 {
        let header_len = (ip[0] & 0x0f) as usize * 4;
        let (header, data) = ip.split_at(header_len);
        let later_header = copied_options_header(header);
        let mut offset = 0;
        while offset < data.len() {
            let header = if offset == 0 { header } else { &later_header[..] };
            let room = (mtu.saturating_sub(header.len()) & !7).max(8);
            let end = (offset + room).min(data.len());
            let mut p = header.to_vec();
            p.extend_from_slice(&data[offset..end]);
            let mut v = ipv4::Ipv4Packet::new_unchecked(&mut p[..]);
            v.set_total_len((header.len() + end - offset) as u16);
            v.set_identification(identification as u16);
            v.set_fragment(false, end < data.len(), (offset / 8) as u16);
            v.fill_checksum();
            let mut f = link.to_vec();
            f.extend_from_slice(&p);
            out.push(f);
            offset = end;
        }
        return out;
    }
    // IPv6: find the end of the unfragmentable part and the next-header byte pointing past it.
    let mut next_at = ipv6::field::NEXT_HEADER;
    let mut offset = ipv6::field::HEADER_LEN;
    let mut unfragmentable_end = (offset, next_at);
    let mut next = ip[next_at];
    let mut seen = 0;
    while matches!(next, protocol::HOP_BY_HOP | protocol::ROUTING | protocol::DESTINATION_OPTIONS) && seen < 8 {
        if ip.len() < offset + 2 {
            break;
        }
        let len = (ip[offset + 1] as usize + 1) * 8;
        let this = next;
        next_at = offset;
        next = ip[offset];
        offset += len;
        seen += 1;
        if this != protocol::DESTINATION_OPTIONS {
            unfragmentable_end = (offset, next_at);
        }
    }
    let (unfragmentable_len, pointer_at) = unfragmentable_end;
    if unfragmentable_len > ip.len() {
        return vec![frame.to_vec()];
    }
    let (unfragmentable, data) = ip.split_at(unfragmentable_len);
    let original_next = ip[pointer_at];
    let room = (mtu.saturating_sub(unfragmentable_len + 8) & !7).max(8);
    let mut start = 0;
    while start < data.len() {
        let end = (start + room).min(data.len());
        let mut p = unfragmentable.to_vec();
        p[pointer_at] = protocol::FRAGMENT;
        p.extend(
            ExtensionHeader::Fragment { offset: (start / 8) as u16, more: end < data.len(), identification }
                .encode(original_next),
        );
        p.extend_from_slice(&data[start..end]);
        let payload_len = (p.len() - 40) as u16;
        ipv6::Ipv6Packet::new_unchecked(&mut p[..]).set_payload_len(payload_len);
        let mut f = link.to_vec();
        f.extend_from_slice(&p);
        out.push(f);
        start = end;
    }
    out
}

/// RFC 791 §3.1: options with the copied flag (0x80) go into every fragment.
fn copied_options_header(header: &[u8]) -> Vec<u8> {
    let mut options = Vec::new();
    let mut i = 20;
    while i < header.len() {
        let kind = header[i];
        match kind {
            0 => break,
            1 => i += 1,
            _ => {
                let len = header.get(i + 1).copied().unwrap_or(0) as usize;
                if len < 2 || i + len > header.len() {
                    break;
                }
                if kind & 0x80 != 0 {
                    options.extend_from_slice(&header[i..i + len]);
                }
                i += len;
            }
        }
    }
    options.resize(options.len().div_ceil(4) * 4, 0);
    let mut h = header[..20].to_vec();
    h.extend_from_slice(&options);
    h[0] = 0x40 | (h.len() / 4) as u8;
    h
}

/// DTLS 1.2 records (RFC 6347 §4.1, RFC 9146 §4).
pub mod dtls {
    use crate::wire::dtls::{content_type, VERSION_DTLS_1_2};

    fn header(content_type: u8, epoch: u16, sequence_number: u64) -> Vec<u8> {
        let mut r = vec![content_type];
        r.extend_from_slice(&VERSION_DTLS_1_2.to_be_bytes());
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&sequence_number.to_be_bytes()[2..]);
        r
    }

    /// Any DTLS 1.2 plaintext-format record.
    pub fn record(content_type: u8, epoch: u16, sequence_number: u64, fragment: &[u8]) -> Vec<u8> {
        let mut r = header(content_type, epoch, sequence_number);
        r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        r.extend_from_slice(fragment);
        r
    }

    /// A handshake record (type 22, epoch 0) carrying `fragment`.
    pub fn handshake_record(sequence_number: u64, fragment: &[u8]) -> Vec<u8> {
        record(content_type::HANDSHAKE, 0, sequence_number, fragment)
    }

    /// A handshake record holding a minimal ClientHello-shaped handshake message
    /// (RFC 6347 §4.2.2 handshake header; the body is opaque filler of `body_len` bytes).
    pub fn client_hello(body_len: usize) -> Vec<u8> {
        let mut m = vec![1]; // client_hello
        let len = (body_len as u32).to_be_bytes();
        m.extend_from_slice(&len[1..]); // length
        m.extend_from_slice(&[0, 0]); // message_seq
        m.extend_from_slice(&[0, 0, 0]); // fragment_offset
        m.extend_from_slice(&len[1..]); // fragment_length
        m.extend_from_slice(&[0xfe, 0xfd]);
        m.resize(12 + body_len, 0x5a);
        handshake_record(0, &m)
    }

    /// A well-formed DTLS 1.2 ClientHello in one handshake record (RFC 6347 §4.2.2, RFC 5246
    /// §7.4.1.2): message_seq 0 without a cookie (a first ClientHello), 1 with one (the reply
    /// to a HelloVerifyRequest); one cipher suite, null compression, no extensions.
    pub fn client_hello_with(session_id: &[u8], cookie: &[u8]) -> Vec<u8> {
        let mut body = vec![0xfe, 0xfd];
        body.extend((0..32u8).map(|i| i.wrapping_mul(37)));
        body.push(session_id.len() as u8);
        body.extend_from_slice(session_id);
        body.push(cookie.len() as u8);
        body.extend_from_slice(cookie);
        body.extend_from_slice(&[0, 2, 0xc0, 0xa8, 1, 0]); // TLS_PSK_WITH_AES_128_CCM_8, null
        let len = (body.len() as u32).to_be_bytes();
        let mut m = vec![1]; // client_hello
        m.extend_from_slice(&len[1..]);
        m.extend_from_slice(&[0, u8::from(!cookie.is_empty())]); // message_seq
        m.extend_from_slice(&[0, 0, 0]); // fragment_offset
        m.extend_from_slice(&len[1..]); // fragment_length
        m.extend_from_slice(&body);
        handshake_record(u64::from(!cookie.is_empty()), &m)
    }

    /// A `tls12_cid` record (type 25): CID right after the sequence number, then the length
    /// of `encrypted` and `encrypted`.
    pub fn cid_record(cid: &[u8], epoch: u16, sequence_number: u64, encrypted: &[u8]) -> Vec<u8> {
        let mut r = header(content_type::TLS12_CID, epoch, sequence_number);
        r.extend_from_slice(cid);
        r.extend_from_slice(&(encrypted.len() as u16).to_be_bytes());
        r.extend_from_slice(encrypted);
        r
    }
}

/// A broadcast ARP request (RFC 826) from `source_mac`/`sender_ip` for `target_ip`.
pub fn arp_request_frame(source_mac: [u8; 6], sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let n = crate::rewrite::arp_request(&mut buf, source_mac, sender_ip, target_ip);
    buf[..n].to_vec()
}

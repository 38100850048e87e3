//! The worker: a pure per-packet decision ([`Worker::process`]) and the run-to-completion
//! burst loop ([`Pump`]) that drives it over any [`PacketIo`] backend (DPDK or pcap).
#![forbid(unsafe_code)]

use crate::classify::{Answer, Classifier, Lead, Local, Route, Step, Verdict};
use crate::counters::{DropReason, PortCounters, WorkerCounters};
use crate::frame::Frame;
use crate::io::{Burst, PacketIo};
use crate::rewrite;
use crate::select::FlowHasher;
use crate::session::{FlowKey, SessionTable};
use crate::snapshot::{Snapshot, SnapshotSource};
use crate::tunnel::{self, Fit, Outer, RateLimit};
use crate::wire::{self, Parsed};
use cidlb_config::Forward;
use crossbeam_queue::ArrayQueue;
use std::sync::Arc;

/// What the worker does with one packet after `process`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send the (rewritten) frame out of this port.
    Transmit { port: u16 },
    /// Copied to the control ring (health-probe reply, neighbour message); free the frame.
    Consumed,
    /// Rewritten for `port` but the next hop's MAC is not known yet: hold the frame (bounded)
    /// until the control thread resolves `next_hop`, then set the MACs and send it.
    Hold { port: u16, next_hop: std::net::IpAddr },
    /// An ICMP error about a flow of `service` that no session names: copy it to every node
    /// of the service.
    Broadcast { service: u16, vip_is_source: bool },
    /// An encapsulated frame too big for `port`'s MTU: send it as outer fragments of at most
    /// `mtu` bytes (the outer header is at `l3`).
    Fragments { port: u16, mtu: u16, l3: u16, identification: u32 },
    Drop(DropReason),
}

/// Bytes of a packet crossing between a worker and the control thread.
pub const CONTROL_PACKET_BYTES: usize = 512;

/// A packet copied between a worker and the control thread (not on the forwarding path).
#[derive(Clone)]
pub struct ControlPacket {
    pub port: u16,
    pub len: u16,
    pub bytes: [u8; CONTROL_PACKET_BYTES],
}

impl ControlPacket {
    pub fn new(port: u16, data: &[u8]) -> Self {
        let len = data.len().min(CONTROL_PACKET_BYTES);
        let mut bytes = [0u8; CONTROL_PACKET_BYTES];
        bytes[..len].copy_from_slice(&data[..len]);
        ControlPacket { port, len: len as u16, bytes }
    }
    pub fn data(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The two lock-free rings between one worker and the control thread.
pub struct ControlRings {
    /// Worker -> control: probe replies, ARP/ND the control thread learns from.
    pub to_control: ArrayQueue<ControlPacket>,
    /// Control -> worker: probes, ARP requests and neighbour solicitations to transmit.
    pub from_control: ArrayQueue<ControlPacket>,
}

impl ControlRings {
    pub fn new(capacity: usize) -> Self {
        ControlRings { to_control: ArrayQueue::new(capacity), from_control: ArrayQueue::new(capacity) }
    }
}

/// Most nodes one ICMP error is copied to.
pub const MAX_BROADCAST: usize = 64;

/// Most outer fragments one frame becomes (2 KiB of data room over a 576-byte MTU is 4).
pub const MAX_FRAGMENTS: usize = 8;

/// How long a frame may wait for its next hop to be resolved (ARP/ND retries every second).
pub const PENDING_TIMEOUT_NS: u64 = 3_000_000_000;

/// The sizes a worker is built with (from `[dataplane]`).
#[derive(Clone, Debug)]
pub struct WorkerParams {
    pub id: u16,
    pub burst: usize,
    pub drain_ns: u64,
    pub sessions: u32,
    pub fragments: u32,
    /// Frames that may wait for a next hop's MAC at once, and how long each may wait.
    pub pending: usize,
    pub pending_timeout_ns: u64,
    pub icmp_errors_per_second: u32,
    /// Session-table buckets examined for expiry per burst.
    pub expiry_budget: usize,
}

impl WorkerParams {
    pub fn from_config(id: u16, dataplane: &cidlb_config::Dataplane) -> Self {
        WorkerParams {
            id,
            burst: (dataplane.burst as usize).clamp(1, crate::MAX_BURST),
            drain_ns: dataplane.drain_interval.as_nanos_u64(),
            sessions: dataplane.sessions_per_worker,
            fragments: dataplane.fragments_per_worker,
            pending: dataplane.pending_per_worker as usize,
            pending_timeout_ns: PENDING_TIMEOUT_NS,
            icmp_errors_per_second: dataplane.icmp_errors_per_second,
            expiry_budget: 64,
        }
    }
}

/// Where the upper layer of an untagged IPv4 frame without options starts.
const IPV4_L4_AT: usize = wire::ethernet::field::HEADER_LEN + 20;

/// The 5-tuple key of a frame of the session lane's shape (see `Worker::tuple_lane`: untagged
/// IPv4 without options carrying UDP or TCP), from its first 42 bytes at fixed offsets: the key
/// the general path makes of the frame's parse.
#[inline(always)]
fn lane_tuple_key(head: &[u8; wire::ethernet::field::HEADER_LEN + 28]) -> FlowKey {
    const IP: usize = wire::ethernet::field::HEADER_LEN;
    const L4: usize = IP + 20;
    FlowKey::five_tuple_v4(
        [head[IP + 12], head[IP + 13], head[IP + 14], head[IP + 15]],
        [head[IP + 16], head[IP + 17], head[IP + 18], head[IP + 19]],
        u16::from_be_bytes([head[L4], head[L4 + 1]]),
        u16::from_be_bytes([head[L4 + 2], head[L4 + 3]]),
        head[IP + 9],
    )
}

/// Whether the UDP datagram or TCP segment at `l4_at` of a lane's frame (`l4`: its first 8
/// bytes; `protocol` UDP or TCP) fits the `room` bytes its IP header delivers, as `wire::parse`'s
/// fixed-offset parse requires: a UDP length of at least 8 and at most `room`, a TCP header
/// (data offset) of at least 20 bytes and at most `room`. `None` when the TCP data offset is
/// past the frame.
#[inline(always)]
fn lane_upper_fits(frame: &[u8], l4: &[u8], l4_at: usize, protocol: u8, room: usize) -> Option<bool> {
    let (least, length) = if protocol == wire::protocol::UDP {
        (8, usize::from(u16::from_be_bytes([*l4.get(4)?, *l4.get(5)?])))
    } else {
        (20, usize::from(*frame.get(l4_at + 12)? >> 4) * 4)
    };
    Some(length >= least && length <= room)
}

/// The Ethernet and fixed IPv6 headers of an untagged IPv6 frame, and where its packet ends:
/// version 6, the payload all there, and with the header within 64 KiB (an IP length), as
/// `wire::parse`'s fixed-offset parse requires. The IPv6 lanes' first check.
#[inline(always)]
fn lane_ipv6_head(frame: &[u8]) -> Option<(&[u8; wire::ethernet::field::HEADER_LEN + 40], usize)> {
    const ETH: usize = wire::ethernet::field::HEADER_LEN;
    let head: &[u8; ETH + 40] = frame.get(..ETH + 40)?.try_into().ok()?;
    let ip = &head[ETH..];
    if head[12..14] != wire::ethernet::ethertype::IPV6.to_be_bytes() {
        return None;
    }
    let payload = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    let end = ETH + 40 + payload;
    if ip[0] >> 4 != 6 || end > frame.len() || 40 + payload > usize::from(u16::MAX) {
        return None;
    }
    Some((head, end))
}

/// Where the upper layer of an IPv6 frame of the IPv6 lane's shape (see `Worker::ipv6_lane`)
/// starts, and its protocol: right after the fixed header (`next` is its next header), or
/// after the hop-by-hop and destination options headers that follow it, walked as
/// `wire::ipv6::walk_extensions` walks them (each `(length + 1) × 8` bytes and inside the
/// packet, which ends at `end`; at most `MAX_EXTENSION_HEADERS`). `None` for a chain that does
/// not fit or is too long: the general path walks it and names the drop reason. Any other
/// extension header (routing, fragment, AH) ends the walk as the protocol, which no lane entry
/// has.
#[inline(always)]
fn lane_ipv6_upper(frame: &[u8], next: u8, end: usize) -> Option<(u8, usize)> {
    if next == wire::protocol::HOP_BY_HOP || next == wire::protocol::DESTINATION_OPTIONS {
        return lane_ipv6_options(frame, next, end);
    }
    Some((next, wire::ethernet::field::HEADER_LEN + 40))
}

/// [`lane_ipv6_upper`]'s walk over option headers, out of line (as `wire::parse`'s own walk),
/// so that the far more common packet without them keeps its upper layer at a constant offset.
#[inline(never)]
fn lane_ipv6_options(frame: &[u8], mut next: u8, end: usize) -> Option<(u8, usize)> {
    let mut at = wire::ethernet::field::HEADER_LEN + 40;
    let mut count = 0;
    while next == wire::protocol::HOP_BY_HOP || next == wire::protocol::DESTINATION_OPTIONS {
        if count == wire::ipv6::MAX_EXTENSION_HEADERS {
            return None;
        }
        count += 1;
        let header = frame.get(at..at + 2)?;
        let length = (usize::from(header[1]) + 1) * 8;
        if at + length > end {
            return None;
        }
        next = header[0];
        at += length;
    }
    Some((next, at))
}

/// The `<source, destination, label>` key of an IPv6 frame (`head`: its Ethernet and fixed
/// IPv6 headers), as the general path makes it of the frame's parse.
#[inline(always)]
fn lane_label_key(head: &[u8; wire::ethernet::field::HEADER_LEN + 40]) -> FlowKey {
    const IP: usize = wire::ethernet::field::HEADER_LEN;
    let (source, destination) = lane_ipv6_addresses(head);
    let label = u32::from_be_bytes([head[IP], head[IP + 1], head[IP + 2], head[IP + 3]]) & 0x000f_ffff;
    FlowKey::label(source, destination, label)
}

/// The 5-tuple key of an IPv6 frame (`head`: its Ethernet and fixed IPv6 headers) whose upper
/// layer, `protocol`, opens with the ports `l4`.
#[inline(always)]
fn lane_ipv6_tuple_key(head: &[u8; wire::ethernet::field::HEADER_LEN + 40], l4: &[u8; 4], protocol: u8) -> FlowKey {
    let (source, destination) = lane_ipv6_addresses(head);
    FlowKey::five_tuple_v6(source, destination, u16::from_be_bytes([l4[0], l4[1]]), u16::from_be_bytes([l4[2], l4[3]]), protocol)
}

#[inline(always)]
fn lane_ipv6_addresses(head: &[u8; wire::ethernet::field::HEADER_LEN + 40]) -> ([u8; 16], [u8; 16]) {
    const IP: usize = wire::ethernet::field::HEADER_LEN;
    let mut source = [0u8; 16];
    let mut destination = [0u8; 16];
    source.copy_from_slice(&head[IP + 8..IP + 24]);
    destination.copy_from_slice(&head[IP + 24..IP + 40]);
    (source, destination)
}

/// What [`Worker::prepare`] learned of one frame: its parse (or why it is dropped) and its
/// [`Lead`]. A frame one of the lanes took has no parse: [`Lead::Cid`] (the CID lane), or
/// [`Step::Session`] / [`Step::Label`] / a first ClientHello's [`Route::Hello`] with no parse
/// (the session / IPv6 lane; the general
/// path gives every frame it cannot parse [`Lead::General`]). Those lanes' frames share the general path's lead so
/// that the matches on it the general path runs (the prefetches, the table work) stay as they
/// were: a variant of their own cost the other frames ~20 instructions (callgrind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prepared {
    parsed: Result<Parsed, DropReason>,
    lead: Lead,
}

impl Prepared {
    /// Where the first pass found the frame's decision leads ([`Lead::Cid`]: the CID lane
    /// took it).
    pub fn lead(&self) -> Lead {
        self.lead
    }

    /// Whether the session or the IPv6 lane took the frame (no parse, and the general path's
    /// [`Step::Session`] or [`Step::Label`] lead, or a first ClientHello's `Hello` route: see
    /// [`Prepared`]).
    pub fn in_session_lane(&self) -> bool {
        self.parsed.is_err() && matches!(self.lead, Lead::Known(Step::Session { .. } | Step::Label { .. } | Step::Decided(Verdict::Forward { route: Route::Hello, .. })))
    }

    /// Whether the second pass will look this frame up in the session table.
    #[inline(always)]
    fn goes_to_table(&self) -> bool {
        self.lead.session_hash().is_some()
    }

    fn dropped(reason: DropReason) -> Prepared {
        Prepared { parsed: Err(reason), lead: Lead::General }
    }
}

/// One worker's decision state: owned, never shared, no locks.
pub struct Worker {
    pub params: WorkerParams,
    pub snapshot: Arc<Snapshot>,
    source: Arc<SnapshotSource>,
    pub counters: Arc<WorkerCounters>,
    pub rings: Arc<ControlRings>,
    pub classifier: Classifier,
    /// Budget of ICMP "too big" errors.
    icmp_budget: RateLimit,
    /// Outer IPv4 identification / IPv6 fragment identification of tunnel packets; each
    /// worker starts in its own part of the space.
    next_identification: u32,
}

impl Worker {
    /// Allocates the session and fragment tables (the only allocation of a worker's life).
    pub fn new(params: WorkerParams, source: Arc<SnapshotSource>, counters: Arc<WorkerCounters>, rings: Arc<ControlRings>) -> Self {
        let snapshot = source.load();
        // The tables keep the hash key they start with: a reload that changes `hash_key`
        // re-keys Maglev at once and the session tables at the next start.
        let sessions = SessionTable::new(params.sessions, snapshot.session_timeout_ns, FlowHasher::new(snapshot.hash_key));
        let fragments = SessionTable::new(params.fragments, snapshot.fragment_timeout_ns, FlowHasher::new(snapshot.hash_key));
        let icmp_budget = RateLimit::new(params.icmp_errors_per_second);
        let next_identification = (params.id as u32) << 24;
        Worker { params, snapshot, source, counters, rings, classifier: Classifier::new(sessions, fragments), icmp_budget, next_identification }
    }

    /// Call once on the thread that runs this worker, before its first burst. Loading the
    /// snapshot takes arc-swap's per-thread slot, which its first load on a thread allocates
    /// (and with it the C allocator's per-thread arena: `mmap`, `mprotect`); done here, the
    /// first reload while forwarding allocates nothing and makes no system call.
    pub fn bind_to_thread(&mut self) {
        self.snapshot = self.source.load();
    }

    /// Adopt a newer snapshot if the control thread published one (once per burst).
    #[inline]
    pub fn refresh_snapshot(&mut self) {
        if self.source.generation() != self.snapshot.generation {
            self.snapshot = self.source.load();
        }
    }

    /// Decide what to do with one received frame, rewriting it in place.
    #[inline]
    pub fn process<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F) -> Action {
        let prepared = self.prepare(in_port, frame.data());
        self.finish(now, in_port, frame, &prepared)
    }

    /// The same decision without the common-case shortcuts (`wire::parse`'s fixed-offset
    /// parse, `Classifier::lead`): the reference those shortcuts are tested against
    /// (differential tests and the pipeline fuzz target). Not for the data path.
    pub fn process_reference<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F) -> Action {
        let mut prepared = Prepared::dropped(DropReason::NotForUs);
        self.prepare_with::<false>(in_port, frame.data(), &mut prepared);
        self.finish(now, in_port, frame, &prepared)
    }

    /// The first, stateless half of [`process`](Self::process): parse, check the port and
    /// MAC, and find the packet's [`Lead`] from the snapshot alone. The burst loop prepares a
    /// whole burst before it [`finish`](Self::finish)es any of it, and then starts loading the
    /// session buckets the leads name ([`Classifier::prefetch`]), all in one tight loop, so
    /// those loads overlap one another and the work that follows. (Issued here, one per frame
    /// between the frames' work, a prefetch that waits for its address translation held the
    /// whole pass up: the tuning log, twenty-first round.)
    #[inline]
    pub fn prepare(&self, in_port: u16, frame: &[u8]) -> Prepared {
        let mut prepared = Prepared::dropped(DropReason::NotForUs);
        self.prepare_into(in_port, frame, &mut prepared);
        prepared
    }

    /// [`prepare`](Self::prepare), written into `slot` (the burst loop's array: no copy).
    #[inline]
    pub fn prepare_into(&self, in_port: u16, frame: &[u8], slot: &mut Prepared) {
        if let Some((service, node)) = self.cid_lane(in_port, frame) {
            // No parse: `finish` rewrites the frame from the lead alone.
            slot.parsed = Err(DropReason::NotForUs);
            slot.lead = Lead::Cid { service, node };
            return;
        }
        if let Some((service, hash, hello)) = self.tuple_lane(in_port, frame) {
            // No parse: `finish` reads the 5-tuple from the bytes again.
            slot.parsed = Err(DropReason::NotForUs);
            slot.lead = Lead::Known(match hello {
                Some(node) => Step::Decided(Verdict::Forward { service, node, route: Route::Hello }),
                None => Step::Session { service, hash },
            });
            return;
        }
        if let Some((service, hash, label)) = self.ipv6_lane(in_port, frame) {
            // No parse: `finish` reads the keys from the bytes again.
            slot.parsed = Err(DropReason::NotForUs);
            slot.lead = Lead::Known(if label { Step::Label { service, hash } } else { Step::Session { service, hash } });
            return;
        }
        if frame.get(wire::ethernet::field::HEADER_LEN + 6) == Some(&wire::protocol::FRAGMENT) {
            if let Some((service, hash)) = self.ipv6_fragment_lane(in_port, frame) {
                slot.parsed = Err(DropReason::NotForUs);
                slot.lead = Lead::Known(Step::Label { service, hash });
                return;
            }
        }
        self.prepare_with::<true>(in_port, frame, slot);
    }

    /// The CID lane: the (service, node) of a frame that the general path would forward by its
    /// CID, checked from the bytes at fixed offsets: untagged IPv4 without options, not a
    /// fragment, a whole UDP datagram (the checks of `wire::parse`'s fixed-offset parse), to
    /// this port's MAC, to a VIP and port of `Snapshot::cid_lane` (a `dtls-cid` service, and no
    /// VIP is also an own address), opening with a DTLS 1.2 `tls12_cid` record that fits (as
    /// `wire::dtls::first_cid` reads it) whose CID names a node that is not down. `None` for
    /// every other frame, which takes the general path and its drop reasons, so the lane decides
    /// nothing the general path would decide otherwise (the differential tests of
    /// `perf/tests/fast_path.rs` and the `pipeline` fuzz target hold it to that). It skips the
    /// `Parsed`, the lead and verdict plumbing and, for a NAT, `send_to_node`'s generality: the
    /// records of established DTLS connections, the bulk of the traffic, take it.
    #[inline(always)]
    fn cid_lane(&self, in_port: u16, frame: &[u8]) -> Option<(u16, u16)> {
        const ETH: usize = wire::ethernet::field::HEADER_LEN;
        const UDP_AT: usize = ETH + 20;
        let snapshot = &*self.snapshot;
        if snapshot.cid_lane.is_empty() {
            return None;
        }
        let head: &[u8; UDP_AT + 8] = frame.get(..UDP_AT + 8)?.try_into().ok()?;
        let ip = &head[ETH..UDP_AT];
        let udp = &head[UDP_AT..];
        if head[12..14] != wire::ethernet::ethertype::IPV4.to_be_bytes() || ip[9] != wire::protocol::UDP {
            return None;
        }
        // A record other than `tls12_cid` first (a handshake) is the general path's: said
        // before anything else is read.
        if frame.get(UDP_AT + 8) != Some(&wire::dtls::content_type::TLS12_CID) {
            return None;
        }
        let port = u16::from_be_bytes([udp[2], udp[3]]);
        let entry = snapshot.cid_lane.iter().find(|e| e.vip == ip[16..20] && e.port == port)?;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let length = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        // Version 4, IHL 5; MF clear and offset zero; a whole datagram; to this port's MAC.
        if ip[0] != 0x45 || total < 28 || ETH + total > frame.len() || ip[6] & 0x3f != 0 || ip[7] != 0 || length < 8 || length > total - 20 {
            return None;
        }
        if snapshot.ports.get(usize::from(in_port)).is_none_or(|p| head[..6] != p.mac) {
            return None;
        }
        let service = snapshot.services.get(usize::from(entry.service))?;
        // The datagram as the IP header delivers it (`classify`'s `udp_payload`), opening with
        // a DTLS 1.2 `tls12_cid` record that fits (`first_cid`'s fast path). Anything else (a
        // handshake, a truncated record) is for the general path to walk.
        let payload = frame.get(UDP_AT + 8..ETH + total)?;
        let cid = wire::dtls::leading_cid(payload, usize::from(service.cid_length))?;
        let node_index = service.node_for_cid(cid)?;
        // A draining node keeps its CID traffic, as in `classify`; a node that is down is the
        // general path's (`unknown_cid`).
        if snapshot.nodes.get(usize::from(node_index))?.state == crate::snapshot::NodeState::Down {
            return None;
        }
        Some((entry.service, node_index))
    }

    /// The session lane: the (service, table hash of the 5-tuple, and for a client's first
    /// ClientHello its `Hello` route's node) of a frame the general path would take down the
    /// 5-tuple session path (`Step::Session`) or the `Hello` route, checked from the bytes at
    /// fixed offsets: untagged IPv4 without options, not a fragment, a whole UDP datagram or a
    /// TCP segment whose header fits the datagram (the checks of `wire::parse`'s fixed-offset
    /// parse), to this port's MAC, to a VIP, port and protocol of `Snapshot::tuple_lane` (a
    /// service that balances by the 5-tuple, the one `find_service` gives; no VIP is also an
    /// own address). `None` for every other frame, which takes the general path. Like the CID
    /// lane it skips the `Parsed` and the lead and verdict plumbing; the table work is the
    /// general path's own (`Classifier::by_session`), in [`finish_tuple`](Self::finish_tuple).
    #[inline(always)]
    fn tuple_lane(&self, in_port: u16, frame: &[u8]) -> Option<(u16, u64, Option<u16>)> {
        const ETH: usize = wire::ethernet::field::HEADER_LEN;
        const L4_AT: usize = ETH + 20;
        let snapshot = &*self.snapshot;
        if snapshot.tuple_lane.is_empty() {
            return None;
        }
        let head: &[u8; L4_AT + 8] = frame.get(..L4_AT + 8)?.try_into().ok()?;
        let ip = &head[ETH..L4_AT];
        let l4 = &head[L4_AT..];
        if head[12..14] != wire::ethernet::ethertype::IPV4.to_be_bytes() {
            return None;
        }
        let protocol = ip[9];
        let port = u16::from_be_bytes([l4[2], l4[3]]);
        let entry = snapshot.tuple_lane.iter().find(|e| e.protocol == protocol && e.port == port && e.vip == ip[16..20])?;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        // Version 4, IHL 5; MF clear and offset zero; the IP header's bytes all there.
        if ip[0] != 0x45 || total < 20 || ETH + total > frame.len() || ip[6] & 0x3f != 0 || ip[7] != 0 {
            return None;
        }
        if !lane_upper_fits(frame, l4, L4_AT, protocol, total - 20)? {
            return None;
        }
        if snapshot.ports.get(usize::from(in_port)).is_none_or(|p| head[..6] != p.mac) {
            return None;
        }
        let hash = self.classifier.sessions.hash(&lane_tuple_key(head));
        // A `dtls-cid` service's datagram with no CID record (`Classifier::lead`'s own walk, on
        // the datagram as the IP header delivers it): a client's first ClientHello goes by
        // Maglev over its 5-tuple with no session (the `Hello` route, decided here), anything
        // else to the session path; a CID record, a record cut short, a first ClientHello with
        // no healthy node are the general path's to decide.
        if entry.dtls {
            let payload = frame.get(L4_AT + 8..ETH + total)?;
            let service = snapshot.services.get(usize::from(entry.service))?;
            if !matches!(wire::dtls::first_cid(payload, usize::from(service.cid_length)), Ok(None)) {
                return None;
            }
            if wire::dtls::is_first_client_hello(payload) {
                return Some((entry.service, hash, Some(service.pick(hash)?)));
            }
        }
        Some((entry.service, hash, None))
    }

    /// [`finish`](Self::finish) of a client's first ClientHello the session lane decided (the
    /// `Hello` route to `node`, no session): carried out as the general path does, by
    /// [`lane_nat`](Self::lane_nat) or [`tunnel_lane`](Self::tunnel_lane) when one applies,
    /// else by `send_to_node`.
    #[inline(never)]
    fn finish_hello<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F, service_index: u16, node_index: u16) -> Action {
        let Some(service) = self.snapshot.services.get(usize::from(service_index)) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let how = (service.forward, service.target_port);
        self.counters.hello_forwarded.inc();
        if let Some(action) = self.lane_nat::<F, false>(frame, how, service_index, node_index, Some((false, IPV4_L4_AT))) {
            return action;
        }
        self.lane_to_node::<F, false>(now, in_port, frame, service_index, node_index, how.1)
    }

    /// [`finish`](Self::finish) of a frame the session lane took: the general path's table work
    /// for its 5-tuple (`Classifier::by_session`: the lookup, Maglev and the insert on a miss),
    /// then, for a NAT or an IP-in-IP tunnel to an IPv4 node whose next hop is known (nearly
    /// always), the rewrite or the encapsulation at the lane's fixed offsets; anything else (a
    /// next hop to resolve, a node over IPv6, a packet too big for its tunnel) goes to
    /// `send_to_node` with the frame's parse.
    #[inline(never)]
    fn finish_tuple<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F, service_index: u16, hash: u64) -> Action {
        let Some(head) = frame.data().first_chunk::<{ wire::ethernet::field::HEADER_LEN + 28 }>() else {
            return Action::Drop(DropReason::NotForUs);
        };
        let key = lane_tuple_key(head);
        let tcp = head[wire::ethernet::field::HEADER_LEN + 9] == wire::protocol::TCP;
        let snapshot = &*self.snapshot;
        let counters = &*self.counters;
        let Some(service) = snapshot.services.get(usize::from(service_index)) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let verdict = self.classifier.by_tuple(snapshot, now, key, service_index, service, hash, counters);
        let (forward, target_port) = (service.forward, service.target_port);
        self.lane_forward::<F, false>(now, in_port, frame, service_index, (forward, target_port), verdict, Some((tcp, IPV4_L4_AT)))
    }

    /// The IPv6 lane: the (service, table hash, label path or not) of the general path's lead
    /// (`Step::Label` with the table hash of the `<source, destination, label>` key, or
    /// `Step::Session` with the 5-tuple's) of a frame the general path would take down the
    /// flow-label or the 5-tuple session path, checked from the bytes: untagged IPv6 whose
    /// upper layer follows the fixed header or hop-by-hop and destination options headers
    /// ([`lane_ipv6_upper`]), a whole UDP datagram or a TCP segment whose header fits the
    /// packet (the checks of `wire::parse`'s fixed-offset parse and its walk), to this port's MAC, to a VIP, port and protocol of `Snapshot::ipv6_lane` (a
    /// `flow-label` or `five-tuple` service, the one `find_service` gives). The label path when
    /// the service uses labels and the label is not zero, as `Classifier::lead` chooses. `None`
    /// for every other frame (fragments, routing headers, …): the fragments of labelled flows
    /// of a service that trusts labels are [`ipv6_fragment_lane`](Self::ipv6_fragment_lane)'s,
    /// asked after it, the rest takes the general path. The table work is the general path's
    /// own, in [`finish_ipv6`](Self::finish_ipv6).
    #[inline(always)]
    fn ipv6_lane(&self, in_port: u16, frame: &[u8]) -> Option<(u16, u64, bool)> {
        const ETH: usize = wire::ethernet::field::HEADER_LEN;
        let snapshot = &*self.snapshot;
        if snapshot.ipv6_lane.is_empty() {
            return None;
        }
        let (head, end) = lane_ipv6_head(frame)?;
        let ip = &head[ETH..];
        let (protocol, l4_at) = lane_ipv6_upper(frame, ip[6], end)?;
        let l4: &[u8; 8] = frame.get(l4_at..l4_at + 8)?.try_into().ok()?;
        let port = u16::from_be_bytes([l4[2], l4[3]]);
        let entry = snapshot.ipv6_lane.iter().find(|e| e.protocol == protocol && e.port == port && e.vip == ip[24..40])?;
        if !lane_upper_fits(frame, l4, l4_at, protocol, end - l4_at)? {
            return None;
        }
        if snapshot.ports.get(usize::from(in_port)).is_none_or(|p| head[..6] != p.mac) {
            return None;
        }
        let label = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]) & 0x000f_ffff;
        let sessions = &self.classifier.sessions;
        Some(if entry.labels && label != 0 {
            (entry.service, sessions.hash(&lane_label_key(head)), true)
        } else {
            let ports = [l4[0], l4[1], l4[2], l4[3]];
            (entry.service, sessions.hash(&lane_ipv6_tuple_key(head, &ports, protocol)), false)
        })
    }

    /// The IPv6 lane's fragments: the (service, table hash of the `<source, destination,
    /// label>` key) of a fragment the general path would send down the label path
    /// (`Classifier::classify_vip` with `label_policy = "trust"`: every fragment of a labelled
    /// flow carries the label, RFC 6437 §3, so none needs the fragment table), checked from the
    /// bytes: untagged IPv6 with its payload all there (as [`ipv6_lane`](Self::ipv6_lane)
    /// checks it), a Fragment header right after the fixed header and inside the packet, UDP or
    /// TCP after it, a non-zero label, to this port's MAC; and either a first fragment that is
    /// not atomic (RFC 6946: an atomic one is a whole datagram, the general path's) with its
    /// UDP header or whole TCP header here (`wire::parse`'s `first_fragment_ports`), to a VIP,
    /// port and protocol of `Snapshot::ipv6_lane` whose service trusts labels, or a later
    /// fragment to a VIP and protocol of `Snapshot::ipv6_fragment_lane` (`find_label_service`'s
    /// service: a later fragment has no port). `None` for every other frame. Out of line, and
    /// asked only of frames no other lane took whose next header is a Fragment header
    /// ([`prepare_into`](Self::prepare_into)): fragments are rare beside whole packets, and the
    /// lane of whole packets stays as it was.
    #[inline(never)]
    fn ipv6_fragment_lane(&self, in_port: u16, frame: &[u8]) -> Option<(u16, u64)> {
        const ETH: usize = wire::ethernet::field::HEADER_LEN;
        const FRAGMENT_AT: usize = ETH + 40;
        const L4_AT: usize = FRAGMENT_AT + 8;
        let snapshot = &*self.snapshot;
        if snapshot.ipv6_lane.is_empty() && snapshot.ipv6_fragment_lane.is_empty() {
            return None;
        }
        let (head, end) = lane_ipv6_head(frame)?;
        let ip = &head[ETH..];
        if ip[6] != wire::protocol::FRAGMENT {
            return None;
        }
        let label = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]) & 0x000f_ffff;
        if label == 0 || end < L4_AT {
            return None;
        }
        let fragment: &[u8; 8] = frame.get(FRAGMENT_AT..L4_AT)?.try_into().ok()?;
        let protocol = fragment[0];
        if protocol != wire::protocol::UDP && protocol != wire::protocol::TCP {
            return None;
        }
        let offset_flags = u16::from_be_bytes([fragment[2], fragment[3]]);
        let service = if offset_flags >> 3 == 0 {
            // The first fragment: not atomic (more to come), its upper-layer header here.
            if offset_flags & 1 == 0 {
                return None;
            }
            let l4: &[u8; 8] = frame.get(L4_AT..L4_AT + 8)?.try_into().ok()?;
            let room = end - L4_AT;
            let fits = if protocol == wire::protocol::UDP {
                room >= 8
            } else {
                let header = usize::from(*frame.get(L4_AT + 12)? >> 4) * 4;
                header >= 20 && header <= room
            };
            let port = u16::from_be_bytes([l4[2], l4[3]]);
            let entry = snapshot.ipv6_lane.iter().find(|e| e.protocol == protocol && e.port == port && e.vip == ip[24..40])?;
            if !fits || !entry.fragments {
                return None;
            }
            entry.service
        } else {
            snapshot.ipv6_fragment_lane.iter().find(|e| e.protocol == protocol && e.vip == ip[24..40])?.service
        };
        if snapshot.ports.get(usize::from(in_port)).is_none_or(|p| head[..6] != p.mac) {
            return None;
        }
        Some((service, self.classifier.sessions.hash(&lane_label_key(head))))
    }

    /// [`finish`](Self::finish) of a frame the IPv6 lane took: the general path's table work
    /// for its label and 5-tuple (`LABEL`: `Classifier::by_label`: the label's session, the
    /// 5-tuple beside it, relabels, suspect labels, Maglev and the inserts) or its 5-tuple alone
    /// (`Classifier::by_session`), then, for a NAT or an IP-in-IP tunnel to an IPv6 node whose
    /// next hop is known, the rewrite at the upper layer's offset or the encapsulation; anything
    /// else goes to `send_to_node` with the frame's parse.
    #[inline(never)]
    fn finish_ipv6<F: Frame, const LABEL: bool>(&mut self, now: u64, in_port: u16, frame: &mut F, service_index: u16, hash: u64) -> Action {
        const IP: usize = wire::ethernet::field::HEADER_LEN;
        let data = frame.data();
        // The first pass's walk, again over the same bytes.
        let Some(((protocol, l4_at), head)) = data.first_chunk::<{ IP + 40 }>().and_then(|head| {
            let end = IP + 40 + usize::from(u16::from_be_bytes([head[IP + 4], head[IP + 5]]));
            Some((lane_ipv6_upper(data, head[IP + 6], end)?, head))
        }) else {
            return Action::Drop(DropReason::NotForUs);
        };
        // The IPv6 lane's fragments share the lead (no entry of the lane has the Fragment header
        // as its protocol, so it tells them apart).
        if LABEL && protocol == wire::protocol::FRAGMENT {
            return self.finish_ipv6_fragment(now, in_port, frame, service_index, hash);
        }
        let Some(ports) = data.get(l4_at..).and_then(|l4| l4.first_chunk::<4>()) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let tuple_key = lane_ipv6_tuple_key(head, ports, protocol);
        let snapshot = &*self.snapshot;
        let counters = &*self.counters;
        let Some(service) = snapshot.services.get(usize::from(service_index)) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let verdict = if LABEL {
            self.classifier.by_label_keys(snapshot, now, lane_label_key(head), Some(&tuple_key), service_index, service, hash, counters)
        } else {
            self.classifier.by_tuple(snapshot, now, tuple_key, service_index, service, hash, counters)
        };
        let (forward, target_port) = (service.forward, service.target_port);
        self.lane_forward::<F, true>(now, in_port, frame, service_index, (forward, target_port), verdict, Some((protocol == wire::protocol::TCP, l4_at)))
    }

    /// [`finish_ipv6`](Self::finish_ipv6) of a fragment the IPv6 lane took
    /// ([`ipv6_fragment_lane`](Self::ipv6_fragment_lane)): the general path's label path
    /// (`Classifier::by_label`) with the 5-tuple beside the label for a first fragment and the
    /// label alone for a later one (no ports: nor a target port), then the lane's NAT of the
    /// IPv6 header and, in a first fragment, of the upper layer's header.
    #[inline(never)]
    fn finish_ipv6_fragment<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F, service_index: u16, hash: u64) -> Action {
        const IP: usize = wire::ethernet::field::HEADER_LEN;
        const L4_AT: usize = IP + 48;
        let data = frame.data();
        let (Some(head), Some(fragment)) = (data.first_chunk::<{ IP + 40 }>(), data.get(IP + 40..L4_AT)) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let protocol = fragment[0];
        let first = u16::from_be_bytes([fragment[2], fragment[3]]) >> 3 == 0;
        let tuple_key = match (first, data.get(L4_AT..).and_then(|l4| l4.first_chunk::<4>())) {
            (true, Some(ports)) => Some(lane_ipv6_tuple_key(head, ports, protocol)),
            (true, None) => return Action::Drop(DropReason::NotForUs),
            (false, _) => None,
        };
        let snapshot = &*self.snapshot;
        let counters = &*self.counters;
        let Some(service) = snapshot.services.get(usize::from(service_index)) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let verdict = self.classifier.by_label_keys(snapshot, now, lane_label_key(head), tuple_key.as_ref(), service_index, service, hash, counters);
        let how = (service.forward, if first { service.target_port } else { None });
        self.lane_forward::<F, true>(now, in_port, frame, service_index, how, verdict, first.then_some((protocol == wire::protocol::TCP, L4_AT)))
    }

    /// The end of [`finish_tuple`](Self::finish_tuple) and [`finish_ipv6`](Self::finish_ipv6):
    /// the table work's `verdict` (`Forward` by a session route, or a drop) carried out as the
    /// general path does, counted as a session forward, by [`lane_nat`](Self::lane_nat) or
    /// [`tunnel_lane`](Self::tunnel_lane) when one applies (a node of the lane's family, IPv6
    /// when `V6`), else by `send_to_node`. `how` is
    /// the service's `(forward, target_port)` (no target port for a later fragment), `upper` as
    /// `lane_nat` takes it.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn lane_forward<F: Frame, const V6: bool>(&mut self, now: u64, in_port: u16, frame: &mut F, service_index: u16, how: (Forward, Option<u16>), verdict: Verdict, upper: Option<(bool, usize)>) -> Action {
        let node_index = match verdict {
            Verdict::Forward { node, .. } => node,
            Verdict::Drop(reason) => return Action::Drop(reason),
            _ => return Action::Drop(DropReason::NotForUs),
        };
        self.counters.session_forwarded.inc();
        if let Some(action) = self.lane_nat::<F, V6>(frame, how, service_index, node_index, upper) {
            return action;
        }
        self.lane_to_node::<F, V6>(now, in_port, frame, service_index, node_index, how.1)
    }

    /// The lanes' NAT (CID, session, IPv6, first ClientHello): for a NAT service's node of the
    /// lane's family (IPv6 when `V6`) whose next hop is known (nearly always), the rewrite of
    /// the IP header and of the upper layer `upper` (a TCP segment or not, and where it starts;
    /// `None` for an IPv6 later fragment, which carries none), the counters and the action, as
    /// `send_to_node` does them. `None` (nothing done) for the rest.
    #[inline(always)]
    fn lane_nat<F: Frame, const V6: bool>(&self, frame: &mut F, (forward, target_port): (Forward, Option<u16>), service_index: u16, node_index: u16, upper: Option<(bool, usize)>) -> Option<Action> {
        let snapshot = &*self.snapshot;
        let node = snapshot.nodes.get(usize::from(node_index))?;
        let (Forward::Nat, Some(out), Some(next_hop_mac)) = (forward, snapshot.ports.get(usize::from(node.port)), node.next_hop_mac) else {
            return None;
        };
        if node.address.v6 != V6 {
            return None;
        }
        let data = frame.data_mut();
        // The TTL (IPv4) or hop limit (IPv6).
        let ttl_at = wire::ethernet::field::HEADER_LEN + if V6 { 7 } else { 8 };
        let ttl = data.get(ttl_at).copied().unwrap_or(0);
        let rewritten = match upper {
            Some((false, _)) if !V6 => rewrite::dnat_ipv4_udp(data, ttl, &node.address.bytes, target_port),
            Some((tcp, l4_at)) => rewrite::dnat_untagged::<V6>(data, tcp, ttl, l4_at, &node.address.bytes, target_port),
            None if V6 => rewrite::dnat_ipv6_no_upper(data, &node.address.bytes),
            None => return None,
        };
        if let Err(reason) = rewritten {
            return Some(Action::Drop(reason));
        }
        let counters = &*self.counters;
        counters.node_packets[usize::from(node_index)].inc();
        counters.service_packets[usize::from(service_index)].inc();
        rewrite::set_macs(data, out.mac, next_hop_mac);
        Some(Action::Transmit { port: node.port })
    }

    /// The rest of the session, IPv6 and first-ClientHello lanes' finish when
    /// [`lane_nat`](Self::lane_nat) does not apply: [`tunnel_lane`](Self::tunnel_lane) for an
    /// IP-in-IP service when it applies, else `send_to_node` with the frame's parse. `V6` as
    /// `lane_nat` takes it. The tunnel is tried here, not in the lanes' finish, so that their
    /// NAT path's code stays as it was (a call with more arguments there cost `flow-label` ~15
    /// instructions a packet, callgrind).
    #[cold]
    #[inline(never)]
    fn lane_to_node<F: Frame, const V6: bool>(&mut self, now: u64, in_port: u16, frame: &mut F, service_index: u16, node_index: u16, target_port: Option<u16>) -> Action {
        if self.snapshot.services.get(usize::from(service_index)).is_some_and(|s| s.forward == Forward::Ipip) {
            if let Some(action) = self.tunnel_lane::<F, V6>(frame, service_index, node_index) {
                return action;
            }
        }
        // The lane took only frames of the fixed-offset parse's shape: this parse succeeds.
        let Ok(parsed) = wire::parse(frame.data()) else {
            return Action::Drop(DropReason::NotForUs);
        };
        self.send_to_node(now, in_port, &parsed, frame, service_index, node_index, target_port)
    }

    /// The lane's NAT, done in the burst's first pass: for a frame the CID lane took (see
    /// [`prepare_into`](Self::prepare_into)) whose service NATs to an IPv4 node with a known
    /// next hop (nearly always), the whole of [`finish`](Self::finish): the rewrite at the
    /// lane's fixed offsets, the counters, the action. `None` for every other frame, left to
    /// `finish`. It reads and writes nothing a later frame's decision depends on (no table, no
    /// identification, no rate limit), so the burst loop may do it before the frames ahead of
    /// it are finished; doing it there keeps the CID-or-not branch of mixed traffic in one
    /// place, where the predictor sees it once a frame instead of twice.
    #[inline(always)]
    pub fn finish_lane<F: Frame>(&mut self, frame: &mut F, slot: &Prepared) -> Option<Action> {
        let Lead::Cid { service: service_index, node: node_index } = slot.lead else {
            return None;
        };
        let service = self.snapshot.services.get(usize::from(service_index))?;
        let action = self.lane_nat::<F, false>(frame, (service.forward, service.target_port), service_index, node_index, Some((false, IPV4_L4_AT)))?;
        self.counters.cid_forwarded.inc();
        Some(action)
    }

    /// [`finish`](Self::finish) of a frame the CID lane took: `Verdict::Forward` by its CID, as
    /// the general path carries it out: the lane's NAT ([`finish_lane`](Self::finish_lane)) or
    /// encapsulation ([`tunnel_lane`](Self::tunnel_lane)) when it applies, else (a next hop to
    /// resolve, a node of the other family, a packet too big for its tunnel) `send_to_node`
    /// with the frame's parse.
    #[inline(never)]
    fn finish_cid<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F, prepared: &Prepared, service_index: u16, node_index: u16) -> Action {
        let Some(service) = self.snapshot.services.get(usize::from(service_index)) else {
            return Action::Drop(DropReason::NotForUs);
        };
        let (forward, target_port) = (service.forward, service.target_port);
        if forward == Forward::Nat {
            if let Some(action) = self.finish_lane(frame, prepared) {
                return action;
            }
        }
        self.counters.cid_forwarded.inc();
        if forward == Forward::Ipip {
            if let Some(action) = self.tunnel_lane::<F, false>(frame, service_index, node_index) {
                return action;
            }
        }
        // The lane took only frames of the fixed-offset parse's shape: this parse succeeds.
        let Ok(parsed) = wire::parse(frame.data()) else {
            return Action::Drop(DropReason::NotForUs);
        };
        self.send_to_node(now, in_port, &parsed, frame, service_index, node_index, target_port)
    }

    /// `send_to_node`'s IP-in-IP arm for a frame a lane took (untagged IPv4 without options, see
    /// [`cid_lane`](Self::cid_lane) and [`tuple_lane`](Self::tuple_lane); or, when `V6`,
    /// untagged IPv6, see [`ipv6_lane`](Self::ipv6_lane) and
    /// [`ipv6_fragment_lane`](Self::ipv6_fragment_lane)) to a node of the same family whose
    /// next hop is known, when it fits the port's MTU in its tunnel (nearly always): the
    /// encapsulation at the lane's fixed offsets, with no parse (an IPv6 frame with a zero flow
    /// label takes its outer label from its 5-tuple, after the lane's walk of its option
    /// headers). `None` (nothing done) for the rest: a node of the other family, a next hop to
    /// resolve, a packet to fragment or answer with "too big".
    #[inline(always)]
    fn tunnel_lane<F: Frame, const V6: bool>(&mut self, frame: &mut F, service_index: u16, node_index: u16) -> Option<Action> {
        const ETH: usize = wire::ethernet::field::HEADER_LEN;
        let snapshot = &*self.snapshot;
        let node = snapshot.nodes.get(usize::from(node_index))?;
        let out = snapshot.ports.get(usize::from(node.port))?;
        let (true, Some(next_hop_mac)) = (node.address.v6 == V6, node.next_hop_mac) else {
            return None;
        };
        let data = frame.data();
        let encapsulated = if V6 {
            let (source, _) = out.ipv6?;
            let head: &[u8; 40] = data.get(ETH..ETH + tunnel::IPV6_HEADER)?.try_into().ok()?;
            let inner = tunnel::IPV6_HEADER + usize::from(u16::from_be_bytes([head[4], head[5]]));
            if inner + tunnel::IPV6_HEADER > usize::from(out.mtu) {
                return None;
            }
            let label = match u32::from_be_bytes([head[0], head[1], head[2], head[3]]) & 0xf_ffff {
                0 => {
                    let (protocol, l4_at) = lane_ipv6_upper(data, head[6], ETH + inner)?;
                    if protocol != wire::protocol::TCP && protocol != wire::protocol::UDP {
                        return None;
                    }
                    let ports = data.get(l4_at..l4_at + 4)?;
                    let (source, destination) = (head[8..24].try_into().ok()?, head[24..40].try_into().ok()?);
                    tunnel::derived_flow_label(source, destination, u16::from_be_bytes([ports[0], ports[1]]), u16::from_be_bytes([ports[2], ports[3]]), protocol)
                }
                label => label,
            };
            // The general path takes an identification for every packet it tunnels.
            self.next_identification = self.next_identification.wrapping_add(1);
            tunnel::encapsulate_ipv6_in_ipv6(frame, &source.octets(), &node.address.bytes, snapshot.tunnel_ttl, label, (out.mac, next_hop_mac))
        } else {
            let (source, _) = out.ipv4?;
            let inner = usize::from(u16::from_be_bytes([*data.get(ETH + 2)?, *data.get(ETH + 3)?]));
            if inner + tunnel::IPV4_HEADER > usize::from(out.mtu) {
                return None;
            }
            let identification = self.next_identification;
            self.next_identification = self.next_identification.wrapping_add(1);
            let destination = [node.address.bytes[0], node.address.bytes[1], node.address.bytes[2], node.address.bytes[3]];
            tunnel::encapsulate_ipv4_in_ipv4(frame, source.octets(), destination, snapshot.tunnel_ttl, identification as u16, (out.mac, next_hop_mac))
        };
        if let Err(reason) = encapsulated {
            return Some(Action::Drop(reason));
        }
        let counters = &*self.counters;
        counters.node_packets[usize::from(node_index)].inc();
        counters.service_packets[usize::from(service_index)].inc();
        counters.tunnel_encapsulated.inc();
        Some(Action::Transmit { port: node.port })
    }

    /// Between the first two passes of a burst: the second prefetch of `slot`'s session lookup (see
    /// [`Classifier::prefetch_target`]).
    #[inline]
    pub fn prefetch_target(&self, slot: &Prepared, now: u64) {
        self.classifier.prefetch_target(&self.snapshot, &slot.lead, now);
    }

    #[inline(always)]
    fn prepare_with<const COMMON: bool>(&self, in_port: u16, frame: &[u8], slot: &mut Prepared) {
        slot.lead = Lead::General;
        slot.parsed = if COMMON { wire::parse(frame) } else { wire::parse_general(frame) };
        let Ok(parsed) = &slot.parsed else {
            return;
        };
        let snapshot = &*self.snapshot;
        let Some(port) = snapshot.ports.get(in_port as usize) else {
            slot.parsed = Err(DropReason::NotForUs);
            return;
        };
        // Only frames for our MAC, or broadcast/multicast (ARP, ND), are ours to handle.
        let destination_mac = wire::destination_mac(frame);
        if destination_mac != port.mac && destination_mac[0] & 1 == 0 {
            slot.parsed = Err(DropReason::NotOurMac);
            return;
        }
        if COMMON {
            slot.lead = self.classifier.lead(snapshot, parsed, frame);
        }
    }

    /// The second half of [`process`](Self::process): the table work of the frame's lead (or
    /// the full classification), then the rewrite. `prepared` must come from
    /// [`prepare`](Self::prepare) of this very frame under the current snapshot, with no
    /// [`refresh_snapshot`](Self::refresh_snapshot) in between.
    #[inline]
    pub fn finish<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F, prepared: &Prepared) -> Action {
        if let Lead::Cid { service, node } = prepared.lead {
            return self.finish_cid(now, in_port, frame, prepared, service, node);
        }
        let parsed = match &prepared.parsed {
            Ok(parsed) => parsed,
            // The session lane's frames have no parse either (see `Prepared`; checked here, off
            // the general path's way).
            Err(_) if let Lead::Known(Step::Session { service, hash }) = prepared.lead => {
                // The session lane's IPv4 frames and the IPv6 lane's 5-tuple frames share the
                // lead: the ethertype's first byte tells 0x0800 from 0x86dd.
                return if frame.data().get(12) == Some(&wire::ethernet::ethertype::IPV6.to_be_bytes()[0]) {
                    self.finish_ipv6::<F, false>(now, in_port, frame, service, hash)
                } else {
                    self.finish_tuple(now, in_port, frame, service, hash)
                };
            }
            Err(_) if let Lead::Known(Step::Label { service, hash }) = prepared.lead => return self.finish_ipv6::<F, true>(now, in_port, frame, service, hash),
            Err(_) if let Lead::Known(Step::Decided(Verdict::Forward { service, node, route: Route::Hello })) = prepared.lead => {
                return self.finish_hello(now, in_port, frame, service, node)
            }
            Err(reason) => return Action::Drop(*reason),
        };
        let snapshot = &*self.snapshot;
        let counters = &*self.counters;
        let verdict = match self.classifier.follow(snapshot, now, parsed, prepared.lead, counters) {
            Some(verdict) => verdict,
            None => self.classifier.classify(snapshot, now, in_port, parsed, frame.data(), counters),
        };
        match verdict {
            Verdict::Forward { service: service_index, node: node_index, route } => {
                let service = &snapshot.services[service_index as usize];
                match route {
                    Route::Cid => counters.cid_forwarded.inc(),
                    Route::Hello => counters.hello_forwarded.inc(),
                    Route::Fragment => counters.fragments_forwarded.inc(),
                    Route::SessionHit | Route::SessionNew | Route::Relabel => counters.session_forwarded.inc(),
                }
                let target_port = if parsed.l4_present { service.target_port } else { None };
                self.send_to_node(now, in_port, parsed, frame, service_index, node_index, target_port)
            }
            Verdict::IcmpError { service, node: Some(node), vip_is_source } => {
                self.icmp_error_to_node(now, in_port, frame, service, node, vip_is_source)
            }
            Verdict::IcmpError { service, node: None, vip_is_source } => {
                if self.icmp_budget.allow(now) {
                    Action::Broadcast { service, vip_is_source }
                } else {
                    Action::Drop(DropReason::IcmpRateLimited)
                }
            }
            Verdict::ReverseNat { service: service_index } => {
                let service = &snapshot.services[service_index as usize];
                self.classifier.note_reply_fragment(parsed, service_index, now);
                let source_port = if parsed.l4_present && service.port != 0 { Some(service.port) } else { None };
                let (out_port, next_hop, next_hop_mac) = snapshot.route_to(parsed.dst_ip());
                if let Err(reason) = rewrite::snat(frame.data_mut(), parsed, &service.vip.bytes, service.vip.v6, source_port) {
                    return Action::Drop(reason);
                }
                let Some(out) = snapshot.ports.get(out_port as usize) else {
                    return Action::Drop(DropReason::NotForUs);
                };
                counters.reverse_nat.inc();
                counters.service_replies[service_index as usize].inc();
                let Some(next_hop_mac) = next_hop_mac else {
                    return Action::Hold { port: out_port, next_hop };
                };
                rewrite::set_macs(frame.data_mut(), out.mac, next_hop_mac);
                Action::Transmit { port: out_port }
            }
            Verdict::Local(local) => self.answer(local, in_port, parsed, frame),
            Verdict::Drop(reason) => Action::Drop(reason),
        }
    }

    /// Send a classified frame to node `node_index` of service `service_index` the way the
    /// service forwards: NAT (destination rewritten, `target_port` when given) or IP-in-IP.
    #[allow(clippy::too_many_arguments)]
    fn send_to_node<F: Frame>(
        &mut self,
        now: u64,
        in_port: u16,
        parsed: &Parsed,
        frame: &mut F,
        service_index: u16,
        node_index: u16,
        target_port: Option<u16>,
    ) -> Action {
        let snapshot = &*self.snapshot;
        let counters = &*self.counters;
        let service = &snapshot.services[service_index as usize];
        let node = &snapshot.nodes[node_index as usize];
        match service.forward {
            Forward::Nat => {
                if let Err(reason) = rewrite::dnat(frame.data_mut(), parsed, &node.address.bytes, node.address.v6, target_port) {
                    return Action::Drop(reason);
                }
                let Some(out) = snapshot.ports.get(node.port as usize) else {
                    return Action::Drop(DropReason::NotForUs);
                };
                counters.node_packets[node_index as usize].inc();
                counters.service_packets[service_index as usize].inc();
                let Some(next_hop_mac) = node.next_hop_mac else {
                    return Action::Hold { port: node.port, next_hop: node.next_hop };
                };
                rewrite::set_macs(frame.data_mut(), out.mac, next_hop_mac);
                Action::Transmit { port: node.port }
            }
            Forward::Ipip => {
                let outer_v6 = node.address.v6;
                let Some(out) = snapshot.ports.get(node.port as usize) else {
                    return Action::Drop(DropReason::NotForUs);
                };
                // Snapshot::build made sure the port has an address of this family.
                let source = match (outer_v6, out.ipv4, out.ipv6) {
                    (false, Some((a, _)), _) => std::net::IpAddr::V4(a),
                    (true, _, Some((a, _))) => std::net::IpAddr::V6(a),
                    _ => return Action::Drop(DropReason::AddressFamilyMismatch),
                };
                let fit = tunnel::fit(parsed, frame.data(), outer_v6, out.mtu);
                if let Fit::TooBig { mtu } = fit {
                    return self.too_big(now, in_port, parsed, frame, mtu);
                }
                // Held frames are released whole, so one that must be split cannot wait.
                if fit == Fit::Fragment && node.next_hop_mac.is_none() {
                    return Action::Drop(DropReason::NeighborUnresolved);
                }
                let identification = self.next_identification;
                self.next_identification = self.next_identification.wrapping_add(1);
                let outer = Outer { source, destination: node.address.to_ip(), ttl: snapshot.tunnel_ttl, identification: identification as u16 };
                if let Err(reason) = tunnel::encapsulate(frame, parsed, &outer) {
                    return Action::Drop(reason);
                }
                counters.node_packets[node_index as usize].inc();
                counters.service_packets[service_index as usize].inc();
                counters.tunnel_encapsulated.inc();
                let Some(next_hop_mac) = node.next_hop_mac else {
                    return Action::Hold { port: node.port, next_hop: node.next_hop };
                };
                rewrite::set_macs(frame.data_mut(), out.mac, next_hop_mac);
                if fit == Fit::Fragment {
                    return Action::Fragments { port: node.port, mtu: out.mtu, l3: parsed.l3_offset, identification };
                }
                Action::Transmit { port: node.port }
            }
        }
    }

    fn answer<F: Frame>(&mut self, local: Local, in_port: u16, parsed: &Parsed, frame: &mut F) -> Action {
        let mac = self.snapshot.ports[in_port as usize].mac;
        let counters = &*self.counters;
        let answer = match local {
            Local::ToControl => return self.to_control(in_port, frame.data()),
            Local::AnswerAndLearn(answer) => {
                // Learning is best effort: the answer goes out even if the ring is full.
                let _ = self.to_control(in_port, frame.data());
                answer
            }
            Local::EchoReply => {
                let ok = match parsed.l3 {
                    wire::L3::Ipv4 => rewrite::icmp_echo_reply_v4(frame.data_mut(), parsed),
                    _ => rewrite::icmpv6_echo_reply(frame.data_mut(), parsed),
                };
                if !ok {
                    return Action::Drop(DropReason::IcmpIgnored);
                }
                counters.echo_replies.inc();
                return Action::Transmit { port: in_port };
            }
        };
        match answer {
            Answer::ArpReply if rewrite::arp_reply(frame.data_mut(), mac) => {
                counters.arp_replies.inc();
                Action::Transmit { port: in_port }
            }
            Answer::NeighborAdvertisement => match rewrite::nd_advertisement(frame.data_mut(), parsed, mac) {
                // The advertisement is written within the solicitation's bytes; drop the rest.
                Some(len) if frame.trim(frame.len().saturating_sub(len)) => {
                    counters.nd_replies.inc();
                    Action::Transmit { port: in_port }
                }
                _ => Action::Drop(DropReason::NdIgnored),
            },
            Answer::ArpReply => Action::Drop(DropReason::ArpIgnored),
        }
    }

    /// Hand an ICMP error about a flow of `service` to `node`. In NAT mode the quoted header
    /// is translated back to the node's address and port first (see `icmp_error`).
    pub fn icmp_error_to_node<F: Frame>(&mut self, now: u64, in_port: u16, frame: &mut F, service: u16, node: u16, vip_is_source: bool) -> Action {
        let Ok(parsed) = wire::parse(frame.data()) else {
            return Action::Drop(DropReason::IcmpIgnored);
        };
        let snapshot = &*self.snapshot;
        let (Some(info), Some(node_info)) = (snapshot.services.get(service as usize), snapshot.nodes.get(node as usize)) else {
            return Action::Drop(DropReason::IcmpIgnored);
        };
        if info.forward == Forward::Nat {
            let Some(quoted) = wire::embedded(&parsed, frame.data()) else {
                return Action::Drop(DropReason::IcmpIgnored);
            };
            let port = if info.port != 0 { info.target_port } else { None };
            if !crate::icmp_error::translate_embedded(frame.data_mut(), &parsed, &quoted, vip_is_source, node_info.address.to_ip(), port) {
                return Action::Drop(DropReason::IcmpIgnored);
            }
        }
        self.counters.icmp_errors_delivered.inc();
        self.send_to_node(now, in_port, &parsed, frame, service, node, None)
    }

    /// Tell the client the path MTU through the tunnel (rate-limited).
    fn too_big<F: Frame>(&mut self, now: u64, in_port: u16, parsed: &Parsed, frame: &mut F, mtu: u16) -> Action {
        let Some(port) = self.snapshot.ports.get(in_port as usize) else {
            return Action::Drop(DropReason::MtuExceeded);
        };
        let our_address = match parsed.l3 {
            wire::L3::Ipv6 => port.ipv6.map(|(a, _)| std::net::IpAddr::V6(a)),
            _ => port.ipv4.map(|(a, _)| std::net::IpAddr::V4(a)),
        };
        let Some(our_address) = our_address else {
            return Action::Drop(DropReason::MtuExceeded);
        };
        if !self.icmp_budget.allow(now) {
            return Action::Drop(DropReason::MtuExceeded);
        }
        match tunnel::too_big_reply(frame, parsed, port.mac, our_address, mtu) {
            Ok(()) => {
                self.counters.icmp_too_big_sent.inc();
                Action::Transmit { port: in_port }
            }
            Err(reason) => Action::Drop(reason),
        }
    }

    fn to_control(&self, port: u16, bytes: &[u8]) -> Action {
        match self.rings.to_control.push(ControlPacket::new(port, bytes)) {
            Ok(()) => Action::Consumed,
            Err(_) => Action::Drop(DropReason::ControlRingFull),
        }
    }

    /// Bounded per-burst housekeeping: incremental session expiry.
    pub fn housekeeping(&mut self, now: u64) {
        self.classifier.expire(now, self.params.expiry_budget, &self.counters);
    }
}

/// The run-to-completion burst loop of one worker over its queues.
pub struct Pump<Io: PacketIo> {
    pub io: Io,
    pub worker: Worker,
    rx: Burst<Io::Buf>,
    tx: TxBuffers<Io::Buf>,
    /// The worker's counters, held here too so the loop can count while the worker is
    /// borrowed (cloned once at start: no refcount traffic per burst).
    counters: Arc<WorkerCounters>,
    last_drain: u64,
    pending: Pending<Io::Buf>,
    /// The first pass's result for each frame of the burst in hand (allocated once).
    prepared: Box<[Prepared; crate::MAX_BURST]>,
    /// What becomes of each frame of the burst in hand, decided in the first pass (the CID
    /// lane's NAT) or the second (allocated once).
    actions: Box<[Action; crate::MAX_BURST]>,
}

/// Frames waiting for a next hop's MAC: bounded, allocated once, released when a snapshot
/// with the MAC arrives, dropped (counted) when full or after `timeout_ns`.
struct Pending<B> {
    frames: std::collections::VecDeque<(B, u16, std::net::IpAddr, u64)>,
    capacity: usize,
    timeout_ns: u64,
    /// Snapshot generation the queue was last checked against.
    checked: u64,
}

impl<B: Frame> Pending<B> {
    fn hold(&mut self, frame: B, port: u16, next_hop: std::net::IpAddr, now: u64, counters: &WorkerCounters) {
        if self.frames.len() >= self.capacity {
            counters.count_drop(DropReason::NeighborUnresolved);
            return;
        }
        counters.pending_held.inc();
        self.frames.push_back((frame, port, next_hop, now));
    }
}

/// Per-port transmit buffers and this worker's per-port counters.
struct TxBuffers<B> {
    buffers: Vec<Burst<B>>,
    port_counters: Vec<Arc<PortCounters>>,
    burst: usize,
}

impl<B: Frame> TxBuffers<B> {
    #[inline]
    fn enqueue<Io: PacketIo<Buf = B>>(&mut self, io: &mut Io, counters: &WorkerCounters, port: u16, frame: B) {
        let Some(buffer) = self.buffers.get_mut(port as usize) else {
            counters.count_drop(DropReason::TxFull);
            return;
        };
        buffer.push(frame);
        if buffer.len() >= self.burst {
            self.send(io, counters, port);
        }
    }

    fn send<Io: PacketIo<Buf = B>>(&mut self, io: &mut Io, counters: &WorkerCounters, port: u16) {
        let buffer = &mut self.buffers[port as usize];
        let queued = buffer.len();
        if queued == 0 {
            return;
        }
        let bytes: u64 = buffer.iter().map(|f| f.len() as u64).sum();
        // tx_burst frees whatever the queue did not take (DPDK l3fwd send_burst).
        let sent = io.tx_burst(port, buffer);
        buffer.clear();
        counters.tx_packets.add(sent as u64);
        counters.tx_bytes.add(bytes);
        let port_counters = &self.port_counters[port as usize];
        port_counters.tx_packets.add(sent as u64);
        let unsent = (queued - sent.min(queued)) as u64;
        if unsent > 0 {
            counters.drops[DropReason::TxFull as usize].add(unsent);
            port_counters.dropped.add(unsent);
        }
    }
}

impl<Io: PacketIo> Pump<Io> {
    /// `port_counters[p]` is this worker's block for port `p`.
    pub fn new(io: Io, worker: Worker, port_counters: Vec<Arc<PortCounters>>) -> Self {
        let ports = io.ports() as usize;
        assert_eq!(port_counters.len(), ports, "one PortCounters block per port");
        let burst = worker.params.burst.clamp(1, crate::MAX_BURST);
        let tx = TxBuffers { buffers: (0..ports).map(|_| Burst::new()).collect(), port_counters, burst };
        let counters = Arc::clone(&worker.counters);
        let pending = Pending {
            frames: std::collections::VecDeque::with_capacity(worker.params.pending),
            capacity: worker.params.pending,
            timeout_ns: worker.params.pending_timeout_ns,
            checked: worker.snapshot.generation,
        };
        let prepared = Box::new([Prepared::dropped(DropReason::NotForUs); crate::MAX_BURST]);
        let actions = Box::new([Action::Drop(DropReason::NotForUs); crate::MAX_BURST]);
        Pump { io, worker, rx: Burst::new(), tx, counters, last_drain: 0, pending, prepared, actions }
    }

    /// One pass: receive a burst on every port, decide, buffer for transmit, drain buffers
    /// that are full or older than the drain interval. Returns packets received.
    pub fn poll(&mut self, now: u64) -> usize {
        let Pump { io, worker, rx, tx, counters, last_drain, pending, prepared, actions } = self;
        let counters: &WorkerCounters = counters;
        worker.refresh_snapshot();
        let mut received = 0;
        // A short burst means the queue ran dry: what is buffered goes out now rather than at
        // the drain timer (latency at low load; at full load every burst is full).
        let mut ran_dry = false;
        for port in 0..tx.buffers.len() as u16 {
            rx.clear();
            let n = io.rx_burst(port, rx, tx.burst);
            ran_dry |= n < tx.burst;
            if n == 0 {
                continue;
            }
            received += n;
            counters.bursts.inc();
            counters.rx_packets.add(n as u64);
            tx.port_counters[port as usize].rx_packets.add(n as u64);
            // Burst-wide processing: first what needs only the snapshot and the bytes, for
            // every frame (and the CID lane's NATs, finished there); then the prefetches of the
            // session buckets the frames will need, back to back; then, in arrival order, the
            // table work and the rewrite of the other frames; last, every frame to TX in
            // arrival order. Before the table work, with the buckets' metadata arrived, the
            // entry lines a lookup or an insert will touch besides (an insert into a full
            // bucket writes its least recently used way).
            let mut bytes = 0u64;
            // The frames that go to the session table, listed without a branch, so that the
            // prefetch pass does not branch on each frame's kind: mixed traffic (CID records
            // among a new-flow flood) would mispredict there.
            // An index fits a byte and the mask keeps every write inside the list.
            const _: () = assert!(crate::MAX_BURST <= 256 && crate::MAX_BURST.is_power_of_two());
            let mut tabled = [0u8; crate::MAX_BURST];
            let mut tabled_count = 0usize;
            // The frames the second pass finishes (all but the CID lane's NATs, finished here),
            // listed without a branch as well.
            let mut later = [0u8; crate::MAX_BURST];
            let mut later_count = 0usize;
            for (index, ((slot, frame), action)) in prepared.iter_mut().zip(rx.iter_mut()).zip(actions.iter_mut()).enumerate() {
                bytes += frame.len() as u64;
                worker.prepare_into(port, frame.data(), slot);
                let early = worker.finish_lane(frame, slot);
                later[later_count & (crate::MAX_BURST - 1)] = index as u8;
                later_count += usize::from(early.is_none());
                *action = early.unwrap_or(Action::Drop(DropReason::NotForUs));
                tabled[tabled_count & (crate::MAX_BURST - 1)] = index as u8;
                tabled_count += usize::from(slot.goes_to_table());
            }
            // In a loop of their own: a table far beyond the caches is far beyond the TLB too,
            // and a prefetch waits for its page walk before it retires; between two frames'
            // work it held the first pass up (session-1m ~85 cycles a packet at the metadata
            // prefetch, perf), here the walks overlap one another.
            for &index in tabled.iter().take(tabled_count) {
                if let Some(slot) = prepared.get(usize::from(index)) {
                    worker.classifier.prefetch(&slot.lead);
                }
            }
            for &index in tabled.iter().take(tabled_count) {
                if let Some(slot) = prepared.get(usize::from(index)) {
                    worker.prefetch_target(slot, now);
                }
            }
            // In arrival order among themselves: the table work of one may depend on another's.
            for &index in later.iter().take(later_count) {
                let index = usize::from(index);
                if let (Some(frame), Some(ready), Some(action)) = (rx.get_mut(index), prepared.get(index), actions.get_mut(index)) {
                    *action = worker.finish(now, port, frame, ready);
                }
            }
            for (frame, &action) in rx.drain(..).zip(actions.iter()) {
                match action {
                    // The common outcome inline; the rest out of line.
                    Action::Transmit { port: out } => tx.enqueue(io, counters, out, frame),
                    action => Self::dispatch(io, worker, tx, pending, counters, now, port, frame, action),
                }
            }
            counters.rx_bytes.add(bytes);
        }
        // Packets the control thread asked this worker to send (probes, ARP/ND requests).
        while let Some(packet) = worker.rings.from_control.pop() {
            let Some(mut buf) = io.alloc() else {
                counters.count_drop(DropReason::NoBuffer);
                continue;
            };
            let len = packet.data().len();
            if !buf.append(len) {
                counters.count_drop(DropReason::NoRoom);
                continue;
            }
            buf.data_mut()[..len].copy_from_slice(packet.data());
            tx.enqueue(io, counters, packet.port, buf);
        }
        if !pending.frames.is_empty() {
            Self::release_pending(pending, worker, tx, io, counters, now);
        }
        worker.housekeeping(now);
        if ran_dry || now.saturating_sub(*last_drain) >= worker.params.drain_ns {
            for port in 0..tx.buffers.len() as u16 {
                tx.send(io, counters, port);
            }
            *last_drain = now;
        }
        received
    }

    /// Carry out what the worker decided for one frame received on `port`.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn dispatch(
        io: &mut Io,
        worker: &mut Worker,
        tx: &mut TxBuffers<Io::Buf>,
        pending: &mut Pending<Io::Buf>,
        counters: &WorkerCounters,
        now: u64,
        port: u16,
        mut frame: Io::Buf,
        action: Action,
    ) {
        match action {
            Action::Transmit { port: out } => tx.enqueue(io, counters, out, frame),
            Action::Consumed => counters.to_control.inc(),
            Action::Hold { port: out, next_hop } => pending.hold(frame, out, next_hop, now, counters),
            Action::Fragments { port: out, mtu, l3, identification } => {
                let mut pieces: arrayvec::ArrayVec<Io::Buf, MAX_FRAGMENTS> = arrayvec::ArrayVec::new();
                let made = tunnel::fragment_outer(&mut frame, l3 as usize, mtu, identification, || io.alloc(), |piece| {
                    // Bounded: more pieces than this cannot come from one frame.
                    let _ = pieces.try_push(piece);
                });
                match made {
                    Ok(_) => {
                        counters.tunnel_fragmented.inc();
                        tx.enqueue(io, counters, out, frame);
                        for piece in pieces.drain(..) {
                            tx.enqueue(io, counters, out, piece);
                        }
                    }
                    Err(reason) => {
                        counters.count_drop(reason);
                        tx.port_counters[port as usize].dropped.inc();
                    }
                }
            }
            Action::Broadcast { service, vip_is_source } => {
                // GLB's approach for an error whose flow is unknown: every node of the
                // service that is not down gets a copy (rate-limited by the worker).
                let nodes: arrayvec::ArrayVec<u16, MAX_BROADCAST> = worker.snapshot.services[service as usize]
                    .nodes
                    .iter()
                    .copied()
                    .filter(|&n| worker.snapshot.nodes[n as usize].state != crate::snapshot::NodeState::Down)
                    .take(MAX_BROADCAST)
                    .collect();
                for node in nodes {
                    let Some(mut copy) = io.alloc() else {
                        counters.count_drop(DropReason::NoBuffer);
                        continue;
                    };
                    if !copy.append(frame.len()) {
                        counters.count_drop(DropReason::NoRoom);
                        continue;
                    }
                    copy.data_mut().copy_from_slice(frame.data());
                    let action = worker.icmp_error_to_node(now, port, &mut copy, service, node, vip_is_source);
                    if let Action::Broadcast { .. } = action {
                        counters.count_drop(DropReason::IcmpIgnored); // never returned; no recursion
                        continue;
                    }
                    Self::dispatch(io, worker, tx, pending, counters, now, port, copy, action);
                }
                // The original was copied to every node: it is freed here.
            }
            Action::Drop(reason) => {
                counters.count_drop(reason);
                tx.port_counters[port as usize].dropped.inc();
            }
        }
    }

    /// Send held frames whose next hop is now known; drop those that waited too long.
    fn release_pending(
        pending: &mut Pending<Io::Buf>,
        worker: &Worker,
        tx: &mut TxBuffers<Io::Buf>,
        io: &mut Io,
        counters: &WorkerCounters,
        now: u64,
    ) {
        let snapshot = &worker.snapshot;
        let fresh = pending.checked != snapshot.generation;
        pending.checked = snapshot.generation;
        for _ in 0..pending.frames.len() {
            let Some((mut frame, port, next_hop, since)) = pending.frames.pop_front() else { break };
            let mac = if fresh { snapshot.neighbor_mac(&next_hop) } else { None };
            match (mac, snapshot.ports.get(port as usize)) {
                (Some(mac), Some(out)) => {
                    rewrite::set_macs(frame.data_mut(), out.mac, mac);
                    tx.enqueue(io, counters, port, frame);
                }
                _ if now.saturating_sub(since) >= pending.timeout_ns => counters.count_drop(DropReason::NeighborUnresolved),
                _ => pending.frames.push_back((frame, port, next_hop, since)),
            }
        }
    }

    /// Send everything buffered (drain timer, and before stopping).
    pub fn flush(&mut self) {
        for port in 0..self.tx.buffers.len() as u16 {
            self.tx.send(&mut self.io, &self.counters, port);
        }
    }

    /// Before stopping: frames still waiting for a neighbour are dropped and counted.
    pub fn drop_pending(&mut self) {
        for _ in self.pending.frames.drain(..) {
            self.counters.count_drop(DropReason::NeighborUnresolved);
        }
    }

    /// Frames waiting for a next hop's MAC.
    pub fn pending(&self) -> usize {
        self.pending.frames.len()
    }
}

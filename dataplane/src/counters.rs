//! Per-worker counters: written by the owning worker only, read by the control thread.
//!
//! Each counter is an `AtomicU64` updated with a relaxed load and store (no lock prefix, no
//! read-modify-write): a plain increment on x86 that the control thread may read at any time
//! without a data race. One worker's block is cache-aligned so workers never share a line.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// One monotonically increasing counter with a single writer.
#[derive(Default, Debug)]
pub struct Counter(AtomicU64);

impl Counter {
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }
    #[inline(always)]
    pub fn inc(&self) {
        self.add(1)
    }
    #[inline(always)]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
    /// For gauges (e.g. live sessions) owned by the same single writer.
    #[inline(always)]
    pub fn set(&self, v: u64) {
        self.0.store(v, Relaxed)
    }
}

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal ),+ $(,)?) => {
        /// Why a packet was dropped. Every drop has one; none is silent.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason { $( $(#[$doc])* $variant ),+ }

        impl DropReason {
            pub const ALL: &'static [DropReason] = &[ $(DropReason::$variant),+ ];
            pub const COUNT: usize = Self::ALL.len();
            /// The snake_case name used in stats JSON, metrics and logs.
            pub const fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name),+ }
            }
        }
    };
}

drop_reasons! {
    /// Frame shorter than an Ethernet header (or its 802.1Q tag).
    EthernetTruncated => "ethernet_truncated",
    /// Destination MAC neither ours nor broadcast/multicast we handle.
    NotOurMac => "not_our_mac",
    /// EtherType we do not handle (not IPv4, IPv6, ARP).
    UnsupportedEthertype => "unsupported_ethertype",
    /// ARP that is malformed or not a request/reply for us.
    ArpIgnored => "arp_ignored",
    Ipv4Truncated => "ipv4_truncated",
    /// IHL < 5, total length beyond the frame or below the header, version not 4.
    Ipv4BadHeader => "ipv4_bad_header",
    Ipv6Truncated => "ipv6_truncated",
    /// Payload length beyond the frame, version not 6.
    Ipv6BadHeader => "ipv6_bad_header",
    /// More extension headers than the walk allows.
    Ipv6ExtensionChainTooLong => "ipv6_extension_chain_too_long",
    Ipv6ExtensionTruncated => "ipv6_extension_truncated",
    UdpTruncated => "udp_truncated",
    TcpTruncated => "tcp_truncated",
    IcmpTruncated => "icmp_truncated",
    /// ICMP/ICMPv6 to the balancer or a VIP that needs no answer.
    IcmpIgnored => "icmp_ignored",
    /// An ICMP error about a VIP's flow whose node is unknown, over the per-second budget.
    IcmpRateLimited => "icmp_rate_limited",
    /// Neighbour discovery that is malformed or not for our addresses.
    NdIgnored => "nd_ignored",
    /// IP packet to an address that is neither ours, a VIP, nor a node's reply.
    NotForUs => "not_for_us",
    /// To a VIP but no service matches protocol and port.
    NoService => "no_service",
    /// A `tls12_cid` record too short to hold the service's CID.
    CidTruncated => "cid_truncated",
    /// CID names a node that is unknown or not up, and `unknown_cid = "drop"`.
    UnknownCid => "unknown_cid",
    /// No healthy node with weight to take a new session.
    NoHealthyNode => "no_healthy_node",
    /// TTL / hop limit would reach zero.
    TtlExceeded => "ttl_exceeded",
    /// A NAT rewrite asked for an address of the other IP family (a config or wiring bug).
    AddressFamilyMismatch => "address_family_mismatch",
    /// A non-first fragment with no entry in the fragment table.
    FragmentUnmatched => "fragment_unmatched",
    /// Next hop's MAC unknown and the pending queue is full.
    NeighborUnresolved => "neighbor_unresolved",
    /// Too big for the tunnel and the ICMP error budget of this second is spent (or the
    /// MTU leaves no room for even one fragment).
    MtuExceeded => "mtu_exceeded",
    /// No headroom/tailroom to rewrite the packet.
    NoRoom => "no_room",
    /// The TX queue did not take the packet.
    TxFull => "tx_full",
    /// No mbuf to build a reply or a copy.
    NoBuffer => "no_buffer",
    /// Control ring full: a probe reply or neighbour message was lost.
    ControlRingFull => "control_ring_full",
}

/// Most nodes and services a snapshot may hold (per-node and per-service counters are arrays).
pub const MAX_NODES: usize = 256;
pub const MAX_SERVICES: usize = 64;

/// One worker's counters. Cache-aligned so two workers never share a line.
#[repr(align(128))]
#[derive(Debug)]
pub struct WorkerCounters {
    pub rx_packets: Counter,
    pub rx_bytes: Counter,
    pub tx_packets: Counter,
    pub tx_bytes: Counter,
    /// Forwarded by the CID byte, statelessly.
    pub cid_forwarded: Counter,
    /// Forwarded through the session table (hit or new).
    pub session_forwarded: Counter,
    /// First ClientHellos (no cookie yet) forwarded by Maglev without a session.
    pub hello_forwarded: Counter,
    pub session_hits: Counter,
    pub sessions_created: Counter,
    pub sessions_expired: Counter,
    /// Live sessions evicted to make room (table full).
    pub sessions_evicted: Counter,
    /// Sessions moved because their node went down.
    pub sessions_rescheduled: Counter,
    /// Gauge: live sessions in this worker's table.
    pub sessions_live: Counter,
    /// Flow-label flows whose label changed mid-flow and stayed on their node.
    pub relabels: Counter,
    /// Packets whose flow label another 5-tuple owns (`label_policy = "verify"`): sent by
    /// their 5-tuple instead.
    pub labels_suspect: Counter,
    pub reverse_nat: Counter,
    pub fragments_forwarded: Counter,
    pub arp_replies: Counter,
    pub nd_replies: Counter,
    pub echo_replies: Counter,
    pub to_control: Counter,
    /// Frames held while their next hop was being resolved.
    pub pending_held: Counter,
    /// Packets sent to a node in an IP-in-IP tunnel.
    pub tunnel_encapsulated: Counter,
    /// Tunnel packets sent as outer fragments (inner IPv4 without DF, too big for the MTU).
    pub tunnel_fragmented: Counter,
    /// ICMP "fragmentation needed" / ICMPv6 "packet too big" sent to clients.
    pub icmp_too_big_sent: Counter,
    /// ICMP errors about a VIP's flows handed to a node (copies count once per node).
    pub icmp_errors_delivered: Counter,
    /// Bursts that held at least one packet.
    pub bursts: Counter,
    pub drops: [Counter; DropReason::COUNT],
    /// Packets forwarded to each node, by index into the snapshot's nodes.
    pub node_packets: [Counter; MAX_NODES],
    /// Packets forwarded for each service, by index into the snapshot's services.
    pub service_packets: [Counter; MAX_SERVICES],
    /// Node replies reverse-translated for each service.
    pub service_replies: [Counter; MAX_SERVICES],
    /// Processing time of bursts that held packets, in TSC cycles (recorded by the lcore
    /// loop of `cidlb run`; the control thread merges it into an HDR histogram).
    pub burst_cycles: LatencyBuckets,
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            rx_packets: Counter::default(),
            rx_bytes: Counter::default(),
            tx_packets: Counter::default(),
            tx_bytes: Counter::default(),
            cid_forwarded: Counter::default(),
            session_forwarded: Counter::default(),
            hello_forwarded: Counter::default(),
            session_hits: Counter::default(),
            sessions_created: Counter::default(),
            sessions_expired: Counter::default(),
            sessions_evicted: Counter::default(),
            sessions_rescheduled: Counter::default(),
            sessions_live: Counter::default(),
            relabels: Counter::default(),
            labels_suspect: Counter::default(),
            reverse_nat: Counter::default(),
            fragments_forwarded: Counter::default(),
            arp_replies: Counter::default(),
            nd_replies: Counter::default(),
            echo_replies: Counter::default(),
            to_control: Counter::default(),
            pending_held: Counter::default(),
            tunnel_encapsulated: Counter::default(),
            tunnel_fragmented: Counter::default(),
            icmp_too_big_sent: Counter::default(),
            icmp_errors_delivered: Counter::default(),
            bursts: Counter::default(),
            drops: std::array::from_fn(|_| Counter::default()),
            node_packets: std::array::from_fn(|_| Counter::default()),
            service_packets: std::array::from_fn(|_| Counter::default()),
            service_replies: std::array::from_fn(|_| Counter::default()),
            burst_cycles: LatencyBuckets::default(),
        }
    }
}

impl WorkerCounters {
    #[inline(always)]
    pub fn count_drop(&self, reason: DropReason) {
        self.drops[reason as usize].inc();
    }
    pub fn dropped_total(&self) -> u64 {
        self.drops.iter().map(Counter::get).sum()
    }
    /// (name, value) of every non-drop counter, for stats and metrics.
    pub fn named(&self) -> [(&'static str, u64); 27] {
        [
            ("rx_packets", self.rx_packets.get()),
            ("rx_bytes", self.rx_bytes.get()),
            ("tx_packets", self.tx_packets.get()),
            ("tx_bytes", self.tx_bytes.get()),
            ("cid_forwarded", self.cid_forwarded.get()),
            ("session_forwarded", self.session_forwarded.get()),
            ("hello_forwarded", self.hello_forwarded.get()),
            ("session_hits", self.session_hits.get()),
            ("sessions_created", self.sessions_created.get()),
            ("sessions_expired", self.sessions_expired.get()),
            ("sessions_evicted", self.sessions_evicted.get()),
            ("sessions_rescheduled", self.sessions_rescheduled.get()),
            ("sessions_live", self.sessions_live.get()),
            ("relabels", self.relabels.get()),
            ("labels_suspect", self.labels_suspect.get()),
            ("reverse_nat", self.reverse_nat.get()),
            ("fragments_forwarded", self.fragments_forwarded.get()),
            ("arp_replies", self.arp_replies.get()),
            ("nd_replies", self.nd_replies.get()),
            ("echo_replies", self.echo_replies.get()),
            ("to_control", self.to_control.get()),
            ("pending_held", self.pending_held.get()),
            ("tunnel_encapsulated", self.tunnel_encapsulated.get()),
            ("tunnel_fragmented", self.tunnel_fragmented.get()),
            ("icmp_too_big_sent", self.icmp_too_big_sent.get()),
            ("icmp_errors_delivered", self.icmp_errors_delivered.get()),
            ("bursts", self.bursts.get()),
        ]
    }
}

/// Sub-buckets per power of two: values land in a bucket at most 1/32 (3.1 %) wide, fine
/// enough to read a burst's cost per packet (the bench's per-burst p50 and p99).
const LATENCY_SUB_BITS: u32 = 5;
const LATENCY_SUB: u64 = 1 << LATENCY_SUB_BITS;
/// Buckets for every u64: 32 exact ones below 32, then 32 per power of two up to 2^64.
pub const LATENCY_BUCKETS: usize = (LATENCY_SUB + (64 - LATENCY_SUB_BITS as u64) * LATENCY_SUB) as usize;

/// A fixed log-scale histogram one worker records into: no allocation, no lock, one relaxed
/// single-writer increment per value (like every [`Counter`]). The control thread reads the
/// buckets and merges them into an `hdrhistogram` for quantiles.
#[derive(Debug)]
pub struct LatencyBuckets {
    pub buckets: [Counter; LATENCY_BUCKETS],
}

impl Default for LatencyBuckets {
    fn default() -> Self {
        LatencyBuckets { buckets: std::array::from_fn(|_| Counter::default()) }
    }
}

impl LatencyBuckets {
    #[inline(always)]
    pub fn record(&self, value: u64) {
        self.buckets[Self::index(value)].inc();
    }

    /// The bucket of `value`: exact below 32, then the top 5 bits below the leading one.
    #[inline(always)]
    pub fn index(value: u64) -> usize {
        if value < LATENCY_SUB {
            return value as usize;
        }
        let exponent = 63 - value.leading_zeros() as u64; // >= LATENCY_SUB_BITS
        let sub = (value >> (exponent - LATENCY_SUB_BITS as u64)) & (LATENCY_SUB - 1);
        ((exponent - LATENCY_SUB_BITS as u64 + 1) * LATENCY_SUB + sub) as usize
    }

    /// The smallest and largest value of bucket `index`.
    pub fn bounds(index: usize) -> (u64, u64) {
        let index = index as u64;
        if index < LATENCY_SUB {
            return (index, index);
        }
        let exponent = index / LATENCY_SUB + LATENCY_SUB_BITS as u64 - 1;
        let sub = index % LATENCY_SUB;
        let width = 1u64 << (exponent - LATENCY_SUB_BITS as u64);
        let low = (LATENCY_SUB + sub) * width;
        (low, low.wrapping_add(width - 1))
    }

    /// (bucket index, count) of every bucket that holds values.
    pub fn counts(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.buckets.iter().enumerate().map(|(i, c)| (i, c.get())).filter(|(_, n)| *n > 0)
    }
}

/// A port's own counters as the device keeps them (`rte_eth_stats_get`): what it saw,
/// including what never reached a worker. Filled by `io::dpdk`, reported by the control plane.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    /// Dropped by the device because an RX queue was full (workers too slow).
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    /// RX mbuf allocation failures (mempool too small).
    pub rx_nombuf: u64,
}

/// Per-port counters kept by the worker that owns the queue (one block per worker and port).
#[repr(align(128))]
#[derive(Debug, Default)]
pub struct PortCounters {
    pub rx_packets: Counter,
    pub tx_packets: Counter,
    pub dropped: Counter,
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn names_are_unique_and_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in DropReason::ALL {
            assert!(seen.insert(r.name()), "duplicate {}", r.name());
            assert!(r.name().chars().all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        }
    }
    #[test]
    fn latency_buckets_cover_every_value_within_a_32nd() {
        assert_eq!(LATENCY_BUCKETS, 1920);
        for v in (0..20_000u64).chain([u64::MAX, u64::MAX / 3, 1 << 40, (1 << 40) - 1]) {
            let i = LatencyBuckets::index(v);
            let (low, high) = LatencyBuckets::bounds(i);
            assert!(low <= v && v <= high, "{v} in bucket {i} [{low}, {high}]");
            assert!(high - low <= low / 32, "bucket {i} too wide");
        }
        assert_eq!(LatencyBuckets::index(u64::MAX), LATENCY_BUCKETS - 1);
        let b = LatencyBuckets::default();
        b.record(100);
        b.record(100);
        assert_eq!(b.counts().collect::<Vec<_>>(), vec![(LatencyBuckets::index(100), 2)]);
    }

    #[test]
    fn counts_drops_by_reason() {
        let c = WorkerCounters::default();
        c.count_drop(DropReason::CidTruncated);
        c.count_drop(DropReason::CidTruncated);
        c.count_drop(DropReason::TtlExceeded);
        assert_eq!(c.drops[DropReason::CidTruncated as usize].get(), 2);
        assert_eq!(c.dropped_total(), 3);
        assert_eq!(std::mem::align_of::<WorkerCounters>(), 128);
    }
}

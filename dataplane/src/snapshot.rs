//! The immutable view of the configuration that workers read: ports, services, nodes and
//! their health, Maglev tables, CID node maps, next hops and neighbour MACs.
//!
//! The control thread builds a new one and publishes it; workers adopt it between bursts (RCU
//! style): one acquire load of a generation number per burst, no lock and no shared write on
//! the fast path. Sessions store node *ids*, not indexes, so they survive a reload.
#![forbid(unsafe_code)]

use crate::select::{FlowHasher, Maglev, MaglevTable};
use arc_swap::ArcSwap;
use cidlb_config::{Balance, Config, Forward, LabelPolicy, MacAddr, Protocol, UnknownCid};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// An address as the packet path compares it: 16 bytes, IPv4 in the first 4 (the same
/// layout `wire::Parsed` uses), plus the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Address {
    pub bytes: [u8; 16],
    pub v6: bool,
}

impl Address {
    pub fn from_ip(ip: IpAddr) -> Self {
        let mut bytes = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => {
                bytes[..4].copy_from_slice(&v4.octets());
                Address { bytes, v6: false }
            }
            IpAddr::V6(v6) => Address { bytes: v6.octets(), v6: true },
        }
    }
    pub fn to_ip(self) -> IpAddr {
        if self.v6 {
            IpAddr::from(self.bytes)
        } else {
            IpAddr::from([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
        }
    }
}

/// VIP -> the services on it (indexes into `Snapshot::services`), looked up once per packet.
/// A few VIPs (the common case) are a linear scan over 16-byte keys compared as two words,
/// cheaper than hashing; past [`VipTable::LINEAR`] VIPs a hash map takes over.
#[derive(Clone, Debug, Default)]
pub struct VipTable {
    keys: Vec<(u128, bool)>,
    services: Vec<Vec<u16>>,
    map: FxHashMap<Address, usize>,
}

impl VipTable {
    pub const LINEAR: usize = 8;

    fn key(address: &Address) -> (u128, bool) {
        (u128::from_ne_bytes(address.bytes), address.v6)
    }

    /// Adds `service` to `vip`'s list (services keep config order).
    pub fn add(&mut self, vip: Address, service: u16) {
        match self.map.get(&vip) {
            Some(&i) => self.services[i].push(service),
            None => {
                self.map.insert(vip, self.keys.len());
                self.keys.push(Self::key(&vip));
                self.services.push(vec![service]);
            }
        }
    }

    #[inline]
    pub fn get(&self, address: &Address) -> Option<&[u16]> {
        let index = if self.keys.len() <= Self::LINEAR {
            let key = Self::key(address);
            self.keys.iter().position(|k| *k == key)?
        } else {
            *self.map.get(address)?
        };
        self.services.get(index).map(Vec::as_slice)
    }

    pub fn contains_key(&self, address: &Address) -> bool {
        self.get(address).is_some()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A (VIP, port) of the worker's CID lane and its service (index into `Snapshot::services`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CidLaneEntry {
    /// The IPv4 VIP as its header bytes.
    pub vip: [u8; 4],
    pub port: u16,
    pub service: u16,
}

/// Entries of the CID lane: a linear scan per packet, so a few (services beyond them take the
/// general path, as fast as before the lane).
pub const CID_LANE_MAX: usize = 4;

/// The lane's entries (see `Snapshot::cid_lane`) of a built snapshot: IPv4 `dtls-cid`
/// services with a port, each only where it is the service [`Snapshot::service_for`] gives
/// for UDP to that VIP and port.
fn cid_lane(snapshot: &Snapshot) -> Vec<CidLaneEntry> {
    snapshot
        .services
        .iter()
        .enumerate()
        .filter(|(i, s)| s.balance == Balance::DtlsCid && !s.vip.v6 && s.port != 0 && snapshot.service_for(&s.vip, PROTO_UDP, s.port) == Some(*i as u16))
        .take(CID_LANE_MAX)
        .map(|(i, s)| CidLaneEntry { vip: [s.vip.bytes[0], s.vip.bytes[1], s.vip.bytes[2], s.vip.bytes[3]], port: s.port, service: i as u16 })
        .collect()
}

/// A (VIP, port, protocol) of the worker's session lane and its service (index into
/// `Snapshot::services`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TupleLaneEntry {
    /// The IPv4 VIP as its header bytes.
    pub vip: [u8; 4],
    pub port: u16,
    /// `PROTO_UDP` or `PROTO_TCP`.
    pub protocol: u8,
    pub service: u16,
    /// A `dtls-cid` service: the lane takes only datagrams its DTLS walk sends to the session
    /// path (no CID record, and not a client's first ClientHello).
    pub dtls: bool,
}

/// Entries of the session lane, and of the IPv6 lane (a linear scan per packet, as the CID
/// lane's).
pub const TUPLE_LANE_MAX: usize = 4;

/// The session lane's entries (see `Snapshot::tuple_lane`) of a built snapshot: for IPv4
/// `five-tuple` services with a port (`flow-label` needs an IPv6 VIP), each protocol the
/// service takes, and for IPv4 `dtls-cid` services with a port, UDP; each only where it is the
/// service [`Snapshot::service_for`] gives for that protocol to that VIP and port.
fn tuple_lane(snapshot: &Snapshot) -> Vec<TupleLaneEntry> {
    let mut lane = Vec::new();
    for (i, s) in snapshot.services.iter().enumerate() {
        let dtls = s.balance == Balance::DtlsCid;
        if !(s.balance == Balance::FiveTuple || dtls) || s.vip.v6 || s.port == 0 {
            continue;
        }
        for protocol in [PROTO_UDP, PROTO_TCP] {
            if lane.len() < TUPLE_LANE_MAX
                && (protocol == PROTO_UDP || !dtls)
                && s.matches(protocol, s.port)
                && snapshot.service_for(&s.vip, protocol, s.port) == Some(i as u16)
            {
                lane.push(TupleLaneEntry { vip: [s.vip.bytes[0], s.vip.bytes[1], s.vip.bytes[2], s.vip.bytes[3]], port: s.port, protocol, service: i as u16, dtls });
            }
        }
    }
    lane
}

/// A (VIP, port, protocol) of the worker's IPv6 lane and its service (index into
/// `Snapshot::services`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6LaneEntry {
    /// The IPv6 VIP as its header bytes.
    pub vip: [u8; 16],
    pub port: u16,
    /// `PROTO_UDP` or `PROTO_TCP`.
    pub protocol: u8,
    pub service: u16,
    /// A `flow-label` service that uses labels (`label_policy` `trust` or `verify`): a packet
    /// with a non-zero label takes the label path, others the 5-tuple session path.
    pub labels: bool,
    /// A `flow-label` service that trusts labels (`label_policy = "trust"`): the first
    /// fragment of a datagram with a non-zero label takes the label path too, and leaves no
    /// trail in the fragment table (its later fragments go by the label,
    /// `Snapshot::ipv6_fragment_lane`).
    pub fragments: bool,
}

/// A (VIP, protocol) of the worker's IPv6 lane for later fragments (no ports: their service is
/// the `flow-label` service `find_label_service` gives) and its service (index into
/// `Snapshot::services`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6FragmentLaneEntry {
    /// The IPv6 VIP as its header bytes.
    pub vip: [u8; 16],
    /// `PROTO_UDP` or `PROTO_TCP`.
    pub protocol: u8,
    pub service: u16,
}

/// The IPv6 lane's entries (see `Snapshot::ipv6_lane`) of a built snapshot: for IPv6
/// `flow-label` and `five-tuple` services with a port, each protocol the service takes, only
/// where it is the service [`Snapshot::service_for`] gives for that protocol to that VIP and
/// port.
fn ipv6_lane(snapshot: &Snapshot) -> Vec<Ipv6LaneEntry> {
    let mut lane = Vec::new();
    for (i, s) in snapshot.services.iter().enumerate() {
        if !matches!(s.balance, Balance::FlowLabel | Balance::FiveTuple) || !s.vip.v6 || s.port == 0 {
            continue;
        }
        let labels = s.balance == Balance::FlowLabel && s.label_policy != LabelPolicy::Ignore;
        let fragments = s.balance == Balance::FlowLabel && s.label_policy == LabelPolicy::Trust;
        for protocol in [PROTO_UDP, PROTO_TCP] {
            if lane.len() < TUPLE_LANE_MAX && s.matches(protocol, s.port) && snapshot.service_for(&s.vip, protocol, s.port) == Some(i as u16) {
                lane.push(Ipv6LaneEntry { vip: s.vip.bytes, port: s.port, protocol, service: i as u16, labels, fragments });
            }
        }
    }
    lane
}

/// The IPv6 lane's entries for later fragments (see `Snapshot::ipv6_fragment_lane`) of a
/// built snapshot: for each IPv6 VIP and protocol (UDP or TCP), the `flow-label` service
/// [`Snapshot::find_label_service`] gives, where it trusts labels (`label_policy = "trust"`;
/// under `verify` and `ignore` later fragments go by the fragment table).
fn ipv6_fragment_lane(snapshot: &Snapshot) -> Vec<Ipv6FragmentLaneEntry> {
    let mut lane = Vec::new();
    for (i, s) in snapshot.services.iter().enumerate() {
        if s.balance != Balance::FlowLabel || s.label_policy != LabelPolicy::Trust || !s.vip.v6 {
            continue;
        }
        let Some(services) = snapshot.vips.get(&s.vip) else {
            continue;
        };
        for protocol in [PROTO_UDP, PROTO_TCP] {
            if lane.len() < TUPLE_LANE_MAX && snapshot.find_label_service(services, protocol) == Some(i as u16) {
                lane.push(Ipv6FragmentLaneEntry { vip: s.vip.bytes, protocol, service: i as u16 });
            }
        }
    }
    lane
}

/// Health of a node as the control thread sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NodeState {
    #[default]
    Up,
    /// Failed its health checks: no new sessions, existing non-CID sessions move, CID
    /// records follow `unknown_cid`.
    Down,
    /// `weight = 0` or `drain = true`: no new sessions, existing ones continue.
    Draining,
}

#[derive(Clone, Debug)]
pub struct PortInfo {
    pub name: String,
    pub mac: [u8; 6],
    pub ipv4: Option<(std::net::Ipv4Addr, u8)>,
    pub ipv6: Option<(std::net::Ipv6Addr, u8)>,
    pub gateway4: Option<IpAddr>,
    pub gateway6: Option<IpAddr>,
    pub mtu: u16,
}

impl PortInfo {
    /// Is `ip` on this port's link (inside one of its prefixes)?
    pub fn on_link(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.ipv4.is_some_and(|(net, len)| prefix_match(&net.octets(), &a.octets(), len)),
            IpAddr::V6(a) => self.ipv6.is_some_and(|(net, len)| prefix_match(&net.octets(), &a.octets(), len)),
        }
    }
    /// Is `address` one of this port's own addresses?
    pub fn owns(&self, address: &Address) -> bool {
        match address.to_ip() {
            IpAddr::V4(a) => self.ipv4.is_some_and(|(own, _)| own == a),
            IpAddr::V6(a) => self.ipv6.is_some_and(|(own, _)| own == a),
        }
    }
}

fn prefix_match(a: &[u8], b: &[u8], len: u8) -> bool {
    let full = (len / 8) as usize;
    let rest = len % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub id: u32,
    pub address: Address,
    pub weight: u32,
    pub state: NodeState,
    /// Port toward the node, and the next hop on it (the node itself when on-link).
    pub port: u16,
    pub next_hop: IpAddr,
    /// The next hop's MAC, when known (static neighbour or resolved).
    pub next_hop_mac: Option<[u8; 6]>,
}

#[derive(Clone, Debug)]
pub struct ServiceInfo {
    pub name: String,
    pub vip: Address,
    /// 0 = every port (protocol `any`).
    pub port: u16,
    pub protocol: Protocol,
    pub balance: Balance,
    pub cid_length: u8,
    pub node_id_offset: u8,
    pub node_id_length: u8,
    pub unknown_cid: UnknownCid,
    /// `flow-label` services: what to make of non-zero labels.
    pub label_policy: LabelPolicy,
    pub forward: Forward,
    /// Destination port on the node in NAT mode; `None` keeps the client's destination port.
    pub target_port: Option<u16>,
    /// Indexes into `Snapshot::nodes` of this service's nodes, in config order.
    pub nodes: Vec<u16>,
    /// Maglev over this service's nodes (entries index `nodes` above); nodes that take no
    /// new sessions have weight 0 in it.
    pub maglev: MaglevTable,
    /// Node id carried in a CID -> index into `Snapshot::nodes`.
    pub cid_nodes: FxHashMap<u32, u16>,
    /// The same for 1-byte node ids (Californium's), directly indexed; `NO_NODE` where none.
    pub cid_direct: Vec<u16>,
}

/// Node id -> index into [`Snapshot::nodes`], read for every session hit (a session holds its
/// node's id, which outlives reloads, not its index). Ids below 256 (one-byte CID node ids,
/// and most hand-numbered clusters) are read from a direct table; wider ids from a map, out of
/// line, so the common lookup inlines as one load.
#[derive(Debug, Clone)]
pub struct NodeIds {
    /// Index of node id `i` for `i < 256`, `NO_NODE` where none.
    direct: Box<[u16; 256]>,
    /// Ids of 256 and above.
    wide: FxHashMap<u32, u16>,
}

impl Default for NodeIds {
    fn default() -> Self {
        NodeIds { direct: Box::new([NO_NODE; 256]), wide: FxHashMap::default() }
    }
}

impl NodeIds {
    /// The index of the node with id `id`, if there is one.
    #[inline]
    pub fn get(&self, id: u32) -> Option<u16> {
        match self.direct.get(id as usize) {
            Some(&index) => (index != NO_NODE).then_some(index),
            None => self.get_wide(id),
        }
    }

    #[inline(never)]
    fn get_wide(&self, id: u32) -> Option<u16> {
        self.wide.get(&id).copied()
    }

    /// Record that node `id` has index `index` (`index` below `NO_NODE`).
    pub fn insert(&mut self, id: u32, index: u16) {
        match self.direct.get_mut(id as usize) {
            Some(slot) => *slot = index,
            None => {
                self.wide.insert(id, index);
            }
        }
    }
}

/// `ServiceInfo::cid_direct` entry of a node id no node has.
pub const NO_NODE: u16 = u16::MAX;

impl ServiceInfo {
    /// The node (index into `Snapshot::nodes`) a CID's node id bytes name, if any.
    #[inline]
    pub fn node_for_cid(&self, cid: &[u8]) -> Option<u16> {
        let start = self.node_id_offset as usize;
        if !self.cid_direct.is_empty() {
            return cid.get(start).map(|&id| self.cid_direct[id as usize]).filter(|&n| n != NO_NODE);
        }
        self.node_for_wide_cid(cid)
    }

    /// [`node_for_cid`](Self::node_for_cid) of node ids wider than a byte: a map lookup, out of
    /// line, so that the callers that inline the one-byte table (the CID lane in the burst
    /// loop) do not carry the map's code (session 15: inlined into the burst loop, it cost the
    /// `cid` profile ~30 instructions a packet in register allocation, callgrind).
    #[inline(never)]
    fn node_for_wide_cid(&self, cid: &[u8]) -> Option<u16> {
        let start = self.node_id_offset as usize;
        let id = cid.get(start..start + self.node_id_length as usize)?.iter().fold(0u32, |acc, b| (acc << 8) | *b as u32);
        self.cid_nodes.get(&id).copied()
    }

    /// Start loading the Maglev slot [`pick`](Self::pick) of `hash` reads. A hint.
    #[inline]
    pub fn prefetch_pick(&self, hash: u64) {
        self.maglev.prefetch(hash);
    }

    /// The node (index into `Snapshot::nodes`) Maglev picks for a flow hash.
    #[inline]
    pub fn pick(&self, hash: u64) -> Option<u16> {
        let slot = self.maglev.lookup(hash)?;
        self.nodes.get(slot as usize).copied()
    }

    /// Does the service take packets of this IP protocol and destination port?
    #[inline]
    pub fn matches(&self, proto: u8, dport: u16) -> bool {
        let proto_ok = match self.protocol {
            Protocol::Udp => proto == PROTO_UDP,
            Protocol::Tcp => proto == PROTO_TCP,
            Protocol::Any => true,
        };
        proto_ok && (self.port == 0 || self.port == dport)
    }
}

pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// A port's gateway MACs (IPv4, IPv6), when known.
pub type GatewayMacs = (Option<[u8; 6]>, Option<[u8; 6]>);

/// Everything a worker needs to decide, immutable once published.
#[derive(Debug)]
pub struct Snapshot {
    pub generation: u64,
    pub ports: Vec<PortInfo>,
    pub nodes: Vec<NodeInfo>,
    pub services: Vec<ServiceInfo>,
    /// The ports' own addresses, with their port (compared per packet: no conversions).
    pub own_addresses: Vec<(Address, u16)>,
    /// VIP -> indexes into `services` (several services may share a VIP on other ports).
    pub vips: VipTable,
    /// Some VIP is also a port's own address (the own address wins, DESIGN.md precedence):
    /// the classifier's fast path then checks own addresses first.
    pub vip_shadowed: bool,
    /// The worker's CID lane: the IPv4 VIP and UDP port of each `dtls-cid` service that is
    /// the service `find_service` gives for UDP to that port (at most [`CID_LANE_MAX`]; none
    /// when `vip_shadowed`). Traffic to anything else takes the general path.
    pub cid_lane: Vec<CidLaneEntry>,
    /// The worker's session lane: the IPv4 VIP, port and protocol (UDP or TCP) of each service
    /// that balances IPv4 by the 5-tuple, where it is the service `find_service` gives (at
    /// most [`TUPLE_LANE_MAX`]; none when `vip_shadowed`). Traffic to anything else takes the
    /// general path.
    pub tuple_lane: Vec<TupleLaneEntry>,
    /// The worker's IPv6 lane: the IPv6 VIP, port and protocol (UDP or TCP) of each service
    /// that balances IPv6 by the flow label or the 5-tuple, where it is the service
    /// `find_service` gives (at most [`TUPLE_LANE_MAX`]; none when `vip_shadowed`).
    pub ipv6_lane: Vec<Ipv6LaneEntry>,
    /// The IPv6 lane's later fragments of labelled flows: the IPv6 VIP and protocol of each
    /// `flow-label` service that trusts labels, where it is the service `find_label_service`
    /// gives (at most [`TUPLE_LANE_MAX`]; none when `vip_shadowed`).
    pub ipv6_fragment_lane: Vec<Ipv6FragmentLaneEntry>,
    /// (node address, source port, protocol) -> service, for stateless reverse NAT.
    pub replies: FxHashMap<(Address, u16, u8), u16>,
    /// Node id -> index into `nodes`.
    pub node_ids: NodeIds,
    /// Known neighbours: static entries and those resolved by ARP/ND.
    pub neighbors: FxHashMap<IpAddr, [u8; 6]>,
    /// Gateway MAC per port (v4, v6), when known.
    pub gateway_macs: Vec<GatewayMacs>,
    pub hasher: FlowHasher,
    pub hash_key: [u8; 16],
    pub session_timeout_ns: u64,
    pub fragment_timeout_ns: u64,
    pub tunnel_ttl: u8,
}

/// What the control thread knows beyond the config: health and resolved neighbours.
#[derive(Clone, Debug, Default)]
pub struct RuntimeState {
    /// Node id -> state; nodes absent here are Up (or Draining by config).
    pub health: FxHashMap<u32, NodeState>,
    /// Neighbours resolved by ARP/ND (static config entries override them).
    pub resolved: FxHashMap<IpAddr, [u8; 6]>,
}

impl Snapshot {
    /// Build from a validated config. `port_macs[i]` is port i's MAC (the config's `mac`, or
    /// the device's own when the config has none). Health and resolved neighbours default.
    pub fn build(config: &Config, port_macs: &[MacAddr], generation: u64) -> Result<Snapshot, String> {
        let key = config.dataplane.hash_key_bytes().unwrap_or_else(random_key);
        Self::build_with(config, port_macs, generation, key, &RuntimeState::default())
    }

    /// Build with an explicit hash key (kept across reloads when the config has none) and the
    /// control thread's runtime state.
    pub fn build_with(
        config: &Config,
        port_macs: &[MacAddr],
        generation: u64,
        hash_key: [u8; 16],
        runtime: &RuntimeState,
    ) -> Result<Snapshot, String> {
        let hasher = FlowHasher::new(hash_key);
        let ports: Vec<PortInfo> = config
            .port
            .iter()
            .enumerate()
            .map(|(i, p)| PortInfo {
                name: p.name.clone(),
                mac: p.mac.or_else(|| port_macs.get(i).copied()).unwrap_or(MacAddr::ZERO).0,
                ipv4: p.ipv4.map(|n| (n.addr(), n.prefix_len())),
                ipv6: p.ipv6.map(|n| (n.addr(), n.prefix_len())),
                gateway4: p.gateway4.map(IpAddr::V4),
                gateway6: p.gateway6.map(IpAddr::V6),
                mtu: p.mtu,
            })
            .collect();
        if ports.is_empty() {
            return Err("no [[port]] configured".into());
        }
        if config.node.len() > crate::counters::MAX_NODES || config.service.len() > crate::counters::MAX_SERVICES {
            return Err(format!(
                "at most {} nodes and {} services per balancer",
                crate::counters::MAX_NODES,
                crate::counters::MAX_SERVICES
            ));
        }
        let mut neighbors: FxHashMap<IpAddr, [u8; 6]> = runtime.resolved.clone();
        for n in &config.neighbor {
            neighbors.insert(n.ip, n.mac.0);
        }

        let mut nodes = Vec::with_capacity(config.node.len());
        let mut node_ids = NodeIds::default();
        for n in &config.node {
            let (port, next_hop) = route(&ports, n.address);
            let state = match runtime.health.get(&n.id).copied() {
                Some(NodeState::Down) => NodeState::Down,
                _ if n.drain || n.weight == 0 => NodeState::Draining,
                _ => NodeState::Up,
            };
            node_ids.insert(n.id, nodes.len() as u16);
            nodes.push(NodeInfo {
                id: n.id,
                address: Address::from_ip(n.address),
                weight: n.weight,
                state,
                port,
                next_hop,
                next_hop_mac: neighbors.get(&next_hop).copied(),
            });
        }

        let mut services = Vec::with_capacity(config.service.len());
        let mut vips = VipTable::default();
        let mut replies = FxHashMap::default();
        for (si, s) in config.service.iter().enumerate() {
            let mut members = Vec::with_capacity(s.nodes.len());
            let mut cid_nodes = FxHashMap::default();
            for id in &s.nodes {
                let index = node_ids.get(*id).ok_or_else(|| format!("service `{}` names unknown node {id}", s.name))?;
                members.push(index);
                cid_nodes.insert(*id, index);
                if s.forward == Forward::Ipip {
                    // The outer source is the egress port's own address of the node's family.
                    let node = &nodes[index as usize];
                    let port = &ports[node.port as usize];
                    let has_source = if node.address.v6 { port.ipv6.is_some() } else { port.ipv4.is_some() };
                    if !has_source {
                        return Err(format!(
                            "service `{}`: node {id} is reached through port `{}`, which has no {} address to be the tunnel source",
                            s.name,
                            port.name,
                            if node.address.v6 { "ipv6" } else { "ipv4" }
                        ));
                    }
                }
            }
            // Maglev over the nodes that take new sessions (Maglev §3.4: rebuilt on change).
            let eligible: Vec<(u32, u32)> = members
                .iter()
                .map(|&i| &nodes[i as usize])
                .map(|n| (n.id, if n.state == NodeState::Up { n.weight } else { 0 }))
                .collect();
            let maglev = Maglev::build(&eligible, s.maglev_table_size, &hasher);
            let vip = Address::from_ip(s.vip);
            vips.add(vip, si as u16);
            let reply_port = s.target_port.unwrap_or(s.port);
            let protos: &[u8] = match s.protocol {
                Protocol::Udp => &[PROTO_UDP],
                Protocol::Tcp => &[PROTO_TCP],
                Protocol::Any => &[PROTO_UDP, PROTO_TCP],
            };
            if s.forward == Forward::Nat && reply_port != 0 {
                for &i in &members {
                    for &proto in protos {
                        replies.entry((nodes[i as usize].address, reply_port, proto)).or_insert(si as u16);
                    }
                }
            }
            services.push(ServiceInfo {
                name: s.name.clone(),
                vip,
                port: s.port,
                protocol: s.protocol,
                balance: s.balance,
                cid_length: s.cid_length,
                node_id_offset: s.node_id_offset,
                node_id_length: s.node_id_length,
                unknown_cid: s.unknown_cid,
                label_policy: s.label_policy.unwrap_or_default(),
                forward: s.forward,
                target_port: s.target_port,
                nodes: members,
                maglev,
                cid_direct: if s.node_id_length == 1 {
                    let mut direct = vec![NO_NODE; 256];
                    for (&id, &index) in &cid_nodes {
                        if let Some(slot) = direct.get_mut(id as usize) {
                            *slot = index;
                        }
                    }
                    direct
                } else {
                    Vec::new()
                },
                cid_nodes,
            });
        }
        let gateway_macs = ports
            .iter()
            .map(|p| {
                (
                    p.gateway4.and_then(|g| neighbors.get(&g).copied()),
                    p.gateway6.and_then(|g| neighbors.get(&g).copied()),
                )
            })
            .collect();
        let own_addresses: Vec<(Address, u16)> = ports
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                let v4 = p.ipv4.map(|(a, _)| (Address::from_ip(IpAddr::V4(a)), i as u16));
                let v6 = p.ipv6.map(|(a, _)| (Address::from_ip(IpAddr::V6(a)), i as u16));
                v4.into_iter().chain(v6)
            })
            .collect();
        let vip_shadowed = own_addresses.iter().any(|(a, _): &(Address, u16)| vips.contains_key(a));
        let mut snapshot = Snapshot {
            generation,
            vip_shadowed,
            cid_lane: Vec::new(),
            tuple_lane: Vec::new(),
            ipv6_lane: Vec::new(),
            ipv6_fragment_lane: Vec::new(),
            own_addresses,
            ports,
            nodes,
            services,
            vips,
            replies,
            node_ids,
            neighbors,
            gateway_macs,
            hasher,
            hash_key,
            session_timeout_ns: config.dataplane.session_timeout.as_nanos_u64(),
            fragment_timeout_ns: config.dataplane.fragment_timeout.as_nanos_u64(),
            tunnel_ttl: config.dataplane.tunnel_ttl,
        };
        if !vip_shadowed {
            snapshot.cid_lane = cid_lane(&snapshot);
            snapshot.tuple_lane = tuple_lane(&snapshot);
            snapshot.ipv6_lane = ipv6_lane(&snapshot);
            snapshot.ipv6_fragment_lane = ipv6_fragment_lane(&snapshot);
        }
        Ok(snapshot)
    }

    /// The service for a packet to `vip` with this protocol and destination port.
    #[inline]
    pub fn service_for(&self, vip: &Address, proto: u8, dport: u16) -> Option<u16> {
        self.find_service(self.vips.get(vip)?, proto, dport)
    }

    /// The service among a VIP's `services` for this protocol and destination port.
    #[inline]
    pub fn find_service(&self, services: &[u16], proto: u8, dport: u16) -> Option<u16> {
        services.iter().copied().find(|&i| self.services[i as usize].matches(proto, dport))
    }

    /// The flow-label service among a VIP's `services` for `proto`, whatever its port: a
    /// labelled non-first fragment carries no port but its label routes it (RFC 6437 §3).
    pub fn find_label_service(&self, services: &[u16], proto: u8) -> Option<u16> {
        services.iter().copied().find(|&i| {
            let s = &self.services[i as usize];
            s.balance == Balance::FlowLabel && s.matches(proto, s.port)
        })
    }

    pub fn is_vip(&self, address: &Address) -> bool {
        self.vips.contains_key(address)
    }

    /// Port that owns `address`, if it is one of the balancer's own addresses.
    #[inline]
    pub fn own_port(&self, address: &Address) -> Option<u16> {
        self.own_addresses.iter().find(|(own, _)| own == address).map(|(_, port)| *port)
    }

    /// Egress port and next-hop MAC toward a client or other off-node destination.
    /// Returns the port, the next hop's address and its MAC when known.
    pub fn route_to(&self, destination: IpAddr) -> (u16, IpAddr, Option<[u8; 6]>) {
        let (port, next_hop) = route(&self.ports, destination);
        if next_hop == destination {
            (port, next_hop, self.neighbors.get(&destination).copied())
        } else {
            let (g4, g6) = self.gateway_macs.get(port as usize).copied().unwrap_or((None, None));
            (port, next_hop, if destination.is_ipv4() { g4 } else { g6 })
        }
    }

    /// The MAC of a next hop, when known (static or resolved).
    #[inline]
    pub fn neighbor_mac(&self, next_hop: &IpAddr) -> Option<[u8; 6]> {
        self.neighbors.get(next_hop).copied()
    }

    /// Every next hop the balancer needs a MAC for: node next hops and gateways.
    pub fn wanted_neighbors(&self) -> Vec<(u16, IpAddr)> {
        let mut out: Vec<(u16, IpAddr)> = self.nodes.iter().map(|n| (n.port, n.next_hop)).collect();
        for (i, p) in self.ports.iter().enumerate() {
            out.extend(p.gateway4.iter().chain(p.gateway6.iter()).map(|g| (i as u16, *g)));
        }
        out.sort_by_key(|(p, ip)| (*p, *ip));
        out.dedup();
        out
    }
}

/// The port toward `ip` and the next hop on it: the first port whose prefix holds `ip`
/// (next hop = `ip`), else the first port with a gateway of that family.
fn route(ports: &[PortInfo], ip: IpAddr) -> (u16, IpAddr) {
    if let Some(i) = ports.iter().position(|p| p.on_link(ip)) {
        return (i as u16, ip);
    }
    for (i, p) in ports.iter().enumerate() {
        let gateway = if ip.is_ipv4() { p.gateway4 } else { p.gateway6 };
        if let Some(g) = gateway {
            return (i as u16, g);
        }
    }
    (0, ip)
}

/// A key for a balancer whose config sets none: unpredictable, but not shared with others.
pub fn random_key() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut key = [0u8; 16];
    for chunk in key.chunks_mut(8) {
        // RandomState is seeded from the OS's randomness once per process.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id() as u64);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    key
}

/// Where workers pick up new snapshots.
///
/// A replaced snapshot is kept in `retired` until no worker holds it any more and is then
/// dropped by the control thread ([`SnapshotSource::reap`], from `publish` and every control
/// tick): a worker adopting a newer snapshot only decrements a count, and never runs the old
/// one's destructor (freeing its tables would take the allocator's lock, and on a large config
/// could return memory to the kernel, a system call, in the middle of the packet loop).
#[derive(Debug)]
pub struct SnapshotSource {
    generation: AtomicU64,
    current: ArcSwap<Snapshot>,
    /// Replaced snapshots, each dropped once this is its last reference (control thread only).
    retired: Mutex<Vec<Arc<Snapshot>>>,
}

impl SnapshotSource {
    pub fn new(first: Snapshot) -> Self {
        SnapshotSource { generation: AtomicU64::new(first.generation), current: ArcSwap::from_pointee(first), retired: Mutex::new(Vec::new()) }
    }
    /// Publish a new snapshot (control thread). Its generation must differ from the last.
    pub fn publish(&self, next: Snapshot) {
        let g = next.generation;
        let previous = self.current.swap(Arc::new(next));
        self.generation.store(g, Ordering::Release);
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        retired.push(previous);
        Self::drop_unheld(&mut retired);
    }
    /// Drop the retired snapshots no worker holds any more (control thread); returns how many
    /// are still held.
    pub fn reap(&self) -> usize {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        Self::drop_unheld(&mut retired);
        retired.len()
    }
    /// A retired snapshot is no longer in `current`, so no worker can take a new reference to
    /// it: once its count is 1 (ours), it stays 1 and it can go.
    fn drop_unheld(retired: &mut Vec<Arc<Snapshot>>) {
        retired.retain(|snapshot| Arc::strong_count(snapshot) > 1);
    }
    /// The generation of the newest snapshot: a read-mostly line, written only on publish.
    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}

// Test-only (never compiled into a binary, so never run on network input): each `unwrap()`
// below is on a fixture the test built, and a failing one is a failing test (see lib.rs).
#[cfg(test)]
mod tests {
    use super::*;

    fn v4(last: u8) -> Address {
        Address::from_ip(IpAddr::from([192, 0, 2, last]))
    }

    /// The demo config (examples/demo.toml) with `edit` applied, built.
    fn demo(edit: impl Fn(&str) -> String) -> Snapshot {
        let text = edit(include_str!("../../examples/demo.toml"));
        let config = cidlb_config::parse(&text, "demo").unwrap();
        Snapshot::build_with(&config, &[MacAddr([2, 0, 0, 0, 0, 1])], 1, [1; 16], &RuntimeState::default()).unwrap()
    }

    #[test]
    fn cid_lane_lists_the_services_find_service_gives() {
        let lane = |s: &Snapshot| s.cid_lane.iter().map(|e| (e.vip, e.port, s.services[e.service as usize].name.clone())).collect::<Vec<_>>();
        // The demo's `coaps`, 192.0.2.10:5684. (Two services that both take UDP to one VIP and
        // port are refused by the config check, so the first for its port is the service.)
        assert_eq!(lane(&demo(str::to_string)), vec![([192, 0, 2, 10], 5684, "coaps".to_string())]);
        // An IPv6 VIP: not listed (the lane reads IPv4 at fixed offsets).
        assert!(lane(&demo(|t| t.replace("name = \"coaps\"\nvip = \"192.0.2.10\"", "name = \"coaps\"\nvip = \"2001:db8::10\"").replace("unknown_cid = \"drop\"\nnodes = [1, 2, 3]", "unknown_cid = \"drop\"\nnodes = [21, 22]"))).is_empty());
        // Any port: not listed (the lane matches a port).
        let any_port = demo(|t| t.replace("port = 5684", "port = 0").replace("vip = \"192.0.2.10\"\nport = 5683", "vip = \"192.0.2.20\"\nport = 5683"));
        assert!(any_port.service_for(&v4(10), PROTO_UDP, 5684).is_some() && lane(&any_port).is_empty());
    }

    #[test]
    fn tuple_lane_lists_the_5_tuple_services_find_service_gives() {
        let lane = |s: &Snapshot| s.tuple_lane.iter().map(|e| (e.vip, e.port, e.protocol, s.services[e.service as usize].name.clone())).collect::<Vec<_>>();
        let coap = "name = \"coap\"\nvip = \"192.0.2.10\"\nport = 5683\nprotocol = \"udp\"";
        let coaps = ([192, 0, 2, 10], 5684, PROTO_UDP, "coaps".to_string());
        // The demo's `coaps` (`dtls-cid`: its datagrams without a CID that go to the session
        // path) and `coap`, UDP to 192.0.2.10:5684 and :5683 (not `web6`: an IPv6 VIP).
        assert_eq!(lane(&demo(str::to_string)), vec![coaps.clone(), ([192, 0, 2, 10], 5683, PROTO_UDP, "coap".to_string())]);
        assert_eq!(demo(str::to_string).tuple_lane.iter().map(|e| e.dtls).collect::<Vec<_>>(), [true, false]);
        // Any protocol: UDP and TCP; TCP only: TCP.
        let any = demo(|t| t.replace(coap, &coap.replace("\"udp\"", "\"any\"")));
        assert_eq!(lane(&any), vec![coaps.clone(), ([192, 0, 2, 10], 5683, PROTO_UDP, "coap".to_string()), ([192, 0, 2, 10], 5683, PROTO_TCP, "coap".to_string())]);
        let tcp = demo(|t| t.replace(coap, &coap.replace("\"udp\"", "\"tcp\"")));
        assert_eq!(lane(&tcp), vec![coaps.clone(), ([192, 0, 2, 10], 5683, PROTO_TCP, "coap".to_string())]);
        // Any port: not listed (the lane matches a port).
        let any_port = demo(|t| t.replace(coap, &coap.replace("192.0.2.10", "192.0.2.20").replace("5683", "0")));
        assert!(any_port.service_for(&v4(20), PROTO_UDP, 5683).is_some() && lane(&any_port) == vec![coaps]);
    }

    #[test]
    fn ipv6_lane_lists_the_flow_label_and_5_tuple_services_find_service_gives() {
        let lane = |s: &Snapshot| s.ipv6_lane.iter().map(|e| (e.vip, e.port, e.protocol, s.services[e.service as usize].name.clone(), e.labels)).collect::<Vec<_>>();
        let vip: [u8; 16] = "2001:db8::10".parse::<std::net::Ipv6Addr>().unwrap().octets();
        // The demo's `web6`, any protocol to [2001:db8::10]:443: UDP and TCP, by label.
        assert_eq!(lane(&demo(str::to_string)), vec![(vip, 443, PROTO_UDP, "web6".to_string(), true), (vip, 443, PROTO_TCP, "web6".to_string(), true)]);
        let web6 = "port = 443\nprotocol = \"any\"\nbalance = \"flow-label\"";
        let verify = demo(|t| t.replace(web6, &format!("{web6}\nlabel_policy = \"verify\"")));
        assert_eq!(lane(&verify), lane(&demo(str::to_string)));
        // Labels ignored, or a five-tuple service: listed, not by label.
        let ignore = demo(|t| t.replace(web6, &format!("{web6}\nlabel_policy = \"ignore\"")));
        assert_eq!(lane(&ignore), vec![(vip, 443, PROTO_UDP, "web6".to_string(), false), (vip, 443, PROTO_TCP, "web6".to_string(), false)]);
        let five = demo(|t| t.replace(web6, &web6.replace("flow-label", "five-tuple")));
        assert_eq!(lane(&five), lane(&ignore));
        // Any port: not listed (the lane matches a port).
        assert!(lane(&demo(|t| t.replace(web6, &web6.replace("443", "0")))).is_empty());
        let tcp = demo(|t| t.replace(web6, &web6.replace("any", "tcp")));
        assert_eq!(lane(&tcp), vec![(vip, 443, PROTO_TCP, "web6".to_string(), true)]);
        // The demo's IPv4 five-tuple service (`coap`, the session lane's) is not in the first list.
        assert!(demo(str::to_string).services.iter().any(|s| !s.vip.v6 && s.balance == Balance::FiveTuple));
    }

    #[test]
    fn ipv6_fragment_lane_lists_the_label_services_that_trust_labels() {
        let lane = |s: &Snapshot| s.ipv6_fragment_lane.iter().map(|e| (e.vip, e.protocol, s.services[e.service as usize].name.clone())).collect::<Vec<_>>();
        let vip: [u8; 16] = "2001:db8::10".parse::<std::net::Ipv6Addr>().unwrap().octets();
        // The demo's `web6` (`trust`, the default), any protocol: UDP and TCP; its first
        // fragments are the IPv6 lane's too.
        let demo_lane = lane(&demo(str::to_string));
        assert_eq!(demo_lane, vec![(vip, PROTO_UDP, "web6".to_string()), (vip, PROTO_TCP, "web6".to_string())]);
        assert!(demo(str::to_string).ipv6_lane.iter().all(|e| e.fragments));
        let web6 = "port = 443\nprotocol = \"any\"\nbalance = \"flow-label\"";
        // `verify` and `ignore`: later fragments go by the fragment table, first ones too.
        for policy in ["verify", "ignore"] {
            let other = demo(|t| t.replace(web6, &format!("{web6}\nlabel_policy = \"{policy}\"")));
            assert!(lane(&other).is_empty(), "{policy}");
            assert!(!other.ipv6_lane.is_empty() && other.ipv6_lane.iter().all(|e| !e.fragments), "{policy}");
        }
        // Any port: listed (a later fragment has no port); TCP only: TCP.
        assert_eq!(lane(&demo(|t| t.replace(web6, &web6.replace("443", "0")))), demo_lane);
        assert_eq!(lane(&demo(|t| t.replace(web6, &web6.replace("any", "tcp")))), vec![(vip, PROTO_TCP, "web6".to_string())]);
        // A five-tuple service: not listed.
        assert!(lane(&demo(|t| t.replace(web6, &web6.replace("flow-label", "five-tuple")))).is_empty());
    }

    /// Node ids below 256 are read from the direct table, wider ones from the map; an id no
    /// node has is `None` either way.
    #[test]
    fn node_ids_give_the_index_of_narrow_and_wide_ids() {
        let mut ids = NodeIds::default();
        for (id, index) in [(0, 4), (255, 1), (256, 2), (70_000, 0), (u32::MAX, 3)] {
            ids.insert(id, index);
        }
        for (id, index) in [(0, Some(4)), (255, Some(1)), (256, Some(2)), (70_000, Some(0)), (u32::MAX, Some(3))] {
            assert_eq!(ids.get(id), index, "id {id}");
        }
        for id in [1, 254, 257, 69_999, u32::MAX - 1] {
            assert_eq!(ids.get(id), None, "id {id}");
        }
        let snapshot = demo(str::to_string);
        for (index, node) in snapshot.nodes.iter().enumerate() {
            assert_eq!(snapshot.node_ids.get(node.id), Some(index as u16));
        }
    }

    /// A CID names its node by one byte (the direct table) or by wider ids (the map, out of
    /// line): both give the node whose `id` the bytes spell, at the configured offset.
    #[test]
    fn node_for_cid_reads_one_byte_and_wider_ids() {
        let one = demo(str::to_string);
        let coaps = &one.services[0];
        let index_of = |s: &Snapshot, id: u32| s.nodes.iter().position(|n| n.id == id).map(|i| i as u16);
        assert_eq!(coaps.node_for_cid(&[2, 9, 9, 9, 9, 9]), index_of(&one, 2));
        assert_eq!(coaps.node_for_cid(&[3, 0, 0, 0, 0, 0]), index_of(&one, 3));
        assert_eq!(coaps.node_for_cid(&[9, 1, 1, 1, 1, 1]), None, "no node 9");
        assert_eq!(coaps.node_for_cid(&[]), None, "too short");
        let wide = demo(|t| t.replace("node_id_offset = 0\nnode_id_length = 1", "node_id_offset = 1\nnode_id_length = 2"));
        let coaps = &wide.services[0];
        assert!(coaps.cid_direct.is_empty());
        assert_eq!(coaps.node_for_cid(&[0xff, 0, 3, 0xff, 0xff, 0xff]), index_of(&wide, 3));
        assert_eq!(coaps.node_for_cid(&[0, 0, 1, 0, 0, 0]), index_of(&wide, 1));
        assert_eq!(coaps.node_for_cid(&[0, 1, 1, 0, 0, 0]), None, "id 257 names no node");
        assert_eq!(coaps.node_for_cid(&[0, 0]), None, "too short");
    }

    #[test]
    fn vip_table_linear_and_hashed_agree() {
        for count in [1usize, VipTable::LINEAR, VipTable::LINEAR + 1, 40] {
            let mut table = VipTable::default();
            for i in 0..count {
                table.add(v4(i as u8), i as u16);
                table.add(v4(i as u8), 100 + i as u16);
            }
            // The same 16 bytes in the other family is another address.
            let v6_twin = Address { bytes: v4(0).bytes, v6: true };
            table.add(v6_twin, 999);
            assert_eq!(table.len(), count + 1);
            for i in 0..count {
                assert_eq!(table.get(&v4(i as u8)), Some(&[i as u16, 100 + i as u16][..]), "{count} VIPs");
            }
            assert_eq!(table.get(&v6_twin), Some(&[999u16][..]));
            assert_eq!(table.get(&v4(200)), None);
            assert!(!table.contains_key(&Address { bytes: v4(1).bytes, v6: true }));
        }
    }
}

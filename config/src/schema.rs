//! The schema: one struct per TOML table. Names are the contract in DESIGN.md; every key is
//! documented in the README's configuration reference.

use crate::types::{DurationValue, MacAddr};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub eal: Eal,
    #[serde(default)]
    pub dataplane: Dataplane,
    #[serde(default)]
    pub control: Control,
    #[serde(default)]
    pub port: Vec<Port>,
    #[serde(default)]
    pub neighbor: Vec<Neighbor>,
    #[serde(default)]
    pub node: Vec<Node>,
    #[serde(default)]
    pub service: Vec<Service>,
}

/// DPDK Environment Abstraction Layer arguments.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Eal {
    /// Passed to `rte_eal_init` before any given after `--` on the command line. Must hold
    /// `--no-pci` or an allow-list (`-a`/`--allow`): cidlb never probes every PCI device.
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Dataplane {
    /// lcore ids, one worker each.
    pub workers: Vec<u32>,
    /// Core the control thread is pinned to; never a worker core.
    pub control_core: u32,
    /// Packets per rx/tx burst (1..=256).
    pub burst: u16,
    /// Idle timeout of a session (the seed's IPVS/conntrack 15 s).
    pub session_timeout: DurationValue,
    /// Session table capacity of each worker (rounded up to a power of two).
    pub sessions_per_worker: u32,
    /// Idle timeout of a fragment-table entry (zero-label / IPv4 fragments).
    pub fragment_timeout: DurationValue,
    /// Fragment table capacity of each worker.
    pub fragments_per_worker: u32,
    /// 16-byte key, 32 hex digits, for every keyed hash (Maglev, session tables). Equal on
    /// every balancer of a cluster so they agree. Absent: a random key per start.
    pub hash_key: Option<String>,
    /// mbufs in the packet pool of each port (per NUMA socket).
    pub mbufs: u32,
    /// Per-lcore mempool cache size.
    pub mbuf_cache: u32,
    /// RX and TX descriptor ring sizes.
    pub rx_descriptors: u16,
    pub tx_descriptors: u16,
    /// Longest a partly filled TX buffer waits before it is sent.
    pub drain_interval: DurationValue,
    /// Packets per worker that may wait for a neighbour to be resolved.
    pub pending_per_worker: u32,
    /// Outer TTL / hop limit of IP-in-IP packets.
    pub tunnel_ttl: u8,
    /// ICMP "fragmentation needed" / "packet too big" errors each worker may send per second.
    pub icmp_errors_per_second: u32,
}

impl Default for Dataplane {
    fn default() -> Self {
        Dataplane {
            workers: vec![1],
            control_core: 0,
            burst: 32,
            session_timeout: DurationValue::from_secs(15),
            sessions_per_worker: 1 << 20,
            fragment_timeout: DurationValue::from_secs(1),
            fragments_per_worker: 1 << 16,
            hash_key: None,
            mbufs: 16383,
            mbuf_cache: 256,
            rx_descriptors: 1024,
            tx_descriptors: 1024,
            drain_interval: DurationValue(std::time::Duration::from_micros(100)),
            pending_per_worker: 256,
            tunnel_ttl: 64,
            icmp_errors_per_second: 100,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Control {
    /// Prometheus text exposition address; loopback only by default. `"off"` (or `""`):
    /// no endpoint. (An absent key means the default, so "off" is how to disable it.)
    #[serde(deserialize_with = "metrics_address")]
    pub metrics: Option<SocketAddr>,
    /// Where `cidlb run` writes its pid, for `cidlb reload` and `cidlb stats`.
    pub pidfile: Option<PathBuf>,
    /// How often the control thread aggregates stats and runs its timers.
    pub tick: DurationValue,
}

/// `"off"`/`""` -> no endpoint; anything else must be a socket address.
fn metrics_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    match text.trim() {
        "" | "off" => Ok(None),
        address => address.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{text}` is not an address and port, like \"127.0.0.1:9781\" or \"[::1]:9781\" (or \"off\" for no endpoint)"
            ))
        }),
    }
}

impl Default for Control {
    fn default() -> Self {
        Control {
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], 9781))),
            pidfile: None,
            tick: DurationValue::from_millis(10),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub name: String,
    /// DPDK device name (`net_pcap0`, a vdev given in `[eal] args`) or PCI address.
    pub device: String,
    /// Overrides the device's MAC address.
    // A port needs `ipv4` or `ipv6` (or both): validation rejects one with neither.
    pub mac: Option<MacAddr>,
    pub ipv4: Option<Ipv4Net>,
    pub ipv6: Option<Ipv6Net>,
    /// Next hop toward clients.
    pub gateway4: Option<Ipv4Addr>,
    pub gateway6: Option<Ipv6Addr>,
    #[serde(default = "default_mtu")]
    pub mtu: u16,
}

fn default_mtu() -> u16 {
    1500
}

/// A static neighbour: overrides what ARP/ND would resolve.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Neighbor {
    pub ip: IpAddr,
    pub mac: MacAddr,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The node id carried in the CIDs this node issues.
    pub id: u32,
    pub address: IpAddr,
    /// Share of new sessions relative to the other nodes; 0 drains the node.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// No new sessions; existing ones continue until they age out.
    #[serde(default)]
    pub drain: bool,
    #[serde(default)]
    pub health: Health,
}

fn default_weight() -> u32 {
    1
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// An empty Confirmable CoAP message, answered by a Reset (RFC 7252 §4.3).
    CoapPing,
    /// A UDP datagram with `payload`, answered by one holding `expect`.
    Udp,
    /// ICMP / ICMPv6 echo.
    Icmp,
    /// Never probed: always up.
    #[default]
    None,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    pub probe: ProbeKind,
    /// UDP port probed; required by `coap-ping` and `udp`, rejected otherwise.
    pub port: Option<u16>,
    pub interval: DurationValue,
    pub timeout: DurationValue,
    /// Consecutive successes that bring a down node up.
    pub rise: u32,
    /// Consecutive failures that bring an up node down.
    pub fall: u32,
    /// `udp` probe: payload sent (hex).
    pub payload: Option<String>,
    /// `udp` probe: bytes the reply must contain (hex).
    pub expect: Option<String>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            probe: ProbeKind::None,
            port: None,
            interval: DurationValue::from_secs(1),
            timeout: DurationValue::from_millis(500),
            rise: 2,
            fall: 3,
            payload: None,
            expect: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Udp,
    Tcp,
    Any,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    DtlsCid,
    FiveTuple,
    FlowLabel,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownCid {
    #[default]
    Drop,
    Session,
}

/// What a `flow-label` service makes of non-zero flow labels (RFC 6437 §5: "stateful
/// classifiers should include explicit methods to detect and ignore suspect flow label values").
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LabelPolicy {
    /// `<source, destination, label>` is the session key of every labelled packet.
    #[default]
    Trust,
    /// A label is suspect when a packet carries it with a 5-tuple other than the flow that
    /// owns it (a constant label from a stack or middlebox, or an attacker steering many flows
    /// through one label): that packet takes the 5-tuple session path instead. Fragments
    /// follow their first fragment, as unlabelled ones do.
    Verify,
    /// Labels are never used: every packet takes the 5-tuple path (fragments the fragment
    /// table), as for a zero label.
    Ignore,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Forward {
    #[default]
    Nat,
    Ipip,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    pub vip: IpAddr,
    /// Destination port; 0 or absent matches every port (of `protocol`).
    #[serde(default)]
    pub port: u16,
    pub protocol: Protocol,
    pub balance: Balance,
    #[serde(default = "default_cid_length")]
    pub cid_length: u8,
    #[serde(default)]
    pub node_id_offset: u8,
    #[serde(default = "default_node_id_length")]
    pub node_id_length: u8,
    #[serde(default)]
    pub unknown_cid: UnknownCid,
    /// `flow-label` only: "trust" (the default), "verify" or "ignore"; see [`LabelPolicy`].
    #[serde(default)]
    pub label_policy: Option<LabelPolicy>,
    #[serde(default)]
    pub forward: Forward,
    /// NAT mode: port on the node (default: the service port).
    pub target_port: Option<u16>,
    pub nodes: Vec<u32>,
    /// Maglev lookup table size, a prime well above the node count.
    #[serde(default = "default_maglev_size")]
    pub maglev_table_size: u32,
}

fn default_cid_length() -> u8 {
    6
}
fn default_node_id_length() -> u8 {
    1
}
fn default_maglev_size() -> u32 {
    65537
}

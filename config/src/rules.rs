//! Semantic validation: the rules serde cannot express. Each rule reports the key an
//! operator must edit and says what to write instead.

use crate::locate::{KeyPath, Locator};
use crate::schema::{Balance, Config, Dataplane, Forward, Health, Node, Port, ProbeKind, Protocol, Service};
use crate::types::MacAddr;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Smallest and largest per-worker table capacity: below 16 a table thrashes, above 2^26
/// its memory (tens of GB with every worker) is surely a typo.
pub const TABLE_CAPACITY_MIN: u32 = 16;
pub const TABLE_CAPACITY_MAX: u32 = 1 << 26;
/// DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE.
pub const MBUF_CACHE_MAX: u32 = 512;
pub const DESCRIPTORS_MIN: u16 = 32;
pub const DESCRIPTORS_MAX: u16 = 32768;
pub const MAGLEV_TABLE_MAX: u32 = 1 << 24;
/// Maglev keeps each node's share within about 1% of its weight when the table is at
/// least this many times the node count (Maglev paper, §3.4 and §5.3).
pub const MAGLEV_ENTRIES_PER_NODE: u64 = 100;
pub const CID_LENGTH_MAX: u8 = 32;
pub const NODE_ID_LENGTH_MAX: u8 = 4;

type Problems = Vec<(KeyPath, String)>;

struct Checker<'c, 'l> {
    config: &'c Config,
    locator: &'l Locator<'l>,
    problems: &'c mut Problems,
}

pub(crate) fn check(config: &Config, locator: &Locator<'_>, problems: &mut Problems) {
    let mut checker = Checker { config, locator, problems };
    checker.eal();
    checker.dataplane();
    checker.control();
    checker.ports();
    checker.neighbors();
    checker.nodes();
    checker.services();
}

fn key(path: &str) -> KeyPath {
    KeyPath::parse(path)
}

/// Parses an even number of hex digits; `None` on anything else.
pub(crate) fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| {
            // from_str_radix alone would take a sign ("+f"); only hex digits are hex.
            let digits = std::str::from_utf8(pair).ok().filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))?;
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

pub(crate) fn is_prime(n: u32) -> bool {
    let n = u64::from(n);
    if n < 2 {
        return false;
    }
    let mut d = 2u64;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

fn next_prime(from: u64) -> u64 {
    let mut n = from.max(2);
    while !is_prime(u32::try_from(n).unwrap_or(u32::MAX)) && n < u64::from(u32::MAX) {
        n += 1;
    }
    n
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// fe80::/10: on-link by definition, so valid as a gateway or neighbour on any port.
fn is_link_local_v6(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Udp => "udp",
        Protocol::Tcp => "tcp",
        Protocol::Any => "any",
    }
}

impl Checker<'_, '_> {
    fn report(&mut self, path: impl AsRef<str>, message: impl Into<String>) {
        self.problems.push((key(path.as_ref()), message.into()));
    }

    /// "service[0], line 12": where the other half of a conflict is.
    fn at(&self, path: &str) -> String {
        match self.locator.line_of(&key(path)) {
            Some(line) => format!("{path}, line {line}"),
            None => path.to_string(),
        }
    }

    fn eal(&mut self) {
        let args = &self.config.eal.args;
        let mut allow_list = false;
        let mut no_pci = false;
        let mut i = 0;
        while i < args.len() {
            let arg = args[i].as_str();
            match arg {
                "--no-pci" => no_pci = true,
                "-a" | "--allow" => {
                    // The address is the next argument; a trailing `-a` would make EAL fail
                    // with a less helpful message, or swallow the next option.
                    match args.get(i + 1) {
                        Some(next) if !next.starts_with('-') && !next.is_empty() => allow_list = true,
                        _ => self.report(format!("eal.args[{i}]"), format!("`{arg}` needs a PCI address after it, like [\"{arg}\", \"0000:03:00.0\"]")),
                    }
                    i += 1;
                }
                "-w" | "--pci-whitelist" => self.report(
                    format!("eal.args[{i}]"),
                    format!("`{arg}` was removed in DPDK 20.11; use `-a` (allow-list) with the PCI address instead"),
                ),
                _ if arg.starts_with("--allow=") && arg.len() > "--allow=".len() => allow_list = true,
                _ if arg.starts_with("-a") && !arg.starts_with("--") && arg.len() > 2 => allow_list = true,
                _ => {}
            }
            i += 1;
        }
        if !no_pci && !allow_list {
            self.report(
                "eal.args",
                "must contain \"--no-pci\" or a PCI allow-list (\"-a\", \"0000:03:00.0\" or \"--allow=0000:03:00.0\"): \
                 without one DPDK probes every PCI device and may take over the host's own NIC",
            );
        }
    }

    fn dataplane(&mut self) {
        let dp: &Dataplane = &self.config.dataplane;
        if dp.workers.is_empty() {
            self.report("dataplane.workers", "needs at least one lcore id, like [1]: packets are only processed by workers");
        }
        let mut seen: HashMap<u32, usize> = HashMap::new();
        for (i, &core) in dp.workers.iter().enumerate() {
            if let Some(first) = seen.insert(core, i) {
                self.report(
                    format!("dataplane.workers[{i}]"),
                    format!("lcore {core} is listed twice (also workers[{first}]); each worker needs its own core"),
                );
            }
        }
        if dp.workers.contains(&dp.control_core) {
            self.report(
                "dataplane.control_core",
                format!(
                    "core {} is also a worker core; the control thread must run off the workers' cores \
                     (a busy-polling worker would starve it), so pick a core not in `workers`",
                    dp.control_core
                ),
            );
        }
        if !(1..=256).contains(&dp.burst) {
            self.report("dataplane.burst", format!("{} is out of range: use 1..=256 packets (32 is usual)", dp.burst));
        }
        if dp.session_timeout.0.is_zero() {
            self.report("dataplane.session_timeout", "must be longer than zero, like \"15s\": sessions would expire at once");
        }
        if dp.fragment_timeout.0.is_zero() {
            self.report("dataplane.fragment_timeout", "must be longer than zero, like \"1s\": fragments would never meet");
        }
        for (name, value) in [("sessions_per_worker", dp.sessions_per_worker), ("fragments_per_worker", dp.fragments_per_worker)] {
            if !(TABLE_CAPACITY_MIN..=TABLE_CAPACITY_MAX).contains(&value) {
                self.report(
                    format!("dataplane.{name}"),
                    format!("{value} is out of range: use {TABLE_CAPACITY_MIN}..={TABLE_CAPACITY_MAX} (2^26) entries per worker"),
                );
            }
        }
        if let Some(hash_key) = &dp.hash_key {
            if hash_key.len() != 32 || parse_hex(hash_key).is_none() {
                self.report(
                    "dataplane.hash_key",
                    format!(
                        "`{hash_key}` is not a 16-byte key: write exactly 32 hex digits, like \"000102030405060708090a0b0c0d0e0f\" \
                         (e.g. from `openssl rand -hex 16`), the same on every balancer"
                    ),
                );
            }
        }
        for (name, value) in [("rx_descriptors", dp.rx_descriptors), ("tx_descriptors", dp.tx_descriptors)] {
            if !value.is_power_of_two() || !(DESCRIPTORS_MIN..=DESCRIPTORS_MAX).contains(&value) {
                self.report(
                    format!("dataplane.{name}"),
                    format!("{value} must be a power of two in {DESCRIPTORS_MIN}..={DESCRIPTORS_MAX}, like 1024: NIC rings are sized in powers of two"),
                );
            } else if value < dp.burst {
                self.report(
                    format!("dataplane.{name}"),
                    format!("{value} descriptors cannot hold one burst of {}; use at least the burst size", dp.burst),
                );
            }
        }
        if dp.mbuf_cache > MBUF_CACHE_MAX {
            self.report("dataplane.mbuf_cache", format!("{} is above DPDK's limit of {MBUF_CACHE_MAX} mbufs per lcore cache", dp.mbuf_cache));
        }
        let ports = self.config.port.len().max(1) as u64;
        let workers = dp.workers.len().max(1) as u64;
        let rings = ports * workers * (u64::from(dp.rx_descriptors) + u64::from(dp.tx_descriptors));
        let in_flight = workers * (u64::from(dp.burst) + u64::from(dp.pending_per_worker));
        let caches = (workers + 1) * u64::from(dp.mbuf_cache);
        let needed = rings + in_flight + caches;
        if u64::from(dp.mbufs) < needed {
            self.report(
                "dataplane.mbufs",
                format!(
                    "{} mbufs are too few: every RX and TX ring can hold its descriptors' worth of mbufs at once, \
                     so the pool needs at least ports × workers × (rx_descriptors + tx_descriptors) \
                     + workers × (burst + pending_per_worker) + (workers + 1) × mbuf_cache \
                     = {ports} × {workers} × ({} + {}) + {workers} × ({} + {}) + {} × {} = {needed}; \
                     use {needed} or more (2^n − 1 is the most memory-efficient size)",
                    dp.mbufs, dp.rx_descriptors, dp.tx_descriptors, dp.burst, dp.pending_per_worker, workers + 1, dp.mbuf_cache
                ),
            );
        } else if u64::from(dp.mbuf_cache) * 3 > u64::from(dp.mbufs) * 2 {
            // rte_mempool_create rejects a cache larger than n / 1.5.
            self.report("dataplane.mbuf_cache", format!("{} is more than mbufs / 1.5; DPDK rejects such a pool", dp.mbuf_cache));
        }
        if dp.tunnel_ttl == 0 {
            self.report("dataplane.tunnel_ttl", "must be at least 1: routers drop packets whose TTL is 0; 64 is usual");
        }
    }

    fn control(&mut self) {
        if self.config.control.tick.0.is_zero() {
            self.report("control.tick", "must be longer than zero, like \"10ms\": the control thread would spin");
        }
    }

    fn ports(&mut self) {
        let ports = &self.config.port;
        if ports.is_empty() {
            self.report("port", "no [[port]] is configured; add at least one, e.g. [[port]] name = \"net0\" device = \"net_pcap0\" ipv4 = \"192.0.2.1/24\"");
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut devices: HashMap<&str, usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, String> = HashMap::new();
        for (i, port) in ports.iter().enumerate() {
            let p = format!("port[{i}]");
            if port.name.trim().is_empty() {
                self.report(format!("{p}.name"), "must not be empty: logs and metrics name the port by it");
            } else if let Some(first) = names.insert(port.name.as_str(), i) {
                let other = self.at(&format!("port[{first}].name"));
                self.report(format!("{p}.name"), format!("port name `{}` is already used by {other}; names must be unique", port.name));
            }
            if port.device.trim().is_empty() {
                self.report(format!("{p}.device"), "must name a DPDK device (like \"net_pcap0\") or a PCI address");
            } else if let Some(first) = devices.insert(port.device.as_str(), i) {
                let other = self.at(&format!("port[{first}].device"));
                self.report(format!("{p}.device"), format!("device `{}` is already used by {other}; one [[port]] per device", port.device));
            }
            if let Some(mac) = port.mac {
                self.check_unicast_mac(&format!("{p}.mac"), mac);
            }
            let mtu_min = if port.ipv6.is_some() { 1280 } else { 576 };
            if !(mtu_min..=9000).contains(&port.mtu) {
                let why = if port.ipv6.is_some() { " (IPv6 needs 1280, RFC 8200 §5)" } else { "" };
                self.report(format!("{p}.mtu"), format!("{} is out of range: use {mtu_min}..=9000{why}", port.mtu));
            }
            if port.ipv4.is_none() && port.ipv6.is_none() {
                self.report(
                    format!("{p}.ipv4"),
                    "a port needs `ipv4` or `ipv6` (or both): the balancer answers ARP/ND and sends probes from that address",
                );
            }
            self.port_addresses(i, port, &mut addresses);
        }
    }

    fn port_addresses(&mut self, i: usize, port: &Port, addresses: &mut HashMap<IpAddr, String>) {
        let p = format!("port[{i}]");
        if let Some(net) = port.ipv4 {
            let address = net.addr();
            if net.prefix_len() < 31 && (address == net.network() || address == net.broadcast()) {
                self.report(
                    format!("{p}.ipv4"),
                    format!("{address} is the network or broadcast address of {}; give the port a host address", net.trunc()),
                );
            }
            if address.is_unspecified() || address.is_multicast() || address.is_broadcast() {
                self.report(format!("{p}.ipv4"), format!("{address} cannot be a port's address; use a unicast address"));
            }
            self.unique_address(&format!("{p}.ipv4"), IpAddr::V4(address), addresses);
        }
        if let Some(net) = port.ipv6 {
            let address = net.addr();
            if address.is_unspecified() || address.is_multicast() {
                self.report(format!("{p}.ipv6"), format!("{address} cannot be a port's address; use a unicast address"));
            }
            self.unique_address(&format!("{p}.ipv6"), IpAddr::V6(address), addresses);
        }
        match (port.gateway4, port.ipv4) {
            (Some(gateway), None) => self.report(
                format!("{p}.gateway4"),
                format!("gateway {gateway} needs an `ipv4` prefix on this port: the gateway must be on the port's link"),
            ),
            (Some(gateway), Some(net)) if !net.contains(&gateway) || gateway == net.addr() => self.report(
                format!("{p}.gateway4"),
                if gateway == net.addr() {
                    format!("gateway {gateway} is the port's own address; name the router on {}", net.trunc())
                } else {
                    format!(
                        "gateway {gateway} is outside the port's prefix {}; an off-link gateway never resolves by ARP, \
                         so use the router's address on {}",
                        net.trunc(),
                        net.trunc()
                    )
                },
            ),
            _ => {}
        }
        match (port.gateway6, port.ipv6) {
            (Some(gateway), _) if is_link_local_v6(&gateway) => {}
            (Some(gateway), None) => self.report(
                format!("{p}.gateway6"),
                format!("gateway {gateway} needs an `ipv6` prefix on this port (or use the router's fe80:: link-local address)"),
            ),
            (Some(gateway), Some(net)) if !net.contains(&gateway) || gateway == net.addr() => self.report(
                format!("{p}.gateway6"),
                if gateway == net.addr() {
                    format!("gateway {gateway} is the port's own address; name the router on {}", net.trunc())
                } else {
                    format!(
                        "gateway {gateway} is outside the port's prefix {}; an off-link gateway never resolves by ND, \
                         so use the router's address on {} or its fe80:: link-local address",
                        net.trunc(),
                        net.trunc()
                    )
                },
            ),
            _ => {}
        }
    }

    fn unique_address(&mut self, path: &str, address: IpAddr, addresses: &mut HashMap<IpAddr, String>) {
        if let Some(first) = addresses.get(&address) {
            let other = self.at(first);
            self.report(path, format!("{address} is already configured on {other}; each address belongs to one port"));
        } else {
            addresses.insert(address, path.to_string());
        }
    }

    fn check_unicast_mac(&mut self, path: &str, mac: MacAddr) {
        if mac == MacAddr::ZERO || mac.is_multicast() {
            self.report(
                path,
                format!("{mac} is not a unicast MAC address (zero, or the group bit is set); use one like 02:00:00:00:00:01"),
            );
        }
    }

    /// The port whose prefix holds `ip`, if any (link-local IPv6 is on every port).
    fn on_link(&self, ip: IpAddr) -> bool {
        self.config.port.iter().any(|port| match ip {
            IpAddr::V4(v4) => port.ipv4.is_some_and(|net| net.contains(&v4)),
            IpAddr::V6(v6) => is_link_local_v6(&v6) || port.ipv6.is_some_and(|net| net.contains(&v6)),
        })
    }

    fn port_address_owner(&self, ip: IpAddr) -> Option<String> {
        self.config.port.iter().enumerate().find_map(|(i, port)| match ip {
            IpAddr::V4(v4) if port.ipv4.is_some_and(|net| net.addr() == v4) => Some(format!("port[{i}].ipv4")),
            IpAddr::V6(v6) if port.ipv6.is_some_and(|net| net.addr() == v6) => Some(format!("port[{i}].ipv6")),
            _ => None,
        })
    }

    fn neighbors(&mut self) {
        let mut seen: HashMap<IpAddr, usize> = HashMap::new();
        for (i, neighbor) in self.config.neighbor.iter().enumerate() {
            let p = format!("neighbor[{i}]");
            if let Some(first) = seen.insert(neighbor.ip, i) {
                let other = self.at(&format!("neighbor[{first}].ip"));
                self.report(format!("{p}.ip"), format!("{} already has a static entry at {other}; keep one", neighbor.ip));
            } else if !self.config.port.is_empty() && !self.on_link(neighbor.ip) {
                self.report(
                    format!("{p}.ip"),
                    format!("{} is not inside any port's prefix; a static neighbour must be on a port's link", neighbor.ip),
                );
            } else if let Some(owner) = self.port_address_owner(neighbor.ip) {
                let other = self.at(&owner);
                self.report(format!("{p}.ip"), format!("{} is the balancer's own address ({other})", neighbor.ip));
            }
            self.check_unicast_mac(&format!("{p}.mac"), neighbor.mac);
        }
    }

    fn nodes(&mut self) {
        let mut ids: HashMap<u32, usize> = HashMap::new();
        let mut addresses: HashMap<IpAddr, usize> = HashMap::new();
        for (i, node) in self.config.node.iter().enumerate() {
            let p = format!("node[{i}]");
            if let Some(first) = ids.insert(node.id, i) {
                let other = self.at(&format!("node[{first}].id"));
                self.report(format!("{p}.id"), format!("node id {} is already used by {other}; node ids must be unique", node.id));
            }
            self.node_id_fits(i, node);
            if let Some(first) = addresses.insert(node.address, i) {
                let other = self.at(&format!("node[{first}].address"));
                self.report(format!("{p}.address"), format!("{} is already the address of {other}; list each node once", node.address));
            }
            if let Some(owner) = self.port_address_owner(node.address) {
                let other = self.at(&owner);
                self.report(format!("{p}.address"), format!("{} is the balancer's own address ({other}), not a node's", node.address));
            }
            if node.address.is_unspecified() || node.address.is_multicast() || node.address == IpAddr::V4(Ipv4Addr::BROADCAST) {
                self.report(format!("{p}.address"), format!("{} is not a unicast address", node.address));
            }
            self.health(&format!("{p}.health"), &node.health);
        }
    }

    /// RFC 9146 CIDs carry the node id in `node_id_length` bytes: an id that does not fit
    /// can never be routed to by CID in that service.
    fn node_id_fits(&mut self, i: usize, node: &Node) {
        for (s, service) in self.config.service.iter().enumerate() {
            if service.balance != Balance::DtlsCid || !service.nodes.contains(&node.id) {
                continue;
            }
            let length = service.node_id_length;
            if !(1..=NODE_ID_LENGTH_MAX).contains(&length) {
                continue; // reported on the service
            }
            let max = if length >= 4 { u64::from(u32::MAX) } else { (1u64 << (8 * u32::from(length))) - 1 };
            if u64::from(node.id) > max {
                let other = self.at(&format!("service[{s}].node_id_length"));
                self.report(
                    format!("node[{i}].id"),
                    format!(
                        "node id {} does not fit in the {length}-byte node id of dtls-cid service `{}` ({other}), \
                         which holds 0..={max}; use a smaller id or a longer node_id_length",
                        node.id, service.name
                    ),
                );
            }
        }
    }

    fn health(&mut self, p: &str, health: &Health) {
        if health.probe == ProbeKind::None {
            if health.port.is_some() || health.payload.is_some() || health.expect.is_some() {
                let which = if health.port.is_some() { "port" } else if health.payload.is_some() { "payload" } else { "expect" };
                self.report(
                    format!("{p}.{which}"),
                    "is set but no `probe` is chosen, so the node is never probed; set probe = \"coap-ping\", \"udp\" or \"icmp\"",
                );
            }
            return;
        }
        if health.timeout.0.is_zero() {
            self.report(format!("{p}.timeout"), "must be longer than zero, like \"500ms\"");
        } else if health.interval.0 <= health.timeout.0 {
            self.report(
                format!("{p}.interval"),
                format!(
                    "{} must be longer than the timeout ({}): a probe must time out before the next one is sent",
                    humantime::format_duration(health.interval.0),
                    humantime::format_duration(health.timeout.0)
                ),
            );
        }
        if health.rise == 0 {
            self.report(format!("{p}.rise"), "must be at least 1 (successes before a node counts as up)");
        }
        if health.fall == 0 {
            self.report(format!("{p}.fall"), "must be at least 1 (failures before a node counts as down)");
        }
        match health.probe {
            ProbeKind::CoapPing | ProbeKind::Udp => match health.port {
                None => self.report(
                    format!("{p}.port"),
                    format!(
                        "a `{}` probe needs the node's UDP `port`, like port = 5683",
                        if health.probe == ProbeKind::Udp { "udp" } else { "coap-ping" }
                    ),
                ),
                Some(0) => self.report(format!("{p}.port"), "port 0 cannot be probed; give the node's UDP port"),
                Some(_) => {}
            },
            _ => {
                if health.port.is_some() {
                    self.report(format!("{p}.port"), "only `coap-ping` and `udp` probes use a port; remove it for icmp");
                }
            }
        }
        for (name, value) in [("payload", &health.payload), ("expect", &health.expect)] {
            let Some(value) = value else { continue };
            if health.probe != ProbeKind::Udp {
                self.report(format!("{p}.{name}"), format!("`{name}` is only used by probe = \"udp\"; remove it or change the probe"));
            } else if parse_hex(value).is_none() {
                self.report(
                    format!("{p}.{name}"),
                    format!("`{value}` is not hex bytes: write an even number of hex digits without separators, like \"68656c6c6f\""),
                );
            }
        }
    }

    fn services(&mut self) {
        let services = &self.config.service;
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, service) in services.iter().enumerate() {
            let p = format!("service[{i}]");
            if service.name.trim().is_empty() {
                self.report(format!("{p}.name"), "must not be empty: logs and metrics name the service by it");
            } else if let Some(first) = names.insert(service.name.as_str(), i) {
                let other = self.at(&format!("service[{first}].name"));
                self.report(format!("{p}.name"), format!("service name `{}` is already used by {other}; names must be unique", service.name));
            }
            for (j, earlier) in services[..i].iter().enumerate() {
                if overlaps(earlier, service) {
                    let other = self.at(&format!("service[{j}].vip"));
                    self.report(
                        format!("{p}.vip"),
                        format!(
                            "{} overlaps service `{}` ({other}): both take {}; give one another vip, port or protocol \
                             (port 0 matches every port, protocol \"any\" both tcp and udp)",
                            endpoint(service),
                            earlier.name,
                            shared(earlier, service)
                        ),
                    );
                }
            }
            self.vip(i, service);
            self.service_nodes(i, service);
            self.balance(i, service);
            self.maglev(i, service);
            if let Some(target) = service.target_port {
                if target == 0 {
                    self.report(format!("{p}.target_port"), "port 0 is not a destination; remove target_port to keep the service port");
                } else if service.forward == Forward::Ipip {
                    self.report(
                        format!("{p}.target_port"),
                        "only forward = \"nat\" rewrites the port; IP-in-IP delivers the packet unchanged, so remove target_port",
                    );
                }
            }
        }
    }

    fn vip(&mut self, i: usize, service: &Service) {
        let p = format!("service[{i}]");
        let vip = service.vip;
        if vip.is_unspecified() || vip.is_multicast() || vip == IpAddr::V4(Ipv4Addr::BROADCAST) {
            self.report(format!("{p}.vip"), format!("{vip} cannot be a VIP; use a unicast address"));
        } else if let Some(owner) = self.port_address_owner(vip) {
            let other = self.at(&owner);
            self.report(
                format!("{p}.vip"),
                format!("{vip} is a port address ({other}); a VIP must be an address of its own so the balancer can tell them apart"),
            );
        } else if let Some(n) = self.config.node.iter().position(|node| node.address == vip) {
            let other = self.at(&format!("node[{n}].address"));
            self.report(format!("{p}.vip"), format!("{vip} is the address of node {} ({other}); a VIP cannot be a node", self.config.node[n].id));
        }
    }

    fn service_nodes(&mut self, i: usize, service: &Service) {
        let p = format!("service[{i}]");
        if service.nodes.is_empty() {
            self.report(format!("{p}.nodes"), "lists no nodes; give the ids of the [[node]] entries that serve it, like nodes = [1, 2]");
            return;
        }
        let mut seen: HashMap<u32, usize> = HashMap::new();
        for (k, &id) in service.nodes.iter().enumerate() {
            if let Some(first) = seen.insert(id, k) {
                self.report(format!("{p}.nodes[{k}]"), format!("node {id} is listed twice (also nodes[{first}]); use `weight` to give it a bigger share"));
                continue;
            }
            let Some((n, node)) = self.config.node.iter().enumerate().find(|(_, node)| node.id == id) else {
                let known: Vec<String> = self.config.node.iter().map(|node| node.id.to_string()).collect();
                let known = if known.is_empty() { "none are configured".to_string() } else { format!("configured ids: {}", known.join(", ")) };
                self.report(format!("{p}.nodes[{k}]"), format!("no [[node]] has id {id} ({known}); add the node or fix the id"));
                continue;
            };
            if service.forward == Forward::Nat && node.address.is_ipv4() != service.vip.is_ipv4() {
                let other = self.at(&format!("node[{n}].address"));
                self.report(
                    format!("{p}.nodes[{k}]"),
                    format!(
                        "node {id} has an {} address ({}, {other}) but the VIP {} is {}: NAT cannot translate between \
                         families; use forward = \"ipip\" or a node of the VIP's family",
                        family(&node.address),
                        node.address,
                        service.vip,
                        family(&service.vip)
                    ),
                );
            }
        }
    }

    fn balance(&mut self, i: usize, service: &Service) {
        let p = format!("service[{i}]");
        match service.balance {
            Balance::DtlsCid => {
                if service.protocol == Protocol::Tcp {
                    self.report(
                        format!("{p}.protocol"),
                        "balance = \"dtls-cid\" routes DTLS over UDP; use protocol = \"udp\" (or balance = \"five-tuple\" for TCP)",
                    );
                }
                // RFC 9146 allows CIDs up to 255 bytes; deployed stacks (Californium, Mbed
                // TLS) issue short ones, and a long one is most likely a typo.
                if !(1..=CID_LENGTH_MAX).contains(&service.cid_length) {
                    self.report(
                        format!("{p}.cid_length"),
                        format!("{} is out of range: use 1..={CID_LENGTH_MAX} bytes, the length of the CIDs the nodes issue (Californium: 6)", service.cid_length),
                    );
                }
                if !(1..=NODE_ID_LENGTH_MAX).contains(&service.node_id_length) {
                    self.report(
                        format!("{p}.node_id_length"),
                        format!("{} is out of range: use 1..={NODE_ID_LENGTH_MAX} bytes (1 holds ids 0..=255)", service.node_id_length),
                    );
                } else if u16::from(service.node_id_offset) + u16::from(service.node_id_length) > u16::from(service.cid_length)
                    && (1..=CID_LENGTH_MAX).contains(&service.cid_length)
                {
                    self.report(
                        format!("{p}.node_id_offset"),
                        format!(
                            "the node id (offset {} + length {}) ends past the {}-byte CID; node_id_offset + node_id_length must be at most cid_length",
                            service.node_id_offset, service.node_id_length, service.cid_length
                        ),
                    );
                }
            }
            Balance::FlowLabel => {
                if !service.vip.is_ipv6() {
                    self.report(
                        format!("{p}.balance"),
                        format!("flow-label balancing needs an IPv6 VIP (IPv4 has no flow label) but vip is {}; use five-tuple", service.vip),
                    );
                }
            }
            Balance::FiveTuple => {}
        }
        if service.label_policy.is_some() && service.balance != Balance::FlowLabel {
            self.report(
                format!("{p}.label_policy"),
                "label_policy applies to balance = \"flow-label\" only; remove it here",
            );
        }
    }

    fn maglev(&mut self, i: usize, service: &Service) {
        let p = format!("service[{i}].maglev_table_size");
        let size = service.maglev_table_size;
        let wanted = MAGLEV_ENTRIES_PER_NODE * service.nodes.len() as u64;
        if size > MAGLEV_TABLE_MAX {
            self.report(&p, format!("{size} is above the limit of {MAGLEV_TABLE_MAX} entries; 65537 suits up to 655 nodes"));
        } else if u64::from(size) < wanted {
            self.report(
                &p,
                format!(
                    "{size} is too small for {} nodes: Maglev needs at least 100 × the node count ({wanted}) entries \
                     to keep each node's share near its weight; use the prime {}",
                    service.nodes.len(),
                    next_prime(wanted)
                ),
            );
        } else if !is_prime(size) {
            self.report(
                &p,
                format!("{size} is not prime: Maglev's permutations only cover the table when its size is prime; use {}", next_prime(u64::from(size))),
            );
        }
    }
}

fn protocols_overlap(a: Protocol, b: Protocol) -> bool {
    a == b || a == Protocol::Any || b == Protocol::Any
}

fn overlaps(a: &Service, b: &Service) -> bool {
    a.vip == b.vip && protocols_overlap(a.protocol, b.protocol) && (a.port == 0 || b.port == 0 || a.port == b.port)
}

/// `192.0.2.10:5684/udp`, `[2001:db8::10]:*/any`.
pub(crate) fn endpoint(service: &Service) -> String {
    let port = if service.port == 0 { "*".to_string() } else { service.port.to_string() };
    match service.vip {
        IpAddr::V4(v4) => format!("{v4}:{port}/{}", protocol_name(service.protocol)),
        IpAddr::V6(v6) => format!("[{v6}]:{port}/{}", protocol_name(service.protocol)),
    }
}

/// What two overlapping services both match, for the message.
fn shared(a: &Service, b: &Service) -> String {
    let protocol = if a.protocol == Protocol::Any { b.protocol } else { a.protocol };
    let port = if a.port == 0 { b.port } else { a.port };
    let port = if port == 0 { "every port".to_string() } else { format!("port {port}") };
    let protocol = if protocol == Protocol::Any { "tcp and udp".to_string() } else { protocol_name(protocol).to_string() };
    format!("{protocol} to {} {port}", a.vip)
}

impl Dataplane {
    /// The 16-byte hash key, when `hash_key` is set and valid (validation guarantees it is
    /// on a parsed config). `None`: the caller draws a random key.
    pub fn hash_key_bytes(&self) -> Option<[u8; 16]> {
        let text = self.hash_key.as_deref()?;
        parse_hex(text)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes() {
        assert!(is_prime(65537));
        assert!(is_prime(2));
        assert!(!is_prime(1));
        assert!(!is_prime(65536));
        assert_eq!(next_prime(100), 101);
        assert_eq!(next_prime(65536), 65537);
    }

    #[test]
    fn hex() {
        assert_eq!(parse_hex("00ff"), Some(vec![0, 255]));
        assert_eq!(parse_hex(""), Some(vec![]));
        assert_eq!(parse_hex("0"), None);
        assert_eq!(parse_hex("+f"), None);
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex("é"), None);
    }
}

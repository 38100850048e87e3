//! cidlb control plane: the thread operators touch. It owns the config, publishes immutable
//! snapshots to the workers, resolves neighbours through the data path (ARP and ND packets
//! travel over the workers' lock-free rings), and aggregates stats.
//!
//! The same [`Control`] drives `cidlb run` (on its own pinned thread) and `cidlb replay`
//! (between bursts), so neighbour learning and health checks behave the same in both.
//!
//! - [`health`]: in-band probes (CoAP ping, UDP, ICMP echo) sent by a worker through the
//!   DPDK port, replies handed back over the rings; a pure state machine per node.
//! - [`Control::reload`]: a validated config becomes a new immutable snapshot that workers
//!   adopt between bursts; keys that need a restart are refused ([`reload`]).
//! - [`metrics`]: Prometheus text exposition, its HTTP endpoint and the `cidlb stats` client.
#![forbid(unsafe_code)]

pub mod health;
pub mod metrics;
pub mod neighbors;
pub mod reload;
pub mod stats;

use cidlb_config::{Config, MacAddr};
use cidlb_dataplane::counters::{DropReason, PortCounters, WorkerCounters, MAX_NODES, MAX_SERVICES};
use cidlb_dataplane::snapshot::{NodeState, RuntimeState, Snapshot, SnapshotSource};
use cidlb_dataplane::wire;
use cidlb_dataplane::wire::build::PacketBuilder;
use cidlb_dataplane::worker::{ControlPacket, ControlRings};
use health::{HealthChecker, ProbePacket, ProbeRequest, Transition};
use metrics::{Exposition, LatencySummary};
use neighbors::NeighborResolver;
use reload::RestartOnly;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// Why a reload was not applied. The running config stays in every case.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("the new config is invalid ({} error(s)): {}", .0.len(), join(.0))]
    Invalid(Vec<cidlb_config::ConfigError>),
    #[error("the new config changes what only a restart can: {}", join(.0))]
    RestartRequired(Vec<RestartOnly>),
    #[error("the new config cannot be applied: {0}")]
    Rejected(String),
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(T::to_string).collect::<Vec<_>>().join("; ")
}

/// What an applied reload changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reloaded {
    pub generation: u64,
    pub nodes_added: Vec<u32>,
    pub nodes_removed: Vec<u32>,
    pub services: usize,
}

/// Reload outcomes, for the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReloadCounters {
    pub applied: u64,
    pub invalid: u64,
    pub refused: u64,
}

/// One worker's counters as the control thread reads them (stats and metrics).
#[derive(Clone)]
pub struct WorkerRef {
    pub id: u16,
    pub lcore: u32,
    pub counters: Arc<WorkerCounters>,
    /// This worker's block for each port, in port order.
    pub ports: Vec<Arc<PortCounters>>,
}

/// A port's device counters for the metrics (DPDK ports only).
pub use stats::DeviceStats;

pub struct Control {
    config: Config,
    port_macs: Vec<MacAddr>,
    hash_key: [u8; 16],
    generation: u64,
    source: Arc<SnapshotSource>,
    rings: Vec<Arc<ControlRings>>,
    runtime: RuntimeState,
    neighbors: NeighborResolver,
    health: HealthChecker,
    workers: Vec<WorkerRef>,
    /// TSC frequency, to turn burst cycles into seconds (DPDK runs only).
    tsc_hz: Option<u64>,
    pub reloads: ReloadCounters,
    /// Packets from workers that were neither ARP/ND nor a probe reply.
    pub unhandled_packets: u64,
    /// Probes that could not be handed to a worker (no route, next hop unresolved, ring full).
    pub probes_unsent: u64,
    /// Time of the first poll (for the uptime metric).
    started_at: Option<u64>,
    last_now: u64,
}

impl Control {
    /// Build the first snapshot from a validated config and the ports' MACs.
    pub fn new(config: Config, port_macs: Vec<MacAddr>) -> Result<Self, String> {
        let hash_key = match config.dataplane.hash_key_bytes() {
            Some(key) => key,
            None => {
                tracing::warn!("no [dataplane] hash_key: using a random key; balancers of a cluster will not agree on Maglev choices");
                cidlb_dataplane::snapshot::random_key()
            }
        };
        let runtime = RuntimeState::default();
        let first = Snapshot::build_with(&config, &port_macs, 1, hash_key, &runtime)?;
        let mut neighbors = NeighborResolver::default();
        neighbors.set_wanted(first.wanted_neighbors());
        // Probed nodes start up: a fresh balancer serves at once, and a dead node goes down
        // after `fall` failed probes (health module docs).
        let health = HealthChecker::new(&config);
        Ok(Control {
            config,
            port_macs,
            hash_key,
            generation: 1,
            source: Arc::new(SnapshotSource::new(first)),
            rings: Vec::new(),
            runtime,
            neighbors,
            health,
            workers: Vec::new(),
            tsc_hz: None,
            reloads: ReloadCounters::default(),
            unhandled_packets: 0,
            probes_unsent: 0,
            started_at: None,
            last_now: 0,
        })
    }

    /// Register a worker's counters for stats and metrics.
    pub fn attach_worker(&mut self, worker: WorkerRef) {
        self.workers.push(worker);
    }

    pub fn workers(&self) -> &[WorkerRef] {
        &self.workers
    }

    /// The TSC frequency, to report burst latency in seconds as well as cycles.
    pub fn set_tsc_hz(&mut self, hz: u64) {
        self.tsc_hz = Some(hz);
    }

    pub fn health(&self) -> &HealthChecker {
        &self.health
    }

    /// The snapshot workers use now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.source.load()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Read, validate and apply a config file (SIGHUP). Every error is logged with its key
    /// and line; on any error the running config stays.
    pub fn reload_file(&mut self, path: &Path) -> Result<Reloaded, ReloadError> {
        match cidlb_config::load_all(path) {
            Ok(config) => self.reload(config),
            Err(errors) => {
                self.reloads.invalid += 1;
                for e in &errors {
                    tracing::error!(file = %e.file, line = e.line.unwrap_or(0), key = %e.key, "reload: {e}");
                }
                tracing::error!(file = %path.display(), errors = errors.len(), "reload refused: the config is invalid; the running config stays");
                Err(ReloadError::Invalid(errors))
            }
        }
    }

    /// Apply a validated config: a new immutable snapshot, built with the same hash key unless
    /// the config sets one, the health of nodes that still exist, and the neighbours resolved
    /// so far. Workers adopt it between bursts (RCU); sessions keep their nodes while those
    /// exist (sessions store node ids). Keys that need a restart are refused, naming the key.
    pub fn reload(&mut self, next: Config) -> Result<Reloaded, ReloadError> {
        let restart = reload::restart_only_changes(&self.config, &next);
        if !restart.is_empty() {
            self.reloads.refused += 1;
            for r in &restart {
                tracing::error!(key = %r.key, "reload: {r}");
            }
            tracing::error!("reload refused; the running config stays");
            return Err(ReloadError::RestartRequired(restart));
        }
        let hash_key = next.dataplane.hash_key_bytes().unwrap_or(self.hash_key);
        let mut candidate = self.health.clone();
        candidate.reconcile(&next);
        let mut runtime = self.runtime.clone();
        runtime.resolved = self.neighbors.resolved();
        runtime.health = candidate.down().map(|id| (id, NodeState::Down)).collect();
        let generation = self.generation + 1;
        let snapshot = match Snapshot::build_with(&next, &self.port_macs, generation, hash_key, &runtime) {
            Ok(s) => s,
            Err(e) => {
                self.reloads.refused += 1;
                tracing::error!("reload refused: {e}; the running config stays");
                return Err(ReloadError::Rejected(e));
            }
        };
        let before: Vec<u32> = self.config.node.iter().map(|n| n.id).collect();
        let after: Vec<u32> = next.node.iter().map(|n| n.id).collect();
        let outcome = Reloaded {
            generation,
            nodes_added: after.iter().copied().filter(|id| !before.contains(id)).collect(),
            nodes_removed: before.iter().copied().filter(|id| !after.contains(id)).collect(),
            services: next.service.len(),
        };
        self.neighbors.set_wanted(snapshot.wanted_neighbors());
        self.source.publish(snapshot);
        self.generation = generation;
        self.hash_key = hash_key;
        self.runtime = runtime;
        self.health = candidate;
        self.config = next;
        self.reloads.applied += 1;
        tracing::info!(
            generation,
            nodes = self.config.node.len(),
            services = outcome.services,
            added = ?outcome.nodes_added,
            removed = ?outcome.nodes_removed,
            "reload applied"
        );
        Ok(outcome)
    }

    pub fn source(&self) -> Arc<SnapshotSource> {
        Arc::clone(&self.source)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The rings of every worker, in worker order.
    pub fn attach(&mut self, rings: Arc<ControlRings>) {
        self.rings.push(rings);
    }

    /// Drain the workers' rings and run timers. Call every `[control] tick`.
    pub fn poll(&mut self, now: u64) {
        self.started_at.get_or_insert(now);
        self.last_now = now;
        // Snapshots the workers have let go of are freed here, never on a worker.
        self.source.reap();
        let mut changed = false;
        for i in 0..self.rings.len() {
            while let Some(packet) = self.rings[i].to_control.pop() {
                changed |= self.handle_packet(&packet, now);
            }
        }
        // Health timers after the replies: a reply that arrived counts before its timeout.
        let (probes, transitions) = self.health.poll(now);
        for t in &transitions {
            log_transition(t);
        }
        changed |= !transitions.is_empty();
        if changed {
            self.republish();
        }
        if !probes.is_empty() {
            let snapshot = self.source.load();
            for probe in &probes {
                if let Err(why) = self.send_probe(&snapshot, probe) {
                    self.probes_unsent += 1;
                    tracing::debug!(node = probe.node, address = %probe.address, why, "probe not sent");
                    self.health.not_sent(probe.node, why);
                }
            }
        }
        self.ask_for_neighbors(now);
    }

    /// Build a probe frame from the egress port's own address and MAC toward the node's next
    /// hop, and hand it to the first worker to transmit.
    fn send_probe(&self, snapshot: &Snapshot, probe: &ProbeRequest) -> Result<(), &'static str> {
        let index = snapshot.node_ids.get(probe.node).ok_or("node not in the snapshot")?;
        let node = &snapshot.nodes[index as usize];
        let port = snapshot.ports.get(node.port as usize).ok_or("no port toward the node")?;
        let next_hop = node.next_hop_mac.ok_or("next hop MAC unresolved")?;
        let frame = match (probe.address, &probe.packet) {
            (IpAddr::V4(to), ProbePacket::Udp { source_port, port: dport, payload }) => {
                let (from, _) = port.ipv4.ok_or("no IPv4 address on the egress port")?;
                PacketBuilder::udp4(from, to, *source_port, *dport).payload(payload).macs(port.mac, next_hop).build()
            }
            (IpAddr::V6(to), ProbePacket::Udp { source_port, port: dport, payload }) => {
                let (from, _) = port.ipv6.ok_or("no IPv6 address on the egress port")?;
                PacketBuilder::udp6(from, to, *source_port, *dport).payload(payload).macs(port.mac, next_hop).build()
            }
            (IpAddr::V4(to), ProbePacket::Echo { identifier, sequence }) => {
                let (from, _) = port.ipv4.ok_or("no IPv4 address on the egress port")?;
                PacketBuilder::echo_request4(from, to, *identifier, *sequence).macs(port.mac, next_hop).build()
            }
            (IpAddr::V6(to), ProbePacket::Echo { identifier, sequence }) => {
                let (from, _) = port.ipv6.ok_or("no IPv6 address on the egress port")?;
                PacketBuilder::echo_request6(from, to, *identifier, *sequence).macs(port.mac, next_hop).build()
            }
        };
        let rings = self.rings.first().ok_or("no worker attached")?;
        rings.from_control.push(ControlPacket::new(node.port, &frame)).map_err(|_| "control ring full")
    }

    /// Learn from one packet a worker handed over. Returns true if the snapshot must change.
    fn handle_packet(&mut self, packet: &ControlPacket, now: u64) -> bool {
        let data = packet.data();
        let Ok(parsed) = wire::parse(data) else {
            self.unhandled_packets += 1;
            return false;
        };
        // Workers hand over ARP replies, requests for our addresses/VIPs, and ND.
        if let Some(arp) = wire::arp_summary(data) {
            return self.neighbors.learn(IpAddr::V4(arp.sender_ip), arp.sender_mac, now, arp.is_request);
        }
        if let Some(nd) = wire::nd_summary(&parsed, data) {
            if let Some(mac) = nd.link_layer {
                let ip = if nd.is_advertisement { IpAddr::V6(nd.target) } else { IpAddr::from(parsed.src) };
                return self.neighbors.learn(ip, mac, now, !nd.is_advertisement);
            }
            return false;
        }
        if let Some(reply) = health::parse_reply(&parsed, data) {
            let (matched, transition) = self.health.on_reply(&reply);
            if let Some(t) = &transition {
                log_transition(t);
            }
            if matched {
                return transition.is_some();
            }
        }
        self.unhandled_packets += 1;
        false
    }

    fn ask_for_neighbors(&mut self, now: u64) {
        let Some(rings) = self.rings.first() else { return };
        let statics: Vec<IpAddr> = self.config.neighbor.iter().map(|n| n.ip).collect();
        let snapshot = self.source.load();
        for (port, ip) in self.neighbors.due(now, &statics) {
            let Some(info) = snapshot.ports.get(port as usize) else { continue };
            let mut buf = [0u8; 128];
            let len = match ip {
                IpAddr::V4(target) => match info.ipv4 {
                    Some((own, _)) => cidlb_dataplane::rewrite::arp_request(&mut buf, info.mac, own, target),
                    None => 0,
                },
                IpAddr::V6(target) => match info.ipv6 {
                    Some((own, _)) => cidlb_dataplane::rewrite::neighbor_solicitation(&mut buf, info.mac, own, target),
                    None => 0,
                },
            };
            if len > 0 && rings.from_control.push(ControlPacket::new(port, &buf[..len])).is_err() {
                tracing::debug!(%ip, "control ring full: neighbour request deferred");
            }
        }
    }

    fn republish(&mut self) {
        self.runtime.resolved = self.neighbors.resolved();
        self.runtime.health = self.health.down().map(|id| (id, NodeState::Down)).collect();
        self.generation += 1;
        match Snapshot::build_with(&self.config, &self.port_macs, self.generation, self.hash_key, &self.runtime) {
            Ok(next) => {
                self.neighbors.set_wanted(next.wanted_neighbors());
                self.source.publish(next);
                tracing::debug!(generation = self.generation, "published snapshot");
            }
            Err(e) => tracing::error!("cannot rebuild snapshot: {e}"),
        }
    }
}

fn log_transition(t: &Transition) {
    tracing::info!(
        node = t.node,
        address = %t.address,
        from = t.from.name(),
        to = t.to.name(),
        reason = %t.reason,
        "node health changed"
    );
}

impl Control {
    /// The Prometheus text exposition of everything the control thread knows: per port,
    /// worker, service, node and drop reason, burst latency quantiles, health and reloads.
    /// `devices[i]` holds port i's device counters when the port is a DPDK port.
    pub fn render_metrics(&self, devices: &[Option<DeviceStats>], build_version: &str, dpdk_version: &str) -> String {
        let mut e = Exposition::default();
        e.family("cidlb_build_info", "gauge", "Build information: the version and the DPDK it was built against.");
        e.sample("cidlb_build_info", &[("version", build_version), ("dpdk", dpdk_version)], 1);
        e.family("cidlb_uptime_seconds", "gauge", "Seconds since the control thread started.");
        e.sample("cidlb_uptime_seconds", &[], metrics::float(self.last_now.saturating_sub(self.started_at.unwrap_or(0)) as f64 / 1e9));
        e.family("cidlb_snapshot_generation", "gauge", "Generation of the forwarding snapshot workers use (grows on every reload and health or neighbour change).");
        e.sample("cidlb_snapshot_generation", &[], self.generation);
        e.family("cidlb_reloads_total", "counter", "Config reloads by result: applied, invalid (did not validate), refused (needs a restart, or could not be built).");
        for (result, n) in [("applied", self.reloads.applied), ("invalid", self.reloads.invalid), ("refused", self.reloads.refused)] {
            e.sample("cidlb_reloads_total", &[("result", result)], n);
        }

        // Ports: what the workers counted, and what the device counted.
        let ports: Vec<&str> = self.config.port.iter().map(|p| p.name.as_str()).collect();
        let port_sum = |i: usize, f: &dyn Fn(&PortCounters) -> u64| -> u64 {
            self.workers.iter().filter_map(|w| w.ports.get(i)).map(|p| f(p)).sum()
        };
        for (metric, help, f) in [
            ("cidlb_port_rx_packets_total", "Packets the workers received on the port.", (|p: &PortCounters| p.rx_packets.get()) as fn(&PortCounters) -> u64),
            ("cidlb_port_tx_packets_total", "Packets the port's transmit queues took.", |p: &PortCounters| p.tx_packets.get()),
            ("cidlb_port_dropped_total", "Packets received on the port and dropped, plus packets its transmit queues did not take.", |p: &PortCounters| p.dropped.get()),
        ] {
            e.family(metric, "counter", help);
            for (i, name) in ports.iter().enumerate() {
                e.sample(metric, &[("port", name)], port_sum(i, &f));
            }
        }
        if devices.iter().any(Option::is_some) {
            for (metric, help, f) in [
                ("cidlb_port_device_rx_packets_total", "Packets the device received (rte_eth_stats ipackets).", (|d: &DeviceStats| d.ipackets) as fn(&DeviceStats) -> u64),
                ("cidlb_port_device_tx_packets_total", "Packets the device sent (opackets).", |d: &DeviceStats| d.opackets),
                ("cidlb_port_device_rx_bytes_total", "Bytes the device received (ibytes).", |d: &DeviceStats| d.ibytes),
                ("cidlb_port_device_tx_bytes_total", "Bytes the device sent (obytes).", |d: &DeviceStats| d.obytes),
                ("cidlb_port_device_rx_missed_total", "Packets the device dropped because a receive queue was full (imissed).", |d: &DeviceStats| d.imissed),
                ("cidlb_port_device_rx_errors_total", "Receive errors (ierrors).", |d: &DeviceStats| d.ierrors),
                ("cidlb_port_device_tx_errors_total", "Transmit errors (oerrors).", |d: &DeviceStats| d.oerrors),
                ("cidlb_port_device_rx_nombuf_total", "Receive mbuf allocation failures (rx_nombuf).", |d: &DeviceStats| d.rx_nombuf),
            ] {
                e.family(metric, "counter", help);
                for (name, device) in ports.iter().zip(devices) {
                    if let Some(d) = device {
                        e.sample(metric, &[("port", name)], f(d));
                    }
                }
            }
        }

        // Workers.
        let labelled: Vec<(String, Arc<WorkerCounters>)> = self.workers.iter().map(|w| (w.id.to_string(), Arc::clone(&w.counters))).collect();
        metrics::worker_counter_families(&mut e, &labelled);
        e.family("cidlb_worker_lcore", "gauge", "The lcore each worker runs on.");
        for w in &self.workers {
            e.sample("cidlb_worker_lcore", &[("worker", &w.id.to_string())], w.lcore);
        }
        let latency: Vec<(String, LatencySummary)> =
            self.workers.iter().map(|w| (w.id.to_string(), LatencySummary::from_buckets(&w.counters.burst_cycles))).collect();
        e.family("cidlb_burst_latency_cycles", "gauge", "Processing time of a burst that held packets, in TSC cycles, since start (quantile 1 is the maximum).");
        for (worker, s) in &latency {
            for (q, v) in s.quantiles() {
                e.sample("cidlb_burst_latency_cycles", &[("worker", worker), ("quantile", q)], v);
            }
        }
        if let Some(hz) = self.tsc_hz {
            e.family("cidlb_burst_latency_seconds", "gauge", "Processing time of a burst that held packets, in seconds, since start (quantile 1 is the maximum).");
            for (worker, s) in &latency {
                for (q, v) in s.quantiles() {
                    e.sample("cidlb_burst_latency_seconds", &[("worker", worker), ("quantile", q)], metrics::float(metrics::cycles_to_ns(v, hz) as f64 / 1e9));
                }
            }
        }
        e.family("cidlb_burst_latency_samples_total", "counter", "Bursts whose processing time was recorded.");
        for (worker, s) in &latency {
            e.sample("cidlb_burst_latency_samples_total", &[("worker", worker)], s.count);
        }

        // Drops by reason, summed over workers; every reason is listed.
        e.family("cidlb_drops_total", "counter", "Packets dropped, by reason (see the README's drop reasons).");
        for reason in DropReason::ALL {
            let n: u64 = self.workers.iter().map(|w| w.counters.drops[*reason as usize].get()).sum();
            e.sample("cidlb_drops_total", &[("reason", reason.name())], n);
        }

        // Services and nodes. Per-service and per-node counters are indexed in config order.
        let sum = |f: &dyn Fn(&WorkerCounters) -> u64| -> u64 { self.workers.iter().map(|w| f(&w.counters)).sum() };
        e.family("cidlb_service_packets_total", "counter", "Packets forwarded to nodes for the service.");
        for (i, s) in self.config.service.iter().enumerate().take(MAX_SERVICES) {
            e.sample("cidlb_service_packets_total", &[("service", &s.name)], sum(&|c| c.service_packets[i].get()));
        }
        e.family("cidlb_service_replies_total", "counter", "Node replies translated back to the service's VIP.");
        for (i, s) in self.config.service.iter().enumerate().take(MAX_SERVICES) {
            e.sample("cidlb_service_replies_total", &[("service", &s.name)], sum(&|c| c.service_replies[i].get()));
        }
        let snapshot = self.source.load();
        let nodes: Vec<(String, String, usize)> =
            self.config.node.iter().enumerate().take(MAX_NODES).map(|(i, n)| (n.id.to_string(), n.address.to_string(), i)).collect();
        e.family("cidlb_node_packets_total", "counter", "Packets forwarded to the node.");
        for (id, address, i) in &nodes {
            e.sample("cidlb_node_packets_total", &[("node", id), ("address", address)], sum(&|c| c.node_packets[*i].get()));
        }
        e.family("cidlb_node_state", "gauge", "The node's state as the data path uses it: 1 for the current one of up, down, draining.");
        for (id, address, i) in &nodes {
            let state = snapshot.nodes.get(*i).map_or(NodeState::Up, |n| n.state);
            for (name, s) in [("up", NodeState::Up), ("down", NodeState::Down), ("draining", NodeState::Draining)] {
                e.sample("cidlb_node_state", &[("node", id), ("address", address), ("state", name)], u8::from(state == s));
            }
        }
        let health_of = |id: &str| self.health.nodes().iter().find(|h| h.id.to_string() == id);
        e.family("cidlb_node_healthy", "gauge", "1 when the node passes its health checks (or has none), 0 when they marked it down.");
        for (id, address, _) in &nodes {
            let up = health_of(id).is_none_or(|h| h.status == health::Status::Up);
            e.sample("cidlb_node_healthy", &[("node", id), ("address", address)], u8::from(up));
        }
        e.family("cidlb_node_health_transitions_total", "counter", "Health state changes of the node, by the state it went to.");
        for (id, address, _) in &nodes {
            let (down, up) = health_of(id).map_or((0, 0), |h| (h.went_down, h.went_up));
            e.sample("cidlb_node_health_transitions_total", &[("node", id), ("address", address), ("to", "down")], down);
            e.sample("cidlb_node_health_transitions_total", &[("node", id), ("address", address), ("to", "up")], up);
        }
        for (metric, help, f) in [
            ("cidlb_node_probes_total", "Health probes sent to the node.", (|h: &health::NodeHealth| h.probes_sent) as fn(&health::NodeHealth) -> u64),
            ("cidlb_node_probe_successes_total", "Health probes the node answered as expected.", |h: &health::NodeHealth| h.successes),
            ("cidlb_node_probe_failures_total", "Health probes that failed (timeout, unreachable, wrong answer, not sent).", |h: &health::NodeHealth| h.failures),
        ] {
            e.family(metric, "counter", help);
            for (id, address, _) in &nodes {
                e.sample(metric, &[("node", id), ("address", address)], health_of(id).map_or(0, f));
            }
        }
        e.family("cidlb_probe_replies_unmatched_total", "counter", "Packets that looked like probe replies but matched no outstanding probe.");
        e.sample("cidlb_probe_replies_unmatched_total", &[], self.health.unmatched_replies);
        e.family("cidlb_probes_unsent_total", "counter", "Probes that could not be handed to a worker (next hop unresolved, no address, ring full).");
        e.sample("cidlb_probes_unsent_total", &[], self.probes_unsent);
        e.family("cidlb_control_unhandled_packets_total", "counter", "Packets passed to the control thread that it had no use for.");
        e.sample("cidlb_control_unhandled_packets_total", &[], self.unhandled_packets);
        e.finish()
    }
}

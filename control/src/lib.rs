//! cidlb control plane: the thread operators touch. It owns the config, publishes immutable
//! snapshots to the workers, resolves neighbours through the data path (ARP and ND packets
//! travel over the workers' lock-free rings), and aggregates stats.
//!
//! The same [`Control`] drives `cidlb run` (on its own pinned thread) and `cidlb replay`
//! (between bursts), so neighbour learning behaves the same in both.
#![forbid(unsafe_code)]

pub mod neighbors;
pub mod stats;

use cidlb_config::{Config, MacAddr};
use cidlb_dataplane::snapshot::{RuntimeState, Snapshot, SnapshotSource};
use cidlb_dataplane::wire;
use cidlb_dataplane::worker::{ControlPacket, ControlRings};
use neighbors::NeighborResolver;
use std::net::IpAddr;
use std::sync::Arc;

pub struct Control {
    config: Config,
    port_macs: Vec<MacAddr>,
    hash_key: [u8; 16],
    generation: u64,
    source: Arc<SnapshotSource>,
    rings: Vec<Arc<ControlRings>>,
    runtime: RuntimeState,
    neighbors: NeighborResolver,
    /// Packets from workers that were not ARP/ND (probe replies before health checks exist).
    pub unhandled_packets: u64,
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
        Ok(Control {
            config,
            port_macs,
            hash_key,
            generation: 1,
            source: Arc::new(SnapshotSource::new(first)),
            rings: Vec::new(),
            runtime,
            neighbors,
            unhandled_packets: 0,
        })
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
        let mut changed = false;
        for i in 0..self.rings.len() {
            while let Some(packet) = self.rings[i].to_control.pop() {
                changed |= self.handle_packet(&packet, now);
            }
        }
        if changed {
            self.republish();
        }
        self.ask_for_neighbors(now);
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

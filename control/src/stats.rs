//! Aggregated statistics: what `cidlb run` prints and writes to `--stats-json` on exit, and
//! what `cidlb replay` prints. The JSON shape is documented in the README ("Stats JSON").

use crate::metrics::LatencySummary;
use cidlb_dataplane::counters::{DropReason, PortCounters, WorkerCounters, MAX_NODES, MAX_SERVICES};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortStats {
    pub name: String,
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Packets received on this port and dropped, plus packets the TX queue did not take.
    pub dropped: u64,
    /// The device's own counters (DPDK `rte_eth_stats_get`), when the port is a DPDK port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceStats>,
}

pub use cidlb_dataplane::counters::DeviceStats;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WorkerStats {
    pub id: u16,
    pub lcore: u32,
    pub counters: BTreeMap<&'static str, u64>,
    /// Drops by reason (only reasons that occurred).
    pub drops: BTreeMap<&'static str, u64>,
    /// Processing time of the bursts that held packets, in TSC cycles (`count` bursts; each
    /// value within 3.1 %, see `LatencyBuckets`); absent when none was recorded (`replay`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_cycles: Option<LatencySummary>,
}

/// Packets forwarded for one service, and node replies translated for it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceStats {
    pub name: String,
    pub packets: u64,
    pub replies: u64,
}

/// Packets forwarded to one node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeStats {
    pub id: u32,
    pub address: String,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatsReport {
    /// Seconds spent forwarding (from the workers' start to their stop).
    pub duration_seconds: f64,
    pub ports: Vec<PortStats>,
    pub workers: Vec<WorkerStats>,
    /// Every counter summed over workers.
    pub totals: BTreeMap<&'static str, u64>,
    /// Drops by reason summed over workers; every reason is listed, zero or not.
    pub drops: BTreeMap<&'static str, u64>,
    pub dropped_total: u64,
    /// Per service and per node, in config order (see `add_distribution`).
    pub services: Vec<ServiceStats>,
    pub nodes: Vec<NodeStats>,
}

/// One worker as the report sees it: its id, its lcore and its counter blocks.
pub struct WorkerView<'a> {
    pub id: u16,
    pub lcore: u32,
    pub counters: &'a WorkerCounters,
    /// This worker's block for each port, in port order.
    pub ports: &'a [Arc<PortCounters>],
}

impl StatsReport {
    pub fn collect(duration_seconds: f64, port_names: &[String], workers: &[WorkerView<'_>]) -> Self {
        let mut ports: Vec<PortStats> = port_names
            .iter()
            .map(|name| PortStats { name: name.clone(), rx_packets: 0, tx_packets: 0, dropped: 0, device: None })
            .collect();
        let mut totals = BTreeMap::new();
        let mut drops: BTreeMap<&'static str, u64> = DropReason::ALL.iter().map(|r| (r.name(), 0)).collect();
        let mut worker_stats = Vec::new();
        for w in workers {
            for (port, block) in ports.iter_mut().zip(w.ports.iter()) {
                port.rx_packets += block.rx_packets.get();
                port.tx_packets += block.tx_packets.get();
                port.dropped += block.dropped.get();
            }
            let counters: BTreeMap<_, _> = w.counters.named().into_iter().collect();
            for (k, v) in &counters {
                *totals.entry(*k).or_insert(0) += v;
            }
            let mut worker_drops = BTreeMap::new();
            for reason in DropReason::ALL {
                let n = w.counters.drops[*reason as usize].get();
                if n > 0 {
                    worker_drops.insert(reason.name(), n);
                    *drops.entry(reason.name()).or_insert(0) += n;
                }
            }
            let burst_cycles = Some(LatencySummary::from_buckets(&w.counters.burst_cycles)).filter(|s| s.count > 0);
            worker_stats.push(WorkerStats { id: w.id, lcore: w.lcore, counters, drops: worker_drops, burst_cycles });
        }
        let dropped_total = drops.values().sum();
        StatsReport {
            duration_seconds,
            ports,
            workers: worker_stats,
            totals,
            drops,
            dropped_total,
            services: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// Attach the device counters of port `index` (DPDK ports).
    pub fn set_device_stats(&mut self, index: usize, device: DeviceStats) {
        if let Some(port) = self.ports.get_mut(index) {
            port.device = Some(device);
        }
    }

    /// Fill `services` and `nodes` from the workers' per-service and per-node counters, which
    /// are indexed in the config's order.
    pub fn add_distribution(&mut self, config: &cidlb_config::Config, workers: &[WorkerView<'_>]) {
        let sum = |f: &dyn Fn(&WorkerCounters) -> u64| workers.iter().map(|w| f(w.counters)).sum::<u64>();
        self.services = config
            .service
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < MAX_SERVICES)
            .map(|(i, s)| ServiceStats {
                name: s.name.clone(),
                packets: sum(&|c| c.service_packets[i].get()),
                replies: sum(&|c| c.service_replies[i].get()),
            })
            .collect();
        self.nodes = config
            .node
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < MAX_NODES)
            .map(|(i, n)| NodeStats { id: n.id, address: n.address.to_string(), packets: sum(&|c| c.node_packets[i].get()) })
            .collect();
    }

    /// A compact human-readable table for the terminal and logs.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "forwarded for {:.3} s", self.duration_seconds);
        let _ = writeln!(out, "{:<12} {:>14} {:>14} {:>12}", "port", "rx_packets", "tx_packets", "dropped");
        for p in &self.ports {
            let _ = writeln!(out, "{:<12} {:>14} {:>14} {:>12}", p.name, p.rx_packets, p.tx_packets, p.dropped);
        }
        if self.ports.iter().any(|p| p.device.is_some()) {
            let _ = writeln!(out, "{:<12} {:>14} {:>14} {:>12} {:>12} {:>12} {:>12}", "device", "ipackets", "opackets", "imissed", "ierrors", "oerrors", "rx_nombuf");
            for p in &self.ports {
                if let Some(d) = &p.device {
                    let _ = writeln!(
                        out,
                        "{:<12} {:>14} {:>14} {:>12} {:>12} {:>12} {:>12}",
                        p.name, d.ipackets, d.opackets, d.imissed, d.ierrors, d.oerrors, d.rx_nombuf
                    );
                }
            }
        }
        if !self.services.is_empty() {
            let _ = writeln!(out, "{:<20} {:>14} {:>14}", "service", "to nodes", "replies");
            for s in &self.services {
                let _ = writeln!(out, "{:<20} {:>14} {:>14}", s.name, s.packets, s.replies);
            }
        }
        if !self.nodes.is_empty() {
            let _ = writeln!(out, "{:<28} {:>14}", "node", "packets");
            for n in &self.nodes {
                let _ = writeln!(out, "{:<28} {:>14}", format!("{} ({})", n.id, n.address), n.packets);
            }
        }
        if self.workers.iter().any(|w| w.burst_cycles.is_some()) {
            let _ = writeln!(out, "{:<12} {:>14} {:>12} {:>12} {:>12} {:>12}", "burst cycles", "bursts", "p50", "p99", "p99.9", "max");
            for w in &self.workers {
                if let Some(b) = &w.burst_cycles {
                    let _ = writeln!(out, "{:<12} {:>14} {:>12} {:>12} {:>12} {:>12}", format!("worker {}", w.id), b.count, b.p50, b.p99, b.p999, b.max);
                }
            }
        }
        let interesting: Vec<_> = self.totals.iter().filter(|(_, v)| **v > 0).collect();
        if !interesting.is_empty() {
            let _ = writeln!(out, "counters:");
            for (k, v) in interesting {
                let _ = writeln!(out, "  {k:<24} {v:>14}");
            }
        }
        if self.dropped_total > 0 {
            let _ = writeln!(out, "drops by reason:");
            for (k, v) in self.drops.iter().filter(|(_, v)| **v > 0) {
                let _ = writeln!(out, "  {k:<32} {v:>14}");
            }
        } else {
            let _ = writeln!(out, "no drops");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_ports_workers_and_drops() {
        let w0 = WorkerCounters::default();
        let w1 = WorkerCounters::default();
        let p0: Vec<Arc<PortCounters>> = vec![Arc::new(PortCounters::default())];
        let p1: Vec<Arc<PortCounters>> = vec![Arc::new(PortCounters::default())];
        w0.rx_packets.add(5);
        w1.rx_packets.add(7);
        p0[0].rx_packets.add(5);
        p1[0].rx_packets.add(7);
        p1[0].tx_packets.add(6);
        w1.count_drop(DropReason::TtlExceeded);
        let report = StatsReport::collect(
            1.5,
            &["net0".to_string()],
            &[
                WorkerView { id: 0, lcore: 1, counters: &w0, ports: &p0 },
                WorkerView { id: 1, lcore: 2, counters: &w1, ports: &p1 },
            ],
        );
        assert_eq!(report.ports[0].rx_packets, 12);
        assert_eq!(report.ports[0].tx_packets, 6);
        assert_eq!(report.totals["rx_packets"], 12);
        assert_eq!(report.drops["ttl_exceeded"], 1);
        assert_eq!(report.dropped_total, 1);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["duration_seconds"], 1.5);
        assert_eq!(json["ports"][0]["name"], "net0");
        assert!(report.render_text().contains("ttl_exceeded"));
        assert!(json["ports"][0].get("device").is_none());
        let mut report = report;
        report.set_device_stats(0, DeviceStats { ipackets: 12, imissed: 3, ..Default::default() });
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["ports"][0]["device"]["imissed"], 3);
        assert!(report.render_text().contains("imissed"));
    }

    #[test]
    fn reports_burst_cycles_of_workers_that_recorded_them() {
        let w0 = WorkerCounters::default();
        let w1 = WorkerCounters::default();
        for _ in 0..99 {
            w0.burst_cycles.record(10_000);
        }
        w0.burst_cycles.record(50_000);
        let ports: Vec<Arc<PortCounters>> = vec![Arc::new(PortCounters::default())];
        let report = StatsReport::collect(
            1.0,
            &["net0".to_string()],
            &[WorkerView { id: 0, lcore: 1, counters: &w0, ports: &ports }, WorkerView { id: 1, lcore: 2, counters: &w1, ports: &ports }],
        );
        let json = serde_json::to_value(&report).unwrap();
        let b = &json["workers"][0]["burst_cycles"];
        assert_eq!(b["count"], 100);
        let p50 = b["p50"].as_u64().unwrap();
        assert!((9_700..=10_300).contains(&p50), "{b}");
        assert!(b["max"].as_u64().unwrap() >= 50_000, "{b}");
        assert!(json["workers"][1].get("burst_cycles").is_none(), "no bursts, no summary: {json}");
        let text = report.render_text();
        assert!(text.contains("burst cycles") && text.contains("worker 0"), "{text}");
    }
}

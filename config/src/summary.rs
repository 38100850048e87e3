//! `cidlb check`'s report on a valid config: what the balancer will do, in aligned columns.

use crate::rules::endpoint;
use crate::schema::{Balance, Config, Forward, Health, LabelPolicy, ProbeKind, UnknownCid};
use std::fmt::Write;
use std::time::Duration;

fn duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Left-aligns every column of `rows` to its widest cell; each row ends in a newline.
fn columns(out: &mut String, indent: &str, rows: &[Vec<String>]) {
    for line in aligned(indent, rows) {
        out.push_str(&line);
        out.push('\n');
    }
}

/// The rows as lines, every column padded to its widest cell.
fn aligned(indent: &str, rows: &[Vec<String>]) -> Vec<String> {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..count).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let mut line = String::from(indent);
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[c]);
            }
        }
        lines.push(line.trim_end().to_string());
    }
    lines
}

fn probe(health: &Health) -> String {
    let kind = match health.probe {
        ProbeKind::None => return "no probe (always up)".to_string(),
        ProbeKind::CoapPing => "coap-ping",
        ProbeKind::Udp => "udp",
        ProbeKind::Icmp => "icmp",
    };
    let port = health.port.map(|p| format!(" :{p}")).unwrap_or_default();
    format!(
        "{kind}{port} every {} timeout {} rise {} fall {}",
        duration(health.interval.0),
        duration(health.timeout.0),
        health.rise,
        health.fall
    )
}

impl Config {
    /// What `cidlb check` prints for a valid config: ports, cores, timeouts, services with
    /// their nodes, static neighbours and the metrics endpoint.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let dp = &self.dataplane;

        out.push_str("ports\n");
        let rows: Vec<Vec<String>> = self
            .port
            .iter()
            .map(|port| {
                let mut addresses = Vec::new();
                if let Some(net) = port.ipv4 {
                    addresses.push(match port.gateway4 {
                        Some(g) => format!("{net} via {g}"),
                        None => net.to_string(),
                    });
                }
                if let Some(net) = port.ipv6 {
                    addresses.push(match port.gateway6 {
                        Some(g) => format!("{net} via {g}"),
                        None => net.to_string(),
                    });
                }
                vec![
                    port.name.clone(),
                    port.device.clone(),
                    port.mac.map(|m| m.to_string()).unwrap_or_else(|| "device mac".to_string()),
                    format!("mtu {}", port.mtu),
                    addresses.join(", "),
                ]
            })
            .collect();
        columns(&mut out, "  ", &rows);

        let workers: Vec<String> = dp.workers.iter().map(u32::to_string).collect();
        out.push_str("dataplane\n");
        columns(
            &mut out,
            "  ",
            &[
                vec!["workers".into(), format!("lcores {} (control on core {})", workers.join(", "), dp.control_core)],
                vec!["burst".into(), format!("{} packets, drain after {}", dp.burst, duration(dp.drain_interval.0))],
                vec!["sessions".into(), format!("{} per worker, idle timeout {}", dp.sessions_per_worker, duration(dp.session_timeout.0))],
                vec!["fragments".into(), format!("{} per worker, timeout {}", dp.fragments_per_worker, duration(dp.fragment_timeout.0))],
                vec![
                    "mbufs".into(),
                    format!("{} per port (cache {}), rx/tx descriptors {}/{}", dp.mbufs, dp.mbuf_cache, dp.rx_descriptors, dp.tx_descriptors),
                ],
                vec![
                    "hash key".into(),
                    if dp.hash_key.is_some() { "configured".into() } else { "random per start (balancers will disagree)".into() },
                ],
            ],
        );

        out.push_str("services\n");
        let mut headers = Vec::new();
        for service in &self.service {
            let balance = match service.balance {
                Balance::DtlsCid => format!(
                    "dtls-cid (cid {} bytes, node id bytes {}..{}, unknown cid: {})",
                    service.cid_length,
                    service.node_id_offset,
                    u16::from(service.node_id_offset) + u16::from(service.node_id_length),
                    match service.unknown_cid {
                        UnknownCid::Drop => "drop",
                        UnknownCid::Session => "session",
                    }
                ),
                Balance::FiveTuple => "five-tuple".to_string(),
                Balance::FlowLabel => match service.label_policy.unwrap_or_default() {
                    LabelPolicy::Trust => "flow-label".to_string(),
                    LabelPolicy::Verify => "flow-label (suspect labels verified)".to_string(),
                    LabelPolicy::Ignore => "flow-label (labels ignored: five-tuple)".to_string(),
                },
            };
            let forward = match (service.forward, service.target_port) {
                (Forward::Nat, Some(port)) => format!("nat to port {port}"),
                (Forward::Nat, None) => "nat".to_string(),
                (Forward::Ipip, _) => "ipip".to_string(),
            };
            headers.push(vec![
                service.name.clone(),
                endpoint(service),
                forward,
                format!("maglev {}", service.maglev_table_size),
                balance,
            ]);
        }
        // Service lines align with each other, node lines with every other node line;
        // each service is followed by its nodes.
        let node_rows: Vec<Vec<Vec<String>>> = self
            .service
            .iter()
            .map(|service| {
                service
                    .nodes
                    .iter()
                    .filter_map(|id| self.node.iter().find(|n| n.id == *id))
                    .map(|node| {
                        let weight =
                            if node.drain { format!("weight {} draining", node.weight) } else { format!("weight {}", node.weight) };
                        vec![format!("node {}", node.id), node.address.to_string(), weight, probe(&node.health)]
                    })
                    .collect()
            })
            .collect();
        let mut node_lines = aligned("    ", &node_rows.concat()).into_iter();
        for (rows, header) in node_rows.iter().zip(aligned("  ", &headers)) {
            out.push_str(&header);
            out.push('\n');
            for line in node_lines.by_ref().take(rows.len()) {
                out.push_str(&line);
                out.push('\n');
            }
        }
        if self.service.is_empty() {
            out.push_str("  (none)\n");
        }

        if !self.neighbor.is_empty() {
            out.push_str("static neighbours\n");
            let rows: Vec<Vec<String>> = self.neighbor.iter().map(|n| vec![n.ip.to_string(), n.mac.to_string()]).collect();
            columns(&mut out, "  ", &rows);
        }

        let _ = writeln!(
            out,
            "metrics  {}",
            self.control.metrics.map(|a| format!("http://{a}/metrics")).unwrap_or_else(|| "off".to_string())
        );
        out
    }
}

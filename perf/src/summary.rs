//! What went where: a summary of a capture of the balancer's output, checked against the
//! rules (every CID record on the node its CID names; every flow on one node).

use cidlb_config::Config;
use cidlb_dataplane::io::pcap::CapturedPacket;
use cidlb_dataplane::wire::{self, dtls, L3};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;

#[derive(Debug, Default)]
pub struct Summary {
    /// Node id -> packets by kind ("cid", "handshake", "coap", "ipv6", "other").
    pub per_node: BTreeMap<u32, BTreeMap<&'static str, u64>>,
    pub replies_to_clients: u64,
    pub local_answers: u64,
    pub unknown: u64,
    /// CID records that reached a node other than the one their CID names.
    pub cid_misrouted: u64,
    pub cid_records: u64,
    /// Flows (5-tuple, or IPv6 <src, label>) seen on more than one node.
    pub split_flows: u64,
    pub flows: u64,
}

impl Summary {
    pub fn of(config: &Config, packets: &[CapturedPacket]) -> Self {
        let nodes: HashMap<IpAddr, u32> = config.node.iter().map(|n| (n.address, n.id)).collect();
        let vips: HashSet<IpAddr> = config.service.iter().map(|s| s.vip).collect();
        let cid_ports: HashMap<u16, (usize, usize, usize)> = config
            .service
            .iter()
            .filter(|s| s.balance == cidlb_config::Balance::DtlsCid)
            .map(|s| (s.target_port.unwrap_or(s.port), (s.cid_length as usize, s.node_id_offset as usize, s.node_id_length as usize)))
            .collect();
        let mut summary = Summary::default();
        let mut flow_nodes: HashMap<(IpAddr, u32, u16, u8), HashSet<u32>> = HashMap::new();
        for p in packets {
            let Ok(parsed) = wire::parse(&p.bytes) else {
                summary.unknown += 1;
                continue;
            };
            if parsed.l3 == L3::Arp {
                summary.local_answers += 1;
                continue;
            }
            let src = parsed.src_ip();
            let dst = parsed.dst_ip();
            if vips.contains(&src) || config.port.iter().any(|port| port.ipv4.map(|n| IpAddr::V4(n.addr())) == Some(src) || port.ipv6.map(|n| IpAddr::V6(n.addr())) == Some(src)) {
                if parsed.proto == 1 || parsed.proto == 58 {
                    summary.local_answers += 1;
                } else {
                    summary.replies_to_clients += 1;
                }
                continue;
            }
            let Some(&node) = nodes.get(&dst) else {
                summary.unknown += 1;
                continue;
            };
            let payload = parsed.udp_payload(&p.bytes);
            let kind = if parsed.is_ipv6() {
                "ipv6"
            } else if let Some(&(cid_len, offset, len)) = cid_ports.get(&parsed.dport).filter(|_| parsed.proto == 17) {
                match dtls::first_cid(payload, cid_len) {
                    Ok(Some(cid)) => {
                        summary.cid_records += 1;
                        let named = cid.get(offset..offset + len).map(|b| b.iter().fold(0u32, |a, x| (a << 8) | *x as u32));
                        if named != Some(node) {
                            summary.cid_misrouted += 1;
                        }
                        "cid"
                    }
                    _ => "handshake",
                }
            } else if parsed.proto == 17 {
                "coap"
            } else {
                "other"
            };
            *summary.per_node.entry(node).or_default().entry(kind).or_insert(0) += 1;
            // Stickiness: 5-tuple flows (non-CID), and IPv6 <src, label> flows.
            if kind != "cid" && parsed.l4_present {
                let key = if parsed.is_ipv6() && parsed.flow_label != 0 {
                    (src, parsed.flow_label, 0, 0)
                } else {
                    (src, parsed.sport as u32, parsed.dport, parsed.proto)
                };
                flow_nodes.entry(key).or_default().insert(node);
            }
        }
        summary.flows = flow_nodes.len() as u64;
        summary.split_flows = flow_nodes.values().filter(|n| n.len() > 1).count() as u64;
        summary
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let kinds = ["cid", "handshake", "coap", "ipv6", "other"];
        let _ = write!(out, "{:<8}", "node");
        for k in kinds {
            let _ = write!(out, " {k:>10}");
        }
        let _ = writeln!(out, " {:>10}", "total");
        for (node, counts) in &self.per_node {
            let _ = write!(out, "{node:<8}");
            for k in kinds {
                let _ = write!(out, " {:>10}", counts.get(k).copied().unwrap_or(0));
            }
            let _ = writeln!(out, " {:>10}", counts.values().sum::<u64>());
        }
        let _ = writeln!(out, "replies to clients (reverse NAT): {}", self.replies_to_clients);
        let _ = writeln!(out, "answered by the balancer (ARP, ND, echo): {}", self.local_answers);
        let _ = writeln!(out, "CID records on the node their CID names: {}/{}", self.cid_records - self.cid_misrouted, self.cid_records);
        let _ = writeln!(out, "flows that stayed on one node: {}/{}", self.flows - self.split_flows, self.flows);
        if self.unknown > 0 {
            let _ = writeln!(out, "packets to unknown destinations: {}", self.unknown);
        }
        out
    }

    /// True when the output obeys the rules.
    pub fn is_correct(&self) -> bool {
        self.cid_misrouted == 0 && self.split_flows == 0 && self.unknown == 0
    }
}

//! What a reload may change. Everything that lives in the snapshot (nodes, services,
//! neighbours, health settings, `hash_key`, `tunnel_ttl`, `[control] tick`) is taken over
//! hitlessly; what the EAL, the ports, the workers or their tables were built with at start
//! needs a restart, and a reload that changes it is refused as a whole.

use cidlb_config::Config;

/// One key that differs and cannot change without a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartOnly {
    /// Dotted key path, as in config errors (`dataplane.workers`, `port[0].device`).
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for RestartOnly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

/// Keys whose value differs between `running` and `next` and that only a restart applies.
pub fn restart_only_changes(running: &Config, next: &Config) -> Vec<RestartOnly> {
    let mut out = Vec::new();
    let mut check = |key: &str, differs: bool, why: &str| {
        if differs {
            out.push(RestartOnly { key: key.to_string(), message: format!("cannot change on reload ({why}); restart cidlb to apply it") });
        }
    };
    let (a, b) = (&running.dataplane, &next.dataplane);
    check("eal.args", running.eal.args != next.eal.args, "the DPDK EAL starts once per process");
    check("dataplane.workers", a.workers != b.workers, "workers and their queues are set up at start");
    check("dataplane.control_core", a.control_core != b.control_core, "the control thread is the EAL main lcore");
    check("dataplane.burst", a.burst != b.burst, "workers are built with it");
    check("dataplane.drain_interval", a.drain_interval != b.drain_interval, "workers are built with it");
    check("dataplane.sessions_per_worker", a.sessions_per_worker != b.sessions_per_worker, "session tables are allocated at start");
    check("dataplane.fragments_per_worker", a.fragments_per_worker != b.fragments_per_worker, "fragment tables are allocated at start");
    check("dataplane.session_timeout", a.session_timeout != b.session_timeout, "session tables are built with it");
    check("dataplane.fragment_timeout", a.fragment_timeout != b.fragment_timeout, "fragment tables are built with it");
    check("dataplane.pending_per_worker", a.pending_per_worker != b.pending_per_worker, "allocated at start");
    check("dataplane.icmp_errors_per_second", a.icmp_errors_per_second != b.icmp_errors_per_second, "workers are built with it");
    check("dataplane.mbufs", a.mbufs != b.mbufs, "the packet pool is created at start");
    check("dataplane.mbuf_cache", a.mbuf_cache != b.mbuf_cache, "the packet pool is created at start");
    check("dataplane.rx_descriptors", a.rx_descriptors != b.rx_descriptors, "queues are set up at start");
    check("dataplane.tx_descriptors", a.tx_descriptors != b.tx_descriptors, "queues are set up at start");
    check("control.metrics", running.control.metrics != next.control.metrics, "the endpoint is bound at start");
    check("control.pidfile", running.control.pidfile != next.control.pidfile, "it is written at start");
    if running.port.len() != next.port.len() {
        check("port", true, &format!("{} ports are open, the new config has {}", running.port.len(), next.port.len()));
    } else {
        for (i, (p, q)) in running.port.iter().zip(&next.port).enumerate() {
            let fields: [(&str, bool); 8] = [
                ("name", p.name != q.name),
                ("device", p.device != q.device),
                ("mac", p.mac != q.mac),
                ("ipv4", p.ipv4 != q.ipv4),
                ("ipv6", p.ipv6 != q.ipv6),
                ("gateway4", p.gateway4 != q.gateway4),
                ("gateway6", p.gateway6 != q.gateway6),
                ("mtu", p.mtu != q.mtu),
            ];
            for (field, differs) in fields {
                check(&format!("port[{i}].{field}"), differs, "ports are configured at start");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[eal]\nargs = [\"--no-pci\"]\n[dataplane]\nworkers = [1]\n[[port]]\nname = \"p\"\ndevice = \"d\"\nipv4 = \"192.0.2.1/24\"\n\
        [[node]]\nid = 1\naddress = \"192.0.2.11\"\n";

    fn parse(text: &str) -> Config {
        cidlb_config::parse(text, "t.toml").unwrap()
    }

    #[test]
    fn nodes_and_services_may_change() {
        let next = parse(&format!("{BASE}[[node]]\nid = 2\naddress = \"192.0.2.12\"\nweight = 0\n"));
        assert!(restart_only_changes(&parse(BASE), &next).is_empty());
    }

    #[test]
    fn workers_ports_and_tables_may_not() {
        let next = parse(
            "[eal]\nargs = [\"--no-pci\"]\n[dataplane]\nworkers = [2]\nsessions_per_worker = 1024\n[[port]]\nname = \"p\"\ndevice = \"e\"\nipv4 = \"192.0.2.1/24\"\n\
             [[node]]\nid = 1\naddress = \"192.0.2.11\"\n",
        );
        let keys: Vec<String> = restart_only_changes(&parse(BASE), &next).into_iter().map(|c| c.key).collect();
        assert_eq!(keys, ["dataplane.workers", "dataplane.sessions_per_worker", "port[0].device"]);
        let message = restart_only_changes(&parse(BASE), &next)[0].to_string();
        assert!(message.starts_with("`dataplane.workers`: cannot change on reload"), "{message}");
        assert!(message.contains("restart"), "{message}");
    }
}

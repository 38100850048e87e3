//! Semantic validation: every rule names the key, its line and what to do.

mod support;
use support::*;

fn with_dataplane(extra: &str) -> String {
    BASE.replace("control_core = 0", &format!("control_core = 0\n{extra}"))
}

fn with_service(extra: &str) -> String {
    format!("{BASE}\n[[service]]\n{extra}\n")
}

// ---- [eal] ----

#[test]
fn eal_needs_no_pci_or_allow_list() {
    let text = BASE.replace("\"--no-pci\", ", "");
    error_at(&text, "eal.args", Some(line(&text, "args", 1)), "must contain \"--no-pci\" or a PCI allow-list");
    let text = "[dataplane]\nworkers = [1]\n[[port]]\nname = \"a\"\ndevice = \"d\"\nipv4 = \"10.0.0.1/24\"\n";
    error_at(text, "eal.args", None, "--no-pci");
    for allow in [r#""-a", "0000:03:00.0""#, r#""--allow", "0000:03:00.0""#, r#""-a0000:03:00.0""#, r#""--allow=0000:03:00.0""#] {
        accepts(&BASE.replace("\"--no-pci\"", allow));
    }
}

#[test]
fn eal_allow_needs_an_address() {
    let text = BASE.replace("\"--no-pci\", \"--in-memory\"", "\"--in-memory\", \"-a\"");
    error_at(&text, "eal.args[1]", Some(line(&text, "args", 1)), "`-a` needs a PCI address");
    let text = BASE.replace("\"--no-pci\", \"--in-memory\"", "\"--allow\", \"--in-memory\"");
    error_at(&text, "eal.args[0]", Some(line(&text, "args", 1)), "`--allow` needs a PCI address");
}

#[test]
fn eal_whitelist_was_removed() {
    let text = BASE.replace("\"--no-pci\", ", "\"--no-pci\", \"-w\", \"0000:03:00.0\", ");
    error_at(&text, "eal.args[1]", Some(line(&text, "args", 1)), "removed in DPDK 20.11");
}

// ---- [dataplane] ----

#[test]
fn dataplane_needs_a_worker() {
    let text = BASE.replace("workers = [1]", "workers = []");
    error_at(&text, "dataplane.workers", Some(line(&text, "workers", 1)), "at least one lcore");
}

#[test]
fn dataplane_workers_unique() {
    let text = BASE.replace("workers = [1]", "workers = [1, 2,\n  1]");
    error_at(&text, "dataplane.workers[2]", Some(line(&text, "  1]", 1)), "lcore 1 is listed twice (also workers[0])");
}

#[test]
fn dataplane_control_core_not_a_worker() {
    let text = BASE.replace("control_core = 0", "control_core = 1");
    error_at(&text, "dataplane.control_core", Some(line(&text, "control_core", 1)), "also a worker core");
    // Absent key: the default core 0 clashes; the error points at the [dataplane] header.
    let text = BASE.replace("workers = [1]", "workers = [0]").replace("control_core = 0\n", "");
    error_at(&text, "dataplane.control_core", Some(line(&text, "[dataplane]", 1)), "core 0 is also a worker core");
}

#[test]
fn dataplane_burst_range() {
    for burst in ["0", "257"] {
        let text = with_dataplane(&format!("burst = {burst}"));
        error_at(&text, "dataplane.burst", Some(line(&text, "burst", 1)), "use 1..=256");
    }
    accepts(&with_dataplane("burst = 256\nrx_descriptors = 256\ntx_descriptors = 256"));
}

#[test]
fn dataplane_timeouts_positive() {
    let text = with_dataplane("session_timeout = \"0s\"");
    error_at(&text, "dataplane.session_timeout", Some(line(&text, "session_timeout", 1)), "longer than zero");
    let text = with_dataplane("fragment_timeout = \"0ms\"");
    error_at(&text, "dataplane.fragment_timeout", Some(line(&text, "fragment_timeout", 1)), "longer than zero");
    let text = format!("{BASE}\n[control]\ntick = \"0s\"\n");
    error_at(&text, "control.tick", Some(line(&text, "tick", 1)), "longer than zero");
}

#[test]
fn dataplane_table_capacities() {
    for (key, value) in [("sessions_per_worker", "8"), ("sessions_per_worker", "134217728"), ("fragments_per_worker", "15")] {
        let text = with_dataplane(&format!("{key} = {value}"));
        error_at(&text, &format!("dataplane.{key}"), Some(line(&text, key, 1)), "use 16..=67108864");
    }
    accepts(&with_dataplane("sessions_per_worker = 16\nfragments_per_worker = 67108864"));
}

#[test]
fn dataplane_hash_key_bytes() {
    let config = accepts(&with_dataplane("hash_key = \"000102030405060708090A0b0c0d0e0f\""));
    let expected: [u8; 16] = std::array::from_fn(|i| i as u8);
    assert_eq!(config.dataplane.hash_key_bytes(), Some(expected));
    assert_eq!(accepts(BASE).dataplane.hash_key_bytes(), None);
}

#[test]
fn dataplane_descriptors_power_of_two() {
    let text = with_dataplane("rx_descriptors = 1000");
    error_at(&text, "dataplane.rx_descriptors", Some(line(&text, "rx_descriptors", 1)), "must be a power of two");
    let text = with_dataplane("tx_descriptors = 16");
    error_at(&text, "dataplane.tx_descriptors", Some(line(&text, "tx_descriptors", 1)), "power of two in 32..=32768");
    let text = with_dataplane("burst = 128\ntx_descriptors = 64");
    error_at(&text, "dataplane.tx_descriptors", Some(line(&text, "tx_descriptors", 1)), "cannot hold one burst of 128");
}

#[test]
fn dataplane_mbufs_cover_rings() {
    // 1 port × 2 workers × (1024 + 1024) + 2 × (32 + 256) + 3 × 256 = 5440
    let text = BASE.replace("workers = [1]", "workers = [1, 2]").replace("control_core = 0", "control_core = 0\nmbufs = 5439");
    let e = error_at(&text, "dataplane.mbufs", Some(line(&text, "mbufs", 1)), "5439 mbufs are too few");
    assert!(e.message.contains("ports × workers × (rx_descriptors + tx_descriptors)"), "{e}");
    assert!(e.message.contains("= 5440"), "{e}");
    accepts(&text.replace("mbufs = 5439", "mbufs = 5440"));
}

#[test]
fn dataplane_mbuf_cache_limits() {
    let text = with_dataplane("mbuf_cache = 513");
    error_at(&text, "dataplane.mbuf_cache", Some(line(&text, "mbuf_cache", 1)), "DPDK's limit of 512");
}

#[test]
fn dataplane_tunnel_ttl() {
    let text = with_dataplane("tunnel_ttl = 0");
    error_at(&text, "dataplane.tunnel_ttl", Some(line(&text, "tunnel_ttl", 1)), "at least 1");
}

// ---- [[port]] ----

#[test]
fn ports_at_least_one() {
    let start = BASE.find("[[port]]").unwrap();
    let end = BASE.find("[[node]]").unwrap();
    let text = format!("{}{}", &BASE[..start], &BASE[end..]).replace("192.0.2.", "198.51.100.");
    error_at(&text, "port", None, "no [[port]] is configured");
}

fn two_ports(second: &str) -> String {
    BASE.replace("[[node]]\nid = 1", &format!("[[port]]\n{second}\n\n[[node]]\nid = 1"))
}

#[test]
fn ports_unique_names_and_devices() {
    let text = two_ports("name = \"net0\"\ndevice = \"net_null1\"\nipv4 = \"198.51.100.1/24\"");
    let e = error_at(&text, "port[1].name", Some(line(&text, "name = \"net0\"", 2)), "port name `net0` is already used by port[0].name");
    assert!(e.message.contains(&format!("line {}", line(&text, "name = \"net0\"", 1))), "{e}");
    let text = two_ports("name = \"net1\"\ndevice = \"net_null0\"\nipv4 = \"198.51.100.1/24\"");
    error_at(&text, "port[1].device", Some(line(&text, "device = \"net_null0\"", 2)), "device `net_null0` is already used");
}

#[test]
fn ports_address_configured_once() {
    let text = two_ports("name = \"net1\"\ndevice = \"net_null1\"\nipv4 = \"192.0.2.1/24\"");
    error_at(&text, "port[1].ipv4", Some(line(&text, "ipv4 = \"192.0.2.1/24\"", 2)), "192.0.2.1 is already configured on port[0].ipv4");
}

#[test]
fn ports_need_an_address() {
    let text = two_ports("name = \"net1\"\ndevice = \"net_null1\"");
    error_at(&text, "port[1].ipv4", Some(line(&text, "[[port]]", 2)), "a port needs `ipv4` or `ipv6`");
}

#[test]
fn ports_host_address() {
    let text = BASE.replace("192.0.2.1/24", "192.0.2.0/24");
    error_at(&text, "port[0].ipv4", Some(line(&text, "ipv4", 1)), "network or broadcast address");
}

#[test]
fn ports_mtu_range() {
    let text = BASE.replace("gateway4 = \"192.0.2.254\"", "gateway4 = \"192.0.2.254\"\nmtu = 9001");
    error_at(&text, "port[0].mtu", Some(line(&text, "mtu", 1)), "use 1280..=9000");
    let text = BASE.replace("gateway4 = \"192.0.2.254\"", "gateway4 = \"192.0.2.254\"\nmtu = 1000");
    error_at(&text, "port[0].mtu", Some(line(&text, "mtu", 1)), "IPv6 needs 1280");
    let v4_only = BASE.replace("ipv6 = \"2001:db8::1/64\"\n", "");
    accepts(&v4_only.replace("gateway4 = \"192.0.2.254\"", "gateway4 = \"192.0.2.254\"\nmtu = 576"));
    let text = v4_only.replace("gateway4 = \"192.0.2.254\"", "gateway4 = \"192.0.2.254\"\nmtu = 575");
    error_at(&text, "port[0].mtu", Some(line(&text, "mtu", 1)), "use 576..=9000");
}

#[test]
fn ports_gateway_on_link() {
    let text = BASE.replace("gateway4 = \"192.0.2.254\"", "gateway4 = \"198.51.100.1\"");
    error_at(&text, "port[0].gateway4", Some(line(&text, "gateway4", 1)), "outside the port's prefix 192.0.2.0/24");
    let text = BASE.replace("gateway4 = \"192.0.2.254\"", "gateway4 = \"192.0.2.1\"");
    error_at(&text, "port[0].gateway4", Some(line(&text, "gateway4", 1)), "the port's own address");
    let text = BASE.replace("gateway4 = \"192.0.2.254\"", "gateway6 = \"2001:db9::1\"");
    error_at(&text, "port[0].gateway6", Some(line(&text, "gateway6", 1)), "outside the port's prefix 2001:db8::/64");
    accepts(&BASE.replace("gateway4 = \"192.0.2.254\"", "gateway6 = \"fe80::1\""));
    let text = BASE.replace("ipv4 = \"192.0.2.1/24\"\n", "");
    error_at(&text, "port[0].gateway4", Some(line(&text, "gateway4", 1)), "needs an `ipv4` prefix");
}

#[test]
fn ports_mac_unicast() {
    let text = BASE.replace("device = \"net_null0\"", "device = \"net_null0\"\nmac = \"01:00:5e:00:00:01\"");
    error_at(&text, "port[0].mac", Some(line(&text, "mac", 1)), "not a unicast MAC address");
}

// ---- [[neighbor]] ----

#[test]
fn neighbors_unique_and_on_link() {
    let text = format!("{BASE}\n[[neighbor]]\nip = \"192.0.2.254\"\nmac = \"02:00:00:00:00:fe\"\n[[neighbor]]\nip = \"192.0.2.254\"\nmac = \"02:00:00:00:00:fd\"\n");
    error_at(&text, "neighbor[1].ip", Some(line(&text, "\nip = ", 2) + 1), "already has a static entry at neighbor[0].ip");
    let text = format!("{BASE}\n[[neighbor]]\nip = \"203.0.113.1\"\nmac = \"02:00:00:00:00:fe\"\n");
    error_at(&text, "neighbor[0].ip", Some(line(&text, "ip = \"203", 1)), "not inside any port's prefix");
    let text = format!("{BASE}\n[[neighbor]]\nip = \"fe80::1\"\nmac = \"ff:ff:ff:ff:ff:ff\"\n");
    error_at(&text, "neighbor[0].mac", Some(line(&text, "mac = \"ff", 1)), "not a unicast MAC address");
    let text = format!("{BASE}\n[[neighbor]]\nip = \"192.0.2.1\"\nmac = \"02:00:00:00:00:fe\"\n");
    error_at(&text, "neighbor[0].ip", Some(line(&text, "ip = \"192.0.2.1\"", 1)), "the balancer's own address");
}

// ---- [[node]] ----

#[test]
fn nodes_unique_id() {
    let text = BASE.replace("id = 2", "id = 1");
    error_at(&text, "node[1].id", Some(line(&text, "id = 1", 2)), "node id 1 is already used by node[0].id");
}

#[test]
fn nodes_unique_address() {
    let text = BASE.replace("192.0.2.12", "192.0.2.11");
    error_at(&text, "node[1].address", Some(line(&text, "address", 2)), "192.0.2.11 is already the address of node[0].address");
}

#[test]
fn nodes_not_a_port_address() {
    let text = BASE.replace("192.0.2.12", "192.0.2.1");
    error_at(&text, "node[1].address", Some(line(&text, "address", 2)), "the balancer's own address (port[0].ipv4");
}

#[test]
fn nodes_id_fits_node_id_length() {
    let text = BASE.replace("id = 2", "id = 256").replace("nodes = [1, 2]", "nodes = [1, 256]");
    let e = error_at(&text, "node[1].id", Some(line(&text, "id = 256", 1)), "node id 256 does not fit in the 1-byte node id of dtls-cid service `coaps`");
    assert!(e.message.contains("0..=255"), "{e}");
    accepts(&text.replace("balance = \"dtls-cid\"", "balance = \"dtls-cid\"\nnode_id_length = 2"));
    // Not used by a dtls-cid service: any id.
    accepts(&text.replace("balance = \"dtls-cid\"", "balance = \"five-tuple\""));
}

fn with_health(health: &str) -> String {
    BASE.replace("address = \"192.0.2.11\"", &format!("address = \"192.0.2.11\"\nhealth = {{ {health} }}"))
}

#[test]
fn health_interval_above_timeout() {
    let text = with_health("probe = \"icmp\", interval = \"500ms\", timeout = \"500ms\"");
    error_at(&text, "node[0].health.interval", Some(line(&text, "health", 1)), "must be longer than the timeout (500ms)");
    let text = with_health("probe = \"icmp\", timeout = \"0s\"");
    error_at(&text, "node[0].health.timeout", Some(line(&text, "health", 1)), "longer than zero");
}

#[test]
fn health_interval_in_a_table_names_its_line() {
    let text = BASE.replace(
        "address = \"192.0.2.12\"",
        "address = \"192.0.2.12\"\n[node.health]\nprobe = \"icmp\"\ninterval = \"100ms\"\ntimeout = \"1s\"",
    );
    error_at(&text, "node[1].health.interval", Some(line(&text, "interval", 1)), "longer than the timeout");
}

#[test]
fn health_rise_fall() {
    let text = with_health("probe = \"icmp\", rise = 0");
    error_at(&text, "node[0].health.rise", Some(line(&text, "health", 1)), "at least 1");
    let text = with_health("probe = \"icmp\", fall = 0");
    error_at(&text, "node[0].health.fall", Some(line(&text, "health", 1)), "at least 1");
}

#[test]
fn health_port_required() {
    let text = with_health("probe = \"coap-ping\"");
    error_at(&text, "node[0].health.port", Some(line(&text, "health", 1)), "a `coap-ping` probe needs the node's UDP `port`");
    let text = with_health("probe = \"udp\"");
    error_at(&text, "node[0].health.port", Some(line(&text, "health", 1)), "a `udp` probe needs");
    let text = with_health("probe = \"icmp\", port = 7");
    error_at(&text, "node[0].health.port", Some(line(&text, "health", 1)), "only `coap-ping` and `udp` probes use a port");
    let text = with_health("port = 5683");
    error_at(&text, "node[0].health.port", Some(line(&text, "health", 1)), "no `probe` is chosen");
}

#[test]
fn health_payload_and_expect() {
    accepts(&with_health("probe = \"udp\", port = 7, payload = \"68656c6c6f\", expect = \"6f6b\""));
    let text = with_health("probe = \"udp\", port = 7, payload = \"hello\"");
    error_at(&text, "node[0].health.payload", Some(line(&text, "health", 1)), "`hello` is not hex bytes");
    let text = with_health("probe = \"udp\", port = 7, expect = \"abc\"");
    error_at(&text, "node[0].health.expect", Some(line(&text, "health", 1)), "not hex bytes");
    let text = with_health("probe = \"coap-ping\", port = 5683, payload = \"00\"");
    error_at(&text, "node[0].health.payload", Some(line(&text, "health", 1)), "only used by probe = \"udp\"");
}

// ---- [[service]] ----

#[test]
fn services_unique_name() {
    let text = with_service("name = \"coaps\"\nvip = \"192.0.2.20\"\nprotocol = \"udp\"\nbalance = \"five-tuple\"\nnodes = [1]");
    error_at(&text, "service[1].name", Some(line(&text, "name = \"coaps\"", 2)), "service name `coaps` is already used by service[0].name");
}

#[test]
fn services_duplicate_vip_names_the_second_vip_line() {
    let text = with_service("name = \"again\"\nvip = \"192.0.2.10\"\nport = 5684\nprotocol = \"udp\"\nbalance = \"five-tuple\"\nnodes = [1]");
    let e = error_at(&text, "service[1].vip", Some(line(&text, "vip = ", 2)), "overlaps service `coaps`");
    assert!(e.message.contains(&format!("service[0].vip, line {}", line(&text, "vip = ", 1))), "{e}");
    assert!(e.message.contains("udp to 192.0.2.10 port 5684"), "{e}");
}

#[test]
fn services_any_overlaps_tcp_and_udp() {
    let text = with_service("name = \"all\"\nvip = \"192.0.2.10\"\nport = 5684\nprotocol = \"any\"\nbalance = \"five-tuple\"\nnodes = [1]");
    error_at(&text, "service[1].vip", Some(line(&text, "vip = ", 2)), "overlaps service `coaps`");
    // tcp next to udp on the same port is fine.
    accepts(&with_service("name = \"tls\"\nvip = \"192.0.2.10\"\nport = 5684\nprotocol = \"tcp\"\nbalance = \"five-tuple\"\nnodes = [1]"));
}

#[test]
fn services_port_zero_overlaps_every_port() {
    let text = with_service("name = \"all\"\nvip = \"192.0.2.10\"\nprotocol = \"udp\"\nbalance = \"five-tuple\"\nnodes = [1]");
    error_at(&text, "service[1].vip", Some(line(&text, "vip = ", 2)), "udp to 192.0.2.10 port 5684");
    accepts(&with_service("name = \"other\"\nvip = \"192.0.2.10\"\nport = 5683\nprotocol = \"udp\"\nbalance = \"five-tuple\"\nnodes = [1]"));
}

#[test]
fn services_nodes_non_empty_known_unique() {
    let text = BASE.replace("nodes = [1, 2]", "nodes = []");
    error_at(&text, "service[0].nodes", Some(line(&text, "nodes", 1)), "lists no nodes");
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 3]");
    error_at(&text, "service[0].nodes[1]", Some(line(&text, "nodes", 1)), "no [[node]] has id 3 (configured ids: 1, 2)");
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 2, 1]");
    error_at(&text, "service[0].nodes[2]", Some(line(&text, "nodes", 1)), "node 1 is listed twice");
}

#[test]
fn services_dtls_cid_lengths() {
    for (key, value, fragment) in [
        ("cid_length", "0", "use 1..=32 bytes"),
        ("cid_length", "33", "use 1..=32 bytes"),
        ("node_id_length", "0", "use 1..=4 bytes"),
        ("node_id_length", "5", "use 1..=4 bytes"),
    ] {
        let text = BASE.replace("balance = \"dtls-cid\"", &format!("balance = \"dtls-cid\"\n{key} = {value}"));
        error_at(&text, &format!("service[0].{key}"), Some(line(&text, key, 1)), fragment);
    }
    let text = BASE.replace("balance = \"dtls-cid\"", "balance = \"dtls-cid\"\ncid_length = 4\nnode_id_offset = 3\nnode_id_length = 2");
    error_at(&text, "service[0].node_id_offset", Some(line(&text, "node_id_offset", 1)), "ends past the 4-byte CID");
    accepts(&text.replace("node_id_offset = 3", "node_id_offset = 2"));
    accepts(&BASE.replace("balance = \"dtls-cid\"", "balance = \"dtls-cid\"\ncid_length = 32"));
    // Ignored on other balance modes.
    accepts(&BASE.replace("balance = \"dtls-cid\"", "balance = \"five-tuple\"\ncid_length = 0"));
}

#[test]
fn services_dtls_cid_not_tcp() {
    let text = BASE.replace("protocol = \"udp\"", "protocol = \"tcp\"");
    error_at(&text, "service[0].protocol", Some(line(&text, "protocol", 1)), "routes DTLS over UDP");
}

#[test]
fn services_flow_label_needs_ipv6_vip() {
    let text = BASE.replace("balance = \"dtls-cid\"", "balance = \"flow-label\"");
    error_at(&text, "service[0].balance", Some(line(&text, "balance", 1)), "needs an IPv6 VIP");
    accepts(&BASE.replace("balance = \"dtls-cid\"", "balance = \"flow-label\"\nforward = \"ipip\"").replace("192.0.2.10", "2001:db8::10"));
}

#[test]
fn services_nat_needs_one_family() {
    let text = BASE.replace("vip = \"192.0.2.10\"", "vip = \"2001:db8::10\"");
    let e = error_at(&text, "service[0].nodes[0]", Some(line(&text, "nodes", 1)), "NAT cannot translate between families");
    assert!(e.message.contains("node 1 has an IPv4 address (192.0.2.11"), "{e}");
    accepts(&text.replace("balance = \"dtls-cid\"", "balance = \"dtls-cid\"\nforward = \"ipip\""));
}

#[test]
fn services_maglev_table_size() {
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 2]\nmaglev_table_size = 65536");
    error_at(&text, "service[0].maglev_table_size", Some(line(&text, "maglev", 1)), "65536 is not prime");
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 2]\nmaglev_table_size = 197");
    let e = error_at(&text, "service[0].maglev_table_size", Some(line(&text, "maglev", 1)), "too small for 2 nodes");
    assert!(e.message.contains("100 × the node count (200)") && e.message.contains("use the prime 211"), "{e}");
    accepts(&BASE.replace("nodes = [1, 2]", "nodes = [1, 2]\nmaglev_table_size = 211"));
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 2]\nmaglev_table_size = 16777259");
    error_at(&text, "service[0].maglev_table_size", Some(line(&text, "maglev", 1)), "above the limit");
}

#[test]
fn services_vip_not_a_port_or_node_address() {
    let text = BASE.replace("vip = \"192.0.2.10\"", "vip = \"192.0.2.1\"");
    error_at(&text, "service[0].vip", Some(line(&text, "vip", 1)), "is a port address (port[0].ipv4");
    let text = BASE.replace("vip = \"192.0.2.10\"", "vip = \"192.0.2.12\"");
    error_at(&text, "service[0].vip", Some(line(&text, "vip", 1)), "is the address of node 2");
    let text = BASE.replace("vip = \"192.0.2.10\"", "vip = \"224.0.0.1\"");
    error_at(&text, "service[0].vip", Some(line(&text, "vip", 1)), "cannot be a VIP");
}

#[test]
fn services_target_port() {
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 2]\ntarget_port = 0");
    error_at(&text, "service[0].target_port", Some(line(&text, "target_port", 1)), "port 0 is not a destination");
    let text = BASE.replace("nodes = [1, 2]", "nodes = [1, 2]\nforward = \"ipip\"\ntarget_port = 5685");
    error_at(&text, "service[0].target_port", Some(line(&text, "target_port", 1)), "only forward = \"nat\" rewrites the port");
}

#[test]
fn services_in_inline_array_are_located() {
    // `service = [{...}]` is the same array written inline; errors still find their line.
    let start = BASE.find("[[service]]").unwrap();
    let text = format!(
        "service = [\n  {{ name = \"a\", vip = \"192.0.2.10\", protocol = \"udp\", balance = \"dtls-cid\", nodes = [1] }},\n  {{ name = \"a\", vip = \"192.0.2.20\", protocol = \"udp\", balance = \"dtls-cid\", nodes = [2] }},\n]\n{}",
        &BASE[..start]
    );
    error_at(&text, "service[1].name", Some(line(&text, "name = \"a\"", 2)), "already used");
}

#[test]
fn all_errors_are_reported_in_file_order() {
    let text = BASE.replace("control_core = 0", "control_core = 1").replace("nodes = [1, 2]", "nodes = []");
    let errors = parse_all(&text, "t.toml").unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].key, "dataplane.control_core");
    assert_eq!(errors[1].key, "service[0].nodes");
    assert_eq!(parse(&text, "t.toml").unwrap_err(), errors[0]);
}

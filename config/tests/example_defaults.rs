//! The documented example parses and documents every key; defaults are what schema.rs says.

mod support;
use std::collections::BTreeSet;
use std::time::Duration;
use support::*;

const EXAMPLE: &str = include_str!("../examples/cidlb.toml");

#[test]
fn example_parses() {
    let config = accepts(EXAMPLE);
    assert_eq!(config.port.len(), 1);
    assert_eq!(config.node.len(), 2);
    assert_eq!(config.service.len(), 2);
    assert_eq!(config.node[1].health.probe, ProbeKind::Udp);
    assert_eq!(config.dataplane.hash_key_bytes().map(|k| k[15]), Some(0x0f));
}

/// The names serde expects in one table, read from its "unknown key" error, so this test
/// follows the schema without listing it twice.
fn expected_keys(text: &str) -> Vec<String> {
    let e = parse(text, "probe.toml").unwrap_err();
    let list = e.message.split("expected ").nth(1).unwrap_or_else(|| panic!("no key list in {e}"));
    let list = list.trim_start_matches("one of ");
    list.split(", ").flat_map(|k| k.split(" or ")).map(|k| k.trim_matches('`').to_string()).collect()
}

/// Keys written in the example under `path` (tables of an array merged).
fn example_keys(path: &[&str]) -> BTreeSet<String> {
    let document: toml::Table = toml::from_str(EXAMPLE).unwrap();
    let mut tables: Vec<&toml::Table> = vec![&document];
    for name in path {
        tables = tables
            .iter()
            .filter_map(|t| t.get(*name))
            .flat_map(|v| match v {
                toml::Value::Table(t) => vec![t],
                toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).collect(),
                _ => vec![],
            })
            .collect();
    }
    tables.iter().flat_map(|t| t.keys().cloned()).collect()
}

#[test]
fn example_documents_every_key() {
    let probes: [(&[&str], String); 9] = [
        (&[], "zzz = 1\n".to_string()),
        (&["eal"], "[eal]\nzzz = 1\n".to_string()),
        (&["dataplane"], "[dataplane]\nzzz = 1\n".to_string()),
        (&["control"], "[control]\nzzz = 1\n".to_string()),
        (&["port"], "[[port]]\nzzz = 1\n".to_string()),
        (&["neighbor"], "[[neighbor]]\nzzz = 1\n".to_string()),
        (&["node"], "[[node]]\nzzz = 1\n".to_string()),
        (&["node", "health"], "[[node]]\nhealth = { zzz = 1 }\n".to_string()),
        (&["service"], "[[service]]\nzzz = 1\n".to_string()),
    ];
    for (path, probe) in probes {
        let written = example_keys(path);
        for key in expected_keys(&probe) {
            assert!(written.contains(&key), "examples/cidlb.toml does not show `{key}` in {path:?}");
        }
    }
    // Every key carries a comment on its line or just above it.
    let mut previous = "";
    for line in EXAMPLE.lines().map(str::trim) {
        let is_key = line.contains(" = ") && !line.starts_with('#') && !line.starts_with('"');
        if is_key {
            assert!(line.contains('#') || previous.starts_with('#'), "no comment on `{line}`");
        }
        previous = line;
    }
}

#[test]
fn defaults_are_documented_values() {
    let config = accepts(BASE);
    let dp = &config.dataplane;
    assert_eq!(dp.burst, 32);
    assert_eq!(dp.session_timeout.0, Duration::from_secs(15));
    assert_eq!(dp.sessions_per_worker, 1 << 20);
    assert_eq!(dp.fragment_timeout.0, Duration::from_secs(1));
    assert_eq!(dp.fragments_per_worker, 1 << 16);
    assert_eq!(dp.hash_key, None);
    assert_eq!(dp.mbufs, 16383);
    assert_eq!(dp.mbuf_cache, 256);
    assert_eq!((dp.rx_descriptors, dp.tx_descriptors), (1024, 1024));
    assert_eq!(dp.drain_interval.0, Duration::from_micros(100));
    assert_eq!(dp.pending_per_worker, 256);
    assert_eq!(dp.tunnel_ttl, 64);
    assert_eq!(config.control, Control::default());
    assert_eq!(config.control.metrics, Some("127.0.0.1:9781".parse().unwrap()));
    assert_eq!(config.control.tick.0, Duration::from_millis(10));
    assert_eq!(config.control.pidfile, None);

    assert_eq!(config.port[0].mtu, 1500);
    assert_eq!(config.port[0].mac, None);
    let node = &config.node[0];
    assert_eq!((node.weight, node.drain), (1, false));
    assert_eq!(node.health, Health::default());
    assert_eq!(node.health.probe, ProbeKind::None);
    assert_eq!((node.health.interval.0, node.health.timeout.0), (Duration::from_secs(1), Duration::from_millis(500)));
    assert_eq!((node.health.rise, node.health.fall), (2, 3));
    let service = &config.service[0];
    assert_eq!((service.cid_length, service.node_id_offset, service.node_id_length), (6, 0, 1));
    assert_eq!(service.unknown_cid, UnknownCid::Drop);
    assert_eq!(service.forward, Forward::Nat);
    assert_eq!(service.target_port, None);
    assert_eq!(service.maglev_table_size, 65537);

    // An absent [dataplane] is the default one: workers [1], control core 0.
    let text = BASE.replace("[dataplane]\nworkers = [1]\ncontrol_core = 0\n", "");
    assert_eq!(accepts(&text).dataplane, Dataplane::default());
    assert_eq!(Dataplane::default().workers, vec![1]);
    assert_eq!(Dataplane::default().control_core, 0);
    // A service without a port matches every port.
    let text = BASE.replace("port = 5684\n", "");
    assert_eq!(accepts(&text).service[0].port, 0);
}

#[test]
fn summary_shows_what_runs() {
    let summary = accepts(EXAMPLE).summary();
    for fragment in [
        "net0",
        "net_pcap0",
        "192.0.2.1/24 via 192.0.2.254",
        "mtu 1500",
        "lcores 1 (control on core 0)",
        "idle timeout 15s",
        "coaps",
        "192.0.2.10:5684/udp",
        "[2001:db8::10]:5683/udp",
        "dtls-cid (cid 6 bytes",
        "flow-label",
        "nat to port 5684",
        "ipip",
        "node 2",
        "weight 2",
        "coap-ping :5683 every 1s timeout 500ms rise 2 fall 3",
        "192.0.2.254  02:00:00:00:00:fe",
        "metrics  http://127.0.0.1:9781/metrics",
    ] {
        assert!(summary.contains(fragment), "summary lacks `{fragment}`:\n{summary}");
    }
    // Node lines are aligned: the address column starts at the same place on each.
    let columns: BTreeSet<usize> =
        summary.lines().filter(|l| l.trim_start().starts_with("node ")).map(|l| l.find("192.0.2.").unwrap()).collect();
    assert_eq!(columns.len(), 1, "{summary}");
    let off = accepts(&format!("{BASE}\n[control]\nmetrics = \"off\"\n")).summary();
    assert!(off.contains("metrics  off"), "{off}");
}

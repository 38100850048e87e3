//! Syntax, type and unknown-key errors: each names the key path, its line and what to write.

mod support;
use support::*;

#[test]
fn unknown_key_at_top_level() {
    let text = format!("bogus = 1\n{BASE}");
    let e = error_at(&text, "bogus", Some(1), "unknown key `bogus` in the top-level table");
    assert!(e.message.contains("expected one of `eal`, `dataplane`"), "{e}");
}

#[test]
fn unknown_key_in_table() {
    let text = BASE.replace("control_core = 0", "control_core = 0\nsesion_timeout = \"15s\"");
    let e = error_at(
        &text,
        "dataplane.sesion_timeout",
        Some(line(&text, "sesion_timeout", 1)),
        "unknown key `sesion_timeout` in [dataplane]; expected one of",
    );
    assert!(e.message.contains("`session_timeout`"), "{e}");
}

#[test]
fn unknown_key_in_array_of_tables() {
    let text = BASE.replace("address = \"192.0.2.12\"", "address = \"192.0.2.12\"\nwieght = 3");
    let e = error_at(&text, "node[1].wieght", Some(line(&text, "wieght", 1)), "unknown key `wieght` in [[node]] #2");
    assert!(e.message.contains("`weight`"), "{e}");
}

#[test]
fn unknown_key_in_inline_table() {
    let text = BASE.replace(
        "address = \"192.0.2.11\"",
        "address = \"192.0.2.11\"\nhealth = { probe = \"icmp\", intervall = \"1s\" }",
    );
    error_at(&text, "node[0].health.intervall", Some(line(&text, "intervall", 1)), "unknown key `intervall` in `node[0].health`");
}

#[test]
fn unknown_key_in_subtable_of_array_element() {
    let text = BASE.replace("address = \"192.0.2.12\"", "address = \"192.0.2.12\"\n[node.health]\nprobe = \"icmp\"\nrize = 2");
    error_at(&text, "node[1].health.rize", Some(line(&text, "rize", 1)), "unknown key `rize`");
}

#[test]
fn bad_mac() {
    let text = BASE.replace("device = \"net_null0\"", "device = \"net_null0\"\nmac = \"02:00:00:00:00\"");
    error_at(&text, "port[0].mac", Some(line(&text, "mac =", 1)), "is not a MAC address");
    let text = BASE.replace("device = \"net_null0\"", "device = \"net_null0\"\nmac = \"02:00:00:00:00:zz\"");
    error_at(&text, "port[0].mac", Some(line(&text, "mac =", 1)), "`zz` must be two hex digits");
    let text = BASE.replace("device = \"net_null0\"", "device = \"net_null0\"\nmac = \"+2:00:00:00:00:01\"");
    error_at(&text, "port[0].mac", Some(line(&text, "mac =", 1)), "`+2` must be two hex digits");
}

#[test]
fn bad_prefix() {
    let text = BASE.replace("192.0.2.1/24", "192.0.2.1/33");
    error_at(&text, "port[0].ipv4", Some(line(&text, "ipv4 =", 1)), "`192.0.2.1/33` is not an IPv4 address with prefix length");
    let text = BASE.replace("2001:db8::1/64", "2001:db8::1");
    error_at(&text, "port[0].ipv6", Some(line(&text, "ipv6 =", 1)), "is not an IPv6 address with prefix length");
}

#[test]
fn bad_address() {
    let text = BASE.replace("vip = \"192.0.2.10\"", "vip = \"192.0.2.300\"");
    error_at(&text, "service[0].vip", Some(line(&text, "vip =", 1)), "`192.0.2.300` is not an IP address");
}

#[test]
fn bad_duration() {
    let text = BASE.replace("control_core = 0", "control_core = 0\nsession_timeout = \"15 parsecs\"");
    error_at(&text, "dataplane.session_timeout", Some(line(&text, "session_timeout", 1)), "is not a duration");
}

#[test]
fn bad_hex_key() {
    let text = BASE.replace("control_core = 0", "control_core = 0\nhash_key = \"not hex at all\"");
    error_at(&text, "dataplane.hash_key", Some(line(&text, "hash_key", 1)), "exactly 32 hex digits");
    let text = BASE.replace("control_core = 0", "control_core = 0\nhash_key = \"000102030405060708090a0b0c0d0e\"");
    error_at(&text, "dataplane.hash_key", Some(line(&text, "hash_key", 1)), "exactly 32 hex digits");
    let text = BASE.replace("control_core = 0", "control_core = 0\nhash_key = \"000102030405060708090a0b0c0d0e0g\"");
    error_at(&text, "dataplane.hash_key", Some(line(&text, "hash_key", 1)), "is not a 16-byte key");
}

#[test]
fn wrong_type() {
    let text = BASE.replace("control_core = 0", "control_core = 0\nburst = \"many\"");
    error_at(&text, "dataplane.burst", Some(line(&text, "burst", 1)), "expected u16");
}

#[test]
fn out_of_range_integer() {
    let text = BASE.replace("workers = [1]", "workers = [1, -2]");
    error_at(&text, "dataplane.workers[1]", Some(line(&text, "workers", 1)), "expected u32");
}

#[test]
fn unknown_variant() {
    let text = BASE.replace("balance = \"dtls-cid\"", "balance = \"round-robin\"");
    error_at(&text, "service[0].balance", Some(line(&text, "balance", 1)), "unknown variant `round-robin`");
}

#[test]
fn missing_required_key() {
    let text = BASE.replace("vip = \"192.0.2.10\"\n", "");
    error_at(&text, "service[0].vip", Some(line(&text, "[[service]]", 1)), "missing key `vip` in [[service]] #1");
}

#[test]
fn syntax_error() {
    let text = format!("{BASE}\n[dataplane\n");
    let e = parse(&text, "t.toml").unwrap_err();
    assert_eq!(e.line, Some(line(&text, "[dataplane\n", 1)), "{e}");
    assert!(!e.message.contains('\n'), "one line: {e}");
}

#[test]
fn duplicate_key_is_a_syntax_error() {
    let text = BASE.replace("control_core = 0", "control_core = 0\ncontrol_core = 2");
    let e = parse(&text, "t.toml").unwrap_err();
    assert_eq!(e.line, Some(line(&text, "control_core = 2", 1)), "{e}");
}

#[test]
fn metrics_off_and_bad() {
    let text = format!("{BASE}\n[control]\nmetrics = \"off\"\n");
    assert_eq!(parse(&text, "t.toml").unwrap().control.metrics, None);
    let text = format!("{BASE}\n[control]\nmetrics = \"[::1]:9000\"\n");
    assert_eq!(parse(&text, "t.toml").unwrap().control.metrics, Some("[::1]:9000".parse().unwrap()));
    let text = format!("{BASE}\n[control]\nmetrics = \"localhost\"\n");
    error_at(&text, "control.metrics", Some(line(&text, "metrics", 1)), "is not an address and port");
}

#[test]
fn display_has_file_line_and_key() {
    let text = BASE.replace("control_core = 0", "control_core = 0\nburst = 0");
    let e = parse(&text, "/etc/cidlb.toml").unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with(&format!("/etc/cidlb.toml:{}: `dataplane.burst`: ", line(&text, "burst", 1))), "{shown}");
}

#[test]
fn load_reports_unreadable_and_non_utf8_files() {
    let dir = std::env::temp_dir().join(format!("cidlb-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.toml");
    let e = load(&missing).unwrap_err();
    assert!(e.message.contains("cannot read"), "{e}");
    assert_eq!(e.file, missing.display().to_string());
    let binary = dir.join("binary.toml");
    std::fs::write(&binary, b"[eal]\nargs = [\"\xff\"]\n").unwrap();
    let e = load(&binary).unwrap_err();
    assert!(e.message.contains("not UTF-8"), "{e}");
    let good = dir.join("good.toml");
    std::fs::write(&good, BASE).unwrap();
    assert!(load(&good).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

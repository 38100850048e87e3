//! Shared by the integration tests: a valid base config and assertions on errors.
#![allow(dead_code)]

pub use cidlb_config::*;

/// A small valid config; tests edit it with `replace` or append to it.
pub const BASE: &str = r#"[eal]
args = ["--no-pci", "--in-memory"]

[dataplane]
workers = [1]
control_core = 0

[[port]]
name = "net0"
device = "net_null0"
ipv4 = "192.0.2.1/24"
ipv6 = "2001:db8::1/64"
gateway4 = "192.0.2.254"

[[node]]
id = 1
address = "192.0.2.11"

[[node]]
id = 2
address = "192.0.2.12"

[[service]]
name = "coaps"
vip = "192.0.2.10"
port = 5684
protocol = "udp"
balance = "dtls-cid"
nodes = [1, 2]
"#;

/// 1-based line of the `nth` (1-based) occurrence of `needle`.
pub fn line(text: &str, needle: &str, nth: usize) -> usize {
    let (offset, _) = text.match_indices(needle).nth(nth - 1).unwrap_or_else(|| panic!("`{needle}` #{nth} not in text"));
    text[..offset].matches('\n').count() + 1
}

/// Asserts that `text` is rejected with an error on `key` at `line` whose message holds
/// `fragment`, and returns that error.
pub fn error_at(text: &str, key: &str, line: Option<usize>, fragment: &str) -> ConfigError {
    assert!(parse(text, "t.toml").is_err(), "parse accepted:\n{text}");
    let errors = parse_all(text, "t.toml").expect_err("parse_all accepted");
    let Some(e) = errors.iter().find(|e| e.key == key) else {
        panic!("no error on `{key}`; got:\n{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"));
    };
    assert_eq!(e.line, line, "line of {e}");
    assert!(e.message.contains(fragment), "message lacks `{fragment}`: {e}");
    assert_eq!(e.file, "t.toml");
    e.clone()
}

pub fn accepts(text: &str) -> Config {
    match parse_all(text, "t.toml") {
        Ok(config) => config,
        Err(errors) => panic!("rejected:\n{}", errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    }
}

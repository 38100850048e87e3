//! Static validation of `docker/`: the Docker engine does not run on the machines this project
//! is tested on, so the Dockerfile and compose file are checked here without it (docker/README.md).

use serde_yaml::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Value {
    let path = repo().join("docker/compose.yaml");
    let text = std::fs::read_to_string(&path).expect("read docker/compose.yaml");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// `<<: *anchor` merge keys, resolved (serde_yaml leaves them to the reader).
fn merged(service: &Value) -> serde_yaml::Mapping {
    let map = service.as_mapping().expect("a service is a mapping").clone();
    let mut out = serde_yaml::Mapping::new();
    if let Some(base) = map.get("<<").and_then(Value::as_mapping) {
        out.extend(base.clone());
    }
    for (k, v) in map {
        if k.as_str() != Some("<<") {
            out.insert(k, v);
        }
    }
    out
}

/// The Dockerfile's logical lines (continuations joined, comments dropped).
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("docker/Dockerfile")).expect("read docker/Dockerfile");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (instruction, rest) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
        out.push((instruction.to_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    assert!(current.is_empty(), "the Dockerfile ends in a line continuation");
    out
}

fn stages() -> BTreeSet<String> {
    dockerfile_instructions()
        .into_iter()
        .filter(|(i, _)| i == "FROM")
        .filter_map(|(_, rest)| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            (words.len() == 3 && words[1].eq_ignore_ascii_case("as")).then(|| words[2].to_string())
        })
        .collect()
}

#[test]
fn dockerfile_instructions_are_known_and_copy_sources_exist() {
    const KNOWN: &[&str] = &[
        "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER", "WORKDIR",
        "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
    ];
    let instructions = dockerfile_instructions();
    assert_eq!(instructions.first().map(|(i, _)| i.as_str()), Some("FROM"), "a Dockerfile starts with FROM (or ARG)");
    let stages = stages();
    for want in ["build", "cidlb", "peers"] {
        assert!(stages.contains(want), "the Dockerfile has no stage `{want}` (stages: {stages:?})");
    }
    for (instruction, rest) in &instructions {
        assert!(KNOWN.contains(&instruction.as_str()), "unknown Dockerfile instruction {instruction}");
        match instruction.as_str() {
            "COPY" | "ADD" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                if let Some(from) = words.iter().find_map(|w| w.strip_prefix("--from=")) {
                    assert!(stages.contains(from), "COPY --from={from}: no such stage");
                    continue;
                }
                let args: Vec<&&str> = words.iter().filter(|w| !w.starts_with("--")).collect();
                assert!(args.len() >= 2, "{instruction} {rest}: needs a source and a destination");
                for source in &args[..args.len() - 1] {
                    let path = repo().join(source);
                    assert!(path.exists(), "{instruction} {rest}: {} does not exist", path.display());
                }
            }
            "ENTRYPOINT" | "CMD" if rest.starts_with('[') => {
                let parsed: Result<Vec<String>, _> = serde_json::from_str(rest);
                assert!(parsed.is_ok(), "{instruction} {rest}: the exec form must be a JSON array of strings");
            }
            _ => {}
        }
    }
    // Scripts the images run must be executable in the build context.
    for script in ["docker/entrypoint-cidlb.sh", "docker/entrypoint-peer.sh", "lab/build-peers.sh"] {
        let mode = std::fs::metadata(repo().join(script)).map(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.permissions().mode()
        });
        assert!(mode.is_ok_and(|m| m & 0o111 != 0), "{script} must exist and be executable");
    }
}

#[test]
fn compose_file_describes_the_lab_topology() {
    let doc = compose();
    let services = doc.get("services").and_then(Value::as_mapping).expect("compose: services");
    let networks = doc.get("networks").and_then(Value::as_mapping).expect("compose: networks");
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
    for want in ["cidlb", "node1", "node2", "router", "client"] {
        assert!(names.contains(want), "compose: no service `{want}`");
    }
    let stages = stages();
    let compose_dir = repo().join("docker");
    let mut addresses = BTreeSet::new();
    for (name, service) in services {
        let name = name.as_str().expect("service names are strings");
        let service = merged(service);
        // Build: the context and Dockerfile exist, the target is a stage.
        let build = service.get("build").and_then(Value::as_mapping).unwrap_or_else(|| panic!("{name}: no build"));
        let context = compose_dir.join(build.get("context").and_then(Value::as_str).expect("build.context"));
        let dockerfile = context.join(build.get("dockerfile").and_then(Value::as_str).unwrap_or("Dockerfile"));
        assert!(dockerfile.is_file(), "{name}: {} does not exist", dockerfile.display());
        let target = build.get("target").and_then(Value::as_str).expect("build.target");
        assert!(stages.contains(target), "{name}: build target `{target}` is not a Dockerfile stage");
        // Networks: declared, static addresses inside a declared subnet, each used once.
        let service_networks = service.get("networks").and_then(Value::as_mapping).unwrap_or_else(|| panic!("{name}: no networks"));
        for (network, settings) in service_networks {
            let network = network.as_str().expect("network name");
            let declared = networks.get(network).unwrap_or_else(|| panic!("{name}: network `{network}` is not declared"));
            let subnets: Vec<ipnet_like::Net> = declared["ipam"]["config"]
                .as_sequence()
                .expect("ipam.config")
                .iter()
                .map(|c| ipnet_like::Net::parse(c["subnet"].as_str().expect("subnet")))
                .collect();
            for key in ["ipv4_address", "ipv6_address"] {
                if let Some(address) = settings.get(key).and_then(Value::as_str) {
                    let ip: std::net::IpAddr = address.parse().unwrap_or_else(|_| panic!("{name}: {key} {address}"));
                    assert!(subnets.iter().any(|s| s.contains(ip)), "{name}: {address} is outside network `{network}`");
                    assert!(addresses.insert(ip), "{name}: {address} is used twice");
                }
            }
        }
        // Files bind-mounted from the compose directory exist.
        for volume in service.get("volumes").and_then(Value::as_sequence).into_iter().flatten() {
            let spec = volume.as_str().expect("short volume syntax");
            let source = spec.split(':').next().unwrap_or_default();
            if source.starts_with('.') {
                assert!(compose_dir.join(source).exists(), "{name}: volume source {source} does not exist");
            }
        }
    }
    // DPDK's needs on the balancer.
    let cidlb = merged(&services["cidlb"]);
    let caps: BTreeSet<&str> = cidlb["cap_add"].as_sequence().expect("cidlb: cap_add").iter().filter_map(Value::as_str).collect();
    for cap in ["NET_ADMIN", "NET_RAW", "IPC_LOCK", "SYS_NICE"] {
        assert!(caps.contains(cap), "cidlb: cap_add lacks {cap}");
    }
    let volumes: Vec<&str> = cidlb["volumes"].as_sequence().expect("cidlb: volumes").iter().filter_map(Value::as_str).collect();
    assert!(volumes.iter().any(|v| v.starts_with("/dev/hugepages:")), "cidlb: no /dev/hugepages mount");
    assert!(cidlb["ulimits"]["memlock"].as_i64() == Some(-1), "cidlb: memlock must be unlimited");
    // The nodes route through the balancer; the router masquerades.
    for node in ["node1", "node2"] {
        assert_eq!(merged(&services[node])["environment"]["ROLE"].as_str(), Some("node"), "{node}: ROLE");
    }
    assert_eq!(merged(&services["router"])["environment"]["ROLE"].as_str(), Some("router"));
}

#[test]
fn docker_config_passes_cidlb_check() {
    let path = repo().join("docker/cidlb.toml");
    let config = cidlb_config::load_all(&path).unwrap_or_else(|errors| {
        panic!("{}: {}", path.display(), errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))
    });
    let args = config.eal.args.join(" ");
    assert!(args.contains("--no-pci"), "docker/cidlb.toml: [eal] args must keep --no-pci");
    assert!(args.contains("net_af_packet0,iface=eth0"), "docker/cidlb.toml: the port is the container's eth0");
    // Its addresses match the compose file's network.
    let doc = compose();
    let lan = ipnet_like::Net::parse(doc["networks"]["lan"]["ipam"]["config"][0]["subnet"].as_str().expect("lan subnet"));
    for service in &config.service {
        if service.vip.is_ipv4() {
            assert!(lan.contains(service.vip), "VIP {} outside the compose lan", service.vip);
        }
    }
    assert!(Path::new(&repo().join("docker/README.md")).is_file());
}

/// Just enough prefix arithmetic for the checks above.
mod ipnet_like {
    use std::net::IpAddr;

    pub struct Net {
        addr: IpAddr,
        len: u32,
    }

    impl Net {
        pub fn parse(s: &str) -> Net {
            let (a, l) = s.split_once('/').unwrap_or_else(|| panic!("subnet {s} has no prefix length"));
            Net { addr: a.parse().unwrap_or_else(|_| panic!("subnet {s}")), len: l.parse().expect("prefix length") }
        }

        pub fn contains(&self, ip: IpAddr) -> bool {
            match (self.addr, ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => {
                    let mask = if self.len == 0 { 0 } else { u32::MAX << (32 - self.len) };
                    u32::from(n) & mask == u32::from(a) & mask
                }
                (IpAddr::V6(n), IpAddr::V6(a)) => {
                    let mask = if self.len == 0 { 0 } else { u128::MAX << (128 - self.len) };
                    u128::from(n) & mask == u128::from(a) & mask
                }
                _ => false,
            }
        }
    }
}

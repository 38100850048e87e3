//! Build metadata for `cidlb --version`: the crate version and the DPDK version pkg-config finds.
use std::process::Command;

fn main() {
    let version = env!("CARGO_PKG_VERSION");
    let dpdk = if std::env::var_os("CARGO_FEATURE_DPDK").is_some() {
        Command::new("pkg-config")
            .args(["--modversion", "libdpdk"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "unknown".to_string())
    } else {
        "none (built without the dpdk feature)".to_string()
    };
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=CIDLB_VERSION_LONG={version} (commit {commit}, DPDK {dpdk})");
    println!("cargo:rustc-env=CIDLB_DPDK_VERSION={dpdk}");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
}

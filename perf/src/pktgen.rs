//! Pktgen-DPDK scripts for the bench profiles (`perf/pktgen/lua/NAME.lua`, one per profile),
//! generated from the profile list so that none goes missing or stale:
//! `cidlb-perf pktgen-scripts --dir perf/pktgen/lua` writes them, and a test holds the
//! committed files to this module's output. The shared steps are in `perf/pktgen/lua/cidlb.lua`.

use crate::bench::{target_text, BenchProfile, Target, BENCH_PROFILES};
use std::fmt::Write as _;
use std::path::Path;

/// Rate steps, in percent of the link speed, and seconds per step.
pub const RATES: [u32; 6] = [10, 25, 50, 75, 90, 100];
pub const SECONDS: u32 = 10;

/// What a tester must know about a profile beyond its description, as comment lines.
fn notes(profile: &BenchProfile) -> Vec<String> {
    let mut notes = Vec::new();
    match profile.name {
        "new-flows" => notes.push("Run cidlb with this profile's config (configs/new-flows.toml): its 1 ms session timeout makes every packet a new session.".into()),
        "ipip" => notes.push(
            "cidlb forwards every packet in an IPv4-in-IPv4 tunnel, 20 bytes longer than it came: near line rate the link back, not cidlb, limits what returns.".into(),
        ),
        "flow-label-ipip" => notes.push(
            "cidlb forwards every packet in an IPv6-in-IPv6 tunnel, 40 bytes longer than it came: near line rate the link back, not cidlb, limits what returns.".into(),
        ),
        "flow-label-frag" => notes.push("Large frames (1280 + ~200 bytes): line rate is reached at fewer Mpps.".into()),
        _ => {}
    }
    match profile.target {
        Target::VsProfile(other, _) => notes.push(format!("Compare its highest loss-free Mpps with {other}'s (run that script too).")),
        Target::CidUnderFlood { base, flood_only, cid_share, .. } => notes.push(format!(
            "With c = 1 / the Mpps cidlb forwards at 100 % (saturated) for each of {base}, {name} and {flood_only}: CID cost under flood = (c({name}) − {rest} × c({flood_only})) / {cid_share}, held against c({base}) (run all three scripts).",
            name = profile.name,
            rest = 1.0 - cid_share,
        )),
        Target::VsTestpmd(_) | Target::None => {}
    }
    if let Some(user) = BENCH_PROFILES.iter().find(|p| p.target.inputs().contains(&profile.name)) {
        notes.push(format!("An input of {}'s target: run it with {}.", user.name, user.name));
    }
    notes
}

/// The script of one profile.
pub fn script(profile: &BenchProfile) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "-- cidlb profile `{}`: {}.", profile.name, profile.about);
    let _ = writeln!(out, "-- Target: {}.", target_text(profile));
    for note in notes(profile) {
        let _ = writeln!(out, "-- {note}");
    }
    let _ = writeln!(out, "-- Run: pktgen <EAL args> -- -P -m \"[1:2].0\" -s 0:perf/pktgen/captures/{0}.pcap -f perf/pktgen/lua/{0}.lua", profile.name);
    let _ = writeln!(out, "-- Frame sizes come from the capture; rates are percent of the link speed.");
    let _ = writeln!(out, "-- Written by `cidlb-perf pktgen-scripts` from the bench profiles (perf/src/pktgen.rs): edit that, not this file.");
    let _ = writeln!(out, "package.path = package.path .. \";perf/pktgen/lua/?.lua;lua/?.lua;?.lua\"");
    let _ = writeln!(out, "require \"Pktgen\"");
    let _ = writeln!(out, "local cidlb = require \"cidlb\"");
    let rates: Vec<String> = RATES.iter().map(u32::to_string).collect();
    let _ = writeln!(out, "cidlb.run(\"{}\", {{{}}}, {SECONDS})", profile.name, rates.join(", "));
    out
}

/// Write every bench profile's script into `dir`; returns the files written.
pub fn write_scripts(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for profile in BENCH_PROFILES.iter().filter(|p| p.implemented) {
        let name = format!("{}.lua", profile.name);
        std::fs::write(dir.join(&name), script(profile))?;
        written.push(name);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lua_dir() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("pktgen/lua")
    }

    #[test]
    fn committed_scripts_are_the_generated_ones_one_per_profile() {
        for profile in BENCH_PROFILES.iter().filter(|p| p.implemented) {
            let path = lua_dir().join(format!("{}.lua", profile.name));
            let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}; run cidlb-perf pktgen-scripts --dir perf/pktgen/lua", path.display()));
            assert_eq!(committed, script(profile), "{} is stale: run cidlb-perf pktgen-scripts --dir perf/pktgen/lua", path.display());
        }
        // No script for a profile that no longer exists (cidlb.lua is the shared library).
        for entry in std::fs::read_dir(lua_dir()).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let stem = name.strip_suffix(".lua").unwrap_or(&name);
            assert!(stem == "cidlb" || BENCH_PROFILES.iter().any(|p| p.name == stem && p.implemented), "perf/pktgen/lua/{name} names no bench profile that runs");
        }
    }

    #[test]
    fn scripts_say_what_their_targets_need() {
        let find = |name: &str| script(BENCH_PROFILES.iter().find(|p| p.name == name).unwrap());
        let cid = find("cid");
        assert!(cid.starts_with("-- cidlb profile `cid`: DTLS CID records, 1000 clients over 3 nodes.\n-- Target: ≥ 0.9 × 5tswap (CID NAT path).\n"), "{cid}");
        assert!(cid.ends_with("cidlb.run(\"cid\", {10, 25, 50, 75, 90, 100}, 10)\n"), "{cid}");
        assert!(find("ipip").contains("20 bytes longer"));
        assert!(find("flow-label-ipip").contains("40 bytes longer"));
        assert!(find("session-1m").contains("Compare its highest loss-free Mpps with session-1k-long's"));
        assert!(find("session-1k-long").contains("An input of session-1m's target"));
        let flood = find("flood");
        assert!(flood.contains("(c(flood) − 0.25 × c(flood-only)) / 0.75, held against c(flood-base)"), "{flood}");
        assert!(find("flood-only").contains("An input of flood's target"));
    }

    #[test]
    fn gen_captures_covers_every_script() {
        // The capture script takes its profile list from the scripts, so it cannot miss one.
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("pktgen/gen-captures.sh")).unwrap();
        assert!(text.contains("for script in \"$here\"/lua/*.lua"), "{text}");
    }
}

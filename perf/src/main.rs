//! cidlb-perf: generate traffic profiles as pcap files, and summarise what the balancer sent.

use anyhow::{anyhow, bail, Context};
use cidlb_dataplane::io::pcap::{read_pcap, write_pcap};
use cidlb_perf::bench::{self, BenchOptions, BENCH_PROFILES};
use cidlb_perf::profiles::{generate, is_profile, ProfileParams, PROFILES};
use cidlb_perf::summary::Summary;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "cidlb-perf", about = "Traffic profiles and capture summaries for cidlb")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a generated capture (see `cidlb-perf profiles`).
    Gen {
        /// Profile name: a generator profile, or a bench profile (which sets the defaults of
        /// --packets, --flows and --nodes).
        #[arg(long)]
        profile: String,
        /// Packets in the capture [default: 10000, or the bench profile's].
        #[arg(long)]
        packets: Option<usize>,
        /// Distinct clients or flows [default: 1000, or the bench profile's].
        #[arg(long)]
        flows: Option<u32>,
        /// Nodes of the CID profiles [default: 3, or the bench profile's].
        #[arg(long)]
        nodes: Option<u8>,
        /// Payload (ciphertext) bytes per packet.
        #[arg(long, default_value_t = 40)]
        size: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_name = "OUT.pcap")]
        out: PathBuf,
    },
    /// List the profiles (generator profiles, then bench profiles).
    Profiles,
    /// Print the cidlb config a bench profile runs with.
    BenchConfig {
        #[arg(long)]
        profile: String,
    },
    /// cidlb against dpdk-testpmd (5tswap, and io as the I/O floor) on the same capture, core
    /// and device (net_pcap infinite_rx, transmit dropped), alternating rounds; prints a
    /// Markdown table and optionally rewrites the README's performance table.
    Bench {
        /// Bench profiles to run, comma-separated [default: all].
        #[arg(long, value_delimiter = ',')]
        profiles: Vec<String>,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Seconds each program forwards per round.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Where captures, configs, logs and stats go (captures are reused when present).
        #[arg(long, value_name = "DIR")]
        workdir: Option<PathBuf>,
        /// The cidlb binary [default: `cidlb` next to this program].
        #[arg(long)]
        cidlb: Option<PathBuf>,
        #[arg(long, default_value = "dpdk-testpmd")]
        testpmd: PathBuf,
        /// Skip testpmd `io` (the I/O floor).
        #[arg(long)]
        no_io: bool,
        /// Use --no-huge for every run.
        #[arg(long)]
        no_huge: bool,
        /// Replace the table between the perf-table markers of this README.
        #[arg(long, value_name = "README.md")]
        readme: Option<PathBuf>,
        /// Also write the raw results as JSON.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Keep the rows of an earlier `--json` for the profiles not run now (e.g. to re-run
        /// one that failed); the table notes which rows are from the earlier run.
        #[arg(long, value_name = "FILE")]
        merge: Option<PathBuf>,
        /// Run nothing: render the table from this `--json` file (e.g. after a rule change).
        #[arg(long, value_name = "FILE", conflicts_with = "merge")]
        from_json: Option<PathBuf>,
    },
    /// The worker's burst loop over a bench profile's capture in memory, without DPDK: ns per
    /// packet of cidlb's own code (quick, and deterministic under callgrind). For tuning;
    /// `bench` gives the figures that count.
    Micro {
        /// Bench profiles, comma-separated [default: all].
        #[arg(long, value_delimiter = ',')]
        profiles: Vec<String>,
        /// Packets measured per profile (after one warm-up pass over the capture).
        #[arg(long, default_value_t = 10_000_000)]
        packets: u64,
        /// For the CID-under-flood figure (profile `flood`): packets per segment of the
        /// interleaved run, which replays flood-base, flood and flood-only in turn in one worker
        /// until `--packets` were measured in all.
        #[arg(long, default_value_t = 65_536)]
        segment: u64,
        /// A diagnostic for `flood`: its spoofed packets arrive in runs of N (and its CID
        /// records in runs of 3N) instead of evenly spread, the same packets otherwise. With N
        /// = 32, the worker's burst, the flood and the CID records never share a burst: the
        /// figure then shows what the flood costs CID records outside their own bursts.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        flood_run: u64,
    },
    /// What this machine's memory costs a session lookup: random reads over buffers of each size,
    /// each waiting for the one before (latency), independent (one line, and the two lines of a
    /// session hit: what a burst's prefetches can reach). `bench` runs it at session-1m's table
    /// size and reads session-1m's row against it.
    Memory {
        /// Buffer sizes in MiB, comma-separated [default: 1,4,16,64 and session-1m's table].
        #[arg(long, value_delimiter = ',')]
        mib: Vec<f64>,
        /// The core to measure on (the bench's worker core by default).
        #[arg(long, default_value_t = bench::WORKER_CORE)]
        core: usize,
        /// Reads of each kind per size.
        #[arg(long, default_value_t = 4_000_000)]
        reads: usize,
        /// TSC frequency in Hz for the cycle columns (the bench table's header says it; 0: ns only).
        #[arg(long, default_value_t = 0)]
        tsc_hz: u64,
    },
    /// Latency under load: timestamped CID traffic through a cidlb instance at fixed rates
    /// (see the README's Performance section).
    #[cfg(feature = "dpdk")]
    Latency(cidlb_perf::latency::LatencyArgs),
    /// Write the Pktgen-DPDK script of every bench profile (NAME.lua) into DIR: the scripts
    /// of `perf/pktgen/` for benchmarking a cidlb box from a second host (see its README).
    PktgenScripts {
        #[arg(long, value_name = "DIR", default_value = "perf/pktgen/lua")]
        dir: PathBuf,
    },
    /// Summarise a capture of the balancer's output: packets per node and kind, and whether
    /// every CID record reached the node its CID names and every flow stayed on one node.
    Summarize {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// The capture to summarise.
        capture: PathBuf,
        /// Exit non-zero if a CID record was misrouted or a flow split across nodes.
        #[arg(long)]
        check: bool,
    },
}

/// The named bench profiles (all when none is named), with the profiles their targets need.
fn select(names: &[String]) -> anyhow::Result<Vec<&'static bench::BenchProfile>> {
    if names.is_empty() {
        return Ok(BENCH_PROFILES.iter().collect());
    }
    let named = names
        .iter()
        .map(|n| bench::find(n).ok_or_else(|| anyhow!("unknown bench profile `{n}` (see `cidlb-perf profiles`)")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(bench::with_companions(named))
}

fn main() -> anyhow::Result<()> {
    let command = Cli::parse().command;
    cidlb_dataplane::select::check_cpu().map_err(|error| anyhow::anyhow!(error))?;
    match command {
        Command::Gen { profile, packets, flows, nodes, size, seed, out } => {
            let (generator, mut params) = match bench::find(&profile) {
                Some(b) if !is_profile(&profile) || b.generator == profile => (b.generator, b.params()),
                _ => (profile.as_str(), ProfileParams::default()),
            };
            params.packets = packets.unwrap_or(params.packets);
            params.flows = flows.unwrap_or(params.flows);
            params.nodes = nodes.unwrap_or(params.nodes);
            params.size = size;
            params.seed = seed;
            let captured = generate(generator, &params).map_err(|e| anyhow!(e))?;
            write_pcap(&out, &captured).map_err(|e| anyhow!("{e}"))?;
            println!("{}: {} packets ({profile})", out.display(), captured.len());
        }
        Command::Profiles => {
            println!("generator profiles (cidlb-perf gen --profile NAME):");
            for (name, about) in PROFILES {
                println!("  {name:<16} {about}");
            }
            println!("bench profiles (cidlb-perf bench --profiles NAME,...; gen takes them too):");
            for p in BENCH_PROFILES {
                let note = if p.implemented { "" } else { " [not implemented: skipped]" };
                println!("  {:<16} {} packets, {} flows: {}{note}", p.name, p.packets, p.flows, p.about);
            }
        }
        Command::BenchConfig { profile } => {
            let p = bench::find(&profile).ok_or_else(|| anyhow!("unknown bench profile `{profile}` (see `cidlb-perf profiles`)"))?;
            print!("{}", p.config());
        }
        Command::Bench { profiles, rounds, seconds, workdir, cidlb, testpmd, no_io, no_huge, readme, json, merge, from_json } => {
            let selected = select(&profiles)?;
            if rounds == 0 || !(seconds > 0.0 && seconds <= 600.0) {
                bail!("--rounds must be at least 1 and --seconds in (0, 600]");
            }
            let cidlb = match cidlb {
                Some(p) => p,
                None => std::env::current_exe()?.with_file_name("cidlb"),
            };
            if !cidlb.exists() {
                bail!("{} not found: build it (`cargo build --release`) or pass --cidlb", cidlb.display());
            }
            let workdir = workdir.unwrap_or_else(|| std::env::temp_dir().join(format!("cidlb-bench-{}", std::process::id())));
            let options = BenchOptions { profiles: selected, rounds, seconds, workdir, cidlb, testpmd, io_floor: !no_io, no_huge };
            let mut results = match &from_json {
                Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
                None => bench::run(&options)?,
            };
            let measured = results.iter().any(|r| r.error.is_none() && r.skipped.is_none());
            if let Some(path) = merge {
                let earlier: Vec<bench::ProfileResult> = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
                results = bench::merge(earlier, results);
            }
            // The load when the (latest) measurements ended, not now (--from-json renders later).
            let load = results
                .iter()
                .rev()
                .find(|r| !r.load.is_empty() && r.earlier_run.is_none())
                .map(|r| r.load.clone())
                .unwrap_or_else(bench::load_average);
            let table = bench::render_table(&results, &options, &load);
            println!("{table}");
            if let Some(path) = json {
                std::fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")?;
            }
            if let Some(path) = readme {
                let text = std::fs::read_to_string(&path)?;
                std::fs::write(&path, bench::replace_table(&text, &table)?)?;
                eprintln!("{}: performance table replaced", path.display());
            }
            if !measured {
                bail!("no profile could be measured (see the errors above)");
            }
        }
        Command::Micro { profiles, packets, segment, flood_run } => {
            let flood_run = usize::try_from(flood_run)?;
            let selected = select(&profiles)?;
            if flood_run > 1 {
                println!("`flood` below has its spoofed packets in runs of {flood_run} (a diagnostic, not the bench's capture).\n");
            }
            println!("| profile | packets | ns/packet | ns/packet (CPU time) | Mpps | dropped |\n|---|---:|---:|---:|---:|---:|");
            for p in &selected {
                let r = cidlb_perf::micro::run(p, packets, flood_run)?;
                let cpu = r.cpu_ns_per_packet();
                println!("| `{}` | {} | {:.1} | {cpu:.1} | {:.2} | {} |", p.name, r.packets, r.ns_per_packet(), 1e3 / r.ns_per_packet(), r.dropped);
            }
            for p in selected.iter().filter(|p| matches!(p.target, cidlb_perf::bench::Target::CidUnderFlood { .. })) {
                println!("\n{}", cidlb_perf::micro::cid_under_flood(p, packets, segment, flood_run)?.render());
            }
        }
        Command::Memory { mib, core, reads, tsc_hz } => {
            let sizes: Vec<usize> = if mib.is_empty() {
                let table = bench::find("session-1m").map_or(144 << 20, |p| p.table_bytes());
                vec![1 << 20, 4 << 20, 16 << 20, 64 << 20, table]
            } else {
                mib.iter().map(|m| (m * f64::from(1 << 20)) as usize).collect()
            };
            let probes = sizes
                .iter()
                .map(|&bytes| cidlb_perf::memory::probe_on_core(core, bytes, reads).map_err(|why| anyhow!("memory probe of {bytes} bytes: {why}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            print!("{}", cidlb_perf::memory::render(&probes, tsc_hz));
        }
        #[cfg(feature = "dpdk")]
        Command::Latency(args) => cidlb_perf::latency::run(&args)?,
        Command::PktgenScripts { dir } => {
            let written = cidlb_perf::pktgen::write_scripts(&dir).with_context(|| format!("writing scripts into {}", dir.display()))?;
            println!("{} scripts in {}: {}", written.len(), dir.display(), written.join(" "));
        }
        Command::Summarize { config, capture, check } => {
            let config = cidlb_config::load(&config).map_err(|e| anyhow!("{e}"))?;
            let packets = read_pcap(&capture, 0).map_err(|e| anyhow!("{e}"))?;
            let summary = Summary::of(&config, &packets);
            print!("{}", summary.render());
            if check && !summary.is_correct() {
                bail!("the balancer's output breaks the rules (see above)");
            }
        }
    }
    Ok(())
}

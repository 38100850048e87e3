//! cidlb-perf: generate traffic profiles as pcap files, and summarise what the balancer sent.

use anyhow::{anyhow, bail};
use cidlb_dataplane::io::pcap::{read_pcap, write_pcap};
use cidlb_perf::profiles::{generate, ProfileParams, PROFILES};
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
        /// Profile name.
        #[arg(long)]
        profile: String,
        #[arg(long, default_value_t = 10_000)]
        packets: usize,
        /// Distinct clients or flows.
        #[arg(long, default_value_t = 1000)]
        flows: u32,
        /// Payload (ciphertext) bytes per packet.
        #[arg(long, default_value_t = 40)]
        size: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_name = "OUT.pcap")]
        out: PathBuf,
    },
    /// List the profiles.
    Profiles,
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

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Gen { profile, packets, flows, size, seed, out } => {
            let params = ProfileParams { packets, flows, size, seed, ..Default::default() };
            let captured = generate(&profile, &params).map_err(|e| anyhow!(e))?;
            write_pcap(&out, &captured).map_err(|e| anyhow!("{e}"))?;
            println!("{}: {} packets ({profile})", out.display(), captured.len());
        }
        Command::Profiles => {
            for (name, about) in PROFILES {
                println!("{name:<16} {about}");
            }
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

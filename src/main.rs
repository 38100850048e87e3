//! cidlb: the command line. `run` forwards on DPDK ports, `check` validates a config before a
//! reload, `replay` shows what the balancer would do with a capture.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[cfg(feature = "dpdk")]
mod run;
mod replay;

#[derive(Parser, Debug)]
#[command(
    name = "cidlb",
    version = env!("CIDLB_VERSION_LONG"),
    about = "Kernel-bypass L3/L4 load balancer on DPDK for DTLS 1.2 Connection ID and IPv6 flow-label traffic",
    long_about = "cidlb keeps DTLS 1.2 Connection ID traffic (RFC 9146) on the node that issued the CID, \
and balances IPv6 flows by <source address, flow label> (RFC 6437, RFC 7098). Other traffic to a \
service sticks to a node through a per-worker session table with an idle timeout (15 s by default).\n\n\
Typical use:\n  cidlb check --config /etc/cidlb/cidlb.toml     validate before starting or reloading\n  \
cidlb run --config /etc/cidlb/cidlb.toml       forward until SIGINT/SIGTERM, stats on exit\n  \
cidlb replay --config cidlb.toml --in in.pcap --out out.pcap   what would the balancer do?\n\n\
Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=cidlb=debug) for more detail."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Forward traffic on the configured DPDK ports until SIGINT/SIGTERM or --duration.
    ///
    /// Starts the DPDK EAL with `[eal] args` from the config plus any arguments after `--`,
    /// opens every `[[port]]` with one RX/TX queue pair per worker, launches one worker on each
    /// `[dataplane] workers` lcore and the control thread on `control_core`. On stop it drains
    /// the queues, stops and closes the ports (so net_pcap output files are complete), prints
    /// the final stats and exits 0.
    Run(RunArgs),
    /// Validate a config file and print a summary; non-zero exit naming the key and line on error.
    ///
    /// Run it before `cidlb run` and before every reload: a running instance keeps its old
    /// config when a reload fails, and this tells you why it would.
    Check {
        /// The TOML config file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Run the balancer's packet path over a capture instead of DPDK ports.
    ///
    /// Every packet of IN (a pcap file, Ethernet link type) goes through the very same worker
    /// code as on DPDK, with time taken from the capture's timestamps so session aging is
    /// deterministic. Packets the balancer transmits are written to OUT with their input
    /// timestamps. Prints counts per service, per node and per drop reason.
    Replay(ReplayArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The TOML config file.
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Write the final stats as JSON to this file (see README, "Stats JSON").
    #[arg(long, value_name = "PATH")]
    pub stats_json: Option<PathBuf>,
    /// Extra DPDK EAL arguments, appended after `[eal] args` (write them after `--`).
    #[arg(last = true, value_name = "EAL_ARGS")]
    pub eal_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The TOML config file (its [eal] and port devices are ignored; ports are taken in order).
    #[arg(short, long, value_name = "FILE")]
    pub config: PathBuf,
    /// Input capture (pcap, Ethernet). Every packet is taken as received on the first port.
    #[arg(long = "in", value_name = "IN.pcap")]
    pub input: PathBuf,
    /// Where to write the transmitted packets (pcap).
    #[arg(long = "out", value_name = "OUT.pcap")]
    pub output: PathBuf,
    /// Write the final stats as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub stats_json: Option<PathBuf>,
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn main() -> std::process::ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Replay(args) => replay::replay(&args),
        #[cfg(feature = "dpdk")]
        Command::Run(args) => run::run(&args),
        #[cfg(not(feature = "dpdk"))]
        Command::Run(_) => Err(anyhow::anyhow!("this cidlb was built without the `dpdk` feature; rebuild with default features")),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cidlb: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn check(path: &std::path::Path) -> anyhow::Result<()> {
    match cidlb_config::load_all(path) {
        Ok(config) => {
            // What `run` builds from the config: reject here what it would reject there.
            if let Err(error) = cidlb_dataplane::snapshot::Snapshot::build(&config, &[], 1) {
                eprintln!("{}: {error}", path.display());
                return Err(anyhow::anyhow!("{}: the config was not accepted", path.display()));
            }
            print!("{}", config.summary());
            println!("{}: OK", path.display());
            Ok(())
        }
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            Err(anyhow::anyhow!("{}: {} error(s); the config was not accepted", path.display(), errors.len()))
        }
    }
}

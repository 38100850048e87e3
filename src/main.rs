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
cidlb reload --config /etc/cidlb/cidlb.toml    validate, then SIGHUP the running instance\n  \
cidlb stats                                    counters of the running instance (its metrics)\n  \
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
    /// Ask a running `cidlb run` to reload its config (SIGHUP to the pid in its pidfile).
    ///
    /// With --config, the file is validated first (as `cidlb check`) and nothing is sent when
    /// it is invalid; the pidfile is then `[control] pidfile` of that config unless --pidfile
    /// is given. The running instance validates again and keeps its old config if the new one
    /// is invalid or changes what needs a restart (ports, workers, EAL arguments, table
    /// sizes); its log says which key and line.
    Reload {
        /// The pidfile `cidlb run` wrote (`[control] pidfile`).
        #[arg(long, value_name = "FILE")]
        pidfile: Option<PathBuf>,
        /// Validate this config first and take the pidfile from it.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Print the counters of a running instance, scraped from its metrics endpoint.
    ///
    /// Per port, worker (with burst latency quantiles), service, node (with health state)
    /// and drop reason. The address is --metrics, else `[control] metrics` of --config, else
    /// 127.0.0.1:9781.
    Stats {
        /// The metrics endpoint, like 127.0.0.1:9781.
        #[arg(long, value_name = "ADDR")]
        metrics: Option<std::net::SocketAddr>,
        /// Take the metrics address from this config.
        #[arg(short, long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Print the Prometheus text as scraped instead of a table.
        #[arg(long)]
        raw: bool,
    },
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
    if let Err(error) = cidlb_dataplane::select::check_cpu() {
        eprintln!("cidlb: {error}");
        return std::process::ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Replay(args) => replay::replay(&args),
        Command::Reload { pidfile, config } => reload(pidfile, config),
        Command::Stats { metrics, config, raw } => stats(metrics, config, raw),
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

fn reload(pidfile: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<()> {
    use anyhow::{bail, Context};
    let mut from_config = None;
    if let Some(path) = &config {
        check(path)?;
        from_config = cidlb_config::load(path).ok().and_then(|c| c.control.pidfile);
    }
    let Some(pidfile) = pidfile.or(from_config) else {
        bail!("no pidfile: give --pidfile FILE, or --config FILE whose `[control] pidfile` is set");
    };
    let text = std::fs::read_to_string(&pidfile).with_context(|| format!("reading {} (is cidlb running?)", pidfile.display()))?;
    let pid: u32 = text.trim().parse().with_context(|| format!("{}: `{}` is not a pid", pidfile.display(), text.trim()))?;
    // Never signal a stranger: a stale pidfile may name a pid some other program now has.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).with_context(|| format!("pid {pid} from {} is not running (stale pidfile?)", pidfile.display()))?;
    let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    if !String::from_utf8_lossy(program).ends_with("cidlb") {
        bail!("pid {pid} from {} is not cidlb (stale pidfile?); nothing sent", pidfile.display());
    }
    let status = std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().context("running kill")?;
    if !status.success() {
        bail!("kill -HUP {pid} failed ({status})");
    }
    println!("sent SIGHUP to cidlb (pid {pid}); its log says whether the reload was applied");
    Ok(())
}

fn stats(metrics: Option<std::net::SocketAddr>, config: Option<PathBuf>, raw: bool) -> anyhow::Result<()> {
    let address = match (metrics, &config) {
        (Some(a), _) => a,
        (None, Some(path)) => {
            let config = cidlb_config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
            config.control.metrics.ok_or_else(|| anyhow::anyhow!("{}: `[control] metrics` is off: no endpoint to read", path.display()))?
        }
        (None, None) => std::net::SocketAddr::from(([127, 0, 0, 1], 9781)),
    };
    let text = cidlb_control::metrics::scrape(address, std::time::Duration::from_secs(5))?;
    if raw {
        print!("{text}");
    } else {
        print!("{}", cidlb_control::metrics::render_table(&cidlb_control::metrics::parse_samples(&text)));
    }
    Ok(())
}

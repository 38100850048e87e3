//! `cidlb run`: forward on DPDK ports until SIGINT/SIGTERM or `--duration`, then print stats.
//! SIGHUP reloads the config file (validated in the control thread; an invalid one keeps the
//! running config). `[control] pidfile` is written at start and removed on exit; `[control]
//! metrics` serves Prometheus text from a small HTTP thread.
//!
//! Order matters for a clean stop: workers flush their TX buffers and return, then the ports
//! are stopped and closed (net_pcap completes its tx_pcap file on close), then the EAL is
//! cleaned up. The main thread is the EAL main lcore (`control_core`), which the EAL pins.

use crate::RunArgs;
use anyhow::{anyhow, bail, Context};
use cidlb_config::{Config, MacAddr};
use cidlb_control::stats::{DeviceStats, StatsReport, WorkerView};
use cidlb_dataplane::counters::{PortCounters, WorkerCounters};
use cidlb_dataplane::io::dpdk::{self, Eal, Launched, Mempool, Port, PortOptions, StopFlag};
use cidlb_control::metrics::{MetricsRequest, MetricsServer};
use cidlb_control::Control;
use cidlb_dataplane::worker::{ControlRings, Pump, Worker, WorkerParams};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Capacity of each worker<->control ring.
const CONTROL_RING_CAPACITY: usize = 1024;

/// What the control thread keeps of one worker.
struct WorkerHandle {
    id: u16,
    lcore: u32,
    counters: Arc<WorkerCounters>,
    port_counters: Vec<Arc<PortCounters>>,
    multi_segment_dropped: Arc<cidlb_dataplane::counters::Counter>,
}

/// Removes the pidfile when `cidlb run` ends, however it ends (short of SIGKILL).
struct PidFile(PathBuf);

impl PidFile {
    fn write(path: PathBuf) -> anyhow::Result<PidFile> {
        std::fs::write(&path, format!("{}\n", std::process::id())).with_context(|| format!("`[control] pidfile`: writing {}", path.display()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    // SIGHUP's default action ends the process: catch it before anyone can know our pid.
    let reload = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload)).context("installing the SIGHUP handler")?;
    let config = cidlb_config::load(&args.config)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("{} is not a valid cidlb config", args.config.display()))?;
    if let Some(d) = args.duration {
        if !(d.is_finite() && d > 0.0) {
            bail!("--duration must be a positive number of seconds, got {d}");
        }
    }
    check_lcores(&config)?;
    if config.port.is_empty() {
        bail!("{}: no [[port]]: cidlb needs at least one port to forward on", args.config.display());
    }

    // EAL arguments: the config's, then the command line's; refuse before DPDK sees them if
    // nothing keeps it off the host's PCI devices.
    let mut eal_args = config.eal.args.clone();
    eal_args.extend(args.eal_args.iter().cloned());
    if !dpdk::has_pci_policy(&eal_args) {
        bail!("{}: `[eal] args`: {}", args.config.display(), dpdk::DpdkError::NoPciPolicy);
    }
    let eal_args = dpdk::args_with_lcores(&eal_args, config.dataplane.control_core, &config.dataplane.workers);
    let mut argv = vec!["cidlb".to_string()];
    argv.extend(eal_args);
    info!(args = ?&argv[1..], "starting the DPDK EAL");
    let eal = Eal::init(&argv).context("DPDK EAL initialisation failed")?;
    // dpdk-dumpcap attaches as a secondary process; that needs the EAL's shared config, which
    // `--in-memory` / `--no-shconf` turn off (README, "Capturing with dpdk-dumpcap").
    let shared_config = !argv.iter().any(|a| a == "--in-memory" || a == "--no-shconf");
    if shared_config {
        match eal.enable_pdump() {
            Ok(()) => info!("packet capture enabled: dpdk-dumpcap can attach (same --file-prefix)"),
            Err(e) => warn!(error = %e, "rte_pdump_init: dpdk-dumpcap will not be able to capture"),
        }
    }
    let _pidfile = match &config.control.pidfile {
        Some(path) => Some(PidFile::write(path.clone())?),
        None => None,
    };

    let result = forward(&eal, &config, args, &reload);
    // Every Port, Mempool and worker handle of `forward` is gone here.
    if let Err(e) = eal.cleanup() {
        warn!(error = %e, "rte_eal_cleanup");
    }
    result
}

/// Workers on distinct lcores, none of them the control core.
fn check_lcores(config: &Config) -> anyhow::Result<()> {
    let dp = &config.dataplane;
    if dp.workers.is_empty() {
        bail!("`[dataplane] workers` is empty: give at least one lcore id");
    }
    if dp.workers.len() > usize::from(u16::MAX) {
        bail!("`[dataplane] workers`: too many workers");
    }
    let mut seen = std::collections::BTreeSet::new();
    for w in &dp.workers {
        if *w == dp.control_core {
            bail!("`[dataplane] workers` holds lcore {w}, which is `control_core`: the control thread needs its own core");
        }
        if !seen.insert(*w) {
            bail!("`[dataplane] workers` lists lcore {w} twice");
        }
    }
    Ok(())
}

fn forward(eal: &Eal, config: &Config, args: &RunArgs, reload: &AtomicBool) -> anyhow::Result<()> {
    let dp = &config.dataplane;
    if eal.main_lcore() != dp.control_core {
        bail!(
            "the EAL main lcore is {} but `[dataplane] control_core` is {}: add `--main-lcore {}` or leave -l/--lcores out of the EAL arguments",
            eal.main_lcore(), dp.control_core, dp.control_core
        );
    }
    for &lcore in &dp.workers {
        if !eal.lcore_enabled(lcore) {
            return Err(dpdk::DpdkError::LcoreNotEnabled(lcore).into());
        }
    }
    info!(control = eal.main_lcore(), workers = ?dp.workers, tsc_hz = eal.tsc_hz(), "lcores");

    // One pool per NUMA socket of the ports (virtual devices report none: one pool, any socket).
    let mut pools: BTreeMap<i32, Mempool> = BTreeMap::new();
    let mut port_sockets = Vec::new();
    for p in &config.port {
        let socket = Port::socket_of(eal, &p.device).with_context(|| format!("port `{}`", p.name))?;
        port_sockets.push(socket);
        if let std::collections::btree_map::Entry::Vacant(slot) = pools.entry(socket) {
            let name = if socket < 0 { "cidlb_pool_any".to_string() } else { format!("cidlb_pool_s{socket}") };
            let pool = Mempool::new(eal, &name, dp.mbufs, dp.mbuf_cache, socket)
                .with_context(|| format!("`[dataplane] mbufs` = {}: cannot create the packet pool (more hugepages, or `--no-huge -m <MB>`?)", dp.mbufs))?;
            info!(pool = name, mbufs = dp.mbufs, cache = dp.mbuf_cache, socket, "packet pool");
            slot.insert(pool);
        }
    }

    let queues = dp.workers.len() as u16;
    let mut ports = Vec::new();
    for (p, socket) in config.port.iter().zip(&port_sockets) {
        let options = PortOptions {
            queues,
            rx_descriptors: dp.rx_descriptors,
            tx_descriptors: dp.tx_descriptors,
            mac: p.mac.map(|m| m.0),
            mtu: p.mtu,
        };
        let port = Port::open(eal, &p.device, &options, &pools[socket]).with_context(|| format!("port `{}` (device `{}`)", p.name, p.device))?;
        let link = port.link().map(|l| l.to_string()).unwrap_or_else(|e| format!("unknown ({e})"));
        info!(
            port = p.name, device = port.device(), port_id = port.id(), driver = port.driver(),
            mac = %MacAddr(port.mac()), queues = port.queues(), rss = port.rss(), link, mtu = p.mtu,
            "opened port"
        );
        ports.push(port);
    }
    let port_macs: Vec<MacAddr> = ports.iter().map(|p| MacAddr(p.mac())).collect();
    let port_names: Vec<String> = config.port.iter().map(|p| p.name.clone()).collect();

    let mut control = Control::new(config.clone(), port_macs).map_err(|e| anyhow!("building the forwarding state: {e}"))?;
    control.set_tsc_hz(eal.tsc_hz());
    let source = control.source();
    let stop = StopFlag::new();
    // A second SIGINT/SIGTERM while stopping exits at once.
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, stop.as_arc()).context("installing a signal handler")?;
        signal_hook::flag::register(signal, stop.as_arc()).context("installing a signal handler")?;
    }

    // Build every worker before launching any, so a failure leaves nothing running.
    let any_pool = pools.values().next().cloned().ok_or_else(|| anyhow!("no packet pool"))?;
    let mut handles = Vec::new();
    let mut pumps = Vec::new();
    for (id, &lcore) in dp.workers.iter().enumerate() {
        let id = id as u16;
        let socket = eal.lcore_socket(lcore);
        let pool = pools.get(&socket).cloned().unwrap_or_else(|| any_pool.clone());
        let io = Port::worker_io(&ports, id, &pool)?;
        let counters = Arc::new(WorkerCounters::default());
        let port_counters: Vec<Arc<PortCounters>> = ports.iter().map(|_| Arc::new(PortCounters::default())).collect();
        let rings = Arc::new(ControlRings::new(CONTROL_RING_CAPACITY));
        let params = WorkerParams::from_config(id, dp);
        control.attach(Arc::clone(&rings));
        control.attach_worker(cidlb_control::WorkerRef { id, lcore, counters: Arc::clone(&counters), ports: port_counters.clone() });
        let worker = Worker::new(params, Arc::clone(&source), Arc::clone(&counters), Arc::clone(&rings));
        let sessions = &worker.classifier.sessions;
        info!(
            worker = id, lcore, sessions = sessions.capacity(), mib = sessions.memory_bytes() >> 20,
            huge_pages_mib = sessions.huge_page_bytes() >> 20, "session table allocated"
        );
        handles.push(WorkerHandle {
            id,
            lcore,
            counters,
            port_counters: port_counters.clone(),
            multi_segment_dropped: io.multi_segment_dropped(),
        });
        pumps.push((lcore, Pump::new(io, worker, port_counters)));
    }

    let started = Instant::now();
    let mut launched: Vec<Launched> = Vec::new();
    for (lcore, mut pump) in pumps {
        let worker_stop = stop.clone();
        let clock = eal.clock();
        let counters = Arc::clone(&pump.worker.counters);
        let result = eal.launch(lcore, move || {
            pump.worker.bind_to_thread();
            loop {
                // Burst latency: two TSC reads and one single-writer increment per burst.
                let start = clock.ticks();
                if pump.poll(clock.ns_at(start)) > 0 {
                    counters.burst_cycles.record(clock.ticks().wrapping_sub(start));
                }
                if worker_stop.is_set() {
                    break;
                }
            }
            pump.flush();
            pump.drop_pending();
            0
        });
        match result {
            Ok(l) => launched.push(l),
            Err(e) => {
                stop.set();
                for l in launched {
                    l.join();
                }
                return Err(e).with_context(|| format!("launching the worker on lcore {lcore}"));
            }
        }
    }
    info!(workers = launched.len(), duration = ?args.duration, "forwarding; SIGINT or SIGTERM stops");

    let metrics = match config.control.metrics {
        Some(address) => match MetricsServer::start(address) {
            Ok((server, requests)) => {
                info!(address = %server.address, "metrics endpoint listening (GET /metrics)");
                Some((server, requests))
            }
            Err(e) => {
                // Forwarding matters more than metrics: say so loudly and go on.
                tracing::error!(%address, error = %e, "`[control] metrics`: cannot listen; running without the metrics endpoint");
                None
            }
        },
        None => None,
    };
    let loop_context = LoopContext { ports: &ports, metrics: metrics.as_ref().map(|(_, r)| r), reload };
    control_loop(&mut control, args, &stop, started, &loop_context);
    if let Some((server, _)) = metrics {
        server.stop();
    }

    for l in launched {
        let lcore = l.lcore();
        let code = l.join();
        if code != 0 {
            warn!(lcore, code, "worker returned an error");
        }
    }
    let forwarded_for = started.elapsed();
    info!(seconds = forwarded_for.as_secs_f64(), "workers stopped");

    // Read before the ports close.
    let device_stats = device_stats(&ports);
    // Close the ports now: net_pcap writes out its tx_pcap file on close.
    for port in ports {
        let device = port.device().to_string();
        if let Err(e) = port.close() {
            warn!(device, error = %e, "closing port");
        }
    }
    for h in &handles {
        let n = h.multi_segment_dropped.get();
        if n > 0 {
            warn!(worker = h.id, packets = n, "multi-segment packets dropped (did not fit one mbuf)");
        }
    }

    let views: Vec<WorkerView<'_>> =
        handles.iter().map(|h| WorkerView { id: h.id, lcore: h.lcore, counters: &h.counters, ports: &h.port_counters }).collect();
    let mut report = StatsReport::collect(forwarded_for.as_secs_f64(), &port_names, &views);
    // The config in force at the end (reloads may have added nodes or services).
    report.add_distribution(control.config(), &views);
    for (i, d) in device_stats.into_iter().enumerate() {
        if let Some(d) = d {
            report.set_device_stats(i, d);
        }
    }
    print!("{}", report.render_text());
    if let Some(path) = &args.stats_json {
        let json = serde_json::to_string_pretty(&report).context("serialising stats")?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    drop(pools);
    Ok(())
}

/// What the control loop serves besides `Control`.
struct LoopContext<'a> {
    ports: &'a [Port],
    metrics: Option<&'a std::sync::mpsc::Receiver<MetricsRequest>>,
    reload: &'a AtomicBool,
}

fn device_stats(ports: &[Port]) -> Vec<Option<DeviceStats>> {
    ports.iter().map(|p| p.stats().map_err(|e| warn!(device = p.device(), error = %e, "reading device stats")).ok()).collect()
}

/// The control thread's loop (main lcore): every `[control] tick` drain the workers' rings
/// (neighbour learning, probe replies), run the health and neighbour timers, apply a reload
/// on SIGHUP, answer metrics scrapes, and check for a stop (signal or end of `--duration`).
fn control_loop(control: &mut Control, args: &RunArgs, stop: &StopFlag, started: Instant, context: &LoopContext<'_>) {
    let deadline = args.duration.map(|d| started + Duration::from_secs_f64(d));
    loop {
        if context.reload.swap(false, Ordering::Relaxed) {
            info!(file = %args.config.display(), "SIGHUP: reloading the config");
            // Errors are logged by reload_file, each with its key and line.
            let _ = control.reload_file(&args.config);
        }
        control.poll(started.elapsed().as_nanos() as u64);
        if let Some(requests) = context.metrics {
            while let Ok(reply) = requests.try_recv() {
                let text = control.render_metrics(&device_stats(context.ports), env!("CARGO_PKG_VERSION"), env!("CIDLB_DPDK_VERSION"));
                let _ = reply.send(text);
            }
        }
        if stop.is_set() {
            info!("stop requested (SIGINT/SIGTERM)");
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            info!("--duration reached");
            stop.set();
            break;
        }
        // The tick may change on reload.
        std::thread::sleep(control.config().control.tick.0.clamp(Duration::from_millis(1), Duration::from_secs(1)));
    }
    if control.unhandled_packets > 0 {
        info!(packets = control.unhandled_packets, "packets passed to the control thread and not used");
    }
}

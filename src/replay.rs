//! `cidlb replay`: the worker code over a capture, through the capture I/O backend.

use crate::ReplayArgs;
use anyhow::{anyhow, Context};
use cidlb_config::MacAddr;
use cidlb_control::stats::{StatsReport, WorkerView};
use cidlb_control::Control;
use cidlb_dataplane::counters::{PortCounters, WorkerCounters};
use cidlb_dataplane::io::pcap::{read_pcap, write_pcap, CaptureIo};
use cidlb_dataplane::worker::{ControlRings, Pump, Worker, WorkerParams};
use std::sync::Arc;

pub fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let config = cidlb_config::load(&args.config).map_err(|e| anyhow!("{e}"))?;
    // Replay has no devices: a port without a configured MAC gets a local one.
    let port_macs: Vec<MacAddr> = config
        .port
        .iter()
        .enumerate()
        .map(|(i, p)| p.mac.unwrap_or(MacAddr([0x02, 0, 0, 0, 0, i as u8 + 1])))
        .collect();
    let mut control = Control::new(config.clone(), port_macs).map_err(|e| anyhow!("{}: {e}", args.config.display()))?;
    let packets = read_pcap(&args.input, 0).map_err(|e| anyhow!("{e}"))?;
    let total = packets.len();
    let first_timestamp = packets.first().map_or(0, |p| p.timestamp_ns);
    let last_timestamp = packets.last().map_or(0, |p| p.timestamp_ns);

    let ports = config.port.len() as u16;
    let mut io = CaptureIo::new(ports);
    for p in packets {
        io.push(p);
    }
    let rings = Arc::new(ControlRings::new(1024));
    control.attach(Arc::clone(&rings));
    let counters = Arc::new(WorkerCounters::default());
    let port_counters: Vec<Arc<PortCounters>> = (0..ports).map(|_| Arc::new(PortCounters::default())).collect();
    let mut params = WorkerParams::from_config(0, &config.dataplane);
    // Send at once: output timestamps are those of the packet that caused them.
    params.drain_ns = 0;
    let worker = Worker::new(params, control.source(), Arc::clone(&counters), rings);
    let mut pump = Pump::new(io, worker, port_counters.clone());
    while let Some(now) = pump.io.next_timestamp_ns() {
        pump.poll(now);
        control.poll(now);
    }
    pump.flush();
    write_pcap(&args.output, &pump.io.output).map_err(|e| anyhow!("{e}"))?;

    let port_names: Vec<String> = config.port.iter().map(|p| p.name.clone()).collect();
    let duration = last_timestamp.saturating_sub(first_timestamp) as f64 / 1e9;
    let views = [WorkerView { id: 0, lcore: 0, counters: &counters, ports: &port_counters }];
    let mut report = StatsReport::collect(duration, &port_names, &views);
    report.add_distribution(&config, &views);
    println!("replayed {total} packets from {} -> {} packets to {}", args.input.display(), pump.io.output.len(), args.output.display());
    print!("{}", report.render_text());
    if let Some(path) = &args.stats_json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}


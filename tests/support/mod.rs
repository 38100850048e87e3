//! Shared test support: a harness that runs packets one at a time through the same worker
//! code `cidlb replay` uses (capture backend + Control), and the demo topology's constants.
#![allow(dead_code)]

pub mod dpdk;

use cidlb_config::{Config, MacAddr};
use cidlb_control::Control;
use cidlb_dataplane::counters::{DropReason, PortCounters, WorkerCounters};
use cidlb_dataplane::io::pcap::{CaptureIo, CapturedPacket};
use cidlb_dataplane::worker::{ControlRings, Pump, Worker, WorkerParams};
use std::path::PathBuf;
use std::sync::Arc;

pub const BALANCER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
pub const GATEWAY_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn demo_config_text() -> String {
    std::fs::read_to_string(repo().join("examples/demo.toml")).expect("examples/demo.toml")
}

pub fn config(text: &str) -> Config {
    cidlb_config::parse(text, "test.toml").unwrap_or_else(|e| panic!("test config: {e}"))
}

pub fn node_mac(last: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, last]
}

/// What happened to one input packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Transmitted (these frames, usually one).
    Sent(Vec<Vec<u8>>),
    Dropped(DropReason),
    /// Handed to the control thread.
    Consumed,
    /// Waiting for its next hop's MAC.
    Held,
}

pub struct Harness {
    pub control: Control,
    pub pump: Pump<CaptureIo>,
    pub counters: Arc<WorkerCounters>,
    seen_output: usize,
}

impl Harness {
    pub fn new(config: Config) -> Self {
        let port_macs: Vec<MacAddr> = config.port.iter().map(|p| p.mac.unwrap_or(MacAddr(BALANCER_MAC))).collect();
        let mut control = Control::new(config.clone(), port_macs).expect("control");
        let rings = Arc::new(ControlRings::new(64));
        control.attach(Arc::clone(&rings));
        let counters = Arc::new(WorkerCounters::default());
        let ports = config.port.len() as u16;
        let port_counters: Vec<Arc<PortCounters>> = (0..ports).map(|_| Arc::new(PortCounters::default())).collect();
        let mut params = WorkerParams::from_config(0, &config.dataplane);
        params.drain_ns = 0;
        let worker = Worker::new(params, control.source(), Arc::clone(&counters), rings);
        let pump = Pump::new(CaptureIo::new(ports), worker, port_counters);
        Harness { control, pump, counters, seen_output: 0 }
    }

    pub fn demo() -> Self {
        Harness::new(config(&demo_config_text()))
    }

    /// Send one frame at `at_ns` on port 0 and report what became of it.
    pub fn send(&mut self, at_ns: u64, frame: &[u8]) -> Outcome {
        let drops_before: Vec<u64> = self.counters.drops.iter().map(|c| c.get()).collect();
        let consumed_before = self.counters.to_control.get();
        let held_before = self.counters.pending_held.get();
        self.pump.io.push(CapturedPacket { port: 0, timestamp_ns: at_ns, bytes: frame.to_vec() });
        self.pump.poll(at_ns);
        self.control.poll(at_ns);
        self.pump.flush();
        let out: Vec<Vec<u8>> = self.pump.io.output[self.seen_output..].iter().map(|p| p.bytes.clone()).collect();
        self.seen_output = self.pump.io.output.len();
        if !out.is_empty() {
            return Outcome::Sent(out);
        }
        if self.counters.to_control.get() > consumed_before {
            return Outcome::Consumed;
        }
        if self.counters.pending_held.get() > held_before {
            return Outcome::Held;
        }
        for reason in DropReason::ALL {
            if self.counters.drops[*reason as usize].get() > drops_before[*reason as usize] {
                return Outcome::Dropped(*reason);
            }
        }
        panic!("packet neither sent, consumed nor dropped: silently lost");
    }

    /// Let time pass without input: the worker polls (sending what the control thread asked
    /// for, releasing held frames), the control thread runs its timers. Returns what was sent.
    pub fn tick(&mut self, at_ns: u64) -> Vec<Vec<u8>> {
        self.pump.poll(at_ns);
        self.control.poll(at_ns);
        self.pump.poll(at_ns);
        self.pump.flush();
        let out: Vec<Vec<u8>> = self.pump.io.output[self.seen_output..].iter().map(|p| p.bytes.clone()).collect();
        self.seen_output = self.pump.io.output.len();
        out
    }

    /// Send and expect exactly one frame out.
    pub fn forward(&mut self, at_ns: u64, frame: &[u8]) -> Vec<u8> {
        match self.send(at_ns, frame) {
            Outcome::Sent(mut frames) if frames.len() == 1 => frames.remove(0),
            other => panic!("expected one frame out, got {other:?}"),
        }
    }
}

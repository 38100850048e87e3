//! The immutable view of the configuration that workers read: services, nodes, Maglev
//! tables, neighbours, health. The control thread builds a new one and publishes it; workers
//! adopt it between bursts (RCU style): one relaxed load of a generation number per burst,
//! no lock and no shared write on the fast path.
#![forbid(unsafe_code)]

use arc_swap::ArcSwap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Placeholder fields are filled in by the dataplane work.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub generation: u64,
}

impl Snapshot {
    /// Build from a validated config. `port_macs[i]` is port i's MAC (the config's `mac`, or
    /// the device's own when the config has none).
    pub fn build(_config: &cidlb_config::Config, _port_macs: &[cidlb_config::MacAddr], generation: u64) -> Result<Snapshot, String> {
        Ok(Snapshot { generation })
    }
}

/// Where workers pick up new snapshots.
#[derive(Debug)]
pub struct SnapshotSource {
    generation: AtomicU64,
    current: ArcSwap<Snapshot>,
}

impl SnapshotSource {
    pub fn new(first: Snapshot) -> Self {
        SnapshotSource { generation: AtomicU64::new(first.generation), current: ArcSwap::from_pointee(first) }
    }
    /// Publish a new snapshot (control thread). Its generation must be greater than the last.
    pub fn publish(&self, next: Snapshot) {
        let g = next.generation;
        self.current.store(Arc::new(next));
        self.generation.store(g, Ordering::Release);
    }
    /// The generation of the newest snapshot: a read-mostly line, written only on publish.
    #[inline(always)]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}

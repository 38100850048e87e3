//! The packet path allocates nothing once running: every bench profile's traffic, with one
//! packet in four damaged in its headers (so drops by reason are on the path too), through the
//! worker's burst loop (`Pump`, as `cidlb run` and `cidlb-perf micro` drive it) with a global
//! allocator that counts the allocations made on this thread while the worker runs. The
//! harness's own port is not counted: it stands in for a NIC and its mempool, which hand out
//! buffers without the heap (a dropped frame's buffer is freed and the port makes a new one).
//!
//! A warm-up pass first (session tables fill, arc-swap's per-thread slot is taken, expiry starts);
//! then three more passes must allocate nothing. Time runs at 200 µs a burst, so `new-flows`'
//! 1 ms sessions expire between visits and every one of its packets inserts again.

use cidlb_dataplane::counters::PortCounters;
use cidlb_dataplane::frame::VecFrame;
use cidlb_dataplane::io::{Burst, PacketIo};
use cidlb_dataplane::worker::Pump;
use cidlb_perf::bench::{BenchProfile, BENCH_PROFILES};
use cidlb_perf::micro::{worker_for, worker_for_config, LoopIo};
use cidlb_perf::profiles::generate;
use cidlb_perf::Rng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

/// The system allocator, counting allocations and reallocations made by a thread while its
/// `COUNTING` flag is set, in that thread's own count (tests run on parallel threads).
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
    }
}

/// This thread's count so far.
fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is passed on unchanged to `System`, which upholds `GlobalAlloc`'s contract;
// the counting touches only two thread-local cells (const-initialised, so using them never
// allocates).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counting off while the harness's port works (it plays the NIC), restored after.
fn uncounted<T>(f: impl FnOnce() -> T) -> T {
    let was = COUNTING.with(|c| c.replace(false));
    let result = f();
    COUNTING.with(|c| c.set(was));
    result
}

/// `LoopIo` whose receive, transmit and buffer allocation are not counted.
struct NicLike(LoopIo);

impl PacketIo for NicLike {
    type Buf = VecFrame;
    fn ports(&self) -> u16 {
        self.0.ports()
    }
    fn rx_burst(&mut self, port: u16, out: &mut Burst<VecFrame>, max: usize) -> usize {
        uncounted(|| self.0.rx_burst(port, out, max))
    }
    fn tx_burst(&mut self, port: u16, bufs: &mut Burst<VecFrame>) -> usize {
        uncounted(|| self.0.tx_burst(port, bufs))
    }
    fn alloc(&mut self) -> Option<VecFrame> {
        uncounted(|| self.0.alloc())
    }
}

/// A profile's traffic cut to at most 3000 packets over at most 2000 flows, one packet in four
/// damaged in its headers (and one in sixteen cut short).
fn capture(profile: &BenchProfile, rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut params = profile.params();
    params.packets = params.packets.min(3000);
    params.flows = params.flows.min(2000);
    let packets = generate(profile.generator, &params).unwrap();
    packets
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut bytes = p.bytes;
            if i % 4 == 3 {
                let at = rng.below(bytes.len().min(90) as u64) as usize;
                bytes[at] = rng.next_u64() as u8;
                if rng.below(4) == 0 {
                    bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
                }
            }
            bytes
        })
        .collect()
}

#[test]
fn the_burst_loop_allocates_nothing_after_warm_up() {
    let mut rng = Rng::new(11);
    let mut report = Vec::new();
    let mut measured = 0u64;
    for profile in BENCH_PROFILES {
        let frames = capture(profile, &mut rng);
        let pass = frames.len() as u64;
        let (worker, _control) = worker_for(profile).unwrap();
        let counters = Arc::clone(&worker.counters);
        let buffers = 4 * worker.params.burst + 64;
        let mut pump = Pump::new(NicLike(LoopIo::new(frames, buffers)), worker, vec![Arc::new(PortCounters::default())]);
        let mut now = 1_000_000_000u64;
        let mut received = 0u64;
        while received < pass {
            received += pump.poll(now) as u64;
            now += 200_000;
        }
        let before = allocations();
        COUNTING.with(|c| c.set(true));
        while received < 4 * pass {
            received += pump.poll(now) as u64;
            now += 200_000;
        }
        pump.flush();
        COUNTING.with(|c| c.set(false));
        let allocations = allocations() - before;
        measured += received - pass;
        if allocations > 0 {
            report.push(format!("{}: {allocations} allocations in {} packets", profile.name, received - pass));
        }
        // The path was really run: packets were forwarded, and the damaged ones dropped.
        assert!(pump.io.0.transmitted > 0, "{}: nothing forwarded", profile.name);
        assert!(counters.dropped_total() > 0, "{}: nothing dropped", profile.name);
    }
    assert!(report.is_empty(), "the packet path allocated:\n{}", report.join("\n"));
    assert!(measured > 50_000, "{measured} packets measured");
}

#[test]
fn the_counting_allocator_counts() {
    // The test above would pass vacuously if the flag or the counter did nothing.
    let before = allocations();
    COUNTING.with(|c| c.set(true));
    let boxed = std::hint::black_box(Box::new([0u8; 64]));
    COUNTING.with(|c| c.set(false));
    drop(boxed);
    assert!(allocations() > before);
}

/// Reloads too: the worker runs on a thread of its own, started as `cidlb run` starts it on its
/// lcore (`Worker::bind_to_thread`, then the loop), the control thread publishes a new snapshot
/// between passes, and every pass after the warm-up, each of which adopts a snapshot, must
/// allocate nothing (a thread's first arc-swap load allocates its slot; without the binding,
/// the first reload did, and glibc made the worker thread's arena then, three system calls).
#[test]
fn adopting_a_reloaded_snapshot_allocates_nothing_on_the_worker_thread() {
    let profile = BENCH_PROFILES.iter().find(|p| p.name == "cid").unwrap();
    let frames = capture(profile, &mut Rng::new(5));
    let pass = frames.len() as u64;
    let (worker, mut control) = worker_for(profile).unwrap();
    let config = control.config().clone();
    let (go, next_pass) = std::sync::mpsc::sync_channel::<bool>(0);
    let (done, pass_done) = std::sync::mpsc::sync_channel::<(u64, u64)>(0);
    let worker_thread = std::thread::spawn(move || {
        let buffers = 4 * worker.params.burst + 64;
        let mut pump = Pump::new(NicLike(LoopIo::new(frames, buffers)), worker, vec![Arc::new(PortCounters::default())]);
        pump.worker.bind_to_thread();
        let mut now = 1_000_000_000u64;
        let mut run_pass = |pump: &mut Pump<NicLike>| {
            let mut received = 0u64;
            while received < pass {
                received += pump.poll(now) as u64;
                now += 200_000;
            }
            pump.flush();
        };
        run_pass(&mut pump);
        while next_pass.recv() == Ok(true) {
            let before = allocations();
            COUNTING.with(|c| c.set(true));
            run_pass(&mut pump);
            COUNTING.with(|c| c.set(false));
            done.send((allocations() - before, pump.worker.snapshot.generation)).unwrap();
        }
    });
    let mut generations = Vec::new();
    let mut allocations = 0;
    for reload in 0..4u64 {
        control.reload(config.clone()).expect("reload");
        go.send(true).unwrap();
        let (allocated, generation) = pass_done.recv().unwrap();
        allocations += allocated;
        generations.push(generation);
        control.poll(2_000_000_000 + reload);
    }
    go.send(false).unwrap();
    worker_thread.join().unwrap();
    // Every pass adopted the snapshot published before it.
    assert!(generations.windows(2).all(|w| w[1] > w[0]), "{generations:?}");
    assert_eq!(allocations, 0, "the worker thread allocated while adopting reloaded snapshots");
}

/// The rest of the packet path: the demo capture (handshakes, CID records also after NAT
/// rebinding, CoAP, IPv6 flow-label TCP and fragments, node replies through reverse NAT, echo
/// requests answered by the worker, malformed packets) through the demo config, the control
/// thread ticking between bursts (its own work not counted: it is another thread in `cidlb run`).
#[test]
fn the_demo_traffic_allocates_nothing_after_warm_up() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.toml");
    let config = cidlb_config::load(&path).unwrap();
    let ports = config.port.len();
    let (mut worker, mut control) = worker_for_config(config).unwrap();
    let counters = Arc::clone(&worker.counters);
    worker.bind_to_thread();
    let frames: Vec<Vec<u8>> = generate("demo", &cidlb_perf::profiles::ProfileParams { flows: 60, ..Default::default() }).unwrap().into_iter().map(|p| p.bytes).collect();
    let pass = frames.len() as u64;
    let buffers = 4 * worker.params.burst + 64;
    let mut pump = Pump::new(NicLike(LoopIo::new(frames, buffers)), worker, (0..ports).map(|_| Arc::new(PortCounters::default())).collect());
    let mut now = 1_000_000_000u64;
    let mut received = 0u64;
    let mut run_until = |pump: &mut Pump<NicLike>, packets: u64, received: &mut u64| {
        while *received < packets {
            *received += pump.poll(now) as u64;
            uncounted(|| control.poll(now));
            now += 200_000;
        }
    };
    run_until(&mut pump, 2 * pass, &mut received);
    let (echo_replies, reverse_nat) = (counters.echo_replies.get(), counters.reverse_nat.get());
    let before = allocations();
    COUNTING.with(|c| c.set(true));
    run_until(&mut pump, 6 * pass, &mut received);
    pump.flush();
    COUNTING.with(|c| c.set(false));
    // The passes measured went through the slow paths too.
    assert!(counters.echo_replies.get() > echo_replies, "no echo answered in the measured passes");
    assert!(counters.reverse_nat.get() > reverse_nat, "no node reply in the measured passes");
    assert!(counters.dropped_total() > 0 && pump.io.0.transmitted > 0);
    assert_eq!(allocations() - before, 0, "the packet path allocated on the demo traffic");
}

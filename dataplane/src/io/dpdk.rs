//! The DPDK backend: EAL, mempools, ports, mbufs, the per-worker [`DpdkIo`] queues, lcore
//! launch and the TSC clock.
//!
//! This module and `dpdk-sys` are the only places with `unsafe` (DESIGN.md convention 4).
//! Every unsafe block says which invariant makes it sound. The rules it relies on:
//!
//! - DPDK is initialised once per process ([`Eal::init`]) and torn down once
//!   ([`Eal::cleanup`]), after every [`Port`], [`Mempool`] and launched worker is gone (checked
//!   with a liveness token that each handle holds).
//! - An [`Mbuf`] is owned: exactly one Rust value refers to a given `rte_mbuf`; it is freed on
//!   drop or handed to the driver by `tx_burst` (and forgotten). Every [`Mbuf`] is a single
//!   segment, so `data_len` spans the whole packet and `data()` is one slice.
//! - One [`DpdkIo`] per worker; queue `q` of every port is used by exactly one `DpdkIo` (the
//!   worker with id `q`), so the lock-free per-queue burst functions are never called
//!   concurrently on one queue.
//!
//! Multi-segment received mbufs (only possible with scatter RX, which cidlb does not enable)
//! are linearised into their first segment; those that do not fit are freed and counted in
//! [`DpdkIo::multi_segment_dropped`].
#![allow(unsafe_code)]

use crate::counters::Counter;
use crate::frame::Frame;
use crate::io::{Burst, PacketIo};
use dpdk_sys as sys;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Why a DPDK call failed. `code` is the positive errno (from the return value or rte_errno).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpdkError {
    #[error(
        "refusing to start DPDK: the EAL arguments hold neither `--no-pci` nor a PCI allow-list \
         (`-a`/`--allow`), so DPDK would probe and take over every PCI network device of this \
         machine; add \"--no-pci\" (virtual devices only) or `-a <PCI address>` to `[eal] args`"
    )]
    NoPciPolicy,
    #[error("EAL argument {0:?} holds a NUL byte")]
    BadArgument(String),
    #[error("DPDK's EAL was already initialised in this process (it can start only once)")]
    AlreadyInitialised,
    #[error("{call} failed{}: {message} (errno {code})", if what.is_empty() { String::new() } else { format!(" for {what}") })]
    Call { call: &'static str, what: String, code: i32, message: String },
    #[error("no DPDK device named `{0}`: give it to the EAL (e.g. `--vdev={0},...` or `-a <PCI address>` in `[eal] args`) and check the name")]
    NoSuchDevice(String),
    #[error("{0}")]
    Invalid(String),
    #[error("lcore {0} is not enabled in the EAL: cover every worker and the control core with `-l`/`--lcores` (or leave them out and cidlb derives them from [dataplane])")]
    LcoreNotEnabled(u32),
    #[error("DPDK handles are still alive ({0} ports, pools or I/O queues): drop them before rte_eal_cleanup")]
    HandlesAlive(usize),
}

impl DpdkError {
    fn call(call: &'static str, what: impl Into<String>, code: i32) -> Self {
        let code = code.abs();
        DpdkError::Call { call, what: what.into(), code, message: strerror(code) }
    }
    /// A failed call that reports through rte_errno.
    fn errno(call: &'static str, what: impl Into<String>) -> Self {
        // SAFETY: reads the calling thread's rte_errno (a thread-local int); no preconditions.
        let code = unsafe { sys::cidlb_errno() };
        Self::call(call, what, code)
    }
}

fn strerror(code: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string
    // for any errno value; we copy it out at once.
    unsafe {
        let p = sys::rte_strerror(code);
        if p.is_null() {
            return format!("error {code}");
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// True when `args` keep DPDK away from the host's PCI devices: `--no-pci`, or an explicit
/// allow-list (`-a`, `--allow`). A block-list (`-b`) is not enough.
pub fn has_pci_policy(args: &[String]) -> bool {
    args.iter().any(|a| {
        a == "--no-pci" || a == "-a" || a == "--allow" || a.starts_with("--allow=") || (a.starts_with("-a") && a.len() > 2 && !a.starts_with("--"))
    })
}

/// Whether `args` already choose the lcores (`-l`, `-c`, `--lcores`).
pub fn has_lcore_list(args: &[String]) -> bool {
    args.iter().any(|a| {
        a == "--lcores" || a.starts_with("--lcores=") || ((a.starts_with("-l") || a.starts_with("-c")) && !a.starts_with("--"))
    })
}

/// `args` plus `-l <control>,<workers...> --main-lcore <control>` when they do not choose the
/// lcores themselves, so the EAL's main thread is the control thread (pinned by the EAL to
/// `control_core`) and one EAL worker thread exists per configured worker lcore.
pub fn args_with_lcores(args: &[String], control_core: u32, workers: &[u32]) -> Vec<String> {
    let mut out = args.to_vec();
    if !has_lcore_list(args) {
        let mut cores = vec![control_core];
        cores.extend(workers.iter().copied().filter(|w| *w != control_core));
        let list: Vec<String> = cores.iter().map(u32::to_string).collect();
        out.push("-l".to_string());
        out.push(list.join(","));
        if !args.iter().any(|a| a == "--main-lcore" || a.starts_with("--main-lcore=")) {
            out.push("--main-lcore".to_string());
            out.push(control_core.to_string());
        }
    }
    out
}

static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The initialised DPDK Environment Abstraction Layer of this process.
pub struct Eal {
    main_lcore: u32,
    tsc_hz: u64,
    /// Liveness token: every Port, Mempool and DpdkIo holds a clone; cleanup needs it unique.
    alive: Arc<()>,
}

impl std::fmt::Debug for Eal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eal").field("main_lcore", &self.main_lcore).field("tsc_hz", &self.tsc_hz).finish()
    }
}

impl Eal {
    /// Start the EAL. `args[0]` is the program name; the rest are EAL arguments. Refuses
    /// (before touching DPDK) unless they hold `--no-pci` or a PCI allow-list. DPDK's log goes
    /// to stderr so stdout stays for cidlb's report.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if !has_pci_policy(args.get(1..).unwrap_or(&[])) {
            return Err(DpdkError::NoPciPolicy);
        }
        let owned: Vec<CString> =
            args.iter().map(|a| CString::new(a.as_str()).map_err(|_| DpdkError::BadArgument(a.clone()))).collect::<Result<_, _>>()?;
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::AlreadyInitialised);
        }
        // rte_eal_init permutes argv and may keep pointers into it for the life of the
        // process, so the strings and the pointer array are leaked (once per process).
        let owned: &'static mut [CString] = Box::leak(owned.into_boxed_slice());
        let argv: &'static mut [*mut c_char] =
            Box::leak(owned.iter_mut().map(|s| s.as_ptr() as *mut c_char).chain(std::iter::once(std::ptr::null_mut())).collect::<Vec<_>>().into_boxed_slice());
        let argc = (argv.len() - 1) as c_int;
        // SAFETY: rte_openlog_stream(stderr) only stores the stream pointer; stderr is valid for
        // the whole process.
        unsafe { sys::cidlb_log_to_stderr() };
        // SAFETY: argv holds argc valid NUL-terminated strings followed by NULL, all leaked so
        // they outlive the EAL; EAL_STARTED guarantees this runs once per process.
        let ret = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(DpdkError::errno("rte_eal_init", ""));
        }
        // SAFETY: both only read EAL state that rte_eal_init just set up.
        let (main_lcore, tsc_hz) = unsafe { (sys::rte_get_main_lcore(), sys::cidlb_get_tsc_hz()) };
        Ok(Eal { main_lcore, tsc_hz, alive: Arc::new(()) })
    }

    /// Let secondary processes (`dpdk-dumpcap`) capture this process's ports
    /// (`rte_pdump_init`). Needs the EAL's multi-process channel, so not with `--in-memory`
    /// or `--no-shconf`: use `--file-prefix NAME` and hugepages.
    pub fn enable_pdump(&self) -> Result<(), DpdkError> {
        // SAFETY: called after rte_eal_init on the main lcore; registers an IPC handler.
        let ret = unsafe { sys::rte_pdump_init() };
        if ret < 0 {
            return Err(DpdkError::errno("rte_pdump_init", ""));
        }
        Ok(())
    }

    /// The lcore of the calling (main) thread: the control thread.
    pub fn main_lcore(&self) -> u32 {
        self.main_lcore
    }

    pub fn lcore_enabled(&self, lcore: u32) -> bool {
        // SAFETY: a lookup in the EAL's lcore table, bounds-checked by DPDK (false when out of range).
        unsafe { sys::rte_lcore_is_enabled(lcore) != 0 }
    }

    /// NUMA socket of an lcore (0 when DPDK does not know).
    pub fn lcore_socket(&self, lcore: u32) -> i32 {
        // SAFETY: a lookup in the EAL's lcore table; DPDK returns 0 for an unknown lcore.
        unsafe { sys::rte_lcore_to_socket_id(lcore) as i32 }
    }

    /// TSC ticks per second, as the EAL measured it.
    pub fn tsc_hz(&self) -> u64 {
        self.tsc_hz
    }

    /// A clock giving nanoseconds since now, from the TSC.
    pub fn clock(&self) -> TscClock {
        TscClock::new(self.tsc_hz)
    }

    /// Run `body` on EAL worker lcore `lcore` (`rte_eal_remote_launch`). Join with
    /// [`Launched::join`]. Fails if the lcore is not enabled, is the main lcore or is busy.
    pub fn launch<F>(&self, lcore: u32, body: F) -> Result<Launched, DpdkError>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        if !self.lcore_enabled(lcore) {
            return Err(DpdkError::LcoreNotEnabled(lcore));
        }
        if lcore == self.main_lcore {
            return Err(DpdkError::Invalid(format!("lcore {lcore} is the main (control) lcore; workers need their own lcores")));
        }
        let boxed: Box<LaunchBody> = Box::new(Box::new(body));
        let arg = Box::into_raw(boxed).cast::<c_void>();
        // SAFETY: `launch_trampoline` takes back ownership of `arg` (a leaked Box<LaunchBody>)
        // exactly once when the lcore runs it; the closure is Send + 'static so running it on
        // another thread at any later time is sound.
        let ret = unsafe { sys::rte_eal_remote_launch(Some(launch_trampoline), arg, lcore) };
        if ret != 0 {
            // SAFETY: the launch failed, so the lcore never saw `arg`; we still own the box.
            drop(unsafe { Box::from_raw(arg.cast::<LaunchBody>()) });
            return Err(DpdkError::call("rte_eal_remote_launch", format!("lcore {lcore}"), ret));
        }
        Ok(Launched { lcore, _alive: Arc::clone(&self.alive), _main_lcore_only: std::marker::PhantomData })
    }

    /// A handle proving the EAL is up, held by ports, pools and I/O queues.
    fn token(&self) -> Arc<()> {
        Arc::clone(&self.alive)
    }

    /// Wait for every worker lcore, then release DPDK's memory (`rte_eal_cleanup`). Refuses
    /// while a Port, Mempool, DpdkIo or Launched handle is alive. Mbufs must be gone too:
    /// they live in pool memory (in cidlb they are owned by the DpdkIo/Pump being dropped).
    pub fn cleanup(self) -> Result<(), DpdkError> {
        let holders = Arc::strong_count(&self.alive) - 1;
        if holders > 0 {
            return Err(DpdkError::HandlesAlive(holders));
        }
        // SAFETY: called on the main lcore; waits for worker lcores that are still running.
        unsafe { sys::rte_eal_mp_wait_lcore() };
        // SAFETY: no Rust handle into DPDK memory is left (checked above) and every lcore is
        // idle; the EAL was initialised by `init`.
        let ret = unsafe { sys::rte_eal_cleanup() };
        if ret != 0 {
            return Err(DpdkError::call("rte_eal_cleanup", "", ret));
        }
        Ok(())
    }
}

type LaunchBody = Box<dyn FnOnce() -> i32 + Send + 'static>;

extern "C" fn launch_trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the Box<LaunchBody> leaked by `Eal::launch` for this one call.
    let body: Box<LaunchBody> = unsafe { Box::from_raw(arg.cast::<LaunchBody>()) };
    // Unwinding across the C frame of the EAL thread is undefined: stop it here.
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (*body)())) {
        Ok(code) => code,
        Err(_) => {
            tracing::error!("a worker lcore panicked");
            -1
        }
    }
}

/// A body running on an EAL worker lcore.
#[derive(Debug)]
pub struct Launched {
    lcore: u32,
    _alive: Arc<()>,
    /// Not Send: rte_eal_wait_lcore must be called from the main lcore, where it was made.
    _main_lcore_only: std::marker::PhantomData<*const ()>,
}

impl Launched {
    pub fn lcore(&self) -> u32 {
        self.lcore
    }
    /// Wait for the body to return (`rte_eal_wait_lcore`) and give its return value.
    pub fn join(self) -> i32 {
        // SAFETY: called from the main lcore (Launched is made there and is not Send); waits
        // for the lcore we launched on.
        unsafe { sys::rte_eal_wait_lcore(self.lcore) }
    }
}

/// Nanoseconds from the TSC: read once per burst; pure code only ever sees `now` in ns.
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    start: u64,
    /// ns per tick as a 32.32 fixed-point factor.
    ns_per_tick_q32: u128,
}

impl TscClock {
    fn new(tsc_hz: u64) -> Self {
        let hz = tsc_hz.max(1) as u128;
        TscClock { start: read_tsc(), ns_per_tick_q32: (1_000_000_000u128 << 32) / hz }
    }
    /// Nanoseconds since the clock was made.
    #[inline(always)]
    pub fn now_ns(&self) -> u64 {
        self.ns_at(read_tsc())
    }
    /// The raw TSC (cycles), for measuring a burst's processing time.
    #[inline(always)]
    pub fn ticks(&self) -> u64 {
        read_tsc()
    }
    /// Nanoseconds since the clock was made at TSC value `ticks`.
    #[inline(always)]
    pub fn ns_at(&self, ticks: u64) -> u64 {
        ((ticks.wrapping_sub(self.start) as u128 * self.ns_per_tick_q32) >> 32) as u64
    }
}

#[inline(always)]
fn read_tsc() -> u64 {
    // SAFETY: rte_rdtsc executes RDTSC; no memory is touched.
    unsafe { sys::cidlb_rdtsc() }
}

/// A pool of packet buffers (`rte_pktmbuf_pool_create`). Pools live until `rte_eal_cleanup`,
/// as in DPDK's own examples: DPDK cannot free a pool while any mbuf of it may be in a queue.
#[derive(Clone)]
pub struct Mempool {
    pool: NonNull<sys::rte_mempool>,
    name: Arc<str>,
    _alive: Arc<()>,
}

// SAFETY: an rte_mempool is designed for concurrent use from every lcore (per-lcore caches plus
// a lock-free ring); the handle is only a pointer to it.
unsafe impl Send for Mempool {}
// SAFETY: as above: every operation on a mempool is thread-safe.
unsafe impl Sync for Mempool {}

impl std::fmt::Debug for Mempool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mempool({})", self.name)
    }
}

impl Mempool {
    /// `mbufs` buffers of the default size (2048 bytes of data after 128 of headroom), a
    /// per-lcore cache of `cache`, on NUMA `socket` (-1: any).
    pub fn new(eal: &Eal, name: &str, mbufs: u32, cache: u32, socket: i32) -> Result<Mempool, DpdkError> {
        let cname = CString::new(name).map_err(|_| DpdkError::BadArgument(name.to_string()))?;
        let cache = cache.min(sys::RTE_MEMPOOL_CACHE_MAX_SIZE);
        // SAFETY: cname is a valid C string for the call (DPDK copies the name); the EAL is up
        // (we hold &Eal).
        let pool = unsafe {
            sys::rte_pktmbuf_pool_create(cname.as_ptr(), mbufs, cache, 0, sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16, socket)
        };
        let pool = NonNull::new(pool).ok_or_else(|| DpdkError::errno("rte_pktmbuf_pool_create", format!("pool {name} ({mbufs} mbufs, socket {socket})")))?;
        Ok(Mempool { pool, name: name.into(), _alive: eal.token() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Free buffers in the pool (including per-lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid while the handle lives; the count is a racy snapshot by design.
        unsafe { sys::rte_mempool_avail_count(self.pool.as_ptr()) }
    }

    /// Buffers taken from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: as in `available`.
        unsafe { sys::rte_mempool_in_use_count(self.pool.as_ptr()) }
    }

    /// An empty single-segment buffer with the default headroom, or None if the pool is empty.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is a valid pktmbuf pool; a non-null result is a fresh mbuf that we
        // now own exclusively (refcount 1, one segment).
        let m = unsafe { sys::cidlb_pktmbuf_alloc(self.pool.as_ptr()) };
        NonNull::new(m).map(|m| Mbuf { mbuf: m })
    }

    fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.pool.as_ptr()
    }
}

/// An owned single-segment packet buffer. Freed on drop; handed to the driver on transmit.
pub struct Mbuf {
    mbuf: NonNull<sys::rte_mbuf>,
}

// SAFETY: an Mbuf is the only reference to its rte_mbuf (ownership moves with the value), and
// freeing into a mempool is thread-safe, so it can move between lcores.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Give up ownership (to a driver's TX queue).
    #[inline(always)]
    fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.mbuf.as_ptr();
        std::mem::forget(self);
        p
    }
    pub fn headroom(&self) -> usize {
        // SAFETY: we own a valid mbuf.
        unsafe { sys::cidlb_pktmbuf_headroom(self.mbuf.as_ptr()) as usize }
    }
    pub fn tailroom(&self) -> usize {
        // SAFETY: we own a valid mbuf.
        unsafe { sys::cidlb_pktmbuf_tailroom(self.mbuf.as_ptr()) as usize }
    }
    /// Hint the CPU to fetch the first packet bytes.
    #[inline(always)]
    pub fn prefetch(&self) {
        // SAFETY: prefetching is a hint; any address is allowed, and this one is our data.
        unsafe { sys::cidlb_prefetch0(sys::cidlb_pktmbuf_mtod(self.mbuf.as_ptr()) as *const c_void) }
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf and nobody else refers to it; after this it is never used.
        unsafe { sys::cidlb_pktmbuf_free(self.mbuf.as_ptr()) }
    }
}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mbuf({} bytes)", self.len())
    }
}

impl Frame for Mbuf {
    // `data`, `data_mut` and `len` read the mbuf's fields in Rust, as rte_pktmbuf_mtod does
    // (`buf_addr + data_off`), instead of calling the C shim: they run several times per
    // packet and a call across the language boundary cannot be inlined (issue 7 profile).
    #[inline(always)]
    fn data(&self) -> &[u8] {
        // SAFETY: single segment: the first segment's data_len bytes at buf_addr + data_off
        // are initialised packet data inside the mbuf's buffer (rte_pktmbuf_mtod), which we
        // own for as long as &self lives.
        unsafe {
            let m = self.mbuf.as_ptr();
            let start = ((*m).buf_addr as *const u8).add((*m).data_off as usize);
            std::slice::from_raw_parts(start, (*m).data_len as usize)
        }
    }
    #[inline(always)]
    fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `data`, and &mut self makes this the only reference to the bytes.
        unsafe {
            let m = self.mbuf.as_ptr();
            let start = ((*m).buf_addr as *mut u8).add((*m).data_off as usize);
            std::slice::from_raw_parts_mut(start, (*m).data_len as usize)
        }
    }
    fn prepend(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else { return false };
        // SAFETY: we own the mbuf; rte_pktmbuf_prepend checks the headroom and leaves the mbuf
        // unchanged when it returns NULL.
        !unsafe { sys::cidlb_pktmbuf_prepend(self.mbuf.as_ptr(), n) }.is_null()
    }
    fn adj(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else { return false };
        // SAFETY: as in `prepend`; rte_pktmbuf_adj checks data_len.
        !unsafe { sys::cidlb_pktmbuf_adj(self.mbuf.as_ptr(), n) }.is_null()
    }
    fn append(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else { return false };
        // SAFETY: as in `prepend`; rte_pktmbuf_append checks the tailroom. The new bytes are
        // whatever the buffer held (initialised memory from the pool, possibly stale).
        !unsafe { sys::cidlb_pktmbuf_append(self.mbuf.as_ptr(), n) }.is_null()
    }
    fn trim(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else { return false };
        // SAFETY: as in `prepend`; rte_pktmbuf_trim checks data_len.
        unsafe { sys::cidlb_pktmbuf_trim(self.mbuf.as_ptr(), n) == 0 }
    }
    #[inline(always)]
    fn len(&self) -> usize {
        // SAFETY: we own a valid mbuf; data_len is a plain field of it.
        unsafe { (*self.mbuf.as_ptr()).data_len as usize }
    }
}

/// How a port was brought up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortOptions {
    /// RX/TX queue pairs: one per worker.
    pub queues: u16,
    pub rx_descriptors: u16,
    pub tx_descriptors: u16,
    /// Set as the device's MAC before start.
    pub mac: Option<[u8; 6]>,
    pub mtu: u16,
}

/// Link state from `rte_eth_link_get_nowait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
    pub full_duplex: bool,
}

impl std::fmt::Display for LinkStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.up {
            write!(f, "up {} Mb/s {}", self.speed_mbps, if self.full_duplex { "full-duplex" } else { "half-duplex" })
        } else {
            f.write_str("down")
        }
    }
}

pub use crate::counters::DeviceStats;

/// An opened, started DPDK ethernet port with one RX/TX queue pair per worker.
#[derive(Debug)]
pub struct Port {
    id: u16,
    device: String,
    queues: u16,
    rss: bool,
    mac: [u8; 6],
    driver: String,
    started: bool,
    closed: bool,
    _alive: Arc<()>,
}

impl Port {
    /// The port id of a device name (vdev such as `net_pcap0`, or a PCI address).
    pub fn lookup(_eal: &Eal, device: &str) -> Result<u16, DpdkError> {
        let name = CString::new(device).map_err(|_| DpdkError::BadArgument(device.to_string()))?;
        let mut id: u16 = 0;
        // SAFETY: name is a valid C string and id a valid out-pointer for the call.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(name.as_ptr(), &mut id) };
        if ret != 0 {
            return Err(DpdkError::NoSuchDevice(device.to_string()));
        }
        Ok(id)
    }

    /// The NUMA socket of a device (-1 when unknown, as for most virtual devices).
    pub fn socket_of(eal: &Eal, device: &str) -> Result<i32, DpdkError> {
        let id = Self::lookup(eal, device)?;
        // SAFETY: id is a valid port id (just looked up).
        Ok(unsafe { sys::rte_eth_dev_socket_id(id) })
    }

    /// Configure, set up and start `device`: `options.queues` RX/TX queue pairs whose RX
    /// buffers come from `pool`; RSS on IPv4/IPv6 source and destination addresses only (not
    /// ports: fragments and all flows of a source stay on one worker), limited to what the
    /// device can hash; the MAC and MTU of `options`.
    pub fn open(eal: &Eal, device: &str, options: &PortOptions, pool: &Mempool) -> Result<Port, DpdkError> {
        let id = Self::lookup(eal, device)?;
        let what = |s: &str| format!("{device} (port {id}){s}");
        // SAFETY: rte_eth_dev_info is plain data; all-zero is a valid value that the call fills.
        let mut info: sys::rte_eth_dev_info = unsafe { std::mem::zeroed() };
        // SAFETY: id is a valid port and info a valid out-pointer.
        let ret = unsafe { sys::rte_eth_dev_info_get(id, &mut info) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_dev_info_get", what(""), ret));
        }
        let driver = if info.driver_name.is_null() {
            String::from("?")
        } else {
            // SAFETY: driver_name is a static NUL-terminated string owned by the driver.
            unsafe { CStr::from_ptr(info.driver_name) }.to_string_lossy().into_owned()
        };
        let queues = options.queues.max(1);
        if queues > info.max_rx_queues || queues > info.max_tx_queues {
            return Err(DpdkError::Invalid(format!(
                "{}: {queues} workers need {queues} RX and TX queues but the device ({driver}) has at most {} RX and {} TX queues",
                what(""), info.max_rx_queues, info.max_tx_queues
            )));
        }
        // SAFETY: plain data; zero is every field's "default" in rte_eth_conf.
        let mut conf: sys::rte_eth_conf = unsafe { std::mem::zeroed() };
        conf.rxmode.mtu = u32::from(options.mtu);
        // SAFETY: returns a constant built from DPDK's RTE_ETH_RSS_* macros.
        let wanted = unsafe { sys::cidlb_rss_l3_hash_functions() };
        let hash = wanted & info.flow_type_rss_offloads;
        let rss = queues > 1 && hash != 0;
        if rss {
            conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_key = std::ptr::null_mut(); // the driver's default key
            conf.rx_adv_conf.rss_conf.rss_hf = hash;
            if hash != wanted {
                tracing::info!(device, hash = format!("{hash:#x}"), wanted = format!("{wanted:#x}"), "RSS: the device hashes only part of the IPv4/IPv6 address-only types");
            }
        } else if queues > 1 {
            tracing::warn!(device, driver, "RSS unavailable on this device: every packet arrives on queue 0 (worker 0); the other workers only transmit");
        }
        // SAFETY: id is valid, conf is fully initialised and outlives the call.
        let ret = unsafe { sys::rte_eth_dev_configure(id, queues, queues, &conf) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_dev_configure", what(&format!(", {queues} queues, MTU {}", options.mtu)), ret));
        }
        // From here on, an error drops `port`, which stops and closes the device.
        let mut port = Port { id, device: device.to_string(), queues, rss, mac: [0; 6], driver, started: false, closed: false, _alive: eal.token() };
        let driver = port.driver.clone();
        let mut rx_desc = options.rx_descriptors;
        let mut tx_desc = options.tx_descriptors;
        // SAFETY: id is valid and configured; the out-pointers are valid.
        let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rx_desc, &mut tx_desc) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_dev_adjust_nb_rx_tx_desc", what(""), ret));
        }
        // SAFETY: id is valid.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
        let socket = if socket < 0 { sys::SOCKET_ID_ANY } else { socket };
        for q in 0..queues {
            // SAFETY: id configured with `queues` RX queues, q < queues; NULL rx_conf means the
            // driver's defaults; the pool is a valid pktmbuf pool that outlives the port (pools
            // live until rte_eal_cleanup).
            let ret = unsafe { sys::rte_eth_rx_queue_setup(id, q, rx_desc, socket as u32, std::ptr::null(), pool.as_ptr()) };
            if ret != 0 {
                return Err(DpdkError::call("rte_eth_rx_queue_setup", what(&format!(" queue {q}")), ret));
            }
            // SAFETY: as above for TX.
            let ret = unsafe { sys::rte_eth_tx_queue_setup(id, q, tx_desc, socket as u32, std::ptr::null()) };
            if ret != 0 {
                return Err(DpdkError::call("rte_eth_tx_queue_setup", what(&format!(" queue {q}")), ret));
            }
        }
        if let Some(mac) = options.mac {
            let mut addr = sys::rte_ether_addr { addr_bytes: mac };
            // SAFETY: id is valid; addr is a valid rte_ether_addr for the call.
            let ret = unsafe { sys::rte_eth_dev_default_mac_addr_set(id, &mut addr) };
            if ret != 0 {
                // Without the MAC filter we must see every frame to find ours.
                // SAFETY: id is valid.
                let promisc = unsafe { sys::rte_eth_promiscuous_enable(id) };
                tracing::warn!(device, driver, error = strerror(-ret), promiscuous = promisc == 0, "cannot set the port MAC; using it as ours anyway and receiving promiscuously");
            }
        }
        // SAFETY: id is valid and every queue is set up.
        let ret = unsafe { sys::rte_eth_dev_start(id) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_dev_start", what(""), ret));
        }
        port.started = true;
        port.mac = match options.mac {
            Some(m) => m,
            None => port.device_mac()?,
        };
        Ok(port)
    }

    fn device_mac(&self) -> Result<[u8; 6], DpdkError> {
        let mut addr = sys::rte_ether_addr::default();
        // SAFETY: the port is valid and addr a valid out-pointer.
        let ret = unsafe { sys::rte_eth_macaddr_get(self.id, &mut addr) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_macaddr_get", self.device.clone(), ret));
        }
        Ok(addr.addr_bytes)
    }

    pub fn id(&self) -> u16 {
        self.id
    }
    pub fn device(&self) -> &str {
        &self.device
    }
    pub fn driver(&self) -> &str {
        &self.driver
    }
    pub fn queues(&self) -> u16 {
        self.queues
    }
    /// Whether RSS spreads received packets over the queues.
    pub fn rss(&self) -> bool {
        self.rss
    }
    /// The MAC the balancer uses on this port (the configured one, else the device's).
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    pub fn link(&self) -> Result<LinkStatus, DpdkError> {
        // SAFETY: plain data, filled by the call.
        let mut link: sys::rte_eth_link = unsafe { std::mem::zeroed() };
        // SAFETY: the port is valid and link a valid out-pointer.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.id, &mut link) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_link_get_nowait", self.device.clone(), ret));
        }
        Ok(LinkStatus {
            up: u32::from(link.link_status()) == sys::RTE_ETH_LINK_UP,
            speed_mbps: link.link_speed,
            full_duplex: u32::from(link.link_duplex()) == sys::RTE_ETH_LINK_FULL_DUPLEX,
        })
    }

    pub fn stats(&self) -> Result<DeviceStats, DpdkError> {
        // SAFETY: plain data, filled by the call.
        let mut s: sys::rte_eth_stats = unsafe { std::mem::zeroed() };
        // SAFETY: the port is valid and s a valid out-pointer.
        let ret = unsafe { sys::rte_eth_stats_get(self.id, &mut s) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_stats_get", self.device.clone(), ret));
        }
        Ok(DeviceStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// Stop RX/TX (no worker may be polling the port any more).
    pub fn stop(&mut self) -> Result<(), DpdkError> {
        if !self.started {
            return Ok(());
        }
        self.started = false;
        // SAFETY: the port is valid; callers stop it after joining the workers that poll it.
        let ret = unsafe { sys::rte_eth_dev_stop(self.id) };
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_dev_stop", self.device.clone(), ret));
        }
        Ok(())
    }

    /// Stop and close the port: the driver releases its queues and flushes what it owns (for
    /// net_pcap: the tx_pcap file is completed).
    pub fn close(mut self) -> Result<(), DpdkError> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<(), DpdkError> {
        if self.closed {
            return Ok(());
        }
        let stopped = self.stop();
        self.closed = true;
        // SAFETY: the port is valid and stopped; after this the id is never used by this handle.
        let ret = unsafe { sys::rte_eth_dev_close(self.id) };
        stopped?;
        if ret != 0 {
            return Err(DpdkError::call("rte_eth_dev_close", self.device.clone(), ret));
        }
        Ok(())
    }

    /// The I/O queues of worker `queue` on `ports` (in port order), allocating from `pool`.
    pub fn worker_io(ports: &[Port], queue: u16, pool: &Mempool) -> Result<DpdkIo, DpdkError> {
        if let Some(p) = ports.iter().find(|p| queue >= p.queues) {
            return Err(DpdkError::Invalid(format!("{} has {} queues; there is no queue {queue}", p.device, p.queues)));
        }
        Ok(DpdkIo {
            queue,
            ports: ports.iter().map(|p| p.id).collect(),
            pool: pool.clone(),
            scratch: [std::ptr::null_mut(); crate::MAX_BURST],
            multi_segment_dropped: Arc::new(Counter::default()),
        })
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        if let Err(e) = self.close_inner() {
            tracing::warn!(device = self.device, error = %e, "closing port");
        }
    }
}

/// One worker's queues: queue `queue` on every port, and the pool it builds packets from.
pub struct DpdkIo {
    queue: u16,
    /// DPDK port id of each cidlb port index.
    ports: Vec<u16>,
    pool: Mempool,
    scratch: [*mut sys::rte_mbuf; crate::MAX_BURST],
    multi_segment_dropped: Arc<Counter>,
}

// SAFETY: the raw pointers in `scratch` are only a per-call scratch area (never held between
// calls); the queues are used by this DpdkIo alone, from whichever lcore it moved to.
unsafe impl Send for DpdkIo {}

impl DpdkIo {
    pub fn queue(&self) -> u16 {
        self.queue
    }
    /// Received multi-segment packets that did not fit one segment and were freed.
    pub fn multi_segment_dropped(&self) -> Arc<Counter> {
        Arc::clone(&self.multi_segment_dropped)
    }
}

impl std::fmt::Debug for DpdkIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpdkIo").field("queue", &self.queue).field("ports", &self.ports).field("pool", &self.pool).finish()
    }
}

impl PacketIo for DpdkIo {
    type Buf = Mbuf;

    fn ports(&self) -> u16 {
        self.ports.len() as u16
    }

    #[inline]
    fn rx_burst(&mut self, port: u16, out: &mut Burst<Mbuf>, max: usize) -> usize {
        let Some(&port_id) = self.ports.get(port as usize) else { return 0 };
        let room = max.min(out.remaining_capacity()).min(crate::MAX_BURST) as u16;
        if room == 0 {
            return 0;
        }
        // SAFETY: scratch has room for MAX_BURST >= room pointers; this DpdkIo is the only user
        // of queue `self.queue` on the port; the driver writes `n <= room` owned mbufs.
        let n = unsafe { sys::cidlb_eth_rx_burst(port_id, self.queue, self.scratch.as_mut_ptr(), room) } as usize;
        let mut taken = 0;
        for &raw in &self.scratch[..n] {
            // SAFETY: the driver handed us ownership of each of the first n pointers, non-null.
            let Some(m) = NonNull::new(raw) else { continue };
            let mbuf = Mbuf { mbuf: m };
            // SAFETY: we own the mbuf; nb_segs is a plain field read; linearize copies later
            // segments into the first when they fit and frees them, else leaves it unchanged.
            // nb_segs is read in Rust (a plain field), not through the shim: once per packet.
            let single = unsafe { (*m.as_ptr()).nb_segs == 1 || sys::cidlb_pktmbuf_linearize(m.as_ptr()) == 0 };
            if !single {
                self.multi_segment_dropped.inc();
                drop(mbuf);
                continue;
            }
            out.push(mbuf);
            taken += 1;
        }
        taken
    }

    #[inline]
    fn tx_burst(&mut self, port: u16, bufs: &mut Burst<Mbuf>) -> usize {
        let Some(&port_id) = self.ports.get(port as usize) else {
            bufs.clear(); // frees them
            return 0;
        };
        let n = bufs.len();
        for (slot, m) in self.scratch.iter_mut().zip(bufs.drain(..)) {
            *slot = m.into_raw();
        }
        // SAFETY: scratch[..n] holds n mbufs we own; the driver takes ownership of the first
        // `sent`; this DpdkIo is the only user of TX queue `self.queue` on the port.
        let sent = unsafe { sys::cidlb_eth_tx_burst(port_id, self.queue, self.scratch.as_mut_ptr(), n as u16) } as usize;
        if sent < n {
            // DPDK l3fwd send_burst: what the queue did not take is freed.
            // SAFETY: scratch[sent..n] are still ours and are never used after this.
            unsafe { sys::cidlb_pktmbuf_free_bulk(self.scratch.as_mut_ptr().add(sent), (n - sent) as u32) };
        }
        sent
    }

    #[inline]
    fn alloc(&mut self) -> Option<Mbuf> {
        self.pool.alloc()
    }
}

/// A flag the control thread sets to stop the workers: read with a relaxed load every poll
/// (a read-mostly cache line, written once).
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }
    #[inline(always)]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed)
    }
    /// The underlying flag (e.g. for signal-hook).
    pub fn as_arc(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pci_policy_needs_no_pci_or_an_allow_list() {
        assert!(has_pci_policy(&strings(&["--no-pci", "--in-memory"])));
        assert!(has_pci_policy(&strings(&["-a", "0000:00:04.0"])));
        assert!(has_pci_policy(&strings(&["-a0000:00:04.0"])));
        assert!(has_pci_policy(&strings(&["--allow=0000:00:04.0"])));
        assert!(!has_pci_policy(&strings(&["--in-memory", "--vdev=net_null0"])));
        assert!(!has_pci_policy(&strings(&["-b", "0000:00:04.0"])));
    }

    #[test]
    fn refuses_init_without_pci_policy() {
        let err = Eal::init(&strings(&["cidlb", "--in-memory"])).unwrap_err();
        assert_eq!(err, DpdkError::NoPciPolicy);
        assert!(err.to_string().contains("--no-pci"));
    }

    #[test]
    fn adds_lcores_when_missing() {
        let args = args_with_lcores(&strings(&["--no-pci"]), 0, &[1, 2]);
        assert_eq!(args, strings(&["--no-pci", "-l", "0,1,2", "--main-lcore", "0"]));
        let given = strings(&["--no-pci", "-l", "0-3"]);
        assert_eq!(args_with_lcores(&given, 0, &[1]), given);
        let given = strings(&["--no-pci", "--lcores=0,1"]);
        assert_eq!(args_with_lcores(&given, 0, &[1]), given);
        let given = strings(&["--no-pci", "-c", "0x3"]);
        assert_eq!(args_with_lcores(&given, 0, &[1]), given);
    }

    #[test]
    fn stop_flag_is_shared() {
        let f = StopFlag::new();
        let g = f.clone();
        assert!(!g.is_set());
        f.set();
        assert!(g.is_set());
    }
}

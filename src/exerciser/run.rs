// SPDX-License-Identifier: GPL-2.0

//! The CPA exerciser: runs a scenario on worker threads and keeps what
//! they counted.
//!
//! A run is started from the `run` knob and goes on in kernel threads, so
//! that `stop`, `rmmod` and readers of `results` are never blocked by it.
//! Each worker owns the pages it changes ([`crate::exerciser::page_set::PageSet`]) and
//! restores them before it returns, whether the run ends, is stopped, or
//! fails halfway; `stop` and unload wait for that.

use core::fmt::Write;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{
    flags::{__GFP_ZERO, GFP_KERNEL},
    KBox, KVec, VBox,
};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_char, c_int, c_void};
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::{new_condvar, new_mutex};

use crate::bench::measure as bench;
use crate::exerciser::pool::{Pool, Shrinker, Why};
use crate::exerciser::worker;
use crate::pure::attrs::CacheMode;
use crate::pure::config::{Config, Scenario};
use crate::pure::latency;
use crate::pure::parse::cstr_field;
use crate::pure::run_stats::RunStats;
use crate::sys::debugfs::Output;
use crate::sys::ffi;
use crate::sys::log::{pr_err_rl, pr_info_rl};

/// Where a run is.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// Nothing has run since load or reset.
    Idle,
    /// Workers are running.
    Running,
    /// The last run finished.
    Done,
    /// The last run was stopped.
    Stopped,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Done => "done",
            State::Stopped => "stopped",
        }
    }
}

/// A worker thread, with the task reference `kthread_stop_put` drops.
struct Task(*mut c_void);

// SAFETY: a task reference may be dropped from any thread.
unsafe impl Send for Task {}

/// The PCI BAR the `ioremap` scenario maps.
#[derive(Copy, Clone)]
pub(crate) struct Bar {
    /// The device's name, NUL-padded ("0000:00:02.0"); empty for the first
    /// display-class device.
    pub(crate) dev: [u8; 32],
    /// The BAR index.
    pub(crate) index: u8,
}

/// What the `ioremap` scenario found; shown in `results`.
#[derive(Copy, Clone, Default)]
pub(crate) struct IoremapFacts {
    /// The device mapped.
    pub(crate) dev: [u8; 32],
    /// The BAR's physical start.
    pub(crate) start: u64,
    /// How much of it was mapped.
    pub(crate) size: u64,
    /// What `ioremap_uc` over a live WC mapping gave: `None` if refused,
    /// else the mode its PTEs have.
    pub(crate) conflict: Option<Option<crate::pure::attrs::CacheMode>>,
    /// Whether the conflict case ran.
    pub(crate) conflict_tried: bool,
}

extern "C" {
    /// `pci_glue.c`: claims BAR `bar` of the PCI device `want` (empty:
    /// the first display-class device that qualifies). 0 and a device
    /// reference with the region requested in `*out`, or a positive
    /// [`BarRefusal`] with nothing held.
    fn pte_attrs_pci_claim_bar(
        want: *const c_char,
        bar: c_int,
        out: *mut *mut c_void,
        name: *mut c_char,
        len: usize,
        start: *mut u64,
        size: *mut u64,
    ) -> c_int;
    /// `pci_glue.c`: releases the region (`start`, `size` as the claim
    /// said) and drops the device reference of a successful
    /// [`pte_attrs_pci_claim_bar`].
    fn pte_attrs_pci_release_bar(pdev: *mut c_void, start: u64, size: u64);
}

/// Why a BAR was refused (`enum pte_attrs_bar_why` of `pci_glue.h`).
#[derive(Copy, Clone, PartialEq, Eq)]
enum BarRefusal {
    BadIndex = 1,
    NoDevice,
    NotMem,
    Unassigned,
    Disabled,
    NotPrefetch,
    DecodeOff,
    Bound,
    Claimed,
    NoneAuto,
}

impl BarRefusal {
    fn from_c(v: c_int) -> Option<Self> {
        use BarRefusal::*;
        Some(match v {
            1 => BadIndex,
            2 => NoDevice,
            3 => NotMem,
            4 => Unassigned,
            5 => Disabled,
            6 => NotPrefetch,
            7 => DecodeOff,
            8 => Bound,
            9 => Claimed,
            10 => NoneAuto,
            _ => return None,
        })
    }

    /// The errno of the `run` write, and its reason in words.
    fn errno(self) -> (Error, &'static str) {
        use BarRefusal::*;
        match self {
            BadIndex => (EINVAL, "no such BAR index"),
            NoDevice => (ENODEV, "no such PCI device"),
            NotMem => (ENODEV, "that BAR is not a memory BAR"),
            NoneAuto => (ENODEV, "no display device has a free prefetchable BAR"),
            Unassigned => (EINVAL, "the BAR is unassigned"),
            Disabled => (EINVAL, "the BAR is disabled"),
            NotPrefetch => (EINVAL, "the BAR is not prefetchable"),
            DecodeOff => (EINVAL, "the device does not decode memory"),
            Bound => (EBUSY, "a driver is bound to the device"),
            Claimed => (EBUSY, "the BAR's region is claimed"),
        }
    }
}

/// A PCI memory BAR claimed for the `ioremap` scenario: the region is
/// requested as "pte_attrs" (no driver can request it meanwhile) and the
/// device is held; both are given back on drop. A run's workers share it
/// (in an `Arc`) and drop it before they count themselves done, so the
/// claim lives exactly as long as the run.
///
/// # Invariants
///
/// `pdev` is a `struct pci_dev` on which this value holds a reference, and
/// the memory region `start`, `size` (one of its BARs) is requested by
/// this value, both taken by a successful `pte_attrs_pci_claim_bar()`; the
/// BAR passed the checks there (assigned, enabled, prefetchable, memory
/// decoding on, no driver bound when claimed).
pub(crate) struct ClaimedBar {
    pdev: NonNull<c_void>,
    /// The device's name, NUL-padded.
    pub(crate) dev: [u8; 32],
    /// The BAR's physical start.
    pub(crate) start: u64,
    /// Its length.
    pub(crate) size: u64,
}

// SAFETY: the reference and the region may be given back from any thread;
// the rest is plain data.
unsafe impl Send for ClaimedBar {}
// SAFETY: `&ClaimedBar` only reads plain data.
unsafe impl Sync for ClaimedBar {}

impl ClaimedBar {
    /// Claims the BAR `bar` names, or says why not (with a rate-limited
    /// `pr_err`).
    fn claim(bar: &Bar) -> core::result::Result<ClaimedBar, (Error, &'static str)> {
        let mut out: *mut c_void = core::ptr::null_mut();
        let mut dev = [0u8; 32];
        let (mut start, mut size) = (0u64, 0u64);
        let mut want = bar.dev;
        // Always NUL-terminated for C.
        want[want.len() - 1] = 0;
        // SAFETY: `want` is NUL-terminated; every pointer is to a live
        // local, `dev` has room for `len` bytes and a NUL.
        let r = unsafe {
            pte_attrs_pci_claim_bar(
                want.as_ptr().cast(),
                c_int::from(bar.index),
                &mut out,
                dev.as_mut_ptr().cast(),
                dev.len() - 1,
                &mut start,
                &mut size,
            )
        };
        if r == 0 {
            if let Some(pdev) = NonNull::new(out) {
                // INVARIANT: the claim succeeded: `out` holds a reference
                // and the region.
                return Ok(ClaimedBar {
                    pdev,
                    dev,
                    start,
                    size,
                });
            }
            return Err((ENODEV, "no device"));
        }
        let Some(why) = BarRefusal::from_c(r) else {
            return Err((EINVAL, "the BAR was refused"));
        };
        let name = match cstr_field(&bar.dev) {
            "" => "any display-class PCI device",
            d => d,
        };
        match why {
            BarRefusal::NotPrefetch => pr_err_rl!(
                "run: ioremap: BAR {} of {} is not prefetchable: a WC or cacheable mapping could let the CPU read device registers speculatively\n",
                bar.index,
                name
            ),
            _ => pr_err_rl!(
                "run: ioremap: BAR {} of {} refused: {}\n",
                bar.index,
                name,
                why.errno().1
            ),
        }
        Err(why.errno())
    }
}

impl Drop for ClaimedBar {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this value holds the reference and
        // the region, given back here once.
        unsafe { pte_attrs_pci_release_bar(self.pdev.as_ptr(), self.start, self.size) };
    }
}

/// The state of runs.
struct Runs {
    state: State,
    /// Unload has begun: no new run.
    closed: bool,
    /// Workers still running.
    active: u64,
    /// The task references of the last threaded run's workers, handed
    /// over by the task that spawned them before it counts itself done:
    /// taken (and reaped) only once the run has left `Running`.
    tasks: KVec<Option<Task>>,
    /// The configuration of the last run.
    cfg: Config,
    stats: Option<VBox<RunStats>>,
    started_ns: i64,
    elapsed_ns: i64,
    ioremap: IoremapFacts,
    /// The address of a WC BAR mapping held for inspection (0: none).
    held: u64,
}

/// The exerciser: knobs' values, the run, the GEM pool.
#[pin_data]
pub(crate) struct Exerciser {
    #[pin]
    cfg: Mutex<Config>,
    #[pin]
    bar: Mutex<Bar>,
    #[pin]
    runs: Mutex<Runs>,
    #[pin]
    ended: CondVar,
    /// Asks workers to stop at their next step.
    stop: AtomicBool,
    /// The `hold` knob: keep one WC BAR mapping alive for inspection.
    hold: AtomicBool,
    /// The `inject_miss` knob: the next run makes one transition wrong on
    /// purpose (see [`crate::exerciser::page_set::PageSet::set_skipping_first`]).
    inject: AtomicBool,
    #[pin]
    pool: Pool,
    /// The last output of the `bench` file.
    #[pin]
    bench_out: Mutex<KVec<u8>>,
    /// A benchmark is running.
    bench_busy: AtomicBool,
}

/// The pool's shrinker and the exerciser it evicts from.
///
/// # Invariants
///
/// Fields drop in order: the shrinker is freed (and its callbacks are
/// over) before the reference that keeps the pool alive goes.
pub(crate) struct PoolShrinker {
    shrinker: Shrinker,
    _ex: Arc<Exerciser>,
}

impl PoolShrinker {
    /// Unregisters the shrinker (waiting for callbacks in flight).
    pub(crate) fn free(self) {
        drop(self.shrinker);
    }
}

/// What a worker thread gets.
struct WorkerArgs {
    ex: Arc<Exerciser>,
    id: u32,
    cfg: Config,
    /// The `ioremap` scenario's BAR, shared by the run's workers.
    claim: Option<Arc<ClaimedBar>>,
    /// This worker makes the run's `inject_miss` transition.
    inject: bool,
}

impl Exerciser {
    /// An idle exerciser with the default knobs.
    pub(crate) fn new() -> Result<Arc<Exerciser>> {
        let pool = Pool::new()?;
        Arc::pin_init(
            pin_init!(Exerciser {
                cfg <- new_mutex!(Config::DEFAULT, "pte_attrs::cfg"),
                bar <- new_mutex!(Bar { dev: [0; 32], index: 0 }, "pte_attrs::bar"),
                runs <- new_mutex!(
                    Runs {
                        state: State::Idle,
                        closed: false,
                        active: 0,
                        tasks: KVec::new(),
                        cfg: Config::DEFAULT,
                        stats: None,
                        started_ns: 0,
                        elapsed_ns: 0,
                        ioremap: IoremapFacts::default(),
                        held: 0,
                    },
                    "pte_attrs::runs"
                ),
                ended <- new_condvar!("pte_attrs::ended"),
                stop: AtomicBool::new(false),
                hold: AtomicBool::new(false),
                inject: AtomicBool::new(false),
                pool <- pool,
                bench_out <- new_mutex!(KVec::new(), "pte_attrs::bench"),
                bench_busy: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )
    }

    /// Registers the pool's shrinker; it stays registered until the
    /// returned value is dropped.
    pub(crate) fn register_shrinker(self: &Arc<Self>) -> Result<PoolShrinker> {
        // SAFETY: the pool lives in the exerciser, and the `PoolShrinker`
        // keeps a reference to it until after the shrinker is freed.
        let shrinker = unsafe { Shrinker::register(&self.pool) }?;
        Ok(PoolShrinker {
            shrinker,
            _ex: self.clone(),
        })
    }

    /// Runs `f` on the knobs.
    pub(crate) fn with_cfg<R>(&self, f: impl FnOnce(&mut Config) -> R) -> R {
        f(&mut self.cfg.lock())
    }

    /// Evicts the whole GEM pool (the `evict` knob); returns the pages
    /// freed.
    pub(crate) fn evict_all(&self) -> u64 {
        self.pool.evict(u64::MAX, Why::Owner)
    }

    /// Runs `f` on the BAR selection.
    pub(crate) fn with_bar<R>(&self, f: impl FnOnce(&mut Bar) -> R) -> R {
        f(&mut self.bar.lock())
    }

    /// The GEM pool.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Whether workers should stop now. Workers ask between steps, so this
    /// also lets others run: the kernel may have no preemption, and a long
    /// run would otherwise stall RCU.
    pub(crate) fn stopping(&self) -> bool {
        crate::exerciser::page_set::resched();
        // The flag, not kthread_should_stop(): workers are never
        // kthread_stop()ed early, and a sync run is no kthread.
        self.stop.load(Ordering::Relaxed)
    }

    /// Sets the `inject_miss` knob.
    pub(crate) fn set_inject(&self, on: bool) {
        self.inject.store(on, Ordering::Relaxed);
    }

    /// The `inject_miss` knob (armed, not yet used by a run).
    pub(crate) fn inject(&self) -> bool {
        self.inject.load(Ordering::Relaxed)
    }

    /// Starts a run of the current knobs on worker threads, or, with
    /// `sync`, runs it in the calling task (one worker) and returns when it
    /// is done: fault injection aimed at that task (`make-it-fail`) then
    /// reaches every allocation of the run. `-EBUSY` while one runs,
    /// `-ENOMEM` if memory cannot hold it; for `ioremap`, the BAR is
    /// checked and claimed here (`-EBUSY`, `-EINVAL`, `-ENODEV`). Nothing
    /// has changed when it fails.
    pub(crate) fn start(
        self: &Arc<Self>,
        sync: bool,
    ) -> core::result::Result<(), (Error, &'static str)> {
        let mut cfg = *self.cfg.lock();
        if sync {
            cfg.threads = 1;
        }
        let bar = *self.bar.lock();
        {
            // Checked again below, under the same lock as the start; here
            // so that a busy exerciser is said before the BAR is looked at.
            let runs = self.runs.lock();
            if runs.closed {
                return Err((ENODEV, "the module is unloading"));
            }
            if runs.state == State::Running {
                return Err((EBUSY, "a run is in progress"));
            }
        }
        // SAFETY: a plain query.
        let avail = unsafe { bindings::si_mem_available() }.max(0) as u64;
        let peak = cfg.peak();
        if peak.total() > avail / 2 {
            pr_err_rl!(
                "run: {} needs up to {} pages ({} for its bookkeeping), but only {} are available (half may be used)\n",
                cfg.scenario,
                peak.total(),
                peak.bookkeeping,
                avail
            );
            return Err((ENOMEM, "not enough memory for this run"));
        }
        let claim = if cfg.scenario == Scenario::Ioremap {
            let c = ClaimedBar::claim(&bar)?;
            // Each thread maps its own slice of at most 2 MiB: enough
            // pages to check, cheap to map, and no thread's mapping is
            // another's conflict (a range has one memtype at a time).
            if ioremap_slice(c.size, cfg.threads) == 0 {
                pr_err_rl!(
                    "run: ioremap: the BAR is too small for {} threads\n",
                    cfg.threads
                );
                return Err((EINVAL, "the BAR is too small for this many threads"));
            }
            Some(Arc::new(c, GFP_KERNEL).map_err(|_| (ENOMEM, "no memory for the BAR"))?)
        } else {
            None
        };
        let stats = zeroed::<RunStats>().map_err(|_| (ENOMEM, "no memory for the results"))?;
        // A slot for every worker's task reference, made before any starts
        // and owned by this task while it spawns: no thread is created
        // without a place for its reference.
        let threads = if sync { 0 } else { cfg.threads as usize };
        let mut tasks = KVec::with_capacity(threads, GFP_KERNEL)
            .map_err(|_| (ENOMEM, "no memory for the workers"))?;
        for _ in 0..threads {
            tasks
                .push(None, GFP_KERNEL)
                .map_err(|_| (ENOMEM, "no memory for the workers"))?;
        }
        let (old, inject) = {
            let mut runs = self.runs.lock();
            if runs.closed {
                return Err((ENODEV, "the module is unloading"));
            }
            if runs.state == State::Running {
                return Err((EBUSY, "a run is in progress"));
            }
            runs.state = State::Running;
            self.stop.store(false, Ordering::Relaxed);
            // The workers, and (threaded) this task while it spawns them:
            // the run cannot end, so `stop` cannot take the task list,
            // before every worker's reference is in it.
            runs.active = cfg.threads + u64::from(!sync);
            runs.cfg = cfg;
            runs.stats = Some(stats);
            runs.ioremap = IoremapFacts::default();
            if let Some(c) = &claim {
                runs.ioremap.dev = c.dev;
                runs.ioremap.start = c.start;
                runs.ioremap.size = ioremap_slice(c.size, cfg.threads);
            }
            // SAFETY: ktime_get() has no preconditions.
            runs.started_ns = unsafe { bindings::ktime_get() };
            let old = core::mem::take(&mut runs.tasks);
            // Taken by this run if it changes RAM (`ioremap` has no
            // transition to make wrong: the knob stays armed).
            let inject =
                cfg.scenario != Scenario::Ioremap && self.inject.swap(false, Ordering::Relaxed);
            (old, inject)
        };
        reap(old);
        pr_info_rl!(
            "run: {} pages={} max_order={} iterations={} threads={} verify={}\n",
            cfg.scenario,
            cfg.pages,
            cfg.max_order,
            cfg.iterations,
            cfg.threads,
            u8::from(cfg.verify)
        );
        if sync {
            run_worker(self, 0, cfg, claim, inject);
            return Ok(());
        }
        let mut claim = claim;
        for (id, slot) in (0u32..).zip(tasks.iter_mut()) {
            // The last worker gets this task's reference to the BAR.
            let c = if u64::from(id) + 1 == cfg.threads {
                claim.take()
            } else {
                claim.clone()
            };
            match self.spawn(id, cfg, c, inject && id == 0) {
                Ok(task) => *slot = Some(task),
                Err(e) => {
                    pr_err_rl!("run: cannot start worker {}: {:?}\n", id, e);
                    // Account for the workers that will never run.
                    let missing = cfg.threads - u64::from(id);
                    self.finish_workers(missing, None, missing);
                    break;
                }
            }
        }
        drop(claim);
        // The run cannot end before this task counts itself done, so
        // `stop` finds every reference here once it may take them. (The
        // list it replaces is empty: the last run's was taken above.)
        self.runs.lock().tasks = tasks;
        // This task is done spawning.
        self.finish_workers(1, None, 0);
        Ok(())
    }

    /// Starts worker `id` on a kernel thread and returns its task
    /// reference, for [`reap`] once the run has left `Running`.
    fn spawn(
        self: &Arc<Self>,
        id: u32,
        cfg: Config,
        claim: Option<Arc<ClaimedBar>>,
        inject: bool,
    ) -> Result<Task> {
        let args = KBox::new(
            WorkerArgs {
                ex: self.clone(),
                id,
                cfg,
                claim,
                inject,
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(args);
        // SAFETY: `worker` takes ownership of `raw`; the name is a
        // NUL-terminated constant.
        let task = unsafe {
            ffi::pte_attrs_glue_kthread_run(worker, raw.cast(), c"pte_attrs".as_ptr().cast(), id)
        };
        if let Err(e) = kernel::error::from_err_ptr(task) {
            // SAFETY: the thread was not created, so `raw` is still ours.
            drop(unsafe { KBox::from_raw(raw) });
            return Err(e);
        }
        Ok(Task(task))
    }

    /// Counts `n` participants of the run as done: a worker (merging its
    /// `stats`), workers that never ran, or the task that spawned them;
    /// `errors` are added to the run's. The last one closes the run.
    fn finish_workers(&self, n: u64, stats: Option<&RunStats>, errors: u64) {
        let last = {
            let mut runs = self.runs.lock();
            if let Some(all) = runs.stats.as_mut() {
                if let Some(s) = stats {
                    all.merge(s);
                }
                all.errors += errors;
            }
            runs.active -= n.min(runs.active);
            runs.active == 0
        };
        if !last {
            return;
        }
        let mut runs = self.runs.lock();
        // SAFETY: ktime_get() has no preconditions.
        runs.elapsed_ns = unsafe { bindings::ktime_get() } - runs.started_ns;
        runs.state = if self.stop.load(Ordering::Relaxed) {
            State::Stopped
        } else {
            State::Done
        };
        let (ops, failures) = runs.stats.as_ref().map_or((0, 0), |s| {
            (s.ops.iter().map(|o| o.ops).sum::<u64>(), s.verify_failures)
        });
        pr_info_rl!(
            "run: {} {}: {} transitions, {} verification failures\n",
            runs.cfg.scenario,
            runs.state.name(),
            ops,
            failures
        );
        self.ended.notify_all();
    }

    /// With the `hold` knob set, publishes the live mapping at `addr` in
    /// `results` (`ioremap.held=`) and waits until `hold` is cleared or the
    /// run is stopped.
    pub(crate) fn hold_mapping(&self, addr: usize) {
        if !self.hold.load(Ordering::Relaxed) {
            return;
        }
        self.runs.lock().held = addr as u64;
        while self.hold.load(Ordering::Relaxed) && !self.stopping() {
            // SAFETY: a worker thread may sleep.
            unsafe { bindings::msleep(10) };
        }
        self.runs.lock().held = 0;
    }

    /// Sets the `hold` knob.
    pub(crate) fn set_hold(&self, on: bool) {
        self.hold.store(on, Ordering::Relaxed);
    }

    /// The `hold` knob.
    pub(crate) fn hold(&self) -> bool {
        self.hold.load(Ordering::Relaxed)
    }

    /// Records what the `ioremap` scenario found.
    pub(crate) fn set_ioremap_facts(&self, facts: IoremapFacts) {
        self.runs.lock().ioremap = facts;
    }

    /// Stops the run, if any, and waits until its workers have restored
    /// and freed everything they changed.
    pub(crate) fn stop(&self) {
        let tasks = {
            let mut runs = self.runs.lock();
            // Under `runs`, where `start` clears it: a run that starts
            // after this is not stopped, one that started before is.
            self.stop.store(true, Ordering::Relaxed);
            while runs.state == State::Running {
                self.ended.wait(&mut runs);
            }
            core::mem::take(&mut runs.tasks)
        };
        reap(tasks);
    }

    /// Clears the results of the last run: `results` then says `idle`,
    /// no time, no operations, and the current knobs as its config.
    /// `-EBUSY` while one runs.
    pub(crate) fn reset(&self) -> Result {
        let cfg = *self.cfg.lock();
        let mut runs = self.runs.lock();
        if runs.state == State::Running {
            return Err(EBUSY);
        }
        runs.state = State::Idle;
        runs.stats = None;
        runs.ioremap = IoremapFacts::default();
        runs.elapsed_ns = 0;
        runs.started_ns = 0;
        runs.cfg = cfg;
        drop(runs);
        self.pool.with_evictions(|e| e.reset());
        Ok(())
    }

    /// Unload: no new run, the current one stopped, the pool emptied.
    /// Returns the pages evicted and how many of all evicted pages were
    /// found not WB (and leaked rather than freed).
    pub(crate) fn shutdown(&self) -> (u64, u64) {
        self.runs.lock().closed = true;
        self.stop();
        let evicted = self.pool.evict(u64::MAX, Why::Owner);
        (evicted, self.pool.with_evictions(|e| e.verify_failures))
    }

    /// Runs the benchmarks named `what` (`accessor`, `cpa`, `threads` or
    /// `all`) and keeps their output for the `bench` file.
    pub(crate) fn bench(&self, what: &str) -> core::result::Result<(), (Error, &'static str)> {
        let parts: &[fn(&mut Output) -> Result] = match what {
            "accessor" => &[bench::accessor_cost],
            "cpa" => &[bench::cpa_throughput],
            "threads" => &[bench::cpa_threads],
            "all" => &[
                bench::accessor_cost,
                bench::cpa_throughput,
                bench::cpa_threads,
            ],
            _ => return Err((EINVAL, "one of accessor, cpa, threads, all")),
        };
        if self.bench_busy.swap(true, Ordering::Acquire) {
            return Err((EBUSY, "a benchmark is running"));
        }
        let mut out = Output::new();
        let mut r = Ok(());
        for part in parts {
            r = part(&mut out);
            if r.is_err() {
                break;
            }
        }
        let text = out.into_bytes();
        self.bench_busy.store(false, Ordering::Release);
        r.map_err(|e| (e, "the benchmark failed"))?;
        *self.bench_out.lock() = text.map_err(|e| (e, "no memory for the output"))?;
        Ok(())
    }

    /// The last benchmark output.
    pub(crate) fn write_bench(&self, out: &mut Output) {
        out.write_bytes(&self.bench_out.lock());
    }

    /// Writes the `results` file.
    pub(crate) fn write_results(&self, w: &mut impl Write) -> core::fmt::Result {
        let runs = self.runs.lock();
        let c = &runs.cfg;
        writeln!(w, "state={}", runs.state.name())?;
        writeln!(w, "scenario={}", c.scenario)?;
        writeln!(
            w,
            "config=pages={} max_order={} iterations={} threads={} verify={}",
            c.pages,
            c.max_order,
            c.iterations,
            c.threads,
            u8::from(c.verify)
        )?;
        writeln!(w, "elapsed_ns={}", runs.elapsed_ns.max(0))?;
        match runs.stats.as_ref() {
            Some(s) => s.write_kv(w, c.scenario)?,
            None => writeln!(w, "ops=0")?,
        }
        if c.scenario == Scenario::Ioremap && runs.stats.is_some() {
            let f = &runs.ioremap;
            writeln!(w, "ioremap.device={}", cstr_field(&f.dev))?;
            writeln!(w, "ioremap.start={:#x}", f.start)?;
            writeln!(w, "ioremap.size={:#x}", f.size)?;
            if runs.held != 0 {
                writeln!(w, "ioremap.held={:#x}", runs.held)?;
            }
            if f.conflict_tried {
                let got = match f.conflict {
                    None => "refused",
                    Some(None) => "mapped-unknown",
                    Some(Some(m)) => m.name(),
                };
                writeln!(w, "ioremap.conflict_uc_over_wc={got}")?;
            }
        }
        drop(runs);
        writeln!(w, "pool_pages={}", self.pool.pages())?;
        for (key, mode) in [("wc", CacheMode::Wc), ("uc", CacheMode::UcMinus)] {
            if let Some(addr) = self.pool.sample(mode) {
                writeln!(w, "pool.sample_{key}={addr:#x}")?;
            }
        }
        // Copied out first, into memory allocated before the lock:
        // formatting allocates, an allocation may enter reclaim, and the
        // shrinker takes this lock from there.
        let mut evict = zeroed::<latency::OpStats>().map_err(|_| core::fmt::Error)?;
        let (scans, pages, failures, first) = self.pool.with_evictions(|e| {
            evict.copy_from(&e.stats);
            (
                e.shrinker_scans,
                e.shrinker_pages,
                e.verify_failures,
                e.first_failure,
            )
        });
        writeln!(w, "pool.shrinker_scans={scans}")?;
        writeln!(w, "pool.shrinker_pages={pages}")?;
        writeln!(w, "pool.verify_failures={failures}")?;
        let [addr, pv, raw] = first;
        if addr != 0 {
            writeln!(
                w,
                "pool.first_failure=addr={addr:#x} pv={pv:#018x} raw={raw:#018x}"
            )?;
        }
        evict.write_kv(w, "pool.evict")
    }
}

/// Types whose all-zero bytes are a valid, empty value.
///
/// # Safety
///
/// Implementors hold only integers (and arrays and structs of them) and
/// document that all-zero is their empty value.
pub(crate) unsafe trait ZeroIsEmpty {}

// SAFETY: documented on `RunStats` and held by its `all_zero_is_empty` test.
unsafe impl ZeroIsEmpty for RunStats {}
// SAFETY: integers and a `Histogram`, whose all-zero value is empty.
unsafe impl ZeroIsEmpty for latency::OpStats {}

/// An empty `T` on the vmalloc heap, never built on the stack: the
/// counters are kilobytes large and kernel stacks are 16 KB.
pub(crate) fn zeroed<T: ZeroIsEmpty>() -> Result<VBox<T>> {
    // No warning on failure: the caller reports it (and fault injection
    // makes it happen on purpose).
    let b = VBox::<T>::new_uninit(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN)?;
    // SAFETY: the memory is zeroed, a valid empty `T` (`ZeroIsEmpty`).
    Ok(unsafe { b.assume_init() })
}

/// Waits for the given worker threads to exit and drops their references.
///
/// Only for the references of a run that has left `Running`: that happens
/// when every started worker has counted itself done (`finish_workers`),
/// from its thread function.
fn reap(tasks: KVec<Option<Task>>) {
    for t in tasks.into_iter().flatten() {
        // SAFETY: `t` holds the task reference taken at creation, and the
        // thread's function has run (see above), so kthread_stop_put()
        // only waits for it to return and drops the reference.
        unsafe { bindings::kthread_stop_put(t.0.cast()) };
    }
}

/// The bytes of the BAR each of `threads` workers maps (0: too small).
fn ioremap_slice(size: u64, threads: u64) -> u64 {
    (size / threads.max(1)).min(2 << 20) & !0xfff
}

/// The worker thread.
///
/// # Safety
///
/// `data` comes from `KBox::<WorkerArgs>::into_raw` and is not used again.
unsafe extern "C" fn worker(data: *mut c_void) -> c_int {
    // SAFETY: by the function's safety contract.
    let args = unsafe { KBox::from_raw(data.cast::<WorkerArgs>()) };
    let WorkerArgs {
        ex,
        id,
        cfg,
        claim,
        inject,
    } = KBox::into_inner(args);
    run_worker(&ex, id, cfg, claim, inject);
    0
}

/// One worker's share of a run, then its accounting. The worker's
/// reference to the BAR goes before it counts itself done: when the last
/// worker has, the claim is released.
fn run_worker(ex: &Exerciser, id: u32, cfg: Config, claim: Option<Arc<ClaimedBar>>, inject: bool) {
    match zeroed::<RunStats>() {
        Ok(mut stats) => {
            worker::run(ex, &cfg, claim.as_deref(), id, inject, &mut stats);
            drop(claim);
            ex.finish_workers(1, Some(&stats), 0);
        }
        Err(_) => {
            pr_err_rl!("worker {}: no memory for its counters\n", id);
            drop(claim);
            ex.finish_workers(1, None, 1);
        }
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Run control: the knobs' values, the state of runs, and the worker
//! threads.
//!
//! A run is started from the `run` knob and goes on in kernel threads, so
//! that `stop`, `rmmod` and readers of `results` are never blocked by it.
//! Each worker owns the pages it changes ([`crate::exerciser::page_set`])
//! and restores them before it returns, whether the run ends, is stopped,
//! or fails halfway; `stop` and unload wait for that.

use core::sync::atomic::{AtomicBool, Ordering};

use kernel::alloc::{flags::GFP_KERNEL, KVec, VBox};
use kernel::error::{code::*, Result};
use kernel::prelude::*;
use kernel::sync::{Arc, CondVar, Mutex};
use kernel::{c_str, new_condvar, new_mutex};

use crate::exerciser::control::Control;
use crate::exerciser::pool::{Evictor, Pool};
use crate::exerciser::worker::{self, ioremap_slice, IoremapFacts};
use crate::pure::config::{Config, Inject, ScatterRefusal, Scenario};
use crate::pure::parse::cstr_field;
use crate::pure::run_stats::{DirectMapEvents, RunStats};
use crate::sys::kmap;
use crate::sys::log::{pr_err_rl, pr_info_rl, Show};
use crate::sys::mem;
use crate::sys::pci::{BarRefusal, ClaimedBar, OnRemove};
use crate::sys::shrinker::Shrink;
use crate::sys::task::Task;
use crate::sys::time::Instant;

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
    /// The last run (`ioremap`) ended because its device was removed or
    /// unbound from pte_attrs.
    DeviceRemoved,
}

impl State {
    pub(crate) fn name(self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Running => "running",
            State::Done => "done",
            State::Stopped => "stopped",
            State::DeviceRemoved => "device_removed",
        }
    }
}

/// The PCI BAR the `ioremap` scenario maps (the `bar` knob).
#[derive(Copy, Clone)]
pub(crate) struct Bar {
    /// The device's name, NUL-padded ("0000:00:02.0"); empty for the first
    /// display-class device.
    pub(crate) dev: [u8; 32],
    /// The BAR index.
    pub(crate) index: u8,
}

/// A run refused: the errno of the `run` write and the reason in words.
pub(crate) type Refusal = (Error, &'static str);

/// The state of runs.
pub(crate) struct Runs {
    pub(crate) state: State,
    /// Unload has begun: no new run.
    closed: bool,
    /// Participants still running: workers, and the task spawning them.
    active: u64,
    /// The last threaded run's workers, handed over by the task that
    /// spawned them before it counts itself done: taken (and joined) only
    /// once the run has left `Running`.
    tasks: KVec<Task>,
    /// The configuration of the last run.
    pub(crate) cfg: Config,
    pub(crate) stats: Option<VBox<RunStats>>,
    started: Option<Instant>,
    pub(crate) elapsed_ns: u64,
    pub(crate) ioremap: IoremapFacts,
    /// The direct map's 4K/2M/1G leaves (as `/proc/meminfo` counts them)
    /// before and after the run: the fragmentation it caused. `None` if
    /// the walk was interrupted.
    pub(crate) dmap: [Option<[u64; 3]>; 2],
    /// The direct map's split/collapse event counters before and after.
    pub(crate) dmap_events: [Option<DirectMapEvents>; 2],
    /// The device of the running `ioremap` run is being removed: the run
    /// ends as `DeviceRemoved`.
    removed: bool,
}

/// The exerciser: knobs' values, the run, the GEM pool.
#[pin_data]
pub(crate) struct Exerciser {
    #[pin]
    cfg: Mutex<Config>,
    #[pin]
    bar: Mutex<Bar>,
    #[pin]
    pub(crate) runs: Mutex<Runs>,
    #[pin]
    ended: CondVar,
    /// The stop request and the `hold` knob, shared with the workers.
    pub(crate) ctl: Control,
    /// The `inject_miss` knob: the next run makes one transition wrong on
    /// purpose (see [`crate::exerciser::page_set::PageSet::set_skipping_first`]).
    inject: AtomicBool,
    /// The `inject_fail` knob: the next run fails right after a change
    /// away from WB, so that its pages are restored on drop.
    inject_fail: AtomicBool,
    #[pin]
    pub(crate) pool: Pool,
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
                        started: None,
                        elapsed_ns: 0,
                        ioremap: IoremapFacts::default(),
                        dmap: [None; 2],
                        dmap_events: [None; 2],
                        removed: false,
                    },
                    "pte_attrs::runs"
                ),
                ended <- new_condvar!("pte_attrs::ended"),
                ctl: Control::new(),
                inject: AtomicBool::new(false),
                inject_fail: AtomicBool::new(false),
                pool <- pool,
            }),
            GFP_KERNEL,
        )
    }

    /// Runs `f` on the knobs.
    pub(crate) fn with_cfg<R>(&self, f: impl FnOnce(&mut Config) -> R) -> R {
        f(&mut self.cfg.lock())
    }

    /// Runs `f` on the BAR selection.
    pub(crate) fn with_bar<R>(&self, f: impl FnOnce(&mut Bar) -> R) -> R {
        f(&mut self.bar.lock())
    }

    /// Evicts the whole GEM pool (the `evict` knob); returns the pages
    /// freed.
    pub(crate) fn evict_all(&self) -> u64 {
        self.pool.evict(u64::MAX, Evictor::Owner)
    }

    /// Sets the `hold` knob.
    pub(crate) fn set_hold(&self, on: bool) {
        self.ctl.set_hold(on);
    }

    /// The `hold` knob.
    pub(crate) fn hold(&self) -> bool {
        self.ctl.hold()
    }

    /// Sets the `inject_miss` knob.
    pub(crate) fn set_inject(&self, on: bool) {
        self.inject.store(on, Ordering::Relaxed);
    }

    /// The `inject_miss` knob (armed, not yet used by a run).
    pub(crate) fn inject(&self) -> bool {
        self.inject.load(Ordering::Relaxed)
    }

    /// Sets the `inject_fail` knob.
    pub(crate) fn set_inject_fail(&self, on: bool) {
        self.inject_fail.store(on, Ordering::Relaxed);
    }

    /// The `inject_fail` knob (armed, not yet used by a run).
    pub(crate) fn inject_fail(&self) -> bool {
        self.inject_fail.load(Ordering::Relaxed)
    }

    /// Starts a run of the current knobs on worker threads, or, with
    /// `sync`, runs it in the calling task (one worker) and returns when it
    /// is done: fault injection aimed at that task (`make-it-fail`) then
    /// reaches every allocation of the run. `-EBUSY` while one runs,
    /// `-ENOMEM` if memory cannot hold it; for `ioremap`, the BAR is
    /// checked and claimed here (`-EBUSY`, `-EINVAL`, `-ENODEV`). Nothing
    /// has changed when it fails.
    pub(crate) fn start(self: &Arc<Self>, sync: bool) -> Result<(), Refusal> {
        let mut cfg = *self.cfg.lock();
        if sync {
            cfg.threads = 1;
        }
        let bar = *self.bar.lock();
        // Checked again below, under the same lock as the start; here so
        // that a busy exerciser is said before the BAR is looked at.
        self.may_start(&self.runs.lock())?;
        let avail = mem::available_pages();
        let peak = cfg.peak();
        if peak.total() > avail / 2 {
            pr_err_rl!(
                "run: {} needs up to {} pages ({} for its bookkeeping), but only {} are available (half may be used)\n",
                Show(cfg.scenario),
                peak.total(),
                peak.bookkeeping,
                avail
            );
            return Err((ENOMEM, "not enough memory for this run"));
        }
        match cfg.scatter_refusal(avail) {
            None => {}
            Some(ScatterRefusal::NotSinglePages) => {
                pr_err_rl!(
                    "run: scatter applies to pages_array and wc_wb_free, not {}\n",
                    Show(cfg.scenario)
                );
                return Err((EINVAL, "scatter applies to pages_array and wc_wb_free"));
            }
            Some(ScatterRefusal::TooManyBlocks) => {
                pr_err_rl!(
                    "run: scatter: {} pages x {} threads would each pin a 2 MiB block: more than a quarter of the {} blocks that the {} available pages make up\n",
                    cfg.pages,
                    cfg.threads,
                    avail >> 9,
                    avail
                );
                return Err((ENOMEM, "too many scattered pages for the memory available"));
            }
        }
        let claim = if cfg.scenario == Scenario::Ioremap {
            let c = claim(self.clone(), &bar)?;
            if ioremap_slice(c.size(), cfg.threads) == 0 {
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
        let stats = mem::zeroed::<RunStats>().map_err(|_| (ENOMEM, "no memory for the results"))?;
        // Before the run, with no lock held (a walk of the direct map).
        let dmap_before = kmap::direct_map_census().ok();
        let events_before = mem::direct_map_events();
        // Room for every worker's task, made before any starts and owned by
        // this task while it spawns: no thread is created without a place
        // for it.
        let threads = if sync { 0 } else { cfg.threads as usize };
        let mut tasks = KVec::with_capacity(threads, GFP_KERNEL)
            .map_err(|_| (ENOMEM, "no memory for the workers"))?;
        let (old, inject) = {
            let mut runs = self.runs.lock();
            self.may_start(&runs)?;
            runs.state = State::Running;
            self.ctl.set_stop(false);
            // The workers, and (threaded) this task while it spawns them:
            // the run cannot end, so `stop` cannot take the task list,
            // before every worker's task is in it.
            runs.active = cfg.threads + u64::from(!sync);
            runs.cfg = cfg;
            runs.stats = Some(stats);
            runs.ioremap = IoremapFacts::default();
            runs.removed = false;
            if let Some(c) = &claim {
                runs.ioremap.dev = *c.dev();
                runs.ioremap.start = c.start();
                runs.ioremap.size = ioremap_slice(c.size(), cfg.threads);
                // A removal that began before the run counted as running
                // found nothing to stop (`removed()` looks under `runs`).
                if c.revoked() {
                    runs.removed = true;
                    self.ctl.set_stop(true);
                }
            }
            runs.dmap = [dmap_before, None];
            runs.dmap_events = [events_before, None];
            runs.started = Some(Instant::now());
            runs.elapsed_ns = 0;
            let old = core::mem::take(&mut runs.tasks);
            // Taken by this run if it changes RAM (`ioremap` has no
            // transition to make wrong: the knob stays armed).
            let inject = if cfg.scenario == Scenario::Ioremap {
                Inject::default()
            } else {
                Inject {
                    miss: self.inject.swap(false, Ordering::Relaxed),
                    fail: self.inject_fail.swap(false, Ordering::Relaxed),
                }
            };
            (old, inject)
        };
        // The last run's workers have all counted themselves done.
        drop(old);
        pr_info_rl!(
            "run: {} pages={} max_order={} iterations={} threads={} verify={} scatter={}\n",
            Show(cfg.scenario),
            cfg.pages,
            cfg.max_order,
            cfg.iterations,
            cfg.threads,
            u8::from(cfg.verify),
            u8::from(cfg.scatter)
        );
        if sync {
            self.run_worker(0, cfg, claim, inject);
            return Ok(());
        }
        let mut claim = claim;
        for id in 0..cfg.threads as u32 {
            // The last worker gets this task's reference to the BAR.
            let c = if u64::from(id) + 1 == cfg.threads {
                claim.take()
            } else {
                claim.clone()
            };
            let ex = self.clone();
            let first = if id == 0 { inject } else { Inject::default() };
            let spawned = Task::spawn(c_str!("pte_attrs"), id, move || {
                ex.run_worker(id, cfg, c, first);
            });
            match spawned {
                // Within the capacity reserved above: cannot fail.
                Ok(task) => {
                    let _ = tasks.push(task, GFP_KERNEL);
                }
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
        // `stop` finds every task here once it may take them. (The list it
        // replaces is empty: the last run's was taken above.)
        self.runs.lock().tasks = tasks;
        // This task is done spawning.
        self.finish_workers(1, None, 0);
        Ok(())
    }

    /// `Err` if no run may start now.
    fn may_start(&self, runs: &Runs) -> Result<(), Refusal> {
        if runs.closed {
            return Err((ENODEV, "the module is unloading"));
        }
        if runs.state == State::Running {
            return Err((EBUSY, "a run is in progress"));
        }
        Ok(())
    }

    /// One worker's share of a run, then its accounting. The worker's
    /// reference to the BAR goes before it counts itself done: when the
    /// last worker has, the claim is released.
    fn run_worker(&self, id: u32, cfg: Config, claim: Option<Arc<ClaimedBar>>, inject: Inject) {
        match mem::zeroed::<RunStats>() {
            Ok(mut stats) => {
                let bar = claim.as_deref();
                let facts = worker::run(&self.ctl, &self.pool, &cfg, bar, id, inject, &mut stats);
                drop(claim);
                if let Some(f) = facts {
                    self.runs.lock().ioremap = f;
                }
                self.finish_workers(1, Some(&stats), 0);
            }
            Err(_) => {
                pr_err_rl!("worker {}: no memory for its counters\n", id);
                drop(claim);
                self.finish_workers(1, None, 1);
            }
        }
    }

    /// Counts `n` participants of the run as done: a worker (merging its
    /// `stats`), workers that never ran, or the task that spawned them;
    /// `errors` are added to the run's. The last one closes the run.
    fn finish_workers(&self, n: u64, stats: Option<&RunStats>, errors: u64) {
        let mut runs = self.runs.lock();
        if let Some(all) = runs.stats.as_mut() {
            if let Some(s) = stats {
                all.merge(s);
            }
            all.errors += errors;
        }
        runs.active -= n.min(runs.active);
        if runs.active != 0 {
            return;
        }
        runs.elapsed_ns = runs.started.map_or(0, Instant::elapsed_ns);
        // The census after the run, with the lock dropped: the run stays
        // `Running` (nothing else touches it) until it is recorded.
        drop(runs);
        let after = kmap::direct_map_census().ok();
        let events_after = mem::direct_map_events();
        let mut runs = self.runs.lock();
        runs.dmap[1] = after;
        runs.dmap_events[1] = events_after;
        runs.state = if runs.removed {
            State::DeviceRemoved
        } else if self.ctl.stop_requested() {
            State::Stopped
        } else {
            State::Done
        };
        let (ops, failures) = runs.stats.as_ref().map_or((0, 0), |s| {
            (s.ops.iter().map(|o| o.ops).sum::<u64>(), s.verify_failures)
        });
        pr_info_rl!(
            "run: {} {}: {} transitions, {} verification failures\n",
            Show(runs.cfg.scenario),
            runs.state.name(),
            ops,
            failures
        );
        self.ended.notify_all();
    }

    /// Stops the run, if any, and waits until its workers have restored
    /// and freed everything they changed.
    pub(crate) fn stop(&self) {
        let tasks = {
            let mut runs = self.runs.lock();
            // Under `runs`, where `start` clears it: a run that starts
            // after this is not stopped, one that started before is.
            self.ctl.set_stop(true);
            while runs.state == State::Running {
                self.ended.wait(&mut runs);
            }
            core::mem::take(&mut runs.tasks)
        };
        // Every worker has counted itself done: joining only waits for
        // their threads to return.
        drop(tasks);
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
        runs.started = None;
        runs.dmap = [None; 2];
        runs.dmap_events = [None; 2];
        runs.removed = false;
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
        let evicted = self.pool.evict(u64::MAX, Evictor::Owner);
        (evicted, self.pool.with_evictions(|e| e.verify_failures))
    }
}

/// Memory pressure evicts the GEM pool.
impl Shrink for Exerciser {
    fn count(&self) -> u64 {
        self.pool.pages()
    }

    fn scan(&self, want: u64) -> u64 {
        self.pool.evict(want, Evictor::Shrinker)
    }
}

/// The removal of the `ioremap` run's device stops the run (its workers
/// drop the BAR at their next step, and the removal waits for that).
impl OnRemove for Exerciser {
    fn removed(&self, dev: &[u8; 32]) {
        let mut runs = self.runs.lock();
        if runs.state == State::Running
            && runs.cfg.scenario == Scenario::Ioremap
            && runs.ioremap.dev == *dev
        {
            runs.removed = true;
            self.ctl.set_stop(true);
            pr_err_rl!(
                "run: ioremap: {} is being removed: the run ends (state=device_removed)\n",
                cstr_field(dev)
            );
        }
    }
}

/// Takes a use of the BAR `bar` names for `ex`'s run, or says why not
/// (with a rate-limited `pr_err`).
fn claim(ex: Arc<Exerciser>, bar: &Bar) -> Result<ClaimedBar, Refusal> {
    ClaimedBar::claim(&bar.dev, bar.index, ex).map_err(|why| {
        let name = match cstr_field(&bar.dev) {
            "" => "any display device bound to pte_attrs",
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
        why.errno()
    })
}

// SPDX-License-Identifier: GPL-2.0

//! What a run's workers and the files that steer them share: the stop
//! request and the `hold` knob.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::sys::time;

/// What a worker holds for inspection, as `results` shows it.
#[derive(Copy, Clone)]
pub(crate) struct Held {
    /// The address of the mapping, or the direct-map address of the first
    /// page of the set.
    pub(crate) addr: u64,
    /// The direct-map address of the set's last page (a mapping: its
    /// last page).
    pub(crate) last: u64,
    /// How many pages are held.
    pub(crate) pages: u64,
}

/// The flags a running worker looks at between its steps.
pub(crate) struct Control {
    /// Asks workers to stop at their next step.
    stop: AtomicBool,
    /// The `hold` knob: keep one WC BAR mapping, or one WC page set,
    /// alive for inspection.
    hold: AtomicBool,
    /// The address of the mapping or first page held (0: none). Written
    /// last when a hold starts (`Release`), first when it ends: a reader
    /// that sees it non-zero (`Acquire`) sees `held_last` and
    /// `held_pages` of that hold.
    held: AtomicU64,
    /// The last page held.
    held_last: AtomicU64,
    /// How many pages are held.
    held_pages: AtomicU64,
}

impl Control {
    /// No stop requested, nothing held.
    pub(crate) const fn new() -> Self {
        Control {
            stop: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            held: AtomicU64::new(0),
            held_last: AtomicU64::new(0),
            held_pages: AtomicU64::new(0),
        }
    }

    /// Whether workers should stop now. Workers ask between steps, so this
    /// also lets others run: the kernel may have no preemption, and a long
    /// run would otherwise stall RCU.
    pub(crate) fn stopping(&self) -> bool {
        time::resched();
        self.stop_requested()
    }

    /// Whether a stop was asked for (without yielding).
    pub(crate) fn stop_requested(&self) -> bool {
        // The flag, not kthread_should_stop(): workers are never asked to
        // stop through their thread, and a sync run is no kthread.
        self.stop.load(Ordering::Relaxed)
    }

    /// Asks the workers to stop (`true`) or lets a new run go (`false`).
    pub(crate) fn set_stop(&self, on: bool) {
        self.stop.store(on, Ordering::Relaxed);
    }

    /// Sets the `hold` knob.
    pub(crate) fn set_hold(&self, on: bool) {
        self.hold.store(on, Ordering::Relaxed);
    }

    /// The `hold` knob.
    pub(crate) fn hold(&self) -> bool {
        self.hold.load(Ordering::Relaxed)
    }

    /// What is held for inspection now, if anything.
    pub(crate) fn held(&self) -> Option<Held> {
        let addr = self.held.load(Ordering::Acquire);
        (addr != 0).then(|| Held {
            addr,
            last: self.held_last.load(Ordering::Relaxed),
            pages: self.held_pages.load(Ordering::Relaxed),
        })
    }

    /// With the `hold` knob set, publishes `what` (in `results`:
    /// `ioremap.held=`, or `<scenario>.held=` and its companions) and
    /// waits until `hold` is cleared or the run is stopped (a stop also
    /// comes from unload, and from the removal of an `ioremap` run's
    /// device). The caller keeps what it holds unchanged meanwhile.
    /// Returns whether it held.
    pub(crate) fn hold_for_inspection(&self, what: Held) -> bool {
        if !self.hold() || what.addr == 0 {
            return false;
        }
        self.held_last.store(what.last, Ordering::Relaxed);
        self.held_pages.store(what.pages, Ordering::Relaxed);
        self.held.store(what.addr, Ordering::Release);
        while self.hold() && !self.stopping() {
            time::msleep(10);
        }
        self.held.store(0, Ordering::Release);
        true
    }
}

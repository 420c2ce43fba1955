// SPDX-License-Identifier: GPL-2.0

//! What a run's workers and the files that steer them share: the stop
//! request and the `hold` knob.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::sys::time;

/// The flags a running worker looks at between its steps.
pub(crate) struct Control {
    /// Asks workers to stop at their next step.
    stop: AtomicBool,
    /// The `hold` knob: keep one WC BAR mapping alive for inspection.
    hold: AtomicBool,
    /// The address of the mapping held (0: none).
    held: AtomicU64,
}

impl Control {
    /// No stop requested, nothing held.
    pub(crate) const fn new() -> Self {
        Control {
            stop: AtomicBool::new(false),
            hold: AtomicBool::new(false),
            held: AtomicU64::new(0),
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

    /// The address of the mapping held for inspection (0: none).
    pub(crate) fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// With the `hold` knob set, publishes the live mapping at `addr` (in
    /// `results`: `ioremap.held=`) and waits until `hold` is cleared or the
    /// run is stopped.
    pub(crate) fn hold_mapping(&self, addr: usize) {
        if !self.hold() {
            return;
        }
        self.held.store(addr as u64, Ordering::Relaxed);
        while self.hold() && !self.stopping() {
            time::msleep(10);
        }
        self.held.store(0, Ordering::Relaxed);
    }
}

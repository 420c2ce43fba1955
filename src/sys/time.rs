// SPDX-License-Identifier: GPL-2.0

//! The monotonic clock and the scheduler's yield and sleep.

use kernel::bindings;

use crate::sys::ffi;

/// `ktime_get()` in nanoseconds: the monotonic clock.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get()` has no preconditions; it never goes below 0.
    let t = unsafe { bindings::ktime_get() };
    t.max(0) as u64
}

/// A point on the monotonic clock, to measure what follows.
#[derive(Copy, Clone)]
pub(crate) struct Instant(u64);

impl Instant {
    /// Now.
    pub(crate) fn now() -> Self {
        Instant(now_ns())
    }

    /// Nanoseconds since this instant.
    pub(crate) fn elapsed_ns(self) -> u64 {
        now_ns().saturating_sub(self.0)
    }
}

/// Lets other tasks run if one should: every long loop of the module
/// calls this once per block, per page-table page or per chunk, so that a
/// kernel without preemption sees no soft lockup or RCU stall.
///
/// Only for process context with no spinlock held: the exerciser's workers,
/// a `sync` run's writer, the `evict` knob, the shrinker, the benchmarks and
/// unload (all may sleep). A sleeping mutex may be held.
pub(crate) fn resched() {
    // SAFETY: `cond_resched()` only schedules if it should; every caller is
    // in process context with no spinlock held (see above), and a kernel
    // built with `might_sleep` debugging checks that.
    unsafe { ffi::pte_attrs_glue_cond_resched() };
}

/// Sleeps for at least `ms` milliseconds (process context only, as
/// [`resched`]).
pub(crate) fn msleep(ms: u32) {
    // SAFETY: as `resched`: process context, no spinlock held.
    unsafe { bindings::msleep(ms) };
}

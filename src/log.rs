// SPDX-License-Identifier: GPL-2.0

//! Logging helpers: rate-limited errors.
//!
//! Every line goes through the `kernel::pr_*` macros, which prefix it with
//! the module name (`pte_attrs: `). Lines that a user or a run can cause
//! again and again use [`pr_err_rl!`]: at most
//! [`crate::ratelimit::BURST`] per call site and window. None of them
//! prints a kernel address or a page-table entry: those are in the
//! root-only debugfs files (`results`, `lookup`), where the log points.

/// The monotonic clock in nanoseconds, for [`crate::ratelimit`].
pub(crate) fn now_ns() -> u64 {
    // SAFETY: `ktime_get()` has no preconditions.
    let t = unsafe { kernel::bindings::ktime_get() };
    t.max(0) as u64
}

/// `pr_err!`, at most [`crate::ratelimit::BURST`] times per
/// [`crate::ratelimit::WINDOW_NS`] from this call site; the next window
/// begins by saying how many lines were dropped.
macro_rules! pr_err_rl {
    ($($arg:tt)*) => {{
        static RL: $crate::ratelimit::RateLimit = $crate::ratelimit::RateLimit::new();
        let v = RL.check($crate::log::now_ns());
        if v.dropped > 0 {
            kernel::pr_err!("{} similar messages suppressed\n", v.dropped);
        }
        if v.print {
            kernel::pr_err!($($arg)*);
        }
    }};
}
pub(crate) use pr_err_rl;

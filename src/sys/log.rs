// SPDX-License-Identifier: GPL-2.0

//! Logging helpers: rate-limited errors and notices.
//!
//! Every line goes through the `kernel::pr_*` macros, which prefix it with
//! the module name (`pte_attrs: `). Lines that a user or a run can cause
//! again and again use [`pr_err_rl!`] (or [`pr_info_rl!`]): at most
//! [`crate::pure::ratelimit::BURST`] per call site and window. None of them
//! prints a kernel address or a page-table entry: those are in the
//! root-only debugfs files (`results`, `lookup`), where the log points.

/// `$pr!($($arg)*)` behind one [`crate::pure::ratelimit::RateLimit`] for the
/// call site: the body of [`pr_err_rl!`] and [`pr_info_rl!`].
macro_rules! pr_rl {
    ($pr:ident, $($arg:tt)*) => {{
        static RL: $crate::pure::ratelimit::RateLimit = $crate::pure::ratelimit::RateLimit::new();
        let v = RL.check($crate::sys::time::now_ns());
        if v.dropped > 0 {
            kernel::$pr!("{} similar messages suppressed\n", v.dropped);
        }
        if v.print {
            kernel::$pr!($($arg)*);
        }
    }};
}
pub(crate) use pr_rl;

/// `pr_err!`, at most [`crate::pure::ratelimit::BURST`] times per
/// [`crate::pure::ratelimit::WINDOW_NS`] from this call site; the next window
/// begins by saying how many lines were dropped.
macro_rules! pr_err_rl {
    ($($arg:tt)*) => {
        $crate::sys::log::pr_rl!(pr_err, $($arg)*)
    };
}
pub(crate) use pr_err_rl;

/// `pr_info!`, rate-limited as [`pr_err_rl!`] is: for lines each run (or
/// user request) prints, so that many short runs do not flood the log.
macro_rules! pr_info_rl {
    ($($arg:tt)*) => {
        $crate::sys::log::pr_rl!(pr_info, $($arg)*)
    };
}
pub(crate) use pr_info_rl;

/// A value shown with `{}` in the `pr_*` macros through its
/// `core::fmt::Display`.
///
/// 7.x's printing macros take `kernel::fmt::Display`, a trait of their own
/// that the pure layer's types (which know nothing of `kernel::`) do not
/// implement; 6.12's take `core::fmt::Display`. `Show(&x)` is printable on
/// both, so the layers above write one call.
pub(crate) struct Show<T>(pub(crate) T);

impl<T: core::fmt::Display> core::fmt::Display for Show<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(kernel_7)]
impl<T: core::fmt::Display> kernel::fmt::Display for Show<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Rate limiting of log lines, as the kernel's `___ratelimit()` does: at
//! most [`BURST`] lines per call site in a [`WINDOW_NS`] window, and one
//! line saying how many were dropped when the next window opens.
//!
//! Kernel-free (the caller passes the time), so the host tests cover it;
//! `pr_err_rl!` in `log.rs` puts one [`RateLimit`] behind each call site.

use core::sync::atomic::{AtomicU64, Ordering};

/// Lines per call site and window.
pub(crate) const BURST: u64 = 10;
/// The window, in nanoseconds (5 s, like `DEFAULT_RATELIMIT_INTERVAL`).
pub(crate) const WINDOW_NS: u64 = 5_000_000_000;

/// What [`RateLimit::check`] decided.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The line may be printed.
    pub(crate) print: bool,
    /// Lines dropped in the window that just closed (to be said once).
    pub(crate) dropped: u64,
}

/// The state of one call site.
pub(crate) struct RateLimit {
    /// Start of the current window plus one (0: no window yet).
    start: AtomicU64,
    /// Lines asked for in the current window.
    count: AtomicU64,
    /// Lines dropped in the current window.
    dropped: AtomicU64,
}

impl RateLimit {
    /// A call site that has printed nothing yet.
    pub(crate) const fn new() -> Self {
        RateLimit {
            start: AtomicU64::new(0),
            count: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether a line may be printed at `now_ns` (a monotonic clock).
    /// Lock-free: racing callers may let a line or two more through at a
    /// window's edge, never an unbounded number.
    pub(crate) fn check(&self, now_ns: u64) -> Verdict {
        let start = self.start.load(Ordering::Relaxed);
        let mut dropped = 0;
        if (start == 0 || now_ns.saturating_sub(start - 1) >= WINDOW_NS)
            && self
                .start
                .compare_exchange(start, now_ns + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.count.store(0, Ordering::Relaxed);
            dropped = self.dropped.swap(0, Ordering::Relaxed);
        }
        let print = self.count.fetch_add(1, Ordering::Relaxed) < BURST;
        if !print {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        Verdict { print, dropped }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_silence_then_a_new_window() {
        let rl = RateLimit::new();
        let t0 = 1_000;
        for i in 0..BURST {
            assert!(rl.check(t0 + i).print, "line {i} of the burst");
        }
        for _ in 0..7 {
            assert!(!rl.check(t0 + 100).print);
        }
        // Still the same window one nanosecond before it closes.
        assert!(!rl.check(t0 + WINDOW_NS - 1).print);
        let v = rl.check(t0 + WINDOW_NS);
        assert_eq!(
            v,
            Verdict {
                print: true,
                dropped: 8
            }
        );
        // The dropped count is said once.
        assert_eq!(rl.check(t0 + WINDOW_NS + 1).dropped, 0);
    }

    #[test]
    fn time_zero_opens_a_window() {
        let rl = RateLimit::new();
        assert_eq!(
            rl.check(0),
            Verdict {
                print: true,
                dropped: 0
            }
        );
        for _ in 1..BURST {
            assert!(rl.check(0).print);
        }
        assert!(!rl.check(1).print);
    }
}

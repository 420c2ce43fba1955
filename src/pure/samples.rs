// SPDX-License-Identifier: GPL-2.0

//! The arithmetic of `make bench`: medians and spreads of a few samples,
//! and ratios in fixed point (the kernel has no floating point).
//! Kernel-free, host-tested.

use core::fmt;

/// The most samples (rounds) one variant of a benchmark keeps.
pub(crate) const MAX_ROUNDS: usize = 32;

/// Samples of one variant, in nanoseconds.
#[derive(Clone, Copy)]
pub(crate) struct Samples {
    v: [u64; MAX_ROUNDS],
    n: usize,
}

impl Samples {
    /// No samples.
    pub(crate) const fn new() -> Self {
        Samples {
            v: [0; MAX_ROUNDS],
            n: 0,
        }
    }

    /// Adds a sample; beyond [`MAX_ROUNDS`] samples are dropped.
    pub(crate) fn push(&mut self, ns: u64) {
        if let Some(slot) = self.v.get_mut(self.n) {
            *slot = ns;
            self.n += 1;
        }
    }

    /// The samples in ascending order (in `[..n]`). An insertion sort:
    /// at most [`MAX_ROUNDS`] values, and no `core` sort, whose
    /// `panic_on_ord_violation` path objtool does not know as noreturn
    /// ("falls through to next function" with Debian's rustc 1.85).
    fn sorted(&self) -> [u64; MAX_ROUNDS] {
        let mut s = self.v;
        for i in 1..self.n {
            let mut j = i;
            while j > 0 && s[j - 1] > s[j] {
                s.swap(j - 1, j);
                j -= 1;
            }
        }
        s
    }

    /// The median (the lower middle one of an even count).
    pub(crate) fn median(&self) -> Option<u64> {
        (self.n > 0).then(|| self.sorted()[(self.n - 1) / 2])
    }

    /// The smallest and largest sample.
    pub(crate) fn range(&self) -> Option<(u64, u64)> {
        let s = self.sorted();
        (self.n > 0).then(|| (s[0], s[self.n - 1]))
    }
}

/// `num / den` in thousandths, rounded to nearest (saturating); `None` if
/// `den` is 0. 64-bit only: the kernel has no 128-bit division.
pub(crate) fn ratio_milli(num: u64, den: u64) -> Option<u64> {
    if den == 0 {
        return None;
    }
    Some(match num.checked_mul(1000) {
        Some(n) => n.saturating_add(den / 2) / den,
        None => (num / den).saturating_mul(1000),
    })
}

/// A thousandths value written as a decimal with three places ("1.023").
pub(crate) struct Milli(pub(crate) u64);

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// A time per item in picoseconds: `ns` for `items` items.
pub(crate) fn ps_per(ns: u64, items: u64) -> u64 {
    if items == 0 {
        return 0;
    }
    ns.saturating_mul(1000) / items
}

/// Items per second: `items` in `ns` nanoseconds.
pub(crate) fn per_second(items: u64, ns: u64) -> u64 {
    if ns == 0 {
        return 0;
    }
    match items.checked_mul(1_000_000_000) {
        Some(n) => n / ns,
        None => (items / ns).saturating_mul(1_000_000_000),
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::format;

    #[test]
    fn medians_and_ranges() {
        let mut s = Samples::new();
        assert_eq!(s.median(), None);
        assert_eq!(s.range(), None);
        for v in [5, 1, 9, 3, 7] {
            s.push(v);
        }
        assert_eq!(s.median(), Some(5));
        assert_eq!(s.range(), Some((1, 9)));
        s.push(10);
        // Even count: the lower middle.
        assert_eq!(s.median(), Some(5));
        for _ in 0..100 {
            s.push(1);
        }
        assert_eq!(s.n, MAX_ROUNDS);
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio_milli(1, 1), Some(1000));
        assert_eq!(ratio_milli(1023, 1000), Some(1023));
        assert_eq!(ratio_milli(2, 3), Some(667));
        assert_eq!(ratio_milli(0, 5), Some(0));
        assert_eq!(ratio_milli(5, 0), None);
        assert_eq!(ratio_milli(u64::MAX, u64::MAX), Some(1000));
        assert_eq!(ratio_milli(u64::MAX, 1), Some(u64::MAX));
        assert_eq!(format!("{}", Milli(1023)), "1.023");
        assert_eq!(format!("{}", Milli(50)), "0.050");
        assert_eq!(format!("{}", Milli(12_000)), "12.000");
    }

    #[test]
    fn rates() {
        assert_eq!(ps_per(1000, 4), 250_000);
        assert_eq!(ps_per(7, 0), 0);
        assert_eq!(per_second(4096, 1_000_000_000), 4096);
        assert_eq!(per_second(1, 1000), 1_000_000);
        assert_eq!(per_second(1, 0), 0);
    }
}

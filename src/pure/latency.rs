// SPDX-License-Identifier: GPL-2.0

//! Per-transition statistics of the CPA exerciser.
//!
//! This file is kernel-free: it uses only `core` (no heap, no floating
//! point, no unchecked code), so the kernel module and the host test crate
//! compile the very same source.
//!
//! # Latency histogram
//!
//! [`Histogram`] is a log-linear ("HDR-style") histogram of nanosecond
//! latencies with [`SUB`] = 32 sub-buckets per power of two:
//!
//! * values `0..64` each have their own bucket (they are recorded exactly);
//! * a value `v >= 64` with most significant bit `m` falls into one of the
//!   32 equal-width buckets that split `[2^m, 2^(m+1))`, each of width
//!   `2^(m-5)`.
//!
//! That gives 1920 buckets covering the whole `u64` range. Every bucket's
//! width `w` satisfies `32 * w <= lower bound`, so for any `v` in a bucket the
//! bucket's upper bound `u` satisfies `v <= u <= v + v / 32` (integer
//! division): a reported percentile is never below the exact one and at most
//! `1/32` (about 3.1%) above it. `min`, `max`, `count` and `mean` are kept
//! exactly beside the buckets.
//!
//! Bucket counters are `u32` (saturating) to keep the histogram at
//! [`HISTOGRAM_BYTES`] = 7712 bytes; a bucket would need more than four
//! billion samples to saturate, after which only percentiles lose accuracy.
//!
//! Recording is O(1), allocation-free and panic-free (all arithmetic is
//! saturating or provably in range), so it can run in any kernel thread.
//! Note that a [`Histogram`] is too large to be a comfortable stack object
//! in the kernel: keep it in a static or a heap-allocated state structure.
//!
//! # Other helpers
//!
//! [`OpStats`] bundles the counters of one transition kind and prints them as
//! `key=value` lines.

use core::fmt::Write;

/// log2 of [`SUB`].
const SUB_BITS: u32 = 5;

/// Number of sub-buckets each power of two is split into; the relative error
/// bound of a reported percentile is `1/SUB`.
pub(crate) const SUB: usize = 1 << SUB_BITS;

/// Number of buckets: `2 * SUB` exact ones for `0..2 * SUB`, then `SUB` per
/// power of two for the most significant bits `SUB_BITS + 1..=63`.
const NUM_BUCKETS: usize = (64 - SUB_BITS as usize) * SUB + SUB;

/// Size of a [`Histogram`] in bytes (checked at compile time).
// Read by the assertions below only: rustc 1.85 (Debian's kernel
// toolchain, KERNEL=debian-7.3) calls that dead code, later ones do not.
#[allow(dead_code)]
pub(crate) const HISTOGRAM_BYTES: usize = 7712;

const _: () = assert!(core::mem::size_of::<Histogram>() == HISTOGRAM_BYTES);
const _: () = assert!(HISTOGRAM_BYTES <= 8192);

/// Returns the bucket index of `v` (always `< NUM_BUCKETS`).
const fn bucket_of(v: u64) -> usize {
    if v < (2 * SUB) as u64 {
        v as usize
    } else {
        let msb = 63 - v.leading_zeros();
        let shift = msb - SUB_BITS;
        // `v >> shift` is in `SUB..2 * SUB`.
        shift as usize * SUB + (v >> shift) as usize
    }
}

/// Returns the largest value that falls into bucket `i` (`i < NUM_BUCKETS`).
const fn bucket_upper(i: usize) -> u64 {
    if i < 2 * SUB {
        i as u64
    } else {
        let shift = (i / SUB - 1) as u32;
        let lower = ((i % SUB + SUB) as u64) << shift;
        // For the last bucket this is exactly `u64::MAX`.
        lower + ((1u64 << shift) - 1)
    }
}

/// Log-linear latency histogram (HDR-style) with exact min, max and mean.
///
/// Values `0..2 * SUB` are recorded exactly; above that each power of two is
/// split into [`SUB`] = 32 sub-buckets, so a reported percentile is at most
/// `1/SUB` (about 3.1%) above the exact one and never below it. Covers the
/// full `u64` range with 1920 `u32` buckets; the whole structure is a fixed
/// array of [`HISTOGRAM_BYTES`] = 7712 bytes, no heap.
#[derive(Clone)]
pub(crate) struct Histogram {
    /// Per-bucket sample counts (saturating).
    buckets: [u32; NUM_BUCKETS],
    /// Number of recorded samples (saturating).
    count: u64,
    /// Sum of all recorded samples (saturating: 2^64 ns is 584 years).
    /// Not `u128`: the kernel has no 128-bit division (`__udivti3`).
    sum: u64,
    /// Smallest recorded sample; meaningless (0) when empty, so that an
    /// all-zero `Histogram` is the empty one (the kernel allocates them
    /// zeroed rather than build 7.7 KB values on its small stacks).
    min: u64,
    /// Largest recorded sample, `0` when empty.
    max: u64,
}

impl Histogram {
    /// Returns an empty histogram.
    #[cfg(test)]
    pub(crate) const fn new() -> Histogram {
        Histogram {
            buckets: [0; NUM_BUCKETS],
            count: 0,
            sum: 0,
            min: 0,
            max: 0,
        }
    }

    /// Records one sample of `ns` nanoseconds. O(1), never panics.
    pub(crate) fn record(&mut self, ns: u64) {
        if let Some(b) = self.buckets.get_mut(bucket_of(ns)) {
            *b = b.saturating_add(1);
        }
        self.min = if self.count == 0 {
            ns
        } else {
            self.min.min(ns)
        };
        self.max = self.max.max(ns);
        self.count = self.count.saturating_add(1);
        self.sum = self.sum.saturating_add(ns);
    }

    /// Adds all samples of `other` to `self`, as if they had been recorded
    /// here.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        self.min = if self.count == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a = a.saturating_add(*b);
        }
        self.count = self.count.saturating_add(other.count);
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// Makes `self` a copy of `other`, in place (no 7.7 KB temporary: the
    /// kernel copies these under a lock, without allocating).
    pub(crate) fn copy_from(&mut self, other: &Histogram) {
        // Element by element: `copy_from_slice` brings a length-mismatch
        // panic path that objtool does not know as noreturn.
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a = *b;
        }
        self.count = other.count;
        self.sum = other.sum;
        self.min = other.min;
        self.max = other.max;
    }

    /// Forgets all samples.
    pub(crate) fn reset(&mut self) {
        self.buckets.fill(0);
        self.count = 0;
        self.sum = 0;
        self.min = 0;
        self.max = 0;
    }

    /// Returns the number of recorded samples.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// Returns the exact smallest sample, or `None` when empty.
    pub(crate) fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// Returns the exact largest sample, or `None` when empty.
    pub(crate) fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    /// Returns the exact mean rounded down, or `None` when empty.
    pub(crate) fn mean(&self) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        Some(self.sum / self.count)
    }

    /// Returns the `per_mille`/1000 quantile, or `None` when empty.
    ///
    /// `per_mille` is in `0..=1000` (500 = p50, 990 = p99); larger values are
    /// treated as 1000. With `n` samples, the rank is
    /// `r = max(1, ceil(n * per_mille / 1000))` and the exact answer is the
    /// `r`-th smallest sample `v` (the smallest sample such that at least
    /// `per_mille/1000` of the samples are `<= v`). What is returned is the
    /// upper bound of `v`'s bucket clamped to `[min, max]`, hence
    /// `v <= result <= v + v / SUB`; it is exact for `v < 2 * SUB`, for
    /// `per_mille == 1000` (the max) and for `per_mille == 0` (the min).
    pub(crate) fn percentile(&self, per_mille: u32) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        if per_mille == 0 {
            return Some(self.min);
        }
        // Rank against the bucket total, which differs from `count` only if
        // a counter saturated; this keeps the walk below consistent.
        let total: u64 = self.buckets.iter().map(|&b| u64::from(b)).sum();
        let pm = u64::from(per_mille.min(1000));
        let rank = total.saturating_mul(pm).div_ceil(1000).max(1);
        let mut seen: u64 = 0;
        for (i, &b) in self.buckets.iter().enumerate() {
            seen += u64::from(b);
            if seen >= rank {
                return Some(bucket_upper(i).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

/// Counters of one transition kind (e.g. "set_pages.uc").
#[derive(Clone)]
pub(crate) struct OpStats {
    /// Number of successful calls.
    pub(crate) ops: u64,
    /// Total pages covered by the successful calls.
    pub(crate) pages: u64,
    /// Number of calls that returned an error (not counted in `ops`).
    pub(crate) errors: u64,
    /// Number of pages whose attributes did not verify after a call.
    pub(crate) verify_failures: u64,
    /// Latency of the successful calls, in nanoseconds.
    pub(crate) latency: Histogram,
}

impl OpStats {
    /// Returns all-zero counters (the kernel allocates them zeroed
    /// instead: 7.7 KB values do not belong on its stacks).
    #[cfg(test)]
    pub(crate) const fn new() -> OpStats {
        OpStats {
            ops: 0,
            pages: 0,
            errors: 0,
            verify_failures: 0,
            latency: Histogram::new(),
        }
    }

    /// One successful call covering `pages` pages that took `ns`.
    pub(crate) fn record_ok(&mut self, pages: u64, ns: u64) {
        self.ops = self.ops.saturating_add(1);
        self.pages = self.pages.saturating_add(pages);
        self.latency.record(ns);
    }

    /// One call that returned an error (its latency is not recorded).
    pub(crate) fn record_error(&mut self) {
        self.errors = self.errors.saturating_add(1);
    }

    /// `n` pages failed verification.
    pub(crate) fn record_verify_failures(&mut self, n: u64) {
        self.verify_failures = self.verify_failures.saturating_add(n);
    }

    /// Adds all counters and samples of `other` to `self`.
    pub(crate) fn merge(&mut self, other: &OpStats) {
        self.ops = self.ops.saturating_add(other.ops);
        self.pages = self.pages.saturating_add(other.pages);
        self.errors = self.errors.saturating_add(other.errors);
        self.verify_failures = self.verify_failures.saturating_add(other.verify_failures);
        self.latency.merge(&other.latency);
    }

    /// Makes `self` a copy of `other`, in place (see
    /// [`Histogram::copy_from`]).
    pub(crate) fn copy_from(&mut self, other: &OpStats) {
        self.ops = other.ops;
        self.pages = other.pages;
        self.errors = other.errors;
        self.verify_failures = other.verify_failures;
        self.latency.copy_from(&other.latency);
    }

    /// Zeroes all counters and samples.
    pub(crate) fn reset(&mut self) {
        self.ops = 0;
        self.pages = 0;
        self.errors = 0;
        self.verify_failures = 0;
        self.latency.reset();
    }

    /// Writes `key=value` lines, each key prefixed with `prefix` and a '.'
    /// (no '.' when `prefix` is empty), each line ending in `'\n'`.
    ///
    /// With prefix "set_pages.uc" the keys are, in this order:
    /// `set_pages.uc.ops`, `.pages`, `.errors`, `.verify_failures`, and,
    /// only when at least one latency sample exists, `.lat_min_ns`,
    /// `.lat_p50_ns`, `.lat_p99_ns`, `.lat_max_ns`, `.lat_mean_ns` (see
    /// [`Histogram::percentile`] for the precision of p50/p99).
    pub(crate) fn write_kv(&self, w: &mut impl Write, prefix: &str) -> core::fmt::Result {
        let sep = if prefix.is_empty() { "" } else { "." };
        let mut line = |key: &str, value: u64| writeln!(w, "{prefix}{sep}{key}={value}");
        line("ops", self.ops)?;
        line("pages", self.pages)?;
        line("errors", self.errors)?;
        line("verify_failures", self.verify_failures)?;
        let h = &self.latency;
        if let (Some(min), Some(p50), Some(p99), Some(max), Some(mean)) = (
            h.min(),
            h.percentile(500),
            h.percentile(990),
            h.max(),
            h.mean(),
        ) {
            line("lat_min_ns", min)?;
            line("lat_p50_ns", p50)?;
            line("lat_p99_ns", p99)?;
            line("lat_max_ns", max)?;
            line("lat_mean_ns", mean)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    const CPA_STATS: &str = "\
1G pages checked:                 0
1G pages sameprot:                0
1G pages preserved:               0
2M pages checked:                 24
2M pages sameprot:                3
2M pages preserved:               0
4K pages set-checked:             1024
";

    /// Minimal xorshift64 generator with a fixed seed.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    /// Exact reference percentile with the documented rank rule.
    fn exact(sorted: &[u64], per_mille: u32) -> u64 {
        let n = sorted.len() as u128;
        let rank = (n * u128::from(per_mille)).div_ceil(1000).max(1);
        sorted[(rank - 1) as usize]
    }

    fn check_against_reference(values: &[u64]) {
        let mut h = Histogram::new();
        for &v in values {
            h.record(v);
        }
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        for pm in [0, 1, 10, 250, 500, 750, 900, 990, 999, 1000] {
            let e = exact(&sorted, pm);
            let a = h.percentile(pm).unwrap();
            assert!(
                a >= e && a - e <= e / SUB as u64,
                "pm={pm} exact={e} approx={a}"
            );
        }
        assert_eq!(h.percentile(0), Some(sorted[0]));
        assert_eq!(h.percentile(1000), Some(*sorted.last().unwrap()));
        assert_eq!(h.min(), Some(sorted[0]));
        assert_eq!(h.max(), Some(*sorted.last().unwrap()));
        let sum: u128 = values.iter().map(|&v| u128::from(v)).sum();
        let n = values.len() as u64;
        // The sum saturates at u64::MAX (no 128-bit division in the kernel).
        let want = u64::try_from(sum).map_or(u64::MAX / n, |s| s / n);
        assert_eq!(h.mean(), Some(want));
        assert_eq!(h.count(), values.len() as u64);
    }

    fn kv(h: &OpStats, prefix: &str) -> String {
        let mut s = String::new();
        h.write_kv(&mut s, prefix).unwrap();
        s
    }

    #[test]
    fn size_matches_doc() {
        assert_eq!(NUM_BUCKETS, 1920);
        assert_eq!(core::mem::size_of::<Histogram>(), HISTOGRAM_BYTES);
    }

    #[test]
    fn bucket_layout() {
        assert_eq!(bucket_of(u64::MAX), NUM_BUCKETS - 1);
        assert_eq!(bucket_upper(NUM_BUCKETS - 1), u64::MAX);
        for i in 0..NUM_BUCKETS {
            let up = bucket_upper(i);
            assert_eq!(bucket_of(up), i);
            if i + 1 < NUM_BUCKETS {
                assert_eq!(bucket_of(up + 1), i + 1);
            }
            // Width bound: the bucket's lower bound is at least SUB * (width - 1).
            let lower = if i == 0 { 0 } else { bucket_upper(i - 1) + 1 };
            assert!(up - lower <= lower / SUB as u64);
        }
    }

    #[test]
    fn empty() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.min(), None);
        assert_eq!(h.max(), None);
        assert_eq!(h.mean(), None);
        for pm in [0, 500, 990, 1000, 5000] {
            assert_eq!(h.percentile(pm), None);
        }
    }

    #[test]
    fn single_value() {
        for v in [0, 1, 63, 64, 1000, 123_456_789, u64::MAX] {
            let mut h = Histogram::new();
            h.record(v);
            assert_eq!(h.count(), 1);
            assert_eq!(h.min(), Some(v));
            assert_eq!(h.max(), Some(v));
            assert_eq!(h.mean(), Some(v));
            for pm in [0, 1, 500, 990, 1000, u32::MAX] {
                assert_eq!(h.percentile(pm), Some(v));
            }
        }
    }

    #[test]
    fn small_values_exact() {
        let mut h = Histogram::new();
        let n = 2 * SUB as u64;
        for v in 0..n {
            h.record(v);
        }
        let sorted: Vec<u64> = (0..n).collect();
        for pm in 0..=1000 {
            assert_eq!(h.percentile(pm), Some(exact(&sorted, pm)), "pm={pm}");
        }
        assert_eq!(h.mean(), Some((n - 1) / 2));
    }

    #[test]
    fn error_bound_random() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        // Latency-like values spanning ns to seconds.
        let values: Vec<u64> = (0..4000)
            .map(|_| {
                let r = rng.next();
                (r >> 8) >> (r % 40 + 24)
            })
            .collect();
        check_against_reference(&values);
        // Full-range values.
        let values: Vec<u64> = (0..3000).map(|_| rng.next()).collect();
        check_against_reference(&values);
        // Clustered values (many duplicates in few buckets).
        let values: Vec<u64> = (0..3000).map(|_| 10_000 + rng.next() % 700).collect();
        check_against_reference(&values);
    }

    #[test]
    fn extremes_do_not_panic() {
        let mut h = Histogram::new();
        h.record(u64::MAX);
        h.record(u64::MAX);
        h.record(0);
        assert_eq!(h.count(), 3);
        assert_eq!(h.max(), Some(u64::MAX));
        assert_eq!(h.min(), Some(0));
        // The sum saturates: the mean is then a lower bound.
        assert_eq!(h.mean(), Some(u64::MAX / 3));
        assert_eq!(h.percentile(1000), Some(u64::MAX));
        assert_eq!(h.percentile(500), Some(u64::MAX));
        assert_eq!(h.percentile(0), Some(0));
        let copy = h.clone();
        h.merge(&copy);
        assert_eq!(h.count(), 6);
    }

    #[test]
    fn merge_equals_recording_both() {
        let mut rng = XorShift(12345);
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let mut both = Histogram::new();
        for i in 0..2000 {
            let v = rng.next() >> (rng.next() % 64);
            if i % 3 == 0 { &mut a } else { &mut b }.record(v);
            both.record(v);
        }
        a.merge(&b);
        assert_eq!(a.buckets, both.buckets);
        assert_eq!(a.count(), both.count());
        assert_eq!(a.min(), both.min());
        assert_eq!(a.max(), both.max());
        assert_eq!(a.mean(), both.mean());
        for pm in [0, 500, 990, 1000] {
            assert_eq!(a.percentile(pm), both.percentile(pm));
        }
        // Merging an empty histogram changes nothing.
        a.merge(&Histogram::new());
        assert_eq!(a.min(), both.min());
        assert_eq!(a.max(), both.max());
        assert_eq!(a.count(), both.count());
    }

    #[test]
    fn copy_from_copies_everything() {
        let mut a = OpStats::new();
        a.record_ok(3, 17);
        a.record_ok(5, 90_000);
        a.record_error();
        a.record_verify_failures(2);
        let mut b = OpStats::new();
        b.record_ok(1, 1);
        b.copy_from(&a);
        assert_eq!(kv(&a, "x"), kv(&b, "x"));
        assert_eq!(b.latency.count(), 2);
    }

    #[test]
    fn reset_clears() {
        let mut h = Histogram::new();
        h.record(5);
        h.record(5000);
        h.reset();
        assert_eq!(h.count(), 0);
        assert_eq!(h.min(), None);
        assert_eq!(h.percentile(500), None);
        h.record(7);
        assert_eq!(h.min(), Some(7));
        assert_eq!(h.max(), Some(7));
        assert_eq!(h.percentile(990), Some(7));

        let mut s = OpStats::new();
        s.record_ok(4, 100);
        s.record_error();
        s.record_verify_failures(2);
        s.reset();
        assert_eq!(
            kv(&s, "x"),
            "x.ops=0\nx.pages=0\nx.errors=0\nx.verify_failures=0\n"
        );
    }

    #[test]
    fn opstats_write_kv() {
        let mut s = OpStats::new();
        assert_eq!(
            kv(&s, "set_pages.uc"),
            "set_pages.uc.ops=0\nset_pages.uc.pages=0\nset_pages.uc.errors=0\n\
             set_pages.uc.verify_failures=0\n"
        );
        s.record_ok(1, 10);
        s.record_ok(16, 20);
        s.record_ok(512, 1000);
        s.record_error();
        s.record_verify_failures(3);
        // 1000 is in bucket [992, 1007], clamped to the max; p99 is the 3rd sample.
        assert_eq!(
            kv(&s, "set_pages.uc"),
            "set_pages.uc.ops=3\n\
             set_pages.uc.pages=529\n\
             set_pages.uc.errors=1\n\
             set_pages.uc.verify_failures=3\n\
             set_pages.uc.lat_min_ns=10\n\
             set_pages.uc.lat_p50_ns=20\n\
             set_pages.uc.lat_p99_ns=1000\n\
             set_pages.uc.lat_max_ns=1000\n\
             set_pages.uc.lat_mean_ns=343\n"
        );
        assert!(kv(&s, "").starts_with("ops=3\npages=529\n"));

        let mut t = OpStats::new();
        t.record_ok(2, 30);
        t.record_error();
        s.merge(&t);
        assert_eq!(s.ops, 4);
        assert_eq!(s.pages, 531);
        assert_eq!(s.errors, 2);
        assert_eq!(s.verify_failures, 3);
        assert_eq!(s.latency.count(), 4);

        s.pages = u64::MAX;
        s.record_ok(10, 1);
        assert_eq!(s.pages, u64::MAX);
    }
}

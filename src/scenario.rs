// SPDX-License-Identifier: GPL-2.0

//! What the CPA exerciser runs: scenarios, their transitions, the knobs'
//! ranges and the GEM pool's planning. Kernel-free, host-tested.

use core::fmt;

/// A scenario: one call site of the 2012 cover letter.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// AGP cursor / GTT scratch: `set_pages_uc` then `set_pages_wb`.
    SetPages,
    /// `set_pages_array_wc`, `_uc`, `_wb` on batches, plus the refusal of
    /// a second WC request on pages that are not WB.
    PagesArray,
    /// `set_memory_wc`, `_uc`, `_wb` on the direct map of owned pages.
    SetMemory,
    /// `ioremap_wc`, `_uc`, `_wt`, `_cache` of a PCI memory BAR.
    Ioremap,
    /// A TTM-style pool: bind WC/UC, release into the pool, evict.
    GemEvict,
    /// The seed's regression: WC, `set_pages_array_wb`, check WB, free.
    WcWbFree,
}

impl Scenario {
    /// Every scenario, in the order of the cover letter's list.
    pub(crate) const ALL: [Scenario; 6] = [
        Scenario::SetPages,
        Scenario::PagesArray,
        Scenario::SetMemory,
        Scenario::Ioremap,
        Scenario::GemEvict,
        Scenario::WcWbFree,
    ];

    /// The knob and test name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::SetPages => "set_pages",
            Scenario::PagesArray => "pages_array",
            Scenario::SetMemory => "set_memory",
            Scenario::Ioremap => "ioremap",
            Scenario::GemEvict => "gem_evict",
            Scenario::WcWbFree => "wc_wb_free",
        }
    }

    /// The scenario called `name`.
    pub(crate) fn from_name(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The transitions this scenario times, in report order.
    pub(crate) fn ops(self) -> &'static [Op] {
        match self {
            Scenario::SetPages => &[Op::SetPagesUc, Op::SetPagesWb],
            Scenario::PagesArray => &[Op::ArrayWc, Op::ArrayWcAgain, Op::ArrayUc, Op::ArrayWb],
            Scenario::SetMemory => &[Op::MemoryWc, Op::MemoryUc, Op::MemoryWb],
            Scenario::Ioremap => &[
                Op::IoremapWc,
                Op::IoremapUc,
                Op::IoremapWt,
                Op::IoremapCache,
                Op::IoremapConflict,
            ],
            Scenario::GemEvict => &[Op::GemBindWc, Op::GemBindUc],
            Scenario::WcWbFree => &[Op::ArrayWc, Op::ArrayWb],
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One kind of timed transition; its name is the prefix of its results.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `set_pages_uc()`.
    SetPagesUc,
    /// `set_pages_wb()`.
    SetPagesWb,
    /// `set_pages_array_wc()`.
    ArrayWc,
    /// A second `set_pages_array_wc()` on pages that are WC: must fail.
    ArrayWcAgain,
    /// `set_pages_array_uc()`.
    ArrayUc,
    /// `set_pages_array_wb()`.
    ArrayWb,
    /// `set_memory_wc()`.
    MemoryWc,
    /// `set_memory_uc()`.
    MemoryUc,
    /// `set_memory_wb()`.
    MemoryWb,
    /// `ioremap_wc()` and `iounmap()`.
    IoremapWc,
    /// `ioremap_uc()` and `iounmap()`.
    IoremapUc,
    /// `ioremap_wt()` and `iounmap()`.
    IoremapWt,
    /// `ioremap_cache()` and `iounmap()`.
    IoremapCache,
    /// `ioremap_uc()` while a WC mapping of the range exists.
    IoremapConflict,
    /// A pool object bound write-combined (one array call per run).
    GemBindWc,
    /// A pool object bound uncached.
    GemBindUc,
}

impl Op {
    /// The results key prefix, `<scenario>.<transition>`.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Op::SetPagesUc => "set_pages.uc",
            Op::SetPagesWb => "set_pages.wb",
            Op::ArrayWc => "array.wc",
            Op::ArrayWcAgain => "array.wc_again",
            Op::ArrayUc => "array.uc",
            Op::ArrayWb => "array.wb",
            Op::MemoryWc => "set_memory.wc",
            Op::MemoryUc => "set_memory.uc",
            Op::MemoryWb => "set_memory.wb",
            Op::IoremapWc => "ioremap.wc",
            Op::IoremapUc => "ioremap.uc",
            Op::IoremapWt => "ioremap.wt",
            Op::IoremapCache => "ioremap.cache",
            Op::IoremapConflict => "ioremap.conflict",
            Op::GemBindWc => "gem.bind_wc",
            Op::GemBindUc => "gem.bind_uc",
        }
    }
}

/// The most pages one thread may ask for (4 GiB): larger is `-EINVAL`;
/// within it, more than memory allows is `-ENOMEM`.
pub(crate) const MAX_PAGES: u64 = 1 << 20;
/// The highest page order of a pool block (TTM's pools stop at 10).
pub(crate) const MAX_ORDER: u64 = 10;
/// The most iterations of a run.
pub(crate) const MAX_ITERATIONS: u64 = 1_000_000;
/// The most worker threads of a run.
pub(crate) const MAX_THREADS: u64 = 16;

/// The knobs of a run.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Config {
    /// What to run.
    pub(crate) scenario: Scenario,
    /// Pages per batch (per object size bound for `gem_evict`), per thread.
    pub(crate) pages: u64,
    /// Largest block order of `gem_evict`.
    pub(crate) max_order: u64,
    /// Rounds per thread.
    pub(crate) iterations: u64,
    /// Worker threads.
    pub(crate) threads: u64,
    /// Check every page of every transition through the accessor.
    pub(crate) verify: bool,
}

impl Config {
    /// The defaults: a small, quick `set_pages` run.
    pub(crate) const DEFAULT: Config = Config {
        scenario: Scenario::SetPages,
        pages: 16,
        max_order: 4,
        iterations: 8,
        threads: 1,
        verify: true,
    };

    /// The most pages the run holds at once, over all threads; the
    /// exerciser refuses (`-ENOMEM`) a run whose peak exceeds what memory
    /// allows, before it changes anything.
    pub(crate) fn peak_pages(&self) -> u64 {
        let per_thread = match self.scenario {
            // The BAR is mapped, not allocated.
            Scenario::Ioremap => 0,
            // An object is at most `pages`; the pool keeps at most
            // POOL_OBJECTS objects' worth per thread.
            Scenario::GemEvict => self.pages.saturating_mul(POOL_OBJECTS + 1),
            _ => self.pages,
        };
        per_thread.saturating_mul(self.threads)
    }
}

/// How many objects' worth of pages a `gem_evict` thread lets the pool
/// hold before it evicts the oldest entries itself.
pub(crate) const POOL_OBJECTS: u64 = 4;

/// The block orders that make up an object of `pages` pages, largest
/// first, none above `max_order`: how TTM's pool allocates (`__fls` of
/// what is left, capped).
pub(crate) fn object_orders(pages: u64, max_order: u64) -> impl Iterator<Item = u32> {
    let max_order = max_order.min(MAX_ORDER) as u32;
    let mut left = pages;
    core::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let order = (63 - left.leading_zeros()).min(max_order);
        left -= 1 << order;
        Some(order)
    })
}

/// A small xorshift generator: reproducible object sizes per thread.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator seeded with `seed` (0 is replaced: xorshift needs a bit).
    pub(crate) fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `1..=max` (`max` at least 1).
    pub(crate) fn in_1_to(&mut self, max: u64) -> u64 {
        1 + self.next() % max.max(1)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    #[test]
    fn names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(Scenario::from_name(s.name()), Some(s));
            assert!(!s.ops().is_empty());
            for op in s.ops() {
                assert!(op.key().contains('.'));
            }
        }
        assert_eq!(Scenario::from_name("nope"), None);
        assert_eq!(Scenario::from_name(""), None);
    }

    #[test]
    fn orders_cover_the_object_largest_first() {
        for pages in 1..=3000u64 {
            for max_order in 0..=MAX_ORDER {
                let orders: Vec<u32> = object_orders(pages, max_order).collect();
                let used: u64 = orders.iter().map(|&o| 1u64 << o).sum();
                assert_eq!(used, pages, "{pages} pages, max order {max_order}");
                assert!(orders.iter().all(|&o| u64::from(o) <= max_order));
                assert!(orders.windows(2).all(|w| w[0] >= w[1]));
            }
        }
        assert_eq!(object_orders(0, 4).count(), 0);
        // 1500 pages with orders up to 10: 1024 + 256 + 128 + 64 + 16 + 8 + 4.
        let mut it = object_orders(1500, 10);
        for want in [10, 8, 7, 6, 4, 3, 2] {
            assert_eq!(it.next(), Some(want));
        }
        assert_eq!(it.next(), None);
    }

    #[test]
    fn peak_pages() {
        let mut c = Config::DEFAULT;
        assert_eq!(c.peak_pages(), 16);
        c.threads = 4;
        assert_eq!(c.peak_pages(), 64);
        c.scenario = Scenario::GemEvict;
        assert_eq!(c.peak_pages(), 16 * (POOL_OBJECTS + 1) * 4);
        c.scenario = Scenario::Ioremap;
        assert_eq!(c.peak_pages(), 0);
        c.scenario = Scenario::SetPages;
        c.pages = u64::MAX;
        assert_eq!(c.peak_pages(), u64::MAX);
    }

    #[test]
    fn xorshift_is_reproducible_and_bounded() {
        let (mut a, mut b) = (XorShift::new(7), XorShift::new(7));
        for _ in 0..1000 {
            let v = a.in_1_to(5);
            assert_eq!(v, b.in_1_to(5));
            assert!((1..=5).contains(&v));
        }
        assert_ne!(XorShift::new(0).next(), 0);
        assert_eq!(XorShift::new(3).in_1_to(0), 1);
    }
}

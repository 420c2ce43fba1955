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
    /// Take the single pages of `pages_array` and `wc_wb_free` one from
    /// each of as many 2 MiB blocks ([`SCATTER_ORDER`]).
    pub(crate) scatter: bool,
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
        scatter: false,
    };

    /// Whether the scenario takes single pages, which `scatter` spreads.
    fn scatter_applies(&self) -> bool {
        matches!(self.scenario, Scenario::PagesArray | Scenario::WcWbFree)
    }

    /// Why a `scatter` run cannot start with `avail` pages available:
    /// the scenario takes no single pages, or its pages (every thread's)
    /// would pin more than one in four of the free 2 MiB blocks there can
    /// be (a block one page is taken from cannot be allocated whole again
    /// while the run lasts). `None` if it can, or `scatter` is off.
    pub(crate) fn scatter_refusal(&self, avail: u64) -> Option<ScatterRefusal> {
        if !self.scatter {
            None
        } else if !self.scatter_applies() {
            Some(ScatterRefusal::NotSinglePages)
        } else if self.pages.saturating_mul(self.threads) > avail >> (SCATTER_ORDER + 2) {
            Some(ScatterRefusal::TooManyBlocks)
        } else {
            None
        }
    }

    /// The most memory the run holds at once, in pages: the pages it
    /// changes, and what the module allocates to keep track of them (page
    /// arrays, block vectors, the pool's lists, counters, worker threads).
    /// The exerciser refuses (`-ENOMEM`) a run whose total exceeds what
    /// memory allows, before it changes anything. Saturating: no input
    /// overflows.
    pub(crate) fn peak(&self) -> Peak {
        let pages = self.pages;
        let threads = self.threads;
        let (data, per_thread, shared) = match self.scenario {
            // The BAR is mapped, not allocated.
            Scenario::Ioremap => (0, 0, 0),
            // One contiguous object: blocks of order MAX_ORDER at most.
            Scenario::SetPages | Scenario::SetMemory => {
                let blocks = object_blocks(pages, MAX_ORDER);
                (pages, page_set_pages(pages, blocks), 0)
            }
            // Single pages; scattered, each comes with its whole 2 MiB
            // block, which is given back at once but for the one page.
            Scenario::PagesArray | Scenario::WcWbFree => {
                let transient = if self.scatter { 1 << SCATTER_ORDER } else { 0 };
                (
                    pages.saturating_add(transient),
                    page_set_pages(pages, pages),
                    0,
                )
            }
            // An object of at most `pages` in flight (new blocks in a page
            // set, reused ones in a vector of entries), and the pool: a
            // thread lets it hold POOL_OBJECTS objects' worth before it
            // evicts, one more object is on its way in.
            Scenario::GemEvict => {
                let blocks = object_blocks(pages, self.max_order);
                let in_flight = page_set_pages(pages, blocks)
                    .saturating_add(vec_pages(blocks.saturating_mul(ENTRY_BYTES)));
                let pool_pages = pages
                    .saturating_mul(POOL_OBJECTS + 1)
                    .saturating_mul(threads);
                (
                    pages.saturating_mul(POOL_OBJECTS + 1),
                    in_flight,
                    pool_list_pages(pool_pages),
                )
            }
        };
        // Each worker: its counters and its thread; and the run's merged
        // counters.
        let worker = vec_pages(RUN_STATS_BYTES).saturating_add(THREAD_PAGES);
        let bookkeeping = per_thread
            .saturating_add(worker)
            .saturating_mul(threads)
            .saturating_add(shared)
            .saturating_add(vec_pages(RUN_STATS_BYTES));
        Peak {
            data: data.saturating_mul(threads),
            bookkeeping,
        }
    }
}

/// What a run holds at most, in pages.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Peak {
    /// The pages the run allocates and changes (pool included).
    pub(crate) data: u64,
    /// The module's own allocations that track them.
    pub(crate) bookkeeping: u64,
}

impl Peak {
    /// Both.
    pub(crate) fn total(&self) -> u64 {
        self.data.saturating_add(self.bookkeeping)
    }
}

/// The page size.
pub(crate) const PAGE_BYTES: u64 = 4096;
/// A `struct page *` of a page array.
pub(crate) const PTR_BYTES: u64 = 8;
/// At most the size of a `cpa::Block` (checked where it is defined).
pub(crate) const BLOCK_BYTES: u64 = 16;
/// At most the size of a `pool::Entry` (checked where it is defined).
pub(crate) const ENTRY_BYTES: u64 = 24;
/// At most the size of a slot of the pool's lists (checked there).
pub(crate) const POOL_SLOT_BYTES: u64 = 32;
/// The pool's lists: one per caching (WC, UC-) and order.
pub(crate) const POOL_LISTS: u64 = 2 * (MAX_ORDER + 1);
/// At most the size of a run's counters (checked in `report.rs`).
pub(crate) const RUN_STATS_BYTES: u64 = 40 * 1024;
/// A worker thread: its stack (16 KiB) and task, rounded up.
pub(crate) const THREAD_PAGES: u64 = 8;

/// The blocks of an object of `pages` pages built as [`object_orders`]
/// does: `pages >> m` blocks of the largest order `m`, and one per bit of
/// the rest.
pub(crate) fn object_blocks(pages: u64, max_order: u64) -> u64 {
    let m = max_order.min(MAX_ORDER);
    (pages >> m) + u64::from((pages & ((1 << m) - 1)).count_ones())
}

/// The pages a kvmalloc'd allocation of `bytes` may take: whole pages,
/// plus, when it falls back to vmalloc, the area's page array and page
/// tables (16 bytes a page). Saturating.
pub(crate) fn vec_pages(bytes: u64) -> u64 {
    let p = bytes.div_ceil(PAGE_BYTES);
    p.saturating_add(p.saturating_mul(16).div_ceil(PAGE_BYTES))
}

/// A page set of `pages` pages in `blocks` blocks: its page array and its
/// block vector, each allocated once at its exact size.
pub(crate) fn page_set_pages(pages: u64, blocks: u64) -> u64 {
    vec_pages(pages.saturating_mul(PTR_BYTES))
        .saturating_add(vec_pages(blocks.saturating_mul(BLOCK_BYTES)))
}

/// The pool's lists holding up to `pool_pages` pages (at most that many
/// entries): a list grows by doubling, so its capacity is at most twice
/// its length, and while it grows the old and the new buffer exist: three
/// slots an entry; each list may round up to a page (and its vmalloc
/// overhead), and keeps a minimum capacity.
pub(crate) fn pool_list_pages(pool_pages: u64) -> u64 {
    vec_pages(pool_pages.saturating_mul(3 * POOL_SLOT_BYTES))
        .saturating_add(POOL_LISTS * (2 + vec_pages(POOL_RING_MIN * POOL_SLOT_BYTES)))
}

/// The smallest capacity of a pool list that has one.
pub(crate) const POOL_RING_MIN: u64 = 8;

/// The index arithmetic of a ring buffer of `cap` slots holding `len`
/// entries from slot `head` on, oldest first: a pool list (`pool.rs`
/// keeps the slots). Every operation is O(1), with no division.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct RingIdx {
    head: usize,
    len: usize,
    cap: usize,
}

impl RingIdx {
    /// No slots.
    pub(crate) const fn new() -> Self {
        RingIdx {
            head: 0,
            len: 0,
            cap: 0,
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// The slot of entry `i` (0 is the oldest); `i < cap`.
    fn slot(&self, i: usize) -> usize {
        let j = self.head + i;
        if j >= self.cap {
            j - self.cap
        } else {
            j
        }
    }

    /// The slot of entry `i` (0 is the oldest), if there is one.
    pub(crate) fn nth(&self, i: usize) -> Option<usize> {
        (i < self.len).then(|| self.slot(i))
    }

    /// The slot a new newest entry goes to (`None`: full).
    pub(crate) fn push_back(&mut self) -> Option<usize> {
        if self.len == self.cap {
            return None;
        }
        let s = self.slot(self.len);
        self.len += 1;
        Some(s)
    }

    /// The slot of the newest entry, which leaves.
    pub(crate) fn pop_back(&mut self) -> Option<usize> {
        let s = self.nth(self.len.checked_sub(1)?)?;
        self.len -= 1;
        Some(s)
    }

    /// The slot of the oldest entry, which leaves.
    pub(crate) fn pop_front(&mut self) -> Option<usize> {
        let s = self.nth(0)?;
        self.head = self.slot(1);
        self.len -= 1;
        if self.len == 0 {
            self.head = 0;
        }
        Some(s)
    }

    /// The slot of the oldest entry.
    pub(crate) fn front(&self) -> Option<usize> {
        self.nth(0)
    }

    /// The slot of the newest entry.
    pub(crate) fn back(&self) -> Option<usize> {
        self.nth(self.len.checked_sub(1)?)
    }

    /// The capacity to grow to when full: double, at least
    /// [`POOL_RING_MIN`].
    pub(crate) fn grown_cap(&self) -> usize {
        self.cap.saturating_mul(2).max(POOL_RING_MIN as usize)
    }

    /// The entries were moved, in order, to slots `0..len` of a buffer of
    /// `cap` slots (`cap >= len`).
    pub(crate) fn moved(&mut self, cap: usize) {
        debug_assert!(cap >= self.len);
        self.head = 0;
        self.cap = cap;
    }
}

/// What the `inject_*` knobs arm for a run's worker 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Inject {
    /// `inject_miss`: the first non-WB transition skips the CPA call for
    /// the set's first page while verification expects the new mode.
    pub(crate) miss: bool,
    /// `inject_fail`: the first non-WB transition succeeds and is checked,
    /// then the worker fails with the pages still not WB, so that the
    /// restore on drop runs.
    pub(crate) fail: bool,
}

/// Pages per `set_pages_array_*` call: larger arrays are changed in
/// chunks of this many (64 MiB), with a chance to reschedule between them
/// (the kernel's CPA loop never yields, and a non-preemptible kernel would
/// see a soft lockup on a 4 GiB array). Under Xen PV, where every PTE
/// write is a hypercall, a `pages_array` run of 65536 pages (five
/// transitions, each checked) took 19.6 s under TCG: a few seconds per
/// 65536-page call, a quarter of that per chunk of this size.
pub(crate) const ARRAY_CHUNK: usize = 1 << 14;

/// The order of the blocks a scattered page set takes its pages from, one
/// page each: 2 MiB, naturally aligned, a large page of the direct map.
/// No two pages of the set share one, so each page's change lands in a
/// large page of its own (split there if it was still whole), and the
/// pages of a `set_pages_array_*` call are as far from contiguous as
/// they can be.
pub(crate) const SCATTER_ORDER: u32 = 9;

/// Which page of its block the `i`th page of a scattered set is: an odd
/// stride through the block's 512 pages (every offset once per 512
/// pages), so the pages share no offset pattern either.
pub(crate) fn scatter_index(i: u64) -> usize {
    (i.wrapping_mul(149).wrapping_add(7) & ((1 << SCATTER_ORDER) - 1)) as usize
}

/// Why a `scatter` run is refused (see [`Config::scatter_refusal`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ScatterRefusal {
    /// The scenario does not take single pages (`-EINVAL`).
    NotSinglePages,
    /// More 2 MiB blocks than memory can spare (`-ENOMEM`).
    TooManyBlocks,
}

/// How many bytes of a large block are written between two chances to
/// reschedule.
pub(crate) const FILL_CHUNK: usize = 2 << 20;

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

/// Whether an iteration of a `pages_array` worker makes the run's one
/// second `set_pages_array_wc` on WC pages, which the kernel must refuse
/// (and logs): worker 0, its first iteration whose WC change covered every
/// page (`asked`: one did already). After the `inject_miss` change the
/// skipped page is still WB, and a set of that page alone would be
/// accepted.
pub(crate) fn wc_again_due(worker: u32, asked: bool, injected: bool) -> bool {
    worker == 0 && !asked && !injected
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
    fn blocks_and_vectors() {
        for pages in 1..=3000u64 {
            for max_order in 0..=MAX_ORDER {
                assert_eq!(
                    object_blocks(pages, max_order),
                    object_orders(pages, max_order).count() as u64
                );
            }
        }
        assert_eq!(object_blocks(1 << 20, 10), 1024);
        assert_eq!(object_blocks(1 << 20, 0), 1 << 20);
        assert_eq!(object_blocks(1023, 10), 10);
        assert_eq!(object_blocks(5, 99), 2);
        assert_eq!(vec_pages(0), 0);
        assert_eq!(vec_pages(1), 2);
        assert_eq!(vec_pages(4096), 2);
        assert_eq!(vec_pages(4097), 3);
        // 8 MiB: 2048 pages and 8 of vmalloc's own.
        assert_eq!(vec_pages(8 << 20), 2056);
        assert_eq!(vec_pages(u64::MAX), (1 << 52) + (1 << 44));
        // One page pointer and one block: a page each, and vmalloc's page.
        assert_eq!(page_set_pages(1, 1), 4);
        assert_eq!(pool_list_pages(0), 22 * (2 + 2));
    }

    /// The pre-check's numbers at every bound of the knobs, for every
    /// scenario: pages and bookkeeping pages, exact.
    #[test]
    fn peak_at_every_bound() {
        use Scenario::*;
        #[rustfmt::skip]
        let table: &[(Scenario, u64, u64, u64, u64, u64)] = &[
            // scenario, pages, max_order, threads, data, bookkeeping
            (SetPages, 1, 10, 1, 1, 34),
            (SetPages, 1, 10, 16, 16, 379),
            (SetPages, 262144, 10, 1, 262144, 546),
            (SetPages, 262144, 10, 16, 4194304, 8571),
            (SetPages, 524288, 10, 1, 524288, 1061),
            (SetPages, 524288, 10, 16, 8388608, 16811),
            (SetPages, 1048576, 10, 1, 1048576, 2091),
            (SetPages, 1048576, 10, 16, 16777216, 33291),
            (SetMemory, 1, 10, 1, 1, 34),
            (SetMemory, 1, 10, 16, 16, 379),
            (SetMemory, 262144, 10, 1, 262144, 546),
            (SetMemory, 262144, 10, 16, 4194304, 8571),
            (SetMemory, 524288, 10, 1, 524288, 1061),
            (SetMemory, 524288, 10, 16, 8388608, 16811),
            (SetMemory, 1048576, 10, 1, 1048576, 2091),
            (SetMemory, 1048576, 10, 16, 16777216, 33291),
            (PagesArray, 1, 10, 1, 1, 34),
            (PagesArray, 1, 10, 16, 16, 379),
            (PagesArray, 262144, 10, 1, 262144, 1572),
            (PagesArray, 262144, 10, 16, 4194304, 24987),
            (PagesArray, 524288, 10, 1, 524288, 3114),
            (PagesArray, 524288, 10, 16, 8388608, 49659),
            (PagesArray, 1048576, 10, 1, 1048576, 6198),
            (PagesArray, 1048576, 10, 16, 16777216, 99003),
            (WcWbFree, 1, 10, 1, 1, 34),
            (WcWbFree, 1, 10, 16, 16, 379),
            (WcWbFree, 262144, 10, 1, 262144, 1572),
            (WcWbFree, 262144, 10, 16, 4194304, 24987),
            (WcWbFree, 524288, 10, 1, 524288, 3114),
            (WcWbFree, 524288, 10, 16, 8388608, 49659),
            (WcWbFree, 1048576, 10, 1, 1048576, 6198),
            (WcWbFree, 1048576, 10, 16, 16777216, 99003),
            (GemEvict, 1, 0, 1, 5, 126),
            (GemEvict, 1, 10, 1, 5, 126),
            (GemEvict, 1, 0, 16, 80, 502),
            (GemEvict, 1, 10, 16, 80, 502),
            (GemEvict, 262144, 0, 1, 1310720, 34042),
            (GemEvict, 262144, 10, 1, 1310720, 31477),
            (GemEvict, 262144, 0, 16, 20971520, 543187),
            (GemEvict, 262144, 10, 16, 20971520, 502147),
            (GemEvict, 524288, 0, 1, 2621440, 67966),
            (GemEvict, 524288, 10, 1, 2621440, 62833),
            (GemEvict, 524288, 0, 16, 41943040, 1085971),
            (GemEvict, 524288, 10, 16, 41943040, 1003843),
            (GemEvict, 1048576, 0, 1, 5242880, 135814),
            (GemEvict, 1048576, 10, 1, 5242880, 125546),
            (GemEvict, 1048576, 0, 16, 83886080, 2171539),
            (GemEvict, 1048576, 10, 16, 83886080, 2007251),
            (Ioremap, 1, 10, 1, 0, 30),
            (Ioremap, 1, 10, 16, 0, 315),
            (Ioremap, 262144, 10, 1, 0, 30),
            (Ioremap, 262144, 10, 16, 0, 315),
            (Ioremap, 524288, 10, 1, 0, 30),
            (Ioremap, 524288, 10, 16, 0, 315),
            (Ioremap, 1048576, 10, 1, 0, 30),
            (Ioremap, 1048576, 10, 16, 0, 315),
        ];
        for &(scenario, pages, max_order, threads, data, bookkeeping) in table {
            let c = Config {
                scenario,
                pages,
                max_order,
                iterations: 1,
                threads,
                verify: true,
                scatter: false,
            };
            let p = c.peak();
            assert_eq!(
                (p.data, p.bookkeeping),
                (data, bookkeeping),
                "{scenario} pages={pages} max_order={max_order} threads={threads}"
            );
            assert_eq!(c.peak().total(), data + bookkeeping);
        }
        // set_pages at 2^20 pages and 16 threads, by hand: per thread the
        // page array is 8 MiB (2048 + 8 pages), 1024 blocks of 16 bytes
        // (4 + 1), counters (10 + 1) and the thread (8): 2080; times 16,
        // plus the merged counters (11).
        assert_eq!(2080 * 16 + 11, 33291);
        // The bookkeeping of the largest runs is a small share of them.
        for &(_, _, _, _, data, bookkeeping) in table {
            if data >= 1 << 18 {
                assert!(bookkeeping * 25 < data, "{bookkeeping} of {data}");
            }
        }
    }

    #[test]
    fn peak_never_overflows() {
        for scenario in Scenario::ALL {
            for pages in [0, 1, MAX_PAGES, MAX_PAGES + 1, u64::MAX / 2, u64::MAX] {
                for threads in [0, 1, MAX_THREADS, u64::MAX] {
                    for max_order in [0, MAX_ORDER, u64::MAX] {
                        let c = Config {
                            scenario,
                            pages,
                            max_order,
                            iterations: 1,
                            threads,
                            verify: true,
                            scatter: true,
                        };
                        let p = c.peak();
                        assert!(p.total() >= p.data.max(p.bookkeeping));
                    }
                }
            }
        }
        let mut c = Config::DEFAULT;
        c.pages = u64::MAX;
        assert_eq!(c.peak().total(), u64::MAX);
        c.scenario = Scenario::GemEvict;
        c.threads = MAX_THREADS;
        assert_eq!(c.peak().total(), u64::MAX);
    }

    #[test]
    fn peak_grows_with_every_knob() {
        for scenario in Scenario::ALL {
            let mut c = Config::DEFAULT;
            c.scenario = scenario;
            let base = c.peak().total();
            c.threads = 2;
            assert!(c.peak().total() > base, "{scenario}");
            c.threads = 1;
            c.pages *= 4096;
            if scenario != Scenario::Ioremap {
                assert!(c.peak().total() > base, "{scenario}");
            }
        }
    }

    #[test]
    fn ring_matches_a_deque() {
        use std::collections::VecDeque;
        let mut rng = XorShift::new(42);
        let mut idx = RingIdx::new();
        let mut slots: Vec<Option<u64>> = Vec::new();
        let mut model: VecDeque<u64> = VecDeque::new();
        for n in 0..200_000u64 {
            match rng.next() % 8 {
                0..=3 => {
                    let s = match idx.push_back() {
                        Some(s) => s,
                        None => {
                            // Grow: move in order, as pool.rs does.
                            let cap = idx.grown_cap();
                            let mut new = std::vec![None; cap];
                            for (i, dst) in new.iter_mut().enumerate().take(idx.len()) {
                                *dst = slots[idx.nth(i).unwrap()].take();
                            }
                            assert!(slots.iter().all(Option::is_none));
                            slots = new;
                            idx.moved(cap);
                            idx.push_back().unwrap()
                        }
                    };
                    assert!(slots[s].is_none());
                    slots[s] = Some(n);
                    model.push_back(n);
                }
                4 | 5 => {
                    let got = idx.pop_back().map(|s| slots[s].take().unwrap());
                    assert_eq!(got, model.pop_back());
                }
                _ => {
                    let got = idx.pop_front().map(|s| slots[s].take().unwrap());
                    assert_eq!(got, model.pop_front());
                }
            }
            assert_eq!(idx.len(), model.len());
            assert!(idx.cap() == slots.len() && idx.len() <= idx.cap());
            assert_eq!(
                idx.front().map(|s| slots[s].unwrap()),
                model.front().copied()
            );
            assert_eq!(idx.back().map(|s| slots[s].unwrap()), model.back().copied());
            assert_eq!(slots.iter().filter(|s| s.is_some()).count(), model.len());
        }
        let mut e = RingIdx::new();
        assert_eq!(e.push_back(), None);
        assert_eq!(e.pop_back(), None);
        assert_eq!(e.pop_front(), None);
        assert_eq!(e.grown_cap(), POOL_RING_MIN as usize);
    }

    /// The iterations (of `n`) in which `worker` makes the second WC call,
    /// the first iteration's change being the injected one if `inject`.
    fn wc_again_iterations(worker: u32, n: u32, inject: bool) -> Vec<u32> {
        let mut asked = false;
        let mut at = Vec::new();
        for it in 0..n {
            if wc_again_due(worker, asked, inject && it == 0) {
                asked = true;
                at.push(it);
            }
        }
        at
    }

    #[test]
    fn wc_again_once_per_run_never_after_inject() {
        assert_eq!(wc_again_iterations(0, 3, false), [0]);
        assert_eq!(wc_again_iterations(0, 3, true), [1]);
        // iterations=1 with inject_miss (pages=1: the set is that WB page).
        assert_eq!(wc_again_iterations(0, 1, true), []);
        assert_eq!(wc_again_iterations(1, 3, false), []);
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

    #[test]
    fn scatter_index_visits_every_offset_once() {
        let mut seen = [false; 1 << SCATTER_ORDER];
        for i in 0..(1u64 << SCATTER_ORDER) {
            let k = scatter_index(i);
            assert!(!seen[k], "offset {k} twice");
            seen[k] = true;
        }
        assert_eq!(scatter_index(512), scatter_index(0));
        assert!(scatter_index(u64::MAX) < 512);
        // Neighbours in the set are not at neighbouring offsets.
        assert!(scatter_index(1).abs_diff(scatter_index(0)) > 1);
    }

    #[test]
    fn scatter_is_refused_where_it_cannot_apply() {
        let mut c = Config::DEFAULT;
        c.scatter = true;
        // 2 GiB free: 1024 blocks of 2 MiB; a quarter of them, 256 pages.
        let avail = 1 << 19;
        for s in Scenario::ALL {
            c.scenario = s;
            let want = match s {
                Scenario::PagesArray | Scenario::WcWbFree => None,
                _ => Some(ScatterRefusal::NotSinglePages),
            };
            assert_eq!(c.scatter_refusal(avail), want, "{s}");
        }
        c.scenario = Scenario::PagesArray;
        c.pages = 64;
        c.threads = 4;
        assert_eq!(c.scatter_refusal(avail), None);
        c.pages = 65;
        assert_eq!(
            c.scatter_refusal(avail),
            Some(ScatterRefusal::TooManyBlocks)
        );
        c.pages = u64::MAX;
        c.threads = u64::MAX;
        assert_eq!(
            c.scatter_refusal(avail),
            Some(ScatterRefusal::TooManyBlocks)
        );
        assert_eq!(c.scatter_refusal(0), Some(ScatterRefusal::TooManyBlocks));
        c.scatter = false;
        c.scenario = Scenario::SetPages;
        assert_eq!(c.scatter_refusal(0), None);
    }

    #[test]
    fn scatter_counts_the_block_in_flight() {
        let mut c = Config::DEFAULT;
        c.scenario = Scenario::PagesArray;
        c.pages = 33;
        c.threads = 2;
        let plain = c.peak();
        c.scatter = true;
        let scattered = c.peak();
        assert_eq!(scattered.data, plain.data + 2 * 512);
        assert_eq!(scattered.bookkeeping, plain.bookkeeping);
    }
}

// SPDX-License-Identifier: GPL-2.0

//! A TTM-style pool of write-combined and uncached blocks, evicted by a
//! shrinker under memory pressure, by the `evict` knob and at unload.
//!
//! As in `drivers/gpu/drm/ttm/ttm_pool.c`: objects are built from blocks of
//! mixed orders, bound with one `set_pages_array_*` call per run of new
//! pages, released into the pool with their caching, reused from it, and
//! evicted with `set_pages_wb(page, 1 << order)` per entry before the
//! pages are freed. Here every evicted page is also checked through the
//! accessor before it is freed: a page that is still not WB is a
//! verification failure and is leaked instead.
//!
//! Locking: the pool mutex is held only to move entries in and out, never
//! across an allocation that may reclaim (the shrinker takes the same
//! mutex from reclaim) nor across a CPA call.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::{flags::GFP_NOWAIT, KVec, VBox};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_int, c_ulong};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::attrs::CacheMode;
use crate::cpa::{self, Block};
use crate::exerciser::zeroed;
use crate::ffi;
use crate::stats::OpStats;

/// A block bound with a non-WB caching, in or on its way to the pool.
///
/// # Invariants
///
/// `block` is `Some` until the entry is evicted; its pages are `mode`.
/// Dropping an entry that was not evicted evicts it (WB, check, free), so
/// no path frees its pages while they are not WB.
pub(crate) struct Entry {
    block: Option<Block>,
    mode: CacheMode,
}

impl Entry {
    /// An entry for `block`, whose pages the caller made `mode`.
    pub(crate) fn new(block: Block, mode: CacheMode) -> Self {
        Entry {
            block: Some(block),
            mode,
        }
    }

    /// Writes `byte` over the block, as a driver fills a buffer object.
    pub(crate) fn fill(&self, byte: u8) {
        if let Some(b) = &self.block {
            b.fill(byte);
        }
    }

    fn order(&self) -> Option<u32> {
        self.block.as_ref().map(Block::order)
    }

    fn len(&self) -> u64 {
        self.block.as_ref().map_or(0, |b| b.len() as u64)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            unbind(block);
        }
    }
}

/// What [`unbind`] did.
struct Unbound {
    /// `set_pages_wb()`'s result.
    ret: c_int,
    /// Its duration.
    ns: u64,
    /// Pages found not WB afterwards.
    bad: u64,
    /// Pages freed (0 if they were leaked).
    freed: u64,
}

/// `set_pages_wb()` on `block`, a check of every page through the
/// accessor, then the free; a block that is not all WB is leaked.
fn unbind(block: Block) -> Unbound {
    let n = block.len() as c_int;
    // SAFETY: ktime_get() has no preconditions.
    let start = unsafe { bindings::ktime_get() };
    // SAFETY: the block's pages are ours.
    let ret = unsafe { ffi::set_pages_wb(block.page(0), n) };
    // SAFETY: as above.
    let ns = (unsafe { bindings::ktime_get() } - start).max(0) as u64;
    let (bad, first) = cpa::Expect::new(CacheMode::Wb).check_range(block.addr(), block.len());
    if let Some(m) = first {
        pr_err!(
            "evicted page {:#x} is not WB before free: pv {:#018x} raw {:#018x}\n",
            m.addr,
            m.pv,
            m.raw
        );
    }
    if ret != 0 {
        pr_err!("set_pages_wb on eviction failed: {}\n", ret);
    }
    let freed = if ret != 0 || bad != 0 {
        block.leak();
        0
    } else {
        let len = block.len() as u64;
        drop(block);
        len
    };
    Unbound {
        ret,
        ns,
        bad,
        freed,
    }
}

/// What eviction counted (outside runs too: the shrinker runs any time).
pub(crate) struct Evictions {
    /// `set_pages_wb()` per entry.
    pub(crate) stats: VBox<OpStats>,
    /// Pages found not WB after eviction (leaked, not freed).
    pub(crate) verify_failures: u64,
    /// Shrinker scans that evicted something.
    pub(crate) shrinker_scans: u64,
    /// Pages the shrinker evicted.
    pub(crate) shrinker_pages: u64,
}

/// The pool.
#[pin_data]
pub(crate) struct Pool {
    #[pin]
    entries: Mutex<KVec<Entry>>,
    #[pin]
    evictions: Mutex<Evictions>,
    /// Pages in `entries`, readable without the lock (the shrinker's count).
    pages: AtomicU64,
}

/// Who asked for an eviction.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// A worker whose pool share is full, the `evict` knob, or unload.
    Owner,
    /// Memory pressure.
    Shrinker,
}

impl Pool {
    /// An empty pool.
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let stats = zeroed::<OpStats>()?;
        Ok(pin_init!(Pool {
            entries <- new_mutex!(KVec::new(), "pte_attrs::pool"),
            evictions <- new_mutex!(
                Evictions {
                    stats,
                    verify_failures: 0,
                    shrinker_scans: 0,
                    shrinker_pages: 0,
                },
                "pte_attrs::evictions"
            ),
            pages: AtomicU64::new(0),
        }))
    }

    /// Pages in the pool.
    pub(crate) fn pages(&self) -> u64 {
        self.pages.load(Ordering::Relaxed)
    }

    /// The direct-map address of a pooled block bound with `mode`, if any:
    /// for tests that look its pages up while they are not WB.
    pub(crate) fn sample(&self, mode: CacheMode) -> Option<usize> {
        let entries = self.entries.lock();
        entries
            .iter()
            .find(|e| e.mode == mode)
            .and_then(|e| e.block.as_ref().map(Block::addr))
    }

    /// Takes a pooled block of `order` bound with `mode`, if there is one.
    pub(crate) fn take(&self, order: u32, mode: CacheMode) -> Option<Entry> {
        let mut entries = self.entries.lock();
        let i = entries
            .iter()
            .position(|e| e.order() == Some(order) && e.mode == mode)?;
        let n = entries.len() - 1;
        entries.swap(i, n);
        let e = cpa::pop(&mut entries)?;
        self.pages.fetch_sub(e.len(), Ordering::Relaxed);
        Some(e)
    }

    /// Releases `entry` into the pool; evicts it at once if the pool
    /// cannot grow without reclaiming.
    pub(crate) fn put(&self, entry: Entry) {
        let len = entry.len();
        let refused = {
            let mut entries = self.entries.lock();
            // GFP_NOWAIT: no reclaim (and so no shrinker) under the lock.
            if entries.reserve(1, GFP_NOWAIT).is_ok() {
                // Cannot fail: the capacity is there.
                let _ = entries.push(entry, GFP_NOWAIT);
                // Under the lock, as every change of the count.
                self.pages.fetch_add(len, Ordering::Relaxed);
                None
            } else {
                Some(entry)
            }
        };
        if let Some(entry) = refused {
            self.evict_entry(entry);
        }
    }

    /// Evicts up to `max_pages` pages (oldest first); returns the pages
    /// freed.
    pub(crate) fn evict(&self, max_pages: u64, why: Why) -> u64 {
        let mut freed = 0;
        while freed < max_pages {
            let entry = {
                let mut entries = self.entries.lock();
                if entries.is_empty() {
                    break;
                }
                // Oldest first: swap the first entry out.
                let n = entries.len() - 1;
                entries.swap(0, n);
                let e = cpa::pop(&mut entries);
                if let Some(e) = &e {
                    self.pages.fetch_sub(e.len(), Ordering::Relaxed);
                }
                e
            };
            let Some(entry) = entry else { break };
            freed += self.evict_entry(entry);
        }
        if why == Why::Shrinker && freed > 0 {
            let mut ev = self.evictions.lock();
            ev.shrinker_scans += 1;
            ev.shrinker_pages += freed;
        }
        freed
    }

    /// Evicts `entry` and counts it; returns the pages freed.
    fn evict_entry(&self, mut entry: Entry) -> u64 {
        let Some(block) = entry.block.take() else {
            return 0;
        };
        let pages = block.len() as u64;
        let u = unbind(block);
        let mut ev = self.evictions.lock();
        if u.ret == 0 {
            ev.stats.record_ok(pages, u.ns);
        } else {
            ev.stats.record_error();
        }
        ev.verify_failures += u.bad;
        u.freed
    }

    /// Runs `f` on the eviction counters.
    pub(crate) fn with_evictions<R>(&self, f: impl FnOnce(&mut Evictions) -> R) -> R {
        f(&mut self.evictions.lock())
    }
}

/// The pool's shrinker: registered for the module's lifetime.
///
/// # Invariants
///
/// `ptr` is a registered shrinker whose `private_data` is a `Pool` that
/// outlives it (the owner drops this before the pool).
pub(crate) struct Shrinker {
    ptr: *mut bindings::shrinker,
}

// SAFETY: the shrinker is only handed to `shrinker_free`, from any thread.
unsafe impl Send for Shrinker {}
// SAFETY: `&Shrinker` exposes nothing.
unsafe impl Sync for Shrinker {}

impl Shrinker {
    /// Registers a shrinker that evicts from `pool`.
    ///
    /// # Safety
    ///
    /// `pool` must stay valid until the returned value is dropped.
    pub(crate) unsafe fn register(pool: *const Pool) -> Result<Shrinker> {
        // SAFETY: a constant format with no arguments.
        let ptr = unsafe { bindings::shrinker_alloc(0, c"pte_attrs-pool".as_ptr().cast()) };
        if ptr.is_null() {
            pr_err!("cannot allocate the pool's shrinker\n");
            return Err(ENOMEM);
        }
        // SAFETY: `ptr` is a fresh, unregistered shrinker we own.
        unsafe {
            (*ptr).count_objects = Some(count);
            (*ptr).scan_objects = Some(scan);
            (*ptr).seeks = bindings::DEFAULT_SEEKS as c_int;
            (*ptr).private_data = pool.cast_mut().cast();
            bindings::shrinker_register(ptr);
        }
        Ok(Shrinker { ptr })
    }
}

impl Drop for Shrinker {
    fn drop(&mut self) {
        // SAFETY: `ptr` is registered (type invariant); `shrinker_free`
        // unregisters it and waits for callbacks in flight.
        unsafe { bindings::shrinker_free(self.ptr) };
    }
}

/// The pool of a shrinker's callback.
///
/// # Safety
///
/// `s` must be a shrinker made by [`Shrinker::register`], in a callback.
unsafe fn pool_of<'a>(s: *mut bindings::shrinker) -> &'a Pool {
    // SAFETY: `private_data` is the pool, valid while the shrinker exists
    // (invariant of `Shrinker`); callbacks end before `shrinker_free`
    // returns.
    unsafe { &*(*s).private_data.cast::<Pool>() }
}

/// `count_objects`: the pool's pages.
///
/// # Safety
///
/// Called by the shrinker core for a shrinker of [`Shrinker::register`].
unsafe extern "C" fn count(
    s: *mut bindings::shrinker,
    _sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: called by the shrinker core for our shrinker.
    let n = unsafe { pool_of(s) }.pages();
    if n == 0 {
        bindings::SHRINK_EMPTY as c_ulong
    } else {
        n as c_ulong
    }
}

/// `scan_objects`: evicts up to `nr_to_scan` pages.
///
/// # Safety
///
/// Called by the shrinker core for a shrinker of [`Shrinker::register`],
/// with a valid control.
unsafe extern "C" fn scan(
    s: *mut bindings::shrinker,
    sc: *mut bindings::shrink_control,
) -> c_ulong {
    // SAFETY: called by the shrinker core for our shrinker with its control.
    let (pool, want) = unsafe { (pool_of(s), (*sc).nr_to_scan) };
    let freed = pool.evict(want as u64, Why::Shrinker);
    if freed == 0 {
        bindings::SHRINK_STOP as c_ulong
    } else {
        freed as c_ulong
    }
}

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
//! Organised as TTM's pool is: one list per caching (WC, UC-) and order
//! (0..=10). A list is a ring buffer ([`Ring`]): blocks are reused LIFO
//! (the newest of the list, still warm, O(1) at the ring's back), put back
//! at the back (O(1) amortised), and evicted oldest first across all lists
//! (every entry carries a sequence number; the oldest is at the front of
//! one of the 22 lists: O(number of lists) to find, O(1) to take).
//!
//! Locking: the pool mutex is held only to move entries in and out, never
//! across an allocation that may reclaim (the shrinker takes the same
//! mutex from reclaim) nor across a CPA call. A list that must grow gets
//! its larger buffer allocated before the lock is taken; under the lock
//! the entries are only moved into it. The page count changes only under
//! the lock.

use core::sync::atomic::{AtomicU64, Ordering};

use kernel::alloc::{
    flags::{__GFP_NOWARN, GFP_KERNEL},
    KVVec, VBox,
};
use kernel::error::Result;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::exerciser::verify::{self, Expect, Mismatch};
use crate::pure::attrs::CacheMode;
use crate::pure::config::{RingIdx, ENTRY_BYTES, MAX_ORDER, POOL_SLOT_BYTES};
use crate::pure::latency::OpStats;
use crate::sys::log::pr_err_rl;
use crate::sys::page::Block;
use crate::sys::time::{self, Instant};
use crate::sys::{cpa, mem};

/// A block bound with a non-WB caching, in or on its way to the pool.
///
/// # Invariants
///
/// `block` is `Some` until the entry is evicted; its pages are `mode`.
/// Dropping an entry that was not evicted evicts it (WB, check, free), so
/// no path frees its pages while they are not WB.
pub(crate) struct PoolBlock {
    block: Option<Block>,
    mode: CacheMode,
}

// The run's memory pre-check counts this much per entry and list slot.
const _: () = assert!(core::mem::size_of::<PoolBlock>() as u64 <= ENTRY_BYTES);
const _: () = assert!(core::mem::size_of::<Option<Slot>>() as u64 <= POOL_SLOT_BYTES);

impl PoolBlock {
    /// An entry for `block`, whose pages the caller made `mode`.
    pub(crate) fn new(block: Block, mode: CacheMode) -> Self {
        PoolBlock {
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

    /// The block (`None` once evicted).
    pub(crate) fn block(&self) -> Option<&Block> {
        self.block.as_ref()
    }

    fn order(&self) -> Option<u32> {
        self.block.as_ref().map(Block::order)
    }

    fn len(&self) -> u64 {
        self.block.as_ref().map_or(0, |b| b.len() as u64)
    }
}

impl Drop for PoolBlock {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            let _ = unbind(block);
        }
    }
}

/// What [`unbind`] did.
struct Unbound {
    /// `set_pages_wb()`'s result.
    ret: Result,
    /// Its duration.
    ns: u64,
    /// Pages found not WB afterwards.
    bad: u64,
    /// Pages whose memtype record was not WB afterwards.
    records: u64,
    /// The first of them.
    first: Option<Mismatch>,
    /// Pages freed (0 if they were leaked).
    freed: u64,
}

/// `set_pages_wb()` on `block`, a check of every page through the
/// accessor, then the free; a block that is not all WB is leaked.
fn unbind(block: Block) -> Unbound {
    let start = Instant::now();
    let ret = cpa::set_pages(&block, 0, block.len(), CacheMode::Wb);
    let ns = start.elapsed_ns();
    let (bad, mut first) = Expect::new(CacheMode::Wb).check_block(&block);
    let (records, record_addr) = verify::check_record(&block, CacheMode::Wb);
    if let (None, Some(addr)) = (first, record_addr) {
        let (pv, raw) = verify::entry_of(addr);
        first = Some(Mismatch {
            addr,
            pv,
            raw,
            want: CacheMode::Wb,
        });
    }
    if records != 0 {
        pr_err_rl!(
            "{} evicted page(s) not WB in the kernel's memtype record: leaked\n",
            records
        );
    }
    if bad != 0 {
        pr_err_rl!(
            "{} evicted page(s) not WB before free: leaked (pool.first_failure in results)\n",
            bad
        );
    }
    if let Err(e) = ret {
        pr_err_rl!("set_pages_wb on eviction failed: {:?}\n", e);
    }
    let freed = if ret.is_err() || bad != 0 || records != 0 {
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
        records,
        first,
        freed,
    }
}

/// What eviction counted (outside runs too: the shrinker runs any time).
pub(crate) struct Evictions {
    /// `set_pages_wb()` per entry.
    pub(crate) stats: VBox<OpStats>,
    /// Pages found not WB after eviction, in their entry or their memtype
    /// record (leaked, not freed).
    pub(crate) verify_failures: u64,
    /// Of those, pages whose memtype record was not WB.
    pub(crate) record_failures: u64,
    /// The first of them: address (0: none), paravirt and raw entry.
    pub(crate) first_failure: [u64; 3],
    /// Shrinker scans that evicted something.
    pub(crate) shrinker_scans: u64,
    /// Pages the shrinker evicted.
    pub(crate) shrinker_pages: u64,
}

impl Evictions {
    /// Clears every counter.
    pub(crate) fn reset(&mut self) {
        self.stats.reset();
        self.verify_failures = 0;
        self.record_failures = 0;
        self.first_failure = [0; 3];
        self.shrinker_scans = 0;
        self.shrinker_pages = 0;
    }
}

/// An entry in a list, with its age.
struct Slot {
    /// Taken from [`Lists::next_seq`] when the entry went in: smaller is
    /// older.
    seq: u64,
    entry: PoolBlock,
}

/// The buffer of a [`Ring`]: every element initialised, `None` where no
/// entry is.
type Buf = KVVec<Option<Slot>>;

/// A double-ended queue of entries in a fixed buffer: O(1) at both ends,
/// never allocating itself (see [`Ring::grow_into`]). The index
/// arithmetic is [`RingIdx`]'s, host-tested against a deque.
///
/// # Invariants
///
/// `idx.cap() == buf.len()`; the slots `idx` lists hold `Some`, every
/// other slot `None`.
struct Ring {
    buf: Buf,
    idx: RingIdx,
}

impl Ring {
    const fn new() -> Ring {
        Ring {
            buf: KVVec::new(),
            idx: RingIdx::new(),
        }
    }

    /// Adds `slot` at the back (newest end); gives it back if full.
    fn push_back(&mut self, slot: Slot) -> core::result::Result<(), Slot> {
        match self.idx.push_back() {
            Some(i) => {
                self.buf[i] = Some(slot);
                Ok(())
            }
            None => Err(slot),
        }
    }

    /// Takes the newest entry.
    fn pop_back(&mut self) -> Option<Slot> {
        let i = self.idx.pop_back()?;
        self.buf[i].take()
    }

    /// Takes the oldest entry.
    fn pop_front(&mut self) -> Option<Slot> {
        let i = self.idx.pop_front()?;
        self.buf[i].take()
    }

    /// The oldest entry's sequence number.
    fn front_seq(&self) -> Option<u64> {
        self.buf[self.idx.front()?].as_ref().map(|s| s.seq)
    }

    /// The newest entry.
    fn back(&self) -> Option<&Slot> {
        self.buf[self.idx.back()?].as_ref()
    }

    /// Whether a new entry needs a larger buffer.
    fn is_full(&self) -> bool {
        self.idx.len() == self.idx.cap()
    }

    /// Moves the entries, in order, into `new` (all `None`, larger than
    /// this ring's buffer); returns the old buffer (all `None` now), to be
    /// freed after the lock is dropped.
    fn grow_into(&mut self, mut new: Buf) -> Buf {
        for (i, dst) in new.iter_mut().enumerate().take(self.idx.len()) {
            if let Some(src) = self.idx.nth(i) {
                *dst = self.buf[src].take();
            }
        }
        self.idx.moved(new.len());
        core::mem::swap(&mut self.buf, &mut new);
        new
    }

    /// The buffer of an empty ring, to be freed after the lock is dropped.
    fn take_buffer_if_empty(&mut self) -> Option<Buf> {
        if self.idx.len() != 0 || self.buf.is_empty() {
            return None;
        }
        self.idx.moved(0);
        // Not `mem::take`: 6.12's `Vec` has no `Default`.
        #[allow(clippy::mem_replace_with_default)]
        Some(core::mem::replace(&mut self.buf, KVVec::new()))
    }
}

/// Cachings a pool list can have.
const MODES: usize = 2;
/// Orders a pool list can have.
const ORDERS: usize = MAX_ORDER as usize + 1;

/// The list of blocks of `order` bound with `mode`: `(mode, order)`
/// indices, `None` for what the pool does not keep.
fn list_of(mode: CacheMode, order: u32) -> Option<(usize, usize)> {
    let m = match mode {
        CacheMode::Wc => 0,
        CacheMode::UcMinus => 1,
        _ => return None,
    };
    let o = order as usize;
    (o < ORDERS).then_some((m, o))
}

/// The pool's lists and their counts, under the pool's lock.
struct Lists {
    rings: [[Ring; ORDERS]; MODES],
    /// The sequence number of the next entry put in.
    next_seq: u64,
}

impl Lists {
    /// The (mode, order) of the list whose front entry is the oldest.
    fn oldest(&self) -> Option<(usize, usize)> {
        let mut best: Option<(u64, usize, usize)> = None;
        for (m, rings) in self.rings.iter().enumerate() {
            for (o, ring) in rings.iter().enumerate() {
                if let Some(seq) = ring.front_seq() {
                    match best {
                        Some((b, _, _)) if b <= seq => {}
                        _ => best = Some((seq, m, o)),
                    }
                }
            }
        }
        best.map(|(_, m, o)| (m, o))
    }
}

/// The pool.
#[pin_data]
pub(crate) struct Pool {
    #[pin]
    lists: Mutex<Lists>,
    #[pin]
    evictions: Mutex<Evictions>,
    /// Pages in the lists, readable without the lock (the shrinker's
    /// count); changed only under the lock, with the lists.
    pages: AtomicU64,
}

/// Who asked for an eviction.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Evictor {
    /// A worker whose pool share is full, the `evict` knob, or unload.
    Owner,
    /// Memory pressure.
    Shrinker,
}

/// An empty buffer of `n` slots, allocated with no lock held.
/// No warning on failure: the entry is then evicted at once (and a huge
/// request must not WARN in `kvmalloc()`).
fn empty_buf(n: usize) -> Result<Buf> {
    let mut b = KVVec::with_capacity(n, GFP_KERNEL | __GFP_NOWARN)?;
    for _ in 0..n {
        // Within the capacity: no allocation.
        b.push(None, GFP_KERNEL)?;
    }
    Ok(b)
}

impl Pool {
    /// An empty pool.
    pub(crate) fn new() -> Result<impl PinInit<Self>> {
        let stats = mem::zeroed::<OpStats>()?;
        Ok(pin_init!(Pool {
            lists <- new_mutex!(
                Lists {
                    rings: [const { [const { Ring::new() }; ORDERS] }; MODES],
                    next_seq: 0,
                },
                "pte_attrs::pool"
            ),
            evictions <- new_mutex!(
                Evictions {
                    stats,
                    verify_failures: 0,
                    record_failures: 0,
                    first_failure: [0; 3],
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

    /// The direct-map address of the newest pooled block bound with
    /// `mode`, if any: for tests that look its pages up while they are not
    /// WB.
    pub(crate) fn sample(&self, mode: CacheMode) -> Option<usize> {
        let (m, _) = list_of(mode, 0)?;
        let lists = self.lists.lock();
        lists.rings[m]
            .iter()
            .filter_map(Ring::back)
            .max_by_key(|s| s.seq)
            .and_then(|s| s.entry.block.as_ref().map(Block::addr))
    }

    /// Takes the newest pooled block of `order` bound with `mode`, if
    /// there is one (LIFO, as TTM: the most recently used is warmest).
    pub(crate) fn take(&self, order: u32, mode: CacheMode) -> Option<PoolBlock> {
        let (m, o) = list_of(mode, order)?;
        let mut lists = self.lists.lock();
        let slot = lists.rings[m][o].pop_back()?;
        self.pages.fetch_sub(slot.entry.len(), Ordering::Relaxed);
        Some(slot.entry)
    }

    /// Releases `entry` into the pool; evicts it at once if the pool does
    /// not keep its kind or its list cannot grow.
    pub(crate) fn put(&self, entry: PoolBlock) {
        let Some((m, o)) = entry.order().and_then(|order| list_of(entry.mode, order)) else {
            self.evict_entry(entry);
            return;
        };
        let len = entry.len();
        let mut entry = entry;
        let mut spare: Option<Buf> = None;
        loop {
            let (back, old) = {
                let mut lists = self.lists.lock();
                let seq = lists.next_seq;
                let ring = &mut lists.rings[m][o];
                // The buffer to free once the lock is dropped: the ring's
                // old one, or a spare that another thread's growth made
                // too small.
                let mut old = None;
                if ring.is_full() {
                    if let Some(buf) = spare.take() {
                        old = Some(if buf.len() > ring.buf.len() {
                            ring.grow_into(buf)
                        } else {
                            buf
                        });
                    }
                }
                match ring.push_back(Slot { seq, entry }) {
                    Ok(()) => {
                        lists.next_seq += 1;
                        // Under the lock, as every change of the count.
                        self.pages.fetch_add(len, Ordering::Relaxed);
                        (None, old)
                    }
                    Err(slot) => (Some((slot.entry, ring.idx.grown_cap())), old),
                }
            };
            // Buffers are freed and allocated with no lock held.
            drop(old);
            let Some((e, need)) = back else {
                return;
            };
            entry = e;
            match empty_buf(need) {
                Ok(buf) => spare = Some(buf),
                Err(_) => {
                    // No memory for a longer list: the entry goes now.
                    self.evict_entry(entry);
                    return;
                }
            }
        }
    }

    /// Evicts up to `max_pages` pages, oldest first across all lists;
    /// returns the pages freed.
    pub(crate) fn evict(&self, max_pages: u64, why: Evictor) -> u64 {
        let mut freed = 0;
        while freed < max_pages {
            let (slot, empty) = {
                let mut lists = self.lists.lock();
                let Some((m, o)) = lists.oldest() else {
                    break;
                };
                let ring = &mut lists.rings[m][o];
                let slot = ring.pop_front();
                // An emptied list gives its buffer back: eviction is what
                // memory pressure asks for.
                let empty = ring.take_buffer_if_empty();
                if let Some(s) = &slot {
                    self.pages.fetch_sub(s.entry.len(), Ordering::Relaxed);
                }
                (slot, empty)
            };
            drop(empty);
            let Some(slot) = slot else { break };
            freed += self.evict_entry(slot.entry);
            time::resched();
        }
        if why == Evictor::Shrinker && freed > 0 {
            let mut ev = self.evictions.lock();
            ev.shrinker_scans += 1;
            ev.shrinker_pages += freed;
        }
        freed
    }

    /// Evicts `entry` and counts it; returns the pages freed.
    fn evict_entry(&self, mut entry: PoolBlock) -> u64 {
        let Some(block) = entry.block.take() else {
            return 0;
        };
        let pages = block.len() as u64;
        let u = unbind(block);
        let mut ev = self.evictions.lock();
        if u.ret.is_ok() {
            ev.stats.record_ok(pages, u.ns);
        } else {
            ev.stats.record_error();
        }
        ev.verify_failures += u.bad.max(u.records);
        ev.record_failures += u.records;
        if let (Some(m), 0) = (u.first, ev.first_failure[0]) {
            ev.first_failure = [m.addr as u64, m.pv, m.raw];
        }
        u.freed
    }

    /// Runs `f` on the eviction counters.
    pub(crate) fn with_evictions<R>(&self, f: impl FnOnce(&mut Evictions) -> R) -> R {
        f(&mut self.evictions.lock())
    }
}

// SPDX-License-Identifier: GPL-2.0

//! Pages the exerciser owns, the CPA calls it makes on them, and the check
//! of every page through the accessor.
//!
//! The exerciser changes the attributes of nothing else: a [`Block`] comes
//! from the page allocator and a [`PageSet`] owns its blocks. A `PageSet`
//! that was made WC or UC- puts its pages back to WB when dropped, before
//! they are freed; a page that cannot be put back is leaked, never freed.

use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, Allocator, KVVec, Vec};
use kernel::bindings;
use kernel::error::{code::*, to_result, Result};
use kernel::ffi::{c_int, c_ulong, c_void};

use crate::pure::attrs::{pat_index, CacheMode, Level};
use crate::pure::config::{ARRAY_CHUNK, BLOCK_BYTES, FILL_CHUNK, PTR_BYTES};
use crate::sys::accessor::{self, Found};
use crate::sys::ffi;
use crate::sys::log::pr_err_rl;

/// Lets other tasks run if one should: every long loop of the exerciser
/// calls this once per block, per page-table page or per chunk, so that a
/// kernel without preemption sees no soft lockup or RCU stall.
///
/// Only for process context with no spinlock held: the exerciser's workers,
/// a `sync` run's writer, the `evict` knob, the shrinker and unload (all
/// may sleep). A sleeping mutex may be held.
pub(crate) fn resched() {
    // SAFETY: every caller is in process context and holds no spinlock
    // (see above); `cond_resched()` then only schedules if it should.
    unsafe { ffi::pte_attrs_glue_cond_resched() };
}

/// A `struct page *`, opaque here: only C functions look inside.
pub(crate) type PagePtr = *mut c_void;

/// A block of `1 << order` pages from the page allocator.
///
/// # Invariants
///
/// `head` is the first page of a block of `1 << order` pages allocated
/// with `alloc_pages(order)`, owned by this value. Its pages are WB unless
/// an owner that changed them holds the block: a [`PageSet`], or a pool
/// `Entry` (handed over, still bound, by [`PageSet::release_bound`]); both
/// make them WB again before the block is dropped, so dropping frees WB
/// pages only.
pub(crate) struct Block {
    head: NonNull<c_void>,
    order: u32,
}

// SAFETY: a `Block` owns its pages; nothing ties them to a thread.
unsafe impl Send for Block {}

// The run's memory pre-check counts this much per block and page pointer.
const _: () = assert!(core::mem::size_of::<Block>() as u64 <= BLOCK_BYTES);
const _: () = assert!(core::mem::size_of::<PagePtr>() as u64 <= PTR_BYTES);

impl Block {
    /// Allocates `1 << order` pages; `-ENOMEM` (quietly) if there are none.
    pub(crate) fn alloc(order: u32) -> Result<Block> {
        // SAFETY: any order up to MAX_PAGE_ORDER is valid; larger fails.
        let head = unsafe { ffi::pte_attrs_glue_alloc_pages(order) };
        Ok(Block {
            head: NonNull::new(head).ok_or(ENOMEM)?,
            order,
        })
    }

    /// The block's order.
    pub(crate) fn order(&self) -> u32 {
        self.order
    }

    /// How many pages the block has.
    pub(crate) fn len(&self) -> usize {
        1 << self.order
    }

    /// The `i`th page (`i < len()`).
    pub(crate) fn page(&self, i: usize) -> PagePtr {
        debug_assert!(i < self.len());
        // SAFETY: `head` starts a block of `len()` pages (type invariant).
        unsafe { ffi::pte_attrs_glue_nth_page(self.head.as_ptr(), i as c_ulong) }
    }

    /// The direct-map address of the block's first page.
    pub(crate) fn addr(&self) -> usize {
        // SAFETY: `head` is a live page of the direct map (no highmem on
        // x86_64).
        unsafe { ffi::pte_attrs_glue_page_address(self.head.as_ptr()) as usize }
    }

    /// Writes `byte` to every byte of the block, as a GPU driver fills a
    /// buffer object (through the direct map, whatever its cache mode).
    /// Through UC- a 4 MiB block takes long: it yields every 2 MiB.
    pub(crate) fn fill(&self, byte: u8) {
        let len = self.len() << 12;
        let base = self.addr();
        let mut done = 0;
        while done < len {
            let n = (len - done).min(FILL_CHUNK);
            // SAFETY: the block's `len()` pages are ours and contiguous in
            // the direct map; `done + n <= len`.
            unsafe { core::ptr::write_bytes((base + done) as *mut u8, byte, n) };
            done += n;
            resched();
        }
    }

    /// Gives the pages up without freeing them: for pages that could not
    /// be made WB again, which must never go back to the allocator.
    pub(crate) fn leak(self) {
        pr_err_rl!(
            "leaking {} page(s) that are not write-back (never freed)\n",
            self.len()
        );
        core::mem::forget(self);
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the block was allocated with this order and is WB (type
        // invariant); nothing refers to it any more.
        unsafe { bindings::__free_pages(self.head.as_ptr().cast(), self.order) };
    }
}

/// The CPA interface a change goes through.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    /// `set_pages_uc/wb(page, n)` per block.
    Pages,
    /// `set_pages_array_uc/wc/wb(pages, n)` over all pages at once.
    Array,
    /// `set_memory_uc/wc/wb(addr, n)` per block.
    Memory,
}

/// Calls `api` for `mode` on `blocks`, or on `array` (the same pages as
/// page pointers) for [`Api::Array`]. With `skip_first`, the first page is
/// left out of the call (the `inject_miss` negative control).
///
/// Arrays go in chunks of [`ARRAY_CHUNK`] pages with a chance to
/// reschedule between them: the kernel's own loop over a 2^20-page array
/// never yields.
fn call(
    api: Api,
    mode: CacheMode,
    blocks: &[Block],
    array: &mut [PagePtr],
    skip_first: bool,
) -> Result {
    match api {
        Api::Array => {
            let from = usize::from(skip_first).min(array.len());
            for chunk in array[from..].chunks_mut(ARRAY_CHUNK) {
                let n = c_int::try_from(chunk.len()).map_err(|_| EINVAL)?;
                let p = chunk.as_mut_ptr();
                // SAFETY: `chunk` holds `n` pages this module owns.
                to_result(unsafe {
                    match mode {
                        CacheMode::Wc => ffi::set_pages_array_wc(p, n),
                        CacheMode::UcMinus => ffi::set_pages_array_uc(p, n),
                        CacheMode::Wb => ffi::set_pages_array_wb(p, n),
                        _ => return Err(EINVAL),
                    }
                })?;
                resched();
            }
            Ok(())
        }
        Api::Pages | Api::Memory => {
            for (i, b) in blocks.iter().enumerate() {
                // The first page of the first block is left out with
                // `skip_first`: the call starts one page later.
                let skip = usize::from(skip_first && i == 0);
                call_range(api, mode, b, skip, b.len() - skip)?;
                resched();
            }
            Ok(())
        }
    }
}

/// `set_pages_*` or `set_memory_*` (`api`) for `mode` on the `n` pages of
/// `b` from its page `from` on (nothing if `n` is 0).
fn call_range(api: Api, mode: CacheMode, b: &Block, from: usize, n: usize) -> Result {
    if n == 0 || from + n > b.len() {
        return if n == 0 { Ok(()) } else { Err(EINVAL) };
    }
    let page = b.page(from);
    let addr = (b.addr() + (from << 12)) as c_ulong;
    let n = n as c_int;
    // SAFETY: the pages are ours (`from + n` is within the block);
    // `set_pages_*` and `set_memory_*` change only these pages' direct map
    // (and its aliases, which CPA keeps in sync).
    to_result(unsafe {
        match (api, mode) {
            (Api::Pages, CacheMode::UcMinus) => ffi::set_pages_uc(page, n),
            (Api::Pages, CacheMode::Wb) => ffi::set_pages_wb(page, n),
            (Api::Memory, CacheMode::Wc) => ffi::set_memory_wc(addr, n),
            (Api::Memory, CacheMode::UcMinus) => ffi::set_memory_uc(addr, n),
            (Api::Memory, CacheMode::Wb) => ffi::set_memory_wb(addr, n),
            _ => return Err(EINVAL),
        }
    })
}

/// A page whose entry is not what a transition should have left.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Mismatch {
    /// The page's direct-map address.
    pub(crate) addr: usize,
    /// The entry through the paravirt hook (0 if not mapped).
    pub(crate) pv: u64,
    /// The entry as stored (0 if not mapped).
    pub(crate) raw: u64,
    /// The mode the transition asked for.
    pub(crate) want: CacheMode,
}

/// The mode the kernel really gives a `req` mapping: the PAT entry at the
/// index its own translation (`cachemode2protval()`) picks.
pub(crate) fn effective(req: CacheMode) -> Option<CacheMode> {
    // SAFETY: `cachemode2protval()` is a pure table lookup.
    let bits = unsafe { bindings::cachemode2protval(req as u32) } as u64;
    accessor::pat().mode(pat_index(bits, Level::K4))
}

/// What a check expects of every entry it reads: computed once per batch,
/// so that a page costs only its lookup and decoding.
pub(crate) struct Expect {
    want: CacheMode,
    /// Bit `i` is set when PAT index `i` is the mode the kernel gives
    /// `want`: a page then costs a few bit operations.
    ok_indices: u8,
}

impl Expect {
    /// Entries that should have the mode the kernel gives `want`.
    pub(crate) fn new(want: CacheMode) -> Self {
        let pat = accessor::pat();
        let mode = effective(want);
        let ok_indices = (0..8u8)
            .filter(|&i| mode.is_some() && pat.mode(i) == mode)
            .fold(0, |bits, i| bits | (1 << i));
        Expect { want, ok_indices }
    }

    /// Checks through the accessor that the entry mapping `addr` is
    /// present and has the expected cache mode.
    pub(crate) fn check(&self, addr: usize) -> core::result::Result<(), Mismatch> {
        match accessor::lookup(addr as u64) {
            Some(found) => self.check_raw(addr, &found, found.raw),
            None => Err(self.mismatch(addr, 0, 0)),
        }
    }

    fn mismatch(&self, addr: usize, pv: u64, raw: u64) -> Mismatch {
        Mismatch {
            addr,
            pv,
            raw,
            want: self.want,
        }
    }

    /// Checks the entry value `raw` of `found`'s level, mapping `addr`.
    fn check_raw(
        &self,
        addr: usize,
        found: &Found,
        raw: u64,
    ) -> core::result::Result<(), Mismatch> {
        let pv = accessor::pv_val(raw, found.level);
        let present = pv & 1 != 0;
        if present && self.ok_indices & (1 << pat_index(pv, found.level)) != 0 {
            Ok(())
        } else {
            Err(self.mismatch(addr, pv, raw))
        }
    }

    /// Checks the `pages` pages from `addr` on; returns how many failed and
    /// the first failure. One page-table walk serves every page the found
    /// entry's table covers: the following 4K entries are read in place,
    /// a 2M or 1G entry stands for all of its pages.
    pub(crate) fn check_range(&self, addr: usize, pages: usize) -> (u64, Option<Mismatch>) {
        let mut bad = 0;
        let mut first = None;
        let mut i = 0;
        let mut misses = 0usize;
        while i < pages {
            let at = addr + (i << 12);
            let Some(found) = accessor::lookup(at as u64) else {
                bad += 1;
                first.get_or_insert(self.mismatch(at, 0, 0));
                i += 1;
                misses += 1;
                // A page at a time here: yield as often as per table.
                if misses % 512 == 0 {
                    resched();
                }
                continue;
            };
            // Pages up to the end of what this walk's table (4K: 512
            // entries, 2 MiB) or entry (2M, 1G) maps.
            let span = match found.level {
                Level::K4 => 512 << 12,
                l => l.size() as usize,
            };
            let left_in_table = (span - (at & (span - 1))) >> 12;
            let n = left_in_table.min(pages - i);
            // The 4K entries are read RUN at a time, in one no-fault copy
            // each (an unreadable run reads as not present).
            const RUN: usize = 32;
            let mut run = [0u64; RUN];
            for j in 0..n {
                let raw = if found.level == Level::K4 {
                    if j % RUN == 0 {
                        let len = RUN.min(n - j);
                        // SAFETY: `j + len <= n <= left_in_table`: the run
                        // stays within the table, and the mapping is ours
                        // and live.
                        if !unsafe { found.raw_run(j, &mut run[..len]) } {
                            run[..len].fill(0);
                        }
                    }
                    run[j % RUN]
                } else {
                    found.raw
                };
                if let Err(m) = self.check_raw(at + (j << 12), &found, raw) {
                    bad += 1;
                    first.get_or_insert(m);
                }
            }
            i += n;
            // One page-table page (or large entry) at a time.
            resched();
        }
        (bad, first)
    }
}

/// Pages owned as blocks, with the page-pointer array of the array API.
///
/// Both vectors are kvmalloc'd and, through [`PageSet::with_capacity`],
/// allocated once at their exact size: no doubling, so no order-11
/// kmalloc request for a 2^20-page set.
///
/// # Invariants
///
/// `array` lists every page of `blocks`, in order. `changed` is `Some`
/// exactly when the pages may not be WB: between a successful non-WB call
/// and the WB call that undoes it, which `Drop` makes if needed.
pub(crate) struct PageSet {
    blocks: KVVec<Block>,
    array: KVVec<PagePtr>,
    changed: Option<Api>,
}

// SAFETY: the set owns its pages; the pointers in `array` are to them.
unsafe impl Send for PageSet {}

impl PageSet {
    /// An empty set with room for `pages` pages in `blocks` blocks.
    pub(crate) fn with_capacity(pages: usize, blocks: usize) -> Result<Self> {
        Ok(PageSet {
            blocks: KVVec::with_capacity(blocks, GFP_KERNEL)?,
            array: KVVec::with_capacity(pages, GFP_KERNEL)?,
            changed: None,
        })
    }

    /// Adds `block` (WB) to the set; allocates only past the capacity.
    pub(crate) fn push(&mut self, block: Block) -> Result {
        debug_assert!(self.changed.is_none());
        self.array.reserve(block.len(), GFP_KERNEL)?;
        self.blocks.reserve(1, GFP_KERNEL)?;
        for i in 0..block.len() {
            self.array.push(block.page(i), GFP_KERNEL)?;
        }
        self.blocks.push(block, GFP_KERNEL)?;
        Ok(())
    }

    /// Allocates `orders` as blocks; `-ENOMEM` if memory runs out.
    pub(crate) fn alloc(orders: impl Iterator<Item = u32>) -> Result<Self> {
        let mut set = PageSet::with_capacity(0, 0)?;
        for order in orders {
            set.push(Block::alloc(order)?)?;
            resched();
        }
        Ok(set)
    }

    /// Allocates an object of `pages` pages in blocks of at most
    /// `max_order` (as [`crate::pure::config::object_orders`]), its vectors at
    /// their exact size first; `-ENOMEM` if memory runs out.
    pub(crate) fn alloc_object(pages: u64, max_order: u64) -> Result<Self> {
        let blocks = crate::pure::config::object_blocks(pages, max_order);
        let mut set = PageSet::with_capacity(pages as usize, blocks as usize)?;
        for order in crate::pure::config::object_orders(pages, max_order) {
            set.push(Block::alloc(order)?)?;
            resched();
        }
        Ok(set)
    }

    /// How many pages the set holds.
    pub(crate) fn pages(&self) -> usize {
        self.array.len()
    }

    /// The blocks of the set.
    pub(crate) fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The direct-map address of the set's first page (0 if empty).
    pub(crate) fn first_addr(&self) -> usize {
        self.blocks.first().map_or(0, Block::addr)
    }

    /// Makes every page `mode` through `api`. A failed call may have
    /// changed some pages (an earlier block, or PTEs `_set_pages_array()`
    /// does not undo), so a non-WB request marks the set changed before
    /// it is made: `Drop` then restores WB on any outcome (WB calls on
    /// pages that were not changed are harmless: RAM memtypes are page
    /// flags, and freeing a WB one is a no-op).
    pub(crate) fn set(&mut self, api: Api, mode: CacheMode) -> Result {
        self.set_inner(api, mode, false)
    }

    /// As [`PageSet::set`] to a non-WB `mode`, but the set's first page is
    /// left out of the call: the `inject_miss` negative control, a
    /// transition made wrong on purpose on a page the module owns. The
    /// page stays WB; the set is marked changed, so its next WB transition
    /// (or `Drop`) covers it like every other page.
    pub(crate) fn set_skipping_first(&mut self, api: Api, mode: CacheMode) -> Result {
        if mode == CacheMode::Wb {
            return Err(EINVAL);
        }
        self.set_inner(api, mode, true)
    }

    /// Makes the set's first page `mode` after
    /// [`PageSet::set_skipping_first`]: the call that was left out.
    pub(crate) fn repair_first(&mut self, api: Api, mode: CacheMode) -> Result {
        if mode == CacheMode::Wb || self.array.is_empty() {
            return Err(EINVAL);
        }
        self.changed = Some(api);
        match api {
            Api::Array => call(api, mode, &[], &mut self.array[..1], false),
            Api::Pages | Api::Memory => match self.blocks.first() {
                Some(b) => call_range(api, mode, b, 0, 1),
                None => Err(EINVAL),
            },
        }
    }

    fn set_inner(&mut self, api: Api, mode: CacheMode, skip_first: bool) -> Result {
        if mode != CacheMode::Wb {
            self.changed = Some(api);
        }
        call(api, mode, &self.blocks, &mut self.array, skip_first)?;
        if mode == CacheMode::Wb {
            self.changed = None;
        }
        Ok(())
    }

    /// Asks `api` for `mode` again, expecting the kernel to refuse (a
    /// second WC request on pages that are not WB); `Ok` if it accepted.
    pub(crate) fn set_again(&mut self, api: Api, mode: CacheMode) -> Result {
        call(api, mode, &self.blocks, &mut self.array, false)
    }

    /// Checks every page against `want`; returns how many failed and the
    /// first failure.
    pub(crate) fn verify(&self, want: CacheMode) -> (u64, Option<Mismatch>) {
        check_blocks(&self.blocks, want)
    }

    /// Takes the blocks out of a set that is not WB, handing the duty to
    /// restore them to the caller (the GEM pool wraps each in an entry
    /// that restores it when evicted or dropped).
    pub(crate) fn release_bound(mut self) -> KVVec<Block> {
        self.changed = None;
        core::mem::replace(&mut self.blocks, KVVec::new())
    }

    /// Takes the blocks out of a set that is WB (`None` if it is not).
    pub(crate) fn into_blocks(mut self) -> Option<KVVec<Block>> {
        if self.changed.is_some() {
            return None;
        }
        Some(core::mem::replace(&mut self.blocks, KVVec::new()))
    }
}

/// Checks every page of `blocks` against `want` (one walk per page-table
/// page, a chance to reschedule after each); how many failed, and the
/// first failure.
pub(crate) fn check_blocks(blocks: &[Block], want: CacheMode) -> (u64, Option<Mismatch>) {
    let expect = Expect::new(want);
    let mut bad = 0;
    let mut first = None;
    for b in blocks {
        let (n, f) = expect.check_range(b.addr(), b.len());
        bad += n;
        first = first.or(f);
    }
    (bad, first)
}

impl Drop for PageSet {
    /// A set dropped while it may not be WB (a run stopped or failed
    /// halfway) is made WB, and every page checked through the accessor
    /// before its block is freed: a block the call or the check finds not
    /// WB is leaked, never freed. Then the blocks are freed, with a chance
    /// to reschedule every [`FREE_BATCH`] of them.
    fn drop(&mut self) {
        if let Some(api) = self.changed {
            self.restore(api);
        }
        let mut n = 0usize;
        while let Some(b) = pop(&mut self.blocks) {
            drop(b);
            n += 1;
            if n % FREE_BATCH == 0 {
                resched();
            }
        }
    }
}

/// Blocks freed between two chances to reschedule.
const FREE_BATCH: usize = 512;

impl PageSet {
    /// Makes the set WB again through `api`, checks every page, and leaks
    /// (takes out of the set) every block that is not WB; what stays is
    /// WB and may be freed.
    fn restore(&mut self, api: Api) {
        self.changed = None;
        let r = call(api, CacheMode::Wb, &self.blocks, &mut self.array, false);
        if let Err(e) = r {
            pr_err_rl!("cannot restore {} page(s) to WB: {:?}\n", self.pages(), e);
            while let Some(b) = pop(&mut self.blocks) {
                b.leak();
            }
            return;
        }
        let expect = Expect::new(CacheMode::Wb);
        // The blocks found WB are swapped into a prefix of `kept`; the
        // rest are leaked.
        let mut kept = 0;
        for i in 0..self.blocks.len() {
            let b = &self.blocks[i];
            if expect.check_range(b.addr(), b.len()).0 == 0 {
                self.blocks.swap(kept, i);
                kept += 1;
            }
        }
        while self.blocks.len() > kept {
            if let Some(b) = pop(&mut self.blocks) {
                b.leak();
            }
        }
    }
}

/// Removes the last element of `v` (the 6.12 `Vec` has no `pop`).
pub(crate) fn pop<T, A: Allocator>(v: &mut Vec<T, A>) -> Option<T> {
    let n = v.len().checked_sub(1)?;
    // SAFETY: element `n` is initialised; shrinking the length first hands
    // its ownership to the read.
    unsafe {
        v.set_len(n);
        Some(v.as_mut_ptr().add(n).read())
    }
}

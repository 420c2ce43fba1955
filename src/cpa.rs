// SPDX-License-Identifier: GPL-2.0

//! Pages the exerciser owns, the CPA calls it makes on them, and the check
//! of every page through the accessor.
//!
//! The exerciser changes the attributes of nothing else: a [`Block`] comes
//! from the page allocator and a [`PageSet`] owns its blocks. A `PageSet`
//! that was made WC or UC- puts its pages back to WB when dropped, before
//! they are freed; a page that cannot be put back is leaked, never freed.

use core::ptr::NonNull;

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::error::{code::*, to_result, Result};
use kernel::ffi::{c_int, c_ulong, c_void};
use kernel::prelude::*;

use crate::accessor::{self, Found};
use crate::attrs::{pat_index, CacheMode, Level};
use crate::ffi;

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
    pub(crate) fn fill(&self, byte: u8) {
        // SAFETY: the block's `len()` pages are ours and contiguous in the
        // direct map.
        unsafe { core::ptr::write_bytes(self.addr() as *mut u8, byte, self.len() << 12) };
    }

    /// Gives the pages up without freeing them: for pages that could not
    /// be made WB again, which must never go back to the allocator.
    pub(crate) fn leak(self) {
        pr_err!(
            "leaking {} page(s) at {:#x}: not write-back\n",
            self.len(),
            self.addr()
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
/// page pointers) for [`Api::Array`].
fn call(api: Api, mode: CacheMode, blocks: &[Block], array: &mut [PagePtr]) -> Result {
    match api {
        Api::Array => {
            let n = c_int::try_from(array.len()).map_err(|_| EINVAL)?;
            let p = array.as_mut_ptr();
            // SAFETY: `array` holds `n` pages this module owns.
            to_result(unsafe {
                match mode {
                    CacheMode::Wc => ffi::set_pages_array_wc(p, n),
                    CacheMode::UcMinus => ffi::set_pages_array_uc(p, n),
                    CacheMode::Wb => ffi::set_pages_array_wb(p, n),
                    _ => return Err(EINVAL),
                }
            })
        }
        Api::Pages | Api::Memory => {
            for b in blocks {
                let n = b.len() as c_int;
                // SAFETY: the block's pages are ours; `set_pages_*` and
                // `set_memory_*` change only these pages' direct map (and
                // its aliases, which CPA keeps in sync).
                to_result(unsafe {
                    match (api, mode) {
                        (Api::Pages, CacheMode::UcMinus) => ffi::set_pages_uc(b.page(0), n),
                        (Api::Pages, CacheMode::Wb) => ffi::set_pages_wb(b.page(0), n),
                        (Api::Memory, CacheMode::Wc) => ffi::set_memory_wc(b.addr() as c_ulong, n),
                        (Api::Memory, CacheMode::UcMinus) => {
                            ffi::set_memory_uc(b.addr() as c_ulong, n)
                        }
                        (Api::Memory, CacheMode::Wb) => ffi::set_memory_wb(b.addr() as c_ulong, n),
                        _ => return Err(EINVAL),
                    }
                })?;
            }
            Ok(())
        }
    }
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
        while i < pages {
            let at = addr + (i << 12);
            let Some(found) = accessor::lookup(at as u64) else {
                bad += 1;
                first.get_or_insert(self.mismatch(at, 0, 0));
                i += 1;
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
            for j in 0..n {
                let raw = if found.level == Level::K4 {
                    // SAFETY: `j` stays within the table (`left_in_table`)
                    // and the mapping is ours and live.
                    unsafe { found.raw_at(j) }
                } else {
                    found.raw
                };
                if let Err(m) = self.check_raw(at + (j << 12), &found, raw) {
                    bad += 1;
                    first.get_or_insert(m);
                }
            }
            i += n;
        }
        (bad, first)
    }
}

/// Pages owned as blocks, with the page-pointer array of the array API.
///
/// # Invariants
///
/// `array` lists every page of `blocks`, in order. `changed` is `Some`
/// exactly when the pages may not be WB: between a successful non-WB call
/// and the WB call that undoes it, which `Drop` makes if needed.
pub(crate) struct PageSet {
    blocks: KVec<Block>,
    array: KVec<PagePtr>,
    changed: Option<Api>,
}

// SAFETY: the set owns its pages; the pointers in `array` are to them.
unsafe impl Send for PageSet {}

impl PageSet {
    /// An empty set.
    pub(crate) fn new() -> Self {
        PageSet {
            blocks: KVec::new(),
            array: KVec::new(),
            changed: None,
        }
    }

    /// Adds `block` (WB) to the set.
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
        let mut set = PageSet::new();
        for order in orders {
            set.push(Block::alloc(order)?)?;
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

    /// Makes every page `mode` through `api`. A failed call may have
    /// changed some pages (an earlier block, or PTEs `_set_pages_array()`
    /// does not undo), so a non-WB request marks the set changed before
    /// it is made: `Drop` then restores WB on any outcome (WB calls on
    /// pages that were not changed are harmless: RAM memtypes are page
    /// flags, and freeing a WB one is a no-op).
    pub(crate) fn set(&mut self, api: Api, mode: CacheMode) -> Result {
        if mode != CacheMode::Wb {
            self.changed = Some(api);
        }
        call(api, mode, &self.blocks, &mut self.array)?;
        if mode == CacheMode::Wb {
            self.changed = None;
        }
        Ok(())
    }

    /// Asks `api` for `mode` again, expecting the kernel to refuse (a
    /// second WC request on pages that are not WB); `Ok` if it accepted.
    pub(crate) fn set_again(&mut self, api: Api, mode: CacheMode) -> Result {
        call(api, mode, &self.blocks, &mut self.array)
    }

    /// Checks every page against `want`; returns how many failed and the
    /// first failure.
    pub(crate) fn verify(&self, want: CacheMode) -> (u64, Option<Mismatch>) {
        let expect = Expect::new(want);
        let mut bad = 0;
        let mut first = None;
        for b in self.blocks.iter() {
            let (n, f) = expect.check_range(b.addr(), b.len());
            bad += n;
            first = first.or(f);
        }
        (bad, first)
    }

    /// Takes the blocks out of a set that is not WB, handing the duty to
    /// restore them to the caller (the GEM pool wraps each in an entry
    /// that restores it when evicted or dropped).
    pub(crate) fn release_bound(mut self) -> KVec<Block> {
        self.changed = None;
        core::mem::take(&mut self.blocks)
    }

    /// Takes the blocks out of a set that is WB (`None` if it is not).
    pub(crate) fn into_blocks(mut self) -> Option<KVec<Block>> {
        if self.changed.is_some() {
            return None;
        }
        Some(core::mem::take(&mut self.blocks))
    }
}

impl Drop for PageSet {
    fn drop(&mut self) {
        let Some(api) = self.changed else {
            return;
        };
        if let Err(e) = call(api, CacheMode::Wb, &self.blocks, &mut self.array) {
            pr_err!("cannot restore {} page(s) to WB: {:?}\n", self.pages(), e);
            while let Some(b) = pop(&mut self.blocks) {
                b.leak();
            }
        }
    }
}

/// Removes the last element of `v` (the 6.12 `KVec` has no `pop`).
pub(crate) fn pop<T>(v: &mut KVec<T>) -> Option<T> {
    let n = v.len().checked_sub(1)?;
    // SAFETY: element `n` is initialised; shrinking the length first hands
    // its ownership to the read.
    unsafe {
        v.set_len(n);
        Some(v.as_mut_ptr().add(n).read())
    }
}

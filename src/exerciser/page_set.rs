// SPDX-License-Identifier: GPL-2.0

//! Pages the exerciser owns and changes: a [`PageSet`] makes its pages WC
//! or UC- through one of the CPA interfaces, and puts them back to WB
//! before they are freed, whatever happens; a page that cannot be put back
//! is leaked, never freed.

use kernel::alloc::KVVec;
use kernel::error::{code::*, Result};

use crate::exerciser::verify::{self, Expect, Mismatch};
use crate::pure::attrs::CacheMode;
use crate::pure::config::{
    object_blocks, object_orders, scatter_index, ARRAY_CHUNK, SCATTER_ORDER,
};
use crate::sys::log::pr_err_rl;
use crate::sys::page::{Block, Pages};
use crate::sys::{cpa, mem, time};

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

/// `set_pages_*` or `set_memory_*` (`api`) for `mode` on the `n` pages of
/// `b` from its page `from` on (nothing if `n` is 0).
fn call_range(api: Api, mode: CacheMode, b: &Block, from: usize, n: usize) -> Result {
    match (api, n) {
        (_, 0) => Ok(()),
        (Api::Pages, _) => cpa::set_pages(b, from, n, mode),
        (Api::Memory, _) => cpa::set_memory(b, from, n, mode),
        (Api::Array, _) => Err(EINVAL),
    }
}

/// Calls `api` for `mode` on every page of `pages`. With `skip_first`, the
/// first page is left out of the call (the `inject_miss` negative
/// control).
///
/// Arrays go in chunks of [`ARRAY_CHUNK`] pages with a chance to
/// reschedule between them: the kernel's own loop over a 2^20-page array
/// never yields.
fn call(api: Api, mode: CacheMode, pages: &mut Pages, skip_first: bool) -> Result {
    match api {
        Api::Array => {
            let from = usize::from(skip_first).min(pages.len());
            let n = pages.len() - from;
            for chunk in pages.array_mut(from, n)?.chunks_mut(ARRAY_CHUNK) {
                cpa::set_pages_array(chunk, mode)?;
                time::resched();
            }
            Ok(())
        }
        Api::Pages | Api::Memory => {
            for (i, b) in pages.blocks().iter().enumerate() {
                // The first page of the first block is left out with
                // `skip_first`: the call starts one page later.
                let skip = usize::from(skip_first && i == 0);
                call_range(api, mode, b, skip, b.len() - skip)?;
                time::resched();
            }
            Ok(())
        }
    }
}

/// Pages owned as blocks, changed through one CPA interface at a time.
///
/// # Invariants
///
/// `changed` is `Some` exactly when the pages may not be WB: between a
/// non-WB call (successful or not) and the WB call that undoes it, which
/// `Drop` makes if needed.
pub(crate) struct PageSet {
    pages: Pages,
    changed: Option<Api>,
}

impl PageSet {
    /// An empty set with room for `pages` pages in `blocks` blocks.
    pub(crate) fn with_capacity(pages: usize, blocks: usize) -> Result<Self> {
        Ok(PageSet {
            pages: Pages::with_capacity(pages, blocks)?,
            changed: None,
        })
    }

    /// Adds `block` (WB) to the set; allocates only past the capacity.
    pub(crate) fn push(&mut self, block: Block) -> Result {
        if self.changed.is_some() {
            return Err(EBUSY);
        }
        self.pages.push(block)
    }

    /// Allocates `orders` as blocks; `-ENOMEM` if memory runs out.
    pub(crate) fn alloc(orders: impl Iterator<Item = u32>) -> Result<Self> {
        let mut set = PageSet::with_capacity(0, 0)?;
        for order in orders {
            set.push(Block::alloc(order)?)?;
            time::resched();
        }
        Ok(set)
    }

    /// Allocates an object of `pages` pages in blocks of at most
    /// `max_order` (as [`object_orders`]), its vectors at their exact size
    /// first; `-ENOMEM` if memory runs out.
    pub(crate) fn alloc_object(pages: u64, max_order: u64) -> Result<Self> {
        let blocks = object_blocks(pages, max_order);
        let mut set = PageSet::with_capacity(pages as usize, blocks as usize)?;
        for order in object_orders(pages, max_order) {
            set.push(Block::alloc(order)?)?;
            time::resched();
        }
        Ok(set)
    }

    /// Allocates `pages` single pages, each from a 2 MiB block of its own
    /// (as [`Block::alloc_page_of`], at [`scatter_index`]): no two are
    /// neighbours or share a large page of the direct map. `-ENOMEM` if
    /// no free 2 MiB block is at hand for one of them.
    pub(crate) fn alloc_scattered(pages: u64) -> Result<Self> {
        let mut set = PageSet::with_capacity(pages as usize, pages as usize)?;
        for i in 0..pages {
            set.push(Block::alloc_page_of(SCATTER_ORDER, scatter_index(i))?)?;
            time::resched();
        }
        Ok(set)
    }

    /// How many pages the set holds.
    pub(crate) fn pages(&self) -> usize {
        self.pages.len()
    }

    /// The blocks of the set.
    pub(crate) fn blocks(&self) -> &[Block] {
        self.pages.blocks()
    }

    /// The direct-map address of the set's first page (0 if empty).
    pub(crate) fn first_addr(&self) -> usize {
        self.blocks().first().map_or(0, Block::addr)
    }

    /// The direct-map address of the set's last page (0 if empty).
    pub(crate) fn last_addr(&self) -> usize {
        self.blocks()
            .last()
            .map_or(0, |b| b.addr() + ((b.len() - 1) << 12))
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

    /// Gives every page of the set a 4K entry of its own in the direct
    /// map: in each 2 MiB that a block covers (blocks are naturally
    /// aligned, so every 512th page from a block's start is the first of
    /// one), one page goes to UC- and back to WB through `api`. A call
    /// that covers a large entry only in part makes the kernel split it,
    /// and `set_pages_*`/`set_memory_*` do not join split entries again.
    /// For the benchmarks, whose figures should not depend on whether the
    /// allocator's block was still mapped large. `EBUSY` on a set that
    /// may not be WB, `EINVAL` for the array interface; a failed call
    /// leaves the set changed, for `Drop` to restore.
    pub(crate) fn split_large(&mut self, api: Api) -> Result {
        if self.changed.is_some() {
            return Err(EBUSY);
        }
        if api == Api::Array {
            return Err(EINVAL);
        }
        self.changed = Some(api);
        for b in self.pages.blocks() {
            for from in (0..b.len()).step_by(512) {
                call_range(api, CacheMode::UcMinus, b, from, 1)?;
                call_range(api, CacheMode::Wb, b, from, 1)?;
            }
            time::resched();
        }
        self.changed = None;
        Ok(())
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
        if mode == CacheMode::Wb || self.pages.len() == 0 {
            return Err(EINVAL);
        }
        self.changed = Some(api);
        match api {
            Api::Array => cpa::set_pages_array(self.pages.array_mut(0, 1)?, mode),
            Api::Pages | Api::Memory => match self.pages.blocks().first() {
                Some(b) => call_range(api, mode, b, 0, 1),
                None => Err(EINVAL),
            },
        }
    }

    fn set_inner(&mut self, api: Api, mode: CacheMode, skip_first: bool) -> Result {
        if mode != CacheMode::Wb {
            self.changed = Some(api);
        }
        call(api, mode, &mut self.pages, skip_first)?;
        if mode == CacheMode::Wb {
            self.changed = None;
        }
        Ok(())
    }

    /// Asks `api` for `mode` again, expecting the kernel to refuse (a
    /// second WC request on pages that are not WB); `Ok` if it accepted.
    pub(crate) fn set_again(&mut self, api: Api, mode: CacheMode) -> Result {
        call(api, mode, &mut self.pages, false)
    }

    /// Checks every page against `want`; returns how many failed and the
    /// first failure.
    pub(crate) fn verify(&self, want: CacheMode) -> (u64, Option<Mismatch>) {
        verify::check_blocks(self.blocks(), want)
    }

    /// Takes the blocks out of a set that is not WB, handing the duty to
    /// restore them to the caller (the GEM pool wraps each in an entry
    /// that restores it when evicted or dropped).
    pub(crate) fn release_bound(mut self) -> KVVec<Block> {
        self.changed = None;
        core::mem::replace(&mut self.pages, Pages::new()).into_blocks()
    }

    /// Takes the blocks out of a set that is WB (`None` if it is not).
    pub(crate) fn into_blocks(mut self) -> Option<KVVec<Block>> {
        if self.changed.is_some() {
            return None;
        }
        Some(core::mem::replace(&mut self.pages, Pages::new()).into_blocks())
    }
}

/// Blocks freed between two chances to reschedule.
const FREE_BATCH: usize = 512;

impl Drop for PageSet {
    /// A set dropped while it may not be WB (a run stopped or failed
    /// halfway) is made WB, and every page checked through the accessor
    /// before its block is freed: a block the call or the check finds not
    /// WB is leaked, never freed. Then the blocks are freed, with a chance
    /// to reschedule every [`FREE_BATCH`] of them.
    fn drop(&mut self) {
        let pages = core::mem::replace(&mut self.pages, Pages::new());
        let mut pages = pages;
        // WB blocks need no check; after a restore every block is checked.
        let check = match self.changed.take() {
            None => None,
            Some(api) => {
                if let Err(e) = call(api, CacheMode::Wb, &mut pages, false) {
                    pr_err_rl!("cannot restore {} page(s) to WB: {:?}\n", pages.len(), e);
                    for b in pages.into_blocks() {
                        b.leak();
                    }
                    return;
                }
                Some(Expect::new(CacheMode::Wb))
            }
        };
        let mut blocks = pages.into_blocks();
        let mut n = 0usize;
        while let Some(b) = mem::pop(&mut blocks) {
            match &check {
                Some(expect)
                    if expect.check_block(&b).0 != 0
                        || verify::check_record(&b, CacheMode::Wb).0 != 0 =>
                {
                    b.leak()
                }
                _ => drop(b),
            }
            n += 1;
            if n % FREE_BATCH == 0 {
                time::resched();
            }
        }
    }
}

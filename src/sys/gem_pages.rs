// SPDX-License-Identifier: GPL-2.0

//! The pages of one GEM object that user space maps.
//!
//! An [`ObjPages`] is a set of pages from the page allocator, bound WC or
//! UC- with one `set_pages_array_wc/uc()` call (as TTM's pool binds a run
//! of new pages), each checked through the accessor. It knows the range of
//! the device file where its pages are mapped, and gives them back in the
//! only safe order:
//!
//! 1. zap the user mappings of that range (`unmap_mapping_range()`, as
//!    TTM's `ttm_bo_unmap_virtual()`): no user PTE maps the pages any more,
//!    and a later access faults;
//! 2. `set_pages_array_wb()`, then each page checked WB through the
//!    accessor;
//! 3. free the pages that are WB; leak (never free) any that is not.
//!
//! Both [`ObjPages::evict`] and `Drop` do this, so no path frees a page a
//! user PTE still maps.

use kernel::error::{code::*, Result};

use crate::pure::attrs::CacheMode;
use crate::sys::cpa;
use crate::sys::expect::Expect;
use crate::sys::miscdev::{self, Fault, FaultResult, MapFile};
use crate::sys::page::{Block, Pages};
use crate::sys::time::now_ns;

/// What checking pages through the accessor found.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    /// Pages checked.
    pub(crate) pages: u64,
    /// Pages whose direct-map entry was not in the expected mode (or not
    /// found).
    pub(crate) wrong: u64,
}

/// What giving the pages back did.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Released {
    /// `unmap_mapping_range()` calls made (one per release).
    pub(crate) zaps: u64,
    /// The WB check after `set_pages_array_wb()`.
    pub(crate) checked: Checked,
    /// Pages not WB again, leaked.
    pub(crate) leaked: u64,
    /// Time in the zap, ns.
    pub(crate) zap_ns: u64,
}

/// The pages of one object, mapped to user space at a range of a device
/// file.
///
/// # Invariants
///
/// `pages` are order-0 blocks owned by this value; if `bound` they are in
/// the cache mode they were populated with (set by one array call), else
/// WB. User PTEs may map them only inside the bytes `[start, start + len)`
/// of `map`'s file, which this value zaps before it changes their caching
/// or frees them.
pub(crate) struct ObjPages {
    pages: Pages,
    bound: bool,
    map: MapFile,
    start: u64,
    len: u64,
}

/// Whether the direct-map entry at `addr` reads the mode the kernel gives
/// `mode`, through the accessor (paravirt view): [`Expect`].
fn mapped_as(addr: usize, mode: CacheMode) -> bool {
    // The mode the kernel really gives `mode` (UC- for WC without PAT).
    Expect::new(mode).check(addr).is_ok()
}

/// The one `set_pages_array_*` call for `mode` over all of `pages`.
fn array_call(pages: &mut Pages, mode: CacheMode) -> Result {
    let n = pages.len();
    cpa::set_pages_array(pages.array_mut(0, n)?, mode)
}

impl ObjPages {
    /// Allocates `n` zeroed pages, binds them in `mode` (WC or UC-) with one
    /// array call and checks each through the accessor. They will be
    /// mapped at `[start, start + len)` of `map`'s file. `ENOMEM` if pages
    /// run out, the CPA call's error if it fails (the pages are then made
    /// WB and freed, or leaked if they cannot be).
    pub(crate) fn populate(
        n: usize,
        mode: CacheMode,
        map: MapFile,
        start: u64,
        len: u64,
    ) -> Result<(ObjPages, Checked)> {
        if !matches!(mode, CacheMode::Wc | CacheMode::UcMinus) {
            return Err(EINVAL);
        }
        // INVARIANT: nothing bound yet: the pages are WB.
        let mut this = ObjPages {
            pages: Pages::with_capacity(n, n)?,
            bound: false,
            map,
            start,
            len,
        };
        for _ in 0..n {
            let b = Block::alloc(0)?;
            // The page reaches user space: no old contents. Zeroed through
            // the direct map while it is still WB.
            b.fill(0);
            this.pages.push(b)?;
        }
        // The pages may be partly changed if the call fails: `Drop` then
        // makes them WB.
        this.bound = true;
        array_call(&mut this.pages, mode)?;
        let checked = this.check(mode);
        Ok((this, checked))
    }

    /// Inserts page `i` at the address of `fault` with the cache mode
    /// `mode` (`vmf_insert_pfn_prot()` with the vma's protection and
    /// `pgprot_writecombine()` / `pgprot_noncached()`). Under PAT the
    /// kernel replaces the cache bits with the page's memtype (7.x:
    /// `pfnmap_setup_cachemode_pfn()`; 6.12: `track_pfn_insert()`), so a
    /// wrong `mode` still gives the bound mode. With `raw` (the selftests'
    /// `TEST_RAW_PTE`) the entry is written directly, as i915 writes its
    /// GTT mmaps, and keeps `mode`'s cache bits: a wrong `mode` then gives
    /// a user PTE that disagrees with the page. `SIGBUS` past the end.
    ///
    /// The user PTE this makes outlives nothing: this value zaps its range
    /// before it changes or frees the pages.
    pub(crate) fn insert(
        &self,
        fault: &mut Fault<'_>,
        i: usize,
        mode: CacheMode,
        raw: bool,
    ) -> FaultResult {
        let Some(pfn) = self.pfn(i) else {
            return FaultResult::SIGBUS;
        };
        // SAFETY: `fault` is a fault in progress in a mapping of the device
        // (`Fault`'s invariant); the frame is a page this value owns, and it
        // zaps this file range before it changes its caching or frees it.
        unsafe { miscdev::insert_pfn(fault.vmf(), pfn, mode, raw) }
    }

    /// The number of pages.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// The page frame number of page `i`.
    pub(crate) fn pfn(&self, i: usize) -> Option<u64> {
        self.pages.blocks().get(i).map(Block::pfn)
    }

    /// Checks every page's direct-map entry for `mode` through the
    /// accessor.
    pub(crate) fn check(&self, mode: CacheMode) -> Checked {
        let blocks = self.pages.blocks();
        let wrong = blocks.iter().filter(|b| !mapped_as(b.addr(), mode)).count();
        Checked {
            pages: blocks.len() as u64,
            wrong: wrong as u64,
        }
    }

    /// Zaps the user mappings, makes the pages WB, checks and frees them.
    pub(crate) fn evict(mut self) -> Released {
        self.release()
    }

    fn release(&mut self) -> Released {
        let mut r = Released::default();
        if self.pages.len() == 0 {
            return r;
        }
        // 1. No user PTE may map the pages once their caching changes or
        // they are freed.
        let t0 = now_ns();
        self.map.zap(self.start, self.len);
        r.zap_ns = now_ns().saturating_sub(t0);
        r.zaps = 1;
        let mut pages = core::mem::replace(&mut self.pages, Pages::new());
        // 2. WB again, checked page by page.
        let wb_failed = self.bound && array_call(&mut pages, CacheMode::Wb).is_err();
        self.bound = false;
        for b in pages.into_blocks() {
            r.checked.pages += 1;
            if wb_failed || !mapped_as(b.addr(), CacheMode::Wb) {
                r.checked.wrong += 1;
                r.leaked += 1;
                // Never freed (`Block::leak` says so, rate-limited).
                b.leak();
                continue;
            }
            // 3. WB, and no user PTE maps it (zapped above; faults insert
            // only pages of a live `ObjPages`): freed as the block drops.
            drop(b);
        }
        r
    }
}

impl Drop for ObjPages {
    fn drop(&mut self) {
        self.release();
    }
}

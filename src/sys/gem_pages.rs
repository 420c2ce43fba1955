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

use kernel::alloc::{flags::GFP_KERNEL, KVec};
use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_int, c_ulong, c_void};

use crate::pure::attrs::CacheMode;
use crate::sys::accessor;
use crate::sys::ffi;
use crate::sys::log::pr_err_rl;
use crate::sys::miscdev::{self, Fault, FaultResult, MapFile};
use crate::sys::time::now_ns;

extern "C" {
    fn pte_attrs_gem_page_pfn(page: *mut c_void) -> c_ulong;
    fn pte_attrs_gem_alloc_page() -> *mut c_void;
}

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
/// Every pointer of `pages` is an order-0 page from `alloc_pages()` owned
/// by this value; if `bound` they are in the cache mode they were populated
/// with (set by one array call), else WB. User PTEs may map them only inside the bytes
/// `[start, start + len)` of `map`'s file.
pub(crate) struct ObjPages {
    pages: KVec<*mut c_void>,
    bound: bool,
    map: MapFile,
    start: u64,
    len: u64,
}

// SAFETY: the pages are owned by this value; nothing ties them to a thread.
unsafe impl Send for ObjPages {}
// SAFETY: `&ObjPages` only reads page frame numbers.
unsafe impl Sync for ObjPages {}

/// The `set_pages_array_*` call for `mode` on `pages`.
fn array_call(mode: CacheMode, pages: &mut [*mut c_void]) -> Result {
    let n = c_int::try_from(pages.len()).map_err(|_| EINVAL)?;
    // A `*mut c_void` has the layout of a `*mut page`.
    let p = pages.as_mut_ptr().cast::<*mut bindings::page>();
    // SAFETY: `pages` holds `n` pages this module owns.
    let r = unsafe {
        match mode {
            CacheMode::Wc => ffi::set_pages_array_wc(p, n),
            CacheMode::UcMinus => ffi::set_pages_array_uc(p, n),
            CacheMode::Wb => ffi::set_pages_array_wb(p, n),
            _ => return Err(EINVAL),
        }
    };
    kernel::error::to_result(r)
}

/// Whether the direct-map entry of `page` reads `mode` through the
/// accessor (paravirt view).
fn page_in(page: *mut c_void, mode: CacheMode) -> bool {
    // SAFETY: `page` is a live page of the caller's (no highmem on x86_64).
    let addr = unsafe { ffi::pte_attrs_glue_page_address(page.cast()) } as u64;
    match accessor::lookup(addr) {
        Some(f) => {
            let a = accessor::decode(accessor::pv_val(f.raw, f.level), f.level);
            a.present() && a.cache_mode() == Some(mode)
        }
        None => false,
    }
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
        let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
        // INVARIANT: nothing bound yet: the pages are WB.
        let mut this = ObjPages {
            pages: KVec::new(),
            bound: false,
            map,
            start,
            len,
        };
        for _ in 0..n {
            // SAFETY: no preconditions; the page comes zeroed (it reaches
            // user space).
            let p = unsafe { pte_attrs_gem_alloc_page() };
            if p.is_null() {
                this.pages = pages;
                return Err(ENOMEM);
            }
            // Cannot fail: the capacity is there.
            pages.push(p, GFP_KERNEL)?;
        }
        this.pages = pages;
        if let Err(e) = array_call(mode, &mut this.pages) {
            // The pages may be partly changed: `Drop` makes them WB.
            this.bound = true;
            return Err(e);
        }
        this.bound = true;
        let checked = this.check(mode);
        Ok((this, checked))
    }

    /// Inserts page `i` at the address of `fault` with the cache mode
    /// `mode` (`vmf_insert_pfn_prot()` with the vma's protection and
    /// `pgprot_writecombine()` / `pgprot_noncached()`). Under PAT the
    /// kernel replaces the cache bits with the page's memtype
    /// (`track_pfn_insert()`). `SIGBUS` past the end.
    ///
    /// The user PTE this makes outlives nothing: this value zaps its range
    /// before it changes or frees the pages.
    pub(crate) fn insert(&self, fault: &mut Fault<'_>, i: usize, mode: CacheMode) -> FaultResult {
        let Some(pfn) = self.pfn(i) else {
            return FaultResult::SIGBUS;
        };
        // SAFETY: `fault` is a fault in progress in a mapping of the device
        // (`Fault`'s invariant); the frame is a page this value owns, and it
        // zaps this file range before it changes its caching or frees it.
        unsafe { miscdev::insert_pfn(fault.vmf(), pfn, mode) }
    }

    /// The number of pages.
    pub(crate) fn len(&self) -> usize {
        self.pages.len()
    }

    /// The page frame number of page `i`.
    pub(crate) fn pfn(&self, i: usize) -> Option<u64> {
        let p = *self.pages.get(i)?;
        // SAFETY: `p` is a page this value owns.
        Some(unsafe { pte_attrs_gem_page_pfn(p) } as u64)
    }

    /// Checks every page's direct-map entry for `mode` through the
    /// accessor.
    pub(crate) fn check(&self, mode: CacheMode) -> Checked {
        let wrong = self.pages.iter().filter(|&&p| !page_in(p, mode)).count();
        Checked {
            pages: self.pages.len() as u64,
            wrong: wrong as u64,
        }
    }

    /// Zaps the user mappings, makes the pages WB, checks and frees them.
    pub(crate) fn evict(mut self) -> Released {
        self.release()
    }

    fn release(&mut self) -> Released {
        let mut r = Released::default();
        if self.pages.is_empty() {
            return r;
        }
        // 1. No user PTE may map the pages once their caching changes or
        // they are freed.
        let t0 = now_ns();
        self.map.zap(self.start, self.len);
        r.zap_ns = now_ns().saturating_sub(t0);
        r.zaps = 1;
        let mut pages = core::mem::take(&mut self.pages);
        // 2. WB again, checked page by page.
        let wb_failed = self.bound && array_call(CacheMode::Wb, &mut pages).is_err();
        self.bound = false;
        for &p in pages.iter() {
            r.checked.pages += 1;
            if wb_failed || !page_in(p, CacheMode::Wb) {
                r.checked.wrong += 1;
                r.leaked += 1;
                continue;
            }
            // 3. SAFETY: an order-0 page this value owned, WB, and no user
            // PTE maps it (zapped above; faults insert only pages of a live
            // `ObjPages`).
            unsafe { bindings::__free_pages(p.cast(), 0) };
        }
        if r.leaked > 0 {
            pr_err_rl!(
                "gem: leaking {} page(s) that are not write-back (never freed)\n",
                r.leaked
            );
        }
        r
    }
}

impl Drop for ObjPages {
    fn drop(&mut self) {
        self.release();
    }
}

// SPDX-License-Identifier: GPL-2.0

//! `ioremap_*` mappings of a PCI BAR in use ([`ClaimedBar`]: a BAR of a
//! device bound to this module's PCI driver), unmapped on drop, and
//! [`MmioAlias`], the audit's deliberate WC/UC alias of one page of such a
//! BAR.
//!
//! Upstream's `kernel::io::mem` has no `ioremap_wc()`, and its
//! `kernel::pci::Bar` (`iomap_region()`) maps the whole BAR UC- with
//! `pci_iomap()`, which would make every later WC or WT mapping of the BAR
//! UC- too (PAT gives a new mapping the memtype the range has): so the
//! `ioremap_*` calls of the exerciser stay ours.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_ulong, c_void};

use crate::pure::attrs::CacheMode;
use crate::sys::pci::ClaimedBar;
use crate::sys::{expect, ffi, mem};

/// A mapping of part of a [`ClaimedBar`], which it cannot outlive.
///
/// # Invariants
///
/// `addr` is a live mapping of `len` bytes returned by an `ioremap_*`
/// call on a range inside the BAR that `'a` borrows; this value unmaps it
/// once, on drop.
pub(crate) struct IoMapping<'a> {
    addr: NonNull<c_void>,
    len: usize,
    _bar: PhantomData<&'a ClaimedBar>,
}

impl<'a> IoMapping<'a> {
    /// Maps `len` bytes of `bar` from `offset` on with `ioremap_wc`,
    /// `ioremap_uc`, `ioremap_wt` or `ioremap_cache` (for WC, UC, WT, WB);
    /// `EINVAL` for a range outside the BAR or another mode, `ENOMEM` if
    /// the kernel refused (a conflicting memtype, say), `ENODEV` once the
    /// device's removal has begun.
    pub(crate) fn new(
        bar: &'a ClaimedBar,
        offset: u64,
        len: usize,
        mode: CacheMode,
    ) -> Result<Self> {
        let end = offset.checked_add(len as u64).ok_or(EINVAL)?;
        if len == 0 || end > bar.size() || offset & 0xfff != 0 {
            return Err(EINVAL);
        }
        // No new mapping once the removal waits for the BAR's uses (one
        // that races it is unmapped before the use ends, as any).
        if bar.revoked() {
            return Err(ENODEV);
        }
        let start = bar.start() + offset;
        type Map = unsafe extern "C" fn(bindings::resource_size_t, c_ulong) -> *mut c_void;
        let map: Map = match mode {
            CacheMode::Wc => bindings::ioremap_wc,
            CacheMode::Uc => bindings::ioremap_uc,
            CacheMode::Wt => bindings::ioremap_wt,
            CacheMode::Wb => bindings::ioremap_cache,
            _ => return Err(EINVAL),
        };
        // The range is part of a prefetchable memory BAR of a PCI device
        // with memory decoding on, bound to this module's driver and in
        // use (the device stays until the use ends): the CPU may read it
        // speculatively through this mapping, as through any, and the
        // module never accesses it.
        // SAFETY: mapping such a range has no other effect.
        let addr = unsafe { map(start, len as c_ulong) };
        // A null one must never reach `iounmap()` (it warns: fault
        // injection made `ioremap_wc` fail and showed it).
        let addr = NonNull::new(addr).ok_or(ENOMEM)?;
        // INVARIANT: a live mapping of `len` bytes of the BAR.
        Ok(IoMapping {
            addr,
            len,
            _bar: PhantomData,
        })
    }

    /// The mapping's kernel virtual address.
    pub(crate) fn addr(&self) -> usize {
        self.addr.as_ptr() as usize
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Drop for IoMapping<'_> {
    fn drop(&mut self) {
        // SAFETY: the mapping is live (type invariant) and unused now.
        unsafe { bindings::iounmap(self.addr.as_ptr()) };
    }
}

/// The audit's MMIO alias: one page of a claimed BAR mapped twice, by
/// `ioremap_wc()` (the page's memtype is WC, UC- under `nopat`), and by a
/// second `ioremap_wc()` whose one PTE is then rewritten to UC: two cache
/// modes for one frame that is not RAM, an `mmio_alias` for the audit to
/// find. Both modes are uncached: never a cacheable (WB) mapping of MMIO.
///
/// `ioremap_*` alone cannot make it: every call goes through
/// `memtype_reserve()`, which hands a second mapping the memtype the range
/// already has (`ioremap_uc` over WC gives WC) or refuses it, and
/// `vmap_pfn()` needs `CONFIG_VMAP_PFN`, which only some GPU drivers
/// select. While this value lives, both `ioremap_wc()` reservations keep
/// the page's memtype WC, so no one can map it WB (a WB request over WC is
/// refused), and the BAR stays claimed. Only with the `allow_alias` module
/// parameter (test VMs only), and only on the last page of a BAR the
/// module claimed (a BAR of a device bound to its PCI driver), never on an
/// address a user gives.
///
/// # Invariants
///
/// `wc` and `uc` are live one-page `ioremap_wc()` mappings of frame `pfn`,
/// the last page of the BAR `bar` holds; `uc`'s PTE has the cache bits of
/// UC, and nothing else of it changed. Nothing reads or writes through
/// either. Both are unmapped on drop, and the lazily freed areas purged
/// from the TLBs, before `bar` is dropped.
pub(crate) struct MmioAlias {
    wc: NonNull<c_void>,
    uc: NonNull<c_void>,
    pfn: u64,
    bar: ClaimedBar,
}

// SAFETY: the mappings are owned and never accessed; `iounmap()` may be
// called from any task in process context.
unsafe impl Send for MmioAlias {}
// SAFETY: `&MmioAlias` only gives addresses and the BAR's name.
unsafe impl Sync for MmioAlias {}

/// `ioremap_wc()` of the page at `phys`, or null.
fn map_wc_page(phys: u64) -> Option<NonNull<c_void>> {
    // The caller claimed the BAR (region requested) of a device bound to
    // this module's driver; nothing accesses the mapping.
    // SAFETY: `phys` is a page of that prefetchable memory BAR; mapping
    // it WC has no other effect.
    let addr = unsafe { bindings::ioremap_wc(phys, 4096) };
    NonNull::new(addr)
}

/// `iounmap()` of `addr`.
///
/// # Safety
///
/// `addr` is a live `ioremap_*` mapping this caller owns, unmapped once.
unsafe fn unmap(addr: NonNull<c_void>) {
    // SAFETY: the caller's contract.
    unsafe { bindings::iounmap(addr.as_ptr()) };
}

impl MmioAlias {
    /// Maps the last page of `bar` WC, and again UC. `EPERM` without the
    /// `allow_alias` module parameter, `ENODEV` once the device's removal
    /// has begun, `EBUSY` if the page's memtype is not WC (UC- without
    /// PAT: someone holds it in another mode), `ENOMEM` if a mapping
    /// failed. May sleep.
    pub(crate) fn new(bar: ClaimedBar) -> Result<MmioAlias> {
        if !mem::alias_allowed() {
            return Err(EPERM);
        }
        if bar.revoked() {
            return Err(ENODEV);
        }
        let size = bar.size();
        if size < 4096 {
            return Err(EINVAL);
        }
        let phys = (bar.start() + size - 4096) & !0xfff;
        let pfn = phys >> 12;
        let wc = map_wc_page(phys).ok_or(ENOMEM)?;
        // The memtype the range got: WC asked, WC given (UC- under
        // `nopat`) unless someone holds the page in another mode.
        let want = expect::effective(CacheMode::Wc);
        if want.is_none() || expect::mode_at(wc.as_ptr() as usize) != want {
            // SAFETY: mapped just above, unmapped once.
            unsafe { unmap(wc) };
            return Err(EBUSY);
        }
        let Some(uc) = map_wc_page(phys) else {
            // SAFETY: mapped above, unmapped once.
            unsafe { unmap(wc) };
            return Err(ENOMEM);
        };
        // SAFETY: `uc` is our one-page mapping of `pfn`, made just above
        // and never accessed.
        let r = unsafe { ffi::pte_attrs_glue_retype_uc(uc.as_ptr(), pfn as c_ulong) };
        if r != 0 {
            // SAFETY: both mapped above, each unmapped once.
            unsafe {
                unmap(uc);
                unmap(wc);
            }
            return Err(EINVAL);
        }
        // INVARIANT: two live mappings of the BAR's last page, `uc` UC.
        Ok(MmioAlias { wc, uc, pfn, bar })
    }

    /// The WC mapping's address.
    pub(crate) fn wc_addr(&self) -> u64 {
        self.wc.as_ptr() as usize as u64
    }

    /// The UC mapping's address.
    pub(crate) fn uc_addr(&self) -> u64 {
        self.uc.as_ptr() as usize as u64
    }

    /// The page's frame.
    pub(crate) fn pfn(&self) -> u64 {
        self.pfn
    }

    /// The BAR's device (NUL-padded).
    pub(crate) fn dev(&self) -> &[u8; 32] {
        self.bar.dev()
    }

    /// Whether the device's removal has begun: drop this value soon.
    pub(crate) fn revoked(&self) -> bool {
        self.bar.revoked()
    }
}

impl Drop for MmioAlias {
    fn drop(&mut self) {
        // SAFETY: both live (type invariant), each unmapped once, here.
        unsafe {
            unmap(self.uc);
            unmap(self.wc);
        }
        // `iounmap()` frees the areas lazily: purge them (and their TLB
        // entries) now, before the BAR is given back when `bar` drops.
        // SAFETY: process context (the type is dropped where it may sleep).
        unsafe { ffi::vm_unmap_aliases() };
    }
}

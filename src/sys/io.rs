// SPDX-License-Identifier: GPL-2.0

//! `ioremap_*` mappings of a PCI BAR in use ([`ClaimedBar`]: a BAR of a
//! device bound to this module's PCI driver), unmapped on drop.
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

// SPDX-License-Identifier: GPL-2.0

//! The BAR paths of DRM drivers, on a BAR of a device bound to this
//! module's PCI driver ([`ClaimedBar`]).
//!
//! i915, xe, amdgpu and nouveau reach VRAM (or the aperture) through a
//! PCI BAR of the device they drive like this, and [`BarPaths::setup`]
//! does the same steps in the same order, checking the pages of every
//! mapping WC through the accessor:
//!
//! 1. `arch_io_reserve_memtype_wc()` of the BAR (a WC memtype entry);
//! 2. `arch_phys_wc_add()` (an MTRR where PAT is off; 0 with PAT);
//! 3. `io_mapping_init_wc()` (on x86_64 one `ioremap_wc()` of the BAR),
//!    then `io_mapping_map_local_wc()` page by page and
//!    `io_mapping_map_wc()` of the whole BAR;
//! 4. `memremap(MEMREMAP_WC)` of the whole BAR.
//!
//! Upstream's `kernel::io::mem` and `kernel::pci::Bar` have no WC mapping
//! (`pci::Bar` maps UC- with `pci_iomap()`, which would make these UC-
//! too), so these calls stay ours.
//!
//! Which pages are checked ([`Sample`], host-tested): every page of a BAR
//! of at most 16384 pages (64 MiB); on a bigger one the first and the last
//! 4096 pages and 8192 pages spread evenly between them, so a 128 GiB BAR
//! costs the same 16384 checks per path as a 64 MiB one. Every
//! [`YIELD_EVERY`] pages the walk yields (`cond_resched()`) and stops with
//! `ENODEV` if the device's removal has begun.
//!
//! Dropping a [`BarPaths`] undoes them in reverse order and ends the use
//! of the BAR, so `pat_memtype_list` has no entry of the BAR afterwards;
//! the removal of the device waits for that.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::ffi::{c_int, c_ulong, c_void};

use crate::pure::attrs::CacheMode;
use crate::pure::gem::{BarReport, PathCheck, Sample};
use crate::sys::expect::Expect;
use crate::sys::pci::ClaimedBar;
use crate::sys::time;

extern "C" {
    fn pte_attrs_gem_io_mapping_create_wc(base: u64, size: c_ulong) -> *mut c_void;
    fn pte_attrs_gem_io_mapping_free(m: *mut c_void);
    fn pte_attrs_gem_io_mapping_map_local_wc(m: *mut c_void, offset: c_ulong) -> *mut c_void;
    fn pte_attrs_gem_io_mapping_unmap_local(vaddr: *mut c_void);
    fn pte_attrs_gem_io_mapping_map_wc(
        m: *mut c_void,
        offset: c_ulong,
        size: c_ulong,
    ) -> *mut c_void;
    fn pte_attrs_gem_io_mapping_unmap(vaddr: *mut c_void);
}

/// Pages checked between two yields (and looks at the removal).
pub(crate) const YIELD_EVERY: u64 = 256;

/// Every [`YIELD_EVERY`] checks: yields, and `ENODEV` once the device's
/// removal has begun (the removal waits for this use to end).
fn pace(i: u64, bar: &ClaimedBar) -> Result {
    if i % YIELD_EVERY == YIELD_EVERY - 1 {
        time::resched();
        if bar.revoked() {
            return Err(ENODEV);
        }
    }
    Ok(())
}

/// Checks the sampled pages of a mapping of the whole BAR at `va`
/// against what the kernel gives a WC request ([`Expect`]).
fn check_wc(va: u64, sample: Sample, bar: &ClaimedBar) -> Result<PathCheck> {
    let wc = Expect::new(CacheMode::Wc);
    let mut c = PathCheck::default();
    for i in 0..sample.count() {
        c.pages += 1;
        c.wrong += u64::from(wc.check((va + (sample.page(i) << 12)) as usize).is_err());
        pace(i, bar)?;
    }
    Ok(c)
}

/// A `io_mapping_map_local_wc()` of one page, unmapped on drop; local to
/// the task (not `Send`).
struct LocalMap {
    va: NonNull<c_void>,
    _local: PhantomData<*mut ()>,
}

impl Drop for LocalMap {
    fn drop(&mut self) {
        // SAFETY: `va` came from `io_mapping_map_local_wc()` in this task.
        unsafe { pte_attrs_gem_io_mapping_unmap_local(self.va.as_ptr()) };
    }
}

/// The DRM BAR paths set up on a BAR in use, undone on drop.
///
/// # Invariants
///
/// `reserved`: this value holds an `arch_io_reserve_memtype_wc()` of the
/// BAR; `phys_wc` is `arch_phys_wc_add()`'s handle (0: none); `iomap` and
/// `memremap`, when set, are an io_mapping and a `memremap()` of the BAR
/// owned by this value.
pub(crate) struct BarPaths {
    reserved: bool,
    phys_wc: c_int,
    iomap: Option<NonNull<c_void>>,
    memremap: Option<NonNull<c_void>>,
    /// Dropped last (after `Drop::drop` undid the rest).
    bar: ClaimedBar,
}

// SAFETY: the mappings and reservations may be undone from any thread.
unsafe impl Send for BarPaths {}
// SAFETY: `&BarPaths` gives nothing but plain data.
unsafe impl Sync for BarPaths {}

impl BarPaths {
    /// Sets up every path on `bar` and checks the sampled pages of each
    /// mapping ([`Sample`]). On an error, what was set up is undone (and
    /// the use of the BAR ended); `ENODEV` if the device's removal began
    /// meanwhile.
    pub(crate) fn setup(bar: ClaimedBar) -> Result<(BarPaths, BarReport)> {
        let (start, size) = (bar.start(), bar.size());
        let sample = Sample::of(size >> 12);
        let len = c_ulong::try_from(size).map_err(|_| EINVAL)?;
        let mut r = BarReport {
            start,
            size,
            ..BarReport::default()
        };
        // INVARIANT: nothing set up yet.
        let mut this = BarPaths {
            reserved: false,
            phys_wc: 0,
            iomap: None,
            memremap: None,
            bar,
        };
        // SAFETY: the BAR's range is ours (claimed); freed in `Drop`.
        kernel::error::to_result(unsafe { bindings::arch_io_reserve_memtype_wc(start, size) })?;
        this.reserved = true;
        let base = c_ulong::try_from(start).map_err(|_| EINVAL)?;
        // SAFETY: as above; a positive handle is deleted in `Drop`.
        let h = unsafe { bindings::arch_phys_wc_add(base, len) };
        r.phys_wc = i64::from(h);
        this.phys_wc = h.max(0);
        // SAFETY: the BAR's range is ours; freed in `Drop`.
        let m = unsafe { pte_attrs_gem_io_mapping_create_wc(start, len) };
        let m = NonNull::new(m).ok_or(ENOMEM)?;
        this.iomap = Some(m);
        // On x86_64 the io_mapping is `ioremap_wc()` of the whole BAR:
        // `io_mapping_map_wc(0)` is its start.
        // SAFETY: offset 0 and `size` are within the io_mapping.
        let whole = unsafe { pte_attrs_gem_io_mapping_map_wc(m.as_ptr(), 0, len) };
        let checked = check_wc(whole as u64, sample, &this.bar);
        // SAFETY: `whole` came from `io_mapping_map_wc()` just above.
        unsafe { pte_attrs_gem_io_mapping_unmap(whole) };
        r.iomap = checked?;
        r.map_wc = r.iomap;
        let wc = Expect::new(CacheMode::Wc);
        for i in 0..sample.count() {
            let offset = c_ulong::try_from(sample.page(i) << 12).map_err(|_| EINVAL)?;
            // SAFETY: the offset is within the io_mapping.
            let va = unsafe { pte_attrs_gem_io_mapping_map_local_wc(m.as_ptr(), offset) };
            r.local.pages += 1;
            if let Some(va) = NonNull::new(va) {
                let local = LocalMap {
                    va,
                    _local: PhantomData,
                };
                r.local.wrong += u64::from(wc.check(local.va.as_ptr() as usize).is_err());
                drop(local);
            } else {
                r.local.wrong += 1;
            }
            // Only once the page is unmapped: the yield may schedule.
            pace(i, &this.bar)?;
        }
        // SAFETY: the BAR's range is ours and not RAM; unmapped in `Drop`.
        let v =
            unsafe { bindings::memremap(start, size as usize, bindings::MEMREMAP_WC as c_ulong) };
        let v = NonNull::new(v).ok_or(ENOMEM)?;
        this.memremap = Some(v);
        r.memremap = check_wc(v.as_ptr() as u64, sample, &this.bar)?;
        Ok((this, r))
    }

    /// The device's name, NUL-padded.
    pub(crate) fn dev(&self) -> [u8; 32] {
        *self.bar.dev()
    }

    /// Whether the device's removal has begun: drop this value soon.
    pub(crate) fn revoked(&self) -> bool {
        self.bar.revoked()
    }
}

impl Drop for BarPaths {
    fn drop(&mut self) {
        if let Some(v) = self.memremap.take() {
            // SAFETY: `v` came from `memremap()` (type invariant).
            unsafe { bindings::memunmap(v.as_ptr()) };
        }
        if let Some(m) = self.iomap.take() {
            // SAFETY: `m` came from `io_mapping_create_wc()` (type
            // invariant); no map of it is left (each was undone).
            unsafe { pte_attrs_gem_io_mapping_free(m.as_ptr()) };
        }
        if self.phys_wc > 0 {
            // SAFETY: a handle of `arch_phys_wc_add()` (type invariant).
            unsafe { bindings::arch_phys_wc_del(self.phys_wc) };
        }
        if self.reserved {
            // SAFETY: reserved by `setup` (type invariant).
            unsafe { bindings::arch_io_free_memtype_wc(self.bar.start(), self.bar.size()) };
        }
    }
}

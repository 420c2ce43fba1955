// SPDX-License-Identifier: GPL-2.0

//! The user PTE that maps an address of the calling process, for
//! `lookup user ADDR`.
//!
//! The entry is read under the process's mmap lock and the page-table lock
//! with `follow_pfnmap_start()`, which serves PFN maps (`VM_IO`/`VM_PFNMAP`
//! VMAs, such as the GEM device's), from its documented outputs only (the
//! frame, the flags, `special`; 7.x's `addr_mask`), never its internal
//! `ptep`: the paravirt view is that frame (read by `pte_pfn()` through
//! the `pte_val` hook) with the flags, the raw view the entry as the
//! kernel's `pfn_pte()` builds it (through the paravirt hook: the machine
//! frame under Xen PV). The direct-map entry of the frame is read through
//! the accessor while the page-table lock is still held: the entry cannot
//! be zapped meanwhile, and the GEM device zaps before it changes a page's
//! caching or frees it, so the two entries are of the same moment even
//! while another task evicts the object.

use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_int, c_ulong, c_void};

use crate::pure::gem::{DirectMap, UserEntry};
use crate::sys::accessor;

/// `struct pte_attrs_gem_upte` of gem_glue.h.
#[repr(C)]
#[derive(Default)]
struct Upte {
    raw: u64,
    pv: u64,
    vm_flags: u64,
    present: u32,
    writable: u32,
    special: u32,
    pad: u32,
}

extern "C" {
    fn pte_attrs_gem_user_pte(
        addr: c_ulong,
        out: *mut Upte,
        dm: unsafe extern "C" fn(pfn: c_ulong, data: *mut c_void),
        data: *mut c_void,
    ) -> c_int;
    fn pte_attrs_gem_pfn_kaddr(pfn: c_ulong) -> c_ulong;
}

/// The glue's `dm`: the direct-map entry of `pfn` into `*data`. Called
/// under the page-table lock: must not sleep ([`direct_map`] does not).
///
/// # Safety
///
/// `data` points to a `DirectMap`, valid for writes during the call.
unsafe extern "C" fn read_direct_map(pfn: c_ulong, data: *mut c_void) {
    // SAFETY: by the function's safety contract.
    let out = unsafe { &mut *data.cast::<DirectMap>() };
    *out = direct_map(pfn as u64);
}

/// The user entry at `addr` in the calling process and the direct-map
/// entry of the frame it maps, read at the same moment. `EINTR` if the
/// wait for the mmap lock was interrupted, `EINVAL` in a kernel thread,
/// `EOPNOTSUPP` for a huge PFN entry.
pub(crate) fn read(addr: u64) -> Result<(UserEntry, DirectMap)> {
    let mut out = Upte::default();
    let mut dm = DirectMap::NotRam;
    // SAFETY: the glue reads `current->mm` under its locks; `out` is valid
    // for writes; `read_direct_map` gets `&mut dm`, a `DirectMap` valid for
    // the call.
    let r = unsafe {
        pte_attrs_gem_user_pte(
            addr as c_ulong,
            &mut out,
            read_direct_map,
            core::ptr::from_mut(&mut dm).cast(),
        )
    };
    let entry = match r {
        0 if out.present == 0 => UserEntry::NotPresent,
        0 => UserEntry::Present {
            raw: out.raw,
            pv: out.pv,
            special: out.special != 0,
        },
        e if e == ENOENT.to_errno() => UserEntry::NoVma,
        // A VMA that is not a PFN map (a huge PFN entry is an error).
        e if e == -EOPNOTSUPP && out.vm_flags & VM_IO_PFNMAP == 0 => UserEntry::NotPfnMap,
        e => return Err(Error::from_errno(e)),
    };
    if !matches!(entry, UserEntry::Present { .. }) {
        dm = DirectMap::NotRam;
    }
    Ok((entry, dm))
}

/// `-EOPNOTSUPP` (not among the 6.12 kernel crate's error codes).
const EOPNOTSUPP: c_int = kernel::bindings::EOPNOTSUPP as c_int;

/// `VM_IO | VM_PFNMAP`.
const VM_IO_PFNMAP: u64 = (kernel::bindings::VM_IO | kernel::bindings::VM_PFNMAP) as u64;

/// The direct-map entry of frame `pfn`. Never sleeps.
fn direct_map(pfn: u64) -> DirectMap {
    // SAFETY: a pure computation on a number (`pfn_valid()`, `__va()`).
    let va = unsafe { pte_attrs_gem_pfn_kaddr(pfn as c_ulong) } as u64;
    if va == 0 {
        return DirectMap::NotRam;
    }
    match accessor::lookup(va) {
        Some(f) => DirectMap::Entry {
            level: f.level,
            pv: accessor::pv_val(f.raw, f.level),
        },
        None => DirectMap::Unmapped,
    }
}

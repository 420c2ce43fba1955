// SPDX-License-Identifier: GPL-2.0

//! The user PTE that maps an address of the calling process, for
//! `lookup user ADDR`.
//!
//! The entry is read under the process's mmap lock and the page-table lock
//! with `follow_pfnmap_start()` (6.12), which serves PFN maps
//! (`VM_IO`/`VM_PFNMAP` VMAs, such as the GEM device's): the raw entry as
//! stored, then its paravirt view through the accessor. The frame it maps
//! (paravirt view: a pseudo-physical frame under Xen PV) is then looked up
//! in the direct map, through the accessor too, so that the two cache
//! modes can be compared.

use kernel::error::{code::*, Error, Result};
use kernel::ffi::{c_int, c_ulong};

use crate::pure::attrs::Level;
use crate::pure::gem::{DirectMap, UserEntry};
use crate::sys::accessor;

extern "C" {
    fn pte_attrs_gem_user_pte(addr: c_ulong, raw: *mut u64, vm_flags: *mut c_ulong) -> c_int;
    fn pte_attrs_gem_pfn_kaddr(pfn: c_ulong) -> c_ulong;
}

/// The user entry at `addr` in the calling process and the direct-map
/// entry of the frame it maps. `EINTR` if the wait for the mmap lock was
/// interrupted, `EINVAL` in a kernel thread, `EOPNOTSUPP` for a huge PFN
/// entry.
pub(crate) fn read(addr: u64) -> Result<(UserEntry, DirectMap)> {
    let (mut raw, mut flags) = (0u64, 0 as c_ulong);
    // SAFETY: the glue reads `current->mm` under its locks; `raw` and
    // `flags` are valid for writes.
    let r = unsafe { pte_attrs_gem_user_pte(addr as c_ulong, &mut raw, &mut flags) };
    let entry = match r {
        0 if raw == 0 => UserEntry::NotPresent,
        0 => UserEntry::Present {
            raw,
            pv: accessor::pv_val(raw, Level::K4),
        },
        e if e == ENOENT.to_errno() => UserEntry::NoVma,
        // A VMA that is not a PFN map (a huge PFN entry is an error).
        e if e == -EOPNOTSUPP && flags & VM_IO_PFNMAP == 0 => UserEntry::NotPfnMap,
        e => return Err(Error::from_errno(e)),
    };
    let dm = match entry {
        UserEntry::Present { pv, .. } => direct_map(accessor::decode(pv, Level::K4).pfn()),
        _ => DirectMap::NotRam,
    };
    Ok((entry, dm))
}

/// `-EOPNOTSUPP` (not among the 6.12 kernel crate's error codes).
const EOPNOTSUPP: c_int = kernel::bindings::EOPNOTSUPP as c_int;

/// `VM_IO | VM_PFNMAP`.
const VM_IO_PFNMAP: c_ulong = (kernel::bindings::VM_IO | kernel::bindings::VM_PFNMAP) as c_ulong;

/// The direct-map entry of frame `pfn`.
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

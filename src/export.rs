// SPDX-License-Identifier: GPL-2.0

//! The API other modules call (`include/pte_attrs.h`).
//!
//! `glue.c` wraps each `pte_attrs_rs_*` function here in the exported
//! `pte_attrs_*` one (`EXPORT_SYMBOL_GPL` must follow a C definition); the
//! header declares those and `struct pte_attrs_info`, whose layout
//! [`PteAttrsInfo`] mirrors.

use kernel::bindings;
use kernel::error::code::*;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong};

use crate::pure::attrs::{self, CacheMode, Level};
use crate::sys::accessor;

/// `struct pte_attrs_info` of `include/pte_attrs.h`.
#[repr(C)]
pub(crate) struct PteAttrsInfo {
    addr: c_ulong,
    level: c_uint,
    cache_mode: c_int,
    pv_val: u64,
    raw_val: u64,
    flags: u64,
    pfn: u64,
    raw_pfn: u64,
}

/// `pte_attrs()`: the flags of `pte` read through the paravirt `pte_val`
/// hook, `pte_val(pte) & PTE_FLAGS_MASK` as the 2012 patch defined it,
/// with the running kernel's `PTE_FLAGS_MASK` (which holds the encryption
/// bit under SME/SEV).
#[no_mangle]
pub(crate) extern "C" fn pte_attrs_rs(pte: bindings::pte_t) -> bindings::pgprot_t {
    // `pteval_t` and `pgprotval_t` are `unsigned long`: 64 bits on x86_64.
    let flags = attrs::pte_attrs_flags(
        accessor::pv_val(pte.pte as u64, Level::K4),
        accessor::masks(),
    );
    bindings::pgprot_t {
        pgprot: flags as c_ulong,
    }
}

/// `pte_attrs_lookup()`: fills `*info` for the entry mapping `addr`.
///
/// Returns 0, `-ENOENT` when nothing present maps `addr`, `-EINVAL` when
/// `info` is null or `addr` is not a kernel address to walk
/// (non-canonical, user half, hypervisor guard hole), `-EFAULT` when a
/// page-table page on the way cannot be read.
///
/// # Safety
///
/// `info` must be null or point to writable memory for a
/// `struct pte_attrs_info`.
#[no_mangle]
pub(crate) unsafe extern "C" fn pte_attrs_rs_lookup(
    addr: c_ulong,
    info: *mut PteAttrsInfo,
) -> c_int {
    if info.is_null() {
        return EINVAL.to_errno();
    }
    let found = match accessor::walk(addr as u64) {
        Ok(Some(found)) => found,
        Ok(None) => return ENOENT.to_errno(),
        Err(e) => return e.errno().to_errno(),
    };
    let pv_val = accessor::pv_val(found.raw, found.level);
    let pv = accessor::decode(pv_val, found.level);
    let level = match found.level {
        Level::K4 => bindings::pg_level_PG_LEVEL_4K,
        Level::M2 => bindings::pg_level_PG_LEVEL_2M,
        Level::G1 => bindings::pg_level_PG_LEVEL_1G,
    };
    let filled = PteAttrsInfo {
        addr,
        level,
        cache_mode: pv.cache_mode().map_or(-1, |m| c_int::from(m as u8)),
        pv_val,
        raw_val: found.raw,
        flags: pv.flags(),
        pfn: pv.pfn(),
        raw_pfn: accessor::decode(found.raw, found.level).pfn(),
    };
    // SAFETY: `info` is non-null and writable by the function's contract.
    unsafe { info.write(filled) };
    0
}

/// `pte_attrs_cache_mode_name()`: "WB", "WC", "UC-", "UC", "WT", "WP", or
/// "?" for anything else.
#[no_mangle]
pub(crate) extern "C" fn pte_attrs_rs_cache_mode_name(mode: c_int) -> *const c_char {
    let name: &'static [u8] = match u32::try_from(mode).ok().and_then(CacheMode::from_kernel) {
        Some(CacheMode::Wb) => b"WB\0",
        Some(CacheMode::Wc) => b"WC\0",
        Some(CacheMode::UcMinus) => b"UC-\0",
        Some(CacheMode::Uc) => b"UC\0",
        Some(CacheMode::Wt) => b"WT\0",
        Some(CacheMode::Wp) => b"WP\0",
        None => b"?\0",
    };
    name.as_ptr().cast()
}

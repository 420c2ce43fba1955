// SPDX-License-Identifier: GPL-2.0

//! The API other modules call (`include/pte_attrs.h`).
//!
//! `glue.c` wraps each `pte_attrs_rs_*` function here in the exported
//! `pte_attrs_*` one (`EXPORT_SYMBOL_GPL` must follow a C definition); the
//! header declares those and `struct pte_attrs_info`, whose layout
//! [`PteAttrsInfo`] mirrors.

use core::ops::ControlFlow;
use kernel::bindings;
use kernel::error::code::*;

use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use crate::pure::attrs::{self, CacheMode, Level};
use crate::pure::kwalk::{KernelWalk, Leaf, Step};
use crate::sys::accessor;
use crate::sys::ffi;
use crate::sys::kmap::{self, STEP_BUDGET};

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
    let filled = PteAttrsInfo {
        addr,
        level: pg_level(found.level),
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

/// `struct pte_attrs_leaf` of `include/pte_attrs.h`.
#[repr(C)]
pub(crate) struct PteAttrsLeaf {
    addr: c_ulong,
    level: c_uint,
    pv: u64,
    raw: u64,
    cache_mode: c_int,
}

/// `PTE_ATTRS_WALK_NOT_PRESENT`.
const WALK_NOT_PRESENT: c_uint = 0x1;

/// The kernel's `enum pg_level` of `level`.
fn pg_level(level: Level) -> c_uint {
    match level {
        Level::K4 => bindings::pg_level_PG_LEVEL_4K,
        Level::M2 => bindings::pg_level_PG_LEVEL_2M,
        Level::G1 => bindings::pg_level_PG_LEVEL_1G,
    }
}

/// `pte_attrs_walk()`: calls `f(leaf, data)` for every leaf of the
/// kernel half whose first address is in `[start, end)` (`end == 0`: the
/// end of the address space), in steps; see the header.
///
/// Returns 0, `f`'s nonzero return, `-EINVAL` (unknown flags, no `f`, a
/// nonzero `end` not above `start`) or `-EINTR` (fatal signal).
///
/// `f` is the C callback, `int (*)(const struct pte_attrs_leaf *, void
/// *)`, as an opaque pointer: it is called from C
/// (`pte_attrs_glue_walk_leaf()`), whose kCFI type hash is the callback's.
///
/// # Safety
///
/// `f` must be null or such a function, which may be called, with
/// preemption disabled, with a valid leaf and `data`, any number of times
/// while this runs; the caller is in process context (this sleeps between
/// steps).
#[no_mangle]
pub(crate) unsafe extern "C" fn pte_attrs_rs_walk(
    start: c_ulong,
    end: c_ulong,
    flags: c_uint,
    f: *const c_void,
    data: *mut c_void,
) -> c_int {
    if f.is_null() {
        return EINVAL.to_errno();
    }
    if flags & !WALK_NOT_PRESENT != 0 || (end != 0 && start >= end) {
        return EINVAL.to_errno();
    }
    let mut walk = KernelWalk::new(
        accessor::layout(),
        accessor::masks(),
        start as u64,
        end as u64,
    );
    if flags & WALK_NOT_PRESENT != 0 {
        walk = walk.with_not_present();
    }
    let mut ret: c_int = 0;
    let r = kmap::drive(&mut walk, |w, root, t| {
        let mut visit = |l: &Leaf| {
            let leaf = PteAttrsLeaf {
                addr: l.addr as c_ulong,
                level: pg_level(l.level),
                pv: l.pv,
                raw: l.raw,
                cache_mode: accessor::decode(l.pv, l.level)
                    .cache_mode()
                    .map_or(-1, |m| c_int::from(m as u8)),
            };
            // SAFETY: `f` is a non-null callback that may be called with a
            // valid leaf and `data`, with preemption disabled (the
            // function's contract); `leaf` is a `struct pte_attrs_leaf`.
            ret = unsafe {
                ffi::pte_attrs_glue_walk_leaf(f, core::ptr::from_ref(&leaf).cast(), data)
            };
            if ret != 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        match w.step(root, t, &mut visit, STEP_BUDGET) {
            Step::More => ControlFlow::Continue(()),
            Step::Stopped | Step::Done => ControlFlow::Break(()),
        }
    });
    match r {
        Err(e) => e.to_errno(),
        Ok(()) => ret,
    }
}

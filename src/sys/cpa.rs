// SPDX-License-Identifier: GPL-2.0

//! The CPA calls (arch/x86/mm/pat/set_memory.c), typed, on pages the
//! module owns: a [`Block`] or the array of [`Pages`]. No address from
//! anywhere else can reach them.

use kernel::bindings;
use kernel::error::{code::*, to_result, Result};
use kernel::ffi::{c_int, c_ulong};

use crate::pure::attrs::CacheMode;
use crate::sys::ffi;
use crate::sys::page::{Block, PagePtr};

/// Pages of `b` from page `from` on, `n` of them (at least one), as the
/// per-range calls take them: `EINVAL` past the end.
fn range(b: &Block, from: usize, n: usize) -> Result<(PagePtr, c_ulong, c_int)> {
    let end = from.checked_add(n).ok_or(EINVAL)?;
    if n == 0 || end > b.len() {
        return Err(EINVAL);
    }
    let page = b.page(from).ok_or(EINVAL)?;
    let addr = (b.addr() + (from << 12)) as c_ulong;
    Ok((page, addr, c_int::try_from(n).map_err(|_| EINVAL)?))
}

/// `set_pages_uc()` (for [`CacheMode::UcMinus`]) or `set_pages_wb()` on
/// `n` pages of `b` from its page `from` on; `EINVAL` for another mode.
pub(crate) fn set_pages(b: &Block, from: usize, n: usize, mode: CacheMode) -> Result {
    let (page, _, n) = range(b, from, n)?;
    let p = page.as_ptr();
    // SAFETY: the pages are ours (`b` owns them and the range is within
    // it); CPA changes only their direct map and its aliases.
    to_result(unsafe {
        match mode {
            CacheMode::UcMinus => ffi::set_pages_uc(p, n),
            CacheMode::Wb => ffi::set_pages_wb(p, n),
            _ => return Err(EINVAL),
        }
    })
}

/// `set_memory_wc/uc/wb()` on the direct map of `n` pages of `b` from its
/// page `from` on (`set_memory_uc` gives UC-); `EINVAL` for another mode.
pub(crate) fn set_memory(b: &Block, from: usize, n: usize, mode: CacheMode) -> Result {
    let (_, addr, n) = range(b, from, n)?;
    // SAFETY: `addr` is the direct-map address of pages `b` owns, `n` of
    // them within the block.
    to_result(unsafe {
        match mode {
            CacheMode::Wc => ffi::set_memory_wc(addr, n),
            CacheMode::UcMinus => ffi::set_memory_uc(addr, n),
            CacheMode::Wb => ffi::set_memory_wb(addr, n),
            _ => return Err(EINVAL),
        }
    })
}

/// `set_pages_array_wc/uc/wb()` on `pages` (a part of a [`Pages`] array,
/// the only place a [`PagePtr`] list comes from); `EINVAL` for another
/// mode. An empty slice is no call.
pub(crate) fn set_pages_array(pages: &mut [PagePtr], mode: CacheMode) -> Result {
    if pages.is_empty() {
        return Ok(());
    }
    let n = c_int::try_from(pages.len()).map_err(|_| EINVAL)?;
    // `PagePtr` is a transparent `NonNull<page>`: the slice is a
    // `struct page **` array.
    let p = pages.as_mut_ptr().cast::<*mut bindings::page>();
    // SAFETY: `p` holds `n` pointers to pages this module owns (every
    // `PagePtr` comes from a live `Block` of a `Pages`, which the caller
    // borrows mutably).
    to_result(unsafe {
        match mode {
            CacheMode::Wc => ffi::set_pages_array_wc(p, n),
            CacheMode::UcMinus => ffi::set_pages_array_uc(p, n),
            CacheMode::Wb => ffi::set_pages_array_wb(p, n),
            _ => return Err(EINVAL),
        }
    })
}

/// The `_PAGE_CACHE_MASK` bits the kernel gives a `mode` mapping
/// (`cachemode2protval()`, a lookup in the live translation table).
pub(crate) fn protval(mode: CacheMode) -> u64 {
    // SAFETY: `cachemode2protval()` is a pure table lookup.
    unsafe { bindings::cachemode2protval(mode as u32) as u64 }
}

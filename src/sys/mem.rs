// SPDX-License-Identifier: GPL-2.0

//! Memory: large zeroed counters off the stack, the kernel's estimate of
//! available memory, and what the 6.12 `Vec` lacks.

use kernel::alloc::{
    flags::{__GFP_NOWARN, __GFP_ZERO, GFP_KERNEL},
    Allocator, VBox, Vec,
};
use kernel::bindings;
use kernel::error::Result;
use kernel::ffi::c_ulong;

use crate::pure::attrs::CacheMode;
use crate::sys::ffi;

use crate::pure::latency::OpStats;
use crate::pure::run_stats::{DirectMapEvents, RunStats};

/// Types whose all-zero bytes are a valid, empty value.
///
/// # Safety
///
/// Implementors hold only integers (and arrays and structs of them) and
/// document that all-zero is their empty value.
pub(crate) unsafe trait ZeroIsEmpty {}

// SAFETY: documented on `RunStats`; host/lib.rs tests that all-zero renders
// and behaves as `RunStats::new()`.
unsafe impl ZeroIsEmpty for RunStats {}
// SAFETY: integers and a `Histogram` of integers, whose all-zero value is
// empty (documented on `OpStats`).
unsafe impl ZeroIsEmpty for OpStats {}

/// An empty `T` on the vmalloc heap, never built on the stack: the
/// counters are kilobytes large and kernel stacks are 16 KB. No warning on
/// failure: the caller reports it (and fault injection makes it happen on
/// purpose).
pub(crate) fn zeroed<T: ZeroIsEmpty>() -> Result<VBox<T>> {
    let b = VBox::<T>::new_uninit(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN)?;
    // SAFETY: the memory is zeroed, a valid empty `T` (`ZeroIsEmpty`).
    Ok(unsafe { b.assume_init() })
}

/// `si_mem_available()`: the pages the kernel estimates can be allocated
/// without swapping.
pub(crate) fn available_pages() -> u64 {
    // SAFETY: a plain query with no preconditions.
    let n = unsafe { bindings::si_mem_available() };
    n.max(0) as u64
}

/// Removes the last element of `v` (the 6.12 `Vec` has no `pop`; 7.x's
/// has).
pub(crate) fn pop<T, A: Allocator>(v: &mut Vec<T, A>) -> Option<T> {
    #[cfg(kernel_7)]
    {
        v.pop()
    }
    #[cfg(not(kernel_7))]
    {
        let n = v.len().checked_sub(1)?;
        // SAFETY: element `n` is initialised; shrinking the length first
        // hands its ownership to the read, and nothing reads it again.
        unsafe {
            v.set_len(n);
            Some(v.as_mut_ptr().add(n).read())
        }
    }
}

/// The user memory `[addr, addr + len)` of the calling process, as a
/// `UserSlice` (7.x takes a `UserPtr`, 6.12 the address).
pub(crate) fn user_slice(addr: usize, len: usize) -> kernel::uaccess::UserSlice {
    #[cfg(kernel_7)]
    let addr = kernel::uaccess::UserPtr::from_addr(addr);
    kernel::uaccess::UserSlice::new(addr, len)
}

/// The kernel's memtype record of the RAM page `pfn` (the page flags
/// `memtype_reserve()` keeps: WB, WC, UC- or WT), and how many pages from
/// `pfn` on, at most `max` (at least 1), have the same answer. `None`
/// where no record is kept: PAT off or disabled, or no `struct page`.
pub(crate) fn page_memtype(pfn: u64, max: u64) -> (Option<CacheMode>, u64) {
    let mut run: c_ulong = 1;
    // SAFETY: any pfn may be asked about (the glue checks `pfn_valid()`
    // before it reads a `struct page`); `run` is a valid place.
    let m =
        unsafe { ffi::pte_attrs_glue_page_memtype_run(pfn as c_ulong, max as c_ulong, &mut run) };
    let mode = u32::try_from(m).ok().and_then(CacheMode::from_kernel);
    (mode, (run as u64).max(1))
}

/// The direct map's split and collapse events so far (machine-wide), or
/// `None` where the kernel does not count them (no
/// `CONFIG_VM_EVENT_COUNTERS`) or there was no memory to read them. May
/// sleep.
pub(crate) fn direct_map_events() -> Option<DirectMapEvents> {
    let mut v = [0u64; 4];
    // SAFETY: `v` has room for the 4 values the glue may write.
    let n = unsafe { ffi::pte_attrs_glue_direct_map_events(v.as_mut_ptr()) };
    (n >= 2).then(|| DirectMapEvents {
        splits: [v[0], v[1]],
        collapses: (n >= 4).then_some([v[2], v[3]]),
    })
}

/// Whether the `allow_alias` module parameter lets the `alias` knob make a
/// WB/WC alias of RAM (off by default: test VMs only).
pub(crate) fn alias_allowed() -> bool {
    // SAFETY: reads a module parameter; no preconditions.
    unsafe { ffi::pte_attrs_glue_alias_allowed() }
}

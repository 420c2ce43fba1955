// SPDX-License-Identifier: GPL-2.0

//! The C side of the accessor benchmark (`glue.c`): the same loop around
//! each C way of reading the flags of entry values, folded into one value.

use crate::sys::ffi;

/// `pte_flags()` of each value: the raw read.
pub(crate) fn pte_flags(v: &[u64]) -> u64 {
    // SAFETY: `v` is a valid slice of `v.len()` values; the loop only reads
    // them.
    unsafe { ffi::pte_attrs_bench_pte_flags(v.as_ptr(), v.len()) }
}

/// `pte_val() & PTE_FLAGS_MASK` of each value: Konrad's `pte_attrs()`, a
/// patched paravirt call site.
pub(crate) fn pte_val(v: &[u64]) -> u64 {
    // SAFETY: as above.
    unsafe { ffi::pte_attrs_bench_pte_val(v.as_ptr(), v.len()) }
}

/// [`pte_val`] compiled a second time: the A/A control, whose ratio to
/// [`pte_val`] is the resolution of the comparison.
pub(crate) fn pte_val_twin(v: &[u64]) -> u64 {
    // SAFETY: as above.
    unsafe { ffi::pte_attrs_bench_pte_val_twin(v.as_ptr(), v.len()) }
}

/// An indirect call through `pv_ops.mmu.pte_val` per value (an asm call,
/// kCFI-safe): what an unpatched paravirt read costs. `None` without
/// `CONFIG_PARAVIRT_XXL`, where there is no hook to call.
pub(crate) const INDIRECT: Option<fn(&[u64]) -> u64> = indirect();

#[cfg(CONFIG_PARAVIRT_XXL)]
const fn indirect() -> Option<fn(&[u64]) -> u64> {
    Some(|v| {
        // SAFETY: as above; the hook exists with CONFIG_PARAVIRT_XXL.
        unsafe { ffi::pte_attrs_bench_indirect(v.as_ptr(), v.len()) }
    })
}

#[cfg(not(CONFIG_PARAVIRT_XXL))]
const fn indirect() -> Option<fn(&[u64]) -> u64> {
    None
}

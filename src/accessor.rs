// SPDX-License-Identifier: GPL-2.0

//! Page-table entries read the way the paravirt layer sees them.
//!
//! `pte_flags()` reads an entry raw (`native_pte_val()`); under Xen PV that
//! value holds a machine frame, and before 2012's fix CPA decided on it.
//! Konrad Wilk's `pte_attrs()` reads through the paravirt `pte_val` hook
//! instead, which Xen PV translates, and costs nothing on native kernels
//! because every `pte_val()` call site is patched to `mov %rdi,%rax` unless
//! the kernel runs as Xen PV (`ALT_NOT_XEN`).
//!
//! Rust cannot emit a patched call site, so this module takes the same
//! decision once, at load: the hook of each level (`pte_val`, `pmd_val`,
//! `pud_val` of `pv_ops.mmu`) is kept only when `X86_FEATURE_XENPV` is set.
//! On every other kernel the hook slot stays empty and [`pv_val`] is a load
//! of that slot and a branch never taken: no indirect call. Without
//! `CONFIG_PARAVIRT_XXL` there is no hook and [`pv_val`] is the raw value.

use core::ptr;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::prelude::*;

use crate::attrs::{CacheMode, Level, PatTable};
use crate::ffi;

/// The paravirt hook of each level (4K, 2M, 1G), as a function address;
/// 0 means the identity (native, KVM, TCG, or no `CONFIG_PARAVIRT_XXL`).
static HOOKS: [AtomicUsize; 3] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

/// The live PAT table, packed (see [`PatTable::pack`]); set once at load.
static PAT: AtomicU64 = AtomicU64::new(u64::MAX);

/// A paravirt `*_val` hook: a callee-save thunk that takes the entry in
/// `%rdi` and returns it in `%rax`, so the C calling convention fits it.
type Hook = unsafe extern "C" fn(u64) -> u64;

fn slot(level: Level) -> &'static AtomicUsize {
    match level {
        Level::K4 => &HOOKS[0],
        Level::M2 => &HOOKS[1],
        Level::G1 => &HOOKS[2],
    }
}

/// What [`init`] found.
pub(crate) struct Live {
    /// The kernel runs as a Xen PV guest.
    pub(crate) xenpv: bool,
    /// The live PAT table.
    pub(crate) pat: PatTable,
    /// `pat_enabled()`.
    pub(crate) pat_enabled: bool,
}

/// Reads the paravirt hooks and the live PAT table; called once at load,
/// before anything can read an entry.
pub(crate) fn init() -> Result<Live> {
    // SAFETY: a plain query of a boot-time CPU feature.
    let xenpv = unsafe { ffi::pte_attrs_glue_xenpv() };
    #[cfg(CONFIG_PARAVIRT_XXL)]
    if xenpv {
        // SAFETY: `pv_ops` is filled before any module loads and is
        // read-only after init; reading its hook pointers is sound.
        let mmu = unsafe { &*ptr::addr_of!(bindings::pv_ops.mmu) };
        for (level, hook) in [
            (Level::K4, mmu.pte_val.func),
            (Level::M2, mmu.pmd_val.func),
            (Level::G1, mmu.pud_val.func),
        ] {
            slot(level).store(hook as usize, Ordering::Relaxed);
        }
    }

    // The kernel's own cache-mode -> PTE-bits translation names the index
    // of each mode; the PAT MSR fills in the indices no mode uses.
    // SAFETY: `cachemode2protval()` is a pure table lookup.
    let protvals = CacheMode::ALL.map(|m| unsafe { bindings::cachemode2protval(m as u32) } as u64);
    let mut msr = 0u64;
    // SAFETY: `msr` is a valid place for the MSR value.
    let msr = (unsafe { ffi::pte_attrs_glue_pat_msr(&mut msr) } == 0).then_some(msr);
    let pat = PatTable::from_protvals(&protvals, msr).map_err(|e| {
        pr_err!("the live PAT table is inconsistent: {}\n", e);
        EINVAL
    })?;
    PAT.store(pat.pack(), Ordering::Relaxed);
    Ok(Live {
        xenpv,
        pat,
        // SAFETY: a plain query of boot-time state.
        pat_enabled: unsafe { ffi::pte_attrs_glue_pat_enabled() },
    })
}

/// Whether entries are read through a paravirt hook (Xen PV).
pub(crate) fn paravirt_live() -> bool {
    slot(Level::K4).load(Ordering::Relaxed) != 0
}

/// The live PAT table.
pub(crate) fn pat() -> PatTable {
    PatTable::unpack(PAT.load(Ordering::Relaxed))
}

/// `raw` as the paravirt layer sees an entry of `level`: the hook's result
/// under Xen PV, `raw` itself everywhere else (with no call at all).
#[inline]
pub(crate) fn pv_val(raw: u64, level: Level) -> u64 {
    let hook = slot(level).load(Ordering::Relaxed);
    if hook == 0 {
        return raw;
    }
    // SAFETY: a non-zero slot holds the address of the kernel's hook for
    // this level (set by `init`), a callee-save thunk with this signature.
    let hook = unsafe { core::mem::transmute::<usize, Hook>(hook) };
    // SAFETY: the hook only computes on its argument.
    unsafe { hook(raw) }
}

/// An entry found by [`lookup`]: its level and raw value.
pub(crate) struct Found {
    /// The level of the entry that maps the address.
    pub(crate) level: Level,
    /// The entry as stored (`native_pte_val()`).
    pub(crate) raw: u64,
}

/// The entry that maps the kernel virtual address `addr`, if one is
/// present. Never faults: `lookup_address()` walks `init_mm`'s tables and
/// returns null where a level is empty.
pub(crate) fn lookup(addr: u64) -> Option<Found> {
    let mut level: kernel::ffi::c_uint = 0;
    // SAFETY: `lookup_address` only reads page tables; `level` is valid.
    let entry = unsafe { bindings::lookup_address(addr as kernel::ffi::c_ulong, &mut level) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: a non-null result points at the (PTE, PMD or PUD) entry in a
    // kernel page table, which stays allocated; the read is one aligned
    // word, like the kernel's READ_ONCE of an entry.
    let raw = unsafe { ptr::read_volatile(entry.cast::<u64>()) };
    let level = Level::from_pg_level(level)?;
    (raw & 1 != 0).then_some(Found { level, raw })
}

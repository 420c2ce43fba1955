// SPDX-License-Identifier: GPL-2.0

//! Page-table entries read the way the paravirt layer sees them.
//!
//! `pte_flags()` reads an entry raw (`native_pte_val()`); under Xen PV that
//! value holds a machine frame, and before 2012's fix CPA decided on it.
//! Konrad Wilk's `pte_attrs()` reads through the paravirt `pte_val` hook
//! instead, which Xen PV translates, and costs nothing on native kernels:
//! the C call site `call *pv_ops.mmu.pte_val` is an alternative that the
//! kernel patches to `mov %rdi,%rax` at load unless it runs as Xen PV
//! (`ALT_NOT_XEN`).
//!
//! [`pv_val`] emits the same patched call site from Rust: an indirect call
//! through the level's hook in `pv_ops.mmu` (`pte_val`, `pmd_val`,
//! `pud_val`), with an `.altinstructions` entry that the module loader
//! applies like the C ones. On a kernel that is not Xen PV the call is gone
//! before the first entry is read: `mov %rdi,%rax` and nops, no indirect
//! call, no branch. Without `CONFIG_PARAVIRT_XXL` there is no hook and
//! [`pv_val`] is the raw value.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::bindings;
use kernel::error::{code::*, Result};
use kernel::prelude::*;

use crate::attrs::{CacheMode, Level, PatTable};
use crate::ffi;

/// Whether the kernel runs as Xen PV, where the hooks are not the
/// identity; set once at load, for reports.
static XENPV: AtomicBool = AtomicBool::new(false);

/// The live PAT table, packed (see [`PatTable::pack`]); set once at load.
static PAT: AtomicU64 = AtomicU64::new(u64::MAX);

/// `ALT_NOT(X86_FEATURE_XENPV)` (arch/x86/include/asm/alternative.h and
/// cpufeatures.h): apply the replacement unless the CPU feature is set.
#[cfg(CONFIG_PARAVIRT_XXL)]
const ALT_NOT_XEN: u32 = (1 << 16) | (8 * 32 + 16);

/// `fn(u64) -> u64` through the callee-save paravirt hook at `pv_ops.mmu.$hook`,
/// as a call site patched like the C `PVOP_ALT_CALLEE1(..., ALT_NOT_XEN)`.
#[cfg(CONFIG_PARAVIRT_XXL)]
macro_rules! pv_hook_read {
    ($name:ident, $hook:ident) => {
        #[inline(always)]
        fn $name(raw: u64) -> u64 {
            let val: u64;
            // `pv_ops.mmu.$hook.func` is set before any module loads
            // and points to a callee-save thunk (argument in %rdi, result in
            // %rax, every other register preserved) that only computes on
            // its argument: native's identity or Xen's MFN-to-PFN
            // translation. The `.altinstructions` entry (`struct alt_instr`:
            // offsets to the original and the replacement, feature flags,
            // both lengths) lets the module loader replace the 6-byte call
            // with `mov %rdi,%rax` (padded with nops) when the kernel is not
            // Xen PV, exactly as it does for the C call sites. Memory and
            // flags are treated as clobbered, as the C version declares.
            // Unlike C's ALTERNATIVE_2, the call is not also turned into a
            // direct one under Xen: it stays an indirect call there.
            // SAFETY: a call through the kernel's own hook, as above, that
            // the loader may patch into a `mov`; only %rax is written.
            unsafe {
                core::arch::asm!(
                    // ANNOTATE_RETPOLINE_SAFE, as on the C call sites.
                    "771:",
                    ".pushsection .discard.retpoline_safe",
                    ".long 771b",
                    ".popsection",
                    "call *{pv_ops}+{offset}(%rip)",
                    "772:",
                    ".pushsection .altinstructions, \"a\"",
                    ".long 771b - .",
                    ".long 773f - .",
                    ".4byte {flags}",
                    ".byte 772b - 771b",
                    ".byte 774f - 773f",
                    ".popsection",
                    ".pushsection .altinstr_replacement, \"ax\"",
                    "773:",
                    "mov %rdi, %rax",
                    "774:",
                    ".popsection",
                    pv_ops = sym bindings::pv_ops,
                    offset = const core::mem::offset_of!(
                        bindings::paravirt_patch_template,
                        mmu.$hook.func
                    ),
                    flags = const ALT_NOT_XEN,
                    in("rdi") raw,
                    lateout("rax") val,
                    options(att_syntax),
                );
            }
            val
        }
    };
}

#[cfg(CONFIG_PARAVIRT_XXL)]
pv_hook_read!(pte_val, pte_val);
#[cfg(CONFIG_PARAVIRT_XXL)]
pv_hook_read!(pmd_val, pmd_val);
#[cfg(CONFIG_PARAVIRT_XXL)]
pv_hook_read!(pud_val, pud_val);

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
    XENPV.store(xenpv && cfg!(CONFIG_PARAVIRT_XXL), Ordering::Relaxed);

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

/// Whether entries are read through a paravirt hook that is not the
/// identity (Xen PV): the call sites stayed calls.
pub(crate) fn paravirt_live() -> bool {
    XENPV.load(Ordering::Relaxed)
}

/// The live PAT table.
pub(crate) fn pat() -> PatTable {
    PatTable::unpack(PAT.load(Ordering::Relaxed))
}

/// `raw` as the paravirt layer sees an entry of `level`: through the
/// level's hook under Xen PV, `raw` itself everywhere else (a patched
/// `mov`, no call).
#[inline(always)]
pub(crate) fn pv_val(raw: u64, level: Level) -> u64 {
    #[cfg(CONFIG_PARAVIRT_XXL)]
    {
        match level {
            Level::K4 => pte_val(raw),
            Level::M2 => pmd_val(raw),
            Level::G1 => pud_val(raw),
        }
    }
    #[cfg(not(CONFIG_PARAVIRT_XXL))]
    {
        let _ = level;
        raw
    }
}

/// An entry found by [`lookup`]: its level, raw value and place.
pub(crate) struct Found {
    /// The level of the entry that maps the address.
    pub(crate) level: Level,
    /// The entry as stored (`native_pte_val()`).
    pub(crate) raw: u64,
    /// Where the entry is, in its page-table page.
    pub(crate) entry: *const u64,
}

impl Found {
    /// The raw entry `n` slots after this one in the same page-table page.
    ///
    /// # Safety
    ///
    /// The entry's slot index (`(addr >> 12) & 511` for a 4K entry) plus
    /// `n` must stay below 512, and the mapping must not have been torn
    /// down since the lookup: the page-table pages of a live mapping are
    /// never freed by CPA in 6.12 (it splits large pages but does not
    /// collapse tables back).
    pub(crate) unsafe fn raw_at(&self, n: usize) -> u64 {
        // SAFETY: by the function's safety contract the slot is in the same
        // page-table page, which is allocated; one aligned word is read.
        unsafe { ptr::read_volatile(self.entry.add(n)) }
    }
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
    // A non-null result points at the (PTE, PMD or PUD) entry in a
    // kernel page table, a page of the direct map: the read is one aligned
    // word, like the kernel's READ_ONCE of an entry, and cannot fault. For
    // the module's own pages the table stays allocated; for an arbitrary
    // address it races with a teardown (huge vmap, memory hot-remove) as
    // `lookup_address()`'s own callers do, and may read a stale entry.
    // SAFETY: an aligned one-word read in the direct map (above).
    let raw = unsafe { ptr::read_volatile(entry.cast::<u64>()) };
    let level = Level::from_pg_level(level)?;
    (raw & 1 != 0).then_some(Found {
        level,
        raw,
        entry: entry.cast(),
    })
}

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
//! [`pv_val`] emits the same patched call site from Rust as the C
//! `PVOP_ALT_CALLEE1(..., "mov %rdi, %rax", ALT_NOT_XEN)` does: the
//! original instruction `call *pv_ops.mmu.<hook>(%rip)` with two
//! `.altinstructions` entries at the same place, in the order of the
//! nested `ALTERNATIVE_2` of 6.12:
//!
//! 1. `ALT_CALL_ALWAYS` (`X86_FEATURE_ALWAYS` with `ALT_FLAG_DIRECT_CALL`):
//!    the replacement `call BUG_func` is rewritten by `alt_replace_call()`
//!    into a direct call to the hook's current target, padded with a nop;
//! 2. `ALT_NOT(X86_FEATURE_XENPV)`: unless the kernel is Xen PV,
//!    `mov %rdi,%rax` and nops replace the whole site.
//!
//! So natively the site is `mov %rdi,%rax; nopl (%rax)`, and under Xen PV a
//! direct `call __raw_callee_save_xen_pte_val` (and a nop): never an
//! indirect call, as with C. Without `CONFIG_PARAVIRT_XXL` there is no hook
//! and [`pv_val`] is the raw value.
//!
//! [`walk`] finds the entry that maps a kernel address with the module's
//! own walk ([`attrs::walk`]): the address is classified first (non-canonical,
//! user and hypervisor-hole addresses are refused), every entry is read
//! with `copy_from_kernel_nofault()`, and table pointers come from the
//! paravirt view of each level (`pgd_val` .. `pmd_val`) and the kernel's
//! `PTE_PFN_MASK`, as the kernel's own walk computes them.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::bindings;
use kernel::error::{code::*, Error, Result};
use kernel::prelude::*;

use crate::pure::attrs::{
    self, AddrClass, CacheMode, Level, PatTable, PteAttrs, PteMasks, TableLevel, VaLayout,
    WalkError,
};
use crate::pure::kwalk;
use crate::sys::ffi;
use crate::sys::log::Show;

/// Whether the kernel runs as Xen PV, where the hooks are not the
/// identity; set once at load, for reports.
static XENPV: AtomicBool = AtomicBool::new(false);

/// The live PAT table, packed (see [`PatTable::pack`]); set once at load.
static PAT: AtomicU64 = AtomicU64::new(u64::MAX);

/// 5-level paging; set once at load.
static L5: AtomicBool = AtomicBool::new(false);

/// `PAGE_OFFSET`; set once at load.
static PAGE_OFFSET: AtomicU64 = AtomicU64::new(0);

/// `PTE_PFN_MASK`; set once at load.
static PFN_MASK: AtomicU64 = AtomicU64::new(0x000f_ffff_ffff_f000);

/// `ALT_NOT(X86_FEATURE_XENPV)` (arch/x86/include/asm/alternative.h and
/// cpufeatures.h): apply the replacement unless the CPU feature is set.
#[cfg(CONFIG_PARAVIRT_XXL)]
const ALT_NOT_XEN: u32 = (1 << 16) | (8 * 32 + 16);

/// `ALT_CALL_ALWAYS`: `ALT_DIRECT_CALL(X86_FEATURE_ALWAYS)`, i.e. the flag
/// `ALT_FLAG_DIRECT_CALL` (1 << 1) above feature 3*32+21.
#[cfg(CONFIG_PARAVIRT_XXL)]
const ALT_CALL_ALWAYS: u32 = (2 << 16) | (3 * 32 + 21);

// The numbers above are the kernel's, as bindgen sees them.
#[cfg(CONFIG_PARAVIRT_XXL)]
const _: () = {
    use bindings::{ALT_FLAGS_SHIFT, ALT_FLAG_DIRECT_CALL, ALT_FLAG_NOT};
    assert!(ALT_NOT_XEN == (ALT_FLAG_NOT << ALT_FLAGS_SHIFT) | bindings::X86_FEATURE_XENPV);
    assert!(
        ALT_CALL_ALWAYS == (ALT_FLAG_DIRECT_CALL << ALT_FLAGS_SHIFT) | bindings::X86_FEATURE_ALWAYS
    );
};

/// `ANNOTATE_RETPOLINE_SAFE` of the instruction at local label `771`, as
/// objtool reads it (include/linux/annotate.h): an entry of type
/// `ANNOTYPE_RETPOLINE_SAFE` in `.discard.annotate_insn` since 6.13.
/// Without it, a `MITIGATION_RETPOLINE` kernel's objtool (Debian's) warns
/// "indirect call found" at every inlined hook read.
#[cfg(all(CONFIG_PARAVIRT_XXL, kernel_7))]
macro_rules! retpoline_safe_771 {
    () => {
        ".pushsection .discard.annotate_insn, \"M\", @progbits, 8\n\
         .long 771b - .\n\
         .long 2\n\
         .popsection"
    };
}
/// 6.12's `ANNOTATE_RETPOLINE_SAFE`: the label's address in
/// `.discard.retpoline_safe`.
#[cfg(all(CONFIG_PARAVIRT_XXL, not(kernel_7)))]
macro_rules! retpoline_safe_771 {
    () => {
        ".pushsection .discard.retpoline_safe\n.long 771b\n.popsection"
    };
}
#[cfg(all(CONFIG_PARAVIRT_XXL, kernel_7))]
const _: () = assert!(bindings::ANNOTYPE_RETPOLINE_SAFE == 2);

/// `fn(u64) -> u64` through the callee-save paravirt hook at `pv_ops.mmu.$hook`,
/// as a call site patched like the C `PVOP_ALT_CALLEE1(..., ALT_NOT_XEN)`.
#[cfg(CONFIG_PARAVIRT_XXL)]
macro_rules! pv_hook_read {
    ($name:ident, $hook:ident) => {
        #[inline(always)]
        fn $name(raw: u64) -> u64 {
            let val: u64;
            // `pv_ops.mmu.$hook.func` is set before any module loads and
            // points to a callee-save thunk (argument in %rdi, result in
            // %rax, every other register preserved) that only computes on
            // its argument: native's identity or Xen's MFN-to-PFN
            // translation. The site is the nested ALTERNATIVE_2 of the C
            // PVOP_ALT_CALLEE1, label for label (`struct alt_instr`:
            // offsets to the original and the replacement, feature and
            // flags, both lengths; the original is padded with nops to the
            // longer replacement, here none: 6 bytes against 5 and 3).
            // The module loader applies both entries in order before the
            // module's code runs: the indirect call never executes, which
            // is what the retpoline-safe annotation says (as on the C
            // sites). Memory and flags are treated as clobbered, as the C
            // version declares.
            // SAFETY: a call through the kernel's own hook, as above, that
            // the loader turns into a direct call or a `mov`; only %rax is
            // written.
            unsafe {
                core::arch::asm!(
                    "771:",
                    retpoline_safe_771!(),
                    "call *{pv_ops}+{offset}(%rip)",
                    "772:",
                    ".skip -(((776f-775f)-(772b-771b)) > 0) * ((776f-775f)-(772b-771b)),0x90",
                    "773:",
                    // Entry 1: ALT_CALL_ALWAYS, "call BUG_func".
                    ".pushsection .altinstructions, \"a\"",
                    ".long 771b - .",
                    ".long 775f - .",
                    ".4byte {always}",
                    ".byte 773b - 771b",
                    ".byte 776f - 775f",
                    ".popsection",
                    ".pushsection .altinstr_replacement, \"ax\"",
                    "775:",
                    "call {bug}",
                    "776:",
                    ".popsection",
                    "777:",
                    ".skip -(((779f-778f)-(777b-771b)) > 0) * ((779f-778f)-(777b-771b)),0x90",
                    "780:",
                    // Entry 2: ALT_NOT_XEN, "mov %rdi, %rax".
                    ".pushsection .altinstructions, \"a\"",
                    ".long 771b - .",
                    ".long 778f - .",
                    ".4byte {not_xen}",
                    ".byte 780b - 771b",
                    ".byte 779f - 778f",
                    ".popsection",
                    ".pushsection .altinstr_replacement, \"ax\"",
                    "778:",
                    "mov %rdi, %rax",
                    "779:",
                    ".popsection",
                    pv_ops = sym bindings::pv_ops,
                    offset = const core::mem::offset_of!(
                        bindings::paravirt_patch_template,
                        mmu.$hook.func
                    ),
                    bug = sym ffi::BUG_func,
                    always = const ALT_CALL_ALWAYS,
                    not_xen = const ALT_NOT_XEN,
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
#[cfg(CONFIG_PARAVIRT_XXL)]
pv_hook_read!(pgd_val, pgd_val);
#[cfg(all(CONFIG_PARAVIRT_XXL, CONFIG_PGTABLE_LEVELS = "5"))]
pv_hook_read!(p4d_val, p4d_val);
/// With 4 levels compiled in, the P4D is folded into the PGD
/// (`p4d_val(x)` is `pgd_val(x.pgd)`).
#[cfg(all(CONFIG_PARAVIRT_XXL, not(CONFIG_PGTABLE_LEVELS = "5")))]
#[inline(always)]
fn p4d_val(raw: u64) -> u64 {
    pgd_val(raw)
}

/// One paravirt `pte_val` read as a function of its own, so that the code
/// the loader patched can be shown (`accessor` file, `pv_site=`).
#[cfg(CONFIG_PARAVIRT_XXL)]
#[inline(never)]
fn pte_val_site(raw: u64) -> u64 {
    pte_val(raw)
}

/// The first 16 bytes of [`pte_val_site`] as patched at load: natively
/// `mov %rdi,%rax` and a nop where the indirect call was, under Xen PV a
/// direct call (`e8`) and a nop; `None` without the hook or if the text
/// cannot be read.
pub(crate) fn pv_site_bytes() -> Option<[u8; 16]> {
    #[cfg(CONFIG_PARAVIRT_XXL)]
    {
        let mut bytes = [0u8; 16];
        let at = core::hint::black_box(pte_val_site as *const ()) as usize as u64;
        for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
            let word = attrs::Tables::read(
                &mut KernelTables {
                    page_offset: 0,
                    ram_end: 0,
                },
                at + 8 * i as u64,
            )?;
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        // The function is called once, so that it is not only an address.
        core::hint::black_box(pte_val_site(core::hint::black_box(0)));
        Some(bytes)
    }
    #[cfg(not(CONFIG_PARAVIRT_XXL))]
    {
        None
    }
}

/// What the call site of [`pte_val_site`] became: `Some(true)` if it is a
/// direct call (`e8`) to the hook `pv_ops.mmu.pte_val` points to (Xen PV),
/// `Some(false)` if no such call is there (natively: a `mov`), `None`
/// without the hook.
pub(crate) fn pv_site_calls_hook() -> Option<bool> {
    #[cfg(CONFIG_PARAVIRT_XXL)]
    {
        let bytes = pv_site_bytes()?;
        // Through `black_box`: a folded `pte_val_site + 5` would be a
        // relocation into the function's body, which objtool on an IBT
        // kernel reports as a reference to a place without ENDBR.
        let at = core::hint::black_box(pte_val_site as *const ()) as usize as u64;
        // SAFETY: `pv_ops` is set before any module loads; one aligned
        // pointer is read.
        let hook = unsafe { core::ptr::addr_of!(bindings::pv_ops.mmu.pte_val.func).read_volatile() }
            as usize as u64;
        let calls = (0..bytes.len().saturating_sub(4)).any(|i| {
            let rel = bytes
                .get(i + 1..i + 5)
                .and_then(|r| r.try_into().ok())
                .map_or(0, i32::from_le_bytes);
            bytes[i] == 0xe8
                && at
                    .wrapping_add(i as u64 + 5)
                    .wrapping_add(i64::from(rel) as u64)
                    == hook
        });
        Some(calls)
    }
    #[cfg(not(CONFIG_PARAVIRT_XXL))]
    {
        None
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
    /// 4- or 5-level paging.
    pub(crate) layout: VaLayout,
    /// `PTE_PFN_MASK` and `PTE_FLAGS_MASK`.
    pub(crate) masks: PteMasks,
}

/// Reads the paravirt hooks, the live PAT table and the page-table layout;
/// called once at load, before anything can read an entry.
pub(crate) fn init() -> Result<Live> {
    // SAFETY: a plain query of a boot-time CPU feature.
    let xenpv = unsafe { ffi::pte_attrs_glue_xenpv() };
    XENPV.store(xenpv && cfg!(CONFIG_PARAVIRT_XXL), Ordering::Relaxed);

    // SAFETY: plain queries of boot-time state.
    let (l5, shift) = unsafe { (ffi::pte_attrs_glue_l5(), ffi::pte_attrs_glue_pgdir_shift()) };
    let layout = VaLayout::from_kernel(l5, shift).ok_or_else(|| {
        pr_err!(
            "unexpected paging layout (PGDIR_SHIFT {}, 5-level {})\n",
            shift,
            l5
        );
        EINVAL
    })?;
    // SAFETY: as above.
    let pfn_mask = unsafe { ffi::pte_attrs_glue_pte_pfn_mask() };
    let masks = PteMasks::from_pfn_mask(pfn_mask).ok_or_else(|| {
        pr_err!("PTE_PFN_MASK is outside bits 12..51\n");
        EINVAL
    })?;
    // SAFETY: as above.
    let page_offset = unsafe { ffi::pte_attrs_glue_page_offset() } as u64;
    L5.store(layout.l5(), Ordering::Relaxed);
    PFN_MASK.store(masks.pfn_mask(), Ordering::Relaxed);
    PAGE_OFFSET.store(page_offset, Ordering::Relaxed);

    // The kernel's own cache-mode -> PTE-bits translation names the index
    // of each mode; the PAT MSR fills in the indices no mode uses.
    // SAFETY: `cachemode2protval()` is a pure table lookup.
    let protvals = CacheMode::ALL.map(|m| unsafe { bindings::cachemode2protval(m as u32) } as u64);
    let mut msr = 0u64;
    // SAFETY: `msr` is a valid place for the MSR value.
    let msr = (unsafe { ffi::pte_attrs_glue_pat_msr(&mut msr) } == 0).then_some(msr);
    let pat = PatTable::from_protvals(&protvals, msr).map_err(|e| {
        pr_err!("the live PAT table is inconsistent: {}\n", Show(e));
        EINVAL
    })?;
    PAT.store(pat.pack(), Ordering::Relaxed);
    Ok(Live {
        xenpv,
        pat,
        // SAFETY: a plain query of boot-time state.
        pat_enabled: unsafe { ffi::pte_attrs_glue_pat_enabled() },
        layout,
        masks,
    })
}

/// `pat_enabled()`: PAT is on (not `nopat`, not disabled by the CPU or a
/// hypervisor). Without it there is no memtype tracking of RAM.
pub(crate) fn pat_enabled() -> bool {
    // SAFETY: a query with no preconditions.
    unsafe { ffi::pte_attrs_glue_pat_enabled() }
}

/// Whether entries are read through a paravirt hook that is not the
/// identity (Xen PV): the call sites stayed calls.
pub(crate) fn paravirt_live() -> bool {
    XENPV.load(Ordering::Relaxed)
}

/// `PAGE_OFFSET`: where the direct map starts.
pub(crate) fn page_offset() -> u64 {
    PAGE_OFFSET.load(Ordering::Relaxed)
}

/// The live PAT table.
pub(crate) fn pat() -> PatTable {
    PatTable::unpack(PAT.load(Ordering::Relaxed))
}

/// The running kernel's `PTE_PFN_MASK` / `PTE_FLAGS_MASK`.
pub(crate) fn masks() -> PteMasks {
    PteMasks::from_pfn_mask(PFN_MASK.load(Ordering::Relaxed)).unwrap_or(PteMasks::ARCH)
}

/// The running kernel's paging layout.
pub(crate) fn layout() -> VaLayout {
    if L5.load(Ordering::Relaxed) {
        VaLayout::L5
    } else {
        VaLayout::L4
    }
}

/// Decodes the entry value `val` at `level` with the live PAT table and
/// the kernel's frame mask.
pub(crate) fn decode(val: u64, level: Level) -> PteAttrs {
    PteAttrs::decode_in(val, level, &pat(), masks())
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

/// `pXd_val()` of a table entry at `level`: the paravirt view the kernel
/// derives the next table's address from.
fn table_val(raw: u64, level: TableLevel) -> u64 {
    #[cfg(CONFIG_PARAVIRT_XXL)]
    {
        match level {
            TableLevel::Pgd => pgd_val(raw),
            TableLevel::P4d => p4d_val(raw),
            TableLevel::Pud => pud_val(raw),
            TableLevel::Pmd => pmd_val(raw),
            TableLevel::Pte => pte_val(raw),
        }
    }
    #[cfg(not(CONFIG_PARAVIRT_XXL))]
    {
        let _ = level;
        raw
    }
}

/// The kernel's page tables as [`attrs::walk`] and the full walk
/// ([`crate::pure::kwalk::KernelWalk`]) read them.
///
/// `ram_end` is where RAM's direct map ends (physical); 0 where no table
/// pointer is followed (single reads).
pub(crate) struct KernelTables {
    page_offset: u64,
    ram_end: u64,
}

impl KernelTables {
    /// The tables as a walk reads them now (RAM's end is read again:
    /// memory hotplug moves it).
    pub(in crate::sys) fn for_walk() -> Self {
        KernelTables {
            page_offset: PAGE_OFFSET.load(Ordering::Relaxed),
            // SAFETY: reads one kernel variable; no preconditions.
            ram_end: unsafe { ffi::pte_attrs_glue_direct_map_end() },
        }
    }
}

impl kwalk::Leaves for KernelTables {
    fn read_run(&mut self, slot: u64, out: &mut [u64]) -> bool {
        // SAFETY: `copy_from_kernel_nofault()` may be given any address (a
        // fault gives -EFAULT); `out` is valid for `out.len()` entries.
        unsafe {
            ffi::pte_attrs_glue_read_entries(
                slot as kernel::ffi::c_ulong,
                out.as_mut_ptr(),
                out.len(),
            ) == 0
        }
    }

    fn leaf_pv(&self, raw: u64, level: Level) -> u64 {
        pv_val(raw, level)
    }
}

impl attrs::Tables for KernelTables {
    fn read(&mut self, slot: u64) -> Option<u64> {
        let mut val = 0u64;
        // SAFETY: `copy_from_kernel_nofault()` may be given any address:
        // it refuses user addresses and turns a fault into -EFAULT; `val`
        // is a valid place for the 8 bytes.
        let r = unsafe { ffi::pte_attrs_glue_read_entry(slot as kernel::ffi::c_ulong, &mut val) };
        (r == 0).then_some(val)
    }

    fn pv(&self, raw: u64, level: TableLevel) -> u64 {
        table_val(raw, level)
    }

    fn va(&self, phys: u64) -> u64 {
        self.page_offset.wrapping_add(phys)
    }

    fn table_ok(&self, phys: u64) -> bool {
        phys < self.ram_end
    }
}

/// The top-level table this CPU runs on, with preemption disabled until
/// the guard is dropped.
///
/// # Invariants
///
/// Created by `pte_attrs_glue_kernel_pgd_begin()`; dropping it calls
/// `pte_attrs_glue_kernel_pgd_end()` once.
/// The field is private: no other code can make one without the `begin`
/// call, or copy it.
pub(in crate::sys) struct KernelPgd(u64);

impl KernelPgd {
    /// Disables preemption and returns the guard of this CPU's table.
    pub(in crate::sys) fn get() -> Self {
        // SAFETY: paired with the call in `Drop`.
        KernelPgd(unsafe { ffi::pte_attrs_glue_kernel_pgd_begin() } as u64)
    }

    /// The table's (direct-map) address, valid while the guard lives.
    pub(in crate::sys) fn addr(&self) -> u64 {
        self.0
    }
}

impl Drop for KernelPgd {
    fn drop(&mut self) {
        // SAFETY: `begin` was called once for this guard (type invariant).
        unsafe { ffi::pte_attrs_glue_kernel_pgd_end() };
    }
}

/// An entry found by [`walk`]: its level, raw value and place.
pub(crate) struct Found {
    /// The level of the entry that maps the address.
    pub(crate) level: Level,
    /// The entry as stored (`native_pte_val()`).
    pub(crate) raw: u64,
    /// Where the entry is, in its page-table page.
    pub(crate) entry: *const u64,
}

impl Found {
    /// The raw entries `n`, `n + 1`, ... slots after this one in the same
    /// page-table page, `out.len()` of them, read without faulting in one
    /// copy; `false`, with `out` unspecified, if they cannot be read
    /// (the table page was freed and unmapped since the walk, as
    /// DEBUG_PAGEALLOC does) or if the run would leave the entry's
    /// page-table page.
    ///
    /// If that page was freed and reused since the walk, the values read
    /// are whatever it holds now (see the race described in
    /// include/pte_attrs.h); the module's own mappings never lose their
    /// tables (6.12's CPA splits large pages but never frees a table; 7.3's
    /// `set_memory_rox()` frees one when it finds all 512 of its entries
    /// alike and ROX, which a table mapping one of the module's RW pages
    /// never is).
    pub(crate) fn raw_run(&self, n: usize, out: &mut [u64]) -> bool {
        let Some(slot) = self.run_slot(n, out.len()) else {
            return false;
        };
        // SAFETY: `copy_from_kernel_nofault()` may be given any address (a
        // fault gives -EFAULT); `out` is valid for `out.len()` entries.
        unsafe { ffi::pte_attrs_glue_read_entries(slot, out.as_mut_ptr(), out.len()) == 0 }
    }

    /// Whether the `len` 4K entries `n`, `n + 1`, ... slots after this one
    /// differ from `canon` through the paravirt view: the OR over them of
    /// `pv_val(entry) ^ canon`, each read without faulting, in one pass
    /// with no copy. `None` where [`Self::raw_run`] gives `false`, and
    /// for a run outside RAM's direct map (which no walk gives); the same
    /// caveat applies.
    pub(crate) fn diff_run(&self, n: usize, len: usize, canon: u64) -> Option<u64> {
        let slot = self.run_slot(n, len)?;
        let mut diff = 0;
        // SAFETY: the glue reads each entry without faulting and refuses a
        // run outside RAM's direct map (-EFAULT); `diff` is a valid `u64`.
        let r = unsafe { ffi::pte_attrs_glue_entries_diff(slot, len, canon, &mut diff) };
        (r == 0).then_some(diff)
    }

    /// The address of the entry `n` slots after this one, if `len` entries
    /// from there stay within its page-table page.
    fn run_slot(&self, n: usize, len: usize) -> Option<kernel::ffi::c_ulong> {
        let index = (self.entry as usize >> 3) & 511;
        (index + n + len <= 512).then(|| self.entry.wrapping_add(n) as kernel::ffi::c_ulong)
    }
}

impl WalkError {
    /// The errno of the C API and the `lookup` file: `-EINVAL` for a
    /// refused address, `-EFAULT` for a table that could not be read.
    pub(crate) fn errno(self) -> Error {
        match self {
            WalkError::Refused(_) => EINVAL,
            WalkError::Unreadable(_) => EFAULT,
        }
    }
}

/// The present entry that maps the kernel virtual address `addr`, found
/// by this module's own walk of the kernel's tables: `Ok(None)` if nothing
/// present maps it, an error if the address is refused or a table cannot
/// be read. Never faults, never sleeps.
pub(crate) fn walk(addr: u64) -> core::result::Result<Option<Found>, WalkError> {
    let layout = layout();
    // Refused addresses do not even look at the tables.
    let class = layout.classify(addr);
    if class != AddrClass::Kernel {
        return Err(WalkError::Refused(class));
    }
    let mut tables = KernelTables::for_walk();
    let pgd = KernelPgd::get();
    let walked = attrs::walk(layout, masks(), pgd.addr(), addr, &mut tables)?;
    drop(pgd);
    Ok(walked.map(|w| Found {
        level: w.level,
        raw: w.raw,
        entry: w.slot as *const u64,
    }))
}

/// [`walk`] for callers that only ask "what maps this": `None` also when
/// the address is refused or a table cannot be read.
pub(crate) fn lookup(addr: u64) -> Option<Found> {
    walk(addr).ok().flatten()
}

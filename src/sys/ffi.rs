// SPDX-License-Identifier: GPL-2.0

//! C functions the 6.12 `kernel::bindings` lack, with their C types.
//!
//! Only the files of `crate::sys` call them, each from the safe type that
//! owns the object the call is about.
//!
//! Two kinds: exported kernel functions whose headers bindgen was not asked
//! to read (debugfs), and the helpers of `glue.c`, which wrap what Rust
//! cannot call (static inlines, macros).
//!
//! `improper_ctypes` is allowed on the blocks as on the kernel's own
//! `bindings`: some bindgen structs behind these pointers have zero-sized
//! members, and the pointers are only handed back to C.
//!
//! A `struct dentry` is opaque here (`*mut c_void`): this module only hands
//! the pointers back to debugfs.

use kernel::bindings;
use kernel::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

#[allow(improper_ctypes)]
extern "C" {
    /// `debugfs_create_dir()` (include/linux/debugfs.h).
    pub(crate) fn debugfs_create_dir(name: *const c_char, parent: *mut c_void) -> *mut c_void;

    /// `debugfs_create_file()`: the full-proxy variant, which makes removal
    /// wait for callbacks in flight (a macro since 6.13, hence the glue).
    pub(crate) fn pte_attrs_glue_debugfs_create_file(
        name: *const c_char,
        mode: bindings::umode_t,
        parent: *mut c_void,
        data: *mut c_void,
        fops: *const c_void,
    ) -> *mut c_void;

    /// `debugfs_remove()`: recursive; returns once no read, write, llseek
    /// or open runs through the proxy, and none can start.
    pub(crate) fn debugfs_remove(dentry: *mut c_void);

    /// The module parameter `allow_alias`.
    pub(crate) fn pte_attrs_glue_alias_allowed() -> bool;
    /// `vm_unmap_aliases()` (mm/vmalloc.c): purges lazily freed vmap
    /// areas and their TLB entries now. May sleep.
    pub(crate) fn vm_unmap_aliases();

    /// The direct map's split and collapse events (`all_vm_events()`) into
    /// `out[0..4]`; how many the kernel counts (2 or 4), 0 without vm
    /// event counters, or `-ENOMEM`.
    pub(crate) fn pte_attrs_glue_direct_map_events(out: *mut u64) -> c_int;

    /// `cpu_feature_enabled(X86_FEATURE_XENPV)`.
    pub(crate) fn pte_attrs_glue_xenpv() -> bool;

    /// `rdmsrl_safe(MSR_IA32_CR_PAT, val)`: 0 or a negative errno.
    pub(crate) fn pte_attrs_glue_pat_msr(val: *mut u64) -> c_int;

    /// `pat_enabled()`.
    pub(crate) fn pte_attrs_glue_pat_enabled() -> bool;

    /// `pgtable_l5_enabled()`.
    pub(crate) fn pte_attrs_glue_l5() -> bool;
    /// `PGDIR_SHIFT`.
    pub(crate) fn pte_attrs_glue_pgdir_shift() -> c_uint;
    /// `PAGE_OFFSET`: `__va(0)`.
    pub(crate) fn pte_attrs_glue_page_offset() -> c_ulong;
    /// `PTE_PFN_MASK`.
    pub(crate) fn pte_attrs_glue_pte_pfn_mask() -> u64;
    /// Disables preemption and returns `__va(read_cr3_pa())`, the top-level
    /// table this CPU runs on; [`pte_attrs_glue_kernel_pgd_end`] must follow.
    pub(crate) fn pte_attrs_glue_kernel_pgd_begin() -> c_ulong;
    /// Enables preemption again.
    pub(crate) fn pte_attrs_glue_kernel_pgd_end();
    /// `copy_from_kernel_nofault()` of the 8-byte entry at `slot`: 0, or
    /// `-EFAULT` if it cannot be read.
    pub(crate) fn pte_attrs_glue_read_entry(slot: c_ulong, val: *mut u64) -> c_int;
    /// `copy_from_kernel_nofault()` of the `n` consecutive entries from
    /// `slot` into `val`: 0, or `-EFAULT` if they cannot be read.
    pub(crate) fn pte_attrs_glue_read_entries(slot: c_ulong, val: *mut u64, n: usize) -> c_int;
    /// The OR over the `n` consecutive 4K entries from `slot` (at most a
    /// table's 512) of `pte_val(entry) ^ canon`, into `diff`, each read
    /// without faulting: 0, or `-EFAULT` if one cannot be read or the run
    /// is not in RAM's direct map.
    pub(crate) fn pte_attrs_glue_entries_diff(
        slot: c_ulong,
        n: usize,
        canon: u64,
        diff: *mut u64,
    ) -> c_int;
    /// `cond_resched()`: may sleep; process context, no spinlock held.
    pub(crate) fn pte_attrs_glue_cond_resched();
    /// `__pa(high_memory)`: the physical address where RAM's direct map
    /// ends (`max_pfn << PAGE_SHIFT`).
    pub(crate) fn pte_attrs_glue_direct_map_end() -> u64;

    /// `alloc_pages(GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY, order)`.
    pub(crate) fn pte_attrs_glue_alloc_pages(order: c_uint) -> *mut bindings::page;
    /// `page_address()`.
    pub(crate) fn pte_attrs_glue_page_address(page: *mut bindings::page) -> *mut c_void;
    /// `nth_page()`.
    pub(crate) fn pte_attrs_glue_nth_page(
        page: *mut bindings::page,
        n: c_ulong,
    ) -> *mut bindings::page;
    /// `kthread_run()` of `"name/id"`, holding a task reference for
    /// `kthread_stop_put()`; an `ERR_PTR` on failure.
    pub(crate) fn pte_attrs_glue_kthread_run(
        f: unsafe extern "C" fn(*mut c_void) -> c_int,
        data: *mut c_void,
        name: *const c_char,
        id: c_uint,
    ) -> *mut bindings::task_struct;
    /// Benchmark loop: `pte_flags()` of each of `n` values, folded.
    pub(crate) fn pte_attrs_bench_pte_flags(v: *const u64, n: usize) -> u64;
    /// Benchmark loop: `pte_val() & PTE_FLAGS_MASK` (a patched call site).
    pub(crate) fn pte_attrs_bench_pte_val(v: *const u64, n: usize) -> u64;
    pub(crate) fn pte_attrs_bench_pte_val_twin(v: *const u64, n: usize) -> u64;
    /// Benchmark loop: an indirect call through `pv_ops.mmu.pte_val` (an
    /// asm call, kCFI-safe); only where the hook exists.
    #[cfg(CONFIG_PARAVIRT_XXL)]
    pub(crate) fn pte_attrs_bench_indirect(v: *const u64, n: usize) -> u64;
    /// `BUG_func()` (arch/x86/kernel/alternative.c): the placeholder target
    /// of an `ALT_CALL_ALWAYS` replacement, which the loader rewrites into a
    /// direct call to the hook. Never called.
    #[cfg(CONFIG_PARAVIRT_XXL)]
    #[allow(non_snake_case)]
    pub(crate) fn BUG_func();

    /// `set_pages_uc()` (arch/x86/mm/pat/set_memory.c).
    pub(crate) fn set_pages_uc(page: *mut bindings::page, numpages: c_int) -> c_int;
    /// `set_pages_wb()`.
    pub(crate) fn set_pages_wb(page: *mut bindings::page, numpages: c_int) -> c_int;
    /// `set_pages_array_uc()`.
    pub(crate) fn set_pages_array_uc(pages: *mut *mut bindings::page, numpages: c_int) -> c_int;
    /// `set_pages_array_wc()`.
    pub(crate) fn set_pages_array_wc(pages: *mut *mut bindings::page, numpages: c_int) -> c_int;
    /// `set_pages_array_wb()`.
    pub(crate) fn set_pages_array_wb(pages: *mut *mut bindings::page, numpages: c_int) -> c_int;
    /// `set_memory_uc()`: really UC-.
    pub(crate) fn set_memory_uc(addr: c_ulong, numpages: c_int) -> c_int;
    /// `set_memory_wc()`.
    pub(crate) fn set_memory_wc(addr: c_ulong, numpages: c_int) -> c_int;
    /// `set_memory_wb()`.
    pub(crate) fn set_memory_wb(addr: c_ulong, numpages: c_int) -> c_int;
}

#[allow(improper_ctypes)]
extern "C" {
    /// The audit's regions as `[start, end)` pairs, `2 * REGIONS` values,
    /// in the order of `enum PTE_ATTRS_R_*` (glue.h); 0, 0 where the kernel
    /// has no such region.
    pub(crate) fn pte_attrs_glue_regions(b: *mut u64);
    /// "System RAM" as pfn ranges `[first, end)` into `pairs` (at most
    /// `max` pairs); returns how many there are.
    pub(crate) fn pte_attrs_glue_ram_ranges(pairs: *mut u64, max: c_int) -> c_int;
    /// `vmap(&page, 1, VM_MAP, pgprot_writecombine(PAGE_KERNEL))`; null on
    /// failure.
    pub(crate) fn pte_attrs_glue_vmap_wc(page: *mut bindings::page) -> *mut c_void;
    /// Rewrites the cache bits of the present 4K PTE that maps `addr` (a
    /// one-page `ioremap_wc()` of frame `pfn`, never accessed) to UC, found
    /// with `lookup_address()`: 0, or `-EINVAL` if `addr` does not map
    /// `pfn` so.
    pub(crate) fn pte_attrs_glue_retype_uc(addr: *mut c_void, pfn: c_ulong) -> c_int;
    /// `vunmap()` (mm/vmalloc.c, exported); may sleep.
    pub(crate) fn vunmap(addr: *const c_void);
    /// `fatal_signal_pending(current)`.
    pub(crate) fn pte_attrs_glue_fatal_signal() -> bool;
    /// `VMALLOC_START`: where the direct map's region ends.
    pub(crate) fn pte_attrs_glue_vmalloc_start() -> c_ulong;
    /// The memtype record of RAM page `pfn` (an `enum page_cache_mode`, or
    /// -1 where none is kept); `*run` pages from `pfn` on, at most `max`,
    /// have the same answer. `pfn_valid()` is asked once per memory-map
    /// subsection.
    pub(crate) fn pte_attrs_glue_page_memtype_run(
        pfn: c_ulong,
        max: c_ulong,
        run: *mut c_ulong,
    ) -> c_int;
    /// Calls the C callback `f` of `pte_attrs_walk()` with `leaf` and
    /// `data`, from C (so that kCFI checks C's type hash).
    pub(crate) fn pte_attrs_glue_walk_leaf(
        f: *const c_void,
        leaf: *const c_void,
        data: *mut c_void,
    ) -> c_int;
}

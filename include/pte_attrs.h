/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pte_attrs: page-table entry attributes as the paravirt layer sees them.
 *
 * Build a consumer with KBUILD_EXTRA_SYMBOLS=<pte_attrs>/Module.symvers and
 * -I<pte_attrs>/include; load pte_attrs.ko first (modprobe does).
 */
#ifndef _PTE_ATTRS_H
#define _PTE_ATTRS_H

#include <linux/types.h>
#include <asm/pgtable_types.h>

/**
 * struct pte_attrs_info - the entry that maps an address, both views
 * @addr:	the kernel virtual address looked up
 * @level:	enum pg_level of the entry: PG_LEVEL_4K, PG_LEVEL_2M or
 *		PG_LEVEL_1G
 * @cache_mode:	enum page_cache_mode of @pv_val through the live PAT
 *		table (_PAGE_CACHE_MODE_WB ...), or -1 if the table does
 *		not say
 * @pv_val:	the entry read through the paravirt *_val hook of its level
 *		(what the kernel sees; Xen PV translates frames there)
 * @raw_val:	the entry as stored, native_pte_val() (what pte_flags()
 *		reads)
 * @flags:	@pv_val without its frame field, as the running kernel's
 *		PTE_PFN_MASK defines it (so an SME/SEV encryption bit is a
 *		flag; for a 2M or 1G entry the PAT bit is bit 12)
 * @pfn:	the frame of @pv_val (the first 4K frame of a large page)
 * @raw_pfn:	the frame of @raw_val: a machine frame under Xen PV
 */
struct pte_attrs_info {
	unsigned long addr;
	unsigned int level;
	int cache_mode;
	u64 pv_val;
	u64 raw_val;
	u64 flags;
	u64 pfn;
	u64 raw_pfn;
};

/**
 * pte_attrs() - flags of a PTE read through the paravirt pte_val hook
 * @pte: the entry
 *
 * pte_val(pte) & PTE_FLAGS_MASK, as the 2012 Xen-devel patch defined it,
 * with the running kernel's PTE_FLAGS_MASK (read at load: under SME/SEV it
 * holds the encryption bit): right under Xen PV, where pte_flags() sees
 * untranslated bits, and a plain mask on any other kernel (no indirect
 * call).
 *
 * Return: the flags.
 */
pgprot_t pte_attrs(pte_t pte);

/**
 * pte_attrs_lookup() - decode the entry that maps a kernel address
 * @addr: kernel virtual address (never modified, never faulted on)
 * @info: filled on success
 *
 * The address is classified first, for the live paging mode (48- or
 * 57-bit virtual addresses): a non-canonical address, one in the user
 * half, or one in the hypervisor guard hole (GUARD_HOLE_BASE_ADDR ..
 * GUARD_HOLE_END_ADDR, Xen's own top-level entries under PV) is refused
 * without reading any table. Otherwise the module walks the kernel's page
 * tables from the top (the kernel half of the PGD this CPU runs on, a copy
 * of init_mm's), reading every entry with copy_from_kernel_nofault() and
 * following table pointers through the paravirt pXd_val() view and the
 * running kernel's PTE_PFN_MASK. A 1G or 2M leaf ends the walk.
 *
 * Remaining race: the walk takes no lock, as lookup_address() takes none.
 * The kernel's own walker of tables it does not own, ptdump, holds
 * mmap_write_lock(&init_mm) (6.12.118 and 7.3.4: "mm/ptdump: always
 * stabilise against page table freeing using init_mm"), because huge vmap
 * teardown and, since 6.15, CPA's collapse of split direct-map pages
 * (set_memory_rox()) free page-table pages under that mm's lock. init_mm
 * is not exported to modules (checked in both trees), so no module can
 * take that lock, and a lookup that may be called in atomic context could
 * not sleep on it anyway.
 * If a page-table page on the way is freed concurrently (a huge vmap torn
 * down, a split direct-map page collapsed, memory hot-removed) the read
 * either fails, which gives -EFAULT
 * (the page was unmapped, as under DEBUG_PAGEALLOC), or succeeds on a
 * page that has been freed and perhaps reused: the result is then a stale
 * or meaningless entry, never a fault, never a write, and never a read
 * outside RAM's direct map (a table pointer to a frame at or above max_pfn
 * gives -EFAULT, so no device register is read). Only an address whose
 * mapping the caller keeps alive (its own pages, its own ioremap) gets a
 * stable answer.
 *
 * Context: any; does not sleep (preemption is disabled during the walk).
 * Return: 0; -ENOENT if no present entry maps @addr; -EINVAL if @info is
 * NULL or @addr is refused (see above); -EFAULT if a page-table page on
 * the way cannot be read.
 */
int pte_attrs_lookup(unsigned long addr, struct pte_attrs_info *info);

/**
 * pte_attrs_cache_mode_name() - name of an enum page_cache_mode
 * @mode: the mode, as in &struct pte_attrs_info.cache_mode
 *
 * Return: "WB", "WC", "UC-", "UC", "WT", "WP", or "?" for anything else.
 */
const char *pte_attrs_cache_mode_name(int mode);

/**
 * struct pte_attrs_leaf - one leaf entry of the kernel's page tables
 * @addr:	the first virtual address it maps
 * @level:	enum pg_level: PG_LEVEL_4K, PG_LEVEL_2M or PG_LEVEL_1G
 * @pv:		the entry through the paravirt *_val hook of its level
 *		(pte_val(): what the kernel sees; under Xen PV a frame with
 *		no pseudo-physical frame reads as not present here)
 * @raw:	the entry as stored (native_pte_val(): a machine frame under
 *		Xen PV; what pte_flags() reads)
 * @cache_mode:	enum page_cache_mode of @pv through the live PAT table, or
 *		-1 if the table does not say
 */
struct pte_attrs_leaf {
	unsigned long addr;
	unsigned int level;
	u64 pv;
	u64 raw;
	int cache_mode;
};

/*
 * pte_attrs_walk() @flags: also visit leaves that are not present but not
 * empty (CPA's set_memory_np(), DEBUG_PAGEALLOC), as /proc/meminfo's
 * DirectMap counters count them.
 */
#define PTE_ATTRS_WALK_NOT_PRESENT 0x1

/**
 * pte_attrs_walk() - visit every leaf entry of the kernel half
 * @start: first address; raised to the start of the kernel half
 * @end: first address after the range; 0 for the end of the address space
 * @flags: 0 or PTE_ATTRS_WALK_NOT_PRESENT
 * @fn: called for each leaf (present, or with the flag not empty) whose
 *	first address is in [@start, @end), in address order; a nonzero
 *	return stops the walk and is returned
 * @data: passed to @fn
 *
 * The module's own walk of the kernel's tables from the top (as
 * pte_attrs_lookup() does: no-fault reads, table pointers through the
 * paravirt view, never the user half or the hypervisor guard hole), in
 * chunks of a few thousand entries with preemption disabled, yielding the
 * CPU (cond_resched()) between chunks. A table entry that points to the
 * same table as the one before it is not followed again (KASAN's early
 * shadow maps terabytes through one table per level). Tables may change
 * during the walk: each leaf is as it was when read, and a leaf can be
 * missed or seen twice only if the tables change under the walk. The
 * same race as pte_attrs_lookup() applies to freed table pages: init_mm's
 * mmap lock, which ptdump holds for that, is out of a module's reach (see
 * pte_attrs_lookup()).
 *
 * Context: process context, may sleep between chunks; @fn runs with
 * preemption disabled and must not sleep.
 * Return: 0 once the range was walked (also when nothing of it is in the
 * kernel half); @fn's nonzero return; -EINVAL for unknown @flags, a NULL
 * @fn, or a nonzero @end not above @start; -EINTR if a fatal signal is
 * pending (checked between chunks).
 */
int pte_attrs_walk(unsigned long start, unsigned long end, unsigned int flags,
		   int (*fn)(const struct pte_attrs_leaf *leaf, void *data),
		   void *data);

#endif /* _PTE_ATTRS_H */

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
 * If a page-table page on the way is freed concurrently (a huge vmap torn
 * down, memory hot-removed) the read either fails, which gives -EFAULT
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

#endif /* _PTE_ATTRS_H */

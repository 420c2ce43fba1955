/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of glue.c for the Rust side of pte_attrs (declared again, as
 * extern "C", in ffi.rs).
 */
#ifndef _PTE_ATTRS_GLUE_H
#define _PTE_ATTRS_GLUE_H

#include <linux/fs.h>
#include <linux/types.h>
#include <asm/pgtable_types.h>

struct dentry;
struct pte_attrs_info;
struct pte_attrs_leaf;

/* src/export.rs, behind the exported functions of include/pte_attrs.h. */
pgprot_t pte_attrs_rs(pte_t pte);
int pte_attrs_rs_lookup(unsigned long addr, struct pte_attrs_info *info);
const char *pte_attrs_rs_cache_mode_name(int mode);
int pte_attrs_rs_walk(unsigned long start, unsigned long end,
		      unsigned int flags, const void *fn, void *data);

bool pte_attrs_glue_alias_allowed(void);
int pte_attrs_glue_direct_map_events(u64 *out);
struct dentry *pte_attrs_glue_debugfs_create_file(const char *name, umode_t mode,
						 struct dentry *parent, void *data,
						 const struct file_operations *fops);
bool pte_attrs_glue_xenpv(void);
int pte_attrs_glue_pat_msr(u64 *val);
bool pte_attrs_glue_pat_enabled(void);
bool pte_attrs_glue_l5(void);
unsigned int pte_attrs_glue_pgdir_shift(void);
unsigned long pte_attrs_glue_page_offset(void);
u64 pte_attrs_glue_pte_pfn_mask(void);
unsigned long pte_attrs_glue_kernel_pgd_begin(void);
void pte_attrs_glue_kernel_pgd_end(void);
int pte_attrs_glue_read_entry(unsigned long slot, u64 *val);
int pte_attrs_glue_read_entries(unsigned long slot, u64 *val, size_t n);
int pte_attrs_glue_entries_diff(unsigned long slot, size_t n, u64 canon, u64 *diff);
void pte_attrs_glue_cond_resched(void);
u64 pte_attrs_glue_direct_map_end(void);

struct page;
struct task_struct;
struct page *pte_attrs_glue_alloc_pages(unsigned int order);
void *pte_attrs_glue_page_address(struct page *page);
struct page *pte_attrs_glue_nth_page(struct page *page, unsigned long n);
struct task_struct *pte_attrs_glue_kthread_run(int (*fn)(void *), void *data,
					       const char *name, unsigned int id);

/* The audit's regions, in this order (src/sys/kmap.rs: REGION_KINDS). */
enum {
	PTE_ATTRS_R_DIRECT,
	PTE_ATTRS_R_VMALLOC,
	PTE_ATTRS_R_VMEMMAP,
	PTE_ATTRS_R_CPU_ENTRY,
	PTE_ATTRS_R_FIXMAP,
	PTE_ATTRS_R_MODULES,
	PTE_ATTRS_R_TEXT,
	PTE_ATTRS_R_LDT,
	PTE_ATTRS_R_KASAN,
	PTE_ATTRS_R_ESPFIX,
	PTE_ATTRS_R_EFI,
	PTE_ATTRS_R_NR
};
void pte_attrs_glue_regions(u64 *b);
int pte_attrs_glue_ram_ranges(u64 *pairs, int max);
void *pte_attrs_glue_vmap_wc(struct page *page);
int pte_attrs_glue_retype_uc(void *addr, unsigned long pfn);
bool pte_attrs_glue_fatal_signal(void);
unsigned long pte_attrs_glue_vmalloc_start(void);
int pte_attrs_glue_walk_leaf(const void *fn, const struct pte_attrs_leaf *leaf,
			     void *data);
int pte_attrs_glue_page_memtype_run(unsigned long pfn, unsigned long max,
				    unsigned long *run);

u64 pte_attrs_bench_pte_flags(const u64 *v, size_t n);
u64 pte_attrs_bench_pte_val(const u64 *v, size_t n);
u64 pte_attrs_bench_pte_val_twin(const u64 *v, size_t n);
#ifdef CONFIG_PARAVIRT_XXL
u64 pte_attrs_bench_indirect(const u64 *v, size_t n);
#endif

#endif /* _PTE_ATTRS_GLUE_H */

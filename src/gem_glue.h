/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of gem_glue.c for the Rust side of pte_attrs' GEM device
 * (declared again, as extern "C", in src/sys/miscdev.rs, user_pte.rs and
 * gem_bar.rs): the misc device, which 6.12's kernel crate does not wrap,
 * and the static inlines and macros of the mm headers a fault handler
 * needs.
 */
#ifndef _PTE_ATTRS_GEM_GLUE_H
#define _PTE_ATTRS_GEM_GLUE_H

#include <linux/fs.h>
#include <linux/mm_types.h>
#include <linux/types.h>

struct pte_attrs_gem_misc;

/* Cache modes of pte_attrs_gem_insert_pfn(), as in enum page_cache_mode. */
#define PTE_ATTRS_GEM_WB	0
#define PTE_ATTRS_GEM_WC	1
#define PTE_ATTRS_GEM_UC_MINUS	2

struct pte_attrs_gem_misc *pte_attrs_gem_misc_register(const char *name,
							const struct file_operations *fops,
							void *data);
void pte_attrs_gem_misc_deregister(struct pte_attrs_gem_misc *m);
void *pte_attrs_gem_file_data(struct file *file);
struct address_space *pte_attrs_gem_mapping_get(struct file *file);
void pte_attrs_gem_mapping_put(struct address_space *mapping);

void pte_attrs_gem_vma_info(struct vm_area_struct *vma, unsigned long *pgoff,
			    unsigned long *pages, bool *shared, struct file **file);
void pte_attrs_gem_vma_set_pfnmap(struct vm_area_struct *vma,
				  const struct vm_operations_struct *ops);
void pte_attrs_gem_vmf_info(struct vm_fault *vmf, unsigned long *pgoff,
			    struct file **file);
unsigned int pte_attrs_gem_insert_pfn(struct vm_fault *vmf, unsigned long pfn,
				      int mode, bool raw);

/* What pte_attrs_gem_user_pte() read (struct UserPte in user_pte.rs). */
struct pte_attrs_gem_upte {
	u64 raw;
	u64 pv;
	u64 vm_flags;
	u32 present;
	u32 writable;
	u32 special;
	u32 pad;
};

int pte_attrs_gem_user_pte(unsigned long addr, struct pte_attrs_gem_upte *out,
			   void (*dm)(unsigned long pfn, void *data), void *data);
unsigned long pte_attrs_gem_pfn_kaddr(unsigned long pfn);

/* What pte_attrs_gem_privileged() checks (Privileged in miscdev.rs). */
#define PTE_ATTRS_GEM_PRIV_FRAMES	1
#define PTE_ATTRS_GEM_PRIV_BAR		2
#define PTE_ATTRS_GEM_PRIV_TEST_INSERT	3
int pte_attrs_gem_privileged(int what);

struct io_mapping;
struct io_mapping *pte_attrs_gem_io_mapping_create_wc(u64 base, unsigned long size);
void pte_attrs_gem_io_mapping_free(struct io_mapping *m);
void __iomem *pte_attrs_gem_io_mapping_map_local_wc(struct io_mapping *m,
						    unsigned long offset);
void pte_attrs_gem_io_mapping_unmap_local(void __iomem *vaddr);
void __iomem *pte_attrs_gem_io_mapping_map_wc(struct io_mapping *m,
					      unsigned long offset,
					      unsigned long size);
void pte_attrs_gem_io_mapping_unmap(void __iomem *vaddr);

#endif /* _PTE_ATTRS_GEM_GLUE_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of the GEM device cannot reach: struct miscdevice
 * (not in 6.12's bindings), and the static inlines and macros of the mm
 * headers (vm_flags_set(), pgprot_writecombine(), page_to_pfn(),
 * mmap_read_lock()). Everything else is decided in Rust
 * (src/sys/gem_dev.rs, src/sys/gem_pages.rs).
 */
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/io-mapping.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <asm/pgtable.h>

#include "compat.h"
#include "gem_glue.h"

struct pte_attrs_gem_misc {
	struct miscdevice misc;
	void *data;
};

/*
 * Registers a root-only (0600) misc device with @fops, whose ->owner pins
 * the module while a file is open (and so while a mapping lives: a VMA
 * holds its file). @data is what pte_attrs_gem_file_data() returns.
 */
struct pte_attrs_gem_misc *pte_attrs_gem_misc_register(const char *name,
							const struct file_operations *fops,
							void *data)
{
	struct pte_attrs_gem_misc *m = kzalloc(sizeof(*m), GFP_KERNEL);
	int ret;

	if (!m)
		return ERR_PTR(-ENOMEM);
	m->misc.minor = MISC_DYNAMIC_MINOR;
	m->misc.name = name;
	m->misc.fops = fops;
	m->misc.mode = 0600;
	m->data = data;
	ret = misc_register(&m->misc);
	if (ret) {
		kfree(m);
		return ERR_PTR(ret);
	}
	return m;
}

/* After this no open can start; files already open keep their fops. */
void pte_attrs_gem_misc_deregister(struct pte_attrs_gem_misc *m)
{
	misc_deregister(&m->misc);
	kfree(m);
}

/* misc_open() leaves the miscdevice in ->private_data; we never change it. */
void *pte_attrs_gem_file_data(struct file *file)
{
	struct miscdevice *misc = file->private_data;

	return container_of(misc, struct pte_attrs_gem_misc, misc)->data;
}

/*
 * The address space the file's mappings are linked into, with a reference
 * on its inode, so that it outlives the file: put it with
 * pte_attrs_gem_mapping_put().
 */
struct address_space *pte_attrs_gem_mapping_get(struct file *file)
{
	struct address_space *mapping = file->f_mapping;

	ihold(mapping->host);
	return mapping;
}

void pte_attrs_gem_mapping_put(struct address_space *mapping)
{
	iput(mapping->host);
}

void pte_attrs_gem_vma_info(struct vm_area_struct *vma, unsigned long *pgoff,
			    unsigned long *pages, bool *shared, struct file **file)
{
	*pgoff = vma->vm_pgoff;
	*pages = vma_pages(vma);
	*shared = !pte_attrs_vma_is_cow(vma);
	*file = vma->vm_file;
}

/* As TTM maps a buffer object (ttm_bo_mmap_obj()). */
void pte_attrs_gem_vma_set_pfnmap(struct vm_area_struct *vma,
				  const struct vm_operations_struct *ops)
{
	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = ops;
}

void pte_attrs_gem_vmf_info(struct vm_fault *vmf, unsigned long *pgoff,
			    struct file **file)
{
	*pgoff = vmf->pgoff;
	*file = vmf->vma->vm_file;
}

/*
 * vmf_insert_pfn_prot() of @pfn at the faulting address with the cache
 * mode @mode, as ttm_bo_vm_fault_reserved() does with ttm_io_prot().
 */
unsigned int pte_attrs_gem_insert_pfn(struct vm_fault *vmf, unsigned long pfn,
				      int mode)
{
	struct vm_area_struct *vma = vmf->vma;
	pgprot_t prot = vma->vm_page_prot;

	switch (mode) {
	case PTE_ATTRS_GEM_WB:
		break;
	case PTE_ATTRS_GEM_WC:
		prot = pgprot_writecombine(prot);
		break;
	case PTE_ATTRS_GEM_UC_MINUS:
		prot = pgprot_noncached(prot);
		break;
	default:
		return VM_FAULT_SIGBUS;
	}
	return vmf_insert_pfn_prot(vma, vmf->address & PAGE_MASK, pfn, prot);
}

/*
 * The user PTE that maps @addr in the calling process, read under the mmap
 * lock and the page-table lock (follow_pfnmap_start()): 0 with *raw the
 * entry as stored (0 if nothing is mapped there), -ENOENT if no VMA covers
 * @addr, -EOPNOTSUPP if the VMA is not a PFN map (VM_IO/VM_PFNMAP) or the
 * entry is not a 4K one, -EINTR if the lock wait was interrupted, -EINVAL
 * for a kernel thread. *vm_flags gets the VMA's flags.
 */
int pte_attrs_gem_user_pte(unsigned long addr, u64 *raw, unsigned long *vm_flags)
{
	struct mm_struct *mm = current->mm;
	struct follow_pfnmap_args args = {};
	struct vm_area_struct *vma;
	int ret = 0;

	*raw = 0;
	*vm_flags = 0;
	if (!mm)
		return -EINVAL;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, addr);
	if (!vma) {
		ret = -ENOENT;
		goto out;
	}
	*vm_flags = vma->vm_flags;
	if (!(vma->vm_flags & (VM_IO | VM_PFNMAP))) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	args.vma = vma;
	args.address = addr;
	if (follow_pfnmap_start(&args))
		goto out;	/* nothing present: *raw stays 0 */
	if (args.ptep)
		*raw = native_pte_val(ptep_get(args.ptep));
	else
		ret = -EOPNOTSUPP;	/* a PMD/PUD PFN map: not a 4K entry */
	follow_pfnmap_end(&args);
out:
	mmap_read_unlock(mm);
	return ret;
}

/* The direct-map address of @pfn, or 0 if it has no struct page. */
unsigned long pte_attrs_gem_pfn_kaddr(unsigned long pfn)
{
	if (!pfn_valid(pfn))
		return 0;
	return (unsigned long)pfn_to_kaddr(pfn);
}

/*
 * The DRM BAR paths of i915, xe, amdgpu and nouveau: a WC io_mapping of
 * an aperture (io_mapping_create_wc() = io_mapping_init_wc() in a new
 * struct) and its per-page and ranged maps. On x86_64 the io_mapping is
 * one ioremap_wc() of the whole range, and the maps are offsets in it.
 */
struct io_mapping *pte_attrs_gem_io_mapping_create_wc(u64 base, unsigned long size)
{
	return io_mapping_create_wc(base, size);
}

void pte_attrs_gem_io_mapping_free(struct io_mapping *m)
{
	io_mapping_free(m);
}

void __iomem *pte_attrs_gem_io_mapping_map_local_wc(struct io_mapping *m,
						    unsigned long offset)
{
	return io_mapping_map_local_wc(m, offset);
}

void pte_attrs_gem_io_mapping_unmap_local(void __iomem *vaddr)
{
	io_mapping_unmap_local(vaddr);
}

void __iomem *pte_attrs_gem_io_mapping_map_wc(struct io_mapping *m,
					      unsigned long offset,
					      unsigned long size)
{
	return io_mapping_map_wc(m, offset, size);
}

void pte_attrs_gem_io_mapping_unmap(void __iomem *vaddr)
{
	io_mapping_unmap(vaddr);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of the GEM device cannot reach: struct miscdevice
 * (not in 6.12's bindings), the static inlines and macros of the mm
 * headers (vm_flags_set(), pgprot_writecombine(), pfn_pte(),
 * mmap_read_lock()), capable() with security_locked_down() (a static
 * inline without CONFIG_SECURITY). Everything else is decided in Rust
 * (src/sys/miscdev.rs, src/sys/gem_pages.rs, src/sys/user_pte.rs,
 * src/exerciser/gem_mmap.rs).
 */
#include <linux/capability.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/io-mapping.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pgtable.h>
#include <linux/sched/mm.h>
#include <linux/security.h>
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
 * pte_attrs_gem_mapping_put(). NULL, with nothing held, for a file without
 * one (an open file always has one).
 */
struct address_space *pte_attrs_gem_mapping_get(struct file *file)
{
	struct address_space *mapping = file->f_mapping;

	if (!mapping || !mapping->host)
		return NULL;
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

struct pte_attrs_gem_raw_pte {
	struct mm_struct *mm;
	unsigned long pfn;
	pgprot_t prot;
};

/* Under the page-table lock apply_to_page_range() takes for a user mm. */
static int pte_attrs_gem_set_raw_pte(pte_t *pte, unsigned long addr, void *data)
{
	struct pte_attrs_gem_raw_pte *r = data;

	/* A concurrent fault of the same page got there first. */
	if (!pte_none(ptep_get(pte)))
		return 0;
	set_pte_at(r->mm, addr, pte, pte_mkspecial(pfn_pte(r->pfn, r->prot)));
	return 0;
}

/*
 * Inserts @pfn at the faulting address with the cache mode @mode, as
 * ttm_bo_vm_fault_reserved() does with ttm_io_prot(): vmf_insert_pfn_prot(),
 * where (with PAT) pfnmap_setup_cachemode_pfn() (7.x; track_pfn_insert()
 * in 6.12) replaces the cache bits with the page's memtype. With @raw (the
 * selftests' TEST_RAW_PTE) the entry is written as i915's
 * remap_io_mapping() writes it, apply_to_page_range() and set_pte_at() of
 * a special entry, which no memtype lookup corrects: the same entry but
 * for its cache bits, which are @mode's.
 */
unsigned int pte_attrs_gem_insert_pfn(struct vm_fault *vmf, unsigned long pfn,
				      int mode, bool raw)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PAGE_MASK;
	struct pte_attrs_gem_raw_pte r = { .mm = vma->vm_mm, .pfn = pfn };
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
	if (!raw)
		return vmf_insert_pfn_prot(vma, addr, pfn, prot);
	r.prot = prot;
	/* A page table that cannot be allocated: SIGBUS, as a failed refault. */
	if (apply_to_page_range(vma->vm_mm, addr, PAGE_SIZE,
				pte_attrs_gem_set_raw_pte, &r))
		return VM_FAULT_SIGBUS;
	return VM_FAULT_NOPAGE;
}

#ifndef PTE_ATTRS_KERNEL_7
/*
 * Whether a PMD or PUD entry maps @addr (a huge PFN map), which 6.12's
 * follow_pfnmap_args does not say (7.x has addr_mask): the upper levels
 * read as follow_pfnmap_start() reads them, under the mmap lock.
 */
static bool pte_attrs_gem_huge_at(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgdp = pgd_offset(mm, addr);
	p4d_t *p4dp;
	pud_t *pudp, pud;

	if (pgd_none(*pgdp) || pgd_bad(*pgdp))
		return false;
	p4dp = p4d_offset(pgdp, addr);
	if (p4d_none(p4dp_get(p4dp)) || p4d_bad(p4dp_get(p4dp)))
		return false;
	pudp = pud_offset(p4dp, addr);
	pud = pudp_get(pudp);
	if (!pud_present(pud))
		return false;
	if (pud_leaf(pud))
		return true;
	return pmd_leaf(pmdp_get_lockless(pmd_offset(pudp, addr)));
}
#endif

/*
 * The user PTE that maps @addr in the calling process, read with
 * follow_pfnmap_start() under the mmap lock and the page-table lock, from
 * its documented outputs only (pfn, pgprot, writable, special; 7.x's
 * addr_mask), never its internal ptep: out->pv is the paravirt view (the
 * frame pte_pfn() read through the pte_val hook, and the entry's flags),
 * out->raw the entry as stored, rebuilt by the kernel's own pfn_pte()
 * (through the paravirt make_pte hook: the machine frame under Xen PV).
 *
 * @dm(pfn, @data) is called while the page-table lock is held: the entry
 * cannot be zapped meanwhile, and the device zaps before it changes a
 * page's caching or frees it, so what @dm reads about the frame belongs
 * with this entry. @dm must not sleep.
 *
 * 0 with out->present (0: nothing mapped there), -ENOENT if no VMA covers
 * @addr, -EOPNOTSUPP if the VMA is not a PFN map (VM_IO/VM_PFNMAP) or the
 * entry is not a 4K one, -EINTR if the lock wait was interrupted, -EINVAL
 * for a kernel thread. out->vm_flags gets the VMA's flags.
 */
int pte_attrs_gem_user_pte(unsigned long addr, struct pte_attrs_gem_upte *out,
			   void (*dm)(unsigned long pfn, void *data), void *data)
{
	struct mm_struct *mm = current->mm;
	struct follow_pfnmap_args args = {};
	struct vm_area_struct *vma;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!mm)
		return -EINVAL;
	if (mmap_read_lock_killable(mm))
		return -EINTR;
	vma = vma_lookup(mm, addr);
	if (!vma) {
		ret = -ENOENT;
		goto out;
	}
	out->vm_flags = vma->vm_flags;
	if (!(vma->vm_flags & (VM_IO | VM_PFNMAP))) {
		ret = -EOPNOTSUPP;
		goto out;
	}
#ifndef PTE_ATTRS_KERNEL_7
	if (pte_attrs_gem_huge_at(mm, addr)) {
		ret = -EOPNOTSUPP;
		goto out;
	}
#endif
	args.vma = vma;
	args.address = addr;
	if (follow_pfnmap_start(&args))
		goto out;	/* nothing present */
#ifdef PTE_ATTRS_KERNEL_7
	if (args.addr_mask != PAGE_MASK) {
		ret = -EOPNOTSUPP;	/* a PMD/PUD PFN map: not a 4K entry */
		goto end;
	}
#endif
	out->present = 1;
	out->writable = args.writable;
	out->special = args.special;
	out->pv = ((u64)args.pfn << PAGE_SHIFT) | pgprot_val(args.pgprot);
	out->raw = native_pte_val(pfn_pte(args.pfn, args.pgprot));
	dm(args.pfn, data);
#ifdef PTE_ATTRS_KERNEL_7
end:
#endif
	follow_pfnmap_end(&args);
out:
	mmap_read_unlock(mm);
	return ret;
}

/*
 * Whether the calling task may use a privileged ioctl of the device (@what:
 * PTE_ATTRS_GEM_PRIV_*): CAP_SYS_ADMIN of its own, checked at each call,
 * since the file's 0600 mode says nothing about who holds an open file
 * (one can be passed to any process), and a kernel not locked down for it:
 * - FRAMES (PFNS: the physical frames of the object's pages, which
 *   /proc/pid/pagemap also gives to CAP_SYS_ADMIN only): what lockdown
 *   closes for physical memory is /dev/mem (LOCKDOWN_DEV_MEM); a kernel
 *   that refuses root raw physical access hands out no physical frames
 *   here either;
 * - BAR (BAR_HOLD: claims a PCI device's BAR without being its driver and
 *   maps it WC): LOCKDOWN_PCI_ACCESS, as sysfs and procfs refuse direct
 *   access to a device's BARs and config space;
 * - TEST_INSERT (CREATE's TEST_* flags: user PTEs written with a chosen
 *   cache mode, a WB alias of WC RAM with allow_alias): LOCKDOWN_DEV_MEM,
 *   raw control of how RAM is mapped.
 * 0 or -EPERM.
 */
int pte_attrs_gem_privileged(int what)
{
	enum lockdown_reason reason;

	switch (what) {
	case PTE_ATTRS_GEM_PRIV_FRAMES:
	case PTE_ATTRS_GEM_PRIV_TEST_INSERT:
		reason = LOCKDOWN_DEV_MEM;
		break;
	case PTE_ATTRS_GEM_PRIV_BAR:
		reason = LOCKDOWN_PCI_ACCESS;
		break;
	default:
		return -EINVAL;
	}
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return security_locked_down(reason) ? -EPERM : 0;
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

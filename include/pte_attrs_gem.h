/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ioctl interface of /dev/pte_attrs, pte_attrs' GEM-style device
 * (root only, mode 0600). An object is `pages` pages from the page
 * allocator, bound write-combined or UC- with set_pages_array_wc/uc();
 * user space maps it with mmap(MAP_SHARED) at the offset CREATE returns,
 * and the module inserts its pages on fault with vmf_insert_pfn_prot().
 *
 * EVICT zaps the object's user mappings (unmap_mapping_range()), makes
 * its pages WB again, verifies them and frees them; the object stays, and
 * the next access refaults it to new pages (bound and verified again).
 * DESTROY zaps and frees the object; a later access to a mapping of it
 * gets SIGBUS. Closing the file destroys its objects. A refault that
 * cannot get its pages (out of memory, a CPA error) gets SIGBUS too, as
 * TTM answers a failed populate: it is not retried.
 *
 * PFNS (physical frame numbers) and BAR_HOLD (claims a PCI BAR) need
 * CAP_SYS_ADMIN in the calling task, checked at each call (an open file
 * may be passed to anyone), and a kernel that is not locked down
 * (lockdown reasons "/dev/mem,kmem,port" and "direct PCI access"): EPERM
 * otherwise.
 */
#ifndef _PTE_ATTRS_GEM_H
#define _PTE_ATTRS_GEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Cache modes, as the kernel's enum page_cache_mode numbers them. */
#define PTE_ATTRS_GEM_CACHE_WC		1
#define PTE_ATTRS_GEM_CACHE_UC_MINUS	2

/* Most pages in one object, and in all objects of the device at once. */
#define PTE_ATTRS_GEM_MAX_PAGES		1024
#define PTE_ATTRS_GEM_MAX_TOTAL		16384

/*
 * Flags of CREATE, for the selftests only (CAP_SYS_ADMIN): how the fault
 * handler inserts the object's pages.
 * - TEST_PROT_WB: it asks vmf_insert_pfn_prot() for WB (the VMA's own
 *   pgprot) instead of the object's caching. With PAT the kernel replaces
 *   the cache bits with the page's memtype: the user PTE is still WC/UC-.
 * - TEST_RAW_PTE: it writes the user PTE itself (apply_to_page_range(),
 *   as i915's remap_io_mapping() does), so no memtype lookup corrects the
 *   pgprot. With TEST_PROT_WB that makes a WB user PTE over WC/UC- pages,
 *   an alias Intel's SDM calls undefined: refused (EPERM) unless the
 *   module parameter allow_alias is 1 (test VMs only).
 */
#define PTE_ATTRS_GEM_CREATE_TEST_PROT_WB	(1U << 0)
#define PTE_ATTRS_GEM_CREATE_TEST_RAW_PTE	(1U << 1)

struct pte_attrs_gem_create {
	__u64 pages;		/* in: 1 .. PTE_ATTRS_GEM_MAX_PAGES */
	__u32 caching;		/* in: PTE_ATTRS_GEM_CACHE_* */
	__u32 flags;		/* in: 0, or PTE_ATTRS_GEM_CREATE_TEST_* */
	__u64 handle;		/* out: the object's handle (never reused) */
	__u64 offset;		/* out: the mmap offset of its first page */
};

struct pte_attrs_gem_handle {
	__u64 handle;
};

/*
 * The page frame numbers of an object's pages now: pfns[i] is page i's,
 * 0 if the object is evicted (no pages). count: in, the room of the array;
 * out, the object's number of pages.
 */
struct pte_attrs_gem_pfns {
	__u64 handle;
	__u64 count;
	__u64 pfns;		/* user pointer to __u64[count] */
};

/*
 * Counters of the device since load, in this order. Fields are only ever
 * appended: STATS answers any size up to its own with that many leading
 * bytes, so a program built against an older header keeps working.
 */
#define PTE_ATTRS_GEM_STATS_N	23
struct pte_attrs_gem_stats {
	__u64 created;		/* objects created */
	__u64 destroyed;	/* objects destroyed (DESTROY or close) */
	__u64 live;		/* objects alive now */
	__u64 mmaps;		/* mmap() calls accepted */
	__u64 mmap_refused;	/* mmap() calls refused */
	__u64 faults;		/* faults that inserted a page */
	__u64 refaults;		/* faults that re-populated an evicted object */
	__u64 sigbus;		/* SIGBUS: object destroyed, or past its end */
	__u64 zaps;		/* unmap_mapping_range() calls */
	__u64 evictions;	/* objects evicted (pages made WB and freed) */
	__u64 pages_checked;	/* pages verified through the accessor */
	__u64 pages_wrong;	/* of those, found in the wrong cache mode */
	__u64 pages_leaked;	/* pages not WB again, never freed */
	__u64 populations;	/* times pages were allocated and bound */
	__u64 fault_ns;		/* time in the fault handler: total, longest */
	__u64 fault_ns_max;
	__u64 zap_ns;		/* in unmap_mapping_range() */
	__u64 zap_ns_max;
	__u64 populate_ns;	/* allocating, binding and checking pages */
	__u64 populate_ns_max;
	__u64 evict_ns;		/* zap, WB, check and free */
	__u64 evict_ns_max;
	__u64 refault_failed;	/* refaults that got no pages: SIGBUS too */
};

/*
 * The DRM BAR paths (BAR_HOLD): claims BAR `bar` of the PCI device `dev`
 * ("" = the first display device whose BAR is prefetchable, decoded and
 * free, with no driver), then arch_io_reserve_memtype_wc(),
 * arch_phys_wc_add(), io_mapping_init_wc() with io_mapping_map_local_wc()
 * per page and io_mapping_map_wc() of the whole BAR, and
 * memremap(MEMREMAP_WC), every page of every mapping checked WC through
 * the accessor. They stay until BAR_RELEASE (or close), which undoes them
 * in reverse order and gives the BAR back. One holder at a time (EBUSY).
 */
struct pte_attrs_gem_bar {
	char dev[32];		/* in: PCI name or ""; out: the device claimed */
	__u32 bar;		/* in: BAR index */
	__u32 pad;
	__u64 start;		/* out: the BAR */
	__u64 size;
	__s64 phys_wc;		/* out: arch_phys_wc_add()'s return */
	__u64 iomap_pages;	/* out: pages checked, and not WC, per path */
	__u64 iomap_wrong;
	__u64 local_pages;
	__u64 local_wrong;
	__u64 map_wc_pages;
	__u64 map_wc_wrong;
	__u64 memremap_pages;
	__u64 memremap_wrong;
	__u64 reserved;
};

#define PTE_ATTRS_GEM_IOC_MAGIC	'G'
#define PTE_ATTRS_GEM_CREATE	_IOWR(PTE_ATTRS_GEM_IOC_MAGIC, 1, struct pte_attrs_gem_create)
#define PTE_ATTRS_GEM_EVICT	_IOW(PTE_ATTRS_GEM_IOC_MAGIC, 2, struct pte_attrs_gem_handle)
#define PTE_ATTRS_GEM_DESTROY	_IOW(PTE_ATTRS_GEM_IOC_MAGIC, 3, struct pte_attrs_gem_handle)
#define PTE_ATTRS_GEM_PFNS	_IOWR(PTE_ATTRS_GEM_IOC_MAGIC, 4, struct pte_attrs_gem_pfns)
#define PTE_ATTRS_GEM_STATS	_IOR(PTE_ATTRS_GEM_IOC_MAGIC, 5, struct pte_attrs_gem_stats)
#define PTE_ATTRS_GEM_BAR_HOLD	_IOWR(PTE_ATTRS_GEM_IOC_MAGIC, 6, struct pte_attrs_gem_bar)
#define PTE_ATTRS_GEM_BAR_RELEASE	_IO(PTE_ATTRS_GEM_IOC_MAGIC, 7)

#endif /* _PTE_ATTRS_GEM_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernel series the C glue builds on (6.12 and
 * 7.x), in one place. Kbuild derives PTE_ATTRS_KERNEL_7 from the tree's
 * VERSION, as it derives the Rust side's `--cfg kernel_7`.
 */
#ifndef _PTE_ATTRS_COMPAT_H
#define _PTE_ATTRS_COMPAT_H

#include <linux/mm.h>
#include <asm/msr.h>

#ifdef PTE_ATTRS_KERNEL_7
/* The MSR accessors were renamed rdmsrl -> rdmsrq. */
#define pte_attrs_rdmsr_safe(msr, p)	rdmsrq_safe(msr, p)
/* nth_page() is gone: the memory map is virtually contiguous. */
#define pte_attrs_nth_page(page, n)	((page) + (n))
/* page->flags is a memdesc_flags_t. */
#define pte_attrs_page_flags(page)	((page)->flags.f)
/* 6.15: CPA collapses split direct-map pages back (set_memory_rox()). */
#define PTE_ATTRS_HAVE_DIRECT_MAP_COLLAPSE
/* is_cow_mapping(flags) became vma_is_cow_mapping(vma). */
#define pte_attrs_vma_is_cow(vma)	vma_is_cow_mapping(vma)
#else
#define pte_attrs_rdmsr_safe(msr, p)	rdmsrl_safe(msr, p)
#define pte_attrs_nth_page(page, n)	nth_page(page, n)
#define pte_attrs_page_flags(page)	((page)->flags)
#define pte_attrs_vma_is_cow(vma)	is_cow_mapping((vma)->vm_flags)
#endif

#endif /* _PTE_ATTRS_COMPAT_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of pte_attrs cannot reach: static inlines and macros
 * of the x86 headers, and EXPORT_SYMBOL_GPL for the Rust functions that
 * make up the API of include/pte_attrs.h.
 */
#include <linux/debugfs.h>
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/ioport.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/vmstat.h>
#include <linux/vmalloc.h>
#include <linux/page-flags.h>
#include <linux/preempt.h>
#include <linux/sched/task.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>
#include <asm/fixmap.h>
#ifdef CONFIG_KASAN
#include <asm/kasan.h>
#endif
#include <asm/memtype.h>
#include <asm/msr.h>
#include <asm/nospec-branch.h>
#include <asm/paravirt.h>
#include <asm/pgtable.h>
#include <asm/pgtable_areas.h>
#include <asm/processor.h>
#include <pte_attrs.h>

#include "compat.h"
#include "glue.h"

bool pte_attrs_glue_xenpv(void)
{
	return cpu_feature_enabled(X86_FEATURE_XENPV);
}

/*
 * The `alias` debugfs knob maps a RAM page WC a second time while the
 * direct map keeps it WB: an alias Intel's SDM calls undefined (WC allows
 * speculative reads), which the audit must find. Off unless the module is
 * loaded with allow_alias=1 (or root writes 1 to the parameter): test VMs
 * only. A module parameter in C: 6.12's module! has none.
 */
static bool allow_alias;
module_param(allow_alias, bool, 0600);
MODULE_PARM_DESC(allow_alias,
		 "Let the debugfs alias knob map one page WC beside its WB direct map (undefined on real hardware: test VMs only)");

bool pte_attrs_glue_alias_allowed(void)
{
	return READ_ONCE(allow_alias);
}

/*
 * The direct map's split and collapse events of /proc/vmstat into
 * @out[0..3]: level-2 splits, level-3 splits, level-2 collapses, level-3
 * collapses. Returns how many the kernel counts (2, or 4 where it collapses
 * split pages back, since 6.15), 0 without CONFIG_VM_EVENT_COUNTERS, or
 * -ENOMEM. May sleep.
 */
int pte_attrs_glue_direct_map_events(u64 *out)
{
#ifdef CONFIG_VM_EVENT_COUNTERS
	unsigned long *ev = kcalloc(NR_VM_EVENT_ITEMS, sizeof(*ev), GFP_KERNEL);
	int n = 2;

	if (!ev)
		return -ENOMEM;
	all_vm_events(ev);
	out[0] = ev[DIRECT_MAP_LEVEL2_SPLIT];
	out[1] = ev[DIRECT_MAP_LEVEL3_SPLIT];
#ifdef PTE_ATTRS_HAVE_DIRECT_MAP_COLLAPSE
	out[2] = ev[DIRECT_MAP_LEVEL2_COLLAPSE];
	out[3] = ev[DIRECT_MAP_LEVEL3_COLLAPSE];
	n = 4;
#endif
	kfree(ev);
	return n;
#else
	return 0;
#endif
}

struct dentry *pte_attrs_glue_debugfs_create_file(const char *name, umode_t mode,
						 struct dentry *parent, void *data,
						 const struct file_operations *fops)
{
	return debugfs_create_file(name, mode, parent, data, fops);
}

int pte_attrs_glue_pat_msr(u64 *val)
{
	return pte_attrs_rdmsr_safe(MSR_IA32_CR_PAT, val);
}

bool pte_attrs_glue_pat_enabled(void)
{
	return pat_enabled();
}

/* The page-table layout of the running kernel, read once at load. */
bool pte_attrs_glue_l5(void)
{
	return pgtable_l5_enabled();
}

unsigned int pte_attrs_glue_pgdir_shift(void)
{
	return PGDIR_SHIFT;
}

unsigned long pte_attrs_glue_page_offset(void)
{
	return PAGE_OFFSET;
}

u64 pte_attrs_glue_pte_pfn_mask(void)
{
	return PTE_PFN_MASK;
}

/*
 * The top-level table this CPU runs on, as __va(): the kernel half of every
 * PGD is a copy of init_mm's (which is not exported), and the kernel's own
 * fault-time dump walks the same one. Preemption stays disabled until
 * pte_attrs_glue_kernel_pgd_end(), so the table cannot be the lazily
 * borrowed PGD of an mm that is dropped after a migration.
 */
unsigned long pte_attrs_glue_kernel_pgd_begin(void)
{
	preempt_disable();
	return (unsigned long)__va(read_cr3_pa());
}

void pte_attrs_glue_kernel_pgd_end(void)
{
	preempt_enable();
}

/*
 * Where RAM's direct map ends, as a physical address: __pa(high_memory),
 * max_pfn << PAGE_SHIFT on x86_64 (max_pfn itself is not exported). Memory
 * hotplug moves it, so it is read at every walk.
 */
u64 pte_attrs_glue_direct_map_end(void)
{
	return __pa(high_memory - 1) + 1;
}

/*
 * One page-table entry read without faulting: 0, or -EFAULT if the page
 * holding it is not mapped (freed under DEBUG_PAGEALLOC, say) or @slot is
 * not a kernel address.
 */
int pte_attrs_glue_read_entry(unsigned long slot, u64 *val)
{
	return pte_attrs_glue_read_entries(slot, val, 1);
}

/* @n consecutive entries from @slot at once, as pte_attrs_glue_read_entry(). */
int pte_attrs_glue_read_entries(unsigned long slot, u64 *val, size_t n)
{
	if (copy_from_kernel_nofault(val, (const void *)slot, n * sizeof(*val)))
		return -EFAULT;
	return 0;
}

/*
 * The OR over the @n consecutive 4K entries from @slot of pte_val(entry) ^
 * @canon (0: every entry is @canon through the paravirt view), each entry
 * read without faulting: -EFAULT if one cannot be read (its table page was
 * freed and unmapped, as DEBUG_PAGEALLOC does) or @slot's run is not in
 * RAM's direct map, where every page-table page is. The fast path of the
 * check after a CPA call: one load an entry where a copy costs a load and a
 * store, and pte_val() is patched to a mov natively (a call under Xen PV).
 * The entry is wrapped with native_make_pte(): __pte() is itself a
 * paravirt hook, which under Xen PV would translate the frame once more.
 */
int pte_attrs_glue_entries_diff(unsigned long slot, size_t n, u64 canon, u64 *diff)
{
	const u64 *entry = (const u64 *)slot;
	u64 d = 0, val;
	size_t i;

	if (slot < PAGE_OFFSET || slot >= (unsigned long)high_memory ||
	    n > PTRS_PER_PTE ||
	    n * sizeof(*entry) > (unsigned long)high_memory - slot)
		return -EFAULT;
	pagefault_disable();
	for (i = 0; i < n; i++) {
		__get_kernel_nofault(&val, entry + i, u64, fault);
		d |= pte_val(native_make_pte(val)) ^ canon;
	}
	pagefault_enable();
	*diff = d;
	return 0;
fault:
	pagefault_enable();
	return -EFAULT;
}

/*
 * cond_resched(): __cond_resched() exists only without full preemption (or
 * with PREEMPT_DYNAMIC), and the macro also runs __might_resched().
 */
void pte_attrs_glue_cond_resched(void)
{
	cond_resched();
}

/* Pages for the exerciser; never __GFP_COMP: CPA works on plain pages. */
struct page *pte_attrs_glue_alloc_pages(unsigned int order)
{
	return alloc_pages(GFP_KERNEL | __GFP_NOWARN | __GFP_NORETRY, order);
}

void *pte_attrs_glue_page_address(struct page *page)
{
	return page_address(page);
}

struct page *pte_attrs_glue_nth_page(struct page *page, unsigned long n)
{
	return pte_attrs_nth_page(page, n);
}

/*
 * kthread_run() with an extra task reference, so that kthread_stop_put()
 * is safe even when the thread has already returned.
 */
struct task_struct *pte_attrs_glue_kthread_run(int (*fn)(void *), void *data,
					       const char *name, unsigned int id)
{
	struct task_struct *t = kthread_create(fn, data, "%s/%u", name, id);

	if (IS_ERR(t))
		return t;
	get_task_struct(t);
	wake_up_process(t);
	return t;
}

/*
 * The audit's regions as [start, end) pairs, PTE_ATTRS_R_NR of them (the
 * order of src/sys/kmap.rs); a region this kernel does not have is 0, 0.
 */
void pte_attrs_glue_regions(u64 *b)
{
	memset(b, 0, 2 * PTE_ATTRS_R_NR * sizeof(*b));
	b[2 * PTE_ATTRS_R_DIRECT] = PAGE_OFFSET;
	/* The unused gap after the direct map is walked as part of it. */
	b[2 * PTE_ATTRS_R_DIRECT + 1] = VMALLOC_START;
	b[2 * PTE_ATTRS_R_VMALLOC] = VMALLOC_START;
	b[2 * PTE_ATTRS_R_VMALLOC + 1] = VMALLOC_END + 1;
	b[2 * PTE_ATTRS_R_VMEMMAP] = VMEMMAP_START;
#ifdef CONFIG_KASAN
	b[2 * PTE_ATTRS_R_VMEMMAP + 1] = KASAN_SHADOW_START;
	b[2 * PTE_ATTRS_R_KASAN] = KASAN_SHADOW_START;
	b[2 * PTE_ATTRS_R_KASAN + 1] = KASAN_SHADOW_END;
#else
	b[2 * PTE_ATTRS_R_VMEMMAP + 1] = CPU_ENTRY_AREA_BASE;
#endif
	b[2 * PTE_ATTRS_R_CPU_ENTRY] = CPU_ENTRY_AREA_BASE;
	b[2 * PTE_ATTRS_R_CPU_ENTRY + 1] = CPU_ENTRY_AREA_BASE + CPU_ENTRY_AREA_MAP_SIZE;
	b[2 * PTE_ATTRS_R_FIXMAP] = FIXADDR_START;
	/* Slot 0 is at FIXADDR_TOP. */
	b[2 * PTE_ATTRS_R_FIXMAP + 1] = FIXADDR_TOP + PAGE_SIZE;
	b[2 * PTE_ATTRS_R_MODULES] = MODULES_VADDR;
	b[2 * PTE_ATTRS_R_MODULES + 1] = MODULES_END;
	b[2 * PTE_ATTRS_R_TEXT] = __START_KERNEL_map;
	b[2 * PTE_ATTRS_R_TEXT + 1] = MODULES_VADDR;
	b[2 * PTE_ATTRS_R_LDT] = LDT_BASE_ADDR;
	b[2 * PTE_ATTRS_R_LDT + 1] = LDT_END_ADDR;
#ifdef CONFIG_X86_ESPFIX64
	b[2 * PTE_ATTRS_R_ESPFIX] = ESPFIX_BASE_ADDR;
	b[2 * PTE_ATTRS_R_ESPFIX + 1] = ESPFIX_BASE_ADDR + P4D_SIZE;
#endif
#ifdef CONFIG_EFI
	b[2 * PTE_ATTRS_R_EFI] = EFI_VA_END;
	b[2 * PTE_ATTRS_R_EFI + 1] = EFI_VA_START;
#endif
}

struct pte_attrs_ram {
	u64 *pairs;
	int n, max;
};

static int pte_attrs_ram_one(struct resource *r, void *arg)
{
	struct pte_attrs_ram *s = arg;
	u64 lo = PFN_UP(r->start), hi = PFN_DOWN(r->end + 1);

	if (lo >= hi)
		return 0;
	if (s->n < s->max) {
		s->pairs[2 * s->n] = lo;
		s->pairs[2 * s->n + 1] = hi;
	}
	s->n++;
	return 0;
}

/*
 * "System RAM" as pfn ranges [first, end), in address order, rounded as
 * walk_system_ram_range() rounds them (which is not exported). Returns how
 * many there are: more than @max means the ones after @max were left out.
 */
int pte_attrs_glue_ram_ranges(u64 *pairs, int max)
{
	struct pte_attrs_ram s = { pairs, 0, max };

	walk_iomem_res_desc(IORES_DESC_NONE,
			    IORESOURCE_SYSTEM_RAM | IORESOURCE_BUSY, 0, -1, &s,
			    pte_attrs_ram_one);
	return s.n;
}

/*
 * The audit's deliberate alias: a second, WC mapping of a page the module
 * owns. vmap() reserves no memtype, so the record and the direct map stay
 * WB: the attribute alias the audit must find. NULL on failure.
 */
void *pte_attrs_glue_vmap_wc(struct page *page)
{
	return vmap(&page, 1, VM_MAP, pgprot_writecombine(PAGE_KERNEL));
}

/*
 * The audit's MMIO alias (src/sys/io.rs: MmioAlias). ioremap_*() cannot
 * make one: each goes through memtype_reserve(), which gives a second
 * mapping of a range the type the range already has (or refuses it). So
 * the caller maps the page with ioremap_wc() twice (the range's memtype
 * is WC, and stays WC while either lives), and this rewrites the cache
 * bits of the second mapping's one PTE to UC, the strongest uncached
 * type: a WC/UC (UC-/UC without PAT) alias, never a cacheable one.
 * (apply_to_page_range() would need init_mm, which modules cannot reach;
 * lookup_address() walks init_mm's tables for us.)
 *
 * @addr is that second mapping, of frame @pfn, which nothing has accessed.
 * A CPU may still have cached its translation (the SDM lets it cache any
 * present entry, speculatively too), and no kernel-range flush is
 * exported to modules; such an entry says WC, the range's memtype, so
 * the worst a stale one does is an uncached WC access where UC was
 * written, never a cacheable one; iounmap() flushes it at the end. The
 * audit reads the entry in memory, not the TLB. Its PTE table stays while
 * the mapping lives. Returns 0, or -EINVAL if @addr is not
 * mapped to @pfn by a present 4K PTE.
 */
int pte_attrs_glue_retype_uc(void *addr, unsigned long pfn)
{
	unsigned int level;
	pte_t *ptep = lookup_address((unsigned long)addr, &level);
	pte_t old;

	if (!ptep || level != PG_LEVEL_4K)
		return -EINVAL;
	old = ptep_get(ptep);
	if (!pte_present(old) || pte_pfn(old) != pfn)
		return -EINVAL;
	set_pte(ptep, __pte((pte_val(old) & ~_PAGE_CACHE_MASK) |
			    cachemode2protval(_PAGE_CACHE_MODE_UC)));
	return 0;
}

bool pte_attrs_glue_fatal_signal(void)
{
	return fatal_signal_pending(current);
}

/* The kernel's direct-map limits of the walk: VMALLOC_START. */
unsigned long pte_attrs_glue_vmalloc_start(void)
{
	return VMALLOC_START;
}

/*
 * Benchmark loops of src/bench.rs: the same loop around each way of
 * reading the flags of @n entry values, folded into one value so that
 * nothing is optimised away. Each function is 64-byte aligned, so that
 * where the module's code lands cannot make one straddle a page: in a
 * build where the first pte_val() copy's loop did, under TCG, it read
 * 23750 ps an entry against its twin's 1966.
 */
#define PTE_ATTRS_BENCH_LOOP __aligned(64)

PTE_ATTRS_BENCH_LOOP u64 pte_attrs_bench_pte_flags(const u64 *v, size_t n)
{
	u64 acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc ^= pte_flags(native_make_pte(v[i]));
	return acc;
}

/*
 * Konrad's pte_attrs(): the paravirt pte_val(), a patched call site. The
 * loop is compiled twice: the second copy is the benchmark's A/A control.
 * Two copies of one loop differ only in where their code lands, so their
 * ratio is how finely the machine tells two loops apart.
 */
static __always_inline u64 pte_attrs_pte_val_loop(const u64 *v, size_t n)
{
	u64 acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc ^= pte_val(native_make_pte(v[i])) & PTE_FLAGS_MASK;
	return acc;
}

PTE_ATTRS_BENCH_LOOP u64 pte_attrs_bench_pte_val(const u64 *v, size_t n)
{
	return pte_attrs_pte_val_loop(v, n);
}

PTE_ATTRS_BENCH_LOOP u64 pte_attrs_bench_pte_val_twin(const u64 *v, size_t n)
{
	return pte_attrs_pte_val_loop(v, n);
}

#ifdef CONFIG_PARAVIRT_XXL
/*
 * One call of the callee-save thunk @hook (argument in %rdi, result in
 * %rax, every other register preserved) as an asm indirect call: a C
 * function-pointer call would carry a kCFI check, which traps on the asm
 * thunks (they have no CFI type hash). CALL_NOSPEC is a retpoline (a call
 * to __x86_indirect_thunk_<reg>) where the kernel has them, else
 * "call *%reg"; the target in a register either way (THUNK_TARGET would
 * allow a memory operand without retpolines).
 */
static __always_inline u64 pte_attrs_call_hook(const void *hook, u64 v)
{
	u64 ret;

	asm volatile(CALL_NOSPEC
		     : "=a" (ret), ASM_CALL_CONSTRAINT
		     : [thunk_target] "r" (hook), "D" (v)
		     : "memory", "cc");
	return ret;
}

/* What an unpatched paravirt read costs: an indirect call per entry. */
PTE_ATTRS_BENCH_LOOP u64 pte_attrs_bench_indirect(const u64 *v, size_t n)
{
	const void *hook = pv_ops.mmu.pte_val.func;
	u64 acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc ^= pte_attrs_call_hook(hook, v[i]) & PTE_FLAGS_MASK;
	return acc;
}
#endif /* CONFIG_PARAVIRT_XXL */

/*
 * The API of include/pte_attrs.h: implemented in Rust (src/export.rs),
 * exported here, each a tail call.
 */
pgprot_t pte_attrs(pte_t pte)
{
	return pte_attrs_rs(pte);
}
EXPORT_SYMBOL_GPL(pte_attrs);

int pte_attrs_lookup(unsigned long addr, struct pte_attrs_info *info)
{
	return pte_attrs_rs_lookup(addr, info);
}
EXPORT_SYMBOL_GPL(pte_attrs_lookup);

const char *pte_attrs_cache_mode_name(int mode)
{
	return pte_attrs_rs_cache_mode_name(mode);
}
EXPORT_SYMBOL_GPL(pte_attrs_cache_mode_name);

int pte_attrs_walk(unsigned long start, unsigned long end, unsigned int flags,
		   int (*fn)(const struct pte_attrs_leaf *leaf, void *data),
		   void *data)
{
	if (!fn)
		return -EINVAL;
	return pte_attrs_rs_walk(start, end, flags, (const void *)fn, data);
}
EXPORT_SYMBOL_GPL(pte_attrs_walk);

#define RECORD_BATCH 16

/*
 * The kernel's memtype record of RAM page @pfn, as get_page_memtype()
 * (arch/x86/mm/pat/memtype.c, static there) reads it from the page flags:
 * an enum page_cache_mode, or -1 where no record is kept (no PAT, PAT
 * disabled, no struct page). *@run is how many pages from @pfn on, at most
 * @max (at least 1), have the same answer; pfn_valid() holds per
 * memory-map subsection, so it is asked once per subsection.
 *
 * Reads no struct page past @pfn + @max - 1, and at most @max +
 * RECORD_BATCH of them (a batch in which a page differs is read twice):
 * the audit calls this with preemption disabled and bounds @max by what
 * its step may still read (STEP_PAGES in src/pure/audit.rs).
 */
int pte_attrs_glue_page_memtype_run(unsigned long pfn, unsigned long max,
				    unsigned long *run)
{
#ifdef CONFIG_X86_PAT
	const unsigned long mask = BIT(PG_arch_1) | BIT(PG_arch_2);
	unsigned long bits, i, end;
	const struct page *page;

	/* Without PAT (nopat) no page has a record: one answer for all. */
	*run = max ? max : 1;
	if (!pat_enabled())
		return -1;
	*run = 1;
	if (!pfn_valid(pfn))
		return -1;
	page = pfn_to_page(pfn);
	bits = READ_ONCE(pte_attrs_page_flags(page)) & mask;
	/*
	 * Subsection by subsection: pfn_valid() once at each one's first
	 * page, then its struct pages one after the other (a subsection's
	 * memory map is contiguous), a load and a compare each: the audit
	 * reads every RAM page's.
	 */
	for (i = 1; i < max; i = end) {
		unsigned long p = pfn + i;

		end = min(max, i + PAGES_PER_SUBSECTION - (p & (PAGES_PER_SUBSECTION - 1)));
		if (!(p & (PAGES_PER_SUBSECTION - 1)) && !pfn_valid(p))
			break;
		page = pfn_to_page(p);
		/*
		 * RECORD_BATCH pages at a time: a loop without a branch per
		 * page. A batch where some page differs is walked again up
		 * to that page, which ends the run.
		 */
		for (; end - i >= RECORD_BATCH; i += RECORD_BATCH) {
			unsigned long k, diff = 0;

			for (k = 0; k < RECORD_BATCH; k++)
				diff |= (READ_ONCE(pte_attrs_page_flags(pte_attrs_nth_page(page, k))) &
					 mask) ^ bits;
			if (diff)
				break;
			page = pte_attrs_nth_page(page, RECORD_BATCH);
		}
		for (; i < end; i++, page = pte_attrs_nth_page(page, 1))
			if ((READ_ONCE(pte_attrs_page_flags(page)) & mask) != bits)
				goto out;
	}
out:
	*run = i;
	if (bits == 0)
		return _PAGE_CACHE_MODE_WB;
	if (bits == BIT(PG_arch_1))
		return _PAGE_CACHE_MODE_WC;
	if (bits == BIT(PG_arch_2))
		return _PAGE_CACHE_MODE_UC_MINUS;
	return _PAGE_CACHE_MODE_WT;
#else
	*run = max ? max : 1;
	return -1;
#endif
}

/*
 * The callback of pte_attrs_walk(), called from C: the kCFI check of an
 * indirect call is the caller's type hash, and only C's matches a C
 * callback's (Rust encodes its own pointer types).
 */
int pte_attrs_glue_walk_leaf(const void *fn, const struct pte_attrs_leaf *leaf,
			     void *data)
{
	int (*f)(const struct pte_attrs_leaf *leaf, void *data) = fn;

	return f(leaf, data);
}

/* src/sys/kmap.rs: REGION_KINDS has one kind per region, in this order. */
static_assert(PTE_ATTRS_R_NR == 11);

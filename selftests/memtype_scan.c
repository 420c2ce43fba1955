// SPDX-License-Identifier: GPL-2.0
/*
 * memtype_scan: the non-WB pages of the direct map, for a kernel without
 * ptdump's debugfs file (Debian's: no CONFIG_PTDUMP_DEBUGFS). Two ways,
 * each the kernel's own data read through procfs, not through the module:
 *
 * memtype_scan kcore
 *	The direct map's entries themselves: a walk of the kernel's page
 *	tables (init_top_pgt, from /proc/kallsyms) read through /proc/kcore,
 *	from page_offset_base up to the end of RAM (5 levels if the direct
 *	map is below the 4-level kernel half). A leaf is non-WB if it has
 *	PWT, PCD or PAT (bit 7 in a 4K entry, bit 12 in a 2M or 1G one): the
 *	PAT table's index 0 is WB, as ptdump's "PWT|PCD|PAT" test assumes
 *	too. Not under Xen PV, whose entries hold machine frames. Exit 2 if
 *	it cannot walk (lockdown refuses /proc/kcore; Xen PV).
 *
 * memtype_scan entry ADDR
 *	The entry that maps kernel virtual address ADDR, found by the same
 *	walk, as one line in the lookup knob's terms ("present=1 rw=1
 *	user=0 pwt=0 pcd=0 pat=0 global=1 nx=1 level=4K", what
 *	pte_attrs_lib.sh's ptdump_attrs makes of a ptdump line); exit 1 if
 *	nothing present maps it, 2 if it cannot walk.
 *
 * memtype_scan kpageflags
 *	The memtype that memtype.c records for each RAM page in two page
 *	flags, PG_arch_1 (WC), PG_arch_2 (UC-), both (WT), neither (WB), which
 *	/proc/kpageflags copies as KPF_ARCH (bit 38) and KPF_ARCH_2 (bit 41,
 *	CONFIG_ARCH_USES_PG_ARCH_2, which X86_PAT selects); 6.12 and 7.3 use
 *	this encoding (the module's Kbuild stops on a tree whose memtype.c
 *	differs). Only pages still allocated: the page allocator clears every
 *	flag of a page it takes back, so a page freed while WC is not seen.
 *
 * Output: one "first end" line of page numbers (end exclusive), counted
 * from the start of the direct map, per run of non-WB pages: the format
 * of pte_attrs_lib.sh's dmap_nonwb.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PRESENT		(1ULL << 0)
#define PWT		(1ULL << 3)
#define PCD		(1ULL << 4)
#define PSE		(1ULL << 7)
#define PAT_4K		(1ULL << 7)
#define PAT_LARGE	(1ULL << 12)
#define FRAME		0x000ffffffffff000ULL

static uint64_t run_first, run_end;
static int in_run;

/* emit: pages [first, end) are non-WB; runs that touch are merged. */
static void emit(uint64_t first, uint64_t end)
{
	if (in_run && first == run_end) {
		run_end = end;
		return;
	}
	if (in_run)
		printf("%llu %llu\n", (unsigned long long)run_first, (unsigned long long)run_end);
	run_first = first;
	run_end = end;
	in_run = 1;
}

static void flush_run(void)
{
	if (in_run)
		printf("%llu %llu\n", (unsigned long long)run_first, (unsigned long long)run_end);
	in_run = 0;
}

static int kpageflags(void)
{
	static uint64_t flags[4096];
	const uint64_t nonwb = (1ULL << 38) | (1ULL << 41);
	uint64_t pfn = 0;
	ssize_t got;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0) {
		perror("memtype_scan: /proc/kpageflags");
		return 2;
	}
	while ((got = read(fd, flags, sizeof(flags))) > 0)
		for (ssize_t i = 0; i < got / 8; i++, pfn++)
			if (flags[i] & nonwb)
				emit(pfn, pfn + 1);
	close(fd);
	flush_run();
	return got < 0 ? 2 : 0;
}

/* /proc/kcore's loads: kernel virtual ranges and their file offsets. */
static Elf64_Phdr *loads;
static int nloads, kcore;

static int kcore_open(void)
{
	Elf64_Ehdr eh;

	kcore = open("/proc/kcore", O_RDONLY);
	if (kcore < 0 || pread(kcore, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return -1;
	loads = calloc(eh.e_phnum, sizeof(*loads));
	if (!loads || pread(kcore, loads, (size_t)eh.e_phnum * sizeof(*loads), eh.e_phoff) !=
			      (ssize_t)(eh.e_phnum * sizeof(*loads)))
		return -1;
	nloads = eh.e_phnum;
	return 0;
}

/* kread: LEN bytes of kernel virtual address VA; 0, or -1 if not in kcore. */
static int kread(uint64_t va, void *buf, size_t len)
{
	for (int i = 0; i < nloads; i++) {
		const Elf64_Phdr *p = &loads[i];

		if (p->p_type == PT_LOAD && va >= p->p_vaddr && va - p->p_vaddr + len <= p->p_memsz)
			return pread(kcore, buf, len, p->p_offset + (va - p->p_vaddr)) == (ssize_t)len ?
				       0 : -1;
	}
	return -1;
}

static uint64_t ksym(const char *name)
{
	char line[256], sym[200], type;
	unsigned long long addr;
	uint64_t found = 0;
	FILE *f = fopen("/proc/kallsyms", "r");

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %199s", &addr, &type, sym) == 3 && !strcmp(sym, name))
			found = addr;
	fclose(f);
	return found;
}

static uint64_t page_offset, dmap_end;

/*
 * walk: the table at kernel virtual address TABLE, whose entries map
 * 1 << SHIFT bytes each, the first at virtual address BASE; only the part
 * in [page_offset, dmap_end). LEVEL 1 is the PTE table. Returns -1 if a
 * table cannot be read.
 */
static int walk(uint64_t table, uint64_t base, unsigned int shift, int level)
{
	uint64_t e[512];

	if (kread(table, e, sizeof(e)))
		return -1;
	for (int i = 0; i < 512; i++) {
		uint64_t va = base + ((uint64_t)i << shift), size = 1ULL << shift;
		int leaf = level == 1 || (level <= 3 && (e[i] & PSE));
		uint64_t pat = level == 1 ? PAT_4K : PAT_LARGE;

		if (va + size <= page_offset || va >= dmap_end || !(e[i] & PRESENT))
			continue;
		if (!leaf) {
			if (walk(page_offset + (e[i] & FRAME), va, shift - 9, level - 1))
				return -1;
			continue;
		}
		if (e[i] & (PWT | PCD | pat))
			emit((va - page_offset) >> 12, (va - page_offset + size) >> 12);
	}
	return 0;
}

static uint64_t pgd;
static int levels;

/* kcore_setup: the tables' root and page_offset_base; 0, or 2 if the
 * walk cannot be made here. */
static int kcore_setup(void)
{
	char line[64];
	uint64_t pob;
	FILE *f;

	f = fopen("/sys/hypervisor/guest_type", "r");
	if (f) {
		int pv = fgets(line, sizeof(line), f) && !strcmp(line, "PV\n");

		fclose(f);
		if (pv) {
			fprintf(stderr, "memtype_scan: Xen PV: the entries hold machine frames\n");
			return 2;
		}
	}
	pgd = ksym("init_top_pgt");
	pob = ksym("page_offset_base");
	if (!pgd || !pob || kcore_open() || kread(pob, &page_offset, sizeof(page_offset))) {
		fprintf(stderr, "memtype_scan: cannot read the kernel's tables through /proc/kcore\n");
		return 2;
	}
	levels = page_offset < 0xffff800000000000ULL ? 5 : 4;
	return 0;
}

/* entry: the attributes of the entry that maps ADDR (see the top). */
static int entry(uint64_t addr)
{
	static const char *const names[] = { "", "4K", "2M", "1G" };
	uint64_t table, e = 0;
	int level, r = kcore_setup();

	if (r)
		return r;
	table = pgd;
	for (level = levels; level >= 1; level--) {
		unsigned int shift = 12 + 9 * (level - 1);

		if (kread(table + 8 * ((addr >> shift) & 511), &e, sizeof(e))) {
			fprintf(stderr, "memtype_scan: the level-%d table at %#llx was not readable through /proc/kcore\n",
				level, (unsigned long long)table);
			return 2;
		}
		if (!(e & PRESENT))
			return 1;
		if (level == 1 || (level <= 3 && (e & PSE)))
			break;
		table = page_offset + (e & FRAME);
	}
	printf("present=1 rw=%d user=%d pwt=%d pcd=%d pat=%d global=%d nx=%d level=%s\n",
	       !!(e & (1ULL << 1)), !!(e & (1ULL << 2)), !!(e & PWT), !!(e & PCD),
	       !!(e & (level == 1 ? PAT_4K : PAT_LARGE)), !!(e & (1ULL << 8)),
	       !!(e & (1ULL << 63)), names[level]);
	return 0;
}

static int kcore_walk(void)
{
	unsigned long long lo, hi;
	char line[256];
	int r = kcore_setup();
	FILE *f;

	if (r)
		return r;
	/* The direct map ends with RAM: the last "System RAM" of /proc/iomem. */
	f = fopen("/proc/iomem", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, " : System RAM") && sscanf(line, "%llx-%llx", &lo, &hi) == 2 &&
		    page_offset + hi + 1 > dmap_end)
			dmap_end = page_offset + hi + 1;
	if (f)
		fclose(f);
	if (!dmap_end) {
		fprintf(stderr, "memtype_scan: no System RAM in /proc/iomem\n");
		return 2;
	}
	/*
	 * The top-level table maps 1 << 48 (5 levels) or 1 << 39 bytes an
	 * entry; entry 256 is the bottom of the kernel half, so entry 0 is
	 * at that less 256 entries (the user half's entries are outside the
	 * direct map and skipped).
	 */
	if (walk(pgd, levels == 5 ? 0xfe00000000000000ULL : 0xffff000000000000ULL,
		 levels == 5 ? 48 : 39, levels)) {
		fprintf(stderr, "memtype_scan: a page table was not readable through /proc/kcore\n");
		return 2;
	}
	flush_run();
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "kcore"))
		return kcore_walk();
	if (argc == 3 && !strcmp(argv[1], "entry"))
		return entry(strtoull(argv[2], NULL, 0));
	if (argc == 2 && !strcmp(argv[1], "kpageflags"))
		return kpageflags();
	fprintf(stderr, "usage: memtype_scan kcore | entry ADDR | kpageflags\n");
	return 2;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * memtype_scan: the RAM pages whose PAT memtype record is not WB, as the
 * kernel keeps it and /proc/kpageflags shows it. The selftests' oracle of
 * "nothing left non-WB" on a kernel without ptdump's debugfs file
 * (Debian's: no CONFIG_PTDUMP_DEBUGFS).
 *
 * x86's memtype.c keeps the memtype of a RAM page that set_memory_wc(),
 * set_memory_uc(), set_pages_array_*() and the like changed in two page
 * flags: PG_arch_1 (WC), PG_arch_2 (UC-), both (WT), neither (WB).
 * /proc/kpageflags copies them as KPF_ARCH (bit 38) and KPF_ARCH_2 (bit
 * 41, with CONFIG_ARCH_USES_PG_ARCH_2, which x86's X86_PAT selects). Both
 * 6.12 and 7.3 use this encoding; the module's Kbuild stops on a tree
 * whose memtype.c differs. Nothing else on x86 sets these flags.
 *
 * Output: one "first end" line of page frame numbers (end exclusive) per
 * run of such pages, the format of pte_attrs_lib.sh's dmap_nonwb; exit 0,
 * or 1 if /proc/kpageflags cannot be read.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define KPF_ARCH	38
#define KPF_ARCH_2	41
#define NONWB		((1ULL << KPF_ARCH) | (1ULL << KPF_ARCH_2))
#define CHUNK		4096

int main(void)
{
	static uint64_t flags[CHUNK];
	uint64_t pfn = 0, first = 0;
	int in_run = 0;
	ssize_t got;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0) {
		perror("memtype_scan: /proc/kpageflags");
		return 1;
	}
	while ((got = read(fd, flags, sizeof(flags))) > 0) {
		for (ssize_t i = 0; i < got / 8; i++, pfn++) {
			int nonwb = (flags[i] & NONWB) != 0;

			if (nonwb && !in_run)
				first = pfn;
			else if (!nonwb && in_run)
				printf("%llu %llu\n", (unsigned long long)first,
				       (unsigned long long)pfn);
			in_run = nonwb;
		}
	}
	if (in_run)
		printf("%llu %llu\n", (unsigned long long)first, (unsigned long long)pfn);
	if (got < 0) {
		perror("memtype_scan: read");
		return 1;
	}
	close(fd);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * User side of the gem_mmap selftest: creates objects on /dev/pte_attrs,
 * maps them, writes through the mappings, reads its own user PTEs through
 * the `lookup` knob ("user ADDR"), and keeps touching them while the
 * objects are evicted and destroyed. Prints key=value lines (and "# "
 * comments) for gem_mmap.sh to check.
 *
 *   gem_mmap_helper check wc|uc PAGES [rw|ro|rx [FLAGS]]
 *                                       map (with that protection), write
 *                                       (rw) or read, check every user PTE:
 *                                       cache mode, frame, direct map, and
 *                                       its own U/S, RW, NX, G bits; FLAGS
 *                                       are CREATE's (the tests' inserts)
 *   gem_mmap_helper errors              bad mmaps and ioctls, their errnos
 *   gem_mmap_helper evict ROUNDS        evict under a child's live accesses
 *                                       (both look up their own PTEs), then
 *                                       destroy: the child's SIGBUS
 *   gem_mmap_helper privilege           opened as root, then setuid(nobody):
 *                                       PFNS and BAR_HOLD get EPERM, the
 *                                       rest works
 *   gem_mmap_helper refault_fail        a refault whose page allocation
 *                                       fails (fail_page_alloc, armed by the
 *                                       caller, aimed at this task): SIGBUS
 *   gem_mmap_helper hold                map, close the fd, wait to be killed
 *   gem_mmap_helper bar                 hold the DRM BAR paths, wait to be
 *                                       killed (closing releases them)
 *   gem_mmap_helper fuzz OPS SEED       random creates, maps, touches,
 *                                       evictions, destroys, closes and bad
 *                                       arguments; counts the answers
 *
 * Built static by the harness (scripts/initramfs.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pte_attrs_gem.h"

#define DEV "/dev/pte_attrs"
#define LOOKUP "/sys/kernel/debug/pte_attrs/lookup"
#define ACCESSOR "/sys/kernel/debug/pte_attrs/accessor"
#define PAGE 4096UL

static int dev_open(void)
{
	int fd = open(DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("# open %s: %s\n", DEV, strerror(errno));
		exit(2);
	}
	return fd;
}

static struct pte_attrs_gem_create create(int fd, unsigned long pages, int caching)
{
	struct pte_attrs_gem_create c = { .pages = pages, .caching = caching };

	if (ioctl(fd, PTE_ATTRS_GEM_CREATE, &c)) {
		printf("# create %lu pages: %s\n", pages, strerror(errno));
		exit(2);
	}
	return c;
}

static volatile uint64_t *map_prot(int fd, struct pte_attrs_gem_create *c, int prot)
{
	void *p = mmap(NULL, c->pages * PAGE, prot, MAP_SHARED, fd, c->offset);

	if (p == MAP_FAILED) {
		printf("# mmap: %s\n", strerror(errno));
		exit(2);
	}
	return p;
}

static volatile uint64_t *map(int fd, struct pte_attrs_gem_create *c)
{
	return map_prot(fd, c, PROT_READ | PROT_WRITE);
}

static void pfns(int fd, uint64_t handle, uint64_t *out, uint64_t n)
{
	struct pte_attrs_gem_pfns q = {
		.handle = handle, .count = n, .pfns = (uintptr_t)out
	};

	if (ioctl(fd, PTE_ATTRS_GEM_PFNS, &q)) {
		printf("# pfns: %s\n", strerror(errno));
		exit(2);
	}
}

static void get_stats(int fd, struct pte_attrs_gem_stats *st)
{
	if (ioctl(fd, PTE_ATTRS_GEM_STATS, st)) {
		printf("# stats: %s\n", strerror(errno));
		exit(2);
	}
}

static void print_stats(int fd)
{
	static const char *const names[PTE_ATTRS_GEM_STATS_N] = {
		"created", "destroyed", "live", "mmaps", "mmap_refused",
		"faults", "refaults", "sigbus", "zaps", "evictions",
		"pages_checked", "pages_wrong", "pages_leaked", "populations",
		"fault_ns", "fault_ns_max", "zap_ns", "zap_ns_max",
		"populate_ns", "populate_ns_max", "evict_ns", "evict_ns_max",
		"refault_failed",
	};
	uint64_t v[PTE_ATTRS_GEM_STATS_N];
	int i;

	_Static_assert(sizeof(v) == sizeof(struct pte_attrs_gem_stats), "stats layout");
	get_stats(fd, (struct pte_attrs_gem_stats *)v);
	for (i = 0; i < PTE_ATTRS_GEM_STATS_N; i++)
		printf("stats.%s=%llu\n", names[i], (unsigned long long)v[i]);
}

/* What `lookup user ADDR` says, from this process. */
struct upte {
	int mapped;
	char cache[8];
	char dm_cache[16];
	char agrees[4];
	uint64_t pfn;
	uint64_t raw_pfn;
	char views[8];
	char lookup[8];
	int user, rw, nx, global, special, users;	/* users: how many user= lines */
};

static int lookup_fd = -1;

static int field(const char *rep, const char *key, char *out, size_t len)
{
	const char *p = rep;
	size_t k = strlen(key);

	while (p && *p) {
		if (!strncmp(p, key, k) && p[k] == '=') {
			size_t n = strcspn(p + k + 1, "\n");

			if (n >= len)
				n = len - 1;
			memcpy(out, p + k + 1, n);
			out[n] = 0;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	out[0] = 0;
	return -1;
}

static struct upte lookup_user(const volatile void *addr)
{
	char cmd[64], rep[4096], v[32];
	struct upte u = { 0 };
	ssize_t n;

	if (lookup_fd < 0) {
		lookup_fd = open(LOOKUP, O_RDWR | O_CLOEXEC);
		if (lookup_fd < 0) {
			printf("# open %s: %s\n", LOOKUP, strerror(errno));
			exit(2);
		}
	}
	snprintf(cmd, sizeof(cmd), "user %#lx\n", (unsigned long)addr);
	if (pwrite(lookup_fd, cmd, strlen(cmd), 0) < 0) {
		printf("# lookup write: %s\n", strerror(errno));
		exit(2);
	}
	n = pread(lookup_fd, rep, sizeof(rep) - 1, 0);
	if (n < 0) {
		printf("# lookup read: %s\n", strerror(errno));
		exit(2);
	}
	rep[n] = 0;
	field(rep, "mapped", v, sizeof(v));
	u.mapped = atoi(v);
	field(rep, "cache", u.cache, sizeof(u.cache));
	field(rep, "direct_map_cache", u.dm_cache, sizeof(u.dm_cache));
	field(rep, "agrees", u.agrees, sizeof(u.agrees));
	field(rep, "views", u.views, sizeof(u.views));
	field(rep, "pfn", v, sizeof(v));
	u.pfn = strtoull(v, NULL, 0);
	field(rep, "raw_pfn", v, sizeof(v));
	u.raw_pfn = strtoull(v, NULL, 0);
	field(rep, "lookup", u.lookup, sizeof(u.lookup));
	u.user = field(rep, "user", v, sizeof(v)) ? -1 : atoi(v);
	u.rw = field(rep, "rw", v, sizeof(v)) ? -1 : atoi(v);
	u.nx = field(rep, "nx", v, sizeof(v)) ? -1 : atoi(v);
	u.global = field(rep, "global", v, sizeof(v)) ? -1 : atoi(v);
	u.special = field(rep, "special", v, sizeof(v)) ? -1 : atoi(v);
	for (char *q = rep; (q = strstr(q, "user=")); q++)
		u.users += q == rep || q[-1] == '\n';
	return u;
}

/*
 * Whether this is a Xen PV guest (the accessor file says xenpv=1). Its user
 * PTEs are stored with G set: Xen's doing (Linux's user protections have no
 * _PAGE_GLOBAL), so G is checked natively only.
 */
static int xen_pv(void)
{
	static int xen = -1;
	char line[256];
	FILE *f;

	if (xen >= 0)
		return xen;
	xen = 0;
	f = fopen(ACCESSOR, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strcmp(line, "xenpv=1\n"))
			xen = 1;
	if (f)
		fclose(f);
	return xen;
}

/*
 * The cache mode a WC object's pages really get: WC with PAT, UC- without
 * (booted with nopat, the kernel maps a WC request to UC-).
 */
static const char *wc_mode(void)
{
	static const char *mode;
	char line[256];
	FILE *f;

	if (mode)
		return mode;
	mode = "UC-";
	f = fopen(ACCESSOR, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strcmp(line, "pat_enabled=1\n"))
			mode = "WC";
	if (f)
		fclose(f);
	return mode;
}

/* Whether the CPU has NX (the kernel sets it in every non-exec PTE then). */
static int cpu_nx(void)
{
	static int nx = -1;
	char line[4096];
	FILE *f;

	if (nx >= 0)
		return nx;
	nx = 0;
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5) && strstr(line, " nx")) {
			nx = 1;
			break;
		}
	if (f)
		fclose(f);
	return nx;
}

/*
 * check: every user PTE of a fresh object, after a write through it (rw)
 * or a read of it (ro, rx: a fresh object reads zero). Each must be in the
 * object's mode, agree with the direct map, map the object's own frame,
 * and carry the bits the mapping asked for: U/S set, RW only if writable,
 * NX unless executable (on a CPU with NX), a special entry, and (natively)
 * G clear.
 * FLAGS are CREATE's: the tests' ways of inserting pages.
 */
static int cmd_check(const char *mode, unsigned long n, const char *how, unsigned int flags)
{
	int cache = !strcmp(mode, "uc") ? PTE_ATTRS_GEM_CACHE_UC_MINUS : PTE_ATTRS_GEM_CACHE_WC;
	const char *want = cache == PTE_ATTRS_GEM_CACHE_WC ? wc_mode() : "UC-";
	int prot = !strcmp(how, "ro") ? PROT_READ :
		   !strcmp(how, "rx") ? PROT_READ | PROT_EXEC : PROT_READ | PROT_WRITE;
	int want_rw = !!(prot & PROT_WRITE), want_nx = cpu_nx() && !(prot & PROT_EXEC);
	int check_g = !xen_pv();
	int fd = dev_open();
	struct pte_attrs_gem_create c = { .pages = n, .caching = cache, .flags = flags };
	volatile uint64_t *p;
	uint64_t *pf = calloc(n, sizeof(*pf));
	unsigned long i, wrong = 0, bits = 0, bad_data = 0, cache_want = 0, cache_wb = 0;
	unsigned long disagree = 0, twice = 0;

	if (ioctl(fd, PTE_ATTRS_GEM_CREATE, &c)) {
		printf("# create %lu pages, flags %#x: %s\n", n, flags, strerror(errno));
		printf("create=%s\n", errno == EPERM ? "EPERM" : errno == EINVAL ? "EINVAL" : "other");
		return 0;
	}
	printf("create=ok\n");
	p = map_prot(fd, &c, prot);
	for (i = 0; i < n; i++) {
		if (want_rw)
			p[i * PAGE / 8] = 0x5a5a000000000000ULL | i;
		else
			bad_data += p[i * PAGE / 8] != 0;
	}
	for (i = 0; want_rw && i < n; i++)
		bad_data += p[i * PAGE / 8] != (0x5a5a000000000000ULL | i);
	pfns(fd, c.handle, pf, n);
	for (i = 0; i < n; i++) {
		struct upte u = lookup_user(&p[i * PAGE / 8]);

		if (i == 0) {
			printf("first: mapped=%d cache=%s direct_map_cache=%s agrees=%s views=%s\n",
			       u.mapped, u.cache, u.dm_cache, u.agrees, u.views);
			printf("first_bits=user=%d rw=%d nx=%d special=%d lookup=%s\n",
			       u.user, u.rw, u.nx, u.special, u.lookup);
			printf("first_global=%d\n", u.global);
			printf("# first page: pfn (paravirt view) %#llx, raw frame %#llx, the object's pfn %#llx\n",
			       (unsigned long long)u.pfn, (unsigned long long)u.raw_pfn,
			       (unsigned long long)pf[0]);
		}
		cache_want += !strcmp(u.cache, want);
		cache_wb += !strcmp(u.cache, "WB");
		disagree += !strcmp(u.agrees, "0");
		twice += u.users != 1;
		if (u.mapped != 1 || strcmp(u.cache, want) || strcmp(u.agrees, "1") ||
		    u.pfn != pf[i]) {
			wrong++;
			if (wrong < 5)
				printf("# page %lu: mapped=%d cache=%s dm=%s agrees=%s pfn=%#llx object pfn=%#llx\n",
				       i, u.mapped, u.cache, u.dm_cache, u.agrees,
				       (unsigned long long)u.pfn, (unsigned long long)pf[i]);
		}
		if (u.mapped == 1 && (u.user != 1 || u.rw != want_rw || u.nx != want_nx ||
				      (check_g && u.global != 0) || u.special != 1 ||
				      strcmp(u.lookup, "user"))) {
			bits++;
			if (bits < 5)
				printf("# page %lu: user=%d rw=%d nx=%d global=%d special=%d lookup=%s (want user=1 rw=%d nx=%d global=%s special=1 lookup=user)\n",
				       i, u.user, u.rw, u.nx, u.global, u.special, u.lookup,
				       want_rw, want_nx, check_g ? "0" : "any");
		}
	}
	printf("ptes_checked=%lu\nptes_wrong=%lu\nbits_wrong=%lu\ndata_wrong=%lu\n",
	       n, wrong, bits, bad_data);
	printf("cache_want=%lu\ncache_wb=%lu\ndisagree=%lu\nuser_lines_not_1=%lu\n",
	       cache_want, cache_wb, disagree, twice);
	print_stats(fd);
	return 0;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "ok";
	case EINVAL: return "EINVAL";
	case ENXIO: return "ENXIO";
	case ENOENT: return "ENOENT";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case ENODEV: return "ENODEV";
	case EPERM: return "EPERM";
	default: return "other";
	}
}

static int try_map(int fd, size_t len, int flags, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	if (p == MAP_FAILED)
		return errno;
	munmap(p, len);
	return 0;
}

/* errors: what each bad request gets. */
static int cmd_errors(void)
{
	int fd = dev_open();
	struct pte_attrs_gem_create c = create(fd, 4, PTE_ATTRS_GEM_CACHE_WC);
	struct pte_attrs_gem_create gone = create(fd, 4, PTE_ATTRS_GEM_CACHE_WC);
	struct pte_attrs_gem_handle h = { .handle = gone.handle };
	struct pte_attrs_gem_create bad = { .pages = 0, .caching = 1 };
	int fd2 = dev_open();

	printf("err.ok=%s\n", errname(try_map(fd, 4 * PAGE, MAP_SHARED, c.offset)));
	printf("err.too_large=%s\n", errname(try_map(fd, 5 * PAGE, MAP_SHARED, c.offset)));
	printf("err.past_end=%s\n", errname(try_map(fd, 2 * PAGE, MAP_SHARED, c.offset + 3 * PAGE)));
	printf("err.private=%s\n", errname(try_map(fd, 4 * PAGE, MAP_PRIVATE, c.offset)));
	printf("err.no_object=%s\n", errname(try_map(fd, PAGE, MAP_SHARED, (off_t)999 << 32)));
	printf("err.offset_zero=%s\n", errname(try_map(fd, PAGE, MAP_SHARED, 0)));
	printf("err.other_file=%s\n", errname(try_map(fd2, PAGE, MAP_SHARED, c.offset)));
	if (ioctl(fd, PTE_ATTRS_GEM_DESTROY, &h))
		printf("# destroy: %s\n", strerror(errno));
	printf("err.gone=%s\n", errname(try_map(fd, PAGE, MAP_SHARED, gone.offset)));
	printf("err.destroy_again=%s\n",
	       errname(ioctl(fd, PTE_ATTRS_GEM_DESTROY, &h) ? errno : 0));
	printf("err.create_zero=%s\n", errname(ioctl(fd, PTE_ATTRS_GEM_CREATE, &bad) ? errno : 0));
	bad.pages = PTE_ATTRS_GEM_MAX_PAGES + 1;
	printf("err.create_big=%s\n", errname(ioctl(fd, PTE_ATTRS_GEM_CREATE, &bad) ? errno : 0));
	bad.pages = 1;
	bad.caching = 0;
	printf("err.create_wb=%s\n", errname(ioctl(fd, PTE_ATTRS_GEM_CREATE, &bad) ? errno : 0));
	printf("err.create_fault=%s\n",
	       errname(ioctl(fd, PTE_ATTRS_GEM_CREATE, (void *)8) ? errno : 0));
	printf("err.unknown_ioctl=%s\n", errname(ioctl(fd, _IO('G', 99)) ? errno : 0));
	print_stats(fd);
	return 0;
}

/* Shared between the evict test's parent and child. */
struct shared {
	volatile int stop;
	volatile int destroyed;
	uint64_t handle;
	volatile unsigned long touches;
	volatile unsigned long lost;	/* a value written was gone: refaulted */
	volatile unsigned long sigbus_live;	/* SIGBUS before destroy */
	volatile unsigned long sigbus_gone;	/* SIGBUS after destroy */
	/* The child's lookups of its own PTEs, during the evictions. */
	volatile unsigned long lookups;
	volatile unsigned long settled;	/* no eviction or population during it */
	volatile unsigned long settled_mapped;
	volatile unsigned long zapped;
	volatile unsigned long stale;	/* settled, mapped, not the object's frame */
	volatile unsigned long alias;	/* mapped, not WC or not agreeing */
};

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/*
 * The child looks up its own user PTE of page @i, bracketed by two reads
 * of the device's counters: an eviction or a population changes the
 * object's pages only under the lock those reads take, so if neither
 * counted one in between, @cur (read in between too) are the object's
 * pages for the whole lookup, and a mapped entry must map cur[i]. Either
 * way a mapped entry must be WC and agree with the direct map (lookup
 * reads both under the page-table lock that a zap, before any caching
 * change or free, must take): a stale entry on a freed page would be WC
 * over WB.
 */
static void child_lookup(int fd, volatile uint64_t *p, unsigned long n, unsigned long i,
			 struct shared *s)
{
	struct pte_attrs_gem_stats a, b;
	struct pte_attrs_gem_pfns q;
	uint64_t cur[16];
	struct upte u;
	int settled;

	get_stats(fd, &a);
	q = (struct pte_attrs_gem_pfns){ .handle = s->handle, .count = n, .pfns = (uintptr_t)cur };
	if (n > 16 || ioctl(fd, PTE_ATTRS_GEM_PFNS, &q)) {
		if (s->destroyed)
			return;	/* the parent destroyed it meanwhile */
		_exit(3);
	}
	u = lookup_user(&p[i * PAGE / 8]);
	get_stats(fd, &b);
	settled = a.evictions == b.evictions && a.populations == b.populations;
	s->lookups++;
	s->settled += settled;
	if (!u.mapped) {
		s->zapped++;
		return;
	}
	if (settled) {
		s->settled_mapped++;
		if (u.pfn != cur[i]) {
			s->stale++;
			if (s->stale < 5)
				printf("# child: page %lu: its PTE maps pfn %#llx, the object's page is %#llx\n",
				       i, (unsigned long long)u.pfn, (unsigned long long)cur[i]);
		}
	}
	if (strcmp(u.cache, wc_mode()) || strcmp(u.agrees, "1")) {
		s->alias++;
		if (s->alias < 5)
			printf("# child: page %lu: cache=%s direct_map_cache=%s agrees=%s\n",
			       i, u.cache, u.dm_cache, u.agrees);
	}
}

static void child_touch(int fd, volatile uint64_t *p, unsigned long n, struct shared *s)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	volatile uint64_t round = 0;

	/* Its own lookup file: a shared one would share the address written. */
	lookup_fd = -1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(bus_jmp, 1)) {
		if (s->destroyed) {
			s->sigbus_gone++;
			_exit(0);
		}
		s->sigbus_live++;
	}
	while (!s->stop) {
		unsigned long i;

		round++;
		for (i = 0; i < n; i++) {
			volatile uint64_t *w = &p[i * PAGE / 8];

			if (round > 1 && *w != ((round - 1) << 16 | i))
				s->lost++;
			*w = round << 16 | i;
			s->touches++;
		}
		/* One of its own PTEs, while the parent evicts. */
		if (!s->destroyed)
			child_lookup(fd, p, n, round % n, s);
	}
	_exit(0);
}

/*
 * evict: a child keeps writing and reading every page while the parent
 * evicts the object ROUNDS times, and after each eviction reads its own
 * user PTEs: each is either gone (zapped) or maps one of the object's
 * current pages, WC, agreeing with the direct map. Then the parent
 * destroys the object and the child's next access must get SIGBUS.
 */
static int cmd_evict(unsigned long rounds)
{
	const unsigned long n = 16;
	int fd = dev_open();
	struct pte_attrs_gem_create c = create(fd, n, PTE_ATTRS_GEM_CACHE_WC);
	volatile uint64_t *p = map(fd, &c);
	struct pte_attrs_gem_handle h = { .handle = c.handle };
	struct shared *s = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long r, i, lookups = 0, zapped = 0, mapped = 0, stale = 0, alias = 0, status_bad = 0;
	uint64_t cur[16], old[16];
	struct timespec ts = { 0, 2000000 };
	pid_t pid;
	int st, waited;

	for (i = 0; i < n; i++)
		p[i * PAGE / 8] = i;
	pfns(fd, c.handle, old, n);
	memset((void *)s, 0, sizeof(*s));
	s->handle = c.handle;
	pid = fork();
	if (pid == 0)
		child_touch(fd, p, n, s);
	for (r = 0; r < rounds; r++) {
		nanosleep(&ts, NULL);
		if (ioctl(fd, PTE_ATTRS_GEM_EVICT, &h)) {
			printf("# evict: %s\n", strerror(errno));
			status_bad++;
			continue;
		}
		/* Right after the eviction (this process's PTEs are zapped;
		 * the child's accesses refault its own), then after this
		 * process read each page (refaulted here too). */
		for (i = 0; i < 2 * n; i++) {
			struct upte u;
			unsigned long j, found = 0;

			if (i >= n)
				(void)p[(i % n) * PAGE / 8];
			u = lookup_user(&p[(i % n) * PAGE / 8]);
			lookups++;
			/* Only this process evicts: the pages now are those
			 * of the lookup, or the object was empty then. */
			pfns(fd, c.handle, cur, n);
			if (!u.mapped) {
				zapped++;
				continue;
			}
			mapped++;
			for (j = 0; j < n; j++)
				found += cur[j] && cur[j] == u.pfn;
			if (!found || u.pfn != cur[i % n]) {
				stale++;
				if (stale < 5)
					printf("# round %lu page %lu: user PTE maps pfn %#llx, not one of the object's (page now %#llx, first old %#llx)\n",
					       r, i % n, (unsigned long long)u.pfn,
					       (unsigned long long)cur[i % n],
					       (unsigned long long)old[i % n]);
			}
			if (strcmp(u.cache, wc_mode()) || strcmp(u.agrees, "1")) {
				alias++;
				if (alias < 5)
					printf("# round %lu page %lu: cache=%s direct_map_cache=%s agrees=%s\n",
					       r, i % n, u.cache, u.dm_cache, u.agrees);
			}
		}
	}
	/* Destroy under the child's live mapping: its next access is SIGBUS. */
	s->destroyed = 1;
	__sync_synchronize();
	if (ioctl(fd, PTE_ATTRS_GEM_DESTROY, &h))
		printf("# destroy: %s\n", strerror(errno));
	for (waited = 0; waited < 500 && !s->sigbus_gone; waited++)
		nanosleep(&ts, NULL);
	s->stop = 1;
	waitpid(pid, &st, 0);
	/* And in this process too, after the object is gone. */
	{
		struct upte u = lookup_user(&p[0]);

		printf("after_destroy_mapped=%d\n", u.mapped);
	}
	printf("rounds=%lu\nlookups=%lu\nzapped_seen=%lu\nmapped_seen=%lu\nstale=%lu\nalias=%lu\nioctl_failed=%lu\n",
	       rounds, lookups, zapped, mapped, stale, alias, status_bad);
	printf("child_touches=%lu\nchild_lost=%lu\nchild_sigbus_live=%lu\nchild_sigbus_gone=%lu\n",
	       s->touches, s->lost, s->sigbus_live, s->sigbus_gone);
	printf("child_lookups=%lu\nchild_settled=%lu\nchild_settled_mapped=%lu\nchild_zapped=%lu\nchild_stale=%lu\nchild_alias=%lu\n",
	       s->lookups, s->settled, s->settled_mapped, s->zapped, s->stale, s->alias);
	printf("child_exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	print_stats(fd);
	return 0;
}

/*
 * privilege: a file opened by root, used after setuid(nobody) (all
 * capabilities gone): PFNS and BAR_HOLD need CAP_SYS_ADMIN at each call,
 * everything else works on the open file as before.
 */
static int cmd_privilege(void)
{
	int fd = dev_open();
	struct pte_attrs_gem_create c = create(fd, 4, PTE_ATTRS_GEM_CACHE_WC);
	struct pte_attrs_gem_create c2 = { .pages = 2, .caching = PTE_ATTRS_GEM_CACHE_UC_MINUS };
	struct pte_attrs_gem_create t = { .pages = 1, .caching = 1, .flags = PTE_ATTRS_GEM_CREATE_TEST_RAW_PTE };
	struct pte_attrs_gem_handle h = { .handle = c.handle };
	struct pte_attrs_gem_bar b = { .bar = 0 };
	struct pte_attrs_gem_stats st;
	uint64_t pf[4];
	struct pte_attrs_gem_pfns q = { .handle = c.handle, .count = 4, .pfns = (uintptr_t)pf };
	volatile uint64_t *p;
	int e;

	e = ioctl(fd, PTE_ATTRS_GEM_PFNS, &q) ? errno : 0;
	printf("priv.root_pfns=%s\n", errname(e));
	if (setuid(65534)) {
		printf("# setuid(65534): %s\n", strerror(errno));
		return 2;
	}
	printf("priv.uid=%d\n", (int)geteuid());
	e = ioctl(fd, PTE_ATTRS_GEM_PFNS, &q) ? errno : 0;
	printf("priv.pfns=%s\n", errname(e));
	e = ioctl(fd, PTE_ATTRS_GEM_BAR_HOLD, &b) ? errno : 0;
	printf("priv.bar_hold=%s\n", errname(e));
	e = ioctl(fd, PTE_ATTRS_GEM_CREATE, &t) ? errno : 0;
	printf("priv.create_test_flags=%s\n", errname(e));
	e = ioctl(fd, PTE_ATTRS_GEM_CREATE, &c2) ? errno : 0;
	printf("priv.create=%s\n", errname(e));
	p = map(fd, &c);
	p[0] = 7;
	printf("priv.mapped_write=%s\n", p[0] == 7 ? "ok" : "lost");
	e = ioctl(fd, PTE_ATTRS_GEM_EVICT, &h) ? errno : 0;
	printf("priv.evict=%s\n", errname(e));
	printf("priv.refault=%s\n", p[0] == 0 ? "ok" : "kept");
	e = ioctl(fd, PTE_ATTRS_GEM_STATS, &st) ? errno : 0;
	printf("priv.stats=%s\n", errname(e));
	e = ioctl(fd, PTE_ATTRS_GEM_BAR_RELEASE) ? errno : 0;
	printf("priv.bar_release=%s\n", errname(e));
	munmap((void *)p, c.pages * PAGE);
	e = ioctl(fd, PTE_ATTRS_GEM_DESTROY, &h) ? errno : 0;
	printf("priv.destroy=%s\n", errname(e));
	return 0;
}

/*
 * refault_fail: a refault whose page allocation fails. The caller arms
 * fail_page_alloc with a task filter; this process opens its own
 * make-it-fail first, sets it just before the access that refaults, and
 * clears it through the same descriptor (no allocation) at once after.
 * The access must get SIGBUS (not loop on VM_FAULT_OOM: an alarm ends a
 * fault retried for 20 s), and the next one, with nothing injected, must
 * refault to new pages.
 */
static volatile sig_atomic_t alarmed;

static void on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
	siglongjmp(bus_jmp, 2);
}

static char alt_stack[65536];

static int cmd_refault_fail(void)
{
	const unsigned long n = 16;
	int fd = dev_open();
	struct pte_attrs_gem_create c = create(fd, n, PTE_ATTRS_GEM_CACHE_WC);
	volatile uint64_t *p = map(fd, &c);
	struct pte_attrs_gem_handle h = { .handle = c.handle };
	/* Signal frames on a stack already faulted in: no page to allocate. */
	struct sigaction sa = { .sa_handler = on_sigbus, .sa_flags = SA_ONSTACK };
	struct sigaction al = { .sa_handler = on_alarm, .sa_flags = SA_ONSTACK };
	stack_t ss = { .ss_sp = alt_stack, .ss_size = sizeof(alt_stack) };
	struct pte_attrs_gem_stats a, b;
	static volatile int got;
	int mif = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
	unsigned long i;

	if (mif < 0) {
		printf("# /proc/self/make-it-fail: %s\n", strerror(errno));
		printf("refault.err=no_make_it_fail\n");
		return 0;
	}
	for (i = 0; i < n; i++)
		p[i * PAGE / 8] = i + 1;
	if (ioctl(fd, PTE_ATTRS_GEM_EVICT, &h)) {
		printf("# evict: %s\n", strerror(errno));
		return 2;
	}
	get_stats(fd, &a);
	memset(alt_stack, 1, sizeof(alt_stack));
	sigaltstack(&ss, NULL);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigemptyset(&al.sa_mask);
	sigaction(SIGALRM, &al, NULL);
	if (!sigsetjmp(bus_jmp, 1)) {
		alarm(20);
		if (pwrite(mif, "1", 1, 0) != 1) {
			printf("# make-it-fail: %s\n", strerror(errno));
			return 2;
		}
		(void)p[0];	/* refaults: its allocation fails */
		got = 0;	/* no signal: the fault went through */
	} else {
		got = alarmed ? 2 : 1;
	}
	/* Cleared first, through the open descriptor: no allocation. */
	if (pwrite(mif, "0", 1, 0) != 1)
		printf("# make-it-fail 0: %s\n", strerror(errno));
	alarm(0);
	printf("refault.sigbus=%d\nrefault.looped=%d\n", got == 1, got == 2);
	get_stats(fd, &b);
	printf("refault.failed_counted=%llu\nrefault.sigbus_counted=%llu\nrefault.refaults_counted=%llu\n",
	       (unsigned long long)(b.refault_failed - a.refault_failed),
	       (unsigned long long)(b.sigbus - a.sigbus),
	       (unsigned long long)(b.refaults - a.refaults));
	/* Nothing injected now: the object comes back, its contents gone. */
	if (sigsetjmp(bus_jmp, 1)) {
		printf("refault.after=sigbus\n");
	} else {
		uint64_t v = p[0];

		printf("refault.after=%s\n", v == 0 ? "ok" : "kept");
	}
	if (ioctl(fd, PTE_ATTRS_GEM_DESTROY, &h))
		printf("# destroy: %s\n", strerror(errno));
	munmap((void *)p, n * PAGE);
	close(fd);
	fd = dev_open();
	print_stats(fd);
	return 0;
}

/* hold: a live mapping of an object, the fd closed; waits to be killed. */
static int cmd_hold(void)
{
	int fd = dev_open();
	struct pte_attrs_gem_create c = create(fd, 4, PTE_ATTRS_GEM_CACHE_WC);
	volatile uint64_t *p = map(fd, &c);

	p[0] = 1;
	close(fd);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* bar: the DRM BAR paths on the auto-chosen display BAR, held. */
static int cmd_bar(void)
{
	int fd = dev_open();
	struct pte_attrs_gem_bar b = { .bar = 0 };
	int e;

	if (ioctl(fd, PTE_ATTRS_GEM_BAR_HOLD, &b)) {
		printf("# bar hold: %s\n", strerror(errno));
		printf("bar.err=%s\n", errname(errno));
		fflush(stdout);
		return 1;
	}
	printf("bar.dev=%.31s\nbar.start=0x%016llx\nbar.end=0x%016llx\nbar.phys_wc=%lld\n",
	       b.dev, (unsigned long long)b.start,
	       (unsigned long long)(b.start + b.size), (long long)b.phys_wc);
	printf("bar.iomap_pages=%llu\nbar.iomap_wrong=%llu\n",
	       (unsigned long long)b.iomap_pages, (unsigned long long)b.iomap_wrong);
	printf("bar.local_pages=%llu\nbar.local_wrong=%llu\n",
	       (unsigned long long)b.local_pages, (unsigned long long)b.local_wrong);
	printf("bar.map_wc_pages=%llu\nbar.map_wc_wrong=%llu\n",
	       (unsigned long long)b.map_wc_pages, (unsigned long long)b.map_wc_wrong);
	printf("bar.memremap_pages=%llu\nbar.memremap_wrong=%llu\n",
	       (unsigned long long)b.memremap_pages, (unsigned long long)b.memremap_wrong);
	/* A second holder is refused while these are held. */
	{
		int fd2 = dev_open();
		struct pte_attrs_gem_bar b2 = { .bar = 0 };

		e = ioctl(fd2, PTE_ATTRS_GEM_BAR_HOLD, &b2) ? errno : 0;
		printf("bar.second_hold=%s\n", errname(e));
		e = ioctl(fd2, PTE_ATTRS_GEM_BAR_RELEASE) ? errno : 0;
		printf("bar.release_not_held=%s\n", errname(e));
		close(fd2);
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
	return 0;
}

/* fuzz: OPS random operations, good and bad, from SEED. */
#define FZ_MAPS 16
struct fz_map {
	volatile uint64_t *p;
	size_t len;
};

static uint64_t fz_state;

static uint64_t fz_rand(void)
{
	fz_state ^= fz_state << 13;
	fz_state ^= fz_state >> 7;
	fz_state ^= fz_state << 17;
	return fz_state;
}

static unsigned long fz_counts[8];	/* ok, EINVAL, ENXIO, ENOENT, EFAULT, ENOTTY, ENOSPC/EBUSY/EPERM, other */

static void fz_count(int e)
{
	int i;

	switch (e) {
	case 0: i = 0; break;
	case EINVAL: i = 1; break;
	case ENXIO: i = 2; break;
	case ENOENT: i = 3; break;
	case EFAULT: i = 4; break;
	case ENOTTY: i = 5; break;
	case ENOSPC: case EBUSY: case EPERM: i = 6; break;
	default:
		i = 7;
		printf("# fuzz: unexpected errno %d (%s)\n", e, strerror(e));
	}
	fz_counts[i]++;
}

/* Kept out of registers: siglongjmp() returns into the loop. */
static struct fz_map maps[FZ_MAPS];
static uint64_t handles[32], buf[8];
static volatile unsigned long op, sigbus, touches, lookups, lookup_bad;
static volatile int fd;

static int cmd_fuzz(unsigned long ops, unsigned long seed)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	fd = dev_open();
	fz_state = seed * 2654435761UL + 1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	printf("# fuzz: %lu operations, seed %lu\n", ops, seed);
	for (op = 0; op < ops; op++) {
		unsigned long r = fz_rand(), k = fz_rand() % 32, m = fz_rand() % FZ_MAPS;
		uint64_t h = fz_rand() % 8 ? handles[k] : fz_rand();

		switch (r % 12) {
		case 0: {	/* create: sizes, modes, flags in and out of range */
			struct pte_attrs_gem_create c = {
				.pages = fz_rand() % 4 ? 1 + fz_rand() % 64 : fz_rand() % 2048,
				.caching = fz_rand() % 5 ? 1 + fz_rand() % 2 : fz_rand() % 4,
				/* Unknown flags only: the tests' ones are not fuzzed. */
				.flags = fz_rand() % 10 ? 0 : 4U << fz_rand() % 30,
			};
			int e = ioctl(fd, PTE_ATTRS_GEM_CREATE, &c) ? errno : 0;

			fz_count(e);
			if (!e)
				handles[k] = c.handle;
			break;
		}
		case 1:
		case 2: {	/* mmap: around an object's offset, any length */
			off_t off = (off_t)(h << 32) + (off_t)((fz_rand() % 4) * PAGE);
			size_t len = (1 + fz_rand() % 70) * PAGE;
			int flags = fz_rand() % 6 ? MAP_SHARED : MAP_PRIVATE;
			void *p;

			if (fz_rand() % 8 == 0)
				off += fz_rand() % PAGE;	/* unaligned */
			p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);
			fz_count(p == MAP_FAILED ? errno : 0);
			if (p != MAP_FAILED) {
				if (maps[m].p)
					munmap((void *)maps[m].p, maps[m].len);
				maps[m].p = p;
				maps[m].len = len;
			}
			break;
		}
		case 3:
		case 4:
		case 5: {	/* touch a mapped page (SIGBUS once destroyed) */
			volatile uint64_t *w;

			if (!maps[m].p)
				break;
			w = maps[m].p + (fz_rand() % (maps[m].len / PAGE)) * (PAGE / 8);
			if (sigsetjmp(bus_jmp, 1)) {
				sigbus++;
				break;
			}
			*w = *w + 1;
			touches++;
			if (fz_rand() % 4 == 0) {
				struct upte u = lookup_user(w);

				lookups++;
				if (u.mapped && (strcmp(u.agrees, "1") ||
						 (strcmp(u.cache, "WC") && strcmp(u.cache, "UC-"))))
					lookup_bad++;
			}
			break;
		}
		case 6: {	/* evict */
			struct pte_attrs_gem_handle q = { .handle = h };

			fz_count(ioctl(fd, PTE_ATTRS_GEM_EVICT, &q) ? errno : 0);
			break;
		}
		case 7: {	/* destroy */
			struct pte_attrs_gem_handle q = { .handle = h };

			fz_count(ioctl(fd, PTE_ATTRS_GEM_DESTROY, &q) ? errno : 0);
			break;
		}
		case 8: {	/* pfns: room and pointer good or bad */
			struct pte_attrs_gem_pfns q = {
				.handle = h,
				.count = fz_rand() % 3 ? fz_rand() % 9 : fz_rand(),
				.pfns = fz_rand() % 4 ? (uintptr_t)buf : fz_rand() % 2 ? 0 : 8,
			};

			if (q.count > 8 && q.pfns == (uintptr_t)buf)
				q.count = 8;
			fz_count(ioctl(fd, PTE_ATTRS_GEM_PFNS, &q) ? errno : 0);
			break;
		}
		case 9: {	/* any ioctl number of the type, bad pointers */
			unsigned long cmd = fz_rand() % 2 ?
				_IOC(fz_rand() % 4, 'G', fz_rand() % 10, fz_rand() % 200) :
				(unsigned long)fz_rand() & 0xffffffff;

			fz_count(ioctl(fd, cmd, fz_rand() % 2 ? (void *)buf : (void *)(uintptr_t)fz_rand()) ? errno : 0);
			break;
		}
		case 10:	/* unmap */
			if (maps[m].p) {
				munmap((void *)maps[m].p, maps[m].len);
				maps[m].p = NULL;
			}
			break;
		case 11:	/* now and then: close and reopen (destroys all) */
			if (fz_rand() % 16 == 0) {
				close(fd);
				fd = dev_open();
				memset(handles, 0, sizeof(handles));
			}
			break;
		}
	}
	printf("fuzz.ok=%lu\nfuzz.einval=%lu\nfuzz.enxio=%lu\nfuzz.enoent=%lu\nfuzz.efault=%lu\nfuzz.enotty=%lu\nfuzz.enospc_ebusy_eperm=%lu\nfuzz.other=%lu\n",
	       fz_counts[0], fz_counts[1], fz_counts[2], fz_counts[3],
	       fz_counts[4], fz_counts[5], fz_counts[6], fz_counts[7]);
	printf("fuzz.touches=%lu\nfuzz.sigbus=%lu\nfuzz.lookups=%lu\nfuzz.lookup_bad=%lu\n",
	       touches, sigbus, lookups, lookup_bad);
	/* A mapping holds its file (and so its objects): unmap all first. */
	for (op = 0; op < FZ_MAPS; op++)
		if (maps[op].p)
			munmap((void *)maps[op].p, maps[op].len);
	close(fd);
	fd = dev_open();
	print_stats(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "check"))
		return cmd_check(argv[2], strtoul(argv[3], NULL, 0), argc >= 5 ? argv[4] : "rw",
				 argc >= 6 ? strtoul(argv[5], NULL, 0) : 0);
	if (argc >= 2 && !strcmp(argv[1], "privilege"))
		return cmd_privilege();
	if (argc >= 2 && !strcmp(argv[1], "refault_fail"))
		return cmd_refault_fail();
	if (argc >= 2 && !strcmp(argv[1], "errors"))
		return cmd_errors();
	if (argc >= 3 && !strcmp(argv[1], "evict"))
		return cmd_evict(strtoul(argv[2], NULL, 0));
	if (argc >= 2 && !strcmp(argv[1], "hold"))
		return cmd_hold();
	if (argc >= 2 && !strcmp(argv[1], "bar"))
		return cmd_bar();
	if (argc >= 4 && !strcmp(argv[1], "fuzz"))
		return cmd_fuzz(strtoul(argv[2], NULL, 0), strtoul(argv[3], NULL, 0));
	fprintf(stderr, "usage: %s check wc|uc PAGES [rw|ro|rx [FLAGS]] | errors | evict ROUNDS | privilege | refault_fail | hold | bar | fuzz OPS SEED\n", argv[0]);
	return 2;
}

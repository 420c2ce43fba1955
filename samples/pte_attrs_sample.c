// SPDX-License-Identifier: GPL-2.0
/*
 * A consumer of the pte_attrs API, as a driver would use it: allocate a
 * page, read its attributes, make it uncached with set_pages_uc(), read
 * them again, put it back to write-back and read them a third time. The
 * module refuses to load unless each reading is what it should be
 * (WB, UC-, WB), and unless addresses that are not kernel addresses are
 * refused with -EINVAL. Then it counts the direct map's leaves per level
 * with pte_attrs_walk() (not-present ones included, as /proc/meminfo's
 * DirectMap counters count them) and logs the counts.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <asm/set_memory.h>
#include <pte_attrs.h>

static int expect(struct page *page, const char *step,
		  enum page_cache_mode want)
{
	unsigned long addr = (unsigned long)page_address(page);
	struct pte_attrs_info info;
	int ret;

	/* No address or entry value in the log: %p would hash it anyway. */
	ret = pte_attrs_lookup(addr, &info);
	if (ret) {
		pr_err("%s: pte_attrs_lookup() of the page failed: %d\n", step, ret);
		return ret;
	}
	pr_info("%s: level %u cache %s\n", step, info.level,
		pte_attrs_cache_mode_name(info.cache_mode));
	if (info.cache_mode != want) {
		pr_err("%s: cache mode %s, expected %s\n", step,
		       pte_attrs_cache_mode_name(info.cache_mode),
		       pte_attrs_cache_mode_name(want));
		return -EIO;
	}
	return 0;
}

/*
 * Addresses that are not kernel addresses are refused before any table
 * is read: a non-canonical one (whose table index would alias a kernel
 * slot), a user one, and NULL @info.
 */
static int expect_refusals(void)
{
	static const struct {
		const char *what;
		unsigned long addr;
	} bad[] = {
		{ "non-canonical (4-level) or user (5-level)", 0x0000888000000000UL },
		{ "non-canonical (high)", 0x7fff888000000000UL },
		{ "user", 0x1000UL },
	};
	struct pte_attrs_info info;
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		ret = pte_attrs_lookup(bad[i].addr, &info);
		if (ret != -EINVAL) {
			pr_err("a %s address: pte_attrs_lookup() returned %d, expected %d\n",
			       bad[i].what, ret, -EINVAL);
			return -EIO;
		}
	}
	ret = pte_attrs_lookup((unsigned long)&info, NULL);
	if (ret != -EINVAL) {
		pr_err("NULL info: pte_attrs_lookup() returned %d, expected %d\n",
		       ret, -EINVAL);
		return -EIO;
	}
	pr_info("non-kernel addresses and NULL info refused with -EINVAL\n");
	return 0;
}

/* Leaves per level: PG_LEVEL_4K, PG_LEVEL_2M, PG_LEVEL_1G. */
struct leaf_counts {
	unsigned long n[3];
};

static int count_leaf(const struct pte_attrs_leaf *leaf, void *data)
{
	struct leaf_counts *c = data;

	switch (leaf->level) {
	case PG_LEVEL_4K:
		c->n[0]++;
		break;
	case PG_LEVEL_2M:
		c->n[1]++;
		break;
	case PG_LEVEL_1G:
		c->n[2]++;
		break;
	default:
		return -EIO;
	}
	return 0;
}

/* The direct map, [PAGE_OFFSET, VMALLOC_START): its leaves per level. */
static int count_direct_map(void)
{
	struct leaf_counts c = { };
	int ret;

	ret = pte_attrs_walk(PAGE_OFFSET, VMALLOC_START,
			     PTE_ATTRS_WALK_NOT_PRESENT, count_leaf, &c);
	if (ret) {
		pr_err("pte_attrs_walk() of the direct map failed: %d\n", ret);
		return ret;
	}
	pr_info("walk of the direct map: 4K=%lu 2M=%lu 1G=%lu\n",
		c.n[0], c.n[1], c.n[2]);
	return 0;
}

static int __init pte_attrs_sample_init(void)
{
	struct page *page;
	int ret, restore;

	ret = expect_refusals();
	if (ret)
		return ret;

	ret = count_direct_map();
	if (ret)
		return ret;

	page = alloc_page(GFP_KERNEL);
	if (!page)
		return -ENOMEM;

	ret = expect(page, "fresh page", _PAGE_CACHE_MODE_WB);
	if (ret)
		goto out_free;

	ret = set_pages_uc(page, 1);
	if (ret) {
		pr_err("set_pages_uc failed: %d\n", ret);
		goto out_free;
	}
	ret = expect(page, "after set_pages_uc", _PAGE_CACHE_MODE_UC_MINUS);

	restore = set_pages_wb(page, 1);
	if (restore) {
		/* Never hand a non-WB page back to the allocator. */
		pr_err("set_pages_wb failed: %d; leaking the page\n", restore);
		return restore;
	}
	if (!ret)
		ret = expect(page, "after set_pages_wb", _PAGE_CACHE_MODE_WB);
	if (!ret)
		pr_info("all three readings as expected\n");

out_free:
	__free_page(page);
	return ret;
}

static void __exit pte_attrs_sample_exit(void)
{
}

module_init(pte_attrs_sample_init);
module_exit(pte_attrs_sample_exit);

MODULE_DESCRIPTION("Sample consumer of the pte_attrs API");
MODULE_LICENSE("GPL");

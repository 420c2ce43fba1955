// SPDX-License-Identifier: GPL-2.0
/*
 * A consumer of the pte_attrs API, as a driver would use it: allocate a
 * page, read its attributes, make it uncached with set_pages_uc(), read
 * them again, put it back to write-back and read them a third time. The
 * module refuses to load unless each reading is what it should be
 * (WB, UC-, WB).
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

	ret = pte_attrs_lookup(addr, &info);
	if (ret) {
		pr_err("%s: pte_attrs_lookup(%#lx) failed: %d\n", step, addr, ret);
		return ret;
	}
	pr_info("%s: %#lx level %u pte %#llx flags %#llx cache %s\n", step,
		addr, info.level, info.pv_val, info.flags,
		pte_attrs_cache_mode_name(info.cache_mode));
	if (info.cache_mode != want) {
		pr_err("%s: cache mode %s, expected %s\n", step,
		       pte_attrs_cache_mode_name(info.cache_mode),
		       pte_attrs_cache_mode_name(want));
		return -EIO;
	}
	return 0;
}

static int __init pte_attrs_sample_init(void)
{
	struct page *page = alloc_page(GFP_KERNEL);
	int ret, restore;

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

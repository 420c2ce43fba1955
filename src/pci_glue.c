// SPDX-License-Identifier: GPL-2.0
/*
 * The PCI BAR the ioremap scenario maps, claimed for the whole run: what
 * Rust cannot reach in 6.12 (no PCI abstractions; pci_* iteration, the
 * device lock and the resource flags are macros and static inlines).
 */
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/pci.h>
#include <linux/string.h>

#include "pci_glue.h"

/* What is wrong with BAR @bar of @pdev as a target, before any claim. */
static int bar_check(struct pci_dev *pdev, int bar)
{
	unsigned long flags = pci_resource_flags(pdev, bar);
	u16 cmd = 0;

	if (!(flags & IORESOURCE_MEM) || !pci_resource_len(pdev, bar))
		return PTE_ATTRS_BAR_NOT_MEM;
	if (!pci_resource_start(pdev, bar) || (flags & IORESOURCE_UNSET))
		return PTE_ATTRS_BAR_UNASSIGNED;
	if (flags & IORESOURCE_DISABLED)
		return PTE_ATTRS_BAR_DISABLED;
	/*
	 * A WC, WT or WB mapping lets the CPU read speculatively, which must
	 * never reach device registers.
	 */
	if (!(flags & IORESOURCE_PREFETCH))
		return PTE_ATTRS_BAR_NOT_PREFETCH;
	if (pci_read_config_word(pdev, PCI_COMMAND, &cmd) ||
	    !(cmd & PCI_COMMAND_MEMORY))
		return PTE_ATTRS_BAR_DECODE_OFF;
	return PTE_ATTRS_BAR_OK;
}

/*
 * No driver bound, then the region requested, under the device lock: a
 * driver cannot bind in between (probe runs under it), and one that binds
 * later finds the region taken (pci_request_region() requests the same
 * range of iomem_resource; called directly, it would also log each
 * refusal, which the caller says once, rate-limited).
 */
static int bar_claim(struct pci_dev *pdev, int bar)
{
	int why = PTE_ATTRS_BAR_OK;

	device_lock(&pdev->dev);
	if (pdev->dev.driver)
		why = PTE_ATTRS_BAR_BOUND;
	else if (!request_mem_region(pci_resource_start(pdev, bar),
				     pci_resource_len(pdev, bar), "pte_attrs"))
		why = PTE_ATTRS_BAR_CLAIMED;
	device_unlock(&pdev->dev);
	return why;
}

/*
 * Claims memory BAR @bar of the PCI device called @want ("0000:00:03.0"),
 * or with @want empty of the first display-class device whose BAR
 * qualifies (prefetchable, assigned, decoded, no driver, region free).
 * On success: 0, *@out holds a device reference and the requested region
 * (both given back by pte_attrs_pci_release_bar()), @name/@start/@size
 * say what it is. Otherwise a positive enum pte_attrs_bar_why, nothing
 * held.
 */
int pte_attrs_pci_claim_bar(const char *want, int bar, struct pci_dev **out,
			    char *name, size_t len, u64 *start, u64 *size)
{
	struct pci_dev *pdev = NULL;
	int why;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return PTE_ATTRS_BAR_BAD_INDEX;
	for_each_pci_dev(pdev) {
		if (*want) {
			if (strcmp(pci_name(pdev), want))
				continue;
		} else if ((pdev->class >> 16) != PCI_BASE_CLASS_DISPLAY) {
			continue;
		}
		why = bar_check(pdev, bar);
		if (why == PTE_ATTRS_BAR_OK)
			why = bar_claim(pdev, bar);
		if (why == PTE_ATTRS_BAR_OK) {
			strscpy(name, pci_name(pdev), len);
			*start = pci_resource_start(pdev, bar);
			*size = pci_resource_len(pdev, bar);
			*out = pdev;
			return 0;
		}
		if (*want) {
			pci_dev_put(pdev);
			return why;
		}
	}
	return *want ? PTE_ATTRS_BAR_NO_DEVICE : PTE_ATTRS_BAR_NONE_AUTO;
}

/* Gives back what pte_attrs_pci_claim_bar() took: @start, @size as it said. */
void pte_attrs_pci_release_bar(struct pci_dev *pdev, u64 start, u64 size)
{
	release_mem_region(start, size);
	pci_dev_put(pdev);
}

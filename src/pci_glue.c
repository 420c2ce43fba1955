// SPDX-License-Identifier: GPL-2.0
/*
 * The PCI side of pte_attrs that Rust cannot reach: finding a device bound
 * to the module's PCI driver "pte_attrs" and checking its BAR (pci_*
 * iteration, the device lock and the resource flags are macros and static
 * inlines), the BAR's region, and on 6.12 (no kernel::pci) the driver
 * itself, whose probe and remove call into src/sys/pci.rs.
 */
#include <linux/device.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/string.h>

#include "pci_glue.h"

/* What is wrong with BAR @bar of @pdev as a target, before any claim. */
static int bar_check(struct pci_dev *pdev, int bar)
{
	unsigned long flags = pci_resource_flags(pdev, bar);

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
	return PTE_ATTRS_BAR_OK;
}

/*
 * Whether @pdev is bound to this module's PCI driver (under its device
 * lock). By owner and name: on 7.x the driver is kernel::pci's, whose
 * struct pci_driver this file never sees; the module registers one.
 */
static bool bound_here(struct pci_dev *pdev)
{
	struct device_driver *drv = pdev->dev.driver;

	return drv && drv->owner == THIS_MODULE && !strcmp(drv->name, "pte_attrs");
}

/*
 * @take a use of BAR @bar of @pdev, under the device lock: probe and
 * remove run under it too, so the driver data is the live binding's, and
 * a removal that follows waits for the use (src/sys/pci.rs).
 */
static int bar_take(struct pci_dev *pdev, int bar, pte_attrs_pci_take_t take,
		    void *ctx)
{
	u16 cmd = 0;
	int why;

	device_lock(&pdev->dev);
	if (!bound_here(pdev))
		why = pdev->dev.driver ? PTE_ATTRS_BAR_BOUND : PTE_ATTRS_BAR_NOT_BOUND;
	else if (pci_read_config_word(pdev, PCI_COMMAND, &cmd) ||
		 !(cmd & PCI_COMMAND_MEMORY))
		why = PTE_ATTRS_BAR_DECODE_OFF;
	else
		why = take(dev_get_drvdata(&pdev->dev), bar,
			   pci_resource_start(pdev, bar),
			   pci_resource_len(pdev, bar), ctx);
	device_unlock(&pdev->dev);
	return why;
}

/*
 * What `auto` may pick: a display device other than a 3D controller (a
 * datacenter GPU's BAR can be 64-128 GiB: it must be named).
 */
static bool auto_candidate(struct pci_dev *pdev)
{
	return (pdev->class >> 16) == PCI_BASE_CLASS_DISPLAY &&
	       (pdev->class >> 8) != PCI_CLASS_DISPLAY_3D;
}

/*
 * Takes a use of memory BAR @bar of the PCI device called @want
 * ("0000:00:05.0"), which must be bound to pte_attrs, or with @want empty
 * of the first device bound to pte_attrs that `auto` may pick and whose
 * BAR qualifies (prefetchable, assigned, decoded): @take is called under
 * the device's lock and does it. Returns 0, or a positive enum
 * pte_attrs_bar_why (@take's own, for a named device or the last auto
 * candidate). Nothing is held here afterwards.
 */
int pte_attrs_pci_find_bound(const char *want, int bar,
			     pte_attrs_pci_take_t take, void *ctx)
{
	struct pci_dev *pdev = NULL;
	int why;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return PTE_ATTRS_BAR_BAD_INDEX;
	for_each_pci_dev(pdev) {
		if (*want) {
			if (strcmp(pci_name(pdev), want))
				continue;
		} else if (!auto_candidate(pdev)) {
			continue;
		}
		why = bar_check(pdev, bar);
		if (why == PTE_ATTRS_BAR_OK)
			why = bar_take(pdev, bar, take, ctx);
		if (why == PTE_ATTRS_BAR_OK || *want) {
			pci_dev_put(pdev);
			return why;
		}
	}
	return *want ? PTE_ATTRS_BAR_NO_DEVICE : PTE_ATTRS_BAR_NONE_AUTO;
}

/*
 * The region of a BAR requested as "pte_attrs" (without
 * pci_request_region()'s log line: the caller says a refusal once,
 * rate-limited); false if someone holds part of it.
 */
bool pte_attrs_pci_request_region(u64 start, u64 size)
{
	return request_mem_region(start, size, "pte_attrs");
}

void pte_attrs_pci_release_region(u64 start, u64 size)
{
	release_mem_region(start, size);
}

#ifndef PTE_ATTRS_KERNEL_7
/*
 * 6.12: the driver. Its ID table is empty, so it matches no device by
 * itself (and new_id refuses every ID: none has a driver_data of the
 * table): a device is bound only through driver_override, for which
 * pci_match_device() passes pci_device_id_any.
 */
static const struct pci_device_id pte_attrs_pci_ids[] = {
	{ }
};

static pte_attrs_pci_bind_t pte_attrs_pci_bind;
static pte_attrs_pci_unbind_t pte_attrs_pci_unbind;

static int pte_attrs_pci_probe(struct pci_dev *pdev,
			       const struct pci_device_id *id)
{
	void *data;
	int err;

	err = pci_enable_device_mem(pdev);
	if (err)
		return err;
	data = pte_attrs_pci_bind(pdev, pci_name(pdev));
	if (!data) {
		pci_disable_device(pdev);
		return -ENOMEM;
	}
	pci_set_drvdata(pdev, data);
	return 0;
}

/* Unbind, `remove`, hot unplug, rmmod: every use of the BARs ends first. */
static void pte_attrs_pci_remove(struct pci_dev *pdev)
{
	pte_attrs_pci_unbind(pci_get_drvdata(pdev));
	pci_set_drvdata(pdev, NULL);
	pci_disable_device(pdev);
}

static struct pci_driver pte_attrs_pci_driver = {
	.name = "pte_attrs",
	.id_table = pte_attrs_pci_ids,
	.probe = pte_attrs_pci_probe,
	.remove = pte_attrs_pci_remove,
};

/* Registers the driver; @bind and @unbind are src/sys/pci.rs's. */
int pte_attrs_pci_register(pte_attrs_pci_bind_t bind,
			   pte_attrs_pci_unbind_t unbind)
{
	pte_attrs_pci_bind = bind;
	pte_attrs_pci_unbind = unbind;
	return pci_register_driver(&pte_attrs_pci_driver);
}

/* Unbinds every device (each remove waits for its uses), then returns. */
void pte_attrs_pci_unregister(void)
{
	pci_unregister_driver(&pte_attrs_pci_driver);
}
#endif

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The PCI side of pte_attrs (pci_glue.c), declared again, as extern "C",
 * in src/sys/pci.rs: the BARs of devices bound to the module's PCI driver
 * "pte_attrs", and on 6.12 the driver itself.
 */
#ifndef _PTE_ATTRS_PCI_GLUE_H
#define _PTE_ATTRS_PCI_GLUE_H

#include <linux/types.h>

struct pci_dev;

/* Why a BAR was refused; keep in step with `BarRefusal` in src/sys/pci.rs. */
enum pte_attrs_bar_why {
	PTE_ATTRS_BAR_OK = 0,
	PTE_ATTRS_BAR_BAD_INDEX,	/* no such BAR index */
	PTE_ATTRS_BAR_NO_DEVICE,	/* no PCI device of that name */
	PTE_ATTRS_BAR_NOT_MEM,		/* the BAR is not a memory BAR */
	PTE_ATTRS_BAR_UNASSIGNED,	/* start 0 or IORESOURCE_UNSET */
	PTE_ATTRS_BAR_DISABLED,		/* IORESOURCE_DISABLED */
	PTE_ATTRS_BAR_NOT_PREFETCH,	/* device registers: never mapped */
	PTE_ATTRS_BAR_DECODE_OFF,	/* PCI_COMMAND_MEMORY clear */
	PTE_ATTRS_BAR_BOUND,		/* another driver is bound to it */
	PTE_ATTRS_BAR_CLAIMED,		/* the region is requested already */
	PTE_ATTRS_BAR_NONE_AUTO,	/* auto: no bound device qualifies */
	PTE_ATTRS_BAR_NOT_BOUND,	/* no driver: not bound to pte_attrs */
	PTE_ATTRS_BAR_REMOVING,		/* its removal has begun */
	PTE_ATTRS_BAR_NO_MEMORY,	/* no memory to record the use */
};

/*
 * Called with the device lock of a device bound to pte_attrs held, with
 * its driver data and BAR @bar's range: takes a use of the BAR, or says
 * why not (an enum pte_attrs_bar_why).
 */
typedef int (*pte_attrs_pci_take_t)(void *drvdata, int bar, u64 start,
				    u64 size, void *ctx);

int pte_attrs_pci_find_bound(const char *want, int bar,
			     pte_attrs_pci_take_t take, void *ctx);
bool pte_attrs_pci_request_region(u64 start, u64 size);
void pte_attrs_pci_release_region(u64 start, u64 size);

#ifndef PTE_ATTRS_KERNEL_7
/* 6.12 only: the driver (7.x registers kernel::pci::Driver). */
typedef void *(*pte_attrs_pci_bind_t)(struct pci_dev *pdev, const char *name);
typedef void (*pte_attrs_pci_unbind_t)(void *drvdata);

int pte_attrs_pci_register(pte_attrs_pci_bind_t bind,
			   pte_attrs_pci_unbind_t unbind);
void pte_attrs_pci_unregister(void);
#endif

#endif

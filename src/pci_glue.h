/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The PCI BAR claim of the ioremap scenario (pci_glue.c), declared again,
 * as extern "C", in src/exerciser.rs.
 */
#ifndef _PTE_ATTRS_PCI_GLUE_H
#define _PTE_ATTRS_PCI_GLUE_H

#include <linux/types.h>

struct pci_dev;

/* Why a BAR was refused; keep in step with `BarRefusal` in exerciser.rs. */
enum pte_attrs_bar_why {
	PTE_ATTRS_BAR_OK = 0,
	PTE_ATTRS_BAR_BAD_INDEX,	/* no such BAR index */
	PTE_ATTRS_BAR_NO_DEVICE,	/* no PCI device of that name */
	PTE_ATTRS_BAR_NOT_MEM,		/* the BAR is not a memory BAR */
	PTE_ATTRS_BAR_UNASSIGNED,	/* start 0 or IORESOURCE_UNSET */
	PTE_ATTRS_BAR_DISABLED,		/* IORESOURCE_DISABLED */
	PTE_ATTRS_BAR_NOT_PREFETCH,	/* device registers: never mapped */
	PTE_ATTRS_BAR_DECODE_OFF,	/* PCI_COMMAND_MEMORY clear */
	PTE_ATTRS_BAR_BOUND,		/* a driver is bound to the device */
	PTE_ATTRS_BAR_CLAIMED,		/* the region is requested already */
	PTE_ATTRS_BAR_NONE_AUTO,	/* auto: no display device qualifies */
};

int pte_attrs_pci_claim_bar(const char *want, int bar, struct pci_dev **out,
			    char *name, size_t len, u64 *start, u64 *size);
void pte_attrs_pci_release_bar(struct pci_dev *pdev, u64 start, u64 size);

#endif

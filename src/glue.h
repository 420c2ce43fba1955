/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of glue.c for the Rust side of pte_attrs (declared again, as
 * extern "C", in ffi.rs).
 */
#ifndef _PTE_ATTRS_GLUE_H
#define _PTE_ATTRS_GLUE_H

#include <linux/types.h>

bool pte_attrs_glue_xenpv(void);
int pte_attrs_glue_pat_msr(u64 *val);
bool pte_attrs_glue_pat_enabled(void);

#endif /* _PTE_ATTRS_GLUE_H */

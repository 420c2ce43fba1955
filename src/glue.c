// SPDX-License-Identifier: GPL-2.0
/*
 * What the Rust side of pte_attrs cannot reach: static inlines and macros
 * of the x86 headers, and EXPORT_SYMBOL_GPL for the Rust functions that
 * make up the API of include/pte_attrs.h.
 */
#include <linux/export.h>
#include <asm/cpufeature.h>
#include <asm/memtype.h>
#include <asm/msr.h>
#include <pte_attrs.h>

#include "glue.h"

bool pte_attrs_glue_xenpv(void)
{
	return cpu_feature_enabled(X86_FEATURE_XENPV);
}

int pte_attrs_glue_pat_msr(u64 *val)
{
	return rdmsrl_safe(MSR_IA32_CR_PAT, val);
}

bool pte_attrs_glue_pat_enabled(void)
{
	return pat_enabled();
}

/* Implemented in Rust: src/export.rs. */
EXPORT_SYMBOL_GPL(pte_attrs);
EXPORT_SYMBOL_GPL(pte_attrs_lookup);
EXPORT_SYMBOL_GPL(pte_attrs_cache_mode_name);

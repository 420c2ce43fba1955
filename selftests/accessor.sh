#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The accessor file: the PAT table the module decodes with is the kernel's
# live one (as the kernel logged it at boot), and the read path matches the
# platform (paravirt hook exactly under Xen PV, no hook without
# PARAVIRT_XXL).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 4
pa_load
info=$(cat "$PA_DIR/accessor")
get() { echo "$info" | sed -n "s/^$1=//p"; }

# "x86/PAT: Configuration [0-7]: WB  WC  UC- UC  WB  WP  UC- WT  ", from
# the boot log the guest's init saved before anything could scroll it away
# (a chatty kernel, CPA_DEBUG, fills the ring buffer); the live log when
# there is no saved copy (a run outside the harness).
oracle=/tmp/boot-dmesg
if [ -s "$oracle" ]; then src="$oracle (saved at boot)"; else oracle=; src="dmesg"; fi
logged=$( (if [ -n "$oracle" ]; then cat "$oracle"; else dmesg; fi) |
	sed -n 's/.*x86\/PAT: Configuration \[0-7\]: //p' | head -n 1 | tr -s ' ' | sed 's/ $//')
ours=$(get pat_table)
ktap_print_msg "kernel log ($src): $logged"
ktap_print_msg "module:     $ours"
ktap_check "PAT table equals the kernel's 'x86/PAT: Configuration' line" \
	test -n "$logged" -a "$logged" = "$ours"

if [ "$(get xenpv)" = 1 ]; then want=paravirt; else want=native; fi
ktap_print_msg "xenpv=$(get xenpv) path=$(get path) paravirt_xxl=$(get paravirt_xxl)"
ktap_check "read path is '$want' on this platform" test "$(get path)" = "$want"

# The kernel has the paravirt pte_val hook when it was built with
# PARAVIRT_XXL, whose identity hook _paravirt_ident_64 exists only then
# (arch/x86/kernel/paravirt.c).
if [ -n "$(ksym _paravirt_ident_64)" ]; then xxl=1; else xxl=0; fi
ktap_check "accessor's paravirt_xxl agrees with the kernel ($xxl: _paravirt_ident_64 in kallsyms)" \
	test "$(get paravirt_xxl)" = "$xxl"
if [ "$(get paravirt_xxl)" = 0 ]; then
	ktap_test_skip "the kernel has the paravirt pte_val hook: built without PARAVIRT_XXL, it has none"
else
	ktap_check "the kernel has the paravirt pte_val hook (PARAVIRT_XXL)" \
		test "$(get paravirt_xxl)" = 1
fi

ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The accessor file: the PAT table the module decodes with is the kernel's
# live one (as the kernel logged it at boot), and the read path matches the
# platform (paravirt hook exactly under Xen PV).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 3
pa_load
info=$(cat "$PA_DIR/accessor")
get() { echo "$info" | sed -n "s/^$1=//p"; }

# "x86/PAT: Configuration [0-7]: WB  WC  UC- UC  WB  WP  UC- WT  "
logged=$(dmesg | sed -n 's/.*x86\/PAT: Configuration \[0-7\]: //p' | head -n 1 | tr -s ' ' | sed 's/ $//')
ours=$(get pat_table)
ktap_print_msg "kernel log: $logged"
ktap_print_msg "module:     $ours"
ktap_check "PAT table equals the kernel's 'x86/PAT: Configuration' line" \
	test -n "$logged" -a "$logged" = "$ours"

if [ "$(get xenpv)" = 1 ]; then want=paravirt; else want=native; fi
ktap_print_msg "xenpv=$(get xenpv) path=$(get path)"
ktap_check "read path is '$want' on this platform" test "$(get path)" = "$want"
ktap_check "the kernel has the paravirt pte_val hook (PARAVIRT_XXL)" \
	test "$(get paravirt_xxl)" = 1

ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The bench file runs and returns well-formed lines (no timing is asserted:
# `make bench` is where figures are read, as ratios).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 4
pa_load

ktap_check "bench accessor runs" knob bench accessor
out=$(cat "$PA_DIR/bench")
echo "$out" | sed 's/^/# /'
bad=$(echo "$out" | grep -v '^#' | grep -Ev '^[a-z0-9_]+=[0-9]+(\.[0-9]{3})?( \(range [0-9]+\.\.[0-9]+\))?$')
ktap_check "every line is a comment or key=value" test -z "$bad"
# The indirect-call variant exists only where the hook does
# (PARAVIRT_XXL); elsewhere it is said absent, not timed as a plain mask.
n=0
for k in accessor_rust_over_c_pte_attrs accessor_rust_over_pte_flags \
	accessor_pte_flags_ps accessor_c_pte_attrs_ps accessor_rust_ps; do
	echo "$out" | grep -Eq "^$k=[0-9]" && n=$((n + 1))
done
m=0
for k in accessor_indirect_over_pte_flags accessor_indirect_ps; do
	echo "$out" | grep -Eq "^$k=[0-9]" && m=$((m + 1))
done
if grep -q '^paravirt_xxl=1' "$PA_DIR/accessor"; then
	ktap_check "all seven accessor keys are there (PARAVIRT_XXL)" test "$n$m" = 52
else
	ktap_check "without PARAVIRT_XXL: five keys, no indirect-call figures, said absent" \
		test "$n$m" = 50 -a -n "$(echo "$out" | grep '^# accessor_indirect: absent')"
fi
ktap_check "an unknown benchmark is refused" refused "Invalid argument" bench nonsense
ktap_finished

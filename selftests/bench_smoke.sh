#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The bench file runs and returns well-formed lines (no timing is asserted:
# `make bench` is where figures are read, as ratios).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 8
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
	accessor_pte_flags_ps accessor_c_pte_attrs_ps accessor_rust_ps \
	accessor_c_pte_attrs_twin_ps accessor_c_twin_over_c_pte_attrs; do
	echo "$out" | grep -Eq "^$k=[0-9]" && n=$((n + 1))
done
m=0
for k in accessor_indirect_over_pte_flags accessor_indirect_ps; do
	echo "$out" | grep -Eq "^$k=[0-9]" && m=$((m + 1))
done
if grep -q '^paravirt_xxl=1' "$PA_DIR/accessor"; then
	ktap_check "all nine accessor keys are there (PARAVIRT_XXL)" test "$n$m" = 72
else
	ktap_check "without PARAVIRT_XXL: seven keys, no indirect-call figures, said absent" \
		test "$n$m" = 70 -a -n "$(echo "$out" | grep '^# accessor_indirect: absent')"
fi
# The Rust call site as the loader patched it (the accessor file shows the
# first bytes of a function that is one paravirt pte_val read): natively
# `mov %rdi,%rax` (48 89 f8) where `call *pv_ops...(%rip)` (ff 15) was,
# under Xen PV a direct call (e8); never the indirect call.
site=$(sed -n 's/^pv_site=//p' "$PA_DIR/accessor" | sed 's/../& /g')
ktap_print_msg "pv_site: ${site:-none}"
# The module checks the call's target itself: pv_site_calls_hook=1 when
# the site is a direct call to what pv_ops.mmu.pte_val points to.
calls=$(sed -n 's/^pv_site_calls_hook=//p' "$PA_DIR/accessor")
ktap_print_msg "pv_site_calls_hook: ${calls:-none}"
site_patched() {
	case " $site" in *" ff 15 "*) return 1 ;; esac
	if grep -q '^xenpv=1' "$PA_DIR/accessor"; then
		[ "$calls" = 1 ]
	else
		[ "$calls" = 0 ] && case " $site" in *" 48 89 f8 "*) true ;; *) false ;; esac
	fi
}
if grep -q '^paravirt_xxl=1' "$PA_DIR/accessor"; then
	ktap_check "the Rust pv_ops call site is patched (mov natively, direct call under Xen)" site_patched
else
	ktap_check "without PARAVIRT_XXL there is no call site to patch" test -z "$site"
fi
# The check after a CPA call, first and repeated: it fails (EIO) if a
# check disagrees with the mode just set, so a write that succeeds also
# says every check agreed.
ktap_check "bench verify runs (every check agreed)" knob bench verify
out=$(cat "$PA_DIR/bench")
echo "$out" | sed 's/^/# /'
n=0
for k in verify_first_over_cpa verify_again_over_cpa verify_first_over_again; do
	echo "$out" | grep -Eq "^$k=[0-9]+\.[0-9]{3}$" && n=$((n + 1))
done
for k in verify_cpa_ns verify_first_ns verify_again_ns; do
	echo "$out" | grep -Eq "^$k=[1-9][0-9]* \(range [0-9]+\.\.[0-9]+\)$" && n=$((n + 1))
done
ktap_check "bench verify: three ratios and three nonzero times" test "$n" = 6
# Its block is split first (PageSet::split_large), so that the check
# reads 1024 4K entries, not two 2M ones.
ktap_check "bench verify: its pages are mapped by 4K entries" \
	grep -q "^# verify: .*(first page mapped by a 4K entry, last by a 4K)" "$PA_DIR/bench"
ktap_check "an unknown benchmark is refused" refused "Invalid argument" bench nonsense
ktap_finished

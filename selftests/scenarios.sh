#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# One test per exerciser scenario: it runs, makes transitions, checks every
# page it touched through the accessor, and none fails verification.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 13
pa_load
ex_defaults
knob evict 1

# scenario_ok NAME: the run finished with transitions, checked pages, and
# no error or verification failure.
scenario_ok() {
	bad=
	[ "$(pa_get state)" = done ] || bad="$bad state=$(pa_get state)"
	nonzero ops || bad="$bad ops=$(pa_get ops)"
	nonzero verified_pages || bad="$bad verified_pages=$(pa_get verified_pages)"
	[ "$(pa_get errors)" = 0 ] || bad="$bad errors=$(pa_get errors)"
	[ "$(pa_get verify_failures)" = 0 ] || bad="$bad verify_failures=$(pa_get verify_failures)"
	if [ -z "$bad" ]; then
		ktap_print_msg "$1: ops=$(pa_get ops) verified_pages=$(pa_get verified_pages)"
		ktap_test_pass "$1"
	else
		ktap_print_msg "$1:$bad"
		echo "$PA_REPORT" | sed 's/^/# /'
		ktap_test_fail "$1"
	fi
}

ex_run set_pages pages=4 iterations=16
scenario_ok set_pages

dmesg_mark pages_array
ex_run pages_array pages=32 iterations=8
scenario_ok pages_array
# A refused request is counted in .ops, an accepted one in .errors. The
# kernel logs every refusal (reserve_ram_pages_type), so the run asks once
# (issue 10, item 8), not once per iteration and thread.
refusals=$(dmesg_since pages_array | grep -c 'reserve_ram_pages_type')
ktap_print_msg "second WC refused $(pa_get array.wc_again.ops) times, accepted $(pa_get array.wc_again.errors)" \
	"($(pa_get array.wc.ops) first WC requests); kernel log: $refusals refusal lines"
if pat_on; then
	ktap_check "pages_array: the second WC request on WC pages was refused" \
		test "$(pa_get array.wc_again.ops)" -ge 1 -a "$(pa_get array.wc_again.errors)" = 0
else
	# No memtype is reserved for RAM without PAT: nothing to refuse.
	ktap_check "pages_array: no second WC request without PAT (nopat)" \
		test "$(pa_get array.wc_again.ops)" = 0 -a "$(pa_get array.wc_again.errors)" = 0
fi
ktap_check "pages_array: 8 iterations make at most one refusal line in the kernel log" \
	test "$refusals" -le 1
# cpa_flush() flushes page by page up to tlb_single_page_flush_ceiling (33
# by default) and everything above it: the 32-page run above and 33 are
# flushed page by page, 34 all at once (one array call per iteration).
for np in 33 34; do
	ex_run pages_array pages=$np iterations=4
	scenario_ok "pages_array at $np pages (either side of the TLB flush ceiling)"
done

ex_run set_memory pages=16 iterations=8
scenario_ok set_memory
# The direct map's leaves before and after the run (issue 12): a CPA run
# splits large pages and 6.12 never joins them, so 4K never shrinks.
dmap4k() { sed -n "s/^direct_map\.$1=4K=\([0-9]*\) .*/\1/p" "$PA_DIR/results"; }
ktap_print_msg "$(grep '^direct_map\.' "$PA_DIR/results" | tr '\n' ' ')"
ktap_check "results has the direct map's 4K/2M/1G counts before and after the run, 4K not fewer after" \
	test -n "$(dmap4k before)" -a -n "$(dmap4k after)" -a "$(dmap4k after)" -ge "$(dmap4k before)"
# The run's split and collapse events (vm event counters; collapses=none
# before 6.15, which never collapses).
ktap_check "results has the run's direct-map splits and collapses" \
	sh -c "grep -Eq '^direct_map\.splits=2M=[0-9]+ 1G=[0-9]+\$' '$PA_DIR/results' &&
		grep -Eq '^direct_map\.collapses=(none|2M=[0-9]+ 1G=[0-9]+)\$' '$PA_DIR/results'"

ex_run ioremap iterations=2
scenario_ok ioremap
ktap_print_msg "BAR $(pa_get ioremap.device) at $(pa_get ioremap.start)+$(pa_get ioremap.size):" \
	"ioremap_uc over a live WC mapping: $(pa_get ioremap.conflict_uc_over_wc)"
# A range has one memtype at a time: memtype_reserve() hands a conflicting
# request the live type, and __ioremap_caller() takes it when
# is_new_memtype_allowed() says so (a UC request may become WC).
# Without PAT there is no memtype to conflict with: the UC request gets UC.
if pat_on; then
	ktap_check "ioremap: UC over a live WC mapping gets the live type, WC" \
		test "$(pa_get ioremap.conflict_uc_over_wc)" = WC
else
	ktap_check "ioremap: UC over a live WC mapping without PAT gets UC (nopat)" \
		test "$(pa_get ioremap.conflict_uc_over_wc)" = UC
fi

ex_run gem_evict pages=64 max_order=4 iterations=16 threads=4
scenario_ok gem_evict
knob evict 1

ex_run wc_wb_free pages=64 iterations=8
scenario_ok wc_wb_free

ex_defaults
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every scenario with failslab and fail_page_alloc aimed at the task that
# drives the run (make-it-fail, task-filter): allocations in the module and
# in CPA (large-page splits) fail at random. Every failure must become a
# clean error in the results: the run ends, no page is left non-WB or
# leaked, the log is clean (the host scans it). Needs a kernel with
# CONFIG_FAULT_INJECTION_DEBUG_FS (FLAVOR=debug).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

FS=/sys/kernel/debug/failslab
FP=/sys/kernel/debug/fail_page_alloc
ktap_print_header
if [ ! -d "$FS" ] || [ ! -d "$FP" ]; then
	ktap_skip_all "no failslab/fail_page_alloc in debugfs (FLAVOR=debug has them)"
	exit "$KSFT_SKIP"
fi
SCENARIOS="set_pages pages_array set_memory ioremap gem_evict wc_wb_free"
ktap_set_plan 9
pa_load
ex_defaults
knob evict 1
TIMES=100000
for d in $FS $FP; do
	echo 20 >$d/probability
	echo 1 >$d/interval
	echo $TIMES >$d/times
	echo 0 >$d/verbose
	echo Y >$d/task-filter
	echo 0 >$d/space
done
echo N >$FP/ignore-gfp-wait
echo N >$FS/ignore-gfp-wait
echo 0 >$FP/min-order

dmesg_mark faults
errors=0
refused=0
for s in $SCENARIOS; do
	knob reset 1
	knob scenario $s
	knob pages 16
	knob iterations 8
	# Only the run is aimed at: the file is opened first, then this
	# subshell asks for failures and writes `sync`, so the run happens in
	# it. A write refused for lack of memory is a clean failure too.
	if (exec 5>"$PA_DIR/run" && echo 1 >/proc/self/make-it-fail && echo sync >&5) 2>/tmp/fault.err; then
		how=ran
	else
		how="refused: $(cat /tmp/fault.err)"
		refused=$((refused + 1))
	fi
	PA_REPORT=$(cat "$PA_DIR/results")
	e=$(pa_get errors)
	errors=$((errors + ${e:-0}))
	ktap_print_msg "$s: $how; state=$(pa_get state) scenario=$(pa_get scenario) ops=$(pa_get ops)" \
		"errors=$e verify_failures=$(pa_get verify_failures)"
	case "$how:$(pa_get state):$(pa_get scenario)" in
	ran:done:$s) clean=$([ "$(pa_get verify_failures)" = 0 ] && echo yes) ;;
	refused*:idle:*) clean=yes ;;
	*) clean= ;;
	esac
	ktap_check "$s under injected allocation failures ends cleanly" test "$clean" = yes
	knob evict 1
done
slab=$((TIMES - $(cat $FS/times)))
page=$((TIMES - $(cat $FP/times)))
echo 0 >$FS/probability
echo 0 >$FP/probability
ktap_print_msg "injected: $slab slab and $page page allocation failures;" \
	"$errors errors in the results, $refused runs refused"
ktap_check "faults were injected into the runs" test $((slab + page)) -gt 0
ktap_check "they surfaced as errors (in the results or as refused runs)" test $((errors + refused)) -gt 0
ktap_check "nothing was leaked as non-WB" sh -c "! dmesg | sed -n '/pte_attrs-selftest-mark faults\$/,\$p' | grep -q 'pte_attrs: leaking'"
ex_defaults
ktap_finished

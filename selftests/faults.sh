#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every scenario with failslab and fail_page_alloc aimed at the task that
# drives the run (make-it-fail, task-filter): allocations in the module and
# in CPA (large-page splits) fail at random. Every failure must become a
# clean error in the results: the run ends, no page is left non-WB or
# leaked, the log is clean (the host scans it). Needs a kernel with
# CONFIG_FAULT_INJECTION_DEBUG_FS (FLAVOR=debug).
#
# A failure of the `run` write itself (the run refused before it starts)
# proves little, and neither does a run that failed before its first
# transition: the test goes on, in rounds of all scenarios (at most
# PTE_ATTRS_FAULT_ROUNDS, default 10), until at least one run failed after
# it had changed pages: the `sync` write returned success, `results` counts
# the failure in `errors` and transitions in `ops` (ops > 0). (A failure
# that lands while pages are WC or UC- is made on purpose by restore.sh,
# with the inject_fail knob: allocations, which are what fails here, come
# before or between a run's transitions.) After each run only the GEM pool's live blocks may
# be non-WB in the direct map, and nothing once the pool is evicted.
# PTE_ATTRS_FAULT_PROBABILITY (default 20, in percent) sets how often an
# allocation fails (100: every run is refused at once, and the test must
# say that no run failed partway); PTE_ATTRS_FAULT_MIN_ROUNDS (default 1)
# makes it go on for that many rounds at least.
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
ROUNDS=${PTE_ATTRS_FAULT_ROUNDS:-10}
MIN_ROUNDS=${PTE_ATTRS_FAULT_MIN_ROUNDS:-1}
PROBABILITY=${PTE_ATTRS_FAULT_PROBABILITY:-20}
ktap_set_plan 11
pa_load
ex_defaults
knob evict 1
TIMES=100000
for d in $FS $FP; do
	echo "$PROBABILITY" >$d/probability
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
midrun=0
midrun_what=
unclean=
dmap_bad=
round=0
while [ $round -lt "$ROUNDS" ]; do
	round=$((round + 1))
	for s in $SCENARIOS; do
		knob reset 1
		knob scenario $s
		knob pages 16
		knob iterations 8
		# Only the run is aimed at: the file is opened first, then this
		# subshell asks for failures and writes `sync`, so the run happens
		# in it. A write refused for lack of memory is a clean failure too.
		if (exec 5>"$PA_DIR/run" && echo 1 >/proc/self/make-it-fail && echo sync >&5) 2>/tmp/fault.err; then
			how=ran
		else
			how="refused: $(cat /tmp/fault.err)"
			refused=$((refused + 1))
		fi
		PA_REPORT=$(cat "$PA_DIR/results")
		e=$(pa_get errors)
		errors=$((errors + ${e:-0}))
		ktap_print_msg "round $round, $s: $how; state=$(pa_get state) scenario=$(pa_get scenario) ops=$(pa_get ops)" \
			"errors=$e verify_failures=$(pa_get verify_failures)"
		case "$how:$(pa_get state):$(pa_get scenario)" in
		ran:done:$s)
			clean=$([ "$(pa_get verify_failures)" = 0 ] && echo yes)
			# The write returned, the run failed after it had
			# changed pages: counted.
			if [ "${e:-0}" -gt 0 ] && [ "$(pa_get ops)" -gt 0 ]; then
				midrun=$((midrun + 1))
				midrun_what="$midrun_what $s"
			fi
			;;
		refused*:idle:*) clean=yes ;;
		*) clean= ;;
		esac
		[ "$clean" = yes ] || unclean="$unclean $s(round $round)"
		# The direct map: the pool's blocks at most (the pool was evicted
		# after the scenario before, so this also checks that eviction).
		# One read a run: in the debug flavor a read takes about 11 s.
		pool=$(pa_get pool_pages)
		extra=$(dmap_extra)
		[ "$extra" -le "${pool:-0}" ] || dmap_bad="$dmap_bad $s(round $round):$extra>${pool:-0}"
		knob evict 1
	done
	[ $midrun -gt 0 ] && [ $round -ge "$MIN_ROUNDS" ] && break
done
extra=$(dmap_extra)
[ "$extra" = 0 ] || dmap_bad="$dmap_bad evicted-at-the-end:$extra"
slab=$((TIMES - $(cat $FS/times)))
page=$((TIMES - $(cat $FP/times)))
echo 0 >$FS/probability
echo 0 >$FP/probability
ktap_print_msg "$round rounds; injected: $slab slab and $page page allocation failures;" \
	"$errors errors in the results, $refused runs refused, $midrun runs failed after changing pages:$midrun_what"
[ -n "$unclean" ] && ktap_print_msg "did not end cleanly:$unclean"
for s in $SCENARIOS; do
	ktap_check "$s under injected allocation failures ends cleanly" \
		sh -c "! echo '$unclean' | grep -q ' $s('"
done
ktap_check "faults were injected into the runs" test $((slab + page)) -gt 0
ktap_check "they surfaced as errors (in the results or as refused runs)" test $((errors + refused)) -gt 0
ktap_check "a run failed after it had changed pages (the sync write returned, errors>0 and ops>0 in results)" \
	test $midrun -gt 0
leaks=$(dmesg_since faults | grep -c 'pte_attrs: leaking')
ktap_check "nothing was leaked as non-WB ($leaks leak reports in the log)" test "$leaks" = 0
[ -n "$dmap_bad" ] && ktap_print_msg "direct map beyond the baseline:$dmap_bad"
ktap_check "after every run only the pool's blocks are non-WB in the direct map, none after evict" \
	test -z "$dmap_bad"
ex_defaults
ktap_finished

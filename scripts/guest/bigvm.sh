#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make bigvm` inside the VM (VM_MEM=8G by default): every scenario at the
# largest `pages` the module's memory pre-check admits, with 16 threads and
# with 1. The largest size is found by the pre-check itself: `run` is
# written with pages = 2^20, 2^19, ... until the write is not refused
# with ENOMEM; that run is the one measured. Each must end done, with no
# error and no verification failure, leave nothing non-WB in the direct
# map once the pool is evicted, and leave the kernel log clean (no
# warning, lockup, stall or hung task). One "harness: ok|not ok" line per
# check (counted by the host), one "bigvm:" line per run.
#
# PTE_ATTRS_BIGVM_ITERATIONS (default 2), PTE_ATTRS_BIGVM_SCENARIOS
# (default all six) and PTE_ATTRS_BIGVM_THREADS (default "16 1") come
# from the kernel command line.
D=/sys/kernel/debug/pte_attrs
# shellcheck disable=SC1091
. /kselftest/pte_attrs/pte_attrs_lib.sh

ITER=${PTE_ATTRS_BIGVM_ITERATIONS:-2}
SCENARIOS=${PTE_ATTRS_BIGVM_SCENARIOS:-set_pages pages_array set_memory ioremap gem_evict wc_wb_free}
SCENARIOS=$(echo "$SCENARIOS" | tr ',' ' ')
THREADS=${PTE_ATTRS_BIGVM_THREADS:-16 1}
THREADS=$(echo "$THREADS" | tr ',' ' ')
# Kernel reports that fail a run (the host scans the whole console too).
BAD='WARNING:|BUG:|Oops|Call Trace|soft lockup|hard LOCKUP|detected stall|blocked for more than|KASAN|UBSAN|leaking'
rc=0

check() {
	desc=$1
	shift
	if "$@"; then
		echo "harness: ok bigvm: $desc"
	else
		echo "harness: not ok bigvm: $desc"
		rc=1
	fi
}

echo "# bigvm: $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPUs," \
	"MemTotal $(sed -n 's/^MemTotal: *//p' /proc/meminfo), MemAvailable $(sed -n 's/^MemAvailable: *//p' /proc/meminfo)"
echo "# bigvm: scenarios: $SCENARIOS; threads: $THREADS; iterations=$ITER verify=1"
total_start=$(date +%s)
for s in $SCENARIOS; do
	for t in $THREADS; do
		what="$s threads=$t"
		knob stop 1
		knob hold 0
		ex_defaults
		knob evict 1
		knob reset 1
		knob scenario "$s"
		knob threads "$t"
		knob iterations "$ITER"
		knob verify 1
		knob max_order 10
		pages=1048576
		started=
		dmesg_mark "bigvm-$s-$t"
		while [ "$pages" -ge 1 ]; do
			knob pages "$pages"
			start=$(date +%s)
			if err=$( (echo 1 >"$D/run") 2>&1); then
				started=1
				break
			fi
			case $err in
			*memory*) pages=$((pages / 2)) ;;
			*)
				echo "# bigvm: $what: run refused: $err"
				break
				;;
			esac
		done
		if [ -z "$started" ]; then
			check "$what: the pre-check admits a run" false
			continue
		fi
		ex_wait 5400
		end=$(date +%s)
		PA_REPORT=$(cat "$D/results")
		wall=$((end - start))
		echo "bigvm: scenario=$s threads=$t pages=$pages iterations=$ITER wall_s=$wall" \
			"elapsed_ns=$(pa_get elapsed_ns) ops=$(pa_get ops) verified_pages=$(pa_get verified_pages)" \
			"state=$(pa_get state) errors=$(pa_get errors) verify_failures=$(pa_get verify_failures)" \
			"pool_pages=$(pa_get pool_pages)"
		check "$what pages=$pages: done, no error, no verification failure" \
			test "$(pa_get state)/$(pa_get errors)/$(pa_get verify_failures)" = done/0/0
		knob evict 1
		extra=$(dmap_extra)
		[ "$extra" = 0 ] || head -n 5 /tmp/dmap-extra | sed 's/^/# bigvm: non-WB: /'
		check "$what: nothing non-WB in the direct map after evict ($extra pages)" test "$extra" = 0
		bad=$(dmesg_since "bigvm-$s-$t" | grep -E "$BAD" | head -n 10)
		[ -z "$bad" ] || echo "$bad" | sed 's/^/# bigvm: log: /'
		check "$what: the kernel log is clean" test -z "$bad"
	done
done
echo "# bigvm: all runs took $(($(date +%s) - total_start)) s"
ex_defaults
exit $rc

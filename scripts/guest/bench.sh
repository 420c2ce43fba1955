#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make bench` inside the VM: the in-kernel benchmarks (bench file), then
# the exerciser's verification overhead (the same run with verify 0 and 1,
# interleaved); a table, then key=value lines.
D=/sys/kernel/debug/pte_attrs
kv=/tmp/bench.kv

echo "# bench: $(uname -r), $(sed -n 's/^path=/accessor path /p' $D/accessor)," \
	"$(grep -c ^processor /proc/cpuinfo) CPUs, $(sed -n 's/^model name\t: //p' /proc/cpuinfo | head -n 1)"
echo all >$D/bench || { echo "bench: the in-kernel benchmarks failed" >&2; exit 1; }
grep -v '^#' $D/bench >$kv
grep '^#' $D/bench

# Verification overhead: set_memory, 4 transitions a round, every page
# checked through the accessor after each. Measured two ways in one go:
# the time the checks took against the time of the CPA calls they follow
# (both timed in the kernel, in the same runs), and whole runs with
# verify 0 and 1 interleaved (noisier under TCG).
echo set_memory >$D/scenario
echo 1024 >$D/pages
echo 8 >$D/iterations
echo 1 >$D/threads
: >/tmp/v0
: >/tmp/v1
: >/tmp/vr
for round in 1 2 3 4 5 6 7 8 9; do
	for v in $((round % 2)) $(((round + 1) % 2)); do
		echo $v >$D/verify
		echo 1 >$D/run
		while grep -q '^state=running' $D/results; do sleep 0.05; done
		sed -n 's/^elapsed_ns=//p' $D/results >>/tmp/v$v
		[ $v = 1 ] && awk -F= '$1 == "cpa_ns" { c = $2 } $1 == "verify_ns" { v = $2 }
			END { printf "%.6f\n", v / c }' $D/results >>/tmp/vr
	done
done
echo 1 >$D/verify
med() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
off=$(med /tmp/v0)
on=$(med /tmp/v1)
{
	awk '{ printf "verify_overhead=%.3f\n", $1 }' <<EOF_R
$(med /tmp/vr)
EOF_R
	echo "verify_runs_off_ns=$off"
	echo "verify_runs_on_ns=$on"
	awk -v on="$on" -v off="$off" 'BEGIN { printf "verify_runs_on_over_off=%.3f\n", on / off }'
} >>$kv

# The audit (issue 12) against ptdump's walk of the same tables: a full
# `echo 1 > audit` (the whole kernel half, findings included) against
# `cat page_tables/kernel > /dev/null` as the user sees them, interleaved,
# AR of each per measurement, median of 7. Both sides are timed in
# nanoseconds on the kernel's monotonic clock: ktime_get(), the "now at"
# line of /proc/timer_list, read by the shell itself (busybox's date has
# no %N, /proc/uptime counts in 10 ms, and a fork would cost more than
# what it times), less what the two reads add to an interval. The audit
# also times itself in the kernel (elapsed_ns of its report, the walk
# alone) and says its memory (memory_bytes).
PT=/sys/kernel/debug/page_tables/kernel
if [ -e $D/audit ] && [ -r $PT ]; then
	# now_ns: sets T to the clock, in ns.
	if grep -q '^now at [0-9]* nsecs$' /proc/timer_list 2>/dev/null; then
		now_ns() {
			while read -r w1 w2 w3 _; do
				[ "$w1 $w2" = "now at" ] && T=$w3 && return
			done </proc/timer_list
		}
		clock="ktime_get (/proc/timer_list)"
	else
		now_ns() {
			read -r up _ </proc/uptime
			T=$((${up%.*} * 1000000000 + (1${up#*.} - 100) * 10000000))
		}
		clock="/proc/uptime (10 ms)"
	fi
	# What the end of one read and the start of the next add to an
	# interval: median of 7 back to back.
	: >/tmp/tc
	for round in 1 2 3 4 5 6 7; do
		now_ns
		s=$T
		now_ns
		echo $((T - s)) >>/tmp/tc
	done
	clock_ns=$(med /tmp/tc)
	AR=10
	: >/tmp/ta
	: >/tmp/tp
	: >/tmp/tk
	for round in 1 2 3 4 5 6 7; do
		if [ $((round % 2)) = 1 ]; then order="a p"; else order="p a"; fi
		for w in $order; do
			now_ns
			s=$T
			i=0
			while [ $i -lt $AR ]; do
				if [ $w = a ]; then
					echo 1 >$D/audit
				else
					cat $PT >/dev/null
				fi
				i=$((i + 1))
			done
			now_ns
			echo $(((T - s - clock_ns) / AR)) >>/tmp/t$w
		done
		sed -n 's/^elapsed_ns=//p' $D/audit >>/tmp/tk
	done
	a=$(med /tmp/ta)
	p=$(med /tmp/tp)
	{
		awk -v a="$a" -v p="$p" 'BEGIN { printf "audit_over_ptdump=%.3f\n", (p > 0 ? a / p : 0) }'
		echo "audit_ns=$a"
		echo "ptdump_ns=$p"
		echo "audit_clock_ns=$clock_ns"
		echo "ptdump_bytes=$(cat $PT | wc -c)"
		echo "audit_kernel_ns=$(med /tmp/tk)"
		echo "audit_entries=$(sed -n 's/^entries=//p' $D/audit)"
		echo "audit_steps=$(sed -n 's/^steps=//p' $D/audit)"
		echo "audit_max_step_ns=$(sed -n 's/^max_step_ns=//p' $D/audit)"
		echo "audit_memory_bytes=$(sed -n 's/^memory_bytes=//p' $D/audit)"
	} >>$kv
fi

# The table.
get() { sed -n "s/^$1=\([^ ]*\).*/\1/p" $kv; }
echo
echo "accessor, ps per entry (median of 15 rounds)"
printf '  %-34s %10s\n' "C pte_flags() (raw, baseline)" "$(get accessor_pte_flags_ps)" \
	"C pte_val() & mask (pte_attrs)" "$(get accessor_c_pte_attrs_ps)" \
	"the same C loop, a second copy" "$(get accessor_c_pte_attrs_twin_ps)" \
	"indirect call via pv_ops" "$(get accessor_indirect_ps)" \
	"Rust accessor" "$(get accessor_rust_ps)"
echo
echo "CPA round trips WB->WC->WB, pages/s (median of 5)"
printf '  %-8s %12s %12s %12s\n' batch set_pages array set_memory
for b in 1 16 256 4096; do
	printf '  %-8s %12s %12s %12s\n' "$b" "$(get cpa_pages_batch${b}_pages_per_s)" \
		"$(get cpa_array_batch${b}_pages_per_s)" "$(get cpa_memory_batch${b}_pages_per_s)"
done
echo
echo "cpa_lock: set_pages_array with 1/2/4 threads, aggregate pages/s"
printf '  %12s %12s %12s\n' "$(get cpa_threads1_pages_per_s)" "$(get cpa_threads2_pages_per_s)" \
	"$(get cpa_threads4_pages_per_s)"
echo
echo "verification of set_memory, 1024 pages x 8 x 4 transitions (median of 9 runs):"
echo "  check time / CPA time in the same run:  $(get verify_overhead)"
echo "  whole runs, verify on / off:            $(get verify_runs_on_over_off) ($on / $off ns)"
echo "the same calls timed by the bench file, each call's pages checked twice (median of 9 rounds):"
echo "  first check after the call / CPA time:  $(get verify_first_over_cpa)"
echo "  the same check repeated / CPA time:     $(get verify_again_over_cpa)"
echo "  first check / repeated check:           $(get verify_first_over_again)" \
	"($(get verify_first_ns) / $(get verify_again_ns) ns a round; CPA $(get verify_cpa_ns) ns)"
if [ -n "$(get audit_over_ptdump)" ]; then
	echo
	echo "audit of the kernel half against ptdump's page_tables/kernel (median of 7, x$AR each):"
	echo "  audit / ptdump:  $(get audit_over_ptdump) ($(get audit_ns) / $(get ptdump_ns) ns;" \
		"$(get ptdump_bytes) bytes of ptdump text; clock: $clock, $(get audit_clock_ns) ns a read)"
	echo "  audit in the kernel: $(get audit_kernel_ns) ns over $(get audit_entries) entries" \
		"in $(get audit_steps) steps, the longest $(get audit_max_step_ns) ns;" \
		"memory $(get audit_memory_bytes) bytes"
fi
echo
cat $kv

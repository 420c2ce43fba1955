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

# The table.
get() { sed -n "s/^$1=\([^ ]*\).*/\1/p" $kv; }
echo
echo "accessor, ps per entry (median of 15 rounds)"
printf '  %-34s %10s\n' "C pte_flags() (raw, baseline)" "$(get accessor_pte_flags_ps)" \
	"C pte_val() & mask (pte_attrs)" "$(get accessor_c_pte_attrs_ps)" \
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
echo
cat $kv

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# What `make run` shows: the module at work inside the VM.
D=/sys/kernel/debug/pte_attrs
show() { printf '\n$ %s\n' "$*"; sh -c "$*"; }
cpa() { sed -n 's/^\(.*\): *\([0-9]*\)$/\1=\2/p' /sys/kernel/debug/x86/cpa_stats | tr ' ' '_'; }

echo
echo "=== pte_attrs demo ==="
show "dmesg | grep -E 'pte_attrs|x86/PAT'"
show "ls -l $D"
show "cat $D/accessor"
text=$(awk '$3 == "_stext" { print $1; exit }' /proc/kallsyms)
show "echo $text > $D/lookup; head -n 1 $D/lookup"
rodata=$(awk '$3 == "__start_rodata" { print $1; exit }' /proc/kallsyms)
show "echo $rodata > $D/lookup; cat $D/lookup"
show "echo nonsense > $D/lookup"
show "modprobe pte_attrs_sample && dmesg | grep pte_attrs_sample: ; rmmod pte_attrs_sample"

echo
echo "=== the CPA exerciser: gem_evict, 4 threads contending on cpa_lock ==="
cpa >/tmp/cpa.before
show "cat $D/scenario"
show "echo gem_evict > $D/scenario; echo 64 > $D/pages; echo 4 > $D/threads; echo 16 > $D/iterations"
show "echo 1 > $D/run; while grep -q state=running $D/results; do sleep 0.2; done"
show "cat $D/results"
cpa >/tmp/cpa.after
echo
echo "# x86/cpa_stats over the run (the kernel's own counters):"
awk -F= 'NR == FNR { b[$1] = $2; next } { printf "#   %s +%d\n", $1, $2 - b[$1] }' /tmp/cpa.before /tmp/cpa.after
show "echo 3 > /proc/sys/vm/drop_caches; grep -E '^pool' $D/results"
echo

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# What `make run` shows: the module at work inside the VM.
D=/sys/kernel/debug/pte_attrs
show() { printf '\n$ %s\n' "$*"; sh -c "$*"; }

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
show "dmesg | tail -n 1"
show "modprobe pte_attrs_sample && dmesg | grep pte_attrs_sample: ; rmmod pte_attrs_sample"
echo

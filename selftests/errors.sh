#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The exerciser's refusals: -EINVAL for every value out of range (with a
# pr_err naming the knob), -EBUSY for a second run, -ENOMEM before
# anything changes; stop ends a run cleanly; verify=0 really skips checks.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 9
pa_load
ex_defaults
knob reset 1

dmesg_mark einval
bad=
for kv in pages=0 pages=1048577 threads=0 threads=17 max_order=11 iterations=0 \
	iterations=1000001 scenario=bogus verify=2 run=2 stop=0 hold=maybe bar=x/9 \
	pages=-1 pages=18446744073709551616; do
	refused "Invalid argument" "${kv%%=*}" "${kv#*=}" || bad="$bad $kv"
done
[ -n "$bad" ] && ktap_print_msg "accepted:$bad"
ktap_check "out-of-range and malformed values get EINVAL" test -z "$bad"
ktap_check "each refusal is logged with the knob's name" log_since einval "pte_attrs: threads: must be between 1 and 16"
ktap_check "knobs kept their values" test "$(cat "$PA_DIR/pages")$(cat "$PA_DIR/threads")" = 161

# A long run, refused a second start and a reset, then stopped.
knob scenario gem_evict
knob pages 16
knob threads 2
knob iterations 1000000
knob run 1
ok=1
refused "busy" run 1 || ok=0
refused "busy" reset 1 || ok=0
ktap_check "a run while one is in progress gets EBUSY (and so does reset)" test "$ok" = 1
knob stop 1
PA_REPORT=$(cat "$PA_DIR/results")
expect "stop ends the run cleanly" state=stopped errors=0 verify_failures=0
knob evict 1

# More than memory allows: refused before anything changes.
knob reset 1
knob scenario set_pages
knob pages 1048576
knob threads 16
dmesg_mark enomem
refused "memory" run 1
ktap_check "a run larger than memory gets ENOMEM" test $? = 0
ktap_check "... and changed nothing" test "$(ex_state)" = idle

# A memory BAR that is not prefetchable (device registers) is never mapped.
# /sys/bus/pci/devices/*/resource: "start end flags" per BAR;
# IORESOURCE_MEM 0x200, IORESOURCE_PREFETCH 0x2000.
regs=
for d in /sys/bus/pci/devices/*; do
	i=0
	while read -r start end flags; do
		if [ $((flags & 0x200)) != 0 ] && [ $((flags & 0x2000)) = 0 ] && [ $((end)) -gt $((start)) ]; then
			regs="${d##*/}/$i"
			break 2
		fi
		i=$((i + 1))
		[ $i -gt 5 ] && break
	done <"$d/resource"
done
if [ -n "$regs" ]; then
	ex_defaults
	dmesg_mark regs
	ex_run ioremap bar="$regs" iterations=1
	ktap_print_msg "BAR $regs: ops=$(pa_get ops) errors=$(pa_get errors)"
	ktap_check "a non-prefetchable BAR ($regs) is refused, never mapped" \
		sh -c "[ '$(pa_get ops)' = 0 ] && [ '$(pa_get errors)' = 1 ] && dmesg | sed -n '/pte_attrs-selftest-mark regs\$/,\$p' | grep -q 'is not prefetchable'"
else
	ktap_test_skip "no non-prefetchable memory BAR in this machine"
fi

ex_defaults
ex_run set_pages verify=0
ktap_check "verify=0 makes transitions without checking pages" \
	test "$(pa_get verified_pages)" = 0 -a "$(pa_get ops)" -gt 0
ex_defaults
ktap_finished

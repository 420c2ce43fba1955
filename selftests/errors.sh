#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The exerciser's refusals: -EINVAL for every value out of range (with a
# pr_err naming the knob), -EBUSY for a second run, -ENOMEM before
# anything changes; stop ends a run cleanly and leaves nothing non-WB in
# the direct map (but the pool's blocks, until evicted); a BAR that is not
# prefetchable is refused at the `run` write; reset clears the results;
# verify=0 really skips checks.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 17
pa_load
ex_defaults
knob reset 1

dmesg_mark einval
bad=
for kv in pages=0 pages=1048577 threads=0 threads=17 max_order=11 iterations=0 \
	iterations=1000001 scenario=bogus verify=2 scatter=2 run=2 stop=0 hold=maybe bar=x/9 \
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
dmap_check_pool "after stop, nothing is non-WB in the direct map but the pool's blocks"
knob evict 1
dmap_check "after stop and evict, nothing is non-WB in the direct map"

# Runs stopped halfway through their iterations (workers stop between
# two steps and drop their page sets on the way out): every page back to
# WB when `stop` returns.
bad=
for sc in set_pages pages_array set_memory wc_wb_free; do
	ex_defaults
	knob scenario $sc
	knob pages 64
	knob threads 2
	knob iterations 1000000
	knob run 1
	sleep 0.5
	knob stop 1
	extra=$(dmap_extra)
	ktap_print_msg "$sc stopped ($(ex_state)): $extra direct-map pages non-WB beyond the baseline"
	[ "$extra" = 0 ] || bad="$bad $sc:$extra"
done
ktap_check "runs stopped halfway leave nothing non-WB in the direct map" test -z "$bad"

# reset clears the results of the last run, its time and its config.
ex_run set_pages pages=4 iterations=2
knob reset 1
PA_REPORT=$(cat "$PA_DIR/results")
expect "reset: state=idle, elapsed_ns=0, ops=0" state=idle elapsed_ns=0 ops=0

# More than memory allows: refused before anything changes.
knob reset 1
knob scenario set_pages
knob pages 1048576
knob threads 16
dmesg_mark enomem
refused "memory" run 1
ktap_check "a run larger than memory gets ENOMEM" test $? = 0
ktap_check "... and changed nothing" test "$(ex_state)" = idle
dmap_check "after the refused run, nothing is non-WB in the direct map"

# `scatter` on a scenario that takes no single pages, and on more pages
# than a quarter of the free 2 MiB blocks: refused at the `run` write.
ex_defaults
knob scatter 1
dmesg_mark scatter
refused "Invalid argument" run 1 && log_since scatter "scatter applies to pages_array and wc_wb_free, not set_pages"
ktap_check "scatter on set_pages gets EINVAL at run, with the reason logged" test $? = 0
knob scenario pages_array
knob pages 65536
refused "memory" run 1 && log_since scatter "scatter: 65536 pages x 1 threads would each pin a 2 MiB block" &&
	test "$(ex_state)" = idle
ktap_check "scatter on 65536 pages gets ENOMEM at run (a 2 MiB block each), and nothing ran" test $? = 0
ex_defaults

# A memory BAR that is not prefetchable (device registers) is never mapped:
# the `run` write itself is refused with EINVAL, before any worker starts.
# /sys/bus/pci/devices/*/resource: "start end flags" per BAR;
# IORESOURCE_MEM 0x200, IORESOURCE_PREFETCH 0x2000. A device with no
# driver, so that the refusal is for the BAR, not for a driver that owns it.
regs=
for d in /sys/bus/pci/devices/*; do
	[ -e "$d/driver" ] && continue
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
	knob reset 1
	knob scenario ioremap
	knob iterations 1
	knob bar "$regs"
	dmesg_mark regs
	out=$( (echo 1 >"$PA_DIR/run") 2>&1)
	wrc=$?
	ktap_print_msg "BAR $regs: run write: exit $wrc ${out:-(no error)}; state=$(ex_state)"
	ex_wait
	ktap_check "a non-prefetchable BAR ($regs): the run write fails with EINVAL" \
		sh -c "[ $wrc != 0 ] && echo '$out' | grep -q 'Invalid argument'"
	ktap_check "... the log says it 'is not prefetchable', nothing ran" \
		sh -c "[ '$(ex_state)' = idle ] && echo '$(dmesg_since regs | grep -c 'is not prefetchable')' | grep -qv '^0$'"
else
	ktap_test_skip "no non-prefetchable memory BAR without a driver in this machine"
	ktap_test_skip "no non-prefetchable memory BAR without a driver in this machine"
fi

ex_defaults
ex_run set_pages verify=0
ktap_check "verify=0 makes transitions without checking pages" \
	test "$(pa_get verified_pages)" = 0 -a "$(pa_get ops)" -gt 0
ex_defaults
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The BAR rules of the ioremap scenario (issue 10, item 6): a device whose
# driver is bound is refused at the `run` write with EBUSY, and nothing is
# mapped (its memtypes in pat_memtype_list stay as the driver made them,
# the driver stays bound); `auto` picks a display device with no driver;
# a run claims its BAR in /proc/iomem ("pte_attrs") while it lasts and
# releases it at the end. The debug flavor binds bochs-drm to the VGA at
# 00:03.0; the secondary-vga at 00:05.0 is kept unbound by the harness.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

MEMTYPES=/sys/kernel/debug/x86/pat_memtype_list
ktap_print_header
ktap_set_plan 7
pa_load
knob stop 1
knob hold 0
ex_defaults
knob reset 1

# prefetchable_bar DEV: DEV's first prefetchable memory BAR
# (IORESOURCE_MEM 0x200 | IORESOURCE_PREFETCH 0x2000): its index in
# BAR_INDEX, its range in BAR_START/BAR_END; fails if it has none.
prefetchable_bar() {
	i=0
	while read -r start end flags; do
		if [ $((flags & 0x2200)) = $((0x2200)) ] && [ $((end)) -gt $((start)) ]; then
			BAR_INDEX=$i BAR_START=$start BAR_END=$end
			return 0
		fi
		i=$((i + 1))
		[ $i -gt 5 ] && break
	done <"/sys/bus/pci/devices/$1/resource"
	return 1
}

# display_devices BOUND: display-class PCI devices with a prefetchable
# BAR and (BOUND=1) or without (BOUND=0) a driver, in bus order.
display_devices() {
	for d in /sys/bus/pci/devices/*; do
		case $(cat "$d/class") in 0x03*) ;; *) continue ;; esac
		if [ -e "$d/driver" ]; then b=1; else b=0; fi
		[ "$b" = "$1" ] || continue
		prefetchable_bar "${d##*/}" && echo "${d##*/}"
	done
}

# memtypes_in START END: pat_memtype_list lines ("PAT: [mem 0x...-0x...]
# write-combining", after a "PAT memtype list:" header) that start inside
# the range.
memtypes_in() {
	while read -r pat mem range rest; do
		case $range in 0x*) ;; *) continue ;; esac
		lo=${range%-*}
		lo=${lo#0x}
		[ $((0x$lo)) -ge $(($1)) ] && [ $((0x$lo)) -le $(($2)) ] && echo "$range $rest"
	done <"$MEMTYPES"
}

bound=$(display_devices 1 | head -n 1)
unbound=$(display_devices 0 | head -n 1)
ktap_print_msg "display devices: bound ${bound:-none}, first unbound ${unbound:-none}"

# (1-3) A device whose driver is bound.
if [ -n "$bound" ]; then
	drv=$(readlink "/sys/bus/pci/devices/$bound/driver")
	prefetchable_bar "$bound"
	bar=$BAR_INDEX
	before=$(memtypes_in "$BAR_START" "$BAR_END")
	ktap_print_msg "$bound/$bar ($BAR_START-$BAR_END) is bound to ${drv##*/}; its memtypes:" $before
	knob scenario ioremap
	knob iterations 1
	knob bar "$bound/$bar"
	dmesg_mark bar-bound
	out=$( (echo 1 >"$PA_DIR/run") 2>&1)
	wrc=$?
	ex_wait
	ktap_print_msg "run: exit $wrc ${out:-(no error)}; state=$(ex_state);" \
		"log: $(dmesg_since bar-bound | grep 'pte_attrs' | tail -n 1 | sed 's/^\[[^]]*\] //')"
	ktap_check "a BAR of a device with a bound driver ($bound): the run write fails with EBUSY" \
		sh -c "[ $wrc != 0 ] && echo '$out' | grep -q 'Device or resource busy'"
	after=$(memtypes_in "$BAR_START" "$BAR_END")
	ktap_check "... nothing was mapped: no run, the BAR's memtypes unchanged" \
		test "$(ex_state)" = idle -a "$before" = "$after"
	ktap_check "... and the driver is still bound" \
		test "$(readlink "/sys/bus/pci/devices/$bound/driver")" = "$drv"
	knob bar auto
else
	for t in "EBUSY for a bound device's BAR" "nothing mapped for it" "its driver still bound"; do
		ktap_test_skip "$t: no display device has a driver in this flavor (FLAVOR=debug binds bochs-drm to 00:03.0)"
	done
fi

# (4-5) auto: the first display device with no driver.
ex_defaults
knob reset 1
ex_run ioremap iterations=1
ktap_print_msg "auto: device $(pa_get ioremap.device) $(pa_get ioremap.start)+$(pa_get ioremap.size)," \
	"state=$(pa_get state) errors=$(pa_get errors)"
ktap_check "auto maps the first display device with no driver (${unbound:-none})" \
	test -n "$unbound" -a "$(pa_get ioremap.device)" = "$unbound"
expect "... and the run is clean" state=done errors=0 verify_failures=0

# (6-7) The run claims the BAR while it lasts (hold=1 keeps it going).
knob reset 1
ex_hold_ioremap
start=$(pa_get ioremap.start)
claim=$(grep -i ': pte_attrs$' /proc/iomem | sed 's/^ *//')
ktap_print_msg "held $(pa_get ioremap.held) of $(pa_get ioremap.device) at $start; /proc/iomem: ${claim:-no pte_attrs claim}"
# claims_start: one of the pte_attrs claims holds the mapped start.
claims_start() {
	[ -n "$start" ] && [ -n "$claim" ] || return 1
	echo "$claim" | while read -r range rest; do
		[ -n "$range" ] || continue
		lo=${range%-*}
		hi=${range#*-}
		[ $((0x$lo)) -le $((start)) ] && [ $((start)) -le $((0x$hi)) ] && echo yes
	done | grep -q yes
}
ktap_check "while a run maps the BAR, /proc/iomem shows it claimed by pte_attrs" claims_start
knob hold 0
ex_wait
ktap_check "after the run, the claim is gone" sh -c "! grep -qi ': pte_attrs\$' /proc/iomem"

ex_defaults
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The BARs the module maps (issue 10, item 6; issue 17, item 4): only
# those of devices bound to its PCI driver `pte_attrs`, which binds no
# device by itself (the harness hands it the secondary-vga at 00:05.0
# through driver_override). A device bound to another driver is refused
# at the `run` write with EBUSY and nothing is mapped (its memtypes in
# pat_memtype_list stay as the driver made them, the driver stays bound);
# one bound to no driver gets ENODEV; `auto` picks the device bound to
# pte_attrs; a run claims its BAR in /proc/iomem ("pte_attrs") while it
# lasts and releases it at the end. Unbinding or removing the device while
# a held ioremap run (and, for `remove`, a GEM BAR hold) uses its BAR ends
# every use: the run ends as state=device_removed, the hold is undone, and
# once the unbind or remove returns nothing of the BAR is left in
# pat_memtype_list or /proc/iomem. The rescanned device is not bound to
# pte_attrs until it is handed over again, and then runs. rmmod with the
# device bound and a held run unloads cleanly, and insmod binds it again.
# The debug flavor binds bochs-drm to the VGA at 00:03.0 (and, after a
# rescan, to 00:05.0, which is then handed back).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

MEMTYPES=/sys/kernel/debug/x86/pat_memtype_list
PCI=/sys/bus/pci
HELPER=$DIR/gem_mmap_helper
ktap_print_header
ktap_set_plan 20
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
	done <"$PCI/devices/$1/resource"
	return 1
}

# driver_of DEV: the name of DEV's driver, "none" without one.
driver_of() {
	if [ -e "$PCI/devices/$1/driver" ]; then
		basename "$(readlink "$PCI/devices/$1/driver")"
	else
		echo none
	fi
}

# display_devices WHICH: display-class PCI devices with a prefetchable
# BAR whose driver is WHICH ("pte_attrs", "none", or "other": any other
# driver), in bus order.
display_devices() {
	for d in "$PCI"/devices/*; do
		case $(cat "$d/class") in 0x03*) ;; *) continue ;; esac
		drv=$(driver_of "${d##*/}")
		case $1 in
		other) [ "$drv" != none ] && [ "$drv" != pte_attrs ] || continue ;;
		*) [ "$drv" = "$1" ] || continue ;;
		esac
		prefetchable_bar "${d##*/}" && echo "${d##*/}"
	done
}

# memtypes_in START END: pat_memtype_list lines ("PAT: [mem 0x...-0x...]
# write-combining", after a "PAT memtype list:" header) that start inside
# the range; nothing without the file (PAT off: `nopat` keeps no memtypes
# and the kernel does not create it; /proc/iomem is then the one oracle).
memtypes_in() {
	[ -e "$MEMTYPES" ] || return 0
	while read -r pat mem range rest; do
		case $range in 0x*) ;; *) continue ;; esac
		lo=${range%-*}
		lo=${lo#0x}
		[ $((0x$lo)) -ge $(($1)) ] && [ $((0x$lo)) -le $(($2)) ] && echo "$range $rest"
	done <"$MEMTYPES"
}

# iomem_claims: the pte_attrs regions of /proc/iomem.
iomem_claims() { grep -i ': pte_attrs$' /proc/iomem | sed 's/^ *//'; }

# hand_over DEV: binds DEV to pte_attrs as a user does (driver_override,
# then drivers_probe), after unbinding another driver that took it.
hand_over() {
	drv=$(driver_of "$1")
	if [ "$drv" != none ] && [ "$drv" != pte_attrs ]; then
		echo "$1" >"$PCI/devices/$1/driver/unbind"
		ktap_print_msg "$1: unbound from $drv"
	fi
	echo pte_attrs >"$PCI/devices/$1/driver_override"
	echo "$1" >"$PCI/drivers_probe"
}

# wait_written FILE: waits (60 s at most) until FILE exists.
wait_written() {
	n=0
	while [ ! -e "$1" ] && [ $n -lt 600 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	[ -e "$1" ]
}

if [ -e "$MEMTYPES" ]; then
	memtype_oracle=yes
elif pat_on; then
	ktap_print_msg "PAT is on but $MEMTYPES is missing"
	ktap_exit_fail_msg "no pat_memtype_list with PAT on (CONFIG_DEBUG_FS?)"
else
	memtype_oracle=
	ktap_print_msg "PAT off (nopat): no pat_memtype_list; the BAR checks rely on /proc/iomem"
fi
other=$(display_devices other | head -n 1)
dev=$(display_devices pte_attrs | head -n 1)
ktap_print_msg "display devices: bound to another driver ${other:-none}, bound to pte_attrs ${dev:-none}"

# (1-3) A device bound to another driver.
if [ -n "$other" ]; then
	drv=$(driver_of "$other")
	prefetchable_bar "$other"
	bar=$BAR_INDEX
	before=$(memtypes_in "$BAR_START" "$BAR_END")
	ktap_print_msg "$other/$bar ($BAR_START-$BAR_END) is bound to $drv; its memtypes:" $before
	knob scenario ioremap
	knob iterations 1
	knob bar "$other/$bar"
	dmesg_mark bar-bound
	out=$( (echo 1 >"$PA_DIR/run") 2>&1)
	wrc=$?
	ex_wait
	ktap_print_msg "run: exit $wrc ${out:-(no error)}; state=$(ex_state);" \
		"log: $(dmesg_since bar-bound | grep 'pte_attrs' | tail -n 1 | sed 's/^\[[^]]*\] //')"
	ktap_check "a BAR of a device bound to another driver ($other): the run write fails with EBUSY" \
		sh -c "[ $wrc != 0 ] && echo '$out' | grep -q 'Device or resource busy'"
	after=$(memtypes_in "$BAR_START" "$BAR_END")
	ktap_check "... nothing was mapped: no run, the BAR's memtypes unchanged" \
		test "$(ex_state)" = idle -a "$before" = "$after"
	ktap_check "... and the driver is still bound" test "$(driver_of "$other")" = "$drv"
	knob bar auto
else
	for t in "EBUSY for a bound device's BAR" "nothing mapped for it" "its driver still bound"; do
		ktap_test_skip "$t: no display device has another driver in this flavor (FLAVOR=debug binds bochs-drm to 00:03.0)"
	done
fi

# (4-5) auto: the display device bound to pte_attrs.
ex_defaults
knob reset 1
ex_run ioremap iterations=1
ktap_print_msg "auto: device $(pa_get ioremap.device) $(pa_get ioremap.start)+$(pa_get ioremap.size)," \
	"state=$(pa_get state) errors=$(pa_get errors)"
ktap_check "auto maps the display device bound to pte_attrs (${dev:-none})" \
	test -n "$dev" -a "$(pa_get ioremap.device)" = "$dev"
expect "... and the run is clean" state=done errors=0 verify_failures=0

# (6-7) The run claims the BAR while it lasts (hold=1 keeps it going).
knob reset 1
ex_hold_ioremap
start=$(pa_get ioremap.start)
claim=$(iomem_claims)
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

if [ -z "$dev" ]; then
	for t in $(seq 8 20); do
		ktap_test_skip "check $t: no display device bound to pte_attrs (scripts/guest/init hands it 00:05.0)"
	done
	ex_defaults
	ktap_finished
	exit
fi
prefetchable_bar "$dev"

# (8-11) Unbind while a held run maps the BAR: the unbind returns once
# the run has let the BAR go; the unbound device is refused; drivers_probe
# binds it again (its driver_override stays).
knob reset 1
ex_hold_ioremap
ktap_print_msg "held $(pa_get ioremap.held) of $(pa_get ioremap.device); unbinding $dev"
dmesg_mark bar-unbind
rm -f /tmp/bar.unbind.rc
(
	echo "$dev" >"$PCI/drivers/pte_attrs/unbind"
	echo $? >/tmp/bar.unbind.rc
) &
wait_written /tmp/bar.unbind.rc
ktap_print_msg "unbind: exit $(cat /tmp/bar.unbind.rc 2>/dev/null || echo 'none: still blocked');" \
	"driver now $(driver_of "$dev")"
# What is left right when the unbind has returned, before anything else.
bar_left=$(iomem_claims; memtypes_in "$BAR_START" "$BAR_END")
knob hold 0
ex_wait 30
PA_REPORT=$(cat "$PA_DIR/results")
ktap_print_msg "results: state=$(pa_get state) errors=$(pa_get errors);" \
	"log: $(dmesg_since bar-unbind | grep -e 'is being removed' -e 'stopped early' | sed 's/^\[[^]]*\] //' | tr '\n' ' ')"
ktap_check "unbind while a held run maps the BAR: the run ends as state=device_removed, with an error" \
	test "$(pa_get state)" = device_removed -a "$(pa_get errors)" -ge 1
[ -z "$bar_left" ] || ktap_print_msg "left when the unbind returned:" $bar_left
ktap_check "... the unbind waited for it: no pte_attrs region, no memtype of the BAR when it returned" \
	test -f /tmp/bar.unbind.rc -a -z "$bar_left"
knob bar "$dev/$BAR_INDEX"
knob scenario ioremap
dmesg_mark bar-unbound
out=$( (echo 1 >"$PA_DIR/run") 2>&1)
wrc=$?
ex_wait
ktap_print_msg "run on the unbound $dev: exit $wrc ${out:-(no error)}"
refused_unbound() {
	[ "$wrc" != 0 ] && echo "$out" | grep -q 'No such device' &&
		dmesg_since bar-unbound | grep -q 'not bound to pte_attrs'
}
ktap_check "a device bound to no driver is refused: ENODEV, 'not bound to pte_attrs'" refused_unbound
echo "$dev" >"$PCI/drivers_probe"
ktap_check "drivers_probe binds it to pte_attrs again (driver_override stays)" \
	test "$(driver_of "$dev")" = pte_attrs
knob bar auto

# (12-18) `remove` while a held ioremap run and a GEM BAR hold use the
# BAR: remove returns once both have let it go; then a rescan brings the
# device back unbound, and handed over again it runs.
knob reset 1
ex_hold_ioremap
: >/tmp/bar.gem.out
"$HELPER" bar >/tmp/bar.gem.out 2>&1 &
gempid=$!
n=0
while [ $n -lt 600 ] && ! grep -q -e ready -e bar.err /tmp/bar.gem.out; do
	sleep 0.1
	n=$((n + 1))
done
grep -e '^bar.dev' -e '^bar.err' -e wrong= /tmp/bar.gem.out | tr '\n' ' ' | sed 's/^/# gem: /; s/$/\n/'
live_claims=$(iomem_claims)
live_types=$(memtypes_in "$BAR_START" "$BAR_END")
ktap_print_msg "run held $(pa_get ioremap.held); /proc/iomem:" $live_claims
ktap_print_msg "pat_memtype_list of the BAR:" $live_types
# both_live: the helper holds the BAR paths, the run its mapping, the
# region is claimed and the BAR has the WC memtypes of both (the run's
# mapping, the hold's reservation, io_mapping and memremap).
both_live() {
	grep -q ready /tmp/bar.gem.out && [ -n "$(pa_get ioremap.held)" ] &&
		[ -n "$live_claims" ] &&
		{ [ -z "$memtype_oracle" ] || [ "$(echo "$live_types" | grep -c write-combining)" -ge 4 ]; }
}
ktap_check "a held run and a GEM BAR hold use $dev: pte_attrs region${memtype_oracle:+, WC memtypes of the BAR}" both_live
dmesg_mark bar-remove
rm -f /tmp/bar.remove.rc
(
	echo 1 >"$PCI/devices/$dev/remove"
	echo $? >/tmp/bar.remove.rc
) &
wait_written /tmp/bar.remove.rc
bar_left=$(iomem_claims; memtypes_in "$BAR_START" "$BAR_END")
ktap_print_msg "remove: exit $(cat /tmp/bar.remove.rc 2>/dev/null || echo 'none: still blocked')"
ktap_check "remove returns, and the device is gone" \
	test -f /tmp/bar.remove.rc -a ! -e "$PCI/devices/$dev"
knob hold 0
ex_wait 30
PA_REPORT=$(cat "$PA_DIR/results")
log=$(dmesg_since bar-remove | grep -e 'pte_attrs' | sed 's/^\[[^]]*\] //')
echo "$log" | sed 's/^/# /'
run_removed() {
	[ "$(pa_get state)" = device_removed ] && [ "$(pa_get errors)" -ge 1 ] &&
		echo "$log" | grep -q 'is being removed: the run ends'
}
ktap_check "the run ended: state=device_removed, an error, the log says why" run_removed
hold_undone() {
	echo "$log" | grep -q 'the BAR paths held on it are undone' && kill -0 "$gempid"
}
ktap_check "the GEM BAR hold was undone (log), and the holder is still alive" hold_undone
[ -z "$bar_left" ] || ktap_print_msg "left when remove returned:" $bar_left
ktap_check "when remove returned: no pte_attrs region in /proc/iomem, no memtype of the BAR" \
	test -f /tmp/bar.remove.rc -a -z "$bar_left"
kill "$gempid"
wait "$gempid" 2>/dev/null
echo 1 >"$PCI/rescan"
n=0
while [ ! -e "$PCI/devices/$dev" ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
drv=$(driver_of "$dev")
ktap_print_msg "rescan: $dev $( [ -e "$PCI/devices/$dev" ] && echo back || echo missing), driver $drv," \
	"driver_override $(cat "$PCI/devices/$dev/driver_override" 2>/dev/null)"
ktap_check "rescan brings $dev back, not bound to pte_attrs (pte_attrs matches no device by itself)" \
	test -e "$PCI/devices/$dev" -a "$drv" != pte_attrs
hand_over "$dev"
ex_defaults
knob reset 1
ex_run ioremap iterations=1
ktap_print_msg "handed over again: driver $(driver_of "$dev"); run: device $(pa_get ioremap.device)" \
	"state=$(pa_get state) errors=$(pa_get errors)"
runs_again() {
	[ "$(driver_of "$dev")" = pte_attrs ] && [ "$(pa_get ioremap.device)" = "$dev" ] &&
		[ "$(pa_get state)" = done ] && [ "$(pa_get errors)" = 0 ] &&
		[ "$(pa_get verify_failures)" = 0 ]
}
ktap_check "handed over again it is bound to pte_attrs, and an ioremap run on it is clean" runs_again

# (19-20) rmmod with the device bound while a held run maps its BAR.
knob reset 1
ex_hold_ioremap
ktap_print_msg "held $(pa_get ioremap.held); rmmod with $dev bound"
rmmod pte_attrs
rrc=$?
bar_left=$(iomem_claims; memtypes_in "$BAR_START" "$BAR_END")
[ -z "$bar_left" ] || ktap_print_msg "left after rmmod:" $bar_left
ktap_check "rmmod with the device bound and a held run: unloaded, nothing of the BAR left" \
	test "$rrc" = 0 -a ! -d /sys/module/pte_attrs -a -z "$bar_left"
pa_load
ktap_check "insmod binds it again by itself (driver_override stays)" \
	test "$(driver_of "$dev")" = pte_attrs

ex_defaults
knob hold 0
ktap_finished

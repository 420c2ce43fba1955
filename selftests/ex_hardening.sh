#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The exerciser's hardening (issue 10): the inject_miss negative control
# (one transition made wrong on purpose is seen by verification, and
# everything is still restored), reset, the BAR claim of the ioremap
# scenario, and a run at the largest pages the memory pre-check admits.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 17
pa_load
ex_defaults
knob reset 1
knob evict 1

# The negative control, in every scenario that changes RAM.
dmesg_mark inject
knob inject_miss 1
ktap_check "inject_miss reads back armed" test "$(cat "$PA_DIR/inject_miss")" = 1
bad=
addrs=
for s in set_pages set_memory pages_array wc_wb_free gem_evict; do
	knob evict 1
	knob inject_miss 1
	ex_run "$s" iterations=1 threads=1 verify=1 pages=16 max_order=4
	inj=$(pa_get inject.addr)
	first=$(pa_get first_failure)
	vf=$(pa_get verify_failures)
	armed=$(cat "$PA_DIR/inject_miss")
	ktap_print_msg "$s: inject.addr=$inj verify_failures=$vf first_failure=$first armed=$armed"
	if [ -z "$inj" ] || [ "$vf" != 1 ] || [ "${first%% *}" != "addr=$inj" ] ||
		[ "$armed" != 0 ] || [ "$(pa_get errors)" != 0 ]; then
		bad="$bad $s"
	fi
	addrs="$addrs $inj"
done
knob evict 1
ktap_check "inject_miss: verification reports exactly the skipped page" test -z "$bad"
# A freed page may also be unmapped from the direct map (DEBUG_PAGEALLOC):
# then it is free, and not mapped non-WB anywhere.
unmapped_ok=0
debug_pagealloc && unmapped_ok=1
notwb=
for a in $addrs; do
	pa_lookup "$a" || { notwb="$notwb $a"; continue; }
	if [ "$(pa_get mapped)" = 0 ] && [ "$unmapped_ok" = 1 ]; then continue; fi
	[ "$(pa_get cache)" = WB ] || notwb="$notwb $a($(pa_get cache))"
done
[ -n "$notwb" ] && ktap_print_msg "not WB:$notwb"
ktap_check "inject_miss: the skipped pages are WB after their runs" test -z "$notwb"
lines=$(dmesg_since inject | grep 'pte_attrs:')
echo "$lines" | sed 's/^/# /'
raw=$(echo "$lines" | grep -ciE '0x[0-9a-f]{9,}|[0-9a-f]{12,}')
ktap_check "the module's log lines carry no kernel address or entry" test "$raw" = 0
ex_run set_pages iterations=1
ktap_check "inject_miss: a run without it verifies clean" \
	test "$(pa_get verify_failures)" = 0 -a -z "$(pa_get inject.addr)"

# The second set_pages_array_wc, refused by the kernel with a log line
# per call: once per run, whatever the iterations and threads.
dmesg_mark refused
ex_run pages_array iterations=4 threads=2 pages=16
n=$(dmesg_since refused | grep -c reserve_ram_pages_type)
ktap_print_msg "reserve_ram_pages_type lines: $n; array.wc_again.ops=$(pa_get array.wc_again.ops)"
if pat_on; then
	ktap_check "the refused second WC is asked once per run" \
		test "$n" = 1 -a "$(pa_get array.wc_again.ops)" = 1 -a "$(pa_get errors)" = 0
else
	# No memtype reservation for RAM without PAT: nothing to refuse.
	ktap_check "without PAT (nopat) the second WC is not asked, and nothing logs a refusal" \
		test "$n" = 0 -a "$(pa_get array.wc_again.ops)" = 0 -a "$(pa_get errors)" = 0
fi
ex_defaults

# Blocks reused from the pool are checked again when they are rebound.
knob evict 1
ex_run gem_evict iterations=16 pages=64 max_order=4
ex_run gem_evict iterations=16 pages=64 max_order=4
fresh=$(($(pa_get gem.bind_wc.pages) + $(pa_get gem.bind_uc.pages)))
ktap_print_msg "warm pool: verified_pages=$(pa_get verified_pages), fresh pages bound=$fresh"
ktap_check "reused pool blocks are verified again" \
	test "$(pa_get verified_pages)" -gt "$fresh" -a "$(pa_get verify_failures)" = 0
knob evict 1
ex_defaults

# reset: no time, no operations, the current knobs as the config.
ex_run set_memory iterations=2 pages=8
knob pages 32
knob scenario pages_array
knob reset 1
PA_REPORT=$(cat "$PA_DIR/results")
expect "reset clears state, time, ops and the last config" state=idle elapsed_ns=0 ops=0 \
	scenario=pages_array "config=pages=32 max_order=4 iterations=2 threads=1 verify=1 scatter=0"
ex_defaults

# The BAR of ioremap: claimed for the whole run, released at its end.
knob scenario ioremap
knob iterations 1
knob hold 1
if knob run 1; then
	n=0
	while ! grep -q '^ioremap.held=' "$PA_DIR/results" && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	claimed=$(grep -c pte_attrs /proc/iomem)
	dev=$(sed -n 's/^ioremap.device=//p' "$PA_DIR/results")
	refused "busy" run 1
	busy=$?
	knob hold 0
	ex_wait
	ktap_print_msg "device $dev; /proc/iomem during the run:"
	grep pte_attrs /proc/iomem | sed 's/^/# /'
	ktap_check "ioremap claims the BAR region as pte_attrs during the run" test "$claimed" -ge 1
	ktap_check "a second run meanwhile gets EBUSY" test "$busy" = 0
	ktap_check "the region is released when the run ends" test "$(grep -c pte_attrs /proc/iomem)" = 0
	# Someone else's claim of the region: EBUSY, with the reason.
	knob bar "$dev/0"
	ex_run ioremap iterations=1
	ktap_check "the named, free BAR runs" test "$(pa_get errors)" = 0 -a "$(pa_get ops)" -gt 0
else
	knob hold 0
	for t in 1 2 3 4; do ktap_test_skip "no free display BAR for ioremap"; done
fi
ex_defaults

dmesg_mark nodev
knob bar 0000:ff:1f.7
knob scenario ioremap
nodev=0
refused "No such device" run 1 && log_since nodev "refused: no such PCI device" && nodev=1
ktap_check "a BAR of no device gets ENODEV, with the reason" test "$nodev" = 1
ex_defaults

# A display device bound to another driver than pte_attrs (bochs in the
# debug flavor).
bound=
for d in /sys/bus/pci/devices/*; do
	case $(cat "$d/class") in 0x03*) ;; *) continue ;; esac
	[ -e "$d/driver" ] && [ "$(basename "$(readlink "$d/driver")")" != pte_attrs ] &&
		bound=${d##*/} && break
done
if [ -n "$bound" ]; then
	knob bar "$bound/0"
	knob scenario ioremap
	drv=$(basename "$(readlink "/sys/bus/pci/devices/$bound/driver")")
	# (refused sets $rc itself.)
	ebusy=0
	refused "busy" run 1 && ebusy=1
	ktap_check "the BAR of $bound (driver $drv) gets EBUSY" test "$ebusy" = 1
	knob bar auto
	ex_run ioremap iterations=1
	ktap_check "auto never picks $bound" test "$(pa_get ioremap.device)" != "$bound"
else
	ktap_test_skip "no display device with a bound driver"
	ktap_test_skip "no display device with a bound driver"
fi
ex_defaults

# The largest power-of-two pages the pre-check admits (with a big VM the
# page arrays and lists pass the 4 MiB where kmalloc would WARN).
largest() {
	scenario=$1
	shift
	knob scenario "$scenario"
	for kv in "$@"; do knob "${kv%%=*}" "${kv#*=}"; done
	pages=1048576
	while [ $pages -gt 1 ]; do
		knob pages $pages
		if knob run 1 2>/dev/null; then break; fi
		pages=$((pages / 2))
	done
	ex_wait 900
	PA_REPORT=$(cat "$PA_DIR/results")
	ktap_print_msg "largest admitted $scenario $*: pages=$pages of $avail available;" \
		"elapsed $(($(pa_get elapsed_ns) / 1000000)) ms"
	expect "the largest admitted $scenario run ends clean" state=done errors=0 verify_failures=0
	knob evict 1
	ex_defaults
}
avail=$(awk '/MemAvailable/ { print int($2 / 4) }' /proc/meminfo)
largest pages_array iterations=1
largest gem_evict iterations=8 max_order=0
ex_defaults
knob evict 1
knob reset 1
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# pte_attrs loads, says so, taints the kernel only as an out-of-tree (and,
# where the kernel checks signatures, unsigned) module, owns a root-only
# debugfs directory, and unloads cleanly (the directory goes with it) and
# loads again.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 8

pa_load
ktap_check "module is loaded" test -d /sys/module/pte_attrs
ktap_check "kernel log has 'pte_attrs: loaded'" log_has "pte_attrs: loaded"
ktap_check "debugfs directory exists" test -f "$PA_DIR/lookup" -a -f "$PA_DIR/accessor"

# The taints loading added to those of boot (the harness's /init saves
# them before the first insmod): O (4096, out-of-tree), and E (8192,
# unsigned) on a kernel with module signing such as Debian's; any other
# (W, a warning; D, an oops; ...) is a fault.
boot=$(cat /tmp/taint-boot 2>/dev/null)
now=$(cat /proc/sys/kernel/tainted)
if [ -z "$boot" ]; then
	ktap_test_skip "loading added only the out-of-tree/unsigned taints: no /tmp/taint-boot (not booted by the harness)"
else
	added=$((now & ~boot))
	ktap_print_msg "tainted: $now (at boot $boot; added $added)"
	ktap_check "loading added only the out-of-tree/unsigned taints (O 4096, E 8192)" \
		test $((added & ~12288)) = 0 -a $((now & 4096)) = 4096
fi

loose=
for f in "$PA_DIR"/*; do
	mode=$(stat -c %a "$f")
	owner=$(stat -c %u "$f")
	case "$mode" in 400 | 200 | 600) ;; *) loose="$loose $f:$mode" ;; esac
	[ "$owner" = 0 ] || loose="$loose $f:uid$owner"
done
[ -n "$loose" ] && ktap_print_msg "not root-only:$loose"
ktap_check "every file is root-only (0400/0200/0600, uid 0)" test -z "$loose"

dmesg_mark unload
pa_unload
if [ ! -e "$PA_DIR" ] && dmesg_since unload | grep -q 'pte_attrs: unloaded'; then
	ktap_test_pass "rmmod removes the directory and logs 'pte_attrs: unloaded'"
else
	ktap_test_fail "rmmod removes the directory and logs 'pte_attrs: unloaded'"
fi
dmap_check "after unload, nothing is non-WB in the direct map"
pa_load
ktap_check "insmod again recreates the directory" test -f "$PA_DIR/lookup"

ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# pte_attrs loads, says so, owns a root-only debugfs directory, and
# unloads cleanly (the directory goes with it) and loads again.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 7

pa_load
ktap_check "module is loaded" test -d /sys/module/pte_attrs
ktap_check "kernel log has 'pte_attrs: loaded'" log_has "pte_attrs: loaded"
ktap_check "debugfs directory exists" test -f "$PA_DIR/lookup" -a -f "$PA_DIR/accessor"

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

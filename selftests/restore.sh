#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The restore on drop (issue 17): a run that fails while its pages are not
# WB must give them back WB. The root-only knob `inject_fail` makes the
# next run's worker 0 fail (-EIO, errors=1) right after its first
# transition away from WB has been made and checked, so the pages are WC
# or UC- when the run's page set is dropped. The drop must set them WB,
# check each through the accessor and its memtype record, and only then
# free them. Checked from outside the run: the transition to WC/UC- was
# counted and the one back to WB was not (the failure hit changed pages),
# the direct map is back to its boot state (ptdump), and the kernel's
# memtype record agrees with every direct-map entry (the audit).
#
# Seen failing: a PageSet drop that frees without restoring turns the
# direct-map and memtype checks red.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

# scenario, the transition away from WB, the transition back.
CASES="set_pages:set_pages.uc:set_pages.wb
set_memory:set_memory.wc:set_memory.wb
pages_array:array.wc:array.wb
wc_wb_free:array.wc:array.wb"

ktap_print_header
ktap_set_plan 24
pa_load
knob stop 1
ex_defaults
knob evict 1

for c in $CASES; do
	s=${c%%:*}
	rest=${c#*:}
	away=${rest%%:*}
	back=${rest#*:}
	knob reset 1
	knob inject_fail 1
	ktap_check "$s: inject_fail reads back armed" test "$(cat "$PA_DIR/inject_fail")" = 1
	ex_run "$s" iterations=2 threads=1 verify=1 pages=16
	ktap_print_msg "$s: state=$(pa_get state) errors=$(pa_get errors)" \
		"$away.ops=$(pa_get "$away.ops") $back.ops=$(pa_get "$back.ops")" \
		"verify_failures=$(pa_get verify_failures)"
	expect "$s with inject_fail: the run failed once, after one checked change away from WB" \
		state=done errors=1 verify_failures=0 memtype_record_failures=0 \
		"$away.ops=1" "$back.ops=0"
	ktap_check "$s: inject_fail reads 0 after the run" \
		test "$(cat "$PA_DIR/inject_fail")" = 0
	dmap_check "$s: the direct map is WB again after the failed run"
	if audit_ok=$(echo 1 >"$PA_DIR/audit" && cat "$PA_DIR/audit"); then
		mm=$(echo "$audit_ok" | sed -n 's/^memtype_mismatches=//p')
		ktap_print_msg "$s: audit memtype_mismatches=${mm:-none}"
		ktap_check "$s: the memtype record agrees with the direct map (audit)" test "$mm" = 0
	else
		ktap_test_fail "$s: the memtype record agrees with the direct map (audit did not run)"
	fi
	ex_run "$s" iterations=1 threads=1 verify=1 pages=16
	expect "$s without inject_fail: a clean run" state=done errors=0 verify_failures=0
done

ex_defaults
ktap_finished

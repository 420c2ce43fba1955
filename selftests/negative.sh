#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The negative control of verification (issue 10, item 12): the root-only
# knob `inject_miss` makes the next run skip the CPA call for one page it
# owns (the first page of worker 0's first batch) while verification still
# expects the new mode. A verifier that answers "fine" to everything would
# pass every other test; here it must report exactly that page:
# verify_failures=1 and first_failure at the address `results` gives as
# inject.addr. The knob clears itself, the next run is clean, and the
# direct map is back to its boot state.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

SCENARIOS="set_pages set_memory pages_array"
ktap_print_header
ktap_set_plan 18
pa_load
knob stop 1
ex_defaults
knob evict 1

for s in $SCENARIOS; do
	knob reset 1
	dmesg_mark "negative-$s"
	if ! knob inject_miss 1 2>/tmp/negative.err; then
		ktap_print_msg "$s: writing 1 to inject_miss failed: $(cat /tmp/negative.err)"
	fi
	ex_run "$s" iterations=1 threads=1 verify=1 pages=16
	inj=$(pa_get inject.addr)
	ff=$(pa_get first_failure)
	ffaddr=$(echo "$ff" | sed -n 's/^addr=\(0x[0-9a-fA-F]*\).*/\1/p')
	ktap_print_msg "$s: state=$(pa_get state) verify_failures=$(pa_get verify_failures)" \
		"errors=$(pa_get errors) inject.addr=${inj:-none} first_failure=${ff:-none}"
	expect "$s with inject_miss: the run is done and reports exactly one failed page" \
		state=done errors=0 verify_failures=1
	ktap_check "$s: first_failure is the page the CPA call skipped (inject.addr)" \
		test -n "$inj" -a -n "$ffaddr" -a "$((${inj:-0}))" = "$((${ffaddr:-1}))"
	# The kernel log may say what happened, never where (the address is
	# in `results`, root-only).
	hexaddr=$(printf '%x' "$((${inj:-0}))")
	ktap_check "$s: the kernel log does not show the page's address" \
		sh -c "[ -n '$inj' ] && ! dmesg | grep -qi '$hexaddr'"
	ktap_check "$s: inject_miss reads 0 after the run" \
		test "$(cat "$PA_DIR/inject_miss" 2>/dev/null)" = 0
	ex_run "$s" iterations=1 threads=1 verify=1 pages=16
	expect "$s without inject_miss: no failed page" state=done errors=0 verify_failures=0
	dmap_check "$s: the direct map is back to its boot state (the skipped page too)"
done

ex_defaults
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The sample consumer (samples/pte_attrs_sample.c) loads only if its three
# readings through the exported API are right (WB, UC- after set_pages_uc,
# WB again); without pte_attrs loaded it must fail to load, cleanly.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 4
pa_load

dmesg_mark sample
if insmod "$(pa_ko pte_attrs_sample)"; then
	ktap_test_pass "sample consumer loads"
else
	ktap_test_fail "sample consumer loads"
fi
dmesg_since sample | grep 'pte_attrs_sample:' | sed 's/^/# /'
ktap_check "its three readings were as expected" log_since sample "all three readings as expected"
ktap_check "sample consumer unloads" rmmod pte_attrs_sample

pa_unload
dmesg_mark nodep
if insmod "$(pa_ko pte_attrs_sample)" 2>/dev/null; then
	rmmod pte_attrs_sample
	ktap_test_fail "without pte_attrs the sample is refused (unknown symbol)"
elif dmesg_since nodep | grep -q 'pte_attrs_sample: Unknown symbol pte_attrs'; then
	ktap_test_pass "without pte_attrs the sample is refused (unknown symbol)"
else
	dmesg_since nodep | sed 's/^/# /'
	ktap_test_fail "without pte_attrs the sample is refused (unknown symbol)"
fi
pa_load
ktap_finished

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The sample consumer (samples/pte_attrs_sample.c) loads only if its three
# readings through the exported API are right (WB, UC- after set_pages_uc,
# WB again) and pte_attrs_lookup() refuses non-kernel addresses and a NULL
# info with -EINVAL; without pte_attrs loaded it must fail to load,
# cleanly. Its log lines hold no address and no entry value.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 6
pa_load

dmesg_mark sample
if insmod "$(pa_ko pte_attrs_sample)"; then
	ktap_test_pass "sample consumer loads"
else
	ktap_test_fail "sample consumer loads"
fi
dmesg_since sample | grep 'pte_attrs_sample:' | sed 's/^/# /'
ktap_check "its three readings were as expected" log_since sample "all three readings as expected"
ktap_check "non-kernel addresses and NULL info are refused with -EINVAL" \
	log_since sample "non-kernel addresses and NULL info refused with -EINVAL"
# no_raw_values: the sample's lines since the mark have no run of 8 or more
# hex digits (an address, an entry value).
no_raw_values() { ! dmesg_since sample | grep 'pte_attrs_sample:' | grep -Eiq '[0-9a-f]{8,}'; }
ktap_check "its log shows no raw address or value" no_raw_values
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

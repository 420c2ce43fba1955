#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Pages and mappings the exerciser made WC and UC-, seen by the kernel's
# own observers: the page-table dump and pat_memtype_list. RAM pages keep
# their memtype in page flags, not in pat_memtype_list, so that list is
# checked for the BAR mapping.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

MEMTYPES=/sys/kernel/debug/x86/pat_memtype_list
ktap_print_header
ktap_set_plan 10
pa_load
ex_defaults
knob evict 1

# A WC mapping of the BAR, held alive by the `hold` knob.
ex_hold_ioremap
held=$(pa_get ioremap.held)
start=$(pa_get ioremap.start)
size=$(pa_get ioremap.size)
range=$(printf '[mem 0x%016x-0x%016x]' "$start" $((start + size)))
ktap_print_msg "held WC mapping $held of $(pa_get ioremap.device) $range"
pa_lookup "$held"
WC=$(wc_mode)
expect "held BAR mapping is $WC (a WC request) through the accessor" mapped=1 present=1 cache="$WC"
check_ptdump "held BAR mapping" "$held"
if pat_on; then
	ktap_check "pat_memtype_list: $range write-combining while mapped" \
		grep -qF "$range write-combining" "$MEMTYPES"
else
	ktap_test_skip "pat_memtype_list: no PAT (nopat), no memtype list"
fi
knob hold 0
ex_wait
if pat_on; then
	ktap_check "pat_memtype_list: no $range after iounmap" sh -c "! grep -qF '$range' $MEMTYPES"
else
	ktap_test_skip "pat_memtype_list after iounmap: no PAT (nopat), no memtype list"
fi

# RAM pages the GEM pool holds bound WC and UC- after a run.
ex_run gem_evict pages=32 max_order=3 iterations=8 threads=2
wc=$(pa_get pool.sample_wc)
uc=$(pa_get pool.sample_uc)
ktap_print_msg "pool: $(pa_get pool_pages) pages; a WC block at $wc, a UC- block at $uc"
pa_lookup "$wc"
expect "pool page made WC reads $WC" mapped=1 present=1 cache="$WC"
check_ptdump "pool page made WC" "$wc"
pa_lookup "$uc"
expect "pool page made UC- reads UC-" mapped=1 present=1 cache=UC-
check_ptdump "pool page made UC-" "$uc"
knob evict 1
PA_REPORT=$(cat "$PA_DIR/results")
expect "evict empties the pool, every evicted page WB before free" pool_pages=0 pool.verify_failures=0
pa_lookup "$wc"
if [ "$(pa_get mapped)" = 0 ] && debug_pagealloc; then
	# The page went back to the allocator, and DEBUG_PAGEALLOC unmapped
	# it from the direct map: nothing to read (the module checked it WB
	# before the free: pool.verify_failures=0 above).
	ktap_test_skip "the WC page's direct map is WB again after eviction: freed and unmapped (DEBUG_PAGEALLOC)"
else
	expect "the WC page's direct map is WB again after eviction" cache=WB
fi

ex_defaults
ktap_finished

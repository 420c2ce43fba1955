#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Memory pressure evicts the GEM pool: drop_caches runs the shrinkers, ours
# puts every pool block back to WB (checked through the accessor) and
# frees it; so does the `evict` knob. Before eviction only the pool's
# blocks are non-WB in the direct map, after it nothing.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 7
pa_load
ex_defaults
knob evict 1
knob reset 1

ex_run gem_evict pages=64 max_order=4 iterations=16 threads=4
before=$(pa_get pool_pages)
ktap_print_msg "pool after the run: $before pages"
ktap_check "gem_evict leaves WC/UC- blocks in the pool" test "${before:-0}" -gt 0
dmap_check_pool "after gem_evict, only the pool's blocks are non-WB in the direct map"
echo 3 >/proc/sys/vm/drop_caches
PA_REPORT=$(cat "$PA_DIR/results")
ktap_print_msg "after drop_caches: pool_pages=$(pa_get pool_pages)" \
	"shrinker_scans=$(pa_get pool.shrinker_scans) shrinker_pages=$(pa_get pool.shrinker_pages)"
ktap_check "drop_caches ran the pool's shrinker" nonzero pool.shrinker_scans
expect "the shrinker emptied the pool, every page WB before free" \
	pool_pages=0 pool.shrinker_pages="$before" pool.verify_failures=0
dmap_check "after the shrinker, nothing is non-WB in the direct map"

ex_run gem_evict pages=64 max_order=4 iterations=16 threads=4
before=$(pa_get pool_pages)
knob evict 1
PA_REPORT=$(cat "$PA_DIR/results")
ktap_print_msg "evict knob: pool $before -> $(pa_get pool_pages) pages"
expect "the evict knob empties the pool, every page WB before free" \
	pool_pages=0 pool.verify_failures=0
dmap_check "after evict, nothing is non-WB in the direct map"

ex_defaults
ktap_finished

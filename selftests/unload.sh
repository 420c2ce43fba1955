#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# rmmod during a gem_evict run with 4 threads: unload stops the workers,
# evicts the pool, and leaves no page non-WB; the memory comes back.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 5
pa_load
ex_defaults
knob evict 1
free_kb() { sed -n 's/^MemFree: *\([0-9]*\) kB/\1/p' /proc/meminfo; }
echo 3 >/proc/sys/vm/drop_caches
before=$(free_kb)

knob scenario gem_evict
knob pages 256
knob max_order 4
knob threads 4
knob iterations 1000000
knob run 1
# Until the pool holds blocks of both kinds.
n=0
while [ $n -lt 300 ]; do
	PA_REPORT=$(cat "$PA_DIR/results")
	[ -n "$(pa_get pool.sample_wc)" ] && [ -n "$(pa_get pool.sample_uc)" ] && break
	sleep 0.1
	n=$((n + 1))
done
wc=$(pa_get pool.sample_wc)
uc=$(pa_get pool.sample_uc)
held=$(pa_get pool_pages)
ktap_print_msg "running: $(pa_get state), pool $held pages, WC block $wc, UC- block $uc"
ktap_check "the run is going and the pool holds WC and UC- blocks" \
	test "$(pa_get state)" = running -a -n "$wc" -a -n "$uc"

dmesg_mark unload
ktap_check "rmmod during the run succeeds" rmmod pte_attrs
dmesg_since unload | grep 'pte_attrs: unloaded' | sed 's/^/# /'
ktap_check "unload evicted the pool and found no evicted page non-WB" \
	log_since unload "pte_attrs: unloaded: [0-9]* pool pages evicted; 0 evicted pages found not WB"

pa_load
bad=
for a in $wc $uc; do
	pa_lookup "$a"
	[ "$(pa_get cache)" = WB ] || bad="$bad $a:$(pa_get cache)"
done
ktap_check "the pool's WC and UC- pages are WB again" test -z "$bad"

# Tolerance: an idle busybox VM's MemFree moves by well under 1 MiB
# between two drop_caches; the run held up to 4 threads x 5 x 256 pages
# (20 MiB) plus its page tables. 4 MiB catches any leak of the pool.
echo 3 >/proc/sys/vm/drop_caches
after=$(free_kb)
ktap_print_msg "MemFree before $before kB, after $after kB"
ktap_check "MemFree came back within 4 MiB" test $((before - after)) -le 4096
ex_defaults
ktap_finished

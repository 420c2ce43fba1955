#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Pages and mappings the exerciser made WC and UC-, seen by the kernel's
# own observers: the page-table dump and pat_memtype_list. RAM pages keep
# their memtype in page flags, not in pat_memtype_list, so that list is
# checked for the BAR mapping. The page sets of `pages_array` and
# `wc_wb_free`, held WC by the `hold` knob, are read in the page-table
# dump through the kernel's own PAT table (its boot-log line), then again
# once they are let go (`hold 0`) or the run is stopped. Without a
# page-table dump (Debian's kernel) the kernel's memtype records of the
# pages (/proc/kpageflags) stand in where they can.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

MEMTYPES=/sys/kernel/debug/x86/pat_memtype_list
ktap_print_header
ktap_set_plan 55
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

# --- Page sets held WC (UC- under nopat) by pages_array and wc_wb_free ---

# The kernel's PAT table, "WB WC UC- UC WB WP UC- WT", from its boot-log
# line "x86/PAT: Configuration [0-7]: ..." (saved by the guest's init
# before anything could scroll it away; the live log outside the harness).
if [ -s /tmp/boot-dmesg ]; then boot_log=/tmp/boot-dmesg; else boot_log=; fi
PAT_NAMES=$( (if [ -n "$boot_log" ]; then cat "$boot_log"; else dmesg; fi) |
	sed -n 's/.*x86\/PAT: Configuration \[0-7\]: //p' | head -n 1 | tr -s ' ')
ktap_print_msg "the kernel's PAT table: ${PAT_NAMES:-not in the log}"
HELD_PAGES=16
DPA=
# freed_unmapped: DEBUG_PAGEALLOC unmaps freed pages (one ptdump read,
# once).
freed_unmapped() {
	[ -n "$DPA" ] || if debug_pagealloc; then DPA=1; else DPA=0; fi
	[ "$DPA" = 1 ]
}

# ptdump_snap: one read of the page-table dump, to /tmp/crosscheck.ptdump.
ptdump_snap() { ptdump_read /tmp/crosscheck.ptdump; }

# snap_line ADDR: the line of that read whose range holds ADDR. Its
# addresses are 0x and 16 hex digits, as ADDR is (a kernel address): they
# compare as strings (made strings: busybox awk would compare them as
# doubles, 53 bits).
snap_line() {
	a=$(printf '0x%016x' "$1")
	awk -v a="$a" '/^0x/ {
		split($1, r, "-")
		if ((r[1] "") <= (a "") && (a "") < (r[2] "")) { print; exit }
	}' /tmp/crosscheck.ptdump
}

# attrs_mode ATTRS: the cache mode of an entry given in the lookup knob's
# terms (ptdump_attrs of a dump line, or memtype_scan entry): its PWT, PCD
# and PAT bits as the index into the kernel's PAT table; "not-present"
# for an entry that maps nothing. (The dump never shows the PAT bit of a
# 2M or 1G entry, bit 12: index 0-3 there; the pages checked here are 4K.)
attrs_mode() {
	at=" $1"
	bit() { echo "$at" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	if [ "$(bit present)" != 1 ]; then
		echo not-present
		return
	fi
	idx=$(($(bit pat) * 4 + $(bit pcd) * 2 + $(bit pwt)))
	m=$(echo "$PAT_NAMES" | awk -v i="$idx" '{ print $(i + 1) }')
	echo "${m:-unknown}"
}

# entry_mode ADDR: the cache mode of ADDR's entry: in the last
# ptdump_snap, or without a dump, read through /proc/kcore.
entry_mode() {
	if [ -r "$PTDUMP" ]; then
		attrs_mode "$(ptdump_attrs "$(snap_line "$1")")"
	else
		attrs_mode "$("$MEMTYPE_SCAN" entry "$1")"
	fi
}

# tables_readable: the kernel's tables can be read here (a dump, or
# /proc/kcore: not under Xen PV or lockdown).
tables_readable() { [ -r "$PTDUMP" ] || [ "$(dmap_oracle)" = kcore ]; }
TABLES="the kernel's tables ($([ -r "$PTDUMP" ] && echo page_tables/kernel || echo /proc/kcore))"

# check_snap_mode WHAT ADDR WANT: one KTAP result: ADDR's entry has cache
# mode WANT (entry_mode).
check_snap_mode() {
	got=$(entry_mode "$2")
	if [ "$got" = "$3" ]; then
		ktap_test_pass "$1"
	else
		ktap_print_msg "$TABLES: $2: $got (want $3)"
		ktap_test_fail "$1"
	fi
}

# hold_run SCENARIO: a run of SCENARIO, $HELD_PAGES pages, 2 iterations,
# one thread, with `hold` set; waits (60 s at most) until it holds its
# first page set. The results are in $PA_REPORT; $first and $last are the
# held set's first and last page, $npages its size.
hold_run() {
	knob pages $HELD_PAGES
	knob iterations 2
	knob threads 1
	ex_hold_wait "$1" 600
	first=$(pa_get "$1.held")
	last=$(pa_get "$1.held_last")
	npages=$(pa_get "$1.held_pages")
}

# held_ok SCENARIO: the run holds a set of $HELD_PAGES pages, two ends.
held_ok() {
	[ "$(pa_get state)" = running ] && [ -n "$first" ] && [ -n "$last" ] &&
		[ "$first" != "$last" ] && [ "$npages" = $HELD_PAGES ]
}

# after_release WHAT: the held set's first and last page read WB in the
# page-table dump now (or were freed and unmapped under DEBUG_PAGEALLOC),
# and nothing is non-WB in the direct map beyond the boot baseline.
# Without a page-table dump (Debian's kernel) the per-page checks skip:
# the pages have been freed, and the allocator clears a freed page's
# memtype record (PG_arch_1/PG_arch_2, with its other flags), so
# /proc/kpageflags reads WB whatever its entry is.
after_release() {
	if ! tables_readable; then
		for end in first last; do
			ktap_test_skip "$1: the $end held page is WB in the kernel's tables: no $PTDUMP (CONFIG_PTDUMP_DEBUGFS), no /proc/kcore walk (Xen PV or lockdown), and a freed page has no memtype record"
		done
	else
		[ -r "$PTDUMP" ] && ptdump_snap
		for end in first last; do
			if [ "$end" = first ]; then addr=$first; else addr=$last; fi
			what="$1: the $end held page ($addr) is WB in $TABLES"
			if [ "$(entry_mode "$addr")" = not-present ] && freed_unmapped; then
				# Freed, and unmapped by DEBUG_PAGEALLOC: the module
				# checked it WB, entry and memtype record, before.
				ktap_test_skip "$what: freed and unmapped (DEBUG_PAGEALLOC)"
			else
				check_snap_mode "$what" "$addr" WB
			fi
		done
	fi
	dmap_check "$1: nothing non-WB in the direct map beyond the boot baseline"
}

# release_hold: lets the held set go (`hold 0`) and waits for the run to
# end; its results are in $PA_REPORT.
release_hold() {
	knob hold 0
	ex_wait
	PA_REPORT=$(cat "$PA_DIR/results")
}

# Which TLB flush cpa_flush() chose: above tlb_single_page_flush_ceiling
# pages a call flushes the whole TLB (flush_tlb_all() from cpa_flush()),
# otherwise page by page (__cpa_flush_tlb() run through on_each_cpu(), on
# the calling CPU too). Seen with the function tracer, where the kernel
# has one and cpa_flush() is a function of its own (Debian's kernel; our
# own configs have no tracer), counting the calls made by the run's
# worker thread (pte_attrs/0). Splitting a 2 MiB page also flushes the
# whole TLB, from __change_page_attr_set_clr(): that is not cpa_flush()'s
# choice and is not counted. Tracing someone else set up (a tracer, a
# function filter, events) is left alone, and tracing_on is put back.
TRACEFS=/sys/kernel/tracing
FLUSH_TRACE_SKIP=
# flush_trace_ready: sets FLUSH_TRACE_SKIP to why the flushes cannot be
# traced (empty if they can).
flush_trace_ready() {
	[ -e $TRACEFS/current_tracer ] || mount -t tracefs nodev $TRACEFS 2>/dev/null
	if [ ! -e $TRACEFS/current_tracer ]; then
		FLUSH_TRACE_SKIP="no tracefs (CONFIG_FTRACE)"
	elif ! grep -qw function $TRACEFS/available_tracers; then
		FLUSH_TRACE_SKIP="no function tracer (CONFIG_FUNCTION_TRACER)"
	elif [ "$(cat $TRACEFS/current_tracer)" != nop ]; then
		FLUSH_TRACE_SKIP="the $(cat $TRACEFS/current_tracer) tracer is in use"
	elif grep -qv "^#" $TRACEFS/set_ftrace_filter || [ -n "$(cat $TRACEFS/set_event)" ]; then
		FLUSH_TRACE_SKIP="tracing is in use (a function filter or events are set)"
	else
		for f in cpa_flush __cpa_flush_tlb flush_tlb_all; do
			grep -qE "^$f( |\$)" $TRACEFS/available_filter_functions ||
				FLUSH_TRACE_SKIP="$f cannot be traced (inlined or notrace)"
		done
	fi
	ktap_print_msg "cpa_flush() path: ${FLUSH_TRACE_SKIP:-traced (function tracer)}"
}
# flush_trace_start: switches the function tracer on for the two flushes
# (nothing where they cannot be traced).
flush_trace_start() {
	[ -n "$FLUSH_TRACE_SKIP" ] && return
	TRACING_ON=$(cat $TRACEFS/tracing_on)
	echo 0 >$TRACEFS/tracing_on
	echo "__cpa_flush_tlb flush_tlb_all" >$TRACEFS/set_ftrace_filter
	echo function >$TRACEFS/current_tracer
	: >$TRACEFS/trace
	echo 1 >$TRACEFS/tracing_on
}
# flush_path WHAT N: one KTAP result: the traced run of N pages flushed
# the way cpa_flush() should for N; the tracer is then switched off.
flush_path() {
	if [ -n "$FLUSH_TRACE_SKIP" ]; then
		ktap_test_skip "$1: cpa_flush()'s TLB flush not observed: $FLUSH_TRACE_SKIP"
		return
	fi
	echo 0 >$TRACEFS/tracing_on
	# "pte_attrs/0-185 [001] ..... 12.3: __cpa_flush_tlb <-smp_call_...".
	counts=$(awk '$1 ~ /^pte_attrs\// && $NF ~ /^<-/ {
			if ($(NF - 1) == "__cpa_flush_tlb") p++
			if ($(NF - 1) == "flush_tlb_all" && $NF == "<-cpa_flush") a++
		} END { print p + 0, a + 0 }' $TRACEFS/trace)
	echo nop >$TRACEFS/current_tracer
	: >$TRACEFS/set_ftrace_filter
	: >$TRACEFS/trace
	echo "$TRACING_ON" >$TRACEFS/tracing_on
	per_page=${counts% *}
	whole=${counts#* }
	ktap_print_msg "$1: cpa_flush() flushed page by page $per_page times, the whole TLB $whole times"
	if [ "$2" -le "$ceiling" ]; then
		ktap_check "$1: cpa_flush() flushes page by page (at most $ceiling pages)" \
			test "$per_page" -gt 0 -a "$whole" = 0
	else
		ktap_check "$1: cpa_flush() flushes the whole TLB (above $ceiling pages)" \
			test "$whole" -gt 0 -a "$per_page" = 0
	fi
}

# held_in_dmap WHAT N [scattered]: one KTAP result: exactly N pages of
# the direct map are non-WB beyond the boot baseline (with `scattered`,
# no two in one 2 MiB block), counted from the page-table dump, or
# without one from the entries read through /proc/kcore, or else the
# kernel's memtype records (/proc/kpageflags), which exist only with PAT.
held_in_dmap() {
	oracle=$(dmap_oracle)
	if [ -z "$oracle" ]; then
		ktap_test_skip "$1: no $PTDUMP (CONFIG_PTDUMP_DEBUGFS) and no /proc/kpageflags"
		return
	fi
	if [ "$oracle" = kpageflags ] && ! pat_on; then
		ktap_test_skip "$1: no $PTDUMP, and no memtype records without PAT"
		return
	fi
	: >/tmp/dmap-extra
	extra=$(dmap_extra)
	# "pages FIRST-END (...)": the 2 MiB block (512 pages) of each page.
	blocks=$(awk '{ split($2, r, "-"); for (p = r[1]; p < r[2]; p++) print int(p / 512) }' \
		/tmp/dmap-extra | sort -u | wc -l)
	ktap_print_msg "direct map ($oracle): $extra pages non-WB beyond the boot baseline, in $blocks blocks of 2 MiB (want $2)"
	if [ "$extra" = "$2" ] && { [ -z "${3:-}" ] || [ "$blocks" = "$2" ]; }; then
		ktap_test_pass "$1 ($oracle)"
	else
		head -n 5 /tmp/dmap-extra | sed 's/^/#   /'
		ktap_test_fail "$1 ($oracle)"
	fi
}

for scn in pages_array wc_wb_free; do
	hold_run $scn
	ktap_print_msg "$scn: held $npages pages, first $first, last $last"
	if held_ok $scn; then
		ktap_test_pass "$scn holds its first set of $HELD_PAGES pages ($scn.held, .held_last, .held_pages)"
	else
		echo "$PA_REPORT" | grep -E "^(state|errors|verify_failures|$scn\.held)" | sed 's/^/# /'
		ktap_test_fail "$scn holds its first set of $HELD_PAGES pages ($scn.held, .held_last, .held_pages)"
	fi
	for end in first last; do
		if [ "$end" = first ]; then addr=$first; else addr=$last; fi
		pa_lookup "$addr"
		expect "$scn: the $end held page reads $WC through the accessor" mapped=1 present=1 cache="$WC"
		check_ptdump "$scn: the $end held page" "$addr"
	done
	if tables_readable; then
		[ -r "$PTDUMP" ] && ptdump_snap
		for end in first last; do
			if [ "$end" = first ]; then addr=$first; else addr=$last; fi
			check_snap_mode "$scn: the $end held page is $WC in $TABLES (the kernel's PAT table)" \
				"$addr" "$WC"
		done
	else
		for end in first last; do
			ktap_test_skip "$scn: the $end held page is $WC in the kernel's tables: no $PTDUMP (CONFIG_PTDUMP_DEBUGFS), no /proc/kcore walk (Xen PV or lockdown)"
		done
	fi
	# Every held page, counted.
	held_in_dmap "$scn: the direct map has exactly the $HELD_PAGES held pages non-WB beyond the boot baseline" \
		"$HELD_PAGES"
	release_hold
	expect "$scn: after hold 0 the run ends, every transition checked right, the hold gone" \
		state=done errors=0 verify_failures=0 "$scn.held="
	after_release "$scn after hold 0"
done

# A stop while the set is held: the run returns with its set not WB, and
# the set's drop restores it (each page checked, entry and memtype record,
# before it is freed).
hold_run wc_wb_free
ktap_print_msg "wc_wb_free: held $npages pages, first $first, last $last; stopping"
knob stop 1
knob hold 0
PA_REPORT=$(cat "$PA_DIR/results")
expect "wc_wb_free: a stop during the hold ends the run, the hold gone" \
	state=stopped errors=0 verify_failures=0 "wc_wb_free.held="
after_release "wc_wb_free after a stop during the hold"
ex_defaults

# --- pages_array on scattered pages, either side of the TLB flush ceiling ---
# cpa_flush() flushes the TLB page by page for up to
# tlb_single_page_flush_ceiling pages (33 by default) and whole above
# that. With `scatter` each page of the set comes from a 2 MiB block of
# its own. Runs of ceiling-1, ceiling and ceiling+1 pages are held WC and
# read in the kernel's tables: exactly that many pages non-WB, no two in
# one 2 MiB block (so no two neighbours); then let go, every transition
# checked, nothing left.
CEILING_FILE=/sys/kernel/debug/x86/tlb_single_page_flush_ceiling
ceiling=$(cat "$CEILING_FILE" 2>/dev/null)
if [ -z "$ceiling" ]; then
	ktap_print_msg "no $CEILING_FILE: taking the kernel's default, 33"
	ceiling=33
fi
ktap_print_msg "tlb_single_page_flush_ceiling=$ceiling"
flush_trace_ready
knob scatter 1
for size in $((ceiling - 1)) "$ceiling" $((ceiling + 1)); do
	HELD_PAGES=$size
	flush_trace_start
	hold_run pages_array
	what="pages_array, scatter, $size pages: the run holds its first set of $size pages"
	if held_ok pages_array; then
		ktap_test_pass "$what"
	else
		echo "$PA_REPORT" | grep -E "^(state|errors|verify_failures|pages_array\.held)" | sed 's/^/# /'
		ktap_test_fail "$what"
	fi
	held_in_dmap "pages_array, scatter, $size pages: the direct map has exactly those $size pages non-WB beyond the boot baseline, each in a 2 MiB block of its own" \
		"$size" scattered
	release_hold
	expect "pages_array, scatter, $size pages: after hold 0 the run ends, every transition checked right" \
		state=done errors=0 verify_failures=0 "config=pages=$size max_order=4 iterations=2 threads=1 verify=1 scatter=1"
	flush_path "pages_array, scatter, $size pages" "$size"
	dmap_check "pages_array, scatter, $size pages: nothing non-WB in the direct map beyond the boot baseline"
done
# wc_wb_free takes its pages the same way, a new set each iteration.
ex_run wc_wb_free pages="$ceiling" iterations=4 threads=2
expect "wc_wb_free, scatter, $ceiling pages, 2 threads: every transition checked right" \
	state=done errors=0 verify_failures=0 ops=16
dmap_check "wc_wb_free, scatter: nothing non-WB in the direct map beyond the boot baseline"
ex_defaults

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

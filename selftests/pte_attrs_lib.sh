#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Helpers of the pte_attrs selftests; sourced after ktap_helpers.sh.

PA_DIR=/sys/kernel/debug/pte_attrs
PA_KO_DIR=/lib/modules/$(uname -r)/extra
PTDUMP=/sys/kernel/debug/page_tables/kernel

# ktap_check DESC CMD [ARG...]: one KTAP result, pass if CMD succeeds.
# (ktap_test_result of ktap_helpers.sh runs an unquoted $@, which splits
# arguments that hold spaces.)
ktap_check() {
	desc=$1
	shift
	if "$@"; then ktap_test_pass "$desc"; else ktap_test_fail "$desc"; fi
}

# log_since MARK PATTERN: the kernel log after MARK matches PATTERN.
log_since() { dmesg_since "$1" | grep -q -- "$2"; }
log_has() { dmesg | grep -q -- "$1"; }

# pa_ko NAME: path of module NAME.
pa_ko() { echo "$PA_KO_DIR/$1.ko"; }

# pa_load / pa_unload: pte_attrs itself, tolerating its current state.
pa_load() { [ -d /sys/module/pte_attrs ] || insmod "$(pa_ko pte_attrs)"; }
pa_unload() { [ ! -d /sys/module/pte_attrs ] || rmmod pte_attrs; }

# pa_lookup ADDR: writes ADDR to the lookup knob and keeps the report in
# $PA_REPORT; returns the write's status.
pa_lookup() {
	PA_REPORT=
	echo "$1" >"$PA_DIR/lookup" || return 1
	PA_REPORT=$(cat "$PA_DIR/lookup")
}

# pa_get KEY: the value of KEY in $PA_REPORT.
pa_get() { echo "$PA_REPORT" | sed -n "s/^$1=//p"; }

# pat_on: PAT is enabled (not booted with `nopat`), as the module reads
# pat_enabled().
pat_on() { grep -qx 'pat_enabled=1' "$PA_DIR/accessor"; }

# wc_mode: the cache mode a WC request really gets: WC with PAT, UC-
# without (the kernel's cachemode2protval() then maps WC to UC-).
wc_mode() { if pat_on; then echo WC; else echo UC-; fi; }

# ksym NAME: the address of kernel symbol NAME (hex, 0x-prefixed).
ksym() { awk -v n="$1" '$3 == n { print "0x" $1; exit }' /proc/kallsyms; }

# u_le A B: unsigned 64-bit A <= B (shell arithmetic is signed 64-bit:
# flip the sign bit of both).
u_le() { [ $(($1 ^ (1 << 63))) -le $(($2 ^ (1 << 63))) ]; }

# ptdump_read FILE: copies the kernel's page-table dump to FILE. The
# kernel's walk behind it (ptdump_walk_pgd) never yields, and seq_file
# runs it again each time its buffer grows: in the debug flavor
# (PREEMPT_NONE, KASAN, a direct map of 4K pages under DEBUG_PAGEALLOC)
# one read keeps a CPU for about 11 s under TCG, past the soft-lockup
# threshold of 10 s. So the soft-lockup threshold is raised to 120 s and
# RCU stall reports are held back for the read alone, then restored:
# the module is idle then, and the detectors watch it everywhere else.
ptdump_read() {
	_wt=$(cat /proc/sys/kernel/watchdog_thresh 2>/dev/null)
	_sup=/sys/module/rcupdate/parameters/rcu_cpu_stall_suppress
	_ss=$(cat $_sup 2>/dev/null)
	[ -n "$_wt" ] && [ "$_wt" != 0 ] && echo 60 >/proc/sys/kernel/watchdog_thresh
	[ -n "$_ss" ] && echo 1 >$_sup
	cat "$PTDUMP" >"$1"
	_r=$?
	[ -n "$_wt" ] && [ "$_wt" != 0 ] && echo "$_wt" >/proc/sys/kernel/watchdog_thresh
	[ -n "$_ss" ] && echo "$_ss" >$_sup
	return $_r
}

# ptdump_line ADDR: the line of the kernel's own page-table dump whose
# range holds ADDR (the dump reads entries through the paravirt hook).
ptdump_line() {
	ptdump_read /tmp/ptdump.line
	grep '^0x' /tmp/ptdump.line | while read -r range rest; do
		lo=${range%-*}
		hi=${range#*-}
		if u_le "$lo" "$1" && ! u_le "$hi" "$1"; then
			echo "$range $rest"
			break
		fi
	done
}

# ptdump_attrs LINE: the line's attributes in the lookup knob's terms:
# "present=1 rw=1 user=0 pwt=0 pcd=0 pat=0 global=1 nx=1 level=4K".
ptdump_attrs() {
	echo "$1" | awk '{
		lvl = $NF
		level = (lvl == "pte") ? "4K" : (lvl == "pmd") ? "2M" : (lvl == "pud") ? "1G" : lvl
		f["USR"] = 0; f["RW"] = 0; f["PWT"] = 0; f["PCD"] = 0; f["PAT"] = 0; f["GLB"] = 0; f["NX"] = 0
		present = 0
		for (i = 2; i < NF; i++) { if ($i in f) f[$i] = 1; if ($i == "RW" || $i == "ro") present = 1 }
		printf "present=%d rw=%d user=%d pwt=%d pcd=%d pat=%d global=%d nx=%d level=%s\n",
			present, f["RW"], f["USR"], f["PWT"], f["PCD"], f["PAT"], f["GLB"], f["NX"], level
	}'
}

# report_attrs: the same fields from $PA_REPORT.
report_attrs() {
	echo "present=$(pa_get present) rw=$(pa_get rw) user=$(pa_get user) pwt=$(pa_get pwt)" \
		"pcd=$(pa_get pcd) pat=$(pa_get pat) global=$(pa_get global) nx=$(pa_get nx)" \
		"level=$(pa_get level)"
}

# kpf_memtype PFN: the memtype the kernel records for RAM page PFN, from
# /proc/kpageflags (KPF_ARCH bit 38 = PG_arch_1, KPF_ARCH_2 bit 41 =
# PG_arch_2; memtype.c: neither WB, PG_arch_1 WC, PG_arch_2 UC-, both WT);
# nothing if PFN is no RAM page (past the file, or KPF_NOPAGE, bit 20).
kpf_memtype() {
	f=0x$(dd if=/proc/kpageflags bs=8 skip=$(($1)) count=1 2>/dev/null | od -A n -t x8 | tr -d ' ')
	[ "$f" != 0x ] && [ $(((f >> 20) & 1)) = 0 ] || return 0
	case $(((f >> 38) & 1))$(((f >> 41) & 1)) in
	00) echo WB ;;
	10) echo WC ;;
	01) echo UC- ;;
	11) echo WT ;;
	esac
}

# check_memtype_record WHAT ADDR: one KTAP result, where the kernel has no
# page-table dump: the cache mode of the lookup report of ADDR (in
# $PA_REPORT) is the memtype the kernel records for its RAM page. The
# frame of a direct-map address comes from the address (its offset from
# page_offset_base), not from the report. A skip, with the reason, for
# MMIO (pat_memtype_list has its memtype) and without PAT (no records).
check_memtype_record() {
	if ! pat_on; then
		ktap_test_skip "$1 agrees with page_tables/kernel: no $PTDUMP, and no memtype records without PAT"
		return
	fi
	po=$(sed -n 's/^page_offset=//p' "$PA_DIR/accessor")
	if u_le "$po" "$2" && u_le "$2" "$((po + (1 << 46) - 1))"; then
		pfn=$((($2 - po) >> 12))
	else
		pfn=$(pa_get pfn)
	fi
	rec=$(kpf_memtype "$pfn")
	if [ -z "$rec" ]; then
		ktap_test_skip "$1 agrees with page_tables/kernel: no $PTDUMP, and frame $pfn is no RAM page (no memtype record in /proc/kpageflags)"
	elif [ "$rec" = "$(pa_get cache)" ]; then
		ktap_print_msg "no $PTDUMP: frame $(printf '%#x' "$pfn") has the memtype record $rec (/proc/kpageflags)"
		ktap_test_pass "$1 agrees with the kernel's memtype record"
	else
		ktap_print_msg "frame $(printf '%#x' "$pfn"): memtype record $rec, the report: cache=$(pa_get cache)"
		ktap_test_fail "$1 agrees with the kernel's memtype record"
	fi
}

# attrs_check WHAT ORACLE WANT [SHOWN]: one KTAP result: the lookup
# report's attributes (report_attrs of $PA_REPORT) are WANT, as ORACLE
# gives them ("WHAT agrees with ORACLE"); SHOWN, what the oracle showed,
# is printed on a failure.
attrs_check() {
	got=$(report_attrs)
	if [ -n "$3" ] && [ "$3" = "$got" ]; then
		ktap_test_pass "$1 agrees with $2"
	else
		[ -z "$4" ] || ktap_print_msg "$4"
		ktap_print_msg "want: $3"
		ktap_print_msg "got:  $got"
		ktap_test_fail "$1 agrees with $2"
	fi
}

# check_ptdump WHAT ADDR: one KTAP result: the lookup report of ADDR (in
# $PA_REPORT) agrees with the kernel's page-table dump; without one
# (Debian's kernel: no CONFIG_PTDUMP_DEBUGFS), with the entry that maps
# ADDR read through /proc/kcore (memtype_scan entry), or else its cache
# mode with the kernel's memtype record of the page
# (check_memtype_record).
check_ptdump() {
	if [ -r "$PTDUMP" ]; then
		line=$(ptdump_line "$2")
		attrs_check "$1" page_tables/kernel "${line:+$(ptdump_attrs "$line")}" \
			"ptdump: ${line:-no line for $2}"
	elif [ "$(dmap_oracle)" = kcore ]; then
		want=$("$MEMTYPE_SCAN" entry "$2")
		attrs_check "$1" "the kernel's tables (/proc/kcore)" "$want" \
			"/proc/kcore: ${want:-no entry maps $2}"
	else
		check_memtype_record "$@"
	fi
}

# expect WHAT KEY=VALUE...: one KTAP result: every KEY of $PA_REPORT has
# its VALUE.
expect() {
	what=$1
	shift
	bad=
	for kv in "$@"; do
		v=$(pa_get "${kv%%=*}")
		[ "$v" = "${kv#*=}" ] || bad="$bad ${kv%%=*}=$v(want ${kv#*=})"
	done
	if [ -z "$bad" ]; then
		ktap_test_pass "$what"
	else
		ktap_print_msg "$what:$bad"
		echo "$PA_REPORT" | head -n 1 | sed 's/^/# /'
		ktap_test_fail "$what"
	fi
}

# dmesg_mark NAME: writes a mark to the kernel log. Each mark is unique:
# NAME, this test's PID and a counter ("pte_attrs-selftest-mark
# unload.123.2"), and $PA_MARK_LAST holds its text. dmesg_since NAME: the
# kernel log from the LAST mark NAME this test wrote (so a mark of the
# same name written by another test, or earlier, never matches).
PA_MARK_SEQ=0
dmesg_mark() {
	PA_MARK_SEQ=$((PA_MARK_SEQ + 1))
	PA_MARK_LAST="pte_attrs-selftest-mark $1.$$.$PA_MARK_SEQ"
	echo "$PA_MARK_LAST" >/dev/kmsg
}
dmesg_since() {
	dmesg | awk -v m="pte_attrs-selftest-mark $1.$$." '
		{ i = index($0, m) }
		i && substr($0, i + length(m)) ~ /^[0-9]+$/ { n = 0; found = 1 }
		found { buf[n++] = $0 }
		END { for (j = 0; j < n; j++) print buf[j] }'
}

# knob NAME VALUE: writes VALUE to the exerciser knob NAME.
knob() { echo "$2" >"$PA_DIR/$1"; }

# ex_state: the state line of the results.
ex_state() { sed -n 's/^state=//p' "$PA_DIR/results"; }

# ex_wait [SECONDS]: waits until no run is in progress (default 300 s).
ex_wait() {
	n=0
	while [ "$(ex_state)" = running ]; do
		n=$((n + 1))
		[ "$n" -gt $((${1:-300} * 10)) ] && return 1
		sleep 0.1
	done
}

# ex_run SCENARIO [KNOB=VALUE...]: configures, runs, waits; the results
# are in $PA_REPORT (so pa_get and expect read them).
ex_run() {
	knob scenario "$1"
	shift
	for kv in "$@"; do knob "${kv%%=*}" "${kv#*=}" || return 1; done
	knob run 1 || return 1
	ex_wait || return 1
	PA_REPORT=$(cat "$PA_DIR/results")
}

# ex_hold_wait SCENARIO TENTHS: starts the configured run of SCENARIO
# with `hold` set and waits (TENTHS tenths of a second at most) until it
# holds what it shows as SCENARIO.held; the results are in $PA_REPORT.
# Write 0 to `hold` to let the run go on.
ex_hold_wait() {
	knob hold 1
	knob scenario "$1"
	knob run 1
	n=0
	while ! grep -q "^$1.held=" "$PA_DIR/results" && [ $n -lt "$2" ]; do
		sleep 0.1
		n=$((n + 1))
	done
	PA_REPORT=$(cat "$PA_DIR/results")
}

# ex_hold_ioremap: a one-iteration ioremap run that holds its WC mapping
# (30 s at most to get there); the results are in $PA_REPORT.
ex_hold_ioremap() {
	knob iterations 1
	ex_hold_wait ioremap 300
}

# ex_defaults: the knobs back to their load-time values.
ex_defaults() {
	knob pages 16
	knob max_order 4
	knob iterations 8
	knob threads 1
	knob verify 1
	knob scatter 0
	knob bar auto
}

# nonzero KEY: the results value of KEY is a number above 0.
nonzero() { v=$(pa_get "$1"); [ -n "$v" ] && [ "$v" -gt 0 ]; }

# refused ERRNO_TEXT FILE VALUE: writing VALUE to FILE fails with the
# error whose message contains ERRNO_TEXT ("Invalid argument", ...).
refused() {
	out=$( (echo "$3" >"$PA_DIR/$2") 2>&1 )
	rc=$?
	[ "$rc" -ne 0 ] && echo "$out" | grep -q "$1"
}

# debug_pagealloc: the kernel unmaps freed pages from the direct map
# (DEBUG_PAGEALLOC on). It then maps the direct map with 4K pages only, so
# no present 2M or 1G entry is in its "Low Kernel Mapping" section; a Xen
# PV dom0 has no large pages there either, and never unmaps freed pages.
debug_pagealloc() {
	[ "$(sed -n 's/^xenpv=//p' "$PA_DIR/accessor" 2>/dev/null)" = 1 ] && return 1
	ptdump_read /tmp/ptdump.dpa
	! sed -n '/^---\[ Low Kernel Mapping \]---/,/^---\[/p' /tmp/ptdump.dpa |
		grep -E '(RW|ro) .* (pmd|pud)$' | grep -q .
}

# --- The direct map -------------------------------------------------------
# Nothing the module changed may stay non-WB in the kernel's direct map
# (the "Low Kernel Mapping" section of page_tables/kernel, up to the next
# "---[" header: arch/x86/mm/dump_pagetables.c) after a run ends, stops or
# fails, or after unload, except the GEM pool's live blocks before they
# are evicted. Non-WB: an entry with PWT, PCD or PAT set (WB is PAT index
# 0 on native and Xen). What was non-WB at boot, before the module was
# first loaded, is the baseline (/tmp/dmap-baseline, written by the
# guest's init).
DMAP_BASELINE=/tmp/dmap-baseline

# dmap_oracle: what dmap_nonwb reads, decided once a boot (in
# /tmp/dmap-oracle): "ptdump" (the kernel's page-table dump: the PAT bits
# of the direct map's entries); else "kcore" (the same entries, the
# kernel's tables read through /proc/kcore by memtype_scan; not under Xen
# PV, nor under lockdown); else "kpageflags" (the kernel's memtype record
# of each RAM page, which a page loses when it is freed: a page freed
# while WC is not seen); else nothing.
MEMTYPE_SCAN=${DIR:-/kselftest/pte_attrs}/memtype_scan
dmap_oracle() {
	if [ ! -s /tmp/dmap-oracle ]; then
		if [ -r "$PTDUMP" ]; then
			echo ptdump
		elif [ -x "$MEMTYPE_SCAN" ] && "$MEMTYPE_SCAN" kcore >/dev/null 2>&1; then
			echo kcore
		elif [ -x "$MEMTYPE_SCAN" ] && [ -r /proc/kpageflags ]; then
			echo kpageflags
		else
			echo none
		fi >/tmp/dmap-oracle
	fi
	o=$(cat /tmp/dmap-oracle)
	[ "$o" = none ] || echo "$o"
}

# dmap_nonwb: the non-WB ranges of the direct map, one "first end" pair
# of page numbers a line, counted from the start of the direct map, from
# dmap_oracle's source.
dmap_nonwb() {
	case $(dmap_oracle) in
	ptdump) ;;
	kcore | kpageflags)
		"$MEMTYPE_SCAN" "$(dmap_oracle)"
		return
		;;
	*) return 0 ;;
	esac
	ptdump_read /tmp/dmap.dump
	sed -n '/^---\[ Low Kernel Mapping \]---/,/^---\[/p' /tmp/dmap.dump | grep '^0x' >/tmp/dmap.lines
	rm -f /tmp/dmap.dump
	base=$(head -n 1 /tmp/dmap.lines)
	base=${base%%-*}
	grep -E ' (PWT|PCD|PAT) ' /tmp/dmap.lines | while read -r range rest; do
		lo=${range%-*}
		hi=${range#*-}
		echo "$(((lo - base) >> 12)) $(((hi - base) >> 12))"
	done
	rm -f /tmp/dmap.lines
}

# dmap_baseline: writes the baseline, unless there is one.
dmap_baseline() {
	[ -f "$DMAP_BASELINE" ] && return
	[ -d /sys/module/pte_attrs ] &&
		echo "# dmap: no $DMAP_BASELINE (the harness writes it at boot): taking it now, with the module loaded"
	dmap_nonwb >"$DMAP_BASELINE"
}

# dmap_extra: how many pages of the direct map are non-WB now and were not
# in the baseline. The ranges they are in go to /tmp/dmap-extra.
dmap_extra() {
	dmap_baseline
	dmap_nonwb >/tmp/dmap-now
	awk -v bf="$DMAP_BASELINE" '
		BEGIN { nb = 0; while ((getline l < bf) > 0) { split(l, f, " "); bl[nb] = f[1]; bh[nb] = f[2]; nb++ } }
		{
			n = $2 - $1
			for (i = 0; i < nb; i++) {
				lo = ($1 > bl[i]) ? $1 : bl[i]
				hi = ($2 < bh[i]) ? $2 : bh[i]
				if (hi > lo) n -= hi - lo
			}
			if (n > 0) { s += n; printf "pages %d-%d (%d not in the baseline)\n", $1, $2, n > "/tmp/dmap-extra" }
		}
		END { print s + 0 }' /tmp/dmap-now
}

# dmap_check DESC [ALLOWED]: one KTAP result: at most ALLOWED (default 0)
# direct-map pages are non-WB beyond the baseline.
dmap_check() {
	oracle=$(dmap_oracle)
	if [ -z "$oracle" ]; then
		ktap_test_skip "$1: no $PTDUMP (CONFIG_PTDUMP_DEBUGFS), /proc/kcore or /proc/kpageflags"
		return
	fi
	: >/tmp/dmap-extra
	extra=$(dmap_extra)
	if [ "$extra" -le "${2:-0}" ]; then
		case $oracle in
		kcore) ktap_print_msg "(no $PTDUMP: the direct map's entries read through /proc/kcore)" ;;
		kpageflags) ktap_print_msg "(no $PTDUMP: the memtype records of /proc/kpageflags; freed pages have none)" ;;
		esac
		ktap_test_pass "$1"
	else
		ktap_print_msg "direct map ($oracle): $extra pages non-WB beyond the boot baseline (allowed ${2:-0}):"
		head -n 5 /tmp/dmap-extra | sed 's/^/#   /'
		ktap_test_fail "$1"
	fi
}

# dmap_check_pool DESC: dmap_check allowing the GEM pool's live blocks
# (results: pool_pages), which stay WC/UC- until evicted.
dmap_check_pool() {
	pool=$(sed -n 's/^pool_pages=//p' "$PA_DIR/results")
	ktap_print_msg "the GEM pool holds ${pool:-0} pages"
	dmap_check "$1" "${pool:-0}"
}

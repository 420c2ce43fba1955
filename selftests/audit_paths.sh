#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The audit's other paths (issue 17): a second `audit` write while one
# runs (EBUSY), a writer killed by SIGKILL in the middle of one (EINTR,
# the partial report kept), and a real MMIO alias in the VM.
#
# - EBUSY: two writers start together; one must get EBUSY while the other
#   runs its audit to the end. Whether they overlap is up to the
#   scheduler, so a round where they did not (both ran, one after the
#   other) is tried again, at most 20 times; the check fails if no round
#   overlapped.
# - EINTR: a writer starts a full audit; a probe write of the small
#   `fixmap` region gets EBUSY exactly while that audit runs, and then
#   the writer is killed with SIGKILL at once. The audit stops at its next
#   step (it checks for a fatal signal between steps): the report says
#   complete=0 and has fewer steps than a full one, the module logs
#   "interrupted (EINTR)", and the next audit is complete. A kill that
#   came after the last step (complete=1) is tried again, at most 50
#   times.
# - MMIO alias: `mmio_alias` (allow_alias=1 only) maps the last page of
#   the BAR of the device bound to pte_attrs twice, WC and UC (UC- and UC
#   without PAT); the audit must find one frame more mapped twice, that
#   frame, listed with both addresses and modes; dropping it, unbinding the
#   device and rmmod each undo it (pat_memtype_list, /proc/iomem).
#
# Every check here can fail: see docs/tests.md for what each printed
# against a build broken on purpose.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

MEMTYPES=/sys/kernel/debug/x86/pat_memtype_list
PARAM=/sys/module/pte_attrs/parameters/allow_alias
PCI=/sys/bus/pci

ktap_print_header
pa_load
if [ ! -e "$PA_DIR/mmio_alias" ]; then
	ktap_skip_all "no $PA_DIR/mmio_alias in this build of the module"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 16
# Whether PAT is on, asked once: the module is unloaded near the end.
if pat_on; then PAT=1; else PAT=0; fi
WC=$(wc_mode)
ex_defaults
knob alias 0 2>/dev/null
knob mmio_alias 0 2>/dev/null

# audit_write WHAT ERRFILE: writes WHAT to `audit`, the shell's error
# message (if any) in ERRFILE; returns the write's status. No subshell: no
# fork between a probe and the kill that follows it.
audit_write() { { echo "$1" >"$PA_DIR/audit"; } 2>"$2"; }

# busy ERRFILE: the write whose message is in ERRFILE got EBUSY.
busy() { grep -q 'busy' "$1"; }

# report: the last report into $PA_REPORT.
report() { PA_REPORT=$(cat "$PA_DIR/audit"); }

# --- EBUSY ----------------------------------------------------------------
dmesg_mark audit_busy
round=0
outcome=
while [ $round -lt 20 ]; do
	round=$((round + 1))
	audit_write 1 /tmp/ap.a.err &
	a=$!
	audit_write 1 /tmp/ap.b.err
	brc=$?
	wait "$a"
	arc=$?
	if [ $arc -eq 0 ] && [ $brc -eq 0 ]; then
		continue # no overlap: one ran after the other
	fi
	if [ $arc -eq 0 ] && [ $brc -ne 0 ] && busy /tmp/ap.b.err; then
		outcome="the second writer got EBUSY ($(cat /tmp/ap.b.err)), the first ran to the end"
	elif [ $brc -eq 0 ] && [ $arc -ne 0 ] && busy /tmp/ap.a.err; then
		outcome="the writer that came second got EBUSY ($(cat /tmp/ap.a.err)), the other ran to the end"
	else
		outcome="unexpected: first rc=$arc ($(cat /tmp/ap.a.err)), second rc=$brc ($(cat /tmp/ap.b.err))"
	fi
	break
done
ktap_print_msg "EBUSY, round $round: ${outcome:-the writers never overlapped}"
report
full_steps=$(pa_get steps)
got_busy() { echo "$outcome" | grep -q 'got EBUSY'; }
ktap_check "a second audit write while one runs gets EBUSY, the running one succeeds" got_busy
expect "the audit that ran has a full report (complete=1)" complete=1
ktap_check "the refused write is logged: an audit is running" \
	log_since audit_busy "audit: an audit is running"

# --- EINTR ----------------------------------------------------------------
dmesg_mark audit_eintr
round=0
killed=
while [ $round -lt 50 ]; do
	round=$((round + 1))
	(echo 1 >"$PA_DIR/audit") 2>/dev/null &
	w=$!
	n=0
	killed=
	while [ $n -lt 500 ] && kill -0 "$w" 2>/dev/null; do
		n=$((n + 1))
		if ! audit_write fixmap /tmp/ap.p.err && busy /tmp/ap.p.err; then
			kill -9 "$w" 2>/dev/null
			killed=1
			break
		fi
	done
	wait "$w" 2>/dev/null
	wrc=$?
	report
	[ -n "$killed" ] && [ "$(pa_get complete)" = 0 ] && break
	killed=
done
ktap_print_msg "EINTR, round $round: writer status $wrc, probes $n, report complete=$(pa_get complete)" \
	"steps=$(pa_get steps) (a full audit: $full_steps), entries=$(pa_get entries)"
partial() {
	[ -n "$killed" ] && [ "$(pa_get complete)" = 0 ] &&
		[ "$(pa_get steps)" -lt "$full_steps" ]
}
ktap_check "a writer killed by SIGKILL mid-audit ends it early: the report kept is partial (complete=0, fewer steps)" partial
ktap_check "the killed writer died of SIGKILL (status 137)" test "$wrc" = 137
ktap_check "the module logs why: interrupted (EINTR) by a fatal signal" \
	log_since audit_eintr "audit: interrupted (EINTR) by a fatal signal"
audit_write 1 /tmp/ap.err
report
expect "the next audit runs to completion" complete=1
# MMIO aliases of the kernel's own, before ours: none natively, but a
# kernel booted with `nopat` maps the HPET (0xfed00) both WB and UC-.
base=$(pa_get mmio_aliases)
[ "$base" = 0 ] || ktap_print_msg "before the alias: mmio_aliases=$base:" \
	"$(echo "$PA_REPORT" | grep '^mmio_alias ')"

# --- A real MMIO alias ----------------------------------------------------
was=$(cat "$PARAM")
echo 0 >"$PARAM"
mmio_refused() {
	refused "Operation not permitted" mmio_alias auto &&
		grep -qx 'mmio_alias=0' "$PA_DIR/mmio_alias"
}
ktap_check "without allow_alias the mmio_alias knob is refused (EPERM) and maps nothing" mmio_refused
echo 1 >"$PARAM"

# From here on the kernel must never find a memtype freed that it does
# not hold (memtype.c: "freeing invalid memtype"): the alias's two
# reservations are given back once each, after both mappings are gone.
dmesg_mark alias_made
no_invalid_free() {
	if log_since alias_made "freeing invalid memtype"; then
		ktap_print_msg "the kernel freed a memtype it did not hold:"
		dmesg_since alias_made | grep "freeing invalid memtype" | head -n 3 | sed 's/^/#   /'
		return 1
	fi
}
if ! knob mmio_alias auto 2>/tmp/ap.err; then
	ktap_print_msg "mmio_alias auto: $(cat /tmp/ap.err)"
	ktap_test_fail "an MMIO alias is made on the BAR of the device bound to pte_attrs"
	for what in "the alias's two mappings through the accessor" "pat_memtype_list while the alias lives" \
		"the audit lists the alias" "the alias dropped" "unbind undoes the alias" \
		"bound again, a new alias" "rmmod with the alias live"; do
		ktap_test_skip "$what: no MMIO alias was made"
	done
	echo "$was" >"$PARAM"
	ktap_finished
	exit
fi
ktap_test_pass "an MMIO alias is made on the BAR of the device bound to pte_attrs"
info=$(cat "$PA_DIR/mmio_alias")
get() { echo "$info" | sed -n "s/^$1=//p"; }
dev=$(get device)
pfn=$(get pfn)
wc=$(get wc)
uc=$(get uc)
page=$(printf '[mem 0x%016x-0x%016x]' $((pfn << 12)) $(((pfn + 1) << 12)))
ktap_print_msg "mmio alias: $dev frame $pfn $page, WC at $wc, UC at $uc"
modes() {
	pa_lookup "$wc" && [ "$(pa_get cache)" = "$WC" ] && [ "$(pa_get pfn)" = "$pfn" ] &&
		pa_lookup "$uc" && [ "$(pa_get cache)" = UC ] && [ "$(pa_get pfn)" = "$pfn" ]
}
ktap_check "through the accessor one mapping is $WC, the other UC, both of frame $pfn" modes
if [ $PAT = 1 ]; then
	stays_wc() {
		grep -qF "$page write-combining" "$MEMTYPES" && return
		ktap_print_msg "pat_memtype_list for $page: $(grep -F "$page" "$MEMTYPES" | tr '\n' ' ')"
		return 1
	}
	ktap_check "pat_memtype_list: the page's memtype stays write-combining" stays_wc
else
	ktap_test_skip "pat_memtype_list: no PAT (nopat), no memtype list"
fi

# The audit: one frame more mapped twice, in two modes; one line for it,
# whichever of the two mappings the walk met first.
audit_write 1 /tmp/ap.err
report
echo "$PA_REPORT" | grep "^mmio_alias pfn=$pfn " >/tmp/ap.list
ktap_print_msg "listed: $(cat /tmp/ap.list)"
one="mmio_alias pfn=$pfn frames=1 addr=$uc level=4K mode=UC other=$wc other_mode=$WC"
other="mmio_alias pfn=$pfn frames=1 addr=$wc level=4K mode=$WC other=$uc other_mode=UC"
listed() {
	[ "$(pa_get mmio_aliases)" = $((base + 1)) ] && [ "$(wc -l </tmp/ap.list)" = 1 ] &&
		{ grep -qxF "$one" /tmp/ap.list || grep -qxF "$other" /tmp/ap.list; }
}
ktap_check "the audit lists the MMIO alias: one frame more, its frame, both addresses, $WC against UC" listed

# Dropped: both mappings unmapped, the memtype and the BAR given back.
knob mmio_alias 0
audit_write 1 /tmp/ap.err
report
gone() {
	[ "$(pa_get mmio_aliases)" = "$base" ] && ! echo "$PA_REPORT" | grep -q "^mmio_alias pfn=$pfn " &&
		grep -qx 'mmio_alias=0' "$PA_DIR/mmio_alias" &&
		pa_lookup "$wc" && [ "$(pa_get mapped)" = 0 ] &&
		pa_lookup "$uc" && [ "$(pa_get mapped)" = 0 ] &&
		! grep -q pte_attrs /proc/iomem &&
		{ [ $PAT = 0 ] || ! grep -qF "$page" "$MEMTYPES"; } && no_invalid_free
}
ktap_check "once dropped, no mmio_alias is found and nothing of it is left (mappings, iomem, memtypes)" gone

# Unbind: the removal undoes the alias before the device goes; bound
# again (driver_override stays), the device takes a new one.
knob mmio_alias "$dev"
dmesg_mark audit_unbind
echo "$dev" >"$PCI/drivers/pte_attrs/unbind"
unbound() {
	grep -qx 'mmio_alias=0' "$PA_DIR/mmio_alias" &&
		log_since audit_unbind "MMIO alias on its BAR is undone" &&
		! grep -q pte_attrs /proc/iomem &&
		{ [ $PAT = 0 ] || ! grep -qF "$page" "$MEMTYPES"; } && no_invalid_free
}
ktap_check "unbinding the device undoes the alias (log, iomem, memtypes)" unbound
echo "$dev" >"$PCI/drivers_probe"

# Unload with the alias live: nothing is left.
rebound() { knob mmio_alias "$dev" && grep -qx 'mmio_alias=1' "$PA_DIR/mmio_alias"; }
ktap_check "bound again, the device takes a new alias" rebound
unloaded() {
	rmmod pte_attrs && ! grep -q pte_attrs /proc/iomem &&
		{ [ $PAT = 0 ] || ! grep -qF "$page" "$MEMTYPES"; } && no_invalid_free
}
what="rmmod with the alias live unloads and leaves nothing (iomem, memtypes)"
if grep -qx 'mmio_alias=1' "$PA_DIR/mmio_alias"; then
	ktap_check "$what" unloaded
else
	ktap_test_skip "$what: no live alias to unload with"
	rmmod pte_attrs
fi
pa_load
echo "$was" >"$PARAM"
ex_defaults
ktap_finished

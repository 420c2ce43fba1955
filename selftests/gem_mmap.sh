#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# GEM objects mapped into user space (/dev/pte_attrs): a static helper
# (gem_mmap_helper, built by the harness) maps WC and UC- objects, writes
# through them and reads its own user PTEs through `lookup user ADDR`:
# each is in the object's cache mode, agrees with the direct map, maps
# the object's own frame, and has the U/S, RW and NX bits its mapping
# asked for. A user PTE in the wrong cache mode is caught: the tests' raw
# insert (as i915 writes its PTEs, no memtype lookup) of WB over WC pages
# must turn every page red, while vmf_insert_pfn_prot() asked for WB still
# gives the page's memtype. Eviction under a live mapping zaps it first
# (no user PTE ever maps a freed page: the faulting child looks its own
# PTEs up meanwhile) and the next access refaults to new pages; a refault
# that cannot get pages (debug flavor: injected) gets SIGBUS; destroying
# the object makes the next access SIGBUS. PFNS and BAR_HOLD need
# CAP_SYS_ADMIN at each call. Bad mmaps and ioctls get clear errors, and
# rmmod is refused while a mapping lives.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

HELPER=$DIR/gem_mmap_helper
ROUNDS=${PTE_ATTRS_GEM_ROUNDS:-20}

ktap_print_header
ktap_set_plan 33
pa_load

# run_helper ARGS: the helper's output in $PA_REPORT (and as comments).
run_helper() {
	PA_REPORT=$("$HELPER" "$@" 2>&1)
	echo "$PA_REPORT" | grep -v '^stats\.' | sed 's/^/# /'
	echo "$PA_REPORT" | grep '^stats\.' | tr '\n' ' ' | sed 's/^/# /; s/$/\n/'
}

dev=$(stat -c '%F %a %u' /dev/pte_attrs 2>/dev/null)
ktap_print_msg "/dev/pte_attrs: $dev"
ktap_check "/dev/pte_attrs is a root-only character device (0600)" \
	test "$dev" = "character special file 600 0"

# What a WC request really gets: WC, or UC- when booted with nopat.
WC=$(wc_mode)
# NX is set in every user PTE not mapped executable, on a CPU that has it.
nx=0
grep -q '^flags.* nx' /proc/cpuinfo && nx=1
run_helper check wc 64 rw
expect "a WC object: every user PTE is $WC, agrees with the direct map and maps the object's frame" \
	ptes_checked=64 ptes_wrong=0 data_wrong=0 stats.pages_wrong=0
# Under Xen PV the stored user PTEs have G set (Xen's doing, not Linux's):
# G is checked natively only.
xenpv=$(sed -n 's/^xenpv=//p' "$PA_DIR/accessor")
g_note="not G"
[ "$xenpv" = 1 ] && g_note="G set by Xen PV: first_global=$(pa_get first_global)"
expect "its user PTEs have the bits the mapping asked for (U/S, RW, NX=$nx, special; $g_note), user= once" \
	bits_wrong=0 user_lines_not_1=0 \
	first_bits="user=1 rw=1 nx=$nx special=1 lookup=user"
# Under Xen PV a user PTE holds a machine frame: its raw view differs from
# the paravirt one, whose frame is the object's (checked for every page
# above).
views=same
[ "$xenpv" = 1 ] && views=differ
ktap_check "the first user PTE reads $WC with the direct map $WC (views=$views)" \
	test "$(echo "$PA_REPORT" | sed -n 's/^first: //p')" = \
	"mapped=1 cache=$WC direct_map_cache=$WC agrees=1 views=$views"

run_helper check uc 16 rw
expect "a UC- object: every user PTE is UC- and agrees with the direct map" \
	ptes_checked=16 ptes_wrong=0 bits_wrong=0 data_wrong=0 stats.pages_wrong=0

# What the mapping asked for, in the PTE's own bits: a report built from
# the direct-map entry (kernel, RW, NX) would fail both.
run_helper check wc 8 ro
expect "a PROT_READ mapping: its user PTEs are user, RW clear, NX=$nx; it reads zero" \
	ptes_wrong=0 bits_wrong=0 data_wrong=0 \
	first_bits="user=1 rw=0 nx=$nx special=1 lookup=user"
run_helper check uc 8 rx
expect "a PROT_READ|PROT_EXEC mapping: its user PTEs are user, RW clear, NX clear" \
	ptes_wrong=0 bits_wrong=0 data_wrong=0 \
	first_bits="user=1 rw=0 nx=0 special=1 lookup=user"

# A fault handler that asks for the wrong cache mode. Through
# vmf_insert_pfn_prot() (CREATE flag 1) the kernel replaces the cache bits
# with the page's memtype (7.x pfnmap_setup_cachemode_pfn(), 6.12
# track_pfn_insert()): still WC. Without PAT (nopat) nothing replaces
# them: WB, over pages the direct map has UC-, caught. Written directly
# (flag 2, as i915's remap_io_mapping() writes its PTEs) with the right
# mode: WC too. Both (flag 3): a WB user PTE over WC pages, which the
# check must catch on every page; it is an alias, refused unless
# allow_alias=1.
run_helper check wc 16 rw 1
if pat_on; then
	expect "vmf_insert_pfn_prot() asked for WB on WC pages: the kernel still gives WC" \
		create=ok ptes_wrong=0 cache_wb=0 bits_wrong=0
else
	expect "without PAT, vmf_insert_pfn_prot() asked for WB keeps WB (nothing corrects it): caught on every page" \
		create=ok ptes_wrong=16 cache_wb=16 disagree=16 bits_wrong=0
fi
run_helper check wc 16 rw 2
expect "a PTE written directly with $WC (as i915 writes them): $WC, agrees" \
	create=ok ptes_wrong=0 cache_wb=0 bits_wrong=0
run_helper check wc 16 rw 3
expect "a raw WB insert over WC pages is refused without allow_alias" create=EPERM
param=/sys/module/pte_attrs/parameters/allow_alias
if [ -w "$param" ]; then
	echo 1 >"$param"
	run_helper check wc 16 rw 3
	wc_red="$(pa_get ptes_wrong)/$(pa_get cache_wb)/$(pa_get disagree)"
	run_helper check uc 8 rw 3
	echo 0 >"$param"
	ktap_print_msg "raw WB inserts: WC object wrong/WB/disagree=$wc_red," \
		"UC- object $(pa_get ptes_wrong)/$(pa_get cache_wb)/$(pa_get disagree)"
	ktap_check "a WB user PTE over WC or UC- pages is caught on every page (the check can fail)" \
		test "$wc_red $(pa_get ptes_wrong)/$(pa_get cache_wb)/$(pa_get disagree) $(pa_get stats.pages_wrong)" \
		= "16/16/16 8/8/8 0"
else
	ktap_test_fail "a WB user PTE over WC or UC- pages is caught on every page: no $param"
fi

run_helper privilege
expect "after setuid(nobody) on a root-opened file: PFNS, BAR_HOLD and the test inserts get EPERM" \
	priv.root_pfns=ok priv.uid=65534 priv.pfns=EPERM priv.bar_hold=EPERM \
	priv.create_test_flags=EPERM
expect "... and everything else still works on that file" \
	priv.create=ok priv.mapped_write=ok priv.evict=ok priv.refault=ok priv.stats=ok \
	priv.bar_release=ENOENT priv.destroy=ok

run_helper errors
expect "bad mmaps get clear errors (EINVAL, ENXIO, ENOENT)" \
	err.ok=ok err.too_large=EINVAL err.past_end=EINVAL err.private=EINVAL \
	err.no_object=ENXIO err.offset_zero=ENXIO err.other_file=ENXIO err.gone=ENOENT
expect "bad ioctls get clear errors" \
	err.destroy_again=ENOENT err.create_zero=EINVAL err.create_big=EINVAL \
	err.create_wb=EINVAL err.create_fault=EFAULT err.unknown_ioctl=ENOTTY

dmesg_mark evict
run_helper evict "$ROUNDS"
expect "eviction under a live mapping: no user PTE maps a freed or foreign page, none aliases" \
	rounds="$ROUNDS" stale=0 alias=0 ioctl_failed=0 stats.pages_wrong=0 stats.pages_leaked=0
ktap_print_msg "the child's own lookups: $(pa_get child_lookups), settled $(pa_get child_settled)" \
	"(mapped $(pa_get child_settled_mapped)), zapped $(pa_get child_zapped)," \
	"stale $(pa_get child_stale), alias $(pa_get child_alias)"
child_own() {
	[ "$(pa_get child_stale)/$(pa_get child_alias)" = 0/0 ] &&
		nonzero child_settled_mapped && nonzero child_lookups
}
ktap_check "the faulting child's own PTEs during the evictions: never a stale frame, never WC over non-WC" \
	child_own
zaps=$(pa_get stats.zaps)
evictions=$(pa_get stats.evictions)
ktap_print_msg "zaps=$zaps evictions=$evictions refaults=$(pa_get stats.refaults)" \
	"faults=$(pa_get stats.faults) sigbus=$(pa_get stats.sigbus)" \
	"zapped_seen=$(pa_get zapped_seen) mapped_seen=$(pa_get mapped_seen) child_touches=$(pa_get child_touches)" \
	"child_lost=$(pa_get child_lost)"
# mean_ns TOTAL COUNT: TOTAL/COUNT, or - for no count.
mean_ns() { [ "${2:-0}" -gt 0 ] && echo $(($1 / $2)) || echo -; }
ktap_print_msg "latency, mean/max ns:" \
	"fault $(mean_ns "$(pa_get stats.fault_ns)" $(($(pa_get stats.faults) + $(pa_get stats.sigbus))))/$(pa_get stats.fault_ns_max)" \
	"zap $(mean_ns "$(pa_get stats.zap_ns)" "$zaps")/$(pa_get stats.zap_ns_max)" \
	"populate $(mean_ns "$(pa_get stats.populate_ns)" "$(pa_get stats.populations)")/$(pa_get stats.populate_ns_max)" \
	"evict $(mean_ns "$(pa_get stats.evict_ns)" "$evictions")/$(pa_get stats.evict_ns_max)"
# The debugfs `gem` file shows the same counters as the device's stats
# ioctl the helper read last (nothing ran in between).
gem_file() { sed -n "s/^gem\.$1=//p" "$PA_DIR/gem"; }
ktap_print_msg "gem file: $(grep -E '^gem\.(faults|refaults|sigbus|zaps|evictions|pages_wrong|refault_failed)=' "$PA_DIR/gem" | tr '\n' ' ')"
ktap_check "the gem file agrees with the stats ioctl (zaps, evictions, refaults, faults, refault_failed)" \
	test "$(gem_file zaps)/$(gem_file evictions)/$(gem_file refaults)/$(gem_file faults)/$(gem_file refault_failed)" = \
	"$zaps/$evictions/$(pa_get stats.refaults)/$(pa_get stats.faults)/$(pa_get stats.refault_failed)"
ktap_check "every eviction zapped first (zaps >= evictions >= $ROUNDS)" \
	test "${zaps:-0}" -ge "${evictions:-0}" -a "${evictions:-0}" -ge "$ROUNDS"
ktap_check "after eviction the child refaulted to new pages (no SIGBUS), which the parent saw mapped" \
	test "$(pa_get stats.refaults)" -gt 0 -a "$(pa_get child_lost)" -gt 0 \
	-a "$(pa_get child_sigbus_live)" = 0 -a "$(pa_get mapped_seen)" -gt 0 \
	-a "$(pa_get zapped_seen)" -gt 0
expect "after destroy the child's next access got SIGBUS and nothing is mapped" \
	child_sigbus_gone=1 child_exit=0 after_destroy_mapped=0
no_report() { ! dmesg_since evict | grep -E 'BUG:|WARNING:|Bad page|bad pte'; }
ktap_check "the kernel log has no report (BUG, WARNING, bad page) since the evictions" no_report

# A refault whose allocation fails (debug flavor: fail_page_alloc aimed
# at the helper alone, which sets its make-it-fail just before the access
# and clears it at once after): SIGBUS, counted apart from the destroyed
# objects' SIGBUS; never VM_FAULT_OOM, which the #PF handler would only
# retry ("VM_FAULT_OOM leaked out"), forever while allocations fail.
FP=/sys/kernel/debug/fail_page_alloc
if [ -d "$FP" ]; then
	fp_saved=
	for a in probability interval times space verbose task-filter ignore-gfp-wait min-order; do
		fp_saved="$fp_saved $a=$(cat "$FP/$a")"
	done
	echo 100 >$FP/probability
	echo 1 >$FP/interval
	echo -1 >$FP/times
	echo 0 >$FP/space
	echo 0 >$FP/verbose
	echo Y >$FP/task-filter
	echo N >$FP/ignore-gfp-wait
	echo 0 >$FP/min-order
	dmesg_mark refault
	run_helper refault_fail
	for kv in $fp_saved; do echo "${kv#*=}" >"$FP/${kv%%=*}"; done
	expect "a refault whose allocation fails gets SIGBUS at once, not a fault retried (looped)" \
		refault.sigbus=1 refault.looped=0
	expect "... counted in refault_failed (not sigbus); the next access refaults to new pages" \
		refault.failed_counted=1 refault.sigbus_counted=0 refault.refaults_counted=0 \
		refault.after=ok stats.pages_wrong=0 stats.pages_leaked=0 stats.live=0
	oom_leak() { ! dmesg_since refault | grep 'VM_FAULT_OOM leaked out'; }
	ktap_check "no VM_FAULT_OOM leaked out to the #PF handler" oom_leak
else
	for t in "a refault whose allocation fails gets SIGBUS" "... counted in refault_failed" \
		"no VM_FAULT_OOM leaked out"; do
		ktap_test_skip "$t: no $FP (CONFIG_FAIL_PAGE_ALLOC: FLAVOR=debug)"
	done
fi

# The device's own fuzz: random creates (sizes and modes in and out of
# range), mmaps (any offset, length, private or shared), touches (SIGBUS
# once destroyed), evictions, destroys, pfn queries with bad pointers, any
# ioctl number, closes; the seed is printed and PTE_ATTRS_GEM_FUZZ_SEED
# repeats it.
seed=${PTE_ATTRS_GEM_FUZZ_SEED:-$(date +%s)}
dmesg_mark fuzz
run_helper fuzz "${PTE_ATTRS_GEM_FUZZ_OPS:-3000}" "$seed"
expect "the device fuzz: only the documented errnos, no wrong or leaked page, nothing left after close" \
	fuzz.other=0 fuzz.lookup_bad=0 stats.pages_wrong=0 stats.pages_leaked=0 stats.live=0
fuzz_clean() { nonzero fuzz.ok && nonzero fuzz.einval && ! dmesg_since fuzz | grep -E 'BUG:|WARNING:|Bad page|bad pte'; }
ktap_check "the fuzz did work (some ok, some refused) and the log has no report" fuzz_clean

# rmmod while a process maps an object (its fd closed): the mapping holds
# the file, which holds the module.
"$HELPER" hold >/tmp/gem_hold.out 2>&1 &
hold=$!
n=0
while [ $n -lt 100 ] && ! grep -q ready /tmp/gem_hold.out; do
	sleep 0.1
	n=$((n + 1))
done
rmmod pte_attrs 2>/tmp/gem_rmmod.err
rc=$?
ktap_print_msg "rmmod with a live mapping: rc=$rc $(cat /tmp/gem_rmmod.err)"
ktap_check "rmmod with a live mapping is refused and the module stays" \
	test "$rc" -ne 0 -a -d /sys/module/pte_attrs
kill "$hold"
wait "$hold" 2>/dev/null
ktap_check "once the process is gone, rmmod succeeds" rmmod pte_attrs
pa_load
dmap_check "nothing is non-WB in the direct map afterwards"

# The DRM BAR paths on a claimed display BAR, held by the helper: every
# page of every mapping WC, the BAR's memtype entries in pat_memtype_list
# all write-combining while held, none once the helper is gone.
PAT_LIST=/sys/kernel/debug/x86/pat_memtype_list
"$HELPER" bar >/tmp/gem_bar.out 2>&1 &
barpid=$!
n=0
while [ $n -lt 600 ] && ! grep -q -e ready -e bar.err /tmp/gem_bar.out; do
	sleep 0.1
	n=$((n + 1))
done
PA_REPORT=$(cat /tmp/gem_bar.out)
echo "$PA_REPORT" | sed 's/^/# /'
expect "the DRM BAR paths map every page WC (io_mapping, map_local, map_wc, memremap)" \
	bar.iomap_wrong=0 bar.local_wrong=0 bar.map_wc_wrong=0 bar.memremap_wrong=0 \
	bar.second_hold=EBUSY bar.release_not_held=ENOENT
ktap_print_msg "arch_phys_wc_add() returned $(pa_get bar.phys_wc)" \
	"(0: nothing to do with PAT; pat_enabled=$(sed -n 's/^pat_enabled=//p' "$PA_DIR/accessor"))"
bstart=$(pa_get bar.start)
held=$(grep -c "mem $bstart-" "$PAT_LIST" 2>/dev/null)
notwc=$(grep "mem $bstart-" "$PAT_LIST" 2>/dev/null | grep -vc write-combining)
grep "mem $bstart-" "$PAT_LIST" 2>/dev/null | sed 's/^/# /'
if pat_on; then
	ktap_check "while held, pat_memtype_list has the BAR's 3 entries (reserve, io_mapping, memremap), all write-combining" \
		test -n "$bstart" -a "${held:-0}" -eq 3 -a "${notwc:-1}" = 0 \
		-a "$(pa_get bar.iomap_pages)" -gt 0
else
	ktap_test_skip "while held, pat_memtype_list has the BAR's 3 entries: no PAT (nopat), no memtype list"
fi
kill "$barpid"
wait "$barpid" 2>/dev/null
sleep 0.2
if pat_on; then
	ktap_check "after release, pat_memtype_list has no entry of the BAR" \
		sh -c "! grep -q 'mem $bstart-' $PAT_LIST"
else
	ktap_test_skip "after release, pat_memtype_list has no entry of the BAR: no PAT (nopat), no memtype list"
fi

ktap_finished

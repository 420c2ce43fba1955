#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Tests that only mean something under Xen PV, where the paravirt pte_val
# hook is not the identity: on any other kernel the paravirt and raw views
# are equal and could not tell a correct accessor from a wrong one, so
# these skip there.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
pa_load
if [ "$(sed -n 's/^xenpv=//p' "$PA_DIR/accessor")" != 1 ]; then
	ktap_skip_all "not a Xen PV guest: the paravirt and raw views are the same here"
	exit "$KSFT_SKIP"
fi
ktap_set_plan 7
ex_defaults
knob evict 1

info=$(cat "$PA_DIR/accessor")
ktap_check "the accessor reads through the paravirt hook" \
	test "$(echo "$info" | sed -n 's/^path=//p')" = paravirt

# Pages the module allocated: the GEM pool's blocks. Their frame through
# the hook is the pseudo-physical one (what page_to_pfn() gives: the
# direct-map offset), the raw entry holds a machine frame.
ex_run gem_evict pages=32 max_order=2 iterations=8 threads=2
wc=$(pa_get pool.sample_wc)
# The direct map's base: from the kernel's page-table dump where it has
# one, else (Debian's kernel: no PTDUMP_DEBUGFS) the kernel's
# page_offset_base as the module read it at load. Either way the frame
# compared below comes from the entry, through the hook.
if [ -r "$PTDUMP" ]; then
	ptdump_read /tmp/ptdump.xen
	base=$(sed -n '/Low Kernel Mapping/{n;s/^\(0x[0-9a-f]*\)-.*/\1/p;}' /tmp/ptdump.xen)
	ktap_print_msg "direct map at $base (ptdump; the module's page_offset: $(sed -n 's/^page_offset=//p' "$PA_DIR/accessor"))"
else
	base=$(sed -n 's/^page_offset=//p' "$PA_DIR/accessor")
	ktap_print_msg "direct map at $base (page_offset_base; no $PTDUMP)"
fi
pa_lookup "$wc"
pfn=$(pa_get pfn)
raw_pfn=$(pa_get raw_pfn)
ktap_print_msg "pool page $wc: pfn $pfn (direct-map offset $(printf '%#x' $(( (wc - base) >> 12 )))), raw frame $raw_pfn"
ktap_check "paravirt view: the frame is the page's pfn" test $((pfn)) -eq $(( (wc - base) >> 12 ))
ktap_check "raw view: a machine frame that differs" test $((raw_pfn)) -ne $((pfn))
expect "a WC page decodes through Xen's PAT table: WC at index 4" cache=WC pat_index=4 pat=1 pcd=0 pwt=0
knob evict 1

# The seed's regression: every page WB through the accessor before free
# (64 pages x 8 rounds, checked once WC and once WB before the free).
ex_defaults
ex_run wc_wb_free pages=64 iterations=8
expect "wc_wb_free: every page WB through the paravirt view before free" \
	state=done errors=0 verify_failures=0 verified_pages=1024

# ioremap of the VGA BAR, if dom0 sees one.
if ex_run ioremap iterations=1 && [ "$(pa_get errors)" = 0 ]; then
	ktap_print_msg "BAR $(pa_get ioremap.device) $(pa_get ioremap.start)+$(pa_get ioremap.size)"
	expect "ioremap in dom0: PTEs as the kernel and Xen grant them" state=done verify_failures=0
else
	ktap_print_msg "$(dmesg | grep 'pte_attrs: ioremap' | tail -n 1)"
	ktap_test_skip "ioremap in dom0: no memory BAR visible to dom0"
fi

# Every cache mode the pool binds, in both views: Xen keeps PAT bits.
ex_run gem_evict pages=16 max_order=0 iterations=4
pa_lookup "$(pa_get pool.sample_uc)"
expect "a UC- page decodes through Xen's PAT table: UC- at index 2" cache=UC- pat_index=2
knob evict 1
ex_defaults
ktap_finished

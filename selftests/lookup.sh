#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The lookup knob on addresses whose attributes are known, each checked
# against the kernel's own page-table dump (an oracle no one here wrote).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
[ -r "$PTDUMP" ] || ktap_skip_all "no $PTDUMP (CONFIG_PTDUMP_DEBUGFS)"
[ -r "$PTDUMP" ] || exit "$KSFT_SKIP"
ktap_set_plan 11
pa_load

# Kernel text: present, read-only, executable, write-back.
text=$(ksym _stext)
pa_lookup "$text"
expect "text $text: present ro x WB" mapped=1 present=1 rw=0 nx=0 cache=WB
check_ptdump "text" "$text"

# Read-only data: present, read-only, not executable.
rodata=$(ksym __start_rodata)
pa_lookup "$rodata"
expect "rodata $rodata: present ro nx WB" mapped=1 present=1 rw=0 nx=1 cache=WB
check_ptdump "rodata" "$rodata"

# A direct-map page of RAM: the middle of the largest present RW NX range
# of the direct map in the kernel's dump ("Low Kernel Mapping" up to the
# next marker). Its base moves with 5-level paging and under Xen PV, and
# /proc/iomem lists RAM a Xen dom0 does not have: both are read, not
# assumed.
base=
best=0
lo=
while read -r range rest; do
	case "$range" in
	---*) [ -n "$base" ] && break; continue ;;
	0x*) ;;
	*) continue ;;
	esac
	[ -n "$base" ] || base=${range%-*}
	case " $rest " in *" RW "*" NX "*) ;; *) continue ;; esac
	l=${range%-*}
	h=${range#*-}
	if [ $((h - l)) -gt "$best" ]; then best=$((h - l)); lo=$l; fi
done <<EOF_DUMP
$(sed -n '/Low Kernel Mapping/,$p' "$PTDUMP")
EOF_DUMP
dmap=$(printf '0x%x' $(( (lo + best / 2) & ~0xfff )))
mid=$(( dmap - base ))
ktap_print_msg "direct map base $base, RAM page $(printf '%#x' $mid) -> $dmap"
pa_lookup "$dmap"
expect "direct-map RAM $dmap: present rw nx WB" mapped=1 present=1 rw=1 nx=1 cache=WB
check_ptdump "direct-map RAM" "$dmap"
case $(pa_get level) in 4K) size=4096 ;; 2M) size=2097152 ;; *) size=1073741824 ;; esac
ktap_check "direct-map RAM: pfn is the physical frame of its $(pa_get level) page" \
	test $(( mid & ~(size - 1) )) -eq $(( $(pa_get pfn) * 4096 ))

# Nothing maps user addresses in the kernel's page tables, and the dump
# shows kernel ranges that nothing maps either (a hole of the layout).
pa_lookup 0x1000
expect "0x1000: not mapped" mapped=0
hole=$(grep '^0x' "$PTDUMP" | awk '$NF ~ /^p/ && NF == 3 && $1 ~ /^0xf/ { sub(/-.*/, "", $1); print $1; exit }')
pa_lookup "$hole"
expect "kernel hole $hole (not present in the dump): not mapped" mapped=0

# Garbage: refused with EINVAL and a pr_err saying why, state unchanged.
dmesg_mark garbage
if echo "not-an-address" >"$PA_DIR/lookup" 2>/dev/null; then
	ktap_test_fail "garbage is refused"
else
	ktap_test_pass "garbage is refused"
fi
dmesg_since garbage | grep 'pte_attrs: lookup' | sed 's/^/# /'
ktap_check "the refusal is logged with the knob's name" log_since garbage "pte_attrs: lookup: "
ktap_finished

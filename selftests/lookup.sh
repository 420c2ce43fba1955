#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The lookup knob on addresses whose attributes are known, each checked
# against the kernel's own page-table dump (an oracle no one here wrote;
# a kernel without it, such as Debian's, skips those comparisons only,
# and takes the direct-map page's frame from /proc/PID/pagemap);
# addresses that are not kernel addresses (non-canonical for the live
# virtual-address width, user half, hypervisor guard hole) refused; each
# open file with its own address and text; lookups racing module
# load/unload (vmalloc/vfree of module memory).
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 28
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

# A direct-map page of RAM. With the kernel's dump: the middle of the
# largest present RW NX range of the direct map ("Low Kernel Mapping" up
# to the next marker). Its base moves with 5-level paging and under Xen
# PV, and /proc/iomem lists RAM a Xen dom0 does not have: both are read,
# not assumed. Without the dump: the top page of this shell's stack, whose
# frame /proc/PID/pagemap gives (bit 63 present, bits 0-54 the frame; the
# pseudo-physical one under Xen PV, as the paravirt view), at the kernel's
# page_offset_base as the module read it.
base=
best=0
lo=
if [ -r "$PTDUMP" ]; then
	# One read of the kernel's page-table dump serves the test
	# (ptdump_read: the walk never yields; the debug flavor's detectors
	# are eased for it).
	ptdump_read /tmp/ptdump.lookup
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
$(sed -n '/Low Kernel Mapping/,$p' /tmp/ptdump.lookup)
EOF_DUMP
	dmap=$(printf '0x%x' $(( (lo + best / 2) & ~0xfff )))
	mid=$(( dmap - base ))
else
	base=$(sed -n 's/^page_offset=//p' "$PA_DIR/accessor")
	stk=$(awk '/\[stack\]/ { sub(/.*-/, "", $1); print "0x" $1; exit }' /proc/$$/maps)
	vpage=$(( (stk - 4096) >> 12 ))
	entry=0x$(dd if=/proc/$$/pagemap bs=8 skip=$vpage count=1 2>/dev/null | od -A n -t x8 | tr -d ' ')
	[ "$entry" != 0x ] || entry=0
	if [ $(( (entry >> 63) & 1 )) = 1 ]; then
		mid=$(( (entry & ((1 << 55) - 1)) << 12 ))
	else
		ktap_print_msg "pagemap: the stack page at $(printf '%#x' $((vpage << 12))) is not present ($entry)"
		mid=0
	fi
	dmap=$(printf '0x%x' $(( base + mid )))
	ktap_print_msg "no $PTDUMP: the direct map at page_offset_base, this shell's stack page from pagemap"
fi
ktap_print_msg "direct map base $base, RAM page $(printf '%#x' $mid) -> $dmap"
pa_lookup "$dmap"
expect "direct-map RAM $dmap: present rw nx WB" mapped=1 present=1 rw=1 nx=1 cache=WB
check_ptdump "direct-map RAM" "$dmap"
case $(pa_get level) in 4K) size=4096 ;; 2M) size=2097152 ;; *) size=1073741824 ;; esac
ktap_check "direct-map RAM: pfn is the physical frame of its $(pa_get level) page" \
	test $(( mid & ~(size - 1) )) -eq $(( $(pa_get pfn) * 4096 ))

# The live layout: 4- or 5-level paging (48- or 57-bit addresses).
levels=$(sed -n 's/^paging_levels=//p' "$PA_DIR/accessor")
case $levels in
5) top=57 hole_lo=0xff00000000000000 hole_hi=0xff0fffffffffffff ;;
*) top=48 hole_lo=0xffff800000000000 hole_hi=0xffff87ffffffffff ;;
esac
ktap_print_msg "paging levels: ${levels:-?}, guard hole $hole_lo-$hole_hi"

# Refused with EINVAL, whatever the layout: non-canonical addresses (one
# whose table index aliases the direct map's slot under 4 levels, the
# 0x00ff../0xff00.. patterns, a kernel address with the bit above the
# sign-extended range flipped, the lowest non-canonical address), user
# addresses (0x1000, this shell's stack), the guard hole's first and last
# byte. Under 5 levels some of the fixed patterns are user or hole
# addresses: refused all the same.
stack=$(awk '/\[stack\]/ { sub(/-.*/, "", $1); print "0x" $1; exit }' /proc/self/maps)
# Refusals are logged at most 10 times per 5 s from one call site (all
# knobs' writes share it): start a fresh window, so that these 9 and the
# garbage below are all logged.
sleep 5
dmesg_mark refusals
for a in 0x0000888000000000 0x1000 "$hole_lo" 0x00ff888000000000 0xff00888000000000 \
	"$(printf '0x%x' $((text ^ (1 << top))))" "$(printf '0x%x' $((1 << (top - 1))))" \
	"${stack:-0x7ffc00000000}" "$hole_hi"; do
	ktap_check "$a is refused with EINVAL" refused "Invalid argument" lookup "$a"
done
dmesg_since refusals | grep 'pte_attrs: lookup' | sed 's/^/# /'
# (Each class is among them under either layout.)
classes_logged() {
	for c in "a non-canonical address" "a user-half address" "an address in the hypervisor guard hole"; do
		log_since refusals "pte_attrs: lookup: refused $c" || return 1
	done
}
ktap_check "the refusals name the class" classes_logged
no_address_logged() { ! dmesg_since refusals | grep 'pte_attrs: lookup' | grep -Eiq '[0-9a-f]{8,}'; }
ktap_check "the refusals show no address" no_address_logged

# Non-canonical in the live mode, one at a time, each refused *as*
# non-canonical (above, under 5 levels, several of the fixed patterns are
# refused as user-half or guard-hole addresses instead): the lowest
# address above the lower half, and the highest below the upper half.
# (CI boots the same kernel with no5lvl too, for 4 levels.)
case $levels in
5) noncanon="0x0100000000000000 0xfeffffffffffffff" ;;
*) noncanon="0x0000800000000000 0xffff7fffffffffff" ;;
esac
sleep 5
# refused_as_noncanonical ADDR: EINVAL, and the log line names the class.
refused_as_noncanonical() {
	dmesg_mark "noncanon-$1"
	! echo "$1" >"$PA_DIR/lookup" 2>/dev/null &&
		log_since "noncanon-$1" "pte_attrs: lookup: refused a non-canonical address"
}
for a in $noncanon; do
	ktap_check "$a (non-canonical with $levels-level paging) is refused as non-canonical" \
		refused_as_noncanonical "$a"
done

# Garbage: refused with EINVAL and a pr_err saying why, state unchanged.
dmesg_mark garbage
if echo "not-an-address" >"$PA_DIR/lookup" 2>/dev/null; then
	ktap_test_fail "garbage is refused"
else
	ktap_test_pass "garbage is refused"
fi
dmesg_since garbage | grep 'pte_attrs: lookup' | sed 's/^/# /'
ktap_check "the refusal is logged with the knob's name" log_since garbage "pte_attrs: lookup: "
# An unmapped kernel address is accepted and reads mapped=0: the start of
# the first range the dump shows as not present, outside the guard hole;
# without the dump, the direct map 32 TiB above its base, where only RAM
# is mapped and /proc/iomem shows none.
hole=
if [ -r "$PTDUMP" ]; then
	for r in $(grep '^0x' /tmp/ptdump.lookup | awk '$NF ~ /^p/ && NF == 3 { sub(/-.*/, "", $1); print $1 }'); do
		case $r in 0xf*) ;; *) continue ;; esac
		if u_le "$hole_lo" "$r" && u_le "$r" "$hole_hi"; then continue; fi
		hole=$r
		break
	done
	where="not present in the dump"
else
	ram_top=$(sed -n 's/^\([0-9a-f]*\)-\([0-9a-f]*\) : System RAM$/\2/p' /proc/iomem | tail -n 1)
	if [ $((0x$ram_top)) -lt $((1 << 45)) ]; then
		hole=$(printf '0x%x' $((base + (1 << 45))))
	fi
	where="the direct map 32 TiB up, above RAM's end 0x$ram_top"
fi
pa_lookup "$hole"
expect "kernel address $hole ($where): not mapped" mapped=0

# Two open files, two addresses: each reads its own report, and a new open
# starts from the address written last.
exec 3<>"$PA_DIR/lookup" 4<>"$PA_DIR/lookup"
echo "$text" >&3
echo "$rodata" >&4
r3=$(cat <&3)
r4=$(cat <&4)
ktap_check "open file 1 shows its own address" test "$(echo "$r3" | sed -n 's/^addr=//p')" = "$(printf '0x%016x' $((text)))"
ktap_check "open file 2 shows its own address" test "$(echo "$r4" | sed -n 's/^addr=//p')" = "$(printf '0x%016x' $((rodata)))"
exec 3<&- 4<&-
pa_lookup_read() { PA_REPORT=$(cat "$PA_DIR/lookup"); }
pa_lookup_read
ktap_check "a new open starts from the address written last" test "$(pa_get addr)" = "$(printf '0x%016x' $((rodata)))"

# The text of one open file does not change between its chunks, even when
# its address is rewritten in between: the first chunk renders, the rest
# comes from that text.
exec 3<>"$PA_DIR/lookup"
echo "$text" >&3
first=$(dd bs=20 count=1 <&3 2>/dev/null)
echo "$dmap" >&3
rest=$(cat <&3)
exec 3<&-
whole="$first$rest"
ktap_print_msg "chunked read: $(echo "$whole" | sed -n 's/^addr=/addr=/p')"
ktap_check "chunks of one read come from one text" \
	test "$(echo "$whole" | sed -n 's/^addr=//p')" = "$(printf '0x%016x' $((text)))" -a "$(echo "$whole" | grep -c '^addr=')" = 1

# Lookups of module addresses while modules come and go (their memory is
# vmalloc'ed and freed on unload): each write is accepted or, if a table
# page went away, refused with EFAULT; never anything else (and nothing in
# the log: the harness fails the run on any oops or KASAN report).
race() {
	(n=0; while [ $n -lt 15 ]; do
		insmod "$(pa_ko pte_attrs_sample)" 2>/dev/null && rmmod pte_attrs_sample
		n=$((n + 1))
	done) &
	pid=$!
	ok=0 fault=0 other=0
	while kill -0 $pid 2>/dev/null; do
		a=$(cat /sys/module/pte_attrs_sample/sections/.text 2>/dev/null) || continue
		[ -n "$a" ] || continue
		if out=$( (echo "$a" >"$PA_DIR/lookup") 2>&1); then
			ok=$((ok + 1))
			cat "$PA_DIR/lookup" >/dev/null 2>&1
		else
			case $out in
			*"Bad address"*) fault=$((fault + 1)) ;;
			*) other=$((other + 1)); ktap_print_msg "unexpected: $out" ;;
			esac
		fi
	done
	wait $pid
	ktap_print_msg "racing lookups: $ok accepted, $fault EFAULT, $other other"
	[ "$other" = 0 ] && [ "$ok" -gt 0 ]
}
ktap_check "lookups racing module load/unload: accepted or EFAULT" race

ktap_finished

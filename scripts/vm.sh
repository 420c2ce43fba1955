#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots the test VM in one of the modes of scripts/guest/init and judges it.
#
# Usage: vm.sh run|check|bench|bigvm|shell KDIR INITRAMFS
#
# The console (ttyS0) goes to OUT/console.log; the guest's results come
# back on a second serial port (ttyS1) into OUT/results.txt and end with a
# PTE_ATTRS_HARNESS_DONE line. A guest that does not write it in time is
# killed and fails the run, and so does a kernel log with an oops, a BUG,
# a WARNING, a call trace or a lockdep report.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MODE=$1
KDIR=$2
INITRAMFS=$3
ACCEL=${ACCEL:-auto}
# The kernel image: KDIR's bzImage, or Debian's vmlinuz (KERNEL=debian-7.3).
KIMAGE=$(harness_kimage "$KDIR")
case "$MODE" in
# check: the debug flavor's 10,000-operation fuzz alone takes about 10
# minutes under TCG.
check | bench) VM_TIMEOUT=${VM_TIMEOUT:-3600} ;;
bigvm) VM_TIMEOUT=${VM_TIMEOUT:-7200} ;;
*) VM_TIMEOUT=${VM_TIMEOUT:-900} ;;
esac
# The big VM (make bigvm): enough memory that the pre-check admits the
# largest runs.
[ "$MODE" = bigvm ] && VM_MEM=${VM_MEM:-8G}

mkdir -p "$OUT"
console=$OUT/console.log
results=$OUT/results.txt
: >"$console"
: >"$results"

# accel_args: -accel and -cpu for ACCEL. auto probes KVM once per host boot
# (a bounded boot to the init's probe mode) and falls back to TCG: on some
# machines /dev/kvm exists but a normal guest hangs under it.
kvm_probe() {
	local cachef="$CACHE/kvm-probe"
	local key
	key="$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $(md5sum <"$KIMAGE" | cut -c1-12)"
	if [ -f "$cachef" ] && [ "$(head -n 1 "$cachef")" = "$key" ]; then
		[ "$(tail -n 1 "$cachef")" = yes ]
		return
	fi
	local ok=no probe_out
	probe_out=$(mktemp)
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		say "Probing KVM (a bounded 20 s boot; the answer is cached until the host reboots)"
		timeout -k 2 20 qemu-system-x86_64 -accel kvm -cpu host -m 256M -smp 1 \
			-nographic -no-reboot -kernel "$KIMAGE" -initrd "$INITRAMFS" \
			-append "console=ttyS0 panic=-1 harness=probe" \
			-serial null -serial "file:$probe_out" -display none -monitor none \
			>/dev/null 2>&1 || true
		grep -q PTE_ATTRS_HARNESS_DONE "$probe_out" && ok=yes
	fi
	rm -f "$probe_out"
	mkdir -p "$CACHE"
	printf '%s\n%s\n' "$key" "$ok" >"$cachef"
	[ "$ok" = yes ]
}
case "$ACCEL" in
kvm) accel=(-accel kvm -cpu host) ;;
tcg) accel=(-accel tcg -cpu max) ;;
auto)
	if kvm_probe; then accel=(-accel kvm -cpu host); else accel=(-accel tcg -cpu max); fi
	;;
*) die "ACCEL=$ACCEL is not one of auto, tcg, kvm" ;;
esac

# check keeps the whole kernel log on the console (it is scanned); run and
# shell keep it to warnings and worse, so that the demo reads cleanly.
loglevel=8
case "$MODE" in check | bench | bigvm) ;; *) loglevel=5 ;; esac
# log_buf_len=4M: the whole boot log stays in the ring buffer (the guest
# also saves it at once, to /tmp/boot-dmesg).
guest="loglevel=$loglevel panic=-1 oops=panic log_buf_len=4M harness=$MODE harness_out=ttyS1"
# VM_ARGS: more kernel parameters, for the boots CI makes of an existing
# kernel: `nopat` (no PAT: WC requests get UC-), `no5lvl` (4-level paging
# where the CPU has LA57).
[ -n "${VM_ARGS:-}" ] && guest="$guest $VM_ARGS"
# The debug (hardened) flavor: a WARN is a crash, as on kernels that set
# panic_on_warn; soft lockups are reported after 2 x watchdog_thresh =
# 10 s, RCU stalls after 10 s; page-table isolation is on.
if [ "$FLAVOR" = debug ]; then
	guest="$guest panic_on_warn=1 watchdog_thresh=5 rcupdate.rcu_cpu_stall_timeout=10"
	# qemu's "max" CPU says it is not vulnerable to Meltdown, so the kernel
	# would leave PTI off: force it, as on the CPUs where distros need it.
	guest="$guest pti=on"
fi
# The settings of the fuzzer, the big VM and some tests reach the guest
# as environment variables (the kernel hands unknown name=value
# parameters to /init; a list takes commas, not spaces).
for v in PTE_ATTRS_FUZZ_SEED PTE_ATTRS_FUZZ_OPS PTE_ATTRS_FUZZ_PROCS PTE_ATTRS_FUZZ_TRACE \
	PTE_ATTRS_GEM_FUZZ_SEED PTE_ATTRS_GEM_FUZZ_OPS \
	PTE_ATTRS_BIGVM_ITERATIONS PTE_ATTRS_BIGVM_SCENARIOS PTE_ATTRS_BIGVM_THREADS \
	PTE_ATTRS_FAULT_ROUNDS PTE_ATTRS_FAULT_MIN_ROUNDS PTE_ATTRS_FAULT_PROBABILITY \
	PTE_ATTRS_UNLOAD_CYCLES; do
	if [ -n "${!v:-}" ]; then guest="$guest $v=${!v}"; fi
done

if [ "$FLAVOR" = xen ]; then
	# Xen 4.17 from Debian, with the test kernel as its PV dom0: the
	# hypervisor (gunzipped: a multiboot ELF that qemu loads) owns COM1 and
	# shows dom0's hvc0 there; dom0 reports on COM2 (its ttyS1). Under TCG
	# Xen needs a CPU model without TSX: -cpu max and EPYC crash it.
	xen=$CACHE/xen-4.17-amd64
	[ -f "$xen" ] && [ "$xen" -nt /boot/xen-4.17-amd64.gz ] ||
		gunzip -c /boot/xen-4.17-amd64.gz >"$xen"
	[ "${accel[1]}" = tcg ] && accel=(-accel tcg -cpu Haswell-noTSX)
	# The big VM gives dom0 all but 1 GiB of a VM_MEM of whole GiB. (qemu
	# separates the multiboot modules with commas: a comma of the dom0
	# command line is written twice.)
	dom0_mem=${XEN_DOM0_MEM:-1024M}
	if [ "$MODE" = bigvm ] && [ -z "${XEN_DOM0_MEM:-}" ] && [[ "$VM_MEM" =~ ^([0-9]+)G$ ]]; then
		dom0_mem=$((BASH_REMATCH[1] - 1))G
	fi
	boot=(-kernel "$xen"
		-append "console=com1 com1=115200 dom0_mem=$dom0_mem loglvl=all guest_loglvl=all"
		-initrd "$KIMAGE console=hvc0 earlyprintk=xen ${guest//,/,,},$INITRAMFS")
else
	boot=(-kernel "$KIMAGE" -initrd "$INITRAMFS" -append "console=ttyS0 $guest")
fi
# Two display devices at fixed addresses (00:02.0 is qemu's default NIC):
# the VGA at 00:03.0, which the debug flavor's bochs DRM driver binds, and
# a secondary-vga at 00:05.0, which the guest's init keeps unbound (it
# unbinds it if a driver took it): the exerciser's `auto` BAR.
qemu=(qemu-system-x86_64 "${accel[@]}" -m "${VM_MEM:-2G}" -smp "${VM_CPUS:-2}"
	-no-reboot -display none -monitor none "${boot[@]}"
	-device VGA,addr=03.0 -device secondary-vga,addr=05.0)

say "Booting the $FLAVOR VM (${accel[1]}, mode $MODE, timeout ${VM_TIMEOUT}s; console: $console)"
start=$SECONDS
qrc=0
case "$MODE" in
shell)
	"${qemu[@]}" -chardev "stdio,id=con,signal=off,logfile=$console" -serial chardev:con \
		-serial "file:$results" || qrc=$?
	;;
run)
	timeout -k 5 "$VM_TIMEOUT" "${qemu[@]}" -serial "file:$console" -serial "file:$results" \
		</dev/null >"$OUT/qemu.log" 2>&1 &
	qpid=$!
	tail -n +1 -f --pid="$qpid" "$console" 2>/dev/null || true
	wait "$qpid" || qrc=$?
	;;
check | bench | bigvm)
	timeout -k 5 "$VM_TIMEOUT" "${qemu[@]}" -serial "file:$console" -serial "file:$results" \
		</dev/null >"$OUT/qemu.log" 2>&1 &
	qpid=$!
	tail -n +1 -f --pid="$qpid" "$results" 2>/dev/null || true
	wait "$qpid" || qrc=$?
	;;
*) die "unknown mode $MODE" ;;
esac
echo "    VM exited after $((SECONDS - start))s (qemu status $qrc)"

# Host-side judgement, counted like tests.
check_done=ok
if ! grep -q '^PTE_ATTRS_HARNESS_DONE' "$results"; then
	if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
		warn "the guest did not finish within ${VM_TIMEOUT}s and was killed"
	else
		warn "the guest stopped without reporting a verdict (qemu status $qrc)"
	fi
	[ -s "$OUT/qemu.log" ] && cat "$OUT/qemu.log" >&2
	echo "Last console lines ($console):" >&2
	tail -n 25 "$console" >&2 || true
	check_done=fail
fi
bad_re='Oops|BUG:|WARNING:|Call Trace|possible recursive locking|possible circular locking|inconsistent lock state|INFO: task .* blocked|Kernel panic|general protection fault|kernel BUG|UBSAN|KASAN|kmemleak: [0-9]+ new suspected'
# Detectors of the debug flavor: RCU stalls ("rcu: INFO: rcu_sched
# detected stalls on CPUs/tasks", "... self-detected stall on CPU"), soft
# and hard lockups, hung tasks, a panic_on_warn panic.
bad_re="$bad_re|rcu: INFO: .*detected stall|self-detected stall|soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|panic_on_warn set"
# Xen's own reports of a crashed domain or of its own panic.
bad_re="$bad_re|\\(XEN\\) .*(Domain [0-9]+ crashed|domain_crash|Panic on CPU|FATAL TRAP|Assertion .* failed)"
# An allocation failure report (warn_alloc(): a header, a stack trace up to
# "</TASK>") is no bug: fault injection (FLAVOR=debug) makes them on
# purpose, in the kernel's own paths too. They are set aside, counted.
scanned=$OUT/console.scanned
awk '/page allocation failure|vmalloc error: size/ { skip = 1; n++ }
	!skip { print } skip && /<\/TASK>/ { skip = 0 }
	END { if (n) printf "(%d allocation failure reports set aside)\n", n > "/dev/stderr" }' \
	"$console" >"$scanned"
# What the kernel reports while it boots, before /init (and so before any
# of this project's code) runs, is shown but not counted: it is the test
# kernel's own (seen once: a KASAN report in an early IRQ under the debug
# kernel). Everything from "Run /init" on counts.
boot_end=$(grep -n -m1 'Run /init as init process' "$scanned" | cut -d: -f1 || true)
if [ -n "$boot_end" ]; then
	head -n "$boot_end" "$scanned" >"$scanned.boot"
	if grep -Eq "$bad_re" "$scanned.boot"; then
		warn "the test kernel reported a problem while booting, before /init (not counted):"
		grep -En -A6 "$bad_re" "$scanned.boot" | head -n 20 >&2 || true
		tail -n +"$boot_end" "$scanned" >"$scanned.run"
		mv "$scanned.run" "$scanned"
	fi
fi
if grep -Eq "$bad_re" "$scanned"; then
	warn "the guest kernel log reports a problem:"
	grep -En -B2 -A12 "$bad_re" "$scanned" | head -n 80 >&2 || true
	check_log=fail
else
	check_log=ok
fi
[ "$MODE" = shell ] && [ "$check_done$check_log" = okok ] && exit 0
[ "$MODE" = shell ] && exit 1

# Tests and harness steps, from the results channel (see summarize.awk).
awk -v done_ok="$check_done" -v log_ok="$check_log" \
	-f "$ROOT/scripts/summarize.awk" "$results"

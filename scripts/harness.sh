#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The harness behind `make module|run|shell|check`: installs what is
# missing, builds the kernel (unless KDIR= names another one), the module
# and the initramfs, and boots the VM.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

target=$1
total_start=$SECONDS

"$ROOT/scripts/setup.sh"
if [ -n "$DISTRO" ]; then
	# Debian's own kernel: distro.sh fetches it and prepares the tree the
	# module is built against, in a trixie build root (KDIR is that tree).
	"$ROOT/scripts/distro.sh" prepare
	KDIR=$(harness_kdir)
elif [ -z "${KDIR:-}" ]; then
	"$ROOT/scripts/kernel.sh"
	KDIR=$(harness_kdir)
fi
export KDIR

# build_module: pte_attrs.ko and the sample for KERNEL (on Debian's kernel,
# built in the build root by its toolchain).
build_module() {
	if [ -n "$DISTRO" ]; then
		"$ROOT/scripts/distro.sh" module
	else
		"$ROOT/scripts/module.sh"
	fi
}

host_tests() {
	say "Host unit tests of the kernel-free logic (cargo test in host/)"
	local log=$OUT/logs/host-test.log
	mkdir -p "$OUT/logs"
	if ! (cd "$ROOT/host" && cargo test --quiet 2>&1) | tee "$log"; then
		die "host unit tests failed (log: $log)"
	fi
	grep -q '^test result: ok' "$log" || die "host unit tests ran no test (log: $log)"
	host_passed=$(awk '/^test result:/ { n += $4 } END { print n + 0 }' "$log")
}

case "$target" in
module)
	build_module
	;;
run | shell)
	build_module
	"$ROOT/scripts/initramfs.sh" "$KDIR" "$OUT/initramfs.cpio.gz"
	"$ROOT/scripts/vm.sh" "$target" "$KDIR" "$OUT/initramfs.cpio.gz"
	;;
bench)
	build_module
	"$ROOT/scripts/initramfs.sh" "$KDIR" "$OUT/initramfs.cpio.gz"
	rc=0
	"$ROOT/scripts/vm.sh" bench "$KDIR" "$OUT/initramfs.cpio.gz" >"$OUT/bench-vm.txt" || rc=$?
	grep -v -e '^harness:' -e '^PTE_ATTRS_HARNESS_DONE' "$OUT/results.txt" >"$OUT/bench-$FLAVOR.txt"
	# The table and the key=value lines, on the terminal as in the file;
	# the VM's own log only if it went wrong.
	cat "$OUT/bench-$FLAVOR.txt"
	[ "$rc" = 0 ] || tail -n 20 "$OUT/bench-vm.txt" >&2
	say "Benchmark output: $OUT/bench-$FLAVOR.txt (the VM's log: $OUT/bench-vm.txt)"
	exit "$rc"
	;;
bigvm)
	# The big VM (VM_MEM=8G unless set): every scenario at the largest
	# `pages` the pre-check admits, with 16 threads and with 1
	# (scripts/guest/bigvm.sh).
	build_module
	"$ROOT/scripts/initramfs.sh" "$KDIR" "$OUT/initramfs.cpio.gz"
	rc=0
	"$ROOT/scripts/vm.sh" bigvm "$KDIR" "$OUT/initramfs.cpio.gz" | tee "$OUT/bigvm-summary.txt" || rc=$?
	grep -e '^bigvm:' "$OUT/results.txt" >"$OUT/bigvm-$FLAVOR.txt" || true
	say "Big-VM runs (pages, threads, wall time): $OUT/bigvm-$FLAVOR.txt"
	echo "    ($((SECONDS - total_start))s in all)"
	exit "$rc"
	;;
check)
	host_passed=0
	host_tests
	"$ROOT/scripts/lint.sh"
	LINT=1 build_module
	"$ROOT/scripts/initramfs.sh" "$KDIR" "$OUT/initramfs.cpio.gz"
	rc=0
	"$ROOT/scripts/vm.sh" check "$KDIR" "$OUT/initramfs.cpio.gz" | tee "$OUT/summary.txt" || rc=$?
	# The closing line adds the host unit tests to what the VM counted.
	last=$(tail -n 1 "$OUT/summary.txt")
	if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		echo "    (the VM: $last; host unit tests: $host_passed passed; $((SECONDS - total_start))s in all)"
		echo "$((BASH_REMATCH[1] + host_passed)) passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped"
	else
		echo "$host_passed passed, 1 failed, 0 skipped"
		rc=1
	fi
	exit "$rc"
	;;
*) die "unknown target $target" ;;
esac

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds pte_attrs.ko and the sample consumer against KDIR (default: the
# harness kernel of FLAVOR). With LINT=1: warnings are errors and clippy
# runs over the Rust code (the kernel's CLIPPY=1, Debian's clippy-driver).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KDIR=${KDIR:-$(harness_kdir)}
[ -f "$KDIR/Makefile" ] || die "KDIR=$KDIR is not a kernel build tree"
grep -q '^CONFIG_RUST=y' "$KDIR/.config" 2>/dev/null ||
	die "KDIR=$KDIR has no CONFIG_RUST=y: pte_attrs needs a Rust-enabled kernel"

flags=()
if [ "${LINT:-0}" = 1 ]; then
	flags+=(CLIPPY=1 KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror)
fi
build() {
	"${KMAKE[@]}" -C "$KDIR" M="$ROOT" "${flags[@]}" modules
	"${KMAKE[@]}" -C "$KDIR" M="$ROOT/samples" "${flags[@]}" \
		KBUILD_EXTRA_SYMBOLS="$ROOT/Module.symvers" modules
	# What this build made, for this run's initramfs (lib.sh:
	# harness_kobuild).
	mkdir -p "$OUT/ko/samples"
	cp "$ROOT/pte_attrs.ko" "$OUT/ko/"
	cp "$ROOT/samples/pte_attrs_sample.ko" "$OUT/ko/samples/"
}
what="Building pte_attrs.ko and samples/pte_attrs_sample.ko against $KDIR"
[ "${LINT:-0}" = 1 ] && what="$what (clippy, warnings as errors)"
# The objects are built in the source tree: two builds at once (two
# KERNELs, two users of one checkout) would trample each other's files.
run_logged "$OUT/logs/module.log" "$what" "20 seconds" flock "$ROOT/.module-build.lock" bash -c "$(declare -f build); $(declare -p KMAKE KDIR ROOT OUT flags); build"
if grep -E '^(warning|error)(\[|:)|: warning:' "$OUT/logs/module.log" >&2; then
	die "the module build printed warnings (see $OUT/logs/module.log)"
fi

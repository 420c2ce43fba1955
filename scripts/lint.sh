#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Style gates of `make check` besides clippy (which runs in the module
# build): the layer rules (scripts/layers.sh), rustfmt with the kernel's
# settings, checkpatch.pl on the C files.
#
# Both come from the kernel the module is built against: KDIR= when it is
# set (a user's tree), else the harness tree. A tree without them (an
# installed kernel's build directory has neither) falls back to the
# harness tree if that exists, and otherwise the gate is skipped with the
# reason printed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# The layers first: they need no kernel tree.
"$(dirname "$0")/layers.sh"

harness=$(harness_kdir)
ksrc=${KDIR:-$harness}

# from_tree FILE: the path of FILE in KDIR, else in the harness tree (with
# a message), else nothing (with a message).
from_tree() {
	if [ -f "$ksrc/$1" ]; then
		echo "$ksrc/$1"
	elif [ "$ksrc" != "$harness" ] && [ -f "$harness/$1" ]; then
		echo "    KDIR=$ksrc has no $1: taking the harness tree's ($harness/$1)" >&2
		echo "$harness/$1"
	else
		echo "    SKIPPED: no $1 in $ksrc${KDIR:+ nor in the harness tree $harness}" >&2
	fi
}

say "rustfmt --check (the kernel's .rustfmt.toml) and checkpatch.pl, from $ksrc"
cfg=$(from_tree .rustfmt.toml)
if [ -n "$cfg" ]; then
	/usr/bin/rustfmt --check --edition 2021 --config-path "$cfg" \
		$(find "$ROOT/src" -name "*.rs") "$ROOT"/host/lib.rs ||
		die "rustfmt: run 'make fmt${KDIR:+ KDIR=$KDIR}'"
	echo "    rustfmt: clean ($cfg)"
fi
cp=$(from_tree scripts/checkpatch.pl)
if [ -n "$cp" ]; then
	out=$(cd "$ROOT" && perl "$cp" --no-tree --terse -q -f \
		src/glue.c src/glue.h src/compat.h src/pci_glue.c src/pci_glue.h include/pte_attrs.h \
		src/gem_glue.c src/gem_glue.h include/pte_attrs_gem.h \
		samples/pte_attrs_sample.c | grep -E 'ERROR|WARNING|CHECK') || true
	if [ -n "$out" ]; then
		echo "$out" >&2
		die "checkpatch.pl found problems in the C files"
	fi
	echo "    checkpatch.pl: clean ($cp)"
fi

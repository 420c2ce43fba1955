#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Style gates of `make check` besides clippy (which runs in the module
# build): rustfmt with the kernel's settings, checkpatch.pl on the C files.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ksrc=$(harness_kdir)
say "rustfmt --check (the kernel's .rustfmt.toml) and checkpatch.pl"
/usr/bin/rustfmt --check --edition 2021 --config-path "$ksrc/.rustfmt.toml" \
	"$ROOT"/src/*.rs "$ROOT"/host/lib.rs ||
	die "rustfmt: run 'make fmt'"
out=$(cd "$ROOT" && perl "$ksrc/scripts/checkpatch.pl" --no-tree --terse -q -f \
	src/glue.c src/glue.h include/pte_attrs.h samples/pte_attrs_sample.c | grep -E 'ERROR|WARNING|CHECK') || true
if [ -n "$out" ]; then
	echo "$out" >&2
	die "checkpatch.pl found problems in the C files"
fi
echo "    clean"

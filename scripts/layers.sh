#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The layer rules of src/ (README.md, "Layout"), checked by `make check`:
#
#  1. `unsafe` (the word, anywhere: code, comment or doc) appears only in
#     the files ALLOWED_UNSAFE lists: the wrapper layer, the module root and
#     the C API boundary. Every other file must not mention it.
#  2. A file uses (`crate::...`) only its own layer and the layers below:
#     pure < sys < exerciser < bench < knobs < root.
#  3. Within a folder, a file uses only the files listed before it in that
#     folder's ORDER (so no import circles); the folder's own file
#     (src/<folder>.rs) may use all of them.
#
# Prints the unsafe count of every file that has any, then fails on the
# first rule broken, naming the file and the line.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

cd "$ROOT"

ALLOWED_UNSAFE='^src/(sys\.rs|sys/[a-z_]+\.rs|pte_attrs\.rs|export\.rs)$'

declare -A RANK=([pure]=0 [sys]=1 [exerciser]=2 [bench]=3 [knobs]=4 [root]=5)
declare -A ORDER=(
	[pure]="attrs kwalk audit parse ratelimit config latency run_stats samples gem"
	[sys]="ffi time log mem accessor page kmap cpa expect c_loops pci io shrinker task debugfs miscdev gem_pages gem_bar user_pte"
	[exerciser]="verify page_set pool control worker run results audit gem_mmap"
	[bench]="accessor cpa verify"
	[knobs]="user_lookup accessor config control report audit"
)

# layer_of FILE: the layer (folder) of a source file.
layer_of() {
	case "$1" in
	src/pte_attrs.rs | src/export.rs) echo root ;;
	src/*/*.rs) f=${1#src/}; echo "${f%%/*}" ;;
	src/*.rs) f=${1#src/}; echo "${f%.rs}" ;;
	esac
}

# index_in LAYER NAME: NAME's place in LAYER's ORDER (-1 if absent).
index_in() {
	local i=0 n
	for n in ${ORDER[$1]:-}; do
		[ "$n" = "$2" ] && { echo "$i"; return; }
		i=$((i + 1))
	done
	echo -1
}

say "layers: unsafe only in src/sys, the module root and export.rs; imports only downward"
bad=0
files=$(find src -name '*.rs' | sort)
for f in $files; do
	n=$(grep -c '\bunsafe\b' "$f" || true)
	if [ "$n" -gt 0 ]; then
		if [[ "$f" =~ $ALLOWED_UNSAFE ]]; then
			printf '    %-28s %3d\n' "$f" "$n"
		else
			grep -n '\bunsafe\b' "$f" | sed "s|^|    $f:|" >&2
			echo "    $f: 'unsafe' above the wrapper layer" >&2
			bad=1
		fi
	fi
done

for f in $files; do
	layer=$(layer_of "$f")
	[ -n "$layer" ] || { echo "    $f: in no layer" >&2; bad=1; continue; }
	base=$(basename "$f" .rs)
	own=-1
	[ "$f" != "src/$layer.rs" ] && own=$(index_in "$layer" "$base")
	if [ "$f" != "src/$layer.rs" ] && [ "$layer" != root ] && [ "$own" -lt 0 ]; then
		echo "    $f: not in the ORDER of $layer (scripts/layers.sh)" >&2
		bad=1
		continue
	fi
	# Every `crate::top::sub` or `crate::top::{sub, ...}` path, with the
	# line it starts on.
	while IFS=: read -r line path; do
		rest=${path#*crate::}
		top=${rest%%::*}
		[ "$top" = "$rest" ] && top=$rest
		dep=$top
		case $top in
		pte_attrs | export) dep=root ;;
		esac
		[ -n "${RANK[$dep]:-}" ] || continue
		if [ "${RANK[$dep]}" -gt "${RANK[$layer]}" ]; then
			echo "    $f:$line: uses crate::$top, a layer above $layer" >&2
			bad=1
			continue
		fi
		[ "$dep" = "$layer" ] && [ "$own" -ge 0 ] || continue
		subs=${rest#"$top"}
		subs=${subs#::}
		subs=${subs#\{}
		IFS=',' read -ra parts <<<"$subs"
		for p in "${parts[@]}"; do
			p=${p//[[:space:]\}]/}
			p=${p%%::*}
			[ -n "$p" ] && [ "$p" != self ] || continue
			i=$(index_in "$layer" "$p")
			[ "$i" -ge 0 ] || continue
			if [ "$i" -gt "$own" ]; then
				echo "    $f:$line: uses crate::$layer::$p, which comes after $base in ${layer}'s ORDER" >&2
				bad=1
			fi
		done
	done < <(grep -noE '\$?crate::[a-z_]+(::(\{[^}]*\}?|[a-z_]+))?' "$f" || true)
done
[ "$bad" = 0 ] || die "the layer rules are broken (see above; the rules are in scripts/layers.sh)"
echo "    layers: clean"

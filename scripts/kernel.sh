#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds the harness kernel of FLAVOR in the cache, unless it is current.
#
# The tree is Debian's linux-source-$KSERIES (6.12 or 7.3), configured as
# tinyconfig plus the committed fragments in kernel/ (base.config, the
# series' own $KSERIES.config, debug.config for FLAVOR=debug), built in
# place with LLVM=1 and Debian's rustc. A stamp records the source version, the toolchain and the
# fragments; the kernel is rebuilt (incrementally: kbuild tracks what each
# change touches) only when one of them changes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KDIR=$(harness_kdir)
[ -z "$DISTRO" ] || die "KERNEL=$KERNEL is Debian's build: scripts/distro.sh prepares it"
FRAGMENTS=("$ROOT/kernel/base.config" "$ROOT/kernel/$KSERIES.config")
[ "$KFLAVOR" = debug ] && FRAGMENTS+=("$ROOT/kernel/debug.config" "$ROOT/kernel/debug-$KSERIES.config")

ksrc_fetch
src_version=$KSRC_VERSION
stamp_text() {
	echo "source: $KSRC_PKG $src_version"
	echo "rustc: $("$RUSTC" --version)"
	echo "clang: $(clang --version | head -n 1)"
	echo "bindgen: $(bindgen --version)"
	echo "fragments: $(cat "${FRAGMENTS[@]}" | sha256sum | cut -d' ' -f1)"
}
want=$(stamp_text)
stamp=$KDIR/.pte_attrs-stamp

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$KDIR/arch/x86/boot/bzImage" ]; then
	exit 0
fi

# A tree with no stamp is an earlier build that did not finish: kept, and
# the build below resumes it. A stamp naming another source version is not.
if [ -f "$stamp" ] && ! grep -qx "source: $KSRC_PKG $src_version" "$stamp"; then
	say "Kernel source changed (now $src_version): removing the old tree $KDIR"
	rm -rf "$KDIR"
fi
if [ ! -d "$KDIR" ]; then
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/extract.XXXXXX")
	run_logged "$CACHE/logs/extract.log" "Extracting $KSRC_PKG $src_version into $KDIR" "20 seconds" \
		tar -C "$tmp" -xf "$KSRC_TARBALL"
	mv "$tmp/$KSRC_PKG" "$KDIR"
	rmdir "$tmp"
fi

configure() {
	"${KMAKE[@]}" -C "$KDIR" tinyconfig
	"$KDIR/scripts/kconfig/merge_config.sh" -m -O "$KDIR" "$KDIR/.config" "${FRAGMENTS[@]}"
	"${KMAKE[@]}" -C "$KDIR" olddefconfig
	"${KMAKE[@]}" -C "$KDIR" rustavailable
}
run_logged "$CACHE/logs/config-$KERNEL-$KFLAVOR.log" "Configuring the $KFLAVOR kernel (tinyconfig + ${FRAGMENTS[*]##*/})" \
	"30 seconds" configure

# Every option the fragments set must have survived olddefconfig. A later
# fragment overrides an earlier one (debug.config turns Xen off), so each
# option's last setting is the one checked.
lost=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) grep -qx -- "$line" "$KDIR/.config" || lost+=("$line") ;;
	"# CONFIG_"*" is not set")
		name=${line#\# }
		grep -q "^${name%% *}=" "$KDIR/.config" && lost+=("$line")
		;;
	esac
done < <(awk '/^CONFIG_/ { n = $0; sub(/=.*/, "", n) }
	/^# CONFIG_.* is not set$/ { n = $2 }
	/^CONFIG_|^# CONFIG_.* is not set$/ { last[n] = $0; if (!(n in seen)) { seen[n] = 1; order[++k] = n } }
	END { for (i = 1; i <= k; i++) print last[order[i]] }' "${FRAGMENTS[@]}")
if [ ${#lost[@]} -gt 0 ]; then
	warn "these options of the config fragments did not stick after olddefconfig:"
	for l in "${lost[@]}"; do
		name=${l%%=*}
		name=${name#\# }
		name=${name%% *}
		echo "    want: $l    got: $(grep -E "^$name=|^# $name is not set" "$KDIR/.config" || echo 'absent (unmet dependency)')" >&2
	done
	die "fix kernel/*.config (a dependency is missing); see $KDIR/.config"
fi

jobs=$(nproc)
# One kernel build at a time on the machine (a lock shared with
# scripts/distro.sh): two would only slow each other down.
run_logged "$CACHE/logs/build-$KERNEL-$KFLAVOR.log" "Building the $KERNEL $KFLAVOR kernel with $jobs jobs" \
	"5 (7.3) to 13 (6.12 debug) minutes cold on 2 cores, seconds when current" \
	flock /tmp/pte_attrs-kbuild.lock "${KMAKE[@]}" -C "$KDIR" -j"$jobs" bzImage modules
echo "$want" >"$stamp"
say "Kernel ready: $KDIR ($("${KMAKE[@]}" -s -C "$KDIR" kernelrelease))"

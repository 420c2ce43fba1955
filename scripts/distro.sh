#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# KERNEL=debian-7.3: Debian's own 7.3 kernel, unmodified, and the module
# built for it (issue 19; shared/KERNEL-NOTES.md, "Linux 7.3 and Debian's
# own kernels").
#
# Usage: distro.sh prepare   the image, the build root and the kernel tree
#        distro.sh module    pte_attrs.ko and the sample, built in the root
#
# Debian's headers ship the .config and Module.symvers but no Rust crate
# metadata, and Debian's Rust exports carry the crate hashes of the exact
# rustc that built the kernel. So the kernel's Rust crates are rebuilt
# here, from linux-source-7.3 with the headers' .config, by the same
# toolchain: trixie's rustc 1.85.1, bindgen 0.71.1 and gcc-14, in a trixie
# build root (debootstrap) under CACHE. The host's packages are not
# touched. The module is then built in that root against the tree, with
# Debian's Module.symvers (modpost resolves every symbol against it) and
# Debian's KERNELRELEASE (the vermagic matches), and loads unsigned:
# taint O+E.
#
# prepare is stamped: a warm run checks the stamp and returns. Every
# kernel or module compile holds /tmp/pte_attrs-kbuild.lock (one kernel
# build at a time on the harness machine).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -n "$DISTRO" ] || die "distro.sh is for KERNEL=debian-7.3 (KERNEL=$KERNEL)"
step=${1:-}

LOGS=$CACHE/logs
KTREE=$(harness_kdir)
# The same paths seen from inside the build root.
ktree_in=${KTREE#"$DEB_BROOT"}
modbuild_in=${DEB_MODBUILD#"$DEB_BROOT"}
HDR=$DEB_DIR/headers/usr/src/linux-headers-$DEB_KREL
# The image: the meta package linux-image-$DEB_KREL depends on these two;
# the headers have the .config and Module.symvers.
KPKGS=("linux-headers-$DEB_KREL" "linux-binary-$DEB_KREL" "linux-modules-$DEB_KREL")
# The build root's packages (trixie main). Three are there for the
# .config's sake: dwarves and openssl, without which olddefconfig would
# change it (DEBUG_INFO_BTF depends on pahole's version; the
# OPENSSL_SUPPORTS_ML_DSA probe runs `openssl list`), and python3, which
# modules_prepare runs to build resolve_btfids (BTF). rust-clippy: clippy
# of the same rustc, for LINT=1.
BROOT_PKGS=(rustc rust-src bindgen libclang-dev clang gcc-14 make flex bison bc
	libelf-dev libssl-dev kmod cpio dwarves openssl python3 rust-clippy)
# What the tree is built by: the versions of these, read from the build
# root's package database, go in the stamp.
TOOL_PKGS=(rustc rust-src bindgen libclang-dev gcc-14 dwarves openssl)
# Debian's own make variables (the headers' .kernelvariables): gcc-14
# under its triplet name, so that CONFIG_CC_VERSION_TEXT comes out as in
# Debian's .config; and Debian's kernel release, for the vermagic.
DEB_KMAKE=(make ARCH=x86 CROSS_COMPILE=x86_64-linux-gnu- CC=x86_64-linux-gnu-gcc-14
	"KERNELRELEASE=$DEB_KREL")
KBUILD_LOCK=/tmp/pte_attrs-kbuild.lock

# in_broot CMD...: CMD in the build root, with a clean environment and its
# own /proc (rustc finds its sysroot through /proc/self/exe). The mount
# lives in a private mount namespace that ends with the command: nothing
# stays mounted, even if the harness is killed.
in_broot() {
	unshare --mount --propagation private --fork --pid --mount-proc="$DEB_BROOT/proc" \
		chroot "$DEB_BROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"
}

# The stamp of prepare: what the tree was made from.
stamp=$DEB_DIR/stamp
stamp_text() {
	echo "image: ${KPKGS[*]} $DEB_KVERSION"
	echo "source: $KSRC_PKG $KSRC_VERSION"
	echo "toolchain:" $(dpkg-query --admindir="$DEB_BROOT/var/lib/dpkg" -W \
		-f='${Package}=${Version} ' "${TOOL_PKGS[@]}" 2>/dev/null)
	echo "make: ${DEB_KMAKE[*]}"
}

# 1. Debian's image, modules and headers (trixie-backports), unpacked
# under DEB_DIR: the vmlinuz vm.sh boots, the modules initramfs.sh takes,
# the .config and Module.symvers.
fetch_image() {
	local d=$DEB_DIR/debs p
	rm -rf "$d" "$DEB_DIR/image" "$DEB_DIR/headers"
	mkdir -p "$d"
	trixie_apt update
	(cd "$d" && trixie_apt download "${KPKGS[@]/%/=$DEB_KVERSION}")
	for p in "${KPKGS[@]}"; do
		case $p in linux-headers-*) dst=headers ;; *) dst=image ;; esac
		dpkg-deb -x "$d/${p}_${DEB_KVERSION}_amd64.deb" "$DEB_DIR/$dst"
	done
	[ -f "$HDR/.config" ] && [ -f "$HDR/Module.symvers" ] && [ -f "$(harness_kimage)" ]
}

# 2. The trixie build root, and the toolchain in it.
make_broot() {
	rm -rf "$DEB_BROOT"
	debootstrap --variant=minbase trixie "$DEB_BROOT" http://deb.debian.org/debian
}
broot_packages() {
	cp -L /etc/resolv.conf "$DEB_BROOT/etc/resolv.conf"
	in_broot apt-get -q update
	in_broot apt-get -q install -y --no-install-recommends "${BROOT_PKGS[@]}"
	in_broot apt-get clean
	in_broot rustc --version
	in_broot bindgen --version
	in_broot x86_64-linux-gnu-gcc-14 --version
}

# 3. The kernel tree: linux-source-7.3 (the same package version as the
# image) with Debian's .config, its Rust crates and modules_prepare
# rebuilt by the build root's toolchain, Debian's Module.symvers.
prepare_tree() {
	local t=$SECONDS
	rm -rf "$KTREE"
	mkdir -p "$(dirname "$KTREE")"
	tar -C "$(dirname "$KTREE")" -xf "$KSRC_TARBALL"
	echo "unpacked $KSRC_TARBALL in $((SECONDS - t))s"
	cp "$HDR/.config" "$KTREE/.config"
	in_broot "${DEB_KMAKE[@]}" -C "$ktree_in" olddefconfig
	# With Debian's toolchain, olddefconfig keeps Debian's .config as it
	# is: a difference (other than the compiler's version text) means
	# another rustc, bindgen, gcc or pahole, and other crate hashes.
	local changed
	changed=$(diff <(grep '^CONFIG_' "$HDR/.config") <(grep '^CONFIG_' "$KTREE/.config") |
		grep '^[<>]' | grep -v '^[<>] CONFIG_CC_VERSION_TEXT=' || true)
	if [ -n "$changed" ]; then
		echo "olddefconfig changed Debian's .config:"
		echo "$changed"
		return 1
	fi
	echo "olddefconfig: Debian's .config unchanged"
	t=$SECONDS
	in_broot "${DEB_KMAKE[@]}" -C "$ktree_in" -j"$(nproc)" modules_prepare
	echo "modules_prepare in $((SECONDS - t))s"
	cp "$HDR/Module.symvers" "$KTREE/Module.symvers"
	verify_crates
}

# The rebuilt crates are Debian's: the kernel crate's hash in Debian's
# Module.symvers is the rebuilt one, and every Rust export of Debian's
# vmlinux is among the rebuilt rust/exports_*_generated.h.
verify_crates() {
	local debian ours missing
	debian=$(grep -o 'Cs[0-9A-Za-z]*_6kernel' "$HDR/Module.symvers" | sort -u)
	ours=$(grep -ho 'Cs[0-9A-Za-z]*_6kernel' "$KTREE"/rust/exports_kernel_generated.h | sort -u)
	echo "kernel crate: Debian's $debian, rebuilt $ours"
	[ -n "$debian" ] && [ "$debian" = "$ours" ] || {
		echo "the rebuilt kernel crate's hash differs from Debian's"
		return 1
	}
	missing=$(comm -23 \
		<(awk '$2 ~ /^_R/ && $3 == "vmlinux" { print $2 }' "$HDR/Module.symvers" | sort -u) \
		<(sed -n 's/^EXPORT_SYMBOL_RUST_GPL(\(.*\));$/\1/p' "$KTREE"/rust/exports_*_generated.h | sort -u))
	echo "Debian's vmlinux Rust exports: $(awk '$2 ~ /^_R/ && $3 == "vmlinux"' "$HDR/Module.symvers" | wc -l)," \
		"missing from the rebuilt crates: $(echo -n "$missing" | grep -c . || true)"
	[ -z "$missing" ] || {
		echo "$missing" | head -n 20
		return 1
	}
}

prepared() {
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(stamp_text)" ] &&
		[ "$(cat "$DEB_BROOT/.pte_attrs-packages" 2>/dev/null)" = "${BROOT_PKGS[*]}" ]
}

prepare() {
	ksrc_fetch
	[ "$KSRC_VERSION" = "$DEB_KVERSION" ] ||
		die "$KSRC_PKG is $KSRC_VERSION, the image $DEB_KVERSION: the tree must be the image's source"
	prepared && return
	# Harness runs (other checkouts too) share DEB_DIR: one prepares, the
	# others wait here and then find it prepared.
	mkdir -p "$DEB_DIR"
	local lock
	exec {lock}>"$DEB_DIR/.prepare.lock"
	if ! flock -n "$lock"; then
		say "Waiting for another harness run preparing $DEB_DIR"
		flock "$lock"
	fi
	prepared && return
	# Each step leaves a marker; a failed or interrupted run resumes at
	# the step that did not finish.
	if [ "$(cat "$DEB_DIR/.fetched" 2>/dev/null)" != "$DEB_KVERSION" ]; then
		run_logged "$LOGS/distro-fetch.log" "Fetching Debian's $DEB_KREL image, modules and headers ($DEB_KVERSION)" \
			"20 seconds" fetch_image
		echo "$DEB_KVERSION" >"$DEB_DIR/.fetched"
	fi
	if findmnt -rn -o TARGET | grep -q "^$DEB_BROOT/"; then
		die "something is mounted under $DEB_BROOT (findmnt): unmount it first"
	fi
	if [ ! -f "$DEB_BROOT/.pte_attrs-debootstrap" ]; then
		run_logged "$LOGS/distro-debootstrap.log" "Creating the trixie build root (debootstrap --variant=minbase)" \
			"1 minute" make_broot
		touch "$DEB_BROOT/.pte_attrs-debootstrap"
	fi
	if [ "$(cat "$DEB_BROOT/.pte_attrs-packages" 2>/dev/null)" != "${BROOT_PKGS[*]}" ]; then
		run_logged "$LOGS/distro-apt.log" "Installing Debian's toolchain in the build root (rustc, bindgen, gcc-14)" \
			"3 minutes" broot_packages
		echo "${BROOT_PKGS[*]}" >"$DEB_BROOT/.pte_attrs-packages"
	fi
	# The tree: rebuilt when the image, the source or the toolchain changed.
	if [ "$(cat "$stamp" 2>/dev/null)" != "$(stamp_text)" ]; then
		rm -f "$stamp"
		run_logged "$LOGS/distro-prepare.log" "Preparing $KSRC_PKG with Debian's .config (olddefconfig, modules_prepare, crate hashes)" \
			"3 minutes" flock "$KBUILD_LOCK" "$0" prepare-tree
		stamp_text >"$stamp"
	fi
}

# 5. The module, built in a copy of the project inside the build root:
# the project dir's kbuild products belong to the host toolchain's kernels
# and never mix with these. rsync keeps the copy's own products (the
# .gitignore'd files) for incremental builds, and drops sources that left.
build_module() {
	mkdir -p "$DEB_MODBUILD"
	rsync -a --delete --exclude=/.git --exclude=/out --filter=':- .gitignore' "$ROOT/" "$DEB_MODBUILD/"
	in_broot "${DEB_KMAKE[@]}" -C "$ktree_in" M="$modbuild_in" "${flags[@]}" modules
	in_broot "${DEB_KMAKE[@]}" -C "$ktree_in" M="$modbuild_in/samples" "${flags[@]}" \
		KBUILD_EXTRA_SYMBOLS="$modbuild_in/Module.symvers" modules
}

module() {
	[ -f "$stamp" ] || die "the Debian tree is not prepared: run '$0 prepare' first"
	flags=()
	# LINT=1: warnings are errors, and clippy runs: trixie's rust-clippy
	# is of the same rustc 1.85.1 (its lints are 1.85's).
	if [ "${LINT:-0}" = 1 ]; then
		flags+=(CLIPPY=1 KRUSTFLAGS=-Dwarnings KCFLAGS=-Werror)
	fi
	# The log is the run's (OUT), as module.sh's: runs share CACHE.
	local log=$OUT/logs/distro-module.log what
	what="Building pte_attrs.ko and samples/pte_attrs_sample.ko for Debian's $DEB_KREL in the build root"
	[ "${LINT:-0}" = 1 ] && what="$what (clippy 1.85, warnings as errors)"
	run_logged "$log" "$what" "1 minute" flock "$KBUILD_LOCK" "$0" build-module "${flags[@]}"
	if grep -E '^(warning|error)(\[|:)|: warning:' "$log" >&2; then
		die "the module build printed warnings (see $log)"
	fi
	# The vermagic must be Debian's own (a module of the image's).
	local ours theirs
	ours=$(modinfo -F vermagic "$DEB_MODBUILD/pte_attrs.ko")
	theirs=$(modinfo -F vermagic "$(find "$DEB_IMAGE_MODULES/kernel/fs" -name '*.ko*' | head -n 1)")
	[ "$ours" = "$theirs" ] || die "vermagic: pte_attrs.ko has '$ours', Debian's modules '$theirs'"
	echo "    vermagic: $ours (as Debian's modules)"
}

case "$step" in
prepare) prepare ;;
module) module ;;
# Internal: the locked parts, run by run_logged through flock.
prepare-tree)
	ksrc_fetch
	prepare_tree
	;;
build-module)
	shift
	flags=("$@")
	build_module
	;;
*) die "usage: distro.sh prepare|module" ;;
esac

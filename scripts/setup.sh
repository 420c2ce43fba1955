#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Installs what the harness needs, skipping what is already there.
# Idempotent: `make run` and `make check` call it on every run; a warm
# machine passes through in well under a second.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Debian 12 packages (shared/KERNEL-NOTES.md, "Toolchain recipe").
PKGS=(
	rustc-web rust-web-src rust-web-clippy rustfmt-web
	clang-19 lld-19 llvm-19 libclang-19-dev
	flex bison bc libelf-dev libssl-dev cpio kmod xz-utils
	busybox-static qemu-system-x86
	gcc libc6-dev
)
# 6.12's source is Debian 12's own package; 7.3's comes from
# trixie-backports through a private apt configuration (lib.sh: ksrc_fetch).
[ "$KSERIES" = 6.12 ] && PKGS+=("$KSRC_PKG")
[ "$FLAVOR" = xen ] && PKGS+=(xen-hypervisor-4.17-amd64)
# KERNEL=debian-7.3: the trixie build root (scripts/distro.sh).
[ -n "$DISTRO" ] && PKGS+=(debootstrap rsync)
# bindgen: Debian's 0.60 is too old for 6.12's bindings; 0.73 is checked.
BINDGEN_VERSION=0.73.0

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
command -v cargo >/dev/null || installed cargo-web || missing+=(cargo-web)

# qemu-system-x86 must match qemu-utils: some images carry qemu-utils from
# bookworm-backports, and bookworm's qemu-system-x86 then cannot be installed.
qemu_release=()
if [[ " ${missing[*]} " == *" qemu-system-x86 "* ]] &&
	dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
	qemu_release=(-t bookworm-backports)
fi

apt_cmds=()
if [ ${#missing[@]} -gt 0 ]; then
	if [ ${#qemu_release[@]} -gt 0 ] &&
		! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
		apt_cmds+=("echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list")
	fi
	apt_cmds+=("apt-get update")
	rest=() qemu=()
	for p in "${missing[@]}"; do
		if [ "$p" = qemu-system-x86 ]; then qemu=("$p"); else rest+=("$p"); fi
	done
	[ ${#rest[@]} -gt 0 ] && apt_cmds+=("DEBIAN_FRONTEND=noninteractive apt-get install -y ${rest[*]}")
	[ ${#qemu[@]} -gt 0 ] && apt_cmds+=("DEBIAN_FRONTEND=noninteractive apt-get install -y ${qemu_release[*]} qemu-system-x86")
fi

if [ ${#apt_cmds[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		warn "missing Debian packages: ${missing[*]}"
		echo "Run these as root, then run make again:" >&2
		for c in "${apt_cmds[@]}"; do echo "    sudo sh -c \"$c\"" >&2; done
		exit 1
	fi
	install_all() {
		local c
		for c in "${apt_cmds[@]}"; do
			echo "+ $c"
			sh -c "$c"
		done
	}
	run_logged "$OUT/logs/apt.log" "Installing ${#missing[@]} Debian packages: ${missing[*]}" \
		"2-5 minutes" install_all
fi

if ! bindgen --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION"; then
	run_logged "$OUT/logs/bindgen.log" "Building bindgen-cli $BINDGEN_VERSION with cargo" "3 minutes" \
		cargo install --locked bindgen-cli --version "$BINDGEN_VERSION"
fi

for tool in "$RUSTC" "$CLIPPY_DRIVER" clang ld.lld bindgen qemu-system-x86_64 busybox; do
	command -v "$tool" >/dev/null || die "setup: $tool is still missing after installing"
done

# SPDX-License-Identifier: GPL-2.0
# Shared settings and helpers of the pte_attrs harness. Sourced, not run.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PTE_ATTRS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pte_attrs}
OUT=${PTE_ATTRS_OUT:-$ROOT/out}

# FLAVOR selects the kernel and how it boots: native (the default), xen
# (the same kernel as a Xen PV dom0) or debug (a kernel with bug detectors).
FLAVOR=${FLAVOR:-native}
case "$FLAVOR" in
native | xen) KFLAVOR=default ;;
debug) KFLAVOR=debug ;;
*)
	echo "pte_attrs: FLAVOR=$FLAVOR is not one of native, xen, debug" >&2
	exit 2
	;;
esac

# KERNEL selects the kernel series: 7.3 (the default: what mainline
# developers run), 6.12 (Debian 12's series), or debian-7.3 (Debian's own
# 7.3 image, unmodified, with the module built in a trixie build root by
# scripts/distro.sh). 6.12 and 7.3 are Debian's linux-source packages,
# configured here (kernel/*.config) and built with the toolchain of
# shared/KERNEL-NOTES.md: Debian's rustc-web and LLVM 19.
KERNEL=${KERNEL:-7.3}
case "$KERNEL" in
6.12 | 7.3) KSERIES=$KERNEL DISTRO= ;;
debian-7.3) KSERIES=7.3 DISTRO=debian ;;
*)
	echo "pte_attrs: KERNEL=$KERNEL is not one of 7.3, 6.12, debian-7.3" >&2
	exit 2
	;;
esac
[ -n "$DISTRO" ] && [ "$FLAVOR" = debug ] && {
	echo "pte_attrs: KERNEL=$KERNEL is Debian's own build: FLAVOR=native or xen" >&2
	exit 2
}
KSRC_PKG=linux-source-$KSERIES
RUSTC=/usr/bin/rustc
CLIPPY_DRIVER=/usr/bin/clippy-driver
export PATH="/usr/lib/llvm-19/bin:$HOME/.cargo/bin:$PATH"
KMAKE=(make LLVM=1 "RUSTC=$RUSTC" "CLIPPY_DRIVER=$CLIPPY_DRIVER")

# Debian's trixie-backports, fetched with a private apt configuration (its
# own sources list, lists and cache under CACHE; the machine's sources and
# package database are not touched). apt verifies the downloads against
# the archive keyring the machine already has.
TRIXIE_APT=$CACHE/apt-trixie
trixie_apt() {
	local d=$TRIXIE_APT
	mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/etc"
	[ -f "$d/etc/sources.list" ] ||
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main" \
			>"$d/etc/sources.list"
	apt-get -q -o Dir::Etc::SourceList="$d/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" -o Dir::State::Status=/dev/null \
		-o APT::Architecture=amd64 -o APT::Sandbox::User=root -o Debug::NoLocking=1 "$@"
}

# ksrc_fetch: makes sure the source tarball of KSERIES is at hand; sets
# KSRC_TARBALL and KSRC_VERSION. 6.12 is the host's package (setup.sh
# installs it); 7.3 comes from trixie-backports, unpacked under CACHE.
ksrc_fetch() {
	if [ "$KSERIES" = 6.12 ]; then
		KSRC_TARBALL=/usr/src/$KSRC_PKG.tar.xz
		KSRC_VERSION=$(dpkg-query -W -f='${Version}' "$KSRC_PKG")
		return
	fi
	local d=$TRIXIE_APT/$KSRC_PKG deb
	mkdir -p "$CACHE/logs"
	deb=$(ls "$d"/"${KSRC_PKG}"_*.deb 2>/dev/null | tail -n 1 || true)
	if [ -z "$deb" ] || [ ! -f "$d/usr/src/$KSRC_PKG.tar.xz" ]; then
		mkdir -p "$d"
		trixie_apt update >"$CACHE/logs/apt-trixie.log" 2>&1 ||
			die "apt-get update of trixie-backports failed (log: $CACHE/logs/apt-trixie.log)"
		(cd "$d" && trixie_apt download "$KSRC_PKG") >>"$CACHE/logs/apt-trixie.log" 2>&1 ||
			die "fetching $KSRC_PKG from trixie-backports failed (log: $CACHE/logs/apt-trixie.log)"
		deb=$(ls "$d"/"${KSRC_PKG}"_*.deb | tail -n 1)
		dpkg-deb -x "$deb" "$d"
	fi
	KSRC_TARBALL=$d/usr/src/$KSRC_PKG.tar.xz
	KSRC_VERSION=$(dpkg-deb -f "$deb" Version)
}

# The harness kernel tree of KERNEL and FLAVOR (built in place, kept in
# CACHE; each pair its own tree and stamp).
harness_kdir() {
	if [ -n "$DISTRO" ]; then
		echo "$CACHE/debian-$KSERIES/root/build/$KSRC_PKG"
	elif [ "$KFLAVOR" = default ]; then
		echo "$CACHE/$KSRC_PKG"
	else
		echo "$CACHE/$KSRC_PKG-$KFLAVOR"
	fi
}

if [ -t 1 ]; then
	C_BOLD=$'\e[1m' C_RED=$'\e[31m' C_GREEN=$'\e[32m' C_OFF=$'\e[0m'
else
	C_BOLD='' C_RED='' C_GREEN='' C_OFF=''
fi

say() { printf '%s==> %s%s\n' "$C_BOLD" "$*" "$C_OFF"; }
warn() { printf '%spte_attrs: %s%s\n' "$C_RED" "$*" "$C_OFF" >&2; }
die() {
	warn "$*"
	exit 1
}

# run_logged LOG "what" "usually takes" CMD...
# Runs CMD with all output in LOG, shows a one-line progress indicator
# (elapsed time and the last line of the log) and, on failure, the log's
# path and its last lines.
run_logged() {
	local log=$1 what=$2 usual=$3
	shift 3
	mkdir -p "$(dirname "$log")"
	say "$what (usually $usual; log: $log)"
	local start=$SECONDS
	"$@" >"$log" 2>&1 &
	local pid=$!
	if [ -t 1 ]; then
		while kill -0 "$pid" 2>/dev/null; do
			local last
			last=$(tail -n 1 "$log" 2>/dev/null | tr -d '\r' | cut -c1-60)
			printf '\r\e[K    %4ds  %s' $((SECONDS - start)) "$last"
			sleep 2
		done
		printf '\r\e[K'
	else
		# Not a terminal (CI): a heartbeat line a minute.
		while kill -0 "$pid" 2>/dev/null; do
			sleep 5
			if (((SECONDS - start) % 60 < 5)); then
				echo "    ... $((SECONDS - start))s: $(tail -n 1 "$log" 2>/dev/null | cut -c1-70)"
			fi
		done
	fi
	local rc=0
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		warn "$what failed (exit $rc) after $((SECONDS - start))s. Last lines of $log:"
		tail -n 40 "$log" >&2
		return "$rc"
	fi
	echo "    done in $((SECONDS - start))s"
}

# KERNEL=debian-7.3 (scripts/distro.sh): Debian's own image of that
# release, unmodified, and the trixie build root whose toolchain is the
# one Debian built it with. DEB_DIR holds the packages, the unpacked
# image and headers, and the build root (DEB_BROOT) with the kernel tree
# and a copy of this project (DEB_MODBUILD) where the module is built:
# the project dir's own kbuild products are the host toolchain's. One
# copy per checkout (named by ROOT's hash): checkouts share the cache.
DEB_KVERSION=7.3.4-1~bpo13+1
DEB_KREL=7.3.4+deb13-amd64
DEB_DIR=$CACHE/debian-$KSERIES
DEB_BROOT=$DEB_DIR/root
DEB_MODBUILD=$DEB_BROOT/build/pte_attrs-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
DEB_IMAGE_MODULES=$DEB_DIR/image/usr/lib/modules/$DEB_KREL

# The kernel image vm.sh boots: KDIR's bzImage, or Debian's vmlinuz.
harness_kimage() {
	if [ -n "$DISTRO" ]; then
		echo "$DEB_IMAGE_MODULES/vmlinuz"
	else
		echo "$1/arch/x86/boot/bzImage"
	fi
}

# Where the built pte_attrs.ko and samples/pte_attrs_sample.ko are.
harness_kobuild() {
	# Our kernels: module.sh's copy in OUT (the tree's .ko files are
	# shared by every KERNEL and may be rebuilt for another one).
	if [ -n "$DISTRO" ]; then echo "$DEB_MODBUILD"; else echo "$OUT/ko"; fi
}

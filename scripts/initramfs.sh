#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Packs the test VM's initramfs: busybox, the modules, the demo and the
# selftests in the kernel's kselftest install layout (run_kselftest.sh,
# kselftest/*, kselftest-list.txt and one folder per collection), taken
# from the same source tree as the kernel.
#
# Usage: initramfs.sh KDIR OUTPUT.cpio.gz
set -euo pipefail
. "$(dirname "$0")/lib.sh"

KDIR=$1
OUTPUT=$2
# The kselftest runner comes from the harness source tree even when the
# module is built against another KDIR (an installed kernel's build dir
# has no tools/).
KSFT_SRC=$(harness_kdir)/tools/testing/selftests
[ -f "$KSFT_SRC/run_kselftest.sh" ] || KSFT_SRC=$KDIR/tools/testing/selftests
[ -f "$KSFT_SRC/run_kselftest.sh" ] || die "no kselftest runner in $KSFT_SRC"

if [ -n "$DISTRO" ]; then
	# Debian's own kernel (scripts/distro.sh builds the module for it).
	krel=$DEB_KREL
else
	krel=$("${KMAKE[@]}" -s -C "$KDIR" kernelrelease)
fi
kobuild=$(harness_kobuild)
root=$(mktemp -d "${TMPDIR:-/tmp}/pte_attrs-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

chmod 0755 "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,root}
cp /bin/busybox "$root/bin/busybox"
for applet in $(busybox --list-full); do
	[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
rm -f "$root/usr/bin/timeout"
install -m 0755 "$ROOT/scripts/guest/timeout" "$root/usr/bin/timeout"
install -m 0755 "$ROOT/scripts/guest/init" "$root/init"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# Modules, with modules.dep so that modprobe resolves the sample's
# dependency on pte_attrs.
moddir=$root/lib/modules/$krel/extra
mkdir -p "$moddir"
install -m 0644 "$kobuild/pte_attrs.ko" "$kobuild/samples/pte_attrs_sample.ko" "$moddir/"
touch "$root/lib/modules/$krel"/modules.{order,builtin,builtin.modinfo}
# Debian's kernel has its display driver as a module (bochs, for qemu's
# VGA), which udev loads on a Debian system; the guest's init loads it
# the same way. It goes in with what it depends on, uncompressed (busybox
# cannot load .ko.xz; Debian signs the uncompressed module, so the
# signature stays valid and the module does not taint).
deb_module() {
	local f dst d
	f=$(find "$DEB_IMAGE_MODULES/kernel" \( -name "$1.ko.xz" -o -name "${1//_/-}.ko.xz" \) | head -n 1)
	[ -n "$f" ] || die "no module $1 in Debian's $krel"
	dst=$root/lib/modules/$krel/${f#"$DEB_IMAGE_MODULES/"}
	dst=${dst%.xz}
	[ -f "$dst" ] && return
	mkdir -p "$(dirname "$dst")"
	xz -dc "$f" >"$dst"
	for d in $(modinfo -F depends "$f" | tr , ' '); do
		deb_module "$d"
	done
}
if [ -n "$DISTRO" ]; then
	deb_module bochs
fi
depmod -b "$root" "$krel"

install -D -m 0755 "$ROOT/scripts/guest/demo.sh" "$root/usr/share/pte_attrs/demo.sh"
install -D -m 0755 "$ROOT/scripts/guest/bench.sh" "$root/usr/share/pte_attrs/bench.sh"
install -D -m 0755 "$ROOT/scripts/guest/bigvm.sh" "$root/usr/share/pte_attrs/bigvm.sh"

# kselftest install layout.
ksft=$root/kselftest
mkdir -p "$ksft/kselftest" "$ksft/pte_attrs"
install -m 0755 "$KSFT_SRC/run_kselftest.sh" "$ksft/"
install -m 0644 "$KSFT_SRC"/kselftest/{runner.sh,ktap_helpers.sh,module.sh,prefix.pl} "$ksft/kselftest/"
# TESTS="a.sh b.sh" runs only those (module.sh first is a good idea).
progs=${TESTS:-$(make -s --no-print-directory -C "$ROOT/selftests" print-progs)}
files=$(make -s --no-print-directory -C "$ROOT/selftests" print-files)
: >"$ksft/kselftest-list.txt"
for p in $progs; do
	install -m 0755 "$ROOT/selftests/$p" "$ksft/pte_attrs/"
	echo "pte_attrs:$p" >>"$ksft/kselftest-list.txt"
done
for f in $files; do
	install -m 0644 "$ROOT/selftests/$f" "$ksft/pte_attrs/"
done
# The GEM selftest's user-space helper: a static C program (the guest has
# no libc), built with the host's gcc and glibc.
gcc -static -O2 -Wall -Wextra -Werror -I"$ROOT/include" \
	-o "$ksft/pte_attrs/gem_mmap_helper" "$ROOT/selftests/gem_mmap_helper.c" ||
	die "could not build selftests/gem_mmap_helper.c (gcc -static: needs libc6-dev)"
# The memtype records of /proc/kpageflags: the non-WB check's oracle where
# the kernel has no ptdump file (pte_attrs_lib.sh: dmap_nonwb).
gcc -static -O2 -Wall -Wextra -Werror \
	-o "$ksft/pte_attrs/memtype_scan" "$ROOT/selftests/memtype_scan.c" ||
	die "could not build selftests/memtype_scan.c"

mkdir -p "$(dirname "$OUTPUT")"
(cd "$root" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$OUTPUT"

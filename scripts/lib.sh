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

# The toolchain of shared/KERNEL-NOTES.md: Debian's rustc-web and LLVM 19.
KSERIES=6.12
KSRC_PKG=linux-source-$KSERIES
KSRC_TARBALL=/usr/src/$KSRC_PKG.tar.xz
RUSTC=/usr/bin/rustc
CLIPPY_DRIVER=/usr/bin/clippy-driver
export PATH="/usr/lib/llvm-19/bin:$HOME/.cargo/bin:$PATH"
KMAKE=(make LLVM=1 "RUSTC=$RUSTC" "CLIPPY_DRIVER=$CLIPPY_DRIVER")

# The harness kernel tree for this flavor (built in place, kept in CACHE).
harness_kdir() {
	if [ "$KFLAVOR" = default ]; then
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

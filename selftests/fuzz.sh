#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# A seeded fuzzer of every file of the module. Several processes write
# values at and past every bound, 0, negatives, 2^63, 2^64+1, huge digit
# strings, hex, empty and unterminated writes, embedded NULs, junk up to
# 64 KiB, one byte at a time to one open file, and valid values with small
# runs; they read every file at odd offsets. Meanwhile another process
# stops runs, evicts the pool, runs the shrinker, and unloads and reloads
# the module. Every outcome is classified by its errno. Afterwards the
# module must still work, no page may be left non-WB and the kernel log
# must be clean.
#
# PTE_ATTRS_FUZZ_SEED=n repeats a run: each process draws its operations
# from its own xorshift64 generator seeded from n, so the number of
# operations and the "sequence" hash of each process are the same from run
# to run. The outcome counts differ a little: whether a write meets the
# module absent, a run in progress or the file busy depends on timing.
# PTE_ATTRS_FUZZ_OPS=n (default 3000): operations of the fuzzing processes
# in all; PTE_ATTRS_FUZZ_PROCS=n (default 3): how many there are;
# PTE_ATTRS_FUZZ_TRACE=1: every operation is logged to the kernel log first.
# Timing: on the debug (hardened) kernel under TCG, 3000 operations took
# 80-170 s and CI's 10,000 (.ci/run) 773 s (13 minutes, with 75
# rmmod/insmod cycles; selftests/settings allows 30 minutes a test).
#
# Inputs of issue 10: `lookup` of non-canonical, user-half and
# hypervisor-hole addresses (refused with EINVAL), `bar` naming the
# display devices (00:03.0, bound to bochs-drm in the debug flavor: EBUSY
# at the run; 00:05.0, the secondary-vga the harness binds to the
# module's own PCI driver), `inject_miss` 0/1.
#
# Bounded damage: the only large page count the fuzzer writes that the
# module accepts is 2^20, which a VM of less than 8 GiB refuses to run
# (ENOMEM, before anything changes); long runs (up to 10^6 iterations)
# end with the `stop` writes of the mix, or at unload. No `bench` but
# `accessor` (rarely), and `lookup` only reads page tables.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

# A number, or empty.
is_num() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

# default_seed: 48 bits of a fresh UUID, or the time.
default_seed() {
	u=$(cat /proc/sys/kernel/random/uuid 2>/dev/null)
	r=${u#*-}
	h=${u%%-*}${r%%-*}
	case $h in
	[0-9a-f]*) echo $((0x$h)) ;;
	*) date +%s ;;
	esac
}

ktap_print_header
SEED=${PTE_ATTRS_FUZZ_SEED:-$(default_seed)}
OPS=${PTE_ATTRS_FUZZ_OPS:-3000}
PROCS=${PTE_ATTRS_FUZZ_PROCS:-3}
TRACE=${PTE_ATTRS_FUZZ_TRACE:-}
ktap_print_msg "seed $SEED (PTE_ATTRS_FUZZ_SEED=$SEED repeats this run)"
is_num "$SEED" && [ ${#SEED} -le 18 ] || ktap_exit_fail_msg "PTE_ATTRS_FUZZ_SEED is not a number below 10^18"
is_num "$OPS" || ktap_exit_fail_msg "PTE_ATTRS_FUZZ_OPS is not a number"
is_num "$PROCS" && [ "$PROCS" -ge 1 ] || ktap_exit_fail_msg "PTE_ATTRS_FUZZ_PROCS is not a number above 0"
ktap_set_plan 6

# --- The generator -------------------------------------------------------

# seed_for N: a nonzero state for process N (splitmix64 of SEED and N).
# ash arithmetic is signed 64-bit and wraps; its >> is arithmetic, so a
# logical shift masks the sign bits away.
seed_for() {
	z=$((SEED + ($1 + 1) * 0x9E3779B97F4A7C15))
	z=$(((z ^ ((z >> 30) & 0x3ffffffff)) * 0xBF58476D1CE4E5B9))
	z=$(((z ^ ((z >> 27) & 0x1fffffffff)) * 0x94D049BB133111EB))
	z=$((z ^ ((z >> 31) & 0x1ffffffff)))
	[ "$z" = 0 ] && z=1
	R=$z
	HASH=0
}

# rnd: the next xorshift64 state in R; every draw is folded into HASH.
rnd() {
	R=$((R ^ (R << 13)))
	R=$((R ^ ((R >> 7) & 0x1ffffffffffffff)))
	R=$((R ^ (R << 17)))
	HASH=$(((HASH * 31) ^ R))
}

# pick N: P is a number in 0..N-1.
pick() {
	rnd
	P=$((((R >> 11) & 0x1fffffffffffff) % $1))
}

# hex N: HX is N in hex (unsigned, lower case, no prefix).
hex() {
	n=$1
	HX=
	while :; do
		d=$((n & 15))
		case $d in 10) d=a ;; 11) d=b ;; 12) d=c ;; 13) d=d ;; 14) d=e ;; 15) d=f ;; esac
		HX=$d$HX
		n=$(((n >> 4) & 0x0fffffffffffffff))
		[ "$n" = 0 ] && break
	done
}

# junk N: V is N random bytes (1..255, drawn from the generator) as
# echo -e escapes.
junk() {
	V=
	i=0
	while [ $i -lt "$1" ]; do
		pick 255
		b=$((P + 1))
		V="$V\\0$((b >> 6))$(((b >> 3) & 7))$((b & 7))"
		i=$((i + 1))
	done
}

D20=99999999999999999999
D40=$D20$D20
D80=$D40$D40
D256=$D80$D80$D80${D20}9999
D300=$D256${D40}9999
Z80=00000000000000000000000000000000000000000000000000000000000000000000000000000000
Z255=$Z80$Z80$Z80000000000000000
NAME31=0000:00:02.0-abcdefghijklmnopqr
NAME32=${NAME31}s

# --- Operations and their outcomes --------------------------------------

# count RC: classifies one operation by its exit status and the error
# message the shell or dd left in $ERRF, and counts it.
count() {
	N_OPS=$((N_OPS + 1))
	if [ "$1" = 0 ]; then
		N_OK=$((N_OK + 1))
		return
	fi
	e=
	read -r e <"$ERRF"
	case $e in
	*"Invalid argument"*) N_EINVAL=$((N_EINVAL + 1)) ;;
	*busy* | *"temporarily unavailable"*) N_EBUSY=$((N_EBUSY + 1)) ;;
	*memory*) N_ENOMEM=$((N_ENOMEM + 1)) ;;
	*"not permitted"*) N_EPERM=$((N_EPERM + 1)) ;;
	# The module is gone (ENOENT), or going: its files are (ENXIO) or
	# its directory has lost them and refuses to create one (EACCES).
	*"No such file"* | *"no such file"* | *"nonexistent directory"* | *"No such device"* | *"Permission denied"*)
		N_ABSENT=$((N_ABSENT + 1))
		GONE=1
		;;
	*)
		N_OTHER=$((N_OTHER + 1))
		[ $N_OTHER -le 5 ] && echo "p$ID: $WHAT: $e" >>"$TMP/other.$ID"
		;;
	esac
}

counters_zero() { N_OPS=0 N_OK=0 N_EINVAL=0 N_EBUSY=0 N_ENOMEM=0 N_EPERM=0 N_ABSENT=0 N_OTHER=0; }
counters_save() {
	echo "$N_OPS $N_OK $N_EINVAL $N_EBUSY $N_ENOMEM $N_EPERM $N_ABSENT $N_OTHER $*" >"$TMP/count.$ID"
}

# trace WHAT: names the operation (in WHAT, for count) and, with
# PTE_ATTRS_FUZZ_TRACE set, logs it first.
trace() {
	WHAT=$*
	[ -z "$TRACE" ] || echo "pte_attrs-fuzz: p$ID.$A $*" >/dev/kmsg
}

# put FILE MODE VALUE: one write() of VALUE to FILE. MODE n: with a
# newline; r: without; e: VALUE holds echo -e escapes, written as they
# say; d: VALUE is a size, that many bytes of /dev/urandom.
put() {
	trace "write $1 $2 '$3'"
	case $2 in
	n) echo "$3" 2>"$ERRF" >"$PA_DIR/$1" ;;
	r) echo -n "$3" 2>"$ERRF" >"$PA_DIR/$1" ;;
	e) echo -ne "$3" 2>"$ERRF" >"$PA_DIR/$1" ;;
	d) dd if=/dev/urandom bs="$3" count=1 2>"$ERRF" >"$PA_DIR/$1" ;;
	esac
	count $?
}

# get FILE BS SKIP COUNT: reads FILE with dd.
get() {
	trace "read $1 bs=$2 skip=$3 count=$4"
	dd if="$PA_DIR/$1" bs="$2" skip="$3" count="$4" 2>"$ERRF" >/dev/null
	count $?
}

# file N: F is the Nth file of the module's directory (from 0).
file() {
	i=0
	for F in $FILES; do
		[ $i = "$1" ] && return
		i=$((i + 1))
	done
}

pick_file() {
	pick "$NFILES"
	file "$P"
}

# bounds: LO and HI, the range of $F's number (1..1 for the actions).
bounds() {
	case $F in
	pages) LO=1 HI=1048576 ;;
	max_order) LO=0 HI=10 ;;
	iterations) LO=1 HI=1000000 ;;
	threads) LO=1 HI=16 ;;
	bar) LO=0 HI=5 ;;
	run | stop | reset | evict) LO=1 HI=1 ;;
	*) LO=0 HI=1 ;;
	esac
}

scenario_name() {
	case $1 in
	0) S=set_pages ;; 1) S=pages_array ;; 2) S=set_memory ;;
	3) S=ioremap ;; 4) S=gem_evict ;; *) S=wc_wb_free ;;
	esac
}

# fuzz_value: V and M (a mode of put) for $F: bounds and past them,
# overflows, malformed numbers, NULs, junk.
fuzz_value() {
	bounds
	M=
	pick 32
	case $P in
	0) V=$LO ;;
	1) V=$HI ;;
	2) V=$((LO - 1)) ;;
	3) V=$((HI + 1)) ;;
	4) V=0 ;;
	5) V=-1 ;;
	6) V=-$HI ;;
	7) V=9223372036854775808 ;;
	8) V=18446744073709551615 ;;
	9) V=18446744073709551616 ;;
	10) V=18446744073709551617 ;;
	11) V=-9223372036854775808 ;;
	12) V=$D40 ;;
	13) V=$D256 M=r ;;
	14) V=$D300 ;;
	15) V=${Z255}1 M=r ;;
	16) hex "$HI" && V=0x$HX ;;
	17) hex $((HI + 1)) && V=0X$HX ;;
	18) V=0x0000000000000000000000000001 ;;
	19) pick 4 && case $P in 0) V=0x ;; 1) V=0xg ;; 2) V=0x-1 ;; *) V=0x10000000000000000 ;; esac ;;
	20) V= ;;
	21) V= M=r ;;
	22)
		M=e
		pick 5
		case $P in 0) V='1\0' ;; 1) V='a\0b' ;; 2) V='\0' ;; 3) V='\0001\n' ;; *) V='1\n\0' ;; esac
		;;
	23)
		M=e
		pick 6
		case $P in 0) V=' 1\n' ;; 1) V='1 \n' ;; 2) V='1\t\n' ;; 3) V='1\r\n' ;; 4) V='1\n2\n' ;; *) V='\n\n' ;; esac
		;;
	24) V=65536 M=d ;;
	25) pick 3 && case $P in 0) V=257 ;; 1) V=4096 ;; *) V=256 ;; esac && M=d ;;
	26) pick 24 && junk $((P + 1)) && M=e ;;
	27) pick 16 && V=$((LO + P)) ;;
	28) pick 8 && case $P in 0) V=+1 ;; 1) V=1e3 ;; 2) V=1_000 ;; 3) V=0b1 ;; 4) V=0o7 ;; 5) V=-0 ;; 6) V=007 ;; *) V=0 ;; esac ;;
	29) pick 8 && case $P in 0) V=yes ;; 1) V=no ;; 2) V=TRUE ;; 3) V=Auto ;; 4) V=GEM_EVICT ;; 5) V=nope ;; 6) V=Cpa ;; *) V=ALL ;; esac ;;
	30) pick 6 && V=auto/$((LO + P)) ;;
	*) pick 4 && case $P in 0) V=auto/$((HI + 1)) ;; 1) V=auto/ ;; 2) V=/0 ;; *) V=auto/-1 ;; esac ;;
	esac
	if [ -z "$M" ]; then
		pick 4
		if [ "$P" = 0 ]; then M=r; else M=n; fi
	fi
}

# op_fuzz: one fuzzed write to any file ("1" to run is a run).
op_fuzz() {
	pick_file
	fuzz_value
	if [ "$F" = run ] && [ "$V" = 1 ] && [ "$M" != e ] && [ "$M" != d ]; then
		op_run
	else
		put "$F" "$M" "$V"
	fi
}

# op_valid: a value $F accepts, or nearly.
op_valid() {
	pick_file
	pick 16
	case $F in
	scenario) scenario_name $((P % 6)) && V=$S ;;
	pages) V=$((P + 1)) ;;
	max_order) V=$((P % 11)) ;;
	iterations) V=$((P + 1)) ;;
	threads) V=$((P % 4 + 1)) ;;
	inject_miss)
		# Mostly off: it makes the next run report a failed page.
		V=$((P == 0))
		;;
	verify | hold | scatter)
		case $P in
		0) V=1 ;; 1) V=0 ;; 2) V=y ;; 3) V=n ;; 4) V=Y ;; 5) V=N ;; 6) V=on ;; 7) V=off ;;
		8) V=On ;; 9) V=OFF ;; 10) V=true ;; 11) V=false ;; 12) V=True ;; 13) V=FALSE ;; 14) V=01 ;; *) V=o ;;
		esac
		# Mostly off: a held ioremap, pages_array or wc_wb_free run lasts
		# until hold 0, a stop, or unload.
		[ "$F" = hold ] && [ "$P" -gt 1 ] && V=0
		;;
	bar)
		# In the harness VM 00:02.0 is a NIC (a BAR only mapped, never
		# accessed, or refused: not prefetchable), 00:03.0 the VGA (bound
		# to bochs-drm in the debug flavor; BAR 2: 4 KiB, not
		# prefetchable), 00:05.0 the secondary-vga, unbound, 00:01.1 IDE
		# (I/O BARs only).
		case $P in
		0) V=auto ;; 1 | 2 | 3) V=auto/$((P - 1)) ;; 4) V=0000:00:05.0 ;; 5) V=0000:00:05.0/0 ;;
		6) V=0000:00:05.0/2 ;; 7) V=0000:00:03.0 ;;
		8) V=0000:00:02.0/0 ;; 9) V=0000:00:03.0/2 ;; 10) V=0000:00:01.1/4 ;; 11) V=0000:ff:1f.7/5 ;;
		12) pick 2 && if [ "$P" = 0 ]; then V=$NAME31/1; else V=$NAME32/1; fi ;;
		13) V=0000:00:03.0/0 ;; 14) pick 3 && case $P in 0) V=auto/6 ;; 1) V=auto/3 ;; *) V=auto/5 ;; esac ;;
		*) V=x/9 ;;
		esac
		;;
	run)
		op_run
		return
		;;
	bench)
		case $P in
		0) V=Cpa ;; 1) V=ALL ;; 2) V=threads2 ;; 3) V=accessor2 ;; 4) V=benchmark ;; 5) V= ;; *) V=xyz ;;
		esac
		;;
	lookup)
		op_lookup
		return
		;;
	*) V=1 ;;
	esac
	put "$F" n "$V"
}

# op_read: a read of any file, at odd offsets and sizes.
op_read() {
	pick_file
	pick 6
	case $P in
	0) pick 200 && s=$P && pick 64 && get "$F" 1 "$s" $((P + 1)) ;;
	1) pick 40 && s=$P && pick 16 && get "$F" 7 "$s" $((P + 1)) ;;
	2) get "$F" 4096 0 1 ;;
	3) pick 3 && get "$F" 3 "$P" 100 ;;
	4) pick 3 && case $P in 0) s=4294967296 ;; 1) s=9223372036854775806 ;; *) s=9223372036854775807 ;; esac &&
		get "$F" 1 "$s" 2 ;;
	*) pick 8 && get "$F" 1 $((P * 100 + 1)) 5 ;;
	esac
}

# op_bytes: a string written one byte at a time to one open file (not
# run or bench: their bytes must not start anything). Each byte is one
# operation. % stands for a newline, @ for a NUL.
op_bytes() {
	pick_file
	case $F in run | bench) F=pages ;; esac
	pick 12
	case $P in
	0) S=12% ;; 1) S=on% ;; 2) S=set_pages% ;; 3) S=0x10% ;; 4) S=1% ;; 5) S=-1% ;;
	6) S=%% ;; 7) S=1@ ;; 8) S=auto/3% ;; 9) S=gem_evict ;; 10) S=18446744073709551617% ;;
	*)
		S=
		pick 8
		k=$((P + 1))
		while [ "$k" -gt 0 ]; do
			pick 20
			case $P in
			10) c=a ;; 11) c=f ;; 12) c=x ;; 13) c=X ;; 14) c=- ;;
			15) c=+ ;; 16) c=% ;; 17) c=' ' ;; 18) c=@ ;; 19) c=/ ;; *) c=$P ;;
			esac
			S=$S$c
			k=$((k - 1))
		done
		;;
	esac
	trace "bytes $F '$S'"
	opened=0
	n=${#S}
	{
		opened=1
		s=$S
		while [ -n "$s" ]; do
			c=${s%"${s#?}"}
			s=${s#?}
			case $c in
			%) echo >&5 ;;
			@) echo -ne '\0' >&5 ;;
			*) echo -n "$c" >&5 ;;
			esac 2>"$ERRF"
			count $?
		done
	} 2>"$ERRF" 5>"$PA_DIR/$F"
	if [ $opened = 0 ]; then
		while [ "$n" -gt 0 ]; do
			count 1
			n=$((n - 1))
		done
	fi
}

# wait_run: waits up to 3 s for the run to end (not an operation).
wait_run() {
	i=0
	while [ $i -lt 30 ]; do
		st=
		while read -r l; do
			case $l in state=*) st=${l#state=} && break ;; esac
		done 2>/dev/null <"$PA_DIR/results"
		[ "$st" = running ] || return 0
		sleep 0.1
		i=$((i + 1))
	done
}

# op_run: mostly a small configuration first, then `run 1`; then wait for
# the end, stop at once, or leave it running.
op_run() {
	pick 16
	sane=$P
	pick 4
	after=$P
	if [ "$sane" != 0 ]; then
		pick 6 && scenario_name "$P" && put scenario n "$S"
		pick 16 && put pages n $((P + 1))
		pick 4 && put iterations n $((P + 1))
		pick 4 && put threads n $((P + 1))
		pick 5 && put max_order n "$P"
		pick 8 && put verify n $((P != 0))
		pick 8 && put scatter n $((P == 0))
		pick 16 && put hold n $((P == 0))
		pick 4 && if [ "$P" = 0 ]; then put bar n 0000:00:03.0/2; else put bar n auto; fi
	fi
	put run n 1
	case $after in
	0) wait_run ;;
	1) put stop n 1 ;;
	esac
}

# op_lookup: hex junk (and addresses: a lookup only reads page tables),
# then the report.
op_lookup() {
	M=n
	pick 10
	case $P in
	0 | 1) rnd && hex "$R" && V=$HX ;;
	2) pick 1048576 && hex $((0xffff888000000000 + P * 4096)) && V=$HX ;;
	3) pick 4096 && hex $((0xffffffff81000000 + P * 4096)) && V=$HX ;;
	4) pick 65536 && hex $((0xffffc90000000000 + P * 4096)) && V=$HX ;;
	5)
		pick 8
		case $P in
		0) V=0 ;; 1) V=ffffffffffffffff ;; 2) V=8000000000000000 ;; 3) V=00007fffffffffff ;;
		4) V=ffff800000000000 ;; 5) V=fffffe0000000000 ;; 6) V=ffffea0000000000 ;; *) V=ffffffffff600000 ;;
		esac
		;;
	6)
		# Refused (EINVAL): non-canonical, user half, hypervisor hole.
		pick 8
		case $P in
		0) V=0000888000000000 ;; 1) V=8000000000000000 ;; 2) V=1000 ;; 3) V=7fff00000000 ;;
		4) V=ffff800000000000 ;; 5) V=ffff87ffffffffff ;; 6) pick 65536 && hex $((0xffff800000000000 + P * 0x8000000)) && V=$HX ;;
		*) pick 1048576 && hex $((0x0000888000000000 + P * 4096)) && V=$HX ;;
		esac
		;;
	7) pick 4 && case $P in 0) V=10000000000000000 ;; 1) V=$D40 ;; 2) V=g ;; *) V=0x ;; esac ;;
	8)
		# `user ADDR`: a user PTE of the writer (issue 13), any address,
		# or a malformed one.
		pick 6
		case $P in
		0) rnd && hex "$R" && V="user 0x$HX" ;;
		1) pick 65536 && hex $((0x7f0000000000 + P * 4096)) && V="user 0x$HX" ;;
		2) V="user 0xffff888000000000" ;;
		3) V="user" ;;
		4) V="user 0x1000 2" ;;
		*) junk 8 && V="user 0x$V" ;;
		esac
		M=e
		;;
	*) junk 8 && V=0x$V M=e ;;
	esac
	if [ "$M" != e ]; then
		pick 3
		case $P in 0) V=0x$V ;; 1) V=0X$V M=r ;; esac
	fi
	put lookup "$M" "$V"
	pick 2 && if [ "$P" = 0 ]; then get lookup 4096 0 1; else get lookup 7 3 9; fi
}

# op_lookup_pool: looks up a block of the GEM pool, which runs may be
# changing right now.
op_lookup_pool() {
	pick 2
	want=$P
	addr=
	trace "read results"
	{
		while read -r l; do
			case $l in
			pool.sample_wc=*) [ "$want" = 1 ] || addr=${l#*=} ;;
			pool.sample_uc=*) [ "$want" = 0 ] || addr=${l#*=} ;;
			esac
		done
	} 2>"$ERRF" <"$PA_DIR/results"
	count $?
	put lookup n "${addr:-ffff888000000000}"
	get lookup 4096 0 1
}

# op_bench: a benchmark name; only rarely a real (short) one.
op_bench() {
	pick 16
	case $P in
	0) put bench n accessor ;;
	1) put bench n cpa2 ;;
	2) put bench r Threads ;;
	3) put bench e 'all\0' ;;
	*) get bench 5 "$P" 3 ;;
	esac
}

# back: after an operation met the module absent, waits (up to 10 s) until
# it is back rather than spend the operations on its absence.
back() {
	GONE=
	i=0
	while [ ! -e "$PA_DIR/results" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

# fuzzer N: process N's share of the operations. How many operations an
# action makes depends on the draws only, never on outcomes.
fuzzer() {
	ID=$1
	ERRF=$TMP/err.$ID
	seed_for "$ID"
	counters_zero
	A=0
	while [ $N_OPS -lt "$SHARE" ]; do
		A=$((A + 1))
		pick 100
		if [ $P -lt 42 ]; then op_fuzz
		elif [ $P -lt 54 ]; then op_valid
		elif [ $P -lt 70 ]; then op_read
		elif [ $P -lt 75 ]; then op_bytes
		elif [ $P -lt 81 ]; then op_run
		elif [ $P -lt 86 ]; then put stop n 1
		elif [ $P -lt 89 ]; then put evict n 1
		elif [ $P -lt 92 ]; then put reset n 1
		elif [ $P -lt 96 ]; then op_lookup
		elif [ $P -lt 98 ]; then op_lookup_pool
		else op_bench
		fi
		[ -z "$GONE" ] || back
	done
	hex "$HASH"
	counters_save "$A" "$HX"
	: >"$TMP/done.$ID"
}

all_done() {
	i=1
	while [ $i -le "$PROCS" ]; do
		[ -e "$TMP/done.$i" ] || return 1
		i=$((i + 1))
	done
}

# insmod_retry: loads the module, up to 20 tries.
insmod_retry() {
	i=0
	until insmod "$(pa_ko pte_attrs)" 2>"$ERRF"; do
		INS_FAIL=$((INS_FAIL + 1))
		read -r e <"$ERRF" && echo "controller: insmod: $e" >>"$TMP/other.c"
		i=$((i + 1))
		[ $i -ge 20 ] && return 1
		sleep 0.2
	done
}

# controller: until the fuzzers are done, every 50..250 ms: an unload and
# reload (refused while a file is open: counted as busy), a shrinker run,
# a stop or an eviction. Its sequence depends on timing.
controller() {
	ID=c
	ERRF=$TMP/err.c
	seed_for 0
	counters_zero
	RM_OK=0 RM_BUSY=0 RM_OTHER=0 INS_FAIL=0 DROPS=0
	A=0
	while ! all_done; do
		A=$((A + 1))
		pick 10
		case $P in
		0 | 1 | 2 | 3 | 4)
			trace "rmmod"
			if rmmod pte_attrs 2>"$ERRF"; then
				RM_OK=$((RM_OK + 1))
				pick 4
				usleep $((P * 50000 + 50000))
				insmod_retry
			else
				e=
				read -r e <"$ERRF"
				case $e in
				*busy* | *"temporarily unavailable"* | *"in use"*) RM_BUSY=$((RM_BUSY + 1)) ;;
				*)
					RM_OTHER=$((RM_OTHER + 1))
					echo "controller: rmmod: $e" >>"$TMP/other.c"
					;;
				esac
			fi
			;;
		5 | 6)
			trace "drop_caches"
			echo 3 >/proc/sys/vm/drop_caches
			DROPS=$((DROPS + 1))
			;;
		7 | 8) put stop n 1 ;;
		*) put evict n 1 ;;
		esac
		pick 5
		usleep $((P * 50000 + 50000))
	done
	pa_load 2>/dev/null || insmod_retry
	counters_save "$RM_OK $RM_BUSY $RM_OTHER $INS_FAIL $DROPS"
}

# The kernel log is read as it comes (/dev/kmsg): the module logs every
# refused write, and the ring buffer would lose the start of the run.
kmsg_start() {
	cat /dev/kmsg >"$TMP/kmsg" 2>/dev/null &
	KMSG_PID=$!
	kmsg_sync "$MARK"
	START_MARK=$PA_MARK_LAST
}

# kmsg_sync TAG: marks the log and waits until the reader has the mark.
kmsg_sync() {
	dmesg_mark "$1"
	i=0
	until kmsg_has "$PA_MARK_LAST"; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

kmsg_stop() {
	if kill -0 "$KMSG_PID" 2>/dev/null; then
		kill "$KMSG_PID"
		wait "$KMSG_PID" 2>/dev/null
	else
		ktap_print_msg "the kernel log reader ended early; dmesg fills in"
	fi
}

# kmsg_has TEXT: the reader has a line that is exactly TEXT.
kmsg_has() { sed 's/^[^;]*;//' "$TMP/kmsg" | grep -qxF "$1"; }

# kmsg_log: the kernel log since the fuzzing started (its first mark,
# $START_MARK), as read.
kmsg_log() {
	sed 's/^[^;]*;//' "$TMP/kmsg" | awk -v m="$START_MARK" '$0 == m { on = 1 } on'
}

# fuzz_log: the same, and what dmesg still has of it (should the reader
# have missed some), without timestamps: a line may appear twice.
fuzz_log() {
	kmsg_log
	dmesg_since "$MARK" | sed 's/^\[[^]]*\] //'
}

# sum: the column sums of the fuzzers' count files.
sum() {
	cat "$TMP"/count.[0-9]* | awk '{ for (i = 1; i <= 8; i++) s[i] += $i }
		END { print s[1] + 0, s[2] + 0, s[3] + 0, s[4] + 0, s[5] + 0, s[6] + 0, s[7] + 0, s[8] + 0 }'
}

# --- The run -------------------------------------------------------------

pa_load
knob hold 0
knob stop 1
ex_defaults
knob reset 1
knob evict 1
# Small runs unless the fuzzer says otherwise.
knob pages 4
knob iterations 4
FILES=$(ls "$PA_DIR")
NFILES=$(echo "$FILES" | wc -l)
ktap_print_msg "$NFILES files:" $FILES
SHARE=$(((OPS + PROCS - 1) / PROCS))
TMP=$(mktemp -d /tmp/pte_attrs-fuzz.XXXXXX)
MARK=fuzz-$SEED-$$
kmsg_start

start=$(date +%s)
pids=
n=1
while [ $n -le "$PROCS" ]; do
	fuzzer $n &
	pids="$pids $!"
	n=$((n + 1))
done
controller &
pids="$pids $!"
for p in $pids; do wait "$p"; done
ktap_print_msg "fuzzing took $(($(date +%s) - start)) s"

n=1
while [ $n -le "$PROCS" ]; do
	read -r ops ok einval ebusy enomem eperm absent other acts seq <"$TMP/count.$n" || ops=0
	ktap_print_msg "fuzzer $n: $acts actions, $ops ops, sequence $seq;" \
		"ok $ok, EINVAL $einval, EBUSY $ebusy, ENOMEM $enomem, EPERM $eperm, absent $absent, other $other"
	n=$((n + 1))
done
read -r ops ok einval ebusy enomem eperm absent other rm_ok rm_busy rm_other ins_fail drops <"$TMP/count.c"
ktap_print_msg "controller: rmmod+insmod $rm_ok, rmmod busy $rm_busy, rmmod failed $rm_other," \
	"insmod failed $ins_fail, drop_caches $drops; stop/evict ops $ops (ok $ok, absent $absent, other $other)"
# shellcheck disable=SC2046
set -- $(sum)
ops=$1 ok=$2 einval=$3 ebusy=$4 enomem=$5 eperm=$6 absent=$7 other=$8
ktap_print_msg "fuzzers in all: $ops ops: ok $ok, EINVAL $einval, EBUSY $ebusy, ENOMEM $enomem," \
	"EPERM $eperm, absent $absent, other $other"
cat "$TMP"/other.* 2>/dev/null | sort -u | head -n 10 | sed 's/^/# other: /'

# Whatever the fuzzers left: no hold, no run, default knobs.
pa_load
knob hold 0
knob stop 1
[ -e "$PA_DIR/inject_miss" ] && knob inject_miss 0
[ -e "$PA_DIR/inject_fail" ] && knob inject_fail 0
ex_defaults
knob reset 1

# (1) The module still works.
works() {
	ex_run set_pages pages=4 iterations=4 || return 1
	[ "$(pa_get state)" = done ] && [ "$(pa_get errors)" = 0 ] &&
		[ "$(pa_get verify_failures)" = 0 ] && nonzero ops
}
if works; then
	ktap_test_pass "after fuzzing, a set_pages run is done with no error"
else
	echo "$PA_REPORT" | head -n 8 | sed 's/^/# /'
	ktap_test_fail "after fuzzing, a set_pages run is done with no error"
fi

# (2) Nothing non-WB: at this unload and at every unload of the fuzzing.
knob evict 1
dmesg_mark "$MARK-unload"
i=0
until rmmod pte_attrs; do
	i=$((i + 1))
	[ $i -ge 10 ] && break
	sleep 0.5
done
kmsg_sync "$MARK-unloaded"
last=$(dmesg_since "$MARK-unload" | grep 'pte_attrs: unloaded:')
ktap_print_msg "${last#*] }"
ktap_print_msg "$(kmsg_log | grep -c 'pte_attrs: unloaded:') unloads since the fuzzing started"
bad=$(fuzz_log | grep 'pte_attrs: unloaded:' | grep -v '; 0 evicted pages found not WB$' | sort -u)
echo "$bad" | grep . | head -n 5 | sed 's/^/# /'
if echo "$last" | grep -q "pte_attrs: unloaded: [0-9]* pool pages evicted; 0 evicted pages found not WB" &&
	[ -z "$bad" ]; then
	ktap_test_pass "no unload found an evicted page not WB"
else
	ktap_test_fail "no unload found an evicted page not WB"
fi
dmap_check "after the rmmod/insmod cycles and the last unload, nothing is non-WB in the direct map"
pa_load

# (3) A clean kernel log.
kmsg_stop
bad=$(fuzz_log | grep -E 'BUG:|WARNING:|Oops|Call Trace|leaking|KASAN|UBSAN|general protection|blocked for more than' | sort -u)
echo "$bad" | grep . | head -n 20 | sed 's/^/# /'
# (The harness fails a run whose console shows the words searched for:
# the description avoids them.)
ktap_check "the kernel log is clean: no bug, warning, oops, call trace, page leak" test -z "$bad"

# (4) The fuzzer reached the parsers; (5) it did all it was asked.
ktap_check "writes were refused with EINVAL ($einval)" test "$einval" -gt 0
ktap_check "at least $OPS operations ($ops)" test "$ops" -ge "$OPS"

ex_defaults
knob hold 0
knob evict 1
rm -rf "$TMP"
ktap_finished

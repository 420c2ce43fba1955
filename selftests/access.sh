#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Every file of the module is root-only: an unprivileged user is refused
# reads and writes by the file's own mode. The debugfs root is opened up
# for the test (remount mode=0755) so that the refusal comes from the
# module's files, not from /sys/kernel/debug itself.
DIR=$(dirname "$(readlink -f "$0")")
. "$DIR/../kselftest/ktap_helpers.sh"
. "$DIR/pte_attrs_lib.sh"

ktap_print_header
ktap_set_plan 4
pa_load
mode=$(stat -c %a /sys/kernel/debug)
mount -o remount,mode=0755 /sys/kernel/debug
as_nobody() { su nobody -s /bin/sh -c "$1" 2>/dev/null; }

ktap_check "nobody can reach the directory once debugfs is opened up" as_nobody "ls $PA_DIR >/dev/null"
read_ok=
write_ok=
n=0
for f in "$PA_DIR"/*; do
	n=$((n + 1))
	as_nobody "cat $f >/dev/null" && read_ok="$read_ok ${f##*/}"
	as_nobody "echo 1 > $f" && write_ok="$write_ok ${f##*/}"
done
ktap_print_msg "tried $n files as nobody"
[ -n "$read_ok" ] && ktap_print_msg "readable by nobody:$read_ok"
[ -n "$write_ok" ] && ktap_print_msg "writable by nobody:$write_ok"
ktap_check "nobody cannot read any file" test -z "$read_ok" -a "$n" -gt 10
ktap_check "nobody cannot write any file" test -z "$write_ok"
ktap_check "root still can" sh -c "cat $PA_DIR/accessor >/dev/null"
mount -o remount,mode="$mode" /sys/kernel/debug
ktap_finished

# SPDX-License-Identifier: GPL-2.0
# Counts the results the guest sent back (scripts/guest/init) and prints
# the closing line "N passed, M failed, K skipped"; exits 1 on a failure.
#
# Counted: each KTAP test case of each selftest ("# ok N desc" lines one
# level down in run_kselftest.sh's output; "# SKIP" counts as skipped), a
# selftest that failed without failing a case (a crash, a timeout, a bad
# plan) as one failure, a selftest with no cases as one result, each
# "harness: ok|not ok" step of the init, and the host's own two checks
# (the guest finished; its kernel log is clean), passed in as variables.
function fail(what) { failed++; failures[failed] = what }
BEGIN { passed = (done_ok == "ok") + (log_ok == "ok"); failed = 0; skipped = 0
	if (done_ok != "ok") fail("host: the guest reported its verdict")
	if (log_ok != "ok") fail("host: the guest kernel log is clean") }
/^harness: ok / { passed++; next }
/^harness: not ok / { sub(/^harness: not ok /, ""); fail("harness: " $0); next }
/^# selftests: / { prog = $0; sub(/^# selftests: /, "", prog); cases = 0; cfail = 0; next }
/^# (not )?ok [0-9]+ / {
	cases++
	desc = $0; sub(/^# (not )?ok [0-9]+ /, "", desc)
	if ($0 ~ /^# not ok/) { cfail++; fail(prog ": " desc) }
	else if ($0 ~ /# SKIP/) skipped++
	else passed++
	next }
/^(not )?ok [0-9]+ selftests: / {
	if ($0 ~ /^not ok/ && cfail == 0) { r = $0; sub(/^.*selftests: /, "", r); fail(r) }
	else if (cases == 0 && $0 ~ /# SKIP/) skipped++
	else if (cases == 0 && $0 ~ /^ok/) passed++
	next }
END {
	if (failed > 0) {
		print "Failed:"
		for (i = 1; i <= failed; i++) if (i in failures) print "  - " failures[i]
	}
	printf "%d passed, %d failed, %d skipped\n", passed, failed, skipped
	exit failed > 0
}

#!/bin/sh
# tests/crash/fault.sh - crash injection at every persist point of the shim.
#
# The points are enumerated from the sources (PF_FAULT("...") in every .c file under src/), so a new
# point is covered (and must be reached) without touching this script. For every point and n = 1, 3, 10, 40 (a larger n only while
# the smaller one was reached: the point may be hit again), in a fresh log dir and pool:
#   1. tests/crash/pf_fault prep          plain files to be promoted (no shim)
#   2. pf_fault work  PAFKA_FAULT=<point>:<n>, tiered, 4 MiB pool: the workload, killed by the shim at the
#                                       n-th hit of the point (or finishing if it is hit fewer times)
#   3. pf_fault verify                    restart under the shim (pmem: recovery, no migration): every file
#                                         as the journal says (see pf_fault.c for the exact rule per
#                                         operation in flight), no fsck error
#   4. pf_fault check-real --consistent   without the shim: used blocks == blocks of LIVE records, no block
#                                         owned twice, nothing reserved or dying, no record without a file,
#                                         and the placement rule in every log-dir file
#   5. pf_fault cleanup; check-empty      delete every file under the shim: 0 used blocks, 0 LIVE records
# Then, for every point, n = 1 once more from the start of each later phase of the workload (pf_fault
# phases): an unarmed process runs the script up to there and exits, an armed one continues (a restarted
# broker), so the first hit of a point is also taken in the middle of writes, deletion, spill... and during
# the recovery of the restarted process.
# A point that the workload never reaches (n = 1) fails, unless it is in ALLOW below with a reason.
# Usage: fault.sh [point...]   (default: all points)
set -u
# tests/run-all.sh runs this in the plain and the ASan+UBSan trees; in distcheck's tree it would only repeat
# them (minutes), so CI's distcheck skips it
if [ "${PAFKA_TEST_DISTCHECK:-0}" = 1 ]; then echo "SKIP: run in the plain and ASan+UBSan trees; distcheck's tree skips it for CI time (PAFKA_TEST_DISTCHECK=1)"; exit 77; fi
top_src=${PAFKA_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${PAFKA_TOP_BUILDDIR:-$top_src}
prog=$top_build/tests/crash/pf_fault
lib=${PAFKA_TEST_LIB:-$top_build/.libs/libpafka.so}
. "$top_src/tests/lib.sh"
. "$top_src/tests/crash/crashlib.sh"

# Hit counts tried per point: 1, then larger ones while the point keeps being reached (spreads the kills
# over the workload: a point hit early by promotion is also hit later by writes, deletion, demotion).
NS=${PAFKA_TEST_FAULT_NS:-1 3 10 40}

# Points the workload cannot reach, with the reason (format: "point reason...", one per line).
ALLOW=''

crash_setup

if [ $# -gt 0 ]; then
	points="$*"
else
	points=$(grep -rho --include='*.c' 'PF_FAULT("[^"]*")' "$top_src/src" | sed 's/PF_FAULT("\(.*\)")/\1/' | sort -u)
fi
[ -n "$points" ] || { echo "FAIL: no PF_FAULT points found under $top_src/src"; exit 1; }
echo "fault points ($(echo "$points" | wc -w)): $(echo $points)"

passed=0 failed=0 table=
t_all0=$(date +%s)

# one_run POINT N [START]: sets $res (PASS/FAIL...), $reached (yes/no), $detail. With START, the workload
# first runs unarmed up to op START and exits, then a new process continues armed from there.
one_run() {
	point=$1 n=$2 start=${3:-0}
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-fault.XXXXXX")
	log=$dir.log
	reached=no detail= res=
	(
		crash_tiered_env 4M
		pf_test_env "$dir"
		trap pf_test_cleanup EXIT
		plain prep || exit 10
		if [ "$start" -gt 0 ]; then
			shim work 0 "$start" || exit 11
		fi
		if [ -n "$point" ]; then
			PAFKA_FAULT="$point:$n" shim work "$start"
		else
			shim work "$start"
		fi
		wrc=$?
		echo "work exit $wrc"
		if [ $wrc -ne 0 ] && [ $wrc -ne 137 ]; then exit 11; fi
		PAFKA_LOG_CHANNEL_TYPE=pmem shim verify || exit 12
		plain check-real --consistent || exit 13
		PAFKA_LOG_CHANNEL_TYPE=pmem shim cleanup || exit 14
		plain check-empty || exit 15
		exit 0
	) >"$log" 2>&1
	rc=$?
	if [ -n "$point" ] && grep -q "fault injection: killing the process at $point " "$log" && grep -q '^work exit 137$' "$log"; then
		reached=yes
	fi
	detail=$(sed -n 's/^verify: //p' "$log" | head -n 1)
	crash_result $rc prep "workload failed by itself" "$point:$n" "$log"
	rm -f "$log"
	rm -rf "$dir"
}

record() { # record LABEL RESULT DETAIL
	table="$table$(printf '%-26s %-6s %s' "$1" "$2" "$3")
"
	case $2 in
	FAIL*) failed=$((failed + 1)) ;;
	*) passed=$((passed + 1)) ;;
	esac
	printf '%-26s %s  %s\n' "$1" "$2" "$3"
}

# baseline: the workload without a fault must complete and verify
one_run "" 0
record "(no fault)" "$res" "$detail"

phases=$(env -u LD_PRELOAD "$prog" phases) || { echo "FAIL: $prog phases"; exit 1; }

for point in $points; do
	# the first hit(s) from the start of the workload; the point must be reached
	for n in $NS; do
		one_run "$point" "$n"
		label="$point:$n"
		case $res in
		FAIL*)
			record "$label" "$res" "$detail"
			break
			;;
		esac
		if [ $reached = yes ]; then
			record "$label" PASS "killed; $detail"
			continue
		fi
		if [ $n -gt 1 ]; then
			record "$label" PASS "hit fewer than $n times (workload completed and verified)"
			break
		fi
		why=$(printf '%s\n' "$ALLOW" | sed -n "s/^$point //p")
		if [ -n "$why" ]; then
			record "$label" PASS "not reached (allowed: $why)"
		else
			record "$label" "FAIL (never reached)" "the workload completed without hitting it: extend pf_fault.c or allow-list it with a reason"
		fi
		break
	done
	# the first hit after a restart at the start of each later phase (not reaching it there is fine)
	for ph in $phases; do
		name=${ph%%:*} start=${ph#*:}
		[ "$start" -gt 0 ] || continue
		one_run "$point" 1 "$start"
		label="$point:1@$name"
		case $res in
		FAIL*) record "$label" "$res" "$detail" ;;
		*)
			if [ $reached = yes ]; then
				record "$label" PASS "killed; $detail"
			else
				record "$label" PASS "not hit from phase $name on"
			fi
			;;
		esac
	done
done

echo
echo "summary (point:n -> result), $(($(date +%s) - t_all0))s:"
printf '%s' "$table"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]

#!/bin/sh
# tests/crash/migrate.sh - migration under LD_PRELOAD=libpafka.so (log.channel.type=tiered): demotion, drain, pause
# and policy order, rate limit, no ping-pong (the promotion boundary, also across a restart), promotion,
# writes during a demotion and during a promotion, idle sealing, SIGKILL during migration; the cold heads of
# active segments (head: appends and readers while heads move; head-truncate: a pwrite and a truncate win over
# a head move), the readmission of a spilled segment (readmit), SIGKILL during both (head-kill, readmit-kill).
# Each scenario gets a fresh log dir and pool (tests/lib.sh) and runs tests/crash/pf_migrate ROLE... under the
# shim (see pf_migrate.c for what each role asserts); then a restart with log.channel.type=pmem checks every
# size and byte (check-shim), a process without the shim checks the log-dir files and the pool's tables
# (check-real --consistent), and after every file is deleted the pool must be empty (check-empty).
# Usage: migrate.sh [scenario...]   (default: all)
# PAFKA_TEST_MIGRATE_FAIL=<PAFKA_FAIL spec> runs the scenario's own roles (not the checks after them) with
# that errno injection (tests/crash/errno.sh uses it with "@bg": failures in the migration threads' calls).
set -u
inject=${PAFKA_TEST_MIGRATE_FAIL:-} # read before crash_setup clears the PAFKA_* variables
top_src=${PAFKA_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${PAFKA_TOP_BUILDDIR:-$top_src}
prog=$top_build/tests/crash/pf_migrate
lib=${PAFKA_TEST_LIB:-$top_build/.libs/libpafka.so}
. "$top_src/tests/lib.sh"
. "$top_src/tests/crash/crashlib.sh"

crash_setup

passed=0 failed=0 skipped=0 summary=
t_all0=$(date +%s)

# run_scenario NAME SETTINGS... -- ROLE...: settings are VAR=VALUE pairs on top of the defaults.
run_scenario() {
	name=$1
	shift
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-mig.XXXXXX")
	(
		set -e
		crash_tiered_env 16M
		while [ $# -gt 0 ] && [ "$1" != -- ]; do
			export "$1"
			shift
		done
		shift
		pf_test_env "$dir"
		trap pf_test_cleanup EXIT
		for role in "$@"; do
			case $role in
			plain:*) plain "${role#plain:}" ;;
			file:*) PAFKA_LOG_CHANNEL_TYPE=file shim "${role#file:}" ;;
			*) PAFKA_FAIL=$inject PAFKA_TEST_MIGRATE_FAILURES_ALLOWED=${inject:+1} shim "$role" ;;
			esac
		done
		# restart without migration: sizes and bytes, the pool's tables, then delete everything
		PAFKA_LOG_CHANNEL_TYPE=pmem shim check-shim
		plain check-real --consistent
		PAFKA_LOG_CHANNEL_TYPE=pmem shim cleanup
		plain check-empty
	) >"$dir.log" 2>&1
	rc=$?
	t=$(($(date +%s) - t0))
	sed 's/^/    /' "$dir.log"
	case $rc in
	0) passed=$((passed + 1)); res=PASS ;;
	77) skipped=$((skipped + 1)); res=SKIP ;;
	*) failed=$((failed + 1)); res="FAIL (exit $rc)" ;;
	esac
	echo "$res: $name (${t}s)"
	summary="$summary$(printf '%-10s %s (%ss)' "$name" "$res" "$t")
"
	rm -f "$dir.log"
	rm -rf "$dir"
}

want() {
	[ $# -eq 0 ] && return 0
	for w in $sel; do [ "$w" = "$1" ] && return 0; done
	return 1
}
sel="$*"

if [ -z "$sel" ] || want demote; then t0=$(date +%s); run_scenario demote -- demote; fi
if [ -z "$sel" ] || want drain; then t0=$(date +%s); run_scenario drain -- drain; fi
if [ -z "$sel" ] || want order; then t0=$(date +%s); run_scenario order -- order; fi
if [ -z "$sel" ] || want rate; then t0=$(date +%s); run_scenario rate PAFKA_MIGRATE_RATE_BYTES=2M -- order; fi
if [ -z "$sel" ] || want boundary; then t0=$(date +%s); run_scenario boundary -- boundary1 boundary2; fi
if [ -z "$sel" ] || want promote; then
	t0=$(date +%s)
	run_scenario promote -- file:promote-prep promote
fi
if [ -z "$sel" ] || want promote-mapped; then
	t0=$(date +%s)
	run_scenario promote-mapped PAFKA_STORAGE_MIGRATE_THRESHOLD=0.55 -- file:promote-mapped-prep promote-mapped
fi
if [ -z "$sel" ] || want during; then t0=$(date +%s); run_scenario during PAFKA_MIGRATE_RATE_BYTES=8M -- during; fi
if [ -z "$sel" ] || want during-promote; then
	t0=$(date +%s)
	run_scenario during-promote PAFKA_MIGRATE_RATE_BYTES=4M -- file:during-promote-prep during-promote
fi
if [ -z "$sel" ] || want idle; then t0=$(date +%s); run_scenario idle PAFKA_MIGRATE_IDLE_MS=400 -- idle; fi
if [ -z "$sel" ] || want kill; then t0=$(date +%s); run_scenario kill PAFKA_MIGRATE_RATE_BYTES=2M -- kill; fi
# the cold heads of active segments and the readmission of a spilled one (small pools, a small kept tail)
if [ -z "$sel" ] || want head; then
	t0=$(date +%s)
	run_scenario head PAFKA_STORAGE_TIERS_FIRST_SIZES=8M PAFKA_MIGRATE_TAIL_KEEP=128K -- head
fi
if [ -z "$sel" ] || want head-truncate; then
	t0=$(date +%s)
	run_scenario head-truncate PAFKA_STORAGE_TIERS_FIRST_SIZES=4M PAFKA_MIGRATE_TAIL_KEEP=128K \
		PAFKA_MIGRATE_RATE_BYTES=768K -- head-truncate
fi
if [ -z "$sel" ] || want readmit; then
	t0=$(date +%s)
	run_scenario readmit PAFKA_STORAGE_TIERS_FIRST_SIZES=4M PAFKA_MIGRATE_TAIL_KEEP=128K -- readmit
fi
if [ -z "$sel" ] || want head-kill; then
	t0=$(date +%s)
	run_scenario head-kill PAFKA_STORAGE_TIERS_FIRST_SIZES=4M PAFKA_MIGRATE_TAIL_KEEP=128K \
		PAFKA_MIGRATE_RATE_BYTES=128K -- head-kill
fi
if [ -z "$sel" ] || want readmit-kill; then
	t0=$(date +%s)
	run_scenario readmit-kill PAFKA_STORAGE_TIERS_FIRST_SIZES=4M PAFKA_MIGRATE_TAIL_KEEP=128K \
		PAFKA_MIGRATE_RATE_BYTES=512K -- readmit-kill
fi

echo
echo "migration scenarios ($(($(date +%s) - t_all0))s):"
printf '%s' "$summary"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ] || exit 1
[ $passed -gt 0 ] || exit 77
exit 0

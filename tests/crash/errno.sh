#!/bin/sh
# errno.sh - errno injection (PAFKA_FAIL) at every call of chosen real functions in turn: for each function
# F and errno E, pf_errno's "work" runs under PAFKA_FAIL=F:E:n for n = 1, 2, ... (up to PAFKA_TEST_ERRNO_MAX,
# and beyond that at a few spaced counts) until the workload no longer reaches the n-th call. Each run must
# end in one of: the sequence completed (0), the first failing call failed with the injected errno and the
# file read back right at once (3), or the shim stopped with one "fatal:" line (1). Then, with no
# injection: verify (recovery; every acknowledged byte in place), check-shim after another restart,
# check-real --consistent (pool invariants and the log-dir layout from outside), cleanup, check-empty.
# The same again for a list of functions with a pool that already holds the file (recovery under injection).
# Then the moves: migration scenarios of migrate.sh (demote, promote, head moves, drain) run with one call of a
# migration thread failing (PAFKA_FAIL=F:E:n@bg, through PAFKA_TEST_MIGRATE_FAIL): the failed move may be
# counted as a migration failure and retried, and every check of the scenario and after it (every byte,
# size and block, from this process, after a restart and from outside) must hold. At n = 1 the scenario
# must reach the call (else the list below is stale and the test fails). PAFKA_TEST_ERRNO_MOVES sets the
# list (scenario:function,function...; empty skips them), PAFKA_TEST_ERRNO_MOVE_AT the errno:n pairs.
# Usage: errno.sh [FUNCTION...]   (default: the list below). Budget: PAFKA_TEST_ERRNO_MAX (every call up to
# it), PAFKA_TEST_ERRNO_FAR (then these), PAFKA_TEST_ERRNOS, PAFKA_TEST_ERRNO_RECOVERY (functions, or empty).
set -u
# tests/run-all.sh runs this in the plain and the ASan+UBSan trees; in distcheck's tree it would only repeat
# them (minutes), so CI's distcheck skips it
if [ "${PAFKA_TEST_DISTCHECK:-0}" = 1 ]; then echo "SKIP: run in the plain and ASan+UBSan trees; distcheck's tree skips it for CI time (PAFKA_TEST_DISTCHECK=1)"; exit 77; fi
top_src=${PAFKA_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${PAFKA_TOP_BUILDDIR:-$top_src}
prog=$top_build/tests/crash/pf_errno
lib=${PAFKA_TEST_LIB:-$top_build/.libs/libpafka.so}
# (read before crash_setup, which clears the caller's PAFKA_* settings)
if [ -n "${PAFKA_TEST_PRELOAD_FIRST:-}" ]; then
	MAX=${PAFKA_TEST_ERRNO_MAX:-3} FAR=${PAFKA_TEST_ERRNO_FAR:-12 48} # a sanitizer build: a third of the runs
else
	MAX=${PAFKA_TEST_ERRNO_MAX:-6} FAR=${PAFKA_TEST_ERRNO_FAR:-12 24 48 96}
fi
ERRNOS=${PAFKA_TEST_ERRNOS:-ENOSPC:28 EIO:5 EINTR:4}
moves=${PAFKA_TEST_ERRNO_MOVES-demote:openat,statx,pwrite64,fsync promote:openat,statx,pread64,msync head:openat,pwrite64,fdatasync drain:openat,pwrite64,fsync}
if [ -n "${PAFKA_TEST_PRELOAD_FIRST:-}" ]; then
	move_at=${PAFKA_TEST_ERRNO_MOVE_AT:-EIO:1}
else
	move_at=${PAFKA_TEST_ERRNO_MOVE_AT:-ENOSPC:1 EIO:1 EINTR:1 EIO:3}
fi
resume_funcs=${PAFKA_TEST_ERRNO_RECOVERY-statx openat fstat pread64 ftruncate64 fallocate64 lseek close}
funcs=${*:-pwrite64 pwritev64v2 pread64 preadv64v2 fsync fdatasync ftruncate64 fallocate64 statx fstat openat close lseek mmap64 msync}
. "$top_src/tests/lib.sh"
. "$top_src/tests/crash/crashlib.sh"

crash_setup


passed=0 failed=0 runs=0 hits=0 failed_calls=0
t0=$(date +%s)

one_run() { # one_run FUNC ERRNAME ERRNUM N [COUNT] -> sets res, how, hit
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-errno.XXXXXX")
	log=$dir.log
	(
		crash_tiered_env 2M
		pf_test_env "$dir"
		trap pf_test_cleanup EXIT
		if [ "$resume" = 1 ]; then
			# a short run: the file it leaves fits in the pool, so recovery has pool bytes to keep
			PAFKA_TEST_SEED=7 PAFKA_TEST_NOPS=10 shim work >/dev/null || exit 10
			[ "$(plain blocks-in-pool)" -gt 0 ] || exit 10
			export PAFKA_TEST_RESUME=1
		fi
		PAFKA_FAIL="$1:$2:$4:${5:-1}" PAFKA_TEST_ERRNO=$3 PAFKA_TEST_SEED=$((${#1} + $4)) shim work
		wrc=$?
		echo "work exit $wrc"
		case $wrc in
		0 | 3) ;;
		1) grep -q 'fatal: ' "$dir.log" || exit 11 ;;
		*) exit 11 ;;
		esac
		shim verify || exit 12
		if [ ! -e "$PAFKA_TEST_POOLDIR/pafka.pool" ]; then
			# the shim stopped before its pool existed: nothing may have been written anywhere
			[ -z "$(find "$PAFKA_TEST_DIR/logs" -type f ! -name '.pafka*')" ] || exit 13
			exit 0
		fi
		PAFKA_LOG_CHANNEL_TYPE=pmem shim check-shim || exit 12
		plain check-real --consistent || exit 13
		PAFKA_LOG_CHANNEL_TYPE=pmem shim cleanup || exit 14
		plain check-empty || exit 15
		exit 0
	) >"$log" 2>&1
	rc=$?
	runs=$((runs + 1))
	how=$(sed -n 's/^work exit //p' "$log" | head -n 1)
	hit=no
	grep -q "PAFKA_FAIL: failing call $4 of $1 " "$log" && hit=yes
	crash_result $rc "the run before the injection" "the workload: a wrong errno, lost bytes at once, or a crash" \
		"$1:$2:$4" "$log"
	rm -f "$log"
	rm -rf "$dir"
}

# the same for an existing pool: an earlier run made the file, the injected run starts by recovering it
for entry in $(for f in $funcs; do echo "$f:0"; done) $(for f in $resume_funcs; do echo "$f:1"; done); do
	f=${entry%:*} resume=${entry##*:}
	for en in $ERRNOS; do
		name=${en%%:*} num=${en#*:}
		n=1 seen=0 last=
		while :; do
			one_run "$f" "$name" "$num" "$n"
			case $res in
			FAIL*)
				failed=$((failed + 1))
				echo "FAIL: $f:$name:$n $res"
				break
				;;
			esac
			passed=$((passed + 1))
			[ $hit = yes ] || break # the workload never reached the n-th call
			seen=$n hits=$((hits + 1))
			[ "$how" = 3 ] && failed_calls=$((failed_calls + 1))
			if [ "$n" -lt "$MAX" ]; then
				n=$((n + 1))
			else
				next=
				for x in $FAR; do
					if [ "$x" -gt "$n" ]; then next=$x; break; fi
				done
				[ -n "$next" ] || break
				n=$next
			fi
		done
		echo "$f:$name$([ "$resume" = 1 ] && echo ' (recovering)'): injected up to call $seen ($res)"
	done
done
# a function that keeps failing from its n-th call on, while an existing pool is recovered (every byte must
# still be there for the next start, which has no injection)
for f in $resume_funcs; do
	resume=1
	for n in 1 2 3 4; do
		one_run "$f" EIO 5 "$n" '*'
		case $res in
		FAIL*) failed=$((failed + 1)); echo "FAIL: $f:EIO:$n:* $res"; break ;;
		esac
		passed=$((passed + 1))
	done
	echo "$f:EIO:n:* (recovering, failing for good from call n = 1..4): $res"
done
# the moves (see the top)
for m in $moves; do
	scen=${m%%:*}
	for f in $(echo "${m#*:}" | tr , ' '); do
		for at in $move_at; do
			e=${at%%:*} n=${at#*:}
			mlog=$(mktemp "${TMPDIR:-/var/tmp}/pafka-errno-move.XXXXXX")
			PAFKA_TEST_MIGRATE_FAIL="$f:$e:$n@bg" PAFKA_TOP_SRCDIR=$top_src PAFKA_TOP_BUILDDIR=$top_build \
				sh "$top_src/tests/crash/migrate.sh" "$scen" >"$mlog" 2>&1
			rc=$?
			if grep -q "PAFKA_FAIL: failing call $n of $f " "$mlog"; then
				hits=$((hits + 1))
				reached=yes
			else
				reached=no
			fi
			if [ $rc -ne 0 ] || { [ "$n" = 1 ] && [ $reached = no ]; }; then
				failed=$((failed + 1))
				[ $rc -ne 0 ] && why="the scenario failed" || why="the scenario never reached call 1 of $f in a migration thread"
				echo "FAIL: move $scen with $f:$e:$n@bg: $why; replay: PAFKA_TEST_MIGRATE_FAIL=$f:$e:$n@bg sh tests/crash/migrate.sh $scen"
				sed 's/^/    /' "$mlog" | tail -30
			else
				passed=$((passed + 1))
			fi
			runs=$((runs + 1))
			rm -f "$mlog"
		done
	done
	echo "moves: $scen under $(echo "${m#*:}" | tr , ' ') x $move_at: done"
done
echo "errno injection: $runs runs, $hits reached the injected call ($failed_calls of them returned the errno to the application, the rest absorbed it: retried, or a background move gave up), $passed passed, $failed failed in $(($(date +%s) - t0))s"
[ "$failed" -eq 0 ]

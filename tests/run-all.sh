#!/bin/bash
# tests/run-all.sh - README command 2: on a fresh Debian machine (as root), install what is needed and run
# every test: `make check` (criterion unit tests, C programs under LD_PRELOAD, the JDK call sequences on
# OpenJDK 17 and Temurin, a real Kafka broker under the shim), the same C suites under ASan+UBSan, the
# threaded ones (the preload programs and the migration scenarios) under TSan, and `make distcheck`.
# Ends with one line "N passed, M failed, K skipped".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
failed=0
log() { printf '\n=== %s\n' "$*"; }
# show_failures DIR: for each failed test under DIR, where its log first says FAIL (the details a long
# suite prints mid-way) and its end; kept in $failures too, which is printed again just before the totals
# (CI keeps only the end of the output).
failures=$(mktemp)
show_failures() {
	local f
	for f in $(grep -l -E '^:test-result: (FAIL|ERROR)' $(find "$1" -name '*.trs' 2>/dev/null) 2>/dev/null); do
		{
			echo "--- ${f%.trs}.log"
			grep -n -m 2 -B 3 -A 40 -E '^(FAIL|---- |ERROR)|FAIL ' "${f%.trs}.log" | head -90
			echo "--- (its end)"
			tail -15 "${f%.trs}.log"
		} | tee -a "$failures"
	done
}

log "dependencies"
sh tests/install-deps.sh || exit 1
log "bootstrap"
./bootstrap >/dev/null 2>&1 || { ./bootstrap; exit 1; }

# run_check DIR CONFIGURE-ARGS...: configure in DIR, build, make check (only $CHECK_TESTS when set);
# keeps going on failure.
run_check() {
	local dir=$1; shift
	log "make check in $dir ($*)"
	mkdir -p "$dir" && cd "$dir" || return 1
	if ! "$top/configure" -q "$@" || ! make -j"$jobs" >/dev/null; then
		echo "build failed in $dir"; failed=1; cd "$top"; return 1
	fi
	make -j"$jobs" check ${CHECK_TESTS:+"TESTS=$CHECK_TESTS"} || { failed=1; show_failures .; }
	cd "$top"
}

run_check "$top/build" 
run_check "$top/build-asan" --enable-sanitizers=address,undefined --disable-java-tests --disable-kafka-tests
# TSan: the preload programs (t_threads and every wrapper with the shim's background threads running) and
# the migration scenarios (migration threads against readers and writers). The fault loop is left out:
# it is single-threaded kill-and-restart, and under TSan it would take most of the CI budget.
CHECK_TESTS="$(cd tests/preload && ls t_*.c | sed 's#^#tests/preload/#; s#\.c$##' | tr '\n' ' ')tests/crash/migrate.sh" \
	run_check "$top/build-tsan" --enable-sanitizers=thread --disable-java-tests --disable-kafka-tests

log "make distcheck"
# (distcheck's own make check gives each libFuzzer target 5 s: enough to prove the tarball builds and seeds them)
# (the errno and fault loops, which the plain and ASan trees ran, are skipped there: PAFKA_TEST_DISTCHECK)
( cd "$top/build" && PAFKA_TEST_LIBFUZZER_SECONDS=5 PAFKA_TEST_DISTCHECK=1 make -j"$jobs" distcheck DISTCHECK_CONFIGURE_FLAGS="--disable-java-tests --disable-kafka-tests" >distcheck.out 2>&1 ) \
	&& echo "distcheck: ok" || { echo "distcheck: FAILED"; tail -40 "$top/build/distcheck.out"; show_failures "$top/build"/libpafka-*/_build; failed=1; }

# Totals over every suite run above (automake's test-suite.log summaries).
pass=0 fail=0 skip=0
for l in "$top/build/test-suite.log" "$top/build-asan/test-suite.log" "$top/build-tsan/test-suite.log"; do
	[ -f "$l" ] || { fail=$((fail + 1)); continue; }
	p=$(sed -n 's/^# PASS: *//p' "$l" | head -1); f=$(sed -n 's/^# FAIL: *//p' "$l" | head -1)
	e=$(sed -n 's/^# ERROR: *//p' "$l" | head -1); x=$(sed -n 's/^# XPASS: *//p' "$l" | head -1)
	s=$(sed -n 's/^# SKIP: *//p' "$l" | head -1)
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0})); skip=$((skip + ${s:-0}))
done
[ "$failed" = 0 ] || [ "$fail" -gt 0 ] || fail=1
if [ -s "$failures" ]; then
	echo
	echo "=== what the failed tests printed (again)"
	head -250 "$failures"
fi
rm -f "$failures"
echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ] && [ "$failed" = 0 ]

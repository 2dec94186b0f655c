# shellcheck shell=sh
# tests/lib.sh - shared shell helpers for libpafka's test scripts (sourced, not run).
# pf_test_env DIR: make DIR/logs (a managed Kafka log dir) and a pool dir on /dev/shm (the PMem stand-in),
# and export the PAFKA_* variables that make files DIR/logs/<partition>/<20 digits>.log managed.
pf_test_env() {
	PAFKA_TEST_DIR=$1
	mkdir -p "$PAFKA_TEST_DIR/logs"
	PAFKA_TEST_POOLDIR=$(mktemp -d /dev/shm/pafka-test.XXXXXX)
	export PAFKA_TEST_DIR PAFKA_TEST_POOLDIR
	export PAFKA_LOG_DIRS="$PAFKA_TEST_DIR/logs"
	export PAFKA_LOG_CHANNEL_TYPE="${PAFKA_LOG_CHANNEL_TYPE:-pmem}"
	export PAFKA_STORAGE_TIERS_FIRST_PATHS="$PAFKA_TEST_POOLDIR"
	export PAFKA_STORAGE_TIERS_FIRST_SIZES="${PAFKA_STORAGE_TIERS_FIRST_SIZES:-64M}"
	export PAFKA_POOL_BLOCK_SIZE="${PAFKA_POOL_BLOCK_SIZE:-65536}"
}
pf_test_cleanup() {
	[ -n "${PAFKA_TEST_POOLDIR:-}" ] && rm -rf "$PAFKA_TEST_POOLDIR"
	[ -n "${PAFKA_TEST_DIR:-}" ] && rm -rf "$PAFKA_TEST_DIR"
}

# Result lines of the scripted suites (tests/kafka, tests/e2e): pf_pass WHAT / pf_fail WHAT print one line
# starting with PF_PASS_TAG / PF_FAIL_TAG and count it in PF_PASSED / PF_FAILED; pf_check WHAT CMD... passes
# or fails WHAT by CMD's exit status; pf_count FILE adds the result lines a checker already printed to FILE.
PF_PASSED=0 PF_FAILED=0
PF_PASS_TAG="PASS: " PF_FAIL_TAG="FAIL: "
pf_pass() { PF_PASSED=$((PF_PASSED + 1)); echo "$PF_PASS_TAG$*"; }
pf_fail() { PF_FAILED=$((PF_FAILED + 1)); echo "$PF_FAIL_TAG$*"; }
# shellcheck disable=SC3043 # local: dash and bash both have it
pf_check() {
	local what="$1"
	shift
	if "$@"; then pf_pass "$what"; else pf_fail "$what"; fi
}
pf_count() {
	PF_PASSED=$((PF_PASSED + $(grep -c "^$PF_PASS_TAG" "$1")))
	PF_FAILED=$((PF_FAILED + $(grep -c "^$PF_FAIL_TAG" "$1")))
}

# pf_locate SCRIPT_DIR: for a script two levels below the source tree (tests/AREA/), run by make check or
# by hand: TOP (the source tree), BUILD (the build tree; by hand <top>/build) and LIB (libpafka.so).
# shellcheck disable=SC2034 # TOP, BUILD and LIB are the caller's
pf_locate() {
	TOP=${PAFKA_TOP_SRCDIR:-$(cd "$1/../.." && pwd)}
	BUILD=${PAFKA_TOP_BUILDDIR:-$TOP/build}
	LIB=${PAFKA_TEST_LIB:-$BUILD/.libs/libpafka.so}
}

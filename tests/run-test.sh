#!/bin/sh
# tests/run-test.sh TEST: automake's LOG_COMPILER for binary tests. Programs under tests/preload/ run
# with LD_PRELOAD=libpafka.so in a fresh log dir and pool (see tests/lib.sh); others run as they are.
# Preload programs get PAFKA_TEST_LIB too, so they can restart themselves or children under the shim.
set -u
test=$1; shift
case "$test" in
*preload/*)
	. "${PAFKA_TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-t.XXXXXX")
	pf_test_env "$dir"
	trap 'pf_test_cleanup; exit 1' INT TERM
	# Under sanitizers their runtime must be loaded before the instrumented library.
	LD_PRELOAD="${PAFKA_TEST_PRELOAD_FIRST:+$PAFKA_TEST_PRELOAD_FIRST }$PAFKA_TEST_LIB${LD_PRELOAD:+ $LD_PRELOAD}" "$test" "$@"
	rc=$?
	pf_test_cleanup
	exit $rc
	;;
*)
	exec "$test" "$@"
	;;
esac

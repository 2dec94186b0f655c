#!/bin/sh
# difffuzz.sh - the differential fuzzer (pf_difffuzz.c) over many seeds: each seed gets its own pool size
# and block size (drawn from the seed), migration on (threshold 0.5, idle sealing after 300 ms, so the
# file is demoted and promoted while the calls go on), and a fresh log dir.
#
#   difffuzz.sh                 CI: PAFKA_TEST_FUZZ_SEEDS seeds (default 24) of PAFKA_TEST_FUZZ_OPS calls (default 250)
#   difffuzz.sh --seconds N     as many seeds as fit in N seconds (make fuzz; PAFKA_TEST_FUZZ_SECONDS)
#   difffuzz.sh --seed S [--ops N]   one seed (the replay of a failure)
# A failure prints the seed, the pool settings and the replay (every call up to the mismatch).
set -u
top_src=${PAFKA_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${PAFKA_TOP_BUILDDIR:-$top_src}
prog=$top_build/tests/fuzz/pf_difffuzz
lib=${PAFKA_TEST_LIB:-$top_build/.libs/libpafka.so}
seeds=${PAFKA_TEST_FUZZ_SEEDS:-24} ops=${PAFKA_TEST_FUZZ_OPS:-250} seconds= first=${PAFKA_TEST_FUZZ_FIRST:-1} one=
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--seed) one=$2; shift 2 ;;
	--ops) ops=$2; shift 2 ;;
	*) echo "usage: $0 [--seconds N | --seed S] [--ops N]" >&2; exit 2 ;;
	esac
done
[ -n "$seconds" ] || seconds=${PAFKA_TEST_FUZZ_SECONDS:-}
. "$top_src/tests/lib.sh"
[ -x "$prog" ] || { echo "SKIP: $prog is not built"; exit 77; }
[ -f "$lib" ] || { echo "SKIP: the shim $lib is not built"; exit 77; }
preload="${PAFKA_TEST_PRELOAD_FIRST:+$PAFKA_TEST_PRELOAD_FIRST }$lib"

run_seed() { # run_seed SEED -> 0 or 1
	s=$1
	case $((s % 3)) in
	0) bs=65536 pool=$((2 + s % 7))M ;;
	1) bs=262144 pool=$((6 + s % 11))M ;;
	*) bs=1048576 pool=$((20 + s % 13))M ;;
	esac
	dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-fuzz.XXXXXX")
	(
		PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_SIZES=$pool PAFKA_POOL_BLOCK_SIZE=$bs
		export PAFKA_LOG_CHANNEL_TYPE PAFKA_STORAGE_TIERS_FIRST_SIZES PAFKA_POOL_BLOCK_SIZE
		export PAFKA_STORAGE_MIGRATE_THRESHOLD=0.5 PAFKA_MIGRATE_IDLE_MS=300 PAFKA_LOG_LEVEL=warn
		pf_test_env "$dir"
		trap pf_test_cleanup EXIT
		LD_PRELOAD="$preload" PAFKA_TEST_LIB="$lib" "$prog" "$s" "$ops"
	) >"$dir.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: seed $s (pool $pool, blocks of $bs bytes, $ops calls), exit $rc; replay: $0 --seed $s --ops $ops"
		sed 's/^/    /' "$dir.log" | tail -60
	fi
	rm -rf "$dir" "$dir.log"
	return $rc
}

t0=$(date +%s) n=0 bad=0
if [ -n "$one" ]; then
	run_seed "$one" && echo "PASS: seed $one ($ops calls)"
	exit $?
fi
s=$first
while :; do
	if [ -n "$seconds" ]; then
		[ $(($(date +%s) - t0)) -lt "$seconds" ] || break
	else
		[ $n -lt "$seeds" ] || break
	fi
	run_seed "$s" || bad=$((bad + 1))
	n=$((n + 1)) s=$((s + 1))
done
echo "difffuzz: $n seeds x $ops calls = $((n * ops)) calls compared, $bad failed, in $(($(date +%s) - t0))s"
[ $bad -eq 0 ]

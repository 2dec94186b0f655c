# shellcheck shell=sh
# tests/crash/crashlib.sh - the start shared by the crash drivers migrate.sh and fault.sh (sourced, POSIX sh).
# The caller sets top_src, prog (its helper program) and lib (libpafka.so) and sources tests/lib.sh first.
#
# crash_setup: skip (exit 77, saying why) unless prog and the shim are built, /dev/shm (the PMem stand-in) is
# writable and the file system of $TMPDIR reports birth times (statx btime, which libpafka needs); drop the
# caller's PAFKA_* settings, which must not change the scenarios; export PAFKA_TEST_LIB for prog.
# shim ARGS / plain ARGS: run prog with and without LD_PRELOAD=libpafka.so.
# crash_tiered_env POOLSIZE: the settings every scenario starts from (tiered, POOLSIZE pool, 64 KiB blocks,
# threshold 0.5, idle sealing off, warnings only); a scenario exports its own on top.

# shellcheck disable=SC2154 # prog and lib are set by the caller
crash_setup() {
	[ -x "$prog" ] || { echo "SKIP: $prog is not built"; exit 77; }
	[ -f "$lib" ] || { echo "SKIP: the shim $lib is not built"; exit 77; }
	[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "SKIP: /dev/shm (the PMem stand-in) is not writable"; exit 77; }
	probe=$(mktemp "${TMPDIR:-/var/tmp}/pafka-btime.XXXXXX") || { echo "SKIP: cannot create files in ${TMPDIR:-/var/tmp}"; exit 77; }
	btime=$(stat -c %W "$probe" 2>/dev/null)
	rm -f "$probe"
	case $btime in
	'' | 0 | -) echo "SKIP: the file system of ${TMPDIR:-/var/tmp} does not report birth times (statx btime), which libpafka needs"; exit 77 ;;
	esac
	preload="${PAFKA_TEST_PRELOAD_FIRST:+$PAFKA_TEST_PRELOAD_FIRST }$lib"
	export PAFKA_TEST_LIB="$lib"
	for v in $(env | sed -n 's/^\(PAFKA_[A-Z0-9_]*\)=.*/\1/p'); do
		case $v in
		PAFKA_TEST_LIB | PAFKA_TOP_* | PAFKA_TEST_PRELOAD_FIRST) ;;
		*) unset "$v" ;;
		esac
	done
}

shim() { LD_PRELOAD="$preload" "$prog" "$@"; }
plain() { env -u LD_PRELOAD "$prog" "$@"; }

# crash_result RC WHAT10 WHAT11 LABEL LOG: res= the verdict of a run whose checks exit with the codes below
# (10 and 11 are the caller's own steps); a failure prints LABEL and the log.
crash_result() {
	case $1 in
	0) res=PASS ;;
	10) res="FAIL ($2)" ;;
	11) res="FAIL ($3)" ;;
	12) res="FAIL (verify after restart)" ;;
	13) res="FAIL (pool/log-dir check)" ;;
	14) res="FAIL (cleanup)" ;;
	15) res="FAIL (pool not empty after cleanup)" ;;
	*) res="FAIL (exit $1)" ;;
	esac
	case $res in
	FAIL*)
		echo "---- $4 log:"
		sed 's/^/    /' "$5"
		;;
	esac
}

crash_tiered_env() {
	export PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_SIZES="$1" PAFKA_POOL_BLOCK_SIZE=65536
	export PAFKA_STORAGE_MIGRATE_THRESHOLD=0.5 PAFKA_MIGRATE_IDLE_MS=600000 PAFKA_LOG_LEVEL=warn
}

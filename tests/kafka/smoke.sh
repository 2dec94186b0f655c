#!/bin/bash
# tests/kafka/smoke.sh - real-broker smoke test: an unmodified Kafka 4.x broker under LD_PRELOAD=libpafka.so.
#
# Exit 0 = pass, 77 = skipped (the reason is printed), anything else = fail. Last line: "N passed, M failed".
#
# 1. fetch Kafka from Maven Central (tests/kafka/pom.xml, cached under .cache/kafka-<version>/libs);
# 2. start a single-node KRaft broker+controller (log.dirs on disk, small segments) with
#    LD_PRELOAD=$PAFKA_TEST_LIB, PAFKA_LOG_CHANNEL_TYPE=pmem, PAFKA_STORAGE_TIERS_FIRST_PATHS=<pool dir on
#    /dev/shm> and PAFKA_STORAGE_TIERS_FIRST_SIZES=256M; the shim reads log.dirs from the server.properties
#    on the java command line;
# 3. create topic "smoke" (3 partitions) and produce N self-checking records with kcat (records.py), then a
#    volume of records with ProducerPerformance to topic "perf" and read them back with ConsumerPerformance;
# 4. consume everything with kcat and verify count, per-partition order and offsets, and every checksum;
# 5. clean stop + start, verify again; check the pool (poolcheck.py: used blocks, live records, the biggest
#    segment pool-resident and sparse in the log dir);
# 6. produce more, SIGKILL the broker, start it again (Kafka recovers the unflushed segments), verify again;
# 7. clean stop, check the pool once more.
#
# Environment: PAFKA_TEST_LIB (default <repo>/build/.libs/libpafka.so), PAFKA_SMOKE_NO_SHIM=1 (run without
# LD_PRELOAD and skip the pool checks), PAFKA_SMOKE_RECORDS (20000), PAFKA_SMOKE_PERF_RECORDS (60000),
# PAFKA_SMOKE_PERF_SIZE (1024), PAFKA_SMOKE_SEGMENT_BYTES (4194304), PAFKA_SMOKE_CRASH=0 (skip step 6),
# PAFKA_SMOKE_KEEP=1 (keep the temp and pool dirs), PAFKA_SMOKE_CHANNEL_TYPE (default pmem; e.g. tiered),
# KAFKA_VERSION, KAFKA_HOME, PAFKA_CACHE (see kafka.sh).
# automake may run this with $(SHELL), which can be a POSIX sh: this script needs bash
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
pf_locate "$HERE"
NO_SHIM=${PAFKA_SMOKE_NO_SHIM:-0}
N=${PAFKA_SMOKE_RECORDS:-20000}
N2=$((N / 10))
PERF_N=${PAFKA_SMOKE_PERF_RECORDS:-60000}
PERF_SIZE=${PAFKA_SMOKE_PERF_SIZE:-1024}
PARTS=3
T0=$SECONDS

skip() { echo "SKIP: $*"; exit 77; }
note() { printf '# [%3ds] %s\n' $((SECONDS - T0)) "$*"; }

# ---- prerequisites (skip, not fail, when the machine cannot run this test)
command -v java >/dev/null 2>&1 || skip "java not found (apt-get install default-jdk-headless)"
jv=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
[ "${jv%%.*}" -ge 17 ] 2>/dev/null || skip "Kafka 4.x needs Java >= 17 (found '${jv:-?}')"
command -v kcat >/dev/null 2>&1 || skip "kcat not found (apt-get install kcat)"
command -v python3 >/dev/null 2>&1 || skip "python3 not found"
[ -d /dev/shm ] && [ -w /dev/shm ] || skip "/dev/shm (the PMem stand-in) is not writable"
if [ "$NO_SHIM" != 1 ]; then
	[ -f "$LIB" ] || skip "libpafka.so not found at $LIB (build first, or PAFKA_SMOKE_NO_SHIM=1)"
fi

# shellcheck source=tests/kafka/kafka.sh
. "$HERE/kafka.sh"
note "fetching Kafka $KAFKA_VERSION"
kafka_fetch_for_test
case $? in
0) ;;
77) skip "$KAFKA_FETCH_WHY" ;;
*) echo "FAIL: $KAFKA_FETCH_WHY"; echo "0 passed, 1 failed"; exit 1 ;;
esac

# ---- checks: pf_pass, pf_fail, pf_check, pf_count (tests/lib.sh) count the PASS:/FAIL: lines

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-kafka.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
POOLDIR=$(mktemp -d /dev/shm/pafka-kafka.XXXXXX) || { echo "FAIL: mktemp /dev/shm"; exit 1; }
LOGDIR="$WORK/broker/logs"
DUMPED_LOGS=0

finish() {
	local rc=$?
	trap - EXIT INT TERM HUP
	kafka_cleanup
	if [ "$PF_FAILED" -gt 0 ] && [ "$DUMPED_LOGS" = 0 ] && [ -n "${KAFKA_DIR:-}" ]; then
		kafka_log_tail 60 2>&1
	fi
	if [ "${PAFKA_SMOKE_KEEP:-0}" = 1 ]; then
		echo "# kept $WORK and $POOLDIR"
	else
		rm -rf "$WORK" "$POOLDIR"
	fi
	note "done"
	[ "$rc" -ne 0 ] && [ "$PF_FAILED" -eq 0 ] && PF_FAILED=1
	echo "$PF_PASSED passed, $PF_FAILED failed"
	[ "$PF_FAILED" -eq 0 ] && exit 0
	exit 1
}
trap finish EXIT
trap 'echo "interrupted"; exit 130' INT TERM HUP

# die WHAT: a step that the rest depends on failed: count it, show the broker log, and stop here
die() {
	pf_fail "$*"
	kafka_log_tail 80 2>&1
	DUMPED_LOGS=1
	exit 1
}

# ---- the broker, under the shim
export PAFKA_LOG_CHANNEL_TYPE=${PAFKA_SMOKE_CHANNEL_TYPE:-pmem}
export PAFKA_STORAGE_TIERS_FIRST_PATHS="$POOLDIR"
export PAFKA_STORAGE_TIERS_FIRST_SIZES=${PAFKA_SMOKE_POOL_SIZE:-256M}
if [ "$NO_SHIM" = 1 ]; then
	KAFKA_PRELOAD=
	note "PAFKA_SMOKE_NO_SHIM=1: running WITHOUT libpafka (pool checks skipped)"
else
	KAFKA_PRELOAD=$LIB
	note "LD_PRELOAD=$LIB, log.channel.type=$PAFKA_LOG_CHANNEL_TYPE, pool dir $POOLDIR (tmpfs standing in for PMem)"
fi
export KAFKA_QUIET=0
KAFKA_SEGMENT_BYTES=${PAFKA_SMOKE_SEGMENT_BYTES:-4194304}
kafka_config "$WORK/broker" || die "writing server.properties"
note "Kafka $KAFKA_VERSION, libs $KAFKA_LIBS, log.dirs=$LOGDIR, segment.bytes=$KAFKA_SEGMENT_BYTES"
kafka_format || die "formatting the log dir (kafka.tools.StorageTool format)"
kafka_start || die "broker start #1"
pf_pass "broker started (#1) under ${KAFKA_PRELOAD:-no preload}"

kafka_topic_create smoke $PARTS || die "creating topic smoke"
kafka_topic_create perf $PARTS || die "creating topic perf"
pf_pass "topics smoke and perf created with $PARTS partitions"

# ---- produce
python3 "$HERE/records.py" gen 0 "$N" 1 >"$WORK/records1.txt" || die "generating records"
python3 "$HERE/records.py" gen "$N" "$N2" 2 >"$WORK/records2.txt" || die "generating records"
note "producing $N records ($(du -h "$WORK/records1.txt" | cut -f1)) with kcat"
pf_check "kcat produced $N records to smoke" kafka_produce smoke <"$WORK/records1.txt"
note "ProducerPerformance: $PERF_N records of $PERF_SIZE bytes to perf"
pf_check "ProducerPerformance wrote $PERF_N records" kafka_perf_produce perf "$PERF_N" "$PERF_SIZE"
note "ConsumerPerformance: reading them back"
pf_check "ConsumerPerformance read $PERF_N records" kafka_perf_consume perf "$PERF_N"

# verify_all PHASE TOTAL: consume topic smoke and check it; digest topic perf and compare with phase 1
verify_all() {
	local phase=$1 total=$2 out="$WORK/verify-$1.txt"
	note "verifying ($phase): consuming smoke"
	if ! kafka_consume smoke '%p %o %k %s\n' >"$WORK/consumed-$phase.txt" 2>"$WORK/consume-$phase.err"; then
		pf_fail "[$phase] kcat consumed smoke"
		tail -n 5 "$WORK/consume-$phase.err"
	fi
	python3 "$HERE/records.py" verify "$total" $PARTS <"$WORK/consumed-$phase.txt" | sed "s/^\(PASS\|FAIL\): /&[$phase] /" | tee "$out"
	pf_count "$out"
	note "verifying ($phase): consuming perf"
	set -o pipefail
	if ! kafka_consume perf '%p %o %S %s\n' 2>"$WORK/consume-perf-$phase.err" |
		python3 "$HERE/records.py" digest >"$WORK/perf-$phase.digest"; then
		pf_fail "[$phase] kcat consumed perf"
		tail -n 5 "$WORK/consume-perf-$phase.err"
	fi
	local n
	n=$(awk '{s += $2} END {print s + 0}' "$WORK/perf-$phase.digest")
	pf_check "[$phase] perf has $PERF_N records over $PARTS partitions (has $n)" \
		test "$n" -eq "$PERF_N" -a "$(wc -l <"$WORK/perf-$phase.digest")" -eq $PARTS
	if [ "$phase" != first ]; then
		pf_check "[$phase] perf content identical to before (per-partition sha256)" \
			cmp -s "$WORK/perf-first.digest" "$WORK/perf-$phase.digest"
	fi
}

# pool_check LABEL [--stopped]
pool_check() {
	local label=$1; shift
	if [ "$NO_SHIM" = 1 ]; then
		note "pool checks skipped (no shim)"
		return 0
	fi
	[ "$PAFKA_LOG_CHANNEL_TYPE" = tiered ] && set -- "$@" --tiered
	python3 "$HERE/poolcheck.py" "$POOLDIR" "$LOGDIR" "$@" | sed "s/^\(PASS\|FAIL\): /&[$label] /" | tee "$WORK/pool-$label.txt"
	pf_count "$WORK/pool-$label.txt"
}

# segments: list every segment with its size and allocated bytes
segments() {
	find "$LOGDIR" -name '????????????????????.log' -printf '#   %p size %s allocated %b*512\n' | sort
}

verify_all first "$N"
note "segments after phase 1:"
segments

# ---- clean restart
note "clean stop + start"
pf_check "clean stop (SIGTERM)" kafka_stop
pf_check "clean shutdown marker written" test -e "$LOGDIR/.kafka_cleanshutdown"
kafka_start || die "broker start #2 (after clean stop)"
pf_pass "broker restarted (#2)"
kafka_wait_topic smoke $PARTS && kafka_wait_topic perf $PARTS || die "topics online after restart"
verify_all restart "$N"
pool_check restart

# ---- crash restart
TOTAL=$N
if [ "${PAFKA_SMOKE_CRASH:-1}" != 0 ]; then
	note "producing $N2 more records, then SIGKILL"
	pf_check "kcat produced $N2 more records to smoke" kafka_produce smoke <"$WORK/records2.txt"
	TOTAL=$((N + N2))
	kafka_kill
	kafka_start || die "broker start #3 (after SIGKILL)"
	pf_pass "broker restarted (#3) after SIGKILL"
	kafka_wait_topic smoke $PARTS && kafka_wait_topic perf $PARTS || die "topics online after crash"
	verify_all crash "$TOTAL"
	pool_check crash
fi

note "segments at the end:"
segments

# ---- drain, then the same broker WITHOUT the shim (the uninstall path)
PAFKA_CLI=$BUILD/pafka
if [ "$NO_SHIM" != 1 ] && [ "${PAFKA_SMOKE_DRAIN:-1}" != 0 ] && [ -x "$PAFKA_CLI" ]; then
	note "pafka drain (online): every pool byte to the log dirs"
	pf_check "pafka drain emptied the pool while the broker ran" "$PAFKA_CLI" drain --timeout 120
	pf_check "clean stop after the drain" kafka_stop
	python3 "$HERE/poolcheck.py" "$POOLDIR" "$LOGDIR" --stopped >"$WORK/pool-drained.txt" 2>&1
	# its "# pool: ..., U/N blocks used" note
	used=$(sed -n 's|^# pool: .*, \([0-9]*\)/[0-9]* blocks used.*|\1|p' "$WORK/pool-drained.txt")
	pf_check "the drained pool holds no block (has ${used:-?})" test "${used:-1}" = 0
	pf_check "no segment is sparse any more (all bytes on disk)" \
		test -z "$(find "$LOGDIR" -name '????????????????????.log' -size +0 -printf '%b %s\n' | awk '$1 * 512 < $2 {print}')"
	note "starting the broker WITHOUT LD_PRELOAD"
	SAVED_PRELOAD=$KAFKA_PRELOAD
	KAFKA_PRELOAD=
	kafka_start || die "broker start without the shim (after the drain)"
	pf_pass "broker started without the shim"
	kafka_wait_topic smoke $PARTS && kafka_wait_topic perf $PARTS || die "topics online without the shim"
	verify_all drained "$TOTAL"
	KAFKA_PRELOAD=$SAVED_PRELOAD
	note "final clean stop"
	pf_check "final clean stop (SIGTERM)" kafka_stop
else
	[ -x "$PAFKA_CLI" ] || note "drain phase skipped: $PAFKA_CLI not built"
	note "final clean stop"
	pf_check "final clean stop (SIGTERM)" kafka_stop
	pool_check final --stopped
fi
if grep -qE '\] (ERROR|FATAL) ' "$KAFKA_DIR/applogs/server.log"; then
	note "the broker logged errors (not a check; first ones):"
	grep -E '\] (ERROR|FATAL) ' "$KAFKA_DIR/applogs/server.log" | head -n 10 | cut -c1-400
fi
note "runtime $((SECONDS - T0))s"
exit 0

#!/bin/bash
# tests/e2e/run.sh - the end-to-end suite: unmodified Apache Kafka brokers under libpafka.so.
#
# Exit 0 = every case passed, 77 = skipped (the reason is printed), 1 = a case failed. Prints one
# "PASS: CASE [JDK] (Ns)" / "FAIL: ..." line per case per JDK and, last, exactly "N passed, M failed".
#
# The pool of every broker lives on /dev/shm: tmpfs STANDS IN FOR PMem here (no persistence across a
# reboot, no PMem latency), so nothing this suite prints is a PMem performance figure.
#
# Cases (tests/e2e/case-*.sh; each starts its own brokers and verifies every record end to end: count,
# order per partition, every payload's checksum; each asserts the broker really used the pool; (N) is the
# case's group, which E2E_CASES also accepts):
#   produce    PLAINTEXT (sendfile path) and SSL listener (pread path, keytool-made keystore/truststore);
#              topics with preallocate=true and false                                           (1)
#   retention  segment roll, retention.bytes then retention.ms deletes (.deleted, async delete), pool
#              space comes back                                                                 (1)
#   compact    cleanup.policy=compact (.cleaned/.swap renames): the surviving key->value set equals the
#              one of the same run on a broker without the shim                                 (1)
#   delete     topic deletion (partition dirs renamed to *-delete with segments open), pool space back (1)
#   txn        transactional producer, aborted + committed transactions, read_committed consumer  (1)
#   restart    clean stop/start; SIGKILL during an acks=all produce, restart: every acked record there
#              (broker with log.preallocate=true)                                               (2)
#   flush      flush.messages=1, SIGKILL during an acks=all produce, the active segments' log-dir files
#              cut to 0 bytes (their size is durable in the pool); every acked record there     (2)
#   migrate    log.channel.type=tiered, 64M pool, 3x that much data: demotion, restart, read all  (3)
#   cluster    3-node KRaft cluster, RF 3, min.insync.replicas 2, one broker SIGKILLed and restarted
#              during an acks=all produce; no acked record lost; the three replicas converge (each
#              replica's segments dumped through the shim, read-only attach)                   (4)
#   ab         log.channel.type=file with the same preload == no preload; file mode refuses a pool
#              that still holds data                                                             (6)
# Kafka as operators run it                                                                      (7)
#   jbod       two log dirs and two pools: each pool holds only its own dir's files, per-pool migration,
#              SIGKILL, one pool full while the other is not
#   logdirs    a partition moved between log dirs (AlterReplicaLogDirs) both ways while producing, a
#              SIGKILL in the middle of a move, fsck
#   dirfail    a log dir on a small loop-mounted file system fills up: Kafka takes it offline, the other
#              dir's records and the JVM survive (needs root)
#   existing   the shim turned on for a broker with data, and drained back off
#   split      a dedicated controller and a broker under one injected environment
#   inject     every process of a broker's life under one injected environment (format, topics,
#              producer, consumer, dump-log), only the broker writes the pool
#   kip405     Kafka's tiered storage (LocalTieredStorage, on Kafka 4.0.2) together with the shim
#
# Environment:
#   E2E_CASES    cases to run on every JDK ("1" = produce retention compact delete txn, "2" = restart
#                flush, "3" = migrate, "4" = cluster, "6" = ab, "7" = the operator cases, "all"). Default
#                (what make check runs): groups 1-6 on every JDK, and each case of group 7 on one JDK, the
#                JDKs taking turns (jbod on the first, logdirs on the second, ...): every case runs on each
#                JDK in `make e2e-full`
#   E2E_JDKS     JAVA_HOMEs to run under (default: /usr/lib/jvm/java-17-openjdk-amd64 and the newest
#                /usr/lib/jvm/temurin-*); a missing one is reported and skipped
#   E2E_CASES_<LABEL>  cases for one JDK only (LABEL as printed, e.g. E2E_CASES_temurin25="1 2 3")
#   E2E_CASE_TIMEOUT   seconds per case (default 900)
#   E2E_KEEP=1   keep the scratch dirs (default: kept only on failure, broker logs and pool listings only)
#   E2E_VERBOSE=0  print only the PASS/FAIL lines and failing checks (default 1: every check)
#   E2E_NO_SHIM=1  run every broker without the preload (diagnosis only: "does this failure need the
#                shim?"; the pool checks then fail by design)
#   sizes: E2E_PRODUCE_RECORDS, E2E_RETENTION_RECORDS, E2E_DELETE_RECORDS, E2E_RESTART_RECORDS,
#   E2E_RESTART_CRASH_RECORDS, E2E_FLUSH_RECORDS, E2E_FLUSH_RATE, E2E_MIGRATE_MB, E2E_MIGRATE_SPILL=0, E2E_MIGRATE_PMEM_SPILL=0,
#   E2E_MIGRATE_BIG=0 (skips the 1 GiB-segment part of migrate), E2E_MIGRATE_BIG_MB,
#   E2E_CLUSTER_RECORDS, E2E_CLUSTER_RATE, E2E_AB_RECORDS
#   PAFKA_TEST_LIB (default <build>/.libs/libpafka.so; copied at start so a rebuild does not disturb a run),
#   KAFKA_VERSION, KAFKA_HOME, PAFKA_CACHE (see tests/kafka/kafka.sh); KAFKA_VERSION=3.9.2 runs every case
#   as is (tests/e2e/log4j.properties gives Kafka 3's reload4j the same server.log)
# Runtime on 2 cores: about 11-12 minutes for both JDKs (6 per JDK).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
pf_locate "$HERE"
T0=$SECONDS
BASE_CASES="produce retention compact delete txn restart flush migrate cluster ab"
OPS_CASES="jbod logdirs dirfail existing split inject kip405"
ALL_CASES="$BASE_CASES $OPS_CASES"

skip() { echo "SKIP: $*"; echo "0 passed, 0 failed"; exit 77; }
note() { printf '# [%4ds] %s\n' $((SECONDS - T0)) "$*"; }

# ---- prerequisites: skip, not fail, when this machine cannot run the suite
for c in java javac kcat keytool python3; do
	command -v "$c" >/dev/null 2>&1 || skip "$c not found (tests/install-deps.sh installs it)"
done
[ -d /dev/shm ] && [ -w /dev/shm ] || skip "/dev/shm (the PMem stand-in) is not writable"
[ -f "$LIB" ] || skip "libpafka.so not found at $LIB (build first or set PAFKA_TEST_LIB)"
# a sanitizer build's library needs its runtime preloaded first, which a JVM does not survive
[ -z "${PAFKA_TEST_PRELOAD_FIRST:-}" ] || skip "sanitizer build (PAFKA_TEST_PRELOAD_FIRST is set): a JVM cannot run under it"

# shellcheck source=tests/kafka/kafka.sh
. "$TOP/tests/kafka/kafka.sh"

# the JDKs
if [ -z "${E2E_JDKS:-}" ]; then
	E2E_JDKS=/usr/lib/jvm/java-17-openjdk-amd64
	t=$(ls -d /usr/lib/jvm/temurin-*-jdk* 2>/dev/null | sort -V | tail -n1)
	[ -n "$t" ] && E2E_JDKS="$E2E_JDKS $t"
fi
JDK_HOMES=() JDK_LABELS=()
for j in $E2E_JDKS; do
	if ! [ -x "$j/bin/java" ]; then
		echo "# JDK $j: not installed, not run"
		continue
	fi
	props=$("$j/bin/java" -XshowSettings:properties -version 2>&1)
	v=$(sed -n 's/^ *java.specification.version = //p' <<<"$props")
	vendor=$(sed -n 's/^ *java.vendor = //p' <<<"$props")
	if ! [ "${v%%.*}" -ge 17 ] 2>/dev/null; then
		echo "# JDK $j: Java $v < 17, not run (Kafka 4 needs 17)"
		continue
	fi
	case $vendor in
	*Adoptium*) l=temurin$v ;;
	Debian* | Ubuntu*) l=openjdk$v ;;
	*) l=$(tr -cd 'a-z0-9' <<<"${vendor,,}" | cut -c1-10)$v ;;
	esac
	JDK_HOMES+=("$j") JDK_LABELS+=("$l")
	echo "# JDK $l: $j ($(sed -n 's/^ *java.runtime.version = //p' <<<"$props"))"
done
[ "${#JDK_HOMES[@]}" -gt 0 ] || skip "none of the JDKs ($E2E_JDKS) is usable"

note "Kafka $KAFKA_VERSION: fetching/checking the cache"
kafka_fetch_for_test
case $? in
0) ;;
77) skip "$KAFKA_FETCH_WHY" ;;
*) echo "FAIL: $KAFKA_FETCH_WHY"; echo "0 passed, 1 failed"; exit 1 ;;
esac
export KAFKA_LIBS KAFKA_VERSION PAFKA_CACHE

# ---- scratch: disk for log dirs, /dev/shm for pools; a private copy of the library
RUN=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-e2e.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
SHM=$(mktemp -d /dev/shm/pafka-e2e.XXXXXX) || { echo "FAIL: mktemp /dev/shm"; exit 1; }
cp "$LIB" "$RUN/libpafka.so" || { echo "FAIL: copying $LIB"; exit 1; }
# the pafka command of the same build (pause/resume, ls), copied too
cp "$BUILD/pafka" "$RUN/pafka" 2>/dev/null || { echo "FAIL: no $BUILD/pafka next to $LIB (build first)"; exit 1; }
export E2E_LIB="$RUN/libpafka.so" E2E_PAFKA="$RUN/pafka" E2E_PIDS="$RUN/pids"
: >"$E2E_PIDS"
note "library: $LIB (copied to $E2E_LIB, sha256 $(sha256sum "$E2E_LIB" | cut -c1-16))"
note "scratch: $RUN (log dirs), $SHM (pools: tmpfs standing in for PMem)"

PASSED=0 FAILED=0 SKIPPED=0
RESULTS=()
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	# brokers of a case that was killed (every pid the cases started; ours only, one by one)
	local pid
	while read -r pid; do
		[ -n "$pid" ] && { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -q "kafka.Kafka .*$RUN/" &&
			kill -KILL "$pid" 2>/dev/null
	done <"$E2E_PIDS"
	rm -rf "$SHM"
	if [ "${E2E_KEEP:-0}" = 1 ] || [ "$FAILED" -gt 0 ]; then
		rm -f "$RUN/libpafka.so"
		echo "# kept $RUN (broker logs of failed cases under $RUN/keep)"
	else
		rm -rf "$RUN"
	fi
	[ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ] && [ "$rc" -ne 77 ] && FAILED=$((FAILED + 1))
	note "total runtime $((SECONDS - T0))s"
	for r in "${RESULTS[@]}"; do echo "# $r"; done
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -gt 0 ] && exit 1
	[ "$PASSED" -eq 0 ] && exit 77
	exit 0
}
trap cleanup EXIT
trap 'echo "# interrupted"; exit 130' INT TERM HUP

# ---- the client tool, compiled once against this Kafka's kafka-clients
TOOLDIR="$RUN/tool"
mkdir -p "$TOOLDIR"
javac_bin=javac
[ -x "${JDK_HOMES[0]}/bin/javac" ] && javac_bin="${JDK_HOMES[0]}/bin/javac"
if ! "$javac_bin" --release 17 -nowarn -d "$TOOLDIR" -cp "$KAFKA_LIBS/*" "$HERE/E2eTool.java" >"$RUN/javac.out" 2>&1; then
	cat "$RUN/javac.out"
	echo "FAIL: compiling tests/e2e/E2eTool.java"
	FAILED=$((FAILED + 1))
	exit 1
fi
export E2E_TOOL_CP="$TOOLDIR"

expand_cases() {
	local c out=
	# shellcheck disable=SC2048,SC2086 # one string of words, split on purpose
	for c in $*; do
		case $c in
		1) out+=" produce retention compact delete txn" ;;
		2) out+=" restart flush" ;;
		3) out+=" migrate" ;;
		4) out+=" cluster" ;;
		6 | file) out+=" ab" ;;
		7 | ops) out+=" $OPS_CASES" ;;
		all) out+=" $ALL_CASES" ;;
		*) out+=" $c" ;;
		esac
	done
	echo $out
}

for i in "${!JDK_HOMES[@]}"; do
	jh=${JDK_HOMES[$i]} label=${JDK_LABELS[$i]}
	var="E2E_CASES_$label"
	# the default: groups 1-6 here, and the operator cases dealt out among the JDKs
	dflt=$BASE_CASES k=0
	for c in $OPS_CASES; do
		[ $((k % ${#JDK_HOMES[@]})) = "$i" ] && dflt+=" $c"
		k=$((k + 1))
	done
	cases=$(expand_cases "${!var:-${E2E_CASES:-$dflt}}")
	for c in $cases; do
		script="$HERE/case-$c.sh"
		if ! [ -f "$script" ]; then
			echo "FAIL: $c [$label] (no such case: $script)"
			FAILED=$((FAILED + 1))
			continue
		fi
		work="$RUN/$label/$c" shm="$SHM/$label-$c"
		mkdir -p "$work" "$shm"
		log="$RUN/$label-$c.log"
		note "case $c under $label ($jh)"
		t=$SECONDS
		rc=0
		JAVA_HOME=$jh PATH="$jh/bin:$PATH" E2E_JDK=$label E2E_WORK=$work E2E_SHM=$shm \
			E2E_KEEPDIR="$RUN/keep/$label-$c" \
			timeout -k 30 "${E2E_CASE_TIMEOUT:-900}" bash "$script" >"$log" 2>&1 </dev/null || rc=$?
		dt=$((SECONDS - t))
		if [ "${E2E_VERBOSE:-1}" = 1 ]; then
			sed 's/^/    /' "$log"
		else
			grep -E '^  not ok|^# ----- |FAIL|ERROR' "$log" | head -n 60 | sed 's/^/    /'
		fi
		if [ "$rc" = 0 ]; then
			echo "PASS: $c [$label] (${dt}s)"
			PASSED=$((PASSED + 1))
			RESULTS+=("PASS $c [$label] ${dt}s")
		elif [ "$rc" = 77 ]; then
			echo "SKIP: $c [$label] ($(grep -m1 '^SKIP' "$log" | cut -c7-))"
			SKIPPED=$((SKIPPED + 1))
			RESULTS+=("SKIP $c [$label]")
		else
			[ "$rc" = 124 ] && echo "    # case timed out after ${E2E_CASE_TIMEOUT:-900}s"
			echo "FAIL: $c [$label] (${dt}s, exit $rc; log $log)"
			FAILED=$((FAILED + 1))
			RESULTS+=("FAIL $c [$label] ${dt}s")
			mkdir -p "$RUN/keep" && cp "$log" "$RUN/keep/"
		fi
		rm -rf "$work" "$shm"
	done
done
exit 0

#!/bin/bash
# contrib/quickstart.sh - the main job, start to finish, on a fresh Debian machine (run as root):
#
#   1. apt-get the build and run dependencies;
#   2. build libpafka (./bootstrap, then configure + make in a build dir);
#   3. fetch Apache Kafka 4.x from Maven Central (tests/kafka/pom.xml; cached in .cache/);
#   4. start an unmodified single-node Kafka broker (KRaft) under LD_PRELOAD=libpafka.so, with its log dir
#      on disk and the pool on /dev/shm (tmpfs standing in for PMem);
#   5. produce and consume a few hundred MB with Kafka's ProducerPerformance / ConsumerPerformance, with
#      `pafka status --watch` running meanwhile (its last refresh is shown);
#   6. show where every segment lives (pool or slow tier), and shut the broker down cleanly.
#
# Environment (all optional):
#   QS_BUILD_DIR         build directory (default <repo>/build-quickstart)
#   QS_DIR    broker directory on disk: server.properties, logs/, applogs/ (default /var/tmp/pafka-quickstart)
#   QS_POOL_DIR          pool directory (default /dev/shm/pafka-quickstart)
#   PAFKA_STORAGE_TIERS_FIRST_SIZES  pool size (default 256M: smaller than the data, so both tiers show)
#   QS_RECORDS, QS_RECORD_SIZE, QS_PARTITIONS, QS_SEGMENT_BYTES   the workload (default 800000 x 1024 B, 3, and
#                        Kafka's own default segment size, 1 GiB: every segment stays active, and migration
#                        keeps each one's newest bytes in the pool by moving its cold head to the disk)
#   QS_SKIP_APT=1   do not run apt-get
#   QS_NO_SHIM=1    do not build or preload libpafka (the same broker, all on disk: a baseline)
#   QS_KEEP=1       keep the log dir and the pool afterwards (default: removed)
#   KAFKA_VERSION, KAFKA_HOME, PAFKA_CACHE   see tests/kafka/kafka.sh
# this script needs bash (even when started with sh)
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${QS_BUILD_DIR:-$ROOT/build-quickstart}
QS=${QS_DIR:-/var/tmp/pafka-quickstart}
POOLDIR=${QS_POOL_DIR:-/dev/shm/pafka-quickstart}
RECORDS=${QS_RECORDS:-800000}
RECORD_SIZE=${QS_RECORD_SIZE:-1024}
PARTITIONS=${QS_PARTITIONS:-3}
NO_SHIM=${QS_NO_SHIM:-0}

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'quickstart: %s\n' "$*" >&2; exit 1; }

# ---- 1. dependencies
if [ "${QS_SKIP_APT:-0}" != 1 ]; then
	step "installing dependencies with apt-get"
	[ "$(id -u)" = 0 ] || die "run as root (or set QS_SKIP_APT=1 if the packages are installed)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends \
		build-essential autoconf automake libtool pkg-config \
		libpmem-dev uthash-dev libcriterion-dev \
		maven default-jdk-headless kcat python3 >/dev/null
fi
for c in java mvn kcat python3; do
	command -v "$c" >/dev/null 2>&1 || die "$c not found (apt-get install it, or run without QS_SKIP_APT)"
done

# ---- 2. libpafka
LIB=
if [ "$NO_SHIM" != 1 ]; then
	step "building libpafka in $BUILD"
	(cd "$ROOT" && ./bootstrap)
	mkdir -p "$BUILD"
	(cd "$BUILD" && { [ -f Makefile ] || "$ROOT/configure" --quiet; } && make -s -j"$(nproc)")
	LIB="$BUILD/.libs/libpafka.so"
	[ -f "$LIB" ] || die "the build did not produce $LIB"
	echo "built $LIB"
else
	step "QS_NO_SHIM=1: not building libpafka; the broker runs without it (everything on disk)"
fi

# ---- 3. Kafka
# shellcheck source=tests/kafka/kafka.sh
. "$ROOT/tests/kafka/kafka.sh"
step "fetching Kafka $KAFKA_VERSION (Maven Central, cached in $PAFKA_CACHE)"
rc=0
kafka_fetch || rc=$?
[ "$rc" = 0 ] || die "could not fetch Kafka $KAFKA_VERSION (status $rc; see $PAFKA_CACHE/kafka-$KAFKA_VERSION/fetch.log)"
echo "jars in $KAFKA_LIBS"

# ---- 4. the broker
step "starting a single-node Kafka broker"
cleanup() {
	local rc=$?
	[ -z "${WATCH_PID:-}" ] || kill "$WATCH_PID" 2>/dev/null || true
	if [ -n "${KAFKA_PID:-}" ] && kafka_alive; then
		echo "stopping the broker"
		kafka_stop 60 || kafka_kill
	fi
	if [ "${QS_KEEP:-0}" = 1 ]; then
		echo "kept: broker dir $QS, pool dir $POOLDIR"
	else
		rm -rf "$QS" "$POOLDIR"
	fi
	[ "$rc" = 0 ] || echo "quickstart FAILED (status $rc)" >&2
}
trap cleanup EXIT
rm -rf "$QS" "$POOLDIR"
mkdir -p "$POOLDIR"
export PAFKA_LOG_CHANNEL_TYPE=${PAFKA_LOG_CHANNEL_TYPE:-tiered} # newest segments in the pool, older ones migrate down
export PAFKA_STORAGE_TIERS_FIRST_PATHS="$POOLDIR"
export PAFKA_STORAGE_TIERS_FIRST_SIZES=${PAFKA_STORAGE_TIERS_FIRST_SIZES:-256M}
KAFKA_SEGMENT_BYTES=${QS_SEGMENT_BYTES:-1073741824} # Kafka's default log.segment.bytes
kafka_config "$QS"
kafka_format
KAFKA_PRELOAD=$LIB
echo "log dir (disk):  $QS/logs   [$(df --output=fstype "$QS/logs" | tail -n1 | tr -d ' ')]"
if [ -n "$LIB" ]; then
	fst=$(df --output=fstype "$POOLDIR" | tail -n1 | tr -d ' ')
	[ "$fst" = tmpfs ] && fst="tmpfs standing in for PMem"
	echo "pool dir:        $POOLDIR   [$fst], pool size $PAFKA_STORAGE_TIERS_FIRST_SIZES," \
		"log.channel.type=$PAFKA_LOG_CHANNEL_TYPE"
	echo "broker:          LD_PRELOAD=$LIB java ... kafka.Kafka $KAFKA_PROPS"
else
	echo "broker:          java ... kafka.Kafka $KAFKA_PROPS   (no LD_PRELOAD)"
fi
echo "segment.bytes:   $KAFKA_SEGMENT_BYTES"
kafka_start
kafka_topic_create quickstart "$PARTITIONS"
echo "topic 'quickstart' with $PARTITIONS partitions on $KAFKA_BOOTSTRAP"

# ---- 5. the workload
step "ProducerPerformance: $RECORDS records of $RECORD_SIZE bytes ($((RECORDS * RECORD_SIZE / 1048576)) MiB), acks=all"
WATCH_PID=
if [ -n "$LIB" ] && [ -x "$BUILD/pafka" ]; then
	# the live view an operator would keep open meanwhile: one plain block per second into a file
	"$BUILD/pafka" status --watch --config "$KAFKA_PROPS" >"$QS/watch.log" 2>&1 &
	WATCH_PID=$!
fi
kafka_perf_produce quickstart "$RECORDS" "$RECORD_SIZE"
if [ -n "$WATCH_PID" ]; then
	kill -INT "$WATCH_PID" 2>/dev/null
	wait "$WATCH_PID" || true
	WATCH_PID=
	step "pafka status --watch while producing: its last refresh (all $(grep -c '^pafka status --watch' "$QS/watch.log") in $QS/watch.log)"
	awk 'BEGIN { RS = "" } { last = $0 } END { print last }' "$QS/watch.log"
fi
step "ConsumerPerformance: reading them back"
kafka_perf_consume quickstart "$RECORDS"

# ---- 6. where the segments live
# The log-dir file keeps its exact size but is sparse where its bytes live in the pool, so the bytes
# allocated on disk are the slow-tier part, and size - allocated (about) the pool part.
step "segments: where their bytes live (a segment's pool-resident bytes are holes in its log-dir file)"
printf '%-48s %11s %11s %11s  %s\n' "segment" "size" "on disk" "in pool" "tier"
pool_n=0 slow_n=0 mixed_n=0 pool_b=0 slow_b=0
while IFS=' ' read -r size blocks path; do
	alloc=$((blocks * 512))
	[ "$alloc" -gt "$size" ] && alloc=$size
	inpool=$((size - alloc))
	if [ "$size" -eq 0 ]; then
		tier="(empty)"
	elif [ $((alloc * 100)) -le "$size" ]; then
		tier=pool
		pool_n=$((pool_n + 1))
	elif [ "$inpool" -lt 1048576 ]; then
		tier="slow tier"
		slow_n=$((slow_n + 1))
	else
		tier="split: $((inpool * 100 / size))% in the pool"
		mixed_n=$((mixed_n + 1))
	fi
	pool_b=$((pool_b + inpool))
	slow_b=$((slow_b + alloc))
	printf '%-48s %11d %11d %11d  %s\n' "${path#"$QS"/logs/}" "$size" "$alloc" "$inpool" "$tier"
done < <(find "$QS/logs" -name '????????????????????.log' -printf '%s %b %p\n' | sort -k3)
echo "segments in the pool: $pool_n, on the slow tier: $slow_n, split: $mixed_n;" \
	"bytes in the pool: $((pool_b / 1048576)) MiB, on the slow tier (disk): $((slow_b / 1048576)) MiB"
if [ -n "$LIB" ] && [ -f "$POOLDIR/pafka.pool" ]; then
	python3 "$ROOT/tests/kafka/poolcheck.py" "$POOLDIR" "$QS/logs" 2>/dev/null | grep '^# pool' | sed 's/^# //' || true
	# a split segment: which part is in the pool (pafka ls --json: its pool window starts at window_start)
	"$BUILD/pafka" ls --json --config "$KAFKA_PROPS" 2>/dev/null | python3 -c '
import json, sys
for f in json.load(sys.stdin)["files"]:
    if f["tier"] == "mixed" and f["window_start"] is not None:
        print("%s: bytes from %d on are in the pool (the newest %d MiB), appends go to the %s"
              % (f["path"].split("/logs/")[-1], f["window_start"], (f["size"] - f["window_start"]) >> 20, f["appends"]))
' || true
fi

if [ -n "$LIB" ] && [ -x "$BUILD/pafka" ]; then
	step "where the appends went (pafka status: the shim's counters)"
	"$BUILD/pafka" status --config "$KAFKA_PROPS" | grep -E '^  (threshold|moved|written|spills) ' || true
fi

step "clean shutdown"
kafka_stop
echo "broker stopped (exit status $KAFKA_EXIT); clean-shutdown marker: $([ -e "$QS/logs/.kafka_cleanshutdown" ] && echo yes || echo no)"
echo "done"

#!/bin/bash
# bench/ab/kafka-server-start.sh - broker launcher for the A/B bench (not a Kafka distribution script).
#
# bench/ab/run.sh points KAFKA_HOME at a directory whose bin/kafka-server-start.sh is this file and whose
# libs/ is the Kafka fetched by tests/kafka/kafka.sh, so that kafka.sh's kafka_start (in its KAFKA_HOME
# mode) starts the broker through here. This script moves itself into the bench's cgroup v1 memory and
# blkio groups (BENCH_CG_MEM, BENCH_CG_BLKIO: cgroup directories) and then execs the JVM, so the broker and
# any child it starts are inside both groups from their first page and first I/O, and $! in kafka.sh is
# the JVM. Environment as set by kafka_start: LOG_DIR, KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS,
# KAFKA_OPTS, KAFKA_LOG4J_OPTS; LD_PRELOAD (the shim variants) passes through exec to the JVM.
set -u
props=${1:?usage: kafka-server-start.sh server.properties}
shift
for g in ${BENCH_CG_MEM:-} ${BENCH_CG_BLKIO:-}; do
	echo $$ >"$g/cgroup.procs" || { echo "bench launcher: cannot join cgroup $g" >&2; exit 1; }
done
libs="${BASH_SOURCE[0]%/*}/../libs"
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:-} ${KAFKA_JVM_PERFORMANCE_OPTS:-} ${KAFKA_OPTS:-} ${KAFKA_LOG4J_OPTS:-} \
	-Dkafka.logs.dir="${LOG_DIR:-/tmp}" -cp "$libs/*" kafka.Kafka "$props" "$@"

#!/bin/bash
# tests/e2e/case-inject.sh - the shim injected through the environment alone, for EVERY process, as a
# container image's ENV would do it: LD_PRELOAD=libpafka.so plus one set of PAFKA_* variables
# (PAFKA_LOG_CHANNEL_TYPE=tiered, PAFKA_STORAGE_TIERS_FIRST_PATHS/_SIZES, and PAFKA_LOG_DIRS=<the broker's
# log dir>, which the tools that read segments need to know what is managed), and no shim key in any
# server.properties. Under that one environment run: kafka-storage format (kafka.tools.StorageTool) of a
# dedicated controller and of a broker, the controller (process.roles=controller), the broker
# (process.roles=broker, started as every case starts one), topic admin (org.apache.kafka.tools.TopicCommand
# and E2eTool admin), the console producer and consumer (ConsoleProducer, ConsoleConsumer), kcat, and
# kafka-dump-log (org.apache.kafka.tools.DumpLogSegments). Checks:
#  - every tool exits 0 and prints no pafka error/warning line and no "in use"; formatting created no pool;
#  - the controller never activates (its own log dir is not in PAFKA_LOG_DIRS): no pafka line, no pool
#    descriptor; the broker is the pool's writer (header writer_pid) and its segments are pool-resident;
#  - the consumed records are exactly the produced ones (ConsoleConsumer and kcat agree); dump-log, which
#    reads the segments through the shim (it attaches read-only: its "read-only" line), prints the same
#    records (per-partition count, offsets and digest); the writer pid stays the broker's after each tool;
#  - with the broker stopped, dump-log again prints the same records and attaches read-only, never as the
#    pool's writer (E2E_INJECT_OFFLINE=0 leaves this part out); the broker then starts again ("in use"
#    nowhere) and serves the same records; the pool is closed cleanly at the end.
# E2E_NO_SHIM=1: every process without the preload; the shim checks are skipped, the record checks run.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin inject
N=${E2E_INJECT_RECORDS:-8000}
E2E_BROKER_HEAP=${E2E_BROKER_HEAP:-512m}
SHIM=1
[ "${E2E_NO_SHIM:-0}" = 1 ] && SHIM=0

e2e_split_ports
e2e_split_config c 1 controller || die "controller config"
e2e_split_config b 2 broker || die "broker config"
BOOT=${E2E_BOOT[b]}

# ---- the one environment of every process (the image's ENV)
POOLDIR=$E2E_SHM/pool
mkdir -p "$POOLDIR"
INJ="PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_PATHS=$POOLDIR PAFKA_STORAGE_TIERS_FIRST_SIZES=64M PAFKA_LOG_DIRS=${E2E_DIR[b]}/logs"
for n in c b; do
	if [ $SHIM = 1 ]; then E2E_PRE[$n]=$E2E_LIB E2E_ENV[$n]=$INJ; else E2E_PRE[$n]= E2E_ENV[$n]=; fi
done
[ $SHIM = 1 ] && E2E_POOL[b]=$POOLDIR
[ $SHIM = 1 ] || note "E2E_NO_SHIM=1: every process without the preload; the shim checks are skipped"
note "injected into every process: ${E2E_PRE[b]:+LD_PRELOAD=${E2E_PRE[b]} }${E2E_ENV[b]}"

# inj LABEL CMD...: run CMD under the injected environment (lib.sh's e2e_env_args: the caller's environment
# without PAFKA_*/LD_PRELOAD, plus the shared settings), stdout to $E2E_WORK/LABEL.out, stderr to .err;
# then check its exit status and that its stderr has no pafka error/warning/fatal line and no "in use"
shim_errors() { grep -hE 'pafka\[[0-9]+\]: (error|fatal|warning):|in use' "$@" 2>/dev/null; }
inj() {
	local label=$1 rc=0 bad; shift
	e2e_env_args b
	"${E2E_ENVARGS[@]}" timeout 300 "$@" >"$E2E_WORK/$label.out" 2>"$E2E_WORK/$label.err" </dev/null || rc=$?
	expect "[$label] exits 0 under the injected environment (status $rc)" test $rc = 0
	bad=$(shim_errors "$E2E_WORK/$label.err")
	expect "[$label] no pafka error/warning and no \"in use\" on its stderr${bad:+: $(head -n1 <<<"$bad" | cut -c1-200)}" test -z "$bad"
	[ $rc = 0 ] || tail -n 5 "$E2E_WORK/$label.err" | sed 's/^/#   /'
	return $rc
}
# injava LABEL CLASS ARGS...: a Kafka class (or E2eTool) under inj
injava() {
	local label=$1; shift
	inj "$label" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" -Dlog4j.configuration="file:$E2E_HERE/log4j.properties" \
		-Dkafka.logs.dir="$E2E_WORK" -Dpafka.log.name=tools.log -cp "$E2E_TOOL_CP:$KAFKA_LIBS/*" "$@"
}
# injava_in LABEL INPUT CLASS ARGS...: the same with stdin from INPUT
injava_in() {
	local label=$1 in=$2; shift 2
	local rc=0 bad
	e2e_env_args b
	"${E2E_ENVARGS[@]}" timeout 300 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" -Dlog4j.configuration="file:$E2E_HERE/log4j.properties" \
		-Dkafka.logs.dir="$E2E_WORK" -Dpafka.log.name=tools.log -cp "$KAFKA_LIBS/*" "$@" \
		<"$in" >"$E2E_WORK/$label.out" 2>"$E2E_WORK/$label.err" || rc=$?
	expect "[$label] exits 0 under the injected environment (status $rc)" test $rc = 0
	bad=$(shim_errors "$E2E_WORK/$label.err")
	expect "[$label] no pafka error/warning and no \"in use\" on its stderr${bad:+: $(head -n1 <<<"$bad" | cut -c1-200)}" test -z "$bad"
	[ $rc = 0 ] || tail -n 5 "$E2E_WORK/$label.err" | sed 's/^/#   /'
	return $rc
}
writer_pid() { py pool stats "$POOLDIR" | sed -n 's/.*writer_pid=\([0-9]*\).*/\1/p'; }
# writer_is_broker LABEL: the pool header names the running broker as its writer
writer_is_broker() {
	[ $SHIM = 1 ] || return 0
	local w
	w=$(writer_pid)
	expect "[$1] the pool's writer is still the broker (writer_pid $w, broker ${E2E_PID[b]})" test "$w" = "${E2E_PID[b]}"
}

# ---- kafka-storage format, both log dirs, under the injected environment
CID=$(kafka_uuid)
injava format-controller kafka.tools.StorageTool format -t "$CID" -c "${E2E_DIR[c]}/server.properties" || die "format (controller)"
injava format-broker kafka.tools.StorageTool format -t "$CID" -c "${E2E_DIR[b]}/server.properties" || die "format (broker)"
[ $SHIM = 1 ] && expect "formatting touched no managed file: no pool exists yet" test ! -e "$POOLDIR/pafka.pool"

# ---- the controller and the broker
E2E_NOWAIT=1 e2e_start c || die "controller start"
cport_open() { e2e_alive c && (exec 3<>"/dev/tcp/127.0.0.1/$CPORT") 2>/dev/null; }
poll "the controller (pid ${E2E_PID[c]}) listens on its port" 120 cport_open || die "controller start"
e2e_start b 180 || die "broker start"
controller_checks() {
	[ $SHIM = 1 ] || return 0
	local pid=${E2E_PID[c]} fds
	expect "[$1] the controller (pid $pid) has the shim loaded" grep -q libpafka.so "/proc/$pid/maps"
	expect "[$1] the controller never activated (its log dir is not in PAFKA_LOG_DIRS): no pafka line in its output" \
		sh -c "! grep -q 'pafka\[' '${E2E_DIR[c]}/broker.out'"
	fds=$(find "/proc/$pid/fd" -maxdepth 1 -lname '*pafka.pool*' 2>/dev/null | wc -l)
	expect "[$1] the controller holds no descriptor of pafka.pool ($fds)" test "$fds" = 0
}
controller_checks started
writer_is_broker "broker started"

# ---- topic admin, producer, consumers
injava topic-create org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --create --topic inj \
	--partitions 3 --replication-factor 1 || die "TopicCommand --create"
injava topic-wait E2eTool admin "$BOOT" wait-isr inj 1 60 || die "waiting for the leaders of inj"
injava topic-describe org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOT" --describe --topic inj
expect "[topic-describe] lists the 3 partitions of inj" test "$(grep -c 'Partition: ' "$E2E_WORK/topic-describe.out")" = 3
writer_is_broker "after topic admin"

py gen 0 "$N" 91 >"$E2E_WORK/in"
injava_in producer "$E2E_WORK/in" org.apache.kafka.tools.ConsoleProducer --bootstrap-server "$BOOT" --topic inj \
	--reader-property parse.key=true --reader-property key.separator=: --command-property acks=all
writer_is_broker "after the producer"

# ConsoleConsumer -> "P O K V" lines (DefaultMessageFormatter: Partition:P<tab>Offset:O<tab>KEY<tab>VALUE)
console_consume() {
	local label=$1
	injava "$label" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$BOOT" --topic inj \
		--from-beginning --max-messages "$N" --timeout-ms 60000 \
		--formatter-property print.partition=true --formatter-property print.offset=true \
		--formatter-property print.key=true || return 1
	awk -F'\t' '$1 ~ /^Partition:/ { sub(/^Partition:/, "", $1); sub(/^Offset:/, "", $2); print $1, $2, $3, $4 }' \
		"$E2E_WORK/$label.out" >"$E2E_WORK/$label.recs"
}
console_consume consumer
run_check "ConsoleConsumer" py verify "$N" 3 <"$E2E_WORK/consumer.recs"
use b
inj kcat kcat -C -b "$BOOT" -t inj -o beginning -e -q -f '%p %o %k %s\n' -X fetch.wait.max.ms=100
expect "kcat (under the preload too) reads the same records as ConsoleConsumer" same_records "$E2E_WORK/kcat.out" "$E2E_WORK/consumer.recs"
writer_is_broker "after the consumers"
py consumed-digest inj <"$E2E_WORK/consumer.recs" >"$E2E_WORK/digest.consumed"
sed 's/^/# consumed: /' "$E2E_WORK/digest.consumed"

# ---- kafka-dump-log over every segment of inj, reading through the shim
FILES=
for d in "${E2E_DIR[b]}"/logs/inj-*; do
	for f in $(ls "$d"/*.log | sort); do FILES+="${FILES:+,}$f"; done
done
dump() {
	local label=$1
	injava "$label" org.apache.kafka.tools.DumpLogSegments --files "$FILES" --print-data-log --deep-iteration || return 1
	run_check "$label" py dump-digest <"$E2E_WORK/$label.out"
	py dump-digest <"$E2E_WORK/$label.out" | grep -v '^  ' >"$E2E_WORK/$label.digest"
	expect "[$label] dump-log prints the consumed records (per partition: count, first and last offset, digest)" \
		cmp -s "$E2E_WORK/$label.digest" "$E2E_WORK/digest.consumed"
	if [ $SHIM = 1 ]; then
		grep -h 'pafka\[' "$E2E_WORK/$label.err" | cut -c1-160 | sed 's/^/# /'
		expect "[$label] dump-log attached to the pool read-only (its \"active, read-only\" line)" \
			grep -q 'pafka\[[0-9]*\]: active, read-only' "$E2E_WORK/$label.err"
	fi
}
dump dump-online
writer_is_broker "after dump-log"
[ $SHIM = 1 ] && used_pool_check b "broker running"

# ---- with the broker stopped: dump-log again, then the broker starts again
expect "broker stopped cleanly (SIGTERM)" e2e_stop b 90
if [ "${E2E_INJECT_OFFLINE:-1}" = 1 ]; then
	dump dump-offline
	if [ $SHIM = 1 ]; then
		w=$(writer_pid)
		expect "after dump-log with the broker stopped the pool names no writer (writer_pid $w)" test "$w" = 0
	fi
fi
e2e_start b 180 || die "broker start #2"
writer_is_broker "broker restarted"
console_consume consumer2
expect "after the restart ConsoleConsumer reads the same records" same_records "$E2E_WORK/consumer2.recs" "$E2E_WORK/consumer.recs"
controller_checks "end"
bad=$(shim_errors "${E2E_DIR[b]}/broker.out" "${E2E_DIR[c]}/broker.out")
expect "no pafka error/warning and no \"in use\" in the broker's or the controller's output${bad:+: $(head -n1 <<<"$bad" | cut -c1-200)}" test -z "$bad"
no_errors b
no_errors c
expect "the broker stopped cleanly (SIGTERM)" e2e_stop b 90
expect "then the controller stopped cleanly (SIGTERM)" e2e_stop c 60
if [ $SHIM = 1 ]; then
	w=$(writer_pid)
	expect "the pool was closed cleanly (writer_pid $w)" test "$w" = 0
fi
exit 0

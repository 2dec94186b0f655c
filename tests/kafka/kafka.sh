# shellcheck shell=bash
# tests/kafka/kafka.sh - bash helpers to fetch and run a real, unmodified Apache Kafka 4.x broker (sourced).
#
# Kafka comes from Maven Central (tests/kafka/pom.xml), not from the distribution tarball, so there are no
# bin/*.sh scripts: the broker runs as `java -cp "<libs>/*" kafka.Kafka <dir>/server.properties` and the
# tools by class name. If KAFKA_HOME points at an unpacked distribution (it has bin/kafka-server-start.sh),
# its libs/ are used instead and the broker is started with $KAFKA_HOME/bin/kafka-server-start.sh.
#
# Typical use:
#   . tests/kafka/kafka.sh
#   kafka_fetch || exit             # sets KAFKA_LIBS (returns 3 when Maven Central is unreachable)
#   kafka_config "$dir"             # single-node KRaft broker+controller, sets KAFKA_BOOTSTRAP
#   kafka_format
#   KAFKA_PRELOAD=/path/libpafka.so kafka_start   # PAFKA_* variables of the caller pass through
#   kafka_topic_create t 3; kafka_produce t <file; kafka_consume t '%p %o %k %s\n'
#   kafka_stop                      # SIGTERM, bounded wait (kafka_kill: SIGKILL)
#
# Variables (all optional): KAFKA_VERSION (default: the pom's), PAFKA_CACHE (default <repo>/.cache),
# KAFKA_HOME, KAFKA_SEGMENT_BYTES (default 8 MiB), KAFKA_EXTRA_PROPS (lines appended to server.properties),
# KAFKA_HEAP_OPTS, KAFKA_JVM_OPTS, KAFKA_START_TIMEOUT (s, default 120), KAFKA_STOP_TIMEOUT (s, default 90),
# KAFKA_PRELOAD (a .so put in LD_PRELOAD of the broker process only), KAFKA_QUIET=1 (less chatter).

KAFKA_SH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_SH_ROOT=${KAFKA_SH_ROOT:-$(cd "$KAFKA_SH_DIR/../.." && pwd)}
: "${KAFKA_VERSION:=$(sed -n 's:.*<kafka.version>\([^<$]*\)</kafka.version>.*:\1:p' "$KAFKA_SH_DIR/pom.xml" | head -n1)}"
# the download cache: <repo>/.cache (git-ignored), or ~/.cache/pafka when the tree is read-only (distcheck)
if [ -z "${PAFKA_CACHE:-}" ]; then
	PAFKA_CACHE=$KAFKA_SH_ROOT/.cache
	if ! { mkdir -p "$PAFKA_CACHE" 2>/dev/null && [ -w "$PAFKA_CACHE" ]; }; then
		PAFKA_CACHE="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/pafka"
	fi
fi
KAFKA_LOG4J_CONF="$KAFKA_SH_DIR/log4j2.properties"
KAFKA_PID=
KAFKA_DIR=
KAFKA_START_COUNT=0

kafka_log() { [ "${KAFKA_QUIET:-0}" = 1 ] || printf '# kafka: %s\n' "$*" >&2; }
kafka_err() { printf '# kafka: ERROR: %s\n' "$*" >&2; }

# kafka_have_dist: true when KAFKA_HOME is an unpacked Kafka distribution.
kafka_have_dist() { [ -n "${KAFKA_HOME:-}" ] && [ -x "$KAFKA_HOME/bin/kafka-server-start.sh" ]; }

# kafka_fetch: make KAFKA_LIBS a directory with every jar the broker and the tools need (idempotent).
# Returns 0 on success, 3 when the failure looks like "Maven Central unreachable", 1 otherwise.
kafka_fetch() {
	if kafka_have_dist; then
		KAFKA_LIBS="$KAFKA_HOME/libs"
		kafka_log "using the distribution in KAFKA_HOME=$KAFKA_HOME"
		return 0
	fi
	local top="$PAFKA_CACHE/kafka-$KAFKA_VERSION"
	KAFKA_LIBS="$top/libs"
	if [ -f "$top/.complete" ] && [ -d "$KAFKA_LIBS" ]; then
		return 0
	fi
	command -v mvn >/dev/null 2>&1 || { kafka_err "mvn not found (apt-get install maven)"; return 1; }
	mkdir -p "$top" || return 1
	local tmp="$top/libs.tmp.$$" log="$top/fetch.log"
	rm -rf "$tmp"
	kafka_log "fetching Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
	if ! mvn -B -q -Dstyle.color=never --no-transfer-progress -f "$KAFKA_SH_DIR/pom.xml" \
		-Dkafka.version="$KAFKA_VERSION" \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
		-DoutputDirectory="$tmp" >"$log" 2>&1; then
		rm -rf "$tmp"
		sed "s/\x1b\[[0-9;]*m//g" "$log" | tail -n 20 >&2
		if grep -qiE 'UnknownHost|Unknown host|Connection refused|connect timed out|Connect to .* failed|Network is unreachable|No route to host|Could not transfer artifact|Temporary failure in name resolution|in offline mode' "$log"; then
			return 3
		fi
		return 1
	fi
	if ! ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1; then
		kafka_err "mvn succeeded but no kafka_2.13 jar in $tmp"
		rm -rf "$tmp"
		return 1
	fi
	rm -rf "$KAFKA_LIBS"
	mv "$tmp" "$KAFKA_LIBS" && touch "$top/.complete"
}

# kafka_fetch_for_test: kafka_fetch for a test script. 0: the jars are there; else KAFKA_FETCH_WHY says why
# not, and the status is 77 when this machine cannot fetch (no mvn and nothing cached, or Maven Central
# unreachable: the test skips) or 1 (a failure).
# shellcheck disable=SC2034 # KAFKA_FETCH_WHY is the caller's
kafka_fetch_for_test() {
	if ! kafka_have_dist && ! [ -f "$PAFKA_CACHE/kafka-$KAFKA_VERSION/.complete" ] &&
		! command -v mvn >/dev/null 2>&1; then
		KAFKA_FETCH_WHY="mvn not found (apt-get install maven) and Kafka $KAFKA_VERSION is not cached"
		return 77
	fi
	kafka_fetch
	case $? in
	0) return 0 ;;
	3) KAFKA_FETCH_WHY="Maven Central is unreachable: cannot fetch Kafka $KAFKA_VERSION"; return 77 ;;
	*) KAFKA_FETCH_WHY="fetching Kafka $KAFKA_VERSION"; return 1 ;;
	esac
}

# kafka_free_port: print a TCP port on 127.0.0.1 that is free right now.
kafka_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# kafka_config DIR: write DIR/server.properties for a single-node KRaft broker+controller on 127.0.0.1
# with free ports and log.dirs=DIR/logs. Sets KAFKA_DIR, KAFKA_PORT, KAFKA_CPORT, KAFKA_BOOTSTRAP, KAFKA_PROPS.
kafka_config() {
	KAFKA_DIR=$(mkdir -p "$1" && cd "$1" && pwd) || return 1
	mkdir -p "$KAFKA_DIR/logs" "$KAFKA_DIR/applogs" || return 1
	KAFKA_PORT=$(kafka_free_port) || return 1
	KAFKA_CPORT=$(kafka_free_port) || return 1
	while [ "$KAFKA_CPORT" = "$KAFKA_PORT" ]; do KAFKA_CPORT=$(kafka_free_port) || return 1; done
	KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
	KAFKA_PROPS="$KAFKA_DIR/server.properties"
	cat >"$KAFKA_PROPS" <<EOF
# written by tests/kafka/kafka.sh kafka_config
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CPORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/logs
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=${KAFKA_SEGMENT_BYTES:-8388608}
log.retention.hours=168
num.network.threads=3
num.io.threads=4
EOF
	[ -n "${KAFKA_EXTRA_PROPS:-}" ] && printf '%s\n' "$KAFKA_EXTRA_PROPS" >>"$KAFKA_PROPS"
	return 0
}

# kafka_uuid: a random Kafka Uuid (url-safe base64 of 16 bytes, no padding), as `kafka-storage random-uuid`.
kafka_uuid() {
	# like Kafka's Uuid.randomUuid(): never starting with '-' (it would look like an option)
	python3 -c '
import base64, os
while True:
    u = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not u.startswith("-"):
        print(u)
        break'
}

# kafka_java CLASS ARGS...: run a Kafka tool class with the fetched jars (logging WARN+ to stderr).
kafka_java() {
	local cls=$1; shift
	# shellcheck disable=SC2086
	LD_PRELOAD= timeout "${KAFKA_TOOL_TIMEOUT:-300}" java ${KAFKA_TOOL_HEAP_OPTS:--Xmx512m} ${KAFKA_TOOL_JVM_OPTS:-} \
		-Djava.awt.headless=true -Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" \
		-Dkafka.logs.dir="${KAFKA_DIR:-/tmp}/applogs" -Dpafka.log.name=tools.log \
		-cp "$KAFKA_LIBS/*" "$cls" "$@"
}

# kafka_format: format DIR/logs (meta.properties, bootstrap checkpoint) with a new cluster id.
kafka_format() {
	KAFKA_CLUSTER_ID=$(kafka_uuid) || return 1
	kafka_java kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$KAFKA_PROPS" >"$KAFKA_DIR/format.out" 2>&1 ||
		{ kafka_err "format failed:"; cat "$KAFKA_DIR/format.out" >&2; return 1; }
}

# kafka_pid_alive PID: the process exists and is not a zombie. kafka_alive: the same for the broker.
kafka_pid_alive() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	local st
	st=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
kafka_alive() { kafka_pid_alive "$KAFKA_PID"; }

# kafka_await_broker BOOTSTRAP NODE TIMEOUT PID: poll (bounded, 0.5 s apart) until kcat -L at BOOTSTRAP lists
# broker NODE. 0: ready, after KAFKA_READY_S seconds; 2: PID exited first; 1: not ready within TIMEOUT s.
kafka_await_broker() {
	local boot=$1 node=$2 timeout=$3 pid=$4 start=$SECONDS md
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		kafka_pid_alive "$pid" || return 2
		md=$(LD_PRELOAD= kcat -L -b "$boot" -m 3 2>/dev/null) || md=
		if grep -q "^ *broker $node at " <<<"$md"; then
			KAFKA_READY_S=$((SECONDS - start))
			return 0
		fi
		sleep 0.5
	done
	return 1
}

# kafka_term_wait PID TIMEOUT: SIGTERM and wait (bounded) until PID is gone; 1 (and PID still running) when it
# did not stop within TIMEOUT s.
kafka_term_wait() {
	local pid=$1 timeout=$2 start=$SECONDS
	kill -TERM "$pid" 2>/dev/null
	while kafka_pid_alive "$pid" && [ $((SECONDS - start)) -lt "$timeout" ]; do sleep 0.2; done
	! kafka_pid_alive "$pid"
}

# kafka_kill_wait PID: SIGKILL and wait (at most 30 s) until PID is gone.
kafka_kill_wait() {
	local pid=$1 start=$SECONDS
	# (stderr off: bash would report "Killed" for its background job)
	{
		kill -KILL "$pid"
		while kafka_pid_alive "$pid" && [ $((SECONDS - start)) -lt 30 ]; do sleep 0.1; done
	} 2>/dev/null
}

# kafka_log_tail [N]: the last N lines of the broker's server.log and stdout/stderr (for failure reports).
kafka_log_tail() {
	local n=${1:-60}
	if [ -f "$KAFKA_DIR/applogs/server.log" ]; then
		echo "----- tail -n $n $KAFKA_DIR/applogs/server.log" >&2
		tail -n "$n" "$KAFKA_DIR/applogs/server.log" >&2
	fi
	if [ -f "$KAFKA_DIR/broker.out" ]; then
		echo "----- tail -n $n $KAFKA_DIR/broker.out (stdout/stderr of the broker)" >&2
		tail -n "$n" "$KAFKA_DIR/broker.out" >&2
	fi
	local f
	for f in "$KAFKA_DIR"/hs_err_pid*.log; do
		[ -f "$f" ] || continue
		echo "----- JVM crash report $f (excerpt)" >&2
		grep -E '^(# +(SIGSEGV|SIGBUS|SIGABRT|Problematic|C  |J  |V  )|#  [A-Z]+ \(0x)' "$f" >&2
		sed -n '/^Native frames/,/^$/p' "$f" | head -n 20 >&2
		sed -n '/^Java frames/,/^$/p' "$f" | head -n 25 >&2
		grep -E '^siginfo:|^R(AX|SI|DI|IP)=' "$f" >&2
	done
	echo "-----" >&2
}

# kafka_start: start the broker in the background, with LD_PRELOAD="$KAFKA_PRELOAD" if that is set (the
# PAFKA_* variables of the environment pass through), and wait until it answers metadata requests.
kafka_start() {
	if kafka_alive; then kafka_err "broker already running (pid $KAFKA_PID)"; return 1; fi
	KAFKA_START_COUNT=$((KAFKA_START_COUNT + 1))
	local out="$KAFKA_DIR/broker.out"
	local -a pre=()
	if [ -n "${KAFKA_PRELOAD:-}" ]; then
		[ -r "$KAFKA_PRELOAD" ] || { kafka_err "KAFKA_PRELOAD=$KAFKA_PRELOAD is not readable"; return 1; }
		pre=(env "LD_PRELOAD=$KAFKA_PRELOAD")
	fi
	echo "===== start #$KAFKA_START_COUNT $(date '+%F %T') preload=${KAFKA_PRELOAD:-none}" >>"$out"
	{ env | grep '^PAFKA_' | sed 's/^/    /'; } >>"$out" || true
	local heap=${KAFKA_HEAP_OPTS:--Xms512m -Xmx1g}
	local jvm=${KAFKA_JVM_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -Djava.awt.headless=true}
	if kafka_have_dist; then
		# the distribution's scripts exec java, so $! is the broker JVM
		LOG_DIR="$KAFKA_DIR/applogs" KAFKA_HEAP_OPTS="$heap" KAFKA_JVM_PERFORMANCE_OPTS="$jvm" \
			KAFKA_OPTS="${KAFKA_OPTS:-} -XX:ErrorFile=$KAFKA_DIR/hs_err_pid%p.log" \
			KAFKA_LOG4J_OPTS="-Dlog4j2.configurationFile=$KAFKA_LOG4J_CONF" \
			"${pre[@]}" "$KAFKA_HOME/bin/kafka-server-start.sh" "$KAFKA_PROPS" >>"$out" 2>&1 </dev/null &
	else
		# shellcheck disable=SC2086
		"${pre[@]}" java $heap $jvm -XX:ErrorFile="$KAFKA_DIR/hs_err_pid%p.log" \
			-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" \
			-Dkafka.logs.dir="$KAFKA_DIR/applogs" -cp "$KAFKA_LIBS/*" \
			kafka.Kafka "$KAFKA_PROPS" >>"$out" 2>&1 </dev/null &
	fi
	KAFKA_PID=$!
	echo "$KAFKA_PID" >"$KAFKA_DIR/broker.pid"
	kafka_log "broker pid $KAFKA_PID on $KAFKA_BOOTSTRAP (preload: ${KAFKA_PRELOAD:-none})"
	kafka_wait_ready "${KAFKA_START_TIMEOUT:-120}"
}

# kafka_wait_ready [TIMEOUT]: wait (bounded) until the broker answers metadata; fail early if the JVM died.
kafka_wait_ready() {
	local timeout=${1:-120} rc=0
	kafka_await_broker "$KAFKA_BOOTSTRAP" 1 "$timeout" "$KAFKA_PID" || rc=$?
	case $rc in
	0) kafka_log "broker ready after ${KAFKA_READY_S}s"; return 0 ;;
	2) kafka_err "broker (pid $KAFKA_PID) exited during startup"; kafka_reap ;;
	*) kafka_err "broker not ready after ${timeout}s" ;;
	esac
	kafka_log_tail 80
	return 1
}

# kafka_reap: collect the exit status of an exited broker into KAFKA_EXIT (it is our child).
kafka_reap() {
	[ -n "$KAFKA_PID" ] || return 0
	KAFKA_EXIT=0
	wait "$KAFKA_PID" 2>/dev/null || KAFKA_EXIT=$?
	echo "===== exit status $KAFKA_EXIT $(date '+%F %T')" >>"$KAFKA_DIR/broker.out"
	KAFKA_PID=
}

# kafka_stop [TIMEOUT]: SIGTERM and wait (bounded) for a clean shutdown; SIGKILL and fail after TIMEOUT.
# Kafka's shutdown hook exits the JVM with 143 (SIGTERM), which counts as clean.
kafka_stop() {
	local timeout=${1:-${KAFKA_STOP_TIMEOUT:-90}} start=$SECONDS
	[ -n "$KAFKA_PID" ] || return 0
	if ! kafka_alive; then
		kafka_reap
		kafka_err "broker had already exited (status $KAFKA_EXIT)"
		return 1
	fi
	if ! kafka_term_wait "$KAFKA_PID" "$timeout"; then
		kafka_err "broker did not stop within ${timeout}s of SIGTERM; killing it"
		kafka_log_tail 40
		kill -KILL "$KAFKA_PID" 2>/dev/null
		kafka_reap
		return 1
	fi
	kafka_reap
	kafka_log "broker stopped in $((SECONDS - start))s (exit status $KAFKA_EXIT)"
	case $KAFKA_EXIT in 0 | 143) return 0 ;; *) kafka_err "broker exit status $KAFKA_EXIT"; return 1 ;; esac
}

# kafka_kill: SIGKILL the broker (a crash as far as Kafka is concerned) and reap it.
kafka_kill() {
	[ -n "$KAFKA_PID" ] || return 0
	kafka_kill_wait "$KAFKA_PID"
	kafka_reap 2>/dev/null
	kafka_log "broker killed (exit status $KAFKA_EXIT)"
}

# kafka_cleanup: for a test's exit trap: stop the broker if one still runs (SIGTERM, 30 s, then SIGKILL).
kafka_cleanup() {
	[ -n "${KAFKA_PID:-}" ] && kafka_alive || return 0
	kafka_log "cleanup: stopping the broker"
	kafka_stop 30 >/dev/null 2>&1 || kafka_kill >/dev/null 2>&1
}

# kafka_topic_create TOPIC PARTITIONS [--config k=v ...]: create a topic (RF 1) and wait for its leaders.
kafka_topic_create() {
	local t=$1 n=$2; shift 2
	kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --create \
		--topic "$t" --partitions "$n" --replication-factor 1 "$@" >"$KAFKA_DIR/topic-$t.out" 2>&1 ||
		{ kafka_err "creating topic $t failed:"; cat "$KAFKA_DIR/topic-$t.out" >&2; return 1; }
	kafka_wait_topic "$t" "$n"
}

# kafka_wait_topic TOPIC PARTITIONS [TIMEOUT]: poll until every partition of TOPIC has a leader.
kafka_wait_topic() {
	local t=$1 n=$2 timeout=${3:-60} start=$SECONDS md
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		md=$(LD_PRELOAD= kcat -L -b "$KAFKA_BOOTSTRAP" -t "$t" -m 3 2>/dev/null) || md=
		if grep -q "topic \"$t\" with $n partitions:" <<<"$md" &&
			[ "$(grep -c 'partition [0-9]*, leader 1,' <<<"$md")" -eq "$n" ] &&
			! grep -q 'partition [0-9]*, leader .*: Broker:' <<<"$md"; then
			return 0
		fi
		sleep 0.5
	done
	kafka_err "topic $t: partitions without a leader after ${timeout}s"
	printf '%s\n' "$md" >&2
	return 1
}

# kafka_produce TOPIC [KCAT ARGS...] <FILE: produce stdin, one record per line as KEY:VALUE (kcat -K:),
# idempotent with acks=all so that per-partition order is the order of the lines. Fails on any error.
kafka_produce() {
	local t=$1; shift
	local err="$KAFKA_DIR/kcat-produce-$t.err" rc=0
	LD_PRELOAD= timeout "${KAFKA_KCAT_TIMEOUT:-180}" kcat -P -b "$KAFKA_BOOTSTRAP" -t "$t" -K: -X enable.idempotence=true -X acks=all \
		-X linger.ms=5 -X message.timeout.ms=60000 "$@" 2>"$err" || rc=$?
	# librdkafka logs "%LEVEL|..." lines: 0-3 are errors (4 = warning, e.g. a retried PID request)
	if [ "$rc" -ne 0 ] || grep -qE '^%[0-3]\||Delivery failed|ERROR' "$err"; then
		kafka_err "kcat produce to $t failed (status $rc):"
		tail -n 20 "$err" >&2
		return 1
	fi
}

# kafka_consume TOPIC FORMAT [KCAT ARGS...]: print every record of TOPIC from the beginning (kcat -f FORMAT)
# and exit at the end of every partition (bounded by KAFKA_KCAT_TIMEOUT seconds, default 180).
kafka_consume() {
	local t=$1 fmt=$2; shift 2
	LD_PRELOAD= timeout "${KAFKA_KCAT_TIMEOUT:-180}" kcat -C -b "$KAFKA_BOOTSTRAP" -t "$t" -o beginning -e -q -f "$fmt" \
		-X fetch.wait.max.ms=100 "$@"
}

# kafka_tool_has_opt CLASS OPTION: the tool's --help mentions OPTION (options get renamed across 4.x
# releases; the answer is cached per class and option).
declare -gA KAFKA_TOOL_OPTS=()
kafka_tool_has_opt() {
	local k="$1 $2"
	if [ -z "${KAFKA_TOOL_OPTS[$k]:-}" ]; then
		local help
		help=$(kafka_java "$1" --help 2>&1) || true
		if grep -q -e "$2[ =]" -e "$2\$" <<<"$help"; then
			KAFKA_TOOL_OPTS[$k]=yes
		else
			KAFKA_TOOL_OPTS[$k]=no
		fi
	fi
	[ "${KAFKA_TOOL_OPTS[$k]}" = yes ]
}

# kafka_perf_produce TOPIC RECORDS SIZE: org.apache.kafka.tools.ProducerPerformance at full speed, acks=all.
# Prints the tool's summary line ("N records sent, X records/sec (Y MB/sec), ...").
kafka_perf_produce() {
	local t=$1 n=$2 size=$3 out="$KAFKA_DIR/perf-produce-$1.out"
	local props=--producer-props
	kafka_tool_has_opt org.apache.kafka.tools.ProducerPerformance --command-property && props=--command-property
	kafka_java org.apache.kafka.tools.ProducerPerformance --topic "$t" --num-records "$n" \
		--record-size "$size" --throughput -1 "$props" bootstrap.servers="$KAFKA_BOOTSTRAP" \
		acks=all linger.ms=10 batch.size=262144 compression.type=none >"$out" 2>&1 ||
		{ kafka_err "ProducerPerformance failed:"; tail -n 20 "$out" >&2; return 1; }
	grep -E "^$n records sent" "$out" || { kafka_err "ProducerPerformance: no summary line:"; tail -n 20 "$out" >&2; return 1; }
}

# kafka_perf_consume TOPIC RECORDS: org.apache.kafka.tools.ConsumerPerformance; prints its header and data
# lines; fails unless at least RECORDS records were consumed.
kafka_perf_consume() {
	local t=$1 n=$2 out="$KAFKA_DIR/perf-consume-$1.out"
	local num=--messages
	kafka_tool_has_opt org.apache.kafka.tools.ConsumerPerformance --num-records && num=--num-records
	kafka_java org.apache.kafka.tools.ConsumerPerformance --bootstrap-server "$KAFKA_BOOTSTRAP" \
		--topic "$t" "$num" "$n" --timeout 60000 --group "pafka-perf-$$-$RANDOM" >"$out" 2>&1 ||
		{ kafka_err "ConsumerPerformance failed:"; tail -n 20 "$out" >&2; return 1; }
	grep -E '^(start.time|[0-9]{4}-)' "$out"
	# data line: start, end, MB, MB/sec, nMsg, nMsg/sec, ...
	local got
	got=$(grep -E '^[0-9]{4}-' "$out" | tail -n1 | awk -F', *' '{print $5}')
	[ -n "$got" ] && [ "$got" -ge "$n" ] ||
		{ kafka_err "ConsumerPerformance consumed ${got:-?} < $n records"; tail -n 20 "$out" >&2; return 1; }
}

# shellcheck shell=bash
# tests/e2e/lib.sh - helpers of the end-to-end suite (sourced by tests/e2e/case-*.sh, which run/run.sh starts).
#
# Builds on tests/kafka/kafka.sh (kafka_fetch, kafka_java, kafka_produce, kafka_consume, kafka_uuid,
# kafka_free_port, kafka_log_tail), which handles one broker in globals; this file keeps any number of
# brokers ("instances", by name) side by side, each with its own directory, properties, preload and pool.
#
# Environment from run.sh: E2E_LIB (a private copy of libpafka.so), E2E_WORK (this case's scratch dir on
# disk), E2E_SHM (this case's scratch dir on /dev/shm, the PMem stand-in), E2E_TOOL_CP (the compiled
# E2eTool), E2E_JDK (label), E2E_PIDS (file collecting every broker pid, so run.sh can clean up after a
# case that was killed), KAFKA_LIBS, PATH with the JDK under test first.

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_TOP=${PAFKA_TOP_SRCDIR:-$(cd "$E2E_HERE/../.." && pwd)}
# shellcheck source=tests/lib.sh
. "$E2E_TOP/tests/lib.sh"
# shellcheck source=tests/kafka/kafka.sh
. "$E2E_TOP/tests/kafka/kafka.sh"
KAFKA_QUIET=${KAFKA_QUIET:-1}
E2E_T0=$SECONDS
declare -gA E2E_PID=() E2E_DIR=() E2E_BOOT=() E2E_SSLBOOT=() E2E_PRE=() E2E_ENV=() E2E_NODE=() E2E_POOL=()

note() { printf '# [%4ds] %s\n' $((SECONDS - E2E_T0)) "$*"; }
# ok WHAT / notok WHAT / expect WHAT CMD... / tally FILE: tests/lib.sh's pf_pass, pf_fail, pf_check and
# pf_count with TAP-like lines ("  ok - ", "  not ok - "), counted in PF_PASSED / PF_FAILED
PF_PASS_TAG="  ok - " PF_FAIL_TAG="  not ok - "
ok() { pf_pass "$@"; }
notok() { pf_fail "$@"; }
expect() { pf_check "$@"; }
tally() { pf_count "$1"; }
# run_check LABEL CMD...: run a checker (e2e.py ...) with stdin, print its lines prefixed by LABEL, tally
run_check() {
	local label=$1; shift
	local out
	out=$(mktemp "$E2E_WORK/check.XXXXXX")
	"$@" >"$out" 2>&1
	sed "s/^\(  \(not \)\?ok - \)/\1[$label] /" "$out" | tee "$out.l"
	tally "$out.l"
	rm -f "$out" "$out.l"
}
py() { python3 "$E2E_HERE/e2e.py" "$@"; }

# ------------------------------------------------------------------------------------------- instances
# e2e_config NAME NODE VOTERS [extra property lines]: write <E2E_WORK>/NAME/server.properties for node NODE
# (broker+controller, KRaft) with PLAINTEXT and CONTROLLER listeners on free ports (an SSL listener too when
# E2E_SSL_DIR holds a keystore). VOTERS: "" for a single node, else the controller.quorum.voters value
# (then the ports come from E2E_PORTS_<NODE>/E2E_CPORTS_<NODE>, set by e2e_cluster_ports).
e2e_config() {
	local name=$1 node=$2 voters=$3 extra=${4:-}
	local dir="$E2E_WORK/$name" port cport sport=
	mkdir -p "$dir/logs" "$dir/applogs" || return 1
	dir=$(cd "$dir" && pwd)
	if [ -n "$voters" ]; then
		port=${E2E_CL_PORT[$node]} cport=${E2E_CL_CPORT[$node]}
	else
		port=$(kafka_free_port) cport=$(kafka_free_port)
		while [ "$cport" = "$port" ]; do cport=$(kafka_free_port); done
		voters="$node@127.0.0.1:$cport"
	fi
	local listeners="PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport"
	local adv="PLAINTEXT://127.0.0.1:$port" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
	if [ -n "${E2E_SSL_DIR:-}" ]; then
		sport=$(kafka_free_port)
		while [ "$sport" = "$port" ] || [ "$sport" = "$cport" ]; do sport=$(kafka_free_port); done
		listeners="$listeners,SSL://127.0.0.1:$sport"
		adv="$adv,SSL://127.0.0.1:$sport"
		map="$map,SSL:SSL"
		E2E_SSLBOOT[$name]="127.0.0.1:$sport"
	fi
	local rf=${E2E_INTERNAL_RF:-1}
	cat >"$dir/server.properties" <<EOF
# written by tests/e2e/lib.sh e2e_config
process.roles=broker,controller
node.id=$node
controller.quorum.voters=$voters
listeners=$listeners
advertised.listeners=$adv
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$map
log.dirs=$dir/logs
num.partitions=3
default.replication.factor=$rf
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$(( rf > 1 ? 2 : 1 ))
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$(( rf > 1 ? 2 : 1 ))
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=${E2E_SEGMENT_BYTES:-1048576}
log.retention.hours=168
log.retention.check.interval.ms=1000
log.initial.task.delay.ms=${E2E_INITIAL_TASK_DELAY_MS:-10000}
log.segment.delete.delay.ms=1000
file.delete.delay.ms=1000
log.cleaner.backoff.ms=1000
log.cleaner.dedupe.buffer.size=16777216
log.cleaner.threads=1
num.network.threads=2
num.io.threads=3
num.recovery.threads.per.data.dir=1
background.threads=4
EOF
	if [ -n "${E2E_SSL_DIR:-}" ]; then
		cat >>"$dir/server.properties" <<EOF
ssl.keystore.type=PKCS12
ssl.keystore.location=$E2E_SSL_DIR/broker.p12
ssl.keystore.password=e2e-secret
ssl.key.password=e2e-secret
ssl.client.auth=none
EOF
	fi
	[ -n "$extra" ] && printf '%s\n' "$extra" >>"$dir/server.properties"
	E2E_DIR[$name]=$dir
	E2E_BOOT[$name]="127.0.0.1:$port"
	E2E_NODE[$name]=$node
	E2E_PRE[$name]=
	E2E_ENV[$name]=
	E2E_POOL[$name]=
}

# e2e_cluster_ports N: free ports for nodes 1..N; prints the controller.quorum.voters value.
declare -gA E2E_CL_PORT=() E2E_CL_CPORT=()
e2e_cluster_ports() {
	local n=$1 i v= used=" "
	for ((i = 1; i <= n; i++)); do
		local p c
		p=$(kafka_free_port); while [[ $used == *" $p "* ]]; do p=$(kafka_free_port); done; used+="$p "
		c=$(kafka_free_port); while [[ $used == *" $c "* ]]; do c=$(kafka_free_port); done; used+="$c "
		E2E_CL_PORT[$i]=$p E2E_CL_CPORT[$i]=$c
		v+="${v:+,}$i@127.0.0.1:$c"
	done
	E2E_VOTERS=$v
}

# e2e_split_ports: free ports for a dedicated controller (CPORT, node 1: VOTERS) and a broker (PORT)
e2e_split_ports() {
	CPORT=$(kafka_free_port)
	PORT=$(kafka_free_port)
	while [ "$PORT" = "$CPORT" ]; do PORT=$(kafka_free_port); done
	VOTERS="1@127.0.0.1:$CPORT"
}
# e2e_split_config NAME NODE ROLE: <E2E_WORK>/NAME/server.properties of a dedicated KRaft controller (ROLE
# controller) or of a broker only (ROLE broker), with no shim key (after e2e_split_ports); sets E2E_DIR,
# E2E_BOOT, E2E_NODE (e2e_config writes combined-mode ones)
e2e_split_config() {
	local name=$1 node=$2 role=$3 dir="$E2E_WORK/$1"
	mkdir -p "$dir/logs" "$dir/applogs" || return 1
	if [ "$role" = controller ]; then
		cat >"$dir/server.properties" <<EOF
# written by tests/e2e/lib.sh e2e_split_config: a dedicated KRaft controller, no shim key
process.roles=controller
node.id=$node
controller.quorum.voters=$VOTERS
listeners=CONTROLLER://127.0.0.1:$CPORT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT
log.dirs=$dir/logs
log.segment.bytes=1048576
num.network.threads=2
num.io.threads=2
background.threads=2
EOF
	else
		cat >"$dir/server.properties" <<EOF
# written by tests/e2e/lib.sh e2e_split_config: a broker only, no shim key
process.roles=broker
node.id=$node
controller.quorum.voters=$VOTERS
listeners=PLAINTEXT://127.0.0.1:$PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/logs
num.partitions=3
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.segment.bytes=1048576
log.retention.hours=168
log.initial.task.delay.ms=10000
num.network.threads=2
num.io.threads=3
num.recovery.threads.per.data.dir=1
background.threads=4
EOF
	fi
	E2E_DIR[$name]=$(cd "$dir" && pwd)
	E2E_BOOT[$name]="127.0.0.1:$PORT"
	E2E_NODE[$name]=$node
	E2E_POOL[$name]=
}

# e2e_reassign NAME ARGS...: Kafka's kafka-reassign-partitions against broker NAME
e2e_reassign() {
	local name=$1; shift
	KAFKA_DIR=${E2E_DIR[$name]} kafka_java org.apache.kafka.tools.reassign.ReassignPartitionsCommand \
		--bootstrap-server "${E2E_BOOT[$name]}" "$@"
}
# e2e_dir_plan FILE TOPIC DIR: a reassignment (JSON into FILE) of partitions 0 and 1 of TOPIC, replica on
# broker 1, to log dir DIR
e2e_dir_plan() {
	cat >"$1" <<EOF
{"version":1,"partitions":[
 {"topic":"$2","partition":0,"replicas":[1],"log_dirs":["$3"]},
 {"topic":"$2","partition":1,"replicas":[1],"log_dirs":["$3"]}]}
EOF
}

# e2e_shim NAME MODE [POOLSIZE [more PAFKA_X=Y...]]: run NAME under the shim (MODE pmem|tiered|file) with its
# own pool directory under E2E_SHM; MODE none: no preload at all.
e2e_shim() {
	local name=$1 mode=$2 size=${3:-256M}; shift 3 2>/dev/null || shift $#
	# E2E_NO_SHIM=1: every broker without the preload (diagnosis: does a failure need the shim?)
	[ "${E2E_NO_SHIM:-0}" = 1 ] && mode=none
	if [ "$mode" = none ]; then
		E2E_PRE[$name]= E2E_ENV[$name]= E2E_POOL[$name]=
		return 0
	fi
	local pool="$E2E_SHM/$name.pool"
	mkdir -p "$pool" || return 1
	E2E_PRE[$name]=$E2E_LIB
	E2E_POOL[$name]=$pool
	E2E_ENV[$name]="PAFKA_LOG_CHANNEL_TYPE=$mode PAFKA_STORAGE_TIERS_FIRST_PATHS=$pool PAFKA_STORAGE_TIERS_FIRST_SIZES=$size $*"
}

# e2e_format NAME [CLUSTER_ID]
e2e_format() {
	local name=$1 id=${2:-}
	[ -n "$id" ] || id=$(kafka_uuid) || return 1
	KAFKA_DIR=${E2E_DIR[$name]} kafka_java kafka.tools.StorageTool format -t "$id" \
		-c "${E2E_DIR[$name]}/server.properties" >"${E2E_DIR[$name]}/format.out" 2>&1 ||
		{ echo "# format of $name failed:"; cat "${E2E_DIR[$name]}/format.out"; return 1; }
}

e2e_alive() { kafka_pid_alive "${E2E_PID[$1]:-}"; }

# the environment of a broker: the caller's without any PAFKA_* setting (the harness' own PAFKA_TEST_*
# names are harmless but go too), plus NAME's settings
e2e_env_args() {
	local v
	E2E_ENVARGS=(env)
	for v in $(compgen -e); do
		case $v in PAFKA_* | LD_PRELOAD) E2E_ENVARGS+=(-u "$v") ;; esac
	done
	[ -n "${E2E_PRE[$1]}" ] && E2E_ENVARGS+=("LD_PRELOAD=${E2E_PRE[$1]}")
	# shellcheck disable=SC2206
	[ -n "${E2E_ENV[$1]}" ] && E2E_ENVARGS+=(${E2E_ENV[$1]})
}

# e2e_start NAME [TIMEOUT]: start the broker in the background and wait until it answers metadata with
# itself in the broker list.
e2e_start() {
	local name=$1 timeout=${2:-120} dir=${E2E_DIR[$1]}
	if e2e_alive "$name"; then echo "# $name already running"; return 1; fi
	e2e_env_args "$name"
	{
		echo "===== start $(date '+%F %T') preload=${E2E_PRE[$name]:-none} java=$(command -v java)"
		echo "    ${E2E_ENV[$name]}"
	} >>"$dir/broker.out"
	local heap="-Xms256m -Xmx${E2E_BROKER_HEAP:-768m}" jvm="-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true"
	local logopts="-Dlog4j2.configurationFile=$KAFKA_LOG4J_CONF -Dlog4j.configuration=file:$E2E_HERE/log4j.properties -Dpafka.log.name=server.log"
	if kafka_have_dist; then
		# KAFKA_HOME: the distribution's own start script runs under the shim (it execs java, so $! is
		# the broker JVM), as in tests/kafka/kafka.sh
		"${E2E_ENVARGS[@]}" LOG_DIR="$dir/applogs" KAFKA_HEAP_OPTS="$heap" KAFKA_JVM_PERFORMANCE_OPTS="$jvm" \
			KAFKA_OPTS="${KAFKA_OPTS:-} -XX:ErrorFile=$dir/hs_err_pid%p.log" KAFKA_LOG4J_OPTS="$logopts" \
			"$KAFKA_HOME/bin/kafka-server-start.sh" "$dir/server.properties" >>"$dir/broker.out" 2>&1 </dev/null &
	else
		# shellcheck disable=SC2086
		"${E2E_ENVARGS[@]}" java $heap $jvm -XX:ErrorFile="$dir/hs_err_pid%p.log" $logopts \
			-Dkafka.logs.dir="$dir/applogs" -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
			>>"$dir/broker.out" 2>&1 </dev/null &
	fi
	E2E_PID[$name]=$!
	echo "${E2E_PID[$name]}" >>"$E2E_PIDS"
	[ "${E2E_NOWAIT:-0}" = 1 ] && return 0
	e2e_wait_ready "$name" "$timeout"
}

e2e_wait_ready() {
	local name=$1 timeout=${2:-120} rc=0
	kafka_await_broker "${E2E_BOOT[$name]}" "${E2E_NODE[$name]}" "$timeout" "${E2E_PID[$name]:-}" || rc=$?
	case $rc in
	0)
		note "broker $name (node ${E2E_NODE[$name]}, pid ${E2E_PID[$name]}) ready after ${KAFKA_READY_S}s"
		return 0
		;;
	2)
		echo "# broker $name exited during startup"
		e2e_reap "$name"
		;;
	*) echo "# broker $name not ready after ${timeout}s" ;;
	esac
	e2e_tail "$name"
	return 1
}

e2e_reap() {
	local name=$1 pid=${E2E_PID[$1]:-}
	[ -n "$pid" ] || return 0
	E2E_EXIT=0
	wait "$pid" 2>/dev/null || E2E_EXIT=$?
	echo "===== exit status $E2E_EXIT $(date '+%F %T')" >>"${E2E_DIR[$name]}/broker.out"
	E2E_PID[$name]=
}

# e2e_stop NAME [TIMEOUT]: SIGTERM, bounded wait; a clean exit is 0 or 143
e2e_stop() {
	local name=$1 timeout=${2:-90} start=$SECONDS pid=${E2E_PID[$1]:-}
	[ -n "$pid" ] || return 0
	if ! e2e_alive "$name"; then
		e2e_reap "$name"
		echo "# broker $name had already exited (status $E2E_EXIT)"
		return 1
	fi
	if ! kafka_term_wait "$pid" "$timeout"; then
		echo "# broker $name did not stop within ${timeout}s; SIGKILL"
		kill -KILL "$pid" 2>/dev/null
		e2e_reap "$name"
		return 1
	fi
	e2e_reap "$name"
	note "broker $name stopped in $((SECONDS - start))s (exit status $E2E_EXIT)"
	case $E2E_EXIT in 0 | 143) return 0 ;; *) return 1 ;; esac
}

# e2e_kill NAME: SIGKILL (a crash as far as Kafka is concerned)
e2e_kill() {
	local name=$1 pid=${E2E_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kafka_kill_wait "$pid"
	e2e_reap "$name" 2>/dev/null
	note "broker $name SIGKILLed"
}

# e2e_stop_all [TIMEOUT]: SIGTERM every running instance at once (a cluster's nodes need each other to
# shut down in order), wait (bounded), SIGKILL what is left
e2e_stop_all() {
	local n timeout=${1:-60} start=$SECONDS left
	for n in "${!E2E_PID[@]}"; do
		e2e_alive "$n" && kill -TERM "${E2E_PID[$n]}" 2>/dev/null
	done
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		left=0
		for n in "${!E2E_PID[@]}"; do e2e_alive "$n" && left=1; done
		[ $left = 0 ] && break
		sleep 0.2
	done
	local rc=0
	for n in "${!E2E_PID[@]}"; do
		[ -n "${E2E_PID[$n]}" ] || continue
		if e2e_alive "$n"; then
			echo "# broker $n did not stop within ${timeout}s of SIGTERM; SIGKILL"
			e2e_kill "$n" >/dev/null 2>&1
			rc=1
		else
			e2e_reap "$n"
			case $E2E_EXIT in 0 | 143) ;; *) echo "# broker $n exit status $E2E_EXIT"; rc=1 ;; esac
		fi
	done
	return $rc
}

# e2e_tail NAME [N]: broker log tails and JVM crash reports (kafka.sh's kafka_log_tail on NAME's dir)
e2e_tail() {
	echo "# ----- broker $1 (${E2E_DIR[$1]})"
	KAFKA_DIR=${E2E_DIR[$1]} kafka_log_tail "${2:-40}" 2>&1
	local f
	for f in "${E2E_DIR[$1]}"/hs_err_pid*.log; do
		[ -f "$f" ] && mkdir -p "$E2E_KEEPDIR" && cp "$f" "$E2E_KEEPDIR/" && echo "# JVM crash report kept: $E2E_KEEPDIR/$(basename "$f")"
	done
	grep -h 'pafka' "${E2E_DIR[$1]}/broker.out" 2>/dev/null | tail -n 10 | sed 's/^/# shim: /'
}

# e2e_keep_logs NAME: copy the broker's logs to E2E_KEEPDIR (on failure)
e2e_keep_logs() {
	local d=${E2E_DIR[$1]} to="$E2E_KEEPDIR/$1"
	mkdir -p "$to"
	cp -p "$d"/server.properties "$d"/broker.out "$d"/hs_err_pid*.log "$to"/ 2>/dev/null
	cp -p "$d"/applogs/*.log "$to"/ 2>/dev/null
	find "$d/logs" -printf '%M %s %b %p\n' >"$to/logdir.ls" 2>/dev/null
	[ -n "${E2E_POOL[$1]}" ] && [ -f "${E2E_POOL[$1]}/pafka.pool" ] &&
		py pool files "${E2E_POOL[$1]}" "$d/logs" >"$to/pool.txt" 2>&1
	return 0
}

# ------------------------------------------------------------------------------------------- clients
# use NAME: point kafka.sh's client helpers (kafka_produce, kafka_consume) at NAME
use() { KAFKA_DIR=${E2E_DIR[$1]} KAFKA_BOOTSTRAP=${E2E_BOOT[$1]}; }

# tool ARGS...: tests/e2e/E2eTool.java (compiled by run.sh), plain java, never under the shim
tool() {
	LD_PRELOAD= timeout "${E2E_TOOL_TIMEOUT:-300}" java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" -Dlog4j.configuration="file:$E2E_HERE/log4j.properties" \
		-Dkafka.logs.dir="$E2E_WORK" -Dpafka.log.name=tools.log \
		-cp "$E2E_TOOL_CP:$KAFKA_LIBS/*" E2eTool "$@"
}

# topic NAME TOPIC PARTS [k=v...]: create with RF 1 (or E2E_RF) and wait for leaders and ISR
topic() {
	local name=$1 t=$2 n=$3; shift 3
	tool admin "${E2E_BOOT[$name]}" create "$t" "$n" "${E2E_RF:-1}" "$@" 2>"$E2E_WORK/topic-$t.err" ||
		{ echo "# creating topic $t failed:"; tail -n 5 "$E2E_WORK/topic-$t.err"; return 1; }
}

# consume NAME TOPIC OUT [kcat args]: every record of TOPIC as "P O K V" lines into OUT
consume() {
	local name=$1 t=$2 out=$3; shift 3
	use "$name"
	kafka_consume "$t" '%p %o %k %s\n' "$@" >"$out" 2>"$out.err" ||
		{ echo "# kcat consume of $t from $name failed:"; tail -n 5 "$out.err"; return 1; }
}

# produce NAME TOPIC FILE [kcat args]: kcat, idempotent, acks=all; fails on any delivery error
produce() {
	local name=$1 t=$2 f=$3; shift 3
	use "$name"
	kafka_produce "$t" "$@" <"$f"
}

# ------------------------------------------------------------------------------------------- pool
# pool_used NAME: used blocks of NAME's pool
pool_used() { py pool used "${E2E_POOL[$1]}" | cut -d' ' -f1; }
# pool_summary NAME: key=value summary (see e2e.py pool summary)
pool_summary() { py pool summary "${E2E_POOL[$1]}" "${E2E_DIR[$1]}/logs"; }
# kv KEY SUMMARY: a value out of a summary line
kv() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# poll WHAT TIMEOUT CMD...: bounded polling until CMD succeeds (0.5 s apart); the outcome is a check
poll() {
	local what=$1 timeout=$2; shift 2
	local start=$SECONDS
	while [ $((SECONDS - start)) -lt "$timeout" ]; do
		if "$@"; then
			ok "$what (after $((SECONDS - start))s)"
			return 0
		fi
		sleep 0.5
	done
	notok "$what (not within ${timeout}s)"
	return 1
}

# used_pool_check NAME LABEL: the broker really used the pool: used blocks > 0, pool-resident segment files
# exist, every one of them sparse in the log dir (except promoted ones whose real file keeps a valid copy
# by design, PF_RECF_REAL_VALID), and no pool block belongs to a file that is gone
used_pool_check() {
	local name=$1 label=$2 s
	s=$(pool_summary "$name") || { notok "[$label] reading the pool of $name"; return 1; }
	echo "# [$label] pool of $name: $s"
	local used pf sp rv
	used=$(kv used "$s") pf=$(kv pool_files "$s") sp=$(kv sparse_pool_files "$s") rv=$(kv realvalid_pool_files "$s")
	expect "[$label] $name's pool has used blocks ($used) while the broker runs" test "${used:-0}" -gt 0
	expect "[$label] $name has pool-resident segment files ($pf), all sparse in the log dir ($sp$([ "${rv:-0}" -gt 0 ] && echo "; $rv promoted ones keep their real copy"))" \
		test "${pf:-0}" -gt 0 -a "${sp:-0}" -gt 0 -a $((${sp:-0} + ${rv:-0})) -eq "${pf:-0}"
	expect "[$label] no pool block of $name belongs to a file that is gone (missing_blocks=$(kv missing_blocks "$s"))" \
		test "$(kv missing_blocks "$s")" = 0
}

# dump_replica NAME TOPIC OUT: DumpLogSegments --print-data-log over every segment of NAME's replicas of
# TOPIC, run UNDER THE SHIM (read-only attach to NAME's pool while the broker holds it), in offset order
dump_replica() {
	local name=$1 t=$2 out=$3 d files=
	for d in "${E2E_DIR[$name]}"/logs/"$t"-*; do
		[ -d "$d" ] || continue
		local f
		for f in $(ls "$d"/*.log 2>/dev/null | sort); do files+="${files:+,}$f"; done
	done
	[ -n "$files" ] || { echo "# no segments of $t in $name"; return 1; }
	# Kafka 4 moved the tool from kafka.tools (Scala) to org.apache.kafka.tools
	local cls=org.apache.kafka.tools.DumpLogSegments
	python3 -c 'import glob, sys, zipfile
sys.exit(0 if any("org/apache/kafka/tools/DumpLogSegments.class" in zipfile.ZipFile(j).namelist()
                  for j in glob.glob(sys.argv[1] + "/kafka-tools-*.jar")) else 1)' "$KAFKA_LIBS" ||
		cls=kafka.tools.DumpLogSegments
	e2e_env_args "$name"
	# the tool sees the log dir through PAFKA_LOG_DIRS (no server.properties on its command line)
	"${E2E_ENVARGS[@]}" PAFKA_LOG_DIRS="${E2E_DIR[$name]}/logs" timeout 300 java -Xmx512m -XX:+UseSerialGC \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" -Dlog4j.configuration="file:$E2E_HERE/log4j.properties" \
		-Dkafka.logs.dir="$E2E_WORK" -Dpafka.log.name=tools.log -cp "$KAFKA_LIBS/*" "$cls" --files "$files" --print-data-log \
		--deep-iteration >"$out" 2>"$out.err"
}

# ------------------------------------------------------------------------------------------- a case
# case_begin NAME: the standard start of a case script (prerequisites, cleanup trap)
case_begin() {
	E2E_CASE=$1
	: "${E2E_WORK:?run tests/e2e/run.sh}" "${E2E_SHM:?}" "${E2E_LIB:?}" "${E2E_PAFKA:?}" "${E2E_TOOL_CP:?}" "${KAFKA_LIBS:?}"
	: "${E2E_PIDS:=$E2E_WORK/pids}" "${E2E_KEEPDIR:=$E2E_WORK/keep}"
	note "case $E2E_CASE: Kafka $KAFKA_VERSION, $(java -version 2>&1 | head -n1), pools on $E2E_SHM (tmpfs standing in for PMem)"
	trap case_finish EXIT
	trap 'echo "# interrupted"; exit 130' INT TERM HUP
}

# die WHAT: a step the rest depends on failed
die() {
	notok "$*"
	exit 1
}

case_finish() {
	local rc=$? n
	trap - EXIT INT TERM HUP
	[ "$rc" -ne 0 ] && [ "$PF_FAILED" -eq 0 ] && PF_FAILED=1 && echo "  not ok - case exited with status $rc"
	if [ "$PF_FAILED" -gt 0 ]; then
		for n in "${!E2E_NODE[@]}"; do
			e2e_tail "$n" 40
		done
	fi
	e2e_stop_all
	if [ "$PF_FAILED" -gt 0 ]; then
		for n in "${!E2E_NODE[@]}"; do e2e_keep_logs "$n"; done
		echo "# broker logs and pool listings kept in $E2E_KEEPDIR"
	fi
	note "case $E2E_CASE: $PF_PASSED ok, $PF_FAILED not ok"
	[ "$PF_FAILED" -eq 0 ] && exit 0
	exit 1
}

# start_many NAME...: start several brokers at once (their JVMs start in parallel), then wait for each
start_many() {
	local n rc=0
	for n in "$@"; do
		E2E_NOWAIT=1 e2e_start "$n" || rc=1
	done
	for n in "$@"; do
		e2e_wait_ready "$n" 180 || rc=1
	done
	return $rc
}

# no_errors NAME [IGNORE_ERE]: the broker's server.log has no ERROR/FATAL entry, except entries matching
# IGNORE_ERE (each one of Kafka's own that a case provokes on purpose or that Kafka documents as retriable,
# named where it is passed). An entry is the ERROR line joined with " || " to the line after it (where the
# exception's message is). The first ones are shown otherwise.
no_errors() {
	local f="${E2E_DIR[$1]}/applogs/server.log" ign=${2:-} all n
	if ! [ -s "$f" ]; then
		notok "[$1] the broker logged no ERROR (no server.log to look at: $f)"
		return
	fi
	awk '/\] (ERROR|FATAL) / { e = $0; if ((getline nx) > 0) e = e " || " nx; print e }' "$f" >"$E2E_WORK/errors.$1"
	all=$(wc -l <"$E2E_WORK/errors.$1")
	if [ -n "$ign" ]; then
		grep -Ev -- "$ign" "$E2E_WORK/errors.$1" >"$E2E_WORK/errors.$1.x"
		mv "$E2E_WORK/errors.$1.x" "$E2E_WORK/errors.$1"
	fi
	n=$(wc -l <"$E2E_WORK/errors.$1")
	if [ "$n" -eq 0 ]; then
		ok "[$1] the broker logged no ERROR$([ "$all" -gt 0 ] && echo " (apart from $all expected ones of Kafka's own, see the case)")"
	else
		notok "[$1] the broker logged no ERROR ($n ERROR entries; first:)"
		head -n 3 "$E2E_WORK/errors.$1" | cut -c1-400 | sed 's/^/#   /'
	fi
}

# same_records A B: two consumed outputs hold the same records (kcat interleaves partitions in arrival
# order, so compare them sorted by partition and offset)
same_records() {
	cmp -s <(sort -k1,1n -k2,2n "$1") <(sort -k1,1n -k2,2n "$2")
}

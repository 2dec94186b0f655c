#!/bin/bash
# tests/e2e/case-split.sh - a dedicated KRaft controller (process.roles=controller, node 1) and a broker
# (process.roles=broker, node 2) as two JVMs on this host, both started under the SAME injected environment
# (LD_PRELOAD=libpafka.so, PAFKA_LOG_CHANNEL_TYPE=tiered, PAFKA_STORAGE_TIERS_FIRST_PATHS=<one pool dir>,
# PAFKA_STORAGE_TIERS_FIRST_SIZES=64M), as one container image would give every process, and with no shim
# key in either server.properties (each has its own log.dirs). Both are formatted under that environment
# too. Checks:
#  - both start; the controller has the shim loaded (libpafka.so in its maps) but logged the one
#    "inert: process.roles has no broker role" line, holds no descriptor or mapping of pafka.pool, left no
#    .pafka-pools marker and its metadata log on its log dir; the pool's writer is the broker (header
#    writer_pid), which holds the pool, and the broker's segments are pool-resident (used_pool_check);
#  - acks=all produce; a second producer at a fixed rate while the broker is SIGKILLed and started again:
#    every acknowledged record at its acknowledged offset; the writer is the new broker pid;
#  - the controller restarted (SIGTERM, start): inert again, the broker re-registers, every record is
#    still there and a new acks=all produce works;
#  - no "in use" and no pafka error/warning line in either process's output; the pool closed cleanly at
#    the end (writer_pid 0).
# E2E_NO_SHIM=1: both without the preload; the shim checks are skipped (noted), the record checks run.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin split
N1=${E2E_SPLIT_RECORDS:-6000}
N2=${E2E_SPLIT_CRASH_RECORDS:-12000}
RATE=${E2E_SPLIT_RATE:-2000}
E2E_BROKER_HEAP=${E2E_BROKER_HEAP:-512m}
SHIM=1
[ "${E2E_NO_SHIM:-0}" = 1 ] && SHIM=0

e2e_split_ports
e2e_split_config c 1 controller || die "controller config"
e2e_split_config b 2 broker || die "broker config"

# ---- one injected environment for both (what a container image's ENV gives every process)
POOLDIR=$E2E_SHM/pool
mkdir -p "$POOLDIR"
INJ="PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_PATHS=$POOLDIR PAFKA_STORAGE_TIERS_FIRST_SIZES=64M"
for n in c b; do
	if [ $SHIM = 1 ]; then E2E_PRE[$n]=$E2E_LIB E2E_ENV[$n]=$INJ; else E2E_PRE[$n]= E2E_ENV[$n]=; fi
done
[ $SHIM = 1 ] && E2E_POOL[b]=$POOLDIR
[ $SHIM = 1 ] || note "E2E_NO_SHIM=1: both processes without the preload; the shim checks are skipped"

# inj_java OUT CLASS ARGS...: a Kafka class under the same injected environment (e2e_env_args of the
# controller: the caller's environment without PAFKA_*/LD_PRELOAD, plus the shared settings)
inj_java() {
	local out=$1; shift
	e2e_env_args c
	"${E2E_ENVARGS[@]}" timeout 300 java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-Dlog4j2.configurationFile="$KAFKA_LOG4J_CONF" -Dlog4j.configuration="file:$E2E_HERE/log4j.properties" \
		-Dkafka.logs.dir="$E2E_WORK" -Dpafka.log.name=tools.log -cp "$KAFKA_LIBS/*" "$@" >"$out" 2>&1
}
# shim_errors FILE...: pafka error, fatal or warning lines, and "in use", in the files
shim_errors() { grep -hE 'pafka\[[0-9]+\]: (error|fatal|warning):|in use' "$@" 2>/dev/null; }

CID=$(kafka_uuid)
for n in c b; do
	inj_java "${E2E_DIR[$n]}/format.out" kafka.tools.StorageTool format -t "$CID" -c "${E2E_DIR[$n]}/server.properties" ||
		{ cat "${E2E_DIR[$n]}/format.out"; die "format of $n (under the injected environment)"; }
done
ok "both log dirs formatted under the injected environment (kafka.tools.StorageTool)"

# ---- start: the controller first (no PLAINTEXT listener: ready when its port answers), then the broker
E2E_NOWAIT=1 e2e_start c || die "controller start"
cport_open() { e2e_alive c && (exec 3<>"/dev/tcp/127.0.0.1/$CPORT") 2>/dev/null; }
poll "the dedicated controller (pid ${E2E_PID[c]}) listens on its port" 120 cport_open || die "controller start"
e2e_start b 180 || die "broker start"
expect "the controller is still running" e2e_alive c

inert_lines() { grep -c "pafka\[[0-9]*\]: inert: process.roles has no broker role" "${E2E_DIR[c]}/broker.out"; }
inert_after() { [ "$(inert_lines)" -ge "$1" ]; }
# controller_checks LABEL N: the controller (pid E2E_PID[c]) under the shim but inert (its N-th start)
controller_checks() {
	local label=$1 n=$2 pid=${E2E_PID[c]}
	if [ $SHIM = 0 ]; then note "[$label] controller checks skipped (E2E_NO_SHIM=1)"; return 0; fi
	expect "[$label] the controller JVM (pid $pid) has the shim loaded (libpafka.so in /proc/$pid/maps)" \
		grep -q libpafka.so "/proc/$pid/maps"
	poll "[$label] the controller logged the inert line ($n in its output)" 60 inert_after "$n"
	grep "inert: process.roles" "${E2E_DIR[c]}/broker.out" | tail -n1 | cut -c1-240 | sed 's/^/# /'
	expect "[$label] the controller's inert line names its own pid" grep -q "pafka\[$pid\]: inert:" "${E2E_DIR[c]}/broker.out"
	local fds maps
	fds=$(find "/proc/$pid/fd" -maxdepth 1 -lname '*pafka.pool*' 2>/dev/null | wc -l)
	maps=$(grep -c 'pafka.pool' "/proc/$pid/maps" 2>/dev/null)
	expect "[$label] the controller holds no descriptor of pafka.pool ($fds in /proc/$pid/fd)" test "$fds" = 0
	expect "[$label] the controller maps no pafka.pool ($maps lines in /proc/$pid/maps)" test "$maps" = 0
	expect "[$label] the controller's log dir has no .pafka-pools marker" test ! -e "${E2E_DIR[c]}/logs/.pafka-pools"
	local s
	s=$(py pool summary "$POOLDIR" "${E2E_DIR[c]}/logs")
	expect "[$label] the controller's metadata log is on its log dir, none of it in the pool (pool_files=$(kv pool_files "$s") slow_files=$(kv slow_files "$s"))" \
		test "$(kv pool_files "$s")" = 0 -a "$(kv slow_files "$s")" -ge 1
}
# writer_checks LABEL: the broker (and only it) holds the pool and is its writer
writer_checks() {
	local label=$1 pid=${E2E_PID[b]} w fds
	if [ $SHIM = 0 ]; then note "[$label] pool checks skipped (E2E_NO_SHIM=1)"; return 0; fi
	w=$(py pool stats "$POOLDIR" | sed -n 's/.*writer_pid=\([0-9]*\).*/\1/p')
	expect "[$label] the pool header's writer pid is the broker's ($w = $pid)" test "$w" = "$pid"
	fds=$(find "/proc/$pid/fd" -maxdepth 1 -lname '*pafka.pool*' 2>/dev/null | wc -l)
	expect "[$label] the broker holds the pool ($fds descriptor(s) of pafka.pool)" test "$fds" -ge 1
	used_pool_check b "$label"
	local out
	out=$(shim_errors "${E2E_DIR[b]}/broker.out" "${E2E_DIR[c]}/broker.out")
	expect "[$label] no pafka error/warning and no \"in use\" in either process's output${out:+: $(head -n1 <<<"$out" | cut -c1-200)}" test -z "$out"
}

controller_checks "started" 1
topic b sp 3 || die "create topic sp"
py gen 0 "$N1" 81 >"$E2E_WORK/a.in"
tool produce "${E2E_BOOT[b]}" sp "$E2E_WORK/a.acks" 0 <"$E2E_WORK/a.in" 2>"$E2E_WORK/a.err"
expect "producer: all $N1 records acknowledged (acks=all)" test $? -eq 0
consume b sp "$E2E_WORK/a.out" || notok "consume sp"
run_check "produced" py verify-acked "$E2E_WORK/a.acks" "$E2E_WORK/a.in" 3 <"$E2E_WORK/a.out"
writer_checks "produced"

# ---- SIGKILL the broker during an acks=all produce, start it again
py gen "$N1" "$N2" 82 >"$E2E_WORK/b.in"
E2E_TOOL_TIMEOUT=240 tool produce "${E2E_BOOT[b]}" sp "$E2E_WORK/b.acks" "$RATE" <"$E2E_WORK/b.in" 2>"$E2E_WORK/b.err" &
prod=$!
nacks() { local n; n=$(grep -c '^ack' "$E2E_WORK/b.acks" 2>/dev/null); echo "${n:-0}"; }
acked() { [ "$(nacks)" -ge $((RATE / 2)) ]; }
poll "the producer is under way ($((RATE / 2))+ records acknowledged)" 60 acked
before=$(nacks)
old=${E2E_PID[b]}
e2e_kill b
note "broker (pid $old) SIGKILLed with $before of $N2 records acknowledged; restarting while the producer retries"
e2e_start b 180 || die "broker start after SIGKILL"
wait "$prod"
expect "producer finished ($(tail -n1 "$E2E_WORK/b.err" | sed 's/^E2eTool produce: //'))" test -s "$E2E_WORK/b.acks"
nb=$(nacks)
expect "records were acknowledged before ($before) and after the crash ($nb of $N2 in all)" \
	test "$before" -lt "$N2" -a "$nb" -gt $((N2 / 2))
cat "$E2E_WORK/a.acks" "$E2E_WORK/b.acks" >"$E2E_WORK/ab.acks"
cat "$E2E_WORK/a.in" "$E2E_WORK/b.in" >"$E2E_WORK/ab.in"
consume b sp "$E2E_WORK/b.out" || notok "consume sp"
run_check "after SIGKILL" py verify-acked "$E2E_WORK/ab.acks" "$E2E_WORK/ab.in" 3 <"$E2E_WORK/b.out"
writer_checks "after SIGKILL"
controller_checks "broker restarted" 1

# ---- restart the controller
t=$SECONDS
expect "controller stopped cleanly (SIGTERM)" e2e_stop c 60
E2E_NOWAIT=1 e2e_start c || die "controller restart"
poll "the controller (pid ${E2E_PID[c]}) listens again" 120 cport_open || die "controller restart"
note "controller restarted in $((SECONDS - t))s"
controller_checks "controller restarted" 2
# the broker answers through the restarted controller: a new topic needs the active controller
topic b sp2 1 || notok "create topic sp2 through the restarted controller"
consume b sp "$E2E_WORK/c.out" || notok "consume sp"
run_check "after the controller restart" py verify-acked "$E2E_WORK/ab.acks" "$E2E_WORK/ab.in" 3 <"$E2E_WORK/c.out"
py gen $((N1 + N2)) 2000 83 >"$E2E_WORK/d.in"
tool produce "${E2E_BOOT[b]}" sp "$E2E_WORK/d.acks" 0 <"$E2E_WORK/d.in" 2>"$E2E_WORK/d.err"
expect "producer after the controller restart: all 2000 records acknowledged" test $? -eq 0
cat "$E2E_WORK/ab.acks" "$E2E_WORK/d.acks" >"$E2E_WORK/all.acks"
cat "$E2E_WORK/ab.in" "$E2E_WORK/d.in" >"$E2E_WORK/all.in"
consume b sp "$E2E_WORK/d.out" || notok "consume sp"
run_check "all" py verify-acked "$E2E_WORK/all.acks" "$E2E_WORK/all.in" 3 <"$E2E_WORK/d.out"
writer_checks "controller restarted"

no_errors b
no_errors c
# the broker first: its controlled shutdown needs the controller
t=$SECONDS
expect "the broker stopped cleanly (SIGTERM)" e2e_stop b 90
expect "then the controller stopped cleanly (SIGTERM)" e2e_stop c 60
note "stopped in $((SECONDS - t))s"
if [ $SHIM = 1 ]; then
	w=$(py pool stats "$POOLDIR" | sed -n 's/.*writer_pid=\([0-9]*\).*/\1/p')
	expect "the pool was closed cleanly by its writer (writer_pid $w)" test "$w" = 0
	out=$(shim_errors "${E2E_DIR[b]}/broker.out" "${E2E_DIR[c]}/broker.out")
	expect "no pafka error/warning and no \"in use\" in either process's output, to the end${out:+: $(head -n1 <<<"$out" | cut -c1-200)}" test -z "$out"
fi
exit 0

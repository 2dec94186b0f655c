#!/bin/bash
# tests/e2e/case-cluster.sh - a 3-node KRaft cluster on 127.0.0.1 (each node broker+controller, each under
# the shim with its own pool on /dev/shm), topic "cl" with 3 partitions, replication factor 3,
# min.insync.replicas=2. The acked Java producer (acks=all) writes at a fixed rate; meanwhile the leader of
# partition 0 is SIGKILLed while its two followers are SIGSTOPped for a moment (so its log holds records
# nobody else has), leadership moves, producing goes on with 2 in-sync replicas, and the old leader is
# started again: it recovers its pool-resident segments, truncates what the new leader does not have, and
# catches up as a follower while the producer still runs. Checks: no acknowledged record lost (each at its acknowledged offset), the ISR is full
# again, and the three replicas converge: each node's segment files of "cl", dumped by DumpLogSegments run
# UNDER THE SHIM against that node's pool (read-only attach while the broker holds it), give the same
# per-partition record count, offsets and content digest as each other and as the consumed records.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin cluster
N=${E2E_CLUSTER_RECORDS:-90000}
RATE=${E2E_CLUSTER_RATE:-1500}
E2E_BROKER_HEAP=${E2E_BROKER_HEAP:-512m}

e2e_cluster_ports 3
E2E_INTERNAL_RF=3
CID=$(kafka_uuid)
BOOT=
# controlled.shutdown.enable=false: the case ends by stopping the whole cluster at once, and a node whose
# controlled-shutdown request reaches the controllers after the other two have gone waits for a quorum
# that cannot come back (Kafka's KRaft behaviour: up to its 5-minute shutdown deadline; seen once in CI).
# Nothing else in the case sends SIGTERM (the leader is SIGKILLed), so this only drops that wait.
for i in 1 2 3; do
	e2e_config n$i $i "$E2E_VOTERS" "min.insync.replicas=2
unclean.leader.election.enable=false
replica.lag.time.max.ms=10000
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
controlled.shutdown.enable=false"
	e2e_shim n$i pmem 128M
	e2e_format n$i "$CID" || die "format node $i"
	BOOT+="${BOOT:+,}${E2E_BOOT[n$i]}"
done
start_many n1 n2 n3 || die "starting the 3 nodes"
E2E_BOOT[cl]=$BOOT E2E_DIR[cl]=$E2E_WORK
E2E_RF=3 topic n1 cl 3 min.insync.replicas=2 || die "create topic cl (RF 3)"
tool admin "$BOOT" isr cl | sed 's/^/# partition leader isr: /'

py gen 0 "$N" 71 >"$E2E_WORK/cl.in"
E2E_TOOL_TIMEOUT=300 tool produce "$BOOT" cl "$E2E_WORK/cl.acks" "$RATE" <"$E2E_WORK/cl.in" 2>"$E2E_WORK/cl.err" &
prod=$!
nacks() { local n; n=$(grep -c '^ack' "$E2E_WORK/cl.acks" 2>/dev/null); echo "${n:-0}"; }
acked_at_least() { [ "$(nacks)" -ge "$1" ]; }
poll "the producer is under way ($RATE+ records acknowledged)" 60 acked_at_least "$RATE"
victim=$(tool admin "$BOOT" isr cl 2>/dev/null | awk '$1 == 0 { print $2 }')
[ -n "$victim" ] && [ "$victim" -ge 1 ] || die "finding the leader of cl-0"
others=$(for i in 1 2 3; do [ $i = "$victim" ] || echo -n "$i "; done)
# Make the leader's log diverge for sure: stop both followers (SIGSTOP for a moment, less than the broker
# session timeout), write 500 extra records to cl-0 with acks=1 (the leader alone acknowledges them; they
# are not part of the checked, acks=all stream), SIGKILL the leader and let the
# followers go on. The old leader, back as a follower, must truncate its pool-resident segments of cl-0 to
# the new leader's log. (A follower's fetch that was already waiting at the leader when it was stopped
# delivers the first of those records once it resumes, so a few of them may legitimately survive; the
# check allows that and nothing more.)
cl0_bytes() { stat -c %s "${E2E_DIR[n$victim]}"/logs/cl-0/*.log 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
py gen 9000000 500 72 >"$E2E_WORK/diverge.in"
for i in $others; do kill -STOP "${E2E_PID[n$i]}"; done
b0=$(cl0_bytes)
LD_PRELOAD= timeout 20 kcat -P -b "${E2E_BOOT[n$victim]}" -t cl -p 0 -K: -X acks=1 -X linger.ms=5 \
	<"$E2E_WORK/diverge.in" 2>"$E2E_WORK/diverge.err"
b1=$(cl0_bytes)
a0=$(nacks)
e2e_kill "n$victim"
for i in $others; do kill -CONT "${E2E_PID[n$i]}"; done
note "SIGKILLed node $victim (leader of cl-0) with $a0 records acknowledged; nodes $others continued"
expect "with its followers stopped, leader node $victim appended unreplicated records to cl-0 ($((b1 - b0)) bytes)" \
	test "$b1" -gt $((b0 + 100000))
restart_line=$(wc -l <"${E2E_DIR[n$victim]}/applogs/server.log")
moved() { tool admin "$BOOT" isr cl 2>/dev/null | awk -v v="$victim" '$2 == v || $2 < 0 { bad = 1 } END { exit bad }'; }
poll "leadership moved off node $victim" 60 moved
tool admin "$BOOT" isr cl | sed 's/^/# partition leader isr: /'
a1=$(nacks)
poll "acks=all produce goes on with 2 in-sync replicas ($a1 -> $((a1 + RATE))+ acknowledged)" 60 \
	acked_at_least $((a1 + RATE))
e2e_start "n$victim" 180 || die "restarting node $victim"
a2=$(nacks)
wait "$prod"
expect "producer finished ($(tail -n1 "$E2E_WORK/cl.err" | sed 's/^E2eTool produce: //'))" test -s "$E2E_WORK/cl.acks"
expect "the ISR of every partition is full again (3 replicas)" tool admin "$BOOT" wait-isr cl 3 120
tool admin "$BOOT" isr cl | sed 's/^/# partition leader isr: /'
tail -n +"$restart_line" "${E2E_DIR[n$victim]}/applogs/server.log" |
	grep -E 'partition=cl-0.*Truncating to offset|Truncating cl-0|cl-0 .*TruncationState' | cut -c1-220 >"$E2E_WORK/trunc.txt"
sed 's/^/# /' "$E2E_WORK/trunc.txt"
expect "node $victim, back as a follower, truncated its pool-resident cl-0 (\"Truncating to offset\")" \
	grep -q 'Truncating to offset' "$E2E_WORK/trunc.txt"
expect "node $victim rejoined while the producer was still running ($a2 of $N acknowledged at its restart)" \
	test "$a2" -lt "$N"

consume cl cl "$E2E_WORK/cl.out" || notok "consume cl"
run_check "consumed" py verify-acked "$E2E_WORK/cl.acks" "$E2E_WORK/cl.in" 3 "$E2E_WORK/diverge.in" <"$E2E_WORK/cl.out"
py consumed-digest cl <"$E2E_WORK/cl.out" >"$E2E_WORK/digest.consumed"
sed 's/^/# consumed: /' "$E2E_WORK/digest.consumed"

# the replicas, each read from its node's segment files through the shim (read-only attach)
converged() {
	local i rc=0
	for i in 1 2 3; do
		dump_replica n$i cl "$E2E_WORK/dump.n$i" || { echo "# dump of node $i failed: $(tail -n 3 "$E2E_WORK/dump.n$i.err")"; return 1; }
		py dump-digest <"$E2E_WORK/dump.n$i" >"$E2E_WORK/digest.n$i" || rc=1
		cmp -s <(grep -v '^  ' "$E2E_WORK/digest.n$i") "$E2E_WORK/digest.consumed" || rc=1
	done
	return $rc
}
poll "the three replicas converged: every node's segments (read through its pool) == the consumed records" 90 converged
for i in 1 2 3; do
	run_check "node $i replica" cat "$E2E_WORK/digest.n$i"
	grep -v '^  ' "$E2E_WORK/digest.n$i" | sed "s/^/# node $i: /"
done
for i in 1 2 3; do
	used_pool_check n$i "node $i"
	grep -q 'read-only' "$E2E_WORK/dump.n$i.err" && note "node $i dump: $(grep -m1 'read-only' "$E2E_WORK/dump.n$i.err")"
done
# Kafka's own controller noise is not held against the shim: a non-active controller answering a
# controller RPC (registration, heartbeat) with NotControllerException logs ERROR, and the stopped and
# killed nodes include the active controller (controller RPC and event-queue messages, not storage)
for i in 1 2 3; do
	no_errors n$i 'NotControllerException|controller event queue overloaded|\[ControllerApis nodeId=[0-9]+\] Unexpected error handling request'
done
t=$SECONDS
expect "the three nodes stopped cleanly (SIGTERM to all)" e2e_stop_all 90
note "the cluster stopped in $((SECONDS - t))s"
exit 0

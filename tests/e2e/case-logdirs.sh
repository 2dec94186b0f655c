#!/bin/bash
# tests/e2e/case-logdirs.sh - moving partitions between log dirs (AlterReplicaLogDirs, KIP-113) under the
# shim, while an acks=all producer runs. One broker, two log dirs (log.dirs=<dir>/logs,<dir>/logs2), ONE
# pool (tiered): storage.tiers.second.paths defaults to log.dirs, so both dirs are managed.
#
# Kafka moves a replica between log dirs by creating a "future" replica <topic>-<p>.<uuid>-future in the
# destination dir, copying the log into it (ReplicaAlterLogDirsThread, throttled here with
# replica.alter.log.dirs.io.max.bytes.per.second through kafka-reassign-partitions'
# --replica-alter-log-dirs-throttle so the move lasts long enough to be watched), and, once it has caught
# up, renaming the current dir to <topic>-<p>.<uuid>-delete and the future dir to <topic>-<p>; the -delete
# dir is removed after file.delete.delay.ms.
#  1. topic ld (2 partitions) is placed in dir 1 (logs) while empty;
#  2. the producer starts; once records are in, both partitions move dir 1 -> dir 2 (logs2): while the
#     move is in flight the future replica's segments are pool-resident; the reassignment completes
#     (--verify); then the partitions are only in dir 2, every non-empty segment of theirs is pool-resident
#     (sparse in the log dir), no pool block belongs to a file that is gone (missing_blocks=0) and no pool
#     record names a path under a *-future or *-delete dir;
#  3. both partitions move back dir 2 -> dir 1; the broker is SIGKILLed while the future replica is being
#     written (its pool-resident segments seen first), started again, and the move finishes (--verify); the
#     same checks as in 2, now in dir 1;
#  4. every acknowledged record reads back at its acknowledged partition/offset (verify-acked); pafka fsck
#     is clean with the broker running and after a clean stop; the broker logged no ERROR.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin logdirs
N=${E2E_LOGDIRS_RECORDS:-40000}
RATE=${E2E_LOGDIRS_RATE:-300}
THROTTLE=${E2E_LOGDIRS_THROTTLE:-400000}
PREFILL=${E2E_LOGDIRS_PREFILL:-8000}

B="$(cd "$E2E_WORK" && pwd)/b"
L1="$B/logs" L2="$B/logs2"
mkdir -p "$L1" "$L2" || die "mkdir log dirs"
e2e_config b 1 "" "log.dirs=$L1,$L2"
e2e_shim b tiered 128M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim (two log dirs)"
grep -h 'pafka\[' "$B/broker.out" | head -n 3 | sed 's/^/# shim: /'
topic b ld 2 || die "create topic ld"

# ---- helpers
SHIMMED=1
[ -n "${E2E_POOL[b]}" ] || SHIMMED=0
POOL=${E2E_POOL[b]:-$E2E_SHM/none}
summary() { py pool summary "$POOL" "$L1" "$L2"; }
files() { py pool files "$POOL" "$L1" "$L2"; }
# the pool's records (LIVE/DYING) as "STATE BLOCKS PATH" lines
records() {
	python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import e2e
for r in e2e.read_pool(sys.argv[2])["recs"].values(): print(r["state"], r["blocks"], r["path"])' "$E2E_HERE" "$POOL"
}
reassign() { e2e_reassign b "$@"; }
# plan FILE DIR: the reassignment of ld-0 and ld-1 (replica on broker 1) to log dir DIR
plan() { e2e_dir_plan "$1" ld "$2"; }
# verified FILE: --verify says every replica's log dir move of FILE is complete
verified() {
	reassign --verify --reassignment-json-file "$1" >"$E2E_WORK/verify.out" 2>&1 || return 1
	! grep -qi 'in progress\|not started\|error\|fail' "$E2E_WORK/verify.out" &&
		[ "$(grep -c 'ld-[01].*complete' "$E2E_WORK/verify.out")" -ge 2 ]
}
# only_in DIR OTHER: ld-0 and ld-1 live in DIR; no ld-* dir (future, delete or current) left anywhere else
only_in() {
	[ -d "$1/ld-0" ] && [ -d "$1/ld-1" ] && ! ls "$1" | grep -q '^ld-.*-\(future\|delete\)$' &&
		! ls "$2" | grep -q '^ld-'
}
nacks() { local n; n=$(grep -c '^ack' "$E2E_WORK/p.acks" 2>/dev/null); echo "${n:-0}"; }
# future_in_pool DIR: a segment of a future replica in DIR holds pool blocks and is pool-resident
future_in_pool() {
	files | awk -v d="$1/" 'index($5, d) == 1 && $5 ~ /\/ld-[01]\.[0-9a-f]+-future\/[0-9]+\.log$/ && $1 == "pool" && $4 > 0' \
		>"$E2E_WORK/future.seen"
	[ -s "$E2E_WORK/future.seen" ]
}
# after_move LABEL DIR OTHER: the checks once a move to DIR finished
after_move() {
	local label=$1 dir=$2 other=$3 s
	poll "[$label] ld-0 and ld-1 only in $dir; the old replicas' -delete dirs are gone" 120 only_in "$dir" "$other"
	ls "$dir" "$other" | tr '\n' ' ' | sed 's/^/# dirs: /'; echo
	if [ "$SHIMMED" = 0 ]; then
		notok "[$label] the pool checks (no pool: E2E_NO_SHIM=1)"
		return
	fi
	no_stale() {
		records >"$E2E_WORK/records.txt" || return 1
		! grep -q -- '-\(future\|delete\)/' "$E2E_WORK/records.txt" &&
			[ "$(kv missing_blocks "$(summary)")" = 0 ]
	}
	poll "[$label] no pool block belongs to a file that is gone, no pool record names a *-future or *-delete path" 60 no_stale ||
		grep -- '-\(future\|delete\)/' "$E2E_WORK/records.txt" | head -n 5 | sed 's/^/#   record: /'
	s=$(summary)
	echo "# [$label] pool: $s"
	expect "[$label] missing_blocks=0 and missing_recs=0 ($(kv missing_blocks "$s"), $(kv missing_recs "$s"))" \
		test "$(kv missing_blocks "$s")" = 0 -a "$(kv missing_recs "$s")" = 0
	files | awk -v d="$dir/" 'index($5, d) == 1 && $5 ~ /\/ld-[01]\/[0-9]+\.log$/' >"$E2E_WORK/moved.txt"
	local n np nbad
	n=$(grep -vc '^empty' "$E2E_WORK/moved.txt") np=$(grep -c '^pool' "$E2E_WORK/moved.txt")
	nbad=$(grep -c '^\(slow\|mixed\)' "$E2E_WORK/moved.txt")
	grep '^\(slow\|mixed\)' "$E2E_WORK/moved.txt" | head -n 5 | sed 's/^/#   not in the pool: /'
	expect "[$label] every non-empty segment of the moved partitions in $dir is pool-resident ($np of $n; demotions=$(kv demotions "$s") head_demotions=$(kv head_demotions "$s") spills=$(kv spills "$s"))" \
		test "$n" -gt 0 -a "$nbad" = 0 -a "$np" = "$n"
	local p0 p1
	p0=$(grep -c "/ld-0/.* 0\$" <(grep '^pool' "$E2E_WORK/moved.txt")) p1=$(grep -c "/ld-1/.* 0\$" <(grep '^pool' "$E2E_WORK/moved.txt"))
	expect "[$label] both moved partitions have sparse pool-resident segments in $dir (ld-0: $p0, ld-1: $p1)" \
		test "$p0" -gt 0 -a "$p1" -gt 0 -a "$(kv sparse_pool_files "$s")" -gt 0
}
fsck() {
	local label=$1
	env -u PAFKA_CACHE "$E2E_PAFKA" fsck --pool "$POOL" --config "$B/server.properties" >"$E2E_WORK/fsck.out" 2>&1
	local rc=$?
	sed 's/^/# /' "$E2E_WORK/fsck.out" | head -n 10
	expect "[$label] pafka fsck is clean (exit $rc)" test $rc = 0
}

# ---- 1. ld in dir 1 while empty
plan "$E2E_WORK/to1.json" "$L1"
plan "$E2E_WORK/to2.json" "$L2"
note "initial placement: $(ls "$L1" "$L2" | grep '^ld-' | tr '\n' ' ')"
reassign --execute --reassignment-json-file "$E2E_WORK/to1.json" >"$E2E_WORK/exec0.out" 2>&1 ||
	{ cat "$E2E_WORK/exec0.out"; die "kafka-reassign-partitions --execute (ld to $L1)"; }
poll "ld placed in dir 1 (--verify complete)" 120 verified "$E2E_WORK/to1.json"
poll "ld-0 and ld-1 only in dir 1" 60 only_in "$L1" "$L2"

# ---- 2. producer; move dir 1 -> dir 2 while it runs
py gen 0 "$N" 81 100 700 >"$E2E_WORK/p.in"
E2E_TOOL_TIMEOUT=900 tool produce "${E2E_BOOT[b]}" ld "$E2E_WORK/p.acks" "$RATE" <"$E2E_WORK/p.in" 2>"$E2E_WORK/p.err" &
prod=$!
prefilled() { [ "$(nacks)" -ge "$PREFILL" ]; }
poll "the producer is under way ($PREFILL records acknowledged)" 180 prefilled
a0=$(nacks)
expect "move 1: kafka-reassign-partitions --execute (ld-0, ld-1 to $L2, throttle $THROTTLE B/s)" \
	reassign --execute --reassignment-json-file "$E2E_WORK/to2.json" --replica-alter-log-dirs-throttle "$THROTTLE" \
	>"$E2E_WORK/exec1.out"
seen=0
fut_or_done() {
	if [ "$SHIMMED" = 1 ] && future_in_pool "$L2"; then seen=1; return 0; fi
	only_in "$L2" "$L1"
}
poll "move 1: a future replica's segment in dir 2 seen pool-resident, or the move is over" 180 fut_or_done
head -n 3 "$E2E_WORK/future.seen" 2>/dev/null | sed 's/^/#   future: /'
expect "move 1: the future replica's segments went to the pool while the move was in flight" test "$seen" = 1
poll "move 1: --verify complete" 240 verified "$E2E_WORK/to2.json"
a1=$(nacks)
expect "move 1 happened while producing ($a0 -> $a1 acknowledged)" test "$a1" -gt "$a0"
after_move "move 1" "$L2" "$L1"

# ---- 3. move dir 2 -> dir 1, SIGKILL in the middle
a2=$(nacks)
expect "move 2: kafka-reassign-partitions --execute (ld-0, ld-1 to $L1, throttle $THROTTLE B/s)" \
	reassign --execute --reassignment-json-file "$E2E_WORK/to1.json" --replica-alter-log-dirs-throttle "$THROTTLE" \
	>"$E2E_WORK/exec2.out"
seen=0
in_flight() {
	if [ "$SHIMMED" = 1 ]; then future_in_pool "$L1" && seen=1; return; fi
	ls "$L1" | grep -q '^ld-[01]\..*-future$' && seen=1
}
poll "move 2: a future replica's segment in dir 1 seen pool-resident (the move is in flight)" 180 in_flight
head -n 3 "$E2E_WORK/future.seen" 2>/dev/null | sed 's/^/#   future: /'
ak=$(nacks)
e2e_kill b
fut=$(ls "$L1" | grep -c '^ld-[01]\..*-future$')
expect "move 2 was in the middle at the SIGKILL ($fut future dirs in dir 1, $(nacks) acknowledged)" test "$fut" -gt 0
e2e_start b 180 || die "broker start after SIGKILL"
poll "move 2: --verify complete after the restart" 300 verified "$E2E_WORK/to1.json"
after_move "move 2" "$L1" "$L2"

# ---- 4. every acknowledged record
pw=0
wait "$prod" && pw=1
expect "producer finished ($(tail -n1 "$E2E_WORK/p.err" | sed 's/^E2eTool produce: //'))" test "$pw" = 1 -o -s "$E2E_WORK/p.acks"
na=$(nacks)
expect "records were acknowledged after the restart ($ak at the SIGKILL, $na in all of $N)" test "$na" -gt $((ak + 1000))
consume b ld "$E2E_WORK/p.out" || notok "consume ld"
run_check "after both moves" py verify-acked "$E2E_WORK/p.acks" "$E2E_WORK/p.in" 2 <"$E2E_WORK/p.out"
if [ "$SHIMMED" = 1 ]; then
	fsck "broker running"
fi
expect "clean stop" e2e_stop b
if [ "$SHIMMED" = 1 ]; then
	fsck "broker stopped"
	s=$(summary)
	expect "after the clean stop no pool block belongs to a file that is gone (missing_blocks=$(kv missing_blocks "$s"))" \
		test "$(kv missing_blocks "$s")" = 0
fi
# Kafka 4.4's own race at the promotion of a future replica (it happens without the shim too): the
# controller's answer to the broker's AssignReplicasToDirs request comes back after the partition left
# ReplicaAlterLogDirsThread's promotion map, and AssignmentsManager logs the NullPointerException of its
# callback (ReplicaAlterLogDirsThread.updateReassignmentState); the move completes regardless
no_errors b 'AssignmentsManager.*unexpected callback exception.*NullPointerException.*ReplicaAlterLogDirsThread.PromotionState'
exit 0

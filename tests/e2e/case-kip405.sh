#!/bin/bash
# tests/e2e/case-kip405.sh - Kafka's own tiered storage (KIP-405) on top of the shim (tiered, 64M pool).
#
# Kafka's file-system-backed test RemoteStorageManager (org.apache.kafka.server.log.remote.storage.
# LocalTieredStorage) is only published in the kafka-storage TEST jar, and only for some releases (4.0.x and
# 3.9.x, not the suite's default 4.4.0), so this case runs its broker on Kafka $E2E_KIP405_KAFKA_VERSION
# (default 4.0.2), fetched here into $PAFKA_CACHE/kafka-<v>/libs (tests/kafka/kafka.sh's kafka_fetch) plus
# $PAFKA_CACHE/kafka-<v>-kip405/libs (links to those jars and the test jar). The clients (E2eTool, compiled
# by run.sh against the suite's Kafka, and kcat) talk to it over the wire as to any broker. With Maven
# Central out of reach the case skips (exit 77, "SKIP: reason").
#
# The broker: remote.log.storage.system.enable=true, LocalTieredStorage writing into <work>/remote
# (rsm.config.dir), the default TopicBasedRemoteLogMetadataManager (its __remote_log_metadata topic with
# RF 1), remote.log.manager.task.interval.ms=1000. Topic "tier" (2 partitions, 1 MiB segments,
# remote.storage.enable=true, no retention).
#  1. the acked Java producer writes N1 records (acks=all): segments roll; every sealed segment of both
#     partitions shows up in the remote store (bounded polling), and each remote copy (.log, .index,
#     .timeindex) is byte for byte the local segment file as read through the shim (cat, read-only
#     attach; the broker made the copy with LocalTieredStorage's Files.copy from the pool-resident files);
#     the pool holds the topic's segments, the active ones are pool-resident;
#  2. local.retention.bytes=2 MiB: Kafka deletes the copied segments locally (bounded polling until the
#     partition dirs hold at most 4 segments, the base offset 0 segments are gone, no .deleted file is
#     left), the pool's blocks of those files come back (used blocks down, none left to a vanished file),
#     the remote copies stay, and the log start offset consumers see is still 0;
#  3. N2 more records (into the pool); a consumer from offset 0 reads the old offsets from the remote
#     store and the new ones from the pool: every acknowledged record is there at its acknowledged
#     offset, intact; the active segments are pool-resident;
#  4. clean stop and start: once Kafka's remote log metadata manager has caught up with
#     __remote_log_metadata (bounded polling on its log line), the same records from offset 0 again, the
#     old ones from the remote store; clean stop; no ERROR in the broker's log.
# E2E_NO_SHIM=1 runs the same broker without the preload: the record and remote-store checks must pass
# (the pool checks fail by design). Sizes: E2E_KIP405_RECORDS (12000, about 10 MB), E2E_KIP405_MORE_RECORDS
# (3000). Runtime: about a minute per JDK.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
K405_V=${E2E_KIP405_KAFKA_VERSION:-4.0.2}
N1=${E2E_KIP405_RECORDS:-12000}
N2=${E2E_KIP405_MORE_RECORDS:-3000}
P=2
LOCAL_RET=2097152
LSTC=org.apache.kafka.server.log.remote.storage.LocalTieredStorage

# ---- Kafka $K405_V and its kafka-storage test jar (before case_begin: a skip must exit 77 as it is)
unset KAFKA_HOME # a distribution given to the suite is not this release: the broker runs from the jars
k405_skip() { echo "SKIP: $*"; exit 77; }
k405_fetch() {
	local why="$E2E_WORK/kip405-fetch.why" rc=0
	# kafka_fetch_for_test in a subshell: KAFKA_VERSION and KAFKA_LIBS of the suite stay as they are
	(KAFKA_VERSION=$K405_V; kafka_fetch_for_test || { rc=$?; echo "$KAFKA_FETCH_WHY" >"$why"; exit "$rc"; }) || rc=$?
	case $rc in
	0) ;;
	77) k405_skip "$(cat "$why")" ;;
	*) echo "  not ok - $(cat "$why")"; exit 1 ;;
	esac
	local base="$PAFKA_CACHE/kafka-$K405_V/libs" top="$PAFKA_CACHE/kafka-$K405_V-kip405"
	K405_LIBS="$top/libs"
	[ -f "$top/.complete" ] && [ -d "$K405_LIBS" ] && return 0
	command -v mvn >/dev/null 2>&1 || k405_skip "mvn not found (apt-get install maven) and the kafka-storage $K405_V test jar is not cached"
	mkdir -p "$top" || exit 1
	local tmp="$top/libs.tmp.$$" log="$top/fetch.log"
	rm -rf "$tmp" && mkdir -p "$tmp" || exit 1
	if ! mvn -B -q -Dstyle.color=never --no-transfer-progress \
		org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
		-Dartifact="org.apache.kafka:kafka-storage:$K405_V:jar:test" -DoutputDirectory="$tmp" >"$log" 2>&1; then
		rm -rf "$tmp"
		sed "s/\x1b\[[0-9;]*m//g" "$log" | tail -n 20 | sed 's/^/# mvn: /'
		grep -qiE 'UnknownHost|Unknown host|Connection refused|connect timed out|Connect to .* failed|Network is unreachable|No route to host|Could not transfer artifact|Temporary failure in name resolution|in offline mode' "$log" &&
			k405_skip "Maven Central is unreachable: cannot fetch org.apache.kafka:kafka-storage:$K405_V:jar:test"
		echo "  not ok - fetching org.apache.kafka:kafka-storage:$K405_V:jar:test (see above)"
		exit 1
	fi
	ln -s "$base"/*.jar "$tmp"/ || exit 1
	rm -rf "$K405_LIBS" && mv "$tmp" "$K405_LIBS" && touch "$top/.complete"
}
k405_fetch
# the broker (and its format) run on $K405_V; the clients keep the suite's jars
k405() { KAFKA_LIBS=$K405_LIBS "$@"; }

case_begin kip405
note "KIP-405: the broker runs Kafka $K405_V ($K405_LIBS) with $LSTC; clients: Kafka $KAFKA_VERSION's E2eTool, kcat"
REMOTE="$E2E_WORK/remote"
mkdir -p "$REMOTE" || die "mkdir $REMOTE"
E2E_INITIAL_TASK_DELAY_MS=2000 e2e_config b 1 "" "remote.log.storage.system.enable=true
remote.log.storage.manager.class.name=$LSTC
remote.log.storage.manager.impl.prefix=rsm.config.
rsm.config.dir=$REMOTE
remote.log.metadata.manager.listener.name=PLAINTEXT
remote.log.metadata.manager.impl.prefix=rlmm.config.
rlmm.config.remote.log.metadata.topic.replication.factor=1
rlmm.config.remote.log.metadata.topic.num.partitions=3
remote.log.manager.task.interval.ms=1000
remote.log.manager.task.retry.backoff.max.ms=2000"
e2e_shim b tiered 64M
k405 e2e_format b || die "format"
k405 e2e_start b 180 || die "broker start (Kafka $K405_V, tiered storage) under the shim"
grep -q "remote.log.storage.system.enable = true" "${E2E_DIR[b]}/applogs/server.log" 2>/dev/null ||
	note "(server.log does not echo remote.log.storage.system.enable = true)"
topic b tier "$P" segment.bytes=1048576 remote.storage.enable=true retention.bytes=-1 retention.ms=-1 \
	file.delete.delay.ms=1000 || die "create topic tier (remote.storage.enable=true)"
LOGS="${E2E_DIR[b]}/logs"

# ---- helpers
# local_offsets P: base offsets of tier-P's local .log segments, ascending
local_offsets() { ls "$LOGS/tier-$1/" 2>/dev/null | sed -n 's/^\([0-9]\{20\}\)\.log$/\1/p' | sort | sed 's/^0*\([0-9]\)/\1/'; }
nlocal() { local_offsets "$1" | wc -l; }
# remote_dir P: LocalTieredStorage's directory of tier-P (<dir>/kafka-tiered-storage/tier-P-<topic id>)
remote_dir() { find "$REMOTE" -mindepth 1 -maxdepth 3 -type d -name "tier-$1-*" 2>/dev/null | head -n1; }
# remote_file P OFFSET EXT: the remote copy of tier-P's segment at OFFSET (<20 digits>-<segment id>.EXT)
remote_file() {
	local d
	d=$(remote_dir "$1") && [ -n "$d" ] || return 1
	ls "$d"/"$(printf '%020d' "$2")"-*."$3" 2>/dev/null | head -n1
}
remote_offsets() {
	local d
	d=$(remote_dir "$1")
	[ -n "$d" ] || return 0
	ls "$d" | sed -n 's/^\([0-9]\{20\}\)-.*\.log$/\1/p' | sort -u | sed 's/^0*\([0-9]\)/\1/'
}
# sealed_copied: every local segment of every partition but the active (newest) one is in the remote store
sealed_copied() {
	local p o
	for ((p = 0; p < P; p++)); do
		[ "$(nlocal $p)" -ge 2 ] || return 1
		for o in $(local_offsets $p | head -n -1); do
			[ -n "$(remote_file $p "$o" log)" ] || return 1
		done
	done
}
# topic_blocks: pool blocks held by the topic's files (segments; index files are counted by the summary)
topic_blocks() { py pool files "${E2E_POOL[b]}" "$LOGS" | awk '$5 ~ /\/tier-[0-9]+\// { s += $4 } END { print s + 0 }'; }
# active_in_pool LABEL: the newest segment of each partition is pool-resident (tier "pool" in the listing)
active_in_pool() {
	local label=$1 p o f l bad=
	l=$(py pool files "${E2E_POOL[b]}" "$LOGS" 2>&1)
	for ((p = 0; p < P; p++)); do
		o=$(local_offsets $p | tail -n1)
		f="$LOGS/tier-$p/$(printf '%020d' "${o:-0}").log"
		grep -q "^pool [0-9]* [0-9]* [0-9]* $f " <<<"$l" || bad+=" tier-$p/$(basename "$f")($(grep " $f " <<<"$l" | cut -d' ' -f1-4))"
	done
	expect "[$label] the active segment of each partition is pool-resident${bad:+ (not:$bad)}" test -z "$bad"
}
# shim_sum FILE: sha256 of the file's bytes as a reader under the shim sees them (cat attaches read-only
# to the running broker's pool; without the shim, plain). Not sha256sum itself: a stdio fopen of a
# pool-resident file fails with EROFS in a read-only attacher, by design (README, "Fork children").
shim_sum() {
	e2e_env_args b
	set -o pipefail
	"${E2E_ENVARGS[@]}" PAFKA_LOG_DIRS="$LOGS" cat "$1" 2>>"$E2E_WORK/shimsum.err" | sha256sum | cut -d' ' -f1
	local rc=$?
	set +o pipefail
	return $rc
}

# ---- 1. produce; segments roll and are copied to the remote store
py gen 0 "$N1" 71 >"$E2E_WORK/a.in"
rc=0
tool produce "${E2E_BOOT[b]}" tier "$E2E_WORK/a.acks" 0 <"$E2E_WORK/a.in" 2>"$E2E_WORK/a.err" || rc=$?
expect "producer: all $N1 records acknowledged (acks=all; $(tail -n1 "$E2E_WORK/a.err" | sed 's/^E2eTool produce: //'))" test $rc -eq 0
for ((p = 0; p < P; p++)); do
	expect "segments rolled: tier-$p has $(nlocal $p) >= 4 local segments" test "$(nlocal $p)" -ge 4
done
poll "every sealed segment of both partitions was copied to the remote store ($REMOTE)" 120 sealed_copied
for ((p = 0; p < P; p++)); do
	note "tier-$p: local segments at $(local_offsets $p | tr '\n' ' '); remote: $(remote_offsets $p | tr '\n' ' ') in $(remote_dir $p)"
done
nrem=$(find "$REMOTE" -name '*.log' | wc -l)
nsealed=0
for ((p = 0; p < P; p++)); do nsealed=$((nsealed + $(nlocal $p) - 1)); done
expect "the remote store holds one .log per copied segment ($nrem, sealed locally: $nsealed)" test "$nrem" -ge "$nsealed" -a "$nsealed" -ge $((2 * P))

# each remote copy == the local file (read through the shim)
same=0 differ=
for ((p = 0; p < P; p++)); do
	for o in $(local_offsets $p | head -n -1); do
		for ext in log index timeindex; do
			l="$LOGS/tier-$p/$(printf '%020d' "$o").$ext" r=$(remote_file $p "$o" "$ext")
			if [ -z "$r" ]; then differ+=" tier-$p/$o.$ext(no remote copy)"; continue; fi
			ls_=$(shim_sum "$l") || ls_="cat-failed"
			rs=$(sha256sum "$r" | cut -d' ' -f1)
			if [ "$ls_" = "$rs" ] && [ "$(stat -c %s "$l")" = "$(stat -c %s "$r")" ]; then
				same=$((same + 1))
			else
				differ+=" tier-$p/$o.$ext(local ${ls_:0:12} $(stat -c %s "$l") remote ${rs:0:12} $(stat -c %s "$r"))"
			fi
		done
	done
done
expect "every remote copy (.log .index .timeindex, $same files) is byte for byte the local file read through the shim${differ:+; differ:$differ}" \
	test -z "$differ" -a "$same" -ge $((3 * 2 * P))
grep -v ': active, read-only: ' "$E2E_WORK/shimsum.err" 2>/dev/null | head -n 5 | sed 's/^/# shim reader: /'

used_pool_check b "copied, before local deletion"
active_in_pool "copied, before local deletion"
B1=$(topic_blocks) U1=$(pool_used b)
note "tier's files hold $B1 pool blocks; pool used $U1"
expect "the pool holds tier's segments ($B1 blocks >= $((2 * P)))" test "${B1:-0}" -ge $((2 * P))

# ---- 2. local retention: the copied segments go locally, their pool blocks come back
tool admin "${E2E_BOOT[b]}" alter tier local.retention.bytes=$LOCAL_RET 2>"$E2E_WORK/alter.err" ||
	die "alter local.retention.bytes ($(tail -n1 "$E2E_WORK/alter.err"))"
local_deleted() {
	local p s
	for ((p = 0; p < P; p++)); do
		[ "$(nlocal $p)" -le 4 ] && [ "$(local_offsets $p | head -n1)" != 0 ] || return 1
		compgen -G "$LOGS/tier-$p/*.deleted" >/dev/null && return 1
	done
	[ "${E2E_NO_SHIM:-0}" = 1 ] && return 0
	s=$(pool_summary b)
	[ "$(kv missing_blocks "$s")" = 0 ] && [ "$(topic_blocks)" -lt "$B1" ]
}
poll "local.retention.bytes: the copied old segments were deleted locally (<= 4 left per partition, base offset 0 gone, no .deleted file) and their pool blocks freed" 120 local_deleted
for ((p = 0; p < P; p++)); do
	first=$(local_offsets $p | head -n1)
	expect "tier-$p: the local log now starts at offset ${first:-?} > 0 ($(nlocal $p) segments left)" test "${first:-0}" -gt 0
	expect "tier-$p: its remote copies are still there ($(remote_offsets $p | wc -l) segments)" \
		test "$(remote_offsets $p | head -n1)" = 0 -a -n "$(remote_file $p 0 log)"
done
tool admin "${E2E_BOOT[b]}" offsets tier >"$E2E_WORK/offsets.a" 2>"$E2E_WORK/offsets.err"
while read -r p lso leo; do
	want=$(awk -v p="$p" '$1 == "ack" && $2 == p' "$E2E_WORK/a.acks" | wc -l)
	expect "tier-$p: consumers still see log start offset $lso == 0 (end offset $leo == $want acked)" \
		test "$lso" = 0 -a "$leo" = "$want"
done <"$E2E_WORK/offsets.a"
expect "offsets of both partitions listed" test "$(wc -l <"$E2E_WORK/offsets.a")" -eq "$P"
B2=$(topic_blocks) U2=$(pool_used b)
note "after local deletion: tier's files hold $B2 pool blocks (was $B1); pool used $U2 (was $U1)"
expect "pool used blocks came back down: $U1 -> $U2" test "${U2:-0}" -lt "${U1:-0}"
used_pool_check b "after local deletion"

# ---- 3. more records into the pool; a consumer from offset 0 reads the remote store, then the pool
py gen "$N1" "$N2" 72 >"$E2E_WORK/b.in"
rc=0
tool produce "${E2E_BOOT[b]}" tier "$E2E_WORK/b.acks" 0 <"$E2E_WORK/b.in" 2>"$E2E_WORK/b.err" || rc=$?
expect "producer: $N2 more records acknowledged ($(tail -n1 "$E2E_WORK/b.err" | sed 's/^E2eTool produce: //'))" test $rc -eq 0
cat "$E2E_WORK/a.acks" "$E2E_WORK/b.acks" >"$E2E_WORK/all.acks"
cat "$E2E_WORK/a.in" "$E2E_WORK/b.in" >"$E2E_WORK/all.in"
# (the local log start only moves up: every offset below the one seen now is served by the remote store)
declare -A FIRST=()
for ((p = 0; p < P; p++)); do FIRST[$p]=$(local_offsets $p | head -n1); done
consume b tier "$E2E_WORK/all.out" || notok "consume tier from offset 0"
run_check "remote + pool" py verify-acked "$E2E_WORK/all.acks" "$E2E_WORK/all.in" "$P" <"$E2E_WORK/all.out"
# below_local LABEL OUT: OUT holds every offset below each partition's local log start
below_local() {
	local p f below
	for ((p = 0; p < P; p++)); do
		f=${FIRST[$p]:-0}
		below=$(awk -v p="$p" -v f="$f" '$1 == p && $2 < f' "$2" | wc -l)
		expect "[$1] tier-$p: all $below records below the local log start $f were read (from the remote store)" \
			test "$below" -gt 0 -a "$below" = "$f"
	done
}
below_local "remote + pool" "$E2E_WORK/all.out"
active_in_pool "after more records"
used_pool_check b "after more records"

# ---- 4. clean restart: the same records, old ones from the remote store again
expect "clean stop (SIGTERM)" e2e_stop b
k405 e2e_start b 180 || die "broker start #2 (after the clean stop)"
# TopicBasedRemoteLogMetadataManager initialises in the background after the broker answers: until its
# consumer has caught up with __remote_log_metadata, Kafka answers a remote read with an error (and logs it
# as ERROR). Wait for its own log line of this start: "Initialized for all the N assigned user-partitions".
rlmm_ready() {
	awk '/Transition from SHUTDOWN to STARTING/ { r = 0 } /Initialized for all the [0-9]+ assigned user-partitions/ { r = 1 }
		END { exit !r }' "${E2E_DIR[b]}/applogs/server.log" 2>/dev/null
}
poll "after the restart the remote log metadata manager has caught up (its log line of this start)" 120 rlmm_ready
for ((p = 0; p < P; p++)); do FIRST[$p]=$(local_offsets $p | head -n1); done
consume b tier "$E2E_WORK/all2.out" || notok "consume tier from offset 0 after the restart"
run_check "after restart" py verify-acked "$E2E_WORK/all.acks" "$E2E_WORK/all.in" "$P" <"$E2E_WORK/all2.out"
expect "after the restart the records are identical to before" same_records "$E2E_WORK/all.out" "$E2E_WORK/all2.out"
below_local "after restart" "$E2E_WORK/all2.out"
active_in_pool "after restart"
used_pool_check b "after restart"
expect "final clean stop" e2e_stop b
no_errors b
exit 0

#!/bin/bash
# tests/e2e/case-dirfail.sh - a log dir that fails under the shim. One broker under the shim (tiered, ONE
# pool of 128 MiB) with two log dirs: dir 1 on the scratch disk, dir 2 on a small loop-mounted ext4 file
# system (64 MiB image; the pool is larger than that file system, so the pool never spills first: a
# pool-resident segment's real file is sparse and takes no data blocks there). Topic good lives in dir 1,
# topic bad in dir 2 (placed with kafka-reassign-partitions while empty).
#  1. acknowledged records in both topics (acks=all); both are pool-resident;
#  2. dir 2 fails: `dd` fills its file system from outside until ENOSPC, small files take the last blocks
#     (until a 1 KiB write fails), while acks=all producers keep writing to good (300/s) and bad (2000/s,
#     20 s delivery timeout). Kafka's next segment append there fails with ENOSPC (an IOException; under
#     the shim too, see below) and Kafka takes the dir offline at once (the high-watermark checkpoint is
#     60 s apart here instead of 5 s, so that Kafka's own checkpoint write does not race with the appends);
#  3. expected: server.log says "Stopped serving replicas in dir <dir 2>"; good's producer is acknowledged
#     throughout; no SIGBUS (java.lang.InternalError "a fault occurred in ... unsafe memory access
#     operation") anywhere in the broker; the JVM does not crash (no hs_err file, the broker pid alive, it
#     still answers); every acknowledged record of good reads back (verify-acked); no pool block belongs to
#     a file that is gone (both dirs: the offline dir's files are still there); good's segments stay
#     pool-resident and sparse; `pafka fsck` is clean (read-only check while the broker runs);
#  4. clean stop (pool closed, fsck clean), the operator frees dir 2, start: good reads back identical,
#     bad is served again and every record acknowledged to bad (before and after the fill) reads back.
# Skips (exit 77) unless run as root with losetup, mkfs.ext4 and a free loop device. The mount and the loop
# device are removed in the EXIT trap, whatever happens.
#
# What the operator sees when the dir fails (Kafka 4.4.0 on OpenJDK 17 and Temurin 25, 2026-12-06):
#  - without the shim (E2E_NO_SHIM=1): server.log has ERROR "Error while appending records to bad-0 in dir
#    <dir 2>" (LogDirFailureChannel; No space left on device), then WARN "Broker 1 stopped fetcher for
#    partitions bad-1,bad-0 ... because they are in the failed log directory <dir 2>", "Logs for partitions
#    bad-0,bad-1 are offline ... due to failure on log directory <dir 2>", "Stopped serving replicas in dir
#    <dir 2>", and the controller's "Directories [<id>] in broker 1 marked offline, remaining directories:
#    [<id>]"; good goes on (every record acked). A start while dir 2 is still full does not work, with or
#    without the shim: recovering dir 2's logs (no clean shutdown marker could be written there) stores
#    into an index mapping, SIGBUS, and "Encountered fatal fault: Error starting LogManager"
#    (ClassCastException of the java.lang.InternalError): the operator must free space first.
#  - under the shim: the same lines. The shim answers an append that grows a segment with ENOSPC, as the
#    kernel would, once the disk's free space for unprivileged writers (f_bavail) is under 1 MiB plus the
#    append (src/file/io.c, slow_tier_room), so Kafka's own append fails first and it takes the dir offline
#    at once. Before that fix (found by this case) the appends went on into the pool, and Kafka's next
#    index store went into a mapping of the real index file on the full disk (the shim maps the 10 MiB
#    indexes from the real file when the pool's share for mapping holes is used up): SIGBUS,
#    java.lang.InternalError "a fault occurred in ... unsafe memory access operation" on hundreds of
#    appends, the dir not taken offline, and after a restart recovery truncated bad: acknowledged records
#    lost (26 to 4,379 per run). The fix had to count f_bavail, for root too: f_bfree also counts ext4's
#    reserved clusters, which no data write gets, and with 1 MiB kept over f_bfree the SIGBUS remained.
#  - broker.out (the shim): nothing but its activation line (the ENOSPC is Kafka's to report).
#  - `pafka status`: the pool, still held by the broker (writer alive, heartbeat fresh), bad's files still
#    in the pool tier (they exist in dir 2; Kafka only closed them).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "not root (a loop-mounted file system is needed)"
for c in losetup mkfs.ext4 mount umount dd; do
	command -v "$c" >/dev/null 2>&1 || skip "$c not found"
done
[ -e /dev/loop-control ] || skip "no /dev/loop-control (no loop devices)"

case_begin dirfail
N1=${E2E_DIRFAIL_RECORDS:-6000}
N2=${E2E_DIRFAIL_LIVE_RECORDS:-9000}
RATE=${E2E_DIRFAIL_RATE:-300}

B="$(cd "$E2E_WORK" && pwd)/b"
L1="$B/logs" MNT="$B/mnt" IMG="$B/dir2.img" L2="$B/mnt/kafka"
mkdir -p "$L1" "$MNT" || die "mkdir"
LOOP=
umount_all() {
	local i
	if mountpoint -q "$MNT" 2>/dev/null; then
		for i in 1 2 3 4 5; do umount "$MNT" 2>/dev/null && break; sleep 1; done
		mountpoint -q "$MNT" && { echo "# umount $MNT: busy; lazy unmount"; umount -l "$MNT"; }
	fi
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	LOOP=
	rm -f "$IMG"
}
# the brokers must be gone before the unmount: stop them first, then let case_finish report as usual
trap 'rc=$?; e2e_stop_all 60 >/dev/null 2>&1; umount_all; (exit $rc); case_finish' EXIT

truncate -s 64M "$IMG" || die "image file"
LOOP=$(losetup -f --show "$IMG" 2>"$E2E_WORK/losetup.err") ||
	{ cat "$E2E_WORK/losetup.err"; LOOP=; rm -f "$IMG"; trap - EXIT; skip "losetup: no free loop device ($(head -c 200 "$E2E_WORK/losetup.err"))"; }
mkfs.ext4 -q -F "$LOOP" >"$E2E_WORK/mkfs.out" 2>&1 || { cat "$E2E_WORK/mkfs.out"; die "mkfs.ext4 $LOOP"; }
mount "$LOOP" "$MNT" || die "mount $LOOP $MNT"
mkdir -p "$L2" || die "mkdir $L2"
note "dir 2: $LOOP (64 MiB ext4) on $MNT, log dir $L2: $(df -k --output=size,avail "$MNT" | tail -n1 | awk '{ print $1 " KiB, " $2 " KiB free" }')"

# The high-watermark checkpoint (every 5 s by default) is the first plain file Kafka writes to a full dir when
# the segment appends themselves do not fail: 60 s here, so that what takes dir 2 offline is Kafka's own
# appends (and, at a segment roll, its producer snapshot), not a timer that races with them.
e2e_config b 1 "" "log.dirs=$L1,$L2
replica.high.watermark.checkpoint.interval.ms=60000"
e2e_shim b tiered 128M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim (dir 2 on the loop fs)"
grep -h 'pafka\[' "$B/broker.out" | head -n 3 | sed 's/^/# shim: /'
topic b good 2 || die "create topic good"
topic b bad 2 || die "create topic bad"

SHIMMED=1
[ -n "${E2E_POOL[b]}" ] || SHIMMED=0
POOL=${E2E_POOL[b]:-$E2E_SHM/none}
summary() { py pool summary "$POOL" "$L1" "$L2"; }
files() { py pool files "$POOL" "$L1" "$L2"; }
reassign() { e2e_reassign b "$@"; }
# place TOPIC DIR
place() {
	e2e_dir_plan "$E2E_WORK/$1.json" "$1" "$2"
	reassign --execute --reassignment-json-file "$E2E_WORK/$1.json" >"$E2E_WORK/$1.exec" 2>&1 ||
		{ cat "$E2E_WORK/$1.exec"; return 1; }
}
placed() { [ -d "$2/$1-0" ] && [ -d "$2/$1-1" ] && ! ls "$3" | grep -q "^$1-"; }
nacks() { local n; n=$(grep -c '^ack' "$1" 2>/dev/null); echo "${n:-0}"; }
# seg_tiers DIR TOPIC: "POOL NONEMPTY" counts of TOPIC's .log segments under DIR (pool-resident, non-empty)
seg_tiers() {
	files | awk -v d="$1/$2-" 'index($5, d) == 1 && $5 ~ /\.log$/ { if ($1 != "empty") n++; if ($1 == "pool" && $6 == 0) p++ }
		END { print p + 0, n + 0 }'
}
fsck() {
	env -u PAFKA_CACHE "$E2E_PAFKA" fsck --pool "$POOL" --config "$B/server.properties" >"$E2E_WORK/fsck.out" 2>&1
	local rc=$?
	sed 's/^/# /' "$E2E_WORK/fsck.out" | head -n 10
	expect "[$1] pafka fsck is clean (exit $rc)" test $rc = 0
}

expect "good placed in dir 1 (kafka-reassign-partitions)" place good "$L1"
expect "bad placed in dir 2 (kafka-reassign-partitions)" place bad "$L2"
poll "good only in dir 1, bad only in dir 2" 120 eval 'placed good "$L1" "$L2" && placed bad "$L2" "$L1"'

# ---- 1. records in both dirs
py gen 0 "$N1" 91 100 700 >"$E2E_WORK/g1.in"
py gen 0 "$N1" 92 100 700 >"$E2E_WORK/bad.in"
tool produce "${E2E_BOOT[b]}" good "$E2E_WORK/g1.acks" 0 <"$E2E_WORK/g1.in" 2>"$E2E_WORK/g1.err"
expect "producer: all $N1 records to good acknowledged" test $? = 0
tool produce "${E2E_BOOT[b]}" bad "$E2E_WORK/bad.acks" 0 <"$E2E_WORK/bad.in" 2>"$E2E_WORK/bad.err"
expect "producer: all $N1 records to bad (dir 2) acknowledged" test $? = 0
if [ "$SHIMMED" = 1 ]; then
	read -r gp gn < <(seg_tiers "$L1" good)
	read -r bp bn < <(seg_tiers "$L2" bad)
	expect "before the failure: good's segments in dir 1 are pool-resident and sparse ($gp of $gn), bad's in dir 2 too ($bp of $bn)" \
		test "$gn" -gt 0 -a "$gp" = "$gn" -a "$bn" -gt 0 -a "$bp" = "$bn"
fi
note "dir 2 before the failure: $(df -k --output=used,avail "$MNT" | tail -n1 | awk '{ print $1 " KiB used, " $2 " KiB free" }')"

# ---- 2. dir 2 fills up while both topics are written
py gen "$N1" "$N2" 93 100 700 >"$E2E_WORK/g2.in"
tool produce "${E2E_BOOT[b]}" good "$E2E_WORK/g2.acks" "$RATE" <"$E2E_WORK/g2.in" 2>"$E2E_WORK/g2.err" &
prod=$!
py gen "$N1" 20000 94 100 700 >"$E2E_WORK/bad2.in"
# to bad at 2000 records/s, giving up on a record after 20 s: some are acknowledged before the dir goes
# offline, the rest fail (NOT_LEADER_OR_FOLLOWER / KAFKA_STORAGE_ERROR); the acknowledged ones must survive
tool produce "${E2E_BOOT[b]}" bad "$E2E_WORK/bad2.acks" 2000 delivery.timeout.ms=20000 \
	<"$E2E_WORK/bad2.in" 2>"$E2E_WORK/bad2.err" &
kc=$!
under_way() { [ "$(nacks "$E2E_WORK/g2.acks")" -ge 500 ]; }
poll "the producer to good is under way" 120 under_way
dd if=/dev/zero of="$MNT/filler" bs=1M >"$E2E_WORK/dd.out" 2>&1
ddrc=$?
note "dd: $(tail -n 2 "$E2E_WORK/dd.out" | tr '\n' ' ')"
expect "dd filled dir 2's file system from outside until ENOSPC (dd exit $ddrc)" \
	eval "test $ddrc != 0 && grep -q 'No space left' '$E2E_WORK/dd.out'"
# dd stops when a 1 MiB write no longer fits; small files take the last blocks (Kafka's checkpoints are a few
# bytes: they must not fit either), until a 1 KiB write fails
nsmall=0
while [ "$nsmall" -lt 100000 ] && head -c 1024 /dev/zero >"$MNT/small.$nsmall" 2>/dev/null; do nsmall=$((nsmall + 1)); done
sync -f "$MNT" 2>/dev/null
probe() { head -c 1024 /dev/zero >"$MNT/probe" 2>"$E2E_WORK/probe.err"; }
probe
prc=$?
rm -f "$MNT/probe"
expect "dir 2's file system is full: $nsmall small files took the rest, then a 1 KiB write failed ($(cat "$E2E_WORK/probe.err"))" \
	eval "test $prc != 0 && grep -q 'No space left' '$E2E_WORK/probe.err'"
note "dir 2 now: $(df -k --output=used,avail "$MNT" | tail -n1 | awk '{ print $1 " KiB used, " $2 " KiB free" }')"
SLOG="$B/applogs/server.log"
offline() { grep -q "Stopped serving replicas in dir $L2" "$SLOG"; }
poll "Kafka took dir 2 offline (server.log: Stopped serving replicas in dir $L2)" 120 offline
grep -h -E "Stopped serving replicas|offline due to failure|LogDirFailure|Error while writing to checkpoint|marked offline|failed log dir" "$SLOG" |
	head -n 6 | cut -c1-300 | sed 's/^/# server.log: /'
wait "$kc"
note "producer to bad: $(tail -n1 "$E2E_WORK/bad2.err" | sed 's/^E2eTool produce: //') (not a check: records to an offline dir fail)"
pw=0
wait "$prod" && pw=1
expect "producer to good kept being acknowledged through the failure ($(tail -n1 "$E2E_WORK/g2.err" | sed 's/^E2eTool produce: //'))" \
	test "$pw" = 1
expect "the broker is alive after the failure (pid ${E2E_PID[b]})" e2e_alive b
# a store into a mapping of a file on the full file system raises SIGBUS, which the JVM turns into
# java.lang.InternalError in whatever the faulting thread does next (Kafka does not take that for a storage
# error: it fails the append, or any other request that thread handles next, and the dir stays online)
# (JDK 17: "a fault occurred in a recent unsafe memory access operation in compiled Java code", at the next
# safepoint; JDK 21+: "a fault occurred in an unsafe memory access operation", at the store itself)
nie=$(grep -c 'java.lang.InternalError: a fault occurred in .*unsafe memory access' "$SLOG")
grep -h -B1 'java.lang.InternalError: a fault occurred in .*unsafe memory access' "$SLOG" | grep ERROR | cut -c1-200 | sort | uniq -c | sort -rn | head -n 5 | sed 's/^/#   /'
expect "no SIGBUS in the broker: no java.lang.InternalError (unsafe memory access fault) in server.log ($nie)" test "$nie" = 0
hs=$(ls "$B"/hs_err_pid*.log 2>/dev/null | wc -l)
expect "no JVM crash report (hs_err files: $hs)" test "$hs" = 0
if kafka_await_broker "${E2E_BOOT[b]}" 1 60 "${E2E_PID[b]}"; then
	ok "the broker still answers metadata"
else
	die "the broker still answers metadata (it does not within 60 s: the rest of the case needs it)"
fi
grep -h 'pafka\[' "$B/broker.out" | tail -n 8 | cut -c1-300 | sed 's/^/# shim: /'
if [ "$SHIMMED" = 1 ]; then
	env -u PAFKA_CACHE "$E2E_PAFKA" status --pool "$POOL" --config "$B/server.properties" 2>&1 | head -n 30 | sed 's/^/# status: /'
fi

cat "$E2E_WORK/g1.acks" "$E2E_WORK/g2.acks" >"$E2E_WORK/good.acks"
cat "$E2E_WORK/g1.in" "$E2E_WORK/g2.in" >"$E2E_WORK/good.in"
consume b good "$E2E_WORK/good.out" || notok "consume good"
run_check "good after the failure" py verify-acked "$E2E_WORK/good.acks" "$E2E_WORK/good.in" 2 <"$E2E_WORK/good.out"

if [ "$SHIMMED" = 1 ]; then
	s=$(summary)
	echo "# pool after the failure: $s"
	expect "no pool block belongs to a file that is gone (missing_blocks=$(kv missing_blocks "$s"), missing_recs=$(kv missing_recs "$s"))" \
		test "$(kv missing_blocks "$s")" = 0 -a "$(kv missing_recs "$s")" = 0
	read -r gp gn < <(seg_tiers "$L1" good)
	expect "good's segments in dir 1 are pool-resident and sparse after the failure ($gp of $gn)" test "$gn" -gt 0 -a "$gp" = "$gn"
	fsck "after the failure, broker running"
fi

# ---- 4. the operator frees space on dir 2 and restarts the broker
# (A start with dir 2 still full is not part of this case: Kafka 4.4 stops, with or without the shim; see
# the top.)
expect "clean stop" e2e_stop b
if [ "$SHIMMED" = 1 ]; then
	s=$(summary)
	expect "after the clean stop: missing_blocks=$(kv missing_blocks "$s"), writer_pid=$(kv writer_pid "$s")" \
		test "$(kv missing_blocks "$s")" = 0 -a "$(kv writer_pid "$s")" = 0
	fsck "broker stopped"
fi
rm -f "$MNT/filler" "$MNT"/small.*
note "dir 2 after freeing space: $(df -k --output=used,avail "$MNT" | tail -n1 | awk '{ print $1 " KiB used, " $2 " KiB free" }')"
e2e_start b 180 || die "broker start after dir 2 was freed"
consume b good "$E2E_WORK/good2.out" || notok "consume good after the restart"
run_check "good after the restart" py verify-acked "$E2E_WORK/good.acks" "$E2E_WORK/good.in" 2 <"$E2E_WORK/good2.out"
expect "good after the restart is identical to before" same_records "$E2E_WORK/good.out" "$E2E_WORK/good2.out"
cat "$E2E_WORK/bad.acks" "$E2E_WORK/bad2.acks" >"$E2E_WORK/badall.acks"
cat "$E2E_WORK/bad.in" "$E2E_WORK/bad2.in" >"$E2E_WORK/badall.in"
bad_back() { tool admin "${E2E_BOOT[b]}" isr bad >"$E2E_WORK/bad.isr" 2>/dev/null && [ "$(awk '$2 == 1' "$E2E_WORK/bad.isr" | wc -l)" = 2 ]; }
poll "bad (dir 2) is served again: both partitions have broker 1 as leader" 120 bad_back
consume b bad "$E2E_WORK/bad.out" || notok "consume bad after the restart"
run_check "bad after the restart" py verify-acked "$E2E_WORK/badall.acks" "$E2E_WORK/badall.in" 2 <"$E2E_WORK/bad.out"
if [ "$SHIMMED" = 1 ]; then
	s=$(summary)
	echo "# pool after the restart: $s"
	expect "after the restart no pool block belongs to a file that is gone (missing_blocks=$(kv missing_blocks "$s"))" \
		test "$(kv missing_blocks "$s")" = 0 -a "$(kv missing_recs "$s")" = 0
fi
hs=$(ls "$B"/hs_err_pid*.log 2>/dev/null | wc -l)
expect "no JVM crash report after the restart (hs_err files: $hs)" test "$hs" = 0
expect "final clean stop" e2e_stop b
# the ERRORs Kafka logs for the failing dir are what this case provokes: the checkpoint and log writes that
# failed with ENOSPC/IOException there, and Kafka's reports of the offline dir and its partitions
# and Kafka 4.4's own NullPointerException at the promotion of a future replica (see case-logdirs.sh), which
# the placement of the topics with kafka-reassign-partitions can provoke
no_errors b "No space left on device|$L2|KafkaStorageException|offline|LogDirFailure|AssignmentsManager.*unexpected callback exception.*NullPointerException.*ReplicaAlterLogDirsThread.PromotionState"
exit 0

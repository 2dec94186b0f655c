#!/bin/bash
# tests/e2e/case-jbod.sh - JBOD: a broker with two log dirs and two pools (storage.tiers.first.paths with
# two entries: pool i serves log dir i, README "JBOD").
#  1. tiered, pools of 40M (dir 1) and 256M (dir 2): an acks=all producer fills partitions spread over both
#     dirs (Kafka puts each new partition in the dir with the fewest); each pool holds only its own dir's
#     files, the small pool migrates under its own limit while the big one does not need to; each dir's
#     .pafka-pools marker names its own pool; `pafka status` shows the two pools with their log dirs.
#  2. SIGKILL during the produce, restart: every acknowledged record at its offset, exactly once; the
#     pools still hold only their own dirs' files and no block of a vanished file.
#  3. pmem (no migration), pools of 24M and 256M, a second broker: dir 1's pool fills and its segments
#     spill to dir 1's slow tier while dir 2's segments all stay in their pool; nothing of dir 1 goes to
#     dir 2's pool; every record reads back.
# E2E_NO_SHIM=1: the same brokers and records without the preload; the pool checks are skipped.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin jbod
N=${E2E_JBOD_RECORDS:-30000}
RATE=${E2E_JBOD_RATE:-3000}

# jbod NAME MODE SIZE1 SIZE2: NAME's server.properties gets two log dirs, and NAME two pools (one per dir)
jbod() {
	local name=$1 mode=$2 s1=$3 s2=$4
	e2e_config "$name" 1 "" "log.dirs=$E2E_WORK/$name/logs,$E2E_WORK/$name/logs2"
	mkdir -p "$E2E_WORK/$name/logs2"
	e2e_shim "$name" "$mode" 1M
	if [ -n "${E2E_POOL[$name]}" ]; then
		P1[$name]=${E2E_POOL[$name]}/p1 P2[$name]=${E2E_POOL[$name]}/p2
		mkdir -p "${P1[$name]}" "${P2[$name]}"
		E2E_ENV[$name]="PAFKA_LOG_CHANNEL_TYPE=$mode PAFKA_STORAGE_TIERS_FIRST_PATHS=${P1[$name]},${P2[$name]} PAFKA_STORAGE_TIERS_FIRST_SIZES=$s1,$s2"
	fi
}
declare -A P1=() P2=()
L1() { echo "${E2E_DIR[$1]}/logs"; }
L2() { echo "${E2E_DIR[$1]}/logs2"; }

# own_files NAME LABEL: each pool's live records all lie in its own log dir, each pool holds some, and no
# block of either belongs to a file that is gone
own_files() {
	local name=$1 label=$2 i pool dir other n bad s
	[ -n "${E2E_POOL[$name]}" ] || { note "[$label] no shim (E2E_NO_SHIM=1): pool checks skipped"; return 0; }
	for i in 1 2; do
		if [ $i = 1 ]; then pool=${P1[$name]} dir=$(L1 "$name") other=$(L2 "$name"); else pool=${P2[$name]} dir=$(L2 "$name") other=$(L1 "$name"); fi
		py pool paths "$pool" >"$E2E_WORK/paths.$i" || { notok "[$label] reading pool $i"; continue; }
		n=$(awk '$1 > 0' "$E2E_WORK/paths.$i" | wc -l)
		bad=$(awk -v d="$dir/" 'index($2, d) != 1' "$E2E_WORK/paths.$i" | wc -l)
		expect "[$label] pool $i holds blocks of $n segment files, all in log dir $i ($bad records elsewhere)" \
			test "$n" -gt 0 -a "$bad" -eq 0
		[ "$bad" -eq 0 ] || awk -v d="$dir/" 'index($2, d) != 1' "$E2E_WORK/paths.$i" | head -n 3 | sed 's/^/#   /'
		s=$(py pool summary "$pool" "$dir" "$other")
		echo "# [$label] pool $i: $s"
		expect "[$label] no block of pool $i belongs to a file that is gone (missing_blocks=$(kv missing_blocks "$s"))" \
			test "$(kv missing_blocks "$s")" = 0
	done
}

# ---- 1. tiered, two dirs, two pools
jbod b tiered 40M 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim (two log dirs, two pools)"
topic b j 6 || die "create topic j"
# the admin call returns once the controller has the topic; the broker creates the partitions' dirs when it
# applies that metadata, a moment later
njdirs() { find "$(L1 b)" "$(L2 b)" -maxdepth 1 -type d -name 'j-*' | wc -l; }
all_jdirs() { [ "$(njdirs)" -eq 6 ]; }
poll "the broker created topic j's 6 partition dirs" 60 all_jdirs
for d in $(L1 b) $(L2 b); do
	n=$(find "$d" -maxdepth 1 -type d -name 'j-*' | wc -l)
	expect "topic j has partitions in log dir $d ($n)" test "$n" -gt 0
done

py gen 0 "$N" 81 1000 3000 >"$E2E_WORK/a.in"
tool produce "${E2E_BOOT[b]}" j "$E2E_WORK/a.acks" 0 <"$E2E_WORK/a.in" 2>"$E2E_WORK/a.err"
expect "producer: all $N records acknowledged (acks=all)" test $? -eq 0
consume b j "$E2E_WORK/a.out" || notok "consume j"
run_check "[two pools] every record" py verify-acked "$E2E_WORK/a.acks" "$E2E_WORK/a.in" 6 <"$E2E_WORK/a.out"
own_files b "two pools"
[ -n "${E2E_POOL[b]}" ] && for d in 1 2; do
	m=$(cat "$(eval L$d b)/.pafka-pools" 2>/dev/null)
	p=$([ $d = 1 ] && echo "${P1[b]}" || echo "${P2[b]}")
	expect "log dir $d's marker names its own pool, and only it" \
		test "$(grep -c . <<<"$m")" = 1 -a -n "$(grep -F "$p/pafka.pool" <<<"$m")"
done
if [ -n "${E2E_POOL[b]}" ]; then
"$E2E_PAFKA" status --json --config "${E2E_DIR[b]}/server.properties" --pool "${P1[b]}" --pool "${P2[b]}" \
	>"$E2E_WORK/status.json" 2>"$E2E_WORK/status.err"
expect "pafka status: two pools, each serving its own log dir, both held by the broker" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
got = [(p["path"], p["log_dirs"], p["writer"]["pid"]) for p in d["pools"]]
want = [(sys.argv[2] + "/pafka.pool", [sys.argv[3]], int(sys.argv[6])), (sys.argv[4] + "/pafka.pool", [sys.argv[5]], int(sys.argv[6]))]
print("#   status:", got)
sys.exit(got != want)' "$E2E_WORK/status.json" "${P1[b]}" "$(L1 b)" "${P2[b]}" "$(L2 b)" "${E2E_PID[b]}"
# the small pool (40M, threshold 0.5: 20 blocks) holds its dir's half of ~60 MB: it migrates under its
# own limit; the big one (256M: 128 blocks under its limit) holds the other half, a block per segment and
# per index file, and needs no demotion
read -r u1 n1 _ < <(py pool used "${P1[b]}")
below1() { read -r u1 n1 _ < <(py pool used "${P1[b]}"); [ "$u1" -le $((n1 / 2)) ]; }
poll "pool 1 settles under its own limit (used $u1 of $n1 blocks at first)" 180 below1
s1=$(py pool stats "${P1[b]}") s2=$(py pool stats "${P2[b]}")
expect "pool 1 demoted its own dir's segments ($(kv demotions "$s1") demotions, $(kv head_demotions "$s1") head demotions); pool 2 under its limit had nothing to demote ($(kv demotions "$s2"))" \
	test $(($(kv demotions "$s1") + $(kv head_demotions "$s1"))) -gt 0 -a "$(kv demotions "$s2")" = 0
expect "no migration failure in either pool" test "$(kv migration_failures "$s1")" = 0 -a "$(kv migration_failures "$s2")" = 0
fi

# ---- 2. SIGKILL during an acks=all produce, restart
py gen "$N" "$N" 82 1000 3000 >"$E2E_WORK/b.in"
E2E_TOOL_TIMEOUT=240 tool produce "${E2E_BOOT[b]}" j "$E2E_WORK/b.acks" "$RATE" <"$E2E_WORK/b.in" 2>"$E2E_WORK/b.err" &
prod=$!
nacks() { grep -c '^ack' "$E2E_WORK/b.acks" 2>/dev/null || echo 0; }
acked() { [ "$(nacks)" -ge $((RATE / 2)) ]; }
poll "the producer is under way" 60 acked
e2e_kill b
note "SIGKILL with $(nacks) of $N records acknowledged; restarting while the producer retries"
e2e_start b || die "broker restart after SIGKILL"
wait "$prod"
expect "producer: all $N records acknowledged across the crash" test $? -eq 0
cat "$E2E_WORK/a.acks" "$E2E_WORK/b.acks" >"$E2E_WORK/ab.acks"
cat "$E2E_WORK/a.in" "$E2E_WORK/b.in" >"$E2E_WORK/ab.in"
consume b j "$E2E_WORK/ab.out" || notok "consume j after the crash"
run_check "[after SIGKILL] every acknowledged record" py verify-acked "$E2E_WORK/ab.acks" "$E2E_WORK/ab.in" 6 <"$E2E_WORK/ab.out"
own_files b "after SIGKILL"
no_errors b 'CONTROLLER_REGISTRATION'
e2e_stop b || notok "clean stop"

# ---- 3. pmem: one pool full, the other not
jbod c pmem 24M 256M
e2e_format c || die "format c"
e2e_start c || die "broker c start under the shim (pmem, 24M and 256M)"
topic c f 4 || die "create topic f"
py gen 0 "$N" 83 1000 3000 >"$E2E_WORK/f.in"
tool produce "${E2E_BOOT[c]}" f "$E2E_WORK/f.acks" 0 <"$E2E_WORK/f.in" 2>"$E2E_WORK/f.err"
expect "producer: all $N records acknowledged (acks=all)" test $? -eq 0
consume c f "$E2E_WORK/f.out" || notok "consume f"
run_check "[one pool full] every record" py verify-acked "$E2E_WORK/f.acks" "$E2E_WORK/f.in" 4 <"$E2E_WORK/f.out"
own_files c "one pool full"
if [ -n "${E2E_POOL[c]}" ]; then
s1=$(py pool summary "${P1[c]}" "$(L1 c)") s2=$(py pool summary "${P2[c]}" "$(L2 c)")
expect "dir 1's full pool spilled its segments to dir 1 (spills=$(kv spills "$s1"), slow or mixed files: $(($(kv slow_files "$s1") + $(kv mixed_files "$s1"))))" \
	test "$(kv spills "$s1")" -gt 0 -a $(($(kv slow_files "$s1") + $(kv mixed_files "$s1"))) -gt 0
expect "dir 2's segments all stayed in its pool (spills=$(kv spills "$s2"), slow $(kv slow_files "$s2"), mixed $(kv mixed_files "$s2"), pool $(kv pool_files "$s2"))" \
	test "$(kv spills "$s2")" = 0 -a "$(kv slow_files "$s2")" = 0 -a "$(kv mixed_files "$s2")" = 0 -a "$(kv pool_files "$s2")" -gt 0
fi
e2e_stop c || notok "clean stop of c"

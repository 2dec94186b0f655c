#!/bin/bash
# tests/e2e/case-migrate.sh - tiering: log.channel.type=tiered with a small pool (64M, 1 MiB blocks,
# storage.migrate.threshold 0.5) and about three times that much data in topic "mig" (3 partitions,
# 1 MiB segments). While the producer runs, the pool fills, writes spill to the slow tier when it is full,
# and the migration threads demote the oldest sealed segments. The case polls (bounded) until the pool's
# used blocks are at or below the threshold, checks that old segments were demoted (no pool blocks, fully
# allocated in the log dir) while the newest are pool-resident (sparse), reads everything back, restarts
# the broker cleanly, reads everything again from the start and verifies every record.
# Then (E2E_MIGRATE_BIG=0 skips it) Kafka's default 1 GiB segments: head demotion and readmission of the
# active segments, see below.
# Then (E2E_MIGRATE_PMEM_SPILL=0 skips it) log.channel.type=pmem with a 32M pool and 80 MB: the full pool
# sends the rest to the slow tier, every record reads back.
# Then (E2E_MIGRATE_SPILL=0 skips it) a broker with migration throttled to 8 MB/s: the producer
# outruns demotion, the full pool spills new segments to the slow tier, and once demotion has brought
# usage under the threshold the newest spilled segments are promoted; every record verified again, also
# after a restart.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin migrate
POOL=${E2E_MIGRATE_POOL:-64M}
MB=${E2E_MIGRATE_MB:-192}
THR=0.5
# records of 2000..6000 characters (about 4.1 KB with key and framing)
N=$((MB * 1024 * 1024 / 4100))

e2e_config b 1 ""
e2e_shim b tiered "$POOL" PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR PAFKA_PAFKA_LOG_LEVEL=debug
E2E_ENV[b]=${E2E_ENV[b]/PAFKA_PAFKA_/PAFKA_}
e2e_format b || die "format"
e2e_start b || die "broker start under the shim (tiered)"
topic b mig 3 || die "create topic mig"

py gen 0 "$N" 61 2000 6000 >"$E2E_WORK/mig.in"
note "producing $N records ($(du -m "$E2E_WORK/mig.in" | cut -f1) MB) into a $POOL pool"
t=$SECONDS
expect "kcat produced $N records" produce b mig "$E2E_WORK/mig.in"
note "produced in $((SECONDS - t))s: $(py pool stats "${E2E_POOL[b]}" | tr ' ' '\n' | grep -E '^(used|nblocks|demotions|promotions|spills|bytes_demoted|migration_failures)=' | tr '\n' ' ')"

read -r _ NB BS < <(py pool used "${E2E_POOL[b]}")
LIMIT=$(awk -v n="$NB" -v t=$THR 'BEGIN { printf "%d", n * t }')
below() { [ "$(pool_used b)" -le "$LIMIT" ]; }
below_t() { [ "$(pool_used t)" -le "$LIMIT" ]; }
poll "migration settled: pool used blocks <= threshold ($LIMIT of $NB)" 240 below
s=$(pool_summary b)
echo "# after settling: $s"
expect "segments were demoted (demotions=$(kv demotions "$s"))" test "$(kv demotions "$s")" -gt 0
expect "no migration failures (migration_failures=$(kv migration_failures "$s"), errors=$(kv errors "$s"))" \
	test "$(kv migration_failures "$s")" = 0 -a "$(kv errors "$s")" = 0

# tiers_ok NAME TOPIC LABEL: demoted (slow: no pool blocks, fully allocated) and pool-resident (sparse)
# segments of TOPIC both exist, and migration went by age: in every partition every segment the shim
# demoted (its debug log: "demoted PATH") is older than every segment still in the pool (the oldest sealed
# pool files go first). Segments created on the slow tier while the pool was full are counted apart.
tiers_ok() {
	local name=$1 t=$2 label=$3 f="$E2E_WORK/tiers.$3"
	py pool files "${E2E_POOL[$name]}" "${E2E_DIR[$name]}/logs" | grep "/$t-" |
		awk '{ n = split($5, a, "/"); print $1, a[n - 1], substr(a[n], 1, 20) + 0, $4, $2, $3 }' |
		sort -k2,2 -k3,3n >"$f"
	sed -n 's/^pafka\[[0-9]*\]: debug: demoted \(.*\) ([0-9]* bytes)$/\1/p' "${E2E_DIR[$name]}/broker.out" |
		awk -v t="$t" '{ n = split($0, a, "/"); if (index(a[n - 1], t "-") == 1) print a[n - 1], substr(a[n], 1, 20) + 0 }' |
		sort -u >"$f.demoted"
	awk '{ c[$2 " " $1]++ } END { for (k in c) print "#   " k ": " c[k] }' "$f" | sort
	local slow pool sparse never bad
	slow=$(grep -c '^slow ' "$f")
	pool=$(grep -c '^pool ' "$f")
	expect "[$label] old segments were demoted: $slow of $t's segments are on the slow tier only (no pool blocks, allocated in full), $(wc -l <"$f.demoted") demotions logged" \
		test "$slow" -ge 3 -a "$(wc -l <"$f.demoted")" -ge 3
	expect "[$label] recent segments are in the pool: $pool of $t's segments are pool-resident" test "$pool" -ge 3
	sparse=$(awk '$1 == "pool" && $6 * 4 > $5' "$f" | wc -l)
	expect "[$label] every pool-resident segment of $t is sparse in the log dir" test "$sparse" -eq 0
	bad=$(awk 'FNR == NR { d[$1] = (($1 in d) && d[$1] > $2) ? d[$1] : $2; next }
		$1 == "pool" && ($2 in d) && d[$2] > $3 { print $2, "demoted", d[$2], "newer than pool-resident", $3 }' \
		"$f.demoted" "$f" | sort -u)
	expect "[$label] migration went by age: every demoted segment of $t is older than every pool-resident one of its partition" \
		test -z "$bad"
	[ -z "$bad" ] || echo "$bad" | head -n 5 | sed 's/^/#   /'
	never=$(awk 'FNR == NR { d[$1 " " $2] = 1; next } $1 == "slow" && !(($2 " " $3) in d)' "$f.demoted" "$f" | wc -l)
	note "[$label] $never segments of $t were written to the slow tier from the start (created while the pool was full)"
}
tiers_ok b mig settled

consume b mig "$E2E_WORK/mig.1.out" || notok "consume mig"
run_check "before restart" py verify "$N" 3 <"$E2E_WORK/mig.1.out"
expect "clean stop" e2e_stop b
e2e_start b || die "broker restart (tiered)"
consume b mig "$E2E_WORK/mig.2.out" || notok "consume mig"
run_check "after restart" py verify "$N" 3 <"$E2E_WORK/mig.2.out"
expect "the records after the restart are identical to before" same_records "$E2E_WORK/mig.1.out" "$E2E_WORK/mig.2.out"
s=$(pool_summary b)
echo "# after restart: $s"
expect "after restart: pool used $(kv used "$s") <= $NB blocks, no pool block left to a vanished file" \
	test "$(kv used "$s")" -le "$NB" -a "$(kv missing_blocks "$s")" = 0
tiers_ok b mig restart
used_pool_check b restart
no_errors b
e2e_stop_all 60

# ---- Kafka's default segment size (1 GiB): no segment of topic "big" ever seals, so only head demotion
# (the cold head of an active segment moves to the log dir, its newest blocks stay) keeps room in the pool.
# Migration is paused (pafka pause) while the first 128 MB go in, so the pool fills and every active segment
# spills; after `pafka resume` the cold heads go down and the spilled tails are readmitted, without any new
# write. Then 16 MB more must land in the pool (it has room for them whatever migration does meanwhile),
# except the rest of each readmitted segment's partly written block. Every record is verified, also after
# a restart.
if [ "${E2E_MIGRATE_BIG:-1}" = 1 ]; then
	E2E_SEGMENT_BYTES=1073741824 e2e_config g 1 ""
	e2e_shim g tiered 64M PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR PAFKA_PAFKA_MIGRATE_IDLE_MS=600000 \
		PAFKA_PAFKA_LOG_LEVEL=debug
	E2E_ENV[g]=${E2E_ENV[g]//PAFKA_PAFKA_/PAFKA_}
	e2e_format g || die "format g"
	e2e_start g || die "broker g start (tiered, 1 GiB segments)"
	topic g big 3 || die "create topic big"
	G1=$((${E2E_MIGRATE_BIG_MB:-128} * 1024 * 1024 / 4100)) G2=$((16 * 1024 * 1024 / 4100))
	py gen 0 "$G1" 71 2000 6000 >"$E2E_WORK/big.1.in"
	py gen "$G1" "$G2" 72 2000 6000 >"$E2E_WORK/big.2.in"
	gpaused() { "$E2E_PAFKA" status --json --pool "${E2E_POOL[g]}" 2>/dev/null |
		python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["pools"][0]["migration"]["paused"] else 1)'; }
	expect "[g] pafka pause" "$E2E_PAFKA" pause --pool "${E2E_POOL[g]}"
	poll "[g] the broker acknowledged the pause" 60 gpaused
	expect "[g] kcat produced $G1 records (${E2E_MIGRATE_BIG_MB:-128} MB) with migration paused" \
		produce g big "$E2E_WORK/big.1.in"
	s=$(pool_summary g)
	echo "# [g] paused: $s"
	expect "[g] the pool filled and the active segments spilled (spills=$(kv spills "$s"), used $(kv used "$s") of $(kv nblocks "$s"))" \
		test "$(kv spills "$s")" -gt 0
	expect "[g] pafka resume" "$E2E_PAFKA" resume --pool "${E2E_POOL[g]}"
	read -r _ GNB _ < <(py pool used "${E2E_POOL[g]}")
	GLIMIT=$(awk -v n="$GNB" -v t=$THR 'BEGIN { printf "%d", n * t }')
	gsettled() {
		local s
		s=$(pool_summary g)
		[ "$(kv used "$s")" -le "$GLIMIT" ] && [ "$(kv readmissions "$s")" -ge 3 ]
	}
	poll "[g] cold heads demoted and the spilled tails of big's 3 segments readmitted (used <= $GLIMIT blocks)" 240 gsettled
	s=$(pool_summary g)
	echo "# [g] settled: $s"
	expect "[g] heads of active segments were demoted (head_demotions=$(kv head_demotions "$s")), no whole segment (demotions=$(kv demotions "$s"))" \
		test "$(kv head_demotions "$s")" -gt 0 -a "$(kv demotions "$s")" = 0
	wp0=$(kv bytes_written_pool "$s") ws0=$(kv bytes_written_slow "$s") r0=$(kv readmissions "$s")
	expect "[g] kcat produced $G2 more records (16 MB)" produce g big "$E2E_WORK/big.2.in"
	s=$(pool_summary g)
	wp=$(($(kv bytes_written_pool "$s") - wp0)) ws=$(($(kv bytes_written_slow "$s") - ws0))
	expect "[g] after readmission the appends went to the pool: $wp bytes to the pool, $ws to the slow tier (at most the rest of one block per readmitted segment: $r0 x 1 MiB)" \
		test "$wp" -gt $((15 * 1024 * 1024)) -a "$ws" -le $((r0 * 1048576))
	"$E2E_PAFKA" ls --json --pool "${E2E_POOL[g]}" >"$E2E_WORK/big.ls.json" 2>"$E2E_WORK/big.ls.err"
	bad=$(python3 -c 'import json,sys
fs = [f for f in json.load(open(sys.argv[1]))["files"] if "/big-" in f["path"] and f["path"].endswith(".log")]
print(len(fs), " ".join(f["path"] for f in fs if f["appends"] != "pool" or not f["window_start"] or f["pool_bytes"] == 0))' \
		"$E2E_WORK/big.ls.json")
	expect "[g] each of big's 3 segments has its head on disk and its tail in the pool, taking appends (pafka ls: $bad)" \
		test "$bad" = "3 "
	consume g big "$E2E_WORK/big.1.out" || notok "[g] consume big"
	run_check "g big" py verify $((G1 + G2)) 3 <"$E2E_WORK/big.1.out"
	expect "[g] clean stop" e2e_stop g
	e2e_start g || die "broker g restart"
	consume g big "$E2E_WORK/big.2.out" || notok "[g] consume big after restart"
	run_check "g big after restart" py verify $((G1 + G2)) 3 <"$E2E_WORK/big.2.out"
	expect "[g] big after the restart is identical to before" same_records "$E2E_WORK/big.1.out" "$E2E_WORK/big.2.out"
	used_pool_check g "g restart"
	no_errors g
	e2e_stop_all 60
fi

# ---- log.channel.type=pmem (no migration) with a pool smaller than the data: once it is full, new
# segments go to the slow tier (spill) and everything still reads back
if [ "${E2E_MIGRATE_PMEM_SPILL:-1}" = 1 ]; then
	e2e_config p 1 ""
	e2e_shim p pmem 32M
	e2e_format p || die "format p"
	e2e_start p || die "broker p start (pmem, 32M pool)"
	topic p full 3 || die "create topic full"
	NP=$((80 * 1024 * 1024 / 4100))
	py gen 0 "$NP" 63 2000 6000 >"$E2E_WORK/full.in"
	expect "[p] kcat produced $NP records (80 MB) into a 32M pool" produce p full "$E2E_WORK/full.in"
	s=$(pool_summary p)
	echo "# [p] $s"
	expect "[p] the pool is full ($(kv used "$s") of $(kv nblocks "$s") blocks) and the rest went to the slow tier ($(kv slow_files "$s") + $(kv mixed_files "$s") segments)" \
		test "$(kv used "$s")" -ge $(($(kv nblocks "$s") - 1)) -a $(($(kv slow_files "$s") + $(kv mixed_files "$s"))) -gt 0
	expect "[p] the pool's spills counter counts the writes the full pool sent to the slow tier (spills=$(kv spills "$s"))" \
		test "$(kv spills "$s")" -gt 0
	consume p full "$E2E_WORK/full.out" || notok "[p] consume full"
	run_check "p spilled" py verify "$NP" 3 <"$E2E_WORK/full.out"
	used_pool_check p spilled
	no_errors p
	e2e_stop_all 60
fi

# ---- spill and promotion: migration throttled (pafka.migrate.rate.bytes) so the producer outruns it and
# fills the pool: segments created then go to the slow tier (spill). Topics are written in order "a"
# (oldest), "m", "s" (newest, mostly spilled). Once demotion has brought the pool under the threshold it
# holds mostly "m"; deleting topic "m" frees that space, and the newest sealed segments of "s" must then be
# promoted (newest first) into the pool. Every record of "a" and "s" is verified, also after a restart.
[ "${E2E_MIGRATE_SPILL:-1}" = 1 ] || exit 0
RATE=${E2E_SPILL_RATE:-8M}
e2e_config t 1 ""
e2e_shim t tiered 64M PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR PAFKA_PAFKA_MIGRATE_RATE_BYTES=$RATE PAFKA_PAFKA_LOG_LEVEL=debug
E2E_ENV[t]=${E2E_ENV[t]//PAFKA_PAFKA_/PAFKA_}
e2e_format t || die "format t"
e2e_start t || die "broker t start (tiered, migration throttled to $RATE/s)"
declare -A SZ=([a]=32 [m]=32 [s]=64) NR=()
for x in a m s; do
	topic t "$x" 3 || die "create topic $x"
	NR[$x]=$((SZ[$x] * 1024 * 1024 / 4100))
	py gen 0 "${NR[$x]}" 6$RANDOM 2000 6000 >"$E2E_WORK/$x.in"
done
for x in a m s; do
	expect "[t] kcat produced ${NR[$x]} records (${SZ[$x]} MB) to $x" produce t "$x" "$E2E_WORK/$x.in"
done
s=$(pool_summary t)
echo "# [t] after producing: $s"
tiers() { py pool files "${E2E_POOL[t]}" "${E2E_DIR[t]}/logs" | awk -v t="/$1-" 'index($5, t) { c[$1]++ } END { for (k in c) printf "%s=%d ", k, c[k] }'; }
note "[t] s: $(tiers s)"
spilled=$(py pool files "${E2E_POOL[t]}" "${E2E_DIR[t]}/logs" | awk '$1 == "slow" && $5 ~ /\/s-/' | wc -l)
expect "[t] the full pool sent new segments to the slow tier ($spilled segments of s there before any demotion of s)" \
	test "$spilled" -gt 0
expect "[t] the pool's spills counter counts the writes the full pool sent to the slow tier (spills=$(kv spills "$s"))" \
	test "$(kv spills "$s")" -gt 0
poll "[t] demotion (throttled) brought the pool under the threshold ($LIMIT blocks)" 240 below_t
note "[t] m: $(tiers m) s: $(tiers s)"
p0=$(kv promotions "$(pool_summary t)")
expect "[t] topic m deleted" tool admin "${E2E_BOOT[t]}" delete m
promoted() {
	local s
	s=$(pool_summary t)
	[ "$(kv promotions "$s")" -gt "$p0" ] && [ "$(kv used "$s")" -le "$LIMIT" ] && [ "$(kv missing_blocks "$s")" = 0 ]
}
poll "[t] with m's pool space free, spilled segments of s were promoted" 120 promoted
# let the promotions run to the threshold (bounded: until the count stops changing for 3 s)
last=-1 stable=0
for ((i = 0; i < 60 && stable < 6; i++)); do
	c=$(kv promotions "$(pool_summary t)")
	if [ "$c" = "$last" ]; then stable=$((stable + 1)); else stable=0; last=$c; fi
	sleep 0.5
done
s=$(pool_summary t)
echo "# [t] settled: $s"
note "[t] s: $(tiers s)"
expect "[t] no migration failures" test "$(kv migration_failures "$s")" = 0 -a "$(kv errors "$s")" = 0
# promotion went newest first: in each partition of s, every sealed segment (all but the active one) still
# on the slow tier is older than every segment the shim promoted (its debug log: "promoted PATH")
py pool files "${E2E_POOL[t]}" "${E2E_DIR[t]}/logs" | grep '/s-' |
	awk '{ n = split($5, a, "/"); print $1, a[n - 1], substr(a[n], 1, 20) + 0 }' | sort -k2,2 -k3,3n >"$E2E_WORK/s.tiers"
sed -n 's/^pafka\[[0-9]*\]: debug: promoted \(.*\) ([0-9]* bytes)$/\1/p' "${E2E_DIR[t]}/broker.out" |
	awk '{ n = split($0, a, "/"); if (index(a[n - 1], "s-") == 1) print a[n - 1], substr(a[n], 1, 20) + 0 }' |
	sort -u >"$E2E_WORK/s.promoted"
np=$(wc -l <"$E2E_WORK/s.promoted")
bad=$(awk 'FNR == NR { if (!($1 in m) || $2 < m[$1]) m[$1] = $2; next }
	{ last[$2] = $3; tier[$2 " " $3] = $1; offs[$2] = offs[$2] " " $3 }
	END { for (p in offs) { n = split(offs[p], o, " "); for (i = 1; i < n; i++)
		if (tier[p " " o[i]] == "slow" && (p in m) && o[i] > m[p]) print p, "slow", o[i], "newer than promoted", m[p] } }' \
	"$E2E_WORK/s.promoted" "$E2E_WORK/s.tiers" | sort)
expect "[t] promotion went newest first: $np segments of s promoted, no sealed slow-tier segment of s newer than a promoted one" \
	test "$np" -gt 0 -a -z "$bad"
[ -z "$bad" ] || echo "$bad" | head -n 5 | sed 's/^/#   /'
for x in a s; do
	consume t "$x" "$E2E_WORK/$x.1.out" || notok "[t] consume $x"
	run_check "t $x" py verify "${NR[$x]}" 3 <"$E2E_WORK/$x.1.out"
done
expect "[t] clean stop" e2e_stop t
e2e_start t || die "broker t restart"
for x in a s; do
	consume t "$x" "$E2E_WORK/$x.2.out" || notok "[t] consume $x"
	run_check "t $x after restart" py verify "${NR[$x]}" 3 <"$E2E_WORK/$x.2.out"
	expect "[t] $x after the restart is identical to before" same_records "$E2E_WORK/$x.1.out" "$E2E_WORK/$x.2.out"
done
used_pool_check t "t restart"
no_errors t
exit 0

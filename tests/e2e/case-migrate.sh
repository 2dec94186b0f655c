#!/bin/bash
# tests/e2e/case-migrate.sh - tiering: log.channel.type=tiered with a small pool (64M, 1 MiB blocks,
# storage.migrate.threshold 0.5) and about three times that much data in topic "mig" (3 partitions,
# 1 MiB segments). While the producer runs, the pool fills, writes spill to the slow tier when it is full,
# and the migration threads demote the oldest sealed segments. The case polls (bounded) until the pool's
# used blocks are at or below the threshold, checks that old segments were demoted (no pool blocks, fully
# allocated in the log dir) while the newest are pool-resident (sparse), reads everything back, restarts
# the broker cleanly, reads everything again from the start and verifies every record.
# Then (E2E_MIGRATE_SPILL=0 skips it) a second broker with migration throttled to 8 MB/s: the producer
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
e2e_shim b tiered "$POOL" PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR
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
poll "migration settled: pool used blocks <= threshold ($LIMIT of $NB)" 240 below
s=$(pool_summary b)
echo "# after settling: $s"
expect "segments were demoted (demotions=$(kv demotions "$s"))" test "$(kv demotions "$s")" -gt 0
expect "no migration failures (migration_failures=$(kv migration_failures "$s"), errors=$(kv errors "$s"))" \
	test "$(kv migration_failures "$s")" = 0 -a "$(kv errors "$s")" = 0

# tiers_ok LABEL: demoted (slow: no pool blocks, fully allocated) and pool-resident (sparse) segments of mig
# both exist, and in every partition the newest sealed segments are in the pool: no slow-tier segment is
# newer than a pool-resident one of the same partition
tiers_ok() {
	local label=$1
	py pool files "${E2E_POOL[b]}" "${E2E_DIR[b]}/logs" | grep '/mig-' >"$E2E_WORK/tiers.$label"
	awk '{ split($5, a, "/"); print $1, a[length(a) - 1], substr(a[length(a)], 1, 20) + 0, $4, $2, $3 }' \
		"$E2E_WORK/tiers.$label" | sort -k2,2 -k3,3n >"$E2E_WORK/tiers.$label.s"
	awk '{ c[$2 " " $1]++ } END { for (k in c) print "#   " k ": " c[k] }' "$E2E_WORK/tiers.$label.s" | sort
	local slow pool sparse
	slow=$(grep -c '^slow ' "$E2E_WORK/tiers.$label.s")
	pool=$(grep -c '^pool ' "$E2E_WORK/tiers.$label.s")
	expect "[$label] old segments were demoted: $slow of mig's segments are on the slow tier only (no pool blocks, allocated in full)" \
		test "$slow" -ge 3
	expect "[$label] recent segments are in the pool: $pool of mig's segments are pool-resident" test "$pool" -ge 3
	sparse=$(awk '$1 == "pool" && $6 * 4 > $5' "$E2E_WORK/tiers.$label.s" | wc -l)
	expect "[$label] every pool-resident segment is sparse in the log dir" test "$sparse" -eq 0
	# per partition: the newest slow segment is older than the oldest pool segment (mixed/empty ignored)
	local bad
	bad=$(awk '$1 == "slow" { s[$2] = $3 } $1 == "pool" && !($2 in p) { p[$2] = $3 }
		END { for (k in s) if ((k in p) && s[k] > p[k]) print k, "slow", s[k], "newer than pool", p[k] }' "$E2E_WORK/tiers.$label.s")
	expect "[$label] in every partition the pool holds the newest segments, the slow tier the oldest" test -z "$bad"
	[ -z "$bad" ] || echo "$bad" | sed 's/^/#   /'
}
tiers_ok settled

consume b mig "$E2E_WORK/mig.1.out" || notok "consume mig"
run_check "before restart" py verify "$N" 3 <"$E2E_WORK/mig.1.out"
expect "clean stop" e2e_stop b
e2e_start b || die "broker restart (tiered)"
consume b mig "$E2E_WORK/mig.2.out" || notok "consume mig"
run_check "after restart" py verify "$N" 3 <"$E2E_WORK/mig.2.out"
expect "the records after the restart are identical to before" cmp -s "$E2E_WORK/mig.1.out" "$E2E_WORK/mig.2.out"
s=$(pool_summary b)
echo "# after restart: $s"
expect "after restart: pool used $(kv used "$s") <= $NB blocks, no pool block left to a vanished file" \
	test "$(kv used "$s")" -le "$NB" -a "$(kv missing_blocks "$s")" = 0
tiers_ok restart
used_pool_check b restart
no_errors b
e2e_stop_all 60

# ---- spill and promotion: migration throttled (pafka.migrate.rate.bytes) so the producer outruns it and
# fills the pool; new segments then spill to the slow tier. Once demotion has brought the pool under the
# threshold, the newest sealed spilled segments are promoted back into the pool.
[ "${E2E_MIGRATE_SPILL:-1}" = 1 ] || exit 0
SMB=${E2E_SPILL_MB:-128}
NS=$((SMB * 1024 * 1024 / 4100))
e2e_config t 1 ""
e2e_shim t tiered 64M PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR PAFKA_PAFKA_MIGRATE_RATE_BYTES=${E2E_SPILL_RATE:-8M}
E2E_ENV[t]=${E2E_ENV[t]/PAFKA_PAFKA_/PAFKA_}
e2e_format t || die "format t"
e2e_start t || die "broker t start (tiered, throttled migration)"
topic t sp 3 || die "create topic sp"
py gen 0 "$NS" 62 2000 6000 >"$E2E_WORK/sp.in"
expect "[t] kcat produced $NS records ($SMB MB) faster than the throttled migration" produce t sp "$E2E_WORK/sp.in"
s=$(pool_summary t)
echo "# [t] after producing: $s"
expect "[t] the full pool spilled writes to the slow tier (spills=$(kv spills "$s"))" test "$(kv spills "$s")" -gt 0
promoted() {
	local s
	s=$(pool_summary t)
	[ "$(kv used "$s")" -le "$LIMIT" ] && [ "$(kv promotions "$s")" -gt 0 ]
}
poll "[t] demotion brought the pool under the threshold and spilled segments were promoted" 240 promoted
s=$(pool_summary t)
echo "# [t] settled: $s"
expect "[t] no migration failures" test "$(kv migration_failures "$s")" = 0 -a "$(kv errors "$s")" = 0
consume t sp "$E2E_WORK/sp.1.out" || notok "[t] consume sp"
run_check "t spilled+promoted" py verify "$NS" 3 <"$E2E_WORK/sp.1.out"
expect "[t] clean stop" e2e_stop t
e2e_start t || die "broker t restart"
consume t sp "$E2E_WORK/sp.2.out" || notok "[t] consume sp"
run_check "t after restart" py verify "$NS" 3 <"$E2E_WORK/sp.2.out"
expect "[t] the records after the restart are identical to before" cmp -s "$E2E_WORK/sp.1.out" "$E2E_WORK/sp.2.out"
used_pool_check t "t restart"
no_errors t
exit 0

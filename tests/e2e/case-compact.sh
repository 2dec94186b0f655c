#!/bin/bash
# tests/e2e/case-compact.sh - log compaction under the shim. Two brokers run the same workload side by side:
# "s" under the shim (pmem) and "r" without any preload (the reference). Topic "cmp" (2 partitions,
# cleanup.policy=compact, 1 MiB segments, min.cleanable.dirty.ratio=0.01, delete.retention.ms=0) gets 300
# keys x 20 updates, then tombstones for 50 keys and a 21st update of 50 others, then 12 more updates of
# 200 keys (so the segments with the tombstones roll and get cleaned too). The cleaner writes
# .cleaned files, renames them to .swap and then over the old segments (.log): through the shim, with the
# bytes in the pool. After cleaning settled (the cleaner checkpoint reached the active segment of every
# partition), each broker's surviving key->value set must be the last produced value of every live key,
# the cleaned part must hold each key once, and the two brokers' sets must be identical.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin compact
KEYS=300 UPD=20

e2e_config s 1 ""
e2e_shim s pmem 256M
e2e_config r 1 ""
e2e_shim r none
e2e_format s && e2e_format r || die "format"
start_many s r || die "broker start (s under the shim, r without)"

for b in s r; do
	topic "$b" cmp 2 cleanup.policy=compact segment.bytes=1048576 min.cleanable.dirty.ratio=0.01 \
		delete.retention.ms=0 file.delete.delay.ms=1000 min.compaction.lag.ms=0 || die "create topic cmp on $b"
done

# phase 1: KEYS keys x UPD updates (seq order: k0000..k0299, k0000..), values 500..1500 chars
py gen 0 $((KEYS * UPD)) 31 500 1500 $KEYS >"$E2E_WORK/cmp1.in"
# phase 2: tombstones for k0000..k0049 (empty values: kcat -Z sends NULL), one more update of k0050..k0099
{
	for ((i = 0; i < 50; i++)); do printf 'k%04d:\n' $i; done
	py gen $((KEYS * UPD)) 100 32 500 1500 $KEYS | sed -n '51,100p'
} >"$E2E_WORK/cmp2.in"
# phase 3: 12 more updates of k0100..k0299, so the segments holding the tombstones roll and get cleaned
py gen $((KEYS * UPD + 100)) $((KEYS * 12)) 33 500 1500 $KEYS | awk -F: '$1 >= "k0100"' >"$E2E_WORK/cmp3.in"
cat "$E2E_WORK/cmp1.in" "$E2E_WORK/cmp2.in" "$E2E_WORK/cmp3.in" >"$E2E_WORK/cmp.in"
NP=$(wc -l <"$E2E_WORK/cmp.in")
for b in s r; do
	expect "[$b] kcat produced $((KEYS * UPD)) updates" produce "$b" cmp "$E2E_WORK/cmp1.in"
	expect "[$b] kcat produced 50 tombstones and 50 more updates" produce "$b" cmp "$E2E_WORK/cmp2.in" -Z
	expect "[$b] kcat produced $(wc -l <"$E2E_WORK/cmp3.in") more updates" produce "$b" cmp "$E2E_WORK/cmp3.in"
done
used_pool_check s produced

# cleaning has settled when, for every partition, the cleaner checkpoint equals the active segment's base
# offset (everything before it has been cleaned) and no .cleaned/.swap/.deleted file is left
settled() {
	local b=$1 p ck base d=${E2E_DIR[$1]}/logs
	for p in 0 1; do
		ck=$(awk -v t=cmp -v p=$p '$1 == t && $2 == p { print $3 }' "$d/cleaner-offset-checkpoint" 2>/dev/null)
		base=$(ls "$d/cmp-$p" | sed -n 's/^\([0-9]\{20\}\)\.log$/\1/p' | sort | tail -n1)
		[ -n "$ck" ] && [ -n "$base" ] && [ "$ck" -eq $((10#$base)) ] || return 1
		ls "$d/cmp-$p" | grep -qE '\.(cleaned|swap|deleted)$' && return 1
	done
	return 0
}
poll "[s] the cleaner cleaned every partition up to its active segment" 120 settled s
poll "[r] the cleaner cleaned every partition up to its active segment" 120 settled r
poll "[s] no pool block left to a replaced segment" 30 \
	eval '[ "$(kv missing_blocks "$(pool_summary s)")" = 0 ]'
used_pool_check s compacted

for b in s r; do
	d=${E2E_DIR[$b]}/logs
	cb=$(for p in 0 1; do echo -n "$p:$(awk -v p=$p '$1 == "cmp" && $2 == p { print $3 }' "$d/cleaner-offset-checkpoint"),"; done)
	nclean=$(grep -c 'Cleaner 0: Cleaning log cmp-\|Cleaning log cmp-' "${E2E_DIR[$b]}/applogs/server.log")
	swaps=$(grep -c 'Replacing the segments\|\.swap' "${E2E_DIR[$b]}/applogs/server.log")
	note "[$b] cleaner runs on cmp: $nclean, cleaned below $cb"
	consume "$b" cmp "$E2E_WORK/cmp.$b.out" -Z || notok "[$b] consume cmp"
	n=$(wc -l <"$E2E_WORK/cmp.$b.out")
	expect "[$b] compaction removed records ($n consumed of $NP produced)" test "$n" -lt $((NP / 2))
	E2E_MAP_OUT="$E2E_WORK/cmp.$b.map" run_check "$b" py compact-map "$E2E_WORK/cmp.in" --clean-below "$cb" \
		<"$E2E_WORK/cmp.$b.out"
done
expect "the shim's surviving key->value set ($(wc -l <"$E2E_WORK/cmp.s.map") keys) is identical to the reference broker's" \
	cmp -s "$E2E_WORK/cmp.s.map" "$E2E_WORK/cmp.r.map"
# the compacted segments are pool-resident (the cleaner's output went through the shim into the pool)
cmpfiles=$(py pool files "${E2E_POOL[s]}" "${E2E_DIR[s]}/logs" | grep '/cmp-')
echo "$cmpfiles" | sed 's/^/#   /'
expect "[s] every segment of cmp is pool-resident (the cleaner's .cleaned -> .swap -> .log went to the pool)" \
	awk 'BEGIN { n = 0 } { n++; if ($1 != "pool" && $1 != "empty") bad = 1 } END { exit bad || n < 4 }' <<<"$cmpfiles"
no_errors s
no_errors r
exit 0

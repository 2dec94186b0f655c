#!/bin/bash
# tests/e2e/case-ab.sh - the A/B switch: log.channel.type=file with the same preload behaves exactly as no
# preload. Broker "f" runs with LD_PRELOAD=libpafka.so, log.channel.type=file and a pool directory
# configured; broker "n" runs without any preload. Both get the same records (kcat's partitioner is
# deterministic per key, one producer keeps per-partition order, so partitions and offsets are the same)
# and a compacted topic. Checks: identical consumed records (partition, offset, key, value) on both,
# also after a restart; identical compaction results; on "f" no pool file, nothing in the pool directory,
# no .pafka-pools marker in the log dir, segment files fully allocated (not sparse) like on "n", and not a
# word from the shim on the broker's output. Last, the refusal: a log dir whose segments are in a pool
# (written with log.channel.type=pmem) must not start with log.channel.type=file (it would serve zeros).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin ab
N=${E2E_AB_RECORDS:-15000}

e2e_config f 1 ""
e2e_shim f file 256M
e2e_config n 1 ""
e2e_shim n none
e2e_format f && e2e_format n || die "format"
start_many f n || die "broker start (f: preload with log.channel.type=file, n: no preload)"

py gen 0 "$N" 81 >"$E2E_WORK/ab.in"
py gen 0 4000 82 500 1500 200 >"$E2E_WORK/cmp.in"
for b in f n; do
	topic "$b" ab 3 || die "create topic ab on $b"
	topic "$b" cmp 2 cleanup.policy=compact segment.bytes=1048576 min.cleanable.dirty.ratio=0.01 \
		min.compaction.lag.ms=0 || die "create topic cmp on $b"
	expect "[$b] kcat produced $N records to ab" produce "$b" ab "$E2E_WORK/ab.in"
	expect "[$b] kcat produced 4000 updates of 200 keys to cmp" produce "$b" cmp "$E2E_WORK/cmp.in"
done

compare() {
	local label=$1 b
	for b in f n; do
		consume "$b" ab "$E2E_WORK/ab.$b.$label" || notok "[$b] consume ab"
		run_check "$b $label" py verify "$N" 3 <"$E2E_WORK/ab.$b.$label"
	done
	expect "[$label] file mode and no preload: identical records (partition, offset, key, value)" \
		same_records "$E2E_WORK/ab.f.$label" "$E2E_WORK/ab.n.$label"
}
compare first

# cleaning settled on both (checkpoint == active segment base of each partition)
settled() {
	local p ck base d=${E2E_DIR[$1]}/logs
	for p in 0 1; do
		ck=$(awk -v p=$p '$1 == "cmp" && $2 == p { print $3 }' "$d/cleaner-offset-checkpoint" 2>/dev/null)
		base=$(ls "$d/cmp-$p" | sed -n 's/^\([0-9]\{20\}\)\.log$/\1/p' | sort | tail -n1)
		[ -n "$ck" ] && [ -n "$base" ] && [ "$ck" -eq $((10#$base)) ] || return 1
	done
}
for b in f n; do
	poll "[$b] the cleaner cleaned cmp up to the active segments" 120 settled "$b"
	consume "$b" cmp "$E2E_WORK/cmp.$b.out" || notok "[$b] consume cmp"
	E2E_MAP_OUT="$E2E_WORK/cmp.$b.map" run_check "$b cmp" py compact-map "$E2E_WORK/cmp.in" <"$E2E_WORK/cmp.$b.out"
done
expect "identical surviving key->value sets of the compacted topic" cmp -s "$E2E_WORK/cmp.f.map" "$E2E_WORK/cmp.n.map"

inert() {
	local label=$1
	expect "[$label] no pool file and nothing else in the configured pool directory" \
		test -z "$(ls -A "${E2E_POOL[f]}")"
	expect "[$label] no .pafka-pools marker in the log dir" \
		test -z "$(find "${E2E_DIR[f]}/logs" -name '.pafka-pools*')"
	local sparse
	sparse=$(find "${E2E_DIR[f]}/logs" -name '????????????????????.log' -size +64k -printf '%s %b %p\n' |
		awk '$2 * 512 * 2 < $1' | wc -l)
	expect "[$label] no sparse segment file in the log dir (the bytes are in the files)" test "$sparse" -eq 0
	expect "[$label] not a word from the shim on the broker's output" \
		test -z "$(grep -E '^pafka\[' "${E2E_DIR[f]}/broker.out")"
}
inert running
# the shim is loaded all the same (the A/B run is a real one)
expect "libpafka.so is mapped into broker f" grep -q libpafka "/proc/${E2E_PID[f]}/maps"

expect "[f] clean stop" e2e_stop f
expect "[n] clean stop" e2e_stop n
start_many f n || die "restart"
compare restart
inert restart
no_errors f
no_errors n
e2e_stop_all 60

# ---- the refusal: pmem, then file on the same log dir
e2e_config g 1 ""
e2e_shim g pmem 64M
e2e_format g || die "format g"
e2e_start g || die "broker g start (pmem)"
topic g x 1 || die "create topic x"
py gen 0 2000 83 >"$E2E_WORK/x.in"
expect "[g] kcat produced 2000 records under log.channel.type=pmem" produce g x "$E2E_WORK/x.in"
used_pool_check g pmem
expect "[g] under log.channel.type=pmem the shim does speak on the broker's output (so f's silence means something)" \
	grep -qE '^pafka\[[0-9]+\]: active' "${E2E_DIR[g]}/broker.out"
expect "[g] clean stop" e2e_stop g
E2E_ENV[g]=${E2E_ENV[g]/PAFKA_LOG_CHANNEL_TYPE=pmem/PAFKA_LOG_CHANNEL_TYPE=file}
e2e_start g 60 >"$E2E_WORK/refusal.out" 2>&1
rc=$?
e2e_alive g && e2e_kill g
expect "[g] log.channel.type=file refuses a log dir whose segments are in a pool (the broker did not start)" test $rc -ne 0
msg=$(grep -m1 'log.channel.type=file' "${E2E_DIR[g]}/broker.out")
echo "# shim: $msg"
expect "[g] ... with a message naming log.channel.type=file and the pool" test -n "$msg"
E2E_ENV[g]=${E2E_ENV[g]/PAFKA_LOG_CHANNEL_TYPE=file/PAFKA_LOG_CHANNEL_TYPE=pmem}
e2e_start g || die "broker g start (pmem again)"
consume g x "$E2E_WORK/x.out" || notok "[g] consume x"
run_check "g after the refusal" py verify 2000 1 <"$E2E_WORK/x.out"
exit 0

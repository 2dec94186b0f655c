#!/bin/bash
# tests/e2e/case-flush.sh - flush.messages=1 (Kafka fsyncs the segment after every append) under the shim
# (pmem), where an fsync of pool-resident bytes persists the pool alone and the segment's size is durable
# in its pool record, not in the log-dir file.
#  1. the acked Java producer (acks=all) writes N records at a fixed rate to a 3-partition topic with
#     flush.messages=1; while it runs the broker is SIGKILLed;
#  2. with the broker down, the slow tier loses more than a power loss could take: every active segment's
#     log-dir file is cut to 0 bytes (its bytes are all in the pool, so only its size is at stake);
#  3. the broker starts again (the shim restores each file's size from its record and logs it, before
#     Kafka reads a size) while the producer retries; every acknowledged record is there, intact, exactly
#     once, at its acknowledged offset; the pool has no block of a vanished file.
# The active segments' .index/.timeindex, which Kafka msyncs at every flush too, are mapped from the pool.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin flush
N=${E2E_FLUSH_RECORDS:-12000}
RATE=${E2E_FLUSH_RATE:-1500}

e2e_config b 1 ""
e2e_shim b pmem 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim"
topic b fl 3 flush.messages=1 || die "create topic fl (flush.messages=1)"

py gen 0 "$N" 61 >"$E2E_WORK/a.in"
E2E_TOOL_TIMEOUT=240 tool produce "${E2E_BOOT[b]}" fl "$E2E_WORK/a.acks" "$RATE" <"$E2E_WORK/a.in" 2>"$E2E_WORK/a.err" &
prod=$!
# (the producer flushes its ack file every 500 acknowledgements)
nacks() { grep -c '^ack' "$E2E_WORK/a.acks" 2>/dev/null || echo 0; }
acked() { [ "$(nacks)" -ge $((RATE * 2)) ]; }
poll "the producer is under way ($((RATE * 2))+ records acknowledged, each flushed)" 90 acked
before=$(nacks)
s=$(pool_summary b)
expect "the index files Kafka maps are in the pool too (index_files=$(kv index_files "$s"), index_blocks=$(kv index_blocks "$s"))" \
	test "$(kv index_blocks "$s")" -gt 0
e2e_kill b
note "SIGKILL with $before of $N records acknowledged"

# ---- the slow tier loses every active segment's size (the broker is down; no process holds them)
cut=0
for d in "${E2E_DIR[b]}"/logs/fl-*; do
	seg=$(find "$d" -maxdepth 1 -name '*.log' | sort | tail -n 1)
	[ -n "$seg" ] || continue
	note "$(basename "$d")/$(basename "$seg"): $(stat -c %s "$seg") bytes on disk, cut to 0"
	LD_PRELOAD= truncate -s 0 "$seg" && cut=$((cut + 1))
done
expect "the log-dir files of the 3 active segments were cut to 0 bytes ($cut)" test "$cut" -eq 3

e2e_start b || die "broker start #2 (after SIGKILL and the lost sizes)"
restored=$(grep -c 'its durable size in the pool [0-9]*: extended to it' "${E2E_DIR[b]}/broker.out")
expect "the shim restored the segments' sizes from the pool ($restored files extended)" test "$restored" -ge 3
grep -h 'durable size in the pool' "${E2E_DIR[b]}/broker.out" | head -n 3 | sed 's/^/# /'
pass_wait=0
wait "$prod" && pass_wait=1
expect "producer finished ($(tail -n1 "$E2E_WORK/a.err" | sed 's/^E2eTool produce: //'))" test "$pass_wait" = 1 -o -s "$E2E_WORK/a.acks"
na=$(grep -c '^ack' "$E2E_WORK/a.acks")
expect "records were acknowledged before ($before) and after the crash ($na of $N in all)" \
	test "$before" -lt "$na" -a "$na" -gt $((N / 2))
consume b fl "$E2E_WORK/a.out" || notok "consume fl"
run_check "after SIGKILL and the lost sizes" py verify-acked "$E2E_WORK/a.acks" "$E2E_WORK/a.in" 3 <"$E2E_WORK/a.out"
used_pool_check b "after the restart"
s=$(pool_summary b)
expect "no pool block belongs to a vanished file (missing_blocks=$(kv missing_blocks "$s"))" test "$(kv missing_blocks "$s")" = 0

expect "clean stop" e2e_stop b
no_errors b
exit 0

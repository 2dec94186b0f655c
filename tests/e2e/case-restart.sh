#!/bin/bash
# tests/e2e/case-restart.sh - restarts under the shim (pmem; broker-wide log.preallocate=true, so every
# new segment is setLength()ed to segment.bytes and a crash leaves preallocated zeros for Kafka's
# recovery to cut off).
#  1. the acked Java producer writes N1 records (acks=all); every acknowledged record is checked at its
#     acknowledged partition/offset; clean stop (pool closed: writer_pid 0, tests/kafka/poolcheck.py
#     --stopped), start, the same records byte for byte;
#  2. the producer writes N2 more at a fixed rate; while it runs the broker is SIGKILLed and started again
#     (the producer retries meanwhile); afterwards every record acknowledged before or after the crash
#     is there, intact, exactly once, at its acknowledged offset; no pool block is left to a vanished file.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin restart
N1=${E2E_RESTART_RECORDS:-10000}
N2=${E2E_RESTART_CRASH_RECORDS:-20000}
RATE=${E2E_RESTART_RATE:-2000}

e2e_config b 1 "" "log.preallocate=true"
e2e_shim b pmem 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim"
topic b rs 3 || die "create topic rs"

# poolcheck LABEL [--stopped]: tests/kafka/poolcheck.py (header, geometry, orphans, sparse biggest segment)
poolcheck() {
	local label=$1; shift
	python3 "$E2E_TOP/tests/kafka/poolcheck.py" "${E2E_POOL[b]}" "${E2E_DIR[b]}/logs" "$@" >"$E2E_WORK/poolcheck.out" 2>&1
	sed -e "s/^PASS: /  ok - [$label] /" -e "s/^FAIL: /  not ok - [$label] /" "$E2E_WORK/poolcheck.out" |
		grep -v '^#   rec seq' | tee "$E2E_WORK/poolcheck.l"
	tally "$E2E_WORK/poolcheck.l"
}

py gen 0 "$N1" 51 >"$E2E_WORK/a.in"
tool produce "${E2E_BOOT[b]}" rs "$E2E_WORK/a.acks" 0 <"$E2E_WORK/a.in" 2>"$E2E_WORK/a.err"
rc=$?
expect "producer: all $N1 records acknowledged (acks=all)" test $rc -eq 0
consume b rs "$E2E_WORK/a.out" || notok "consume rs"
run_check "produced" py verify-acked "$E2E_WORK/a.acks" "$E2E_WORK/a.in" 3 <"$E2E_WORK/a.out"
used_pool_check b produced

# ---- clean stop / start
expect "clean stop (SIGTERM)" e2e_stop b
expect "clean shutdown marker written" test -e "${E2E_DIR[b]}/logs/.kafka_cleanshutdown"
poolcheck "clean stop" --stopped
e2e_start b || die "broker start #2 (after the clean stop)"
consume b rs "$E2E_WORK/a2.out" || notok "consume rs"
run_check "after clean restart" py verify-acked "$E2E_WORK/a.acks" "$E2E_WORK/a.in" 3 <"$E2E_WORK/a2.out"
expect "after the clean restart the records are identical to before" same_records "$E2E_WORK/a.out" "$E2E_WORK/a2.out"
used_pool_check b "clean restart"

# ---- SIGKILL during an acks=all produce
py gen "$N1" "$N2" 52 >"$E2E_WORK/b.in"
E2E_TOOL_TIMEOUT=240 tool produce "${E2E_BOOT[b]}" rs "$E2E_WORK/b.acks" "$RATE" <"$E2E_WORK/b.in" 2>"$E2E_WORK/b.err" &
prod=$!
# (the producer flushes its ack file every 500 acknowledgements)
nacks() { grep -c '^ack' "$E2E_WORK/b.acks" 2>/dev/null || echo 0; }
acked() { [ "$(nacks)" -ge $((RATE / 2)) ]; }
poll "the producer is under way ($((RATE / 2))+ records acknowledged)" 60 acked
before=$(nacks)
e2e_kill b
note "SIGKILL with $before of $N2 records acknowledged; restarting while the producer retries"
e2e_start b || die "broker start #3 (after SIGKILL)"
pass_wait=0
wait "$prod" && pass_wait=1
expect "producer finished ($(tail -n1 "$E2E_WORK/b.err" | sed 's/^E2eTool produce: //'))" test "$pass_wait" = 1 -o -s "$E2E_WORK/b.acks"
cat "$E2E_WORK/a.acks" "$E2E_WORK/b.acks" >"$E2E_WORK/all.acks"
cat "$E2E_WORK/a.in" "$E2E_WORK/b.in" >"$E2E_WORK/all.in"
nb=$(grep -c '^ack' "$E2E_WORK/b.acks")
expect "records were acknowledged before ($before) and after the crash ($nb of $N2 in all)" \
	test "$before" -lt "$N2" -a "$nb" -gt $((N2 / 2))
consume b rs "$E2E_WORK/c.out" || notok "consume rs"
run_check "after SIGKILL" py verify-acked "$E2E_WORK/all.acks" "$E2E_WORK/all.in" 3 <"$E2E_WORK/c.out"
used_pool_check b "after SIGKILL"
s=$(pool_summary b)
expect "no pool block belongs to a vanished file after the crash (missing_blocks=$(kv missing_blocks "$s"))" \
	test "$(kv missing_blocks "$s")" = 0
grep -h 'pafka' "${E2E_DIR[b]}/broker.out" | grep -i 'recover' | tail -n 2 | sed 's/^/# /'

# ---- and once more cleanly
expect "final clean stop" e2e_stop b
poolcheck final --stopped
no_errors b
exit 0

#!/bin/bash
# tests/e2e/case-retention.sh - segment roll and retention under the shim (pmem). Topic "ret" (1 partition,
# 1 MiB segments, file.delete.delay.ms=1000) gets ~10 MB; pool usage is measured; then retention.bytes
# (2 MiB) makes Kafka rename the oldest segments to .deleted and delete them asynchronously: the pool's
# used blocks must come back down (bounded polling) with no block left to a file that is gone, and the
# retained records must be the exact suffix of what was produced. Then more records and retention.ms:
# the log ages out, the pool empties of this topic again.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin retention
N=${E2E_RETENTION_RECORDS:-12000}
M=2000

e2e_config b 1 ""
e2e_shim b pmem 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim"
topic b ret 1 segment.bytes=1048576 file.delete.delay.ms=1000 retention.bytes=-1 retention.ms=-1 ||
	die "create topic ret"

# ret_blocks: pool blocks held by ret-0's files
ret_blocks() { py pool files "${E2E_POOL[b]}" "${E2E_DIR[b]}/logs" | awk '$5 ~ /\/ret-0\// { s += $4 } END { print s + 0 }'; }
nsegs() { ls "${E2E_DIR[b]}/logs/ret-0/" | grep -c '^[0-9]\{20\}\.log$'; }

py gen 0 "$N" 21 >"$E2E_WORK/ret.in"
expect "kcat produced $N records to ret" produce b ret "$E2E_WORK/ret.in" -p 0
consume b ret "$E2E_WORK/ret.all.out" || notok "consume ret"
run_check "before retention" py verify "$N" 1 <"$E2E_WORK/ret.all.out"
B1=$(ret_blocks) S1=$(nsegs) U1=$(pool_used b)
note "ret-0: $S1 segments, $B1 pool blocks; pool used $U1"
expect "segments rolled: ret-0 has $S1 >= 8 segments" test "$S1" -ge 8
expect "ret-0's segments hold $B1 >= 8 pool blocks" test "$B1" -ge 8
used_pool_check b before

# ---- retention.bytes
tool admin "${E2E_BOOT[b]}" alter ret retention.bytes=2097152 2>"$E2E_WORK/alter.err" || die "alter retention.bytes"
saw_deleted=0
settled_bytes() {
	ls "${E2E_DIR[b]}/logs/ret-0/" | grep -q '\.deleted$' && saw_deleted=1
	local s b
	b=$(ret_blocks)
	s=$(pool_summary b)
	[ "$(nsegs)" -le 4 ] && ! ls "${E2E_DIR[b]}/logs/ret-0/" | grep -q '\.deleted$' &&
		[ "$b" -le 4 ] && [ "$(kv missing_blocks "$s")" = 0 ] && [ "$(kv used "$s")" -le $((U1 - B1 + 4)) ]
}
poll "retention.bytes: old segments deleted (.deleted gone) and their pool blocks freed" 90 settled_bytes
B2=$(ret_blocks) U2=$(pool_used b)
note "after retention.bytes: ret-0 has $(nsegs) segments, $B2 pool blocks (was $B1); pool used $U2 (was $U1); a .deleted file was seen: $saw_deleted"
expect "pool used blocks came back down: $U1 -> $U2" test "$U2" -lt "$U1"
consume b ret "$E2E_WORK/ret.bytes.out" || notok "consume ret"
run_check "after retention.bytes" py verify-suffix "$N" <"$E2E_WORK/ret.bytes.out"
kept=$(wc -l <"$E2E_WORK/ret.bytes.out")
expect "retention deleted records ($kept of $N left)" test "$kept" -lt "$N" -a "$kept" -gt 0
read -r _ lso leo < <(tool admin "${E2E_BOOT[b]}" offsets ret 2>/dev/null)
expect "log start offset $lso == first retained record, end offset $leo == $N" \
	test "${lso:-x}" = "$(head -n1 "$E2E_WORK/ret.bytes.out" | cut -d' ' -f2)" -a "${leo:-x}" = "$N"
used_pool_check b "after retention.bytes"

# ---- retention.ms: more records, then everything older than 2 s ages out (the active segment too)
py gen "$N" "$M" 22 >"$E2E_WORK/ret2.in"
expect "kcat produced $M more records" produce b ret "$E2E_WORK/ret2.in" -p 0
T=$((N + M))
consume b ret "$E2E_WORK/ret.more.out" || notok "consume ret"
run_check "more records" py verify-suffix "$T" <"$E2E_WORK/ret.more.out"
sleep 2 # the records must be older than retention.ms (a wait on the clock, not on the broker)
tool admin "${E2E_BOOT[b]}" alter ret retention.bytes=-1 retention.ms=1000 2>"$E2E_WORK/alter.err" || die "alter retention.ms"
settled_ms() {
	local s
	s=$(pool_summary b)
	[ "$(ret_blocks)" -le 1 ] && [ "$(kv missing_blocks "$s")" = 0 ] &&
		! ls "${E2E_DIR[b]}/logs/ret-0/" | grep -q '\.deleted$' &&
		read -r _ lso _ < <(tool admin "${E2E_BOOT[b]}" offsets ret 2>/dev/null) && [ "$lso" = "$T" ]
}
poll "retention.ms: every record aged out (log start offset $T) and the topic's pool blocks freed" 90 settled_ms
U3=$(pool_used b)
note "after retention.ms: ret-0 has $(nsegs) segments, $(ret_blocks) pool blocks; pool used $U3"
consume b ret "$E2E_WORK/ret.ms.out" || notok "consume ret"
expect "nothing left to consume after retention.ms" test ! -s "$E2E_WORK/ret.ms.out"
read -r _ lso leo < <(tool admin "${E2E_BOOT[b]}" offsets ret 2>/dev/null)
expect "end offset still $T (log start $lso)" test "${leo:-x}" = "$T"

# ---- and the topic keeps working: a last batch goes through the pool again
py gen "$T" 500 23 >"$E2E_WORK/ret3.in"
expect "kcat produced 500 more records" produce b ret "$E2E_WORK/ret3.in" -p 0
consume b ret "$E2E_WORK/ret.last.out" || notok "consume ret"
run_check "after retention.ms" py verify-suffix "$((T + 500))" <"$E2E_WORK/ret.last.out"
expect "exactly the 500 new records are there" test "$(wc -l <"$E2E_WORK/ret.last.out")" -eq 500
used_pool_check b end
no_errors b
exit 0

#!/bin/bash
# tests/e2e/case-delete.sh - topic deletion under the shim (pmem). Kafka renames each partition directory
# of a deleted topic to <topic>-<p>.<uuid>-delete while its segments are still open, and deletes the
# files later (file.delete.delay.ms). The pool space of the deleted topic must come back (bounded polling)
# with no block left to a file that is gone, and an unrelated topic must stay intact and pool-resident.
# Then a topic of the same name is created again and works.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin delete
N=${E2E_DELETE_RECORDS:-12000}

e2e_config b 1 ""
e2e_shim b pmem 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim"
topic b keep 1 || die "create topic keep"
topic b del 3 || die "create topic del"

py gen 0 2000 41 >"$E2E_WORK/keep.in"
py gen 0 "$N" 42 >"$E2E_WORK/del.in"
expect "kcat produced 2000 records to keep" produce b keep "$E2E_WORK/keep.in"
expect "kcat produced $N records to del" produce b del "$E2E_WORK/del.in"
consume b del "$E2E_WORK/del.out" || notok "consume del"
run_check "del before deletion" py verify "$N" 3 <"$E2E_WORK/del.out"
used_pool_check b "before deletion"

topic_blocks() { py pool files "${E2E_POOL[b]}" "${E2E_DIR[b]}/logs" | awk -v t="/$1-" 'index($5, t) { s += $4 } END { print s + 0 }'; }
DB=$(topic_blocks del) U1=$(pool_used b)
note "del holds $DB pool blocks; pool used $U1"
expect "the topic to delete holds pool blocks ($DB >= 10)" test "$DB" -ge 10

# watch the log dir while deleting: the renamed *-delete directories should show up (not a check: they
# may come and go between two looks)
(
	for ((i = 0; i < 200; i++)); do
		ls "${E2E_DIR[b]}/logs" | grep -- '-delete$' && break
		sleep 0.05
	done
) >"$E2E_WORK/renamed.txt" 2>/dev/null &
watch=$!
expect "topic del deleted (kafka Admin deleteTopics)" tool admin "${E2E_BOOT[b]}" delete del
wait $watch
note "renamed partition directories seen: $(tr '\n' ' ' <"$E2E_WORK/renamed.txt")"

gone() {
	local s
	s=$(pool_summary b)
	! ls "${E2E_DIR[b]}/logs" | grep -q '^del-' && [ "$(kv missing_blocks "$s")" = 0 ] &&
		[ "$(kv used "$s")" -le $((U1 - DB)) ]
}
poll "the deleted topic's directories are gone and its $DB pool blocks are free" 90 gone
U2=$(pool_used b)
note "pool used $U1 -> $U2 blocks"
expect "pool used blocks came back: $U1 -> $U2 (freed >= $DB)" test $((U1 - U2)) -ge "$DB"

consume b keep "$E2E_WORK/keep.out" || notok "consume keep"
run_check "keep after deletion" py verify 2000 1 <"$E2E_WORK/keep.out"
used_pool_check b "after deletion"

# the same name again
topic b del 3 || die "re-create topic del"
py gen 0 3000 43 >"$E2E_WORK/del2.in"
expect "kcat produced 3000 records to the new del" produce b del "$E2E_WORK/del2.in"
consume b del "$E2E_WORK/del2.out" || notok "consume del"
run_check "new del" py verify 3000 3 <"$E2E_WORK/del2.out"
no_errors b
exit 0

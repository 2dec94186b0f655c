#!/bin/bash
# tests/e2e/case-txn.sh - transactions under the shim (pmem). The Java producer (E2eTool txn) runs 30
# transactions of 200 records over 3 partitions: every third one aborted (after its records reached the
# log), the others committed. A read_committed consumer must see exactly the committed records, a
# read_uncommitted one every record including the aborted ones (so they really were in the segments).
# After a clean restart (the broker reloads producer state and the aborted-transaction index from the
# pool-resident segments) read_committed must see exactly the same again.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin txn
NTX=30 PER=200
TOTAL=$((NTX * PER))

e2e_config b 1 ""
e2e_shim b pmem 256M
e2e_format b || die "format"
e2e_start b || die "broker start under the shim"
topic b tx 3 || die "create topic tx"

tool txn "${E2E_BOOT[b]}" tx e2e-txn-1 $NTX $PER "$E2E_WORK/committed.txt" 2>"$E2E_WORK/txn.err"
rc=$?
expect "transactional producer: $NTX transactions ($(grep -o '[0-9]* committed, [0-9]* aborted' "$E2E_WORK/txn.err"))" test $rc -eq 0
[ $rc -eq 0 ] || tail -n 5 "$E2E_WORK/txn.err"
seq 0 $((TOTAL - 1)) >"$E2E_WORK/all.txt"
NC=$(wc -l <"$E2E_WORK/committed.txt")
expect "$NC of $TOTAL records committed (two thirds)" test "$NC" -eq $((TOTAL - TOTAL / 3))

check_committed() {
	local label=$1
	consume b tx "$E2E_WORK/rc.$label.out" -X isolation.level=read_committed || notok "[$label] read_committed consume"
	run_check "$label read_committed" py verify-set "$E2E_WORK/committed.txt" 3 --gaps <"$E2E_WORK/rc.$label.out"
	consume b tx "$E2E_WORK/ru.$label.out" -X isolation.level=read_uncommitted || notok "[$label] read_uncommitted consume"
	run_check "$label read_uncommitted" py verify-set "$E2E_WORK/all.txt" 3 --gaps <"$E2E_WORK/ru.$label.out"
}
check_committed first
used_pool_check b first
expect "the transaction state log exists (__transaction_state)" test -d "${E2E_DIR[b]}/logs/__transaction_state-0"
expect "the aborted transactions are indexed (.txnindex files not empty)" \
	test -n "$(find "${E2E_DIR[b]}/logs" -path '*/tx-*' -name '*.txnindex' -size +0)"

expect "clean stop" e2e_stop b
e2e_start b || die "broker restart"
check_committed restart
used_pool_check b restart
# Transactions v2 (Kafka 4.1+, KAFKA-18202): a batch with a non-zero sequence that reaches a partition
# before the transaction's first batch is rejected with a retriable OutOfOrderSequenceException, which the
# ReplicaManager logs at ERROR ("Expected sequence 0 ... no existing state", or "Out of order sequence
# number" for a later batch of the same race); the producer retries (the exact record sets above are the
# proof). Any other ERROR still fails the case.
no_errors b 'Error processing append operation on partition .*tx-[0-9]+ .*\|\| org.apache.kafka.common.errors.OutOfOrderSequenceException: (.*Expected sequence 0 for transactions v2 idempotent producer with no existing state|Out of order sequence number for producer [0-9]+ at offset [0-9]+ in partition tx-[0-9]+)'
exit 0

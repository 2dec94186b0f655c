#!/bin/bash
# tests/e2e/case-scale.sh - a broker with many partitions, with and without the shim, side by side (not in
# the default case list; tests/e2e/scale.sh runs it, `make scale`). Each broker (v: no preload, s: the shim,
# log.channel.type=tiered) gets one topic of E2E_SCALE_PARTITIONS partitions (2000) and
# E2E_SCALE_ROUNDS produce rounds (3) of E2E_SCALE_RECORDS records (40000, keys spread over every
# partition), the topic rolling its segments by time (segment.ms) so that every partition ends with a few
# segments, each with its .index and .timeindex (Kafka's default 10 MiB preallocated indexes). The figures,
# per broker: the last round's produce throughput (the first one's waits on the producer's retries right after
# the topic's creation), a full consume's throughput, then a clean restart: the time until the broker
# answers, its descriptors and resident memory once up (its own, and the shared pages of the pool), and
# (shim) the pool's state. Checks: every acknowledged record reads back on both, also after the restart, and
# the shim's pool is consistent; sends the producer gave up on (a few, right after the topic's creation, on
# both brokers) are counted (unacked). The waits between rounds let segment.ms pass (time-based rolling): they
# choose when, they order nothing.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin scale
P=${E2E_SCALE_PARTITIONS:-2000}
ROUNDS=${E2E_SCALE_ROUNDS:-3}
PER=${E2E_SCALE_RECORDS:-40000}
ROLL_MS=${E2E_SCALE_ROLL_MS:-60000}
POOL=${E2E_SCALE_POOL:-4G}
export E2E_BROKER_HEAP=${E2E_BROKER_HEAP:-1536m}

e2e_config v 1 "" "num.partitions=1"
e2e_shim v none
e2e_config s 1 "" "num.partitions=1"
e2e_shim s tiered "$POOL" PAFKA_STORAGE_MIGRATE_THRESHOLD=0.7
e2e_format v && e2e_format s || die "format"

fds_of() { ls "/proc/${E2E_PID[$1]}/fd" 2>/dev/null | wc -l; }
# the broker's resident memory: its own (anonymous: heap, the shim's tables) and shared (the pool's pages,
# which live in the fast tier's file system, not in the broker)
rss_mib() { awk '/^RssAnon:/ { a = $2 } /^RssShmem:/ { m = $2 } /^RssFile:/ { f = $2 }
	END { printf "anon %d MiB, shared %d MiB", a / 1024, (m + f) / 1024 }' "/proc/${E2E_PID[$1]}/status" 2>/dev/null; }
now_ms() { date +%s%3N; }
declare -A F
: >"$E2E_WORK/all.in"
for ((r = 0; r < ROUNDS; r++)); do
	py gen $((r * PER)) "$PER" $((300 + r)) 100 300 $((P * 20)) >>"$E2E_WORK/all.in"
done
for b in ${E2E_SCALE_BROKERS:-v s}; do
	t=$(now_ms)
	e2e_start "$b" 300 || die "broker $b start"
	topic "$b" scale "$P" segment.ms="$ROLL_MS" || die "create topic scale ($P partitions) on $b"
	F[$b.create_s]=$(( ($(now_ms) - t) / 1000 ))
	: >"$E2E_WORK/$b.acks"
	F[$b.unacked]=0
	for ((r = 0; r < ROUNDS; r++)); do
		[ "$r" -gt 0 ] && sleep "$((ROLL_MS / 1000 + 1))" # let segment.ms pass: the next append rolls
		sed -n "$((r * PER + 1)),$(((r + 1) * PER))p" "$E2E_WORK/all.in" >"$E2E_WORK/r.in"
		t=$(now_ms)
		if ! E2E_TOOL_TIMEOUT=900 tool produce "${E2E_BOOT[$b]}" scale "$E2E_WORK/r.acks" <"$E2E_WORK/r.in" 2>"$E2E_WORK/r.err"; then
			# Right after 2000 partitions are created Kafka's idempotent producer loses a few sends on either
			# broker (NOT_LEADER_OR_FOLLOWER, then OUT_OF_ORDER_SEQUENCE_NUMBER for the batches behind them):
			# they were never acknowledged, so they are counted, not lost; more than 1 % fails the case.
			last=$(tail -n1 "$E2E_WORK/r.err")
			failed=$(sed -n 's/.*failed \([0-9]*\).*/\1/p' <<<"$last")
			if [ -n "$failed" ] && [ "$failed" -le $((PER / 100)) ]; then
				F[$b.unacked]=$((${F[$b.unacked]:-0} + failed))
			else
				notok "[$b] produce round $r ($last)"
			fi
		fi
		ms=$(($(now_ms) - t))
		cat "$E2E_WORK/r.acks" >>"$E2E_WORK/$b.acks"
		[ "$r" = $((ROUNDS - 1)) ] && F[$b.produce]=$(awk -v n="$PER" -v ms="$ms" -v f="$E2E_WORK/r.in" 'BEGIN {
			while ((getline l < f) > 0) b += length(l); printf "%.0f rec/s %.1f MiB/s", n * 1000 / ms, b * 1000 / ms / 1048576 }')
	done
	t=$(now_ms)
	consume "$b" scale "$E2E_WORK/$b.c1" || notok "[$b] consume"
	ms=$(($(now_ms) - t))
	F[$b.consume]=$(awk -v ms="$ms" -v f="$E2E_WORK/$b.c1" 'BEGIN { while ((getline l < f) > 0) { n++; b += length(l) }
		printf "%.0f rec/s %.1f MiB/s", n * 1000 / ms, b * 1000 / ms / 1048576 }')
	run_check "[$b] every acknowledged record" py verify-acked "$E2E_WORK/$b.acks" "$E2E_WORK/all.in" "$P" <"$E2E_WORK/$b.c1"
	F[$b.segments]=$(find "${E2E_DIR[$b]}/logs" -name '*.log' -path '*scale-*' | wc -l)
	F[$b.fds_before]=$(fds_of "$b")
	expect "[$b] clean stop" e2e_stop "$b" 120
	t=$(now_ms)
	e2e_start "$b" 600 || die "broker $b restart"
	F[$b.restart_s]=$(awk -v ms="$(($(now_ms) - t))" 'BEGIN { printf "%.1f", ms / 1000 }')
	F[$b.fds]=$(fds_of "$b")
	F[$b.rss]=$(rss_mib "$b")
	consume "$b" scale "$E2E_WORK/$b.c2" || notok "[$b] consume after the restart"
	expect "[$b] after the restart the records are identical" same_records "$E2E_WORK/$b.c1" "$E2E_WORK/$b.c2"
	if [ "$b" = s ]; then
		s=$(pool_summary s)
		F[s.pool]="used $(kv used "$s") of $(kv nblocks "$s") blocks, $(kv pool_files "$s") files in the pool, $(kv slow_files "$s") on the slow tier, $(kv index_files "$s") index files in the pool"
		used_pool_check s "after the restart"
	fi
	expect "[$b] final clean stop" e2e_stop "$b" 120
done
note "scale: $P partitions, $ROUNDS rounds of $PER records, segments rolled every ${ROLL_MS} ms (fast tier: tmpfs standing in for PMem)"
for k in create_s produce unacked consume segments fds_before restart_s fds rss; do
	note "$(printf '%-12s vanilla: %-28s shim: %s' "$k" "${F[v.$k]}" "${F[s.$k]}")"
done
note "pool: ${F[s.pool]}"
{
	echo "partitions=$P rounds=$ROUNDS records_per_round=$PER roll_ms=$ROLL_MS"
	for k in create_s produce unacked consume segments fds_before restart_s fds rss; do
		echo "$k vanilla=${F[v.$k]} shim=${F[s.$k]}"
	done
	echo "pool ${F[s.pool]}"
} >"$E2E_WORK/scale.txt"
# (Kafka logs each OUT_OF_ORDER_SEQUENCE_NUMBER it answers, see the produce rounds, as an ERROR; and at a
# restart a controller's registration it answers before it has caught up with the metadata log)
for b in ${E2E_SCALE_BROKERS:-v s}; do
	no_errors "$b" 'OutOfOrderSequenceException|\[ControllerApis nodeId=[0-9]+\] Unexpected error handling request RequestHeader\(apiKey=CONTROLLER_REGISTRATION'
done
exit 0

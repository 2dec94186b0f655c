#!/bin/sh
# tests/cli/metrics.sh: the shim's own Prometheus endpoint (pafka.metrics.port). A writer under the shim
# serves /metrics on 127.0.0.1; the text must pass promtool (or the format check when promtool is absent),
# report the pool's used bytes as the CLI does and the bytes written to the pool, answer 404 elsewhere,
# and match `pafka status --prometheus` in its metric names. The writer's heartbeat is a recent Unix time
# and no metadata is damaged; then a record crafted to fail its check (the writer refuses its file) is
# counted by both, and a damaged block entry (a writer refuses the pool) by `pafka status`.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
command -v python3 >/dev/null || skip "python3 is needed to fetch /metrics"
cli_env 64M
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PAFKA_METRICS_PORT=$port
hold_start w "$L/topic-0/$SEG0" 3000000 7 w "$L/topic-1/$SEG0" 1234567 8
unset PAFKA_METRICS_PORT
fetch() { python3 - "$port" "$1" <<'PY'
import sys, urllib.request, urllib.error
try:
    r = urllib.request.urlopen("http://127.0.0.1:%s%s" % (sys.argv[1], sys.argv[2]), timeout=10)
    print(r.status); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code)
PY
}
fetch /metrics >"$CLI_TMP/m"
[ "$(head -1 "$CLI_TMP/m")" = 200 ] || fail "GET /metrics did not answer 200: $(head -3 "$CLI_TMP/m")"
tail -n +2 "$CLI_TMP/m" >"$CLI_TMP/metrics.txt"
if command -v promtool >/dev/null; then
	promtool check metrics <"$CLI_TMP/metrics.txt" >"$CLI_TMP/pt" 2>&1 || { cat "$CLI_TMP/pt"; fail "promtool rejects the endpoint's text"; }
else
	python3 "$top_src/tests/cli/promcheck.py" "$CLI_TMP/metrics.txt" || fail "the endpoint's text is not valid exposition (promtool absent: format check)"
fi
written=$(sed -n 's/^pafka_bytes_written_total{tier="pool"} //p' "$CLI_TMP/metrics.txt")
[ "${written:-0}" -ge 4234567 ] || fail "pafka_bytes_written_total{tier=\"pool\"} is '${written}', expected >= 4234567"
files=$(sed -n 's/^pafka_tier_files{tier="pool"} //p' "$CLI_TMP/metrics.txt")
[ "$files" = 2 ] || fail "pafka_tier_files{tier=\"pool\"} is '$files', expected 2"
used=$(sed -n 's/^pafka_pool_used_bytes{[^}]*} //p' "$CLI_TMP/metrics.txt")
[ "${used:-0}" -gt 0 ] || fail "pafka_pool_used_bytes is '$used'"
run_rc 0 "$PAFKA" status --prometheus
cli_used=$(sed -n 's/^pafka_pool_used_bytes{[^}]*} //p' "$OUT")
[ "$cli_used" = "$used" ] || fail "the endpoint says $used used bytes, pafka status says $cli_used"
for name in $(sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$OUT"); do
	grep -q "^# TYPE $name " "$CLI_TMP/metrics.txt" || fail "metric $name from pafka status is missing at the endpoint"
done
[ "$(fetch /other | head -1)" = 404 ] || fail "a path other than /metrics did not get 404"
# value FILE NAME: the value of the one sample of NAME (any labels) in FILE
value() { sed -n "s/^$2\\({[^}]*}\\)\\{0,1\\} //p" "$1"; }
hb=$(value "$CLI_TMP/metrics.txt" pafka_pool_heartbeat_timestamp_seconds)
cli_hb=$(value "$OUT" pafka_pool_heartbeat_timestamp_seconds)
now=$(date +%s)
python3 -c 'import sys; hb, cli, now = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); sys.exit(not (now - 60 < hb <= cli <= now + 1))' \
	"${hb:-0}" "${cli_hb:-0}" "$now" || fail "heartbeat: the endpoint says '$hb', pafka status (later) '$cli_hb', now is $now"
for f in "$CLI_TMP/metrics.txt" "$OUT"; do
	[ "$(value "$f" pafka_pool_damaged_records)" = 0 ] || fail "$f: pafka_pool_damaged_records is not 0 on a healthy pool"
	[ "$(value "$f" pafka_pool_damaged_entries)" = 0 ] || fail "$f: pafka_pool_damaged_entries is not 0 on a healthy pool"
	[ "$(value "$f" pafka_errors_total)" = 0 ] || fail "$f: pafka_errors_total is not 0 on a healthy pool"
done
hold_stop
pass "heartbeat $hb (now $now), no damaged metadata, from the endpoint and pafka status"

run_rc 0 "$CRAFT" "$POOL" move-lo
export PAFKA_METRICS_PORT=$port
hold_start w "$L/topic-2/$SEG0" 100000 9 eio "$L/topic-0/$SEG0" eio "$L/topic-1/$SEG0"
unset PAFKA_METRICS_PORT
fetch /metrics >"$CLI_TMP/m"
[ "$(head -1 "$CLI_TMP/m")" = 200 ] || fail "GET /metrics (damaged record) did not answer 200"
[ "$(value "$CLI_TMP/m" pafka_pool_damaged_records)" = 1 ] ||
	fail "the endpoint's pafka_pool_damaged_records is '$(value "$CLI_TMP/m" pafka_pool_damaged_records)', expected 1"
run_rc 1 "$PAFKA" status --prometheus
[ "$(value "$OUT" pafka_pool_damaged_records)" = 1 ] || fail "pafka status: pafka_pool_damaged_records is not 1"
# the damaged file's read was answered EIO, and counted (the writer's counter, in the pool's live statistics)
[ "$(value "$CLI_TMP/m" pafka_errors_total)" -ge 1 ] ||
	fail "the endpoint's pafka_errors_total is '$(value "$CLI_TMP/m" pafka_errors_total)' after an EIO, expected >= 1"
[ "$(value "$OUT" pafka_errors_total)" = "$(value "$CLI_TMP/m" pafka_errors_total)" ] ||
	fail "pafka status's pafka_errors_total differs from the endpoint's"
hold_stop
run_rc 0 "$CRAFT" "$POOL" flip-entry 9
run_rc 1 "$PAFKA" status --prometheus
[ "$(value "$OUT" pafka_pool_damaged_entries)" -ge 1 ] || fail "pafka status: pafka_pool_damaged_entries is not >= 1"
pass "a damaged record: counted by the endpoint and pafka status, its EIO in pafka_errors_total; a damaged entry: by pafka status"
pass "metrics endpoint on 127.0.0.1:$port: valid exposition, $written bytes written to the pool, 404 elsewhere"

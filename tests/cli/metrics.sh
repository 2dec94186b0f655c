#!/bin/sh
# tests/cli/metrics.sh: the shim's own Prometheus endpoint (pafka.metrics.port). A writer under the shim
# serves /metrics on 127.0.0.1; the text must pass promtool (or the format check when promtool is absent),
# report the pool's used bytes as the CLI does and the bytes written to the pool, answer 404 elsewhere,
# and match `pafka status --prometheus` in its metric names.
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
hold_stop
pass "metrics endpoint on 127.0.0.1:$port: valid exposition, $written bytes written to the pool, 404 elsewhere"

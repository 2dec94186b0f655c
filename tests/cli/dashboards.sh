#!/bin/sh
# tests/cli/dashboards.sh: contrib/grafana/pafka-dashboard.json is a Grafana dashboard (JSON without
# duplicate keys; a Prometheus datasource variable DS_PROMETHEUS that every panel and target uses; instance
# and pool variables; panels with unique ids inside the 24-column grid, each but the rows with targets that
# have an expr); its exprs parse (promtool, when installed); and every metric the dashboard, the alert rules
# (contrib/prometheus/pafka-alerts.yml) and their unit tests name is served by a live shim's /metrics, with
# the labels and label values they match on (tests/cli/promrefs.py), and by `pafka status --prometheus`.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
command -v python3 >/dev/null || skip "python3 is needed"
python3 -c 'import yaml' 2>/dev/null || skip "python3's yaml module is needed (apt-get install python3-yaml)"
D=$top_src/contrib/grafana/pafka-dashboard.json
R=$top_src/contrib/prometheus/pafka-alerts.yml
T=$top_src/contrib/prometheus/pafka-alerts.test.yml
REFS="python3 $top_src/tests/cli/promrefs.py"
cli_env 64M

$REFS --selftest >"$OUT" 2>&1 || fail "promrefs.py --selftest"
pass "the metric-name extraction passes its self-test ($(cat "$OUT"))"

cp "$D" "$OUT"
json '1' >/dev/null 2>"$ERR" && [ ! -s "$ERR" ] || fail "the dashboard is not JSON (or has a key twice)"
: >"$OUT"
python3 - "$D" >"$CLI_TMP/s" 2>&1 <<'PY' || { cat "$CLI_TMP/s"; fail "the dashboard's structure"; }
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
assert d["title"] and d["uid"] and isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 36, "header"
var = {v["name"]: v for v in d["templating"]["list"]}
assert var["DS_PROMETHEUS"]["type"] == "datasource" and var["DS_PROMETHEUS"]["query"] == "prometheus", "DS_PROMETHEUS"
for v in ("instance", "pool"):
    assert var[v]["type"] == "query" and var[v]["datasource"] == DS, v
ids, n, exprs = set(), 0, 0
for p in d["panels"]:
    assert p["id"] not in ids, "panel id %s twice" % p["id"]
    ids.add(p["id"])
    g = p["gridPos"]
    assert 0 <= g["x"] and g["w"] > 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, "%s: gridPos %s" % (p["title"], g)
    if p["type"] == "row":
        continue
    n += 1
    assert p["datasource"] == DS, "%s: datasource" % p["title"]
    assert p["targets"], "%s: no targets" % p["title"]
    for t in p["targets"]:
        assert t["datasource"] == DS and t["expr"].strip() and t["refId"], "%s: target %r" % (p["title"], t)
        exprs += 1
titles = {p["title"] for p in d["panels"]}
for t in ("Pool fill", "Bytes per tier", "Write share to the pool", "Migration rate", "Migration backlog", "Spills",
          "Errors", "Head demotions and readmissions", "Writer heartbeat age", "Damaged metadata"):
    assert t in titles, "no panel %r" % t
print("%d panels, %d exprs" % (n, exprs))
PY
pass "the dashboard's structure: $(cat "$CLI_TMP/s")"

if command -v promtool >/dev/null; then
	# each expr as a recording rule, Grafana's variables replaced, so that promtool parses it
	$REFS exprs "$D" "$R" "$T" >"$CLI_TMP/exprs" || fail "promrefs.py exprs"
	python3 - "$CLI_TMP/exprs" >"$CLI_TMP/dash-rules.yml" <<'PY'
import json, re, sys
print("groups:\n  - name: dashboard\n    rules:")
for i, e in enumerate(open(sys.argv[1])):
    e = re.sub(r"\$__(rate_)?interval", "5m", e.strip())
    e = re.sub(r"\$[a-zA-Z_]+", ".*", e)
    e = re.sub(r"^label_values\((.*),\s*[a-zA-Z_]+\)$", r"\1", e)
    print("      - record: dashboard:expr_%d\n        expr: %s" % (i, json.dumps(e)))
PY
	run_rc 0 promtool check rules "$CLI_TMP/dash-rules.yml"
	out_has "SUCCESS: $(wc -l <"$CLI_TMP/exprs") rules found"
	pass "promtool parses every expr of the dashboard and the rules ($(wc -l <"$CLI_TMP/exprs"))"
else
	echo "promtool missing (apt-get install prometheus): the exprs are not parsed"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PAFKA_METRICS_PORT=$port
hold_start w "$L/topic-0/$SEG0" 3000000 7
unset PAFKA_METRICS_PORT
python3 - "$port" >"$CLI_TMP/metrics.txt" <<'PY' || fail "GET /metrics"
import sys, urllib.request
sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode())
PY
run_rc 0 "$PAFKA" status --prometheus
cp "$OUT" "$CLI_TMP/status.txt"
hold_stop
# the metrics the dashboard's panels and the alerts are about must be queried at all
set -- pafka_pool_used_bytes pafka_pool_capacity_bytes pafka_tier_bytes pafka_bytes_written_total \
	pafka_migration_bytes_total pafka_migration_backlog_bytes pafka_migrations_total pafka_migration_paused \
	pafka_spills_total pafka_errors_total pafka_head_demotions_total pafka_readmissions_total pafka_pool_in_use \
	pafka_pool_heartbeat_timestamp_seconds pafka_pool_damaged_records pafka_pool_damaged_entries up
for src in metrics.txt status.txt; do
	$REFS check "$CLI_TMP/$src" "$D" "$R" "$T" --require "$@" >"$OUT" 2>&1 ||
		fail "the dashboard or the alert rules query what $src (from $([ $src = metrics.txt ] && echo "the shim's /metrics" || echo "pafka status --prometheus")) lacks"
done
pass "every metric of the dashboard, the rules and their tests is served by the shim and pafka status: $(sed 's/.*served: //' "$OUT")"

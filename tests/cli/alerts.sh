#!/bin/sh
# tests/cli/alerts.sh: contrib/prometheus/pafka-alerts.yml passes `promtool check rules` and its unit tests
# (pafka-alerts.test.yml, `promtool test rules`); every alert has a for:, a severity label, a summary and a
# description, and its unit tests hold at least one case where it must fire and one where it must not;
# yamllint (when installed) accepts both files. Without promtool (Debian package prometheus) it skips (77).
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
command -v promtool >/dev/null || skip "promtool is needed (apt-get install prometheus)"
command -v python3 >/dev/null || skip "python3 is needed"
python3 -c 'import yaml' 2>/dev/null || skip "python3's yaml module is needed (apt-get install python3-yaml)"
P=$top_src/contrib/prometheus
CLI_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-alerts.XXXXXX")
OUT=$CLI_TMP/out ERR=$CLI_TMP/err
trap 'rm -rf "$CLI_TMP"' EXIT

run_rc 0 promtool check rules "$P/pafka-alerts.yml"
# every rule of the file was read (promtool's count against the file's own "- alert:" lines)
out_has "SUCCESS: $(grep -c '^ *- alert: ' "$P/pafka-alerts.yml") rules found"
# rule_files in the test file are relative to it
run_rc 0 promtool test rules "$P/pafka-alerts.test.yml"
out_has SUCCESS
pass "promtool check rules and promtool test rules"

python3 - "$P/pafka-alerts.yml" "$P/pafka-alerts.test.yml" >"$OUT" 2>&1 <<'PY' || fail "the rules' structure and their tests' coverage"
import sys, yaml
rules = [r for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"]]
tests = yaml.safe_load(open(sys.argv[2]))["tests"]
want = {"PafkaTargetDown", "PafkaPoolNearlyFull", "PafkaSpilling", "PafkaMigrationFailing", "PafkaMigrationStalled",
        "PafkaWriterHeartbeatLost", "PafkaPoolMetadataDamaged", "PafkaIOErrors"}
names = [r["alert"] for r in rules]
assert sorted(names) == sorted(want), names
for r in rules:
    assert r.get("for"), "%s: no for:" % r["alert"]
    assert r.get("labels", {}).get("severity") in ("warning", "critical"), "%s: severity" % r["alert"]
    a = r.get("annotations", {})
    assert a.get("summary") and a.get("description"), "%s: summary/description" % r["alert"]
cases = [c for t in tests for c in t["alert_rule_test"]]
for n in names:
    fire = [c for c in cases if c["alertname"] == n and c.get("exp_alerts")]
    quiet = [c for c in cases if c["alertname"] == n and not c.get("exp_alerts")]
    assert fire, "%s: no test where it fires" % n
    assert quiet, "%s: no test where it must not fire" % n
    # the series that fires it sits beside healthy ones in the same test, and only it fires
    for c in fire:
        t = [t for t in tests if c in t["alert_rule_test"]][0]
        insts = {s["series"].split('instance="')[1].split('"')[0] for s in t["input_series"] if 'instance="' in s["series"]}
        fired = {e["exp_labels"]["instance"] for e in c["exp_alerts"]}
        assert insts - fired, "%s: every instance of test %r fires: no healthy series" % (n, t["name"])
print("%d alerts, %d test cases" % (len(names), len(cases)))
PY
pass "every alert: for:, severity, summary, description; tests that fire it and tests that must not ($(cat "$OUT"))"

if command -v yamllint >/dev/null; then
	run_rc 0 yamllint -s -c "$top_src/contrib/.yamllint" "$P/pafka-alerts.yml" "$P/pafka-alerts.test.yml"
	pass "yamllint: the rules and their tests"
else
	echo "yamllint missing (apt-get install yamllint): not linted"
fi

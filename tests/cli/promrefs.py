#!/usr/bin/env python3
"""tests/cli/promrefs.py - the metrics that contrib/'s Grafana dashboard and Prometheus alert rules query
must exist. Usage:

  promrefs.py --selftest
  promrefs.py exprs DASHBOARD.json RULES.yml RULES_TEST.yml   print every PromQL expression, one a line
  promrefs.py check EXPOSITION DASHBOARD.json RULES.yml RULES_TEST.yml [--require NAME...]

`check` extracts the metric names (series selectors) from the dashboard's target exprs and its template
variable queries, from the rules' exprs and from the rule tests' input series, and fails (exit 1, one line
per problem) when a name is not a metric family of EXPOSITION (the text of a live /metrics); when a label
a matcher names, or a variable lists, is on none of that metric's samples (instance and job aside:
Prometheus adds them); when an equality matcher's value is on none of them (the tests' input series aside:
their values are made up); or when a --require'd name is queried nowhere. `up` (made by Prometheus) is
not checked.
"""
import json
import re
import sys

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
            "offset", "atan2"}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
                "topk", "quantile", "limitk", "limit_ratio"}
SYNTHETIC = {"up"}  # series Prometheus makes itself
TARGET_LABELS = {"instance", "job"}
IDENT = re.compile(r"(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def selectors(expr):
    """[(metric name, [(label, op, value)])] of every series selector in a PromQL expression. Raises
    ValueError on a selector without a metric name ({__name__=...} or a bare {...}), which this check
    could not follow."""
    s = expr
    # label matcher blocks, remembered by position, before anything else (their values are strings)
    blocks = {}

    def keep(m):
        key = "\x00%d\x00" % len(blocks)
        blocks[key] = m.group(0)
        return key
    s = re.sub(r'\{(?:[^{}"]|"(?:[^"\\]|\\.)*")*\}', keep, s)
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', s)  # string arguments (label_replace, ...)
    s = re.sub(r"\[[^\]]*\]", " ", s)  # ranges and subqueries: [5m], [$__rate_interval], [1h:5m]
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)  # label lists
    s = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", s)
    out = []
    for m in IDENT.finditer(s):
        name = m.group(1)
        rest = s[m.end():]
        if name in KEYWORDS or name in AGGREGATIONS or re.match(r"\s*\(", rest):
            continue  # an operator, an aggregation, a function call
        if re.fullmatch(r"(?:[0-9]+(?:ms|[smhdwy]))+|inf|nan|Inf|NaN", name):
            continue
        b = re.match(r"\s*(\x00[0-9]+\x00)", rest)
        matchers = MATCHER.findall(blocks[b.group(1)]) if b else []
        out.append((name, matchers))
    for key, block in blocks.items():
        if not re.search(r"[a-zA-Z0-9_:]\s*" + re.escape(key), s):
            raise ValueError("a selector without a metric name: %s in %r" % (block, expr))
    return out


def selftest():
    cases = {
        'sum by (instance, tier) (rate(pafka_bytes_written_total{instance=~"$instance", tier="pool"}'
        '[$__rate_interval])) / ignoring(tier) group_left sum without (tier) (pafka_x_total)':
            [("pafka_bytes_written_total", [("instance", "=~", "$instance"), ("tier", "=", "pool")]),
             ("pafka_x_total", [])],
        '(time() - pafka_pool_heartbeat_timestamp_seconds) > 60 and pafka_pool_in_use == 1':
            [("pafka_pool_heartbeat_timestamp_seconds", []), ("pafka_pool_in_use", [])],
        'up{job="pafka"} == 0': [("up", [("job", "=", "pafka")])],
        'increase(m_total{result="failed"}[15m] offset 5m) > 1e9 unless on (instance) a == bool 1':
            [("m_total", [("result", "=", "failed")]), ("a", [])],
        'max_over_time(g[1h:5m]) or vector(0) and min(h) by (pool)': [("g", []), ("h", [])],
        'a{l="}{"} + b': [("a", [("l", "=", "}{")]), ("b", [])],
    }
    for expr, want in cases.items():
        got = selectors(expr)
        if got != want:
            sys.exit("selftest: %r\n  got  %r\n  want %r" % (expr, got, want))
    got = variable_query('label_values(pafka_pool_capacity_bytes{instance=~"$instance"}, pool)')
    if got != ('pafka_pool_capacity_bytes{instance=~"$instance"}', "pool"):
        sys.exit("selftest: label_values: %r" % (got,))
    for bad in ('{__name__="pafka_spills_total"}', 'rate({job="pafka"}[5m])'):
        try:
            selectors(bad)
        except ValueError:
            continue
        sys.exit("selftest: %r was not refused" % bad)
    print("promrefs selftest: %d expressions, a label_values query, 2 refusals" % len(cases))


def variable_query(q):
    """A Grafana query variable's PromQL and the label it lists: label_values(EXPR, LABEL) gives
    (EXPR, LABEL); any other query (query_result(EXPR), a bare EXPR) its expression and None."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*", q, re.S)
    if m:
        return m.group(1), m.group(2)
    m = re.fullmatch(r"\s*query_result\((.*)\)\s*", q, re.S)
    return (m.group(1) if m else q), None


def exprs(dashboard, rules, tests):
    """[(where, expr, label)] from the three files: label is the one a dashboard variable lists, else None."""
    import yaml  # Debian python3-yaml
    out = []
    d = json.load(open(dashboard, encoding="utf-8"))

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append(("dashboard panel %r" % p.get("title"), t["expr"], None))
            walk(p.get("panels", []))
    walk(d["panels"])
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            out.append(("dashboard variable %s" % v["name"],) + variable_query(q))
    for g in yaml.safe_load(open(rules, encoding="utf-8"))["groups"]:
        for r in g["rules"]:
            out.append(("rule %s" % r.get("alert", r.get("record")), str(r["expr"]), None))
    for t in yaml.safe_load(open(tests, encoding="utf-8"))["tests"]:
        for s in t.get("input_series", []):
            out.append(("rule test %r input" % t.get("name"), s["series"], None))
        for e in t.get("promql_expr_test", []):
            out.append(("rule test %r expr" % t.get("name"), e["expr"], None))
    return out


def exposition(path):
    """{metric family: set of label names on its samples}, and {(family, label): set of values}."""
    labels, values = {}, {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) ", line)
        if m:
            labels.setdefault(m.group(1), set())
            continue
        m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? ", line)
        if not m or line.startswith("#"):
            continue
        fam = labels.setdefault(m.group(1), set())
        for k, _, v in MATCHER.findall(m.group(2) or ""):
            fam.add(k)
            values.setdefault((m.group(1), k), set()).add(v)
    return labels, values


def check(expo, dashboard, rules, tests, require):
    labels, values = exposition(expo)
    if not labels:
        sys.exit("%s: no metrics" % expo)
    problems, seen = [], set()
    for where, expr, listed in exprs(dashboard, rules, tests):
        try:
            sels = selectors(expr)
        except ValueError as e:
            problems.append("%s: %s" % (where, e))
            continue
        if not sels:
            problems.append("%s: no metric in %r" % (where, expr))
        for name, matchers in sels:
            seen.add(name)
            if name in SYNTHETIC:
                continue
            if name not in labels:
                problems.append("%s: %s is not served by the shim's /metrics" % (where, name))
                continue
            if listed and listed not in TARGET_LABELS and listed not in labels[name]:
                problems.append("%s: %s has no label %s to list" % (where, name, listed))
            for k, op, v in matchers:
                if k in TARGET_LABELS or k == "__name__":
                    continue
                if k not in labels[name]:
                    problems.append("%s: %s has no label %s" % (where, name, k))
                elif op == "=" and not where.startswith("rule test") and v not in values.get((name, k), set()):
                    problems.append("%s: no sample of %s has %s=%r" % (where, name, k, v))
    for name in require:
        if name not in seen:
            problems.append("%s is queried by neither the dashboard nor the rules" % name)
    for p in problems:
        print(p)
    if problems:
        return 1
    print("promrefs: %d metric names, all served: %s" % (len(seen - SYNTHETIC), " ".join(sorted(seen))))
    return 0


def main():
    a = sys.argv[1:]
    if a == ["--selftest"]:
        return selftest()
    if len(a) == 4 and a[0] == "exprs":
        for _, e, _ in exprs(*a[1:]):
            print(" ".join(e.split()))
        return 0
    if len(a) >= 5 and a[0] == "check":
        req = a[6:] if len(a) > 5 and a[5] == "--require" else []
        if len(a) > 5 and a[5] != "--require":
            sys.exit(__doc__)
        return check(a[1], a[2], a[3], a[4], req)
    sys.exit(__doc__)


sys.exit(main())

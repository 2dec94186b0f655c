#!/usr/bin/env python3
"""tests/cli/jsoncheck.py FILE [verbose] - check the shape of `pafka status --json` (documented in
pafka-status(1)): every required key with the right type. Prints the first problem and exits 1."""
import json
import sys

NUM = (int, float)
POOL = {
    "path": str, "dir": str, "uuid": str, "block_size": int, "capacity_bytes": int, "used_bytes": int,
    "free_bytes": int, "capacity_blocks": int, "used_blocks": int, "free_blocks": int, "files": int,
    "pool_bytes": int, "log_dirs": list, "threshold": NUM, "writer": dict, "migration": dict, "counters": dict,
}
WRITER = {"in_use": bool, "pid": (int, type(None)), "pid_alive": bool, "heartbeat_age_ms": (int, type(None))}
MIGRATION = {"state": str, "pause_requested": bool, "drain_requested": bool, "migrating": bool, "paused": bool,
             "draining": bool, "backlog_bytes": int}
COUNTERS = {"demotions": int, "promotions": int, "migration_failures": int, "migration_aborts": int,
            "bytes_demoted": int, "bytes_promoted": int, "migration_seconds": NUM, "head_demotions": int,
            "readmissions": int, "spills": int, "errors": int, "written_pool_ratio": (int, float, type(None)),
            "bytes_written": dict, "bytes_read": dict, "bytes_sent": dict}
TIER = {"files": int, "bytes": int}
PART = {"log_dir": str, "partition": str, "files": int, "bytes": int, "pool_files": int, "pool_bytes": int,
        "slow_bytes": int}


def check(obj, shape, where):
    if not isinstance(obj, dict):
        sys.exit(f"{where}: not an object")
    for k, t in shape.items():
        if k not in obj:
            sys.exit(f"{where}: missing key {k!r}")
        v = obj[k]
        if isinstance(v, bool) and t is not bool and (not isinstance(t, tuple) or bool not in t):
            sys.exit(f"{where}.{k}: a boolean where {t} was expected")
        if not isinstance(v, t):
            sys.exit(f"{where}.{k}: {type(v).__name__}, expected {t}")


def main():
    d = json.load(open(sys.argv[1]))
    verbose = "verbose" in sys.argv[2:]
    check(d, {"version": str, "log_dirs": list, "log_dirs_configured": bool, "pools": list, "tiers": dict,
              "errors": list}, "$")
    if not all(isinstance(e, str) for e in d["errors"]):
        sys.exit("$.errors: not a list of strings")
    if not d["pools"]:
        sys.exit("$.pools: empty")
    for i, p in enumerate(d["pools"]):
        w = f"$.pools[{i}]"
        check(p, POOL, w)
        check(p["writer"], WRITER, w + ".writer")
        check(p["migration"], MIGRATION, w + ".migration")
        if p["migration"]["state"] not in ("running", "paused", "draining", "stopped", "off"):
            sys.exit(f"{w}.migration.state: {p['migration']['state']!r}")
        check(p["counters"], COUNTERS, w + ".counters")
        for k in ("bytes_written", "bytes_read", "bytes_sent"):
            check(p["counters"][k], {"pool": int, "slow": int}, f"{w}.counters.{k}")
        if p["used_blocks"] + p["free_blocks"] != p["capacity_blocks"]:
            sys.exit(f"{w}: used + free != capacity (blocks)")
        if p["used_bytes"] + p["free_bytes"] != p["capacity_bytes"]:
            sys.exit(f"{w}: used + free != capacity (bytes)")
        if len(p["uuid"]) != 32:
            sys.exit(f"{w}.uuid: {p['uuid']!r}")
    check(d["tiers"], {"pool": dict, "slow": dict}, "$.tiers")
    check(d["tiers"]["pool"], TIER, "$.tiers.pool")
    check(d["tiers"]["slow"], TIER, "$.tiers.slow")
    if verbose:
        check(d, {"partitions": list}, "$")
        for i, p in enumerate(d["partitions"]):
            check(p, PART, f"$.partitions[{i}]")
    return 0


sys.exit(main())

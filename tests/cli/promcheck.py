#!/usr/bin/env python3
"""tests/cli/promcheck.py FILE - a format check of Prometheus text exposition (0.0.4) for when promtool is
missing: every sample has a # HELP and # TYPE before it, names and labels are well formed, values parse,
counters end in _total, no metric family appears twice. Prints the first problem and exits 1."""
import re
import sys

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)?\})? (\S+)$')


def main():
    helps, types, seen_samples = {}, {}, set()
    current = None
    for n, line in enumerate(open(sys.argv[1]), 1):
        line = line.rstrip("\n")
        if not line:
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                sys.exit(f"line {n}: second HELP for {name}")
            helps[name] = True
            current = name
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                sys.exit(f"line {n}: bad TYPE line")
            if parts[2] in types:
                sys.exit(f"line {n}: second TYPE for {parts[2]}")
            types[parts[2]] = parts[3]
            if parts[3] == "counter" and not parts[2].endswith("_total"):
                sys.exit(f"line {n}: counter {parts[2]} does not end in _total")
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            sys.exit(f"line {n}: not a sample: {line!r}")
        name = m.group(1)
        if name != current or name not in types or name not in helps:
            sys.exit(f"line {n}: {name} without its HELP/TYPE just before")
        try:
            float(m.group(4))
        except ValueError:
            sys.exit(f"line {n}: bad value {m.group(4)!r}")
        key = (name, m.group(2) or "")
        if key in seen_samples:
            sys.exit(f"line {n}: duplicate sample {line!r}")
        seen_samples.add(key)
        if not NAME.match(name):
            sys.exit(f"line {n}: bad name {name!r}")
    if not seen_samples:
        sys.exit("no samples")
    return 0


sys.exit(main())

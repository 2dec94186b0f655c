#!/usr/bin/env python3
"""tests/kafka/records.py - self-checking records for the real-broker smoke test.

  records.py gen START COUNT SEED          > lines "KEY:VALUE" for `kcat -P -K:`
  records.py verify TOTAL PARTITIONS       < lines "PARTITION OFFSET KEY VALUE" from `kcat -C -f '%p %o %k %s\\n'`
  records.py digest                        < lines "PARTITION OFFSET SIZE VALUE" from `kcat -C -f '%p %o %S %s\\n'`

A value is "SEQ|KEY|LEN|DATA|SUM": SEQ is the record's global sequence number (0..TOTAL-1 in produce order),
KEY its key (k0000..k0999, so a key is reused and must always land in the same partition), LEN = len(DATA),
DATA random base64 text of varied length, SUM = sha256("SEQ|KEY|DATA")[:24]. verify prints one line per
check, "PASS: what" or "FAIL: what (details)", and exits 1 if any failed. digest prints one line per
partition, "PARTITION COUNT FIRST_OFFSET LAST_OFFSET SHA256", for comparing a topic's content across restarts.
"""
import base64
import hashlib
import random
import sys

NKEYS = 1000


def checksum(seq, key, data):
    return hashlib.sha256(f"{seq}|{key}|{data}".encode()).hexdigest()[:24]


def gen(start, count, seed):
    rnd = random.Random(seed)
    out = sys.stdout
    for seq in range(start, start + count):
        key = "k%04d" % (seq % NKEYS)
        r = rnd.random()
        if r < 0.01:
            n = rnd.randint(8000, 60000)   # a few big ones span more of a segment and of a pool block
        elif r < 0.05:
            n = rnd.randint(0, 16)         # and a few tiny ones
        else:
            n = rnd.randint(100, 1500)
        data = base64.b64encode(rnd.randbytes(n * 3 // 4 + 3)).decode()[:n]
        out.write(f"{key}:{seq}|{key}|{n}|{data}|{checksum(seq, key, data)}\n")


def verify(total, nparts):
    results = []

    def check(ok, what, detail=""):
        results.append(ok)
        print(("PASS: " if ok else "FAIL: ") + what + ("" if ok or not detail else f" ({detail})"))

    lines = 0
    bad_parse, bad_sum, bad_key, bad_len = [], [], [], []
    seen = {}
    dups = 0
    key_part = {}
    key_part_bad = []
    last_off, first_off, gaps = {}, {}, []
    last_seq, order_bad = {}, []
    per_part = {}
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if not line:
            continue
        lines += 1
        try:
            p, o, k, v = line.split(" ", 3)
            p, o = int(p), int(o)
            seq_s, vkey, n_s, data, s = v.split("|")
            seq, n = int(seq_s), int(n_s)
        except ValueError:
            bad_parse.append(line[:120])
            continue
        per_part[p] = per_part.get(p, 0) + 1
        if len(data) != n:
            bad_len.append(seq)
        if checksum(seq, vkey, data) != s:
            bad_sum.append(seq)
        if vkey != k:
            bad_key.append(seq)
        if seq in seen:
            dups += 1
        seen[seq] = (p, o)
        if key_part.setdefault(k, p) != p:
            key_part_bad.append((k, key_part[k], p))
        if p in last_off:
            if o != last_off[p] + 1:
                gaps.append((p, last_off[p], o))
        else:
            first_off[p] = o
        last_off[p] = o
        if p in last_seq and seq <= last_seq[p]:
            order_bad.append((p, o, last_seq[p], seq))
        last_seq[p] = seq

    check(lines == total, f"consumed {lines} records, expected {total}", f"got {lines}")
    check(not bad_parse, "every record parses as SEQ|KEY|LEN|DATA|SUM",
          f"{len(bad_parse)} bad, first: {bad_parse[:2]}")
    check(not bad_sum and not bad_len, "every payload's checksum and length match",
          f"{len(bad_sum)} bad sums, {len(bad_len)} bad lengths, first seqs {sorted(bad_sum + bad_len)[:10]}")
    check(not bad_key, "every record's key matches the key in its payload", f"first seqs {bad_key[:10]}")
    missing = [i for i in range(total) if i not in seen]
    check(not missing and dups == 0 and len(seen) == total, "every sequence number 0..N-1 exactly once",
          f"{len(missing)} missing (first {missing[:10]}), {dups} duplicates")
    check(not key_part_bad, "each key always lands in the same partition", f"{key_part_bad[:5]}")
    check(not order_bad, "per-partition order is produce order", f"{len(order_bad)} inversions, first {order_bad[:5]}")
    check(not gaps and all(v == 0 for v in first_off.values()),
          "per-partition offsets are contiguous from 0", f"first offsets {first_off}, gaps {gaps[:5]}")
    check(len(per_part) == nparts, f"records spread over all {nparts} partitions", f"{per_part}")
    print(f"# per-partition record counts: {dict(sorted(per_part.items()))}")
    return 0 if all(results) else 1


def digest():
    parts = {}
    for raw in sys.stdin.buffer:
        p, o, _ = raw.split(b" ", 2)
        d = parts.get(int(p))
        if d is None:
            d = parts[int(p)] = [0, int(o), int(o), hashlib.sha256()]
        d[0] += 1
        d[2] = int(o)
        d[3].update(raw)
    for p in sorted(parts):
        c, f, l, h = parts[p]
        print(p, c, f, l, h.hexdigest())


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif cmd == "verify":
        sys.exit(verify(int(sys.argv[2]), int(sys.argv[3])))
    elif cmd == "digest":
        digest()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

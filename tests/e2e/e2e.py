#!/usr/bin/env python3
"""tests/e2e/e2e.py - record generation, record checkers and pool listings for the end-to-end suite.

Records use the format of tests/kafka/records.py: key "kNNNN", value "SEQ|KEY|LEN|DATA|SUM" with
SUM = sha256("SEQ|KEY|DATA")[:24]. Consumed input is kcat -f '%p %o %k %s\\n' ("PARTITION OFFSET KEY VALUE").
Checkers print "  ok - what" / "  not ok - what (detail)" lines and exit 1 if any failed. The pool is read
through tests/lib/pafkapool.py.

  gen START COUNT SEED [MIN MAX [NKEYS]]   "KEY:VALUE" lines (DATA lengths MIN..MAX, default 100..1500)
  verify TOTAL PARTS                       seqs 0..TOTAL-1 exactly once, offsets contiguous from 0, order
  verify-acked ACKS PRODUCED PARTS [MAYBE] every acked seq at its acked partition/offset; nothing foreign
                                          (MAYBE: records produced with acks=1 that may or may not survive)
  verify-suffix TOTAL                      1 partition, offset == seq, a contiguous suffix ending at TOTAL-1
  verify-set SEQFILE PARTS [--min-absent FILE]  exactly the seqs of SEQFILE (transactions: committed)
  compact-map [PRODUCED] [--clean-below P:O,...]  check, then write "KEY SEQ SUM" of the surviving value of
                                           each key to $E2E_MAP_OUT; with PRODUCED also check it equals the
                                           last produced value per key (empty value = tombstone)
  consumed-digest TOPIC                    the dump-digest lines of consumed records
  dump-digest                              < kafka DumpLogSegments --print-data-log output: check every
                                           payload, print "FILE-PARTITION COUNT FIRST LAST SHA256" lines
  pool used POOLDIR                        "USED NBLOCKS BLOCK_SIZE" (blocks)
  pool stats POOLDIR                       the header's live counters as k=v
  pool paths POOLDIR                       one line per live record: "BLOCKS PATH" (its last known path)
  pool files POOLDIR LOGDIR...             one line per managed segment file: "TIER SIZE ALLOCATED
                                           POOL_BLOCKS PATH REAL_VALID" (TIER pool|slow|mixed|empty;
                                           REAL_VALID 1: a promoted file whose real file still holds a
                                           valid copy, so it is not sparse by design); then "# totals"
  pool summary POOLDIR LOGDIR...           "used=U live=L existing_blocks=E missing_blocks=M missing_recs=R
                                           pool_files=P slow_files=S mixed_files=X sparse_pool_files=Q realvalid_pool_files=V ..."
"""
import hashlib
import os
import random
import base64
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pafkapool as pp  # noqa: E402

RESULTS = []


def check(ok, what, detail=""):
    RESULTS.append(bool(ok))
    print(("  ok - " if ok else "  not ok - ") + what + ("" if ok or not detail else f" ({detail})"))
    sys.stdout.flush()
    return ok


def done():
    return 0 if all(RESULTS) else 1


def checksum(seq, key, data):
    return hashlib.sha256(f"{seq}|{key}|{data}".encode()).hexdigest()[:24]


def gen(start, count, seed, lo=100, hi=1500, nkeys=1000):
    rnd = random.Random(seed)
    w = sys.stdout.write
    for seq in range(start, start + count):
        key = "k%04d" % (seq % nkeys)
        n = rnd.randint(lo, hi)
        data = base64.b64encode(rnd.randbytes(n * 3 // 4 + 3)).decode()[:n]
        w(f"{key}:{seq}|{key}|{n}|{data}|{checksum(seq, key, data)}\n")


def parse_value(v):
    """(seq, key, data_ok) or None when it does not parse."""
    try:
        seq_s, vkey, n_s, data, s = v.split("|")
        seq, n = int(seq_s), int(n_s)
    except ValueError:
        return None
    return seq, vkey, len(data) == n and checksum(seq, vkey, data) == s


class Consumed:
    """Parse consumed lines; collect the generic checks (parse, checksum, key, per-partition order)."""

    def __init__(self, stream):
        self.recs = []          # (p, o, seq, key, value)
        self.bad_parse, self.bad_sum, self.bad_key = [], [], []
        self.by_part = {}
        for raw in stream:
            line = raw.rstrip("\n")
            if not line:
                continue
            try:
                p, o, k, v = line.split(" ", 3)
                p, o = int(p), int(o)
            except ValueError:
                self.bad_parse.append(line[:100])
                continue
            pv = parse_value(v)
            if pv is None:
                self.bad_parse.append(line[:100])
                continue
            seq, vkey, good = pv
            if not good:
                self.bad_sum.append(seq)
            if vkey != k:
                self.bad_key.append(seq)
            self.recs.append((p, o, seq, k, v))
            self.by_part.setdefault(p, []).append((o, seq))

    def generic(self, contiguous=True, from_zero=True, side=frozenset()):
        check(not self.bad_parse, "every record parses as SEQ|KEY|LEN|DATA|SUM",
              f"{len(self.bad_parse)} bad, first {self.bad_parse[:2]}")
        check(not self.bad_sum, "every payload's length and checksum match",
              f"{len(self.bad_sum)} bad, first seqs {sorted(self.bad_sum)[:10]}")
        check(not self.bad_key, "every record's key matches its payload", f"first seqs {self.bad_key[:10]}")
        inv, gaps, first = [], [], {}
        for p, lst in self.by_part.items():
            first[p] = lst[0][0]
            # produce order holds within each stream: the checked one, and a side stream (see verify_acked)
            for stream in ([r for r in lst if r[1] not in side], [r for r in lst if r[1] in side]):
                for (o1, s1), (o2, s2) in zip(stream, stream[1:]):
                    if s2 <= s1:
                        inv.append((p, o2, s1, s2))
            for (o1, s1), (o2, s2) in zip(lst, lst[1:]):
                if contiguous and o2 != o1 + 1:
                    gaps.append((p, o1, o2))
                if not contiguous and o2 <= o1:
                    gaps.append((p, o1, o2))
        check(not inv, "per-partition order is produce order", f"{len(inv)} inversions, first {inv[:5]}")
        if contiguous:
            ok = not gaps and (not from_zero or all(v == 0 for v in first.values()))
            check(ok, "per-partition offsets contiguous" + (" from 0" if from_zero else ""),
                  f"first offsets {first}, gaps {gaps[:5]}")
        else:
            check(not gaps, "per-partition offsets increasing", f"{gaps[:5]}")
        counts = {p: len(v) for p, v in sorted(self.by_part.items())}
        print(f"# per-partition record counts: {counts}")


def verify(total, nparts):
    c = Consumed(sys.stdin)
    check(len(c.recs) == total, f"consumed {total} records", f"got {len(c.recs)}")
    c.generic()
    seqs = [r[2] for r in c.recs]
    s = set(seqs)
    missing = [i for i in range(total) if i not in s]
    check(not missing and len(s) == len(seqs), "every seq 0..N-1 exactly once",
          f"{len(missing)} missing (first {missing[:10]}), {len(seqs) - len(s)} duplicates")
    kp = {}
    bad = []
    for p, _, _, k, _ in c.recs:
        if kp.setdefault(k, p) != p:
            bad.append((k, kp[k], p))
    check(not bad, "each key always in the same partition", f"{bad[:5]}")
    check(len(c.by_part) == nparts, f"records in all {nparts} partitions", f"{sorted(c.by_part)}")
    return done()


def read_produced(path):
    seqs = set()
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition(":")
            seqs.add(int(v.split("|", 1)[0]))
    return seqs


def verify_acked(ackfile, produced, nparts, maybe=None):
    acks, errs = {}, 0
    with open(ackfile) as f:
        for line in f:
            w = line.split()
            if w and w[0] == "ack":
                acks[int(w[3])] = (int(w[1]), int(w[2]))
            elif w and w[0] == "err":
                errs += 1
    prod = read_produced(produced)
    # Records written with acks=1 to a leader whose followers were stopped may survive: a follower's fetch
    # that was already waiting at the leader delivers them when it resumes. They are neither required nor
    # foreign, but must keep their own order and appear at most once.
    side = frozenset(read_produced(maybe)) if maybe else frozenset()
    print(f"# {len(prod)} produced, {len(acks)} acknowledged, {errs} failed in the producer")
    c = Consumed(sys.stdin)
    c.generic(side=side)
    where = {}
    dups = 0
    for p, o, seq, _, _ in c.recs:
        if seq in where:
            dups += 1
        where[seq] = (p, o)
    check(len(acks) > 0, "the producer got acknowledgements", "none")
    lost = [s for s in acks if s not in where]
    moved = [(s, acks[s], where[s]) for s in acks if s in where and where[s] != acks[s]]
    check(not lost, f"every acknowledged record ({len(acks)}) is there",
          f"{len(lost)} lost, first seqs {sorted(lost)[:10]}")
    check(not moved, "every acknowledged record is at its acknowledged partition and offset",
          f"{len(moved)} elsewhere, first {moved[:5]}")
    foreign = [s for s in where if s not in prod and s not in side]
    if side:
        print(f"# {len([s for s in where if s in side])} of {len(side)} acks=1 side records survived")
    check(not foreign, "nothing that was not produced", f"first {sorted(foreign)[:10]}")
    check(dups == 0, "no record twice", f"{dups} duplicates")
    print(f"# consumed {len(c.recs)} records, {len(where) - len([s for s in where if s in acks])} of them "
          f"unacknowledged but present")
    check(len(c.by_part) == nparts, f"records in all {nparts} partitions", f"{sorted(c.by_part)}")
    return done()


def verify_suffix(total):
    c = Consumed(sys.stdin)
    c.generic(from_zero=False)
    bad = [(p, o, s) for p, o, s, _, _ in c.recs if p != 0 or o != s]
    check(not bad, "single partition, every record at offset == its seq", f"first {bad[:5]}")
    seqs = [r[2] for r in c.recs]
    check(seqs and seqs[-1] == total - 1 and seqs == list(range(seqs[0], total)),
          f"a contiguous suffix of the {total} produced records, ending with the last",
          f"{len(seqs)} records, first {seqs[:1]}, last {seqs[-1:]}")
    print(f"# retained {len(seqs)} of {total} records (log start offset {seqs[0] if seqs else '?'})")
    return done()


def verify_set(seqfile, nparts, contiguous):
    want = set()
    with open(seqfile) as f:
        for line in f:
            if line.strip():
                want.add(int(line))
    c = Consumed(sys.stdin)
    c.generic(contiguous=contiguous)
    got = [r[2] for r in c.recs]
    gs = set(got)
    check(gs == want and len(got) == len(gs), f"exactly the {len(want)} expected records",
          f"{len(got)} consumed, {len(want - gs)} missing (first {sorted(want - gs)[:5]}), "
          f"{len(gs - want)} unexpected (first {sorted(gs - want)[:5]}), {len(got) - len(gs)} duplicates")
    check(len(c.by_part) == nparts, f"records in all {nparts} partitions", f"{sorted(c.by_part)}")
    return done()


def compact_map(produced, clean_below):
    """Last value per key of a compacted topic. Tombstones (empty values) delete a key. clean_below:
    {partition: offset} below which the log is cleaned, so no key may appear twice there."""
    recs, bad_parse, bad_sum, by_part = [], [], [], {}
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if not line:
            continue
        w = line.split(" ", 3)
        try:
            p, o, k = int(w[0]), int(w[1]), w[2]
        except (ValueError, IndexError):
            bad_parse.append(line[:100])
            continue
        v = w[3] if len(w) > 3 else ""
        if v == "NULL":  # kcat -Z prints a NULL value (a tombstone) as NULL
            v = ""
        seq = None
        if v:
            pv = parse_value(v)
            if pv is None:
                bad_parse.append(line[:100])
                continue
            seq = pv[0]
            if not pv[2] or pv[1] != k:
                bad_sum.append(seq)
        recs.append((p, o, k, seq, v))
        by_part.setdefault(p, []).append(o)
    check(not bad_parse, "every record parses (value or tombstone)", f"{len(bad_parse)} bad, first {bad_parse[:2]}")
    check(not bad_sum, "every payload's length, key and checksum match", f"first seqs {bad_sum[:10]}")
    inc = all(all(b > a for a, b in zip(l, l[1:])) for l in by_part.values())
    check(inc, "per-partition offsets increasing")
    last, order_bad, dup_clean = {}, [], {}
    seen_clean = set()
    for p, o, k, seq, v in recs:
        prev = last.get(k)
        if seq is not None and prev is not None and prev[0] is not None and prev[0] > seq:
            order_bad.append(k)
        last[k] = (seq, v.rsplit("|", 1)[1] if v else None)
        if clean_below is not None and o < clean_below.get(p, -1):
            if (p, k) in seen_clean:
                dup_clean[k] = dup_clean.get(k, 0) + 1
            seen_clean.add((p, k))
    check(not order_bad, "a key's values come in produce order", f"first {order_bad[:5]}")
    if clean_below is not None:
        check(not dup_clean, f"the cleaned part of the log (below {clean_below}) holds each key at most once",
              f"{len(dup_clean)} keys repeated, first {sorted(dup_clean)[:5]}")
    survivors = {k: v for k, v in last.items() if v[0] is not None}
    if produced:
        want = {}
        with open(produced) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition(":")
                if not v:
                    want.pop(k, None)
                    continue
                want[k] = (int(v.split("|", 1)[0]), v.rsplit("|", 1)[1])
        diff = [k for k in set(want) | set(survivors) if want.get(k) != survivors.get(k)]
        check(not diff, f"the surviving value of each of the {len(want)} live keys is its last produced value "
              "(deleted keys gone)", f"{len(diff)} keys differ, first {sorted(diff)[:5]}")
    print(f"# {len(recs)} records (per partition {dict((p, len(l)) for p, l in sorted(by_part.items()))}) "
          f"for {len(last)} keys, {len(survivors)} live")
    with open(os.environ.get("E2E_MAP_OUT", "/dev/null"), "w") as out:
        for k in sorted(survivors):
            out.write(f"{k} {survivors[k][0]} {survivors[k][1]}\n")
    return done()


DUMP_FILE = re.compile(r"^Dumping (.*)$")
DUMP_REC = re.compile(r"^\| offset: (\d+) .*? key: (\S*) payload: (.*)$")
DUMP_BATCH = re.compile(r"^baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .*?isValid: (\w+)", re.I)


def dump_digest():
    """Digest DumpLogSegments output per partition directory (segments of one dir are dumped in order)."""
    parts = {}
    cur = None
    bad_sum, bad_parse, invalid = [], 0, 0
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        m = DUMP_FILE.match(line)
        if m:
            cur = os.path.basename(os.path.dirname(m.group(1)))
            parts.setdefault(cur, [0, None, None, hashlib.sha256()])
            continue
        m = DUMP_BATCH.match(line)
        if m:
            if m.group(4).lower() != "true":
                invalid += 1
            continue
        m = DUMP_REC.match(line)
        if m and cur is not None:
            o, k, v = int(m.group(1)), m.group(2), m.group(3)
            pv = parse_value(v)
            if pv is None:
                bad_parse += 1
            elif not pv[2]:
                bad_sum.append(pv[0])
            d = parts[cur]
            d[0] += 1
            if d[1] is None:
                d[1] = o
            d[2] = o
            d[3].update(f"{o} {k} {v}\n".encode())
    check(invalid == 0, "every batch's CRC is valid (DumpLogSegments isValid)", f"{invalid} invalid")
    check(bad_parse == 0 and not bad_sum, "every dumped payload parses and its checksum matches",
          f"{bad_parse} unparsable, {len(bad_sum)} bad checksums, first {bad_sum[:5]}")
    for p in sorted(parts):
        c, f, l, h = parts[p]
        print(f"{p} {c} {f} {l} {h.hexdigest()}")
    return done()


def consumed_digest(topic):
    """The dump-digest lines computed from consumed records, for comparison with each replica's dump."""
    parts = {}
    for raw in sys.stdin:
        line = raw.rstrip("\n")
        if not line:
            continue
        p, o, k, v = line.split(" ", 3)
        d = parts.setdefault(int(p), [0, None, None, hashlib.sha256()])
        d[0] += 1
        if d[1] is None:
            d[1] = int(o)
        d[2] = int(o)
        d[3].update(f"{o} {k} {v}\n".encode())
    for p in sorted(parts):
        c, f, l, h = parts[p]
        print(f"{topic}-{p} {c} {f} {l} {h.hexdigest()}")
    return 0


# ------------------------------------------------------------------------------------------- the pool
SEG = re.compile(r"^[0-9]{20}\.log(\.(cleaned|swap|deleted))?$")
# every name the shim manages by default: segments and their index files (kept in the pool while mapped)
MANAGED = re.compile(r"^[0-9]{20}\.(log|index|timeindex)(\.(cleaned|swap|deleted))?$")


def read_pool(pooldir):
    """The pool's used-block count, geometry, live statistics and its LIVE/DYING records, each with the
    number of its blocks inside its window [lo, hi)."""
    path = pp.pool_path(pooldir)
    with open(path, "rb") as f:
        hdr = f.read(pp.HEADER_SIZE)
        h = pp.parse_header(hdr)
        if h.magic != pp.MAGIC:
            raise SystemExit(f"{path}: bad magic {h.magic:#x}")
        recs = {i: dict(state=r.state, ino=r.ino, lo=r.lo, hi=r.hi, seq=r.seq, path=r.path, blocks=0,
                        size_hint=r.size_hint, real_valid=bool(r.flags & pp.RECF_REAL_VALID))
                for i, r in pp.read_records(f, h).items()}
        entries = pp.read_block_table(f, h)
    used = 0
    for e in entries:
        if e == 0:
            continue
        used += 1
        if e == pp.BLOCK_RESERVED:
            continue
        r, idx = pp.entry_owner(e)
        if r in recs and recs[r]["lo"] <= idx < recs[r]["hi"]:
            recs[r]["blocks"] += 1
    return dict(used=used, nblocks=h.nblocks, bs=h.block_size, recs=recs, live=pp.live_stats(hdr))


def scan_segments(logdirs, pattern=SEG):
    segs = []
    for ld in logdirs:
        for d, _, files in os.walk(ld):
            for n in files:
                if pattern.match(n):
                    p = os.path.join(d, n)
                    try:
                        st = os.stat(p)
                    except FileNotFoundError:
                        continue
                    segs.append((p, st))
    return segs


def pool_files(pooldir, logdirs, listing, tries=4):
    """A broker renames and deletes segments while this reads (the cleaner's .cleaned -> .swap -> .log,
    retention's .deleted): a record whose file was not seen is re-checked on a fresh look (up to TRIES
    looks 0.3 s apart), so only a block that stays without a file is reported as missing."""
    for i in range(tries):
        lines, summary, missing = pool_files_once(pooldir, logdirs)
        if missing == 0 or i == tries - 1:
            break
        time.sleep(0.3)
    for line in lines if listing else []:
        print(line)
    print(("# totals " if listing else "") + summary)
    return 0


def pool_files_once(pooldir, logdirs):
    out = []
    pool = read_pool(pooldir)
    byino = {}
    for i, r in pool["recs"].items():
        if r["state"] == pp.REC_LIVE:
            byino[r["ino"]] = r
    bs = pool["bs"]
    tot = dict(pool_files=0, slow_files=0, mixed_files=0, empty_files=0, sparse_pool_files=0,
               realvalid_pool_files=0)
    seen = set()
    index_files = index_blocks = 0
    for p, st in scan_segments(logdirs, MANAGED):
        r = byino.get(st.st_ino)
        if r and not SEG.match(os.path.basename(p)):
            seen.add(st.st_ino)  # an index file: its blocks are accounted for, not listed
            index_files += 1
            index_blocks += r["blocks"]
    for p, st in sorted(scan_segments(logdirs)):
        r = byino.get(st.st_ino)
        pb = r["blocks"] if r else 0
        if r:
            seen.add(st.st_ino)
        alloc = st.st_blocks * 512
        size = st.st_size
        if size == 0:
            tier = "empty"
        elif pb > 0 and pb * bs >= size:
            tier = "pool"
        elif pb == 0 and alloc >= size - 4096:
            tier = "slow"
        else:
            tier = "mixed"
        tot[tier + "_files"] += 1
        rv = 1 if r and r["real_valid"] else 0
        if tier == "pool" and alloc * 4 <= size:
            tot["sparse_pool_files"] += 1
        elif tier == "pool" and rv:
            tot["realvalid_pool_files"] += 1
        out.append(f"{tier} {size} {alloc} {pb} {p} {rv}")
    existing = sum(r["blocks"] for r in byino.values() if r["ino"] in seen)
    allrec = sum(r["blocks"] for r in pool["recs"].values())
    missing_recs = sum(1 for r in pool["recs"].values() if r["ino"] not in seen and r["blocks"] > 0)
    s = (f"used={pool['used']} nblocks={pool['nblocks']} bs={bs} live={len(pool['recs'])} "
         f"existing_blocks={existing} missing_blocks={allrec - existing} missing_recs={missing_recs} "
         f"index_files={index_files} index_blocks={index_blocks} " +
         " ".join(f"{k}={v}" for k, v in tot.items()) + " " +
         " ".join(f"{k}={pool['live'][k]}" for k in ("writer_pid", "demotions", "promotions", "spills",
                                                     "migration_failures", "errors", "head_demotions",
                                                     "readmissions", "bytes_written_pool", "bytes_written_slow")))
    return out, s, allrec - existing


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd = a[0]
    if cmd == "gen":
        lo, hi = (int(a[4]), int(a[5])) if len(a) > 5 else (100, 1500)
        gen(int(a[1]), int(a[2]), int(a[3]), lo, hi, int(a[6]) if len(a) > 6 else 1000)
        return 0
    if cmd == "verify":
        return verify(int(a[1]), int(a[2]))
    if cmd == "verify-acked":
        return verify_acked(a[1], a[2], int(a[3]), a[4] if len(a) > 4 else None)
    if cmd == "verify-suffix":
        return verify_suffix(int(a[1]))
    if cmd == "verify-set":
        return verify_set(a[1], int(a[2]), "--gaps" not in a)
    if cmd == "compact-map":
        cb = None
        if "--clean-below" in a:
            i = a.index("--clean-below")
            cb = {int(x.split(":")[0]): int(x.split(":")[1]) for x in a[i + 1].split(",") if x}
            del a[i:i + 2]
        return compact_map(a[1] if len(a) > 1 else None, cb)
    if cmd == "dump-digest":
        return dump_digest()
    if cmd == "consumed-digest":
        return consumed_digest(a[1])
    if cmd == "pool":
        if a[1] == "used":
            p = read_pool(a[2])
            print(p["used"], p["nblocks"], p["bs"])
            return 0
        if a[1] == "stats":
            p = read_pool(a[2])
            print(" ".join(f"{k}={v}" for k, v in p["live"].items()) + f" used={p['used']} nblocks={p['nblocks']}")
            return 0
        if a[1] == "paths":
            # every live record with blocks: its block count and last known path
            for r in read_pool(a[2])["recs"].values():
                if r["state"] == pp.REC_LIVE:
                    print(r["blocks"], r["path"])
            return 0
        if a[1] in ("files", "summary"):
            return pool_files(a[2], a[3:], a[1] == "files")
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())

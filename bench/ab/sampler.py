#!/usr/bin/env python3
"""bench/ab/sampler.py - one CSV row per interval while a broker runs (part of bench/ab/run.sh).

  sampler.py OUT.csv INTERVAL_S [--pool POOLDIR] [--dev loopN] [--memcg CGDIR]
  sampler.py --once POOLDIR      prints "USED_MIB NBLOCKS BACKLOG_BYTES" once

Columns: epoch (s, wall clock), then
  pool_used_blocks, pool_blocks, pool_block_size   used blocks of POOLDIR/pafka.pool (non-zero block-table
                                                   entries, as tests/kafka/poolcheck.py counts them)
  demoted_bytes, promoted_bytes, demotions, promotions, spills, bytes_written_pool, bytes_written_slow,
  bytes_read_pool, bytes_read_slow, bytes_sent_pool, bytes_sent_slow, backlog_bytes, writer_pid
                                                   the pool header's live statistics (cumulative counters)
  dev_read_bytes, dev_write_bytes, dev_reads, dev_writes   /sys/block/loopN/stat (cumulative; the slow tier)
  memcg_usage, memcg_cache, memcg_rss, memcg_shmem, memcg_dirty, memcg_writeback   the broker's memory cgroup
Missing sources give empty fields. The pool layout (header struct, live statistics, block table) is
poolcheck.py's, imported from tests/kafka so the two cannot disagree. Runs until SIGTERM/SIGINT.
"""
import os
import signal
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "kafka"))
import poolcheck  # noqa: E402  (HDR, LIVE, LIVE_NAMES: the pool header layout)

LIVE_COLS = ["bytes_demoted", "bytes_promoted", "demotions", "promotions", "spills", "bytes_written_pool",
             "bytes_written_slow", "bytes_read_pool", "bytes_read_slow", "bytes_sent_pool", "bytes_sent_slow",
             "backlog_bytes", "writer_pid"]
COLS = (["epoch", "pool_used_blocks", "pool_blocks", "pool_block_size"] + LIVE_COLS +
        ["dev_read_bytes", "dev_write_bytes", "dev_reads", "dev_writes",
         "memcg_usage", "memcg_cache", "memcg_rss", "memcg_shmem", "memcg_dirty", "memcg_writeback"])

stop = False


def on_signal(*_):
    global stop
    stop = True


def pool_sample(pooldir):
    path = os.path.join(pooldir, "pafka.pool")
    try:
        with open(path, "rb") as f:
            hdr = f.read(4096)
            if len(hdr) < 4096:
                return {}
            (magic, _v, _hs, _u, _ps, bsize, nblocks, _nr, _ro, blk_off, *_rest) = poolcheck.HDR.unpack_from(hdr)
            if magic != poolcheck.PF_POOL_MAGIC:
                return {}
            f.seek(blk_off)
            raw = f.read(nblocks * 8)
    except OSError:
        return {}
    used = sum(1 for e in struct.unpack(f"<{len(raw) // 8}Q", raw) if e)
    live = dict(zip(poolcheck.LIVE_NAMES, poolcheck.LIVE.unpack_from(hdr, 112)))
    d = {"pool_used_blocks": used, "pool_blocks": nblocks, "pool_block_size": bsize}
    for k in LIVE_COLS:
        d[k] = live.get(k, "")
    return d


def dev_sample(dev):
    try:
        with open(f"/sys/block/{dev}/stat") as f:
            v = f.read().split()
        return {"dev_reads": int(v[0]), "dev_read_bytes": int(v[2]) * 512,
                "dev_writes": int(v[4]), "dev_write_bytes": int(v[6]) * 512}
    except (OSError, IndexError, ValueError):
        return {}


def memcg_sample(cg):
    d = {}
    try:
        with open(os.path.join(cg, "memory.usage_in_bytes")) as f:
            d["memcg_usage"] = int(f.read())
        with open(os.path.join(cg, "memory.stat")) as f:
            for line in f:
                k, v = line.split()
                if k in ("cache", "rss", "shmem", "dirty", "writeback"):
                    d["memcg_" + k] = int(v)
    except (OSError, ValueError):
        pass
    return d


def main():
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--once":
        d = pool_sample(args[1])
        if not d:
            print("- - -")
            return 1
        print(f"{d['pool_used_blocks'] * d['pool_block_size'] >> 20} {d['pool_blocks']} {d['backlog_bytes']}")
        return 0
    if len(args) < 2:
        sys.exit(__doc__)
    out, interval = args[0], float(args[1])
    opts = dict(zip(args[2::2], args[3::2]))
    pooldir, dev, cg = opts.get("--pool"), opts.get("--dev"), opts.get("--memcg")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open(out, "w") as f:
        f.write(",".join(COLS) + "\n")
        f.flush()
        nxt = time.time()
        while not stop:
            row = {"epoch": "%.3f" % time.time()}
            if pooldir:
                row.update(pool_sample(pooldir))
            if dev:
                row.update(dev_sample(dev))
            if cg:
                row.update(memcg_sample(cg))
            f.write(",".join(str(row.get(c, "")) for c in COLS) + "\n")
            f.flush()
            nxt += interval
            delay = nxt - time.time()
            if delay < 0:
                nxt = time.time()
                delay = 0
            time.sleep(delay)
    return 0


if __name__ == "__main__":
    sys.exit(main())

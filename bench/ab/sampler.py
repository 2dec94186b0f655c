#!/usr/bin/env python3
"""bench/ab/sampler.py - one CSV row per interval while a broker runs (part of bench/ab/run.sh).

  sampler.py OUT.csv INTERVAL_S [--pool POOLDIR] [--dev loopN] [--memcg CGDIR] [--cpuacct CGDIR]
             [--pid PID --flag FILE --dumps DIR]
  sampler.py --once POOLDIR      prints "USED_MIB NBLOCKS BACKLOG_BYTES" once

Columns: epoch (s, wall clock), then
  pool_used_blocks, pool_blocks, pool_block_size   used blocks of POOLDIR/pafka.pool (non-zero block-table
                                                   entries, as tests/kafka/poolcheck.py counts them)
  bytes_demoted, bytes_promoted, demotions, promotions, spills, bytes_written_pool, bytes_written_slow,
  bytes_read_pool, bytes_read_slow, bytes_sent_pool, bytes_sent_slow, backlog_bytes, writer_pid,
  head_demotions, readmissions                     the pool header's live statistics (cumulative counters;
                                                   bytes_written_* are the application's writes by the tier
                                                   they landed on; spills counts writes sent to the slow
                                                   tier because the pool was full)
  dev_read_bytes, dev_write_bytes, dev_reads, dev_writes   /sys/block/loopN/stat (cumulative; the slow tier)
  memcg_usage, memcg_cache, memcg_rss, memcg_shmem, memcg_dirty, memcg_writeback   the broker's memory cgroup
  proc_rchar, proc_wchar                           /proc/PID/io of the broker (rchar includes the produce requests
                                                   it reads from its sockets)
  broker_cpu_ticks                                 utime + stime of the broker (/proc/PID/stat, clock ticks)
  host_busy_ticks, host_total_ticks                /proc/stat "cpu" line (busy = total - idle - iowait)
  bench_cpu_ns                                     cpuacct.usage of the bench's cpuacct group (--cpuacct CGDIR):
                                                   the broker, the tools and the script; host busy minus this is
                                                   what other processes on the machine used
  stall_dump                                       1 when this sample took a thread dump (below)
Stall dumps (diagnostics, never figures): while FILE exists (run.sh creates it while a producer runs) and
has existed for 5 s, a broker that read < 1 MiB from anywhere in the last 4 s gets one `jcmd PID
Thread.print` into DIR/stall-EPOCH.txt (at most 3 per run, 20 s apart), so a stall can be explained.
Missing sources give empty fields. The pool layout (header, live statistics, block table) is read by
tests/lib/pafkapool.py, the tests' own reader, so the two cannot disagree. Runs until SIGTERM/SIGINT.
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "lib"))
import pafkapool as pp  # noqa: E402

LIVE_COLS = ["bytes_demoted", "bytes_promoted", "demotions", "promotions", "spills", "bytes_written_pool",
             "bytes_written_slow", "bytes_read_pool", "bytes_read_slow", "bytes_sent_pool", "bytes_sent_slow",
             "backlog_bytes", "writer_pid", "head_demotions", "readmissions"]
COLS = (["epoch", "pool_used_blocks", "pool_blocks", "pool_block_size"] + LIVE_COLS +
        ["dev_read_bytes", "dev_write_bytes", "dev_reads", "dev_writes",
         "memcg_usage", "memcg_cache", "memcg_rss", "memcg_shmem", "memcg_dirty", "memcg_writeback",
         "proc_rchar", "proc_wchar", "broker_cpu_ticks", "host_busy_ticks", "host_total_ticks", "bench_cpu_ns",
         "stall_dump"])

stop = False


def on_signal(*_):
    global stop
    stop = True


def pool_sample(pooldir):
    path = pp.pool_path(pooldir)
    try:
        with open(path, "rb") as f:
            hdr = f.read(pp.HEADER_SIZE)
            if len(hdr) < pp.HEADER_SIZE:
                return {}
            h = pp.parse_header(hdr)
            if h.magic != pp.MAGIC:
                return {}
            entries = pp.read_block_table(f, h, partial=True)
    except OSError:
        return {}
    used = sum(1 for e in entries if e)
    live = pp.live_stats(hdr)
    d = {"pool_used_blocks": used, "pool_blocks": h.nblocks, "pool_block_size": h.block_size}
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


def cpu_sample(pid, cpuacct):
    d = {}
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        d["host_total_ticks"] = sum(v[:8])
        d["host_busy_ticks"] = sum(v[:8]) - v[3] - v[4]
    except (OSError, ValueError, IndexError):
        pass
    if pid:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
            d["broker_cpu_ticks"] = int(st[11]) + int(st[12])
        except (OSError, ValueError, IndexError):
            pass
    if cpuacct:
        try:
            with open(os.path.join(cpuacct, "cpuacct.usage")) as f:
                d["bench_cpu_ns"] = int(f.read())
        except (OSError, ValueError):
            pass
    return d


def proc_sample(pid):
    d = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                k, v = line.split(":")
                if k in ("rchar", "wchar"):
                    d["proc_" + k] = int(v)
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
    pid, flag, dumps = opts.get("--pid"), opts.get("--flag"), opts.get("--dumps")
    cpuacct = opts.get("--cpuacct")
    hist = []          # (epoch, rchar)
    ndumps, last_dump = 0, 0.0
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
            row.update(cpu_sample(pid, cpuacct))
            if pid:
                row.update(proc_sample(pid))
                now = time.time()
                if "proc_rchar" in row:
                    hist.append((now, row["proc_rchar"]))
                    hist[:] = [h for h in hist if now - h[0] <= 4.5]
                try:
                    producing = flag and now - os.stat(flag).st_mtime >= 5
                except OSError:
                    producing = False
                if (producing and dumps and ndumps < 3 and now - last_dump >= 20 and len(hist) >= 2 and
                        hist[-1][0] - hist[0][0] >= 3.5 and hist[-1][1] - hist[0][1] < 1 << 20):
                    os.makedirs(dumps, exist_ok=True)
                    with open(os.path.join(dumps, "stall-%.0f.txt" % now), "w") as df:
                        subprocess.Popen(["timeout", "20", "jcmd", str(pid), "Thread.print"], stdout=df,
                                         stderr=subprocess.STDOUT)
                    ndumps += 1
                    last_dump = now
                    row["stall_dump"] = 1
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

#!/usr/bin/env python3
"""bench/ab/analyze.py - turn one bench/ab/run.sh results directory into CSV, JSON, PNG plots and summary.md.

  analyze.py RESULTS_DIR [--no-plots]

Reads RESULTS_DIR/meta.tsv, runs.csv, anomalies.tsv and raw/r<REP>-<VARIANT>/ (events.csv, the stamped
ProducerPerformance / ConsumerPerformance outputs, samples.csv, cgroup.tsv, verify.txt, s5-recent.tsv) and writes:
  results.csv     one row per (rep, variant, metric): every figure of every run
  timeseries.csv  producer throughput/latency per progress line (1 s), time from the scenario's start
  samples.csv     pool fill, migration, slow-tier device and memory cgroup per sample, per scenario
  summary.csv     per (metric, variant): median, min, max, n
  ratios.csv      shim/vanilla, shim/ceiling, inert/vanilla: ratio of medians, and median/min/max of the
                  per-repetition ratios (variants of one repetition ran back to back)
  summary.json    all of the above plus metadata, goals and anomalies
  summary.md      the tables a reader wants first
  plots/*.png     made with gnuplot (pngcairo); the data and .gp scripts stay next to them
Standard library only. Run again on an old results directory to redo the analysis.
"""
import csv
import json
import math
import os
import re
import statistics
import subprocess
import sys

VARIANTS = ["vanilla", "shim", "ceiling", "inert"]
LABEL = {
    "vanilla": "vanilla (log dir on slow tier)",
    "shim": "shim tiered (pool on tmpfs = PMem stand-in)",
    "ceiling": "ceiling (log dir on tmpfs)",
    "inert": "inert shim (log.channel.type=file)",
}
SHORT = {"vanilla": "vanilla", "shim": "shim", "ceiling": "ceiling", "inert": "inert"}
COLOR = {"vanilla": "#d62728", "shim": "#1f77b4", "ceiling": "#2ca02c", "inert": "#ff7f0e"}
FAST = "fast tier: tmpfs (/dev/shm) as PMem stand-in"

PROG = re.compile(r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, "
                  r"([\d.]+) ms max latency\.$")
SUMM = re.compile(r"^(\d+) (steady state )?records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg "
                  r"latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th")
CONS = re.compile(r"^(\d{4}-\d\d-\d\d [\d:]+), (\d+), ([\d.]+), ([\d.]+), (\d+), ([\d.]+)")

# metric -> (unit, better, description); better: "high" or "low"
METRICS = {
    "s1_acks1_mbps": ("MiB/s", "high", "S1 sustained produce, acks=1"),
    "s1_acksall_mbps": ("MiB/s", "high", "S1 sustained produce, acks=all"),
    "s2_burst_mbps": ("MiB/s", "high", "S2 burst throughput (steady part)"),
    "s2_burst_p50_ms": ("ms", "low", "S2 burst produce latency p50"),
    "s2_burst_p99_ms": ("ms", "low", "S2 burst produce latency p99"),
    "s2_burst_p999_ms": ("ms", "low", "S2 burst produce latency p99.9"),
    "s2_burst_secs": ("s", "low", "S2 burst wall time (incl. tool start)"),
    "s2_low_p99_ms": ("ms", "low", "S2 low phase produce latency p99"),
    "s2_pool_peak_mb": ("MiB", "", "S2 peak pool fill"),
    "s2_pool_end_mb": ("MiB", "", "S2 pool fill at the end of the low phase"),
    "s2_demoted_mb": ("MiB", "", "S2 bytes demoted to the slow tier"),
    "s2_demote_peak_mbs": ("MiB/s", "", "S2 peak demotion rate (per sample)"),
    "s2_spills": ("", "", "S2 spills (pool full: file continued on the slow tier)"),
    "s2_slow_write_mb": ("MiB", "", "S2 slow-tier device writes"),
    "s3_idle_p50_ms": ("ms", "low", "S3 producer p50, idle broker"),
    "s3_idle_p99_ms": ("ms", "low", "S3 producer p99, idle broker"),
    "s3_loaded_p50_ms": ("ms", "low", "S3 producer p50, catch-up consumer running"),
    "s3_loaded_p99_ms": ("ms", "low", "S3 producer p99, catch-up consumer running"),
    "s3_p99_loaded_over_idle": ("x", "low", "S3 producer p99 loaded / idle"),
    "s3_consumer_mbps": ("MiB/s", "high", "S3 catch-up consumer throughput"),
    "s3_slow_read_mb": ("MiB", "", "S3 slow-tier device reads while loaded"),
    "s4_mbps": ("MiB/s", "high", "S4 produce with flush.messages=1"),
    "s4_avg_latency_ms": ("ms", "low", "S4 average produce latency"),
    "s5_mbps": ("MiB/s", "high", "S5 sustained produce, more partitions than fit the pool (steady part)"),
    "s5_p50_ms": ("ms", "low", "S5 produce latency p50"),
    "s5_p99_ms": ("ms", "low", "S5 produce latency p99"),
    "s5_p999_ms": ("ms", "low", "S5 produce latency p99.9"),
    "s5_secs": ("s", "low", "S5 produce wall time (incl. tool start)"),
    "s5_recent_mbps": ("MiB/s", "high", "S5 read of the newest data right after the produce (kcat)"),
    "s5_recent_secs": ("s", "low", "S5 read of the newest data: wall time (incl. kcat's connection)"),
    "s5_pool_write_pct": ("%", "high", "S5 share of produced bytes written to the pool"),
    "s5_pool_write_2nd_pct": ("%", "high", "S5 share of produced bytes written to the pool, second half of the produce"),
    "s5_recent_from_pool_pct": ("%", "high", "S5 share of the newest-data read served from the pool"),
    "s5_head_demotions": ("", "", "S5 head demotions (cold heads of active segments moved to the slow tier)"),
    "s5_readmissions": ("", "", "S5 readmissions (spilled segments given a new pool window at their end)"),
    "s5_spills": ("", "", "S5 spills (writes sent to the slow tier because the pool was full)"),
    "s5_demoted_mb": ("MiB", "", "S5 bytes demoted to the slow tier"),
    "s5_demote_mbs": ("MiB/s", "", "S5 demotion rate, average over the produce"),
    "s5_pool_peak_mb": ("MiB", "", "S5 peak pool fill"),
    "s5_pool_end_mb": ("MiB", "", "S5 pool fill when the produce ended"),
    "s5_slow_write_mb": ("MiB", "", "S5 slow-tier device writes"),
    "s5_broker_cpu": ("cores", "", "S5 produce: broker CPU"),
    "s5_other_cpu": ("cores", "", "S5 produce: CPU of other processes on the machine"),
    "s1_acks1_broker_cpu": ("cores", "", "S1 acks=1: broker CPU"),
    "s1_acks1_other_cpu": ("cores", "", "S1 acks=1: CPU of other processes on the machine"),
    "s1_acks1_mib_per_cpu_s": ("MiB/CPU-s", "high", "S1 acks=1: MiB per broker CPU-second"),
    "s2_burst_broker_cpu": ("cores", "", "S2 burst: broker CPU"),
    "s2_burst_other_cpu": ("cores", "", "S2 burst: CPU of other processes on the machine"),
    "s2_burst_mib_per_cpu_s": ("MiB/CPU-s", "high", "S2 burst: MiB per broker CPU-second"),
    "s3_loaded_other_cpu": ("cores", "", "S3 loaded: CPU of other processes on the machine"),
    "s4_broker_cpu": ("cores", "", "S4: broker CPU"),
    "s4_fsync_per_mib": ("calls/MiB", "", "S4: fsync calls per MiB produced (census)"),
    "s4_msync_per_mib": ("calls/MiB", "", "S4: msync calls per MiB produced (census; the shim's pool syncs included)"),
    "s4_ftruncate_per_mib": ("calls/MiB", "", "S4: ftruncate calls per MiB produced (census; the shim's size updates)"),
    "census_calls_per_mib": ("calls/MiB", "", "calls of the wrapped families per MiB produced (warm-up, perf syscall census)"),
    "inert_extra_ns_per_mib": ("ns/MiB", "low", "inert shim's extra CPU per MiB produced (derived bound)"),
    "broker_ns_per_mib": ("ns/MiB", "low", "broker CPU per MiB produced (S1 acks=1)"),
    "inert_cost_bound_pct": ("%", "low", "inert shim's cost, share of the broker's CPU (derived bound)"),
    "mem_peak_mb": ("MiB", "", "broker memory cgroup peak (JVM + page cache [+ tmpfs log dir for ceiling])"),
    "mem_shmem_end_mb": ("MiB", "", "shmem charged to the broker's memory cgroup at the end"),
}
# S2slow: the same burst with the slow tier throttled lower (run.sh BENCH_S2_SLOW_BPS); same metrics.
BURSTS = ("s2", "s2slow")
for _k in [k for k in METRICS if k.startswith("s2_")]:
    _u, _b, _d = METRICS[_k]
    METRICS["s2slow_" + _k[3:]] = (_u, _b, "S2slow" + _d[2:])
HEADLINE = ["s1_acks1_mbps", "s1_acksall_mbps", "s2_burst_mbps", "s2_burst_p99_ms", "s2_burst_p999_ms",
            "s2slow_burst_mbps", "s2slow_burst_p99_ms", "s3_idle_p99_ms", "s3_loaded_p99_ms",
            "s3_p99_loaded_over_idle", "s3_consumer_mbps", "s4_mbps", "s5_mbps", "s5_p99_ms", "s5_recent_mbps"]
PAIRS = [("shim", "vanilla"), ("shim", "ceiling"), ("inert", "vanilla")]



def s5_speed(meta):
    """S5's produce rate as the summary words it: full speed, or the BENCH_S5_RATE_MBS cap."""
    r = str(meta.get("s5_rate_mbs") or "0")
    return "full speed" if r in ("", "0") else f"{r} MiB/s (BENCH_S5_RATE_MBS)"

def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt(v, nd=None):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if nd is None:
        nd = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    return f"{v:.{nd}f}"


def read_stamped(path):
    """[(epoch, text)] of a file written through run.sh's stamp()."""
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                e, _, text = line.partition(" ")
                ep = fnum(e)
                if ep is not None:
                    out.append((ep, text))
    except OSError:
        pass
    return out


def producer(path, rsize):
    """progress lines [(epoch, records, rate, mbps, avg, max)], summary dict, steady dict."""
    prog, summ, steady = [], None, None
    for ep, text in read_stamped(path):
        m = PROG.match(text)
        if m:
            n, rate = int(m.group(1)), float(m.group(2))
            prog.append((ep, n, rate, rate * rsize / 1048576, float(m.group(4)), float(m.group(5))))
            continue
        m = SUMM.match(text)
        if m:
            d = dict(records=int(m.group(1)), rate=float(m.group(3)), mbps=float(m.group(3)) * rsize / 1048576,
                     avg=float(m.group(5)), max=float(m.group(6)), p50=float(m.group(7)), p95=float(m.group(8)),
                     p99=float(m.group(9)), p999=float(m.group(10)))
            if m.group(2):
                steady = d
            else:
                summ = d
    return prog, summ, steady


def window_mbps(prog, skip=2):
    """Throughput over the progress lines after the first `skip` (tool start, JIT): records / time."""
    use = prog[skip:] if len(prog) > skip + 1 else prog
    recs = sum(p[1] for p in use)
    secs = sum(p[1] / p[2] for p in use if p[2] > 0)
    return (recs / secs) if secs > 0 else None


def load_samples(path):
    rows = []
    try:
        with open(path) as f:
            for r in csv.DictReader(f):
                rows.append({k: fnum(v) for k, v in r.items()})
    except OSError:
        pass
    return rows


def delta(rows, key, t0, t1):
    sel = [r for r in rows if r.get(key) is not None and t0 <= r["epoch"] <= t1]
    if len(sel) < 2:
        return None
    return sel[-1][key] - sel[0][key]


def delta_around(rows, key, t0, t1):
    """A cumulative counter's change from the last sample at or before t0 to the first at or after t1 (covers
    the whole window, unlike delta, at the cost of up to one sample interval on each side)."""
    sel = [r for r in rows if r.get(key) is not None]
    a = [r for r in sel if r["epoch"] <= t0]
    b = [r for r in sel if r["epoch"] >= t1]
    if not a or not b:
        return None
    return b[0][key] - a[-1][key]


def share(rows, keys_a, keys_b, t0, t1):
    """100 * (delta of keys_a) / (delta of keys_a + keys_b) over [t0, t1] (delta_around), or None."""
    da = [delta_around(rows, k, t0, t1) for k in keys_a]
    db = [delta_around(rows, k, t0, t1) for k in keys_b]
    if any(x is None for x in da + db) or sum(da) + sum(db) <= 0:
        return None
    return 100.0 * sum(da) / (sum(da) + sum(db))


def rates(rows, key):
    """per-sample rate (units/s) of a cumulative counter: [(epoch, rate)]"""
    out = []
    prev = None
    for r in rows:
        v = r.get(key)
        if v is None:
            continue
        if prev is not None and r["epoch"] > prev[0]:
            out.append((r["epoch"], (v - prev[1]) / (r["epoch"] - prev[0])))
        prev = (r["epoch"], v)
    return out


HZ = os.sysconf("SC_CLK_TCK")


def cpu_window(samples, t0, t1, nproc):
    """(broker cores, other processes' cores, host busy cores) over [t0, t1] from the sampler's counters."""
    sel = [r for r in samples if t0 <= r["epoch"] <= t1]
    if len(sel) < 2:
        return None, None, None
    a, b = sel[0], sel[-1]
    dt = b["epoch"] - a["epoch"]
    if dt <= 0:
        return None, None, None

    def d(k):
        return None if a.get(k) is None or b.get(k) is None else b[k] - a[k]
    broker = d("broker_cpu_ticks")
    broker = broker / HZ / dt if broker is not None else None
    busy, total, bench = d("host_busy_ticks"), d("host_total_ticks"), d("bench_cpu_ns")
    host = busy / total * nproc if busy is not None and total else None
    other = max(0.0, host - bench / 1e9 / dt) if host is not None and bench is not None else None
    return broker, other, host


# The call census (run.sh census_start): syscall -> the bench/run-micro.sh row whose extra instructions it
# pays under the inert shim. Descriptor calls not measured there are charged the dearest descriptor wrapper;
# openat and the path calls the open+close pair (a name check, like theirs).
CENSUS_ROW = {"write": "write", "pwrite64": "write", "writev": "write", "pwritev": "write", "pwritev2": "write",
              "read": "pread64", "pread64": "pread64", "readv": "pread64", "preadv": "pread64",
              "preadv2": "pread64", "lseek": "lseek64", "newfstat": "fstat64", "newfstatat": "fstat64",
              "statx": "fstat64", "sendfile64": "sendfile64", "copy_file_range": "sendfile64",
              "splice": "sendfile64", "openat": "open+close", "rename": "open+close", "renameat": "open+close",
              "renameat2": "open+close", "unlink": "open+close", "unlinkat": "open+close"}
NS_PER_INSTR = 1.0   # a deliberately pessimistic cost of one instruction (IPC 0.3 at 3 GHz)


def census(path):
    """{syscall: count} from a perf stat -x, file, or None."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                p = line.strip().split(",")
                if len(p) >= 3 and p[2].startswith("syscalls:sys_enter_") and p[0].isdigit():
                    out[p[2][len("syscalls:sys_enter_"):]] = int(p[0])
    except OSError:
        return None
    return out or None


def extra_instr(res):
    """{call row: inert extra instructions per call} from bench/run-micro.sh's callgrind.csv, or None."""
    try:
        with open(os.path.join(res, "micro", "callgrind.csv")) as f:
            rows = {r["call"]: fnum(r["inert_extra"]) for r in csv.DictReader(f)}
    except (OSError, KeyError):
        return None
    return {k: v for k, v in rows.items() if v is not None} or None


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    res = os.path.abspath(sys.argv[1])
    plots = "--no-plots" not in sys.argv[2:]
    meta = {}
    with open(os.path.join(res, "meta.tsv")) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            meta[k] = v
    rsize = int(meta.get("record_size", 1024))
    nproc = int(meta.get("nproc", "2") or 2)
    runs = []
    loads = {}
    with open(os.path.join(res, "runs.csv")) as f:
        for r in csv.DictReader(f):
            runs.append((int(r["rep"]), int(r["order"]), r["variant"]))
            loads[(int(r["rep"]), r["variant"])] = r.get("loadavg1", "")
    anomalies = []
    ap = os.path.join(res, "anomalies.tsv")
    if os.path.exists(ap):
        with open(ap) as f:
            for line in f:
                rep, var, what = (line.rstrip("\n").split("\t", 2) + ["", ""])[:3]
                anomalies.append(dict(rep=rep, variant=var, what=what))

    xi = extra_instr(res)
    results = []      # (rep, variant, order, metric, value)
    ts_rows = []      # timeseries
    smp_rows = []     # samples
    extra = {}        # (rep, variant) -> dict of notes (verify, shim lines)
    stalls = []
    for rep, order, var in runs:
        raw = os.path.join(res, "raw", f"r{rep}-{var}")
        ev = {}
        try:
            with open(os.path.join(raw, "events.csv")) as f:
                for line in f:
                    p = line.strip().split(",")
                    if len(p) == 3:
                        ev[(p[1], p[2])] = float(p[0])
        except OSError:
            pass
        samples = load_samples(os.path.join(raw, "samples.csv"))
        metr = {}

        def put(k, v):
            if v is not None:
                metr[k] = v

        def series(scn, path, t0, src):
            prog, summ, steady = producer(path, rsize)
            last = None
            for ep, n, rate, mbps, avg, mx in prog:
                ts_rows.append([rep, var, scn, round(ep - t0, 3), round(mbps, 2), avg, mx, src])
                if last is not None and ep - last > 5:
                    stalls.append(f"rep {rep}, {var}, {scn}/{src}: no progress line for {ep - last:.1f} s")
                last = ep
            return prog, summ, steady

        # S1
        for a in ("1", "all"):
            scn = f"s1-acks{a}"
            if (scn, "start") in ev:
                prog, _, _ = series(scn, os.path.join(raw, f"{scn}.out"), ev[(scn, "start")], "producer")
                r = window_mbps(prog)
                put(f"s1_acks{a}_mbps", r * rsize / 1048576 if r else None)
                if a == "1":
                    br, ot, _ = cpu_window(samples, ev[(scn, "start")], ev.get((scn, "end"), 1e18), nproc)
                    put("s1_acks1_broker_cpu", br)
                    put("s1_acks1_other_cpu", ot)
                    if br and len(prog) >= 2:
                        # all acknowledged bytes of the window / broker CPU seconds of the window
                        mib = sum(p[1] for p in prog) * rsize / 1048576
                        secs = ev.get((scn, "end"), prog[-1][0]) - ev[(scn, "start")]
                        put("s1_acks1_mib_per_cpu_s", mib / (br * secs) if secs > 0 else None)
        # the call census of the warm-up, and what the inert shim would add to it
        cen = census(os.path.join(raw, "warmup.census"))
        wmb = fnum(meta.get("warmup_mb"))
        if cen and wmb:
            put("census_calls_per_mib", sum(cen.values()) / wmb)
            if xi:
                dear = max(v for k, v in xi.items() if k != "open+close")
                ns = sum(n * xi.get(CENSUS_ROW.get(c, ""), dear) for c, n in cen.items()) * NS_PER_INSTR / wmb
                put("inert_extra_ns_per_mib", ns)
                mpc = metr.get("s1_acks1_mib_per_cpu_s")
                if mpc:
                    put("broker_ns_per_mib", 1e9 / mpc)
                    put("inert_cost_bound_pct", 100 * ns * mpc / 1e9)
        # S2 and S2slow (the same burst on a slower disk)
        for b in BURSTS:
            if (b, "start") not in ev:
                continue
            t0 = ev[(b, "start")]
            _, summ, steady = series(b, os.path.join(raw, f"{b}-burst.out"), t0, "burst")
            bs = steady or summ
            if bs:
                put(f"{b}_burst_mbps", bs["mbps"])
                put(f"{b}_burst_p50_ms", bs["p50"])
                put(f"{b}_burst_p99_ms", bs["p99"])
                put(f"{b}_burst_p999_ms", bs["p999"])
            if (b, "burst-end") in ev:
                put(f"{b}_burst_secs", ev[(b, "burst-end")] - ev[(b, "burst-start")])
                br, ot, _ = cpu_window(samples, ev[(b, "burst-start")], ev[(b, "burst-end")], nproc)
                put(f"{b}_burst_broker_cpu", br)
                put(f"{b}_burst_other_cpu", ot)
                if br and summ is not None or (br and steady is not None):
                    tot = (summ or steady)["records"] * rsize / 1048576
                    put(f"{b}_burst_mib_per_cpu_s", tot / (br * metr[f"{b}_burst_secs"]))
            _, summ, _ = series(b, os.path.join(raw, f"{b}-low.out"), t0, "low")
            if summ:
                put(f"{b}_low_p99_ms", summ["p99"])
            t1 = ev.get((b, "end"), t0 + 1e9)
            sel = [s for s in samples if t0 <= s["epoch"] <= t1]
            used = [s["pool_used_blocks"] * s["pool_block_size"] / 1048576 for s in sel
                    if s.get("pool_used_blocks") is not None]
            if used:
                put(f"{b}_pool_peak_mb", max(used))
                put(f"{b}_pool_end_mb", used[-1])
                d = delta(samples, "bytes_demoted", t0, t1)
                put(f"{b}_demoted_mb", d / 1048576 if d is not None else None)
                dr = [r for e, r in rates(samples, "bytes_demoted") if t0 <= e <= t1]
                put(f"{b}_demote_peak_mbs", max(dr) / 1048576 if dr else None)
                put(f"{b}_spills", delta(samples, "spills", t0, t1))
            d = delta(samples, "dev_write_bytes", t0, t1)
            put(f"{b}_slow_write_mb", d / 1048576 if d is not None else None)
        # S3
        if ("s3", "start") in ev:
            t0 = ev[("s3", "start")]
            series("s3", os.path.join(raw, "s3-load.out"), t0, "load")
            _, summ_i, st_i = series("s3", os.path.join(raw, "s3-idle.out"), t0, "idle")
            _, summ_l, st_l = series("s3", os.path.join(raw, "s3-loaded.out"), t0, "loaded")
            i, l = st_i or summ_i, st_l or summ_l
            if i:
                put("s3_idle_p50_ms", i["p50"])
                put("s3_idle_p99_ms", i["p99"])
            if l:
                put("s3_loaded_p50_ms", l["p50"])
                put("s3_loaded_p99_ms", l["p99"])
            if i and l and i["p99"] > 0:
                put("s3_p99_loaded_over_idle", l["p99"] / i["p99"])
            # consumer passes: cumulative MB in detailed lines; MB over the time between first and last line
            mb, secs = 0.0, 0.0
            k = 1
            while os.path.exists(os.path.join(raw, f"s3-consumer-{k}.out")):
                lines = [(ep, CONS.match(t)) for ep, t in read_stamped(os.path.join(raw, f"s3-consumer-{k}.out"))]
                lines = [(ep, m) for ep, m in lines if m]
                if len(lines) >= 2:
                    mb += float(lines[-1][1].group(3)) - float(lines[0][1].group(3))
                    secs += lines[-1][0] - lines[0][0]
                for ep, m in lines:
                    ts_rows.append([rep, var, "s3", round(ep - t0, 3), float(m.group(4)), "", "", "consumer"])
                k += 1
            put("s3_consumer_mbps", mb / secs if secs > 0 else None)
            if ("s3", "loaded-start") in ev:
                put("s3_loaded_other_cpu", cpu_window(samples, ev[("s3", "loaded-start")],
                                                      ev.get(("s3", "loaded-end"), t0 + 1e9), nproc)[1])
                d = delta(samples, "dev_read_bytes", ev[("s3", "loaded-start")], ev.get(("s3", "loaded-end"), t0 + 1e9))
                put("s3_slow_read_mb", d / 1048576 if d is not None else None)
        # S4
        if ("s4", "start") in ev:
            prog, _, _ = series("s4", os.path.join(raw, "s4.out"), ev[("s4", "start")], "producer")
            r = window_mbps(prog, skip=1)
            put("s4_mbps", r * rsize / 1048576 if r else None)
            use = prog[1:] if len(prog) > 2 else prog
            n = sum(p[1] for p in use)
            put("s4_avg_latency_ms", sum(p[1] * p[4] for p in use) / n if n else None)
            put("s4_broker_cpu", cpu_window(samples, ev[("s4", "start")], ev.get(("s4", "end"), 1e18), nproc)[0])
            cen = census(os.path.join(raw, "s4.census"))
            mib = sum(p[1] for p in prog) * rsize / 1048576
            if cen and mib:
                for c in ("fsync", "msync", "ftruncate"):
                    put(f"s4_{c}_per_mib", cen.get(c, 0) / mib)
        # S5: 1 GiB segments, sustained produce of several times the pool, then a read of the newest data
        if ("s5", "start") in ev:
            t0 = ev[("s5", "start")]
            pe = ev.get(("s5", "produce-end"))
            t1 = ev.get(("s5", "end"), pe or t0 + 1e9)
            _, summ, steady = series("s5", os.path.join(raw, "s5.out"), t0, "producer")
            st = steady or summ
            if st:
                put("s5_mbps", st["mbps"])
                put("s5_p50_ms", st["p50"])
                put("s5_p99_ms", st["p99"])
                put("s5_p999_ms", st["p999"])
            if pe:
                put("s5_secs", pe - t0)
                br, ot, _ = cpu_window(samples, t0, pe, nproc)
                put("s5_broker_cpu", br)
                put("s5_other_cpu", ot)
                # the application's writes by the tier they landed on (the shim's counters), whole produce and
                # its second half (once the pool has filled to the threshold and migration has to keep up)
                put("s5_pool_write_pct", share(samples, ["bytes_written_pool"], ["bytes_written_slow"], t0, pe))
                put("s5_pool_write_2nd_pct", share(samples, ["bytes_written_pool"], ["bytes_written_slow"],
                                                   (t0 + pe) / 2, pe))
                d = delta_around(samples, "bytes_demoted", t0, pe)
                put("s5_demote_mbs", d / 1048576 / (pe - t0) if d is not None and pe > t0 else None)
                end_used = [s["pool_used_blocks"] * s["pool_block_size"] / 1048576 for s in samples
                            if s.get("pool_used_blocks") is not None and s["epoch"] >= pe]
                put("s5_pool_end_mb", end_used[0] if end_used else None)
            for k in ("head_demotions", "readmissions", "spills"):
                put(f"s5_{k}", delta_around(samples, k, t0, t1))
            d = delta_around(samples, "bytes_demoted", t0, t1)
            put("s5_demoted_mb", d / 1048576 if d is not None else None)
            used = [s["pool_used_blocks"] * s["pool_block_size"] / 1048576 for s in samples
                    if s.get("pool_used_blocks") is not None and t0 <= s["epoch"] <= t1]
            put("s5_pool_peak_mb", max(used) if used else None)
            d = delta(samples, "dev_write_bytes", t0, t1)
            put("s5_slow_write_mb", d / 1048576 if d is not None else None)
            rc = {}
            try:
                with open(os.path.join(raw, "s5-recent.tsv")) as f:
                    rc = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
            except OSError:
                pass
            secs, nb = fnum(rc.get("secs")), fnum(rc.get("bytes"))
            # a figure only for a read that returned exactly the records asked (run.sh records the rest as anomalies)
            if rc.get("status") == "0" and not rc.get("problems") and rc.get("records") == rc.get("records_asked") \
                    and secs and nb:
                put("s5_recent_mbps", nb / 1048576 / secs)
                put("s5_recent_secs", secs)
                rs, re_ = ev.get(("s5", "recent-start")), ev.get(("s5", "recent-end"))
                if rs and re_:
                    put("s5_recent_from_pool_pct", share(samples, ["bytes_read_pool", "bytes_sent_pool"],
                                                         ["bytes_read_slow", "bytes_sent_slow"], rs, re_))
        # cgroup
        try:
            with open(os.path.join(raw, "cgroup.tsv")) as f:
                cg = dict(line.rstrip("\n").split("\t", 1) for line in f if "\t" in line)
            put("mem_peak_mb", fnum(cg.get("mem_peak_bytes")) / 1048576 if fnum(cg.get("mem_peak_bytes")) else None)
            sh = fnum(cg.get("mem_shmem_bytes_at_end"))
            put("mem_shmem_end_mb", sh / 1048576 if sh is not None else None)
        except OSError:
            pass
        for k, v in metr.items():
            results.append((rep, var, order, k, v))
        # samples per scenario
        spans = sorted((t, s) for (s, p), t in ev.items() if p == "start" and s != "broker")
        ends = {s: t for (s, p), t in ev.items() if p == "end"}
        prev = None
        for s in samples:
            scn, t0 = "", None
            for t, name in spans:
                if t <= s["epoch"] <= ends.get(name, 1e18):
                    scn, t0 = name, t
            dem = pro = rd = wr = wp = ws = None
            if prev and s["epoch"] > prev["epoch"]:
                dt = s["epoch"] - prev["epoch"]

                def rt(key):
                    if s.get(key) is None or prev.get(key) is None:
                        return None
                    return round((s[key] - prev[key]) / dt / 1048576, 2)
                dem, pro, rd, wr = rt("bytes_demoted"), rt("bytes_promoted"), rt("dev_read_bytes"), rt("dev_write_bytes")
                wp, ws = rt("bytes_written_pool"), rt("bytes_written_slow")
            used = (s["pool_used_blocks"] * s["pool_block_size"] / 1048576
                    if s.get("pool_used_blocks") is not None else None)
            pmb = (s["pool_blocks"] * s["pool_block_size"] / 1048576 if s.get("pool_blocks") is not None else None)
            smp_rows.append([rep, var, scn, round(s["epoch"] - t0, 3) if t0 else "", round(s["epoch"], 3),
                             "" if used is None else round(used, 1), "" if pmb is None else round(pmb),
                             "" if dem is None else dem, "" if pro is None else pro, "" if rd is None else rd,
                             "" if wr is None else wr,
                             "" if s.get("memcg_usage") is None else round(s["memcg_usage"] / 1048576, 1),
                             "" if s.get("bytes_demoted") is None else round(s["bytes_demoted"] / 1048576, 1),
                             "" if wp is None else wp, "" if ws is None else ws])
            prev = s
        # verify + shim lines
        note = {}
        try:
            with open(os.path.join(raw, "verify.txt")) as f:
                vt = f.read()
            note["verify"] = "FAIL" if "FAIL:" in vt else ("PASS" if "PASS:" in vt else "?")
        except OSError:
            note["verify"] = "not run"
        try:
            with open(os.path.join(raw, "shim-lines.txt")) as f:
                note["shim_lines"] = sum(1 for _ in f)
        except OSError:
            note["shim_lines"] = 0
        try:
            with open(os.path.join(raw, "server-errors.log"), errors="replace") as f:
                errs = [re.sub(r"^\[[^]]*\] ERROR ", "", l.strip()) for l in f if l.strip()]
            kinds = {}
            for e in errs:
                k = re.sub(r"\(\d+\)|\d+ ms", "N", e)[:90]
                kinds[k] = kinds.get(k, 0) + 1
            note["server_errors"] = (f"{len(errs)}" + (": " + "; ".join(f"{n}x {k}" for k, n in sorted(
                kinds.items(), key=lambda x: -x[1])[:2]) if errs else ""))
        except OSError:
            note["server_errors"] = "?"
        sd = os.path.join(raw, "stall-dumps")
        dumps = sorted(os.listdir(sd)) if os.path.isdir(sd) else []
        where = []
        for d in dumps:
            ep = fnum(d[len("stall-"):-len(".txt")])
            scn = next((sn for (sn, p), t in sorted(ev.items(), key=lambda x: x[1])
                        if p == "start" and sn != "broker" and ep and t <= ep <= ev.get((sn, "end"), 1e18)), "?")
            where.append(f"raw/r{rep}-{var}/stall-dumps/{d} ({scn})")
        note["stall_dumps"] = where
        extra[(rep, var)] = note

    # Progress gaps are a measured behaviour (a broker blocked on its disk), not a failure of the bench: they
    # get their own section; a broker that stops for good is caught by the tools' timeouts (anomalies).

    # ---------------------------------------------------------------- aggregate
    by = {}
    for rep, var, order, k, v in results:
        by.setdefault(k, {}).setdefault(var, {})[rep] = v
    summary = []
    agg = {}
    for k in METRICS:
        for var in VARIANTS:
            vals = list(by.get(k, {}).get(var, {}).values())
            if vals:
                a = dict(median=statistics.median(vals), min=min(vals), max=max(vals), n=len(vals))
                agg[(k, var)] = a
                summary.append([k, var, a["median"], a["min"], a["max"], a["n"], METRICS[k][0]])
    ratios = []
    rat = {}
    for k in METRICS:
        for a, b in PAIRS:
            A, B = by.get(k, {}).get(a, {}), by.get(k, {}).get(b, {})
            per = [A[r] / B[r] for r in A if r in B and B[r]]
            if (k, a) in agg and (k, b) in agg and agg[(k, b)]["median"]:
                rom = agg[(k, a)]["median"] / agg[(k, b)]["median"]
                d = dict(ratio=rom, per_rep_median=statistics.median(per) if per else None,
                         per_rep_min=min(per) if per else None, per_rep_max=max(per) if per else None, n=len(per))
                rat[(k, a, b)] = d
                ratios.append([k, f"{a}/{b}", rom, d["per_rep_median"], d["per_rep_min"], d["per_rep_max"], len(per)])

    def R(k, a, b):
        return rat.get((k, a, b))

    goals = []

    def goal(name, val, ok_fn, lim, detail="", nd=2):
        if val is None:
            goals.append(dict(goal=name, measured="n/a", verdict="not measured", detail=detail))
            return
        v = val["ratio"] if isinstance(val, dict) else val
        rng = ""
        if isinstance(val, dict) and val.get("per_rep_min") is not None and val["n"] > 1:
            rng = f" (per repetition {fmt(val['per_rep_min'], nd)}..{fmt(val['per_rep_max'], nd)})"
            lo, hi = val["per_rep_min"], val["per_rep_max"]
            if ok_fn(lo) != ok_fn(hi):
                verdict = "not resolved (repetitions on both sides)"
            else:
                verdict = "met" if ok_fn(v) else "not met"
        else:
            verdict = "met" if ok_fn(v) else "not met"
        goals.append(dict(goal=name, measured=f"{fmt(v, nd)}{rng}", verdict=verdict, detail=detail))

    def of_shim(k):
        """The shim's per-repetition values of metric k as a goal() value (median, min, max), or None."""
        vals = list(by.get(k, {}).get("shim", {}).values())
        if not vals:
            return None
        return dict(ratio=statistics.median(vals), per_rep_min=min(vals), per_rep_max=max(vals), n=len(vals))

    slow_mib = (fnum(meta.get("s2slow_bps")) or 0) / 1048576
    for b in BURSTS:
        name = "S2" if b == "s2" else f"S2slow (slow tier {slow_mib:g} MiB/s)"
        if b == "s2slow" and not any(k[0] == "s2slow_burst_mbps" for k in rat):
            continue
        goal(f"{name} burst throughput shim >= 0.9x ceiling", R(f"{b}_burst_mbps", "shim", "ceiling"),
             lambda x: x >= 0.9, 0.9)
        goal(f"{name} burst throughput shim >= 3x vanilla", R(f"{b}_burst_mbps", "shim", "vanilla"),
             lambda x: x >= 3, 3)
    sh = by.get("s3_p99_loaded_over_idle", {}).get("shim", {})
    if sh:
        vals = list(sh.values())
        d = dict(ratio=statistics.median(vals), per_rep_min=min(vals), per_rep_max=max(vals), n=len(vals))
        goal("S3 shim producer p99 with catch-up consumer <= 1.2x idle", d, lambda x: x <= 1.2, 1.2)
    else:
        goal("S3 shim producer p99 with catch-up consumer <= 1.2x idle", None, None, 1.2)
    for k in ("s1_acks1_mbps", "s1_acksall_mbps", "s2_burst_mbps", "s2slow_burst_mbps", "s4_mbps", "s5_mbps"):
        r = R(k, "inert", "vanilla")
        if r is None and k in ("s2slow_burst_mbps", "s5_mbps"):
            continue
        # cost <= 1.01x: throughput inert >= vanilla / 1.01
        goal(f"inert preload costs <= 1.01x vanilla ({METRICS[k][2]}: inert/vanilla >= 0.990)", r,
             lambda x: x >= 1 / 1.01, 0.99)
    if any(k[0].startswith("s5_") for k in agg):
        # did the slow tier keep up with demotion? a spill means the pool was full when a write came
        sp = by.get("s5_spills", {}).get("shim", {})
        spilled = sorted(r for r, x in sp.items() if x)
        kept = ("no spill in any repetition: demotion kept up" if sp and not spilled else
                f"spills in repetition(s) {', '.join(map(str, spilled))}: the pool filled, demotion did not keep up"
                if spilled else "spills not measured")
        d = of_shim("s5_pool_write_pct")
        goal(f"S5 ({meta.get('s5_segment_mb')} MiB segments, more partitions than fit the pool): >= 90 % of the produced bytes written to "
             "the pool once migration keeps up (shim, % of the whole produce)", d, lambda x: x >= 90, 90,
             detail=(f"second half of the produce {fmt(of_shim('s5_pool_write_2nd_pct')['ratio'], 1)} %; "
                     if of_shim("s5_pool_write_2nd_pct") else "") + kept, nd=1)
        goal("S5 throughput shim >= 0.9x ceiling when the slow tier keeps up with demotion",
             R("s5_mbps", "shim", "ceiling"), lambda x: x >= 0.9, 0.9, detail=kept)
        if spilled:  # the condition of both S5 goals did not hold in those repetitions
            for g in goals[-2:]:
                if g["verdict"] != "not measured":
                    g["verdict"] += " (condition not met: the slow tier did not keep up)"
    ib = by.get("inert_cost_bound_pct", {}).get("inert", {})
    if ib:
        vals = list(ib.values())
        d = dict(ratio=statistics.median(vals), per_rep_min=min(vals), per_rep_max=max(vals), n=len(vals))
        goal("inert preload costs <= 1.01x vanilla (derived: census calls/MiB x callgrind extra instructions x "
             f"{NS_PER_INSTR:g} ns, as % of the broker's CPU per MiB; <= 1 %)", d, lambda x: x <= 1.0, 1.0)

    # ---------------------------------------------------------------- files
    def wcsv(name, header, rows):
        with open(os.path.join(res, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in rows:
                w.writerow(["" if x is None else (round(x, 4) if isinstance(x, float) else x) for x in r])

    wcsv("results.csv", ["rep", "variant", "order", "metric", "value", "unit"],
         [[r, v, o, k, val, METRICS[k][0]] for r, v, o, k, val in sorted(results)])
    wcsv("timeseries.csv", ["rep", "variant", "scenario", "t_s", "mib_per_s", "avg_latency_ms", "max_latency_ms", "source"],
         ts_rows)
    wcsv("samples.csv", ["rep", "variant", "scenario", "t_s", "epoch", "pool_used_mib", "pool_mib", "demote_mib_s",
                         "promote_mib_s", "slow_read_mib_s", "slow_write_mib_s", "memcg_mib", "demoted_mib_total",
                         "written_pool_mib_s", "written_slow_mib_s"],
         smp_rows)
    wcsv("summary.csv", ["metric", "variant", "median", "min", "max", "n", "unit"], summary)
    wcsv("ratios.csv", ["metric", "pair", "ratio_of_medians", "per_rep_median", "per_rep_min", "per_rep_max", "n"], ratios)
    with open(os.path.join(res, "summary.json"), "w") as f:
        json.dump(dict(meta=meta, labels=LABEL, fast_tier=FAST,
                       summary=[dict(metric=a, variant=b, median=c, min=d, max=e, n=g, unit=h)
                                for a, b, c, d, e, g, h in summary],
                       ratios=[dict(metric=a, pair=b, ratio_of_medians=c, per_rep_median=d, per_rep_min=e,
                                    per_rep_max=g, n=h) for a, b, c, d, e, g, h in ratios],
                       goals=goals, anomalies=anomalies, progress_gaps=stalls,
                       runs=[dict(rep=r, order=o, variant=v, **extra.get((r, v), {})) for r, o, v in runs]),
                  f, indent=1)

    # ---------------------------------------------------------------- plots
    pngs = []
    if plots:
        pngs = make_plots(res, meta, ts_rows, smp_rows, agg)

    # ---------------------------------------------------------------- summary.md
    present = [v for v in VARIANTS if any(rv == v for _, _, rv in runs)]
    L = []
    L.append(f"# libpafka A/B benchmark: {meta.get('date', '')}{' (QUICK smoke: figures are not meaningful)' if meta.get('quick') == '1' else ''}")
    L.append("")
    L.append(f"**Fast tier: {meta.get('fast_tier', 'tmpfs (/dev/shm) standing in for PMem')} — no persistent memory on this machine.** "
             "The shim's pool lives in tmpfs pages; on real PMem the copies and flushes cost more.")
    L.append("")
    L.append(f"- machine: nproc={meta.get('nproc')}, memory {meta.get('mem_total')}, kernel {meta.get('kernel')}, "
             f"CPU: {meta.get('cpu')}")
    L.append(f"- load average at start {meta.get('loadavg_start')}, at end {meta.get('loadavg_end', '?')} "
             "(other engineers' tests share this machine: every figure is noisy; variants were interleaved, "
             "order rotated per repetition)")
    L.append(f"- shim {meta.get('shim')} sha256 {meta.get('shim_sha256')} (built {meta.get('shim_built')}); "
             f"Kafka {meta.get('kafka_version')}; {meta.get('java')}")
    L.append(f"- slow tier: {meta.get('slow_tier')}")
    blk = meta.get("check_dd_block", "1M").replace("M", " MiB")
    L.append(f"- throttle check (dd on the slow tier, in the broker's blkio group): {blk} O_DIRECT writes "
             f"{meta.get('check_write_direct_mibs')} MiB/s, {blk} O_DIRECT reads {meta.get('check_read_direct_mibs')} "
             f"MiB/s, buffered write + sync (kernel writeback, "
             f"root-group rule) {meta.get('check_write_buffered_sync_mibs')} MiB/s, 4 KiB O_DIRECT writes "
             f"{meta.get('check_iops_4k')} IOPS")
    L.append(f"- broker: memory cgroup limit {meta.get('mem_limit_mb')} MiB incl. page cache (ceiling: + "
             f"{meta.get('ceil_tmpfs_mb')} MiB for its tmpfs log dir, which tmpfs charges to the broker), heap "
             f"{meta.get('heap_mb')} MiB pre-touched; pool {meta.get('pool_mb')} MiB created outside that cgroup, "
             f"storage.migrate.threshold {meta.get('threshold')}; segments {meta.get('segment_mb')} MiB, "
             f"{meta.get('partitions')} partitions, {meta.get('record_size')} B records")
    L.append(f"- sizes: S1 {meta.get('s1_secs')} s per acks setting; S2 burst {meta.get('s2_burst_mb')} MiB at full "
             f"speed then {meta.get('s2_low_mbs')} MiB/s for {meta.get('s2_low_secs')} s; S3 {meta.get('s3_old_mb')} "
             f"MiB older data, producer {meta.get('s3_rate_mbs')} MiB/s for {meta.get('s3_secs')} s idle then the "
             f"same with catch-up consumers; S4 {meta.get('s4_secs')} s with flush.messages=1; "
             + (f"S2slow: the S2 burst again with the slow tier lowered to "
                f"{(fnum(meta.get('s2slow_bps')) or 0) / 1048576:g} MiB/s for its duration (after the log dir was "
                "written back and the pool had settled); " if meta.get("s2slow_bps") else "") +
             (f"S5: {meta.get('s5_mb')} MiB at {s5_speed(meta)} (acks=1) into {meta.get('s5_partitions')} partitions with "
              f"{meta.get('s5_segment_mb')} MiB segments, then the newest {meta.get('s5_recent_mb')} MiB read back; "
              if meta.get("s5_mb") else "") +
             f"{meta.get('reps')} repetition(s); run took {int(fnum(meta.get('duration_s')) or 0) // 60} min")
    L.append("- MiB/s = 2^20 bytes per second (the Kafka tools' \"MB\"). Medians over repetitions, [min..max] below "
             "each; ratios are ratio of medians, with the range of per-repetition ratios")
    L.append("")
    L.append("## Headline figures")
    L.append("")
    hdr = "| metric | " + " | ".join(LABEL[v] for v in present) + " | shim/vanilla | shim/ceiling | inert/vanilla |"
    L.append(hdr)
    L.append("|---|" + "---:|" * (len(present) + 3))
    for k in HEADLINE + ["s4_avg_latency_ms"]:
        if not any((k, v) in agg for v in present):
            continue
        unit, better, desc = METRICS[k]
        cells = []
        for v in present:
            a = agg.get((k, v))
            cells.append("n/a" if not a else f"{fmt(a['median'])}<br>[{fmt(a['min'])}..{fmt(a['max'])}]")
        for a, b in PAIRS:
            r = rat.get((k, a, b))
            if not r:
                cells.append("n/a")
            elif r["n"] > 1:
                cells.append(f"{fmt(r['ratio'], 2)}<br>[{fmt(r['per_rep_min'], 2)}..{fmt(r['per_rep_max'], 2)}]")
            else:
                cells.append(fmt(r["ratio"], 2))
        L.append(f"| {desc} ({unit}{', higher is better' if better == 'high' else ', lower is better' if better == 'low' else ''}) | "
                 + " | ".join(cells) + " |")
    L.append("")
    L.append("## Goals (reported, not asserted)")
    L.append("")
    L.append("| goal | measured | verdict |")
    L.append("|---|---|---|")
    for g in goals:
        det = f"; {g['detail']}" if g.get("detail") else ""
        L.append(f"| {g['goal']} | {g['measured']}{det} | {g['verdict']} |")
    L.append("")
    def table(keys):
        """A metric-per-row table of medians [min..max] per variant (rows nobody measured left out)."""
        L.append("| metric | " + " | ".join(LABEL[v] for v in present) + " |")
        L.append("|---|" + "---:|" * len(present))
        for k in keys:
            if not any((k, v) in agg for v in present):
                continue
            nd = 3 if k == "inert_cost_bound_pct" else None
            cells = []
            for v in present:
                a = agg.get((k, v))
                cells.append("n/a" if not a else f"{fmt(a['median'], nd)} [{fmt(a['min'], nd)}..{fmt(a['max'], nd)}]")
            unit = f" ({METRICS[k][0]})" if METRICS[k][0] else ""
            L.append(f"| {METRICS[k][2]}{unit} | " + " | ".join(cells) + " |")
        L.append("")

    s2_keys = [f"{b}_{m}" for b in BURSTS for m in ("burst_secs", "burst_p50_ms", "low_p99_ms", "pool_peak_mb",
                                                     "pool_end_mb", "demoted_mb", "demote_peak_mbs", "spills",
                                                     "slow_write_mb")] + ["s3_slow_read_mb", "mem_peak_mb",
                                                                          "mem_shmem_end_mb"]
    L.append("## S2 pool and migration (shim), slow-tier writes" if any(k.startswith("s2") and (k, v) in agg
                                                                        for k in s2_keys for v in present)
             else "## Memory")
    L.append("")
    table(s2_keys)
    s5_keys = ["s5_secs", "s5_p50_ms", "s5_p999_ms", "s5_pool_write_pct", "s5_pool_write_2nd_pct", "s5_head_demotions",
               "s5_readmissions", "s5_spills", "s5_demoted_mb", "s5_demote_mbs", "s5_pool_peak_mb", "s5_pool_end_mb",
               "s5_slow_write_mb", "s5_recent_secs", "s5_recent_from_pool_pct"]
    if any((k, v) in agg for k in s5_keys for v in present):
        pool_mb = fnum(meta.get("pool_mb"))
        s5_mb = fnum(meta.get("s5_mb"))
        L.append(f"## S5: Kafka's default segments ({meta.get('s5_segment_mb')} MiB) on more partitions than fit the pool")
        L.append("")
        L.append(f"One topic, {meta.get('s5_partitions')} partitions, segment.bytes {meta.get('s5_segment_mb')} MiB (a "
                 f"topic-level override; the broker's log.segment.bytes stays {meta.get('segment_mb')} MiB for the other "
                 f"scenarios). {meta.get('s5_mb')} MiB produced at {s5_speed(meta)} with acks=1"
                 + (f", {s5_mb / pool_mb:.1f}x the pool ({meta.get('pool_mb')} MiB on tmpfs standing in for PMem, "
                    f"threshold {meta.get('threshold')})" if pool_mb and s5_mb else "")
                 + ": every partition stays in its first segment, which never seals, so the shim can only make room "
                 "by demoting the cold heads of active segments (their newest blocks stay in the pool), and readmits a "
                 "segment whose pool window closed because the pool was full. The pool share counts the broker's "
                 "writes by the tier they landed on (the shim's bytes_written_pool and bytes_written_slow, from the "
                 "pool header, per 1 s sample). Then, right after the produce, the newest "
                 f"{meta.get('s5_recent_mb')} MiB (the same number of records from every partition) is read with one "
                 "kcat run (a relative offset from each partition's end), timed from its start to its exit; the "
                 "share served from the pool counts the shim's read and sendfile bytes in that window.")
        L.append("")
        table(s5_keys)
    cpu_keys = [k for k in ("s1_acks1_broker_cpu", "s1_acks1_mib_per_cpu_s", "s1_acks1_other_cpu", "s2_burst_broker_cpu",
                             "s2_burst_mib_per_cpu_s", "s2_burst_other_cpu", "s2slow_burst_broker_cpu",
                             "s2slow_burst_mib_per_cpu_s", "s3_loaded_other_cpu", "s4_broker_cpu", "s5_broker_cpu",
                             "s5_other_cpu")
                if any((k, v) in agg for v in present)]
    if cpu_keys:
        L.append(f"## CPU (nproc = {nproc}): the broker's cost per MiB, and the noise")
        L.append("")
        L.append("Broker CPU from /proc/PID/stat (the shim's migration threads included); \"other processes\" = "
                 "host busy CPU minus everything this bench started (its cpuacct group): other engineers' work "
                 "competing for the same cores during the measured phase.")
        L.append("")
        table(cpu_keys)
    cen_keys = [k for k in ("census_calls_per_mib", "inert_extra_ns_per_mib", "broker_ns_per_mib",
                            "inert_cost_bound_pct", "s4_fsync_per_mib", "s4_msync_per_mib", "s4_ftruncate_per_mib")
                if any((k, v) in agg for v in present)]
    if cen_keys:
        L.append("## Call census: what the inert shim costs (derived), and where S4's flushes go")
        L.append("")
        L.append("Throughput cannot resolve a 1 % difference on this machine, so the cost is also bounded from "
                 "counts: the broker's calls of the families the shim wraps during the unmeasured warm-up "
                 f"({meta.get('warmup_mb')} MiB produced at full speed; the kernel's syscall tracepoints through perf stat, "
                 "every broker thread), times the shim's extra instructions per call on an unmanaged descriptor "
                 "in the inert state (bench/run-micro.sh's callgrind part, run at the start: "
                 + (", ".join(f"{k} +{v:g}" for k, v in xi.items()) if xi else "n/a")
                 + f"), at a pessimistic {NS_PER_INSTR:g} ns per instruction, against the broker's CPU per MiB in S1 "
                 "acks=1. Syscalls made inside libc are counted too, so the count is an upper bound. The row is "
                 "computed for every variant's call mix; the goal reads the inert one. The S4 rows count the same way "
                 "during S4 (per MiB acknowledged): every flush's fsync and msync calls, the shim's own included.")
        L.append("")
        table(cen_keys)
    L.append("## Runs")
    L.append("")
    L.append("| rep | order | variant | load average (1 min) at its start | verify topic (self-checking records, read "
             "back at the end) | shim stderr lines | server.log ERROR lines (Kafka's own) | thread dumps taken by the "
             "stall detector (broker read < 1 MiB in 4 s while a producer ran) |")
    L.append("|---:|---:|---|---:|---|---:|---|---|")
    for r, o, v in runs:
        e = extra.get((r, v), {})
        L.append(f"| {r} | {o} | {v} | {loads.get((r, v)) or '?'} | {e.get('verify', '?')} | {e.get('shim_lines', 0)} | "
                 f"{e.get('server_errors', '?').replace('|', '/')} | "
                 f"{'<br>'.join(e.get('stall_dumps', [])) or 'none'} |")
    L.append("")
    L.append("## Anomalies")
    L.append("")
    if anomalies:
        for a in anomalies:
            L.append(f"- rep {a['rep']} {a['variant']}: {a['what']}")
    else:
        L.append("none: every broker started and stopped cleanly, no JVM crash report, no shim error line, no OOM "
                 "kill, every tool completed, every self-checking record read back intact")
    L.append("")
    L.append("## Progress gaps")
    L.append("")
    L.append("A producer that printed no progress line for more than 5 s got no acknowledgement in that time: the "
             "broker was blocked (for a slow-tier log dir: its page cache full of dirty pages, writeback at the "
             "disk's rate). A measured behaviour, not a bench failure; the stall detector's thread dumps are "
             "listed under Runs.")
    L.append("")
    if stalls:
        L.extend(f"- {s}" for s in stalls)
    else:
        L.append("none")
    L.append("")
    if pngs:
        L.append("## Plots")
        L.append("")
        for p in pngs:
            L.append(f"![{p}](plots/{p})")
        L.append("")
    L.append("Files: results.csv (every figure of every run), summary.csv, ratios.csv, summary.json, timeseries.csv, "
             "samples.csv, raw/ (tool outputs, events, broker stdout/stderr, server.log errors), run.log.")
    with open(os.path.join(res, "summary.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    return 0


# -------------------------------------------------------------------- plots (gnuplot)
def median_series(rows, key_filter, value_idx=4):
    """{variant: [(t_bucket, median value across reps)]} from timeseries rows."""
    buckets = {}
    for r in rows:
        if not key_filter(r):
            continue
        var, t = r[1], r[3]
        if t == "" or r[value_idx] in ("", None):
            continue
        buckets.setdefault(var, {}).setdefault(int(math.floor(float(t))), []).append(float(r[value_idx]))
    return {v: sorted((t, statistics.median(vs)) for t, vs in b.items()) for v, b in buckets.items()}


def write_dat(path, series):
    with open(path, "w") as f:
        for t, v in series:
            f.write(f"{t} {v}\n")


def make_plots(res, meta, ts_rows, smp_rows, agg):
    pd = os.path.join(res, "plots")
    os.makedirs(pd, exist_ok=True)
    made = []
    term = "set terminal pngcairo size 1200,{h} font 'DejaVu Sans,10'\n"

    def run_gp(name, script):
        gp = os.path.join(pd, name + ".gp")
        with open(gp, "w") as f:
            f.write(script)
        r = subprocess.run(["gnuplot", gp], cwd=pd, capture_output=True, text=True)
        if r.returncode == 0 and os.path.exists(os.path.join(pd, name + ".png")):
            made.append(name + ".png")
        else:
            print(f"analyze.py: gnuplot {name}.gp failed: {r.stderr.strip()[:500]}", file=sys.stderr)

    def lines_for(prefix, series, extra=""):
        parts = []
        for v in VARIANTS:
            if v in series and series[v]:
                fn = f"{prefix}-{v}.dat"
                write_dat(os.path.join(pd, fn), series[v])
                parts.append(f"'{fn}' using 1:2 with lines lw 2 lc rgb '{COLOR[v]}' title '{LABEL[v]}'")
        return ", ".join(parts) + extra

    # S1: throughput over time, acks=1 and acks=all
    s1 = {a: median_series(ts_rows, lambda r, a=a: r[2] == f"s1-acks{a}") for a in ("1", "all")}
    if any(s1.values()):
        sc = term.format(h=800) + "set output 's1-throughput.png'\nset multiplot layout 2,1 title " \
            f"'S1 sustained produce, 1 KiB records: median over repetitions ({FAST})'\n" \
            "set grid\nset key outside right\nset ylabel 'MiB/s (acked)'\nset xlabel 'seconds since the producer started'\nset yrange [0:*]\n"
        for a in ("1", "all"):
            if s1[a]:
                sc += f"set title 'acks={a}'\nplot {lines_for(f's1-acks{a}', s1[a])}\n"
        sc += "unset multiplot\n"
        run_gp("s1-throughput", sc)

    # S2: throughput over time (burst then low phase): one panel per variant, one line per repetition (the
    # phases of different repetitions do not line up in time, so a median across them would mislead)
    for b in BURSTS:
        name = "S2" if b == "s2" else "S2slow"
        s2v = [v for v in VARIANTS if any(r[1] == v and r[2] == b for r in ts_rows)]
        if s2v:
            sc = term.format(h=800) + f"set output '{b}-throughput.png'\nset multiplot layout 2,2 title " \
                f"'{name} burst ({meta.get('s2_burst_mb')} MiB at full speed) then {meta.get('s2_low_mbs')} MiB/s: acknowledged " \
                f"MiB/s per 1 s report, one line per repetition ({FAST})'\n" \
                f"set grid\nset key top right\nset ylabel 'MiB/s'\nset xlabel 'seconds since {name} started'\n"
            ymax = max([float(r[4]) for r in ts_rows if r[2] == b and r[7] in ("burst", "low")] + [1]) * 1.05
            xmax = max([float(r[3]) for r in ts_rows if r[2] == b and r[7] in ("burst", "low")] + [1]) + 1
            sc += f"set yrange [0:{ymax:.0f}]\nset xrange [0:{xmax:.0f}]\n"
            for v in s2v:
                parts = []
                for rep in sorted({r[0] for r in ts_rows if r[1] == v and r[2] == b}):
                    fn = f"{b}-tput-{v}-r{rep}.dat"
                    with open(os.path.join(pd, fn), "w") as f:
                        for r in ts_rows:
                            if r[0] == rep and r[1] == v and r[2] == b and r[7] in ("burst", "low"):
                                f.write(f"{r[3]} {r[4]}\n")
                    parts.append(f"'{fn}' using 1:2 with linespoints pt 7 ps 0.4 lw 1.5 title 'rep {rep}'")
                sc += f"set title \"{LABEL[v]}\"\nplot " + ", ".join(parts) + "\n"
            sc += "unset multiplot\n"
            run_gp(f"{b}-throughput", sc)

        # S2: pool fill, demotion, slow-tier writes over time
        s2s = [r for r in smp_rows if r[2] == b and r[3] != ""]
        if s2s:
            reps = sorted({r[0] for r in s2s if r[1] == "shim" and r[5] != ""})
            plot_a, plot_b = [], []
            pool_mib = None
            for rep in reps:
                rows = [r for r in s2s if r[1] == "shim" and r[0] == rep]
                fn = f"{b}-pool-r{rep}.dat"
                base = next((r[12] for r in rows if r[12] != ""), None)
                with open(os.path.join(pd, fn), "w") as f:
                    for r in rows:
                        cum = r[12] - base if r[12] != "" and base is not None else "NaN"
                        f.write(f"{r[3]} {r[5]} {cum} {r[10] if r[10] != '' else 'NaN'}\n")
                        pool_mib = r[6] or pool_mib
                plot_a.append(f"'{fn}' using 1:2 with lines lw 2 title 'pool used, shim rep {rep}'")
                plot_b.append(f"'{fn}' using 1:3 axes x1y2 with lines lw 2 title 'demoted since {name} start, shim rep {rep} (right axis)'")
            for v in ("vanilla", "shim", "inert"):
                ser = median_series(s2s, lambda r, v=v: r[1] == v, value_idx=10)
                if v in ser:
                    fn = f"{b}-slowwrite-{v}.dat"
                    write_dat(os.path.join(pd, fn), ser[v])
                    plot_b.append(f"'{fn}' using 1:2 with lines lw 1 dt 2 lc rgb '{COLOR[v]}' title 'slow-tier device writes, {v} (median)'")
            thr = fnum(meta.get("threshold"))
            sc = term.format(h=800) + f"set output '{b}-pool.png'\nset multiplot layout 2,1 title " \
                f"'{name}: pool fill and migration (pool: {meta.get('pool_mb')} MiB on tmpfs as PMem stand-in; slow tier " \
                f"{int(fnum(meta.get('s2slow_bps' if b == 's2slow' else 'hdd_bps')) or 0) >> 20} MiB/s, {meta.get('hdd_iops')} IOPS)'\n" \
                f"set grid\nset key outside right\nset xlabel 'seconds since {name} started'\nset yrange [0:*]\n"
            if plot_a:
                if pool_mib:
                    plot_a.append(f"{pool_mib} with lines dt 3 lc rgb 'black' title 'pool size'")
                    if thr and thr > 0:
                        plot_a.append(f"{float(pool_mib) * thr} with lines dt 2 lc rgb 'gray' title 'migration threshold'")
                sc += "set title 'pool used (MiB)'\nset ylabel 'MiB'\nplot " + ", ".join(plot_a) + "\n"
            if plot_b:
                sc += ("set title 'MiB demoted (right; counted per finished file), slow-tier device writes (left)'\nset ylabel 'slow-tier writes, MiB/s'\nset y2label 'demoted, MiB'\n"
                       "set y2tics\nset ytics nomirror\nset y2range [0:*]\nplot " + ", ".join(plot_b) + "\n")
            sc += "unset multiplot\n"
            if plot_a or plot_b:
                run_gp(f"{b}-pool", sc)

    # S5: throughput over time (median over repetitions per second), pool fill and where the writes landed
    s5 = median_series(ts_rows, lambda r: r[2] == "s5" and r[7] == "producer")
    if s5:
        sc = term.format(h=500) + "set output 's5-throughput.png'\n" \
            f"set title 'S5 sustained produce ({meta.get('s5_mb')} MiB, {meta.get('s5_partitions')} partitions, " \
            f"{meta.get('s5_segment_mb')} MiB segments, acks=1): median over repetitions ({FAST})'\n" \
            "set grid\nset key outside right\nset ylabel 'MiB/s (acked)'\nset xlabel 'seconds since the producer started'\n" \
            f"set yrange [0:*]\nplot {lines_for('s5-tput', s5)}\n"
        run_gp("s5-throughput", sc)
    s5s = [r for r in smp_rows if r[2] == "s5" and r[3] != "" and r[1] == "shim" and r[5] != ""]
    if s5s:
        plot_a, plot_b = [], []
        pool_mib = None
        for rep in sorted({r[0] for r in s5s}):
            fn = f"s5-pool-r{rep}.dat"
            with open(os.path.join(pd, fn), "w") as f:
                for r in s5s:
                    if r[0] != rep:
                        continue
                    f.write(" ".join(str(x) if x != "" else "NaN" for x in (r[3], r[5], r[13], r[14], r[7])) + "\n")
                    pool_mib = r[6] or pool_mib
            plot_a.append(f"'{fn}' using 1:2 with lines lw 2 title 'pool used, shim rep {rep}'")
            plot_b.append(f"'{fn}' using 1:3 with lines lw 2 title 'writes landing in the pool, rep {rep}'")
            plot_b.append(f"'{fn}' using 1:4 with lines lw 2 title 'writes landing on the slow tier (spilled), rep {rep}'")
            plot_b.append(f"'{fn}' using 1:5 with lines lw 1 dt 2 title 'demotion to the slow tier, rep {rep}'")
        thr = fnum(meta.get("threshold"))
        if pool_mib:
            plot_a.append(f"{pool_mib} with lines dt 3 lc rgb 'black' title 'pool size'")
            if thr and thr > 0:
                plot_a.append(f"{float(pool_mib) * thr} with lines dt 2 lc rgb 'gray' title 'migration threshold'")
        sc = term.format(h=800) + "set output 's5-pool.png'\nset multiplot layout 2,1 title " \
            f"'S5: pool fill and where the writes landed (pool: {meta.get('pool_mb')} MiB on tmpfs as PMem " \
            f"stand-in; slow tier {int(fnum(meta.get('hdd_bps')) or 0) >> 20} MiB/s, {meta.get('hdd_iops')} IOPS)'\n" \
            "set grid\nset key outside right\nset xlabel 'seconds since S5 started (the produce, then the read of the newest data)'\n" \
            "set yrange [0:*]\n" \
            "set title 'pool used (MiB)'\nset ylabel 'MiB'\nplot " + ", ".join(plot_a) + "\n" \
            "set title 'the broker writes by the tier they landed on, and demotion (MiB/s, per sample)'\n" \
            "set ylabel 'MiB/s'\nplot " + ", ".join(plot_b) + "\nunset multiplot\n"
        run_gp("s5-pool", sc)

    # latency percentiles: S2 burst p50/p99/p99.9 and S3 p99 idle vs loaded
    have = [v for v in VARIANTS if ("s2_burst_p99_ms", v) in agg or ("s3_idle_p99_ms", v) in agg
            or ("s5_p99_ms", v) in agg]
    if have:
        with open(os.path.join(pd, "latency.dat"), "w") as f:
            f.write("# variant s2p50 s2p99 s2p999 s3idle s3loaded s5p50 s5p99 s5p999\n")
            for v in have:
                def g(k):
                    a = agg.get((k, v))
                    return f"{a['median']:.3f}" if a else "NaN"
                f.write(f"\"{SHORT[v]}\" {g('s2_burst_p50_ms')} {g('s2_burst_p99_ms')} {g('s2_burst_p999_ms')} "
                        f"{g('s3_idle_p99_ms')} {g('s3_loaded_p99_ms')} {g('s5_p50_ms')} {g('s5_p99_ms')} "
                        f"{g('s5_p999_ms')}\n")
        # one panel per scenario that has figures (a subset run leaves the others out)
        panels = [(k, t, p) for k, t, p in (
            ("s2_burst_p99_ms", "S2 burst (full speed, acks=1)",
             "plot 'latency.dat' using 2:xtic(1) title 'p50', '' using 3 title 'p99', '' using 4 title 'p99.9'"),
            ("s3_idle_p99_ms", "S3 producer p99: idle vs catch-up consumer running",
             "plot 'latency.dat' using 5:xtic(1) title 'idle', '' using 6 title 'with catch-up consumer'"),
            ("s5_p99_ms", f"S5 sustained produce, {meta.get('s5_segment_mb')} MiB segments (acks=1)",
             "plot 'latency.dat' using 7:xtic(1) title 'p50', '' using 8 title 'p99', '' using 9 title 'p99.9'"))
            if any((k, v) in agg for v in have)]
        sc = term.format(h=500) + f"set output 'latency.png'\nset multiplot layout 1,{len(panels)} title " \
            f"'Produce latency percentiles, medians over repetitions ({FAST})'\n" \
            "set style data histogram\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n" \
            "set grid ytics\nset logscale y\nset ylabel 'ms (log scale)'\nset key top left\nset yrange [0.5:*]\n" \
            f"set xrange [-0.6:{len(have) - 0.4}]\n" \
            + "".join(f"set title '{t}'\n{p}\n" for _, t, p in panels) + \
            "unset multiplot\n"
        run_gp("latency", sc)

    # overview: throughput per scenario, median with min..max
    ks = [k for k in ("s1_acks1_mbps", "s1_acksall_mbps", "s2_burst_mbps", "s2slow_burst_mbps", "s3_consumer_mbps",
                      "s4_mbps", "s5_mbps", "s5_recent_mbps")
          if any((k, v) in agg for v in VARIANTS)]
    vs = [v for v in VARIANTS if any((k, v) in agg for k in ks)]
    if ks and vs:
        names = {"s1_acks1_mbps": "S1 acks=1", "s1_acksall_mbps": "S1 acks=all", "s2_burst_mbps": "S2 burst", "s2slow_burst_mbps": "S2slow burst",
                 "s3_consumer_mbps": "S3 consumer", "s4_mbps": "S4 flush=1", "s5_mbps": "S5 produce",
                 "s5_recent_mbps": "S5 newest read"}
        with open(os.path.join(pd, "overview.dat"), "w") as f:
            for k in ks:
                row = [f"\"{names[k]}\""]
                for v in vs:
                    a = agg.get((k, v))
                    row += [f"{a['median']:.3f}", f"{a['min']:.3f}", f"{a['max']:.3f}"] if a else ["NaN"] * 3
                f.write(" ".join(row) + "\n")
        parts = []
        for i, v in enumerate(vs):
            c = 2 + 3 * i
            parts.append(f"'overview.dat' using {c}:{c + 1}:{c + 2}{':xtic(1)' if i == 0 else ''} "
                         f"lc rgb '{COLOR[v]}' title '{LABEL[v]}'")
        sc = term.format(h=550) + "set output 'overview.png'\n" \
            f"set title 'Throughput per scenario: median, bars min..max over repetitions ({FAST})'\n" \
            "set style data histogram\nset style histogram errorbars gap 1 lw 1\nset style fill solid 0.8 border -1\n" \
            f"set grid ytics\nset ylabel 'MiB/s'\nset yrange [0:*]\nset xrange [-0.6:{len(ks) - 0.4}]\nset key outside right\n" \
            "plot " + ", ".join(parts) + "\n"
        run_gp("overview", sc)
    return made


if __name__ == "__main__":
    sys.exit(main())

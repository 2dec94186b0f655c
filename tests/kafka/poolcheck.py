#!/usr/bin/env python3
"""tests/kafka/poolcheck.py - did a broker under libpafka really keep segment bytes in the pool?

  poolcheck.py POOLDIR LOGDIR [--stopped] [--tiered]

Reads POOLDIR/pafka.pool (layout: src/pool_format.h; little endian) and the segment files under LOGDIR,
prints "PASS: what" / "FAIL: what (details)" lines plus "#" notes, exits 1 if any check failed.
Checks: the pool file exists and its header is valid (magic, version, checksum, geometry); some blocks are
used; live records exist and name files under LOGDIR; the biggest segment (.log) has a live record with
pool blocks and is sparse (allocated bytes far below its size); if that segment's block 0 is pool-resident,
it starts with a Kafka record batch (magic 2) whose base offset is the segment's name; every used block
belongs to a live or dying record (or is reserved). --stopped: the broker has exited cleanly, so the header's
writer_pid must be 0 (the pool was closed).
"""
import os
import struct
import sys

PF_POOL_MAGIC = 0x314C4F4F504B4650
PF_RECORD_SIZE = 256
PF_BLOCK_RESERVED = 0xFFFFFFFFFFFFFFFF  # taken, data being prepared, not yet owned (freed at recovery)
LIVE = struct.Struct("<32Q")  # struct pf_pool_live, right after next_seq (offset 112)
LIVE_NAMES = ("writer_pid heartbeat_ms state demotions promotions migration_failures migration_aborts "
              "bytes_demoted bytes_promoted migration_ns spills bytes_written_pool bytes_written_slow "
              "bytes_read_pool bytes_read_slow bytes_sent_pool bytes_sent_slow backlog_bytes errors").split()
HDR = struct.Struct("<QII16sQQQQQQQQQQ")  # magic .. checksum, next_seq
REC = struct.Struct("<QQqQQQQQQQII160sQ")
REC_LIVE, REC_DYING = 1, 2


def fnv1a(b):
    h = 1469598103934665603
    for c in b:
        h ^= c
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pooldir, logdir = sys.argv[1], os.path.abspath(sys.argv[2])
    logdirs = (logdir + "/", os.path.realpath(logdir) + "/")
    stopped = "--stopped" in sys.argv[3:]
    tiered = "--tiered" in sys.argv[3:]
    label = " (broker stopped)" if stopped else ""
    results = []

    def check(ok, what, detail=""):
        results.append(bool(ok))
        print(("PASS: " if ok else "FAIL: ") + what + label + ("" if ok or not detail else f" ({detail})"))
        return ok

    path = os.path.join(pooldir, "pafka.pool")
    if not check(os.path.isfile(path), f"pool file {path} exists", "missing"):
        return 1
    fsize = os.path.getsize(path)
    with open(path, "rb") as f:
        hdr = f.read(4096)
        if not check(len(hdr) == 4096, "pool header readable", f"file is {fsize} bytes"):
            return 1
        (magic, version, header_size, uuid, pool_size, block_size, nblocks, nrecords, rec_off, blk_off,
         data_off, created_ns, csum, next_seq) = HDR.unpack_from(hdr)
        ok = magic == PF_POOL_MAGIC and version == 1 and csum == fnv1a(hdr[:96])
        check(ok, "pool header: magic, version 1, checksum",
              f"magic {magic:#x} version {version} checksum {csum:#x} vs {fnv1a(hdr[:96]):#x}")
        geo = (pool_size == fsize and block_size > 0 and rec_off >= header_size and
               blk_off >= rec_off + nrecords * PF_RECORD_SIZE and data_off >= blk_off + nblocks * 8 and
               data_off + nblocks * block_size <= pool_size)
        check(geo, "pool geometry is consistent",
              f"pool_size {pool_size} file {fsize} block {block_size} nblocks {nblocks} nrecords {nrecords} "
              f"rec_off {rec_off} blk_off {blk_off} data_off {data_off}")
        if not geo:
            return 1
        f.seek(rec_off)
        recraw = f.read(nrecords * PF_RECORD_SIZE)
        f.seek(blk_off)
        blkraw = f.read(nblocks * 8)
        entries = struct.unpack(f"<{nblocks}Q", blkraw)
        recs = {}
        for i in range(nrecords):
            (state, ino, bsec, bnsec, lo, hi, seq, size_hint, flags, path_sum, path_len, _pad, rpath,
             _r) = REC.unpack_from(recraw, i * PF_RECORD_SIZE)
            if state in (REC_LIVE, REC_DYING):
                rp = rpath[:min(path_len, 160)].decode("utf-8", "replace")
                recs[i] = dict(state=state, ino=ino, lo=lo, hi=hi, seq=seq, size_hint=size_hint, path=rp,
                               blocks={})
        used = 0
        reserved = 0
        orphans = []
        for b, e in enumerate(entries):
            if e == 0:
                continue
            used += 1
            if e == PF_BLOCK_RESERVED:
                reserved += 1
                continue
            r, idx = (e >> 32) - 1, e & 0xFFFFFFFF
            if r in recs:
                recs[r]["blocks"][idx] = b
            else:
                orphans.append((b, r, idx))
        print(f"# pool: {pool_size >> 20} MiB, block {block_size}, {used}/{nblocks} blocks used "
              f"({used * block_size / 1048576:.1f} MiB, {reserved} reserved), {len(recs)} live/dying records, "
              f"next_seq {next_seq}")
        live_stats = dict(zip(LIVE_NAMES, LIVE.unpack_from(hdr, 112)))
        print("# pool live stats: " + " ".join(f"{k}={v}" for k, v in live_stats.items() if k != "heartbeat_ms"))
        if stopped:
            check(live_stats["writer_pid"] == 0, "the pool was closed cleanly (writer_pid 0)",
                  f"writer_pid {live_stats['writer_pid']}")
        check(used > 0, "pool has used blocks", f"{used} of {nblocks}")
        live = [r for r in recs.values() if r["state"] == REC_LIVE]
        check(live, "pool has live records", "none")
        check(not orphans, "every used block belongs to a live or dying record",
              f"{len(orphans)} orphans, first {orphans[:5]}")
        inlog = [r for r in live if r["path"].startswith(logdirs)]
        check(inlog, f"live records name files under {logdir}",
              f"paths: {[r['path'] for r in live][:5]}")
        for r in sorted(live, key=lambda r: r["seq"]):
            print(f"#   rec seq {r['seq']}: ino {r['ino']} blocks [{r['lo']},{r['hi'] if r['hi'] != 2**64 - 1 else 'inf'}) "
                  f"{len(r['blocks'])} in pool, size_hint {r['size_hint']} {r['path']}")

        # the segments in the log dir
        segs = []
        for d, _, files in os.walk(logdir):
            for n in files:
                if n.endswith(".log") and len(n) == 24 and n[:20].isdigit():
                    p = os.path.join(d, n)
                    st = os.stat(p)
                    segs.append((st.st_size, p, st))
        total = sum(s[0] for s in segs)
        alloc = sum(s[2].st_blocks * 512 for s in segs)
        print(f"# log dir: {len(segs)} segments, {total / 1048576:.1f} MiB logical, "
              f"{alloc / 1048576:.1f} MiB allocated on disk")
        if not check(segs, "segments exist in the log dir", "none"):
            return 1
        byino_all = {r["ino"]: r for r in live}
        if tiered:
            # with migration the biggest segment may well have been demoted: look at the biggest
            # pool-resident one, and require every segment without pool blocks to be fully on disk
            resident = [s for s in segs if byino_all.get(s[2].st_ino) and byino_all[s[2].st_ino]["blocks"]]
            if not check(resident, "some segment is pool-resident", "none"):
                return 1
            demoted = [s for s in segs if s[0] > 0 and not (byino_all.get(s[2].st_ino) and byino_all[s[2].st_ino]["blocks"])]
            bad = [s[1] for s in demoted if s[2].st_blocks * 512 < s[0]]
            check(not bad, f"the {len(demoted)} segments without pool bytes are fully allocated on disk",
                  f"sparse: {bad[:3]}")
            segs = resident
        size, big, st = max(segs)
        allocated = st.st_blocks * 512
        print(f"# biggest segment: {big}: size {size}, allocated {allocated}")
        byino = {r["ino"]: r for r in live}
        rec = byino.get(st.st_ino)
        check(rec is not None and rec["blocks"], "the biggest segment has a live pool record with pool blocks",
              "no live record for its inode" if rec is None else "record has no pool blocks")
        check(size > 0 and allocated * 4 <= size, "the biggest segment is sparse (allocated <= size/4)",
              f"size {size}, allocated {allocated}")
        if rec is not None and 0 in rec["blocks"]:
            f.seek(data_off + rec["blocks"][0] * block_size)
            head = f.read(17)
            base, _blen = struct.unpack(">qi", head[:12])
            want = int(os.path.basename(big)[:20])
            check(head[16] == 2 and base == want,
                  "its pool block 0 starts with a record batch (magic 2) at the segment's base offset",
                  f"base offset {base} (want {want}), magic {head[16]}")
        else:
            print("# the biggest segment's block 0 is not pool-resident; batch-header check not applicable")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

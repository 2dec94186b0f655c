#!/usr/bin/env python3
"""tests/kafka/poolcheck.py - did a broker under libpafka really keep segment bytes in the pool?

  poolcheck.py POOLDIR LOGDIR [--stopped] [--tiered]

Reads POOLDIR/pafka.pool (through tests/lib/pafkapool.py) and the segment files under LOGDIR,
prints "PASS: what" / "FAIL: what (details)" lines plus "#" notes, exits 1 if any check failed.
Checks: the pool file exists and its header is valid (magic, version, checksum, geometry); every record and
block-table entry passes its integrity check; some blocks are used; live records exist and name files under LOGDIR; the biggest segment (.log) has a live record with
pool blocks and is sparse (allocated bytes far below its size); if that segment's block 0 is pool-resident,
it starts with a Kafka record batch (magic 2) whose base offset is the segment's name; every used block
belongs to a live or dying record (or is reserved). --stopped: the broker has exited cleanly, so the header's
writer_pid must be 0 (the pool was closed).
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import pafkapool as pp  # noqa: E402


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

    path = pp.pool_path(pooldir)
    if not check(os.path.isfile(path), f"pool file {path} exists", "missing"):
        return 1
    fsize = os.path.getsize(path)
    with open(path, "rb") as f:
        hdr = f.read(pp.HEADER_SIZE)
        if not check(len(hdr) == pp.HEADER_SIZE, "pool header readable", f"file is {fsize} bytes"):
            return 1
        h = pp.parse_header(hdr)
        magic, version, csum = h.magic, h.version, h.checksum
        pool_size, block_size, nblocks, nrecords = h.pool_size, h.block_size, h.nblocks, h.nrecords
        rec_off, blk_off, data_off = h.rec_off, h.blk_off, h.data_off
        want_csum = pp.header_checksum(hdr)
        ok = magic == pp.MAGIC and version in pp.VERSIONS and csum == want_csum
        check(ok, "pool header: magic, version, checksum",
              f"magic {magic:#x} version {version} checksum {csum:#x} vs {want_csum:#x}")
        geo = pp.geometry_ok(h, fsize)
        check(geo, "pool geometry is consistent",
              f"pool_size {pool_size} file {fsize} block {block_size} nblocks {nblocks} nrecords {nrecords} "
              f"rec_off {rec_off} blk_off {blk_off} data_off {data_off}")
        if not geo:
            return 1
        all_recs = pp.read_records(f, h)
        damaged = {i: r.bad for i, r in all_recs.items() if not r.ok}
        check(not damaged, f"every record passes its integrity checks (pool format {pp.pool_format(h)})",
              f"failing words: {dict(list(damaged.items())[:5])}")
        recs = {i: dict(state=r.state, ino=r.ino, lo=r.lo, hi=r.hi, seq=r.seq, size_hint=r.size_hint,
                        path=r.path, blocks={})
                for i, r in all_recs.items() if r.ok}
        entries = pp.read_block_table(f, h)
        bad = [b for b, e in enumerate(entries) if e and e != pp.BLOCK_RESERVED and not pp.entry_ok(h, b, e)]
        check(not bad, "every block-table entry passes its integrity check", f"{len(bad)} fail, first {bad[:5]}")
        used = 0
        reserved = 0
        orphans = []
        for b, e in enumerate(entries):
            if e == 0:
                continue
            used += 1
            if e == pp.BLOCK_RESERVED:
                reserved += 1
                continue
            r, idx = pp.entry_owner(e)
            if r in recs:
                recs[r]["blocks"][idx] = b
            else:
                orphans.append((b, r, idx))
        print(f"# pool: {pool_size >> 20} MiB, block {block_size}, {used}/{nblocks} blocks used "
              f"({used * block_size / 1048576:.1f} MiB, {reserved} reserved), {len(recs)} live/dying records, "
              f"next_seq {h.next_seq}")
        live_stats = pp.live_stats(hdr)
        print("# pool live stats: " + " ".join(f"{k}={v}" for k, v in live_stats.items() if k != "heartbeat_ms"))
        if stopped:
            check(live_stats["writer_pid"] == 0, "the pool was closed cleanly (writer_pid 0)",
                  f"writer_pid {live_stats['writer_pid']}")
        check(used > 0, "pool has used blocks", f"{used} of {nblocks}")
        live = [r for r in recs.values() if r["state"] == pp.REC_LIVE]
        check(live, "pool has live records", "none")
        check(not orphans, "every used block belongs to a live or dying record",
              f"{len(orphans)} orphans, first {orphans[:5]}")
        inlog = [r for r in live if r["path"].startswith(logdirs)]
        check(inlog, f"live records name files under {logdir}",
              f"paths: {[r['path'] for r in live][:5]}")
        for r in sorted(live, key=lambda r: r["seq"]):
            print(f"#   rec seq {r['seq']}: ino {r['ino']} blocks [{r['lo']},{r['hi'] if r['hi'] != pp.HI_NONE else 'inf'}) "
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
        # a head move (migration's cold head of an active segment) puts the bytes below the pool window on
        # disk by design: the window's part must be sparse
        head = rec["lo"] * block_size if rec is not None and rec["lo"] != pp.HI_NONE else 0
        head = min(head, size)
        check(size > 0 and (allocated - min(allocated, head)) * 4 <= size - head,
              "the biggest segment is sparse past its head on disk (allocated - head <= (size - head)/4)",
              f"size {size}, allocated {allocated}, head on disk {head}")
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

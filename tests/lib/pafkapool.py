"""tests/lib/pafkapool.py - the one Python reader of a pool file's layout, for the test and bench scripts.

The C definition is src/pool_format.h (the layout, the encoders and the checks); everything is little endian:

  [ header: 4 KiB ][ record table: nrecords * 256 B ][ block table: nblocks * 8 B ][ pad ][ data blocks ]

Two formats (pool_format.h says how each word is built and checked):
  format 2 (header version 2, or version 1 with the format word 2: upgraded): a block-table entry is 0 when
    free, BLOCK_RESERVED while its data is being prepared, else bit 63 | check (15 bits) | record index + 1
    (21 bits) | block index within the file (27 bits); record words carry 31-bit checks.
  format 1 (earlier releases): an owned entry is ((record index + 1) << 32) | (block index), no checks.
Each entry and record says which format it is in, so a pool being upgraded reads too. Records are
returned decoded, with their checks verified (ok / bad); entries decode with entry_owner (the owner, as the
entry says) and entry_ok (its check holds). Users (tests/kafka/poolcheck.py, tests/e2e/e2e.py,
bench/ab/sampler.py) put this directory on sys.path and `import pafkapool`; they keep their own checks and
output, this module only reads.
"""
import collections
import os
import struct

POOL_FILE = "pafka.pool"
MAGIC = 0x314C4F4F504B4650  # "PFKPOOL1" little endian
VERSION = 2  # the header version new pools get
VERSIONS = (1, 2)  # the versions this release reads (1: format 1, or format 2 once upgraded)
FORMAT_2 = 2
HEADER_SIZE = 4096
RECORD_SIZE = 256
PATH_MAX_REC = 160  # the longest path hint any format holds (format 1)
REC2_PATH_CAP = 116  # a format-2 record's path hint
MAX_RECORDS = 1 << 20
MAX_BLOCKS = 0xFFFFFFFE
MAX_FILE_BLOCKS = 1 << 27
BLOCK_RESERVED = 0xFFFFFFFFFFFFFFFF  # taken, data being prepared, not yet owned (freed at recovery)
HI_NONE = 0xFFFFFFFFFFFFFFFF  # a record's hi without an upper bound
REC_FREE, REC_LIVE, REC_DYING, REC_BAD = 0, 1, 2, 3  # REC_BAD: the record fails its checks
RECF_REAL_VALID = 1  # the real file holds a valid copy of every pool-resident block
RECF_UNLINKED = 2  # the file's last name is gone
M64 = 0xFFFFFFFFFFFFFFFF

# struct pf_pool_header up to next_seq; the checksum covers the fields before it (magic .. created_ns)
HDR = struct.Struct("<QII16sQQQQQQQQQQ")
Header = collections.namedtuple("Header", "magic version header_size uuid pool_size block_size nblocks nrecords "
                                          "rec_off blk_off data_off created_ns checksum next_seq format upgrade")
CHECKSUM_OFF = 96
# struct pf_pool_live, right after next_seq
LIVE_OFF = 112
LIVE = struct.Struct("<32Q")
LIVE_NAMES = ("writer_pid heartbeat_ms state demotions promotions migration_failures migration_aborts "
              "bytes_demoted bytes_promoted migration_ns spills bytes_written_pool bytes_written_slow "
              "bytes_read_pool bytes_read_slow bytes_sent_pool bytes_sent_slow backlog_bytes errors "
              "demote_boundary_ns head_demotions readmissions").split()
# the mutable format word, the upgrade's progress word and its copy of the record being rewritten
FORMAT_OFF, UPGRADE_OFF, UPGRADE_REC_OFF = 368, 376, 432
# struct pf_pool_record (format 2) and struct pf_pool_record_v1 (format 1)
REC2 = struct.Struct("<QQqQQQQQQQQII24sQI116sQ")
REC1 = struct.Struct("<QQqQQQQQQQII160sQ")
Record = collections.namedtuple("Record", "state ino btime_sec btime_nsec lo hi seq size_hint flags path_sum "
                                          "path_len path format ok bad")

CK_STATE, CK_LO, CK_HI, CK_FLAGS, CK_SIZE, CK_IDENT, CK_SYNCED = 1, 2, 3, 4, 5, 6, 7
CK_ENTRY = 0x454E545259
WORD32_NONE = 0xFFFFFFFF


def pool_path(pooldir):
    return os.path.join(pooldir, POOL_FILE)


def fnv1a(b):
    """FNV-1a 64, as pf_fnv1a."""
    h = 1469598103934665603
    for c in b:
        h ^= c
        h = (h * 1099511628211) & M64
    return h


def mix64(z):
    """splitmix64's finaliser, as pf_mix64."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def chk(salt, where, what, value):
    return mix64(mix64(mix64(salt ^ where) ^ what) ^ value)


def salt_of(uuid):
    a, b = struct.unpack("<QQ", uuid)
    return mix64(a ^ mix64(b ^ 0x50464B53414C5432))


def parse_header(raw):
    """The header fields of RAW (the file's first HEADER_SIZE bytes) as a Header."""
    fmt, upgrade = struct.unpack_from("<QQ", raw, FORMAT_OFF)
    return Header(*HDR.unpack_from(raw), fmt, upgrade)


def header_checksum(raw):
    """The checksum the header in RAW should carry."""
    return fnv1a(raw[:CHECKSUM_OFF])


def pool_format(h):
    """1 or 2: the format of the pool's tables (0: a version/format pair no release writes)."""
    if h.version == 2:
        return 2 if h.format == FORMAT_2 else 0
    if h.version == 1:
        return 1 if h.format in (0, 1) else 2 if h.format == FORMAT_2 else 0
    return 0


def geometry_ok(h, fsize):
    """The shim's geometry check (pf_pool_header_problem), bounded as it is."""
    bs = h.block_size
    return (h.pool_size == fsize and h.header_size == HEADER_SIZE and bs >= 4096 and bs <= 1 << 30 and
            bs & (bs - 1) == 0 and 0 < h.nrecords <= MAX_RECORDS and 0 < h.nblocks <= MAX_BLOCKS and
            h.rec_off == HEADER_SIZE and h.blk_off == h.rec_off + h.nrecords * RECORD_SIZE and
            h.data_off % bs == 0 and h.data_off >= h.blk_off + h.nblocks * 8 and
            h.data_off + h.nblocks * bs <= fsize and pool_format(h) != 0)


def live_stats(raw):
    """The live statistics of the header in RAW, {name: value} in LIVE_NAMES order."""
    return dict(zip(LIVE_NAMES, LIVE.unpack_from(raw, LIVE_OFF)))


def _word32(salt, r, seq, w, v):
    return (1 << 63) | ((chk(salt, (r << 8) | w, seq, v) >> 33) << 32) | v


def _win64(v):
    return HI_NONE if v == WORD32_NONE else v


def _decode2(salt, r, raw):
    (state_w, ino, bsec, bnsec, seq, ident, lo_w, hi_w, flags_w, size_w, size_hint, htype, hbytes, handle,
     path_sum, path_len, path, synced_w) = REC2.unpack(raw)
    bad = []
    words = struct.unpack("<3Q", handle)
    h = chk(salt, (r << 8) | CK_IDENT, seq, ino)
    for v in (bsec & M64, bnsec, htype | (hbytes << 32)) + words:
        h = mix64(h ^ v)
    if hbytes > 24 or ident != h:
        bad.append("identity")
    st = state_w & 0xFFFFFFFF
    if st not in (REC_LIVE, REC_DYING) or state_w != _word32(salt, r, seq, CK_STATE, st):
        bad.append("state")
        st = REC_BAD
    for name, w, ck in (("lo", lo_w, CK_LO), ("hi", hi_w, CK_HI), ("flags", flags_w, CK_FLAGS)):
        if not w >> 63 or w != _word32(salt, r, seq, ck, w & 0xFFFFFFFF):
            bad.append(name)
    for name, w, ck in (("size", size_w, CK_SIZE), ("synced", synced_w, CK_SYNCED)):
        if w and w != ((1 << 63) | ((chk(salt, (r << 8) | ck, seq, w & ((1 << 48) - 1)) >> 49) << 48) |
                       (w & ((1 << 48) - 1))):
            bad.append(name)
    p = path[:path_len].decode("utf-8", "replace") if path_len <= REC2_PATH_CAP else ""
    return Record(REC_BAD if bad else st, ino, bsec, bnsec,
                  _win64(lo_w & 0xFFFFFFFF), _win64(hi_w & 0xFFFFFFFF), seq, size_hint, flags_w & 0xFFFFFFFF,
                  path_sum, path_len, p, 2, not bad, bad)


def _decode1(raw):
    (state, ino, bsec, bnsec, lo, hi, seq, size_hint, flags, path_sum, path_len, _pad, path,
     _r) = REC1.unpack(raw)
    ok = state in (REC_LIVE, REC_DYING)
    p = path[:min(path_len, PATH_MAX_REC)].decode("utf-8", "replace")
    return Record(state if ok else REC_BAD, ino, bsec, bnsec, lo, hi, seq, size_hint, flags, path_sum, path_len, p, 1,
                  ok, [] if ok else ["state"])


def read_records(f, h):
    """{index: Record} of every record in use (LIVE, DYING, or failing its checks: state REC_BAD) of the open
    pool file F with header H, decoded in its format, paths decoded. A record that fails a check has ok False
    and bad naming the words (its lo/hi/flags are then not to be trusted)."""
    salt = salt_of(h.uuid)
    fmt2 = pool_format(h) == 2
    f.seek(h.rec_off)
    raw = f.read(h.nrecords * RECORD_SIZE)
    copy = None
    if not fmt2 and h.upgrade and h.upgrade % 2 == 0:  # record upgrade/2 - 1 is being rewritten: its copy
        f.seek(UPGRADE_REC_OFF)
        copy = (h.upgrade // 2 - 1, f.read(RECORD_SIZE))
    recs = {}
    for i in range(h.nrecords):
        rr = copy[1] if copy and copy[0] == i else raw[i * RECORD_SIZE:(i + 1) * RECORD_SIZE]
        state = struct.unpack_from("<Q", rr)[0]
        if state == 0:
            continue
        recs[i] = _decode2(salt, i, rr) if fmt2 or state >> 63 else _decode1(rr)
    return recs


def read_block_table(f, h, partial=False):
    """The block table of the open pool file F with header H, one entry per block. partial: a short file
    gives the entries it has instead of an error."""
    f.seek(h.blk_off)
    raw = f.read(h.nblocks * 8)
    n = len(raw) // 8 if partial else h.nblocks
    return struct.unpack(f"<{n}Q", raw)


def entry_owner(e):
    """(record index, block index within the file) that a used, not reserved block-table entry names (either
    format; entry_ok says whether a format-2 entry's check holds)."""
    if e >> 63:
        payload = e & ((1 << 48) - 1)
        return (payload >> 27) - 1, payload & (MAX_FILE_BLOCKS - 1)
    return (e >> 32) - 1, e & 0xFFFFFFFF


def entry_ok(h, phys, e):
    """Does the owned entry E of physical block PHYS hold, in the pool with header H? (format 1: it has no
    check, but must be in format 1)"""
    if not e >> 63:
        return pool_format(h) == 1 and e >> 32 != 0
    payload = e & ((1 << 48) - 1)
    return (e >> 48) & 0x7FFF == chk(salt_of(h.uuid), phys, CK_ENTRY, payload) >> 49 and payload >> 27 != 0


def summary(path):
    """Lines describing the pool file PATH, for readers in other languages (tests/java): one
    "pool BLOCK_SIZE NBLOCKS USED RESERVED UNOWNED" line (USED counts every non-free entry, RESERVED the
    reserved ones, UNOWNED owned entries naming no record in use or failing their check), then one
    "rec INDEX STATE INO BLOCKS PATH" line per record in use (STATE as REC_*, BLOCKS the entries naming it)."""
    with open(path, "rb") as f:
        raw = f.read(HEADER_SIZE)
        h = parse_header(raw)
        if h.magic != MAGIC or not geometry_ok(h, os.fstat(f.fileno()).st_size):
            raise ValueError(f"{path}: not a pool this release reads")
        recs = read_records(f, h)
        table = read_block_table(f, h)
    owned = collections.Counter()
    used = reserved = unowned = 0
    for phys, e in enumerate(table):
        if e == 0:
            continue
        used += 1
        if e == BLOCK_RESERVED:
            reserved += 1
            continue
        r, _ = entry_owner(e)
        if r in recs and entry_ok(h, phys, e):
            owned[r] += 1
        else:
            unowned += 1
    out = [f"pool {h.block_size} {h.nblocks} {used} {reserved} {unowned}"]
    for i, r in sorted(recs.items()):
        out.append(f"rec {i} {r.state} {r.ino} {owned[i]} {r.path}")
    return "\n".join(out)


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "summary":
        sys.exit("usage: pafkapool.py summary POOLFILE")
    try:
        print(summary(sys.argv[2]))
    except (OSError, ValueError, struct.error) as e:
        sys.exit(f"pafkapool.py: {e}")

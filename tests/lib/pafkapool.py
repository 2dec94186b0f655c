"""tests/lib/pafkapool.py - the one Python reader of a pool file's layout, for the test and bench scripts.

The C definition is src/pool_format.h; everything is little endian:

  [ header: 4 KiB ][ record table: nrecords * 256 B ][ block table: nblocks * 8 B ][ pad ][ data blocks ]

A block-table entry is 0 when free, BLOCK_RESERVED while its data is being prepared, else
((record index + 1) << 32) | (block index within the file). Users (tests/kafka/poolcheck.py, tests/e2e/e2e.py,
bench/ab/sampler.py) put this directory on sys.path and `import pafkapool`; they keep their own checks and
output, this module only reads.
"""
import collections
import os
import struct

POOL_FILE = "pafka.pool"
MAGIC = 0x314C4F4F504B4650  # "PFKPOOL1" little endian
VERSION = 1
HEADER_SIZE = 4096
RECORD_SIZE = 256
PATH_MAX_REC = 160
BLOCK_RESERVED = 0xFFFFFFFFFFFFFFFF  # taken, data being prepared, not yet owned (freed at recovery)
HI_NONE = 0xFFFFFFFFFFFFFFFF  # a record's hi without an upper bound
REC_FREE, REC_LIVE, REC_DYING = 0, 1, 2
RECF_REAL_VALID = 1  # the real file holds a valid copy of every pool-resident block

# struct pf_pool_header up to next_seq; the checksum covers the fields before it (magic .. created_ns)
HDR = struct.Struct("<QII16sQQQQQQQQQQ")
Header = collections.namedtuple("Header", "magic version header_size uuid pool_size block_size nblocks nrecords "
                                          "rec_off blk_off data_off created_ns checksum next_seq")
CHECKSUM_OFF = 96
# struct pf_pool_live, right after next_seq
LIVE_OFF = 112
LIVE = struct.Struct("<32Q")
LIVE_NAMES = ("writer_pid heartbeat_ms state demotions promotions migration_failures migration_aborts "
              "bytes_demoted bytes_promoted migration_ns spills bytes_written_pool bytes_written_slow "
              "bytes_read_pool bytes_read_slow bytes_sent_pool bytes_sent_slow backlog_bytes errors").split()
# struct pf_pool_record
REC = struct.Struct("<QQqQQQQQQQII160sQ")
Record = collections.namedtuple("Record", "state ino btime_sec btime_nsec lo hi seq size_hint flags path_sum "
                                          "path_len path")


def pool_path(pooldir):
    return os.path.join(pooldir, POOL_FILE)


def fnv1a(b):
    """FNV-1a 64, as pf_fnv1a."""
    h = 1469598103934665603
    for c in b:
        h ^= c
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def parse_header(raw):
    """The header fields of RAW (the file's first HEADER_SIZE bytes) as a Header."""
    return Header(*HDR.unpack_from(raw))


def header_checksum(raw):
    """The checksum the header in RAW should carry."""
    return fnv1a(raw[:CHECKSUM_OFF])


def live_stats(raw):
    """The live statistics of the header in RAW, {name: value} in LIVE_NAMES order."""
    return dict(zip(LIVE_NAMES, LIVE.unpack_from(raw, LIVE_OFF)))


def read_records(f, h):
    """{index: Record} of every LIVE or DYING record of the open pool file F with header H (path decoded)."""
    f.seek(h.rec_off)
    raw = f.read(h.nrecords * RECORD_SIZE)
    recs = {}
    for i in range(h.nrecords):
        (state, ino, bsec, bnsec, lo, hi, seq, size_hint, flags, path_sum, path_len, _pad, path,
         _r) = REC.unpack_from(raw, i * RECORD_SIZE)
        if state in (REC_LIVE, REC_DYING):
            recs[i] = Record(state, ino, bsec, bnsec, lo, hi, seq, size_hint, flags, path_sum, path_len,
                             path[:min(path_len, PATH_MAX_REC)].decode("utf-8", "replace"))
    return recs


def read_block_table(f, h, partial=False):
    """The block table of the open pool file F with header H, one entry per block. partial: a short file
    gives the entries it has instead of an error."""
    f.seek(h.blk_off)
    raw = f.read(h.nblocks * 8)
    n = len(raw) // 8 if partial else h.nblocks
    return struct.unpack(f"<{n}Q", raw)


def entry_owner(e):
    """(record index, block index within the file) of a used, not reserved block-table entry."""
    return (e >> 32) - 1, e & 0xFFFFFFFF

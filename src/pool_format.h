/*
 * pool_format.h - the persistent layout of a libpafka pool file (<storage.tiers.first.paths>/pafka.pool),
 * and the pure encoders and decoders of its words (shared by the shim, the CLI and the tests).
 *
 *   [ header: 4 KiB ][ record table: nrecords * 256 B ][ block table: nblocks * 8 B ][ pad ][ data blocks ]
 *
 * A *record* describes one managed file whose bytes are (partly) pool-resident. The file in the log dir
 * stays the file's identity; the record finds it again by inode number + birth time (statx btime), which
 * survive renames of the file and of its directory. A *block* is block_size bytes of data, described by
 * its 8-byte block-table entry.
 *
 * Placement of block i of a file with a LIVE record r:
 *   i <  r.lo or i >= r.hi : the bytes live in the real file (slow tier);
 *   otherwise              : in the pool block whose entry is (r, i), or, if none, a hole reading zeros
 *                            (the real file is guaranteed to be a hole there too).
 * Entries (r, i) with i outside [lo, hi) are stale (a finished demotion, or an unfinished promotion) and
 * are freed at recovery. Every field that publishes state is 8 bytes, naturally aligned, and is the last
 * store of its step (the commit point); the data it publishes is persisted first.
 * The logical size of a file is always the size of the real file (kept sparse and exact), so every stat
 * variant from any process is right by construction.
 *
 * FORMAT 2 (this release writes it): every committed word carries its own integrity check, inside the
 * same 8 bytes (a separate checksum would be torn by a crash). The checks are keyed by a salt derived
 * from the pool's uuid and bind each word to where it lives, so a flipped bit, a value moved from another
 * record or block, or two swapped entries all fail:
 *   block entry   FREE = 0; RESERVED = UINT64_MAX (freed at recovery);
 *                 OWNED = bit 63 | check (15 bits, 48..62) | record index + 1 (21 bits, 27..47) |
 *                 block index within the file (27 bits, 0..26); the check covers the salt, the PHYSICAL
 *                 block number, the record and the index.
 *   record words  state_w, lo_w, hi_w, flags_w: bit 63 | check (31 bits, 32..62) | 32-bit value (lo/hi
 *                 0xFFFFFFFF = PF_HI_NONE); the check covers the salt, the record index, the word and the
 *                 record's seq. state_w FREE is 0. size_w: bit 63 | check (15 bits) | 48-bit size, 0 = not
 *                 maintained. synced_w: the same, with a check of its own: the size at the file's last fsync
 *                 on a non-PMem pool, stored after the bytes it covers were persisted (0 = not maintained). ident_sum: a 64-bit check of the salt, the record index, ino, btime, seq and
 *                 the file handle, written before the record goes LIVE and never changed while it is.
 * A record whose words fail but whose ident_sum holds belongs to a known file, which must then be refused
 * (EIO); anything whose owner cannot be known stops the writer ("run 'pafka fsck'").
 *
 * FORMAT 1 (every pool of earlier releases: header version 1): records in struct pf_pool_record_v1, owned
 * entries ((record index + 1) << 32) | index, no checks. Bit 63 is never set in a format-1 owned entry,
 * and a format-1 LIVE/DYING record's state word is 1 or 2, so each entry and record says which format it
 * is in. The writer upgrades a format-1 pool in place at load, before recovery, crash-safely: each LIVE or
 * DYING record is copied to the header's upgrade_rec, `upgrade` says "record r is being rewritten" (2(r+1))
 * and then "record r is done" (2(r+1) + 1): the word only grows, so a reader can tell that a record
 * changed under it; entries convert one 8-byte store each; then `format` = 2 (the header `version`, under
 * the checksum, stays 1 on upgraded pools). Readers read format 1, format 2 and a pool mid-upgrade.
 *
 * Owns: the on-disk layout and its encoders. May call: nothing (shared by the shim, the CLI and the tests).
 */
#ifndef PAFKA_POOL_FORMAT_H
#define PAFKA_POOL_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PF_POOL_FILE "pafka.pool"
#define PF_POOL_MAGIC 0x314c4f4f504b4650ULL /* "PFKPOOL1" little endian */
#define PF_POOL_VERSION 2                   /* the header version new pools get */
#define PF_POOL_VERSION_MIN 1               /* the oldest this release reads (and upgrades) */
#define PF_FORMAT_2 2                       /* the header's `format` word once a pool is in format 2 */
#define PF_HEADER_SIZE 4096
#define PF_RECORD_SIZE 256
#define PF_PATH_MAX_REC 160   /* the longest path hint any format holds (format 1); buffers are this + 1 */
#define PF_REC2_PATH_CAP 116  /* the path hint of a format-2 record (the tail of longer paths) */
#define PF_HANDLE_MAX 24      /* bytes of a file handle a record holds */
#define PF_BLOCK_FREE 0ULL
#define PF_BLOCK_RESERVED UINT64_MAX /* taken, data being prepared, not yet owned: free at recovery */
#define PF_HI_NONE UINT64_MAX
#define PF_SIZE_NONE UINT64_MAX      /* a record's durable size, when it is not maintained */

/* Limits of the geometry (checked at every open, by the shim and the CLI alike). */
#define PF_MAX_RECORDS (1ULL << 20)       /* record index + 1 must fit the entry's 21 bits */
#define PF_MAX_BLOCKS 0xFFFFFFFEULL       /* a physical block + 1 must fit 32 bits (the in-memory maps) */
#define PF_MAX_FILE_BLOCKS (1ULL << 27)   /* a block index within a file must fit the entry's 27 bits */
#define PF_WORD32_NONE 0xFFFFFFFFULL      /* lo/hi's 32-bit encoding of PF_HI_NONE */

/* Format 1's owned entry (reading old pools, the upgrade and the tests only). */
#define PF_ENTRY1(rec, idx) ((((uint64_t)(rec) + 1) << 32) | (uint64_t)(uint32_t)(idx))
#define PF_ENTRY1_REC(e) ((uint32_t)(((e) >> 32) - 1))
#define PF_ENTRY1_IDX(e) ((uint32_t)(e))

/* PF_REC_BAD: what a decoder reports when a state word fails its check (never stored). */
enum pf_rec_state { PF_REC_FREE = 0, PF_REC_LIVE = 1, PF_REC_DYING = 2, PF_REC_BAD = 3 };

struct pf_pool_header {
	uint64_t magic;        /* written and persisted last at creation */
	uint32_t version;      /* 2 for pools created in format 2; 1 for format-1 pools, also once upgraded */
	uint32_t header_size;
	uint8_t uuid[16];
	uint64_t pool_size;    /* bytes of the whole file */
	uint64_t block_size;
	uint64_t nblocks;
	uint64_t nrecords;
	uint64_t rec_off;      /* offsets from the start of the file */
	uint64_t blk_off;
	uint64_t data_off;
	uint64_t created_ns;
	uint64_t checksum;     /* FNV-1a 64 of all fields above (magic .. created_ns) */
	/* mutable fields, not covered by the checksum */
	uint64_t next_seq;     /* creation sequence for age order; bumped per new record */
	struct pf_pool_live {  /* written by the pool's writer process, read by tools (pafka status) */
		uint64_t writer_pid;     /* pid of the process holding the pool, 0 when it closed cleanly */
		uint64_t heartbeat_ms;   /* CLOCK_REALTIME ms, refreshed about once a second while active */
		uint64_t state;          /* PF_LIVE_* bits */
		uint64_t demotions, promotions, migration_failures, migration_aborts;
		uint64_t bytes_demoted, bytes_promoted;
		uint64_t migration_ns;   /* time spent moving */
		uint64_t spills;         /* writes sent to the slow tier because the pool was full */
		uint64_t bytes_written[2], bytes_read[2], bytes_sent[2]; /* [0] pool, [1] slow tier */
		uint64_t backlog_bytes;  /* bytes the policy wants to move now */
		uint64_t errors;
		uint64_t demote_boundary_ns; /* birth time of the newest file ever demoted: no promotion of
						older ones (policy state, kept across restarts) */
		uint64_t head_demotions;     /* cold heads of active segments moved to the slow tier */
		uint64_t readmissions;       /* spilled files given a new window at their end */
		uint64_t reserved[10];
	} live;
	uint64_t format;       /* PF_FORMAT_2 once every record and entry is in format 2; 0 in format-1 pools */
	uint64_t upgrade;      /* format 1 only: 2(r+1) while record r is rewritten from upgrade_rec, 2(r+1) + 1
				  once it is; 0 before the first. Meaningless once format is 2. */
	uint64_t writer_boot[2]; /* the kernel boot id (/proc/sys/kernel/random/boot_id) of the last writer, 0 when
				    unknown: unchecked, a mismatch only makes recovery trust fsynced sizes alone */
	uint64_t writer_clean;   /* 1: the last writer exited cleanly after persisting the whole pool; 0 while a
				    writer runs */
	uint64_t reserved2[3];
	uint64_t upgrade_rec[PF_RECORD_SIZE / 8]; /* the format-1 copy of the record being rewritten */
};

#define PF_LIVE_MIGRATING 1ULL  /* migration threads running */
#define PF_LIVE_PAUSED 2ULL     /* migration paused (<pool dir>/pafka.pause exists) */
#define PF_LIVE_DRAINING 4ULL   /* draining (<pool dir>/pafka.drain exists): no new pool data */

/* Control files in a pool's directory, created and removed by tools, polled by the writer:
 *   pafka.pause  migration paused while it exists;
 *   pafka.drain  the writer admits no new bytes to the pool and moves every pool byte to the slow tier,
 *                so the broker can later run without the shim. */
#define PF_PAUSE_FILE "pafka.pause"
#define PF_DRAIN_FILE "pafka.drain"

_Static_assert(sizeof(struct pf_pool_live) == 32 * 8, "live stats keep the header layout");
_Static_assert(offsetof(struct pf_pool_header, checksum) == 96, "the checksummed part keeps its layout");
_Static_assert(offsetof(struct pf_pool_header, live) == 112, "the live stats keep their place");
_Static_assert(offsetof(struct pf_pool_header, format) == 368, "format follows the live stats");

/* A record in format 2. */
struct pf_pool_record {
	uint64_t state_w;      /* 0 FREE, or word32(PF_REC_LIVE | PF_REC_DYING): the commit point of create/free */
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
	uint64_t seq;          /* creation sequence: age order that survives restart */
	uint64_t ident_sum;    /* pf_rec_ident(): written before the record goes LIVE, immutable while it is */
	uint64_t lo_w;         /* word32(lo): blocks [lo, hi) may be pool-resident */
	uint64_t hi_w;
	uint64_t flags_w;      /* word32(PF_RECF_*) */
	uint64_t size_w;       /* durable logical size (bit 63 | check15 | 48 bits), 0 = not maintained */
	uint64_t size_hint;    /* last logical size seen (tools only, unchecked; the real file's size is the truth) */
	uint32_t handle_type;  /* a file handle (name_to_handle_at), covered by ident_sum; 0 bytes: none */
	uint32_t handle_bytes;
	unsigned char handle[PF_HANDLE_MAX];
	uint64_t path_sum;     /* FNV-1a 64 of path[0..path_len); a mismatch means "path unknown" */
	uint32_t path_len;
	char path[PF_REC2_PATH_CAP]; /* last known absolute path, or its tail (a hint; never trusted for data) */
	uint64_t synced_w;     /* the size at the last fsync whose bytes were persisted (as size_w), 0 = none */
};

/* A record in format 1. */
struct pf_pool_record_v1 {
	uint64_t state;        /* enum pf_rec_state */
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
	uint64_t lo;
	uint64_t hi;
	uint64_t seq;
	uint64_t size_hint;
	uint64_t flags;
	uint64_t path_sum;
	uint32_t path_len;
	uint32_t pad;
	char path[PF_PATH_MAX_REC];
	uint64_t reserved[1];
};

#define PF_RECF_REAL_VALID 1ULL /* the real file holds a valid copy of every pool-resident block */
#define PF_RECF_UNLINKED 2ULL   /* the shim saw the file's last name go: once no descriptor is left, nothing
				   can reach its bytes (recovery frees them) */

_Static_assert(sizeof(struct pf_pool_record) == PF_RECORD_SIZE, "record size");
_Static_assert(sizeof(struct pf_pool_record_v1) == PF_RECORD_SIZE, "format-1 record size");
_Static_assert(offsetof(struct pf_pool_record, path_sum) % 8 == 0, "path_sum is a committed word");
_Static_assert(sizeof(struct pf_pool_header) <= PF_HEADER_SIZE, "header size");

static inline uint64_t pf_fnv1a(const void *p, uint64_t n)
{
	const unsigned char *c = p;
	uint64_t h = 1469598103934665603ULL;
	for (uint64_t i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* ---- the checks: splitmix64 rounds over (salt, where, what, value) */

static inline uint64_t pf_mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t pf_chk(uint64_t salt, uint64_t where, uint64_t what, uint64_t value)
{
	return pf_mix64(pf_mix64(pf_mix64(salt ^ where) ^ what) ^ value);
}

/* The pool's salt, from its uuid (covered by the header checksum). */
static inline uint64_t pf_pool_salt(const uint8_t uuid[16])
{
	uint64_t a, b;
	memcpy(&a, uuid, 8);
	memcpy(&b, uuid + 8, 8);
	return pf_mix64(a ^ pf_mix64(b ^ 0x50464b53414c5432ULL));
}

/* The words of a record a check names. */
enum pf_rec_word {
	PF_CK_STATE = 1,
	PF_CK_LO = 2,
	PF_CK_HI = 3,
	PF_CK_FLAGS = 4,
	PF_CK_SIZE = 5,
	PF_CK_IDENT = 6,
	PF_CK_SYNCED = 7
};
#define PF_CK_ENTRY 0x454e545259ULL /* "ENTRY": the what of a block entry's check */

/* ---- block entries */

#define PF_E2_OWNED (1ULL << 63)
#define PF_E2_IDX_BITS 27
#define PF_E2_REC_BITS 21

static inline uint64_t pf_entry2_payload(uint32_t rec, uint32_t idx)
{
	return (((uint64_t)rec + 1) << PF_E2_IDX_BITS) | (uint64_t)idx;
}

/* The owned entry of physical block phys holding block idx of record rec (rec < PF_MAX_RECORDS and
 * idx < PF_MAX_FILE_BLOCKS: the caller checks). */
static inline uint64_t pf_entry2(uint64_t salt, uint64_t phys, uint32_t rec, uint32_t idx)
{
	uint64_t payload = pf_entry2_payload(rec, idx);
	return PF_E2_OWNED | ((pf_chk(salt, phys, PF_CK_ENTRY, payload) >> 49) << 48) | payload;
}

enum pf_entry_kind { PF_ENT_FREE, PF_ENT_RESERVED, PF_ENT_OWNED, PF_ENT_CORRUPT };

/* Why an entry decoded as PF_ENT_CORRUPT. */
enum pf_entry_fault {
	PF_EF_NONE = 0,
	PF_EF_CHECK,        /* format 2: the check fails (a flipped bit, a moved or swapped entry) */
	PF_EF_RECORD,       /* it names no record of the table */
	PF_EF_FORMAT1,      /* a format-1 entry in a format-2 pool */
};

/* Decode entry e of physical block phys of a pool with salt and nrecords records; fmt2: the pool is in
 * format 2 (else both formats are read, each entry by its bit 63). For PF_ENT_OWNED, *rec and *idx get
 * the owner; for PF_ENT_CORRUPT they get what the entry seems to say (for messages only) and *why the
 * reason. */
static inline enum pf_entry_kind pf_entry_decode(uint64_t salt, int fmt2, uint64_t nrecords, uint64_t phys, uint64_t e,
						 uint32_t *rec, uint32_t *idx, enum pf_entry_fault *why)
{
	*why = PF_EF_NONE;
	*rec = *idx = 0;
	if (e == PF_BLOCK_FREE)
		return PF_ENT_FREE;
	if (e == PF_BLOCK_RESERVED)
		return PF_ENT_RESERVED;
	if (e & PF_E2_OWNED) {
		uint64_t payload = e & ((1ULL << 48) - 1);
		uint64_t r1 = payload >> PF_E2_IDX_BITS;
		*rec = (uint32_t)(r1 - 1);
		*idx = (uint32_t)(payload & (PF_MAX_FILE_BLOCKS - 1));
		if (((e >> 48) & 0x7fff) != pf_chk(salt, phys, PF_CK_ENTRY, payload) >> 49) {
			*why = PF_EF_CHECK;
			return PF_ENT_CORRUPT;
		}
		if (r1 == 0 || r1 - 1 >= nrecords) {
			*why = PF_EF_RECORD;
			return PF_ENT_CORRUPT;
		}
		return PF_ENT_OWNED;
	}
	*rec = PF_ENTRY1_REC(e);
	*idx = PF_ENTRY1_IDX(e);
	if (fmt2) {
		*why = PF_EF_FORMAT1;
		return PF_ENT_CORRUPT;
	}
	if ((e >> 32) == 0 || (uint64_t)*rec >= nrecords) {
		*why = PF_EF_RECORD;
		return PF_ENT_CORRUPT;
	}
	return PF_ENT_OWNED;
}

/* ---- record words */

#define PF_W_SET (1ULL << 63)

/* A 32-bit record word (state, lo, hi, flags) of record r with seq. */
static inline uint64_t pf_rec_word32(uint64_t salt, uint32_t r, uint64_t seq, enum pf_rec_word w, uint32_t v)
{
	uint64_t c = pf_chk(salt, ((uint64_t)r << 8) | w, seq, v) >> 33;
	return PF_W_SET | (c << 32) | v;
}

static inline int pf_rec_word32_ok(uint64_t salt, uint32_t r, uint64_t seq, enum pf_rec_word w, uint64_t word)
{
	return (word & PF_W_SET) && word == pf_rec_word32(salt, r, seq, w, (uint32_t)word);
}

/* lo and hi as 32-bit values: PF_HI_NONE <-> 0xFFFFFFFF. */
static inline uint32_t pf_win32(uint64_t v)
{
	return v == PF_HI_NONE ? (uint32_t)PF_WORD32_NONE : (uint32_t)v;
}
static inline uint64_t pf_win64(uint32_t v)
{
	return v == (uint32_t)PF_WORD32_NONE ? PF_HI_NONE : v;
}

#define PF_SIZE_BITS 48
/* A size word (size_w with PF_CK_SIZE, synced_w with PF_CK_SYNCED). */
static inline uint64_t pf_rec_sizeck_word(uint64_t salt, uint32_t r, uint64_t seq, int which, uint64_t size)
{
	if (size >= (1ULL << PF_SIZE_BITS))
		return 0; /* not representable: not maintained */
	uint64_t c = pf_chk(salt, ((uint64_t)r << 8) | (uint64_t)which, seq, size) >> 49;
	return PF_W_SET | (c << PF_SIZE_BITS) | size;
}

static inline uint64_t pf_rec_size_word(uint64_t salt, uint32_t r, uint64_t seq, uint64_t size)
{
	return pf_rec_sizeck_word(salt, r, seq, PF_CK_SIZE, size);
}

/* The identity check of record r. handle: PF_HANDLE_MAX bytes (unused ones zero). */
static inline uint64_t pf_rec_ident(uint64_t salt, uint32_t r, uint64_t ino, int64_t btime_sec, uint64_t btime_nsec,
				    uint64_t seq, uint32_t handle_type, uint32_t handle_bytes, const unsigned char *handle)
{
	uint64_t h = pf_chk(salt, ((uint64_t)r << 8) | PF_CK_IDENT, seq, ino);
	h = pf_mix64(h ^ (uint64_t)btime_sec);
	h = pf_mix64(h ^ btime_nsec);
	h = pf_mix64(h ^ (handle_type | ((uint64_t)handle_bytes << 32)));
	for (int k = 0; k < PF_HANDLE_MAX / 8; k++) {
		uint64_t w;
		memcpy(&w, handle + 8 * k, 8);
		h = pf_mix64(h ^ w);
	}
	return h;
}

/* ---- a record, decoded */

/* PF_RW_* bits: the words of a record that fail their checks. */
#define PF_RW_STATE 1u
#define PF_RW_IDENT 2u  /* ident_sum (or an impossible handle length): the record's file cannot be known */
#define PF_RW_LO 4u
#define PF_RW_HI 8u
#define PF_RW_FLAGS 16u
#define PF_RW_SIZE 32u
#define PF_RW_SYNCED 64u

struct pf_rec_view {
	uint64_t state;         /* enum pf_rec_state (PF_REC_BAD when the state word fails its check) */
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
	uint64_t seq;
	uint64_t lo, hi;        /* the window; PF_HI_NONE for "none" */
	uint64_t flags;         /* PF_RECF_* */
	uint64_t size_hint;
	uint64_t size;          /* durable logical size, PF_SIZE_NONE when not maintained */
	uint64_t synced;        /* the size at the last fsync that persisted its bytes, PF_SIZE_NONE when none */
	uint32_t handle_type, handle_bytes;
	unsigned char handle[PF_HANDLE_MAX];
	uint32_t bad;           /* PF_RW_* bits of the words that fail their checks: 0 when intact */
	uint32_t format;        /* the layout the record was read in: 1 or 2 */
};

#define PF_RECW(field) (offsetof(struct pf_pool_record, field) / 8)
#define PF_REC1W(field) (offsetof(struct pf_pool_record_v1, field) / 8)

/* Decode record r from its 32 words w (read by the caller, each 8-byte word once). fmt2: the pool is in
 * format 2; else the record's own state word says its format. Returns 0 when the record is intact (or
 * FREE: state 0, nothing else decoded), 1 when its identity holds but other words fail (a known file
 * with damaged metadata: refuse it), -1 when its identity cannot be trusted. out->bad says which words. */
static inline int pf_rec_decode_words(uint64_t salt, int fmt2, uint32_t r, const uint64_t *w, struct pf_rec_view *out)
{
	memset(out, 0, sizeof *out);
	out->size = out->synced = PF_SIZE_NONE;
	out->format = 2;
	uint64_t s = w[0];
	if (s == 0) {
		out->state = PF_REC_FREE;
		out->lo = 0;
		out->hi = PF_HI_NONE;
		return 0;
	}
	if (!fmt2 && !(s & PF_W_SET)) {
		/* format 1 */
		out->format = 1;
		out->ino = w[PF_REC1W(ino)];
		out->btime_sec = (int64_t)w[PF_REC1W(btime_sec)];
		out->btime_nsec = w[PF_REC1W(btime_nsec)];
		out->lo = w[PF_REC1W(lo)];
		out->hi = w[PF_REC1W(hi)];
		out->seq = w[PF_REC1W(seq)];
		out->size_hint = w[PF_REC1W(size_hint)];
		out->flags = w[PF_REC1W(flags)];
		if (s != PF_REC_LIVE && s != PF_REC_DYING) {
			out->state = PF_REC_BAD;
			out->bad = PF_RW_STATE | PF_RW_IDENT;
			return -1;
		}
		out->state = s;
		return 0;
	}
	out->ino = w[PF_RECW(ino)];
	out->btime_sec = (int64_t)w[PF_RECW(btime_sec)];
	out->btime_nsec = w[PF_RECW(btime_nsec)];
	out->seq = w[PF_RECW(seq)];
	out->size_hint = w[PF_RECW(size_hint)];
	uint64_t hw = w[PF_RECW(handle_type)];
	out->handle_type = (uint32_t)hw;
	out->handle_bytes = (uint32_t)(hw >> 32);
	memcpy(out->handle, &w[PF_RECW(handle)], PF_HANDLE_MAX);
	uint64_t seq = out->seq;
	if (out->handle_bytes > PF_HANDLE_MAX ||
	    w[PF_RECW(ident_sum)] != pf_rec_ident(salt, r, out->ino, out->btime_sec, out->btime_nsec, seq,
						   out->handle_type, out->handle_bytes, out->handle))
		out->bad |= PF_RW_IDENT;
	if (pf_rec_word32_ok(salt, r, seq, PF_CK_STATE, s) && ((uint32_t)s == PF_REC_LIVE || (uint32_t)s == PF_REC_DYING))
		out->state = (uint32_t)s;
	else {
		out->state = PF_REC_BAD;
		out->bad |= PF_RW_STATE;
	}
	uint64_t lo = w[PF_RECW(lo_w)], hi = w[PF_RECW(hi_w)], fl = w[PF_RECW(flags_w)], sz = w[PF_RECW(size_w)];
	out->lo = pf_win64((uint32_t)lo);
	out->hi = pf_win64((uint32_t)hi);
	out->flags = (uint32_t)fl;
	if (!pf_rec_word32_ok(salt, r, seq, PF_CK_LO, lo))
		out->bad |= PF_RW_LO;
	if (!pf_rec_word32_ok(salt, r, seq, PF_CK_HI, hi))
		out->bad |= PF_RW_HI;
	if (!pf_rec_word32_ok(salt, r, seq, PF_CK_FLAGS, fl))
		out->bad |= PF_RW_FLAGS;
	if (sz != 0) {
		uint64_t v = sz & ((1ULL << PF_SIZE_BITS) - 1);
		if (sz == pf_rec_size_word(salt, r, seq, v))
			out->size = v;
		else
			out->bad |= PF_RW_SIZE;
	}
	uint64_t sy = w[PF_RECW(synced_w)];
	if (sy != 0) {
		uint64_t v = sy & ((1ULL << PF_SIZE_BITS) - 1);
		if (sy == pf_rec_sizeck_word(salt, r, seq, PF_CK_SYNCED, v))
			out->synced = v;
		else
			out->bad |= PF_RW_SYNCED;
	}
	if (out->bad & PF_RW_IDENT)
		return -1;
	return out->bad ? 1 : 0;
}

/* The path hint of a record given as 32 words in format fmt (1 or 2), bounds-checked before it is hashed:
 * 1 and the path in out, 0 when it has none, -1 when it is damaged. */
static inline int pf_rec_path_words(const uint64_t *w, int fmt, char out[PF_PATH_MAX_REC + 1])
{
	out[0] = '\0';
	const unsigned char *b = (const unsigned char *)w;
	uint32_t n;
	uint64_t sum;
	const unsigned char *path;
	uint32_t cap;
	if (fmt == 1) {
		memcpy(&n, b + offsetof(struct pf_pool_record_v1, path_len), 4);
		sum = w[PF_REC1W(path_sum)];
		path = b + offsetof(struct pf_pool_record_v1, path);
		cap = PF_PATH_MAX_REC;
	} else {
		memcpy(&n, b + offsetof(struct pf_pool_record, path_len), 4);
		sum = w[PF_RECW(path_sum)];
		path = b + offsetof(struct pf_pool_record, path);
		cap = PF_REC2_PATH_CAP;
	}
	if (n > cap || sum != pf_fnv1a(path, n))
		return -1;
	memcpy(out, path, n);
	out[n] = '\0';
	return n > 0;
}

/* ---- the header's geometry, checked with overflow-safe arithmetic (pf_pool_check_header in pool.c adds
 * the one-line messages; the Python reader in tests/lib/pafkapool.py mirrors it) */

/* The pool's format (1 or 2) from its header; 0 when the version/format pair is not one this release
 * knows. */
static inline int pf_header_format(const struct pf_pool_header *h)
{
	if (h->version == 2)
		return h->format == PF_FORMAT_2 ? 2 : 0;
	if (h->version == 1)
		return h->format == 0 || h->format == 1 ? 1 : h->format == PF_FORMAT_2 ? 2 : 0;
	return 0;
}

#endif

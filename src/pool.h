/*
 * pool.h - one pool file on the fast tier: creation, mapping with libpmem, the persistent record and
 * block tables (layout in pool_format.h), allocation, persistence and recovery.
 *
 * Names say what they guarantee: pf_pool_commit() orders a commit point after the data it publishes on
 * real persistent memory (no-op elsewhere: a SIGKILL cannot lose stores to a MAP_SHARED mapping), and
 * pf_pool_sync() makes a range durable now (pmem_persist on PMem, msync elsewhere) for fsync.
 *
 * Owns: a pool's mapping, its allocator (pool->lock) and its persistent tables. May call: pool_format.h,
 * config.h (the block-size rule), fault.h, log.h, sys.h, real.h, libpmem.
 * Errors: pf_pool_open, pf_pool_upgrade and pf_pool_load fill a struct pf_err (init time); the rest cannot
 * fail or return -1 with errno.
 */
#ifndef PAFKA_POOL_H
#define PAFKA_POOL_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "pool_format.h"

struct pf_pool {
	int index;
	char dir[PATH_MAX];      /* the pool directory (storage.tiers.first.paths entry) */
	char path[PATH_MAX];     /* <dir>/pafka.pool */
	int fd;                 /* held open for the OFD lock that makes us the only writer */
	int is_pmem;
	int readonly;
	char *base;
	size_t len;
	struct pf_pool_header *hdr;
	struct pf_pool_record *recs; /* format 2 layout; a format-1 pool is read through the decoders */
	uint64_t *blocks;
	char *data;
	uint64_t nblocks, nrecords, bsize;
	unsigned bshift;
	uint64_t salt;          /* of every integrity check (pool_format.h), from the uuid */
	pthread_mutex_t lock;   /* allocator: block and record free state */
	uint64_t nfree;         /* free blocks */
	uint64_t cursor;        /* next-fit scan position */
	uint32_t *free_recs;    /* stack of free record indexes */
	uint64_t nfree_recs;
	int rebooted;           /* the machine may have restarted since the last writer, which did not exit cleanly */
	struct pf_pin *pins;    /* blocks an application mapping shows (under lock); npins counts them */
	uint64_t npins;
};

/* pf_pool_open's flags. 0 (or the old readonly argument's 1) keeps every caller's meaning. */
#define PF_POOL_RDONLY 1    /* map read-only, take no lock, never create */
#define PF_POOL_NOCREATE 2  /* a missing pool is an error (errno ENOENT, "no pool at PATH"), nothing is created */

/* Open (creating it, unless flags say otherwise, when it does not exist) <dir>/pafka.pool of size bytes
 * (-1: free space of dir * ratio). The directory and the file must be owned by the effective uid and not
 * writable by group or others, and neither may be a symbolic link (a read-only open as root also accepts
 * another owner); a new directory is made 0700, a new pool 0600, with O_EXCL/O_NOFOLLOW semantics. Locks
 * the pool against other writers unless PF_POOL_RDONLY (errno EAGAIN when another process holds it).
 * Returns 0, or -1 with one line in err naming the problem and what to do. The header and its geometry
 * pass pf_pool_check_header; upgrading and recovery are pf_pool_load's job. */
int pf_pool_open(struct pf_pool *p, int index, const char *dir, int64_t size, double ratio,
		 uint64_t block_size, int flags, struct pf_err *err);
void pf_pool_close(struct pf_pool *p);
/* The geometry a new pool of size bytes with blocks of bsize gets (pool_size, block_size, nblocks,
 * nrecords and the offsets of h; nothing else): records = 2 x the blocks that would fit (1024 to
 * PF_MAX_RECORDS), then as many blocks as fit with their table entries, at most PF_MAX_BLOCKS. 0, or -1
 * when size is too small for 16 blocks. */
int pf_pool_layout(struct pf_pool_header *h, uint64_t size, uint64_t bsize);

/* The one check of a header read from a pool file of fsize bytes, shared by the shim and every CLI
 * command: magic, version and format, checksum, and a geometry that fits the file (overflow-safe: record
 * and block counts within what the file and the formats hold, offsets aligned and not overlapping).
 * Returns 0, or -1 with one line naming path and what is wrong. */
int pf_pool_check_header(const struct pf_pool_header *h, uint64_t fsize, const char *path, struct pf_err *err);
/* The same check, described for fsck: 0 when the header is fine, else PF_HDR_CORRUPT or PF_HDR_VERSION with
 * what is wrong in buf (without the path). */
#define PF_HDR_CORRUPT 1
#define PF_HDR_VERSION 2
int pf_pool_header_problem(const struct pf_pool_header *h, uint64_t fsize, char *buf, size_t n);
/* The format (1 or 2) the pool's tables are in now (a writer may be upgrading: read it each time). */
int pf_pool_format(const struct pf_pool *p);

/* Bring a format-1 pool to format 2, in place and crash-safely (see pool_format.h); resumes an upgrade a
 * crash interrupted. Writer only; pf_pool_load calls it first. Returns 0 (also when there is nothing to
 * do), or -1 with one line when something cannot be converted (nothing is changed then). */
int pf_pool_upgrade(struct pf_pool *p, struct pf_err *err);
/* Only the check: could pf_pool_upgrade convert this pool? (fsck, read-only). 0 or -1 with one line. */
int pf_pool_upgrade_check(const struct pf_pool *p, struct pf_err *err);

/* Called once per LIVE record after recovery, with its block map: map[i] = physical block + 1 of file
 * block i, 0 for none; ownership of map passes to the callee (free() it). broken: the record's identity
 * (ino, btime) holds but other words fail their integrity checks (why: which, as a phrase that reads after
 * "its", e.g. "window start (lo) fails its integrity check"; NULL when not broken), so its
 * window is unknown and map holds every block that names it, stale ones included: its file must be
 * refused (EIO) and those blocks left alone. */
typedef int (*pf_pool_rec_cb)(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen,
			      int broken, const char *why);
/* Upgrade (writer), recover and deliver. A record whose identity fails, or an owned entry that fails its
 * check or names a record that is not LIVE or not in the table, stops it: -1 with one line saying what is
 * corrupt where and "run 'pafka fsck'". Allocations are sized from the checked geometry only. */
int pf_pool_load(struct pf_pool *p, pf_pool_rec_cb cb, void *arg, struct pf_err *err);

/* A file handle a record may keep (name_to_handle_at), covered by the record's identity check. */
struct pf_rec_handle {
	uint32_t type;
	uint32_t bytes;         /* 0: none; at most PF_HANDLE_MAX */
	unsigned char h[PF_HANDLE_MAX];
};
/* A new LIVE record for a file; -1 when the record table is full (errno ENOSPC), or when lo is beyond
 * what a record addresses (PF_MAX_FILE_BLOCKS; errno EFBIG: the file stays on the slow tier). */
int64_t pf_pool_rec_alloc(struct pf_pool *p, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec,
			  uint64_t lo, const char *path);
/* The same with the file's handle (NULL: none), written before the record goes LIVE; -1 with errno
 * EINVAL when it is longer than PF_HANDLE_MAX. */
int64_t pf_pool_rec_alloc_handle(struct pf_pool *p, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec,
				 uint64_t lo, const char *path, const struct pf_rec_handle *handle);
/* Free a record and every block in map (DYING -> entries cleared -> FREE, each step committed). */
void pf_pool_rec_free(struct pf_pool *p, uint32_t rec, const uint32_t *map, uint64_t maplen);
/* The same for a tool without the record's map: every block whose entry names rec is freed. */
void pf_pool_rec_free_all(struct pf_pool *p, uint32_t rec);
void pf_pool_rec_set_path(struct pf_pool *p, uint32_t rec, const char *path);
/* A record's path hint, bounds-checked before it is hashed: 1 and the path in out, 0 when it has none,
 * -1 when the hint is damaged (a path update was interrupted, or the record is corrupt). r is a record
 * in the pool's table (its own state word says its format); pf_pool_rec_path_at also reads a record that
 * an upgrade is rewriting. */
int pf_pool_rec_path(const struct pf_pool_record *r, char out[PF_PATH_MAX_REC + 1]);
int pf_pool_rec_path_at(const struct pf_pool *p, uint32_t r, char out[PF_PATH_MAX_REC + 1]);

/* ---- a record's fields. The file model and the tools read and write them only through these, which are
 * where each field's encoding (and integrity check) lives. Setters are one 8-byte store of value and
 * check, committed; they write format 2 (the writer's pools are upgraded at load). struct pf_rec_view is
 * in pool_format.h. */
/* Decode record r, each word read once (atomically). Returns 0, or -1 when it fails its integrity checks
 * (a corrupt record: its file must not be served). On -1, out->bad says which words fail; unless it has
 * PF_RW_IDENT, out->ino/btime_* are the record's file: refuse that file (EIO). */
int pf_pool_rec_get(const struct pf_pool *p, uint32_t r, struct pf_rec_view *out);
/* The same, telling the two failures apart: 0 intact (or FREE), 1 identity holds but other words fail,
 * -1 identity fails (or r is out of range). */
int pf_pool_rec_decode(const struct pf_pool *p, uint32_t r, struct pf_rec_view *out);
/* One line naming the words in bad (PF_RW_*), e.g. "its window start (lo) fails its check". */
const char *pf_rec_bad_str(uint32_t bad, char *buf, size_t n);
/* Single fields: state PF_REC_BAD, flags 0 (no claim that the real copy is valid), when they fail. */
uint64_t pf_pool_rec_state(const struct pf_pool *p, uint32_t r);
uint64_t pf_pool_rec_flags(const struct pf_pool *p, uint32_t r);
uint64_t pf_pool_rec_seq(const struct pf_pool *p, uint32_t r);
uint64_t pf_pool_rec_size_hint(const struct pf_pool *p, uint32_t r);
/* lo must be below 2^32 - 1 (or PF_HI_NONE); hi is kept as min(hi, 2^32 - 2) unless PF_HI_NONE (no pool
 * block can have an index that high, so the placement is the same). */
void pf_pool_rec_set_lo(struct pf_pool *p, uint32_t r, uint64_t lo);
void pf_pool_rec_set_hi(struct pf_pool *p, uint32_t r, uint64_t hi);
void pf_pool_rec_set_flags(struct pf_pool *p, uint32_t r, uint64_t flags);
void pf_pool_rec_set_size_hint(struct pf_pool *p, uint32_t r, uint64_t size);
/* The durable logical size (size_w): PF_SIZE_NONE or a size >= 2^48 stores "not maintained". */
void pf_pool_rec_set_size(struct pf_pool *p, uint32_t r, uint64_t size);
/* The size at the last fsync whose bytes were persisted (synced_w), the same encoding. */
void pf_pool_rec_set_synced(struct pf_pool *p, uint32_t r, uint64_t size);
/* The writer records its kernel boot id (boot: 0, 0 when unknown) in the header and persists it; sets and
 * returns p->rebooted: whether the machine may have restarted since the pool's last writer wrote to it. */
int pf_pool_note_boot(struct pf_pool *p, const uint64_t boot[2]);
/* A clean exit of the writer: persist the whole pool, then say so in the header (the next writer then
 * trusts every durable size even after a reboot). */
void pf_pool_mark_clean(struct pf_pool *p);

/* ---- block-table entries (enum pf_entry_kind is in pool_format.h) */
/* Decode the entry of physical block phys (atomic acquire load): for PF_ENT_OWNED, *rec and *idx get the
 * record and the block's index within its file; PF_ENT_CORRUPT when it fails its check or names no
 * record. */
enum pf_entry_kind pf_pool_entry(const struct pf_pool *p, uint64_t phys, uint32_t *rec, uint32_t *idx);

/* Take a free block, preferring phys_hint (for contiguity), marked RESERVED: the caller prepares its
 * bytes, then publishes ownership with pf_pool_block_publish (data before the entry that exposes it).
 * -1 when the pool is full. */
int64_t pf_pool_block_reserve(struct pf_pool *p, int64_t phys_hint);
/* idx must be below PF_MAX_FILE_BLOCKS (the file model spills at that index): anything else is a bug
 * that would lose the block at the next start, so it stops the process. */
void pf_pool_block_publish(struct pf_pool *p, uint64_t phys, uint32_t rec, uint32_t idx);
/* Release one block (entry cleared and committed). */
void pf_pool_block_free(struct pf_pool *p, uint64_t phys);
/* A mapping of this process shows block phys (pin), or no longer does (unpin). A pinned block that is
 * freed (pf_pool_block_free, a record's free) is not reused until its last unpin: its entry stays RESERVED
 * (recovery frees it, the mappings having died with the process). */
void pf_pool_block_pin(struct pf_pool *p, uint64_t phys);
void pf_pool_block_unpin(struct pf_pool *p, uint64_t phys);

static inline uint64_t pf_pool_free_blocks(const struct pf_pool *p)
{
	return __atomic_load_n(&p->nfree, __ATOMIC_RELAXED);
}

static inline char *pf_pool_block_ptr(const struct pf_pool *p, uint64_t phys)
{
	return p->data + (phys << p->bshift);
}

void pf_pool_commit(const struct pf_pool *p, const void *addr, size_t len);
int pf_pool_sync(const struct pf_pool *p, const void *addr, size_t len);
/* Make the record and block tables durable. */
int pf_pool_sync_meta(const struct pf_pool *p);
/* Copy into the pool: non-temporal + drained on PMem, plain memcpy elsewhere. */
void pf_pool_copy(const struct pf_pool *p, void *dst, const void *src, size_t n);
void pf_pool_zero(const struct pf_pool *p, void *dst, size_t n);
/* The same without the drain: on PMem the stores are flushed (non-temporal) but not yet ordered; one
 * pf_pool_drain makes every one before it durable, before a commit point publishes them. */
void pf_pool_copy_nodrain(const struct pf_pool *p, void *dst, const void *src, size_t n);
void pf_pool_zero_nodrain(const struct pf_pool *p, void *dst, size_t n);
void pf_pool_drain(const struct pf_pool *p);
/* Make record r's words durable now (a no-op on PMem, where each word was persisted as it was stored). */
int pf_pool_rec_sync(const struct pf_pool *p, uint32_t r);
/* Make the block-table entries of physical blocks [phys, phys + n) durable now (no-op on PMem). */
int pf_pool_entries_sync(const struct pf_pool *p, uint64_t phys, uint64_t n);

/* Does the pool live in memory that a reboot clears (tmpfs, ramfs)? */
int pf_pool_volatile(const struct pf_pool *p);

/* Count LIVE records and used blocks by reading the tables (tools, tests, file-mode safety check). */
void pf_pool_usage(const struct pf_pool *p, uint64_t *live_records, uint64_t *used_blocks);

#endif

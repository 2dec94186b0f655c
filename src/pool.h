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
 * Errors: pf_pool_open and pf_pool_load fill a struct pf_err (init time); the rest cannot fail or return
 * -1 with errno.
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
	struct pf_pool_record *recs;
	uint64_t *blocks;
	char *data;
	uint64_t nblocks, nrecords, bsize;
	unsigned bshift;
	pthread_mutex_t lock;   /* allocator: block and record free state */
	uint64_t nfree;         /* free blocks */
	uint64_t cursor;        /* next-fit scan position */
	uint32_t *free_recs;    /* stack of free record indexes */
	uint64_t nfree_recs;
};

/* Open (creating it when create is set and it does not exist) <dir>/pafka.pool of size bytes (-1: free
 * space of dir * ratio). Locks it against other writers unless readonly (errno EAGAIN when another process
 * holds it). Returns 0, or -1 with one line in err naming the problem and what to do. Recovery is
 * pf_pool_load's job. */
int pf_pool_open(struct pf_pool *p, int index, const char *dir, int64_t size, double ratio,
		 uint64_t block_size, int readonly, struct pf_err *err);
void pf_pool_close(struct pf_pool *p);

/* Called once per LIVE record after recovery, with its block map: map[i] = physical block + 1 of file
 * block i, 0 for none; ownership of map passes to the callee (free() it). */
typedef int (*pf_pool_rec_cb)(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen);
int pf_pool_load(struct pf_pool *p, pf_pool_rec_cb cb, void *arg, struct pf_err *err);

/* A new LIVE record for a file; -1 when the record table is full. */
int64_t pf_pool_rec_alloc(struct pf_pool *p, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec,
			  uint64_t lo, const char *path);
/* Free a record and every block in map (DYING -> entries cleared -> FREE, each step committed). */
void pf_pool_rec_free(struct pf_pool *p, uint32_t rec, const uint32_t *map, uint64_t maplen);
void pf_pool_rec_set_path(struct pf_pool *p, uint32_t rec, const char *path);
/* A record's path hint, bounds-checked before it is hashed: 1 and the path in out, 0 when it has none,
 * -1 when the hint is damaged (a path update was interrupted, or the record is corrupt). */
int pf_pool_rec_path(const struct pf_pool_record *r, char out[PF_PATH_MAX_REC + 1]);

/* ---- a record's fields. The file model and the tools read and write them only through these, which are
 * where each field's encoding (and integrity check) lives. Setters are one 8-byte store, committed. */
struct pf_rec_view {
	uint64_t state;         /* enum pf_rec_state */
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
	uint64_t seq;
	uint64_t lo, hi;        /* the window; PF_HI_NONE for "none" */
	uint64_t flags;         /* PF_RECF_* */
	uint64_t size_hint;
};
/* Decode record r (an atomic snapshot of each field). Returns 0, or -1 when it fails its integrity check
 * (a corrupt record: its file must not be served). */
int pf_pool_rec_get(const struct pf_pool *p, uint32_t r, struct pf_rec_view *out);
uint64_t pf_pool_rec_state(const struct pf_pool *p, uint32_t r);
uint64_t pf_pool_rec_flags(const struct pf_pool *p, uint32_t r);
uint64_t pf_pool_rec_seq(const struct pf_pool *p, uint32_t r);
uint64_t pf_pool_rec_size_hint(const struct pf_pool *p, uint32_t r);
void pf_pool_rec_set_lo(struct pf_pool *p, uint32_t r, uint64_t lo);
void pf_pool_rec_set_hi(struct pf_pool *p, uint32_t r, uint64_t hi);
void pf_pool_rec_set_flags(struct pf_pool *p, uint32_t r, uint64_t flags);
void pf_pool_rec_set_size_hint(struct pf_pool *p, uint32_t r, uint64_t size);

/* ---- block-table entries */
enum pf_entry_kind { PF_ENT_FREE, PF_ENT_RESERVED, PF_ENT_OWNED, PF_ENT_CORRUPT };
/* Decode the entry of physical block phys (atomic acquire load): for PF_ENT_OWNED, *rec and *idx get the
 * record and the block's index within its file. */
enum pf_entry_kind pf_pool_entry(const struct pf_pool *p, uint64_t phys, uint32_t *rec, uint32_t *idx);

/* Take a free block, preferring phys_hint (for contiguity), marked RESERVED: the caller prepares its
 * bytes, then publishes ownership with pf_pool_block_publish (data before the entry that exposes it).
 * -1 when the pool is full. */
int64_t pf_pool_block_reserve(struct pf_pool *p, int64_t phys_hint);
void pf_pool_block_publish(struct pf_pool *p, uint64_t phys, uint32_t rec, uint32_t idx);
/* Release one block (entry cleared and committed). */
void pf_pool_block_free(struct pf_pool *p, uint64_t phys);

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

/* Count LIVE records and used blocks by reading the tables (tools, tests, file-mode safety check). */
void pf_pool_usage(const struct pf_pool *p, uint64_t *live_records, uint64_t *used_blocks);

#endif

/*
 * placement.c - where each byte of a managed file lives (see pool_format.h for the rule): in a pool block
 * (inside the record's window [lo, hi) with a block-table entry), in the real file (outside the window),
 * or nowhere (a hole inside the window: zeros in both places). Also: new pool blocks, the spill when the
 * pool is full, persisting a file's pool bytes, and the read-only attacher's view of the shared tables.
 *
 * Ordering rules that make every crash recoverable:
 *  - a new pool block is filled (zeros where the file has a hole, then the written bytes) before its
 *    block-table entry publishes it;
 *  - growth: zero stale pool bytes past the old end, copy the data, and only then extend the real file
 *    with ftruncate, which publishes the new size (io.c); shrink: real ftruncate first, then free blocks;
 *  - spill: the window end `hi` moves down over unowned blocks only, so no pool byte is ever hidden; if
 *    that is impossible the whole file is first copied to the real file (materialised, moves.c, by io.c).
 *
 * Owns: a file's map, window and block birth order (born[], under its write lock; the process-wide
 * counter of block writes, atomic). May call: iovcur.c, tier.h, pool.h, paths.h, fault.h, log.h,
 * sys.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "fault.h"
#include "iovcur.h"
#include "log.h"
#include "paths.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

enum seg_kind seg_at(const struct pf_file *f, uint64_t pos, uint64_t end, uint64_t *len, char **ptr)
{
	if (f->rec < 0) {
		*len = end - pos;
		return SEG_REAL;
	}
	unsigned sh = f->pool->bshift;
	uint64_t b = pos >> sh;
	if (b < f->lo) {
		*len = pf_min64(end, f->lo << sh) - pos;
		return SEG_REAL;
	}
	if (b >= f->hi) {
		*len = end - pos;
		return SEG_REAL;
	}
	uint64_t lim = f->hi == PF_HI_NONE ? end : pf_min64(end, f->hi << sh);
	uint32_t ph = b < f->maplen ? f->map[b] : 0;
	uint64_t e = (b + 1) << sh, n = b + 1;
	if (ph) {
		while (e < lim && n < f->maplen && f->map[n] == f->map[n - 1] + 1)
			e += f->pool->bsize, n++;
		*ptr = pf_pool_block_ptr(f->pool, ph - 1) + (pos & (f->pool->bsize - 1));
		*len = pf_min64(e, lim) - pos;
		return SEG_POOL;
	}
	while (e < lim && (n >= f->maplen || !f->map[n]))
		e += f->pool->bsize, n++;
	*len = pf_min64(e, lim) - pos;
	return SEG_ZERO;
}

/* map[] and born[] share one allocation (one heap chunk a file, not two): map[cap], then, 8-aligned, born[cap]
 * when the file has births (bornlen == maplen; 0 for a file none of whose blocks this process wrote, as
 * the pool loader hands its map over). Copies both into a new one of n entries (n >= maplen). */
static size_t born_at(uint64_t n)
{
	return ((size_t)n * sizeof(uint32_t) + 7) & ~(size_t)7;
}

static uint64_t *born_of(const struct pf_file *f)
{
	return (uint64_t *)(void *)((char *)f->map + born_at(f->maplen));
}

static int map_resize(struct pf_file *f, uint64_t n, int with_born)
{
	size_t mbytes = born_at(n);
	uint32_t *m = malloc(mbytes + (with_born ? (size_t)n * sizeof(uint64_t) : 0));
	if (!m)
		return -1;
	if (f->maplen)
		memcpy(m, f->map, (size_t)f->maplen * sizeof *m);
	memset(m + f->maplen, 0, (size_t)(n - f->maplen) * sizeof *m);
	uint64_t *born = NULL;
	if (with_born) {
		born = (uint64_t *)(void *)((char *)m + mbytes);
		if (f->bornlen)
			memcpy(born, born_of(f), (size_t)f->bornlen * sizeof *born);
		memset(born + f->bornlen, 0, (size_t)(n - f->bornlen) * sizeof *born);
	}
	free(f->map); /* (born lived in it too) */
	f->map = m;
	f->maplen = (uint32_t)n;
	f->bornlen = with_born ? (uint32_t)n : 0;
	return 0;
}

int map_grow(struct pf_file *f, uint64_t b)
{
	if (b < f->maplen)
		return 0;
	if (b >= PF_MAX_FILE_BLOCKS) {
		errno = EFBIG; /* the file model spills before that: never here */
		return -1;
	}
	return map_resize(f, pf_min64(pf_max64(b + 1, (uint64_t)f->maplen * 2), PF_MAX_FILE_BLOCKS), f->bornlen != 0);
}

/* The file's bytes or size are about to change (write lock held): a copy being migrated is now stale,
 * and so is a slow-tier copy kept from a promotion. */
/* The order of block writes: the only state placement.c owns. */
static uint64_t births;

void block_born_now(struct pf_file *f, uint64_t b)
{
	if (b >= f->bornlen) {
		/* (b < maplen: the block was just placed in the map) */
		if (b >= f->maplen || f->bornlen || map_resize(f, f->maplen, 1) < 0)
			return; /* it counts as old: only the order of migration suffers */
	}
	born_of(f)[b] = __atomic_add_fetch(&births, 1, __ATOMIC_RELAXED);
}

uint64_t block_born(const struct pf_file *f, uint64_t b)
{
	return b < f->bornlen ? born_of(f)[b] : 0;
}

void file_changing(struct pf_file *f)
{
	f->gen++;
	f->last_write_ms = pf_mono_ms();
	if (f->rec >= 0 && pf_tier_is_writer()) {
		uint64_t fl = pf_pool_rec_flags(f->pool, (uint32_t)f->rec);
		if (fl & PF_RECF_REAL_VALID)
			pf_pool_rec_set_flags(f->pool, (uint32_t)f->rec, fl & ~PF_RECF_REAL_VALID);
	}
}

void map_free_blocks_from(struct pf_file *f, uint64_t first)
{
	if (!pf_tier_is_writer())
		return; /* only the pool's writer (the parent) changes its tables */
	maps_cut_from(f, first); /* no mapping of this process reaches them any more */
	for (uint64_t i = first; i < f->maplen; i++)
		if (f->map[i]) {
			pf_pool_block_free(f->pool, f->map[i] - 1);
			f->map[i] = 0;
		}
}

void trim_beyond_size(struct pf_file *f)
{
	if (f->rec < 0)
		return;
	map_free_blocks_from(f, (f->size + f->pool->bsize - 1) >> f->pool->bshift);
}

/* Forget the file's placement: no record, no map, every byte in the real file. */
static void placement_clear(struct pf_file *f)
{
	free(f->map);
	f->map = NULL;
	f->maplen = 0;
	f->bornlen = 0; /* (born lived in map's allocation) */
	size_forget(f);
	set_rec(f, -1);
	f->lo = 0;
	f->hi = PF_HI_NONE;
}

void file_drop_record(struct pf_file *f)
{
	if (f->rec < 0 || !pf_tier_is_writer())
		return;
	pf_pool_rec_free(f->pool, (uint32_t)f->rec, f->map, f->maplen);
	placement_clear(f);
}

void zero_owned(struct pf_file *f, uint64_t from, uint64_t to)
{
	if (f->rec < 0 || from >= to)
		return;
	unsigned sh = f->pool->bshift;
	for (uint64_t b = from >> sh; b < f->maplen && blk_start(f, b) < to; b++) {
		if (!f->map[b])
			continue;
		uint64_t s = pf_max64(from, blk_start(f, b)), t = pf_min64(to, blk_start(f, b + 1));
		pf_pool_zero(f->pool, pf_pool_block_ptr(f->pool, f->map[b] - 1) + (s - blk_start(f, b)), t - s);
		dirty_bytes(f, s, t - s);
	}
}

static int has_owned_from(const struct pf_file *f, uint64_t b)
{
	for (uint64_t i = b; i < f->maplen; i++)
		if (f->map[i])
			return 1;
	return 0;
}

void file_handle_of(int fd, struct pf_rec_handle *h)
{
	struct {
		struct file_handle fh;
		unsigned char buf[PF_HANDLE_MAX];
	} u;
	int mount_id, e = errno;
	memset(h, 0, sizeof *h);
	u.fh.handle_bytes = PF_HANDLE_MAX;
	if (fd >= 0 && name_to_handle_at(fd, "", &u.fh, &mount_id, AT_EMPTY_PATH) == 0 &&
	    u.fh.handle_bytes <= PF_HANDLE_MAX) {
		h->type = (uint32_t)u.fh.handle_type;
		h->bytes = u.fh.handle_bytes;
		memcpy(h->h, u.fh.f_handle, u.fh.handle_bytes);
	}
	errno = e;
}

int ensure_record(struct pf_file *f, int fd)
{
	if (f->rec >= 0)
		return 1;
	if (f->pinned_real || !pf_tier_writable())
		return 0;
	struct pf_pool *p = pf_tier_pick_for(pf_path_logdir_slot(f->path)); /* a pool of its log dir */
	if (!p)
		return 0;
	uint64_t lo = (f->size + p->bsize - 1) >> p->bshift;
	struct pf_rec_handle h;
	file_handle_of(file_rfd(f, fd), &h);
	int64_t r = pf_pool_rec_alloc_handle(p, f->key.ino, f->key.btime_sec, (uint32_t)f->key.btime_nsec, lo, f->path, &h);
	if (r < 0)
		return 0;
	f->pool = p;
	set_rec(f, r);
	f->lo = lo;
	f->hi = PF_HI_NONE;
	size_commit(f, f->size); /* from now on the record says how long the file is */
	return 1;
}

/* A pool block for file block b, reserved next to block b-1's when it can be: 1 (*ph), 0 when the pool
 * gives none (full, draining, or b past what an entry can name), -1 out of memory. */
static int reserve_new_block(struct pf_file *f, uint64_t b, int64_t *ph)
{
	if (b >= PF_MAX_FILE_BLOCKS)
		return 0; /* beyond what a block-table entry can name: the rest of the file is the slow tier's */
	int64_t hint = (b > 0 && b - 1 < f->maplen && f->map[b - 1]) ? (int64_t)f->map[b - 1] : -1;
	if (map_grow(f, b) < 0)
		return -1;
	*ph = pf_tier_writable() ? pf_pool_block_reserve(f->pool, hint) : -1;
	return *ph >= 0;
}

/* Block ph, filled, becomes file block b: published after its bytes; its first n bytes are dirty for the
 * next sync. */
static void adopt_new_block(struct pf_file *f, uint64_t b, int64_t ph, uint64_t n)
{
	pf_pool_block_publish(f->pool, (uint64_t)ph, (uint32_t)f->rec, (uint32_t)b);
	f->map[b] = (uint32_t)ph + 1;
	block_born_now(f, b);
	dirty_bytes(f, blk_start(f, b), n);
	dirty_entry(f, b);
}

int write_new_block(struct pf_file *f, uint64_t b, uint64_t boff, uint64_t n, struct cur *c)
{
	int64_t ph;
	int r = reserve_new_block(f, b, &ph);
	if (r <= 0)
		return r;
	char *base = pf_pool_block_ptr(f->pool, (uint64_t)ph);
	uint64_t bs = f->pool->bsize, start = blk_start(f, b);
	if (boff)
		pf_pool_zero_nodrain(f->pool, base, boff); /* a hole inside the file, or past its end: zeros */
	uint64_t tail = boff + n, end = tail;
	if (tail < bs && start + tail < f->size) {
		end = pf_min64(bs, f->size - start);
		pf_pool_zero_nodrain(f->pool, base + tail, end - tail);
	}
	cur_copy_out(c, base + boff, n, f->pool);
	pf_pool_drain(f->pool); /* the block's bytes are durable before its entry names them */
	adopt_new_block(f, b, ph, end);
	return 1;
}

int zero_new_block(struct pf_file *f, uint64_t b)
{
	int64_t ph;
	int r = reserve_new_block(f, b, &ph);
	if (r <= 0)
		return r;
	/* all of it, past the end of file too: a mapping shows the whole block */
	pf_pool_zero(f->pool, pf_pool_block_ptr(f->pool, (uint64_t)ph), f->pool->bsize);
	adopt_new_block(f, b, ph, f->pool->bsize);
	return 1;
}

int spill(struct pf_file *f, uint64_t b)
{
	if (has_owned_from(f, b + 1))
		return 1;
	pf_log(PF_LOG_DEBUG, "pool full: %s continues on the slow tier from byte %llu", f->path,
	       (unsigned long long)blk_start(f, b));
	pf_pool_rec_set_hi(f->pool, (uint32_t)f->rec, b);
	f->hi = b;
	pf_stat_add(PF_STAT_SPILLS, PF_TIER_NONE, 1);
	PF_FAULT("file.spill");
	return 0;
}

/* ---------------------------------------------------------------- read-only attach */

/* In a process attached read-only, the broker keeps allocating, moving and freeing blocks. Before a read
 * the file's record and block map are rebuilt from the shared tables, and after it every pool block that
 * was used is checked to still belong to the file: if anything moved, the read is done again. */
/* The live record of the file with key k in the shared tables: 1 (*pp, *rp, *vp; with need_window only one
 * whose window is set, not a promotion in progress), 0 none, -1 a record that fails its check. */
static int ro_find_record(const struct pf_key *k, int need_window, struct pf_pool **pp, uint64_t *rp,
			  struct pf_rec_view *vp)
{
	for (int n = 0; n < pf_tier_npools(); n++) {
		struct pf_pool *p = pf_tier_pool(n);
		for (uint64_t r = 0; r < p->nrecords; r++) {
			struct pf_rec_view v;
			int ok = pf_pool_rec_get(p, (uint32_t)r, &v) == 0;
			if (v.ino != k->ino || v.btime_sec != k->btime_sec || v.btime_nsec != k->btime_nsec)
				continue;
			if (!ok && !(v.bad & PF_RW_IDENT) && v.state != PF_REC_FREE)
				return -1;
			if (ok && v.state == PF_REC_LIVE && (!need_window || v.lo != PF_HI_NONE)) {
				*pp = p;
				*rp = r;
				*vp = v;
				return 1;
			}
		}
	}
	return 0;
}

void ro_refresh(struct pf_file *f, int fd)
{
	struct stat st;
	if (REAL(fstat)(fd, &st) == 0)
		f->size = (uint64_t)st.st_size;
	placement_clear(f);
	struct pf_pool *p;
	uint64_t rec;
	struct pf_rec_view v;
	int found = ro_find_record(&f->key, 1, &p, &rec, &v);
	if (found < 0) {
		f->broken = 1; /* its record fails its check: refused, as in the writer */
		return;
	}
	if (found > 0) {
		f->pool = p;
		set_rec(f, (int64_t)rec);
		f->lo = v.lo;
		f->hi = v.hi;
	}
	if (f->rec < 0)
		return;
	for (uint64_t b = 0; b < f->pool->nblocks; b++) {
		uint32_t r, i;
		if (pf_pool_entry(f->pool, b, &r, &i) != PF_ENT_OWNED || r != (uint64_t)f->rec)
			continue;
		if (i < f->lo || i >= f->hi || map_grow(f, i) < 0)
			continue;
		f->map[i] = (uint32_t)b + 1;
	}
}

int ro_has_record(const struct pf_key *k)
{
	struct pf_pool *p;
	uint64_t r;
	struct pf_rec_view v;
	return ro_find_record(k, 0, &p, &r, &v) != 0;
}

/* Does the entry of physical block phys say it holds block i of record r? */
static int entry_is(const struct pf_pool *p, uint64_t phys, int64_t r, uint64_t i)
{
	uint32_t er, ei;
	return pf_pool_entry(p, phys, &er, &ei) == PF_ENT_OWNED && er == (uint64_t)r && ei == i;
}

int ro_still_valid(const struct pf_file *f, uint64_t pos, uint64_t end)
{
	if (f->rec < 0)
		return 1;
	struct pf_rec_view v;
	if (pf_pool_rec_get(f->pool, (uint32_t)f->rec, &v) < 0 || v.state != PF_REC_LIVE || v.lo != f->lo || v.hi != f->hi)
		return 0;
	for (uint64_t b = pos >> f->pool->bshift; pos < end && blk_start(f, b) < end; b++) {
		if (b < f->lo || b >= f->hi)
			continue;
		if (b < f->maplen && f->map[b]) {
			if (!entry_is(f->pool, f->map[b] - 1, f->rec, b))
				return 0;
			continue;
		}
		/* a hole in our view: make sure no block appeared for it */
		for (uint64_t k = 0; k < f->pool->nblocks; k++)
			if (entry_is(f->pool, k, f->rec, b))
				return 0;
	}
	return 1;
}

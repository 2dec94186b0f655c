/*
 * crashlib.h - helpers shared by the migration and crash-recovery programs of tests/crash (header only).
 *
 * Built on tests/preload/pftest.h (CHECK, STEP, patterns, spawning). Adds:
 *  - a snapshot of the pool file's tables read straight from $PAFKA_TEST_POOLDIR/pafka.pool (never through
 *    the shim's own structures; records and entries decoded by pool_format.h, either format, checks
 *    verified), lookups of a file's record by inode + birth time, and the owner of each block;
 *  - cl_pool_consistent(): the invariants a pool must satisfy once the shim has recovered it and no move
 *    is running: no reserved block, no dying record, no uncommitted promotion, every used block owned by
 *    a LIVE record inside its window, no block owned twice, no two records for one inode;
 *  - cl_real_layout(): from a process WITHOUT the shim, the placement rule of pool_format.h seen from the
 *    log-dir file: bytes outside a record's window are in the real file; unowned blocks inside it read
 *    zeros there; owned blocks are holes (unless the record says the real copy is valid: then the real
 *    bytes are the file's bytes);
 *  - a writer of format-1 pools (as every release before format 2 left them), for the upgrade;
 *  - bounded condition polling of the pool (every 50 ms, with a deadline).
 */
#ifndef CRASHLIB_H
#define CRASHLIB_H

#include "pftest.h"

#include <sys/mman.h>
#include <sys/random.h>
#include <sys/time.h>

#define CL_POLL_MS 50

/* snprintf without gcc's truncation analysis (messages may be cut, never overflow) */
__attribute__((format(printf, 3, 4))) static inline void cl_fmt(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

static inline int64_t cl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void cl_nap_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline double cl_env_double(const char *name, double dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtod(v, NULL) : dflt;
}

static inline long long cl_env_ll(const char *name, long long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoll(v, NULL, 10) : dflt;
}

/* A byte count with an optional K/M/G suffix (binary), as the shim parses sizes; dflt if unset. */
static inline long long cl_env_size(const char *name, long long dflt)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	long long n = strtoll(v, &end, 10);
	switch (*end) {
	case 'k': case 'K': n <<= 10; break;
	case 'm': case 'M': n <<= 20; break;
	case 'g': case 'G': n <<= 30; break;
	default: break;
	}
	return n;
}

/* ---------------------------------------------------------------- pool snapshot */

/* A record as the tests read it: decoded through pool_format.h (either format), checks verified. */
struct cl_rec {
	uint64_t state;         /* enum pf_rec_state; PF_REC_BAD when the record fails its checks */
	uint64_t ino;
	int64_t btime_sec;
	uint64_t btime_nsec;
	uint64_t lo, hi, seq, flags, size_hint;
	uint32_t bad;           /* PF_RW_* */
	uint32_t path_len;
	char path[PF_PATH_MAX_REC + 1]; /* the path hint ("" when none or damaged) */
};

struct cl_pool {
	struct pf_pool_header h;
	struct cl_rec *recs;    /* decoded */
	uint64_t *blk;          /* the raw block table */
	uint64_t nblocks, nrecords, bsize;
	uint64_t salt;
	int fmt2;
	char *rawrecs;          /* the raw record table */
};

static inline void cl_pool_free(struct cl_pool *p)
{
	free(p->recs);
	free(p->blk);
	free(p->rawrecs);
	memset(p, 0, sizeof *p);
}

/* The owner of block b: PF_ENT_OWNED with *r and *i, or FREE, RESERVED, CORRUPT. */
static inline enum pf_entry_kind cl_entry(const struct cl_pool *p, uint64_t b, uint64_t *r, uint64_t *i)
{
	uint32_t rr, ii;
	enum pf_entry_fault f;
	enum pf_entry_kind k = pf_entry_decode(p->salt, p->fmt2, p->nrecords, b, p->blk[b], &rr, &ii, &f);
	*r = rr;
	*i = ii;
	return k;
}

static inline void cl_pool_read_tables(int fd, struct cl_pool *p)
{
	CHECK(pread(fd, p->rawrecs, p->nrecords * PF_RECORD_SIZE, (off_t)p->h.rec_off) ==
	      (ssize_t)(p->nrecords * PF_RECORD_SIZE));
	CHECK(pread(fd, p->blk, p->nblocks * 8, (off_t)p->h.blk_off) == (ssize_t)(p->nblocks * 8));
}

static inline void cl_pool_decode(struct cl_pool *p)
{
	for (uint64_t r = 0; r < p->nrecords; r++) {
		uint64_t w[PF_RECORD_SIZE / 8];
		memcpy(w, p->rawrecs + r * PF_RECORD_SIZE, sizeof w);
		struct pf_rec_view v;
		int d = pf_rec_decode_words(p->salt, p->fmt2, (uint32_t)r, w, &v);
		struct cl_rec *c = &p->recs[r];
		memset(c, 0, sizeof *c);
		c->state = d == 0 ? v.state : PF_REC_BAD;
		c->ino = v.ino;
		c->btime_sec = v.btime_sec;
		c->btime_nsec = v.btime_nsec;
		c->lo = v.lo;
		c->hi = v.hi;
		c->seq = v.seq;
		c->flags = v.flags;
		c->size_hint = v.size_hint;
		c->bad = v.bad;
		if (v.state != PF_REC_FREE && pf_rec_path_words(w, (int)v.format, c->path) > 0)
			c->path_len = (uint32_t)strlen(c->path);
	}
}

/*
 * Read the header and both tables. Returns 0, or -1 when there is no pool file. The writer may be changing
 * the tables meanwhile (the record table is read before the block table): the tables are read again until two
 * consecutive reads agree, so the snapshot is one state the pool was in (at most 200 tries, 1 ms apart; a pool
 * changing that fast gives the last read).
 */
static inline int cl_pool_load(struct cl_pool *p)
{
	memset(p, 0, sizeof *p);
	int fd = pftest_pool_open(&p->h);
	if (fd < 0)
		return -1;
	p->nblocks = p->h.nblocks;
	p->nrecords = p->h.nrecords;
	p->bsize = p->h.block_size;
	p->salt = pf_pool_salt(p->h.uuid);
	size_t rl = p->nrecords * PF_RECORD_SIZE, bl = p->nblocks * 8;
	p->rawrecs = pftest_xmalloc(rl);
	p->blk = pftest_xmalloc(bl);
	struct cl_pool q = *p;
	q.rawrecs = pftest_xmalloc(rl);
	q.blk = pftest_xmalloc(bl);
	cl_pool_read_tables(fd, p);
	for (int tries = 0; tries < 200; tries++) {
		cl_pool_read_tables(fd, &q);
		if (!memcmp(p->rawrecs, q.rawrecs, rl) && !memcmp(p->blk, q.blk, bl))
			break;
		memcpy(p->rawrecs, q.rawrecs, rl);
		memcpy(p->blk, q.blk, bl);
		cl_nap_ms(1);
	}
	free(q.rawrecs);
	free(q.blk);
	/* the format word may have changed while the tables were read (an upgrade): read it last */
	uint64_t fmt = 0;
	CHECK(pread(fd, &fmt, 8, (off_t)offsetof(struct pf_pool_header, format)) == 8);
	p->h.format = fmt;
	p->fmt2 = pf_header_format(&p->h) == 2;
	close(fd);
	p->recs = pftest_xmalloc(p->nrecords * sizeof *p->recs);
	cl_pool_decode(p);
	return 0;
}

static inline uint64_t cl_pool_used(const struct cl_pool *p)
{
	uint64_t n = 0;
	for (uint64_t b = 0; b < p->nblocks; b++)
		n += p->blk[b] != PF_BLOCK_FREE;
	return n;
}

static inline uint64_t cl_pool_live(const struct cl_pool *p)
{
	uint64_t n = 0;
	for (uint64_t r = 0; r < p->nrecords; r++)
		n += p->recs[r].state == PF_REC_LIVE;
	return n;
}

/* The threshold in blocks, as the shim computes it: (uint64)(threshold x capacity). */
static inline uint64_t cl_limit(uint64_t nblocks)
{
	double t = cl_env_double("PAFKA_STORAGE_MIGRATE_THRESHOLD", 0.5);
	return (uint64_t)(t * (double)nblocks);
}

/* Blocks the file of record r owns in the pool (entries (r, i) with i in [lo, hi)). */
static inline uint64_t cl_rec_blocks(const struct cl_pool *p, int64_t r)
{
	if (r < 0)
		return 0;
	uint64_t n = 0;
	const struct cl_rec *rec = &p->recs[r];
	for (uint64_t b = 0; b < p->nblocks; b++) {
		uint64_t er, ei;
		if (cl_entry(p, b, &er, &ei) != PF_ENT_OWNED || er != (uint64_t)r)
			continue;
		if (ei >= rec->lo && ei < rec->hi)
			n++;
	}
	return n;
}

struct cl_key {
	uint64_t ino;
	int64_t bsec;
	uint64_t bnsec;
	uint64_t size;
	uint64_t blocks512;
};

/* Identity and size of a path (no symlink following). Returns 0 or -1 with errno. */
static inline int cl_key_of(const char *path, struct cl_key *k)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME | STATX_SIZE | STATX_BLOCKS, &stx) < 0)
		return -1;
	CHECKF(stx.stx_mask & STATX_BTIME, "%s: no birth time", path);
	k->ino = stx.stx_ino;
	k->bsec = stx.stx_btime.tv_sec;
	k->bnsec = stx.stx_btime.tv_nsec;
	k->size = stx.stx_size;
	k->blocks512 = stx.stx_blocks;
	return 0;
}

static inline uint64_t cl_birth_ns(const struct cl_key *k)
{
	return (uint64_t)k->bsec * 1000000000ULL + k->bnsec;
}

/* The LIVE record of this identity, or -1. */
/* Distinct birth times, so that age order is well defined: returns once the clock has passed path's birth
 * (the next file created is born later). */
static inline void cl_after_birth_of(const char *path)
{
	struct cl_key k;
	CHECK(cl_key_of(path, &k) == 0);
	int64_t t0 = cl_now_ms();
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME_COARSE, &ts);
		if ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec > cl_birth_ns(&k))
			break;
		CHECK(cl_now_ms() - t0 < 2000);
		cl_nap_ms(1);
	}
}

static inline int64_t cl_find_rec(const struct cl_pool *p, const struct cl_key *k)
{
	for (uint64_t r = 0; r < p->nrecords; r++) {
		const struct cl_rec *rec = &p->recs[r];
		if (rec->state == PF_REC_LIVE && rec->ino == k->ino && rec->btime_sec == k->bsec &&
		    rec->btime_nsec == k->bnsec)
			return (int64_t)r;
	}
	return -1;
}

static inline int64_t cl_find_rec_path(const struct cl_pool *p, const char *path)
{
	struct cl_key k;
	CHECKF(cl_key_of(path, &k) == 0, "statx %s", path);
	return cl_find_rec(p, &k);
}

/* No move in progress and nothing half done: no reserved block, no dying record, no uncommitted promotion. */
static inline int cl_pool_quiet(const struct cl_pool *p)
{
	for (uint64_t b = 0; b < p->nblocks; b++)
		if (p->blk[b] == PF_BLOCK_RESERVED)
			return 0;
	for (uint64_t r = 0; r < p->nrecords; r++) {
		if (p->recs[r].state == PF_REC_DYING)
			return 0;
		if (p->recs[r].state == PF_REC_LIVE && p->recs[r].lo == PF_HI_NONE)
			return 0;
	}
	return 1;
}

/*
 * The invariants of a recovered, idle pool. Writes a description of the first violation to err and returns
 * -1, or returns 0 and sets *used / *live / *referenced.
 */
static inline int cl_pool_consistent(const struct cl_pool *p, char *err, size_t errlen, uint64_t *used_out,
				     uint64_t *live_out)
{
	uint64_t used = 0, referenced = 0, live = 0;
	for (uint64_t r = 0; r < p->nrecords; r++) {
		uint64_t s = p->recs[r].state;
		if (s == PF_REC_LIVE) {
			live++;
			if (p->recs[r].lo == PF_HI_NONE) {
				cl_fmt(err, errlen, "record %llu is an uncommitted promotion (lo = none) after recovery",
					 (unsigned long long)r);
				return -1;
			}
			for (uint64_t q = r + 1; q < p->nrecords; q++)
				if (p->recs[q].state == PF_REC_LIVE && p->recs[q].ino == p->recs[r].ino &&
				    p->recs[q].btime_sec == p->recs[r].btime_sec &&
				    p->recs[q].btime_nsec == p->recs[r].btime_nsec) {
					cl_fmt(err, errlen, "records %llu and %llu are LIVE for the same inode %llu",
						 (unsigned long long)r, (unsigned long long)q,
						 (unsigned long long)p->recs[r].ino);
					return -1;
				}
		} else if (s == PF_REC_BAD) {
			cl_fmt(err, errlen, "record %llu fails its integrity checks (bad words %#x)", (unsigned long long)r,
				 p->recs[r].bad);
			return -1;
		} else if (s != PF_REC_FREE) {
			cl_fmt(err, errlen, "record %llu has state %llu (DYING=2 should have been finished by recovery)",
				 (unsigned long long)r, (unsigned long long)s);
			return -1;
		}
	}
	/* (record, index) pairs seen, to find a block owned twice */
	uint64_t *seen = pftest_xmalloc(p->nblocks * 8);
	uint64_t nseen = 0;
	for (uint64_t b = 0; b < p->nblocks; b++) {
		uint64_t e = p->blk[b];
		if (e == PF_BLOCK_FREE)
			continue;
		used++;
		if (e == PF_BLOCK_RESERVED) {
			cl_fmt(err, errlen, "block %llu is RESERVED (a leftover recovery should have freed)",
				 (unsigned long long)b);
			free(seen);
			return -1;
		}
		uint64_t r, i;
		if (cl_entry(p, b, &r, &i) != PF_ENT_OWNED) {
			cl_fmt(err, errlen, "block %llu: entry %#llx fails its integrity check or names no record",
				 (unsigned long long)b, (unsigned long long)e);
			free(seen);
			return -1;
		}
		if (p->recs[r].state != PF_REC_LIVE) {
			cl_fmt(err, errlen, "block %llu belongs to record %llu, which is not LIVE (leaked block)",
				 (unsigned long long)b, (unsigned long long)r);
			free(seen);
			return -1;
		}
		if (i < p->recs[r].lo || i >= p->recs[r].hi) {
			cl_fmt(err, errlen,
				 "block %llu holds index %llu of record %llu, outside its window [%llu, %llu) (stale, leaked)",
				 (unsigned long long)b, (unsigned long long)i, (unsigned long long)r,
				 (unsigned long long)p->recs[r].lo, (unsigned long long)p->recs[r].hi);
			free(seen);
			return -1;
		}
		for (uint64_t k = 0; k < nseen; k++)
			if (seen[k] == ((r << 32) | i)) {
				cl_fmt(err, errlen, "index %llu of record %llu is owned by two blocks (second: %llu)",
					 (unsigned long long)i, (unsigned long long)r, (unsigned long long)b);
				free(seen);
				return -1;
			}
		seen[nseen++] = (r << 32) | i;
		referenced++;
	}
	free(seen);
	if (used != referenced) {
		cl_fmt(err, errlen, "%llu used blocks but %llu referenced by LIVE records", (unsigned long long)used,
			 (unsigned long long)referenced);
		return -1;
	}
	if (used_out)
		*used_out = used;
	if (live_out)
		*live_out = live;
	return 0;
}

/* ---------------------------------------------------------------- a format-1 pool (an earlier release's) */

/* Written directly in the layout every release before format 2 wrote (pool_format.h: struct
 * pf_pool_record_v1, PF_ENTRY1), so the upgrade can be exercised without an old build. */
struct cl_v1 {
	int fd;
	char *base;
	size_t len;
	struct pf_pool_header *h;
};

/* $PAFKA_TEST_POOLDIR/pafka.pool as the earlier release created it: size bytes, blocks of bsize. */
static inline void cl_v1_create(struct cl_v1 *v, uint64_t size, uint64_t bsize)
{
	char path[PATH_MAX];
	CHECKF(pftest_pool_path(path), "PAFKA_TEST_POOLDIR is not set");
	/* the earlier release's layout */
	uint64_t nrec = size / bsize * 2;
	nrec = nrec < 1024 ? 1024 : nrec > (1u << 20) ? 1u << 20 : nrec;
	uint64_t fixed = PF_HEADER_SIZE + nrec * PF_RECORD_SIZE;
	CHECK(size > fixed + 16 * (bsize + 8));
	uint64_t nb = (size - fixed) / (bsize + 8);
	while (((fixed + nb * 8 + bsize - 1) & ~(bsize - 1)) + nb * bsize > size)
		nb--;
	v->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECKF(v->fd >= 0, "create %s", path);
	CHECK(ftruncate(v->fd, (off_t)size) == 0);
	v->len = size;
	v->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	CHECK(v->base != MAP_FAILED);
	struct pf_pool_header *h = v->h = (struct pf_pool_header *)v->base;
	h->version = 1;
	h->header_size = PF_HEADER_SIZE;
	CHECK(getrandom(h->uuid, sizeof h->uuid, 0) == (ssize_t)sizeof h->uuid);
	h->pool_size = size;
	h->block_size = bsize;
	h->nblocks = nb;
	h->nrecords = nrec;
	h->rec_off = PF_HEADER_SIZE;
	h->blk_off = PF_HEADER_SIZE + nrec * PF_RECORD_SIZE;
	h->data_off = (h->blk_off + nb * 8 + bsize - 1) & ~(bsize - 1);
	h->created_ns = (uint64_t)time(NULL) * 1000000000ULL;
	h->magic = PF_POOL_MAGIC;
	h->checksum = pf_fnv1a(h, offsetof(struct pf_pool_header, checksum));
	h->next_seq = 1;
}

/* Record r for the file at path (its identity read now), in state, with window [lo, hi) and flags. */
static inline void cl_v1_record(struct cl_v1 *v, uint32_t r, uint64_t state, const char *path, uint64_t lo, uint64_t hi,
				uint64_t flags)
{
	struct cl_key k;
	CHECKF(cl_key_of(path, &k) == 0, "statx %s", path);
	struct pf_pool_record_v1 *x = (struct pf_pool_record_v1 *)(v->base + v->h->rec_off) + r;
	memset(x, 0, sizeof *x);
	x->ino = k.ino;
	x->btime_sec = k.bsec;
	x->btime_nsec = k.bnsec;
	x->lo = lo;
	x->hi = hi;
	x->seq = v->h->next_seq++;
	x->flags = flags;
	size_t n = strlen(path);
	if (n > PF_PATH_MAX_REC)
		path += n - PF_PATH_MAX_REC, n = PF_PATH_MAX_REC;
	memcpy(x->path, path, n);
	x->path_len = (uint32_t)n;
	x->path_sum = pf_fnv1a(x->path, n);
	x->state = state;
}

/* Block phys holds block idx of record r (entry in format 1), with n bytes of data (the rest zeros). */
static inline void cl_v1_block(struct cl_v1 *v, uint64_t phys, uint32_t r, uint32_t idx, const uint8_t *data, size_t n)
{
	CHECK(phys < v->h->nblocks && n <= v->h->block_size);
	memcpy(v->base + v->h->data_off + phys * v->h->block_size, data, n);
	((uint64_t *)(v->base + v->h->blk_off))[phys] = PF_ENTRY1(r, idx);
}

static inline void cl_v1_close(struct cl_v1 *v)
{
	CHECK(msync(v->base, v->len, MS_SYNC) == 0);
	CHECK(munmap(v->base, v->len) == 0);
	CHECK(fsync(v->fd) == 0 && close(v->fd) == 0);
	memset(v, 0, sizeof *v);
}

/* ---------------------------------------------------------------- polling */

/* Poll the pool every 50 ms until cond(pool, arg) holds or timeout_ms passes. Returns the ms waited, or -1 on
 * timeout (the last snapshot stays in *p; the caller frees it). */
static inline long long cl_poll(struct cl_pool *p, int (*cond)(const struct cl_pool *, void *), void *arg,
				long long timeout_ms)
{
	int64_t t0 = cl_now_ms();
	for (;;) {
		cl_pool_free(p);
		CHECKF(cl_pool_load(p) == 0, "no pool file while polling");
		if (cond(p, arg))
			return cl_now_ms() - t0;
		if (cl_now_ms() - t0 > timeout_ms)
			return -1;
		cl_nap_ms(CL_POLL_MS);
	}
}

/* Usage at or under the threshold, and no move half done. */
static inline int cl_cond_settled(const struct cl_pool *p, void *arg)
{
	(void)arg;
	return cl_pool_used(p) <= cl_limit(p->nblocks) && cl_pool_quiet(p);
}

/* ---------------------------------------------------------------- real-file layout (no shim) */

/* Fills out[0..n) with the file's expected (logical) bytes at [off, off + n). */
typedef void (*cl_expect_fn)(void *arg, uint64_t off, size_t n, uint8_t *out);

struct cl_layout {
	int64_t rec;            /* LIVE record, or -1 */
	uint64_t lo, hi, flags;
	uint64_t owned;         /* blocks owned in the pool */
	uint64_t owned_beyond;  /* owned blocks at or past the end of the file */
	uint64_t owned_not_hole;/* owned blocks the real file has data for (only when not REAL_VALID) */
	uint64_t real_checked;  /* bytes compared in the real file */
	uint64_t size, alloc;   /* st_size, st_blocks * 512 */
};

static inline int cl_is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* Is [off, off+n) of fd a hole (no data) in the real file? */
static inline int cl_is_hole(int fd, uint64_t off, uint64_t n)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0)
		return errno == ENXIO;
	return (uint64_t)d >= off + n;
}

/*
 * Check the log-dir file at path against the placement rule, reading it directly (the caller runs without
 * the shim). size: the expected logical size. strict_holes: owned blocks must be holes in the real file
 * (not for files whose demotion may have been attempted and aborted, nor promoted files). Fails the test on
 * a violation; fills *out.
 */
#define cl_real_layout(p, path, size, fn, arg, strict, out) \
	cl_real_layout_(__FILE__, __LINE__, p, path, size, fn, arg, strict, out)
static inline void cl_real_layout_(const char *file, int line, const struct cl_pool *p, const char *path,
				   uint64_t size, cl_expect_fn fn, void *arg, int strict_holes, struct cl_layout *out)
{
	if (pftest_shim_active())
		pftest_failf(file, line, "cl_real_layout", 0, "must run without LD_PRELOAD");
	memset(out, 0, sizeof *out);
	struct cl_key k;
	if (cl_key_of(path, &k) < 0)
		pftest_failf(file, line, "statx", errno, "%s", path);
	if (k.size != size)
		pftest_failf(file, line, "real size", 0, "%s: the log-dir file's size is %llu without the shim, expected %llu",
			     path, (unsigned long long)k.size, (unsigned long long)size);
	out->size = k.size;
	out->alloc = k.blocks512 * 512;
	int64_t r = cl_find_rec(p, &k);
	out->rec = r;
	uint64_t bs = p->bsize, nb = (size + bs - 1) / bs;
	uint8_t *owned = calloc(nb + 1, 1);
	CHECK(owned != NULL);
	if (r >= 0) {
		const struct cl_rec *rec = &p->recs[r];
		out->lo = rec->lo;
		out->hi = rec->hi;
		out->flags = rec->flags;
		for (uint64_t b = 0; b < p->nblocks; b++) {
			uint64_t er, i;
			if (cl_entry(p, b, &er, &i) != PF_ENT_OWNED || er != (uint64_t)r)
				continue;
			if (i < rec->lo || i >= rec->hi)
				continue;
			out->owned++;
			if (i >= nb)
				out->owned_beyond++;
			else
				owned[i] = 1;
		}
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pftest_failf(file, line, "open", errno, "%s", path);
	uint8_t *got = pftest_xmalloc(bs), *exp = pftest_xmalloc(bs);
	for (uint64_t i = 0; i < nb; i++) {
		uint64_t off = i * bs, n = size - off < bs ? size - off : bs;
		int in_window = r >= 0 && i >= out->lo && i < out->hi;
		int real_valid = r >= 0 && (out->flags & PF_RECF_REAL_VALID);
		if (in_window && owned[i] && !real_valid) {
			if (!cl_is_hole(fd, off, n)) {
				out->owned_not_hole++;
				if (strict_holes)
					pftest_failf(file, line, "hole", 0,
						     "%s: block %llu is pool-resident (record %lld) but the log-dir file holds data "
						     "there (it must stay sparse)",
						     path, (unsigned long long)i, (long long)r);
			}
			continue;
		}
		if (pread(fd, got, n, (off_t)off) != (ssize_t)n)
			pftest_failf(file, line, "pread", errno, "%s at %llu", path, (unsigned long long)off);
		fn(arg, off, n, exp);
		out->real_checked += n;
		if (in_window && !owned[i] && !real_valid) {
			/* a hole of the logical file: zeros both ways */
			if (!cl_is_zero(exp, n))
				pftest_failf(file, line, "placement", 0,
					     "%s: block %llu is in record %lld's window [%llu, %llu) but owned by no pool block, "
					     "while the file's bytes there are not zeros (bytes lost)",
					     path, (unsigned long long)i, (long long)r, (unsigned long long)out->lo,
					     (unsigned long long)out->hi);
		}
		if (memcmp(got, exp, n) != 0) {
			size_t j = 0;
			while (got[j] == exp[j])
				j++;
			pftest_failf(file, line, "real bytes", 0,
				     "%s (no shim): byte %llu is 0x%02x, expected 0x%02x (block %llu, record %lld, window "
				     "[%llu, %llu), %s)",
				     path, (unsigned long long)(off + j), got[j], exp[j], (unsigned long long)i, (long long)r,
				     (unsigned long long)out->lo, (unsigned long long)out->hi,
				     !in_window ? "outside the window: the real file must hold it"
				     : real_valid ? "real copy marked valid"
						  : "unowned hole");
		}
	}
	free(got);
	free(exp);
	free(owned);
	close(fd);
}

/*
 * lseek(SEEK_DATA or SEEK_HOLE) on the log-dir file with raw system calls, so even a process under the shim
 * sees the real file as the kernel has it (used to see a migration's copy under way). Returns the offset, or
 * -1 for ENXIO (no data at or after off, or off past the end).
 */
static inline long long cl_raw_seek(const char *path, uint64_t off, int whence)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	CHECKF(fd >= 0, "raw open %s", path);
	long long r = (long long)syscall(SYS_lseek, fd, (off_t)off, whence);
	int e = errno;
	syscall(SYS_close, fd);
	CHECKF(r >= 0 || e == ENXIO, "raw lseek(%llu, %s) on %s", (unsigned long long)off,
	       whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE", path);
	return r;
}

/* How many bytes of data the log-dir file holds from off on, up to its first hole (0 if off is in a hole). */
static inline uint64_t cl_raw_data_from(const char *path, uint64_t off)
{
	if (cl_raw_seek(path, off, SEEK_DATA) != (long long)off)
		return 0;
	long long h = cl_raw_seek(path, off, SEEK_HOLE);
	return h > (long long)off ? (uint64_t)h - off : 0;
}

/* Compare a file read through whatever is preloaded (the shim, if any) with the expected bytes. */
#define cl_check_content(path, size, fn, arg) cl_check_content_(__FILE__, __LINE__, path, size, fn, arg)
static inline void cl_check_content_(const char *file, int line, const char *path, uint64_t size, cl_expect_fn fn,
				     void *arg)
{
	struct stat st;
	if (stat(path, &st) != 0)
		pftest_failf(file, line, "stat", errno, "%s", path);
	if ((uint64_t)st.st_size != size)
		pftest_failf(file, line, "stat size", 0, "%s: stat size %lld, expected %llu", path, (long long)st.st_size,
			     (unsigned long long)size);
	struct statx stx;
	if (statx(AT_FDCWD, path, 0, STATX_SIZE, &stx) != 0)
		pftest_failf(file, line, "statx", errno, "%s", path);
	if (stx.stx_size != size)
		pftest_failf(file, line, "statx size", 0, "%s: statx size %llu, expected %llu", path,
			     (unsigned long long)stx.stx_size, (unsigned long long)size);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pftest_failf(file, line, "open", errno, "%s", path);
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size)
		pftest_failf(file, line, "fstat size", errno, "%s: fstat size %lld, expected %llu", path,
			     (long long)st.st_size, (unsigned long long)size);
	if (lseek(fd, 0, SEEK_END) != (off_t)size)
		pftest_failf(file, line, "SEEK_END", errno, "%s", path);
	const size_t chunk = 1 << 20;
	uint8_t *got = pftest_xmalloc(chunk), *exp = pftest_xmalloc(chunk);
	for (uint64_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
		ssize_t r = pread(fd, got, n, (off_t)off);
		if (r != (ssize_t)n)
			pftest_failf(file, line, "pread", errno, "%s: pread(%zu at %llu) = %zd", path, n,
				     (unsigned long long)off, r);
		fn(arg, off, n, exp);
		char what[PATH_MAX + 32];
		cl_fmt(what, sizeof what, "content of %s", path);
		pftest_cmp_(file, line, what, got, exp, n, off);
	}
	if (pread(fd, got, 1, (off_t)size) != 0)
		pftest_failf(file, line, "EOF", errno, "%s: a byte past the end", path);
	free(got);
	free(exp);
	close(fd);
}

/* Expected bytes = pftest_pat(off, seed): arg points at a uint32_t seed. */
static inline void cl_expect_pat(void *arg, uint64_t off, size_t n, uint8_t *out)
{
	pftest_fill(out, off, n, *(uint32_t *)arg);
}

/* Expected bytes from a shadow. */
static inline void cl_expect_shadow(void *arg, uint64_t off, size_t n, uint8_t *out)
{
	const struct pftest_shadow *s = arg;
	for (size_t i = 0; i < n; i++)
		out[i] = off + i < s->size ? s->b[off + i] : 0;
}

/* The live statistics the writer publishes in the pool header. */
static inline struct pf_pool_live cl_live_stats(void)
{
	struct pf_pool_header h;
	int fd = pftest_pool_open(&h);
	CHECK(fd >= 0);
	close(fd);
	return h.live;
}

/* The shim's environment (for children) with LD_PRELOAD rebuilt from PAFKA_TEST_LIB. */
static inline const char *cl_preload_value(char *buf, size_t n)
{
	const char *lib = getenv("PAFKA_TEST_LIB"), *first = getenv("PAFKA_TEST_PRELOAD_FIRST");
	CHECKF(lib && *lib, "PAFKA_TEST_LIB is not set");
	if (first && *first)
		pftest_fmt(buf, n, "LD_PRELOAD=%s %s", first, lib);
	else
		pftest_fmt(buf, n, "LD_PRELOAD=%s", lib);
	return buf;
}

/* ---------------------------------------------------------------- manifest of expected files */

/*
 * $PAFKA_TEST_DIR/manifest lists every managed file a scenario expects, one per line:
 *   P <path relative to logs/> <size> <seed>     bytes are pftest_pat(off, seed)
 *   C <path relative to logs/> <size> <copy>     bytes are those of the plain file <copy>
 * Written by the program that knows the expected state, read by the generic roles below.
 */
struct cl_entry {
	char rel[512];
	uint64_t size;
	uint32_t seed;
	int is_copy;
	char copy[PATH_MAX];
	int fd; /* of the copy, opened lazily */
};

struct cl_manifest {
	struct cl_entry *e;
	int n, cap;
};

static inline struct cl_entry *cl_manifest_add(struct cl_manifest *m)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 32;
		m->e = realloc(m->e, (size_t)m->cap * sizeof *m->e);
		CHECK(m->e != NULL);
	}
	struct cl_entry *e = &m->e[m->n++];
	memset(e, 0, sizeof *e);
	e->fd = -1;
	return e;
}

static inline void cl_manifest_pat(struct cl_manifest *m, const char *rel, uint64_t size, uint32_t seed)
{
	struct cl_entry *e = cl_manifest_add(m);
	pftest_fmt(e->rel, sizeof e->rel, "%s", rel);
	e->size = size;
	e->seed = seed;
}

static inline char *cl_manifest_path(char *buf)
{
	return pftest_fmt(buf, PATH_MAX, "%s/manifest", pftest_dir());
}

static inline char *cl_logs(char *buf)
{
	return pftest_fmt(buf, PATH_MAX, "%s/logs", pftest_dir());
}

static inline char *cl_abs(char *buf, const char *rel)
{
	return pftest_fmt(buf, PATH_MAX, "%s/logs/%s", pftest_dir(), rel);
}

/* A copy entry: the expected bytes are saved to $PAFKA_TEST_DIR/expect/<n> (a plain file). */
static inline void cl_manifest_copy(struct cl_manifest *m, const char *rel, const uint8_t *bytes, uint64_t size)
{
	struct cl_entry *e = cl_manifest_add(m);
	pftest_fmt(e->rel, sizeof e->rel, "%s", rel);
	e->size = size;
	e->is_copy = 1;
	char d[PATH_MAX];
	pftest_fmt(d, sizeof d, "%s/expect", pftest_dir());
	pftest_mkdirs(d);
	pftest_fmt(e->copy, sizeof e->copy, "%s/%d", d, m->n - 1);
	int fd = open(e->copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECKF(fd >= 0, "%s", e->copy);
	for (uint64_t done = 0; done < size;) {
		ssize_t w = write(fd, bytes + done, size - done);
		CHECKF(w > 0, "write %s", e->copy);
		done += (uint64_t)w;
	}
	CHECK(close(fd) == 0);
}

static inline void cl_manifest_save(const struct cl_manifest *m)
{
	char p[PATH_MAX], tmp[PATH_MAX];
	cl_manifest_path(p);
	pftest_fmt(tmp, sizeof tmp, "%s.tmp", p);
	FILE *f = fopen(tmp, "w");
	CHECKF(f != NULL, "%s", tmp);
	for (int i = 0; i < m->n; i++) {
		const struct cl_entry *e = &m->e[i];
		if (e->is_copy)
			fprintf(f, "C %s %llu %s\n", e->rel, (unsigned long long)e->size, e->copy);
		else
			fprintf(f, "P %s %llu %u\n", e->rel, (unsigned long long)e->size, e->seed);
	}
	CHECK(fclose(f) == 0);
	CHECK(rename(tmp, p) == 0);
}

static inline void cl_manifest_load(struct cl_manifest *m)
{
	memset(m, 0, sizeof *m);
	char p[PATH_MAX], line[2 * PATH_MAX];
	FILE *f = fopen(cl_manifest_path(p), "r");
	CHECKF(f != NULL, "%s", p);
	while (fgets(line, sizeof line, f)) {
		struct cl_entry *e = cl_manifest_add(m);
		char kind, rel[512], extra[PATH_MAX];
		unsigned long long size;
		CHECKF(sscanf(line, "%c %511s %llu %4095s", &kind, rel, &size, extra) == 4, "manifest line: %s", line);
		pftest_fmt(e->rel, sizeof e->rel, "%s", rel);
		e->size = size;
		if (kind == 'C') {
			e->is_copy = 1;
			pftest_fmt(e->copy, sizeof e->copy, "%s", extra);
		} else {
			e->seed = (uint32_t)strtoul(extra, NULL, 10);
		}
	}
	fclose(f);
}

static inline void cl_manifest_free(struct cl_manifest *m)
{
	for (int i = 0; i < m->n; i++)
		if (m->e[i].fd >= 0)
			close(m->e[i].fd);
	free(m->e);
	memset(m, 0, sizeof *m);
}

static inline void cl_expect_entry(void *arg, uint64_t off, size_t n, uint8_t *out)
{
	struct cl_entry *e = arg;
	if (!e->is_copy) {
		pftest_fill(out, off, n, e->seed);
		return;
	}
	if (e->fd < 0) {
		e->fd = open(e->copy, O_RDONLY | O_CLOEXEC);
		CHECKF(e->fd >= 0, "%s", e->copy);
	}
	ssize_t r = pread(e->fd, out, n, (off_t)off);
	CHECKF(r == (ssize_t)n, "expected bytes of %s from %s", e->rel, e->copy);
}

/* Regular files under logs/<dir>/ (the marker files excluded), as paths relative to logs/. */
static inline int cl_list_logs(char (*out)[512], int max)
{
	char logs[PATH_MAX];
	cl_logs(logs);
	int n = 0;
	DIR *d = opendir(logs);
	CHECKF(d != NULL, "%s", logs);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char sub[PATH_MAX];
		pftest_fmt(sub, sizeof sub, "%s/%s", logs, de->d_name);
		struct stat st;
		if (lstat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		DIR *d2 = opendir(sub);
		CHECKF(d2 != NULL, "%s", sub);
		struct dirent *e2;
		while ((e2 = readdir(d2)) != NULL) {
			if (e2->d_name[0] == '.')
				continue;
			char full[PATH_MAX];
			pftest_fmt(full, sizeof full, "%s/%s", sub, e2->d_name);
			if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode))
				continue;
			CHECKF(n < max, "too many files under %s", logs);
			pftest_fmt(out[n++], 512, "%s/%s", de->d_name, e2->d_name);
		}
		closedir(d2);
	}
	closedir(d);
	return n;
}

/* Every regular file under logs/ is one of the manifest's (CHECK); returns how many there are. */
static inline int cl_check_only_manifest(const struct cl_manifest *m)
{
	static char names[1024][512];
	int n = cl_list_logs(names, 1024);
	for (int i = 0; i < n; i++) {
		int found = 0;
		for (int k = 0; k < m->n && !found; k++)
			found = !strcmp(names[i], m->e[k].rel);
		CHECKF(found, "unexpected file %s under logs/", names[i]);
	}
	return n;
}

/* ---------------------------------------------------------------- generic roles */

/* check-shim (under the shim): every manifest file has its size (stat, statx, fstat, SEEK_END) and bytes,
 * and no other file exists under logs/. */
static inline int cl_role_check_shim(int argc, char **argv)
{
	STEP("check-shim");
	CHECKF(pftest_shim_active(), "check-shim must run under LD_PRELOAD=libpafka.so");
	struct cl_manifest m;
	cl_manifest_load(&m);
	for (int i = 0; i < m.n; i++) {
		char p[PATH_MAX];
		STEP("check-shim: %s", m.e[i].rel);
		cl_check_content(cl_abs(p, m.e[i].rel), m.e[i].size, cl_expect_entry, &m.e[i]);
	}
	int n = cl_check_only_manifest(&m);
	CHECKF(n == m.n, "%d files under logs/, the manifest lists %d", n, m.n);
	printf("check-shim: %d files, sizes and bytes right through the shim\n", m.n);
	cl_manifest_free(&m);
	return 0;
}

/*
 * check-real (WITHOUT the shim): the placement rule for every manifest file (cl_real_layout), and with
 * --consistent the recovered pool's invariants plus: every LIVE record belongs to a manifest file (else its
 * blocks are leaked) and no record owns a block past its file's end. --strict: pool-resident blocks must be
 * holes in the log-dir file. --dense: files without a record must have all their bytes allocated.
 */
static inline int cl_role_check_real(int argc, char **argv)
{
	int consistent = 0, strict = 0, dense = 0;
	for (int i = 2; i < argc; i++) {
		consistent |= !strcmp(argv[i], "--consistent");
		strict |= !strcmp(argv[i], "--strict");
		dense |= !strcmp(argv[i], "--dense");
	}
	STEP("check-real");
	CHECKF(!pftest_shim_active(), "check-real must run without LD_PRELOAD");
	struct cl_pool P;
	CHECKF(cl_pool_load(&P) == 0, "no pool file");
	uint64_t used = cl_pool_used(&P), live = cl_pool_live(&P);
	if (consistent) {
		char err[512];
		CHECKF(cl_pool_consistent(&P, err, sizeof err, &used, &live) == 0, "pool inconsistent: %s", err);
	}
	struct cl_manifest m;
	cl_manifest_load(&m);
	int64_t *recs = pftest_xmalloc(sizeof *recs * (size_t)(m.n + 1));
	int nrec = 0, ndemoted = 0;
	uint64_t owned = 0, not_hole = 0;
	for (int i = 0; i < m.n; i++) {
		char p[PATH_MAX];
		struct cl_layout L;
		STEP("check-real: %s", m.e[i].rel);
		cl_real_layout(&P, cl_abs(p, m.e[i].rel), m.e[i].size, cl_expect_entry, &m.e[i], strict, &L);
		recs[i] = L.rec;
		owned += L.owned;
		not_hole += L.owned_not_hole;
		if (L.rec >= 0) {
			nrec++;
			if (consistent)
				CHECKF(L.owned_beyond == 0, "%s: record %lld owns %llu blocks past the end of the file",
				       m.e[i].rel, (long long)L.rec, (unsigned long long)L.owned_beyond);
		} else {
			ndemoted++;
			if (dense && !m.e[i].is_copy)
				CHECKF(L.alloc >= L.size,
				       "%s has no pool record but the log-dir file is sparse: %llu bytes allocated for %llu",
				       m.e[i].rel, (unsigned long long)L.alloc, (unsigned long long)L.size);
		}
	}
	if (consistent) {
		for (uint64_t r = 0; r < P.nrecords; r++) {
			if (P.recs[r].state != PF_REC_LIVE)
				continue;
			int found = 0;
			for (int i = 0; i < m.n && !found; i++)
				found = recs[i] == (int64_t)r;
			const struct cl_rec *rec = &P.recs[r];
			CHECKF(found,
			       "LIVE record %llu (inode %llu, path hint '%s') belongs to no file in the log dir: its %llu "
			       "blocks are leaked",
			       (unsigned long long)r, (unsigned long long)rec->ino, rec->path,
			       (unsigned long long)cl_rec_blocks(&P, (int64_t)r));
		}
		CHECKF(owned == used, "files own %llu blocks, the pool has %llu used", (unsigned long long)owned,
		       (unsigned long long)used);
	}
	printf("check-real: %d files (%d with a pool record, %d entirely in the log dir); pool: %llu used blocks, "
	       "%llu LIVE records%s; %llu pool-resident blocks with data in the log-dir file\n",
	       m.n, nrec, ndemoted, (unsigned long long)used, (unsigned long long)live,
	       consistent ? ", consistent" : "", (unsigned long long)not_hole);
	free(recs);
	cl_manifest_free(&m);
	cl_pool_free(&P);
	return 0;
}

/* cleanup (under the shim): delete every file under logs/. */
static inline int cl_role_cleanup(int argc, char **argv)
{
	STEP("cleanup");
	CHECKF(pftest_shim_active(), "cleanup must run under the shim");
	static char names[1024][512];
	int n = cl_list_logs(names, 1024);
	for (int i = 0; i < n; i++) {
		char p[PATH_MAX];
		STEP("cleanup: unlink %s", names[i]);
		CHECK(unlink(cl_abs(p, names[i])) == 0);
	}
	printf("cleanup: %d files deleted\n", n);
	return 0;
}

/* check-empty (without the shim): no used block and no LIVE record left. */
static inline int cl_role_check_empty(int argc, char **argv)
{
	STEP("check-empty");
	CHECKF(!pftest_shim_active(), "check-empty must run without LD_PRELOAD");
	struct cl_pool P;
	CHECKF(cl_pool_load(&P) == 0, "no pool file");
	char err[512];
	uint64_t used, live;
	CHECKF(cl_pool_consistent(&P, err, sizeof err, &used, &live) == 0, "pool inconsistent: %s", err);
	for (uint64_t r = 0; r < P.nrecords; r++)
		if (P.recs[r].state == PF_REC_LIVE)
			fprintf(stderr, "  left: record %llu inode %llu path hint '%s' with %llu blocks\n",
				(unsigned long long)r, (unsigned long long)P.recs[r].ino, P.recs[r].path,
				(unsigned long long)cl_rec_blocks(&P, (int64_t)r));
	CHECKF(used == 0 && live == 0, "after deleting every file: %llu used blocks, %llu LIVE records (leaked)",
	       (unsigned long long)used, (unsigned long long)live);
	printf("check-empty: pool empty after deleting everything\n");
	cl_pool_free(&P);
	return 0;
}

/* A role of a crash program, run as `PROG NAME [ARGS...]`; run() gets the whole command line. */
struct cl_role {
	const char *name;
	int (*run)(int argc, char **argv);
	int shim; /* 1: only under LD_PRELOAD=libpafka.so (skips, exit 77, without it) */
};

static inline const struct cl_role *cl_role_find(const struct cl_role *roles, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(roles[i].name, name))
			return &roles[i];
	return NULL;
}

/* main() of a crash program: the generic roles above, then the program's own ROLES; a missing or unknown
 * role prints the usage and returns 2. */
static inline int cl_main(int argc, char **argv, const struct cl_role *roles, size_t n)
{
	static const struct cl_role generic[] = {
		{ "check-shim", cl_role_check_shim, 0 },
		{ "check-real", cl_role_check_real, 0 },
		{ "cleanup", cl_role_cleanup, 0 },
		{ "check-empty", cl_role_check_empty, 0 },
	};
	pftest_init(argc, argv);
	const struct cl_role *r = NULL;
	if (argc >= 2 && !(r = cl_role_find(generic, sizeof generic / sizeof generic[0], argv[1])))
		r = cl_role_find(roles, n, argv[1]);
	if (!r) {
		if (argc >= 2)
			fprintf(stderr, "unknown role %s\n", argv[1]);
		fprintf(stderr, "usage: %s ROLE [ARGS...]; roles:", argv[0]);
		for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
			fprintf(stderr, " %s", generic[i].name);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %s", roles[i].name);
		fprintf(stderr, "\n");
		return 2;
	}
	if (r->shim && !pftest_shim_active())
		pftest_skip("this role runs under LD_PRELOAD=libpafka.so");
	return r->run(argc, argv);
}

#endif

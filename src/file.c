/*
 * file.c - managed files: identity table, placement of each byte range (pool block, real file, or hole),
 * and the data operations (see file.h).
 *
 * Ordering rules that make every crash recoverable (pool_format.h has the layout):
 *  - a new pool block is filled (zeros where the file has a hole, then the written bytes) before its
 *    block-table entry publishes it;
 *  - growth: zero stale pool bytes past the old end, copy the data, and only then extend the real file
 *    with ftruncate, which publishes the new size; shrink: real ftruncate first, then free blocks;
 *  - spill (pool full): the window end `hi` moves down over unowned blocks only, so no pool byte is ever
 *    hidden; if that is impossible the whole file is first copied to the real file (materialised);
 *  - materialise: copy every pool byte to the real file, fsync it, then free the record (its DYING state
 *    is the commit point), so a byte is always where the metadata says it is.
 * Lock order: files_lock, then a file's pos_lock, then its rwlock. Data operations never take files_lock.
 */
#define _GNU_SOURCE
#include "file.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "fdtab.h"
#include "log.h"
#include "paths.h"
#include "real.h"
#include "sys.h"
#include "shim.h"

int64_t pf_files_learned_ms;
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pf_file *files;

/* fork: hold the table lock across it so the child never inherits it locked by a vanished thread. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&files_lock);
}

static void fork_release(void)
{
	pthread_mutex_unlock(&files_lock);
}

void pf_files_atfork(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

static const char zeros[65536];

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))


/* ---------------------------------------------------------------- identity table */

static struct pf_file *file_new(const struct pf_key *k)
{
	struct pf_file *f = calloc(1, sizeof *f);
	if (!f)
		return NULL;
	f->key = *k;
	f->rec = -1; /* not published yet */
	f->rfd = -1;
	f->hi = PF_HI_NONE;
	f->last_write_ms = pf_mono_ms(); /* the idle clock starts when we learn of the file, not at boot */
	__atomic_store_n(&pf_files_learned_ms, f->last_write_ms, __ATOMIC_RELAXED);
	pthread_rwlock_init(&f->lock, NULL);
	pthread_mutex_init(&f->pos_lock, NULL);
	return f;
}

static void file_free(struct pf_file *f)
{
	pthread_rwlock_destroy(&f->lock);
	pthread_mutex_destroy(&f->pos_lock);
	free(f->map);
	free(f);
}

/* files_lock held. Drop one reference; the last one frees. */
static void file_unref_locked(struct pf_file *f)
{
	if (--f->refs == 0)
		file_free(f);
}

static void file_put(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	file_unref_locked(f);
	pthread_mutex_unlock(&files_lock);
}

/* f->rec is written under f->lock, and read there too, except by file_maybe_evict_locked() (files_lock only,
 * where a stale value is harmless: the migration thread re-checks when it lets go of the file). Stores
 * are atomic so that one unlocked read is well defined. */
static inline void set_rec(struct pf_file *f, int64_t rec)
{
	__atomic_store_n(&f->rec, rec, __ATOMIC_RELEASE);
}

static void map_free_blocks_from(struct pf_file *f, uint64_t first)
{
	if (pf_not_writer)
		return; /* only the pool's writer (the parent) changes its tables */
	for (uint64_t i = first; i < f->maplen; i++)
		if (f->map[i]) {
			pf_pool_block_free(f->pool, f->map[i] - 1);
			f->map[i] = 0;
		}
}

static void file_drop_record(struct pf_file *f)
{
	if (f->rec < 0 || pf_not_writer)
		return;
	pf_pool_rec_free(f->pool, (uint32_t)f->rec, f->map, f->maplen);
	free(f->map);
	f->map = NULL;
	f->maplen = 0;
	set_rec(f, -1);
	f->lo = 0;
	f->hi = PF_HI_NONE;
}

/* files_lock held. Leave the table when nothing can reach the file any more: no open description and
 * either no pool bytes, or no name left (its bytes are garbage once the last descriptor is gone). */
static void file_maybe_evict_locked(struct pf_file *f)
{
	if (f->nopen > 0 || !f->hh.tbl)
		return;
	if (__atomic_load_n(&f->rec, __ATOMIC_ACQUIRE) >= 0 && !f->unlinked)
		return;
	pthread_rwlock_wrlock(&f->lock);
	if (f->unlinked)
		file_drop_record(f);
	int keep = f->rec >= 0;
	pthread_rwlock_unlock(&f->lock);
	if (keep)
		return;
	HASH_DEL(files, f);
	f->hh.tbl = NULL;
	file_unref_locked(f);
}

int pf_files_load_record(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen)
{
	(void)arg;
	const struct pf_pool_record *r = &p->recs[rec];
	if (r->lo == PF_HI_NONE) {
		/* A promotion that never committed: its copies were stale and are gone; so is the record. */
		pf_pool_rec_free(p, rec, map, maplen);
		free(map);
		return 0;
	}
	struct pf_key k = { r->ino, r->btime_sec, r->btime_nsec };
	struct pf_file *f;
	HASH_FIND(hh, files, &k, sizeof k, f);
	if (f) {
		free(map);
		pf_log(PF_LOG_ERROR, "pool %s: two records (%lld and %u) for inode %llu: run 'pafka fsck'", p->path,
		       (long long)f->rec, rec, (unsigned long long)k.ino);
		return -1;
	}
	f = file_new(&k);
	if (!f) {
		free(map);
		return -1;
	}
	f->pool = p;
	set_rec(f, rec);
	f->map = map;
	f->maplen = maplen;
	f->lo = r->lo;
	f->hi = r->hi;
	if (r->path_sum == pf_fnv1a(r->path, r->path_len) && r->path_len < sizeof f->path) {
		memcpy(f->path, r->path, r->path_len);
		f->path[r->path_len] = '\0';
	}
	f->refs = 1;
	HASH_ADD(hh, files, key, sizeof f->key, f);
	return 0;
}

static int key_of_statx(const struct statx *stx, struct pf_key *k, const char *what)
{
	if (!(stx->stx_mask & STATX_BTIME))
		pf_die("the file system of %s does not report birth times (statx btime), which libpafka needs to "
		       "identify segment files across restarts: put log.dirs on ext4, xfs, btrfs or tmpfs",
		       what);
	memset(k, 0, sizeof *k);
	k->ino = stx->stx_ino;
	k->btime_sec = stx->stx_btime.tv_sec;
	k->btime_nsec = stx->stx_btime.tv_nsec;
	return 0;
}

/* Find the table entry for a path (no symlink following unless follow), with a reference. */
static struct pf_file *file_find_path(int dirfd, const char *path, int follow, uint64_t *nlink,
				      uint64_t *size)
{
	if (__atomic_load_n(&pf_state, __ATOMIC_ACQUIRE) != PF_ST_ACTIVE)
		return NULL;
	int e = errno;
	struct statx stx;
	if (REAL(statx)(dirfd, path, follow ? 0 : AT_SYMLINK_NOFOLLOW,
			STATX_TYPE | STATX_INO | STATX_BTIME | STATX_NLINK | STATX_SIZE, &stx) < 0 ||
	    !S_ISREG(stx.stx_mode) || !(stx.stx_mask & STATX_BTIME)) {
		errno = e;
		return NULL;
	}
	struct pf_key k = { stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
	struct pf_file *f;
	pthread_mutex_lock(&files_lock);
	HASH_FIND(hh, files, &k, sizeof k, f);
	if (f)
		f->refs++;
	pthread_mutex_unlock(&files_lock);
	if (nlink)
		*nlink = stx.stx_nlink;
	if (size)
		*size = stx.stx_size;
	return f;
}

/* Open our own descriptor of the file (for slow-tier I/O that must not disturb the application's offset
 * or O_APPEND), through one of the application's descriptors or its path. */
static void file_open_rfd(struct pf_file *f, int via_fd)
{
	if (f->rfd >= 0)
		return;
	char p[64];
	const char *path = f->path;
	if (via_fd >= 0) {
		snprintf(p, sizeof p, "/proc/self/fd/%d", via_fd);
		path = p;
	}
	if (!path[0])
		return;
	int e = errno;
	f->rfd = pf_fd_hide(REAL(open)(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW * (via_fd < 0)));
	errno = e;
}

static int file_sync_pool(struct pf_file *f);

static void trim_beyond_size(struct pf_file *f)
{
	if (f->rec < 0)
		return;
	uint64_t first = (f->size + f->pool->bsize - 1) >> f->pool->bshift;
	map_free_blocks_from(f, first);
}

void pf_file_opened(int fd, int oflags, const char *abspath)
{
	struct statx stx;
	int e = errno;
	if (REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME | STATX_SIZE, &stx) < 0 ||
	    !S_ISREG(stx.stx_mode)) {
		errno = e;
		return;
	}
	struct pf_key k;
	key_of_statx(&stx, &k, abspath);
	struct pf_ofd *o = malloc(sizeof *o);
	if (!o)
		pf_die("out of memory registering %s", abspath);
	pthread_mutex_lock(&files_lock);
	struct pf_file *f;
	HASH_FIND(hh, files, &k, sizeof k, f);
	if (!f) {
		f = file_new(&k);
		if (!f)
			pf_die("out of memory registering %s", abspath);
		f->refs = 1;
		HASH_ADD(hh, files, key, sizeof f->key, f);
	}
	f->refs++;
	f->nopen++;
	pthread_mutex_unlock(&files_lock);

	pthread_rwlock_wrlock(&f->lock);
	/* The kernel's size is the truth; bytes of pool blocks past it are leftovers of a write that never
	 * returned (crash), or of an O_TRUNC open. It is read again under the write lock: every change of size
	 * in this process happens under it, so the statx above may already be stale (another thread appended
	 * meanwhile) and trimming by it would throw away its bytes. */
	struct stat st;
	f->size = REAL(fstat)(fd, &st) == 0 ? (uint64_t)st.st_size : stx.stx_size;
	f->size_known = 1;
	trim_beyond_size(f);
	snprintf(f->path, sizeof f->path, "%s", abspath);
	if (f->rec >= 0 && !pf_not_writer)
		pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, abspath);
	file_open_rfd(f, fd);
	pthread_rwlock_unlock(&f->lock);

	o->refs = 1;
	o->flags = oflags & (O_ACCMODE | O_APPEND | O_SYNC | O_DSYNC);
	o->file = f;
	struct pf_ofd *old = pf_fd_set(fd, o);
	if (old)
		pf_ofd_put(old);
	errno = e;
}

int pf_file_opened_alias(int fd, int oflags)
{
	int e = errno;
	struct statx stx;
	if (REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | STATX_BTIME, &stx) < 0 || !S_ISREG(stx.stx_mode) ||
	    !(stx.stx_mask & STATX_BTIME)) {
		errno = e;
		return 0;
	}
	struct pf_key k = { stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
	struct pf_file *f;
	pthread_mutex_lock(&files_lock);
	HASH_FIND(hh, files, &k, sizeof k, f);
	char path[sizeof f->path];
	if (f)
		memcpy(path, f->path, sizeof path); /* its managed name stays the one we track */
	pthread_mutex_unlock(&files_lock);
	errno = e;
	if (!f)
		return 0;
	pf_file_opened(fd, oflags, path);
	return 1;
}

struct pf_ofd *pf_ofd_ref(struct pf_ofd *o)
{
	__atomic_add_fetch(&o->refs, 1, __ATOMIC_RELAXED);
	return o;
}

void pf_ofd_put(struct pf_ofd *o)
{
	if (__atomic_sub_fetch(&o->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	struct pf_file *f = o->file;
	free(o);
	int e = errno;
	pthread_mutex_lock(&files_lock);
	if (--f->nopen == 0) {
		pthread_rwlock_wrlock(&f->lock);
		if (f->rec >= 0 && !f->unlinked && !pf_not_writer)
			f->pool->recs[f->rec].size_hint = f->size; /* for tools only */
		if (f->rfd >= 0)
			REAL(close)(f->rfd);
		f->rfd = -1;
		f->size_known = 0;
		pthread_rwlock_unlock(&f->lock);
		file_maybe_evict_locked(f);
	}
	file_unref_locked(f);
	pthread_mutex_unlock(&files_lock);
	errno = e;
}

void pf_ofd_setfl(struct pf_ofd *o, int flags)
{
	int keep = o->flags & (O_ACCMODE | O_SYNC | O_DSYNC);
	__atomic_store_n(&o->flags, keep | (flags & O_APPEND), __ATOMIC_RELAXED);
}

static void file_unlinked(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	f->unlinked = 1;
	file_maybe_evict_locked(f);
	pthread_mutex_unlock(&files_lock);
}

/* ---------------------------------------------------------------- placement */

/* The file's bytes or size are about to change (write lock held): a copy being migrated is now stale,
 * and so is a slow-tier copy kept from a promotion. */
static void file_changing(struct pf_file *f)
{
	f->gen++;
	f->last_write_ms = pf_mono_ms();
	if (f->rec >= 0 && !pf_not_writer && (f->pool->recs[f->rec].flags & PF_RECF_REAL_VALID)) {
		__atomic_store_n(&f->pool->recs[f->rec].flags, f->pool->recs[f->rec].flags & ~PF_RECF_REAL_VALID,
				 __ATOMIC_RELEASE);
		pf_pool_commit(f->pool, &f->pool->recs[f->rec].flags, sizeof(uint64_t));
	}
}

enum seg_kind { SEG_REAL, SEG_POOL, SEG_ZERO };

static inline uint64_t blk_start(const struct pf_file *f, uint64_t b)
{
	return b << f->pool->bshift;
}

/* The longest run starting at pos (and ending by end) that is all in one place. */
static enum seg_kind seg_at(const struct pf_file *f, uint64_t pos, uint64_t end, uint64_t *len, char **ptr)
{
	if (f->rec < 0) {
		*len = end - pos;
		return SEG_REAL;
	}
	unsigned sh = f->pool->bshift;
	uint64_t b = pos >> sh;
	if (b < f->lo) {
		*len = MIN(end, f->lo << sh) - pos;
		return SEG_REAL;
	}
	if (b >= f->hi) {
		*len = end - pos;
		return SEG_REAL;
	}
	uint64_t lim = f->hi == PF_HI_NONE ? end : MIN(end, f->hi << sh);
	uint32_t ph = b < f->maplen ? f->map[b] : 0;
	uint64_t e = (b + 1) << sh, n = b + 1;
	if (ph) {
		while (e < lim && n < f->maplen && f->map[n] == f->map[n - 1] + 1)
			e += f->pool->bsize, n++;
		*ptr = pf_pool_block_ptr(f->pool, ph - 1) + (pos & (f->pool->bsize - 1));
		*len = MIN(e, lim) - pos;
		return SEG_POOL;
	}
	while (e < lim && (n >= f->maplen || !f->map[n]))
		e += f->pool->bsize, n++;
	*len = MIN(e, lim) - pos;
	return SEG_ZERO;
}

static int map_grow(struct pf_file *f, uint64_t b)
{
	if (b < f->maplen)
		return 0;
	uint64_t n = MAX(b + 1, f->maplen * 2);
	if (n < 16)
		n = 16;
	uint32_t *m = realloc(f->map, n * sizeof *m);
	if (!m)
		return -1;
	memset(m + f->maplen, 0, (n - f->maplen) * sizeof *m);
	f->map = m;
	f->maplen = n;
	return 0;
}

/* Zero the pool bytes of [from, to) (stale bytes past an old end, or a punched range). */
static void zero_owned(struct pf_file *f, uint64_t from, uint64_t to)
{
	if (f->rec < 0 || from >= to)
		return;
	unsigned sh = f->pool->bshift;
	for (uint64_t b = from >> sh; b < f->maplen && blk_start(f, b) < to; b++) {
		if (!f->map[b])
			continue;
		uint64_t s = MAX(from, blk_start(f, b)), t = MIN(to, blk_start(f, b + 1));
		pf_pool_zero(f->pool, pf_pool_block_ptr(f->pool, f->map[b] - 1) + (s - blk_start(f, b)), t - s);
	}
	f->dirty = 1;
}

static int has_owned_from(const struct pf_file *f, uint64_t b)
{
	for (uint64_t i = b; i < f->maplen; i++)
		if (f->map[i])
			return 1;
	return 0;
}

/* Give the file a record so new blocks can go to the pool. Write lock held. */
static int ensure_record(struct pf_file *f)
{
	if (f->rec >= 0)
		return 1;
	if (f->pinned_real || !pf_shim_pool_writable())
		return 0;
	struct pf_pool *p = pf_shim_pick_pool();
	if (!p)
		return 0;
	uint64_t lo = (f->size + p->bsize - 1) >> p->bshift;
	int64_t r = pf_pool_rec_alloc(p, f->key.ino, f->key.btime_sec, (uint32_t)f->key.btime_nsec, lo, f->path);
	if (r < 0)
		return 0;
	f->pool = p;
	set_rec(f, r);
	f->lo = lo;
	f->hi = PF_HI_NONE;
	return 1;
}

/* Move every pool byte of the file to the real file and drop the record. Write lock held. */
static int materialise(struct pf_file *f)
{
	if (f->rec < 0)
		return 0;
	if (f->rfd < 0) {
		errno = EACCES;
		return -1;
	}
	for (uint64_t i = 0; i < f->maplen; i++) {
		if (!f->map[i] || blk_start(f, i) >= f->size)
			continue;
		uint64_t n = MIN(f->pool->bsize, f->size - blk_start(f, i));
		if (pf_pwrite_all(f->rfd, pf_pool_block_ptr(f->pool, f->map[i] - 1), n, blk_start(f, i)) < 0)
			return -1;
	}
	PF_FAULT("file.materialise.copied");
	if (REAL(fsync)(f->rfd) < 0)
		return -1;
	PF_FAULT("file.materialise.synced");
	file_drop_record(f); /* commit point: DYING, after the real copy is durable */
	return 0;
}

int pf_io_pin_real(struct pf_ofd *o)
{
	struct pf_file *f = o->file;
	pthread_rwlock_wrlock(&f->lock);
	int r = materialise(f);
	if (r == 0)
		f->pinned_real = 1;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* Persist the pool bytes and metadata of the file (fsync). Read or write lock held. */
static int file_sync_pool(struct pf_file *f)
{
	if (f->rec < 0 || !__atomic_exchange_n(&f->dirty, 0, __ATOMIC_ACQ_REL))
		return 0;
	for (uint64_t i = 0; i < f->maplen;) {
		if (!f->map[i]) {
			i++;
			continue;
		}
		uint64_t j = i + 1;
		while (j < f->maplen && f->map[j] == f->map[j - 1] + 1)
			j++;
		if (pf_pool_sync(f->pool, pf_pool_block_ptr(f->pool, f->map[i] - 1), (j - i) << f->pool->bshift) < 0)
			return -1;
		i = j;
	}
	return pf_pool_sync_meta(f->pool);
}

/* ---------------------------------------------------------------- iovec cursor */

struct cur {
	const struct iovec *iov;
	int cnt, i;
	size_t off;
};

static void cur_copy_out(struct cur *c, char *dst, uint64_t n, const struct pf_pool *p)
{
	while (n) {
		size_t k = MIN(n, c->iov[c->i].iov_len - c->off);
		if (p)
			pf_pool_copy(p, dst, (const char *)c->iov[c->i].iov_base + c->off, k);
		else
			memcpy(dst, (const char *)c->iov[c->i].iov_base + c->off, k);
		dst += k;
		n -= k;
		c->off += k;
		if (c->off == c->iov[c->i].iov_len)
			c->i++, c->off = 0;
	}
}

static void cur_fill(struct cur *c, const char *src, uint64_t n)
{
	while (n) {
		size_t k = MIN(n, c->iov[c->i].iov_len - c->off);
		if (src) {
			memcpy((char *)c->iov[c->i].iov_base + c->off, src, k);
			src += k;
		} else {
			memset((char *)c->iov[c->i].iov_base + c->off, 0, k);
		}
		n -= k;
		c->off += k;
		if (c->off == c->iov[c->i].iov_len)
			c->i++, c->off = 0;
	}
}

static void cur_skip_empty(struct cur *c)
{
	while (c->i < c->cnt && c->iov[c->i].iov_len == c->off)
		c->i++, c->off = 0;
}

static void cur_advance(struct cur *c, uint64_t n)
{
	while (n) {
		cur_skip_empty(c);
		size_t k = MIN(n, c->iov[c->i].iov_len - c->off);
		n -= k;
		c->off += k;
	}
	cur_skip_empty(c);
}

/* The next up-to-n bytes of the cursor as an iovec array (without advancing). */
static int cur_sub(struct cur *c, uint64_t n, struct iovec *out, int max)
{
	int k = 0;
	size_t off = c->off;
	for (int i = c->i; i < c->cnt && n && k < max; i++, off = 0) {
		size_t len = MIN(n, c->iov[i].iov_len - off);
		if (!len)
			continue;
		out[k].iov_base = (char *)c->iov[i].iov_base + off;
		out[k].iov_len = len;
		n -= len;
		k++;
	}
	return k;
}

/* The cursor's next len bytes to or from the real file at off, in one vectored call (up to 64 pieces).
 * Returns the call's result; on success the cursor has moved past what was transferred. *asked (if not
 * NULL) gets the length asked for, so a short write can be told apart. */
static ssize_t cur_real_io(struct cur *c, int rfd, int writing, uint64_t len, uint64_t off, uint64_t *asked)
{
	struct iovec sub[64];
	int ns = cur_sub(c, len, sub, 64);
	if (asked) {
		*asked = 0;
		for (int i = 0; i < ns; i++)
			*asked += sub[i].iov_len;
	}
	ssize_t r = writing ? REAL(pwritev64)(rfd, sub, ns, (off64_t)off) : REAL(preadv64)(rfd, sub, ns, (off64_t)off);
	if (r > 0)
		cur_advance(c, (uint64_t)r);
	return r;
}

#define MAX_RW_COUNT 0x7ffff000UL /* the kernel's cap on one read or write */

/* Total length as the kernel computes it: EINVAL for a bad count or a negative length, and a total capped
 * at MAX_RW_COUNT. A capped total means absurd lengths: check the memory is there (msync answers ENOMEM
 * for unmapped ranges), so a bad buffer gives EFAULT as in the kernel rather than a crash. */
static ssize_t iov_total(const struct iovec *iov, int cnt)
{
	if (cnt < 0 || cnt > IOV_MAX) {
		errno = EINVAL;
		return -1;
	}
	size_t t = 0;
	int capped = 0;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len > (size_t)SSIZE_MAX) {
			errno = EINVAL;
			return -1;
		}
		size_t n = iov[i].iov_len;
		if (n > MAX_RW_COUNT - t)
			n = MAX_RW_COUNT - t, capped = 1;
		t += n;
	}
	if (capped) {
		size_t left = t;
		for (int i = 0; i < cnt && left; i++) {
			size_t n = MIN(iov[i].iov_len, left);
			uintptr_t a = (uintptr_t)iov[i].iov_base & ~(uintptr_t)4095;
			if (n && REAL(msync)((void *)a, n + ((uintptr_t)iov[i].iov_base - a), MS_ASYNC) < 0) {
				errno = EFAULT;
				return -1;
			}
			left -= n;
		}
	}
	return (ssize_t)t;
}

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020 /* Linux 6.9: ignore O_APPEND for this positioned write */
#endif
#define RWF_KNOWN (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND)

/* ---------------------------------------------------------------- read-only attach */

/* In a process attached read-only, the broker keeps allocating, moving and freeing blocks. Before a read
 * the file's record and block map are rebuilt from the shared tables, and after it every pool block that
 * was used is checked to still belong to the file: if anything moved, the read is done again. */
static void ro_refresh(struct pf_file *f, int fd)
{
	struct stat st;
	if (REAL(fstat)(fd, &st) == 0)
		f->size = (uint64_t)st.st_size;
	free(f->map);
	f->map = NULL;
	f->maplen = 0;
	set_rec(f, -1);
	f->lo = 0;
	f->hi = PF_HI_NONE;
	for (int k = 0; k < pf_npools && f->rec < 0; k++) {
		struct pf_pool *p = &pf_pools[k];
		for (uint64_t r = 0; r < p->nrecords; r++) {
			const struct pf_pool_record *pr = &p->recs[r];
			if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) == PF_REC_LIVE && pr->ino == f->key.ino &&
			    pr->btime_sec == f->key.btime_sec && pr->btime_nsec == f->key.btime_nsec &&
			    pr->lo != PF_HI_NONE) {
				f->pool = p;
				set_rec(f, (int64_t)r);
				f->lo = pr->lo;
				f->hi = pr->hi;
				break;
			}
		}
	}
	if (f->rec < 0)
		return;
	for (uint64_t b = 0; b < f->pool->nblocks; b++) {
		uint64_t e = __atomic_load_n(&f->pool->blocks[b], __ATOMIC_ACQUIRE);
		if (e == PF_BLOCK_FREE || e == PF_BLOCK_RESERVED || PF_ENTRY_REC(e) != (uint64_t)f->rec)
			continue;
		uint64_t i = PF_ENTRY_IDX(e);
		if (i < f->lo || i >= f->hi || map_grow(f, i) < 0)
			continue;
		f->map[i] = (uint32_t)b + 1;
	}
}

/* Did the placement of [pos, end) stay as f describes it? */
static int ro_still_valid(const struct pf_file *f, uint64_t pos, uint64_t end)
{
	if (f->rec < 0)
		return 1;
	const struct pf_pool_record *pr = &f->pool->recs[f->rec];
	if (__atomic_load_n(&pr->state, __ATOMIC_ACQUIRE) != PF_REC_LIVE || pr->lo != f->lo || pr->hi != f->hi)
		return 0;
	for (uint64_t b = pos >> f->pool->bshift; pos < end && blk_start(f, b) < end; b++) {
		if (b < f->lo || b >= f->hi)
			continue;
		uint64_t want = b < f->maplen && f->map[b] ? PF_ENTRY(f->rec, b) : 0;
		uint64_t e = __atomic_load_n(&f->pool->blocks[b < f->maplen && f->map[b] ? f->map[b] - 1 : 0], __ATOMIC_ACQUIRE);
		if (want && e != want)
			return 0;
		if (!want) {
			/* a hole in our view: make sure no block appeared for it */
			for (uint64_t k = 0; k < f->pool->nblocks; k++)
				if (__atomic_load_n(&f->pool->blocks[k], __ATOMIC_ACQUIRE) == PF_ENTRY(f->rec, b))
					return 0;
		}
	}
	return 1;
}

/* The checks the kernel makes before a read or write: access mode (a descriptor opened `wrong_mode` gets
 * EBADF), flags, offset, vector. Returns the total length, or -1 with errno. */
static ssize_t io_check(const struct pf_ofd *o, int wrong_mode, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	if ((o->flags & O_ACCMODE) == wrong_mode) {
		errno = EBADF;
		return -1;
	}
	if (off < -1 || (rwf & ~RWF_KNOWN)) {
		errno = (rwf & ~RWF_KNOWN) ? EOPNOTSUPP : EINVAL;
		return -1;
	}
	return iov_total(iov, cnt);
}

/* ---------------------------------------------------------------- read */

ssize_t pf_io_read(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	struct pf_file *f = o->file;
	ssize_t total = io_check(o, O_WRONLY, iov, cnt, off, rwf);
	if (total < 0)
		return -1;
	int fpos = off == -1;
	if (fpos)
		pthread_mutex_lock(&f->pos_lock);
	if (pf_readonly) {
		pthread_rwlock_wrlock(&f->lock);
		ro_refresh(f, fd);
	} else {
		pthread_rwlock_rdlock(&f->lock);
	}
	ssize_t ret;
	int attempts = 0;
again:
	if (f->rec < 0) {
		ret = REAL(preadv64v2)(fd, iov, cnt, off, rwf);
		if (ret > 0)
			PF_STAT_ADD(bytes_read[1], (uint64_t)ret);
		goto out;
	}
	uint64_t pos = (uint64_t)off;
	if (fpos) {
		off_t cur = REAL(lseek)(fd, 0, SEEK_CUR);
		if (cur < 0) {
			ret = -1;
			goto out;
		}
		pos = (uint64_t)cur;
	}
	uint64_t end = pos >= f->size ? pos : MIN(f->size, pos + (uint64_t)total);
	struct cur c = { iov, cnt, 0, 0 };
	cur_skip_empty(&c);
	uint64_t done = 0;
	int rfd = f->rfd >= 0 ? f->rfd : fd;
	while (pos + done < end) {
		uint64_t len;
		char *ptr = NULL;
		enum seg_kind k = seg_at(f, pos + done, end, &len, &ptr);
		if (k == SEG_POOL) {
			cur_fill(&c, ptr, len);
			PF_STAT_ADD(bytes_read[0], len);
		} else if (k == SEG_ZERO) {
			cur_fill(&c, NULL, len);
		} else {
			ssize_t r = cur_real_io(&c, rfd, 0, len, pos + done, NULL);
			if (r < 0) {
				if (done == 0) {
					ret = -1;
					goto out;
				}
				break;
			}
			done += (uint64_t)r;
			PF_STAT_ADD(bytes_read[1], (uint64_t)r);
			if (r == 0)
				break;
			continue;
		}
		done += len;
	}
	if (pf_readonly && !ro_still_valid(f, pos, pos + done) && ++attempts < 8) {
		ro_refresh(f, fd);
		goto again; /* the broker moved something while we copied */
	}
	if (fpos)
		REAL(lseek)(fd, (off_t)(pos + done), SEEK_SET);
	ret = (ssize_t)done;
out:
	pthread_rwlock_unlock(&f->lock);
	if (fpos)
		pthread_mutex_unlock(&f->pos_lock);
	return ret;
}

/* ---------------------------------------------------------------- write */

/* Make the real file exactly new_size long (growth only). Write lock held. */
static int publish_size(struct pf_file *f, int fd, uint64_t new_size)
{
	if (new_size <= f->size)
		return 0;
	if (REAL(ftruncate64)(f->rfd >= 0 ? f->rfd : fd, (off64_t)new_size) < 0)
		return -1;
	f->size = new_size;
	return 0;
}

/* Fill file block b (not yet in the pool) with the n bytes at in-block offset boff from the cursor. */
static int write_new_block(struct pf_file *f, uint64_t b, uint64_t boff, uint64_t n, struct cur *c)
{
	int64_t hint = (b > 0 && b - 1 < f->maplen && f->map[b - 1]) ? (int64_t)f->map[b - 1] : -1;
	if (map_grow(f, b) < 0)
		return -1;
	int64_t ph = pf_shim_pool_writable() ? pf_pool_block_reserve(f->pool, hint) : -1;
	if (ph < 0)
		return 0;
	char *base = pf_pool_block_ptr(f->pool, (uint64_t)ph);
	uint64_t bs = f->pool->bsize, start = blk_start(f, b);
	if (boff)
		pf_pool_zero(f->pool, base, boff); /* a hole inside the file, or past its end: zeros */
	uint64_t tail = boff + n;
	if (tail < bs && start + tail < f->size)
		pf_pool_zero(f->pool, base + tail, MIN(bs, f->size - start) - tail);
	cur_copy_out(c, base + boff, n, f->pool);
	pf_pool_block_publish(f->pool, (uint64_t)ph, (uint32_t)f->rec, (uint32_t)b);
	f->map[b] = (uint32_t)ph + 1;
	return 1;
}

/* The pool has no block for file block b: send b and everything after it to the real file. */
static int spill(struct pf_file *f, uint64_t b)
{
	if (has_owned_from(f, b + 1))
		return materialise(f);
	pf_log(PF_LOG_DEBUG, "pool full: %s continues on the slow tier from byte %llu", f->path,
	       (unsigned long long)blk_start(f, b));
	struct pf_pool_record *r = &f->pool->recs[f->rec];
	__atomic_store_n(&r->hi, b, __ATOMIC_RELEASE);
	pf_pool_commit(f->pool, &r->hi, sizeof r->hi);
	f->hi = b;
	PF_STAT_ADD(spills, 1);
	PF_FAULT("file.spill");
	return 0;
}

ssize_t pf_io_write(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	struct pf_file *f = o->file;
	ssize_t total = io_check(o, O_RDONLY, iov, cnt, off, rwf);
	if (total < 0)
		return -1;
	int fpos = off == -1;
	int append = ((o->flags & O_APPEND) || (rwf & RWF_APPEND)) && !(off >= 0 && (rwf & RWF_NOAPPEND));
	if (fpos || append)
		pthread_mutex_lock(&f->pos_lock);
	pthread_rwlock_wrlock(&f->lock);
	ssize_t ret;
	uint64_t pos;
	if (f->rec < 0 && (f->pinned_real || !pf_shim_pool_writable())) {
		file_changing(f);
		ret = REAL(pwritev64v2)(fd, iov, cnt, off, rwf); /* stays a plain file */
		if (ret > 0)
			PF_STAT_ADD(bytes_written[1], (uint64_t)ret);
		goto out;
	}
	if (append) {
		pos = f->size;
	} else if (fpos) {
		off_t cur = REAL(lseek)(fd, 0, SEEK_CUR);
		if (cur < 0) {
			ret = -1;
			goto out;
		}
		pos = (uint64_t)cur;
	} else {
		pos = (uint64_t)off;
	}
	if (total == 0) {
		ret = 0;
		goto out;
	}
	uint64_t end = pos + (uint64_t)total;
	if (f->rec < 0 && !ensure_record(f)) {
		/* no room in the pool (no free block or record): the write goes to the slow tier */
		file_changing(f);
		ret = REAL(pwritev64v2)(fd, iov, cnt, off, rwf);
		if (ret > 0) {
			if (pos + (uint64_t)ret > f->size)
				f->size = pos + (uint64_t)ret;
			PF_STAT_ADD(bytes_written[1], (uint64_t)ret);
			PF_STAT_ADD(spills, 1);
		}
		goto out;
	}
	if (pf_not_writer) {
		errno = EROFS; /* a fork child is not the pool's writer */
		ret = -1;
		goto out;
	}
	file_changing(f);
	if (pos > f->size)
		zero_owned(f, f->size, pos);
	struct cur c = { iov, cnt, 0, 0 };
	cur_skip_empty(&c);
	uint64_t done = 0;
	int rfd = f->rfd >= 0 ? f->rfd : fd;
	while (done < (uint64_t)total) {
		uint64_t p = pos + done;
		uint64_t b = f->rec >= 0 ? p >> f->pool->bshift : 0;
		if (f->rec < 0 || b < f->lo || b >= f->hi) {
			uint64_t lim = end;
			if (f->rec >= 0 && b < f->lo)
				lim = MIN(end, blk_start(f, f->lo));
			uint64_t want;
			ssize_t w = cur_real_io(&c, rfd, 1, lim - p, p, &want);
			if (w < 0) {
				if (done == 0) {
					ret = -1;
					goto out;
				}
				break;
			}
			done += (uint64_t)w;
			PF_STAT_ADD(bytes_written[1], (uint64_t)w);
			if (p + (uint64_t)w > f->size)
				f->size = p + (uint64_t)w;
			if ((uint64_t)w < want)
				break; /* the kernel wrote less (disk full, signal): report what was written */
			continue;
		}
		uint64_t boff = p & (f->pool->bsize - 1);
		uint64_t n = MIN((uint64_t)total - done, f->pool->bsize - boff);
		if (b < f->maplen && f->map[b]) {
			cur_copy_out(&c, pf_pool_block_ptr(f->pool, f->map[b] - 1) + boff, n, f->pool);
			PF_STAT_ADD(bytes_written[0], n);
		} else {
			int r = write_new_block(f, b, boff, n, &c);
			if (r < 0 || (r == 0 && spill(f, b) < 0)) {
				if (done == 0) {
					ret = -1;
					goto out;
				}
				break;
			}
			if (r == 0)
				continue; /* now on the slow tier: the loop writes it there */
			PF_STAT_ADD(bytes_written[0], n);
		}
		f->dirty = 1;
		done += n;
	}
	PF_FAULT("file.write.copied");
	uint64_t size_before = f->size;
	if (publish_size(f, fd, pos + done) < 0) {
		ret = -1;
		goto out;
	}
	if (f->size == size_before && done > 0) {
		/* Growth gets its times from the real ftruncate; an overwrite inside the file must say so too
		 * (Kafka's time retention reads File.lastModified). */
		static const struct timespec now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
		futimens(f->rfd >= 0 ? f->rfd : fd, now);
	}
	PF_FAULT("file.write.sized");
	if (fpos)
		REAL(lseek)(fd, (off_t)(pos + done), SEEK_SET);
	if ((o->flags & (O_SYNC | O_DSYNC)) || (rwf & (RWF_SYNC | RWF_DSYNC))) {
		if (file_sync_pool(f) < 0 || REAL(fdatasync)(fd) < 0) {
			ret = -1;
			goto out;
		}
	}
	ret = (ssize_t)done;
out:
	pthread_rwlock_unlock(&f->lock);
	if (fpos || append)
		pthread_mutex_unlock(&f->pos_lock);
	return ret;
}

/* ---------------------------------------------------------------- sendfile, copy_file_range, splice */

/* Write to a descriptor that may itself be managed. */
static ssize_t dest_write(int out, struct pf_ofd *oo, const void *buf, size_t n)
{
	if (!oo)
		return REAL(write)(out, buf, n);
	struct iovec v = { (void *)buf, n };
	return pf_io_write(oo, out, &v, 1, -1, 0);
}

#define MAX_SENDFILE 0x7ffff000

ssize_t pf_io_sendfile(int out, struct pf_ofd *o, int in, off_t *offp, size_t count)
{
	struct pf_file *f = o->file;
	struct pf_ofd *oo = pf_fd_get(out);
	if ((o->flags & O_ACCMODE) == O_WRONLY) {
		errno = EBADF;
		return -1;
	}
	if (offp && *offp < 0) {
		errno = EINVAL;
		return -1;
	}
	if (oo && oo->file == f) {
		errno = EINVAL;
		return -1;
	}
	if (count > MAX_SENDFILE)
		count = MAX_SENDFILE;
	if (!offp)
		pthread_mutex_lock(&f->pos_lock);
	if (pf_readonly) {
		pthread_rwlock_wrlock(&f->lock);
		ro_refresh(f, in);
	} else {
		pthread_rwlock_rdlock(&f->lock);
	}
	ssize_t ret;
	if (f->rec < 0 && !oo) {
		ret = REAL(sendfile64)(out, in, offp, count);
		if (ret > 0)
			PF_STAT_ADD(bytes_sent[1], (uint64_t)ret);
		goto out;
	}
	uint64_t pos;
	if (offp) {
		pos = (uint64_t)*offp;
	} else {
		off_t cur = REAL(lseek)(in, 0, SEEK_CUR);
		if (cur < 0) {
			ret = -1;
			goto out;
		}
		pos = (uint64_t)cur;
	}
	uint64_t size = f->rec < 0 ? (uint64_t)REAL(lseek)(f->rfd >= 0 ? f->rfd : in, 0, SEEK_END) : f->size;
	uint64_t end = pos >= size ? pos : MIN(size, pos + count);
	uint64_t done = 0;
	int rfd = f->rfd >= 0 ? f->rfd : in;
	char *bounce = NULL;
	ret = 0;
	while (pos + done < end) {
		uint64_t len;
		char *ptr = NULL;
		enum seg_kind k = seg_at(f, pos + done, end, &len, &ptr);
		ssize_t w;
		if (k == SEG_POOL) {
			w = dest_write(out, oo, ptr, len);
		} else if (k == SEG_ZERO) {
			len = MIN(len, sizeof zeros);
			w = dest_write(out, oo, zeros, len);
		} else if (!oo) {
			off64_t q = (off64_t)(pos + done);
			w = REAL(sendfile64)(out, rfd, &q, len);
		} else {
			if (!bounce && !(bounce = malloc(1 << 20))) {
				w = -1;
			} else {
				len = MIN(len, 1u << 20);
				w = REAL(pread64)(rfd, bounce, len, (off64_t)(pos + done));
				if (w > 0)
					w = dest_write(out, oo, bounce, (size_t)w);
			}
		}
		if (w < 0) {
			if (done == 0)
				ret = -1;
			break;
		}
		done += (uint64_t)w;
		PF_STAT_ADD(bytes_sent[k == SEG_REAL], (uint64_t)w);
		if ((uint64_t)w < len || w == 0)
			break;
	}
	free(bounce);
	if (ret == 0) {
		ret = (ssize_t)done;
		if (offp)
			*offp = (off_t)(pos + done);
		else
			REAL(lseek)(in, (off_t)(pos + done), SEEK_SET);
	}
out:
	pthread_rwlock_unlock(&f->lock);
	if (!offp)
		pthread_mutex_unlock(&f->pos_lock);
	return ret;
}

static int fd_flags(int fd, struct pf_ofd *o)
{
	return o ? o->flags : REAL(fcntl)(fd, F_GETFL);
}

/* Read or write through the shim when fd is managed, else straight to the kernel. */
static ssize_t any_read(int fd, struct pf_ofd *o, void *buf, size_t n, off_t off)
{
	if (o) {
		struct iovec v = { buf, n };
		return pf_io_read(o, fd, &v, 1, off, 0);
	}
	return off < 0 ? REAL(read)(fd, buf, n) : REAL(pread64)(fd, buf, n, off);
}

static ssize_t any_write(int fd, struct pf_ofd *o, const void *buf, size_t n, off_t off)
{
	if (o) {
		struct iovec v = { (void *)buf, n };
		return pf_io_write(o, fd, &v, 1, off, 0);
	}
	return off < 0 ? REAL(write)(fd, buf, n) : REAL(pwrite64)(fd, buf, n, off);
}

ssize_t pf_io_copy_file_range(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags)
{
	struct pf_ofd *oi = pf_fd_get(in), *oo = pf_fd_get(out);
	struct stat si, so;
	if (flags != 0) {
		errno = EINVAL;
		return -1;
	}
	if (REAL(fstat)(in, &si) < 0 || REAL(fstat)(out, &so) < 0)
		return -1;
	if (!S_ISREG(si.st_mode) || !S_ISREG(so.st_mode))
		return REAL(copy_file_range)(in, off_in, out, off_out, len, flags); /* the kernel's own answer */
	int fi = fd_flags(in, oi), fo = fd_flags(out, oo);
	if ((fi & O_ACCMODE) == O_WRONLY || (fo & O_ACCMODE) == O_RDONLY || (fo & O_APPEND)) {
		errno = EBADF;
		return -1;
	}
	if ((off_in && *off_in < 0) || (off_out && *off_out < 0)) {
		errno = EOVERFLOW; /* what this kernel answers for a negative position */
		return -1;
	}
	if (si.st_ino == so.st_ino && si.st_dev == so.st_dev) {
		/* the same file: allowed unless the ranges overlap (as the kernel decides, before clamping) */
		off_t a = off_in ? *off_in : REAL(lseek)(in, 0, SEEK_CUR);
		off_t b = off_out ? *off_out : REAL(lseek)(out, 0, SEEK_CUR);
		if (a < 0 || b < 0)
			return -1;
		if ((uint64_t)a < (uint64_t)b + len && (uint64_t)b < (uint64_t)a + len) {
			errno = EINVAL;
			return -1;
		}
	}
	size_t chunk = MIN(len, (size_t)1 << 20);
	char *buf = chunk ? malloc(chunk) : NULL;
	if (chunk && !buf) {
		errno = ENOMEM;
		return -1;
	}
	uint64_t done = 0;
	ssize_t ret = 0;
	while (done < len) {
		size_t n = MIN(chunk, len - done);
		ssize_t r = any_read(in, oi, buf, n, off_in ? *off_in + (off_t)done : -1);
		if (r <= 0) {
			if (r < 0 && done == 0)
				ret = -1;
			break;
		}
		ssize_t w = any_write(out, oo, buf, (size_t)r, off_out ? *off_out + (off_t)done : -1);
		if (w < 0) {
			if (!off_in)
				REAL(lseek)(in, -(off_t)r, SEEK_CUR);
			if (done == 0)
				ret = -1;
			break;
		}
		if (w < r && !off_in)
			REAL(lseek)(in, -(off_t)(r - w), SEEK_CUR);
		done += (uint64_t)w;
		if (w < r)
			break;
	}
	free(buf);
	if (ret < 0)
		return -1;
	if (off_in)
		*off_in += (off_t)done;
	if (off_out)
		*off_out += (off_t)done;
	return (ssize_t)done;
}

ssize_t pf_io_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags)
{
	struct pf_ofd *oi = pf_fd_get(in), *oo = pf_fd_get(out);
	if (oi && oo) {
		errno = EINVAL; /* neither end is a pipe */
		return -1;
	}
	struct stat st;
	if (REAL(fstat)(oi ? out : in, &st) < 0)
		return -1;
	if (!S_ISFIFO(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (oi ? off_out : off_in) {
		errno = ESPIPE; /* a pipe has no position */
		return -1;
	}
	if ((oi && (oi->flags & O_ACCMODE) == O_WRONLY) || (oo && (oo->flags & O_ACCMODE) == O_RDONLY)) {
		errno = EBADF;
		return -1;
	}
	if (oo && (oo->flags & O_APPEND)) {
		errno = EINVAL; /* the kernel does not splice into an O_APPEND file */
		return -1;
	}
	if ((oi ? off_in : off_out) && *(oi ? off_in : off_out) < 0) {
		errno = EINVAL;
		return -1;
	}
	char buf[65536];
	size_t n = MIN(len, sizeof buf);
	if (oi) {
		off_t at = off_in ? *off_in : -1;
		ssize_t r = any_read(in, oi, buf, n, at);
		if (r <= 0)
			return r;
		ssize_t w = REAL(write)(out, buf, (size_t)r);
		ssize_t kept = w < 0 ? 0 : w;
		if (!off_in && kept < r)
			REAL(lseek)(in, -(off_t)(r - kept), SEEK_CUR);
		if (w < 0)
			return -1;
		if (off_in)
			*off_in += w;
		return w;
	}
	(void)flags;
	ssize_t r = REAL(read)(in, buf, n);
	if (r <= 0)
		return r;
	ssize_t w = any_write(out, oo, buf, (size_t)r, off_out ? *off_out : -1);
	if (w < 0)
		return -1;
	if (off_out)
		*off_out += w;
	return w;
}

/* ---------------------------------------------------------------- size, sync */

/* SEEK_DATA / SEEK_HOLE: pool blocks are data, unowned blocks of the window are holes (the real file is a
 * hole there too), and the slow-tier part answers for itself. */
static off_t seek_data_hole(struct pf_file *f, int fd, uint64_t pos, int whence)
{
	int rfd = f->rfd >= 0 ? f->rfd : fd;
	while (pos < f->size) {
		uint64_t b = pos >> f->pool->bshift;
		uint64_t end;
		if (b < f->lo || b >= f->hi) {
			end = b < f->lo ? MIN(f->size, blk_start(f, f->lo)) : f->size;
			off_t r = REAL(lseek)(rfd, (off_t)pos, whence);
			if (r >= 0 && (uint64_t)r < end)
				return r;
			if (r < 0 && errno != ENXIO)
				return -1;
			if (whence == SEEK_HOLE && r >= 0 && end == f->size)
				return (off_t)f->size;
		} else {
			end = MIN(f->size, blk_start(f, b + 1));
			int data = b < f->maplen && f->map[b];
			if (data == (whence == SEEK_DATA))
				return (off_t)pos;
		}
		pos = end;
	}
	if (whence == SEEK_HOLE && pos == f->size)
		return (off_t)f->size; /* the implicit hole at the end of the file */
	errno = ENXIO;
	return -1;
}

off_t pf_io_lseek(struct pf_ofd *o, int fd, off_t off, int whence)
{
	struct pf_file *f = o->file;
	pthread_rwlock_rdlock(&f->lock);
	off_t r;
	if (f->rec < 0) {
		r = REAL(lseek)(fd, off, whence);
	} else if ((uint64_t)off >= f->size) {
		errno = ENXIO; /* the kernel compares the offset as unsigned: negative ones land here too */
		r = -1;
	} else {
		r = seek_data_hole(f, fd, (uint64_t)off, whence);
		if (r >= 0)
			r = REAL(lseek)(fd, r, SEEK_SET);
	}
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* Set the size to len (write lock held); do_real performs the real truncate on the file. */
static int truncate_locked(struct pf_file *f, uint64_t len, int (*do_real)(void *), void *arg)
{
	if (f->rec < 0 && f->size == 0 && len > 0)
		ensure_record(f); /* a preallocated segment (setLength) starts in the pool */
	file_changing(f);
	if (f->rec >= 0 && len > f->size)
		zero_owned(f, f->size, len); /* before the new size makes stale bytes visible */
	if (do_real(arg) < 0)
		return -1;
	PF_FAULT("file.truncate.real");
	if (f->rec >= 0 && len < f->size) {
		map_free_blocks_from(f, (len + f->pool->bsize - 1) >> f->pool->bshift);
		f->dirty = 1;
	}
	f->size = len;
	return 0;
}

struct ftrunc_arg {
	int fd;
	off_t len;
};

static int do_ftruncate(void *a)
{
	struct ftrunc_arg *t = a;
	return REAL(ftruncate64)(t->fd, t->len);
}

int pf_io_ftruncate(struct pf_ofd *o, int fd, off_t len)
{
	struct pf_file *f = o->file;
	if (len < 0 || (o->flags & O_ACCMODE) == O_RDONLY)
		return REAL(ftruncate64)(fd, len); /* the kernel's own errno */
	if (pf_not_writer && o->file->rec >= 0) {
		errno = EROFS;
		return -1;
	}
	pthread_rwlock_wrlock(&f->lock);
	struct ftrunc_arg a = { fd, len };
	int r = truncate_locked(f, (uint64_t)len, do_ftruncate, &a);
	pthread_rwlock_unlock(&f->lock);
	return r;
}

struct trunc_arg {
	const char *path;
	off_t len;
};

static int do_truncate(void *a)
{
	struct trunc_arg *t = a;
	return REAL(truncate64)(t->path, t->len);
}

int pf_path_truncate(const char *path, off_t len)
{
	uint64_t size = 0;
	struct pf_file *f = len < 0 ? NULL : file_find_path(AT_FDCWD, path, 1, NULL, &size);
	if (!f)
		return REAL(truncate64)(path, len);
	pthread_rwlock_wrlock(&f->lock);
	if (!f->size_known)
		f->size = size;
	struct trunc_arg a = { path, len };
	int r;
	if (pf_not_writer && f->rec >= 0) {
		errno = EROFS;
		r = -1;
	} else {
		r = truncate_locked(f, (uint64_t)len, do_truncate, &a);
	}
	pthread_rwlock_unlock(&f->lock);
	file_put(f);
	return r;
}

int pf_io_fallocate(struct pf_ofd *o, int fd, int mode, off_t off, off_t len)
{
	struct pf_file *f = o->file;
	pthread_rwlock_wrlock(&f->lock);
	int r;
	if (f->rec < 0) {
		file_changing(f);
		r = REAL(fallocate64)(fd, mode, off, len);
		goto out;
	}
	if (off < 0 || len <= 0) {
		errno = EINVAL;
		r = -1;
		goto out;
	}
	if ((o->flags & O_ACCMODE) == O_RDONLY) {
		errno = EBADF;
		r = -1;
		goto out;
	}
	if (pf_not_writer) {
		errno = EROFS;
		r = -1;
		goto out;
	}
	file_changing(f);
	uint64_t end = (uint64_t)off + (uint64_t)len;
	if (mode == 0 || mode == FALLOC_FL_KEEP_SIZE) {
		/* Space in the pool is never reserved ahead (a full pool spills instead of failing), so
		 * allocation only has to get the size right: extend like ftruncate. */
		r = 0;
		if (mode == 0 && end > f->size) {
			struct ftrunc_arg a = { f->rfd >= 0 ? f->rfd : fd, (off_t)end };
			r = truncate_locked(f, end, do_ftruncate, &a);
		}
	} else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) ||
		   mode == FALLOC_FL_ZERO_RANGE || mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
		zero_owned(f, (uint64_t)off, MIN(end, MAX(f->size, (mode & FALLOC_FL_KEEP_SIZE) ? f->size : end)));
		r = REAL(fallocate64)(fd, mode, off, len);
		if (r == 0 && (mode & FALLOC_FL_PUNCH_HOLE)) {
			/* Whole blocks inside the range become holes again, after the real file is punched there
			 * (a window block without a pool block must read as zeros in the real file too). */
			for (uint64_t b = ((uint64_t)off + f->pool->bsize - 1) >> f->pool->bshift;
			     blk_start(f, b + 1) <= end && b < f->maplen; b++)
				if (f->map[b]) {
					pf_pool_block_free(f->pool, f->map[b] - 1);
					f->map[b] = 0;
				}
		}
		if (r == 0 && !(mode & FALLOC_FL_KEEP_SIZE) && end > f->size)
			f->size = end;
	} else {
		/* collapse/insert range shift bytes: let the kernel do it on a plain file */
		r = materialise(f);
		if (r == 0)
			r = REAL(fallocate64)(fd, mode, off, len);
	}
out:
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int pf_io_fsync(struct pf_ofd *o, int fd, int datasync)
{
	struct pf_file *f = o->file;
	pthread_rwlock_rdlock(&f->lock);
	int r = file_sync_pool(f);
	pthread_rwlock_unlock(&f->lock);
	if (r < 0) {
		errno = EIO;
		return -1;
	}
	return datasync ? REAL(fdatasync)(fd) : REAL(fsync)(fd);
}

int pf_io_sync_range(struct pf_ofd *o, int fd, off_t off, off_t n, unsigned flags)
{
	struct pf_file *f = o->file;
	if ((flags & SYNC_FILE_RANGE_WRITE) && off >= 0 && n >= 0) {
		pthread_rwlock_rdlock(&f->lock);
		int r = file_sync_pool(f);
		pthread_rwlock_unlock(&f->lock);
		if (r < 0) {
			errno = EIO;
			return -1;
		}
	}
	return REAL(sync_file_range)(fd, off, n, flags);
}

/* ---------------------------------------------------------------- path operations */

int pf_path_unlink(enum pf_unlink_kind kind, int dirfd, const char *path, int flags)
{
	uint64_t nlink = 0;
	struct pf_file *f = (kind == PF_UNLINKAT && (flags & AT_REMOVEDIR)) ? NULL
										: file_find_path(dirfd, path, 0, &nlink, NULL);
	int r = kind == PF_UNLINK ? REAL(unlink)(path)
		: kind == PF_REMOVE ? REAL(remove)(path)
				    : REAL(unlinkat)(dirfd, path, flags);
	if (f) {
		if (r == 0 && nlink <= 1)
			file_unlinked(f);
		file_put(f);
	}
	return r;
}

/* Open our descriptor through the path when no application descriptor is open (rename, fopen). */
static int pin_real_by_path(struct pf_file *f, int dirfd, const char *path)
{
	pthread_rwlock_wrlock(&f->lock);
	int r = 0;
	if (f->rec >= 0) {
		int opened = 0;
		if (f->rfd < 0) {
			f->rfd = pf_fd_hide(REAL(openat)(dirfd, path, O_RDWR | O_CLOEXEC | O_NOFOLLOW));
			opened = f->rfd >= 0;
			if (!f->size_known && f->rfd >= 0) {
				struct stat st;
				if (REAL(fstat)(f->rfd, &st) == 0)
					f->size = (uint64_t)st.st_size;
			}
		}
		r = materialise(f);
		if (opened) {
			REAL(close)(f->rfd);
			f->rfd = -1;
		}
	}
	if (r == 0)
		f->pinned_real = 1;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

void pf_path_pin_real(const char *path)
{
	struct pf_file *f = file_find_path(AT_FDCWD, path, 1, NULL, NULL);
	if (!f)
		return;
	if (pin_real_by_path(f, AT_FDCWD, path) < 0)
		pf_log(PF_LOG_ERROR, "cannot move %s out of the pool for a stdio open: %s", path, strerror(errno));
	file_put(f);
}

static void file_set_path(struct pf_file *f, const char *abspath)
{
	pthread_rwlock_wrlock(&f->lock);
	snprintf(f->path, sizeof f->path, "%s", abspath);
	if (f->rec >= 0 && !pf_not_writer)
		pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, abspath);
	pthread_rwlock_unlock(&f->lock);
}

/* Would a rename of a regular file to newpath get past the obvious checks (parent is a directory, target
 * not a directory)? Moving pool bytes out is only worth doing for a rename that will happen. */
static int rename_target_plausible(int dirfd, const char *newpath)
{
	int e = errno;
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", newpath);
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(parent, sizeof parent, ".");
	struct statx stx;
	int ok = REAL(statx)(dirfd, parent, 0, STATX_TYPE, &stx) == 0 && S_ISDIR(stx.stx_mode) &&
		 !(REAL(statx)(dirfd, newpath, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) == 0 && S_ISDIR(stx.stx_mode));
	errno = e;
	return ok;
}

int pf_path_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags,
		   int how)
{
	uint64_t src_links = 0, dst_links = 0;
	struct pf_file *src = file_find_path(olddirfd, oldpath, 0, &src_links, NULL);
	struct pf_file *dst = file_find_path(newdirfd, newpath, 0, &dst_links, NULL);
	char oldabs[PATH_MAX], newabs[PATH_MAX];
	int have_old = pf_path_absolute(olddirfd, oldpath, oldabs, sizeof oldabs) == 0;
	int have_new = pf_path_absolute(newdirfd, newpath, newabs, sizeof newabs) == 0;
	if (src && src->rec >= 0 && (!have_new || !pf_path_managed(newabs)) &&
	    rename_target_plausible(newdirfd, newpath)) {
		/* Leaving the managed directories: under its new name nobody would look in the pool. */
		if (pin_real_by_path(src, olddirfd, oldpath) < 0) {
			int e = errno;
			file_put(src);
			if (dst)
				file_put(dst);
			errno = e;
			return -1;
		}
	}
	int r = how == 0 ? REAL(rename)(oldpath, newpath)
		: how == 1 ? REAL(renameat)(olddirfd, oldpath, newdirfd, newpath)
			   : REAL(renameat2)(olddirfd, oldpath, newdirfd, newpath, flags);
	int e = errno;
	if (r == 0) {
		if (src && have_new)
			file_set_path(src, newabs);
		if (dst && dst != src) {
			if (flags & RENAME_EXCHANGE) {
				if (have_old)
					file_set_path(dst, oldabs);
			} else if (dst_links <= 1) {
				file_unlinked(dst);
			}
		}
	}
	if (src)
		file_put(src);
	if (dst)
		file_put(dst);
	errno = e;
	return r;
}

void pf_files_dir_renamed(const char *oldabs, const char *newabs)
{
	size_t ol = strlen(oldabs);
	pthread_mutex_lock(&files_lock);
	struct pf_file *f, *tmp;
	HASH_ITER(hh, files, f, tmp)
	{
		if (strncmp(f->path, oldabs, ol) != 0 || f->path[ol] != '/')
			continue;
		char np[PATH_MAX];
		if (snprintf(np, sizeof np, "%s%s", newabs, f->path + ol) >= (int)sizeof np)
			continue;
		file_set_path(f, np);
	}
	pthread_mutex_unlock(&files_lock);
}

int pf_files_dir_leaving(const char *oldabs, const char *newabs)
{
	size_t ol = strlen(oldabs);
	int r = 0;
	pthread_mutex_lock(&files_lock);
	struct pf_file *f, *tmp;
	HASH_ITER(hh, files, f, tmp)
	{
		if (f->rec < 0 || strncmp(f->path, oldabs, ol) != 0 || f->path[ol] != '/')
			continue;
		char np[PATH_MAX];
		if (snprintf(np, sizeof np, "%s%s", newabs, f->path + ol) < (int)sizeof np && pf_path_managed(np))
			continue;
		char cur[PATH_MAX];
		snprintf(cur, sizeof cur, "%s", f->path);
		if (pin_real_by_path(f, AT_FDCWD, cur) < 0)
			r = -1;
	}
	pthread_mutex_unlock(&files_lock);
	return r;
}

/* ---------------------------------------------------------------- migration moves */

void pf_files_foreach(void (*cb)(struct pf_file *f, void *arg), void *arg)
{
	pthread_mutex_lock(&files_lock);
	struct pf_file *f, *tmp;
	HASH_ITER(hh, files, f, tmp)
	cb(f, arg);
	pthread_mutex_unlock(&files_lock);
}

void pf_file_hold(struct pf_file *f)
{
	f->refs++; /* files_lock held by pf_files_foreach */
}

void pf_file_path(struct pf_file *f, char *buf, size_t n)
{
	pthread_rwlock_rdlock(&f->lock);
	snprintf(buf, n, "%s", f->path);
	pthread_rwlock_unlock(&f->lock);
}

void pf_file_release(struct pf_file *f)
{
	pthread_mutex_lock(&files_lock);
	f->migrating = 0;
	file_maybe_evict_locked(f);
	file_unref_locked(f);
	pthread_mutex_unlock(&files_lock);
}

/* A descriptor of the file for a migration, through its last known path, checked to be the same inode. */
static int open_for_move(struct pf_file *f, int flags, uint64_t *size)
{
	char path[sizeof f->path];
	pthread_rwlock_rdlock(&f->lock);
	memcpy(path, f->path, sizeof path);
	pthread_rwlock_unlock(&f->lock);
	if (!path[0])
		return -1;
	int fd = pf_fd_hide(REAL(open)(path, flags | O_CLOEXEC | O_NOFOLLOW));
	if (fd < 0)
		return -1;
	struct statx stx;
	if (REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_SIZE, &stx) < 0 ||
	    stx.stx_ino != f->key.ino || stx.stx_btime.tv_sec != f->key.btime_sec ||
	    (uint64_t)stx.stx_btime.tv_nsec != f->key.btime_nsec) {
		REAL(close)(fd);
		return -1;
	}
	*size = stx.stx_size;
	return fd;
}

int pf_file_demote(struct pf_file *f, struct pf_move_ctx *ctx)
{
	uint64_t size;
	int fd = open_for_move(f, O_RDWR, &size);
	if (fd < 0)
		return 1;
	pthread_rwlock_rdlock(&f->lock);
	int64_t rec = f->rec;
	uint64_t gen = f->gen;
	int copy = rec >= 0 && !(f->pool->recs[rec].flags & PF_RECF_REAL_VALID);
	uint64_t maplen = f->maplen;
	pthread_rwlock_unlock(&f->lock);
	int ret = 1;
	if (rec < 0)
		goto done;
	/* Copy block by block under the read lock: readers go on, a writer waits one block at most, and any
	 * change makes the final check fail. */
	for (uint64_t i = 0; copy && i < maplen; i++) {
		pthread_rwlock_rdlock(&f->lock);
		int has = i < f->maplen && f->map[i] && blk_start(f, i) < size;
		pthread_rwlock_unlock(&f->lock);
		if (!has)
			continue;
		if (ctx->throttle)
			ctx->throttle(ctx->arg, MIN(f->pool->bsize, size - blk_start(f, i)));
		pthread_rwlock_rdlock(&f->lock);
		if (f->gen != gen || f->rec != rec) {
			pthread_rwlock_unlock(&f->lock);
			goto done;
		}
		int err = 0;
		if (i < f->maplen && f->map[i] && blk_start(f, i) < size) {
			uint64_t n = MIN(f->pool->bsize, size - blk_start(f, i));
			err = pf_pwrite_all(fd, pf_pool_block_ptr(f->pool, f->map[i] - 1), n, blk_start(f, i));
			ctx->bytes += n;
		}
		pthread_rwlock_unlock(&f->lock);
		if (err) {
			ret = -1;
			goto done;
		}
	}
	PF_FAULT("demote.copied");
	if (copy && REAL(fsync)(fd) < 0) {
		ret = -1;
		goto done;
	}
	PF_FAULT("demote.synced");
	pthread_rwlock_wrlock(&f->lock);
	if (f->gen == gen && f->rec == rec) {
		file_drop_record(f); /* commit point (DYING), then the blocks are freed */
		ret = 0;
	}
	pthread_rwlock_unlock(&f->lock);
	PF_FAULT("demote.committed");
done:
	REAL(close)(fd);
	return ret;
}

int pf_file_promote(struct pf_file *f, struct pf_pool *p, struct pf_move_ctx *ctx)
{
	uint64_t size;
	int fd = open_for_move(f, O_RDONLY, &size);
	if (fd < 0)
		return 1;
	int ret = 1;
	pthread_rwlock_wrlock(&f->lock);
	if (f->rec >= 0 || f->pinned_real || pf_not_writer || size == 0) {
		pthread_rwlock_unlock(&f->lock);
		goto done;
	}
	/* A record whose window is empty (lo = "infinity"): every block is still read from the real file,
	 * and the copies below stay invisible (and are freed by recovery) until lo drops to 0. */
	int64_t r = pf_pool_rec_alloc(p, f->key.ino, f->key.btime_sec, (uint32_t)f->key.btime_nsec, PF_HI_NONE,
				      f->path);
	if (r < 0) {
		pthread_rwlock_unlock(&f->lock);
		goto done;
	}
	f->pool = p;
	set_rec(f, r);
	f->lo = PF_HI_NONE;
	f->hi = PF_HI_NONE;
	uint64_t gen = f->gen;
	pthread_rwlock_unlock(&f->lock);
	uint64_t nb = (size + p->bsize - 1) >> p->bshift;
	int64_t ph = -1;
	for (uint64_t i = 0; i < nb; i++) {
		if (ctx->throttle)
			ctx->throttle(ctx->arg, p->bsize);
		ph = pf_pool_block_reserve(p, ph >= 0 ? ph + 1 : -1);
		if (ph < 0)
			goto abort;
		char *dst = pf_pool_block_ptr(p, (uint64_t)ph);
		uint64_t n = MIN(p->bsize, size - (i << p->bshift)), got = 0;
		while (got < n) {
			ssize_t k = REAL(pread64)(fd, dst + got, n - got, (off64_t)((i << p->bshift) + got));
			if (k <= 0) {
				if (k < 0 && errno == EINTR)
					continue;
				break;
			}
			got += (uint64_t)k;
		}
		if (got < n)
			pf_pool_zero(p, dst + got, n - got); /* the file shrank meanwhile: the gen check aborts */
		if (pf_pool_sync(p, dst, p->bsize) < 0) {
			pf_pool_block_free(p, (uint64_t)ph);
			goto abort;
		}
		ctx->bytes += n;
		pthread_rwlock_wrlock(&f->lock);
		if (f->gen != gen || map_grow(f, i) < 0) {
			pthread_rwlock_unlock(&f->lock);
			pf_pool_block_free(p, (uint64_t)ph);
			goto abort;
		}
		pf_pool_block_publish(p, (uint64_t)ph, (uint32_t)r, (uint32_t)i);
		f->map[i] = (uint32_t)ph + 1;
		pthread_rwlock_unlock(&f->lock);
	}
	PF_FAULT("promote.copied");
	if (pf_pool_sync_meta(p) < 0)
		goto abort;
	pthread_rwlock_wrlock(&f->lock);
	if (f->gen != gen || f->rec != r) {
		pthread_rwlock_unlock(&f->lock);
		goto abort;
	}
	struct pf_pool_record *pr = &p->recs[r];
	__atomic_store_n(&pr->flags, pr->flags | PF_RECF_REAL_VALID, __ATOMIC_RELEASE);
	pf_pool_commit(p, &pr->flags, sizeof pr->flags);
	PF_FAULT("promote.valid");
	__atomic_store_n(&pr->lo, 0, __ATOMIC_RELEASE); /* commit point: the pool copy is the file's */
	pf_pool_commit(p, &pr->lo, sizeof pr->lo);
	f->lo = 0;
	f->size = f->size_known ? f->size : size;
	pthread_rwlock_unlock(&f->lock);
	PF_FAULT("promote.committed");
	ret = 0;
	goto done;
abort:
	pthread_rwlock_wrlock(&f->lock);
	if (f->rec == r && f->lo == PF_HI_NONE)
		file_drop_record(f);
	pthread_rwlock_unlock(&f->lock);
done:
	REAL(close)(fd);
	return ret;
}

int pf_file_materialise(struct pf_file *f)
{
	pthread_rwlock_wrlock(&f->lock);
	int opened = 0, r = 0;
	if (f->rec >= 0 && f->rfd < 0 && f->path[0]) {
		f->rfd = pf_fd_hide(REAL(open)(f->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW));
		opened = f->rfd >= 0;
		struct statx stx;
		if (opened && (REAL(statx)(f->rfd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_SIZE, &stx) < 0 ||
			       stx.stx_ino != f->key.ino || stx.stx_btime.tv_sec != f->key.btime_sec)) {
			REAL(close)(f->rfd);
			f->rfd = -1;
			opened = 0;
		} else if (opened && !f->size_known) {
			f->size = stx.stx_size;
		}
	}
	if (f->rec >= 0)
		r = f->rfd >= 0 ? materialise(f) : (errno = ENOENT, -1);
	if (opened) {
		REAL(close)(f->rfd);
		f->rfd = -1;
	}
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* ---------------------------------------------------------------- orphans */

struct found {
	struct pf_key key;
	char path[PATH_MAX];
};

/* Every managed-looking file in the managed directories, with its identity (for records whose path hint
 * is stale). */
static struct found *scan_managed_dirs(size_t *n)
{
	size_t cap = 0;
	struct found *v = NULL;
	*n = 0;
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		DIR *top = opendir(pf_paths_dir(d));
		if (!top)
			continue;
		struct dirent *pe;
		while ((pe = readdir(top))) {
			if (pe->d_name[0] == '.')
				continue;
			char part[PATH_MAX];
			if (snprintf(part, sizeof part, "%s/%s", pf_paths_dir(d), pe->d_name) >= (int)sizeof part)
				continue;
			DIR *pd = opendir(part);
			if (!pd)
				continue;
			struct dirent *e;
			while ((e = readdir(pd))) {
				if (!pf_name_matches(e->d_name))
					continue;
				struct statx stx;
				char p[PATH_MAX];
				if (snprintf(p, sizeof p, "%s/%s", part, e->d_name) >= (int)sizeof p ||
				    REAL(statx)(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) < 0)
					continue;
				if (*n == cap) {
					cap = cap ? cap * 2 : 256;
					struct found *nv = realloc(v, cap * sizeof *v);
					if (!nv)
						break;
					v = nv;
				}
				v[*n].key = (struct pf_key){ stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
				memcpy(v[*n].path, p, sizeof p);
				(*n)++;
			}
			closedir(pd);
		}
		closedir(top);
	}
	return v;
}

/* At activation (as the pool's writer, before any file is opened): a record whose file no longer exists
 * in any managed directory belonged to a file that was unlinked while open by a process that then died
 * (or was deleted by hand): nothing can reach its bytes, so its space is taken back, and said so.
 * A record whose path hint is merely stale gets the path it is found at. */
void pf_files_reap_orphans(void)
{
	struct found *all = NULL;
	size_t nall = 0;
	int scanned = 0;
	pthread_mutex_lock(&files_lock);
	struct pf_file *f, *tmp;
	HASH_ITER(hh, files, f, tmp)
	{
		if (f->rec < 0 || f->nopen > 0)
			continue;
		struct statx stx;
		if (f->path[0] == '/' &&
		    REAL(statx)(AT_FDCWD, f->path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) == 0 &&
		    stx.stx_ino == f->key.ino && stx.stx_btime.tv_sec == f->key.btime_sec &&
		    (uint64_t)stx.stx_btime.tv_nsec == f->key.btime_nsec)
			continue;
		if (!scanned) {
			all = scan_managed_dirs(&nall);
			scanned = 1;
		}
		size_t i = 0;
		while (i < nall && memcmp(&all[i].key, &f->key, sizeof f->key) != 0)
			i++;
		if (i < nall) {
			pthread_rwlock_wrlock(&f->lock);
			snprintf(f->path, sizeof f->path, "%s", all[i].path);
			pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, all[i].path);
			pthread_rwlock_unlock(&f->lock);
			continue;
		}
		pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) is gone from every log dir: "
				    "freeing its %s pool bytes",
		       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino,
		       f->maplen ? "orphaned" : "(no)");
		f->unlinked = 1;
		file_maybe_evict_locked(f);
	}
	pthread_mutex_unlock(&files_lock);
	free(all);
}

/*
 * moves.c - moving a file's bytes between the tiers (see file.h): materialise (every pool byte into the
 * real file, under the write lock), demote (the same, copied under the read lock while readers go on, for
 * migration), promote (a slow-tier file's bytes into the pool).
 *
 * Crash safety: a move copies, persists the copy, and then commits with one 8-byte store. Demotion and
 * materialisation copy into the real file, fsync it, and commit with the record's DYING state (after which
 * the blocks are freed). Promotion copies into blocks of a record whose window is empty (lo = "infinity")
 * so they stay invisible, persists them and the tables, and commits by moving lo to 0; the slow-tier copy
 * stays valid (PF_RECF_REAL_VALID), so demoting the file again needs no copy. A recovery after a crash at
 * any point finds either the old placement or the new one.
 *
 * Head moves (the cold head of an active segment, and the pool part of a file that spilled) copy without
 * the file's lock, so appends above never wait: a lease on the block range keeps those blocks where they
 * are (lease_clear_locked), the copy is persisted, then the window's start `lo` moves up (the commit
 * point) and the blocks below it are freed (recovery frees them too, as stale). A re-admission then opens
 * a new window at the file's end: lo moves past the end of file, then hi opens; a crash between the two
 * leaves an empty window, all bytes in the real file.
 *
 * Owns: head-move leases (lease_lock). May call: placement.c, tier.h, pool.h, fault.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

static pthread_mutex_t lease_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lease_cond = PTHREAD_COND_INITIALIZER;

int lease_clear_locked(struct pf_file *f, uint64_t lo, uint64_t hi)
{
	if (!f->lease_active || hi <= f->lease_lo || lo >= f->lease_hi)
		return 0;
	__atomic_store_n(&f->lease_cancel, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&f->lock);
	pthread_mutex_lock(&lease_lock);
	while (__atomic_load_n(&f->lease_active, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&lease_cond, &lease_lock);
	pthread_mutex_unlock(&lease_lock);
	pthread_rwlock_wrlock(&f->lock);
	return 1;
}

/* The mover lets go of its lease (f->lock held for writing). */
static void lease_end_locked(struct pf_file *f)
{
	pthread_mutex_lock(&lease_lock);
	__atomic_store_n(&f->lease_active, 0, __ATOMIC_RELEASE);
	f->lease_cancel = 0;
	f->lease_lo = f->lease_hi = 0;
	pthread_cond_broadcast(&lease_cond);
	pthread_mutex_unlock(&lease_lock);
}

static int open_checked(struct pf_file *f, int dirfd, const char *path, int flags, uint64_t *size);
static int materialise_through(struct pf_file *f, int wfd);

/* Close a descriptor opened for a move, keeping errno, and take the spare back if the open used it. */
static void close_own(int fd)
{
	int e = errno;
	REAL(close)(fd);
	pf_spare_reserve();
	errno = e;
}

/* materialise() through a descriptor opened through dirfd/path for the move (its identity checked), unless
 * there is nothing to move or f has a descriptor of its own. */
static int materialise_via(struct pf_file *f, int dirfd, const char *path)
{
	if (f->rec < 0)
		return 0;
	int own = __atomic_load_n(&f->rfd, __ATOMIC_ACQUIRE);
	if (own >= 0 || f->broken || !pf_tier_is_writer())
		return materialise_through(f, own);
	uint64_t size;
	int fd = open_checked(f, dirfd, path, O_RDWR, &size);
	if (fd < 0)
		return -1;
	if (!f->size_known)
		f->size = size;
	int r = materialise_through(f, fd);
	close_own(fd);
	return r;
}

int materialise(struct pf_file *f, int wfd)
{
	if (wfd >= 0 || f->rec < 0)
		return materialise_through(f, wfd);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", f->path);
	if (materialise_via(f, AT_FDCWD, path) == 0)
		return 0;
	if (errno == ENOENT || errno == ELOOP)
		errno = EACCES; /* its last known path names another file now: no descriptor to move it through */
	return -1;
}

/* materialise() through the writable descriptor wfd. */
static int materialise_through(struct pf_file *f, int wfd)
{
	if (f->rec < 0)
		return 0;
	if (f->broken) {
		file_eio();
		return -1;
	}
	while (lease_clear_locked(f, 0, UINT64_MAX))
		if (f->rec < 0)
			return 0;
	if (!pf_tier_is_writer()) {
		/* Only the pools' writer moves bytes: a copy made by a read-only attacher or a fork child
		 * would go stale behind the writer's back. */
		errno = EROFS;
		return -1;
	}
	if (wfd < 0) {
		errno = EACCES;
		return -1;
	}
	/* Blocks an application mapping shows are copied word by word first: the copy is what goes to the
	 * real file, and what the swap compares against (maps.c). */
	struct maps_snap *snap = NULL;
	int nsnap = __atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE) ? maps_snapshot_file(f, &snap) : 0;
	if (nsnap < 0)
		return -1;
	int r = 0;
	for (uint64_t i = 0; i < f->maplen && r == 0; i++) {
		if (!f->map[i] || blk_start(f, i) >= f->size)
			continue;
		uint64_t n = pf_min64(f->pool->bsize, f->size - blk_start(f, i));
		const void *src = nsnap ? maps_snap_block(snap, nsnap, i, f->map[i] - 1) : NULL;
		if (!src)
			src = pf_pool_block_ptr(f->pool, f->map[i] - 1);
		r = pf_pwrite_all(wfd, src, n, blk_start(f, i));
	}
	if (r == 0)
		PF_FAULT("file.materialise.copied");
	if (r == 0 && (r = REAL(fsync)(wfd)) == 0)
		PF_FAULT("file.materialise.synced");
	if (r == 0 && nsnap) {
		/* The mappings show the real file from here on, so the record goes at once (commit point),
		 * then the stores carried over are made durable before this file's lock is let go: an msync
		 * of the mapping waits for it, so none returned meanwhile. */
		maps_swap_file(f, wfd, f->size, snap, nsnap);
		f->pinned_real = 1; /* the mappings are the kernel's now: the file stays on the slow tier */
		PF_FAULT("file.materialise.swapped");
		file_drop_record(f);
		r = REAL(fsync)(wfd);
		maps_snap_free(snap, nsnap);
		return r;
	}
	maps_snap_free(snap, nsnap > 0 ? nsnap : 0);
	if (r < 0)
		return -1;
	file_drop_record(f); /* commit point: DYING, after the real copy is durable */
	return 0;
}

/* Open a descriptor of f for a move, through dirfd/path, checked to be the same inode (it may have been
 * replaced under that name). Returns it (hidden high), or -1. size gets the real size. */
static int open_checked(struct pf_file *f, int dirfd, const char *path, int flags, uint64_t *size)
{
	if (!path[0])
		return -1;
	int fd = pf_fd_hide(pf_openat_spare(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW));
	if (fd < 0)
		return -1;
	struct statx stx;
	if (REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_SIZE, &stx) < 0 ||
	    !key_matches(&stx, &f->key)) {
		close_own(fd);
		errno = ENOENT;
		return -1;
	}
	*size = stx.stx_size;
	return fd;
}

/* Materialise under the write lock, with a descriptor opened for the purpose when this process has none
 * open. Write lock held. */
int pin_real_by_path(struct pf_file *f, int dirfd, const char *path)
{
	pthread_rwlock_wrlock(&f->lock);
	int r = materialise_via(f, dirfd, path);
	if (r == 0)
		f->pinned_real = 1;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int pf_file_materialise(struct pf_file *f)
{
	pthread_rwlock_wrlock(&f->lock);
	int r = materialise_via(f, AT_FDCWD, f->path);
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* A descriptor of f for a migration, through its last known path. */
static int open_for_move(struct pf_file *f, int flags, uint64_t *size)
{
	char path[PATH_MAX];
	pthread_rwlock_rdlock(&f->lock);
	snprintf(path, sizeof path, "%s", f->path);
	pthread_rwlock_unlock(&f->lock);
	return open_checked(f, AT_FDCWD, path, flags, size);
}

/* The file's size now, for a move that notes gen under the same hold of f->lock (either mode): the size
 * open_for_move read before the lock may be older than that gen, and a move that copied up to it would
 * commit without the bytes a write added in between (a demotion dropped them, a promotion opened its window
 * over blocks it never copied: both then served zeros). Returns 0, or -1 when fd cannot say (give up). */
static int size_now(struct pf_file *f, int fd, uint64_t *size)
{
	if (f->size_known) {
		*size = f->size;
		return 0;
	}
	struct stat st;
	if (REAL(fstat)(fd, &st) < 0)
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* ---------------------------------------------------------------- demote */

/* Copy file block i (if the pool holds it and it is below size) to fd, under the read lock, unless the
 * file changed since gen. Returns 0, 1 (changed: give up) or -1 (I/O error). */
static int demote_block(struct pf_file *f, int fd, uint64_t i, uint64_t size, int64_t rec, uint64_t gen,
			struct pf_move_ctx *ctx)
{
	pthread_rwlock_rdlock(&f->lock);
	int has = i < f->maplen && f->map[i] && blk_start(f, i) < size;
	pthread_rwlock_unlock(&f->lock);
	if (!has)
		return 0;
	if (ctx->throttle)
		ctx->throttle(pf_min64(f->pool->bsize, size - blk_start(f, i)));
	int r = 0;
	pthread_rwlock_rdlock(&f->lock);
	if (f->gen != gen || f->rec != rec) {
		r = 1;
	} else if (i < f->maplen && f->map[i] && blk_start(f, i) < size) {
		uint64_t n = pf_min64(f->pool->bsize, size - blk_start(f, i));
		r = pf_pwrite_all(fd, pf_pool_block_ptr(f->pool, f->map[i] - 1), n, blk_start(f, i));
		ctx->bytes += n;
	}
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int pf_file_demote(struct pf_file *f, struct pf_move_ctx *ctx)
{
	if (__atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE))
		return pf_file_materialise(f); /* under the write lock: its mappings move with it (maps.c) */
	uint64_t size;
	int fd = open_for_move(f, O_RDWR, &size);
	if (fd < 0)
		return 1;
	pthread_rwlock_rdlock(&f->lock);
	int64_t rec = f->rec;
	uint64_t gen = f->gen;
	int copy = rec >= 0 && !(pf_pool_rec_flags(f->pool, (uint32_t)rec) & PF_RECF_REAL_VALID);
	uint64_t maplen = f->maplen;
	if (size_now(f, fd, &size) < 0)
		rec = -1;
	pthread_rwlock_unlock(&f->lock);
	int ret = 1;
	if (rec < 0)
		goto done;
	/* Copy block by block under the read lock: readers go on, a writer waits one block at most, and any
	 * change makes the final check fail. */
	for (uint64_t i = 0; copy && i < maplen; i++) {
		int r = demote_block(f, fd, i, size, rec, gen, ctx);
		if (r != 0) {
			ret = r;
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
	if (f->gen == gen && f->rec == rec && !__atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE)) {
		file_drop_record(f); /* commit point (DYING), then the blocks are freed */
		ret = 0;
	}
	pthread_rwlock_unlock(&f->lock);
	PF_FAULT("demote.committed");
done:
	close_own(fd);
	return ret;
}

/* ---------------------------------------------------------------- promote */

/* A record with an empty window for f (lo = "infinity"): every block is still read from the real file,
 * and the copies stay invisible (and are freed by recovery) until lo drops to 0. Returns the record, or -1
 * when f may not be promoted or the pool has no record; *size and *gen get the file's size and gen as of the
 * same moment. */
static int64_t promote_begin(struct pf_file *f, struct pf_pool *p, int fd, uint64_t *size, uint64_t *gen)
{
	pthread_rwlock_wrlock(&f->lock);
	int64_t r = -1;
	if (f->rec < 0 && !f->pinned_real && pf_tier_is_writer() && size_now(f, fd, size) == 0 && *size > 0 &&
	    (*size + p->bsize - 1) / p->bsize <= PF_MAX_FILE_BLOCKS) {
		struct pf_rec_handle h;
		file_handle_of(fd, &h);
		r = pf_pool_rec_alloc_handle(p, f->key.ino, f->key.btime_sec, (uint32_t)f->key.btime_nsec, PF_HI_NONE,
					     f->path, &h);
	}
	if (r >= 0) {
		f->pool = p;
		set_rec(f, r);
		f->lo = PF_HI_NONE;
		f->hi = PF_HI_NONE;
		*gen = f->gen;
	}
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* Copy file block i from fd into a new pool block (after prev, for contiguity), persist it and publish it
 * as block i of record r, unless the file changed since gen. Returns the physical block, or -1. */
static int64_t promote_block(struct pf_file *f, struct pf_pool *p, int fd, int64_t r, uint64_t i, uint64_t size,
			     uint64_t gen, int64_t prev, struct pf_move_ctx *ctx)
{
	if (ctx->throttle)
		ctx->throttle(p->bsize);
	int64_t ph = pf_pool_block_reserve(p, prev >= 0 ? prev + 1 : -1);
	if (ph < 0)
		return -1;
	char *dst = pf_pool_block_ptr(p, (uint64_t)ph);
	uint64_t n = pf_min64(p->bsize, size - (i << p->bshift)), got = 0;
	while (got < n) {
		ssize_t k = REAL(pread64)(fd, dst + got, n - got, (off64_t)((i << p->bshift) + got));
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			break;
		}
		got += (uint64_t)k;
	}
	/* A read that failed, or ended early (the file shrank behind the shim), leaves the copy incomplete:
	 * nothing of it may be published (the block would serve zeros once the window opens). */
	if (got < n || pf_pool_sync(p, dst, p->bsize) < 0) {
		pf_pool_block_free(p, (uint64_t)ph);
		return -1;
	}
	ctx->bytes += n;
	pthread_rwlock_wrlock(&f->lock);
	if (f->gen != gen || map_grow(f, i) < 0) {
		pthread_rwlock_unlock(&f->lock);
		pf_pool_block_free(p, (uint64_t)ph);
		return -1;
	}
	pf_pool_block_publish(p, (uint64_t)ph, (uint32_t)r, (uint32_t)i);
	f->map[i] = (uint32_t)ph + 1;
	pthread_rwlock_unlock(&f->lock);
	return ph;
}

/* Make the copies the file's: the slow-tier copy stays valid, then the window opens (commit point).
 * Returns 0, or 1 if the file changed since gen. */
static int promote_commit(struct pf_file *f, struct pf_pool *p, int64_t r, uint64_t size, uint64_t gen)
{
	pthread_rwlock_wrlock(&f->lock);
	if (f->gen != gen || f->rec != r) {
		pthread_rwlock_unlock(&f->lock);
		return 1;
	}
	pf_pool_rec_set_flags(p, (uint32_t)r, pf_pool_rec_flags(p, (uint32_t)r) | PF_RECF_REAL_VALID);
	PF_FAULT("promote.valid");
	f->size = f->size_known ? f->size : size;
	size_commit(f, f->size); /* ignored by recovery until lo commits */
	pf_pool_rec_set_lo(p, (uint32_t)r, 0); /* commit point: the pool copy is the file's */
	pf_pool_rec_sync(p, (uint32_t)r);
	f->lo = 0;
	pthread_rwlock_unlock(&f->lock);
	PF_FAULT("promote.committed");
	return 0;
}

int pf_file_promote(struct pf_file *f, struct pf_pool *p, struct pf_move_ctx *ctx)
{
	uint64_t size, gen = 0;
	int fd = open_for_move(f, O_RDONLY, &size);
	if (fd < 0)
		return 1;
	int ret = 1;
	int64_t r = promote_begin(f, p, fd, &size, &gen);
	if (r < 0)
		goto done;
	uint64_t nb = (size + p->bsize - 1) >> p->bshift;
	int64_t ph = -1;
	for (uint64_t i = 0; i < nb; i++)
		if ((ph = promote_block(f, p, fd, r, i, size, gen, ph, ctx)) < 0)
			goto abort;
	PF_FAULT("promote.copied");
	if (pf_pool_sync_meta(p) < 0 || promote_commit(f, p, r, size, gen) != 0)
		goto abort;
	ret = 0;
	goto done;
abort:
	pthread_rwlock_wrlock(&f->lock);
	if (f->rec == r && f->lo == PF_HI_NONE)
		file_drop_record(f);
	pthread_rwlock_unlock(&f->lock);
done:
	close_own(fd);
	return ret;
}

/* ---------------------------------------------------------------- head moves */

/* Copy file blocks [lo, end) that the pool holds to fd, without the file's lock (the lease keeps them),
 * then persist the copy. Returns 0, 1 if the lease was cancelled, -1 on an I/O error. */
static int copy_leased(struct pf_file *f, int fd, uint64_t lo, uint64_t end, uint64_t size, struct pf_move_ctx *ctx)
{
	uint64_t bs = f->pool->bsize;
	for (uint64_t i = lo; i < end; i++) {
		if (__atomic_load_n(&f->lease_cancel, __ATOMIC_ACQUIRE))
			return 1;
		pthread_rwlock_rdlock(&f->lock); /* the map array itself may be grown by an append */
		uint32_t ph = i < f->maplen ? f->map[i] : 0;
		pthread_rwlock_unlock(&f->lock);
		uint64_t start = i * bs;
		if (!ph || start >= size)
			continue; /* a hole: the real file is a hole there too */
		uint64_t n = pf_min64(bs, size - start);
		if (ctx->throttle)
			ctx->throttle(n);
		if (pf_pwrite_all(fd, pf_pool_block_ptr(f->pool, ph - 1), n, start) < 0)
			return -1;
		ctx->bytes += n;
	}
	PF_FAULT("head.copied");
	if (REAL(fdatasync)(fd) < 0)
		return -1;
	PF_FAULT("head.synced");
	return 0;
}

/* Move the pool blocks of window [lo, lo + count) (clamped to the written part of the file and to the
 * window) to the real file, and raise lo past them. Returns 0, 1 (gave up: the file changed in that range,
 * or moved; nothing lost) or -1 (I/O error). *moved_lo gets the new start of the window. */
static int move_head(struct pf_file *f, uint64_t count, int whole_window, struct pf_move_ctx *ctx, uint64_t *new_lo)
{
	uint64_t size;
	int fd = open_for_move(f, O_RDWR, &size);
	if (fd < 0)
		return 1;
	int ret = 1;
	pthread_rwlock_wrlock(&f->lock);
	int64_t rec = f->rec;
	uint64_t lo = f->lo, bs = rec >= 0 ? f->pool->bsize : 1;
	uint64_t end = 0;
	if (rec >= 0 && lo != PF_HI_NONE && !f->lease_active && pf_tier_is_writer() && size_now(f, fd, &size) == 0) {
		uint64_t limit = whole_window ? (size + bs - 1) / bs : size / bs; /* a head move takes full blocks only */
		end = pf_min64(lo + count, limit);
		if (f->hi != PF_HI_NONE)
			end = pf_min64(end, f->hi);
	}
	if (end <= lo) {
		pthread_rwlock_unlock(&f->lock);
		goto done;
	}
	f->lease_lo = lo * bs; /* in bytes, as the writers that clear it see the file */
	f->lease_hi = end * bs;
	f->lease_cancel = 0;
	__atomic_store_n(&f->lease_active, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&f->lock);

	int r = copy_leased(f, fd, lo, end, size, ctx);

	pthread_rwlock_wrlock(&f->lock);
	if (r == 0 && !f->lease_cancel && f->rec == rec && f->lo == lo && !__atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE)) {
		pf_pool_rec_set_lo(f->pool, (uint32_t)rec, end); /* commit point: [lo, end) is the real file's */
		pf_pool_rec_sync(f->pool, (uint32_t)rec); /* durable before its blocks can be reused (msync path) */
		PF_FAULT("head.committed");
		f->lo = end;
		for (uint64_t i = lo; i < end && i < f->maplen; i++)
			if (f->map[i]) {
				pf_pool_block_free(f->pool, f->map[i] - 1);
				f->map[i] = 0;
			}
		ret = 0;
	} else if (r < 0) {
		ret = -1;
	}
	*new_lo = f->lo;
	lease_end_locked(f);
	pthread_rwlock_unlock(&f->lock);
done:
	close_own(fd);
	return ret;
}

int pf_file_demote_head(struct pf_file *f, uint64_t count, struct pf_move_ctx *ctx)
{
	uint64_t lo;
	return move_head(f, count, 0, ctx, &lo);
}

int pf_file_readmit(struct pf_file *f, struct pf_move_ctx *ctx)
{
	uint64_t lo = 0;
	pthread_rwlock_rdlock(&f->lock);
	int spilled = f->rec >= 0 && f->hi != PF_HI_NONE;
	uint64_t window = spilled && f->lo < f->hi ? f->hi - f->lo : 0;
	pthread_rwlock_unlock(&f->lock);
	if (!spilled)
		return 1;
	if (window > 0) {
		int r = move_head(f, window, 1, ctx, &lo);
		if (r != 0)
			return r;
	}
	/* The window is empty now: open a new one at the end of the file. */
	int ret = 1;
	pthread_rwlock_wrlock(&f->lock);
	if (f->rec >= 0 && f->hi != PF_HI_NONE && f->lo >= f->hi && !f->lease_active && pf_tier_is_writer()) {
		uint64_t tail = (f->size + f->pool->bsize - 1) >> f->pool->bshift;
		if (tail < f->hi)
			tail = f->hi;
		pf_pool_rec_set_lo(f->pool, (uint32_t)f->rec, tail); /* empty window [tail, hi): all real */
		PF_FAULT("readmit.moved");
		pf_pool_rec_set_hi(f->pool, (uint32_t)f->rec, PF_HI_NONE); /* commit point: appends from tail on */
		pf_pool_rec_sync(f->pool, (uint32_t)f->rec);
		PF_FAULT("readmit.opened");
		f->lo = tail;
		f->hi = PF_HI_NONE;
		ret = 0;
	}
	pthread_rwlock_unlock(&f->lock);
	return ret;
}

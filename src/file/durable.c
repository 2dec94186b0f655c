/*
 * durable.c - what makes a managed file's bytes and size durable, and what its fsync must do.
 *
 * THE CONTRACT (README "Durability"):
 *  - A pool-resident file's logical size is durable in its pool record (size_w), one 8-byte word stored
 *    after the data it covers: before a write that grows the file returns, and before a truncate or an
 *    O_TRUNC open changes the real file. The real file is still extended or cut at once, so every stat
 *    is right; its own size on disk may lag, and recovery (durable_restore, at activation) sets it to the
 *    record's durable size: a power loss can leave it shorter, an interrupted shrink or fallocate longer.
 *  - On persistent memory (pmem_is_pmem) every pool store is persisted as it is made (non-temporal copy,
 *    one drain before the block-table entry and the size publish it): a write() that returned is durable,
 *    data and size, without fsync.
 *  - Elsewhere (msync path: an NVMe/SSD file, or tmpfs) an fsync persists what changed since the last one:
 *    the dirty pool bytes, the block-table entries published since and the record, O(bytes dirtied) plus
 *    O(1) metadata, never the whole file or the whole metadata region.
 *  - On a pool that is not persistent memory the record also keeps the size at the last fsync, stored after
 *    the bytes it covers were persisted (synced_w): after a reboot (the kernel's boot id differs from the
 *    pool's last writer's) the page cache may have written the record back before the data it covers, so
 *    recovery then trusts only that size, as the kernel keeps only what fsync made durable.
 *  - The real file gets its own fsync only when something only it holds changed: bytes written to it (a
 *    spill, the head below the window), a shrink, or its creation (the first fsync after the file is
 *    learned makes its directory entry and inode durable). An fsync of a file whose dirty bytes are all in
 *    the pool never waits for the slow tier.
 *
 *  - Stores through an application's mapping of pool blocks (mapped.c) are made durable by the kernel's
 *    msync of that mapping (on DAX it flushes the dirty cache lines, elsewhere it writes the pages back);
 *    an fsync of a mapped file runs it for each of the file's mappings, then persists the record.
 *
 * Owns: the durability state of each file (struct pf_file's sync fields). May call: maps.c, placement.c (the map),
 * pool.h, tier.h, fault.h, log.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

/* One sync of a file at a time: one lock of SYNC_LOCKS, chosen by the file's identity, serves every file
 * whose identity falls on it (a mutex in each file cost 40 bytes a file; two files' syncs wait for each
 * other only when they fall on the same lock). Never nested: a thread holds at most one. */
#define SYNC_LOCKS 256
static pthread_mutex_t sync_locks[SYNC_LOCKS] = { [0 ... SYNC_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER };

static pthread_mutex_t *sync_lock_of(const struct pf_file *f)
{
	uint64_t h = (f->key.ino ^ f->key.btime_nsec) * 0x9E3779B97F4A7C15ULL;
	return &sync_locks[h >> 56];
}

void durable_sync_begin(struct pf_file *f)
{
	pthread_mutex_lock(sync_lock_of(f));
}

void durable_sync_end(struct pf_file *f)
{
	pthread_mutex_unlock(sync_lock_of(f));
}

void durable_atfork_child(void)
{
	for (int i = 0; i < SYNC_LOCKS; i++)
		pthread_mutex_init(&sync_locks[i], NULL);
}

void durable_init(struct pf_file *f)
{
	f->dirty_lo = UINT64_MAX;
	f->ent_lo = UINT32_MAX;
	f->dirty_hi = 0;
	f->ent_hi = 0;
	f->size_w = f->synced_sz = PF_SIZE_NONE;
	f->real_gen = 1; /* the first fsync makes the real file itself durable */
	f->real_synced = 0;
}

void dirty_bytes(struct pf_file *f, uint64_t off, uint64_t n)
{
	if (!n || f->pool->is_pmem)
		return; /* persisted as they were copied */
	if (off < f->dirty_lo)
		f->dirty_lo = off;
	if (off + n > f->dirty_hi)
		f->dirty_hi = off + n;
}

void dirty_entry(struct pf_file *f, uint64_t b)
{
	if (f->pool->is_pmem)
		return;
	/* (b < PF_MAX_FILE_BLOCKS: an entry names it) */
	if (b < f->ent_lo)
		f->ent_lo = (uint32_t)b;
	if (b + 1 > f->ent_hi)
		f->ent_hi = (uint32_t)(b + 1);
}

void real_changed(struct pf_file *f)
{
	__atomic_add_fetch(&f->real_gen, 1, __ATOMIC_ACQ_REL);
}

void size_commit(struct pf_file *f, uint64_t size)
{
	if (f->rec < 0 || f->broken || !pf_tier_is_writer() || size == f->size_w)
		return;
	pf_pool_rec_set_size(f->pool, (uint32_t)f->rec, size); /* commit point: the file is this long */
	f->size_w = size;
	f->rec_dirty = 1;
	if (f->synced_sz != PF_SIZE_NONE && size < f->synced_sz) {
		/* a shrink frees pool blocks for reuse: the fsynced size must not reach past it, before any can be */
		pf_pool_rec_set_synced(f->pool, (uint32_t)f->rec, size);
		f->synced_sz = size;
		pf_pool_rec_sync(f->pool, (uint32_t)f->rec);
	}
	PF_FAULT("file.size.committed");
}

void size_forget(struct pf_file *f)
{
	f->size_w = f->synced_sz = PF_SIZE_NONE;
	f->dirty_lo = UINT64_MAX;
	f->ent_lo = UINT32_MAX;
	f->dirty_hi = 0;
	f->ent_hi = 0;
	f->rec_dirty = 0;
}

/* Persist the runs of pool memory that file blocks [b0, b1) occupy, within file bytes [lo, hi), or, with
 * entries set, their block-table entries. Physically consecutive blocks make one call. */
static int persist_runs(struct pf_file *f, uint64_t b0, uint64_t b1, uint64_t lo, uint64_t hi, int entries)
{
	struct pf_pool *p = f->pool;
	if (b1 > f->maplen)
		b1 = f->maplen;
	for (uint64_t b = b0; b < b1;) {
		if (!f->map[b]) {
			b++;
			continue;
		}
		uint64_t e = b + 1;
		while (e < b1 && f->map[e] && f->map[e] == f->map[e - 1] + 1)
			e++;
		uint64_t phys = f->map[b] - 1;
		int r;
		if (entries) {
			r = pf_pool_entries_sync(p, phys, e - b);
		} else {
			uint64_t s = pf_max64(lo, blk_start(f, b)), t = pf_min64(hi, blk_start(f, e));
			r = s < t ? pf_pool_sync(p, pf_pool_block_ptr(p, phys) + (s - blk_start(f, b)), t - s) : 0;
		}
		if (r < 0)
			return -1;
		b = e;
	}
	return 0;
}

/* Persist what changed in the pool since the last sync and forget it. f->lock held: the write lock, or the
 * read lock with the sync lock. */
static int persist_dirty(struct pf_file *f)
{
	uint64_t lo = f->dirty_lo, hi = f->dirty_hi, elo = f->ent_lo, ehi = f->ent_hi;
	int rec = f->rec_dirty;
	f->dirty_lo = UINT64_MAX;
	f->ent_lo = UINT32_MAX;
	f->dirty_hi = 0;
	f->ent_hi = 0;
	f->rec_dirty = 0;
	if (f->rec < 0)
		return 0;
	struct pf_pool *p = f->pool;
	if (p->is_pmem) {
		pf_pool_drain(p); /* everything was persisted as it was stored; order it before we return */
		return 0;
	}
	int r = 0;
	if (lo < hi)
		r |= persist_runs(f, lo >> p->bshift, ((hi - 1) >> p->bshift) + 1, lo, hi, 0);
	if (elo < ehi)
		r |= persist_runs(f, elo, ehi, 0, 0, 1);
	if (r == 0 && f->size_w != PF_SIZE_NONE && f->size_w != f->synced_sz && !f->broken && pf_tier_is_writer()) {
		/* every byte up to size_w is persisted now: so is the size, for recovery after a reboot */
		pf_pool_rec_set_synced(p, (uint32_t)f->rec, f->size_w);
		f->synced_sz = f->size_w;
		rec = 1;
	}
	if (rec)
		r |= pf_pool_rec_sync(p, (uint32_t)f->rec);
	if (r < 0) {
		/* put it back, so that a later fsync tries again */
		dirty_bytes(f, lo, hi > lo ? hi - lo : 0);
		if (elo < ehi) {
			dirty_entry(f, elo);
			dirty_entry(f, ehi - 1);
		}
		f->rec_dirty |= rec;
		return -1;
	}
	return 0;
}

int durable_sync_locked(struct pf_file *f)
{
	if (f->broken) {
		file_eio();
		return -1;
	}
	if (persist_dirty(f) < 0) {
		if (errno != ENOSPC && errno != EDQUOT)
			file_eio(); /* what fsync says when writeback fails (the pool's msync can say more) */
		return -1;
	}
	return 0;
}

/* Record that the real fsync that started when the count was g succeeded (atomic max: a concurrent sync
 * under the write lock may have covered more). */
static void real_synced_to(struct pf_file *f, uint64_t g)
{
	uint64_t cur = __atomic_load_n(&f->real_synced, __ATOMIC_ACQUIRE);
	while (cur < g && !__atomic_compare_exchange_n(&f->real_synced, &cur, g, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
}

int durable_real_sync(struct pf_file *f, int fd, int datasync)
{
	uint64_t g = __atomic_load_n(&f->real_gen, __ATOMIC_ACQUIRE);
	if (__atomic_load_n(&f->rec, __ATOMIC_ACQUIRE) >= 0 && g == __atomic_load_n(&f->real_synced, __ATOMIC_ACQUIRE))
		return 0; /* every change since the last real fsync is in the pool, with the size */
	int r = datasync ? REAL(fdatasync)(fd) : REAL(fsync)(fd);
	if (r == 0)
		real_synced_to(f, g);
	return r;
}

int durable_sync_pool(struct pf_file *f)
{
	if (maps_sync_file(f) < 0) /* stores through the application's mappings, which the shim never sees */
		return -1;
	pthread_rwlock_rdlock(&f->lock);
	int r = durable_sync_locked(f);
	pthread_rwlock_unlock(&f->lock);
	return r;
}

int durable_fsync(struct pf_file *f, int fd, int datasync)
{
	durable_sync_begin(f);
	int r = durable_sync_pool(f);
	PF_FAULT("file.sync.pool");
	if (r == 0)
		r = durable_real_sync(f, fd, datasync);
	durable_sync_end(f);
	return r;
}

/* ---------------------------------------------------------------- recovery */

/* The size recovery gives a file whose record says v->size and whose real file holds disk bytes. Growth
 * past the real file's end is only right where the pool holds the bytes (inside the window): bytes that
 * belonged to the real file (below the window, or past its end after a spill) and are not there never
 * became durable (the real fsync that covers them also makes its size durable), so the file ends where
 * they start, as the kernel's own file would after a power loss. */
/* The byte offset where block b starts (UINT64_MAX for PF_HI_NONE or past 64 bits). */
static uint64_t win_byte(const struct pf_file *f, uint64_t b)
{
	uint64_t bs = f->pool->bsize;
	return b == PF_HI_NONE || b > UINT64_MAX / bs ? UINT64_MAX : b * bs;
}

static uint64_t restore_target(const struct pf_file *f, const struct pf_rec_view *v, uint64_t size, uint64_t disk)
{
	if (disk >= size)
		return size; /* a shrink or growth that never returned: the record is right */
	uint64_t wlo = win_byte(f, v->lo), whi = win_byte(f, v->hi);
	if (disk < wlo)
		return disk; /* the gap starts in the real file's part */
	return size > whi ? pf_max64(disk, whi) : size;
}

void durable_restore(struct pf_file *f, const char *path)
{
	if (f->rec < 0 || f->broken || !pf_tier_is_writer())
		return;
	struct pf_rec_view v;
	if (pf_pool_rec_get(f->pool, (uint32_t)f->rec, &v) != 0 || v.size == PF_SIZE_NONE)
		return; /* a record from before durable sizes: the real file's size is the truth */
	f->size_w = v.size;
	f->synced_sz = v.synced;
	int e = errno;
	int fd = REAL(open)(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct statx stx;
	if (fd < 0 || REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_SIZE, &stx) < 0 ||
	    !key_matches(&stx, &f->key)) {
		if (fd >= 0)
			REAL(close)(fd);
		errno = e;
		return; /* not ours after all (the scan raced a rename): opening it will trim by the real size */
	}
	uint64_t durable = v.size;
	if (f->pool->rebooted && !f->pool->is_pmem) {
		/* the machine restarted: of a pool in page cache only what an fsync persisted counts, and what the
		 * disk holds below the window (the real file's own part, which its own fsync covered) */
		uint64_t synced = v.synced == PF_SIZE_NONE ? 0 : v.synced;
		durable = pf_min64(pf_max64(synced, pf_min64(stx.stx_size, win_byte(f, v.lo))), v.size);
		if (durable != v.size) {
			pf_log(PF_LOG_WARN,
			       "%s: the machine restarted since the pool was last written and the pool is not persistent "
			       "memory: only what fsync made durable counts, %llu of its %llu bytes%s",
			       path, (unsigned long long)durable, (unsigned long long)v.size,
			       v.synced == PF_SIZE_NONE ? " (it was never fsynced)" : "");
			size_commit(f, durable);
		}
	}
	uint64_t target = restore_target(f, &v, durable, stx.stx_size);
	if (target != durable) {
		pf_log(PF_LOG_WARN,
		       "%s: its durable size in the pool is %llu, but bytes from %llu on were the disk's and it holds "
		       "%llu: they never became durable there (no fsync reached them), so the file keeps %llu bytes, as "
		       "without the shim",
		       path, (unsigned long long)durable, (unsigned long long)target, (unsigned long long)stx.stx_size,
		       (unsigned long long)target);
		size_commit(f, target);
	}
	if (stx.stx_size != target) {
		if (REAL(ftruncate64)(fd, (off64_t)target) == 0)
			pf_log(stx.stx_size < target ? PF_LOG_INFO : PF_LOG_WARN,
			       "%s: its size on disk was %llu, its durable size in the pool %llu: %s (%s)", path,
			       (unsigned long long)stx.stx_size, (unsigned long long)target,
			       stx.stx_size < target ? "extended to it" : "cut to it",
			       stx.stx_size < target
				       ? "the file on disk had not caught up with the pool when the process or the machine stopped"
				       : "a change that never returned");
		else
			pf_log(PF_LOG_ERROR, "%s: its size on disk is %llu but its durable size in the pool is %llu, and it "
					     "cannot be changed: %s; the next open trims to the disk's size",
			       path, (unsigned long long)stx.stx_size, (unsigned long long)target, strerror(errno));
	}
	REAL(close)(fd);
	errno = e;
}

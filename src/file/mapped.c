/*
 * mapped.c - mmap, munmap, msync and mremap where managed files are concerned (see file.h).
 *
 * Kafka reads and writes its .index and .timeindex files only through a MAP_SHARED mapping (libc never
 * sees those stores) and makes them durable with msync. So that this costs fast-tier time, the pools'
 * writer serves such a mapping from the file's pool blocks:
 *  - when the mapped range lies within the file and starts inside the pool window, the range is reserved
 *    (PROT_NONE) and each run of physically consecutive pool blocks is mapped over it with MAP_FIXED from
 *    the pool file; holes get zeroed pool blocks, 1/MAP_POOL_SHARE of the pool for all mappings at most
 *    (none once the pool is three quarters full): past that the window ends (the record's hi, as after a
 *    spill) and the rest of the range maps the real file;
 *  - the mapping holds its file like an open description (an unlinked file keeps its record until the
 *    last mapping goes) and pins its blocks (pool.c: a pinned block is never reused);
 *  - while mapped the file's blocks never move: migration and head moves give up on it, materialising
 *    fails (ENOSPC), a hole punched into it zeroes its blocks in place;
 *  - a shrink (Kafka's trim at roll) detaches the cut-off part of every live mapping first (anonymous
 *    zero pages take its place: where the kernel would raise SIGBUS, reads see zeros and stores are lost),
 *    so those blocks can be freed at once;
 *  - msync(MS_SYNC) is the kernel's msync (which flushes or writes back what the stores dirtied), then the
 *    file's pool metadata (size, entries) is persisted as for fsync; an fsync of a mapped file syncs its
 *    mappings too (durable.c);
 *  - mremap of such a mapping is refused (EINVAL): the table is keyed by address.
 * Anything else falls back to what any other mapping of a managed file gets: the file's bytes are moved to
 * its real file for good (materialised, pinned real) and the kernel maps that. Such a mapping is recorded
 * too (maps.c, a real record): it holds the file in the table, pinned real and counted as mapped, until
 * the application has unmapped it, so that no promotion can take the bytes into the pool while stores
 * through the mapping still go to the real file's pages.
 *
 * A process that is not the pools' writer (a read-only attacher such as kafka-dump-log, a fork child)
 * gets a private snapshot: an anonymous mapping filled through the shim's read path, because pool blocks
 * mapped there could be freed and reused by the writer at any time. A writable shared mapping of a file
 * with pool bytes is refused there as before (the writer owns them).
 *
 * Owns: nothing of its own (the table is maps.c's). May call: maps.c, table.c, placement.c, durable.c,
 * io.c (pf_io_pin_real, pf_io_read), tier.h, fault.h, real.h, log.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

static uint64_t page_size(void)
{
	static uint64_t pg;
	uint64_t v = __atomic_load_n(&pg, __ATOMIC_RELAXED);
	if (!v) {
		long s = sysconf(_SC_PAGESIZE);
		v = s > 0 ? (uint64_t)s : 4096;
		__atomic_store_n(&pg, v, __ATOMIC_RELAXED);
	}
	return v;
}

static void release_all(struct pf_file **gone, int n)
{
	for (int i = 0; i < n; i++)
		file_unmapped(gone[i]);
	free(gone);
}

/* [addr, addr + n) now holds something else (MAP_FIXED, mremap's target): forget what it held. */
static void forget(void *addr, size_t n)
{
	if (!maps_any())
		return;
	struct pf_file **gone;
	maps_lock_all();
	int k = maps_forget_locked(addr, n, &gone);
	maps_unlock_all();
	release_all(gone, k);
}

/* The kernel's mapping of f's real file, recorded (a real record, see maps.c) so that it holds f. Out of
 * memory for the record: the mapping is undone, ENOMEM as from the kernel. */
static void *map_real(struct pf_file *f, void *addr, size_t n, int prot, int flags, int fd, off64_t off)
{
	file_mapped(f);
	void *r = REAL(mmap64)(addr, n, prot, flags, fd, off);
	int e = errno, bad = 0;
	struct pf_file **gone = NULL;
	int k = 0;
	if (r != MAP_FAILED) {
		maps_lock_all();
		if (flags & MAP_FIXED)
			k = maps_forget_locked(r, n, &gone);
		bad = maps_add_real_locked(f, r, n, prot) < 0;
		maps_unlock_all();
		if (bad) {
			REAL(munmap)(r, n);
			r = MAP_FAILED;
			e = ENOMEM;
		}
	}
	release_all(gone, k);
	if (r == MAP_FAILED)
		file_unmapped(f);
	errno = e;
	return r;
}

/* All mappings' holes together get at most 1/MAP_POOL_SHARE of the pool's blocks; past that a range ends
 * on the real file. Kafka maps each active segment's two indexes at segment.index.bytes (10 MiB by
 * default), so with 1 MiB blocks a 1 TiB pool maps them for 6553 active segments, a 1.5 GiB one for 9.
 * The whole range comes from the pool whenever it can: an msync of a range that reaches the real file
 * costs that file system's fsync (on ext4 a cache flush of the disk) even when nothing there changed. */
#define MAP_POOL_SHARE 8

/* Map f's pool blocks for [off, off + n) through descriptor fd. Returns the address, NULL when this mapping
 * cannot be served from the pool (the caller falls back), or MAP_FAILED with errno. */
static void *serve_from_pool(struct pf_file *f, int fd, size_t n, int prot, uint64_t off)
{
	file_mapped(f); /* before f->lock: files_lock comes first */
	void *ret = NULL, *base = MAP_FAILED;
	uint64_t *phys = NULL;
	pthread_rwlock_wrlock(&f->lock);
	if (f->rec >= 0)
		while (lease_clear_locked(f, off, off + n))
			; /* a head move must not copy (and then free) blocks about to be mapped */
	if (f->rec < 0 || f->pinned_real || f->broken || !f->size_known || !pf_tier_writable())
		goto out; /* (not while draining: the drain could not finish while the mapping lives) */
	struct pf_pool *p = f->pool;
	uint64_t bs = p->bsize, pg = page_size();
	unsigned sh = p->bshift;
	if (bs % pg || off % bs || n > f->size || off > f->size - n)
		goto out;
	uint64_t b0 = off >> sh, b1 = (off + n + bs - 1) >> sh, holes = 0;
	/* [b0, kend) from the pool, never past the window's end; the range ends earlier (on the real file)
	 * only where the pool's share for mappings runs out, and only past the last block the file owns */
	uint64_t last = f->maplen;
	while (last > 0 && !f->map[last - 1])
		last--;
	uint64_t kend = b1;
	if (f->hi != PF_HI_NONE)
		kend = pf_min64(kend, f->hi);
	if (b0 < f->lo || kend <= b0 || kend > PF_MAX_FILE_BLOCKS)
		goto out;
	/* Mapped blocks cannot move: all mappings together get at most MAP_POOL_SHARE of the pool's blocks
	 * for their holes (the range ends earlier, on the real file, when that runs out), and none once the
	 * pool is three quarters full. */
	uint64_t share = p->nblocks / MAP_POOL_SHARE, pinned = __atomic_load_n(&p->npins, __ATOMIC_ACQUIRE);
	uint64_t room = share > pinned ? share - pinned : 0;
	for (uint64_t b = b0; b < kend; b++) {
		if (b < f->maplen && f->map[b])
			continue;
		if (holes == room) {
			if (b < last)
				goto out; /* the file owns a block further on: the range cannot end on the real file here */
			kend = b;
			break;
		}
		holes++;
	}
	if (kend <= b0 || (holes && pf_pool_free_blocks(p) < holes + p->nblocks / 4))
		goto out;
	if (!(phys = malloc((b1 - b0) * sizeof *phys))) {
		ret = MAP_FAILED;
		errno = ENOMEM;
		goto out;
	}
	file_changing(f); /* stores through the mapping bypass the shim: the real file's copy is stale from now */
	if (kend < b1 && (f->hi == PF_HI_NONE || f->hi > kend)) {
		/* the window ends at kend: what the mapping stores past it belongs to the real file (the
		 * record says so, durably, before the first such store) */
		pf_pool_rec_set_hi(f->pool, (uint32_t)f->rec, kend);
		f->hi = kend;
		pf_pool_rec_sync(f->pool, (uint32_t)f->rec);
		PF_FAULT("map.window.ended");
	}
	for (uint64_t b = b0; b < kend; b++) {
		if (b < f->maplen && f->map[b])
			continue;
		int r = zero_new_block(f, b);
		if (r <= 0) {
			if (r < 0) {
				ret = MAP_FAILED;
				errno = ENOMEM;
			}
			goto out; /* the blocks given so far stay: zeros inside the file, as before */
		}
	}
	if (kend == b1 && f->size < (b1 << sh))
		zero_owned(f, f->size, b1 << sh); /* past the end of file a mapping shows zeros */
	size_t len = (size_t)((n + pg - 1) / pg * pg);
	base = REAL(mmap64)(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		goto out; /* ENOMEM: the kernel's answer to the same request would be the same */
	uint64_t data_off = (uint64_t)(p->data - p->base);
	for (uint64_t b = b0; b < kend;) {
		uint64_t e = b + 1;
		while (e < kend && f->map[e] == f->map[e - 1] + 1)
			e++;
		uint64_t at = (b - b0) * bs, l = pf_min64((e - b) * bs, len - at);
		void *r = REAL(mmap64)((char *)base + at, l, prot, MAP_SHARED | MAP_FIXED, p->fd,
				       (off64_t)(data_off + (uint64_t)(f->map[b] - 1) * bs));
		if (r == MAP_FAILED) {
			pf_log(PF_LOG_WARN, "cannot map the pool blocks of %s (%s): its mapping is served from its real "
					    "file",
			       f->path, strerror(errno));
			goto out;
		}
		for (uint64_t i = b; i < e; i++)
			phys[i - b0] = f->map[i] - 1;
		b = e;
	}
	if (kend < b1) {
		uint64_t at = (kend - b0) * bs;
		void *r = REAL(mmap64)((char *)base + at, len - at, prot, MAP_SHARED | MAP_FIXED, fd, (off64_t)(kend << sh));
		if (r == MAP_FAILED)
			goto out;
	}
	maps_lock_all();
	int r = maps_add_locked(f, p, base, len, b0, phys, kend - b0, prot);
	maps_unlock_all();
	if (r == 0) {
		ret = base;
		base = MAP_FAILED;
	}
out:
	pthread_rwlock_unlock(&f->lock);
	if (base != MAP_FAILED) {
		int e = errno;
		REAL(munmap)(base, (n + page_size() - 1) / page_size() * page_size());
		errno = e;
	}
	free(phys);
	if (ret == NULL || ret == MAP_FAILED) {
		int e = errno;
		file_unmapped(f);
		errno = e;
	}
	return ret;
}

/* A private copy of the file's bytes [off, off + n), read through the shim. */
static void *snapshot(struct pf_ofd *o, int fd, void *addr, size_t n, int prot, int flags, off64_t off)
{
	void *m = REAL(mmap64)(addr, n, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)), -1, 0);
	if (m == MAP_FAILED)
		return m;
	for (size_t done = 0; done < n;) {
		struct iovec v = { (char *)m + done, n - done };
		ssize_t got = pf_io_read(o, fd, &v, 1, (off_t)(off + (off64_t)done), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				break; /* past the end of file: zeros */
			int e = errno;
			REAL(munmap)(m, n);
			errno = e;
			return MAP_FAILED;
		}
		done += (size_t)got;
	}
	if (mprotect(m, n, prot) < 0) {
		int e = errno;
		REAL(munmap)(m, n);
		errno = e;
		return MAP_FAILED;
	}
	return m;
}

int pf_io_maps_any(void)
{
	return maps_any();
}

void *pf_io_mmap(struct pf_ofd *o, int fd, void *addr, size_t n, int prot, int flags, off64_t off)
{
	void *r;
	struct pf_fd_use u;
	if (!o) {
		r = REAL(mmap64)(addr, n, prot, flags, fd, off);
		goto fixed;
	}
	if (pf_fd_use(fd, o, &u) < 0)
		return MAP_FAILED;
	o = u.o;
	int type = flags & MAP_TYPE, acc = o ? o->flags & O_ACCMODE : 0;
	int shared_w = type != MAP_PRIVATE && (prot & PROT_WRITE);
	if (!o || n == 0 || off < 0 || acc == O_WRONLY || (shared_w && acc != O_RDWR)) {
		r = REAL(mmap64)(addr, n, prot, flags, u.fd, off); /* the kernel's own answer */
	} else if (o->file->broken) {
		file_eio();
		r = MAP_FAILED;
	} else if (!pf_tier_is_writer() && !shared_w) {
		r = snapshot(o, u.fd, addr, n, prot, flags, off);
	} else {
		r = NULL;
		if ((type == MAP_SHARED || type == MAP_SHARED_VALIDATE) && !(prot & ~(PROT_READ | PROT_WRITE)) && prot &&
		    !(flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_HUGETLB | MAP_SYNC)) && pf_tier_is_writer())
			r = serve_from_pool(o->file, u.fd, n, prot, (uint64_t)off);
		if (r == NULL) {
			/* the file's bytes go to its real file for good, and the kernel maps that */
			if (pf_io_pin_real(o, u.fd) < 0) {
				r = MAP_FAILED, errno = errno == ENOSPC ? ENODEV : errno;
			} else {
				r = map_real(o->file, addr, n, prot, flags, u.fd, off);
				flags &= ~MAP_FIXED; /* (map_real forgot what the range held) */
			}
		}
	}
	pf_fd_use_end(&u);
fixed:
	if (r != MAP_FAILED && (flags & MAP_FIXED))
		forget(r, n);
	return r;
}

int pf_io_munmap(void *addr, size_t n)
{
	struct pf_file **gone = NULL;
	int k = 0;
	maps_lock_all(); /* so that the kernel cannot hand the range out again before the table forgets it */
	int r = REAL(munmap)(addr, n);
	int e = errno;
	if (r == 0)
		k = maps_forget_locked(addr, n, &gone);
	maps_unlock_all();
	release_all(gone, k);
	errno = e;
	return r;
}

/* Stores through a shared mapping change the file's mtime (the kernel's write fault does it); stores
 * into pool blocks never reach the real file, so an msync of a writable mapping sets it. */
static void touch_mtime(struct pf_file *f)
{
	static const struct timespec ts[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
	char path[PATH_MAX];
	if (file_linked_path(f, path, sizeof path)) {
		int e = errno;
		REAL(utimensat)(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
		errno = e;
	}
}

int pf_io_msync(void *addr, size_t n, int flags)
{
	int r = REAL(msync)(addr, n, flags);
	if (r < 0)
		return r;
	struct pf_map **ms;
	int k = maps_users(addr, n, &ms), bad = 0;
	if (k < 0)
		return -1;
	for (int i = 0; i < k; i++) {
		struct pf_file *f = maps_user_file(ms[i]), *g;
		if (flags & MS_SYNC) {
			durable_sync_begin(f);
			bad |= durable_sync_pool(f) < 0; /* the size and the block-table entries the mapping shows */
			durable_sync_end(f);
		}
		if (maps_user_writable(ms[i]))
			touch_mtime(f);
		if (maps_user_done(ms[i], &g))
			file_unmapped(g);
	}
	free(ms);
	if (bad) {
		file_eio();
		return -1;
	}
	return 0;
}

void *pf_io_mremap(void *old, size_t olen, size_t nlen, int flags, void *naddr)
{
	struct pf_file **gone = NULL;
	int k = 0;
	void *r = MAP_FAILED;
	maps_lock_all();
	if (maps_overlap_pool_locked(old, olen ? olen : 1)) {
		errno = EINVAL; /* a mapping of pool blocks stays where it was made (see the top of this file) */
	} else {
		r = REAL(mremap)(old, olen, nlen, flags, naddr);
		if (r != MAP_FAILED)
			k = maps_remapped_locked(old, olen, r, nlen, &gone);
	}
	int e = errno;
	maps_unlock_all();
	release_all(gone, k);
	errno = e;
	return r;
}

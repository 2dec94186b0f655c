/*
 * pool.c - a libpafka pool file (see pool.h and pool_format.h for the layout and the commit rules).
 *
 * Creation is atomic: the file is built under a name of its own in the pool directory (space reserved
 * with posix_fallocate, so a later store into the mapping can never hit ENOSPC/SIGBUS), its header written
 * with the magic last, then renamed into place without replacing anything. The directory is opened once
 * (no symlink), checked (owned by us, not writable by others) and everything after goes through that
 * descriptor. Opening validates the header (pf_pool_check_header, which the CLI shares), takes an OFD
 * write lock (one writer process per pool; OFD locks are not dropped when libpmem closes its own
 * descriptor), and maps exactly the file it checked. Loading upgrades a format-1 pool (pool_upgrade.c),
 * then recovers (pool_load.c): half-freed records are finished, reserved or stale blocks are freed, a known
 * file whose metadata fails its checks is handed over as broken, and anything else that cannot happen under
 * the protocol stops the process rather than guess. The word accessors both use are in pool_impl.h.
 *
 * Owns: a pool's mapping, allocator and tables. May call: pool_format.h, config.h, fault.h, log.h, sys.h,
 * real.h, libpmem.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "config.h"
#include "fault.h"
#include "log.h"
#include "pool_impl.h"
#include "real.h"
#include "sys.h"

#define ERR(...) pf_err_set(err, __VA_ARGS__)

static uint64_t header_sum(const struct pf_pool_header *h)
{
	return pf_fnv1a(h, offsetof(struct pf_pool_header, checksum));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Lay out a pool of size bytes with blocks of bsize: fills the geometry fields of h. */
int pf_pool_layout(struct pf_pool_header *h, uint64_t size, uint64_t bsize)
{
	uint64_t est = size / bsize;
	uint64_t nrec = est * 2;
	if (nrec < 1024)
		nrec = 1024;
	if (nrec > PF_MAX_RECORDS)
		nrec = PF_MAX_RECORDS;
	uint64_t fixed = PF_HEADER_SIZE + nrec * PF_RECORD_SIZE;
	if (size <= fixed + 16 * (bsize + 8))
		return -1;
	uint64_t nb = (size - fixed) / (bsize + 8);
	if (nb > PF_MAX_BLOCKS)
		nb = PF_MAX_BLOCKS;
	while (nb > 0 && align_up(fixed + nb * 8, bsize) + nb * bsize > size)
		nb--;
	if (nb < 16)
		return -1;
	h->pool_size = size;
	h->block_size = bsize;
	h->nblocks = nb;
	h->nrecords = nrec;
	h->rec_off = PF_HEADER_SIZE;
	h->blk_off = PF_HEADER_SIZE + nrec * PF_RECORD_SIZE;
	h->data_off = align_up(h->blk_off + nb * 8, bsize);
	return 0;
}

/* ---------------------------------------------------------------- who may have put it there */

/* A pool directory or file must be ours (a read-only open as root may read anyone's) and writable by
 * nobody else: otherwise another user could read every segment byte or plant the pool. */
static int check_owner(const struct stat *st, const char *what, const char *path, int readonly, struct pf_err *err)
{
	uid_t me = geteuid();
	if (st->st_uid != me && !(readonly && me == 0))
		return ERR("%s %s is owned by uid %u, not by this process's uid %u: another user may have put it there; "
			   "remove it (or, if it is yours, chown it to uid %u) and start again",
			   what, path, (unsigned)st->st_uid, (unsigned)me, (unsigned)me);
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return ERR("%s %s is writable by group or others (mode %04o): run 'chmod go-w %s' if it is yours, "
			   "else remove it",
			   what, path, (unsigned)(st->st_mode & 07777), path);
	return 0;
}

/* Open the pool directory (never through a symlink) and check who owns it. Returns the descriptor or -1. */
static int open_dir(const struct pf_pool *p, int readonly, struct pf_err *err)
{
	int dfd = REAL(open)(p->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		int e = errno;
		struct stat st;
		if ((e == ELOOP || e == ENOTDIR) && REAL(lstat)(p->dir, &st) == 0 && S_ISLNK(st.st_mode))
			return ERR("pool directory %s is a symbolic link: refusing to follow it (point "
				   "storage.tiers.first.paths at the real directory)",
				   p->dir);
		if (e == ENOTDIR)
			return ERR("pool directory %s is not a directory (storage.tiers.first.paths)", p->dir);
		return ERR("cannot open pool directory %s: %s", p->dir, strerror(e));
	}
	struct stat st;
	if (REAL(fstat)(dfd, &st) < 0) {
		int e = errno;
		REAL(close)(dfd);
		return ERR("cannot stat pool directory %s: %s", p->dir, strerror(e));
	}
	if (check_owner(&st, "pool directory", p->dir, readonly, err) < 0) {
		REAL(close)(dfd);
		return -1;
	}
	return dfd;
}

static int create_pool(int dfd, const char *dir, const char *path, uint64_t size, uint64_t bsize, struct pf_err *err)
{
	/* A name of our own for the half-built file, installed with RENAME_NOREPLACE: two processes racing
	 * to create the pool can never replace one that the other already holds. */
	char tmp[96];
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)getpid();
	snprintf(tmp, sizeof tmp, "%s.new.%d.%08x", PF_POOL_FILE, (int)getpid(), rnd);
	struct pf_pool_header h;
	memset(&h, 0, sizeof h);
	if (pf_pool_layout(&h, size, bsize) < 0)
		return ERR("storage.tiers.first.sizes: %llu bytes is too small for a pool with %llu-byte blocks in %s: "
			   "give at least %llu bytes",
			   (unsigned long long)size, (unsigned long long)bsize, dir,
			   (unsigned long long)(PF_HEADER_SIZE + 1024 * PF_RECORD_SIZE + 17 * (bsize + 8)));
	h.version = PF_POOL_VERSION;
	h.header_size = PF_HEADER_SIZE;
	if (getrandom(h.uuid, sizeof h.uuid, 0) != (ssize_t)sizeof h.uuid)
		return ERR("cannot get random bytes for the pool uuid: %s", strerror(errno));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	h.created_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	h.magic = PF_POOL_MAGIC;
	h.checksum = header_sum(&h);
	h.magic = 0; /* the magic goes in last, once everything else is durable */
	h.next_seq = 1;
	h.format = PF_FORMAT_2;

	int fd = REAL(openat)(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR("cannot create pool file %s/%s: %s", dir, tmp, strerror(errno));
	int e = REAL(posix_fallocate)(fd, 0, (off_t)size);
	if (e) {
		REAL(close)(fd);
		REAL(unlinkat)(dfd, tmp, 0);
		return ERR("cannot reserve %llu bytes for the pool in %s: %s (lower storage.tiers.first.sizes)",
			   (unsigned long long)size, dir, strerror(e));
	}
	uint64_t magic = PF_POOL_MAGIC;
	if (pf_pwrite_all(fd, &h, sizeof h, 0) < 0 || REAL(fsync)(fd) < 0 ||
	    pf_pwrite_all(fd, &magic, sizeof magic, 0) < 0 || REAL(fsync)(fd) < 0) {
		e = errno;
		REAL(close)(fd);
		REAL(unlinkat)(dfd, tmp, 0);
		return ERR("cannot write pool file %s/%s: %s", dir, tmp, strerror(e));
	}
	REAL(close)(fd);
	if (REAL(renameat2)(dfd, tmp, dfd, PF_POOL_FILE, RENAME_NOREPLACE) < 0) {
		e = errno;
		REAL(unlinkat)(dfd, tmp, 0);
		if (e == EEXIST)
			return 0; /* another process created it first: open theirs (its lock decides who writes) */
		return ERR("cannot install pool file %s: %s", path, strerror(e));
	}
	if (REAL(fsync)(dfd) < 0)
		return ERR("cannot install pool file %s: %s", path, strerror(errno));
	pf_log(PF_LOG_INFO, "created pool %s: %llu MiB, %llu blocks of %llu KiB", path,
	       (unsigned long long)(size >> 20), (unsigned long long)h.nblocks, (unsigned long long)(bsize >> 10));
	return 0;
}

/* ---------------------------------------------------------------- the header */

int pf_pool_header_problem(const struct pf_pool_header *h, uint64_t fsize, char *buf, size_t n)
{
	if (h->magic != PF_POOL_MAGIC) {
		snprintf(buf, n, "bad magic %#llx: not a libpafka pool, or its header is overwritten",
			 (unsigned long long)h->magic);
		return PF_HDR_CORRUPT;
	}
	if (h->version < PF_POOL_VERSION_MIN || h->version > PF_POOL_VERSION) {
		snprintf(buf, n, "pool format version %u; this release reads versions %d to %d", h->version,
			 PF_POOL_VERSION_MIN, PF_POOL_VERSION);
		return PF_HDR_VERSION;
	}
	if (h->checksum != header_sum(h)) {
		snprintf(buf, n, "header checksum mismatch (stored %#llx): the header is corrupt",
			 (unsigned long long)h->checksum);
		return PF_HDR_CORRUPT;
	}
	/* Each bound before the next one's arithmetic relies on it: nothing below can overflow. */
	uint64_t bs = h->block_size;
	const char *g = NULL;
	if (h->pool_size != fsize)
		g = "its size is not the file's";
	else if (h->header_size != PF_HEADER_SIZE)
		g = "unknown header size";
	else if (!pf_valid_block_size(bs))
		g = "the block size is not " PF_BLOCK_SIZE_RULE;
	else if (h->nrecords == 0 || h->nrecords > PF_MAX_RECORDS)
		g = "the record count is out of range";
	else if (h->nblocks == 0 || h->nblocks > PF_MAX_BLOCKS)
		g = "the block count is out of range";
	else if (h->rec_off != PF_HEADER_SIZE)
		g = "the record table does not follow the header";
	else if (h->blk_off != h->rec_off + h->nrecords * PF_RECORD_SIZE)
		g = "the block table does not follow the record table";
	else if (h->data_off % bs != 0)
		g = "the data area is not block-aligned";
	else if (h->data_off < h->blk_off + h->nblocks * 8)
		g = "the data area overlaps the block table";
	else if (h->data_off > fsize || h->nblocks > (fsize - h->data_off) / bs)
		g = "the blocks do not fit the file";
	if (g) {
		snprintf(buf, n, "header geometry does not match the file (header size %llu, file %llu bytes): %s",
			 (unsigned long long)h->pool_size, (unsigned long long)fsize, g);
		return PF_HDR_CORRUPT;
	}
	if (!pf_header_format(h)) {
		snprintf(buf, n, "header version %u with format word %llu, which no release writes: the header is corrupt",
			 h->version, (unsigned long long)h->format);
		return PF_HDR_CORRUPT;
	}
	if (pf_header_format(h) == 1 && h->upgrade != 0 && (h->upgrade < 2 || h->upgrade / 2 - 1 >= h->nrecords)) {
		snprintf(buf, n, "the upgrade word %#llx names no record of the table: the header is corrupt",
			 (unsigned long long)h->upgrade);
		return PF_HDR_CORRUPT;
	}
	buf[0] = '\0';
	return 0;
}

int pf_pool_check_header(const struct pf_pool_header *h, uint64_t fsize, const char *path, struct pf_err *err)
{
	char what[256];
	int k = pf_pool_header_problem(h, fsize, what, sizeof what);
	if (k == PF_HDR_VERSION)
		return ERR("%s: %s: use a matching libpafka", path, what);
	if (k)
		return ERR("%s: %s: move it away or run 'pafka fsck'; it may hold data of Kafka segments", path, what);
	return 0;
}

int pf_pool_format(const struct pf_pool *p)
{
	if (p->hdr->version >= 2 || __atomic_load_n(&p->hdr->format, __ATOMIC_ACQUIRE) == PF_FORMAT_2)
		return 2;
	return 1;
}

/* ---------------------------------------------------------------- open and close */

int pf_pool_open(struct pf_pool *p, int index, const char *dir, int64_t size, double ratio,
		 uint64_t block_size, int flags, struct pf_err *err)
{
	int readonly = (flags & PF_POOL_RDONLY) != 0, create = !readonly && !(flags & PF_POOL_NOCREATE);
	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->index = index;
	p->readonly = readonly;
	pthread_mutex_init(&p->lock, NULL);
	if (snprintf(p->dir, sizeof p->dir, "%s", dir) >= (int)sizeof p->dir ||
	    snprintf(p->path, sizeof p->path, "%s/%s", dir, PF_POOL_FILE) >= (int)sizeof p->path)
		return ERR("pool directory %s: path too long", dir);

	int dfd = -1;
	struct stat st;
	if (REAL(lstat)(p->path, &st) < 0) {
		if (errno != ENOENT)
			return ERR("cannot stat pool %s: %s", p->path, strerror(errno));
		if (!create) {
			(void)ERR("no pool at %s", p->path);
			errno = ENOENT;
			return -1;
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return ERR("cannot create pool directory %s (storage.tiers.first.paths): %s", dir,
				   strerror(errno));
		if ((dfd = open_dir(p, readonly, err)) < 0)
			return -1;
		uint64_t want;
		if (size < 0) {
			struct statvfs vfs;
			if (fstatvfs(dfd, &vfs) < 0) {
				int e = errno;
				REAL(close)(dfd);
				return ERR("cannot read free space of %s: %s", dir, strerror(e));
			}
			want = (uint64_t)((double)vfs.f_bavail * (double)vfs.f_frsize * ratio);
		} else {
			want = (uint64_t)size;
		}
		want &= ~(block_size - 1);
		if (create_pool(dfd, dir, p->path, want, block_size, err) < 0) {
			REAL(close)(dfd);
			return -1;
		}
	} else if (S_ISLNK(st.st_mode)) {
		return ERR("pool %s is a symbolic link: refusing to follow it (point storage.tiers.first.paths at the real directory)",
			   p->path);
	} else if (!S_ISREG(st.st_mode)) {
		return ERR("pool %s is not a regular file", p->path);
	}
	if (dfd < 0 && (dfd = open_dir(p, readonly, err)) < 0)
		return -1;
	p->fd = pf_fd_hide(REAL(openat)(dfd, PF_POOL_FILE, (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC));
	int e = errno;
	REAL(close)(dfd);
	if (p->fd < 0) {
		if (e == ELOOP)
			return ERR("pool %s is a symbolic link: refusing to follow it (point storage.tiers.first.paths at the real directory)",
				   p->path);
		if (e == ENOENT && !create) {
			(void)ERR("no pool at %s", p->path);
			errno = ENOENT;
			return -1;
		}
		return ERR("cannot open pool %s: %s", p->path, strerror(e));
	}
	if (REAL(fstat)(p->fd, &st) < 0) {
		e = errno;
		pf_pool_close(p);
		return ERR("cannot stat pool %s: %s", p->path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		pf_pool_close(p);
		return ERR("pool %s is not a regular file", p->path);
	}
	if (check_owner(&st, "pool", p->path, readonly, err) < 0) {
		pf_pool_close(p);
		return -1;
	}
	if (!readonly) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (REAL(fcntl)(p->fd, F_OFD_SETLK, &fl) < 0) {
			e = errno;
			pf_pool_close(p);
			if (e == EAGAIN || e == EACCES) {
				(void)ERR("pool %s is in use by another process: one broker per pool (stop it, or give this "
					  "broker its own storage.tiers.first.paths)",
					  p->path);
				errno = EAGAIN;
				return -1;
			}
			return ERR("cannot lock pool %s: %s", p->path, strerror(e));
		}
	}
	struct pf_pool_header h;
	if (st.st_size < PF_HEADER_SIZE || REAL(pread)(p->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		pf_pool_close(p);
		return ERR("cannot read pool header of %s (file too short or unreadable)", p->path);
	}
	if (pf_pool_check_header(&h, (uint64_t)st.st_size, p->path, err) < 0) {
		pf_pool_close(p);
		return -1;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		pf_pool_close(p);
		return ERR("pool %s is larger than this process can map", p->path);
	}
	if (readonly) {
		p->base = REAL(mmap)(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, p->fd, 0);
		if (p->base == MAP_FAILED) {
			p->base = NULL;
			pf_pool_close(p);
			return ERR("cannot map pool %s: %s", p->path, strerror(errno));
		}
		p->len = (size_t)st.st_size;
	} else {
		/* Map exactly the file that was checked and locked: through its descriptor's /proc name (the
		 * path itself only when /proc is not there, checked again below). */
		size_t len = 0;
		int is_pmem = 0;
		char self[64];
		snprintf(self, sizeof self, "/proc/self/fd/%d", p->fd);
		p->base = pmem_map_file(self, 0, 0, 0, &len, &is_pmem);
		if (!p->base)
			p->base = pmem_map_file(p->path, 0, 0, 0, &len, &is_pmem);
		if (!p->base) {
			pf_pool_close(p);
			return ERR("cannot map pool %s: %s", p->path, pmem_errormsg());
		}
		p->len = len;
		p->is_pmem = is_pmem;
		struct stat st2;
		if (len != (size_t)st.st_size || REAL(lstat)(p->path, &st2) < 0 || st2.st_ino != st.st_ino ||
		    st2.st_dev != st.st_dev || !S_ISREG(st2.st_mode)) {
			pf_pool_close(p);
			return ERR("pool %s changed while it was being opened: refusing to use it", p->path);
		}
	}
	p->hdr = (struct pf_pool_header *)p->base;
	p->recs = (struct pf_pool_record *)(p->base + h.rec_off);
	p->blocks = (uint64_t *)(p->base + h.blk_off);
	p->data = p->base + h.data_off;
	p->nblocks = h.nblocks;
	p->nrecords = h.nrecords;
	p->bsize = h.block_size;
	p->bshift = (unsigned)__builtin_ctzll(h.block_size);
	p->salt = pf_pool_salt(h.uuid);
	if (!readonly && h.block_size != block_size)
		pf_log(PF_LOG_WARN, "pool %s uses %llu-byte blocks; pafka.pool.block.size=%llu applies to new pools only",
		       p->path, (unsigned long long)h.block_size, (unsigned long long)block_size);
	return 0;
}

void pf_pool_close(struct pf_pool *p)
{
	if (p->base) {
		if (p->readonly)
			REAL(munmap)(p->base, p->len);
		else
			pmem_unmap(p->base, p->len);
	}
	p->base = NULL;
	if (p->fd >= 0)
		REAL(close)(p->fd); /* drops the OFD lock */
	p->fd = -1;
	free(p->free_recs);
	p->free_recs = NULL;
}

void pf_pool_commit(const struct pf_pool *p, const void *addr, size_t len)
{
	if (p->is_pmem)
		pmem_persist(addr, len);
}

int pf_pool_sync(const struct pf_pool *p, const void *addr, size_t len)
{
	if (p->is_pmem) {
		pmem_persist(addr, len);
		return 0;
	}
	return pmem_msync(addr, len);
}

int pf_pool_sync_meta(const struct pf_pool *p)
{
	return pf_pool_sync(p, p->base, (size_t)(p->hdr->data_off));
}

void pf_pool_copy(const struct pf_pool *p, void *dst, const void *src, size_t n)
{
	if (p->is_pmem)
		pmem_memcpy_persist(dst, src, n);
	else
		memcpy(dst, src, n);
}

void pf_pool_zero(const struct pf_pool *p, void *dst, size_t n)
{
	if (p->is_pmem)
		pmem_memset_persist(dst, 0, n);
	else
		memset(dst, 0, n);
}

void pf_pool_copy_nodrain(const struct pf_pool *p, void *dst, const void *src, size_t n)
{
	if (p->is_pmem)
		pmem_memcpy_nodrain(dst, src, n);
	else
		memcpy(dst, src, n);
}

void pf_pool_zero_nodrain(const struct pf_pool *p, void *dst, size_t n)
{
	if (p->is_pmem)
		pmem_memset_nodrain(dst, 0, n);
	else
		memset(dst, 0, n);
}

void pf_pool_drain(const struct pf_pool *p)
{
	if (p->is_pmem)
		pmem_drain();
}

int pf_pool_volatile(const struct pf_pool *p)
{
	struct statfs fs;
	return fstatfs(p->fd, &fs) == 0 && (fs.f_type == 0x01021994 /* TMPFS_MAGIC */ || fs.f_type == 0x858458f6 /* RAMFS_MAGIC */);
}

int pf_pool_rec_sync(const struct pf_pool *p, uint32_t r)
{
	if (p->is_pmem || p->readonly || r >= p->nrecords)
		return 0;
	return pf_pool_sync(p, &p->recs[r], sizeof p->recs[r]);
}

int pf_pool_entries_sync(const struct pf_pool *p, uint64_t phys, uint64_t n)
{
	if (p->is_pmem || p->readonly || phys >= p->nblocks || n == 0)
		return 0;
	if (n > p->nblocks - phys)
		n = p->nblocks - phys;
	return pf_pool_sync(p, &p->blocks[phys], (size_t)(n * sizeof p->blocks[0]));
}

/* ---------------------------------------------------------------- words */

void pool_store64(const struct pf_pool *p, uint64_t *field, uint64_t v)
{
	if (p->readonly)
		return; /* a read-only attach never writes (its mapping is PROT_READ) */
	__atomic_store_n(field, v, __ATOMIC_RELEASE);
	pf_pool_commit(p, field, sizeof *field);
}

/* A plain (uncommitted) store of a word other processes may be reading. */
void pool_put64(uint64_t *field, uint64_t v)
{
	__atomic_store_n(field, v, __ATOMIC_RELAXED);
}

uint64_t pool_ld64(const uint64_t *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

/* The writer's tables are format 2 once loaded: a format-1 table written by the format-2 encoders would
 * be garbage to the next reader. */
static void writing(const struct pf_pool *p)
{
	if (!p->readonly && pf_pool_format(p) != 2)
		pf_die("pool %s: a format-1 table was about to be written before its upgrade (a libpafka bug): stopping",
		       p->path);
}

void pool_load_words(const uint64_t *src, uint64_t *w)
{
	for (int k = 0; k < NWORDS; k++)
		w[k] = pool_ld64(&src[k]);
}

/* Record r's 32 words as they stand; in format 1 the upgrade's copy while it rewrites r. *fmt2: the pool
 * was in format 2. A writer's upgrade only ever increases `upgrade`, so equal values before and after the
 * read mean no record was rewritten meanwhile. */
static void rec_words(const struct pf_pool *p, uint32_t r, uint64_t *w, int *fmt2, int *copy)
{
	const uint64_t *rec = (const uint64_t *)&p->recs[r];
	*copy = 0;
	if (pf_pool_format(p) == 2) {
		*fmt2 = 1;
		pool_load_words(rec, w);
		return;
	}
	*fmt2 = 0;
	for (int tries = 0;; tries++) {
		uint64_t u1 = __atomic_load_n(&p->hdr->upgrade, __ATOMIC_ACQUIRE);
		*copy = u1 == 2 * ((uint64_t)r + 1);
		const uint64_t *src = *copy ? p->hdr->upgrade_rec : rec;
		for (int k = 0; k < NWORDS; k++) /* acquire: the second look at the word cannot move above them */
			w[k] = __atomic_load_n(&src[k], __ATOMIC_ACQUIRE);
		uint64_t u2 = __atomic_load_n(&p->hdr->upgrade, __ATOMIC_ACQUIRE);
		if (u1 == u2 || tries >= 1000)
			return;
	}
}

int pf_pool_rec_decode(const struct pf_pool *p, uint32_t r, struct pf_rec_view *out)
{
	if (r >= p->nrecords) {
		memset(out, 0, sizeof *out);
		out->state = PF_REC_BAD;
		out->bad = PF_RW_STATE | PF_RW_IDENT;
		return -1;
	}
	uint64_t w[NWORDS];
	int fmt2, copy;
	rec_words(p, r, w, &fmt2, &copy);
	if (copy && w[0] != PF_REC_LIVE && w[0] != PF_REC_DYING) {
		/* the upgrade's copy of a record is always a format-1 record in use: this one cannot be trusted */
		pf_rec_decode_words(p->salt, fmt2, r, w, out);
		out->state = PF_REC_BAD;
		out->bad = PF_RW_STATE | PF_RW_IDENT;
		out->format = 1;
		return -1;
	}
	return pf_rec_decode_words(p->salt, fmt2, r, w, out);
}

int pf_pool_rec_get(const struct pf_pool *p, uint32_t r, struct pf_rec_view *out)
{
	return pf_pool_rec_decode(p, r, out) == 0 ? 0 : -1;
}

const char *pf_rec_bad_str(uint32_t bad, char *buf, size_t n)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} words[] = {
		{ PF_RW_IDENT, "identity (inode, birth time, sequence)" },
		{ PF_RW_STATE, "state word" },
		{ PF_RW_LO, "window start (lo)" },
		{ PF_RW_HI, "window end (hi)" },
		{ PF_RW_FLAGS, "flags word" },
		{ PF_RW_SIZE, "durable size word" },
		{ PF_RW_SYNCED, "fsynced size word" },
	};
	size_t k = 0;
	int first = 1;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof words / sizeof words[0] && k < n; i++) {
		if (!(bad & words[i].bit))
			continue;
		int m = snprintf(buf + k, n - k, "%s%s", first ? "" : ", ", words[i].name);
		if (m < 0)
			break;
		k += (size_t)m;
		first = 0;
	}
	if (k < n)
		snprintf(buf + k, n - k, "%s", first ? "nothing" : bad & (bad - 1) ? " fail their integrity checks" : " fails its integrity check");
	return buf;
}

/* A record's state, cheaply: the state word alone in format 2 (its check covers the record's seq). */
uint64_t pool_state_of(const struct pf_pool *p, uint32_t r)
{
	if (pf_pool_format(p) == 2) {
		const struct pf_pool_record *rec = &p->recs[r];
		uint64_t s = __atomic_load_n(&rec->state_w, __ATOMIC_ACQUIRE);
		if (s == 0)
			return PF_REC_FREE;
		uint32_t v = (uint32_t)s;
		return (v == PF_REC_LIVE || v == PF_REC_DYING) && pf_rec_word32_ok(p->salt, r, pool_ld64(&rec->seq), PF_CK_STATE, s)
			       ? v
			       : PF_REC_BAD;
	}
	struct pf_rec_view v;
	pf_pool_rec_decode(p, r, &v);
	return v.state;
}

uint64_t pf_pool_rec_state(const struct pf_pool *p, uint32_t r)
{
	return r < p->nrecords ? pool_state_of(p, r) : PF_REC_BAD;
}

uint64_t pf_pool_rec_flags(const struct pf_pool *p, uint32_t r)
{
	if (pf_pool_format(p) == 2) {
		const struct pf_pool_record *rec = &p->recs[r];
		uint64_t w = __atomic_load_n(&rec->flags_w, __ATOMIC_ACQUIRE);
		return pf_rec_word32_ok(p->salt, r, pool_ld64(&rec->seq), PF_CK_FLAGS, w) ? (uint32_t)w : 0;
	}
	struct pf_rec_view v;
	return pf_pool_rec_decode(p, r, &v) == 0 ? v.flags : 0;
}

uint64_t pf_pool_rec_seq(const struct pf_pool *p, uint32_t r)
{
	if (pf_pool_format(p) == 2)
		return pool_ld64(&p->recs[r].seq);
	struct pf_rec_view v;
	pf_pool_rec_decode(p, r, &v);
	return v.seq;
}

uint64_t pf_pool_rec_size_hint(const struct pf_pool *p, uint32_t r)
{
	if (pf_pool_format(p) == 2)
		return pool_ld64(&p->recs[r].size_hint);
	struct pf_rec_view v;
	pf_pool_rec_decode(p, r, &v);
	return v.size_hint;
}

static uint64_t word32(const struct pf_pool *p, uint32_t r, enum pf_rec_word w, uint32_t v)
{
	return pf_rec_word32(p->salt, r, pool_ld64(&p->recs[r].seq), w, v);
}

void pf_pool_rec_set_lo(struct pf_pool *p, uint32_t r, uint64_t lo)
{
	if (lo != PF_HI_NONE && lo >= PF_WORD32_NONE)
		pf_die("pool %s: record %u: window start %llu is beyond what a record holds (a libpafka bug): stopping",
		       p->path, r, (unsigned long long)lo);
	writing(p);
	pool_store64(p, &p->recs[r].lo_w, word32(p, r, PF_CK_LO, pf_win32(lo)));
}

void pf_pool_rec_set_hi(struct pf_pool *p, uint32_t r, uint64_t hi)
{
	if (hi != PF_HI_NONE && hi >= PF_WORD32_NONE)
		hi = PF_WORD32_NONE - 1; /* no pool block has an index that high: the same placement */
	writing(p);
	pool_store64(p, &p->recs[r].hi_w, word32(p, r, PF_CK_HI, pf_win32(hi)));
}

void pf_pool_rec_set_flags(struct pf_pool *p, uint32_t r, uint64_t flags)
{
	writing(p);
	pool_store64(p, &p->recs[r].flags_w, word32(p, r, PF_CK_FLAGS, (uint32_t)flags));
}

void pf_pool_rec_set_size_hint(struct pf_pool *p, uint32_t r, uint64_t size)
{
	if (!p->readonly && pf_pool_format(p) == 2)
		pool_put64(&p->recs[r].size_hint, size); /* for tools only: not committed */
}

void pf_pool_rec_set_size(struct pf_pool *p, uint32_t r, uint64_t size)
{
	writing(p);
	uint64_t w = size == PF_SIZE_NONE ? 0 : pf_rec_size_word(p->salt, r, pool_ld64(&p->recs[r].seq), size);
	pool_store64(p, &p->recs[r].size_w, w);
}

void pf_pool_rec_set_synced(struct pf_pool *p, uint32_t r, uint64_t size)
{
	writing(p);
	uint64_t w = size == PF_SIZE_NONE ? 0 : pf_rec_sizeck_word(p->salt, r, pool_ld64(&p->recs[r].seq), PF_CK_SYNCED, size);
	pool_store64(p, &p->recs[r].synced_w, w);
}

int pf_pool_note_boot(struct pf_pool *p, const uint64_t boot[2])
{
	uint64_t *w = p->hdr->writer_boot;
	int same = (boot[0] | boot[1]) != 0 && pool_ld64(&w[0]) == boot[0] && pool_ld64(&w[1]) == boot[1];
	p->rebooted = !same && pool_ld64(&p->hdr->writer_clean) != 1;
	if (!p->readonly) {
		pool_put64(&w[0], boot[0]);
		pool_put64(&w[1], boot[1]);
		pool_put64(&p->hdr->writer_clean, 0);
		pf_pool_sync(p, w, 3 * sizeof w[0]); /* writer_boot and writer_clean are adjacent */
	}
	return p->rebooted;
}

void pf_pool_mark_clean(struct pf_pool *p)
{
	if (p->readonly)
		return;
	if (!p->is_pmem && pf_pool_sync(p, p->base, p->len) < 0)
		return; /* not all of it is durable: the next start after a reboot trusts fsynced sizes only */
	pool_put64(&p->hdr->writer_clean, 1);
	pf_pool_sync(p, &p->hdr->writer_clean, sizeof p->hdr->writer_clean);
}

enum pf_entry_kind pf_pool_entry(const struct pf_pool *p, uint64_t phys, uint32_t *rec, uint32_t *idx)
{
	uint64_t e = __atomic_load_n(&p->blocks[phys], __ATOMIC_ACQUIRE);
	enum pf_entry_fault why;
	return pf_entry_decode(p->salt, pf_pool_format(p) == 2, p->nrecords, phys, e, rec, idx, &why);
}

int pf_pool_rec_path(const struct pf_pool_record *r, char out[PF_PATH_MAX_REC + 1])
{
	uint64_t w[NWORDS];
	pool_load_words((const uint64_t *)r, w);
	int fmt = (w[0] == PF_REC_LIVE || w[0] == PF_REC_DYING) ? 1 : 2;
	return pf_rec_path_words(w, fmt, out);
}

int pf_pool_rec_path_at(const struct pf_pool *p, uint32_t r, char out[PF_PATH_MAX_REC + 1])
{
	out[0] = '\0';
	if (r >= p->nrecords)
		return -1;
	uint64_t w[NWORDS];
	int fmt2, copy;
	rec_words(p, r, w, &fmt2, &copy);
	int fmt = !fmt2 && (w[0] == PF_REC_LIVE || w[0] == PF_REC_DYING) ? 1 : 2;
	return pf_rec_path_words(w, fmt, out);
}

/* ---------------------------------------------------------------- allocation */

int64_t pf_pool_rec_alloc_handle(struct pf_pool *p, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec,
				 uint64_t lo, const char *path, const struct pf_rec_handle *handle)
{
	if (lo != PF_HI_NONE && lo >= PF_MAX_FILE_BLOCKS) {
		errno = EFBIG;
		return -1;
	}
	if (handle && handle->bytes > PF_HANDLE_MAX) {
		errno = EINVAL;
		return -1;
	}
	writing(p);
	pthread_mutex_lock(&p->lock);
	if (p->nfree_recs == 0) {
		pthread_mutex_unlock(&p->lock);
		errno = ENOSPC;
		return -1;
	}
	uint32_t r = p->free_recs[--p->nfree_recs];
	struct pf_pool_record *rec = &p->recs[r];
	uint64_t seq = p->hdr->next_seq;
	pool_store64(p, &p->hdr->next_seq, seq + 1);
	pthread_mutex_unlock(&p->lock);
	unsigned char hb[PF_HANDLE_MAX] = { 0 };
	uint32_t htype = 0, hbytes = 0;
	if (handle && handle->bytes) {
		htype = handle->type;
		hbytes = handle->bytes;
		memcpy(hb, handle->h, hbytes);
	}
	pool_put64(&rec->ino, ino);
	pool_put64((uint64_t *)&rec->btime_sec, (uint64_t)btime_sec);
	pool_put64(&rec->btime_nsec, btime_nsec);
	pool_put64(&rec->seq, seq);
	rec->handle_type = htype;
	rec->handle_bytes = hbytes;
	memcpy(rec->handle, hb, sizeof hb);
	pool_put64(&rec->ident_sum, pf_rec_ident(p->salt, r, ino, btime_sec, btime_nsec, seq, htype, hbytes, hb));
	pool_put64(&rec->lo_w, pf_rec_word32(p->salt, r, seq, PF_CK_LO, pf_win32(lo)));
	pool_put64(&rec->hi_w, pf_rec_word32(p->salt, r, seq, PF_CK_HI, pf_win32(PF_HI_NONE)));
	pool_put64(&rec->flags_w, pf_rec_word32(p->salt, r, seq, PF_CK_FLAGS, 0));
	pool_put64(&rec->size_w, 0);
	pool_put64(&rec->synced_w, 0);
	pool_put64(&rec->size_hint, 0);
	pf_pool_rec_set_path(p, r, path);
	pf_pool_commit(p, rec, sizeof *rec);
	PF_FAULT("pool.rec.filled");
	pool_store64(p, &rec->state_w, pf_rec_word32(p->salt, r, seq, PF_CK_STATE, PF_REC_LIVE)); /* commit point */
	PF_FAULT("pool.rec.live");
	return r;
}

int64_t pf_pool_rec_alloc(struct pf_pool *p, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec, uint64_t lo,
			  const char *path)
{
	return pf_pool_rec_alloc_handle(p, ino, btime_sec, btime_nsec, lo, path, NULL);
}

/* ---------------------------------------------------------------- pins */

struct pf_pin {
	uint64_t phys;
	uint64_t count;
	int freed;
	UT_hash_handle hh;
};

void pf_pool_block_pin(struct pf_pool *p, uint64_t phys)
{
	pthread_mutex_lock(&p->lock);
	struct pf_pin *x;
	HASH_FIND(hh, p->pins, &phys, sizeof phys, x);
	if (!x) {
		x = calloc(1, sizeof *x);
		if (!x)
			pf_die("out of memory pinning a pool block of a mapping");
		x->phys = phys;
		HASH_ADD(hh, p->pins, phys, sizeof x->phys, x);
		__atomic_add_fetch(&p->npins, 1, __ATOMIC_RELEASE);
	}
	x->count++;
	pthread_mutex_unlock(&p->lock);
}

void pf_pool_block_unpin(struct pf_pool *p, uint64_t phys)
{
	pthread_mutex_lock(&p->lock);
	struct pf_pin *x;
	HASH_FIND(hh, p->pins, &phys, sizeof phys, x);
	if (x && --x->count == 0) {
		if (x->freed) {
			pool_store64(p, &p->blocks[phys], PF_BLOCK_FREE);
			__atomic_add_fetch(&p->nfree, 1, __ATOMIC_RELAXED);
		}
		HASH_DEL(p->pins, x);
		free(x);
		__atomic_sub_fetch(&p->npins, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&p->lock);
}

/* Block phys is being freed: if a mapping still shows it, keep it out of the free state (RESERVED, which
 * recovery frees) until the last unpin, and say so. */
static int defer_free(struct pf_pool *p, uint64_t phys)
{
	if (!__atomic_load_n(&p->npins, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&p->lock);
	struct pf_pin *x;
	HASH_FIND(hh, p->pins, &phys, sizeof phys, x);
	if (x) {
		x->freed = 1;
		pool_store64(p, &p->blocks[phys], PF_BLOCK_RESERVED);
	}
	pthread_mutex_unlock(&p->lock);
	return x != NULL;
}

/* Free record r: DYING, then its blocks (those of map, or with scan every block whose entry names r), then
 * FREE, each step committed. */
static void rec_free(struct pf_pool *p, uint32_t r, const uint32_t *map, uint64_t maplen, int scan)
{
	writing(p);
	struct pf_pool_record *rec = &p->recs[r];
	pool_store64(p, &rec->state_w, word32(p, r, PF_CK_STATE, PF_REC_DYING)); /* commit point: no pool bytes */
	pf_pool_rec_sync(p, r); /* durable before its blocks can be reused, on a non-PMem fast tier too */
	PF_FAULT("pool.rec.dying");
	uint64_t n = 0;
	for (uint64_t i = 0; i < (scan ? p->nblocks : maplen); i++) {
		uint64_t b;
		if (scan) {
			uint32_t er, ei;
			if (pf_pool_entry(p, i, &er, &ei) != PF_ENT_OWNED || er != r)
				continue;
			b = i;
		} else if (map[i]) {
			b = map[i] - 1;
		} else {
			continue;
		}
		if (defer_free(p, b))
			continue; /* a mapping still shows it: free at its last unpin */
		pool_store64(p, &p->blocks[b], PF_BLOCK_FREE);
		PF_FAULT("pool.rec.clearing");
		n++;
	}
	pool_store64(p, &rec->state_w, PF_REC_FREE);
	PF_FAULT("pool.rec.freed");
	pthread_mutex_lock(&p->lock);
	__atomic_add_fetch(&p->nfree, n, __ATOMIC_RELAXED);
	if (p->free_recs) /* a tool's pool is not loaded: no free list */
		p->free_recs[p->nfree_recs++] = r;
	pthread_mutex_unlock(&p->lock);
}

void pf_pool_rec_free(struct pf_pool *p, uint32_t r, const uint32_t *map, uint64_t maplen)
{
	rec_free(p, r, map, maplen, 0);
}

void pf_pool_rec_free_all(struct pf_pool *p, uint32_t r)
{
	rec_free(p, r, NULL, 0, 1);
}

void pf_pool_rec_set_path(struct pf_pool *p, uint32_t r, const char *path)
{
	if (p->readonly)
		return;
	writing(p);
	struct pf_pool_record *rec = &p->recs[r];
	size_t n = strlen(path);
	if (n > PF_REC2_PATH_CAP)
		path += n - PF_REC2_PATH_CAP, n = PF_REC2_PATH_CAP; /* keep the tail: partition and segment */
	pool_store64(p, &rec->path_sum, 0);
	PF_FAULT("pool.rec.path");
	memcpy(rec->path, path, n);
	rec->path_len = (uint32_t)n;
	pf_pool_commit(p, rec->path, PF_REC2_PATH_CAP);
	pool_store64(p, &rec->path_sum, pf_fnv1a(rec->path, n));
}

int64_t pf_pool_block_reserve(struct pf_pool *p, int64_t hint)
{
	pthread_mutex_lock(&p->lock);
	int64_t b = -1;
	if (__atomic_load_n(&p->nfree, __ATOMIC_RELAXED) > 0) {
		if (hint >= 0 && (uint64_t)hint < p->nblocks &&
		    __atomic_load_n(&p->blocks[hint], __ATOMIC_RELAXED) == PF_BLOCK_FREE) {
			b = hint;
		} else {
			for (uint64_t k = 0; k < p->nblocks; k++) {
				uint64_t c = (p->cursor + k) % p->nblocks;
				if (__atomic_load_n(&p->blocks[c], __ATOMIC_RELAXED) == PF_BLOCK_FREE) {
					b = (int64_t)c;
					break;
				}
			}
		}
	}
	if (b >= 0) {
		pool_store64(p, &p->blocks[b], PF_BLOCK_RESERVED);
		__atomic_sub_fetch(&p->nfree, 1, __ATOMIC_RELAXED);
		p->cursor = (uint64_t)b + 1;
	}
	pthread_mutex_unlock(&p->lock);
	if (b >= 0)
		PF_FAULT("pool.block.reserved");
	return b;
}

void pf_pool_block_publish(struct pf_pool *p, uint64_t phys, uint32_t rec, uint32_t idx)
{
	if (idx >= PF_MAX_FILE_BLOCKS || rec >= p->nrecords || phys >= p->nblocks)
		pf_die("pool %s: block %llu cannot hold block %u of record %u (a pool addresses %llu blocks per file): "
		       "stopping before the write returns, so nothing written is lost",
		       p->path, (unsigned long long)phys, idx, rec, (unsigned long long)PF_MAX_FILE_BLOCKS);
	writing(p);
	pool_store64(p, &p->blocks[phys], pf_entry2(p->salt, phys, rec, idx));
	PF_FAULT("pool.block.published");
}

void pf_pool_block_free(struct pf_pool *p, uint64_t phys)
{
	if (defer_free(p, phys))
		return;
	pool_store64(p, &p->blocks[phys], PF_BLOCK_FREE);
	PF_FAULT("pool.block.freed");
	pthread_mutex_lock(&p->lock);
	__atomic_add_fetch(&p->nfree, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->lock);
}

void pf_pool_usage(const struct pf_pool *p, uint64_t *live, uint64_t *used)
{
	uint64_t l = 0, u = 0;
	for (uint64_t r = 0; r < p->nrecords; r++)
		l += pool_state_of(p, (uint32_t)r) == PF_REC_LIVE;
	for (uint64_t b = 0; b < p->nblocks; b++)
		u += pool_ld64(&p->blocks[b]) != PF_BLOCK_FREE;
	*live = l;
	*used = u;
}

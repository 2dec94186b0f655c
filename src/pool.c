/*
 * pool.c - a libpafka pool file (see pool.h and pool_format.h for the layout and the commit rules).
 *
 * Creation is atomic: the file is built as pafka.pool.new (space reserved with posix_fallocate, so a
 * later store into the mapping can never hit ENOSPC/SIGBUS), its header written with the magic last,
 * then renamed into place. Opening validates the header, takes an OFD write lock (one writer process per
 * pool; OFD locks are not dropped when libpmem closes its own descriptor), maps it with pmem_map_file and
 * runs recovery: half-freed records are finished, reserved or stale blocks are freed, and anything that
 * cannot happen under the protocol stops the process rather than guess.
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
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fault.h"
#include "log.h"
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
static int layout(struct pf_pool_header *h, uint64_t size, uint64_t bsize)
{
	uint64_t est = size / bsize;
	uint64_t nrec = est * 2;
	if (nrec < 1024)
		nrec = 1024;
	if (nrec > (1u << 20))
		nrec = 1u << 20;
	uint64_t fixed = PF_HEADER_SIZE + nrec * PF_RECORD_SIZE;
	if (size <= fixed + 16 * (bsize + 8))
		return -1;
	uint64_t nb = (size - fixed) / (bsize + 8);
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

static int create_pool(const char *dir, const char *path, uint64_t size, uint64_t bsize, struct pf_err *err)
{
	/* A name of our own for the half-built file, installed with RENAME_NOREPLACE: two processes racing
	 * to create the pool can never replace one that the other already holds. */
	char tmp[PATH_MAX];
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd = (uint32_t)getpid();
	if (snprintf(tmp, sizeof tmp, "%s.new.%d.%08x", path, (int)getpid(), rnd) >= (int)sizeof tmp)
		return ERR("pool path %s is too long", path);
	struct pf_pool_header h;
	memset(&h, 0, sizeof h);
	if (layout(&h, size, bsize) < 0)
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

	int fd = REAL(open)(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return ERR("cannot create pool file %s: %s", tmp, strerror(errno));
	int e = REAL(posix_fallocate)(fd, 0, (off_t)size);
	if (e) {
		REAL(close)(fd);
		REAL(unlink)(tmp);
		return ERR("cannot reserve %llu bytes for the pool in %s: %s (lower storage.tiers.first.sizes)",
			   (unsigned long long)size, dir, strerror(e));
	}
	uint64_t magic = PF_POOL_MAGIC;
	if (pf_pwrite_all(fd, &h, sizeof h, 0) < 0 || REAL(fsync)(fd) < 0 ||
	    pf_pwrite_all(fd, &magic, sizeof magic, 0) < 0 || REAL(fsync)(fd) < 0) {
		e = errno;
		REAL(close)(fd);
		REAL(unlink)(tmp);
		return ERR("cannot write pool file %s: %s", tmp, strerror(e));
	}
	REAL(close)(fd);
	if (REAL(renameat2)(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		e = errno;
		REAL(unlink)(tmp);
		if (e == EEXIST)
			return 0; /* another process created it first: open theirs (its lock decides who writes) */
		return ERR("cannot install pool file %s: %s", path, strerror(e));
	}
	if (pf_fsync_dir(dir) < 0)
		return ERR("cannot install pool file %s: %s", path, strerror(errno));
	pf_log(PF_LOG_INFO, "created pool %s: %llu MiB, %llu blocks of %llu KiB", path,
	       (unsigned long long)(size >> 20), (unsigned long long)h.nblocks, (unsigned long long)(bsize >> 10));
	return 0;
}

static int check_header(const struct pf_pool_header *h, uint64_t fsize, const char *path, struct pf_err *err)
{
	const char *fix = "move it away or run 'pafka fsck'; it may hold data of Kafka segments";
	if (h->magic != PF_POOL_MAGIC)
		return ERR("%s is not a libpafka pool (bad magic): %s", path, fix);
	if (h->version != PF_POOL_VERSION)
		return ERR("%s has pool format version %u, this libpafka reads %u: use a matching libpafka", path,
			   h->version, PF_POOL_VERSION);
	if (h->checksum != header_sum(h))
		return ERR("%s: pool header checksum mismatch (corrupt header): %s", path, fix);
	if (h->pool_size != fsize || !pf_valid_block_size(h->block_size) ||
	    h->rec_off != PF_HEADER_SIZE || h->blk_off != h->rec_off + h->nrecords * PF_RECORD_SIZE ||
	    h->data_off < h->blk_off + h->nblocks * 8 || h->data_off + h->nblocks * h->block_size > fsize)
		return ERR("%s: pool geometry does not match the file (size %llu): %s", path,
			   (unsigned long long)fsize, fix);
	return 0;
}

int pf_pool_open(struct pf_pool *p, int index, const char *dir, int64_t size, double ratio,
		 uint64_t block_size, int readonly, struct pf_err *err)
{
	memset(p, 0, sizeof *p);
	p->fd = -1;
	p->index = index;
	p->readonly = readonly;
	pthread_mutex_init(&p->lock, NULL);
	if (snprintf(p->dir, sizeof p->dir, "%s", dir) >= (int)sizeof p->dir ||
	    snprintf(p->path, sizeof p->path, "%s/%s", dir, PF_POOL_FILE) >= (int)sizeof p->path)
		return ERR("pool directory %s: path too long", dir);

	struct stat st;
	if (REAL(lstat)(p->path, &st) < 0) {
		if (errno != ENOENT)
			return ERR("cannot stat pool %s: %s", p->path, strerror(errno));
		if (readonly)
			return ERR("no pool at %s", p->path);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return ERR("cannot create pool directory %s (storage.tiers.first.paths): %s", dir,
				   strerror(errno));
		uint64_t want;
		if (size < 0) {
			struct statvfs vfs;
			if (statvfs(dir, &vfs) < 0)
				return ERR("cannot read free space of %s: %s", dir, strerror(errno));
			want = (uint64_t)((double)vfs.f_bavail * (double)vfs.f_frsize * ratio);
		} else {
			want = (uint64_t)size;
		}
		want &= ~(block_size - 1);
		if (create_pool(dir, p->path, want, block_size, err) < 0)
			return -1;
	} else if (S_ISLNK(st.st_mode)) {
		return ERR("pool %s is a symbolic link: refusing to follow it (point storage.tiers.first.paths at the real directory)",
			   p->path);
	} else if (!S_ISREG(st.st_mode)) {
		return ERR("pool %s is not a regular file", p->path);
	}

	p->fd = pf_fd_hide(REAL(open)(p->path, (readonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW | O_CLOEXEC));
	if (p->fd < 0)
		return ERR("cannot open pool %s: %s", p->path, strerror(errno));
	if (!readonly) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		if (REAL(fcntl)(p->fd, F_OFD_SETLK, &fl) < 0) {
			int e = errno;
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
	if (REAL(fstat)(p->fd, &st) < 0 || REAL(pread)(p->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
		pf_pool_close(p);
		return ERR("cannot read pool header of %s (file too short or unreadable)", p->path);
	}
	if (check_header(&h, (uint64_t)st.st_size, p->path, err) < 0) {
		pf_pool_close(p);
		return -1;
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
		size_t len = 0;
		int is_pmem = 0;
		p->base = pmem_map_file(p->path, 0, 0, 0, &len, &is_pmem);
		if (!p->base) {
			pf_pool_close(p);
			return ERR("cannot map pool %s: %s", p->path, pmem_errormsg());
		}
		p->len = len;
		p->is_pmem = is_pmem;
		/* pmem_map_file opened the path again: make sure it mapped the file we locked. */
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

static void store64(const struct pf_pool *p, uint64_t *field, uint64_t v)
{
	if (p->readonly)
		return; /* a read-only attach never writes (its mapping is PROT_READ) */
	__atomic_store_n(field, v, __ATOMIC_RELEASE);
	pf_pool_commit(p, field, sizeof *field);
}

int pf_pool_load(struct pf_pool *p, pf_pool_rec_cb cb, void *arg, struct pf_err *err)
{
	const char *fix = "run 'pafka fsck' on it; libpafka will not guess with segment data at stake";
	uint64_t *maxidx = calloc(p->nrecords, sizeof *maxidx); /* 1 + highest block index per record */
	p->free_recs = malloc(p->nrecords * sizeof *p->free_recs);
	if (!maxidx || !p->free_recs) {
		free(maxidx);
		return ERR("out of memory loading pool %s", p->path);
	}
	/* Records: finish frees that a crash interrupted (their blocks are cleared below). */
	for (uint64_t r = 0; r < p->nrecords; r++) {
		uint64_t s = p->recs[r].state;
		if (s != PF_REC_FREE && s != PF_REC_LIVE && s != PF_REC_DYING && !p->readonly) {
			free(maxidx);
			return ERR("%s: record %llu has invalid state %llu: %s", p->path, (unsigned long long)r,
				   (unsigned long long)s, fix);
		}
	}
	/* Blocks: free reserved ones, those of dying records and stale ones outside [lo, hi). */
	uint64_t used = 0;
	for (uint64_t b = 0; b < p->nblocks; b++) {
		uint64_t e = p->blocks[b];
		if (e == PF_BLOCK_FREE)
			continue;
		if (e == PF_BLOCK_RESERVED) {
			store64(p, &p->blocks[b], PF_BLOCK_FREE);
			continue;
		}
		uint64_t r = PF_ENTRY_REC(e), i = PF_ENTRY_IDX(e);
		if (p->readonly && (r >= p->nrecords || p->recs[r].state != PF_REC_LIVE))
			continue; /* the writer is changing it under us: not ours to judge */
		if (r >= p->nrecords || p->recs[r].state == PF_REC_FREE) {
			free(maxidx);
			return ERR("%s: block %llu belongs to record %llu, which is not in use: %s", p->path,
				   (unsigned long long)b, (unsigned long long)r, fix);
		}
		if (p->recs[r].state == PF_REC_DYING || i < p->recs[r].lo || i >= p->recs[r].hi) {
			store64(p, &p->blocks[b], PF_BLOCK_FREE);
			continue;
		}
		if (i + 1 > maxidx[r])
			maxidx[r] = i + 1;
		used++;
	}
	for (uint64_t r = 0; r < p->nrecords; r++)
		if (p->recs[r].state == PF_REC_DYING)
			store64(p, &p->recs[r].state, PF_REC_FREE);
	uint32_t **maps = calloc(p->nrecords, sizeof *maps);
	if (!maps) {
		free(maxidx);
		return ERR("out of memory loading pool %s", p->path);
	}
	int rc = 0;
	for (uint64_t r = 0; r < p->nrecords && rc == 0; r++)
		if (p->recs[r].state == PF_REC_LIVE && maxidx[r] && !(maps[r] = calloc(maxidx[r], sizeof **maps)))
			rc = ERR("out of memory loading pool %s", p->path);
	for (uint64_t b = 0; b < p->nblocks && rc == 0; b++) {
		uint64_t e = p->blocks[b];
		if (e == PF_BLOCK_FREE)
			continue;
		uint64_t r = PF_ENTRY_REC(e), i = PF_ENTRY_IDX(e);
		if (e == PF_BLOCK_RESERVED || r >= p->nrecords || !maps[r] || i >= maxidx[r])
			continue; /* only possible read-only: changed since the first pass */
		if (p->readonly && (p->recs[r].state != PF_REC_LIVE || i < p->recs[r].lo || i >= p->recs[r].hi))
			continue;
		if (maps[r][i] && p->readonly)
			continue;
		if (maps[r][i])
			rc = ERR("%s: blocks %u and %llu both hold block %llu of record %llu: %s", p->path,
				 maps[r][i] - 1, (unsigned long long)b, (unsigned long long)i, (unsigned long long)r,
				 fix);
		else
			maps[r][i] = (uint32_t)b + 1;
	}
	p->nfree = p->nblocks - used;
	p->nfree_recs = 0;
	for (uint64_t r = p->nrecords; r-- > 0;)
		if (p->recs[r].state == PF_REC_FREE)
			p->free_recs[p->nfree_recs++] = (uint32_t)r;
	for (uint64_t r = 0; r < p->nrecords; r++) {
		if (p->recs[r].state != PF_REC_LIVE) {
			free(maps[r]);
			continue;
		}
		if (rc != 0)
			free(maps[r]);
		else if (cb(arg, p, (uint32_t)r, maps[r], maxidx[r]) != 0) /* cb owns maps[r] */
			rc = ERR("%s: cannot load record %llu (see the message above)", p->path, (unsigned long long)r);
	}
	free(maps);
	free(maxidx);
	if (rc == 0 && !p->readonly && pf_pool_sync_meta(p) < 0)
		rc = ERR("cannot sync pool %s: %s", p->path, strerror(errno));
	return rc;
}

int64_t pf_pool_rec_alloc(struct pf_pool *p, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec,
			  uint64_t lo, const char *path)
{
	pthread_mutex_lock(&p->lock);
	if (p->nfree_recs == 0) {
		pthread_mutex_unlock(&p->lock);
		return -1;
	}
	uint32_t r = p->free_recs[--p->nfree_recs];
	struct pf_pool_record *rec = &p->recs[r];
	uint64_t seq = p->hdr->next_seq;
	store64(p, &p->hdr->next_seq, seq + 1);
	pthread_mutex_unlock(&p->lock);
	rec->ino = ino;
	rec->btime_sec = btime_sec;
	rec->btime_nsec = btime_nsec;
	rec->lo = lo;
	rec->hi = PF_HI_NONE;
	rec->seq = seq;
	rec->size_hint = 0;
	rec->flags = 0;
	pf_pool_rec_set_path(p, r, path);
	pf_pool_commit(p, rec, sizeof *rec);
	PF_FAULT("pool.rec.filled");
	store64(p, &rec->state, PF_REC_LIVE); /* commit point: the record exists */
	PF_FAULT("pool.rec.live");
	return r;
}

void pf_pool_rec_free(struct pf_pool *p, uint32_t r, const uint32_t *map, uint64_t maplen)
{
	struct pf_pool_record *rec = &p->recs[r];
	store64(p, &rec->state, PF_REC_DYING); /* commit point: the file no longer has pool bytes */
	PF_FAULT("pool.rec.dying");
	uint64_t n = 0;
	for (uint64_t i = 0; i < maplen; i++)
		if (map[i]) {
			store64(p, &p->blocks[map[i] - 1], PF_BLOCK_FREE);
			PF_FAULT("pool.rec.clearing");
			n++;
		}
	store64(p, &rec->state, PF_REC_FREE);
	PF_FAULT("pool.rec.freed");
	pthread_mutex_lock(&p->lock);
	__atomic_add_fetch(&p->nfree, n, __ATOMIC_RELAXED);
	p->free_recs[p->nfree_recs++] = r;
	pthread_mutex_unlock(&p->lock);
}

void pf_pool_rec_set_path(struct pf_pool *p, uint32_t r, const char *path)
{
	struct pf_pool_record *rec = &p->recs[r];
	size_t n = strlen(path);
	if (n > PF_PATH_MAX_REC)
		path += n - PF_PATH_MAX_REC, n = PF_PATH_MAX_REC; /* keep the tail: partition and segment */
	store64(p, &rec->path_sum, 0);
	PF_FAULT("pool.rec.path");
	memcpy(rec->path, path, n);
	rec->path_len = (uint32_t)n;
	pf_pool_commit(p, rec->path, PF_PATH_MAX_REC);
	store64(p, &rec->path_sum, pf_fnv1a(rec->path, n));
}

int pf_pool_rec_get(const struct pf_pool *p, uint32_t r, struct pf_rec_view *out)
{
	const struct pf_pool_record *rec = &p->recs[r];
	out->state = __atomic_load_n(&rec->state, __ATOMIC_ACQUIRE);
	out->ino = rec->ino;
	out->btime_sec = rec->btime_sec;
	out->btime_nsec = rec->btime_nsec;
	out->seq = rec->seq;
	out->lo = __atomic_load_n(&rec->lo, __ATOMIC_ACQUIRE);
	out->hi = __atomic_load_n(&rec->hi, __ATOMIC_ACQUIRE);
	out->flags = __atomic_load_n(&rec->flags, __ATOMIC_ACQUIRE);
	out->size_hint = __atomic_load_n(&rec->size_hint, __ATOMIC_RELAXED);
	return out->state <= PF_REC_DYING ? 0 : -1;
}

uint64_t pf_pool_rec_state(const struct pf_pool *p, uint32_t r)
{
	return __atomic_load_n(&p->recs[r].state, __ATOMIC_ACQUIRE);
}

uint64_t pf_pool_rec_flags(const struct pf_pool *p, uint32_t r)
{
	return __atomic_load_n(&p->recs[r].flags, __ATOMIC_ACQUIRE);
}

uint64_t pf_pool_rec_seq(const struct pf_pool *p, uint32_t r)
{
	return p->recs[r].seq;
}

uint64_t pf_pool_rec_size_hint(const struct pf_pool *p, uint32_t r)
{
	return __atomic_load_n(&p->recs[r].size_hint, __ATOMIC_RELAXED);
}

void pf_pool_rec_set_lo(struct pf_pool *p, uint32_t r, uint64_t lo)
{
	store64(p, &p->recs[r].lo, lo);
}

void pf_pool_rec_set_hi(struct pf_pool *p, uint32_t r, uint64_t hi)
{
	store64(p, &p->recs[r].hi, hi);
}

void pf_pool_rec_set_flags(struct pf_pool *p, uint32_t r, uint64_t flags)
{
	store64(p, &p->recs[r].flags, flags);
}

void pf_pool_rec_set_size_hint(struct pf_pool *p, uint32_t r, uint64_t size)
{
	if (!p->readonly)
		__atomic_store_n(&p->recs[r].size_hint, size, __ATOMIC_RELAXED); /* for tools only: not committed */
}

enum pf_entry_kind pf_pool_entry(const struct pf_pool *p, uint64_t phys, uint32_t *rec, uint32_t *idx)
{
	uint64_t e = __atomic_load_n(&p->blocks[phys], __ATOMIC_ACQUIRE);
	if (e == PF_BLOCK_FREE)
		return PF_ENT_FREE;
	if (e == PF_BLOCK_RESERVED)
		return PF_ENT_RESERVED;
	*rec = PF_ENTRY_REC(e);
	*idx = PF_ENTRY_IDX(e);
	return *rec < p->nrecords ? PF_ENT_OWNED : PF_ENT_CORRUPT;
}

int pf_pool_rec_path(const struct pf_pool_record *r, char out[PF_PATH_MAX_REC + 1])
{
	out[0] = '\0';
	uint32_t n = r->path_len;
	if (n > PF_PATH_MAX_REC || r->path_sum != pf_fnv1a(r->path, n))
		return -1;
	memcpy(out, r->path, n);
	out[n] = '\0';
	return n > 0;
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
		store64(p, &p->blocks[b], PF_BLOCK_RESERVED);
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
	store64(p, &p->blocks[phys], PF_ENTRY(rec, idx));
	PF_FAULT("pool.block.published");
}

void pf_pool_block_free(struct pf_pool *p, uint64_t phys)
{
	store64(p, &p->blocks[phys], PF_BLOCK_FREE);
	PF_FAULT("pool.block.freed");
	pthread_mutex_lock(&p->lock);
	__atomic_add_fetch(&p->nfree, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&p->lock);
}

void pf_pool_usage(const struct pf_pool *p, uint64_t *live, uint64_t *used)
{
	uint64_t l = 0, u = 0;
	for (uint64_t r = 0; r < p->nrecords; r++)
		l += p->recs[r].state == PF_REC_LIVE;
	for (uint64_t b = 0; b < p->nblocks; b++)
		u += p->blocks[b] != PF_BLOCK_FREE;
	*live = l;
	*used = u;
}

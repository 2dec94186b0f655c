/*
 * io.c - the data operations on a managed descriptor: read, write, lseek (SEEK_DATA/SEEK_HOLE), truncate,
 * fallocate, fsync and sync_file_range (see file.h). Each takes the file's locks (file_impl.h), finds
 * where the bytes live (placement.c) and serves them from the pool, the real file or zeros, with the
 * kernel's results and errno.
 *
 * INVARIANT: f->size equals the kernel's size of the real file after every call that can change it, in
 * whichever branch the call takes (pool placement, or handed to the kernel): growth decisions, the window
 * of a new record and the next size publication are all taken from it, so a stale value would shrink the
 * real file or misplace bytes.
 *
 * Owns: nothing beyond the call. May call: placement.c, moves.c, iovcur.c, tier.h, pool.h, paths.h, fault.h,
 * sys.h, real.h. Owns also: the free space last seen of each log dir's file system (room_seen).
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fault.h"
#include "iovcur.h"
#include "paths.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

int offset_of(int fd, uint64_t *pos)
{
	off_t cur = REAL(lseek)(fd, 0, SEEK_CUR);
	if (cur < 0)
		return -1;
	*pos = (uint64_t)cur;
	return 0;
}


/* ---------------------------------------------------------------- read */

/* Copy [pos, end) of f into the cursor from wherever each piece lives. Returns the bytes copied, or -1
 * when the first piece failed. Read lock held. */
static ssize_t read_placed(struct pf_file *f, int fd, struct cur *c, uint64_t pos, uint64_t end)
{
	uint64_t done = 0;
	int rfd = file_rfd(f, fd);
	while (pos + done < end) {
		uint64_t len;
		char *ptr = NULL;
		enum seg_kind k = seg_at(f, pos + done, end, &len, &ptr);
		if (k == SEG_POOL) {
			cur_fill(c, ptr, len);
			pf_stat_add(PF_STAT_BYTES_READ, PF_TIER_POOL, len);
		} else if (k == SEG_ZERO) {
			cur_fill(c, NULL, len);
		} else {
			ssize_t r = cur_real_io(c, rfd, 0, len, pos + done, NULL);
			if (r < 0)
				return done ? (ssize_t)done : -1;
			done += (uint64_t)r;
			pf_stat_add(PF_STAT_BYTES_READ, PF_TIER_SLOW, (uint64_t)r);
			if (r == 0)
				break;
			continue;
		}
		done += len;
	}
	return (ssize_t)done;
}

static ssize_t io_read(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio(); /* its pool metadata fails its integrity check */
		return -1;
	}
	ssize_t total = io_check(o, O_WRONLY, iov, cnt, off, rwf);
	if (total < 0)
		return -1;
	int fpos = off == -1, ro = pf_tier_readonly();
	int took = fpos ? pos_lock(f) : 0;
	if (ro) {
		pthread_rwlock_wrlock(&f->lock);
		ro_refresh(f, fd);
	} else {
		pthread_rwlock_rdlock(&f->lock);
	}
	ssize_t ret;
	uint64_t pos = (uint64_t)off;
	int attempts = 0;
	if (f->broken) {
		file_eio();
		ret = -1;
		goto out;
	}
	if (f->rec < 0) {
		ret = REAL(preadv64v2)(fd, iov, cnt, off, rwf);
		if (ret > 0)
			pf_stat_add(PF_STAT_BYTES_READ, PF_TIER_SLOW, (uint64_t)ret);
		goto out;
	}
	if (fpos && offset_of(fd, &pos) < 0) {
		ret = -1;
		goto out;
	}
	for (;;) {
		uint64_t end = pos >= f->size ? pos : pf_min64(f->size, pos + (uint64_t)total);
		struct cur c;
		cur_init(&c, iov, cnt);
		ret = read_placed(f, fd, &c, pos, end);
		if (!ro || ret < 0 || ro_still_valid(f, pos, pos + (uint64_t)ret) || ++attempts >= 8)
			break;
		ro_refresh(f, fd); /* the broker moved something while we copied: read again */
	}
	if (fpos && ret > 0)
		REAL(lseek)(fd, (off_t)(pos + (uint64_t)ret), SEEK_SET);
out:
	pthread_rwlock_unlock(&f->lock);
	pos_unlock(f, took);
	return ret;
}

/* ---------------------------------------------------------------- write */

/* The kernel wrote ret bytes of a write it was handed in full (the file has no pool bytes to place):
 * bring f->size up to what the kernel now has. append: at its end of file; fpos: at the descriptor's
 * offset, which has moved past the bytes; else at off. Write lock held. */
static void note_kernel_write(struct pf_file *f, int fd, int append, int fpos, off_t off, ssize_t ret)
{
	if (ret <= 0)
		return;
	uint64_t end;
	if (append) {
		end = f->size + (uint64_t)ret;
	} else if (fpos) {
		int e = errno;
		off_t cur = REAL(lseek)(fd, 0, SEEK_CUR);
		errno = e;
		end = cur < 0 ? f->size : (uint64_t)cur;
	} else {
		end = (uint64_t)off + (uint64_t)ret;
	}
	if (end > f->size)
		f->size = end;
}

/* The size after a successful fallocate of [off, off + len) done by the kernel on the real file, as the
 * kernel defines it (computed, not asked for: an fstat that fails would leave a stale size behind).
 * Write lock held. */
static void fallocated_size(struct pf_file *f, int mode, uint64_t off, uint64_t len)
{
	if (mode & FALLOC_FL_COLLAPSE_RANGE)
		f->size = f->size > len ? f->size - len : 0;
	else if (mode & FALLOC_FL_INSERT_RANGE)
		f->size += len;
	else if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > f->size)
		f->size = off + len;
}

/* Make the real file exactly new_size long (growth only). Write lock held. */
static int publish_size(struct pf_file *f, int fd, uint64_t new_size)
{
	if (new_size <= f->size)
		return 0;
	if (REAL(ftruncate64)(file_rfd(f, fd), (off64_t)new_size) < 0)
		return -1;
	f->size = new_size;
	return 0;
}

/* How many more bytes would the real file's file system take (UINT64_MAX: plenty)? The kernel fails a write
 * that grows a file on a full file system with ENOSPC (or writes what fits), and Kafka takes the log dir
 * offline on it. Pool bytes go to that disk later (demotion, drain), and an index Kafka maps from it would
 * raise SIGBUS at its next store into a hole (tests/e2e/case-dirfail.sh lost acknowledged records so), so
 * a write that grows a pool-resident file answers as the kernel would on that disk. The free space of each
 * log dir's file system (by slot, paths.h) is asked of the kernel (fstatvfs) at most once a second while
 * more than ROOM_LOW is free, with the bytes grown since taken off, and at every growth below that. The
 * room is what an unprivileged process may use (f_bavail), for root too: f_bfree also counts blocks that
 * no data write gets (ext4 keeps a share for its own metadata), and a store into a mapping that finds only
 * those raises SIGBUS. The pool's bytes take no room there, so the last
 * ROOM_KEEP bytes are left to what the kernel itself allocates: the pages of the index files Kafka maps,
 * which must never meet a full disk (SIGBUS) before its appends have met ENOSPC. The disk then reads full
 * to the shim's appends while that much is still free. */
#define ROOM_LOW (256ULL << 20)
#define ROOM_KEEP (1ULL << 20)
static struct {
	uint64_t free;
	int64_t at_ms; /* when it was asked, 0: never */
} room_seen[PF_MAX_PATHS];

static uint64_t slow_tier_room(struct pf_file *f, int fd, uint64_t grow)
{
	int s = pf_path_logdir_slot(f->path);
	int64_t now = pf_mono_ms();
	if (s >= 0 && s < PF_MAX_PATHS) {
		int64_t at = __atomic_load_n(&room_seen[s].at_ms, __ATOMIC_RELAXED);
		if (at && now - at < 1000 && __atomic_load_n(&room_seen[s].free, __ATOMIC_RELAXED) >= ROOM_LOW + grow) {
			__atomic_fetch_sub(&room_seen[s].free, grow, __ATOMIC_RELAXED);
			return UINT64_MAX;
		}
	}
	struct statvfs v;
	int e = errno;
	if (fstatvfs(file_rfd(f, fd), &v) < 0) { /* not interposed: libc's own (as pool.c's) */
		errno = e;
		return UINT64_MAX; /* cannot tell: the write goes on, as before */
	}
	uint64_t room = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
	room = room > ROOM_KEEP ? room - ROOM_KEEP : 0;
	if (s >= 0 && s < PF_MAX_PATHS) {
		__atomic_store_n(&room_seen[s].free, room, __ATOMIC_RELAXED);
		__atomic_store_n(&room_seen[s].at_ms, now ? now : 1, __ATOMIC_RELAXED);
	}
	return room;
}

/* Write the cursor's bytes to [pos, pos + total) of a file with a record: pool blocks inside the window
 * (new ones reserved as needed, spilling when the pool is full), the real file outside it. Returns the
 * bytes written, or -1 when nothing was. Write lock held. */
static ssize_t write_placed(struct pf_file *f, int fd, int oflags, struct cur *c, uint64_t pos, uint64_t total)
{
	uint64_t done = 0, end = pos + total;
	int wfd = -2; /* taken at the first write to the real file */
	while (done < total) {
		uint64_t p = pos + done;
		uint64_t b = f->rec >= 0 ? p >> f->pool->bshift : 0;
		if (f->rec < 0 || b < f->lo || b >= f->hi) {
			uint64_t lim = f->rec >= 0 && b < f->lo ? pf_min64(end, blk_start(f, f->lo)) : end;
			uint64_t want;
			/* the size is committed after the bytes (write_publish): a crash in between leaves the real
			 * file longer than its durable size, and recovery cuts it back, as for a write that never
			 * returned; committed first, recovery would extend the file over bytes never written */
			if (wfd == -2 && (wfd = file_wfd(f, fd, oflags)) < 0)
				return done ? (ssize_t)done : -1;
			ssize_t w = cur_real_io(c, wfd, 1, lim - p, p, &want);
			if (w < 0)
				return done ? (ssize_t)done : -1;
			real_changed(f);
			done += (uint64_t)w;
			pf_stat_add(PF_STAT_BYTES_WRITTEN, PF_TIER_SLOW, (uint64_t)w);
			if (p + (uint64_t)w > f->size)
				f->size = p + (uint64_t)w;
			if ((uint64_t)w < want)
				break; /* the kernel wrote less (disk full, signal): report what was written */
			continue;
		}
		uint64_t boff = p & (f->pool->bsize - 1);
		uint64_t n = pf_min64(total - done, f->pool->bsize - boff);
		if (b < f->maplen && f->map[b]) {
			cur_copy_out(c, pf_pool_block_ptr(f->pool, f->map[b] - 1) + boff, n, f->pool);
			dirty_bytes(f, p, n);
		} else {
			int r = write_new_block(f, b, boff, n, c);
			if (r == 0 && spill(f, b) != 0 && materialise(f, file_wfd(f, fd, oflags)) < 0)
				r = -1;
			if (r < 0)
				return done ? (ssize_t)done : -1;
			if (r == 0)
				continue; /* now on the slow tier: the loop writes it there */
		}
		pf_stat_add(PF_STAT_BYTES_WRITTEN, PF_TIER_POOL, n);
		done += n;
	}
	if (f->rec >= 0)
		pf_pool_drain(f->pool); /* on PMem the written bytes are durable from here on */
	return (ssize_t)done;
}

/* After pool bytes were written to [pos, pos + done): publish the new size, or, for an overwrite inside
 * the file, its modification time (growth gets its times from the real ftruncate; Kafka's time retention
 * reads File.lastModified). Write lock held. */
static int write_publish(struct pf_file *f, int fd, uint64_t pos, uint64_t done)
{
	PF_FAULT("file.write.copied");
	uint64_t size_before = f->size;
	size_commit(f, pf_max64(f->size, pos + done)); /* the bytes are in, durable on PMem: now the size */
	if (publish_size(f, fd, pos + done) < 0) {
		int e = errno;
		size_commit(f, f->size); /* the real file did not grow: neither did the file */
		errno = e;
		return -1;
	}
	if (f->size == size_before && done > 0) {
		static const struct timespec now[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
		futimens(file_rfd(f, fd), now);
	}
	PF_FAULT("file.write.sized");
	return 0;
}

/* Does the real file's file system take buffered writes with RWF_NOWAIT? ext4 and tmpfs answer
 * EOPNOTSUPP, xfs takes them. The kernel's answer for a managed file is its real file's, so ask the kernel
 * once per file system, with a one-byte write to an unnamed file in the same directory. */
static int nowait_writes_refused(struct pf_file *f, int fd)
{
	static pthread_mutex_t nowait_lock = PTHREAD_MUTEX_INITIALIZER; /* a leaf lock */
	static struct {
		dev_t dev;
		int refused;
	} seen[16];
	static int nseen;
	struct stat st;
	if (REAL(fstat)(file_rfd(f, fd), &st) < 0)
		return 0;
	pthread_mutex_lock(&nowait_lock);
	for (int i = 0; i < nseen; i++)
		if (seen[i].dev == st.st_dev) {
			int r = seen[i].refused;
			pthread_mutex_unlock(&nowait_lock);
			return r;
		}
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", f->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	int refused = 0, e = errno;
	int t = slash ? REAL(open)(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600) : -1;
	if (t >= 0) {
		struct iovec one = { (void *)"", 1 };
		refused = REAL(pwritev2)(t, &one, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
		REAL(close)(t);
	}
	errno = e;
	if (nseen < 16) {
		seen[nseen].dev = st.st_dev;
		seen[nseen].refused = refused;
		nseen++;
	}
	pthread_mutex_unlock(&nowait_lock);
	return refused;
}

static ssize_t io_write(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio();
		return -1;
	}
	ssize_t total = io_check(o, O_RDONLY, iov, cnt, off, rwf);
	if (total < 0)
		return -1;
	if ((rwf & RWF_NOWAIT) && total > 0 && nowait_writes_refused(f, fd)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	int fpos = off == -1;
	/* RWF_NOAPPEND: this write ignores O_APPEND, at the given offset or at the file offset (Linux 6.9) */
	int append = ((o->flags & O_APPEND) || (rwf & RWF_APPEND)) && !(rwf & RWF_NOAPPEND);
	int took = fpos || append ? pos_lock(f) : 0;
	pthread_rwlock_wrlock(&f->lock);
	ssize_t ret;
	uint64_t pos;
again:
	pos = (uint64_t)off;
	if (f->rec < 0 && (f->pinned_real || !pf_tier_writable())) {
		file_changing(f);
		ret = REAL(pwritev64v2)(fd, iov, cnt, off, rwf); /* stays a plain file */
		note_kernel_write(f, fd, append, fpos, off, ret);
		if (ret > 0)
			pf_stat_add(PF_STAT_BYTES_WRITTEN, PF_TIER_SLOW, (uint64_t)ret);
		goto out;
	}
	if (append)
		pos = f->size;
	else if (fpos && offset_of(fd, &pos) < 0) {
		ret = -1;
		goto out;
	}
	if (lease_clear_locked(f, pos, pos + (uint64_t)total))
		goto again; /* a head move was copying those blocks (never an append's): look again */
	if (total == 0) {
		ret = 0;
		goto out;
	}
	if (f->rec < 0 && !ensure_record(f, fd)) {
		/* no room in the pool (no free block or record): the write goes to the slow tier */
		file_changing(f);
		ret = REAL(pwritev64v2)(fd, iov, cnt, off, rwf);
		note_kernel_write(f, fd, append, fpos, off, ret);
		if (ret > 0) {
			pf_stat_add(PF_STAT_BYTES_WRITTEN, PF_TIER_SLOW, (uint64_t)ret);
			pf_stat_add(PF_STAT_SPILLS, PF_TIER_NONE, 1);
		}
		goto out;
	}
	if (!pf_tier_is_writer()) {
		errno = EROFS; /* a fork child is not the pool's writer */
		ret = -1;
		goto out;
	}
	if (pos + (uint64_t)total > f->size) {
		/* a growth: as far as the log dir's disk would take it (the kernel writes what fits) */
		uint64_t grow = pos + (uint64_t)total - f->size, room = slow_tier_room(f, fd, grow);
		if (room < grow) {
			total = f->size + room > pos ? (ssize_t)(f->size + room - pos) : 0;
			if (total == 0) {
				errno = ENOSPC;
				ret = -1;
				goto out;
			}
		}
	}
	file_changing(f);
	if (pos > f->size)
		zero_owned(f, f->size, pos);
	struct cur c;
	cur_init(&c, iov, cnt);
	ret = write_placed(f, fd, o->flags, &c, pos, (uint64_t)total);
	if (ret > 0 && write_publish(f, fd, pos, (uint64_t)ret) < 0) {
		/* the size could not be published (the real ftruncate failed: disk full, quota): the write is as
		 * long as the file now is past pos, a short write as the kernel's, or it failed with that errno */
		ret = f->size > pos ? (ssize_t)(f->size - pos) : -1;
	}
	if (ret < 0)
		goto out;
	if (fpos)
		REAL(lseek)(fd, (off_t)(pos + (uint64_t)ret), SEEK_SET);
	if (((o->flags & (O_SYNC | O_DSYNC)) || (rwf & (RWF_SYNC | RWF_DSYNC))) &&
	    (durable_sync_locked(f) < 0 || durable_real_sync(f, fd, 1) < 0))
		ret = -1;
out:
	pthread_rwlock_unlock(&f->lock);
	pos_unlock(f, took);
	return ret;
}

/* ---------------------------------------------------------------- lseek */

/* SEEK_DATA / SEEK_HOLE: pool blocks are data, unowned blocks of the window are holes (the real file is a
 * hole there too), and the slow-tier part answers for itself. */
static off_t seek_data_hole(struct pf_file *f, int fd, uint64_t pos, int whence)
{
	int rfd = file_rfd(f, fd);
	while (pos < f->size) {
		uint64_t b = pos >> f->pool->bshift;
		uint64_t end;
		if (b < f->lo || b >= f->hi) {
			end = b < f->lo ? pf_min64(f->size, blk_start(f, f->lo)) : f->size;
			off_t r = REAL(lseek)(rfd, (off_t)pos, whence);
			if (r >= 0 && (uint64_t)r < end)
				return r;
			if (r < 0 && errno != ENXIO)
				return -1;
			if (whence == SEEK_HOLE && r >= 0 && end == f->size)
				return (off_t)f->size;
		} else {
			end = pf_min64(f->size, blk_start(f, b + 1));
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

static off_t io_lseek(struct pf_ofd *o, int fd, off_t off, int whence)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio();
		return -1;
	}
	/* the slow-tier part is asked through fd itself, which moves its offset: no other call that uses the
	 * offset runs meanwhile, and a failure puts it back */
	int took = pos_lock(f);
	pthread_rwlock_rdlock(&f->lock);
	off_t r;
	if (f->rec < 0) {
		r = REAL(lseek)(fd, off, whence);
	} else if ((uint64_t)off >= f->size) {
		errno = ENXIO; /* the kernel compares the offset as unsigned: negative ones land here too */
		r = -1;
	} else {
		off_t was = REAL(lseek)(fd, 0, SEEK_CUR);
		r = seek_data_hole(f, fd, (uint64_t)off, whence);
		if (r >= 0) {
			r = REAL(lseek)(fd, r, SEEK_SET);
		} else if (was >= 0) {
			int e = errno;
			REAL(lseek)(fd, was, SEEK_SET);
			errno = e;
		}
	}
	pthread_rwlock_unlock(&f->lock);
	pos_unlock(f, took);
	return r;
}

/* ---------------------------------------------------------------- truncate, fallocate */

int truncate_locked(struct pf_file *f, int fd, uint64_t len, int (*do_real)(void *), void *arg)
{
	while (lease_clear_locked(f, len, UINT64_MAX))
		; /* a head move must not copy blocks a shrink frees */
	if (f->rec < 0 && f->size == 0 && len > 0)
		ensure_record(f, fd); /* a preallocated segment (setLength) starts in the pool */
	file_changing(f);
	if (f->rec >= 0 && len > f->size)
		zero_owned(f, f->size, len); /* before the new size makes stale bytes visible */
	size_commit(f, len); /* before the real file changes: recovery makes the real file this long */
	if (do_real(arg) < 0) {
		int e = errno;
		size_commit(f, f->size); /* it did not change */
		errno = e;
		return -1;
	}
	PF_FAULT("file.truncate.real");
	if (len < f->size)
		real_changed(f); /* a shrink on disk is durable only through the real file's own fsync */
	if (f->rec >= 0 && len < f->size)
		map_free_blocks_from(f, (len + f->pool->bsize - 1) >> f->pool->bshift);
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

static int io_ftruncate(struct pf_ofd *o, int fd, off_t len)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio();
		return -1;
	}
	if (len < 0 || (o->flags & O_ACCMODE) == O_RDONLY)
		return REAL(ftruncate64)(fd, len); /* the kernel's own errno */
	if (!pf_tier_is_writer() && o->file->rec >= 0) {
		errno = EROFS;
		return -1;
	}
	pthread_rwlock_wrlock(&f->lock);
	struct ftrunc_arg a = { fd, len };
	int r = truncate_locked(f, fd, (uint64_t)len, do_ftruncate, &a);
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* Zero or punch [off, end) of a file with a record (write lock held). A growing ZERO_RANGE also zeroes the
 * pool bytes between the old end of file and off first: they are leftovers (of a shrink, or of a block's
 * earlier owner) that the new size would make visible. */
static int fallocate_zero(struct pf_file *f, int fd, int mode, uint64_t off, uint64_t end)
{
	int grows = !(mode & FALLOC_FL_KEEP_SIZE) && end > f->size;
	zero_owned(f, pf_min64(off, f->size), grows ? end : pf_min64(end, f->size));
	int r = REAL(fallocate64)(fd, mode, (off64_t)off, (off64_t)(end - off));
	if (r == 0 && (mode & FALLOC_FL_PUNCH_HOLE) && !__atomic_load_n(&f->nmaps, __ATOMIC_ACQUIRE)) {
		/* Whole blocks inside the range become holes again, after the real file is punched there
		 * (a window block without a pool block must read as zeros in the real file too). A mapped
		 * file keeps its zeroed blocks: the mapping shows them, and a store through it must land in
		 * the file, as with the kernel. */
		for (uint64_t b = (off + f->pool->bsize - 1) >> f->pool->bshift; blk_start(f, b + 1) <= end && b < f->maplen;
		     b++)
			if (f->map[b]) {
				pf_pool_block_free(f->pool, f->map[b] - 1);
				f->map[b] = 0;
			}
	}
	if (r == 0 && !(mode & FALLOC_FL_KEEP_SIZE) && end > f->size) {
		f->size = end;
		size_commit(f, end);
	}
	if (r == 0)
		real_changed(f); /* the kernel zeroed or punched the real file too */
	return r;
}

static int io_fallocate(struct pf_ofd *o, int fd, int mode, off_t off, off_t len)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio();
		return -1;
	}
	pthread_rwlock_wrlock(&f->lock);
	int r;
	if (f->rec < 0) {
		file_changing(f);
		r = REAL(fallocate64)(fd, mode, off, len);
		if (r == 0) {
			fallocated_size(f, mode, (uint64_t)off, (uint64_t)len);
			real_changed(f);
		}
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
	if (!pf_tier_is_writer()) {
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
			struct ftrunc_arg a = { file_rfd(f, fd), (off_t)end };
			r = truncate_locked(f, fd, end, do_ftruncate, &a);
		}
	} else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) || mode == FALLOC_FL_ZERO_RANGE ||
		   mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
		while (lease_clear_locked(f, (uint64_t)off, end))
			;
		r = f->rec >= 0 ? fallocate_zero(f, fd, mode, (uint64_t)off, end) : REAL(fallocate64)(fd, mode, off, len);
	} else {
		/* collapse/insert range shift bytes: let the kernel do it on a plain file */
		r = materialise(f, file_wfd(f, fd, o->flags));
		if (r == 0 && (r = REAL(fallocate64)(fd, mode, off, len)) == 0) {
			fallocated_size(f, mode, (uint64_t)off, (uint64_t)len);
			real_changed(f);
		}
	}
out:
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* ---------------------------------------------------------------- sync */

static int io_fsync(struct pf_ofd *o, int fd, int datasync)
{
	return durable_fsync(o->file, fd, datasync);
}

/* sync_file_range starts (or waits for) writeback of a range and promises nothing about metadata: the
 * pool part is persisted (what changed since the last sync), the kernel does the real file's part. */
static int io_sync_range(struct pf_ofd *o, int fd, off_t off, off_t n, unsigned flags)
{
	struct pf_file *f = o->file;
	if ((flags & SYNC_FILE_RANGE_WRITE) && off >= 0 && n >= 0) {
		durable_sync_begin(f);
		int r = durable_sync_pool(f);
		durable_sync_end(f);
		if (r < 0)
			return -1;
	}
	return REAL(sync_file_range)(fd, off, n, flags);
}

static int io_pin_real(struct pf_ofd *o, int fd)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio();
		return -1;
	}
	pthread_rwlock_wrlock(&f->lock);
	int r = materialise(f, file_wfd(f, fd, o->flags)); /* (-1: one through its path, for the move) */
	if (r == 0)
		f->pinned_real = 1;
	pthread_rwlock_unlock(&f->lock);
	return r;
}

/* ---------------------------------------------------------------- entry points
 *
 * Each uses the descriptor through pf_fd_use (table.c): the description held for the length of the call
 * (a concurrent close cannot free it), or, when fd was closed or changed hands meanwhile, whatever fd is at
 * that instant: a file the table knows through a description of its own, anything else through the kernel.
 * The call's errno survives the release. */
#define USE_CALL(type, call, kernel_call)              \
	do {                                           \
		struct pf_fd_use u_;                   \
		if (pf_fd_use(fd, o, &u_) < 0)         \
			return -1;                     \
		o = u_.o;                              \
		fd = u_.fd;                            \
		type r_ = o ? (call) : (kernel_call);  \
		pf_fd_use_end(&u_);                    \
		return r_;                             \
	} while (0)

ssize_t pf_io_read(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	USE_CALL(ssize_t, io_read(o, fd, iov, cnt, off, rwf), REAL(preadv64v2)(fd, iov, cnt, off, rwf));
}

ssize_t pf_io_write(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	USE_CALL(ssize_t, io_write(o, fd, iov, cnt, off, rwf), REAL(pwritev64v2)(fd, iov, cnt, off, rwf));
}

off_t pf_io_lseek(struct pf_ofd *o, int fd, off_t off, int whence)
{
	USE_CALL(off_t, io_lseek(o, fd, off, whence), REAL(lseek)(fd, off, whence));
}

int pf_io_ftruncate(struct pf_ofd *o, int fd, off_t len)
{
	USE_CALL(int, io_ftruncate(o, fd, len), REAL(ftruncate64)(fd, len));
}

int pf_io_fallocate(struct pf_ofd *o, int fd, int mode, off_t off, off_t len)
{
	USE_CALL(int, io_fallocate(o, fd, mode, off, len), REAL(fallocate64)(fd, mode, off, len));
}

int pf_io_fsync(struct pf_ofd *o, int fd, int datasync)
{
	USE_CALL(int, io_fsync(o, fd, datasync), datasync ? REAL(fdatasync)(fd) : REAL(fsync)(fd));
}

int pf_io_sync_range(struct pf_ofd *o, int fd, off_t off, off_t n, unsigned flags)
{
	USE_CALL(int, io_sync_range(o, fd, off, n, flags), REAL(sync_file_range)(fd, off, n, flags));
}

int pf_io_pin_real(struct pf_ofd *o, int fd)
{
	USE_CALL(int, io_pin_real(o, fd), 0);
}

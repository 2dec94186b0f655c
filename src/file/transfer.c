/*
 * transfer.c - sendfile, copy_file_range and splice where at least one end is a managed file (see file.h).
 *
 * Pool bytes never reach the kernel's zero-copy paths: a sendfile from pool memory is a write() from the
 * mapping (a kernel sendfile of the pool file would hand its pages to TCP, which can retransmit them after
 * a demotion has reused the block). Slow-tier bytes of a managed file going to an unmanaged descriptor
 * still use the kernel's sendfile. Every other copy goes through user space, in one helper,
 * copy_through(), with one bounce buffer size (PF_COPY_CHUNK).
 *
 * Owns: nothing beyond the call. May call: io.c (pf_io_read, pf_io_write), placement.c, fdtab.h, tier.h,
 * sys.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdtab.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

/* One end of a copy: a descriptor, its open description when it is managed (else NULL: the kernel's), and
 * the position to use (NULL: the descriptor's file offset). */
struct end {
	int fd;
	struct pf_ofd *o;
	off_t *pos;
};

static ssize_t end_read(const struct end *e, void *buf, size_t n, uint64_t done)
{
	off_t at = e->pos ? *e->pos + (off_t)done : -1;
	if (e->o) {
		struct iovec v = { buf, n };
		return pf_io_read(e->o, e->fd, &v, 1, at, 0);
	}
	return at < 0 ? REAL(read)(e->fd, buf, n) : REAL(pread64)(e->fd, buf, n, at);
}

static ssize_t end_write(const struct end *e, const void *buf, size_t n, uint64_t done)
{
	off_t at = e->pos ? *e->pos + (off_t)done : -1;
	if (e->o) {
		struct iovec v = { (void *)buf, n };
		return pf_io_write(e->o, e->fd, &v, 1, at, 0);
	}
	return at < 0 ? REAL(write)(e->fd, buf, n) : REAL(pwrite64)(e->fd, buf, n, at);
}

/* Copy up to len bytes from src to dst through a bounce buffer of at most chunk bytes. Given positions are
 * advanced by what moved; without one the descriptor's offset moves, and input that was read but not
 * written is given back (lseek), as the kernel never consumes more than it delivers. Stops at the end of
 * the input (a short read), at a short write, or after one chunk when once is set. Returns the bytes
 * moved, or -1 with errno when nothing moved. */
static ssize_t copy_through(const struct end *src, const struct end *dst, size_t len, size_t chunk, int once)
{
	chunk = pf_min64(chunk, len);
	char *buf = chunk ? malloc(chunk) : NULL;
	if (chunk && !buf) {
		errno = ENOMEM;
		return -1;
	}
	uint64_t done = 0;
	ssize_t ret = 0;
	while (done < len) {
		size_t n = pf_min64(chunk, len - done);
		ssize_t r = end_read(src, buf, n, done);
		if (r <= 0) {
			if (r < 0 && done == 0)
				ret = -1;
			break;
		}
		ssize_t w = end_write(dst, buf, (size_t)r, done);
		ssize_t kept = w < 0 ? 0 : w;
		if (!src->pos && kept < r) {
			int e = errno;
			REAL(lseek)(src->fd, -(off_t)(r - kept), SEEK_CUR);
			errno = e;
		}
		if (w < 0) {
			if (done == 0)
				ret = -1;
			break;
		}
		done += (uint64_t)w;
		if (w < r || (size_t)r < n || once)
			break;
	}
	free(buf);
	if (ret < 0)
		return -1;
	if (src->pos)
		*src->pos += (off_t)done;
	if (dst->pos)
		*dst->pos += (off_t)done;
	return (ssize_t)done;
}

/* ---------------------------------------------------------------- sendfile */

/* Send [pos, end) of the managed file f to out (not managed), piece by piece from where each piece lives.
 * Returns the bytes sent, or -1 when nothing was. Read lock held. */
static ssize_t send_placed(struct pf_file *f, int in, int out, uint64_t pos, uint64_t end)
{
	static const char zeros[65536];
	uint64_t done = 0;
	int rfd = file_rfd(f, in);
	while (pos + done < end) {
		uint64_t len;
		char *ptr = NULL;
		enum seg_kind k = seg_at(f, pos + done, end, &len, &ptr);
		ssize_t w;
		if (k == SEG_POOL) {
			w = REAL(write)(out, ptr, len); /* a copy: never the kernel's zero-copy path (see the top) */
		} else if (k == SEG_ZERO) {
			len = pf_min64(len, sizeof zeros);
			w = REAL(write)(out, zeros, len);
		} else {
			off64_t q = (off64_t)(pos + done);
			w = REAL(sendfile64)(out, rfd, &q, len);
		}
		if (w < 0)
			return done ? (ssize_t)done : -1;
		done += (uint64_t)w;
		pf_stat_add(PF_STAT_BYTES_SENT, k == SEG_REAL ? PF_TIER_SLOW : PF_TIER_POOL, (uint64_t)w);
		if ((uint64_t)w < len || w == 0)
			break;
	}
	return (ssize_t)done;
}

/* sendfile from a managed file to out; oo: out's description when it is managed too (resolved), else NULL. */
static ssize_t sendfile_from(int out, struct pf_ofd *oo, struct pf_ofd *o, int in, off_t *offp, size_t count)
{
	struct pf_file *f = o->file;
	if (f->broken) {
		file_eio();
		return -1;
	}
	if ((o->flags & O_ACCMODE) == O_WRONLY) {
		errno = EBADF;
		return -1;
	}
	if ((offp && *offp < 0) || (oo && oo->file == f)) {
		errno = EINVAL;
		return -1;
	}
	count = pf_min64(count, PF_MAX_RW_COUNT);
	/* in's offset lock, and out's with it when out is managed too (its write finds it held; see io.c) */
	int took = offp ? 0 : oo ? pos_lock_pair(f, oo->file) : pos_lock(f);
	ssize_t ret;
	if (oo) {
		/* Into another managed file: in's bytes are read and written in turn, and in's lock is never held
		 * while out's is taken (two sendfiles crossing between the same two files would each hold the lock
		 * the other one waits for). */
		uint64_t at = offp ? (uint64_t)*offp : 0;
		if (!offp && offset_of(in, &at) < 0) {
			ret = -1;
		} else {
			off_t q = (off_t)at;
			struct end src = { in, o, &q }, dst = { out, oo, NULL };
			ret = copy_through(&src, &dst, count, PF_COPY_CHUNK, 0);
			if (ret >= 0 && offp)
				*offp = q;
			else if (ret >= 0)
				REAL(lseek)(in, q, SEEK_SET);
		}
		pos_unlock_pair(f, oo->file, took);
		return ret;
	}
	if (pf_tier_readonly()) {
		pthread_rwlock_wrlock(&f->lock);
		ro_refresh(f, in);
	} else {
		pthread_rwlock_rdlock(&f->lock);
	}
	uint64_t pos = offp ? (uint64_t)*offp : 0;
	if (f->broken) {
		file_eio();
		ret = -1;
		goto out;
	}
	if (f->rec < 0) {
		ret = REAL(sendfile64)(out, in, offp, count);
		if (ret > 0)
			pf_stat_add(PF_STAT_BYTES_SENT, PF_TIER_SLOW, (uint64_t)ret);
		goto out;
	}
	if (!offp && offset_of(in, &pos) < 0) {
		ret = -1;
		goto out;
	}
	uint64_t size = f->size;
	struct stat st;
	if (f->rec < 0)
		size = REAL(fstat)(file_rfd(f, in), &st) == 0 ? (uint64_t)st.st_size : 0; /* (lseek would move in's offset) */
	uint64_t end = pos >= size ? pos : pf_min64(size, pos + count);
	ret = send_placed(f, in, out, pos, end);
	if (ret >= 0) {
		if (offp)
			*offp = (off_t)(pos + (uint64_t)ret);
		else
			REAL(lseek)(in, (off_t)(pos + (uint64_t)ret), SEEK_SET);
	}
out:
	pthread_rwlock_unlock(&f->lock);
	pos_unlock(f, took);
	return ret;
}

ssize_t pf_io_sendfile(int out, int in, off_t *offp, size_t count)
{
	struct pf_ofd *oi = pf_fd_lookup(in), *oo = pf_fd_lookup(out);
	if (oi) {
		struct pf_fd_use u;
		if (pf_fd_use(in, oi, &u) < 0)
			return -1;
		ssize_t r;
		if (!u.o) {
			r = REAL(sendfile64)(out, u.fd, offp, count);
		} else if (!oo) {
			r = sendfile_from(out, NULL, u.o, u.fd, offp, count);
		} else {
			/* out may be a number a managed file left (its entry says so until a call looks): what is it now */
			struct pf_fd_use uo;
			if (pf_fd_use(out, oo, &uo) < 0) {
				r = -1;
			} else {
				r = sendfile_from(uo.fd, uo.o, u.o, u.fd, offp, count);
				pf_fd_use_end(&uo);
			}
		}
		pf_fd_use_end(&u);
		return r;
	}
	if (!oo)
		return REAL(sendfile64)(out, in, offp, count);
	/* into a managed file, from anything else */
	struct end src = { in, NULL, offp }, dst = { out, oo, NULL };
	return copy_through(&src, &dst, pf_min64(count, PF_MAX_RW_COUNT), PF_COPY_CHUNK, 0);
}

/* ---------------------------------------------------------------- copy_file_range */

static int fd_flags(int fd, struct pf_ofd *o)
{
	return o && o != pf_ofd_tombstone() ? o->flags : REAL(fcntl)(fd, F_GETFL);
}

ssize_t pf_io_copy_file_range(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags)
{
	struct pf_ofd *oi = pf_fd_lookup(in), *oo = pf_fd_lookup(out);
	if (!oi && !oo)
		return REAL(copy_file_range)(in, off_in, out, off_out, len, flags);
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
		/* The same file: allowed unless the ranges overlap, as the kernel decides it: after shortening
		 * the copy to the input's end of file (st_size is exact for a managed file too). */
		off_t a = off_in ? *off_in : REAL(lseek)(in, 0, SEEK_CUR);
		off_t b = off_out ? *off_out : REAL(lseek)(out, 0, SEEK_CUR);
		if (a < 0 || b < 0)
			return -1;
		uint64_t count = (uint64_t)a >= (uint64_t)si.st_size ? 0 : pf_min64(len, (uint64_t)si.st_size - (uint64_t)a);
		if ((uint64_t)b + count > (uint64_t)a && (uint64_t)b < (uint64_t)a + count) {
			errno = EINVAL;
			return -1;
		}
	}
	struct end src = { in, oi, off_in }, dst = { out, oo, off_out };
	return copy_through(&src, &dst, len, PF_COPY_CHUNK, 0);
}

/* ---------------------------------------------------------------- splice */

ssize_t pf_io_splice(int in, off_t *off_in, int out, off_t *off_out, size_t len, unsigned flags)
{
	struct pf_ofd *oi = pf_fd_lookup(in), *oo = pf_fd_lookup(out);
	if (!oi && !oo)
		return REAL(splice)(in, off_in, out, off_out, len, flags);
	if (oi && oo) {
		errno = EINVAL; /* neither end is a pipe */
		return -1;
	}
	int pipe_fd = oi ? out : in;
	struct stat st;
	if (REAL(fstat)(pipe_fd, &st) < 0)
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
	/* One pipe's worth at most, as the kernel moves: more would block a writer whose reader is itself. */
	int cap = REAL(fcntl)(pipe_fd, F_GETPIPE_SZ);
	size_t chunk = cap > 0 ? (size_t)cap : 65536;
	struct end src = { in, oi, off_in }, dst = { out, oo, off_out };
	return copy_through(&src, &dst, len, chunk, 1);
}

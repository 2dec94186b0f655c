/*
 * iovcur.c - the iovec cursor and the kernel's argument checks for reads and writes (see iovcur.h).
 *
 * Owns: nothing. May call: pool.h (the pool's copy into persistent memory), real.h, sys.h.
 */
#define _GNU_SOURCE
#include "iovcur.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include "file_impl.h"
#include "pool.h"
#include "real.h"
#include "sys.h"

static void skip_empty(struct cur *c)
{
	while (c->i < c->cnt && c->iov[c->i].iov_len == c->off)
		c->i++, c->off = 0;
}

void cur_init(struct cur *c, const struct iovec *iov, int cnt)
{
	c->iov = iov;
	c->cnt = cnt;
	c->i = 0;
	c->off = 0;
	skip_empty(c);
}

/* The next piece of the cursor, at most n bytes; advances past it. */
static char *next_piece(struct cur *c, uint64_t n, size_t *k)
{
	*k = pf_min64(n, c->iov[c->i].iov_len - c->off);
	char *p = (char *)c->iov[c->i].iov_base + c->off;
	c->off += *k;
	if (c->off == c->iov[c->i].iov_len)
		c->i++, c->off = 0;
	return p;
}

void cur_copy_out(struct cur *c, char *dst, uint64_t n, const struct pf_pool *p)
{
	while (n) {
		size_t k;
		const char *src = next_piece(c, n, &k);
		if (p)
			pf_pool_copy_nodrain(p, dst, src, k); /* the caller drains before it publishes */
		else
			memcpy(dst, src, k);
		dst += k;
		n -= k;
	}
}

void cur_fill(struct cur *c, const char *src, uint64_t n)
{
	while (n) {
		size_t k;
		char *dst = next_piece(c, n, &k);
		if (src) {
			memcpy(dst, src, k);
			src += k;
		} else {
			memset(dst, 0, k);
		}
		n -= k;
	}
}

static void cur_advance(struct cur *c, uint64_t n)
{
	while (n) {
		skip_empty(c);
		size_t k = pf_min64(n, c->iov[c->i].iov_len - c->off);
		n -= k;
		c->off += k;
	}
	skip_empty(c);
}

/* The next up-to-n bytes of the cursor as an iovec array (without advancing). */
static int cur_sub(const struct cur *c, uint64_t n, struct iovec *out, int max)
{
	int k = 0;
	size_t off = c->off;
	for (int i = c->i; i < c->cnt && n && k < max; i++, off = 0) {
		size_t len = pf_min64(n, c->iov[i].iov_len - off);
		if (!len)
			continue;
		out[k].iov_base = (char *)c->iov[i].iov_base + off;
		out[k].iov_len = len;
		n -= len;
		k++;
	}
	return k;
}

ssize_t cur_real_io(struct cur *c, int rfd, int writing, uint64_t len, uint64_t off, uint64_t *asked)
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

/* Total length as the kernel computes it: EINVAL for a bad count or a negative length, and a total capped
 * at PF_MAX_RW_COUNT. A capped total means absurd lengths: check the memory is there (msync answers ENOMEM
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
		if (n > PF_MAX_RW_COUNT - t)
			n = PF_MAX_RW_COUNT - t, capped = 1;
		t += n;
	}
	if (capped) {
		size_t left = t;
		for (int i = 0; i < cnt && left; i++) {
			size_t n = pf_min64(iov[i].iov_len, left);
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

ssize_t io_check(const struct pf_ofd *o, int wrong_mode, const struct iovec *iov, int cnt, off_t off, int rwf)
{
	if ((o->flags & O_ACCMODE) == wrong_mode) {
		errno = EBADF;
		return -1;
	}
	if (off < -1 || (rwf & ~RWF_KNOWN)) {
		errno = (rwf & ~RWF_KNOWN) ? EOPNOTSUPP : EINVAL;
		return -1;
	}
	if ((rwf & RWF_APPEND) && (rwf & RWF_NOAPPEND)) {
		errno = EINVAL;
		return -1;
	}
	return iov_total(iov, cnt);
}

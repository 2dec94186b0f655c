/*
 * iovcur.h - a cursor over an application's iovec array, used to copy its bytes to and from pool memory
 * and the real file piece by piece; and the checks the kernel makes on a read's or write's arguments
 * before doing anything.
 *
 * Owns: nothing. May call: real.h, sys.h.
 */
#ifndef PAFKA_IOVCUR_H
#define PAFKA_IOVCUR_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct pf_pool;
struct pf_ofd;

struct cur {
	const struct iovec *iov;
	int cnt, i;
	size_t off;
};

/* A cursor at the first non-empty byte of iov. */
void cur_init(struct cur *c, const struct iovec *iov, int cnt);
/* Copy the cursor's next n bytes to dst (into pool memory with the pool's copy when p is given). */
void cur_copy_out(struct cur *c, char *dst, uint64_t n, const struct pf_pool *p);
/* Fill the cursor's next n bytes from src, or with zeros when src is NULL. */
void cur_fill(struct cur *c, const char *src, uint64_t n);
/* The cursor's next len bytes to or from the real file at off, in one vectored call (up to 64 pieces).
 * Returns the call's result; on success the cursor has moved past what was transferred. *asked (if not
 * NULL) gets the length asked for, so a short write can be told apart. */
ssize_t cur_real_io(struct cur *c, int rfd, int writing, uint64_t len, uint64_t off, uint64_t *asked);

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020 /* Linux 6.9: ignore O_APPEND for this positioned write */
#endif
#define RWF_KNOWN (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND)

/* The checks the kernel makes before a read or write: access mode (a descriptor opened `wrong_mode` gets
 * EBADF), flags, offset, vector. Returns the total length (capped as the kernel caps it), or -1 with
 * errno. */
ssize_t io_check(const struct pf_ofd *o, int wrong_mode, const struct iovec *iov, int cnt, off_t off, int rwf);

#endif

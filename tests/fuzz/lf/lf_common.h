/*
 * lf_common.h - what the libFuzzer targets share (tests/fuzz/lf/lf_*.c; built and run by
 * tests/fuzz/libfuzz.sh with clang -fsanitize=fuzzer,address,undefined): a private scratch directory, and
 * the one way an input becomes a pool file.
 *
 * A pool input is one control byte and then the pool file's bytes as they are on disk (header, record
 * table, block table; the seeds are real pools cut at their data area). The control byte lets the fuzzer
 * get past the two checks that random bytes almost never pass, so that it reaches the ones behind them:
 *   bit 0: recompute the header checksum after the bytes are placed (else the bytes' own checksum stands);
 *   bit 1: extend the file (sparse) to the size its header claims, at most LF_POOL_MAX bytes, so a header
 *          whose geometry is consistent meets a file that is long enough.
 * Everything else is the fuzzer's.
 */
#ifndef PAFKA_LF_COMMON_H
#define PAFKA_LF_COMMON_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool_format.h"

#define LF_POOL_MAX (64ULL << 20)

/* Stop the run: one line on stderr saying what broke, then abort(), so that libFuzzer keeps the input. */
__attribute__((noreturn, format(printf, 1, 2))) static inline void lf_stop(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* A fresh directory of ours (0700) under $TMPDIR (or /dev/shm, or /tmp), made once per process; a
 * missing one stops the run, since every input would then test nothing. */
static inline const char *lf_scratch(const char *name)
{
	static char dir[256];
	if (dir[0])
		return dir;
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof dir, "%s/pafka-lf-%s.XXXXXX", base, name);
	if (!mkdtemp(dir))
		lf_stop("lf: cannot make a scratch directory under %s: %m", base);
	return dir;
}

/* Write pool input (d, n) as the file path (0600, replacing it). Returns 0, or -1 when the input is too
 * short to be a control byte and a header (nothing is written then: the input tests nothing). */
static inline int lf_write_pool(const char *path, const uint8_t *d, size_t n)
{
	if (n < 1 + sizeof(struct pf_pool_header))
		return -1;
	uint8_t ctl = d[0];
	d++, n--;
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		lf_stop("lf: cannot create %s: %m", path);
	struct pf_pool_header h;
	memcpy(&h, d, sizeof h);
	if (ctl & 1)
		h.checksum = pf_fnv1a(&h, offsetof(struct pf_pool_header, checksum));
	if (write(fd, &h, sizeof h) != (ssize_t)sizeof h ||
	    (n > sizeof h && write(fd, d + sizeof h, n - sizeof h) != (ssize_t)(n - sizeof h)))
		lf_stop("lf: cannot write %s: %m", path);
	if ((ctl & 2) && h.pool_size > n && h.pool_size <= LF_POOL_MAX && ftruncate(fd, (off_t)h.pool_size) < 0)
		lf_stop("lf: cannot extend %s: %m", path);
	close(fd);
	return 0;
}

#endif

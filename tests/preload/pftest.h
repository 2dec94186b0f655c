/*
 * pftest.h - shared helpers for the tests/preload programs (header only, static functions).
 *
 * Every program runs twice in spirit: under LD_PRELOAD=libpafka.so (tests/run-test.sh) and against the
 * plain kernel (PAFKA_TEST_LIB pointing at an empty .so). The assertions are the same both ways: the shim
 * must be invisible. Where possible an operation is done on a *managed* file
 * ($PAFKA_TEST_DIR/logs/<topic>/<name>) and on its *unmanaged twin* ($PAFKA_TEST_DIR/plain/<topic>/<name>,
 * same name, outside the log dir) and the results, errno values and contents are compared (TWIN()).
 * Pool residency checks (pftest_check_sparse ...) only run when the shim is active.
 *
 * Conventions: a failed check prints "FAIL <file>:<line>: ..." with the current step and errno and exits 1;
 * a test that cannot run prints why and exits 77. No sleeps for synchronisation; every loop is bounded;
 * alarm() turns a hang into a failure.
 */
#ifndef PFTEST_H
#define PFTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pool_format.h"

#define PFTEST_TIMEOUT 240 /* seconds; alarm() safety net against hangs, never used to synchronise */
#define PFTEST_SEG0 "00000000000000000000.log"
#define PFTEST_MIB (1024LL * 1024LL)
#define PFTEST_BLK 65536LL /* PAFKA_POOL_BLOCK_SIZE set by tests/lib.sh */

static char pftest_step_buf[1024] __attribute__((unused));
static const char *pftest_prog __attribute__((unused)) = "pftest";
static int pftest_argc __attribute__((unused));
static char **pftest_argv __attribute__((unused));

/* Describe what the program is doing now; printed with every failure (silently truncated). */
#define STEP(...) pftest_step(__VA_ARGS__)
__attribute__((format(printf, 1, 2)))
static inline void pftest_step(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pftest_step_buf, sizeof pftest_step_buf, fmt, ap);
	va_end(ap);
}

__attribute__((noreturn, format(printf, 5, 6)))
static inline void pftest_failf(const char *file, int line, const char *expr, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "FAIL %s:%d [%s pid %d] step \"%s\": %s%s%s (errno %d %s)\n", file, line, pftest_prog,
		(int)getpid(), pftest_step_buf, expr, msg[0] ? ": " : "", msg, err, err ? strerror(err) : "");
	fflush(stderr);
	exit(1);
}

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			pftest_failf(__FILE__, __LINE__, #cond, errno, "%s", ""); \
	} while (0)

#define CHECKF(cond, ...) \
	do { \
		if (!(cond)) { \
			int e_ = errno; \
			pftest_failf(__FILE__, __LINE__, #cond, e_, __VA_ARGS__); \
		} \
	} while (0)

/* a == b as long long, printing both values */
#define CHECK_EQ(a, b) \
	do { \
		long long a_ = (long long)(a), b_ = (long long)(b); \
		int e_ = errno; \
		if (a_ != b_) \
			pftest_failf(__FILE__, __LINE__, #a " == " #b, e_, "got %lld, expected %lld", a_, b_); \
	} while (0)

/* A call that must succeed (result != -1). Evaluates to the result. */
#define OK(expr) \
	({ \
		errno = 0; \
		long long r_ = (long long)(expr); \
		if (r_ == -1) \
			pftest_failf(__FILE__, __LINE__, #expr, errno, "failed (returned -1)"); \
		r_; \
	})

/* A call that must fail with -1 and errno == err. */
#define FAILS(expr, err) \
	do { \
		errno = 0; \
		long long r_ = (long long)(expr); \
		int e_ = errno; \
		if (r_ != -1 || e_ != (err)) \
			pftest_failf(__FILE__, __LINE__, #expr, e_, "expected -1 with errno %d (%s), got %lld", \
				     (err), strerror(err), r_); \
	} while (0)

static inline void pftest_same_check(const char *file, int line, const char *expr, long long rm, int em, long long rp,
			      int ep)
{
	if (rm != rp || (rm == -1 && em != ep))
		pftest_failf(file, line, expr, em,
			     "managed file gave %lld (errno %d %s), unmanaged twin gave %lld (errno %d %s)", rm, em,
			     rm == -1 ? strerror(em) : "-", rp, ep, rp == -1 ? strerror(ep) : "-");
}

/* Evaluate em (on the managed file) and ep (on the unmanaged twin); results and errno must agree. */
#define SAME(em, ep) \
	({ \
		errno = 0; \
		long long r_m_ = (long long)(em); \
		int e_m_ = errno; \
		errno = 0; \
		long long r_p_ = (long long)(ep); \
		int e_p_ = errno; \
		pftest_same_check(__FILE__, __LINE__, #em " vs " #ep, r_m_, e_m_, r_p_, e_p_); \
		r_m_; \
	})

/* snprintf that fails the test on truncation (and keeps gcc's -Wformat-truncation quiet). */
__attribute__((format(printf, 3, 4)))
static inline char *pftest_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		pftest_failf(__FILE__, __LINE__, "pftest_fmt", 0, "string too long for %zu bytes: %s", size, fmt);
	return buf;
}

/* ---------------------------------------------------------------- deterministic data */

static inline uint8_t pftest_pat(uint64_t off, uint32_t seed)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ULL + (uint64_t)(seed + 1) * 0xD1B54A32D192ED03ULL;
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return (uint8_t)x;
}

static inline void pftest_fill(void *buf, uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < n; i++)
		b[i] = pftest_pat(off + i, seed);
}

/*
 * The tests' own heap blocks stay registered in a global table until pftest_free(), so LeakSanitizer (the
 * sanitizer builds run with detect_leaks=1) reports only leaks of the shim, not of a test that exits early
 * (a failed CHECK) or keeps buffers until exit. Freed blocks leave the table, so it never hides a block the
 * shim allocates later at the same address.
 */
#define PFTEST_NKEEP 8192
static void *pftest_keep[PFTEST_NKEEP] __attribute__((unused));
static int pftest_keep_lock __attribute__((unused));

static inline void pftest_keep_set(void *old, void *new_)
{
	while (__atomic_exchange_n(&pftest_keep_lock, 1, __ATOMIC_ACQUIRE))
		;
	int done = 0;
	for (int i = 0; i < PFTEST_NKEEP && !done; i++) {
		if (pftest_keep[i] == old) {
			pftest_keep[i] = new_;
			done = 1;
		}
	}
	__atomic_store_n(&pftest_keep_lock, 0, __ATOMIC_RELEASE);
}

__attribute__((returns_nonnull)) static inline void *pftest_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL) {
		fprintf(stderr, "FAIL %s: out of memory allocating %zu bytes\n", pftest_prog, n);
		abort();
	}
	pftest_keep_set(NULL, p);
	return p;
}

static inline void pftest_free(void *p)
{
	if (!p)
		return;
	pftest_keep_set(p, NULL);
	free(p);
}

/* A zeroed buffer filled with pattern seed for file offsets [off, off+n). */
__attribute__((returns_nonnull)) static inline uint8_t *pftest_patbuf(uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_xmalloc(n);
	pftest_fill(b, off, n, seed);
	return b;
}

/* ---------------------------------------------------------------- shadow model of a file */

struct pftest_shadow {
	uint8_t *b;
	uint64_t size, cap;
};

static inline void pftest_shadow_reserve(struct pftest_shadow *s, uint64_t n)
{
	if (n <= s->cap)
		return;
	uint64_t nc = s->cap ? s->cap : 65536;
	while (nc < n)
		nc *= 2;
	uint8_t *nb = pftest_xmalloc(nc);
	if (s->b)
		memcpy(nb, s->b, s->cap);
	pftest_free(s->b);
	memset(nb + s->cap, 0, nc - s->cap);
	s->b = nb;
	s->cap = nc;
}

static inline void pftest_shadow_write(struct pftest_shadow *s, uint64_t off, const void *src, uint64_t n)
{
	pftest_shadow_reserve(s, off + n);
	memcpy(s->b + off, src, n);
	if (off + n > s->size)
		s->size = off + n;
}

static inline void pftest_shadow_pat(struct pftest_shadow *s, uint64_t off, uint64_t n, uint32_t seed)
{
	pftest_shadow_reserve(s, off + n);
	pftest_fill(s->b + off, off, n, seed);
	if (off + n > s->size)
		s->size = off + n;
}

__attribute__((noinline, unused)) static void pftest_shadow_truncate(struct pftest_shadow *s, uint64_t n)
{
	pftest_shadow_reserve(s, n);
	if (n < s->size)
		memset(s->b + n, 0, s->size - n);
	s->size = n;
}

static inline void pftest_shadow_zero(struct pftest_shadow *s, uint64_t off, uint64_t n)
{
	if (off >= s->size)
		return;
	if (off + n > s->size)
		n = s->size - off;
	memset(s->b + off, 0, n);
}

static inline void pftest_shadow_free(struct pftest_shadow *s)
{
	pftest_free(s->b);
	memset(s, 0, sizeof *s);
}

/* Compare got[0..n) with exp[0..n) for file range starting at off; fail naming the first difference. */
#define pftest_cmp(what, got, exp, n, off) pftest_cmp_(__FILE__, __LINE__, what, got, exp, n, off)
static inline void pftest_cmp_(const char *file, int line, const char *what, const void *got_, const void *exp_, size_t n,
			uint64_t off)
{
	const uint8_t *got = got_, *exp = exp_;
	if (memcmp(got, exp, n) == 0)
		return;
	size_t i = 0, bad = 0, zero = 0;
	while (got[i] == exp[i])
		i++;
	for (size_t j = i; j < n; j++) {
		bad += got[j] != exp[j];
		zero += got[j] != exp[j] && got[j] == 0;
	}
	pftest_failf(file, line, what, 0,
		     "content differs at file offset %llu (byte %zu of %zu read at %llu): got 0x%02x expected 0x%02x; "
		     "%zu bytes differ, %zu of them read as zero",
		     (unsigned long long)(off + i), i, n, (unsigned long long)off, got[i], exp[i], bad, zero);
}

/* The file behind fd has exactly the shadow's size (fstat) and bytes (pread). */
#define pftest_check_fd(fd, sh, what) pftest_check_fd_(__FILE__, __LINE__, fd, sh, what)
static inline void pftest_check_fd_(const char *file, int line, int fd, const struct pftest_shadow *sh, const char *what)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		pftest_failf(file, line, "fstat", errno, "%s", what);
	if ((uint64_t)st.st_size != sh->size)
		pftest_failf(file, line, "st_size", 0, "%s: fstat size %lld, expected %llu", what,
			     (long long)st.st_size, (unsigned long long)sh->size);
	const size_t chunk = 1 << 20;
	uint8_t *buf = pftest_xmalloc(chunk);
	for (uint64_t off = 0; off < sh->size; off += chunk) {
		size_t n = sh->size - off < chunk ? (size_t)(sh->size - off) : chunk;
		ssize_t r = pread(fd, buf, n, (off_t)off);
		if (r != (ssize_t)n)
			pftest_failf(file, line, "pread", errno, "%s: pread(%zu at %llu) returned %zd", what, n,
				     (unsigned long long)off, r);
		pftest_cmp_(file, line, what, buf, sh->b + off, n, off);
	}
	ssize_t r = pread(fd, buf, 16, (off_t)sh->size);
	if (r != 0)
		pftest_failf(file, line, "pread at EOF", errno, "%s: pread at size %llu returned %zd, expected 0", what,
			     (unsigned long long)sh->size, r);
	pftest_free(buf);
}

/* Open path read-only (a fresh open file description) and check it against the shadow. */
#define pftest_check_path(path, sh) pftest_check_path_(__FILE__, __LINE__, path, sh)
static inline void pftest_check_path_(const char *file, int line, const char *path, const struct pftest_shadow *sh)
{
	struct stat st;
	if (stat(path, &st) != 0)
		pftest_failf(file, line, "stat", errno, "%s", path);
	if ((uint64_t)st.st_size != sh->size)
		pftest_failf(file, line, "st_size", 0, "stat(%s) size %lld, expected %llu", path,
			     (long long)st.st_size, (unsigned long long)sh->size);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pftest_failf(file, line, "open", errno, "%s", path);
	pftest_check_fd_(file, line, fd, sh, path);
	close(fd);
}

/* ---------------------------------------------------------------- I/O helpers */

#define pftest_pwrite_all(fd, buf, n, off) pftest_pwrite_all_(__FILE__, __LINE__, fd, buf, n, off)
static inline void pftest_pwrite_all_(const char *file, int line, int fd, const void *buf, size_t n, off_t off)
{
	ssize_t r = pwrite(fd, buf, n, off);
	if (r != (ssize_t)n)
		pftest_failf(file, line, "pwrite", errno, "pwrite(fd %d, %zu bytes at %lld) returned %zd", fd, n,
			     (long long)off, r);
}

#define pftest_write_all(fd, buf, n) pftest_write_all_(__FILE__, __LINE__, fd, buf, n)
static inline void pftest_write_all_(const char *file, int line, int fd, const void *buf, size_t n)
{
	ssize_t r = write(fd, buf, n);
	if (r != (ssize_t)n)
		pftest_failf(file, line, "write", errno, "write(fd %d, %zu bytes) returned %zd", fd, n, r);
}

/* Read exactly n bytes from a stream fd (socket/pipe), bounded by n. Returns bytes read before EOF. */
static inline size_t pftest_read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* Read everything until EOF into a malloc'd NUL-terminated string (at most cap bytes kept). */
__attribute__((returns_nonnull)) static inline char *pftest_read_to_eof(int fd, size_t cap, size_t *len)
{
	char *b = pftest_xmalloc(cap + 1);
	size_t got = 0;
	for (;;) {
		char tmp[4096];
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t k = (size_t)r;
		if (got + k > cap)
			k = cap - got;
		memcpy(b + got, tmp, k);
		got += k;
	}
	b[got] = 0;
	if (len)
		*len = got;
	return b;
}

static inline long long pftest_fsize(int fd)
{
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	return (long long)st.st_size;
}

static inline long long pftest_psize(const char *path)
{
	struct stat st;
	CHECKF(stat(path, &st) == 0, "%s", path);
	return (long long)st.st_size;
}

static inline long long pftest_tell(int fd)
{
	return (long long)lseek(fd, 0, SEEK_CUR);
}

/* ---------------------------------------------------------------- paths */

static inline const char *pftest_dir(void)
{
	const char *d = getenv("PAFKA_TEST_DIR");
	if (!d || !*d) {
		printf("SKIP: PAFKA_TEST_DIR is not set; run this program through tests/run-test.sh\n");
		exit(77);
	}
	return d;
}

static inline void pftest_mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	pftest_fmt(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
				pftest_failf(__FILE__, __LINE__, "mkdir", errno, "%s", tmp);
			*p = '/';
		}
	}
	if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
		pftest_failf(__FILE__, __LINE__, "mkdir", errno, "%s", tmp);
}

/* $PAFKA_TEST_DIR/<area>/<dir>/<name>; creates the directory. */
static inline char *pftest_path_in(char *buf, const char *area, const char *dir, const char *name)
{
	char d[PATH_MAX];
	pftest_fmt(d, sizeof d, "%s/%s/%s", pftest_dir(), area, dir);
	pftest_mkdirs(d);
	pftest_fmt(buf, PATH_MAX, "%s/%s", d, name);
	return buf;
}

/* Managed: $PAFKA_TEST_DIR/logs/<dir>/<name>, e.g. dir "topic-0", name PFTEST_SEG0. */
static inline char *pftest_mpath(char *buf, const char *dir, const char *name)
{
	return pftest_path_in(buf, "logs", dir, name);
}

/* Unmanaged twin: the same names under $PAFKA_TEST_DIR/plain. */
static inline char *pftest_ppath(char *buf, const char *dir, const char *name)
{
	return pftest_path_in(buf, "plain", dir, name);
}

static inline char *pftest_segname(char *buf, unsigned long long base, const char *suffix)
{
	pftest_fmt(buf, 64, "%020llu.log%s", base, suffix ? suffix : "");
	return buf;
}

/* A small seeded generator (xorshift64) for the seeded tests: the next value below n (0 when n is 0).
 * *state must not be 0. */
static inline uint64_t pftest_rnd(uint64_t *state, uint64_t n)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return n ? x % n : 0;
}

/* ---------------------------------------------------------------- twins */

#define PFTEST_TWBUF (8 << 20)

struct pftest_twin {
	char m[PATH_MAX], p[PATH_MAX];
	int fm, fp;
	uint8_t *bm, *bp; /* scratch buffers, PFTEST_TWBUF bytes each */
	struct pftest_shadow sh;
};

static inline void pftest_twin_init(struct pftest_twin *t, const char *dir, const char *name)
{
	memset(t, 0, sizeof *t);
	pftest_mpath(t->m, dir, name);
	pftest_ppath(t->p, dir, name);
	t->fm = t->fp = -1;
	t->bm = pftest_xmalloc(PFTEST_TWBUF);
	t->bp = pftest_xmalloc(PFTEST_TWBUF);
}

/* Open both with the same flags; both must succeed or fail alike. Returns the managed result. */
#define pftest_twin_open(t, flags, mode) pftest_twin_open_(__FILE__, __LINE__, t, flags, mode)
static inline int pftest_twin_open_(const char *file, int line, struct pftest_twin *t, int flags, mode_t mode)
{
	errno = 0;
	int a = open(t->m, flags, mode);
	int ea = errno;
	errno = 0;
	int b = open(t->p, flags, mode);
	int eb = errno;
	pftest_same_check(file, line, "open(twin)", a < 0 ? -1 : 0, ea, b < 0 ? -1 : 0, eb);
	if (a >= 0) {
		t->fm = a;
		t->fp = b;
	}
	return a;
}

static inline void pftest_twin_close(struct pftest_twin *t)
{
	if (t->fm >= 0)
		CHECK(close(t->fm) == 0);
	if (t->fp >= 0)
		CHECK(close(t->fp) == 0);
	t->fm = t->fp = -1;
}

/*
 * TWIN(t, expr): evaluate expr twice, first with FD = t->fm, PATH = t->m, BUF = t->bm (managed), then with
 * FD = t->fp, PATH = t->p, BUF = t->bp (twin). Results and errno must agree. Evaluates to the result.
 */
#define TWIN(t, expr) \
	({ \
		long long r_m_, r_p_; \
		int e_m_, e_p_; \
		{ \
			int FD = (t)->fm; \
			const char *PATH = (t)->m; \
			uint8_t *BUF = (t)->bm; \
			(void)FD; \
			(void)PATH; \
			(void)BUF; \
			errno = 0; \
			r_m_ = (long long)(expr); \
			e_m_ = errno; \
		} \
		{ \
			int FD = (t)->fp; \
			const char *PATH = (t)->p; \
			uint8_t *BUF = (t)->bp; \
			(void)FD; \
			(void)PATH; \
			(void)BUF; \
			errno = 0; \
			r_p_ = (long long)(expr); \
			e_p_ = errno; \
		} \
		pftest_same_check(__FILE__, __LINE__, #expr, r_m_, e_m_, r_p_, e_p_); \
		r_m_; \
	})

/* The first n bytes of the two scratch buffers agree (and, if exp != NULL, equal exp). */
#define pftest_twin_bufs(t, n, exp, off) pftest_twin_bufs_(__FILE__, __LINE__, t, n, exp, off)
static inline void pftest_twin_bufs_(const char *file, int line, struct pftest_twin *t, long long n, const void *exp,
			      uint64_t off)
{
	if (n <= 0)
		return;
	pftest_cmp_(file, line, "managed read vs twin read", t->bm, t->bp, (size_t)n, off);
	if (exp)
		pftest_cmp_(file, line, "read vs expected", t->bm, exp, (size_t)n, off);
}

/* Sizes, offsets and contents of both files agree with each other and with the shadow t->sh. */
#define pftest_twin_check(t) pftest_twin_check_(__FILE__, __LINE__, t)
static inline void pftest_twin_check_(const char *file, int line, struct pftest_twin *t)
{
	if (t->fm >= 0) {
		long long om = lseek(t->fm, 0, SEEK_CUR), op = lseek(t->fp, 0, SEEK_CUR);
		if (om != op)
			pftest_failf(file, line, "file offsets", errno, "managed fd offset %lld, twin %lld", om, op);
		struct stat a, b;
		if (fstat(t->fm, &a) != 0 || fstat(t->fp, &b) != 0)
			pftest_failf(file, line, "fstat", errno, "twin");
		if (a.st_size != b.st_size)
			pftest_failf(file, line, "fstat sizes", 0, "managed %lld, twin %lld", (long long)a.st_size,
				     (long long)b.st_size);
	}
	pftest_check_path_(file, line, t->p, &t->sh); /* validates the shadow model against the kernel */
	pftest_check_path_(file, line, t->m, &t->sh);
}

/* ---------------------------------------------------------------- shim and pool */

static inline int pftest_shim_active(void)
{
	const char *p = getenv("LD_PRELOAD");
	return p && strstr(p, "libpafka") != NULL;
}

static inline char *pftest_pool_path(char *buf)
{
	const char *d = getenv("PAFKA_TEST_POOLDIR");
	if (!d || !*d)
		return NULL;
	pftest_fmt(buf, PATH_MAX, "%s/%s", d, PF_POOL_FILE);
	return buf;
}

/* "LD_PRELOAD=<what this process was started with> <this program's dir>/.libs/<helper>": the environment entry
 * that starts a child with a test helper library behind the shim (and behind a sanitizer's runtime under
 * ASan/TSan), so that the helper sits between the shim and libc. Fails the test when the helper is not
 * built. buf must hold 3 * PATH_MAX bytes. */
static inline char *pftest_preload_after(char *buf, const char *helper)
{
	char self[PATH_MAX], lib[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	pftest_fmt(lib, sizeof lib, "%s/.libs/%s", self, helper);
	CHECKF(access(lib, R_OK) == 0, "%s is missing (make check builds it)", lib);
	const char *cur = getenv("LD_PRELOAD"), *shim = getenv("PAFKA_TEST_LIB");
	pftest_fmt(buf, 3 * PATH_MAX, "LD_PRELOAD=%s %s", cur && *cur ? cur : shim ? shim : "", lib);
	return buf;
}

static inline int pftest_pool_exists(void)
{
	char p[PATH_MAX];
	struct stat st;
	if (!pftest_pool_path(p))
		return 0;
	return stat(p, &st) == 0;
}

/* Read the pool header; returns an fd (caller closes) or -1 if there is no pool file. */
static inline int pftest_pool_open(struct pf_pool_header *h)
{
	char p[PATH_MAX];
	if (!pftest_pool_path(p))
		return -1;
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		CHECKF(errno == ENOENT, "open %s", p);
		return -1;
	}
	ssize_t r = pread(fd, h, sizeof *h, 0);
	CHECKF(r == (ssize_t)sizeof *h, "pool header read returned %zd", r);
	CHECKF(le64toh(h->magic) == PF_POOL_MAGIC, "pool %s: bad magic 0x%llx", p,
	       (unsigned long long)le64toh(h->magic));
	CHECKF(le64toh(h->nblocks) < (1ULL << 28) && le64toh(h->nrecords) <= PF_MAX_RECORDS,
	       "pool header nblocks %llu nrecords %llu", (unsigned long long)le64toh(h->nblocks),
	       (unsigned long long)le64toh(h->nrecords));
	return fd;
}

/* Number of used (nonzero) block-table entries in $PAFKA_TEST_POOLDIR/pafka.pool, or -1 if no pool. */
static inline long long pftest_pool_used_blocks(void)
{
	struct pf_pool_header h;
	int fd = pftest_pool_open(&h);
	if (fd < 0)
		return -1;
	uint64_t n = le64toh(h.nblocks);
	uint64_t *tab = pftest_xmalloc(n * 8);
	ssize_t r = pread(fd, tab, n * 8, (off_t)le64toh(h.blk_off));
	CHECKF(r == (ssize_t)(n * 8), "pool block table read returned %zd", r);
	long long used = 0;
	for (uint64_t i = 0; i < n; i++)
		used += tab[i] != 0;
	pftest_free(tab);
	close(fd);
	return used;
}

/* Number of LIVE records in the pool, or -1 if no pool. */
static inline long long pftest_pool_live_records(void)
{
	struct pf_pool_header h;
	int fd = pftest_pool_open(&h);
	if (fd < 0)
		return -1;
	/* each record decoded and its checks verified (pool_format.h; either format) */
	long long live = 0;
	uint64_t salt = pf_pool_salt(h.uuid);
	int fmt2 = pf_header_format(&h) == 2;
	for (uint64_t i = 0; i < le64toh(h.nrecords); i++) {
		uint64_t w[PF_RECORD_SIZE / 8];
		ssize_t r = pread(fd, w, sizeof w, (off_t)(le64toh(h.rec_off) + i * PF_RECORD_SIZE));
		CHECK(r == (ssize_t)sizeof w);
		struct pf_rec_view v;
		live += pf_rec_decode_words(salt, fmt2, (uint32_t)i, w, &v) == 0 && v.state == PF_REC_LIVE;
	}
	close(fd);
	return live;
}

/* Used blocks as a number >= 0 (a missing pool counts as 0). */
static inline long long pftest_pool_used0(void)
{
	long long u = pftest_pool_used_blocks();
	return u < 0 ? 0 : u;
}

/* LIVE records as a number >= 0 (a missing pool counts as 0). */
static inline long long pftest_pool_live0(void)
{
	long long n = pftest_pool_live_records();
	return n < 0 ? 0 : n;
}

/*
 * Shim only: a managed file into which nbytes were written keeps its log-dir file sparse
 * (st_blocks * 512 <= nbytes / 8) while the pool holds blocks.
 */
#define pftest_check_sparse(path, nbytes) pftest_check_sparse_(__FILE__, __LINE__, path, nbytes)
static inline void pftest_check_sparse_(const char *file, int line, const char *path, long long nbytes)
{
	if (!pftest_shim_active())
		return;
	struct stat st;
	if (stat(path, &st) != 0)
		pftest_failf(file, line, "stat", errno, "%s", path);
	if ((long long)st.st_blocks * 512 > nbytes / 8)
		pftest_failf(file, line, "st_blocks*512 <= nbytes/8", 0,
			     "%s: the log-dir file has %lld bytes allocated after %lld bytes were written; "
			     "a managed file must stay sparse (its bytes belong in the pool)",
			     path, (long long)st.st_blocks * 512, nbytes);
	long long used = pftest_pool_used_blocks();
	if (used <= 0)
		pftest_failf(file, line, "pool used blocks > 0", 0,
			     "%s: %lld bytes written but the pool has %lld used blocks (-1 = no pool file)", path,
			     nbytes, used);
}

/*
 * Is the file at path pool-resident: the shim is active, the log-dir file is sparse (at most 1/8 of its
 * size allocated) and the pool has used blocks? Against the plain kernel: 0.
 */
static inline int pftest_pool_resident(const char *path)
{
	if (!pftest_shim_active())
		return 0;
	struct stat st;
	CHECKF(stat(path, &st) == 0, "%s", path);
	return st.st_size > 0 && (long long)st.st_blocks * 512 <= (long long)st.st_size / 8 &&
	       pftest_pool_used_blocks() > 0;
}

/* An unmanaged file with nbytes written holds them in the kernel (st_blocks*512 >= nbytes). */
#define pftest_check_kernel_resident(path, nbytes) pftest_check_kernel_resident_(__FILE__, __LINE__, path, nbytes)
static inline void pftest_check_kernel_resident_(const char *file, int line, const char *path, long long nbytes)
{
	struct stat st;
	if (stat(path, &st) != 0)
		pftest_failf(file, line, "stat", errno, "%s", path);
	if ((long long)st.st_blocks * 512 < nbytes)
		pftest_failf(file, line, "st_blocks*512 >= nbytes", 0,
			     "%s: unmanaged file has only %lld bytes allocated after %lld bytes were written", path,
			     (long long)st.st_blocks * 512, nbytes);
}

/* ---------------------------------------------------------------- processes */

static inline void pftest_init(int argc, char **argv)
{
	pftest_argc = argc;
	pftest_argv = argv;
	const char *s = strrchr(argv[0], '/');
	pftest_prog = s ? s + 1 : argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(PFTEST_TIMEOUT);
	umask(022);
}

/* Does argv[1] name this child role? */
static inline int pftest_role(const char *role)
{
	return pftest_argc > 1 && strcmp(pftest_argv[1], role) == 0;
}

#define PFTEST_NO_PRELOAD 1   /* unset LD_PRELOAD in the child */
#define PFTEST_CAPTURE_ERR 2  /* child's stderr goes to a pipe, *err_rd */
#define PFTEST_CAPTURE_OUT 4  /* child's stdout goes to a pipe, *out_rd */

/*
 * fork + execv(argv[0], argv). env: NULL-terminated "K=V" (set) or "K" (unset) changes for the child.
 * The child inherits every fd not marked close-on-exec (the caller passes their numbers as arguments).
 */
static inline pid_t pftest_spawn(char *const argv[], const char *const env[], int flags, int *err_rd, int *out_rd)
{
	int ep[2] = { -1, -1 }, op[2] = { -1, -1 };
	if (flags & PFTEST_CAPTURE_ERR)
		CHECK(pipe2(ep, O_CLOEXEC) == 0);
	if (flags & PFTEST_CAPTURE_OUT)
		CHECK(pipe2(op, O_CLOEXEC) == 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (flags & PFTEST_NO_PRELOAD)
			unsetenv("LD_PRELOAD");
		for (int i = 0; env && env[i]; i++) {
			const char *eq = strchr(env[i], '=');
			if (eq) {
				char k[256];
				pftest_fmt(k, sizeof k, "%.*s", (int)(eq - env[i]), env[i]);
				setenv(k, eq + 1, 1);
			} else {
				unsetenv(env[i]);
			}
		}
		if (ep[1] >= 0)
			dup2(ep[1], 2);
		if (op[1] >= 0)
			dup2(op[1], 1);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (ep[1] >= 0) {
		close(ep[1]);
		*err_rd = ep[0];
	}
	if (op[1] >= 0) {
		close(op[1]);
		*out_rd = op[0];
	}
	return pid;
}

/* Make fd inherited across exec (on) or close-on-exec (off). Pipes for children: pipe2(O_CLOEXEC), then
 * pftest_inherit(end, 1) just for the spawn of the child that needs that end, then pftest_inherit(end, 0). */
static inline void pftest_inherit(int fd, int on)
{
	CHECK(fcntl(fd, F_SETFD, on ? 0 : FD_CLOEXEC) == 0);
}

/* Re-execute this program (/proc/self/exe) as child role with up to 6 extra arguments (NULL ends). */
static inline pid_t pftest_spawn_self(const char *role, const char *const args[], const char *const env[], int flags,
			       int *err_rd, int *out_rd)
{
	char *argv[12];
	int n = 0;
	argv[n++] = (char *)"/proc/self/exe";
	argv[n++] = (char *)role;
	for (int i = 0; args && args[i] && n < 11; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	return pftest_spawn(argv, env, flags, err_rd, out_rd);
}

/* waitpid; returns the exit code, or 128 + signal number if killed. */
static inline int pftest_wait(pid_t pid)
{
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	CHECKF(r == pid, "waitpid(%d)", (int)pid);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

/* Child must exit 0. */
#define pftest_wait_ok(pid, what) \
	do { \
		int rc_ = pftest_wait(pid); \
		CHECKF(rc_ == 0, "%s: child exited with %d (>=128: killed by signal rc-128)", what, rc_); \
	} while (0)

static inline int pftest_count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static inline int pftest_thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static inline void pftest_skip(const char *why)
{
	printf("SKIP: %s\n", why);
	exit(77);
}

/* ---------------------------------------------------------------- the kernel's view, without the shim */

/*
 * What a process without the shim sees: raw system calls (syscall(SYS_...)) bypass the interposed libc
 * names, so these read the log-dir file exactly as the kernel has it (for a pool-resident segment: zeros).
 */
static inline int pftest_raw_open(const char *path, int flags)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
}

static inline ssize_t pftest_raw_pread(int fd, void *buf, size_t n, off_t off)
{
	return (ssize_t)syscall(SYS_pread64, fd, buf, n, off);
}

static inline int pftest_raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

/* The file at path has the shadow's size and bytes as the kernel has them (raw system calls only). */
#define pftest_check_path_raw(path, sh) pftest_check_path_raw_(__FILE__, __LINE__, path, sh)
static inline void pftest_check_path_raw_(const char *file, int line, const char *path, const struct pftest_shadow *sh)
{
	int fd = pftest_raw_open(path, O_RDONLY);
	if (fd < 0)
		pftest_failf(file, line, "syscall(SYS_openat)", errno, "%s", path);
	struct stat st;
	if (syscall(SYS_fstat, fd, &st) != 0)
		pftest_failf(file, line, "syscall(SYS_fstat)", errno, "%s", path);
	if ((uint64_t)st.st_size != sh->size)
		pftest_failf(file, line, "st_size (raw)", 0, "%s: the kernel says %lld bytes, expected %llu", path,
			     (long long)st.st_size, (unsigned long long)sh->size);
	const size_t chunk = 1 << 20;
	uint8_t *buf = pftest_xmalloc(chunk);
	for (uint64_t off = 0; off < sh->size; off += chunk) {
		size_t n = sh->size - off < chunk ? (size_t)(sh->size - off) : chunk;
		ssize_t r = pftest_raw_pread(fd, buf, n, (off_t)off);
		if (r != (ssize_t)n)
			pftest_failf(file, line, "syscall(SYS_pread64)", errno, "%s: %zu at %llu returned %zd", path, n,
				     (unsigned long long)off, r);
		char what[PATH_MAX + 64];
		snprintf(what, sizeof what, "%s read with raw system calls (the kernel's bytes, no shim)", path);
		pftest_cmp_(file, line, what, buf, sh->b + off, n, off);
	}
	pftest_free(buf);
	pftest_raw_close(fd);
}

/* A child without LD_PRELOAD (/bin/cat, exec'd with LD_PRELOAD removed) reads path: the shadow's bytes. */
#define pftest_check_path_nopreload(path, sh) pftest_check_path_nopreload_(__FILE__, __LINE__, path, sh)
static inline void pftest_check_path_nopreload_(const char *file, int line, const char *path,
						const struct pftest_shadow *sh)
{
	char *argv[] = { (char *)"/bin/cat", (char *)path, NULL };
	int out = -1;
	pid_t pid = pftest_spawn(argv, NULL, PFTEST_NO_PRELOAD | PFTEST_CAPTURE_OUT, NULL, &out);
	size_t len = 0;
	char *got = pftest_read_to_eof(out, (size_t)sh->size + 4096, &len);
	close(out);
	int rc = pftest_wait(pid);
	if (rc != 0)
		pftest_failf(file, line, "/bin/cat without LD_PRELOAD", 0, "cat %s exited %d", path, rc);
	if (len != sh->size)
		pftest_failf(file, line, "bytes read without the shim", 0, "cat %s gave %zu bytes, expected %llu", path,
			     len, (unsigned long long)sh->size);
	char what[PATH_MAX + 64];
	snprintf(what, sizeof what, "%s read by a process without the shim", path);
	pftest_cmp_(file, line, what, got, sh->b, len, 0);
	pftest_free(got);
}

/* The size of path as another process without the shim sees it (/usr/bin/stat, LD_PRELOAD removed). */
static inline long long pftest_size_nopreload(const char *path)
{
	char *argv[] = { (char *)"/usr/bin/stat", (char *)"-L", (char *)"-c", (char *)"%s", (char *)path, NULL };
	int out = -1;
	pid_t pid = pftest_spawn(argv, NULL, PFTEST_NO_PRELOAD | PFTEST_CAPTURE_OUT, NULL, &out);
	char *s = pftest_read_to_eof(out, 4096, NULL);
	close(out);
	int rc = pftest_wait(pid);
	CHECKF(rc == 0 && s[0] >= '0' && s[0] <= '9', "/usr/bin/stat %s exited %d printing \"%s\"", path, rc, s);
	long long v = strtoll(s, NULL, 10);
	pftest_free(s);
	return v;
}

/*
 * Every way to ask for the size agrees with expect: fstat, fstat64, statx(AT_EMPTY_PATH) and
 * lseek(SEEK_END) on fd (the offset is put back), stat, stat64, lstat (path is not a symlink) and statx on
 * path, the raw system call, and another process without the shim. fd < 0: path only.
 */
#define pftest_check_sizes(fd, path, expect) pftest_check_sizes_(__FILE__, __LINE__, fd, path, expect)
static inline void pftest_check_sizes_(const char *file, int line, int fd, const char *path, long long expect)
{
	struct stat st;
	struct stat64 st64;
	struct statx x;
	long long got[12];
	const char *name[12];
	int n = 0;
#define PFTEST_SZ_(label, call, val) \
	do { \
		name[n] = label; \
		if ((call) != 0) \
			pftest_failf(file, line, label, errno, "%s", path); \
		got[n++] = (long long)(val); \
	} while (0)
	if (fd >= 0) {
		PFTEST_SZ_("fstat", fstat(fd, &st), st.st_size);
		PFTEST_SZ_("fstat64", fstat64(fd, &st64), st64.st_size);
		PFTEST_SZ_("statx(fd, AT_EMPTY_PATH)", statx(fd, "", AT_EMPTY_PATH, STATX_SIZE, &x), x.stx_size);
		off_t cur = lseek(fd, 0, SEEK_CUR);
		off_t end = lseek(fd, 0, SEEK_END);
		if (cur < 0 || end < 0 || lseek(fd, cur, SEEK_SET) != cur)
			pftest_failf(file, line, "lseek", errno, "%s", path);
		name[n] = "lseek(SEEK_END)";
		got[n++] = end;
		PFTEST_SZ_("syscall(SYS_fstat)", (int)syscall(SYS_fstat, fd, &st), st.st_size);
	}
	PFTEST_SZ_("stat", stat(path, &st), st.st_size);
	PFTEST_SZ_("stat64", stat64(path, &st64), st64.st_size);
	PFTEST_SZ_("lstat", lstat(path, &st), st.st_size);
	PFTEST_SZ_("statx(path)", statx(AT_FDCWD, path, 0, STATX_SIZE, &x), x.stx_size);
	name[n] = "another process without the shim (/usr/bin/stat)";
	got[n++] = pftest_size_nopreload(path);
#undef PFTEST_SZ_
	for (int i = 0; i < n; i++)
		if (got[i] != expect)
			pftest_failf(file, line, name[i], 0, "%s: size %lld, expected %lld", path, got[i], expect);
}

#endif

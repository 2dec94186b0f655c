/*
 * pf_errno.c - errno injection (PAFKA_FAIL, src/fail.h) against the promise that no acknowledged byte is
 * lost and that a failure reaches the caller as the kernel would give it (driven by tests/crash/errno.sh,
 * which runs "work" under PAFKA_FAIL=<function>:<errno>:<n> for n = 1, 2, ... and then the checks).
 *
 * Roles:
 *   work    one managed segment in a small pool: a seeded sequence of appends (write, pwrite, writev,
 *           pwritev2), overwrites, ftruncate down and up, every fallocate mode, fsync, fdatasync, reads,
 *           close and reopen; the appends outgrow the pool and spill to the slow tier. Before each call the
 *           expectation is saved (raw syscalls, outside the shim and its counters): the bytes every earlier
 *           call acknowledged, and what the call may change. The first call that fails must fail with the
 *           injected errno (or EIO, the shim's answer when the failure was beneath it); the file, read back at once through the same process, must hold the
 *           acknowledged bytes, and work stops there (exit 3: "failed as injected"). Exit 0: the sequence
 *           ran to its end (the n-th call came later or never). A fatal stop of the shim (one line) is
 *           allowed: the expectation saved before the call stands. With PAFKA_TEST_RESUME=1 it goes on
 *           from the file and expectation an earlier run left (its first open recovers the pool).
 *   blocks-in-pool  (without the shim) the pool's used blocks, read from the pool file.
 *   verify  a fresh process (recovery) reads the file: every byte outside what the last call may have
 *           changed is the acknowledged one, the size is the one before or after that call, the changed
 *           range holds old or new bytes; then it writes the manifest of what it read for the generic
 *           checks (check-shim after a restart, check-real --consistent, cleanup, check-empty).
 */
#include "crashlib.h"

#include <sys/syscall.h>
#include <sys/uio.h>

#define SEG "err-0/00000000000000000000.log"
#define MAXF (6 << 20)
#define NOPS 64

/* The expectation, saved before each call: the file's acknowledged bytes (size0), and the call's effect:
 * [lo, hi) may hold old or new bytes, the size after it is size0 or size1. */
struct expect {
	uint64_t size0, size1, lo, hi;
	int op;
	uint8_t old[MAXF]; /* acknowledged content */
	uint8_t neu[MAXF]; /* the content if the call took effect */
};

static struct expect X;

/* Raw syscalls: the test's own bookkeeping must not go through the shim (nor its injection counters). */
static void raw_save(void)
{
	char p[PATH_MAX], t[PATH_MAX];
	pftest_fmt(p, sizeof p, "%s/expect.bin", getenv("PAFKA_TEST_DIR"));
	pftest_fmt(t, sizeof t, "%s.tmp", p);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		_exit(90);
	const uint8_t *b = (const uint8_t *)&X;
	size_t n = offsetof(struct expect, old) + X.size0; /* head + acknowledged bytes */
	size_t done = 0;
	while (done < n) {
		long k = syscall(SYS_write, fd, b + done, n - done);
		if (k <= 0)
			_exit(91);
		done += (size_t)k;
	}
	/* the new content only where it can differ */
	if (X.hi > X.lo) {
		long k = syscall(SYS_pwrite64, fd, X.neu + X.lo, X.hi - X.lo, (off_t)(offsetof(struct expect, neu) + X.lo));
		if (k != (long)(X.hi - X.lo))
			_exit(92);
	}
	syscall(SYS_close, fd);
	if (syscall(SYS_rename, t, p) != 0)
		_exit(93);
}

static void raw_load(void)
{
	char p[PATH_MAX];
	pftest_fmt(p, sizeof p, "%s/expect.bin", getenv("PAFKA_TEST_DIR"));
	int fd = (int)syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
	CHECKF(fd >= 0, "no expectation saved (%s)", p);
	memset(&X, 0, sizeof X);
	long k = syscall(SYS_pread64, fd, &X, sizeof X, 0);
	CHECK(k >= (long)offsetof(struct expect, old));
	syscall(SYS_close, fd);
}

/* The checks read through the shim too, and the one injected failure may fall on them: they try again. */
static int injected_errno;

static uint64_t pread_all(int fd, uint8_t *b, uint64_t n)
{
	uint64_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, b + got, (size_t)(n - got), (off_t)got);
		if (k < 0 && errno == injected_errno)
			k = pread(fd, b + got, (size_t)(n - got), (off_t)got); /* the one injected failure: once more */
		if (k < 0 && errno == injected_errno)
			return got; /* it persists (a count of '*'): the caller says so */
		CHECKF(k > 0, "pread at %llu of %llu: %s", (unsigned long long)got, (unsigned long long)n,
		       k < 0 ? strerror(errno) : "end of file");
		got += (uint64_t)k;
	}
	return got;
}

static uint64_t rng;
static uint64_t rnd(uint64_t n)
{
	return pftest_rnd(&rng, n);
}

enum { OP_WRITE, OP_PWRITE, OP_WRITEV, OP_PWRITEV2, OP_OVERWRITE, OP_TRUNC_DOWN, OP_TRUNC_UP, OP_FALLOC,
       OP_PUNCH, OP_ZERO, OP_FSYNC, OP_FDATASYNC, OP_READ, OP_REOPEN, NOP_KINDS };
static const char *const op_names[] = { "write", "pwrite", "writev", "pwritev2", "overwrite", "ftruncate down",
					"ftruncate up", "fallocate", "punch hole", "zero range", "fsync", "fdatasync",
					"read", "close+reopen" };

static int open_seg(void)
{
	char p[PATH_MAX];
	return open(cl_abs(p, SEG), O_RDWR | O_CREAT, 0644);
}

/* After a failed call: what this process reads now is acknowledged, old-or-new where the call worked. */
static void check_now(int fd, const char *when)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		char p[PATH_MAX];
		if (stat(cl_abs(p, SEG), &st) != 0) {
			CHECKF(errno == ENOENT && X.size0 == 0, "%s: stat: %s", when, strerror(errno));
			return; /* never created: nothing was acknowledged */
		}
	}
	uint64_t size = (uint64_t)st.st_size;
	CHECKF(size == X.size0 || size == X.size1, "%s: size %llu, expected %llu or %llu", when,
	       (unsigned long long)size, (unsigned long long)X.size0, (unsigned long long)X.size1);
	char p[PATH_MAX];
	int rfd = open(cl_abs(p, SEG), O_RDONLY);
	if (rfd < 0 && errno == injected_errno)
		rfd = open(p, O_RDONLY);
	if (rfd < 0 && errno == injected_errno) {
		printf("%s: the file cannot be opened now (the injected errno persists): the restart checks it\n", when);
		return;
	}
	CHECKF(rfd >= 0, "%s: open: %s", when, strerror(errno));
	uint8_t *b = pftest_xmalloc(size + 1);
	if (pread_all(rfd, b, size) != size) {
		printf("%s: the file cannot be read now (the injected errno persists): the restart checks it\n", when);
		free(b);
		close(rfd);
		return;
	}
	close(rfd);
	for (uint64_t i = 0; i < size; i++) {
		int in = i >= X.lo && i < X.hi;
		uint8_t o = i < X.size0 ? X.old[i] : 0, n = X.neu[i];
		if (b[i] != (in ? n : o) && !(in && b[i] == o))
			CHECKF(0, "%s: byte %llu is 0x%02x, expected 0x%02x%s (last call: %s)", when, (unsigned long long)i, b[i],
			       o, in ? " or the new byte" : "", op_names[X.op]);
	}
	free(b);
}

static int role_work(int argc, char **argv)
{
	(void)argc, (void)argv;
	rng = 0x9E3779B97F4A7C15ULL ^ (uint64_t)cl_env_ll("PAFKA_TEST_SEED", 1);
	int injected = (int)cl_env_ll("PAFKA_TEST_ERRNO", 0);
	injected_errno = injected;
	char d[PATH_MAX], p[PATH_MAX];
	pftest_fmt(d, sizeof d, "%s", cl_abs(p, SEG));
	*strrchr(d, '/') = 0;
	pftest_mkdirs(d);
	if (cl_env_ll("PAFKA_TEST_RESUME", 0)) {
		raw_load(); /* a file an earlier run left: this open activates the shim and recovers the pool */
		X.lo = X.hi = 0;
		X.size1 = X.size0;
	} else {
		memset(&X, 0, sizeof X);
	}
	X.op = OP_REOPEN;
	raw_save();
	int fd = open_seg();
	if (fd < 0) {
		CHECKF(errno == injected || errno == EIO, "open failed with %s, not the injected errno (or EIO)",
		       strerror(errno));
		check_now(-1, "after a failed open");
		return 3;
	}
	uint8_t *buf = pftest_xmalloc(1 << 20);
	int nops = (int)cl_env_ll("PAFKA_TEST_NOPS", NOPS);
	for (int k = 0; k < nops; k++) {
		/* weighted so that the file grows past the pool: appends 40%, truncates down 4% (the last fifth) */
		static const unsigned char pick[25] = { OP_WRITE, OP_WRITE, OP_WRITE, OP_PWRITE, OP_PWRITE, OP_WRITEV,
							OP_WRITEV, OP_PWRITEV2, OP_PWRITEV2, OP_PWRITEV2, OP_OVERWRITE,
							OP_OVERWRITE, OP_TRUNC_DOWN, OP_TRUNC_UP, OP_FALLOC, OP_PUNCH, OP_ZERO,
							OP_FSYNC, OP_FSYNC, OP_FDATASYNC, OP_FDATASYNC, OP_READ, OP_READ,
							OP_REOPEN, OP_REOPEN };
		int op = pick[rnd(sizeof pick)];
		uint64_t s0 = X.size0, off = 0, len = 0;
		memcpy(X.neu, X.old, s0);
		memset(X.neu + s0, 0, MAXF - s0);
		X.op = op;
		X.lo = X.hi = 0;
		X.size1 = s0;
		switch (op) {
		case OP_WRITE: case OP_PWRITE: case OP_WRITEV: case OP_PWRITEV2:
			len = 1 + rnd(400000);
			off = s0;
			break;
		case OP_OVERWRITE:
			len = 1 + rnd(100000);
			off = s0 ? rnd(s0) : 0;
			break;
		case OP_TRUNC_DOWN:
			off = s0 - (s0 ? rnd(s0 / 5 + 1) : 0);
			break;
		case OP_TRUNC_UP:
			off = s0 + rnd(200000);
			break;
		case OP_FALLOC: case OP_PUNCH: case OP_ZERO:
			off = rnd(s0 + 100000);
			len = 1 + rnd(300000);
			break;
		}
		if (off + len > MAXF - (1 << 20) || (op >= OP_WRITE && op <= OP_PWRITEV2 && s0 > MAXF - (2 << 20)))
			op = X.op = OP_FSYNC; /* the file is as big as this test lets it grow */
		if (op <= OP_OVERWRITE) {
			pftest_fill(buf, off, (size_t)len, 77u + (uint32_t)k);
			memcpy(X.neu + off, buf, len);
			X.lo = off;
			X.hi = off + len;
			X.size1 = off + len > s0 ? off + len : s0;
		} else if (op == OP_TRUNC_DOWN || op == OP_TRUNC_UP) {
			X.size1 = off;
			if (off > s0)
				memset(X.neu + s0, 0, off - s0);
			X.lo = off < s0 ? off : s0;
			X.hi = off < s0 ? s0 : off;
		} else if (op == OP_FALLOC) {
			X.size1 = off + len > s0 ? off + len : s0;
			X.lo = s0;
			X.hi = X.size1;
		} else if (op == OP_PUNCH || op == OP_ZERO) {
			uint64_t e = off + len < s0 ? off + len : s0;
			if (off < e)
				memset(X.neu + off, 0, e - off);
			X.lo = off < e ? off : 0;
			X.hi = off < e ? e : 0;
			X.size1 = s0; /* KEEP_SIZE */
		}
		raw_save();
		STEP("op %d: %s off %llu len %llu (size %llu)", k, op_names[op], (unsigned long long)off,
		     (unsigned long long)len, (unsigned long long)s0);
		printf("op %d: %s off %llu len %llu (size %llu)\n", k, op_names[op], (unsigned long long)off,
		       (unsigned long long)len, (unsigned long long)s0); /* the replay, printed with a failure */
		fflush(stdout);
		long r = 0;
		struct iovec iov[3];
		size_t a = (size_t)len / 3, b2 = (size_t)len / 3;
		iov[0] = (struct iovec){ buf, a };
		iov[1] = (struct iovec){ buf + a, b2 };
		iov[2] = (struct iovec){ buf + a + b2, (size_t)len - a - b2 };
		switch (op) {
		case OP_WRITE:
			r = lseek(fd, 0, SEEK_END) < 0 ? -1 : write(fd, buf, (size_t)len);
			break;
		case OP_PWRITE: case OP_OVERWRITE:
			r = pwrite(fd, buf, (size_t)len, (off_t)off);
			break;
		case OP_WRITEV:
			r = lseek(fd, (off_t)off, SEEK_SET) < 0 ? -1 : writev(fd, iov, 3);
			break;
		case OP_PWRITEV2:
			r = pwritev2(fd, iov, 3, (off_t)off, 0);
			break;
		case OP_TRUNC_DOWN: case OP_TRUNC_UP:
			r = ftruncate(fd, (off_t)off);
			break;
		case OP_FALLOC:
			r = fallocate(fd, 0, (off_t)off, (off_t)len);
			break;
		case OP_PUNCH:
			r = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
			break;
		case OP_ZERO:
			r = fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len);
			break;
		case OP_FSYNC:
			r = fsync(fd);
			break;
		case OP_FDATASYNC:
			r = fdatasync(fd);
			break;
		case OP_READ: {
			uint64_t n = s0 < (1 << 20) ? s0 : (1 << 20);
			r = pread(fd, buf, (size_t)n, 0);
			if (r >= 0) {
				CHECKF((uint64_t)r == n, "pread returned %ld of %llu", r, (unsigned long long)n);
				pftest_cmp("read back", buf, X.old, (size_t)n, 0);
			}
			break;
		}
		case OP_REOPEN:
			r = close(fd);
			fd = r == 0 ? open_seg() : fd;
			r = fd < 0 ? -1 : r;
			break;
		}
		if (r < 0) {
			int e = errno;
			/* the injected errno, or EIO: the shim's answer when a call beneath cannot be said as it was
			 * (an msync of the pool that fails inside an fsync, say) */
			CHECKF(e == injected || e == EIO, "%s failed with %s (%d), not the injected errno %d (or EIO)",
			       op_names[op], strerror(e), e, injected);
			check_now(fd, "right after the failed call");
			printf("work: op %d (%s) failed with the injected %s\n", k, op_names[op], strerror(e));
			return 3;
		}
		if (op <= OP_PWRITEV2 || op == OP_OVERWRITE) {
			/* a short write acknowledged r bytes */
			CHECKF(r > 0 && (uint64_t)r <= len, "%s returned %ld of %llu", op_names[op], r, (unsigned long long)len);
			memcpy(X.old + off, buf, (size_t)r);
			if (off + (uint64_t)r > X.size0)
				X.size0 = off + (uint64_t)r;
		} else if (op == OP_TRUNC_DOWN || op == OP_TRUNC_UP || op == OP_FALLOC || op == OP_PUNCH || op == OP_ZERO) {
			memcpy(X.old, X.neu, X.size1);
			X.size0 = X.size1;
		}
	}
	X.lo = X.hi = 0;
	X.size1 = X.size0;
	raw_save();
	check_now(fd, "at the end");
	close(fd);
	free(buf);
	printf("work: %d calls, none failed (size %llu)\n", nops, (unsigned long long)X.size0);
	return 0;
}

static int role_verify(int argc, char **argv)
{
	(void)argc, (void)argv;
	raw_load();
	char p[PATH_MAX];
	struct stat st;
	if (stat(cl_abs(p, SEG), &st) != 0) {
		CHECKF(X.size0 == 0 && errno == ENOENT, "%s is gone: %s", SEG, strerror(errno));
		struct cl_manifest m;
		memset(&m, 0, sizeof m);
		cl_manifest_save(&m);
		printf("verify: the segment was never created\n");
		return 0;
	}
	check_now(-1, "after a restart");
	uint64_t size = (uint64_t)st.st_size;
	uint8_t *b = pftest_xmalloc(size + 1);
	int fd = (int)OK(open(p, O_RDONLY));
	CHECK_EQ(pread_all(fd, b, size), size);
	OK(close(fd));
	struct cl_manifest m;
	memset(&m, 0, sizeof m);
	cl_manifest_copy(&m, SEG, b, size);
	cl_manifest_save(&m);
	free(m.e);
	free(b);
	printf("verify: %llu bytes, every acknowledged byte in place (last call: %s)\n", (unsigned long long)size,
	       op_names[X.op]);
	return 0;
}

/* Without the shim: how many pool blocks are in use (the pool file read directly). */
static int role_blocks_in_pool(int argc, char **argv)
{
	(void)argc, (void)argv;
	struct cl_pool P;
	memset(&P, 0, sizeof P);
	CHECK(cl_pool_load(&P) == 0);
	printf("%llu\n", (unsigned long long)cl_pool_used(&P));
	cl_pool_free(&P);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct cl_role roles[] = {
		{ "work", role_work, 1 },
		{ "verify", role_verify, 1 },
		{ "blocks-in-pool", role_blocks_in_pool, 0 },
	};
	return cl_main(argc, argv, roles, sizeof roles / sizeof roles[0]);
}

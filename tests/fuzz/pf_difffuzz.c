/*
 * pf_difffuzz.c - differential fuzzing of the interposed surface: a seeded random sequence of calls on a
 * managed segment and on its unmanaged twin (pftest.h), compared after every step: the result and errno
 * of each call, the size (fstat, stat), the file offset, and every byte (read through the shim). Run under
 * LD_PRELOAD=libpafka.so by tests/fuzz/difffuzz.sh, which picks the pool size and block size per seed
 * (migration on, a pool smaller than the data, so writes spill and segments move while the calls go on).
 *
 *   pf_difffuzz <seed> <ops>   (a restart adds: <next step> <generator state> <where each file is>)
 *
 * The calls: opens with random flags (O_APPEND, O_TRUNC, O_RDONLY/O_RDWR), write, pwrite, writev,
 * pwritev2 (flags 0, RWF_DSYNC, RWF_APPEND), ftruncate, every fallocate mode (0, KEEP_SIZE,
 * PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE with and without KEEP_SIZE, COLLAPSE_RANGE, INSERT_RANGE), read, pread,
 * readv, preadv, preadv2, lseek (SET, CUR, END, DATA, HOLE), sendfile / copy_file_range / splice into a
 * pipe and into a plain file, sendfile into a socket, dup and close of the dup, rename to another managed
 * name and back, rename into another partition's directory and back (reads through the open fd between),
 * rename-exchange of the two names, link + unlink of a second name, an O_TMPFILE written and linked in
 * under a segment name (an identity the shim first sees by its link), fsync, fdatasync, a fork child that reads and compares,
 * close + reopen, and a restart of the process (exec: the shim recovers its pool and the run goes on). A mismatch prints the seed, the step and the replay (every call so far, one per line)
 * and exits 1; "pf_difffuzz <seed> <n>" with n the failing step replays it.
 */
#include "pftest.h"

#include <linux/falloc.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define MAXSZ (3 * PFTEST_MIB)
#define BUFSZ (8 * PFTEST_MIB) /* a file may pass MAXSZ by one call's worth before it is cut back */

static uint64_t rng;
static uint64_t rnd(uint64_t n)
{
	return pftest_rnd(&rng, n);
}

struct side {
	char path[PATH_MAX], alt[PATH_MAX];
	int fd;
	int at_alt; /* the file is now at alt */
};

static struct side S[2]; /* 0 managed, 1 twin */
static uint8_t *bufA, *bufB, *data;
static unsigned long long seed;
static int step, total_ops;

static void replay_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void replay_line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  %d: ", step);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	STEP("seed %llu step %d", seed, step);
}

static const char *cur(int i)
{
	return S[i].at_alt ? S[i].alt : S[i].path;
}

/* Both results agree: return value and errno. */
#define DIFF_SAME(expr_m, expr_p, what) \
	do { \
		errno = 0; \
		long long rm_ = (long long)(expr_m); \
		int em_ = errno; \
		errno = 0; \
		long long rp_ = (long long)(expr_p); \
		int ep_ = errno; \
		pftest_same_check(__FILE__, __LINE__, what, rm_, em_, rp_, ep_); \
	} while (0)

static void compare_all(void)
{
	struct stat a, b;
	if (S[0].fd >= 0) {
		CHECK(fstat(S[0].fd, &a) == 0 && fstat(S[1].fd, &b) == 0);
		CHECKF(a.st_size == b.st_size, "fstat size: managed %lld, twin %lld", (long long)a.st_size,
		       (long long)b.st_size);
		long long om = lseek(S[0].fd, 0, SEEK_CUR), op = lseek(S[1].fd, 0, SEEK_CUR);
		CHECKF(om == op, "file offset: managed %lld, twin %lld", om, op);
	}
	CHECK(stat(cur(0), &a) == 0 && stat(cur(1), &b) == 0);
	CHECKF(a.st_size == b.st_size, "stat size: managed %lld, twin %lld", (long long)a.st_size, (long long)b.st_size);
	CHECKF(a.st_nlink == b.st_nlink, "nlink: managed %lu, twin %lu", (unsigned long)a.st_nlink,
	       (unsigned long)b.st_nlink);
	int fm = open(cur(0), O_RDONLY), fp = open(cur(1), O_RDONLY);
	CHECK(fm >= 0 && fp >= 0);
	size_t n = (size_t)a.st_size;
	CHECK_EQ(pftest_read_full(fm, bufA, n), n);
	CHECK_EQ(pftest_read_full(fp, bufB, n), n);
	pftest_cmp("managed bytes vs twin bytes", bufA, bufB, n, 0);
	CHECK(close(fm) == 0 && close(fp) == 0);
}

static void reopen(int flags)
{
	for (int i = 0; i < 2; i++)
		if (S[i].fd >= 0)
			CHECK(close(S[i].fd) == 0);
	S[0].fd = open(cur(0), flags, 0644);
	int e = errno;
	S[1].fd = open(cur(1), flags, 0644);
	CHECKF((S[0].fd < 0) == (S[1].fd < 0) && (S[0].fd >= 0 || e == errno), "open flags 0x%x: managed %d, twin %d",
	       flags, S[0].fd, S[1].fd);
	if (S[0].fd < 0)
		reopen(O_RDWR);
}

static size_t pftest_read_full_at(int fd, uint8_t *b, size_t n, long long off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, b + got, n - got, (off_t)(off + (long long)got));
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

static long long size_of(int i)
{
	struct stat st;
	CHECK(stat(cur(i), &st) == 0);
	return (long long)st.st_size;
}

/* pread of len bytes at off on both: the same result and errno, the same bytes. */
static void pread_both(const char *what, uint64_t len, uint64_t off)
{
	long long r[2];
	int e[2];
	for (int i = 0; i < 2; i++) {
		errno = 0;
		r[i] = pread(S[i].fd, i ? bufB : bufA, len, (off_t)off);
		e[i] = errno;
	}
	pftest_same_check(__FILE__, __LINE__, what, r[0], e[0], r[1], e[1]);
	if (r[0] > 0)
		pftest_cmp(what, bufA, bufB, (size_t)r[0], off);
}

/* n bytes at off of each file into a fresh channel, a pipe or a socket pair with room for them, by
 * sendfile or splice; read out and compared: the same result and errno, the same bytes. */
static void send_both(const char *what, int socket, int use_splice, uint64_t off, size_t n)
{
	long long r[2], got[2];
	int e[2];
	for (int i = 0; i < 2; i++) {
		int ch[2]; /* read end, write end */
		if (socket) {
			int sv[2], sz = 1 << 20;
			CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
			(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
			(void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
			ch[0] = sv[1];
			ch[1] = sv[0];
		} else {
			CHECK(pipe(ch) == 0);
		}
		loff_t lo = (loff_t)off;
		off_t so = (off_t)off;
		errno = 0;
		r[i] = use_splice ? splice(S[i].fd, &lo, ch[1], NULL, n, 0) : sendfile(ch[1], S[i].fd, &so, n);
		e[i] = errno;
		CHECK(close(ch[1]) == 0);
		got[i] = r[i] > 0 ? (long long)pftest_read_full(ch[0], i ? bufB : bufA, (size_t)r[i]) : 0;
		CHECK(close(ch[0]) == 0);
	}
	pftest_same_check(__FILE__, __LINE__, what, r[0], e[0], r[1], e[1]);
	CHECK(got[0] == got[1]);
	if (got[0] > 0)
		pftest_cmp(what, bufA, bufB, (size_t)got[0], off);
}

static void one_op(void)
{
	long long sz = size_of(0);
	uint64_t off = rnd((uint64_t)sz + 200000), len = 1 + rnd(rnd(4) ? 70000 : 400000);
	if (off + len > MAXSZ)
		off = 0, len = 1 + rnd(4096);
	int k = (int)rnd(29);
	if (sz > MAXSZ) {
		/* the file has outgrown what this test keeps (the buffers hold BUFSZ): cut it back */
		replay_line("ftruncate %llu (cut back)", (unsigned long long)(MAXSZ / 2));
		DIFF_SAME(ftruncate(S[0].fd, MAXSZ / 2), ftruncate(S[1].fd, MAXSZ / 2), "ftruncate");
		return;
	}
	pftest_fill(data, off, (size_t)len, (uint32_t)step);
	switch (k) {
	case 0: case 1: {
		replay_line("write %llu", (unsigned long long)len);
		if (sz + (long long)len > MAXSZ)
			break;
		DIFF_SAME(write(S[0].fd, data, len), write(S[1].fd, data, len), "write");
		break;
	}
	case 2: case 3:
		replay_line("pwrite %llu at %llu", (unsigned long long)len, (unsigned long long)off);
		DIFF_SAME(pwrite(S[0].fd, data, len, (off_t)off), pwrite(S[1].fd, data, len, (off_t)off), "pwrite");
		break;
	case 4: {
		struct iovec iov[3] = { { data, len / 3 }, { data + len / 3, len / 3 }, { data + 2 * (len / 3), len - 2 * (len / 3) } };
		replay_line("writev %llu", (unsigned long long)len);
		if (sz + (long long)len > MAXSZ)
			break;
		DIFF_SAME(writev(S[0].fd, iov, 3), writev(S[1].fd, iov, 3), "writev");
		break;
	}
	case 5: {
		static const int fl[] = { 0, RWF_DSYNC, RWF_APPEND };
		int f = fl[rnd(3)];
		struct iovec iov[2] = { { data, len / 2 }, { data + len / 2, len - len / 2 } };
		replay_line("pwritev2 %llu at %llu flags 0x%x", (unsigned long long)len, (unsigned long long)off, f);
		if ((f & RWF_APPEND) && sz + (long long)len > MAXSZ)
			break;
		DIFF_SAME(pwritev2(S[0].fd, iov, 2, (off_t)off, f), pwritev2(S[1].fd, iov, 2, (off_t)off, f), "pwritev2");
		break;
	}
	case 6:
		replay_line("ftruncate %llu", (unsigned long long)off);
		DIFF_SAME(ftruncate(S[0].fd, (off_t)off), ftruncate(S[1].fd, (off_t)off), "ftruncate");
		break;
	case 7: case 8: {
		static const int modes[] = { 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					     FALLOC_FL_ZERO_RANGE, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
					     FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE };
		int m = modes[rnd(7)];
		if (m & (FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_INSERT_RANGE)) {
			off = rnd(4) * 4096 * rnd(64); /* block aligned, or EINVAL alike */
			len = 4096 * (1 + rnd(32));
			if (m & FALLOC_FL_INSERT_RANGE && sz + (long long)len > MAXSZ)
				break;
		}
		replay_line("fallocate mode 0x%x %llu at %llu", m, (unsigned long long)len, (unsigned long long)off);
		DIFF_SAME(fallocate(S[0].fd, m, (off_t)off, (off_t)len), fallocate(S[1].fd, m, (off_t)off, (off_t)len), "fallocate");
		break;
	}
	case 9:
		replay_line("pread %llu at %llu", (unsigned long long)len, (unsigned long long)off);
		pread_both("pread", len, off);
		break;
	case 10: {
		replay_line("read %llu", (unsigned long long)len);
		errno = 0;
		long long a = read(S[0].fd, bufA, len);
		int ea = errno;
		errno = 0;
		long long b = read(S[1].fd, bufB, len);
		pftest_same_check(__FILE__, __LINE__, "read", a, ea, b, errno);
		if (a > 0)
			pftest_cmp("read", bufA, bufB, (size_t)a, 0);
		break;
	}
	case 11: {
		static const int wh[] = { SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE };
		int w = wh[rnd(5)];
		long long o = w == SEEK_SET || w >= SEEK_DATA ? (long long)off : (long long)rnd(1000) - 500;
		replay_line("lseek %lld whence %d", o, w);
		if (w < SEEK_DATA) {
			DIFF_SAME(lseek(S[0].fd, (off_t)o, w), lseek(S[1].fd, (off_t)o, w), "lseek");
			break;
		}
		/* Where holes are is the file system's to say (tmpfs, ext4 and the pool's blocks each have their
		 * own granularity; reporting a hole as data is allowed): the answer must be valid for the bytes,
		 * and both must fail alike only past the end of file. */
		errno = 0;
		long long r = lseek(S[0].fd, (off_t)o, w);
		int e = errno;
		long long size = size_of(1);
		if (o >= size) {
			CHECKF(r < 0 && e == ENXIO, "lseek whence %d at %lld of %lld: %lld (errno %d), not ENXIO", w, o, size, r, e);
			break;
		}
		CHECK_EQ(pftest_read_full_at(S[1].fd, bufB, (size_t)(size - o), o), (size_t)(size - o));
		uint64_t first_nz = 0;
		while (first_nz < (uint64_t)(size - o) && !bufB[first_nz])
			first_nz++;
		if (w == SEEK_DATA && r < 0) {
			CHECKF(e == ENXIO && first_nz == (uint64_t)(size - o),
			       "SEEK_DATA at %lld: %s, yet byte %lld is data", o, strerror(e), o + (long long)first_nz);
		} else if (w == SEEK_DATA) {
			CHECKF(r >= o && r < size && (uint64_t)(r - o) <= first_nz,
			       "SEEK_DATA at %lld gave %lld: byte %lld is already data", o, r, o + (long long)first_nz);
		} else {
			CHECKF(r >= o && r <= size && (r == size || !bufB[r - o]),
			       "SEEK_HOLE at %lld gave %lld (size %lld): no hole there", o, r, size);
		}
		/* the twin's offset follows (its own answer may differ) */
		CHECK(lseek(S[1].fd, r < 0 ? lseek(S[0].fd, 0, SEEK_CUR) : (off_t)r, SEEK_SET) >= 0);
		break;
	}
	case 12: {
		/* into a pipe: sendfile or splice, then drain it */
		int how = (int)rnd(2);
		size_t n = (size_t)(1 + rnd(60000));
		replay_line("%s %zu at %llu into a pipe", how ? "splice" : "sendfile", n, (unsigned long long)off);
		send_both(how ? "splice into a pipe" : "sendfile into a pipe", 0, how, off, n);
		break;
	}
	case 13: {
		/* copy_file_range into a plain file (same for both), compare the copies */
		size_t n = (size_t)(1 + rnd(200000));
		replay_line("copy_file_range %zu at %llu into a plain file", n, (unsigned long long)off);
		char tp[2][PATH_MAX];
		long long r[2];
		for (int i = 0; i < 2; i++) {
			pftest_fmt(tp[i], sizeof tp[i], "%s/plain/copy%d", pftest_dir(), i);
			int t = open(tp[i], O_RDWR | O_CREAT | O_TRUNC, 0644);
			CHECK(t >= 0);
			loff_t lo = (loff_t)off;
			r[i] = copy_file_range(S[i].fd, &lo, t, NULL, n, 0);
			size_t got = r[i] > 0 ? (size_t)r[i] : 0;
			CHECK_EQ(pread(t, i ? bufB : bufA, got, 0), (ssize_t)got);
			CHECK(close(t) == 0 && unlink(tp[i]) == 0);
		}
		CHECKF(r[0] == r[1], "copy_file_range: managed %lld, twin %lld", r[0], r[1]);
		if (r[0] > 0)
			pftest_cmp("copied bytes", bufA, bufB, (size_t)r[0], off);
		break;
	}
	case 14: {
		replay_line("dup, write through it, close it");
		int d0 = dup(S[0].fd), d1 = dup(S[1].fd);
		CHECK(d0 >= 0 && d1 >= 0);
		size_t n = (size_t)(1 + rnd(5000));
		if (sz + (long long)n <= MAXSZ)
			DIFF_SAME(write(d0, data, n), write(d1, data, n), "write through a dup");
		CHECK(close(d0) == 0 && close(d1) == 0);
		break;
	}
	case 15:
		replay_line("rename to the other name");
		for (int i = 0; i < 2; i++) {
			CHECK(rename(cur(i), S[i].at_alt ? S[i].path : S[i].alt) == 0);
			S[i].at_alt = !S[i].at_alt;
		}
		break;
	case 16: {
		/* exchange with a second file at the other name, then back */
		replay_line("rename-exchange with another file, and back");
		for (int i = 0; i < 2; i++) {
			const char *other = S[i].at_alt ? S[i].path : S[i].alt;
			int t = open(other, O_RDWR | O_CREAT | O_TRUNC, 0644);
			CHECK(t >= 0);
			pftest_write_all(t, data, 1000);
			CHECK(close(t) == 0);
			CHECK(renameat2(AT_FDCWD, cur(i), AT_FDCWD, other, RENAME_EXCHANGE) == 0);
			CHECK(renameat2(AT_FDCWD, cur(i), AT_FDCWD, other, RENAME_EXCHANGE) == 0);
			CHECK(unlink(other) == 0);
		}
		break;
	}
	case 17:
		replay_line("link a second name, unlink it");
		for (int i = 0; i < 2; i++) {
			char l[PATH_MAX];
			pftest_fmt(l, sizeof l, "%s.lnk", cur(i));
			CHECK(link(cur(i), l) == 0);
			CHECK(unlink(l) == 0);
		}
		break;
	case 18:
		replay_line("fsync");
		DIFF_SAME(fsync(S[0].fd), fsync(S[1].fd), "fsync");
		break;
	case 19:
		replay_line("fdatasync");
		DIFF_SAME(fdatasync(S[0].fd), fdatasync(S[1].fd), "fdatasync");
		break;
	case 20: {
		replay_line("fork: the child reads both and compares");
		fflush(stdout);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			compare_all();
			_exit(0);
		}
		pftest_wait_ok(pid, "fork child comparing");
		break;
	}
	case 21: case 22: {
		static const int fl[] = { O_RDWR, O_RDWR | O_APPEND, O_RDONLY, O_RDWR | O_TRUNC };
		int f = fl[rnd(rnd(8) ? 3 : 4)];
		replay_line("close and reopen with flags 0x%x", f);
		reopen(f);
		break;
	}
	case 23: {
		/* process restart: the shim recovers its pool in the new process, which goes on where this one was */
		if (rnd(3))
			goto dflt;
		replay_line("restart the process");
		for (int i = 0; i < 2; i++)
			CHECK(close(S[i].fd) == 0);
		char a[6][32];
		pftest_fmt(a[0], sizeof a[0], "%llu", seed);
		pftest_fmt(a[1], sizeof a[1], "%d", total_ops);
		pftest_fmt(a[2], sizeof a[2], "%d", step + 1);
		pftest_fmt(a[3], sizeof a[3], "%llu", (unsigned long long)rng);
		pftest_fmt(a[4], sizeof a[4], "%d", S[0].at_alt);
		pftest_fmt(a[5], sizeof a[5], "%d", S[1].at_alt);
		fflush(stdout);
		execl("/proc/self/exe", "pf_difffuzz", a[0], a[1], a[2], a[3], a[4], a[5], (char *)NULL);
		CHECKF(0, "exec /proc/self/exe: %s", strerror(errno));
		break;
	}
	case 24: {
		/* vectored reads: readv at the offset, preadv and preadv2 at off */
		int how = (int)rnd(3);
		size_t a1 = (size_t)rnd(len + 1), a2 = (size_t)rnd(len - a1 + 1);
		replay_line("%s %llu (split %zu+%zu+rest) at %llu", how == 0 ? "readv" : how == 1 ? "preadv" : "preadv2",
			    (unsigned long long)len, a1, a2, (unsigned long long)off);
		long long r[2];
		int e[2];
		for (int i = 0; i < 2; i++) {
			uint8_t *b = i ? bufB : bufA;
			struct iovec iov[3] = { { b, a1 }, { b + a1, a2 }, { b + a1 + a2, len - a1 - a2 } };
			errno = 0;
			r[i] = how == 0 ? readv(S[i].fd, iov, 3) : how == 1 ? preadv(S[i].fd, iov, 3, (off_t)off)
									: preadv2(S[i].fd, iov, 3, (off_t)off, 0);
			e[i] = errno;
		}
		pftest_same_check(__FILE__, __LINE__, "vectored read", r[0], e[0], r[1], e[1]);
		if (r[0] > 0)
			pftest_cmp("vectored read", bufA, bufB, (size_t)r[0], off);
		break;
	}
	case 25: {
		/* sendfile into a socket (what a broker does for a fetch): within the socket's buffer */
		size_t n = (size_t)(1 + rnd(60000));
		replay_line("sendfile %zu at %llu into a socket", n, (unsigned long long)off);
		send_both("sendfile into a socket", 1, 0, off, n);
		break;
	}
	case 26: {
		/* into another partition's directory, a read through the open fd there, and back */
		replay_line("rename into another directory, pread %llu at %llu there, rename back", (unsigned long long)len,
			    (unsigned long long)off);
		char far[2][PATH_MAX];
		for (int i = 0; i < 2; i++) {
			char d[PATH_MAX];
			if (i == 0)
				pftest_mpath(far[i], "fuzz-1", strrchr(cur(i), '/') + 1);
			else
				pftest_ppath(far[i], "fuzz-1", strrchr(cur(i), '/') + 1);
			pftest_fmt(d, sizeof d, "%s", far[i]);
			*strrchr(d, '/') = 0;
			pftest_mkdirs(d);
			CHECK(rename(cur(i), far[i]) == 0);
		}
		pread_both("pread after a rename into another directory", len, off);
		for (int i = 0; i < 2; i++)
			CHECK(rename(far[i], cur(i)) == 0);
		break;
	}
	case 27: {
		/* an unnamed file made in the directory, written, then given a segment name */
		size_t n = (size_t)(1 + rnd(300000));
		replay_line("O_TMPFILE: write %zu, link as a segment, read it back by name, unlink", n);
		char nm[2][PATH_MAX];
		for (int i = 0; i < 2; i++) {
			char d[PATH_MAX], seg[64];
			pftest_fmt(d, sizeof d, "%s", cur(i));
			*strrchr(d, '/') = 0;
			int t = open(d, O_TMPFILE | O_RDWR, 0644);
			CHECKF(t >= 0, "O_TMPFILE in %s: %s", d, strerror(errno));
			pftest_write_all(t, data, n);
			pftest_segname(seg, 500000 + (unsigned long long)step, NULL);
			pftest_fmt(nm[i], sizeof nm[i], "%s/%s", d, seg);
			char proc[64];
			pftest_fmt(proc, sizeof proc, "/proc/self/fd/%d", t);
			CHECK(linkat(AT_FDCWD, proc, AT_FDCWD, nm[i], AT_SYMLINK_FOLLOW) == 0);
			CHECK_EQ(pwrite(t, data, 100, (off_t)n), 100);
			CHECK(close(t) == 0);
			int rf = open(nm[i], O_RDONLY);
			CHECK(rf >= 0);
			CHECK_EQ(pftest_read_full(rf, i ? bufB : bufA, n + 100), n + 100);
			CHECK(close(rf) == 0);
		}
		pftest_cmp("linked tmpfile vs twin", bufA, bufB, n + 100, 0);
		for (int i = 0; i < 2; i++)
			CHECK(unlink(nm[i]) == 0);
		break;
	}
	default:
	dflt: {
		replay_line("pwrite %llu at %llu", (unsigned long long)len, (unsigned long long)off);
		DIFF_SAME(pwrite(S[0].fd, data, len, (off_t)off), pwrite(S[1].fd, data, len, (off_t)off), "pwrite");
		break;
	}
	}
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (argc < 3) {
		fprintf(stderr, "usage: %s SEED OPS\n", argv[0]);
		return 2;
	}
	seed = strtoull(argv[1], NULL, 10);
	int ops = atoi(argv[2]), start = 0;
	total_ops = ops;
	rng = 0x9E3779B97F4A7C15ULL ^ (seed * 0xD1B54A32D192ED03ULL);
	if (!rng)
		rng = 1;
	if (argc == 7) { /* restarted: step, generator state, where each file is */
		start = atoi(argv[3]);
		rng = strtoull(argv[4], NULL, 10);
	}
	bufA = pftest_xmalloc(BUFSZ);
	bufB = pftest_xmalloc(BUFSZ);
	data = pftest_xmalloc(BUFSZ);
	for (int i = 0; i < 2; i++) {
		char seg[64], alt[64];
		pftest_segname(seg, 0, NULL);
		pftest_segname(alt, 1000 + seed % 1000, NULL);
		if (i == 0) {
			pftest_mpath(S[i].path, "fuzz-0", seg);
			pftest_mpath(S[i].alt, "fuzz-0", alt);
		} else {
			pftest_ppath(S[i].path, "fuzz-0", seg);
			pftest_ppath(S[i].alt, "fuzz-0", alt);
		}
		char d[PATH_MAX];
		pftest_fmt(d, sizeof d, "%s", S[i].path);
		*strrchr(d, '/') = 0;
		pftest_mkdirs(d);
		S[i].fd = -1;
		if (argc == 7)
			S[i].at_alt = atoi(argv[5 + i]);
	}
	char pl[PATH_MAX];
	pftest_fmt(pl, sizeof pl, "%s/plain", pftest_dir());
	pftest_mkdirs(pl);
	if (start == 0)
		printf("seed %llu, %d calls; replay:\n", seed, ops);
	reopen(O_RDWR | O_CREAT);
	if (start > 0)
		compare_all(); /* what the new process sees */
	for (step = start; step < ops; step++) {
		one_op();
		compare_all();
	}
	printf("difffuzz: seed %llu, %d calls, managed file and twin agreed after every one\n", seed, ops);
	return 0;
}

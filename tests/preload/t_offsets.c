/*
 * t_offsets: file offsets shared through dup, dup2, dup3, fcntl(F_DUPFD/F_DUPFD_CLOEXEC) and fork (the
 * child reads and seeks; writes from a child are t_fork's) exactly as the kernel shares them (vs the unmanaged twin); closing one duplicate leaves the others working; dup2 onto a
 * managed fd closes it properly (the fd then reaches the other file, managed or not); fd numbers reused after
 * close, close_range and closefrom reach the new file; F_SETFL O_APPEND on and off; lseek SEEK_SET/CUR/END
 * beyond EOF and its errors.
 */
#include "pftest.h"

#include <linux/close_range.h>

/* Write n pattern bytes at the shared offset through fds a (managed) and b (twin). */
static void wr(struct pftest_twin *t, int a, int b, size_t n, uint32_t seed)
{
	long long off = SAME(lseek(a, 0, SEEK_CUR), lseek(b, 0, SEEK_CUR));
	uint8_t *buf = pftest_patbuf((uint64_t)off, n, seed);
	CHECK_EQ(SAME(write(a, buf, n), write(b, buf, n)), n);
	pftest_shadow_write(&t->sh, (uint64_t)off, buf, n);
	pftest_free(buf);
}

/* Read n bytes at the shared offset through a and b; compare with the shadow. */
static void rd(struct pftest_twin *t, int a, int b, size_t n)
{
	long long off = SAME(lseek(a, 0, SEEK_CUR), lseek(b, 0, SEEK_CUR));
	long long exp = (uint64_t)off >= t->sh.size ? 0 : (long long)(t->sh.size - (uint64_t)off < n ? t->sh.size - (uint64_t)off : n);
	CHECK_EQ(SAME(read(a, t->bm, n), read(b, t->bp, n)), exp);
	pftest_twin_bufs(t, exp, t->sh.b + off, (uint64_t)off);
}

static void offsets_agree(int a1, int a2, int b1, int b2)
{
	long long x = SAME(lseek(a1, 0, SEEK_CUR), lseek(b1, 0, SEEK_CUR));
	CHECK_EQ(SAME(lseek(a2, 0, SEEK_CUR), lseek(b2, 0, SEEK_CUR)), x);
}

static void fill_file(const char *path, size_t n, uint32_t seed, struct pftest_shadow *sh)
{
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, n, seed);
	pftest_write_all(fd, b, n);
	CHECK(close(fd) == 0);
	pftest_shadow_truncate(sh, 0);
	pftest_shadow_write(sh, 0, b, n);
	pftest_free(b);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	int m = t.fm, p = t.fp;

	STEP("dup shares the offset");
	wr(&t, m, p, 100000, 1);
	int md = OK(dup(m)), pd = OK(dup(p));
	offsets_agree(m, md, p, pd);
	CHECK_EQ(SAME(lseek(md, 777, SEEK_SET), lseek(pd, 777, SEEK_SET)), 777);
	CHECK_EQ(SAME(lseek(m, 0, SEEK_CUR), lseek(p, 0, SEEK_CUR)), 777);
	wr(&t, md, pd, PFTEST_BLK, 2);
	CHECK_EQ(SAME(lseek(m, 0, SEEK_CUR), lseek(p, 0, SEEK_CUR)), 777 + PFTEST_BLK);
	CHECK_EQ(SAME(lseek(m, 10, SEEK_SET), lseek(p, 10, SEEK_SET)), 10);
	rd(&t, md, pd, 5000);
	rd(&t, m, p, 5000);
	CHECK_EQ(SAME(lseek(md, 0, SEEK_CUR), lseek(pd, 0, SEEK_CUR)), 10010);

	STEP("dup2, dup3(O_CLOEXEC), F_DUPFD, F_DUPFD_CLOEXEC");
	int m2 = OK(dup2(m, 100)), p2 = OK(dup2(p, 101));
	CHECK(m2 == 100 && p2 == 101);
	int m3 = OK(dup3(m, 102, O_CLOEXEC)), p3 = OK(dup3(p, 103, O_CLOEXEC));
	CHECK_EQ(fcntl(m3, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	CHECK_EQ(fcntl(m2, F_GETFD) & FD_CLOEXEC, 0);
	int m4 = OK(fcntl(m, F_DUPFD, 200)), p4 = OK(fcntl(p, F_DUPFD, 200));
	CHECK(m4 >= 200 && p4 >= 200);
	int m5 = OK(fcntl(m, F_DUPFD_CLOEXEC, 300)), p5 = OK(fcntl(p, F_DUPFD_CLOEXEC, 300));
	CHECK(m5 >= 300 && p5 >= 300);
	CHECK_EQ(fcntl(m5, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	int ms[] = { m, md, m2, m3, m4, m5 }, ps[] = { p, pd, p2, p3, p4, p5 };
	for (int i = 0; i < 6; i++) {
		STEP("write through duplicate %d", i);
		wr(&t, ms[i], ps[i], 3333 + (size_t)i * 20000, 10 + (uint32_t)i);
		for (int j = 0; j < 6; j++)
			offsets_agree(ms[i], ms[j], ps[i], ps[j]);
		CHECK_EQ(SAME(pftest_fsize(ms[(i + 3) % 6]), pftest_fsize(ps[(i + 3) % 6])), t.sh.size);
	}
	CHECK_EQ(SAME(lseek(m3, 0, SEEK_END), lseek(p3, 0, SEEK_END)), t.sh.size);
	wr(&t, m4, p4, 2 * PFTEST_BLK + 1, 20);
	pftest_twin_check(&t);
	STEP("dup2(fd, fd) and dup3(fd, fd) are no-op / EINVAL");
	CHECK_EQ(dup2(m2, m2), m2);
	CHECK_EQ(SAME(dup3(m2, m2, 0), dup3(p2, p2, 0)), -1);

	STEP("closing duplicates leaves the others working");
	CHECK(close(m) == 0 && close(p) == 0);
	CHECK(close(md) == 0 && close(pd) == 0);
	CHECK(close(m3) == 0 && close(p3) == 0);
	wr(&t, m2, p2, 12345, 30);
	offsets_agree(m2, m4, p2, p4);
	CHECK_EQ(SAME(lseek(m5, 100, SEEK_SET), lseek(p5, 100, SEEK_SET)), 100);
	rd(&t, m2, p2, 3 * PFTEST_BLK);
	CHECK(close(m4) == 0 && close(p4) == 0 && close(m5) == 0 && close(p5) == 0);
	t.fm = m2;
	t.fp = p2;
	pftest_twin_check(&t);

	STEP("fork shares the offset");
	{
		CHECK_EQ(SAME(lseek(m2, 5, SEEK_SET), lseek(p2, 5, SEEK_SET)), 5);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			/* child: read 1000 at the shared offset, then move it (writes from a child: t_fork) */
			uint8_t c[1000];
			CHECK(read(m2, c, 1000) == 1000 && read(p2, t.bp, 1000) == 1000);
			pftest_cmp("child read", c, t.bp, 1000, 5);
			pftest_cmp("child read vs shadow", c, t.sh.b + 5, 1000, 5);
			CHECK(lseek(m2, 0, SEEK_CUR) == 1005);
			CHECK(lseek(m2, 70005, SEEK_CUR) == 71010 && lseek(p2, 70005, SEEK_CUR) == 71010);
			_exit(0);
		}
		pftest_wait_ok(pid, "fork child");
		CHECK_EQ(SAME(lseek(m2, 0, SEEK_CUR), lseek(p2, 0, SEEK_CUR)), 71010);
		rd(&t, m2, p2, 100);
		pftest_twin_check(&t);
	}

	STEP("dup2 onto a managed fd: managed file replaced by another managed file");
	{
		char bm[PATH_MAX], bp[PATH_MAX];
		struct pftest_shadow shb = { 0 };
		pftest_mpath(bm, "topic-0", "00000000000000001000.log");
		pftest_ppath(bp, "topic-0", "00000000000000001000.log");
		fill_file(bm, 300000, 50, &shb);
		fill_file(bp, 300000, 50, &shb);
		int fbm = OK(open(bm, O_RDWR)), fbp = OK(open(bp, O_RDWR));
		int keep_m = OK(dup(m2)), keep_p = OK(dup(p2)); /* keeps file A open through another fd */
		CHECK_EQ(dup2(fbm, m2), m2);
		CHECK_EQ(dup2(fbp, p2), p2);
		/* m2 now reaches file B at B's offset (0) */
		CHECK_EQ(SAME(lseek(m2, 0, SEEK_CUR), lseek(p2, 0, SEEK_CUR)), 0);
		CHECK_EQ(SAME(read(m2, t.bm, 1000), read(p2, t.bp, 1000)), 1000);
		pftest_twin_bufs(&t, 1000, shb.b, 0);
		uint8_t *c = pftest_patbuf(300000, 5000, 51);
		CHECK_EQ(SAME(pwrite(m2, c, 5000, 300000), pwrite(p2, c, 5000, 300000)), 5000);
		pftest_shadow_write(&shb, 300000, c, 5000);
		pftest_free(c);
		pftest_check_path(bm, &shb);
		pftest_check_path(bp, &shb);
		/* file A is untouched and still works through the kept fd */
		t.fm = keep_m;
		t.fp = keep_p;
		pftest_twin_check(&t);
		CHECK(close(fbm) == 0 && close(fbp) == 0);
		CHECK_EQ(SAME(pftest_fsize(m2), pftest_fsize(p2)), 305000);

		STEP("dup2 onto a managed fd: replaced by an unmanaged file");
		char u[PATH_MAX];
		struct pftest_shadow shu = { 0 };
		pftest_ppath(u, "other", "unmanaged.bin");
		fill_file(u, 1000, 52, &shu);
		long long used = pftest_pool_used0();
		int fu = OK(open(u, O_RDWR));
		CHECK_EQ(dup2(fu, m2), m2); /* m2 (file B) is closed, now the unmanaged file */
		CHECK(close(fu) == 0);
		c = pftest_patbuf(1000, PFTEST_BLK * 2, 53);
		CHECK_EQ(lseek(m2, 0, SEEK_END), 1000);
		pftest_write_all(m2, c, PFTEST_BLK * 2);
		pftest_shadow_write(&shu, 1000, c, PFTEST_BLK * 2);
		pftest_free(c);
		CHECK(fsync(m2) == 0);
		pftest_check_path(u, &shu);
		pftest_check_kernel_resident(u, 1000 + PFTEST_BLK * 2);
		pftest_check_path(bm, &shb);
		CHECKF(pftest_pool_used0() == used, "writing an unmanaged file through a reused fd changed pool use %lld -> %lld",
		       used, pftest_pool_used0());
		STEP("dup2 of a managed fd onto an unmanaged fd");
		CHECK_EQ(dup2(keep_m, m2), m2);
		CHECK_EQ(dup2(keep_p, p2), p2);
		wr(&t, m2, p2, 40000, 54);
		pftest_check_path(u, &shu);
		pftest_twin_check(&t);
		CHECK(close(m2) == 0 && close(p2) == 0);
		pftest_shadow_free(&shb);
		pftest_shadow_free(&shu);
	}

	STEP("fd numbers reused after close / close_range / closefrom");
	{
		char a[PATH_MAX], c[PATH_MAX];
		struct pftest_shadow sa = { 0 }, sc = { 0 };
		pftest_mpath(a, "topic-1", "00000000000000000000.log");
		pftest_mpath(c, "topic-1", "00000000000000000100.log");
		fill_file(a, 200000, 60, &sa);
		fill_file(c, 150000, 61, &sc);
		for (int round = 0; round < 3; round++) {
			int fa = OK(open(a, O_RDWR));
			CHECK_EQ(pread(fa, t.bm, 10, 0), 10);
			if (round == 0)
				CHECK(close(fa) == 0);
			else if (round == 1)
				CHECK(close_range((unsigned)fa, (unsigned)fa, 0) == 0);
			else
				closefrom(fa);
			FAILS(fcntl(fa, F_GETFD), EBADF);
			FAILS(pread(fa, t.bm, 10, 0), EBADF);
			FAILS(write(fa, "x", 1), EBADF);
			int fc = OK(open(c, O_RDWR));
			CHECK(fc == fa);
			pftest_check_fd(fc, &sc, "file C through a reused fd number");
			CHECK(close(fc) == 0);
		}
		pftest_check_path(a, &sa);
		STEP("close_range(CLOSE_RANGE_CLOEXEC) keeps the fd usable");
		int fa = OK(open(a, O_RDWR));
		CHECK(close_range((unsigned)fa, (unsigned)fa, CLOSE_RANGE_CLOEXEC) == 0);
		CHECK_EQ(fcntl(fa, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
		pftest_check_fd(fa, &sa, "after CLOSE_RANGE_CLOEXEC");
		CHECK(close(fa) == 0);
		pftest_shadow_free(&sa);
		pftest_shadow_free(&sc);
	}

	STEP("F_SETFL O_APPEND on and off");
	CHECK(pftest_twin_open(&t, O_RDWR, 0) >= 0);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_SET)), 0);
	CHECK_EQ(TWIN(&t, fcntl(FD, F_SETFL, O_APPEND)), 0);
	CHECK_EQ(TWIN(&t, fcntl(FD, F_GETFL) & O_APPEND), O_APPEND);
	{
		uint64_t end = t.sh.size;
		uint8_t *b = pftest_patbuf(end, 3000, 70);
		CHECK_EQ(TWIN(&t, write(FD, b, 3000)), 3000);
		pftest_shadow_write(&t.sh, end, b, 3000);
		pftest_free(b);
		pftest_twin_check(&t);
		CHECK_EQ(TWIN(&t, fcntl(FD, F_SETFL, 0)), 0);
		CHECK_EQ(TWIN(&t, lseek(FD, 50, SEEK_SET)), 50);
		wr(&t, t.fm, t.fp, 3000, 71);
		pftest_twin_check(&t);
	}

	STEP("lseek beyond EOF and errors");
	CHECK_EQ(TWIN(&t, lseek(FD, (off_t)t.sh.size + 1000000, SEEK_SET)), t.sh.size + 1000000);
	CHECK_EQ(TWIN(&t, read(FD, BUF, 10)), 0);
	CHECK_EQ(TWIN(&t, lseek(FD, 10, SEEK_CUR)), t.sh.size + 1000010);
	CHECK_EQ(TWIN(&t, lseek(FD, -10, SEEK_END)), t.sh.size - 10);
	CHECK_EQ(TWIN(&t, lseek(FD, -(off_t)t.sh.size - 1, SEEK_END)), -1);
	CHECK_EQ(TWIN(&t, lseek(FD, -1, SEEK_SET)), -1);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, 42)), -1);
	CHECK_EQ(TWIN(&t, lseek64(FD, 0, SEEK_CUR)), t.sh.size - 10);
	rd(&t, t.fm, t.fp, 100);
	pftest_twin_check(&t);
	pftest_twin_close(&t);
	printf("PASS\n");
	return 0;
}

/*
 * t_times: timestamps stay kernel-true. After an old mtime is set (futimens), each data-changing call on a
 * managed segment must move st_mtime and st_ctime to "now" as the kernel does for the unmanaged twin: write
 * (append), write in the middle (size unchanged), pwrite, writev, ftruncate, fallocate, copy_file_range and
 * sendfile into the file, a store through a shared mapping + msync. (Kafka's retention and cleaner use
 * segment lastModified.) Reads must not move mtime. Checked through stat, fstat and statx.
 */
#include "pftest.h"

#include <sys/mman.h>
#include <sys/sendfile.h>

#define OLD 1000000000 /* 2001-09-09 */

static struct pftest_twin t;
static time_t start;

static void make_old(void)
{
	struct timespec ts[2] = { { OLD, 0 }, { OLD, 0 } };
	CHECK_EQ(TWIN(&t, futimens(FD, ts)), 0);
	struct stat st;
	CHECK(stat(t.m, &st) == 0 && st.st_mtime == OLD);
}

static void expect_new(const char *what)
{
	struct stat a, b, c;
	struct statx x;
	STEP("mtime after %s", what);
	CHECK(stat(t.m, &a) == 0 && fstat(t.fm, &b) == 0 && stat(t.p, &c) == 0);
	CHECK(statx(AT_FDCWD, t.m, 0, STATX_MTIME | STATX_CTIME, &x) == 0);
	CHECKF(c.st_mtime >= start, "twin: mtime %lld after %s (the test's assumption is wrong)", (long long)c.st_mtime, what);
	CHECKF(a.st_mtime >= start && b.st_mtime >= start && x.stx_mtime.tv_sec >= start,
	       "managed file: mtime stat %lld fstat %lld statx %lld after %s; expected >= %lld like the twin (%lld)",
	       (long long)a.st_mtime, (long long)b.st_mtime, (long long)x.stx_mtime.tv_sec, what, (long long)start,
	       (long long)c.st_mtime);
	CHECKF(a.st_ctime >= start, "managed file: ctime %lld after %s", (long long)a.st_ctime, what);
}

static void expect_old(const char *what)
{
	struct stat a;
	STEP("mtime after %s", what);
	CHECK(stat(t.m, &a) == 0);
	CHECKF(a.st_mtime == OLD, "managed file: mtime %lld after %s, which must not change it", (long long)a.st_mtime, what);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	start = time(NULL) - 2;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	uint8_t *b = pftest_patbuf(0, PFTEST_MIB, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, PFTEST_MIB)), PFTEST_MIB);

	make_old();
	CHECK_EQ(TWIN(&t, pread(FD, BUF, 1000, 0)), 1000);
	CHECK_EQ(TWIN(&t, fsync(FD)), 0);
	expect_old("pread and fsync");

	make_old();
	CHECK_EQ(TWIN(&t, write(FD, b, 1000)), 1000);
	expect_new("an append with write()");

	make_old();
	CHECK_EQ(TWIN(&t, pwrite(FD, b, 1000, 5000)), 1000);
	expect_new("pwrite inside the file (size unchanged)");

	make_old();
	CHECK_EQ(TWIN(&t, lseek(FD, 100, SEEK_SET)), 100);
	CHECK_EQ(TWIN(&t, write(FD, b, 1000)), 1000);
	expect_new("write() inside the file (size unchanged)");

	make_old();
	{
		struct iovec iov[2] = { { b, 10 }, { b + 10, 20 } };
		CHECK_EQ(TWIN(&t, writev(FD, iov, 2)), 30);
	}
	expect_new("writev");

	make_old();
	CHECK_EQ(TWIN(&t, ftruncate(FD, PFTEST_MIB / 2)), 0);
	expect_new("ftruncate");

	make_old();
	CHECK_EQ(TWIN(&t, fallocate(FD, 0, 0, PFTEST_MIB)), 0);
	expect_new("fallocate extending the file");

	make_old();
	{
		char src[PATH_MAX];
		pftest_ppath(src, "src", "data.bin");
		int s = OK(open(src, O_RDWR | O_CREAT, 0644));
		pftest_write_all(s, b, 100000);
		off64_t a = 0, c = 0, d = 0, e = 0;
		CHECK_EQ(SAME(copy_file_range(s, &a, t.fm, &c, 5000, 0), copy_file_range(s, &d, t.fp, &e, 5000, 0)), 5000);
		expect_new("copy_file_range into the file");
		make_old();
		off_t o1 = 0, o2 = 0;
		CHECK_EQ(SAME(sendfile(t.fm, s, &o1, 5000), sendfile(t.fp, s, &o2, 5000)), 5000);
		expect_new("sendfile into the file");
		close(s);
	}

	make_old();
	{
		void *mm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t.fm, 0);
		void *mp = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, t.fp, 0);
		CHECK(mm != MAP_FAILED && mp != MAP_FAILED);
		((char *)mm)[7] = 1;
		((char *)mp)[7] = 1;
		CHECK(msync(mm, 4096, MS_SYNC) == 0 && msync(mp, 4096, MS_SYNC) == 0);
		expect_new("a store through a shared mapping + msync");
		CHECK(munmap(mm, 4096) == 0 && munmap(mp, 4096) == 0);
	}
	pftest_twin_close(&t);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

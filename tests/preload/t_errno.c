/*
 * t_errno: error returns on managed segments are the kernel's, compared call by call with the unmanaged
 * twin: O_CREAT|O_EXCL on an existing file (EEXIST), open of a missing file or in a missing directory
 * (ENOENT), O_DIRECTORY on a file and a trailing slash (ENOTDIR), read/pread/readv on O_WRONLY (EBADF),
 * write/pwrite/writev/ftruncate on O_RDONLY (EBADF / EINVAL), negative pread/pwrite offsets (EINVAL), every
 * call on a closed fd (EBADF), ftruncate negative (EINVAL), unlink/rename/truncate/stat of missing paths
 * (ENOENT), lseek with a bad whence or a negative result (EINVAL), EACCES from permission bits (non-root
 * only), and errno left untouched by successful calls.
 */
#include "pftest.h"

#include <sys/sendfile.h>

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	uint8_t *b = pftest_patbuf(0, 100000, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, 100000)), 100000);
	pftest_shadow_write(&t.sh, 0, b, 100000);
	char buf[256];
	struct stat st;

	STEP("open errors");
	CHECK_EQ(TWIN(&t, open(PATH, O_RDWR | O_CREAT | O_EXCL, 0644)), -1);
	CHECK_EQ(errno, EEXIST);
	CHECK_EQ(TWIN(&t, open(PATH, O_RDONLY | O_DIRECTORY)), -1);
	CHECK_EQ(errno, ENOTDIR);
	{
		char m[PATH_MAX + 8], p[PATH_MAX + 8];
		pftest_fmt(m, sizeof m, "%s/", t.m);
		pftest_fmt(p, sizeof p, "%s/", t.p);
		CHECK_EQ(SAME(open(m, O_RDONLY), open(p, O_RDONLY)), -1);
		CHECK_EQ(SAME(open(m, O_RDWR | O_CREAT, 0644), open(p, O_RDWR | O_CREAT, 0644)), -1);
		pftest_mpath(m, "topic-0", "00000000000000000123.log");
		pftest_ppath(p, "topic-0", "00000000000000000123.log");
		CHECK_EQ(SAME(open(m, O_RDONLY), open(p, O_RDONLY)), -1);
		CHECK_EQ(errno, ENOENT);
		CHECK_EQ(SAME(open(m, O_WRONLY | O_TRUNC), open(p, O_WRONLY | O_TRUNC)), -1);
		CHECK_EQ(SAME(stat(m, &st), stat(p, &st)), -1);
		CHECK_EQ(SAME(truncate(m, 5), truncate(p, 5)), -1);
		CHECK_EQ(SAME(unlink(m), unlink(p)), -1);
		CHECK_EQ(errno, ENOENT);
		char m2[PATH_MAX], p2[PATH_MAX];
		pftest_mpath(m2, "topic-0", "00000000000000000124.log");
		pftest_ppath(p2, "topic-0", "00000000000000000124.log");
		CHECK_EQ(SAME(rename(m, m2), rename(p, p2)), -1);
		CHECK_EQ(errno, ENOENT);
		pftest_fmt(m, sizeof m, "%s/logs/missing-0/%s", pftest_dir(), PFTEST_SEG0);
		pftest_fmt(p, sizeof p, "%s/plain/missing-0/%s", pftest_dir(), PFTEST_SEG0);
		CHECK_EQ(SAME(open(m, O_RDWR | O_CREAT, 0644), open(p, O_RDWR | O_CREAT, 0644)), -1);
		CHECK_EQ(errno, ENOENT);
	}

	STEP("wrong access mode");
	{
		int wm = OK(open(t.m, O_WRONLY)), wp = OK(open(t.p, O_WRONLY));
		struct iovec iov = { buf, sizeof buf };
		CHECK_EQ(SAME(read(wm, buf, 10), read(wp, buf, 10)), -1);
		CHECK_EQ(errno, EBADF);
		CHECK_EQ(SAME(pread(wm, buf, 10, 0), pread(wp, buf, 10, 0)), -1);
		CHECK_EQ(SAME(pread64(wm, buf, 10, 0), pread64(wp, buf, 10, 0)), -1);
		CHECK_EQ(SAME(readv(wm, &iov, 1), readv(wp, &iov, 1)), -1);
		CHECK_EQ(SAME(preadv2(wm, &iov, 1, 0, 0), preadv2(wp, &iov, 1, 0, 0)), -1);
		off_t o1 = 0, o2 = 0;
		int pp[2];
		CHECK(pipe(pp) == 0);
		CHECK_EQ(SAME(sendfile(pp[1], wm, &o1, 10), sendfile(pp[1], wp, &o2, 10)), -1);
		CHECK(close(pp[0]) == 0 && close(pp[1]) == 0);
		CHECK(close(wm) == 0 && close(wp) == 0);
		int rm = OK(open(t.m, O_RDONLY)), rp = OK(open(t.p, O_RDONLY));
		CHECK_EQ(SAME(write(rm, "x", 1), write(rp, "x", 1)), -1);
		CHECK_EQ(errno, EBADF);
		CHECK_EQ(SAME(pwrite(rm, "x", 1, 0), pwrite(rp, "x", 1, 0)), -1);
		CHECK_EQ(SAME(pwrite64(rm, "x", 1, 0), pwrite64(rp, "x", 1, 0)), -1);
		CHECK_EQ(SAME(writev(rm, &iov, 1), writev(rp, &iov, 1)), -1);
		CHECK_EQ(SAME(pwritev2(rm, &iov, 1, -1, 0), pwritev2(rp, &iov, 1, -1, 0)), -1);
		CHECK_EQ(SAME(ftruncate(rm, 10), ftruncate(rp, 10)), -1);
		CHECK_EQ(errno, EINVAL);
		CHECK_EQ(SAME(ftruncate64(rm, 10), ftruncate64(rp, 10)), -1);
		CHECK_EQ(SAME(fallocate(rm, 0, 0, 10), fallocate(rp, 0, 0, 10)), -1);
		CHECK(close(rm) == 0 && close(rp) == 0);
		pftest_twin_check(&t);
	}

	STEP("bad offsets and lengths");
	CHECK_EQ(TWIN(&t, pread(FD, buf, 10, -1)), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(TWIN(&t, pread64(FD, buf, 10, -100000)), -1);
	CHECK_EQ(TWIN(&t, pwrite(FD, buf, 10, -1)), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(TWIN(&t, pwrite64(FD, buf, 10, -5)), -1);
	CHECK_EQ(TWIN(&t, ftruncate(FD, -1)), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(TWIN(&t, ftruncate64(FD, -1)), -1);
	CHECK_EQ(TWIN(&t, truncate(PATH, -1)), -1);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, 77)), -1);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(TWIN(&t, lseek(FD, -1, SEEK_SET)), -1);
	CHECK_EQ(TWIN(&t, lseek64(FD, -200000, SEEK_END)), -1);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_CUR)), 100000);
	pftest_twin_check(&t);

	STEP("closed fd");
	{
		int cm = OK(dup(t.fm)), cp = OK(dup(t.fp));
		CHECK(close(cm) == 0 && close(cp) == 0);
		struct iovec iov = { buf, 10 };
		off_t o = 0;
		CHECK_EQ(SAME(read(cm, buf, 10), read(cp, buf, 10)), -1);
		CHECK_EQ(errno, EBADF);
		CHECK_EQ(SAME(write(cm, buf, 10), write(cp, buf, 10)), -1);
		CHECK_EQ(SAME(pread(cm, buf, 10, 0), pread(cp, buf, 10, 0)), -1);
		CHECK_EQ(SAME(pwrite(cm, buf, 10, 0), pwrite(cp, buf, 10, 0)), -1);
		CHECK_EQ(SAME(readv(cm, &iov, 1), readv(cp, &iov, 1)), -1);
		CHECK_EQ(SAME(writev(cm, &iov, 1), writev(cp, &iov, 1)), -1);
		CHECK_EQ(SAME(lseek(cm, 0, SEEK_END), lseek(cp, 0, SEEK_END)), -1);
		CHECK_EQ(SAME(fstat(cm, &st), fstat(cp, &st)), -1);
		CHECK_EQ(SAME(fstat64(cm, &(struct stat64){ 0 }), fstat64(cp, &(struct stat64){ 0 })), -1);
		CHECK_EQ(SAME(ftruncate(cm, 0), ftruncate(cp, 0)), -1);
		CHECK_EQ(SAME(fsync(cm), fsync(cp)), -1);
		CHECK_EQ(SAME(fdatasync(cm), fdatasync(cp)), -1);
		CHECK_EQ(SAME(close(cm), close(cp)), -1);
		CHECK_EQ(SAME(dup(cm), dup(cp)), -1);
		CHECK_EQ(SAME(fallocate(cm, 0, 0, 1), fallocate(cp, 0, 0, 1)), -1);
		CHECK_EQ(SAME(posix_fallocate(cm, 0, 1), posix_fallocate(cp, 0, 1)), EBADF);
		CHECK_EQ(SAME(sendfile(1, cm, &o, 1), sendfile(1, cp, &o, 1)), -1);
		CHECK_EQ(errno, EBADF);
		pftest_twin_check(&t);
	}

	STEP("errno is preserved by successful calls");
	{
		errno = 12345;
		CHECK_EQ(pread(t.fm, buf, 10, 5), 10);
		CHECK_EQ(errno, 12345);
		CHECK_EQ(pwrite(t.fm, buf, 10, 5), 10);
		CHECK_EQ(errno, 12345);
		CHECK_EQ(write(t.fm, b, 10), 10);
		CHECK_EQ(write(t.fp, b, 10), 10);
		pftest_shadow_write(&t.sh, 100000, b, 10);
		CHECK_EQ(errno, 12345);
		CHECK_EQ(fstat(t.fm, &st), 0);
		CHECK_EQ(errno, 12345);
		CHECK_EQ(lseek(t.fm, 0, SEEK_END), 100010);
		CHECK_EQ(errno, 12345);
		int fd = open(t.m, O_RDONLY);
		CHECK(fd >= 0 && errno == 12345);
		CHECK(close(fd) == 0 && errno == 12345);
		CHECK_EQ(fsync(t.fm), 0);
		CHECK_EQ(errno, 12345);
		memcpy(t.sh.b + 5, buf, 10);
		memcpy(buf, t.sh.b + 5, 10);
		CHECK_EQ(pwrite(t.fp, buf, 10, 5), 10);
		pftest_twin_check(&t);
	}

	STEP("permission bits (non-root only)");
	if (geteuid() != 0) {
		CHECK_EQ(TWIN(&t, chmod(PATH, 0)), 0);
		CHECK_EQ(TWIN(&t, open(PATH, O_RDONLY)), -1);
		CHECK_EQ(errno, EACCES);
		CHECK_EQ(TWIN(&t, truncate(PATH, 0)), -1);
		CHECK_EQ(TWIN(&t, chmod(PATH, 0644)), 0);
	} else {
		printf("note: running as root, EACCES checks skipped\n");
	}
	pftest_twin_close(&t);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

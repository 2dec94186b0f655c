/*
 * t_fortify: programs built with -D_FORTIFY_SOURCE call glibc's checking entry points instead of read,
 * pread, pread64 and open: __read_chk, __pread_chk, __pread64_chk, __open_2, __open64_2, __openat_2,
 * __openat64_2 (the checks then call glibc-internal functions, not the exported ones). Reads of a managed
 * segment through them must return the segment's bytes, opens through them must create and open managed
 * files, compared with the unmanaged twin.
 */
#include "pftest.h"

extern ssize_t __read_chk(int fd, void *buf, size_t nbytes, size_t buflen);
extern ssize_t __pread_chk(int fd, void *buf, size_t nbytes, off_t offset, size_t buflen);
extern ssize_t __pread64_chk(int fd, void *buf, size_t nbytes, off64_t offset, size_t buflen);
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dirfd, const char *path, int flags);
extern int __openat64_2(int dirfd, const char *path, int flags);

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	uint8_t *b = pftest_patbuf(0, PFTEST_MIB + 3, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, PFTEST_MIB + 3)), PFTEST_MIB + 3);
	pftest_shadow_write(&t.sh, 0, b, PFTEST_MIB + 3);
	pftest_free(b);

	STEP("__read_chk");
	CHECK_EQ(TWIN(&t, lseek(FD, PFTEST_BLK - 1, SEEK_SET)), PFTEST_BLK - 1);
	CHECK_EQ(TWIN(&t, __read_chk(FD, BUF, 3 * PFTEST_BLK, PFTEST_TWBUF)), 3 * PFTEST_BLK);
	pftest_twin_bufs(&t, 3 * PFTEST_BLK, t.sh.b + PFTEST_BLK - 1, PFTEST_BLK - 1);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_CUR)), 4 * PFTEST_BLK - 1);
	STEP("__pread_chk / __pread64_chk");
	CHECK_EQ(TWIN(&t, __pread_chk(FD, BUF, 100000, 12345, PFTEST_TWBUF)), 100000);
	pftest_twin_bufs(&t, 100000, t.sh.b + 12345, 12345);
	CHECK_EQ(TWIN(&t, __pread64_chk(FD, BUF, 200000, (off64_t)t.sh.size - 1000, PFTEST_TWBUF)), 1000);
	pftest_twin_bufs(&t, 1000, t.sh.b + t.sh.size - 1000, t.sh.size - 1000);
	CHECK_EQ(TWIN(&t, __pread_chk(FD, BUF, 10, -1, PFTEST_TWBUF)), -1);

	STEP("__open_2 family");
	{
		char d[PATH_MAX];
		pftest_fmt(d, sizeof d, "%s/logs/topic-0", pftest_dir());
		int dfd = OK(open(d, O_RDONLY | O_DIRECTORY));
		int fds[4];
		fds[0] = OK(__open_2(t.m, O_RDONLY));
		fds[1] = OK(__open64_2(t.m, O_RDONLY));
		fds[2] = OK(__openat_2(dfd, PFTEST_SEG0, O_RDONLY));
		fds[3] = OK(__openat64_2(AT_FDCWD, t.m, O_RDWR));
		for (int i = 0; i < 4; i++) {
			STEP("__open_2 family fd %d", i);
			pftest_check_fd(fds[i], &t.sh, "fd from a fortified open");
			CHECK_EQ(__read_chk(fds[i], t.bm, 1000, PFTEST_TWBUF), 1000);
			pftest_cmp("__read_chk after fortified open", t.bm, t.sh.b, 1000, 0);
		}
		b = pftest_patbuf(5, 10, 2);
		pftest_pwrite_all(fds[3], b, 10, 5);
		CHECK_EQ(pwrite(t.fp, b, 10, 5), 10);
		pftest_shadow_write(&t.sh, 5, b, 10);
		pftest_free(b);
		for (int i = 0; i < 4; i++)
			CHECK(close(fds[i]) == 0);
		close(dfd);
		pftest_twin_check(&t);
	}
	pftest_twin_close(&t);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	printf("PASS\n");
	return 0;
}

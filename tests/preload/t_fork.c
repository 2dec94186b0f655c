/*
 * t_fork: a forked child uses managed segments like the kernel allows: through inherited fds it reads,
 * appends with write() at the shared offset, pwrites, ftruncates and fsyncs, and it opens and writes managed
 * files by path; the parent then sees every byte, size and the moved offset. Compared with the unmanaged
 * twin. (Kafka itself never forks with segments open; this is general transparency.)
 */
#include "pftest.h"

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	uint8_t *b = pftest_patbuf(0, 4 * PFTEST_MIB, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, 2 * PFTEST_MIB)), 2 * PFTEST_MIB);
	pftest_shadow_write(&t.sh, 0, b, 2 * PFTEST_MIB);
	CHECK_EQ(TWIN(&t, lseek(FD, 5, SEEK_SET)), 5);
	char other[PATH_MAX];
	pftest_mpath(other, "topic-1", PFTEST_SEG0);

	STEP("child writes through inherited fds");
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		STEP("fork child: read, write at the shared offset, pwrite, ftruncate, fsync");
		uint8_t c[1000];
		CHECK_EQ(read(t.fm, c, 1000), 1000);
		pftest_cmp("child read", c, b + 5, 1000, 5);
		CHECK_EQ(read(t.fp, c, 1000), 1000);
		CHECK_EQ(write(t.fm, b + 1005, 69000), 69000);
		CHECK_EQ(write(t.fp, b + 1005, 69000), 69000);
		CHECK_EQ(pwrite(t.fm, b + 3 * PFTEST_MIB, PFTEST_BLK + 3, 3 * PFTEST_MIB), PFTEST_BLK + 3);
		CHECK_EQ(pwrite(t.fp, b + 3 * PFTEST_MIB, PFTEST_BLK + 3, 3 * PFTEST_MIB), PFTEST_BLK + 3);
		CHECK_EQ(ftruncate(t.fm, 3 * PFTEST_MIB + 100), 0);
		CHECK_EQ(ftruncate(t.fp, 3 * PFTEST_MIB + 100), 0);
		CHECK_EQ(fsync(t.fm), 0);
		STEP("fork child: open by path and write");
		int fd = OK(open(other, O_RDWR | O_CREAT | O_TRUNC, 0644));
		pftest_write_all(fd, b, 300001);
		CHECK_EQ(fsync(fd), 0);
		CHECK(close(fd) == 0);
		_exit(0);
	}
	pftest_wait_ok(pid, "fork child");
	pftest_shadow_write(&t.sh, 1005, b + 1005, 69000);
	pftest_shadow_write(&t.sh, 3 * PFTEST_MIB, b + 3 * PFTEST_MIB, PFTEST_BLK + 3);
	pftest_shadow_truncate(&t.sh, 3 * PFTEST_MIB + 100);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_CUR)), 70005);
	pftest_twin_check(&t);
	struct pftest_shadow so = { 0 };
	pftest_shadow_write(&so, 0, b, 300001);
	pftest_check_path(other, &so);

	STEP("parent appends after the child");
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_END)), t.sh.size);
	CHECK_EQ(TWIN(&t, write(FD, b, 5000)), 5000);
	pftest_shadow_write(&t.sh, 3 * PFTEST_MIB + 100, b, 5000);
	pftest_twin_check(&t);
	pftest_twin_close(&t);
	pftest_check_sparse(t.m, (long long)t.sh.size / 2);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

/*
 * t_sync: fsync, fdatasync and sync_file_range on managed segments (read-write, read-only and O_APPEND fds,
 * after appends, overwrites and truncation) return 0 and leave every byte readable; O_SYNC and O_DSYNC
 * opens work; a directory fsync (Kafka's flushDir); errors agree with the unmanaged twin (EBADF, EINVAL).
 */
#include "pftest.h"

static void pat_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

static void sync_all(struct pftest_twin *t)
{
	CHECK_EQ(TWIN(t, fsync(FD)), 0);
	CHECK_EQ(TWIN(t, fdatasync(FD)), 0);
	CHECK_EQ(TWIN(t, sync_file_range(FD, 0, 0, SYNC_FILE_RANGE_WRITE)), 0);
	CHECK_EQ(TWIN(t, sync_file_range(FD, PFTEST_BLK - 1, 3 * PFTEST_BLK,
					 SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)),
		 0);
	CHECK_EQ(TWIN(t, sync_file_range(FD, (off64_t)t->sh.size + PFTEST_MIB, 100, SYNC_FILE_RANGE_WRITE)), 0);
	pftest_twin_check(t);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);

	STEP("empty file");
	sync_all(&t);
	STEP("after appends");
	for (int i = 0; i < 5; i++) {
		uint64_t off = t.sh.size;
		uint8_t *b = pftest_patbuf(off, 300001, 1 + (uint32_t)i);
		CHECK_EQ(TWIN(&t, write(FD, b, 300001)), 300001);
		pftest_shadow_write(&t.sh, off, b, 300001);
		pftest_free(b);
		sync_all(&t);
	}
	STEP("after overwrites and truncation");
	pat_both(&t, PFTEST_BLK - 5, 2 * PFTEST_BLK, 10);
	sync_all(&t);
	CHECK_EQ(TWIN(&t, ftruncate(FD, PFTEST_MIB + 3)), 0);
	pftest_shadow_truncate(&t.sh, PFTEST_MIB + 3);
	sync_all(&t);

	STEP("read-only and O_APPEND fds");
	{
		int rm = OK(open(t.m, O_RDONLY)), rp = OK(open(t.p, O_RDONLY));
		CHECK_EQ(SAME(fsync(rm), fsync(rp)), 0);
		CHECK_EQ(SAME(fdatasync(rm), fdatasync(rp)), 0);
		CHECK_EQ(SAME(sync_file_range(rm, 0, 0, SYNC_FILE_RANGE_WRITE), sync_file_range(rp, 0, 0, SYNC_FILE_RANGE_WRITE)),
			 0);
		pftest_check_fd(rm, &t.sh, "read-only fd after fsync");
		CHECK(close(rm) == 0 && close(rp) == 0);
		int am = OK(open(t.m, O_WRONLY | O_APPEND)), ap = OK(open(t.p, O_WRONLY | O_APPEND));
		uint8_t *b = pftest_patbuf(t.sh.size, 5000, 11);
		CHECK_EQ(SAME(write(am, b, 5000), write(ap, b, 5000)), 5000);
		pftest_shadow_write(&t.sh, t.sh.size, b, 5000);
		pftest_free(b);
		CHECK_EQ(SAME(fsync(am), fsync(ap)), 0);
		CHECK_EQ(SAME(fdatasync(am), fdatasync(ap)), 0);
		CHECK(close(am) == 0 && close(ap) == 0);
		pftest_twin_check(&t);
	}

	STEP("O_SYNC and O_DSYNC opens");
	{
		int flags[] = { O_SYNC, O_DSYNC };
		for (int i = 0; i < 2; i++) {
			int sm = OK(open(t.m, O_RDWR | flags[i])), sp = OK(open(t.p, O_RDWR | flags[i]));
			uint8_t *b = pftest_patbuf(1000, PFTEST_BLK + 1, 20 + (uint32_t)i);
			CHECK_EQ(SAME(pwrite(sm, b, PFTEST_BLK + 1, 1000), pwrite(sp, b, PFTEST_BLK + 1, 1000)), PFTEST_BLK + 1);
			pftest_shadow_write(&t.sh, 1000, b, PFTEST_BLK + 1);
			pftest_free(b);
			CHECK_EQ(SAME(fcntl(sm, F_GETFL) & O_SYNC, fcntl(sp, F_GETFL) & O_SYNC), flags[i]);
			CHECK(close(sm) == 0 && close(sp) == 0);
		}
		pftest_twin_check(&t);
	}

	STEP("directory fsync (flushDir)");
	{
		char d[PATH_MAX];
		pftest_fmt(d, sizeof d, "%s/logs/topic-0", pftest_dir());
		int dfd = OK(open(d, O_RDONLY));
		CHECK_EQ(fsync(dfd), 0);
		CHECK(close(dfd) == 0);
	}

	STEP("errors");
	CHECK_EQ(TWIN(&t, sync_file_range(FD, -1, 10, SYNC_FILE_RANGE_WRITE)), -1);
	CHECK_EQ(TWIN(&t, sync_file_range(FD, 0, -10, SYNC_FILE_RANGE_WRITE)), -1);
	CHECK_EQ(TWIN(&t, sync_file_range(FD, 0, 10, 0x80)), -1);
	{
		int cm = OK(dup(t.fm)), cp = OK(dup(t.fp));
		CHECK(close(cm) == 0 && close(cp) == 0);
		CHECK_EQ(SAME(fsync(cm), fsync(cp)), -1);
		CHECK_EQ(SAME(fdatasync(cm), fdatasync(cp)), -1);
	}
	pftest_twin_close(&t);
	pftest_check_path(t.m, &t.sh);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	printf("PASS\n");
	return 0;
}

/*
 * t_fallocate: fallocate/fallocate64 (mode 0 extends, FALLOC_FL_KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE over odd
 * ranges across blocks, ZERO_RANGE with and without KEEP_SIZE) and posix_fallocate/posix_fallocate64
 * (which return the error number) on a managed segment vs the unmanaged twin: sizes, zeros, kept data,
 * the file offset, and the errors (EBADF on a read-only fd, EINVAL for bad ranges, EOPNOTSUPP for PUNCH_HOLE
 * without KEEP_SIZE).
 */
#include "pftest.h"

#include <linux/falloc.h>

static void pat_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

/* fallocate on both; returns 0 if done (shadow updated), -1 if both said EOPNOTSUPP. */
static int falloc(struct pftest_twin *t, int mode, uint64_t off, uint64_t len, int use64)
{
	STEP("fallocate%s(mode 0x%x, %llu, %llu) on a %llu-byte file", use64 ? "64" : "", mode,
	     (unsigned long long)off, (unsigned long long)len, (unsigned long long)t->sh.size);
	long long cur = TWIN(t, lseek(FD, 0, SEEK_CUR));
	long long r = use64 ? TWIN(t, fallocate64(FD, mode, (off64_t)off, (off64_t)len))
			    : TWIN(t, fallocate(FD, mode, (off_t)off, (off_t)len));
	if (r == -1) {
		CHECKF(errno == EOPNOTSUPP, "fallocate mode 0x%x failed on both files", mode);
		printf("note: fallocate mode 0x%x not supported by this file system\n", mode);
		return -1;
	}
	CHECK_EQ(r, 0);
	int keep = (mode & FALLOC_FL_KEEP_SIZE) != 0;
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		pftest_shadow_zero(&t->sh, off, len);
	if (!keep && off + len > t->sh.size)
		pftest_shadow_truncate(&t->sh, off + len);
	CHECK_EQ(TWIN(t, lseek(FD, 0, SEEK_CUR)), cur);
	pftest_twin_check(t);
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);

	pat_both(&t, 0, 2 * PFTEST_MIB + 333, 1);
	CHECK_EQ(TWIN(&t, lseek(FD, 4444, SEEK_SET)), 4444);

	/* mode 0: extends with zeros, keeps data */
	falloc(&t, 0, 2 * PFTEST_MIB - 100, PFTEST_MIB + 7, 0);
	falloc(&t, 0, 100, 1000, 1); /* inside the file: nothing visible changes */
	pat_both(&t, t.sh.size - 5, 10, 2);

	/* KEEP_SIZE beyond EOF: size unchanged, later extension still reads zeros there */
	uint64_t sz = t.sh.size;
	falloc(&t, FALLOC_FL_KEEP_SIZE, sz + 1000, 3 * PFTEST_BLK, 0);
	CHECK_EQ(TWIN(&t, pread(FD, BUF, 100, (off_t)sz)), 0);
	CHECK_EQ(TWIN(&t, ftruncate(FD, (off_t)sz + 4 * PFTEST_BLK)), 0);
	pftest_shadow_truncate(&t.sh, sz + 4 * PFTEST_BLK);
	pftest_twin_check(&t);

	/* PUNCH_HOLE|KEEP_SIZE over odd ranges */
	pat_both(&t, 0, t.sh.size, 3);
	falloc(&t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PFTEST_BLK - 17, 3 * PFTEST_BLK + 40, 0);
	falloc(&t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5 * PFTEST_BLK, PFTEST_BLK, 1); /* whole block */
	falloc(&t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 7 * PFTEST_BLK + 1, 1, 0);  /* one byte */
	falloc(&t, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, t.sh.size - 10, 100000, 1); /* across EOF */
	pat_both(&t, PFTEST_BLK, 100, 4); /* write into a punched hole */
	pftest_twin_check(&t);

	/* ZERO_RANGE */
	pat_both(&t, 0, t.sh.size, 5);
	falloc(&t, FALLOC_FL_ZERO_RANGE, 3 * PFTEST_BLK - 3, 2 * PFTEST_BLK + 6, 0);
	falloc(&t, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, t.sh.size - 100, PFTEST_MIB, 1);
	falloc(&t, FALLOC_FL_ZERO_RANGE, t.sh.size - 100, 2 * PFTEST_BLK, 0); /* extends */

	STEP("posix_fallocate / posix_fallocate64");
	{
		long long cur = TWIN(&t, lseek(FD, 0, SEEK_CUR));
		CHECK_EQ(TWIN(&t, posix_fallocate(FD, (off_t)t.sh.size - 1, 3 * PFTEST_BLK)), 0);
		pftest_shadow_truncate(&t.sh, t.sh.size - 1 + 3 * PFTEST_BLK);
		pftest_twin_check(&t);
		CHECK_EQ(TWIN(&t, posix_fallocate64(FD, 10, 20)), 0);
		CHECK_EQ(TWIN(&t, posix_fallocate64(FD, (off64_t)t.sh.size + 12345, 1)), 0);
		pftest_shadow_truncate(&t.sh, t.sh.size + 12346);
		CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_CUR)), cur);
		pftest_twin_check(&t);
		/* errors come back as the return value */
		CHECK_EQ(TWIN(&t, posix_fallocate(FD, 0, 0)), EINVAL);
		CHECK_EQ(TWIN(&t, posix_fallocate(FD, -1, 10)), EINVAL);
		CHECK_EQ(TWIN(&t, posix_fallocate64(FD, 0, -5)), EINVAL);
		int rm = OK(open(t.m, O_RDONLY)), rp = OK(open(t.p, O_RDONLY));
		CHECK_EQ(SAME(posix_fallocate(rm, 0, 10), posix_fallocate(rp, 0, 10)), EBADF);
		CHECK_EQ(SAME(posix_fallocate64(rm, 0, 10), posix_fallocate64(rp, 0, 10)), EBADF);
		CHECK_EQ(SAME(fallocate(rm, 0, 0, 10), fallocate(rp, 0, 0, 10)), -1);
		CHECK_EQ(SAME(pftest_fsize(rm), pftest_fsize(rp)), t.sh.size);
		CHECK(close(rm) == 0 && close(rp) == 0);
	}

	STEP("fallocate errors");
	CHECK_EQ(TWIN(&t, fallocate(FD, 0, -1, 10)), -1);
	CHECK_EQ(TWIN(&t, fallocate(FD, 0, 0, 0)), -1);
	CHECK_EQ(TWIN(&t, fallocate64(FD, 0, 10, -10)), -1);
	CHECK_EQ(TWIN(&t, fallocate(FD, FALLOC_FL_PUNCH_HOLE, 0, 10)), -1);
	CHECK_EQ(TWIN(&t, fallocate(FD, 0x4000, 0, 10)), -1);
	pftest_twin_check(&t);

	STEP("after close");
	pftest_twin_close(&t);
	pftest_check_path(t.m, &t.sh);
	printf("PASS\n");
	return 0;
}

/*
 * t_zero_range: a growing FALLOC_FL_ZERO_RANGE (no KEEP_SIZE) extends a segment with zeros, as the kernel
 * does: every byte between the old end and the new one reads as zero, never a stale pool byte.
 *   1. a segment with a few blocks of data is cut to 100 bytes (ftruncate), then ZERO_RANGE at block 10:
 *      bytes 100 .. the end of its first block must read zero (the pool block still holds the old data);
 *      the same with a ZERO_RANGE that starts just past the end, inside that block.
 *   2. bytes of another, deleted file: a segment A fills the whole pool with a pattern and is deleted; a
 *      new segment B gets 100 bytes at 0 (its pool block is one of A's freed blocks: A used every block)
 *      and a ZERO_RANGE far past its end. No byte of A may appear in B.
 * Each step runs on the managed segment and its unmanaged twin; sizes everywhere and every byte agree.
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

static void check_all(struct pftest_twin *t)
{
	pftest_check_sizes(t->fp, t->p, (long long)t->sh.size);
	pftest_check_sizes(t->fm, t->m, (long long)t->sh.size);
	pftest_twin_check(t);
}

/* ZERO_RANGE without KEEP_SIZE on both; 0 if the file system lacks it (both EOPNOTSUPP). */
static int zero_range(struct pftest_twin *t, uint64_t off, uint64_t len)
{
	STEP("fallocate(FALLOC_FL_ZERO_RANGE, %llu, %llu) on a %llu-byte file", (unsigned long long)off,
	     (unsigned long long)len, (unsigned long long)t->sh.size);
	long long r = TWIN(t, fallocate(FD, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len));
	if (r == -1) {
		CHECKF(errno == EOPNOTSUPP, "ZERO_RANGE failed on both files");
		return 0;
	}
	if (off + len > t->sh.size)
		pftest_shadow_truncate(&t->sh, off + len);
	return 1;
}

static void part1(void)
{
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	STEP("1: three blocks of data, cut to 100 bytes");
	pat_both(&t, 0, 3 * PFTEST_BLK + 5, 1);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	CHECK_EQ(TWIN(&t, ftruncate(FD, 100)), 0);
	pftest_shadow_truncate(&t.sh, 100);
	if (!zero_range(&t, 10 * PFTEST_BLK, PFTEST_BLK))
		pftest_skip("FALLOC_FL_ZERO_RANGE is not supported by the log dir's file system");
	STEP("1: after ftruncate(100) and ZERO_RANGE at block 10: bytes 100.. must be zero");
	check_all(&t);

	STEP("1: cut to 100 bytes again, ZERO_RANGE(200, 50) inside the first block");
	pat_both(&t, 0, 2 * PFTEST_BLK, 2);
	CHECK_EQ(TWIN(&t, ftruncate(FD, 100)), 0);
	pftest_shadow_truncate(&t.sh, 100);
	CHECK(zero_range(&t, 200, 50));
	STEP("1: after ftruncate(100) and ZERO_RANGE(200, 50): bytes 100..200 must be zero");
	check_all(&t);
	pftest_twin_close(&t);
	pftest_shadow_free(&t.sh);
}

static void part2(void)
{
	char a[PATH_MAX];
	pftest_mpath(a, "topic-1", PFTEST_SEG0);
	uint8_t *pa = pftest_patbuf(0, PFTEST_BLK, 99); /* every block of A holds these bytes */
	STEP("2: file A fills the pool with a pattern");
	int fa = OK(open(a, O_RDWR | O_CREAT, 0644));
	long long nblk = 4;
	if (pftest_shim_active()) {
		struct pf_pool_header h;
		int pfd = pftest_pool_open(&h);
		CHECKF(pfd >= 0, "the shim is active but there is no pool file after a segment was opened");
		close(pfd);
		nblk = (long long)le64toh(h.nblocks) + 2; /* every pool block (the rest spills to the log dir) */
	}
	for (long long i = 0; i < nblk; i++)
		pftest_write_all(fa, pa, PFTEST_BLK);
	CHECK(close(fa) == 0);
	STEP("2: delete A");
	CHECK(unlink(a) == 0);

	struct pftest_twin t;
	pftest_twin_init(&t, "topic-1", "00000000000000000100.log");
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	STEP("2: new file B: 100 bytes at 0");
	pat_both(&t, 0, 100, 3);
	CHECK(zero_range(&t, 20 * PFTEST_BLK, PFTEST_BLK));
	STEP("2: B after ZERO_RANGE far past its end: bytes of the deleted A must not appear");
	CHECK_EQ(TWIN(&t, pread(FD, BUF, PFTEST_BLK, 0)), PFTEST_BLK);
	size_t same = 0, nonzero = 0;
	for (size_t i = 100; i < PFTEST_BLK; i++) {
		nonzero += t.bm[i] != 0;
		same += t.bm[i] != 0 && t.bm[i] == pa[i];
	}
	CHECKF(nonzero == 0, "B's first block has %zu non-zero bytes past its 100 written bytes, %zu of them equal to "
			     "the deleted file A's bytes at the same offset",
	       nonzero, same);
	check_all(&t);
	pftest_twin_close(&t);
	pftest_shadow_free(&t.sh);
	pftest_free(pa);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	/* by hand, "t_zero_range 2" runs one part; make check runs both */
	const char *parts = argc > 1 ? argv[1] : "12";
	if (strchr(parts, '2'))
		part2(); /* first: its A must be the pool's only user */
	if (strchr(parts, '1'))
		part1();
	printf("PASS\n");
	return 0;
}

/*
 * t_truncate: ftruncate/ftruncate64/truncate/truncate64 shrinking and extending a managed segment vs the
 * unmanaged twin. Extended ranges read zeros, also after shrink-then-extend over previously written data
 * and inside a partly kept block; a write at a file offset beyond a shrunk EOF leaves zeros, never the old
 * bytes; the file offset is not moved by truncation; O_TRUNC open (with another fd open); Kafka's
 * FileRecords.truncateTo sequence; errors; and (shim only) truncating to 0 gives the pool blocks back.
 */
#include "pftest.h"

static void set_size(struct pftest_twin *t, uint64_t n, int how)
{
	static const char *names[] = { "ftruncate", "ftruncate64", "truncate", "truncate64" };
	STEP("%s %llu -> %llu", names[how], (unsigned long long)t->sh.size, (unsigned long long)n);
	long long cur = TWIN(t, lseek(FD, 0, SEEK_CUR));
	switch (how) {
	case 0: CHECK_EQ(TWIN(t, ftruncate(FD, (off_t)n)), 0); break;
	case 1: CHECK_EQ(TWIN(t, ftruncate64(FD, (off64_t)n)), 0); break;
	case 2: CHECK_EQ(TWIN(t, truncate(PATH, (off_t)n)), 0); break;
	default: CHECK_EQ(TWIN(t, truncate64(PATH, (off64_t)n)), 0); break;
	}
	pftest_shadow_truncate(&t->sh, n);
	CHECK_EQ(TWIN(t, lseek(FD, 0, SEEK_CUR)), cur);
	pftest_twin_check(t);
}

static void pat_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

/* Every byte of [off, off+n) reads zero on both files. */
static void zeros_both(struct pftest_twin *t, uint64_t off, size_t n)
{
	STEP("zeros at [%llu, +%zu)", (unsigned long long)off, n);
	CHECK_EQ(TWIN(t, pread(FD, BUF, n, (off_t)off)), n);
	uint8_t *z = pftest_xmalloc(n);
	memset(z, 0, n);
	pftest_cmp("extended range", t->bm, z, n, off);
	pftest_cmp("extended range (twin)", t->bp, z, n, off);
	pftest_free(z);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	long long base_used = pftest_pool_used0();
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);

	STEP("write 3 MiB + 777");
	uint8_t *b = pftest_patbuf(0, 3 * PFTEST_MIB + 777, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, 3 * PFTEST_MIB + 777)), 3 * PFTEST_MIB + 777);
	pftest_shadow_write(&t.sh, 0, b, 3 * PFTEST_MIB + 777);
	pftest_free(b);
	pftest_twin_check(&t);

	/* the file offset (3 MiB + 777) stays beyond the new EOF */
	set_size(&t, PFTEST_MIB + 5, 0);
	STEP("write at the stale file offset beyond EOF");
	{
		uint64_t off = 3 * PFTEST_MIB + 777;
		uint8_t *c = pftest_patbuf(off, 1000, 2);
		CHECK_EQ(TWIN(&t, write(FD, c, 1000)), 1000);
		pftest_shadow_write(&t.sh, off, c, 1000);
		pftest_free(c);
		pftest_twin_check(&t);
		zeros_both(&t, PFTEST_MIB + 5, 2 * PFTEST_MIB + 772); /* the old bytes must not come back */
	}

	set_size(&t, 5 * PFTEST_MIB, 1);
	zeros_both(&t, 3 * PFTEST_MIB + 1777, 2 * PFTEST_MIB - 1777);

	/* shrink into the middle of a block, then extend over it */
	pat_both(&t, 0, 4 * PFTEST_MIB, 3);
	set_size(&t, 2 * PFTEST_BLK + 100, 2);
	set_size(&t, 6 * PFTEST_BLK, 3);
	zeros_both(&t, 2 * PFTEST_BLK + 100, 4 * PFTEST_BLK - 100);
	STEP("bytes before the cut survive");
	CHECK_EQ(TWIN(&t, pread(FD, BUF, 2 * PFTEST_BLK + 100, 0)), 2 * PFTEST_BLK + 100);
	pftest_twin_bufs(&t, 2 * PFTEST_BLK + 100, t.sh.b, 0);

	/* shrink to an exact block boundary, and to one byte, and extend by one byte */
	pat_both(&t, 0, 6 * PFTEST_BLK, 4);
	set_size(&t, 3 * PFTEST_BLK, 0);
	set_size(&t, 3 * PFTEST_BLK + 1, 0);
	zeros_both(&t, 3 * PFTEST_BLK, 1);
	set_size(&t, 1, 1);
	set_size(&t, PFTEST_BLK + 1, 2);
	zeros_both(&t, 1, PFTEST_BLK);
	set_size(&t, PFTEST_BLK + 1, 3); /* same size: no change */

	STEP("Kafka FileRecords.truncateTo: size, SEEK_CUR, ftruncate64, SEEK_SET min(pos, target)");
	pat_both(&t, 0, 2 * PFTEST_MIB + 3, 5);
	CHECK_EQ(TWIN(&t, lseek64(FD, (off64_t)t.sh.size, SEEK_SET)), t.sh.size);
	{
		long long target = PFTEST_MIB + 17;
		CHECK_EQ(TWIN(&t, pftest_fsize(FD)), t.sh.size);
		long long pos = TWIN(&t, lseek64(FD, 0, SEEK_CUR));
		CHECK_EQ(TWIN(&t, ftruncate64(FD, target)), 0);
		pftest_shadow_truncate(&t.sh, (uint64_t)target);
		CHECK_EQ(TWIN(&t, lseek64(FD, pos < target ? pos : target, SEEK_SET)), target);
		uint8_t *c = pftest_patbuf((uint64_t)target, 70000, 6);
		CHECK_EQ(TWIN(&t, write(FD, c, 70000)), 70000);
		pftest_shadow_write(&t.sh, (uint64_t)target, c, 70000);
		pftest_free(c);
		pftest_twin_check(&t);
	}

	STEP("O_TRUNC open while another fd is open");
	{
		int om = OK(open(t.m, O_WRONLY | O_TRUNC)), op = OK(open(t.p, O_WRONLY | O_TRUNC));
		pftest_shadow_truncate(&t.sh, 0);
		pftest_twin_check(&t);
		CHECK_EQ(SAME(pftest_fsize(t.fm), pftest_fsize(t.fp)), 0);
		uint8_t *c = pftest_patbuf(0, PFTEST_BLK + 9, 7);
		CHECK_EQ(SAME(write(om, c, PFTEST_BLK + 9), write(op, c, PFTEST_BLK + 9)), PFTEST_BLK + 9);
		pftest_shadow_write(&t.sh, 0, c, PFTEST_BLK + 9);
		pftest_free(c);
		CHECK(close(om) == 0 && close(op) == 0);
		/* the old fd still has its offset beyond the new EOF */
		CHECK_EQ(TWIN(&t, pread(FD, BUF, 3 * PFTEST_BLK, 0)), PFTEST_BLK + 9);
		pftest_twin_bufs(&t, PFTEST_BLK + 9, t.sh.b, 0);
		pftest_twin_check(&t);
	}

	STEP("errors");
	TWIN(&t, ftruncate(FD, -1));
	TWIN(&t, ftruncate64(FD, -4096));
	TWIN(&t, truncate(PATH, -1));
	{
		int rm = OK(open(t.m, O_RDONLY)), rp = OK(open(t.p, O_RDONLY));
		CHECK_EQ(SAME(ftruncate(rm, 10), ftruncate(rp, 10)), -1); /* EINVAL: not open for writing */
		CHECK(close(rm) == 0 && close(rp) == 0);
	}
	{
		char a[PATH_MAX], c[PATH_MAX];
		pftest_mpath(a, "topic-0", "00000000000000000077.log");
		pftest_ppath(c, "topic-0", "00000000000000000077.log");
		CHECK_EQ(SAME(truncate(a, 10), truncate(c, 10)), -1); /* ENOENT */
	}
	pftest_twin_check(&t);

	STEP("residency, and truncate to 0 returns the pool blocks (shim only)");
	pat_both(&t, 0, 2 * PFTEST_MIB, 8);
	pftest_check_sparse(t.m, 2 * PFTEST_MIB);
	set_size(&t, 0, 0);
	if (pftest_shim_active())
		CHECKF(pftest_pool_used0() == base_used,
		       "pool used blocks %lld after truncating the only managed file to 0; expected %lld",
		       pftest_pool_used0(), base_used);
	pftest_twin_close(&t);
	printf("PASS\n");
	return 0;
}

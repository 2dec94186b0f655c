/*
 * t_copyself: copy_file_range within one file answers as the kernel does. The kernel clamps the length to
 * the end of the input before it checks whether the two ranges overlap, so copying a 4096-byte file's
 * bytes to offset 4096 with a length of 1 MiB copies 4096 bytes (not EINVAL). Also: ranges that still
 * overlap after clamping (EINVAL), an input position at or past the end (0), and the descriptors' file
 * offsets as positions (NULL pointers). Results, errno, the updated positions, sizes and every byte are
 * compared with the unmanaged twin.
 */
#include "pftest.h"

static void pat_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

/* copy_file_range(fd, &in, fd, &out, len, 0) on both files; positions compared too. Returns the result. */
static long long cfr(struct pftest_twin *t, long long in, long long out, size_t len)
{
	STEP("copy_file_range(in %lld, out %lld, len %zu) within a %llu-byte file", in, out, len,
	     (unsigned long long)t->sh.size);
	off_t im = in, om = out, ip = in, op = out;
	long long r = SAME(copy_file_range(t->fm, &im, t->fm, &om, len, 0),
			   copy_file_range(t->fp, &ip, t->fp, &op, len, 0));
	CHECK_EQ(im, ip);
	CHECK_EQ(om, op);
	if (r > 0) {
		uint8_t *tmp = pftest_xmalloc((size_t)r);
		memcpy(tmp, t->sh.b + in, (size_t)r);
		pftest_shadow_write(&t->sh, (uint64_t)out, tmp, (uint64_t)r);
		pftest_free(tmp);
	}
	pftest_check_sizes(t->fp, t->p, (long long)t->sh.size);
	pftest_check_sizes(t->fm, t->m, (long long)t->sh.size);
	pftest_twin_check(t);
	return r;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	pat_both(&t, 0, 4096, 1);

	/* the finding: clamped to EOF (4096), then no overlap: 4096 bytes copied */
	CHECK_EQ(cfr(&t, 0, 4096, PFTEST_MIB), 4096);
	/* now 8192 bytes: clamped to 8192 - 100 from 100, which overlaps [5000, ...): EINVAL */
	cfr(&t, 100, 5000, PFTEST_MIB);
	/* clamped to 1000 bytes from 7192: [7192, 8192) and [9000, 10000) do not overlap */
	cfr(&t, 7192, 9000, 3 * PFTEST_BLK);
	/* the input position at and past the end: nothing to copy */
	cfr(&t, (long long)t.sh.size, 100, 500);
	cfr(&t, (long long)t.sh.size + 5, 100, 500);
	/* a pool-resident file with several blocks, copied onto its own end */
	pat_both(&t, t.sh.size, 3 * PFTEST_BLK + 17, 2);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	cfr(&t, 0, (long long)t.sh.size, 8 * PFTEST_MIB);
	cfr(&t, PFTEST_BLK - 3, 3 * PFTEST_BLK + 1, PFTEST_BLK); /* overlapping as given: EINVAL */

	STEP("copy_file_range within one file at the descriptors' file offsets");
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_SET)), 0);
	int m2 = OK(open(t.m, O_RDWR)), p2 = OK(open(t.p, O_RDWR));
	uint64_t end = t.sh.size;
	CHECK_EQ(SAME(lseek(m2, (off_t)end, SEEK_SET), lseek(p2, (off_t)end, SEEK_SET)), (long long)end);
	long long r = SAME(copy_file_range(t.fm, NULL, m2, NULL, 16 * PFTEST_MIB, 0),
			   copy_file_range(t.fp, NULL, p2, NULL, 16 * PFTEST_MIB, 0));
	CHECK_EQ(SAME(lseek(m2, 0, SEEK_CUR), lseek(p2, 0, SEEK_CUR)), (long long)end + (r > 0 ? r : 0));
	if (r > 0) {
		uint8_t *tmp = pftest_xmalloc((size_t)r);
		memcpy(tmp, t.sh.b, (size_t)r);
		pftest_shadow_write(&t.sh, end, tmp, (uint64_t)r);
		pftest_free(tmp);
	}
	pftest_twin_check(&t);
	CHECK(close(m2) == 0 && close(p2) == 0);
	pftest_twin_close(&t);
	pftest_check_path(t.m, &t.sh);
	printf("PASS\n");
	return 0;
}

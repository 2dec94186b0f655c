/*
 * t_vector: scatter/gather I/O on a managed segment vs an unmanaged twin: writev, pwritev, pwritev64,
 * pwritev2/pwritev64v2 (offset -1 = file offset, RWF_APPEND, RWF_DSYNC), readv, preadv, preadv64,
 * preadv2/preadv64v2 (offset -1), iovecs crossing 64 KiB blocks at odd offsets, zero-length iovecs,
 * short vector reads at EOF, and the errors (EINVAL for a bad count or offset, EOPNOTSUPP for unknown flags).
 */
#include "pftest.h"

#define NIOV 9

/* Split [off, off+total) into NIOV odd-sized pieces (some empty), pattern seed; buf holds the data. */
static int make_iov(struct iovec *iov, uint8_t *buf, uint64_t off, size_t total, uint32_t seed)
{
	static const size_t w[NIOV] = { 1, 0, 65535, 17, 0, 100000, 3, 65537, 0 };
	size_t sum = 0, n = 0;
	pftest_fill(buf, off, total, seed);
	for (int i = 0; i < NIOV; i++)
		sum += w[i];
	for (int i = 0; i < NIOV; i++) {
		size_t len = i == NIOV - 2 ? total - n : (size_t)((double)w[i] * total / sum);
		if (n + len > total)
			len = total - n;
		iov[i].iov_base = buf + n;
		iov[i].iov_len = len;
		n += len;
	}
	iov[NIOV - 1].iov_base = buf + n;
	iov[NIOV - 1].iov_len = 0;
	return NIOV;
}

/* Read iovecs: the same pieces over BUF; buffers pre-filled with 0xEE so untouched bytes show. */
static void read_iov(struct iovec *iov, uint8_t *base, size_t total)
{
	static const size_t w[NIOV] = { 3, 0, 65536, 1, 0, 99999, 17, 70000, 5 };
	size_t n = 0;
	memset(base, 0xEE, total);
	for (int i = 0; i < NIOV; i++) {
		size_t len = i == NIOV - 1 ? total - n : (w[i] < total - n ? w[i] : total - n);
		iov[i].iov_base = base + n;
		iov[i].iov_len = len;
		n += len;
	}
}

enum wkind { W_WRITEV, W_PWRITEV, W_PWRITEV64, W_PWRITEV2, W_PWRITEV64V2 };
enum rkind { R_READV, R_PREADV, R_PREADV64, R_PREADV2, R_PREADV64V2 };
static const char *wname[] = { "writev", "pwritev", "pwritev64", "pwritev2", "pwritev64v2" };
static const char *rname[] = { "readv", "preadv", "preadv64", "preadv2", "preadv64v2" };

static long long do_w(enum wkind k, int fd, struct iovec *iov, long long off, int flags)
{
	switch (k) {
	case W_WRITEV: return writev(fd, iov, NIOV);
	case W_PWRITEV: return pwritev(fd, iov, NIOV, (off_t)off);
	case W_PWRITEV64: return pwritev64(fd, iov, NIOV, (off64_t)off);
	case W_PWRITEV2: return pwritev2(fd, iov, NIOV, (off_t)off, flags);
	case W_PWRITEV64V2: return pwritev64v2(fd, iov, NIOV, (off64_t)off, flags);
	}
	return -2;
}

static long long do_r(enum rkind k, int fd, struct iovec *iov, long long off, int flags)
{
	switch (k) {
	case R_READV: return readv(fd, iov, NIOV);
	case R_PREADV: return preadv(fd, iov, NIOV, (off_t)off);
	case R_PREADV64: return preadv64(fd, iov, NIOV, (off64_t)off);
	case R_PREADV2: return preadv2(fd, iov, NIOV, (off_t)off, flags);
	case R_PREADV64V2: return preadv64v2(fd, iov, NIOV, (off64_t)off, flags);
	}
	return -2;
}

/*
 * Write total bytes with kind k at off (ignored for writev; -1 = file offset for the v2 calls) on both files.
 * where: the file offset the data lands at (the caller knows: append or explicit).
 */
static void vwrite(struct pftest_twin *t, enum wkind k, long long off, int flags, size_t total, uint32_t seed)
{
	long long cur = TWIN(t, lseek(FD, 0, SEEK_CUR));
	int append = (flags & RWF_APPEND) != 0;
	int uses_cur = k == W_WRITEV || off == -1;
	uint64_t where = append ? t->sh.size : uses_cur ? (uint64_t)cur : (uint64_t)off;
	uint8_t *buf = pftest_xmalloc(total);
	struct iovec iov[NIOV];
	make_iov(iov, buf, where, total, seed);
	STEP("%s %zu bytes at %lld (flags 0x%x) landing at %llu", wname[k], total, off, flags,
	     (unsigned long long)where);
	CHECK_EQ(TWIN(t, do_w(k, FD, iov, off, flags)), total);
	pftest_shadow_write(&t->sh, where, buf, total);
	/* the file offset moves only when the file offset was used */
	long long exp_cur = uses_cur ? (long long)(where + total) : cur;
	CHECK_EQ(TWIN(t, lseek(FD, 0, SEEK_CUR)), exp_cur);
	pftest_free(buf);
	pftest_twin_check(t);
}

static void vread(struct pftest_twin *t, enum rkind k, long long off, size_t total)
{
	long long cur = TWIN(t, lseek(FD, 0, SEEK_CUR));
	int uses_cur = k == R_READV || off == -1;
	uint64_t where = uses_cur ? (uint64_t)cur : (uint64_t)off;
	long long exp = where >= t->sh.size ? 0 : (long long)(t->sh.size - where < total ? t->sh.size - where : total);
	STEP("%s %zu bytes at %lld (from %llu) of %llu", rname[k], total, off, (unsigned long long)where,
	     (unsigned long long)t->sh.size);
	struct iovec im[NIOV], ip[NIOV];
	read_iov(im, t->bm, total);
	read_iov(ip, t->bp, total);
	errno = 0;
	long long rm = do_r(k, t->fm, im, off, 0);
	int em = errno;
	errno = 0;
	long long rp = do_r(k, t->fp, ip, off, 0);
	pftest_same_check(__FILE__, __LINE__, rname[k], rm, em, rp, errno);
	CHECK_EQ(rm, exp);
	/* the whole buffer must agree, including the 0xEE bytes a short read did not touch */
	pftest_cmp("vector read vs twin", t->bm, t->bp, total, where);
	if (exp > 0)
		pftest_cmp("vector read vs shadow", t->bm, t->sh.b + where, (size_t)exp, where);
	CHECK_EQ(TWIN(t, lseek(FD, 0, SEEK_CUR)), uses_cur ? cur + exp : cur);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);

	vwrite(&t, W_WRITEV, 0, 0, 300001, 1);
	vwrite(&t, W_WRITEV, 0, 0, 1 << 20, 2);
	vwrite(&t, W_PWRITEV, PFTEST_BLK - 3, 0, 250000, 3);
	vwrite(&t, W_PWRITEV64, 5 * PFTEST_BLK + 11, 0, 2 * PFTEST_BLK, 4);
	vwrite(&t, W_PWRITEV2, -1, 0, 123457, 5);           /* offset -1: at and advancing the file offset */
	vwrite(&t, W_PWRITEV64V2, -1, 0, 65536, 6);
	vwrite(&t, W_PWRITEV2, 17, 0, 200000, 7);           /* explicit offset */
	vwrite(&t, W_PWRITEV2, 12345, RWF_APPEND, 99999, 8); /* RWF_APPEND with an offset: appends */
	vwrite(&t, W_PWRITEV64V2, -1, RWF_APPEND, 70001, 9); /* RWF_APPEND at the file offset: appends, moves it */
	vwrite(&t, W_PWRITEV2, 3 * PFTEST_BLK, RWF_DSYNC, 100000, 10);
	vwrite(&t, W_PWRITEV64V2, (long long)t.sh.size + 2 * PFTEST_BLK + 5, RWF_SYNC, 4097, 11); /* hole */
	TWIN(&t, lseek(FD, 777, SEEK_SET));
	vwrite(&t, W_WRITEV, 0, 0, 3 * PFTEST_BLK + 1, 12);

	TWIN(&t, lseek(FD, 0, SEEK_SET));
	for (int i = 0; i < 40 && (uint64_t)TWIN(&t, lseek(FD, 0, SEEK_CUR)) < t.sh.size; i++)
		vread(&t, R_READV, 0, 150001);
	vread(&t, R_READV, 0, 1000); /* at EOF: 0 */
	vread(&t, R_PREADV, 1, 400000);
	vread(&t, R_PREADV64, PFTEST_BLK - 1, 3 * PFTEST_BLK);
	TWIN(&t, lseek(FD, 65537, SEEK_SET));
	vread(&t, R_PREADV2, -1, 300000);
	vread(&t, R_PREADV64V2, -1, 300000);
	vread(&t, R_PREADV2, 99, 1 << 20);
	vread(&t, R_PREADV64V2, (long long)t.sh.size - 4000, 300000); /* short */
	vread(&t, R_PREADV, (long long)t.sh.size - 1, 300000);
	vread(&t, R_PREADV, (long long)t.sh.size, 300000);
	vread(&t, R_PREADV2, (long long)t.sh.size + 99999, 300000);
	TWIN(&t, lseek(FD, (off_t)t.sh.size - 100, SEEK_SET));
	vread(&t, R_READV, 0, 300000);

	STEP("vector errors");
	{
		struct iovec iov[2] = { { t.bm, 10 }, { t.bm + 10, 10 } };
		volatile int neg = -1; /* hidden from gcc's access-attribute checks */
		TWIN(&t, writev(FD, iov, neg));
		TWIN(&t, readv(FD, iov, neg));
		static struct iovec many[IOV_MAX + 1];
		for (int i = 0; i <= IOV_MAX; i++)
			many[i] = (struct iovec){ t.bm + i, 1 };
		TWIN(&t, writev(FD, many, IOV_MAX + 1));
		TWIN(&t, preadv(FD, iov, 2, -5));
		TWIN(&t, pwritev(FD, iov, 2, -5));
		TWIN(&t, preadv2(FD, iov, 2, -2, 0));
		TWIN(&t, pwritev2(FD, iov, 2, 0, 0x40000000));
		TWIN(&t, preadv2(FD, iov, 2, 0, 0x40000000));
		CHECK_EQ(TWIN(&t, writev(FD, iov, 0)), 0);
		CHECK_EQ(TWIN(&t, preadv(FD, iov, 0, 0)), 0);
		struct iovec big[2] = { { t.bm, 10 }, { t.bm, (size_t)SSIZE_MAX + 1 } };
		CHECK_EQ(TWIN(&t, writev(FD, big, 2)), -1); /* EINVAL: a length above SSIZE_MAX, checked before any copy */
		CHECK_EQ(TWIN(&t, readv(FD, big, 2)), -1);
	}
	pftest_twin_check(&t);

	STEP("O_APPEND descriptor with writev and pwritev2(RWF_NOAPPEND)");
	pftest_twin_close(&t);
	CHECK(pftest_twin_open(&t, O_RDWR | O_APPEND, 0) >= 0);
	vwrite(&t, W_WRITEV, 0, RWF_APPEND /* i.e. lands at EOF */, 77777, 20);
	{
		/* RWF_NOAPPEND: write at the given offset despite O_APPEND (Linux 6.9+; EOPNOTSUPP before) */
		uint8_t b[100];
		pftest_fill(b, 5, sizeof b, 21);
		struct iovec iov = { b, sizeof b };
		long long r = TWIN(&t, pwritev2(FD, &iov, 1, 5, RWF_NOAPPEND));
		if (r == (long long)sizeof b)
			pftest_shadow_write(&t.sh, 5, b, sizeof b);
		pftest_twin_check(&t);
	}
	pftest_twin_close(&t);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	printf("PASS\n");
	return 0;
}

/*
 * t_rw: plain reads and writes of a managed segment, compared with an unmanaged twin and a shadow model.
 * Kafka's append (lseek64 to the size, then write at the file offset), pwrite/pwrite64 at odd offsets across
 * 64 KiB block boundaries, holes, O_APPEND, read/pread/pread64 (short past EOF, 0 at EOF, zeros in holes),
 * Kafka's 17-byte header preads, multi-MiB writes, offsets above 4 GiB, two open file descriptions of the
 * same file, and (shim only) pool residency: the log-dir file stays sparse, unmanaged files never use the pool.
 */
#include "pftest.h"

/* write() n bytes of pattern at the current file offset of both fds (the offsets must agree). */
static void append_both(struct pftest_twin *t, size_t n, uint32_t seed)
{
	long long off = TWIN(t, lseek64(FD, 0, SEEK_CUR));
	uint8_t *b = pftest_patbuf((uint64_t)off, n, seed);
	CHECK_EQ(TWIN(t, write(FD, b, n)), n);
	pftest_shadow_write(&t->sh, (uint64_t)off, b, n);
	pftest_free(b);
}

static void pwrite_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed, int use64)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	long long cur = TWIN(t, lseek(FD, 0, SEEK_CUR));
	if (use64)
		CHECK_EQ(TWIN(t, pwrite64(FD, b, n, (off64_t)off)), n);
	else
		CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	CHECK_EQ(TWIN(t, lseek(FD, 0, SEEK_CUR)), cur); /* pwrite leaves the file offset alone */
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

/* pread (or pread64) n bytes at off on both; compare with each other and with the shadow. */
static void pread_both(struct pftest_twin *t, uint64_t off, size_t n, int use64)
{
	long long exp = off >= t->sh.size ? 0 : (long long)(t->sh.size - off < n ? t->sh.size - off : n);
	long long r = use64 ? TWIN(t, pread64(FD, BUF, n, (off64_t)off)) : TWIN(t, pread(FD, BUF, n, (off_t)off));
	CHECKF(r == exp, "pread(%zu at %llu) of a %llu-byte file returned %lld, expected %lld", n,
	       (unsigned long long)off, (unsigned long long)t->sh.size, r, exp);
	pftest_twin_bufs(t, r, t->sh.b + off, off);
}

static void seq_read_all(struct pftest_twin *t, size_t chunk)
{
	TWIN(t, lseek64(FD, 0, SEEK_SET));
	uint64_t off = 0;
	for (uint64_t i = 0; i < t->sh.size / chunk + 2; i++) {
		long long r = TWIN(t, read(FD, BUF, chunk));
		long long exp = (long long)(t->sh.size - off < chunk ? t->sh.size - off : chunk);
		CHECKF(r == exp, "read(%zu) at offset %llu returned %lld, expected %lld", chunk,
		       (unsigned long long)off, r, exp);
		if (r == 0)
			return;
		pftest_twin_bufs(t, r, t->sh.b + off, off);
		off += (uint64_t)r;
		CHECK_EQ(TWIN(t, lseek(FD, 0, SEEK_CUR)), off);
	}
	CHECK(!"unbounded read loop");
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);

	STEP("create and Kafka-style appends");
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	CHECK_EQ(TWIN(&t, lseek64(FD, 0, SEEK_END)), 0);
	static const size_t sizes[] = { 1, 16, 17, 4095, 4096, 65535, 65536, 65537, 100003, 1 << 20, (1 << 20) + 3,
					3 * 65536 - 1, 7, 0 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		STEP("append %zu: %zu bytes at %llu", i, sizes[i], (unsigned long long)t.sh.size);
		CHECK_EQ(TWIN(&t, lseek64(FD, 0, SEEK_END)), t.sh.size);
		append_both(&t, sizes[i], 1);
		CHECK_EQ(TWIN(&t, lseek64(FD, 0, SEEK_CUR)), t.sh.size);
	}
	pftest_twin_check(&t);

	STEP("reopen like FileRecords.open and append 2 MiB + 5 in one write");
	pftest_twin_close(&t);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0666) >= 0);
	CHECK_EQ(TWIN(&t, lseek64(FD, 0, SEEK_CUR)), 0);
	CHECK_EQ(pftest_fsize(t.fm), t.sh.size);
	CHECK_EQ(TWIN(&t, lseek64(FD, (off64_t)t.sh.size, SEEK_SET)), t.sh.size);
	append_both(&t, 2 * PFTEST_MIB + 5, 2);
	pftest_twin_check(&t);

	STEP("pwrite/pwrite64 overwrites across block boundaries");
	pwrite_both(&t, PFTEST_BLK - 5, 10, 3, 0);
	pwrite_both(&t, 3 * PFTEST_BLK - 1000, 200000, 4, 1);
	pwrite_both(&t, 1, 2 * PFTEST_BLK, 5, 0);
	pwrite_both(&t, 7 * PFTEST_BLK + 1, 1, 6, 1);
	pwrite_both(&t, t.sh.size - 3, 10, 7, 0); /* overwrite the tail and extend */
	pftest_twin_check(&t);

	STEP("pwrite beyond EOF leaves a hole that reads zeros");
	uint64_t hole_start = t.sh.size;
	pwrite_both(&t, t.sh.size + 300001, 12345, 8, 0);
	pwrite_both(&t, t.sh.size + 5 * PFTEST_BLK, 3, 9, 1); /* hole of whole blocks */
	pftest_twin_check(&t);
	pread_both(&t, hole_start, 1000, 0);
	pread_both(&t, hole_start + 100, 2 * PFTEST_BLK, 1);

	STEP("write() after lseek64 into the middle");
	CHECK_EQ(TWIN(&t, lseek64(FD, 5 * PFTEST_BLK + 333, SEEK_SET)), 5 * PFTEST_BLK + 333);
	append_both(&t, 3 * PFTEST_BLK + 7, 10);
	CHECK_EQ(TWIN(&t, lseek(FD, 12345, SEEK_CUR)), 8 * PFTEST_BLK + 340 + 12345);
	append_both(&t, 99, 11);
	pftest_twin_check(&t);

	STEP("sequential read() in odd chunks");
	seq_read_all(&t, 65537);
	seq_read_all(&t, 17);
	seq_read_all(&t, 3 << 20);

	STEP("pread/pread64 at odd offsets, short past EOF, 0 at and after EOF");
	pread_both(&t, 0, 1, 0);
	pread_both(&t, PFTEST_BLK - 1, 2, 1);
	pread_both(&t, PFTEST_BLK * 2 - 7, PFTEST_BLK * 3 + 14, 0);
	pread_both(&t, 12345, 4 << 20, 1);
	pread_both(&t, t.sh.size - 10, 100, 0);
	pread_both(&t, t.sh.size - 1, 1, 1);
	pread_both(&t, t.sh.size, 100, 0);
	pread_both(&t, t.sh.size + 1, 100, 1);
	pread_both(&t, t.sh.size + 10 * PFTEST_BLK, 100, 0);
	pread_both(&t, 0, 0, 0);
	CHECK_EQ(TWIN(&t, read(FD, NULL, 0)), 0);

	STEP("Kafka's 17-byte batch-header preads across the file");
	for (uint64_t off = 0; off + 17 <= t.sh.size; off += 997)
		pread_both(&t, off, 17, 1);

	STEP("zero-length writes change nothing");
	CHECK_EQ(TWIN(&t, write(FD, "x", 0)), 0);
	CHECK_EQ(TWIN(&t, pwrite(FD, "x", 0, (off_t)t.sh.size + 1000)), 0);
	pftest_twin_check(&t);

	STEP("O_APPEND descriptor");
	{
		int am = OK(open(t.m, O_WRONLY | O_APPEND)), ap = OK(open(t.p, O_WRONLY | O_APPEND));
		for (int i = 0; i < 3; i++) {
			size_t n = i == 1 ? (size_t)PFTEST_BLK + 3 : 1000;
			uint8_t *b = pftest_patbuf(t.sh.size, n, 20 + i);
			CHECK_EQ(SAME(lseek(am, 0, i == 0 ? SEEK_CUR : SEEK_SET), lseek(ap, 0, i == 0 ? SEEK_CUR : SEEK_SET)),
				 0);
			CHECK_EQ(SAME(write(am, b, n), write(ap, b, n)), n);
			pftest_shadow_write(&t.sh, t.sh.size, b, n);
			CHECK_EQ(SAME(lseek(am, 0, SEEK_CUR), lseek(ap, 0, SEEK_CUR)), t.sh.size);
			pftest_free(b);
		}
		/* Linux appends even for pwrite on an O_APPEND descriptor */
		uint8_t *b = pftest_patbuf(t.sh.size, 333, 30);
		long long cur = (long long)t.sh.size;
		CHECK_EQ(SAME(pwrite(am, b, 333, 0), pwrite(ap, b, 333, 0)), 333);
		pftest_shadow_write(&t.sh, t.sh.size, b, 333);
		pftest_free(b);
		/* ... without moving the file offset */
		CHECK_EQ(SAME(lseek(am, 0, SEEK_CUR), lseek(ap, 0, SEEK_CUR)), cur);
		CHECK(close(am) == 0 && close(ap) == 0);
		pftest_twin_check(&t);
	}

	STEP("two open file descriptions see each other's writes at once");
	{
		int rm = OK(open(t.m, O_RDONLY)), rp = OK(open(t.p, O_RDONLY));
		for (int i = 0; i < 20; i++) {
			uint64_t off = t.sh.size - 5000 + (uint64_t)i * 4999;
			uint8_t *b = pftest_patbuf(off, 4999, 40 + i);
			CHECK_EQ(TWIN(&t, pwrite(FD, b, 4999, (off_t)off)), 4999);
			pftest_shadow_write(&t.sh, off, b, 4999);
			CHECK_EQ(SAME(pread(rm, t.bm, 4999, (off_t)off), pread(rp, t.bp, 4999, (off_t)off)), 4999);
			pftest_twin_bufs(&t, 4999, b, off);
			CHECK_EQ(SAME(pftest_fsize(rm), pftest_fsize(rp)), t.sh.size);
			pftest_free(b);
		}
		CHECK(close(rm) == 0 && close(rp) == 0);
	}
	pftest_twin_check(&t);

	STEP("residency of the managed file (shim only)");
	pftest_twin_close(&t);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	long long used = pftest_pool_used0();

	STEP("unmanaged files never use the pool");
	{
		char idx[PATH_MAX];
		pftest_mpath(idx, "topic-0", "00000000000000000000.snapshot");
		int fd = OK(open(idx, O_RDWR | O_CREAT, 0644));
		uint8_t *b = pftest_patbuf(0, 1 << 20, 50);
		pftest_write_all(fd, b, 1 << 20);
		CHECK(pread(fd, t.bm, 1 << 20, 0) == 1 << 20);
		pftest_cmp("snapshot read back", t.bm, b, 1 << 20, 0);
		CHECK(fsync(fd) == 0);
		CHECK(close(fd) == 0);
		pftest_check_kernel_resident(idx, 1 << 20);
		struct stat st0, st1;
		CHECK(stat(t.p, &st0) == 0);
		fd = OK(open(t.p, O_WRONLY | O_APPEND));
		pftest_write_all(fd, b, 1 << 20);
		CHECK(fsync(fd) == 0);
		CHECK(close(fd) == 0);
		CHECK(stat(t.p, &st1) == 0);
		CHECKF((st1.st_blocks - st0.st_blocks) * 512 >= 1 << 20, "twin st_blocks %lld -> %lld after a 1 MiB append",
		       (long long)st0.st_blocks, (long long)st1.st_blocks);
		CHECKF(pftest_pool_used0() == used, "pool used blocks went from %lld to %lld after writing unmanaged files",
		       used, pftest_pool_used0());
		pftest_free(b);
	}

	STEP("offsets above 4 GiB");
	{
		struct pftest_twin u;
		pftest_twin_init(&u, "topic-1", PFTEST_SEG0);
		CHECK(pftest_twin_open(&u, O_RDWR | O_CREAT, 0644) >= 0);
		const uint64_t big = (5ULL << 30) + 7;
		uint8_t *b = pftest_patbuf(big, 100000, 60);
		CHECK_EQ(TWIN(&u, pwrite64(FD, b, 100000, (off64_t)big)), 100000);
		CHECK_EQ(TWIN(&u, pftest_fsize(FD)), big + 100000);
		CHECK_EQ(TWIN(&u, lseek64(FD, 0, SEEK_END)), big + 100000);
		CHECK_EQ(TWIN(&u, pread64(FD, BUF, 200000, (off64_t)big)), 100000);
		pftest_twin_bufs(&u, 100000, b, big);
		CHECK_EQ(TWIN(&u, pread64(FD, BUF, 100000, (off64_t)(4ULL << 30))), 100000);
		memset(u.bp + 100000, 0, 100000);
		pftest_twin_bufs(&u, 100000, u.bp + 100000, 4ULL << 30);
		CHECK_EQ(TWIN(&u, lseek64(FD, (off64_t)big + 100000, SEEK_SET)), big + 100000);
		pftest_free(b);
		b = pftest_patbuf(big + 100000, 70000, 61);
		CHECK_EQ(TWIN(&u, write(FD, b, 70000)), 70000);
		CHECK_EQ(TWIN(&u, pread64(FD, BUF, 70000, (off64_t)big + 100000)), 70000);
		pftest_twin_bufs(&u, 70000, b, big + 100000);
		pftest_free(b);
		pftest_twin_close(&u);
	}
	printf("PASS\n");
	return 0;
}

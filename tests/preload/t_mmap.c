/*
 * t_mmap: mmap/mmap64 of a managed segment vs the unmanaged twin. MAP_SHARED mappings show the bytes
 * written with write() before the mapping and (coherently) bytes written with pwrite/write afterwards, also
 * in the tail page past EOF; stores through a PROT_WRITE MAP_SHARED mapping + msync(MS_SYNC) are seen by
 * pread, by another fd and by a fresh open; mappings at a nonzero offset across blocks; read-only
 * MAP_SHARED of an O_RDONLY fd (the JDK transferTo fallback); MAP_PRIVATE copies stay private; a file
 * extended with ftruncate and filled through a mapping (the index pattern); a mapping outlives close and
 * unlink; munmap; EACCES for mappings the fd does not allow.
 */
#include "pftest.h"

#include <sys/mman.h>

#define PG 4096

static void pat_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

static uint8_t *map(int fd, size_t len, int prot, int flags, off64_t off, int use64)
{
	void *p = use64 ? mmap64(NULL, len, prot, flags, fd, off) : mmap(NULL, len, prot, flags, fd, (off_t)off);
	CHECKF(p != MAP_FAILED, "mmap%s(len %zu, prot %d, flags 0x%x, off %lld)", use64 ? "64" : "", len, prot, flags,
	       (long long)off);
	return p;
}

/* The first n bytes of mapping m (file offset off) equal the shadow (zeros past its size). */
static void check_map(const char *what, const uint8_t *m, const struct pftest_shadow *sh, uint64_t off, size_t n)
{
	size_t in = off >= sh->size ? 0 : (sh->size - off < n ? (size_t)(sh->size - off) : n);
	pftest_cmp(what, m, sh->b + off, in, off);
	for (size_t i = in; i < n; i++)
		CHECKF(m[i] == 0, "%s: byte at file offset %llu past EOF in the tail page is 0x%02x", what,
		       (unsigned long long)(off + i), m[i]);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	const size_t size = 5 * PFTEST_BLK + 1234;
	pat_both(&t, 0, size, 1);

	STEP("MAP_SHARED sees bytes written before mapping");
	const size_t mlen = 6 * PFTEST_BLK;
	uint8_t *mm = map(t.fm, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 1);
	uint8_t *mp = map(t.fp, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 0);
	check_map("managed mapping", mm, &t.sh, 0, (size + PG - 1) / PG * PG);
	check_map("twin mapping", mp, &t.sh, 0, (size + PG - 1) / PG * PG);

	STEP("writes after mapping are visible in the mapping");
	pat_both(&t, PFTEST_BLK - 10, 3 * PFTEST_BLK, 2);
	check_map("managed mapping after pwrite", mm, &t.sh, 0, (size + PG - 1) / PG * PG);
	/* append within the tail page */
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_END)), size);
	uint8_t tail[100];
	pftest_fill(tail, size, sizeof tail, 3);
	CHECK_EQ(TWIN(&t, write(FD, tail, sizeof tail)), sizeof tail);
	pftest_shadow_write(&t.sh, size, tail, sizeof tail);
	check_map("managed mapping after append in tail page", mm, &t.sh, 0, (t.sh.size + PG - 1) / PG * PG);
	check_map("twin mapping after append in tail page", mp, &t.sh, 0, (t.sh.size + PG - 1) / PG * PG);

	STEP("stores through the mapping + msync are visible to pread and fresh opens");
	{
		static const struct { size_t off, n; } st[] = { { 5, 10 }, { PFTEST_BLK - 3, 7 }, { 2 * PFTEST_BLK - 100, PFTEST_BLK + 200 },
								{ 4 * PFTEST_BLK + 1, 1 } };
		for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
			uint8_t *b = pftest_patbuf(st[i].off, st[i].n, 10 + (uint32_t)i);
			memcpy(mm + st[i].off, b, st[i].n);
			memcpy(mp + st[i].off, b, st[i].n);
			pftest_shadow_write(&t.sh, st[i].off, b, st[i].n);
			pftest_free(b);
		}
		CHECK(msync(mm, mlen, MS_SYNC) == 0);
		CHECK(msync(mp, mlen, MS_SYNC) == 0);
		pftest_twin_check(&t);
		int o = OK(open(t.m, O_RDONLY));
		pftest_check_fd(o, &t.sh, "other fd after msync");
		CHECK(close(o) == 0);
		/* a store then write() over part of it: the mapping shows the write */
		mm[PFTEST_BLK * 3] = mp[PFTEST_BLK * 3] = 0x5A;
		CHECK(msync(mm, mlen, MS_SYNC) == 0 && msync(mp, mlen, MS_SYNC) == 0);
		pftest_shadow_write(&t.sh, PFTEST_BLK * 3, "\x5a", 1);
		pat_both(&t, PFTEST_BLK * 3 - 2, 5, 20);
		check_map("mapping after store + overlapping pwrite", mm, &t.sh, 0, t.sh.size);
		pftest_twin_check(&t);
		/* MS_ASYNC and MS_INVALIDATE succeed too */
		CHECK(msync(mm, PG, MS_ASYNC) == 0);
		CHECK_EQ(SAME(msync(mm, PG, MS_INVALIDATE), msync(mp, PG, MS_INVALIDATE)), 0);
	}
	CHECK(munmap(mm, mlen) == 0 && munmap(mp, mlen) == 0);
	pftest_twin_check(&t);

	STEP("mapping at a nonzero offset across blocks, read-only fd");
	{
		int rm = OK(open(t.m, O_RDONLY)), rp = OK(open(t.p, O_RDONLY));
		off64_t off = PFTEST_BLK + PG;
		size_t len = 3 * PFTEST_BLK;
		uint8_t *a = map(rm, len, PROT_READ, MAP_SHARED, off, 1);
		uint8_t *b = map(rp, len, PROT_READ, MAP_SHARED, off, 0);
		check_map("read-only mapping at offset", a, &t.sh, (uint64_t)off, len);
		pftest_cmp("managed vs twin mapping", a, b, len, (uint64_t)off);
		pat_both(&t, (uint64_t)off + 100, 1000, 21);
		check_map("read-only mapping after pwrite", a, &t.sh, (uint64_t)off, len);
		CHECK(munmap(a, len) == 0 && munmap(b, len) == 0);
		STEP("EACCES for writable shared mappings of a read-only fd, any mapping of a write-only fd");
		CHECK_EQ(SAME((long long)(intptr_t)mmap(NULL, PG, PROT_WRITE, MAP_SHARED, rm, 0),
			      (long long)(intptr_t)mmap(NULL, PG, PROT_WRITE, MAP_SHARED, rp, 0)),
			 -1);
		CHECK(close(rm) == 0 && close(rp) == 0);
		int wm = OK(open(t.m, O_WRONLY)), wp = OK(open(t.p, O_WRONLY));
		CHECK_EQ(SAME((long long)(intptr_t)mmap(NULL, PG, PROT_READ, MAP_SHARED, wm, 0),
			      (long long)(intptr_t)mmap(NULL, PG, PROT_READ, MAP_SHARED, wp, 0)),
			 -1);
		CHECK_EQ(SAME((long long)(intptr_t)mmap(NULL, PG, PROT_READ, MAP_SHARED, t.fm, 1),
			      (long long)(intptr_t)mmap(NULL, PG, PROT_READ, MAP_SHARED, t.fp, 1)),
			 -1); /* EINVAL: unaligned offset */
		CHECK(close(wm) == 0 && close(wp) == 0);
	}

	STEP("MAP_PRIVATE");
	{
		size_t len = 2 * PFTEST_BLK;
		uint8_t *a = map(t.fm, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, PFTEST_BLK, 0);
		check_map("private mapping", a, &t.sh, PFTEST_BLK, len);
		memset(a, 0x77, 5000);
		CHECK(munmap(a, len) == 0);
		pftest_twin_check(&t);
	}

	STEP("index pattern: ftruncate to extend, fill through a mapping, msync, munmap");
	{
		uint64_t old = t.sh.size, newsize = old + 10 * PFTEST_BLK + 5;
		CHECK_EQ(TWIN(&t, ftruncate64(FD, (off64_t)newsize)), 0);
		pftest_shadow_truncate(&t.sh, newsize);
		uint8_t *a = map(t.fm, newsize, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 1);
		uint8_t *b = map(t.fp, newsize, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 1);
		check_map("extended mapping", a, &t.sh, 0, newsize);
		for (uint64_t off = old - 3; off + 12 <= newsize; off += 12 * 97) {
			uint8_t e[12];
			pftest_fill(e, off, 12, 30);
			memcpy(a + off, e, 12);
			memcpy(b + off, e, 12);
			pftest_shadow_write(&t.sh, off, e, 12);
		}
		CHECK(msync(a, newsize, MS_SYNC) == 0 && msync(b, newsize, MS_SYNC) == 0);
		CHECK(munmap(a, newsize) == 0 && munmap(b, newsize) == 0);
		pftest_twin_check(&t);
	}

	STEP("a mapping outlives close and unlink");
	{
		char m2[PATH_MAX];
		pftest_mpath(m2, "topic-0", "00000000000000009999.log");
		int fd = OK(open(m2, O_RDWR | O_CREAT, 0644));
		uint8_t *b = pftest_patbuf(0, 3 * PFTEST_BLK + 1, 40);
		pftest_write_all(fd, b, 3 * PFTEST_BLK + 1);
		uint8_t *a = map(fd, 3 * PFTEST_BLK + 1, PROT_READ | PROT_WRITE, MAP_SHARED, 0, 0);
		CHECK(close(fd) == 0);
		pftest_cmp("mapping after close", a, b, 3 * PFTEST_BLK + 1, 0);
		a[7] = 1;
		CHECK(msync(a, PG, MS_SYNC) == 0);
		fd = OK(open(m2, O_RDONLY));
		uint8_t c;
		CHECK_EQ(pread(fd, &c, 1, 7), 1);
		CHECK_EQ(c, 1);
		CHECK(close(fd) == 0);
		CHECK(unlink(m2) == 0);
		b[7] = 1;
		pftest_cmp("mapping after unlink", a, b, 3 * PFTEST_BLK + 1, 0);
		CHECK(munmap(a, 3 * PFTEST_BLK + 1) == 0);
		pftest_free(b);
	}
	pftest_twin_close(&t);
	pftest_check_path(t.m, &t.sh);
	printf("PASS\n");
	return 0;
}

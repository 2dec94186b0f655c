/*
 * t_copy: copy_file_range, sendfile into files and splice with managed segments on either side, each
 * compared with the same operation on unmanaged twins. copy_file_range: managed -> socket fails with EINVAL
 * (the JDK 20+ probe), managed -> plain, plain -> managed, managed -> managed, within one file
 * (non-overlapping; overlapping is EINVAL), NULL offsets use and advance the file offsets, past EOF returns
 * 0, a destination offset past EOF leaves a hole, errors (flags, O_RDONLY/O_WRONLY/O_APPEND fds).
 * sendfile into a managed file (from plain and managed). splice managed -> pipe (offset pointer and NULL)
 * and pipe -> managed, O_APPEND destination, ESPIPE/EINVAL errors.
 */
#include "pftest.h"

#include <sys/sendfile.h>
#include <sys/socket.h>

static void mk(struct pftest_twin *t, const char *dir, const char *name, size_t n, uint32_t seed)
{
	pftest_twin_init(t, dir, name);
	CHECK(pftest_twin_open(t, O_RDWR | O_CREAT | O_TRUNC, 0644) >= 0);
	if (n) {
		uint8_t *b = pftest_patbuf(0, n, seed);
		CHECK_EQ(TWIN(t, write(FD, b, n)), n);
		pftest_shadow_write(&t->sh, 0, b, n);
		pftest_free(b);
	}
	TWIN(t, lseek(FD, 0, SEEK_SET));
}

/*
 * Apply the copy to the shadows of the "managed" world: dst bytes [doff, +r) = src bytes [soff, +r).
 * Both shadows belong to managed/twin pairs that must end up equal.
 */
static void shadow_copy(struct pftest_shadow *dst, uint64_t doff, const struct pftest_shadow *src, uint64_t soff,
			uint64_t r)
{
	uint8_t *tmp = pftest_xmalloc(r);
	memcpy(tmp, src->b + soff, r);
	pftest_shadow_write(dst, doff, tmp, r);
	pftest_free(tmp);
}

/*
 * copy_file_range S.fm -> D.fm (the world under test) and S.fp -> D.fp (the reference, all unmanaged), in a
 * bounded loop until n bytes or 0. Offsets < 0 mean NULL (use and advance the file offsets). Results,
 * errno and offsets must agree; D->sh gets the copied bytes. Returns the total.
 */
static long long cfr(struct pftest_twin *S, struct pftest_twin *D, long long soff, long long doff, size_t n)
{
	STEP("copy_file_range %s -> %s src %lld dst %lld n %zu", S->m, D->m, soff, doff, n);
	long long scur = TWIN(S, lseek(FD, 0, SEEK_CUR)), dcur = TWIN(D, lseek(FD, 0, SEEK_CUR));
	long long s0 = soff < 0 ? scur : soff, d0 = doff < 0 ? dcur : doff;
	off64_t ai = soff, ao = doff, bi = soff, bo = doff;
	long long total = 0;
	for (int i = 0; i < 1000 && (size_t)total < n; i++) {
		long long r = SAME(copy_file_range(S->fm, soff < 0 ? NULL : &ai, D->fm, doff < 0 ? NULL : &ao, n - (size_t)total, 0),
				   copy_file_range(S->fp, soff < 0 ? NULL : &bi, D->fp, doff < 0 ? NULL : &bo, n - (size_t)total, 0));
		CHECK(r >= 0);
		CHECK_EQ(ai, bi);
		CHECK_EQ(ao, bo);
		if (r == 0)
			break;
		total += r;
	}
	if (soff >= 0)
		CHECK_EQ(bi, soff + total);
	if (doff >= 0)
		CHECK_EQ(bo, doff + total);
	CHECK_EQ(TWIN(S, lseek(FD, 0, SEEK_CUR)), soff < 0 ? scur + total : scur);
	if (S != D)
		CHECK_EQ(TWIN(D, lseek(FD, 0, SEEK_CUR)), doff < 0 ? dcur + total : dcur);
	if (total > 0)
		shadow_copy(&D->sh, (uint64_t)d0, &S->sh, (uint64_t)s0, (uint64_t)total);
	return total;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	struct pftest_twin A, B, P;
	mk(&A, "topic-0", "00000000000000000000.log", 3 * PFTEST_MIB + 11, 1);
	mk(&B, "topic-0", "00000000000000005000.log", PFTEST_MIB + 3, 2);
	/* P: an unmanaged file pair (both sides plain), used as the plain peer */
	pftest_twin_init(&P, "other", "peer.bin");
	pftest_fmt(P.m, sizeof P.m, "%s/plain/other/peer-a.bin", pftest_dir());
	CHECK(pftest_twin_open(&P, O_RDWR | O_CREAT | O_TRUNC, 0644) >= 0);
	{
		uint8_t *b = pftest_patbuf(0, 2 * PFTEST_MIB, 3);
		CHECK_EQ(TWIN(&P, write(FD, b, 2 * PFTEST_MIB)), 2 * PFTEST_MIB);
		pftest_shadow_write(&P.sh, 0, b, 2 * PFTEST_MIB);
		pftest_free(b);
		TWIN(&P, lseek(FD, 0, SEEK_SET));
	}

	STEP("copy_file_range to a socket is EINVAL");
	{
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		off64_t om = 0, op = 0;
		CHECK_EQ(SAME(copy_file_range(A.fm, &om, sv[0], NULL, 1000, 0), copy_file_range(A.fp, &op, sv[0], NULL, 1000, 0)),
			 -1);
		CHECK_EQ(om, 0);
		CHECK_EQ(SAME(copy_file_range(sv[1], NULL, A.fm, &om, 1000, 0), copy_file_range(sv[1], NULL, A.fp, &op, 1000, 0)),
			 -1);
		close(sv[0]);
		close(sv[1]);
	}

	/* managed -> plain (P is a pair of plain files) */
	cfr(&A, &P, PFTEST_BLK - 7, 100, 2 * PFTEST_MIB + 13);
	pftest_twin_check(&P);
	cfr(&A, &P, 0, -1, 3 * PFTEST_BLK);
	pftest_twin_check(&P);
	/* plain -> managed */
	cfr(&P, &B, 3, PFTEST_BLK * 2 + 1, PFTEST_MIB);
	pftest_twin_check(&B);
	cfr(&P, &B, -1, 0, 5000);
	pftest_twin_check(&B);
	/* managed -> managed */
	cfr(&A, &B, 1, 5, 3 * PFTEST_BLK + 77);
	pftest_twin_check(&B);
	/* NULL offsets */
	TWIN(&A, lseek(FD, 1000, SEEK_SET));
	TWIN(&B, lseek(FD, PFTEST_BLK, SEEK_SET));
	cfr(&A, &B, -1, -1, 500000);
	cfr(&A, &B, -1, 17, 70000);
	cfr(&A, &B, 99, -1, 70000);
	pftest_twin_check(&A);
	pftest_twin_check(&B);
	/* destination offset past EOF: hole */
	cfr(&A, &B, 0, (long long)B.sh.size + 3 * PFTEST_BLK + 5, 1000);
	pftest_twin_check(&B);
	/* source past EOF: 0, short at EOF */
	CHECK_EQ(cfr(&A, &B, (long long)A.sh.size, 0, 1000), 0);
	CHECK_EQ(cfr(&A, &B, (long long)A.sh.size + 10, 0, 1000), 0);
	CHECK_EQ(cfr(&A, &B, (long long)A.sh.size - 10, 0, 1000), 10);
	pftest_twin_check(&B);
	/* within one file, non-overlapping */
	cfr(&A, &A, 0, 2 * PFTEST_MIB, 100000);
	pftest_twin_check(&A);
	STEP("copy_file_range errors");
	{
		off64_t a = 0, b = 1000, c = 0, d = 1000;
		CHECK_EQ(SAME(copy_file_range(A.fm, &a, A.fm, &b, 5000, 0), copy_file_range(A.fp, &c, A.fp, &d, 5000, 0)), -1);
		a = c = 0;
		b = d = 0;
		CHECK_EQ(SAME(copy_file_range(A.fm, &a, B.fm, &b, 10, 1), copy_file_range(A.fp, &c, B.fp, &d, 10, 1)), -1);
		int rom = OK(open(B.m, O_RDONLY)), rop = OK(open(B.p, O_RDONLY));
		int wom = OK(open(A.m, O_WRONLY)), wop = OK(open(A.p, O_WRONLY));
		int apm = OK(open(B.m, O_WRONLY | O_APPEND)), app = OK(open(B.p, O_WRONLY | O_APPEND));
		CHECK_EQ(SAME(copy_file_range(A.fm, &a, rom, &b, 10, 0), copy_file_range(A.fp, &c, rop, &d, 10, 0)), -1);
		CHECK_EQ(SAME(copy_file_range(wom, &a, B.fm, &b, 10, 0), copy_file_range(wop, &c, B.fp, &d, 10, 0)), -1);
		CHECK_EQ(SAME(copy_file_range(A.fm, &a, apm, NULL, 10, 0), copy_file_range(A.fp, &c, app, NULL, 10, 0)), -1);
		a = c = -1;
		CHECK_EQ(SAME(copy_file_range(A.fm, &a, B.fm, &b, 10, 0), copy_file_range(A.fp, &c, B.fp, &d, 10, 0)), -1);
		CHECK(close(rom) == 0 && close(rop) == 0 && close(wom) == 0 && close(wop) == 0);
		CHECK(close(apm) == 0 && close(app) == 0);
	}
	pftest_twin_check(&A);
	pftest_twin_check(&B);

	STEP("sendfile into a managed file");
	{
		/* from plain P into B at B's file offset, and from managed A into B */
		long long bo = TWIN(&B, lseek(FD, 12345, SEEK_SET));
		off_t pm = 1000, pp = 1000;
		CHECK_EQ(SAME(sendfile(B.fm, P.fm, &pm, 200000), sendfile(B.fp, P.fp, &pp, 200000)), 200000);
		shadow_copy(&B.sh, (uint64_t)bo, &P.sh, 1000, 200000);
		CHECK_EQ(TWIN(&B, lseek(FD, 0, SEEK_CUR)), bo + 200000);
		pftest_twin_check(&B);
		off_t am = PFTEST_BLK - 1, ap = PFTEST_BLK - 1;
		CHECK_EQ(SAME(sendfile(B.fm, A.fm, &am, 300000), sendfile(B.fp, A.fp, &ap, 300000)), 300000);
		shadow_copy(&B.sh, (uint64_t)bo + 200000, &A.sh, PFTEST_BLK - 1, 300000);
		/* and managed into plain */
		TWIN(&P, lseek(FD, 0, SEEK_END));
		long long pend = (long long)P.sh.size;
		off64_t x = 7, y = 7;
		CHECK_EQ(SAME(sendfile64(P.fm, A.fm, &x, 100000), sendfile64(P.fp, A.fp, &y, 100000)), 100000);
		/* P.fm and P.fp were both appended with the same bytes */
		shadow_copy(&P.sh, (uint64_t)pend, &A.sh, 7, 100000);
		CHECK_EQ(TWIN(&B, lseek(FD, 0, SEEK_CUR)), bo + 500000);
		pftest_twin_check(&B);
		CHECK_EQ(TWIN(&P, lseek(FD, 0, SEEK_CUR)), pend + 100000);
		pftest_twin_check(&P);
	}

	STEP("splice managed -> pipe");
	{
		int pm[2], pp[2];
		CHECK(pipe(pm) == 0 && pipe(pp) == 0);
		off64_t om = PFTEST_BLK - 100, op = PFTEST_BLK - 100;
		CHECK_EQ(SAME(splice(A.fm, &om, pm[1], NULL, 40000, 0), splice(A.fp, &op, pp[1], NULL, 40000, 0)), 40000);
		CHECK_EQ(om, PFTEST_BLK - 100 + 40000);
		CHECK_EQ(SAME(read(pm[0], A.bm, 40000), read(pp[0], A.bp, 40000)), 40000);
		pftest_twin_bufs(&A, 40000, A.sh.b + PFTEST_BLK - 100, PFTEST_BLK - 100);
		long long cur = TWIN(&A, lseek(FD, 2 * PFTEST_BLK - 1, SEEK_SET));
		CHECK_EQ(SAME(splice(A.fm, NULL, pm[1], NULL, 30000, 0), splice(A.fp, NULL, pp[1], NULL, 30000, 0)), 30000);
		CHECK_EQ(TWIN(&A, lseek(FD, 0, SEEK_CUR)), cur + 30000);
		CHECK_EQ(SAME(read(pm[0], A.bm, 30000), read(pp[0], A.bp, 30000)), 30000);
		pftest_twin_bufs(&A, 30000, A.sh.b + cur, (uint64_t)cur);
		om = op = (off64_t)A.sh.size - 10;
		CHECK_EQ(SAME(splice(A.fm, &om, pm[1], NULL, 30000, 0), splice(A.fp, &op, pp[1], NULL, 30000, 0)), 10);
		CHECK_EQ(SAME(read(pm[0], A.bm, 10), read(pp[0], A.bp, 10)), 10);
		pftest_twin_bufs(&A, 10, A.sh.b + A.sh.size - 10, A.sh.size - 10);
		om = op = (off64_t)A.sh.size;
		CHECK_EQ(SAME(splice(A.fm, &om, pm[1], NULL, 30000, 0), splice(A.fp, &op, pp[1], NULL, 30000, 0)), 0);
		om = op = 0;
		CHECK_EQ(SAME(splice(A.fm, &om, pm[1], &om, 10, 0), splice(A.fp, &op, pp[1], &op, 10, 0)), -1); /* ESPIPE */
		CHECK_EQ(SAME(splice(A.fm, &om, B.fm, &om, 10, 0), splice(A.fp, &op, B.fp, &op, 10, 0)), -1);    /* EINVAL */

		STEP("splice pipe -> managed");
		uint8_t *b = pftest_patbuf(0, 50000, 9);
		CHECK(write(pm[1], b, 50000) == 50000 && write(pp[1], b, 50000) == 50000);
		om = op = 3 * PFTEST_BLK - 9;
		long long bcur = TWIN(&B, lseek(FD, 0, SEEK_CUR));
		CHECK_EQ(SAME(splice(pm[0], NULL, B.fm, &om, 50000, 0), splice(pp[0], NULL, B.fp, &op, 50000, 0)), 50000);
		CHECK_EQ(om, 3 * PFTEST_BLK - 9 + 50000);
		CHECK_EQ(TWIN(&B, lseek(FD, 0, SEEK_CUR)), bcur);
		pftest_shadow_write(&B.sh, 3 * PFTEST_BLK - 9, b, 50000);
		pftest_twin_check(&B);
		CHECK(write(pm[1], b, 50000) == 50000 && write(pp[1], b, 50000) == 50000);
		CHECK_EQ(TWIN(&B, lseek(FD, (off_t)B.sh.size + 7, SEEK_SET)), B.sh.size + 7);
		uint64_t at = B.sh.size + 7;
		CHECK_EQ(SAME(splice(pm[0], NULL, B.fm, NULL, 50000, 0), splice(pp[0], NULL, B.fp, NULL, 50000, 0)), 50000);
		pftest_shadow_write(&B.sh, at, b, 50000);
		CHECK_EQ(TWIN(&B, lseek(FD, 0, SEEK_CUR)), at + 50000);
		pftest_twin_check(&B);
		/* O_APPEND destination: the kernel refuses (EINVAL) */
		int apm = OK(open(B.m, O_WRONLY | O_APPEND)), app = OK(open(B.p, O_WRONLY | O_APPEND));
		CHECK(write(pm[1], b, 100) == 100 && write(pp[1], b, 100) == 100);
		long long ra = SAME(splice(pm[0], NULL, apm, NULL, 100, 0), splice(pp[0], NULL, app, NULL, 100, 0));
		if (ra > 0)
			pftest_shadow_write(&B.sh, B.sh.size, b, (uint64_t)ra);
		CHECK(close(apm) == 0 && close(app) == 0);
		pftest_twin_check(&B);
		pftest_free(b);
		close(pm[0]);
		close(pm[1]);
		close(pp[0]);
		close(pp[1]);
	}

	pftest_twin_close(&A);
	pftest_twin_close(&B);
	pftest_twin_close(&P);
	pftest_check_sparse(A.m, (long long)A.sh.size);
	pftest_check_sparse(B.m, (long long)B.sh.size / 2);
	printf("PASS\n");
	return 0;
}

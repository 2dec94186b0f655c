/*
 * t_stdio: stdio streams opened by name on a managed segment (fopen, fopen64, freopen, freopen64 with modes
 * r, r+, w, w+, a, a+) behave as on the unmanaged twin: fread/fwrite/fgets/fgetc/ungetc/fseeko/ftello/
 * fflush/fclose, fileno + fstat, and mixing a stream with plain fd I/O on the same file (bytes written by
 * one are read by the other after fflush/fseek). Shim only: after the streams are closed, the segment's
 * bytes are all readable through the fd API and a new fd, whatever the shim did underneath.
 */
#include "pftest.h"

static struct pftest_twin t;

/* Open both with fopen/fopen64; mode must behave alike */
static void both_open(FILE **fm, FILE **fp, const char *mode, int use64)
{
	*fm = use64 ? fopen64(t.m, mode) : fopen(t.m, mode);
	*fp = use64 ? fopen64(t.p, mode) : fopen(t.p, mode);
	CHECKF(*fm != NULL && *fp != NULL, "fopen%s(%s): managed %p twin %p", use64 ? "64" : "", mode, (void *)*fm,
	       (void *)*fp);
}

static void both_close(FILE *fm, FILE *fp)
{
	CHECK_EQ(SAME(fclose(fm), fclose(fp)), 0);
}

static void both_write(FILE *fm, FILE *fp, uint64_t at, size_t n, uint32_t seed)
{
	uint8_t *b = pftest_patbuf(at, n, seed);
	CHECK_EQ(SAME(fwrite(b, 1, n, fm), fwrite(b, 1, n, fp)), n);
	pftest_shadow_write(&t.sh, at, b, n);
	pftest_free(b);
}

static void both_read(FILE *fm, FILE *fp, size_t n)
{
	long long pos = SAME(ftello(fm), ftello(fp));
	long long exp = (uint64_t)pos >= t.sh.size ? 0 : (long long)(t.sh.size - (uint64_t)pos < n ? t.sh.size - (uint64_t)pos : n);
	CHECK_EQ(SAME(fread(t.bm, 1, n, fm), fread(t.bp, 1, n, fp)), exp);
	pftest_twin_bufs(&t, exp, t.sh.b + pos, (uint64_t)pos);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	FILE *fm, *fp;

	STEP("w+: create, write, seek, read");
	both_open(&fm, &fp, "w+", 0);
	both_write(fm, fp, 0, 2 * PFTEST_MIB + 17, 1);
	CHECK_EQ(SAME(fseeko(fm, PFTEST_BLK - 3, SEEK_SET), fseeko(fp, PFTEST_BLK - 3, SEEK_SET)), 0);
	both_read(fm, fp, 3 * PFTEST_BLK);
	CHECK_EQ(SAME(fflush(fm), fflush(fp)), 0);
	{
		struct stat a, b;
		CHECK(fstat(fileno(fm), &a) == 0 && fstat(fileno(fp), &b) == 0);
		CHECK_EQ(a.st_size, b.st_size);
		CHECK_EQ(a.st_size, t.sh.size);
	}
	both_close(fm, fp);
	pftest_twin_check(&t);

	STEP("r: fgets, fgetc, ungetc, fread to EOF");
	both_open(&fm, &fp, "r", 1);
	{
		char lm[300], lp[300];
		for (int i = 0; i < 50; i++) {
			char *a = fgets(lm, sizeof lm, fm), *b = fgets(lp, sizeof lp, fp);
			CHECK((a == NULL) == (b == NULL));
			if (!a)
				break;
			CHECK(strcmp(lm, lp) == 0);
		}
		long long c = SAME(fgetc(fm), fgetc(fp));
		CHECK(c != EOF);
		CHECK_EQ(SAME(ungetc((int)c, fm), ungetc((int)c, fp)), c);
		CHECK_EQ(SAME(fgetc(fm), fgetc(fp)), c);
		for (int i = 0; i < 2000; i++)
			if (SAME(fread(t.bm, 1, 65537, fm), fread(t.bp, 1, 65537, fp)) == 0)
				break;
		CHECK_EQ(SAME(feof(fm) != 0, feof(fp) != 0), 1);
		CHECK_EQ(SAME(ftello(fm), ftello(fp)), t.sh.size);
	}
	both_close(fm, fp);

	STEP("r+: overwrite in the middle");
	both_open(&fm, &fp, "r+", 0);
	CHECK_EQ(SAME(fseeko(fm, 3 * PFTEST_BLK + 1, SEEK_SET), fseeko(fp, 3 * PFTEST_BLK + 1, SEEK_SET)), 0);
	both_write(fm, fp, 3 * PFTEST_BLK + 1, 100000, 2);
	CHECK_EQ(SAME(fseeko(fm, 10, SEEK_SET), fseeko(fp, 10, SEEK_SET)), 0);
	both_read(fm, fp, 1000);
	both_close(fm, fp);
	pftest_twin_check(&t);

	STEP("a and a+: appends");
	both_open(&fm, &fp, "a", 1);
	both_write(fm, fp, t.sh.size, 70001, 3);
	both_close(fm, fp);
	both_open(&fm, &fp, "a+", 0);
	CHECK_EQ(SAME(fseeko(fm, 0, SEEK_SET), fseeko(fp, 0, SEEK_SET)), 0);
	both_read(fm, fp, 100);
	both_write(fm, fp, t.sh.size, 5000, 4); /* a+ writes always append */
	both_close(fm, fp);
	pftest_twin_check(&t);

	STEP("freopen / freopen64");
	{
		FILE *a = fopen("/dev/null", "r"), *b = fopen("/dev/null", "r");
		CHECK(a && b);
		fm = freopen(t.m, "r", a);
		fp = freopen64(t.p, "r", b);
		CHECK(fm != NULL && fp != NULL);
		CHECK_EQ(SAME(fseeko(fm, PFTEST_MIB, SEEK_SET), fseeko(fp, PFTEST_MIB, SEEK_SET)), 0);
		both_read(fm, fp, 200000);
		fm = freopen64(t.m, "r+", fm);
		fp = freopen(t.p, "r+", fp);
		CHECK(fm != NULL && fp != NULL);
		both_write(fm, fp, 0, 333, 5);
		both_close(fm, fp);
		pftest_twin_check(&t);
	}

	STEP("mixing a stream with fd I/O");
	both_open(&fm, &fp, "r+", 0);
	CHECK(pftest_twin_open(&t, O_RDWR, 0) >= 0);
	both_write(fm, fp, 0, 1000, 6);
	CHECK_EQ(SAME(fflush(fm), fflush(fp)), 0);
	CHECK_EQ(TWIN(&t, pread(FD, BUF, 1000, 0)), 1000);
	pftest_twin_bufs(&t, 1000, t.sh.b, 0);
	{
		uint8_t *b = pftest_patbuf(500000, 4000, 7);
		CHECK_EQ(TWIN(&t, pwrite(FD, b, 4000, 500000)), 4000);
		pftest_shadow_write(&t.sh, 500000, b, 4000);
		pftest_free(b);
	}
	CHECK_EQ(SAME(fseeko(fm, 499000, SEEK_SET), fseeko(fp, 499000, SEEK_SET)), 0);
	both_read(fm, fp, 10000);
	both_close(fm, fp);
	pftest_twin_check(&t);
	pftest_twin_close(&t);

	STEP("w truncates");
	both_open(&fm, &fp, "w", 1);
	pftest_shadow_truncate(&t.sh, 0);
	both_write(fm, fp, 0, 12345, 8);
	both_close(fm, fp);
	pftest_twin_check(&t);
	printf("PASS\n");
	return 0;
}

/*
 * t_fdopen: a stdio stream made with fdopen() from an fd of a managed segment (glibc's stream I/O then
 * calls its internal read/write/lseek, not the exported symbols) reads the right bytes and its writes land
 * in the same file the fd API sees, compared with the unmanaged twin: fdopen "r" of pool-resident data,
 * fdopen "r+" writes read back through pread and a new open, fdopen "a" appends, fseeko/ftello, and the fd
 * offset after fclose of a dup.
 */
#include "pftest.h"

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	uint8_t *b = pftest_patbuf(0, 2 * PFTEST_MIB + 5, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, 2 * PFTEST_MIB + 5)), 2 * PFTEST_MIB + 5);
	pftest_shadow_write(&t.sh, 0, b, 2 * PFTEST_MIB + 5);
	pftest_free(b);

	STEP("fdopen r: read pool-resident bytes");
	{
		int dm = OK(open(t.m, O_RDONLY)), dp = OK(open(t.p, O_RDONLY));
		FILE *fm = fdopen(dm, "r"), *fp = fdopen(dp, "r");
		CHECK(fm && fp);
		CHECK_EQ(SAME(fseeko(fm, PFTEST_BLK - 9, SEEK_SET), fseeko(fp, PFTEST_BLK - 9, SEEK_SET)), 0);
		CHECK_EQ(SAME(fread(t.bm, 1, PFTEST_MIB, fm), fread(t.bp, 1, PFTEST_MIB, fp)), PFTEST_MIB);
		pftest_twin_bufs(&t, PFTEST_MIB, t.sh.b + PFTEST_BLK - 9, PFTEST_BLK - 9);
		CHECK_EQ(SAME(ftello(fm), ftello(fp)), PFTEST_BLK - 9 + PFTEST_MIB);
		CHECK_EQ(SAME(fclose(fm), fclose(fp)), 0);
	}

	STEP("fdopen r+: writes visible to pread and new opens");
	{
		int dm = OK(dup(t.fm)), dp = OK(dup(t.fp));
		FILE *fm = fdopen(dm, "r+"), *fp = fdopen(dp, "r+");
		CHECK(fm && fp);
		CHECK_EQ(SAME(fseeko(fm, 3 * PFTEST_BLK + 1, SEEK_SET), fseeko(fp, 3 * PFTEST_BLK + 1, SEEK_SET)), 0);
		b = pftest_patbuf(3 * PFTEST_BLK + 1, 200000, 2);
		CHECK_EQ(SAME(fwrite(b, 1, 200000, fm), fwrite(b, 1, 200000, fp)), 200000);
		pftest_shadow_write(&t.sh, 3 * PFTEST_BLK + 1, b, 200000);
		pftest_free(b);
		CHECK_EQ(SAME(fflush(fm), fflush(fp)), 0);
		CHECK_EQ(TWIN(&t, pread(FD, BUF, 200000, 3 * PFTEST_BLK + 1)), 200000);
		pftest_twin_bufs(&t, 200000, t.sh.b + 3 * PFTEST_BLK + 1, 3 * PFTEST_BLK + 1);
		CHECK_EQ(SAME(fclose(fm), fclose(fp)), 0);
		/* the shared offset moved with the stream */
		CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_CUR)), 3 * PFTEST_BLK + 1 + 200000);
		pftest_twin_check(&t);
	}

	STEP("fdopen a: appends");
	{
		int dm = OK(open(t.m, O_WRONLY | O_APPEND)), dp = OK(open(t.p, O_WRONLY | O_APPEND));
		FILE *fm = fdopen(dm, "a"), *fp = fdopen(dp, "a");
		CHECK(fm && fp);
		b = pftest_patbuf(t.sh.size, 99999, 3);
		CHECK_EQ(SAME(fwrite(b, 1, 99999, fm), fwrite(b, 1, 99999, fp)), 99999);
		pftest_shadow_write(&t.sh, t.sh.size, b, 99999);
		pftest_free(b);
		CHECK_EQ(SAME(fclose(fm), fclose(fp)), 0);
		pftest_twin_check(&t);
	}
	pftest_twin_close(&t);
	printf("PASS\n");
	return 0;
}

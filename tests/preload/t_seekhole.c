/*
 * t_seekhole: lseek SEEK_DATA / SEEK_HOLE on managed segments agree with the unmanaged twin where the answer
 * does not depend on the file system's allocation granularity: a fully written file has data at 0 and its
 * only hole at EOF; SEEK_DATA at or past EOF is ENXIO; a file extended with a large hole (aligned to 1 MiB)
 * reports that hole. Tools such as cp and tar use these to skip holes: a segment that looked all-hole would be
 * copied as zeros.
 */
#include "pftest.h"

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	const long long n = 3 * PFTEST_MIB;
	uint8_t *b = pftest_patbuf(0, (size_t)n, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, (size_t)n)), n);
	CHECK_EQ(TWIN(&t, fsync(FD)), 0);

	STEP("fully written file");
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_DATA)), 0);
	CHECK_EQ(TWIN(&t, lseek(FD, 12345, SEEK_DATA)), 12345);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_HOLE)), n);
	CHECK_EQ(TWIN(&t, lseek(FD, n - 1, SEEK_HOLE)), n);
	CHECK_EQ(TWIN(&t, lseek(FD, n, SEEK_DATA)), -1);
	CHECK_EQ(errno, ENXIO);
	CHECK_EQ(TWIN(&t, lseek(FD, n + 5, SEEK_HOLE)), -1);

	STEP("a large aligned hole");
	CHECK_EQ(TWIN(&t, pwrite(FD, b, PFTEST_MIB, 8 * PFTEST_MIB)), PFTEST_MIB);
	CHECK_EQ(TWIN(&t, fsync(FD)), 0);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_HOLE)), n);
	CHECK_EQ(TWIN(&t, lseek(FD, n, SEEK_DATA)), 8 * PFTEST_MIB);
	CHECK_EQ(TWIN(&t, lseek(FD, 8 * PFTEST_MIB, SEEK_HOLE)), 9 * PFTEST_MIB);
	CHECK_EQ(TWIN(&t, lseek64(FD, 4 * PFTEST_MIB, SEEK_DATA)), 8 * PFTEST_MIB);

	STEP("with 64 KiB pool blocks, a hole of whole blocks inside the file");
	CHECK_EQ(TWIN(&t, fallocate(FD, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, PFTEST_MIB, PFTEST_MIB)), 0);
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_HOLE)), PFTEST_MIB);
	CHECK_EQ(TWIN(&t, lseek(FD, PFTEST_MIB, SEEK_DATA)), 2 * PFTEST_MIB);
	pftest_twin_close(&t);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

/*
 * t_offsetlocks: sendfile between two managed segments at their file offsets (out_fd's offset and in_fd's,
 * offset pointer NULL), which is where the shim holds two files' offset locks at once; the shim keeps those
 * locks in a small shared set (two files may share one), so this is where it could deadlock or lose an
 * offset.
 *   a. NF managed segments (enough that some two share a lock, whatever the hashing: 64 files over 256
 *      locks share one with probability 1 - 1e-3), each sending to every other in turn: every result,
 *      errno and both offsets agree with unmanaged twins, and so do the files' bytes at the end.
 *   b. Two threads sending between every pair at once, in opposite directions (the order that deadlocks
 *      when two locks are taken in different orders): both finish (an alarm turns a hang into a failure),
 *      every call returns what the kernel allows, and each file's size through fstat is what reading it
 *      gives.
 */
#include "pftest.h"

#include <pthread.h>
#include <sys/sendfile.h>

#define NF 64
#define SZ 4096

static int fm[NF], fp[NF];
static char pm[NF][PATH_MAX], pp[NF][PATH_MAX];

/* The whole file at path, read through a descriptor of its own. */
static char *whole(const char *path, size_t *len)
{
	int fd = OK(open(path, O_RDONLY));
	char *b = pftest_read_to_eof(fd, 1 << 20, len);
	OK(close(fd));
	return b;
}

static void *crossing(void *arg)
{
	long dir = (long)arg;
	long calls = 0;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NF; i++)
			for (int j = i + 1; j < NF; j++) {
				int out = dir ? fm[i] : fm[j], in = dir ? fm[j] : fm[i];
				ssize_t r = sendfile(out, in, NULL, 64);
				CHECKF(r >= 0 && r <= 64, "sendfile between segments %d and %d: %zd (%s)", i, j, r,
				       strerror(errno));
				calls++;
			}
	return (void *)calls;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	alarm(300); /* a deadlock ends the test with SIGALRM instead of hanging the suite */
	STEP("create %d segments and their twins", NF);
	for (int i = 0; i < NF; i++) {
		char dir[32], name[64];
		pftest_fmt(dir, sizeof dir, "ol-%d", i);
		pftest_segname(name, 0, NULL);
		pftest_mpath(pm[i], dir, name);
		pftest_ppath(pp[i], dir, name);
		fm[i] = OK(open(pm[i], O_RDWR | O_CREAT | O_TRUNC, 0644));
		fp[i] = OK(open(pp[i], O_RDWR | O_CREAT | O_TRUNC, 0644));
		uint8_t *b = pftest_patbuf(0, SZ, (uint32_t)i + 1);
		CHECK_EQ(SAME(write(fm[i], b, SZ), write(fp[i], b, SZ)), SZ);
		pftest_free(b);
		CHECK_EQ(SAME(lseek(fm[i], (off_t)(i * 37 % SZ), SEEK_SET), lseek(fp[i], (off_t)(i * 37 % SZ), SEEK_SET)),
			 i * 37 % SZ);
	}

	STEP("every segment sends to every other at both files' offsets");
	long long moved = 0;
	for (int i = 0; i < NF; i++)
		for (int j = 0; j < NF; j++) {
			if (i == j)
				continue;
			size_t n = 100 + (size_t)((i * 7 + j * 13) % 200);
			long long r = SAME(sendfile(fm[j], fm[i], NULL, n), sendfile(fp[j], fp[i], NULL, n));
			CHECK(r >= 0);
			moved += r;
			CHECK_EQ(pftest_tell(fm[i]), pftest_tell(fp[i]));
			CHECK_EQ(pftest_tell(fm[j]), pftest_tell(fp[j]));
		}
	CHECKF(moved > 0, "no byte moved");
	for (int i = 0; i < NF; i++) {
		size_t lm, lp;
		char *a = whole(pm[i], &lm), *b = whole(pp[i], &lp);
		CHECK_EQ(lm, lp);
		pftest_cmp("segment vs twin", a, b, lm, 0);
		pftest_free(a);
		pftest_free(b);
	}
	printf("%d x %d sendfiles at the offsets: %lld bytes, every offset and byte as the kernel's\n", NF, NF - 1, moved);

	STEP("two threads send between every pair in opposite directions");
	pthread_t t[2];
	for (long k = 0; k < 2; k++)
		CHECK_EQ(pthread_create(&t[k], NULL, crossing, (void *)k), 0);
	long calls = 0;
	for (int k = 0; k < 2; k++) {
		void *c;
		CHECK_EQ(pthread_join(t[k], &c), 0);
		calls += (long)c;
	}
	for (int i = 0; i < NF; i++) {
		struct stat st;
		OK(fstat(fm[i], &st));
		size_t len;
		pftest_free(whole(pm[i], &len));
		CHECK_EQ((long long)len, (long long)st.st_size);
		CHECK(pftest_tell(fm[i]) >= 0);
	}
	printf("%ld crossing sendfiles finished\n", calls);
	for (int i = 0; i < NF; i++) {
		OK(close(fm[i]));
		OK(close(fp[i]));
	}
	return 0;
}

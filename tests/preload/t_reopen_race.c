/*
 * t_reopen_race: a descriptor number that one thread closes and reopens (the same segment, the same number:
 * open returns the lowest free one) while another thread reads through it. Every read that succeeds must
 * return the segment's true bytes, never zeros (the log-dir file is sparse: a read that reaches the kernel
 * while the shim does not know the descriptor sees its holes); a read in the window where the number is
 * closed fails with EBADF, which is fine. CYCLES close/open pairs; the reader stops when told (an atomic
 * flag) or after MAX_READS reads; no sleeps. Under ThreadSanitizer it skips: TSan reports a close of a
 * descriptor while another thread reads it as a race on the descriptor itself (even against the plain
 * kernel), and this test makes exactly that race on purpose.
 */
#include "pftest.h"

#include <pthread.h>

#if defined(__SANITIZE_THREAD__)
#define PFTEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PFTEST_TSAN 1
#endif
#endif

#define CYCLES 20000
#define MAX_READS 50000000LL
#define SIZE (4 * PFTEST_BLK)
#define N 4096

static const uint8_t *expect;
static int fd_num = -1;
static int started, stop, failed;
static long long reads_ok, reads_ebadf;
static char failure[512];

static void *reader(void *arg)
{
	(void)arg;
	uint8_t *buf = pftest_xmalloc(N);
	__atomic_store_n(&started, 1, __ATOMIC_RELEASE);
	for (long long i = 0; i < MAX_READS && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); i++) {
		off_t off = (off_t)((i * 4099) % (SIZE - N));
		int fd = __atomic_load_n(&fd_num, __ATOMIC_ACQUIRE);
		errno = 0;
		ssize_t r = pread(fd, buf, N, off);
		if (r < 0 && errno == EBADF) {
			reads_ebadf++;
			continue;
		}
		if (r != N) {
			snprintf(failure, sizeof failure, "pread(fd %d, %d at %lld) returned %zd (errno %d %s)", fd, N,
				 (long long)off, r, errno, strerror(errno));
			break;
		}
		if (memcmp(buf, expect + off, N) != 0) {
			size_t zero = 0, bad = 0, first = N;
			for (size_t k = 0; k < N; k++)
				if (buf[k] != expect[off + (off_t)k]) {
					bad++;
					zero += buf[k] == 0;
					if (first == N)
						first = k;
				}
			snprintf(failure, sizeof failure,
				 "read %lld: pread(fd %d, %d at %lld) returned wrong bytes: %zu differ, %zu of them zero, "
				 "first at file offset %lld",
				 i, fd, N, (long long)off, bad, zero, (long long)(off + (off_t)first));
			break;
		}
		reads_ok++;
	}
	if (failure[0])
		__atomic_store_n(&failed, 1, __ATOMIC_RELEASE);
	pftest_free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
#ifdef PFTEST_TSAN
	pftest_skip("ThreadSanitizer reports closing a descriptor while another thread reads it as a race on the "
		    "descriptor itself; this test makes that race on purpose");
#endif
	char seg[PATH_MAX];
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	uint8_t *b = pftest_patbuf(0, SIZE, 1);
	expect = b;
	STEP("a pool-resident segment");
	int fd = OK(open(seg, O_RDWR | O_CREAT | O_TRUNC, 0644));
	pftest_write_all(fd, b, SIZE);
	CHECK(fsync(fd) == 0);
	CHECK(close(fd) == 0);
	pftest_check_sparse(seg, SIZE);

	fd = OK(open(seg, O_RDONLY));
	__atomic_store_n(&fd_num, fd, __ATOMIC_RELEASE);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, reader, NULL) == 0);
	while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
		; /* the reader is running: start closing under it */
	STEP("close and reopen the descriptor %d times while the reader reads", CYCLES);
	int renumbered = 0;
	for (int i = 0; i < CYCLES && !__atomic_load_n(&failed, __ATOMIC_ACQUIRE); i++) {
		CHECK(close(fd) == 0);
		int nfd = OK(open(seg, O_RDONLY));
		if (nfd != fd) {
			/* another thread took the number meanwhile: follow it (counted, printed) */
			renumbered++;
			__atomic_store_n(&fd_num, nfd, __ATOMIC_RELEASE);
			fd = nfd;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	CHECK(pthread_join(th, NULL) == 0);
	printf("%lld reads returned the bytes, %lld failed with EBADF, %d reopens got another number\n", reads_ok,
	       reads_ebadf, renumbered);
	STEP("the reader's results");
	CHECKF(!failure[0], "%s", failure);
	CHECKF(reads_ok > 0, "no read succeeded during %d close/open cycles (nothing was tested)", CYCLES);
	struct pftest_shadow sh = { 0 };
	pftest_shadow_write(&sh, 0, b, SIZE);
	pftest_check_fd(fd, &sh, "the reopened descriptor");
	CHECK(close(fd) == 0);
	pftest_shadow_free(&sh);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

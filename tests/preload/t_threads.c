/*
 * t_threads: concurrency on managed segments, all loops bounded.
 *  1. two threads append (write at the file offset) to two different managed files at the same time;
 *  2. on one file, an appender thread publishes the length after each write() returns (as Kafka's
 *     LogSegment does) while a reader thread preads random ranges below the published length from its own
 *     fd and a second reader sendfiles ranges to a socketpair and checks the bytes; fstat never reports less
 *     than the published length;
 *  3. meanwhile a fourth thread opens, writes, reads back and closes a third managed file in a loop
 *     (fd table churn), and a fifth dups/closes fds of the shared file.
 * All contents are checked byte for byte at the end (and the unmanaged twin of file 2 is checked by the same
 * code running on it, so the test validates itself without the shim).
 */
#include "pftest.h"

#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#define APPENDS 1500

static size_t rec_len(int i)
{
	return (size_t)((i * 7919) % 9000) + 17;
}

struct appender {
	pthread_t th;
	char path[PATH_MAX];
	uint32_t seed;
	int fd;
	uint64_t total;
	volatile uint64_t published; /* bytes known written (after write returned) */
	volatile int done;
};

static void *append_main(void *arg)
{
	struct appender *a = arg;
	uint8_t *buf = pftest_xmalloc(10000);
	uint64_t off = 0;
	for (int i = 0; i < APPENDS; i++) {
		size_t n = rec_len(i);
		pftest_fill(buf, off, n, a->seed);
		pftest_write_all(a->fd, buf, n);
		off += n;
		__atomic_store_n(&a->published, off, __ATOMIC_RELEASE);
	}
	a->total = off;
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	pftest_free(buf);
	return NULL;
}

static void start_appender(struct appender *a, const char *path, uint32_t seed)
{
	memset(a, 0, sizeof *a);
	pftest_fmt(a->path, sizeof a->path, "%s", path);
	a->seed = seed;
	a->fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	CHECK(pthread_create(&a->th, NULL, append_main, a) == 0);
}

static void check_pattern(const char *path, uint64_t size, uint32_t seed)
{
	struct pftest_shadow sh = { 0 };
	pftest_shadow_pat(&sh, 0, size, seed);
	pftest_check_path(path, &sh);
	pftest_shadow_free(&sh);
}

struct reader {
	pthread_t th;
	struct appender *a;
	int use_sendfile;
	int shared_fd; /* use the appender's fd (Kafka's FileRecords: one channel) instead of an own open */
	long checks;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct appender *a = r->a;
	int fd = r->shared_fd ? a->fd : OK(open(a->path, O_RDONLY));
	const char *what = r->use_sendfile ? (r->shared_fd ? "concurrent sendfile (appender's fd)" : "concurrent sendfile (own fd)")
					   : (r->shared_fd ? "concurrent pread (appender's fd)" : "concurrent pread (own fd)");
	int sv[2] = { -1, -1 };
	if (r->use_sendfile)
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	uint8_t *buf = pftest_xmalloc(65536), *exp = pftest_xmalloc(65536);
	uint64_t seed = 0x9E3779B97F4A7C15ULL + (uint64_t)r->use_sendfile + 2 * (uint64_t)r->shared_fd;
	int last = 0;
	for (long i = 0; i < 2000000 && last < 2; i++) {
		if (__atomic_load_n(&a->done, __ATOMIC_ACQUIRE))
			last++; /* one or two more passes after the appender finished */
		uint64_t pub = __atomic_load_n(&a->published, __ATOMIC_ACQUIRE);
		if (pub == 0)
			continue;
		struct stat st;
		CHECK(fstat(fd, &st) == 0);
		CHECKF((uint64_t)st.st_size >= pub, "%s: fstat size %lld below the published length %llu", what,
		       (long long)st.st_size, (unsigned long long)pub);
		uint64_t off = rnd(&seed) % pub;
		size_t n = (size_t)(rnd(&seed) % 32768) + 1;
		if (off + n > pub)
			n = (size_t)(pub - off);
		pftest_fill(exp, off, n, a->seed);
		if (r->use_sendfile) {
			off_t o = (off_t)off;
			ssize_t k = sendfile(sv[0], fd, &o, n);
			CHECKF(k == (ssize_t)n, "%s: sendfile(%zu at %llu) below the published length %llu returned %zd", what,
			       n, (unsigned long long)off, (unsigned long long)pub, k);
			CHECK_EQ(pftest_read_full(sv[1], buf, n), n);
		} else {
			ssize_t k = pread(fd, buf, n, (off_t)off);
			CHECKF(k == (ssize_t)n, "%s: pread(%zu at %llu) below the published length %llu returned %zd", what, n,
			       (unsigned long long)off, (unsigned long long)pub, k);
		}
		pftest_cmp(what, buf, exp, n, off);
		r->checks++;
	}
	CHECK(last >= 2);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (!r->shared_fd)
		close(fd);
	pftest_free(buf);
	pftest_free(exp);
	return NULL;
}

struct churn {
	pthread_t th;
	char path[PATH_MAX];
	int dupfd; /* fd of the shared file to dup and close */
	struct appender *a;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	uint8_t buf[5000], got[5000];
	for (int i = 0; i < 300; i++) {
		int fd = OK(open(c->path, O_RDWR | O_CREAT, 0644));
		uint64_t off = (uint64_t)i * 4999;
		pftest_fill(buf, off, sizeof buf, 77);
		pftest_pwrite_all(fd, buf, sizeof buf, (off_t)off);
		CHECK_EQ(pread(fd, got, sizeof got, (off_t)off), sizeof got);
		pftest_cmp("churn read back", got, buf, sizeof buf, off);
		CHECK(close(fd) == 0);
		int d = OK(dup(c->dupfd));
		uint64_t pub = __atomic_load_n(&c->a->published, __ATOMIC_ACQUIRE);
		if (pub > 100) {
			CHECK_EQ(pread(d, got, 100, (off_t)(pub - 100)), 100);
			pftest_fill(buf, pub - 100, 100, c->a->seed);
			pftest_cmp("read through a dup", got, buf, 100, pub - 100);
		}
		CHECK(close(d) == 0);
	}
	return NULL;
}

static void run_world(char *(*area_fn)(char *, const char *, const char *), const char *label)
{
	char p1[PATH_MAX], p2[PATH_MAX], p3[PATH_MAX], p4[PATH_MAX];
	area_fn(p1, "topic-0", PFTEST_SEG0);
	area_fn(p2, "topic-1", PFTEST_SEG0);
	area_fn(p3, "topic-2", PFTEST_SEG0);
	area_fn(p4, "topic-3", PFTEST_SEG0);
	STEP("%s: two appenders on two files", label);
	struct appender a1, a2;
	start_appender(&a1, p1, 1);
	start_appender(&a2, p2, 2);
	CHECK(pthread_join(a1.th, NULL) == 0 && pthread_join(a2.th, NULL) == 0);
	check_pattern(p1, a1.total, 1);
	check_pattern(p2, a2.total, 2);

	STEP("%s: appender + pread reader + sendfile reader + churn on one file", label);
	struct appender a3;
	struct reader r[4] = { { .use_sendfile = 0 }, { .use_sendfile = 1 }, { .use_sendfile = 0, .shared_fd = 1 },
			       { .use_sendfile = 1, .shared_fd = 1 } };
	struct churn c;
	memset(&c, 0, sizeof c);
	pftest_fmt(c.path, sizeof c.path, "%s", p4);
	start_appender(&a3, p3, 3);
	c.a = &a3;
	c.dupfd = a3.fd;
	for (int i = 0; i < 4; i++) {
		r[i].a = &a3;
		CHECK(pthread_create(&r[i].th, NULL, reader_main, &r[i]) == 0);
	}
	CHECK(pthread_create(&c.th, NULL, churn_main, &c) == 0);
	CHECK(pthread_join(a3.th, NULL) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_join(r[i].th, NULL) == 0);
	CHECK(pthread_join(c.th, NULL) == 0);
	printf("%s: %ld/%ld pread checks (own/shared fd), %ld/%ld sendfile checks\n", label, r[0].checks, r[2].checks,
	       r[1].checks, r[3].checks);
	for (int i = 0; i < 4; i++)
		CHECK(r[i].checks > 0);
	check_pattern(p3, a3.total, 3);
	{
		struct pftest_shadow sh = { 0 };
		for (int i = 0; i < 300; i++)
			pftest_shadow_pat(&sh, (uint64_t)i * 4999, 5000, 77);
		pftest_check_path(p4, &sh);
		pftest_shadow_free(&sh);
	}
	CHECK(close(a1.fd) == 0 && close(a2.fd) == 0 && close(a3.fd) == 0);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	run_world(pftest_ppath, "twin");
	run_world(pftest_mpath, "managed");
	char p[PATH_MAX];
	pftest_check_sparse(pftest_mpath(p, "topic-2", PFTEST_SEG0), 1000000);
	printf("PASS\n");
	return 0;
}

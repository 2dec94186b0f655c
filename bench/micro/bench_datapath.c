/*
 * bench_datapath.c - data-path throughput on one file: appends, pread64, sendfile64 to sockets.
 *
 * The same program is run for every variant by bench/run-micro.sh; only the file's place and the
 * environment differ:
 *   shim   LD_PRELOAD=libpafka.so, FILE = <logdir>/topic-0/<20 digits>.log (managed: bytes go to the pool
 *          on the fast tier, here tmpfs standing in for PMem)
 *   tmpfs  no preload, FILE on /dev/shm (the ceiling: the kernel's own page-cache/shmem path)
 *   disk   no preload, FILE in a plain directory on the same disk as the shim's log dir
 *
 * Usage: bench_datapath VARIANT REP FILE SIZE_MB [verify]
 * With "verify" it only reads FILE back and checks every byte and the size (run-micro.sh does this in a
 * second process after each shim run: a fresh activation that must find the bytes through the pool's
 * recovered records, so a bug that misplaces bytes the same way on write and read within one process
 * still shows).
 * Prints one CSV line per test on stdout: variant,rep,test,bytes,seconds,mib_per_s
 * Environment: BENCH_COLD=1 adds a cold sequential pread after sync + drop_caches (needs root).
 *
 * Tests, in this order (the file written by the last write test is the one read):
 *   write_1m_first                   the first SIZE_MB written by the process, 1 MiB appends. Under the
 *                                    shim these bytes land in pool pages this process has never touched,
 *                                    so it includes the page faults of the pool mapping. A second file
 *                                    of SIZE_MB is then written untimed (run-micro.sh sizes the pool at
 *                                    2 x SIZE_MB + 32 MiB, so this touches nearly all of it) and both are
 *                                    unlinked: the tests below see a warm pool, as a long-running broker
 *                                    does. The plain variants do the same work (their fresh files always
 *                                    get fresh pages from the kernel).
 *   write_16k, write_256k, write_1m  fresh file (unlink + O_CREAT), write() appends at the file offset
 *                                    up to SIZE_MB, as Kafka's FileChannel appends; no fsync in the timed
 *                                    region (disk: this is page-cache speed, not device speed)
 *   pread_seq_64k                    64 KiB pread64 from 0 to the end
 *   pread_rand_64k                   SIZE/64 KiB pread64 at pseudo-random unaligned offsets (fixed seed,
 *                                    so every variant reads the same offsets)
 *   sendfile_unix_1m                 sendfile64 of 1 MiB chunks (a consumer fetch) into an AF_UNIX
 *                                    stream socketpair, a reader thread draining it; timed until the
 *                                    reader has every byte
 *   sendfile_tcp_1m                  the same over TCP on 127.0.0.1
 *   pread_seq_64k_cold (BENCH_COLD)  sequential pread after sync; echo 3 > /proc/sys/vm/drop_caches
 *
 * Correctness, outside the timed regions: every byte is a function of its file offset (a 65537-byte
 * period, so a block misplaced by any power of two shows). After each write test the whole file is read
 * back with pread64 and compared, its size checked with fstat; every timed pread checks its first and
 * last byte; one untimed sendfile pass over AF_UNIX is verified byte for byte by the reader. Any mismatch
 * prints "MISMATCH ..." on stderr and exits 3: wrong data is never folded into a figure.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024ULL
#define MIB (1024ULL * 1024ULL)
#define PERIOD 65537ULL /* prime: no power-of-two misplacement maps a byte onto an equal one */
#define RDSZ (64 * KIB)
#define SFCHUNK MIB

static unsigned char *pat; /* PERIOD + MIB bytes: the bytes of any range of <= 1 MiB start at pat + off % PERIOD */
static const char *variant;
static int rep;
static uint64_t total;
static volatile uint64_t sink;

static void die(const char *what)
{
	fprintf(stderr, "bench_datapath[%s]: %s: %s\n", variant, what, strerror(errno));
	exit(2);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void report(const char *test, uint64_t bytes, double secs)
{
	printf("%s,%d,%s,%llu,%.6f,%.1f\n", variant, rep, test, (unsigned long long)bytes, secs,
	       (double)bytes / MIB / secs);
	fflush(stdout);
}

static unsigned char expect(uint64_t off)
{
	return pat[off % PERIOD];
}

/* Compare n (<= 1 MiB) bytes read from file offset off; exit 3 on the first difference. */
static void check(const char *test, const unsigned char *buf, uint64_t off, size_t n)
{
	const unsigned char *want = pat + off % PERIOD;
	if (memcmp(buf, want, n) == 0)
		return;
	size_t i = 0;
	while (buf[i] == want[i])
		i++;
	fprintf(stderr,
		"MISMATCH variant=%s rep=%d test=%s file_offset=%llu expected=0x%02x got=0x%02x (range %llu+%zu)\n",
		variant, rep, test, (unsigned long long)(off + i), want[i], buf[i], (unsigned long long)off, n);
	exit(3);
}

static void check_edges(const char *test, const unsigned char *buf, uint64_t off, size_t n)
{
	if (buf[0] != expect(off) || buf[n - 1] != expect(off + n - 1))
		check(test, buf, off, n); /* finds and reports the first bad byte */
}

static void write_all_at_pos(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write");
		p += w;
		n -= (size_t)w;
	}
}

static size_t pread_full(int fd, unsigned char *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread64(fd, buf + got, n - got, (off64_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("pread64");
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void verify_file(const char *path, const char *test)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open for verify");
	struct stat64 st;
	if (fstat64(fd, &st) < 0)
		die("fstat64");
	if ((uint64_t)st.st_size != total) {
		fprintf(stderr, "MISMATCH variant=%s rep=%d test=%s size=%lld expected %llu\n", variant, rep, test,
			(long long)st.st_size, (unsigned long long)total);
		exit(3);
	}
	static unsigned char buf[MIB];
	for (uint64_t off = 0; off < total; off += MIB) {
		size_t n = total - off < MIB ? (size_t)(total - off) : MIB;
		if (pread_full(fd, buf, n, off) != n) {
			fprintf(stderr, "MISMATCH variant=%s rep=%d test=%s short read at %llu\n", variant, rep, test,
				(unsigned long long)off);
			exit(3);
		}
		check(test, buf, off, n);
	}
	close(fd);
}

static int warn_disk;

static void bench_write(const char *path, size_t chunk, const char *test, int timed)
{
	if (unlink(path) < 0 && errno != ENOENT)
		die("unlink");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		die("open for write");
	double t0 = now();
	for (uint64_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? (size_t)(total - off) : chunk;
		write_all_at_pos(fd, pat + off % PERIOD, n);
	}
	double t1 = now();
	if (close(fd) < 0)
		die("close");
	if (timed)
		report(test, total, t1 - t0);
	verify_file(path, test);
	struct stat64 st;
	if (stat64(path, &st) == 0 && warn_disk && (uint64_t)st.st_blocks * 512 > MIB)
		fprintf(stderr, "bench_datapath[%s rep %d]: WARNING %s: the real file has %llu bytes allocated on disk: "
			"bytes not (all) in the pool\n", variant, rep, test, (unsigned long long)st.st_blocks * 512);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* pread the file in RDSZ pieces: in order, the whole file (random 0), or at pseudo-random offsets, as many
 * whole pieces as the file holds (random 1). */
static void bench_pread(const char *path, const char *test, int random)
{
	static unsigned char buf[RDSZ];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open for pread");
	uint64_t seed = 0x9E3779B97F4A7C15ULL, span = total - RDSZ + 1, bytes = 0;
	uint64_t nreads = random ? total / RDSZ : (total + RDSZ - 1) / RDSZ;
	double t0 = now();
	for (uint64_t i = 0; i < nreads; i++) {
		uint64_t off = random ? xorshift(&seed) % span : i * RDSZ;
		size_t n = total - off < RDSZ ? (size_t)(total - off) : RDSZ;
		if (pread_full(fd, buf, n, off) != n)
			die("short pread");
		check_edges(test, buf, off, n);
		sink += buf[n / 2];
		bytes += n;
	}
	double t1 = now();
	close(fd);
	report(test, bytes, t1 - t0);
}

struct reader {
	int sock;
	uint64_t want;
	int verify;
	const char *test;
	uint64_t got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	unsigned char *buf = malloc(MIB);
	if (!buf)
		die("malloc");
	while (r->got < r->want) {
		uint64_t left = r->want - r->got;
		ssize_t n = read(r->sock, buf, left < MIB ? (size_t)left : MIB);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("socket read");
		if (n == 0)
			break;
		if (r->verify)
			check(r->test, buf, r->got, (size_t)n);
		sink += buf[0];
		r->got += (uint64_t)n;
	}
	free(buf);
	return NULL;
}

/* Send the whole file through out with 1 MiB sendfile64 calls while a thread drains in. */
static void sendfile_run(const char *path, int out, int in, const char *test, int verify)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		die("open for sendfile");
	struct reader r = { in, total, verify, test, 0 };
	pthread_t th;
	double t0 = now();
	if (pthread_create(&th, NULL, reader_main, &r) != 0)
		die("pthread_create");
	off64_t off = 0;
	while ((uint64_t)off < total) {
		uint64_t left = total - (uint64_t)off;
		ssize_t n = sendfile64(out, fd, &off, left < SFCHUNK ? (size_t)left : SFCHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			die("sendfile64");
	}
	pthread_join(th, NULL);
	double t1 = now();
	close(fd);
	if (r.got != total) {
		fprintf(stderr, "MISMATCH variant=%s rep=%d test=%s received %llu of %llu bytes\n", variant, rep, test,
			(unsigned long long)r.got, (unsigned long long)total);
		exit(3);
	}
	if (!verify)
		report(test, total, t1 - t0);
}

static void bench_sendfile_unix(const char *path, const char *test, int verify)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		die("socketpair");
	sendfile_run(path, sv[0], sv[1], test, verify);
	close(sv[0]);
	close(sv[1]);
}

static void bench_sendfile_tcp(const char *path, const char *test)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		die("socket");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof a;
	if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &al) < 0)
		die("bind/listen 127.0.0.1");
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof a) < 0)
		die("connect 127.0.0.1");
	int s = accept(ls, NULL, NULL);
	if (s < 0)
		die("accept");
	sendfile_run(path, s, c, test, 0);
	close(s);
	close(c);
	close(ls);
}

static void drop_caches(void)
{
	sync();
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3\n", 2) != 2)
		die("drop_caches (needs root)");
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc != 5 && !(argc == 6 && strcmp(argv[5], "verify") == 0)) {
		fprintf(stderr, "usage: %s VARIANT REP FILE SIZE_MB [verify]\n", argv[0]);
		return 2;
	}
	variant = argv[1];
	rep = atoi(argv[2]);
	const char *path = argv[3];
	total = strtoull(argv[4], NULL, 10) * MIB;
	if (total < MIB)
		total = MIB;

	pat = malloc(PERIOD + MIB);
	if (!pat)
		die("malloc");
	uint64_t s = 0x243F6A8885A308D3ULL;
	for (uint64_t i = 0; i < PERIOD; i++)
		pat[i] = (unsigned char)(xorshift(&s) >> 56);
	for (uint64_t i = PERIOD; i < PERIOD + MIB; i++)
		pat[i] = pat[i % PERIOD];

	if (argc == 6) {
		verify_file(path, "reopen_verify");
		fprintf(stderr, "bench_datapath[%s rep %d]: reopened in a new process: all data verified\n", variant, rep);
		return 0;
	}

	/* A second name in the same directory, managed too under the shim (20 digits + .log). */
	char path2[4096];
	snprintf(path2, sizeof path2, "%s", path);
	char *slash = strrchr(path2, '/');
	snprintf(slash ? slash + 1 : path2, sizeof path2 - (size_t)(slash ? slash + 1 - path2 : 0),
		 "00000000000099999999.log");
	warn_disk = strcmp(variant, "shim") == 0;

	bench_write(path, MIB, "write_1m_first", 1);
	bench_write(path2, MIB, "warmup", 0);
	if (unlink(path2) < 0)
		die("unlink warm-up file");
	bench_write(path, 16 * KIB, "write_16k", 1);
	bench_write(path, 256 * KIB, "write_256k", 1);
	bench_write(path, MIB, "write_1m", 1);
	bench_pread(path, "pread_seq_64k", 0);
	bench_pread(path, "pread_rand_64k", 1);
	bench_sendfile_unix(path, "sendfile_verify", 1); /* untimed, every byte checked */
	bench_sendfile_unix(path, "sendfile_unix_1m", 0);
	bench_sendfile_tcp(path, "sendfile_tcp_1m");
	const char *cold = getenv("BENCH_COLD");
	if (cold && *cold == '1') {
		drop_caches();
		bench_pread(path, "pread_seq_64k_cold", 0);
	}
	fprintf(stderr, "bench_datapath[%s rep %d]: all data verified (sink %llu)\n", variant, rep,
		(unsigned long long)sink);
	return 0;
}

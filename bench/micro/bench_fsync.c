/*
 * bench_fsync: the cost of a durable append. Fills DIR/t-0/00000000000000000000.log to PREFIX bytes
 * (one fdatasync at the end, untimed), then times N appends of SIZE bytes each followed by fdatasync, and
 * prints "PREFIX median_us p90_us min_us max_us". Every byte is read back and checked at the end.
 *
 *   bench_fsync DIR PREFIX_MIB N [SIZE]
 *
 * Run it plain (ext4 or tmpfs) or under LD_PRELOAD=libpafka.so (bench/fsync.sh runs every variant side by
 * side). A benchmark: it prints figures, it never judges them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static unsigned char pat(uint64_t o)
{
	return (unsigned char)((o * 131 + (o >> 12) * 7 + 3) & 0xff);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_fsync DIR PREFIX_MIB N [SIZE]\n");
		return 2;
	}
	uint64_t prefix = strtoull(argv[2], NULL, 10) << 20;
	int n = atoi(argv[3]);
	size_t sz = argc > 4 ? (size_t)strtoull(argv[4], NULL, 0) : 4096;
	if (n < 1 || sz < 1 || sz > (16u << 20)) {
		fprintf(stderr, "bench_fsync: N >= 1, SIZE 1..16M\n");
		return 2;
	}
	char p[4096];
	snprintf(p, sizeof p, "%s/t-0", argv[1]);
	if (mkdir(p, 0755) < 0 && errno != EEXIST) {
		perror(p);
		return 1;
	}
	snprintf(p, sizeof p, "%s/t-0/00000000000000000000.log", argv[1]);
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (fd < 0) {
		perror(p);
		return 1;
	}
	size_t cb = 1 << 20;
	unsigned char *buf = malloc(cb > sz ? cb : sz);
	uint64_t len = 0;
	while (len < prefix) {
		size_t k = prefix - len < cb ? (size_t)(prefix - len) : cb;
		for (size_t i = 0; i < k; i++)
			buf[i] = pat(len + i);
		if (write(fd, buf, k) != (ssize_t)k) {
			perror("write");
			return 1;
		}
		len += k;
	}
	if (fdatasync(fd) < 0) {
		perror("fdatasync");
		return 1;
	}
	double *t = malloc(sizeof *t * (size_t)n);
	for (int j = 0; j < n; j++) {
		for (size_t i = 0; i < sz; i++)
			buf[i] = pat(len + i);
		double t0 = now_us();
		if (write(fd, buf, sz) != (ssize_t)sz || fdatasync(fd) < 0) {
			perror("append");
			return 1;
		}
		t[j] = now_us() - t0;
		len += sz;
	}
	qsort(t, (size_t)n, sizeof *t, cmp);
	for (uint64_t o = 0; o < len; o += cb) {
		size_t k = len - o < cb ? (size_t)(len - o) : cb;
		if (pread(fd, buf, k, (off_t)o) != (ssize_t)k) {
			perror("pread");
			return 1;
		}
		for (size_t i = 0; i < k; i++)
			if (buf[i] != pat(o + i)) {
				fprintf(stderr, "bench_fsync: MISMATCH at %llu\n", (unsigned long long)(o + i));
				return 1;
			}
	}
	close(fd);
	printf("%llu %.1f %.1f %.1f %.1f\n", (unsigned long long)(prefix >> 20), t[n / 2], t[(n * 9) / 10], t[0], t[n - 1]);
	return 0;
}

/*
 * bench_hottail: the append pattern of a broker with more active segments than fit in the pool.
 *
 *   bench_hottail DIR NFILES MIB_PER_S SECONDS [CHUNK]
 *
 * Appends CHUNK-byte records (default 64 KiB) round-robin to DIR/t-<i>/00000000000000000000.log at a
 * fixed rate for SECONDS, then reads every file back and checks every byte. Prints "wrote N MiB in S s,
 * verified" and exits 0; exits 1 with a message naming the file and offset of a wrong byte, or on an
 * I/O error. Run under LD_PRELOAD by bench/hot-tail.sh; on its own it is an ordinary program.
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

#define MAXFILES 256

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The byte at file offset o of file i: depends on both, so a block of another file shows. */
static unsigned char pattern(int i, uint64_t o)
{
	return (unsigned char)((o * 7 + (o >> 16) * 13 + (uint64_t)i * 31 + 1) & 0xff);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_hottail DIR NFILES MIB_PER_S SECONDS [CHUNK]\n");
		return 2;
	}
	const char *dir = argv[1];
	int n = atoi(argv[2]);
	double rate = atof(argv[3]) * 1048576.0, secs = atof(argv[4]);
	size_t chunk = argc > 5 ? (size_t)strtoull(argv[5], NULL, 0) : 65536;
	if (n < 1 || n > MAXFILES || rate <= 0 || secs <= 0 || chunk == 0 || chunk > (64u << 20)) {
		fprintf(stderr, "bench_hottail: NFILES 1..%d, MIB_PER_S and SECONDS > 0, CHUNK 1..64M\n", MAXFILES);
		return 2;
	}
	int fd[MAXFILES];
	uint64_t len[MAXFILES] = { 0 };
	char p[4096];
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof p, "%s/t-%d", dir, i);
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			perror(p);
			return 1;
		}
		snprintf(p, sizeof p, "%s/t-%d/00000000000000000000.log", dir, i);
		fd[i] = open(p, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0644);
		if (fd[i] < 0) {
			perror(p);
			return 1;
		}
	}
	unsigned char *buf = malloc(chunk);
	if (!buf)
		return 1;
	double t0 = now();
	uint64_t written = 0;
	for (int i = 0; now() - t0 < secs; i = (i + 1) % n) {
		double due = (double)written / rate;
		while (now() - t0 < due) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
		for (size_t k = 0; k < chunk; k++)
			buf[k] = pattern(i, len[i] + k);
		if (write(fd[i], buf, chunk) != (ssize_t)chunk) {
			perror("write");
			return 1;
		}
		len[i] += chunk;
		written += chunk;
	}
	double took = now() - t0;
	free(buf);
	size_t rb = 1 << 20;
	unsigned char *r = malloc(rb);
	for (int i = 0; i < n; i++) {
		struct stat st;
		if (fstat(fd[i], &st) < 0 || (uint64_t)st.st_size != len[i]) {
			fprintf(stderr, "bench_hottail: file %d: size %lld, wrote %llu\n", i, (long long)st.st_size,
				(unsigned long long)len[i]);
			return 1;
		}
		for (uint64_t o = 0; o < len[i]; o += rb) {
			size_t want = len[i] - o < rb ? (size_t)(len[i] - o) : rb;
			if (pread(fd[i], r, want, (off_t)o) != (ssize_t)want) {
				fprintf(stderr, "bench_hottail: file %d: short read at %llu\n", i, (unsigned long long)o);
				return 1;
			}
			for (size_t k = 0; k < want; k++)
				if (r[k] != pattern(i, o + k)) {
					fprintf(stderr, "bench_hottail: MISMATCH file %d offset %llu\n", i,
						(unsigned long long)(o + k));
					return 1;
				}
		}
		close(fd[i]);
	}
	free(r);
	printf("wrote %llu MiB in %.1f s, verified\n", (unsigned long long)(written >> 20), took);
	return 0;
}

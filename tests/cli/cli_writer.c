/*
 * cli_writer - deterministic segment files for the pafka CLI tests; run under LD_PRELOAD=libpafka.so to
 * put bytes in the pool, or without it to check what the log-dir files hold on their own.
 *
 *   cli_writer OP...   where OP is one of
 *     w PATH SIZE SEED   create PATH (and its directory) and write SIZE bytes of pattern SEED in odd-sized
 *                        appends, fsync, close
 *     v PATH SIZE SEED   check that PATH is exactly SIZE bytes of pattern SEED
 *     hold READY         create the file READY, then wait (at most 240 s) until someone removes it: keeps the
 *                        process (and so the pool's writer lock) alive
 *     sleep MS           sleep MS milliseconds (lets the shim's housekeeping thread see control files)
 *     eio PATH           read PATH's first block once; prints "eio PATH" when the read fails with EIO (a file
 *                        whose pool record is damaged), nothing when it succeeds; any other failure is one
 *                        (for the error counter's test)
 * Exit 0, or 1 with one line naming the first difference.
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

static unsigned char pattern(uint64_t seed, uint64_t off)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + (off >> 3);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (unsigned char)(z >> ((off & 7) * 8));
}

static void mkdirs(const char *path)
{
	char d[4096];
	snprintf(d, sizeof d, "%s", path);
	char *slash = strrchr(d, '/');
	if (!slash)
		return;
	*slash = '\0';
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(d, 0755);
			*p = '/';
		}
	mkdir(d, 0755);
}

static int do_write(const char *path, uint64_t size, uint64_t seed)
{
	mkdirs(path);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "cli_writer: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	static unsigned char buf[1 << 20];
	uint64_t done = 0;
	for (uint64_t k = 1; done < size; k++) {
		uint64_t n = (k * 7919) % 200000 + 1;
		if (n > size - done)
			n = size - done;
		for (uint64_t i = 0; i < n; i++)
			buf[i] = pattern(seed, done + i);
		ssize_t w = write(fd, buf, n);
		if (w != (ssize_t)n) {
			fprintf(stderr, "cli_writer: write %s at %llu: %s\n", path, (unsigned long long)done, strerror(errno));
			close(fd);
			return 1;
		}
		done += n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fprintf(stderr, "cli_writer: fsync/close %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int do_verify(const char *path, uint64_t size, uint64_t seed)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "cli_writer: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	if ((uint64_t)st.st_size != size) {
		fprintf(stderr, "cli_writer: %s is %lld bytes, expected %llu\n", path, (long long)st.st_size,
			(unsigned long long)size);
		close(fd);
		return 1;
	}
	static unsigned char buf[1 << 20];
	uint64_t off = 0;
	while (off < size) {
		ssize_t r = pread(fd, buf, sizeof buf, (off_t)off);
		if (r <= 0) {
			fprintf(stderr, "cli_writer: read %s at %llu: %s\n", path, (unsigned long long)off,
				r < 0 ? strerror(errno) : "unexpected end of file");
			close(fd);
			return 1;
		}
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != pattern(seed, off + (uint64_t)i)) {
				fprintf(stderr, "cli_writer: %s differs at byte %llu: %#x, expected %#x\n", path,
					(unsigned long long)(off + (uint64_t)i), buf[i], pattern(seed, off + (uint64_t)i));
				close(fd);
				return 1;
			}
		off += (uint64_t)r;
	}
	close(fd);
	return 0;
}

static int do_eio(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "cli_writer: open %s: %s\n", path, strerror(errno));
		return 1;
	}
	char b[4096];
	ssize_t r = pread(fd, b, sizeof b, 0);
	int e = errno;
	close(fd);
	if (r < 0 && e != EIO) {
		fprintf(stderr, "cli_writer: read %s: %s (expected success or EIO)\n", path, strerror(e));
		return 1;
	}
	if (r < 0)
		printf("eio %s\n", path);
	return 0;
}

static int do_hold(const char *ready)
{
	int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "cli_writer: create %s: %s\n", ready, strerror(errno));
		return 1;
	}
	dprintf(fd, "%d\n", (int)getpid());
	close(fd);
	for (int i = 0; i < 240 * 20; i++) {
		if (access(ready, F_OK) < 0)
			return 0;
		struct timespec ts = { 0, 50 * 1000000L };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "cli_writer: %s was not removed within 240 s\n", ready);
	return 1;
}

int main(int argc, char **argv)
{
	int i = 1;
	while (i < argc) {
		const char *op = argv[i];
		if ((!strcmp(op, "w") || !strcmp(op, "v")) && i + 3 < argc) {
			uint64_t size = strtoull(argv[i + 2], NULL, 0), seed = strtoull(argv[i + 3], NULL, 0);
			int r = op[0] == 'w' ? do_write(argv[i + 1], size, seed) : do_verify(argv[i + 1], size, seed);
			if (r)
				return r;
			i += 4;
		} else if (!strcmp(op, "sleep") && i + 1 < argc) {
			long ms = strtol(argv[i + 1], NULL, 10);
			struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
			nanosleep(&ts, NULL);
			i += 2;
		} else if (!strcmp(op, "eio") && i + 1 < argc) {
			if (do_eio(argv[i + 1]))
				return 1;
			i += 2;
		} else if (!strcmp(op, "hold") && i + 1 < argc) {
			if (do_hold(argv[i + 1]))
				return 1;
			i += 2;
		} else {
			fprintf(stderr, "usage: cli_writer {w PATH SIZE SEED | v PATH SIZE SEED | sleep MS | eio PATH | hold READY}...\n");
			return 2;
		}
	}
	return 0;
}

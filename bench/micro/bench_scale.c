/*
 * bench_scale: what N managed segment files cost a process: descriptors, anonymous memory, time to open
 * them after a restart, and the CPU of libpafka's threads (idle, and while migration moves files).
 *
 *   bench_scale DIR N SIZE write SECONDS    create DIR/t-<p>/<20 digits>.log (50 per directory), write SIZE
 *                                           bytes to each, keep every one open O_RDWR (as Kafka does; those
 *                                           past what RLIMIT_NOFILE allows are closed after the write), then
 *                                           sit for SECONDS and measure the CPU of the migration threads ("pafka-migrate")
 *   bench_scale DIR N SIZE reopen SECONDS   a new process: open the first file (the shim activates and
 *                                           recovers its pool there), then all N, keep them open, sit for
 *                                           SECONDS measuring the same; then check every byte
 * Prints one line of key=value figures. Run plain or under LD_PRELOAD=libpafka.so (bench/scale.sh runs
 * both side by side). A benchmark: it prints figures, it never judges them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_scale: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void path_of(char *buf, size_t n, const char *dir, long i)
{
	snprintf(buf, n, "%s/t-%ld/%020ld.log", dir, i / 50, (i % 50) * 1000);
}

static unsigned char pat(long i, size_t o)
{
	return (unsigned char)(i * 131 + (long)o * 7 + 1);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		die("/proc/self/fd");
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtol(line + kl + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* CPU (ms, user + system) of the migration threads ("pafka-migrate"): the housekeeper also prefaults the pool at start, which is not migration. */
static double shim_threads_cpu_ms(void)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		return 0;
	double ms = 0, tick = (double)sysconf(_SC_CLK_TCK);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[128], buf[1024];
		snprintf(p, sizeof p, "/proc/self/task/%.32s/stat", e->d_name);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = 0;
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (!l || !r || strncmp(l + 1, "pafka-migrate", 13) != 0)
			continue;
		unsigned long ut = 0, st = 0;
		/* after ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
		if (sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
			ms += (double)(ut + st) * 1000.0 / tick;
	}
	closedir(d);
	return ms;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench_scale DIR N SIZE write|reopen SECONDS\n");
		return 2;
	}
	const char *dir = argv[1];
	long n = atol(argv[2]);
	size_t size = (size_t)atol(argv[3]);
	int reopen = !strcmp(argv[4], "reopen");
	double hold = atof(argv[5]);
	int *fd = calloc((size_t)n, sizeof *fd);
	unsigned char *buf = malloc(size), *got = malloc(size);
	if (!fd || !buf || !got)
		die("malloc");
	struct rlimit rl;
	long keep = n;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur - 200 < keep * 2)
		keep = ((long)rl.rlim_cur - 200) / 2; /* room for the shim's own, were it to double them */
	long anon0 = status_kib("RssAnon"), anon1 = anon0;
	int fds0 = count_fds();
	char p[4096];
	double t0 = now_s(), first = 0;
	for (long i = 0; i < n; i++) {
		path_of(p, sizeof p, dir, i);
		if (!reopen && i % 50 == 0) {
			char d[4096];
			snprintf(d, sizeof d, "%s", p);
			*strrchr(d, '/') = 0;
			if (mkdir(d, 0755) < 0 && errno != EEXIST)
				die(d);
		}
		fd[i] = open(p, reopen ? O_RDWR : O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd[i] < 0)
			die(p);
		if (i == 0) {
			first = now_s() - t0;
			anon1 = status_kib("RssAnon"); /* with the shim: activated (pool, tables, threads) by this open */
		}
		if (!reopen) {
			for (size_t o = 0; o < size; o++)
				buf[o] = pat(i, o);
			if (pwrite(fd[i], buf, size, 0) != (ssize_t)size)
				die("pwrite");
		}
		if (i >= keep) {
			close(fd[i]);
			fd[i] = -1;
		}
	}
	double all = now_s() - t0;
	int fds = count_fds() - fds0;
	long anon = status_kib("RssAnon") - anon1; /* what the other n - 1 files added */
	double c0 = shim_threads_cpu_ms(), h0 = now_s();
	while (now_s() - h0 < hold)
		usleep(100000);
	double cpu = shim_threads_cpu_ms() - c0, held = now_s() - h0;
	long bad = 0;
	if (reopen)
		for (long i = 0; i < n; i++) {
			int f = fd[i];
			if (f < 0) {
				path_of(p, sizeof p, dir, i);
				if ((f = open(p, O_RDONLY)) < 0)
					die(p);
			}
			if (pread(f, got, size, 0) != (ssize_t)size)
				die("pread");
			if (f != fd[i])
				close(f);
			for (size_t o = 0; o < size; o++)
				bad += got[o] != pat(i, o);
		}
	printf("%s n=%ld open=%ld first_open_ms=%.1f all_opens_s=%.2f fds_per_open_file=%.4f anon_fixed_kib=%ld anon_kib=%ld "
	       "anon_bytes_per_file=%.0f threads_cpu_ms=%.0f held_s=%.1f bad_bytes=%ld\n",
	       argv[4], n, keep, first * 1e3, all, (double)fds / (double)keep, anon1 - anon0, anon,
	       n > 1 ? (double)anon * 1024.0 / (double)(n - 1) : 0.0, cpu, held, bad);
	for (long i = 0; i < n; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return bad ? 1 : 0;
}

/*
 * bench_calls.c - extra user-space instructions per interposed call on an UNMANAGED descriptor.
 *
 * Meant to run under valgrind --tool=callgrind --collect-atstart=no, once without LD_PRELOAD (baseline)
 * and once or more with LD_PRELOAD=libpafka.so. For each call type it runs WARM untimed calls (so lazy
 * symbol binding and the shim's one-time configuration are out of the way), then toggles callgrind's
 * collection on, does N calls, toggles it off and dumps the counters under the call type's name
 * (CALLGRIND_DUMP_STATS_AT). bench/callgrind-sum.sh turns the dumps into (Ir_with - Ir_without) / N.
 * Outside valgrind the client requests are no-ops, so the program also runs plainly.
 *
 * Usage: bench_calls [-t] N WORKDIR [MANAGED_FILE]
 *   -t           start one idle thread first. A broker (a JVM) is always multi-threaded, and glibc's
 *                cancellable system-call wrappers (write, pread64, open, close, ...) take a longer path in a
 *                multi-threaded process; with -t the baseline pays that too, so the difference is the shim's
 *                own. Without -t, an active shim that has started its background threads makes a
 *                single-threaded program pay glibc's multi-thread path as well, which then shows as "extra".
 *   WORKDIR      a directory for the ordinary files (plain.dat, opened.txt); not a managed dir.
 *   MANAGED_FILE if given, opened (O_CREAT) and written first, and kept open during the loops: under the
 *                shim this activates it, as in a broker that has its segments open. Without the shim it is
 *                just another file, so baseline and shim runs execute the same program path.
 *
 * Every result is checked (a failing call aborts with a message), so no loop can be optimised away and a
 * broken pass-through is noticed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#define WARM 1000

static void die(const char *what)
{
	fprintf(stderr, "bench_calls: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* One measured loop: WARM untimed iterations, then N collected ones, dumped as NAME. */
#define MEASURE(NAME, N, BODY)                                                                           \
	do {                                                                                             \
		for (long i_ = 0; i_ < WARM; i_++) {                                                     \
			BODY;                                                                            \
		}                                                                                        \
		CALLGRIND_ZERO_STATS;                                                                    \
		CALLGRIND_TOGGLE_COLLECT;                                                                \
		for (long i_ = 0; i_ < (N); i_++) {                                                      \
			BODY;                                                                            \
		}                                                                                        \
		CALLGRIND_TOGGLE_COLLECT;                                                                \
		CALLGRIND_DUMP_STATS_AT(NAME);                                                           \
	} while (0)

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	int threaded = argc > 1 && strcmp(argv[1], "-t") == 0;
	if (threaded) {
		argv++;
		argc--;
		pthread_t t;
		if (pthread_create(&t, NULL, idle_thread, NULL) != 0)
			die("pthread_create");
	}
	if (argc < 3) {
		fprintf(stderr, "usage: %s [-t] N WORKDIR [MANAGED_FILE]\n", argv[0]);
		return 2;
	}
	long n = atol(argv[1]);
	const char *dir = argv[2];
	char plain[4096], opened[4096];
	snprintf(plain, sizeof plain, "%s/plain.dat", dir);
	snprintf(opened, sizeof opened, "%s/opened.txt", dir);

	int mfd = -1;
	if (argc > 3) {
		mfd = open(argv[3], O_RDWR | O_CREAT, 0644);
		if (mfd < 0)
			die("open managed file");
		static const char hello[4096] = "managed";
		if (pwrite(mfd, hello, sizeof hello, 0) != (ssize_t)sizeof hello)
			die("pwrite managed file");
	}

	/* An ordinary 64 KiB file to pread and sendfile from. */
	static char buf[65536];
	memset(buf, 'p', sizeof buf);
	int pfd = open(plain, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (pfd < 0 || pwrite(pfd, buf, sizeof buf, 0) != (ssize_t)sizeof buf)
		die("create plain.dat");
	int ofd = open(opened, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (ofd < 0 || close(ofd) < 0)
		die("create opened.txt");
	int devnull = open("/dev/null", O_WRONLY);
	if (devnull < 0)
		die("open /dev/null");

	volatile long sink = 0;
	char small[64] = "x";
	struct stat64 st;

	MEASURE("write", n, {
		if (write(devnull, small, 1) != 1)
			die("write");
	});
	MEASURE("pread64", n, {
		if (pread64(pfd, small, 8, (i_ & 1023) * 64) != 8)
			die("pread64");
		sink += small[0];
	});
	MEASURE("fstat64", n, {
		if (fstat64(pfd, &st) < 0)
			die("fstat64");
		sink += st.st_size;
	});
	MEASURE("lseek64", n, {
		off64_t r = lseek64(pfd, (i_ & 1023) * 64, SEEK_SET);
		if (r < 0)
			die("lseek64");
		sink += r;
	});
	MEASURE("open+close", n, {
		int fd = open(opened, O_RDONLY);
		if (fd < 0)
			die("open");
		if (close(fd) < 0)
			die("close");
	});
	MEASURE("sendfile64", n, {
		off64_t off = (i_ & 1023) * 64;
		if (sendfile64(devnull, pfd, &off, 64) != 64)
			die("sendfile64");
		sink += off;
	});

	if (mfd >= 0)
		close(mfd);
	close(pfd);
	close(devnull);
	printf("bench_calls: n=%ld sink=%ld managed=%s threaded=%s\n", n, (long)sink, argc > 3 ? "yes" : "no",
	       threaded ? "yes" : "no");
	return 0;
}

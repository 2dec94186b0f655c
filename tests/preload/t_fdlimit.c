/*
 * t_fdlimit: the shim costs (almost) no descriptors, and it is never the reason for an EMFILE. The work runs
 * in a child started under a low RLIMIT_NOFILE (as `ulimit -n` would give a broker: the shim starts under it):
 *   a. N segments opened O_RDWR (as Kafka opens every segment at log load), written, kept open: the process
 *      holds at most N/20 + 4 descriptors more than the N it opened (the shim's own: the pool, its spare;
 *      none per file).
 *   b. The descriptor table then filled to RLIMIT_NOFILE with /dev/null: renaming a segment that has pool
 *      bytes out of the log dir (the shim must move them to its real file first, through a descriptor it
 *      opens for the move) succeeds, and the renamed file holds every byte, as its unmanaged twin does;
 *      an O_APPEND descriptor opened before the table filled appends as the kernel does.
 *      A segment's descriptor closed and its number taken by a plain file (as a snapshot Kafka writes after
 *      a roll): that file's write and read work though the table is full.
 *   c. After the table empties again, every segment reads back right through its kept descriptor.
 * Each step runs on managed segments and unmanaged twins; results and errno must agree.
 */
#include "pftest.h"

#include <dirent.h>
#include <sys/resource.h>

#define N 200
#define SZ 20000
#define LIMIT (2 * N + 80) /* the child's RLIMIT_NOFILE: room for the segments, their twins and a few more */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static int tight(void)
{
	static struct pftest_twin t[N];
	int before = count_fds();
	STEP("open and write %d segments and their twins", N);
	for (int i = 0; i < N; i++) {
		char name[64], dir[32];
		pftest_fmt(dir, sizeof dir, "fdl-%d", i % 10);
		pftest_twin_init(&t[i], dir, pftest_segname(name, (unsigned long long)i * 1000, NULL));
		OK(pftest_twin_open(&t[i], O_RDWR | O_CREAT | O_TRUNC, 0644));
		uint8_t *b = pftest_patbuf(0, SZ + (size_t)i, (uint32_t)i);
		CHECK_EQ(TWIN(&t[i], pwrite(FD, b, SZ + (size_t)i, 0)), SZ + i);
		pftest_shadow_write(&t[i].sh, 0, b, SZ + (size_t)i);
		pftest_free(b);
	}
	int after = count_fds(), extra = after - before - 2 * N;
	printf("descriptors: %d before, %d after opening %d segments and %d twins: %d of the shim's\n", before, after, N,
	       N, extra);
	CHECKF(extra <= N / 20 + 4, "%d descriptors more than the application opened for %d managed files", extra, N);

	STEP("an O_APPEND pair, then fill the descriptor table");
	int am = OK(open(t[1].m, O_WRONLY | O_APPEND)), ap = OK(open(t[1].p, O_WRONLY | O_APPEND));
	static int fill[LIMIT];
	int nfill = 0;
	for (;;) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0) {
			CHECKF(errno == EMFILE, "filling the table: %s", strerror(errno));
			break;
		}
		CHECK(nfill < (int)(sizeof fill / sizeof fill[0]));
		fill[nfill++] = fd;
	}
	STEP("with the table full: rename a segment with pool bytes out of the log dir");
	char out_m[PATH_MAX], out_p[PATH_MAX];
	pftest_path_in(out_m, "outside", "m", "moved.log");
	pftest_path_in(out_p, "outside", "p", "moved.log");
	SAME(rename(t[0].m, out_m), rename(t[0].p, out_p));
	STEP("with the table full: an O_APPEND write");
	uint8_t *b = pftest_patbuf(t[1].sh.size, 70000, 99);
	CHECK_EQ(SAME(write(am, b, 70000), write(ap, b, 70000)), 70000);
	pftest_shadow_write(&t[1].sh, t[1].sh.size, b, 70000);
	pftest_free(b);
	STEP("with the table full: a number a managed segment left, now a plain file's, is written");
	int snapfd;
	{
		/* (the shim must find out what the number is now without a descriptor of its own to spare: as
		 * Kafka's producer-state snapshot, written right after a roll, did when the broker had used its
		 * table up) */
		CHECK(close(t[3].fm) == 0);
		int n = t[3].fm;
		t[3].fm = -1;
		char snap[PATH_MAX];
		pftest_path_in(snap, "outside", "s", "00000000000000000000.snapshot");
		int s = OK(open(snap, O_RDWR | O_CREAT | O_TRUNC, 0644));
		CHECKF(s == n, "the plain file got descriptor %d, not the segment's %d", s, n);
		CHECK_EQ(write(s, "snapshot", 8), 8);
		char back[8];
		CHECK_EQ(pread(s, back, 8, 0), 8);
		CHECK(memcmp(back, "snapshot", 8) == 0);
		snapfd = s; /* kept: the table stays full */
	}
	STEP("with the table full: one more open fails alike");
	SAME(open(t[2].m, O_RDONLY), open(t[2].p, O_RDONLY));
	printf("the table filled with %d more descriptors\n", nfill);
	while (nfill > 0)
		CHECK(close(fill[--nfill]) == 0);
	CHECK(close(snapfd) == 0);
	CHECK(close(am) == 0 && close(ap) == 0);

	STEP("every byte, through the kept descriptors and the moved name");
	pftest_check_path(out_m, &t[0].sh);
	pftest_check_path(out_p, &t[0].sh);
	pftest_check_fd(t[0].fm, &t[0].sh, "the moved segment's kept descriptor");
	pftest_check_fd(t[0].fp, &t[0].sh, "the moved twin's kept descriptor");
	pftest_twin_close(&t[0]);
	for (int i = 1; i < N; i++) {
		pftest_twin_check(&t[i]);
		pftest_twin_close(&t[i]);
	}
	printf("PASS: %d managed segments cost %d descriptors of the shim's; a full table refused nothing the kernel did not\n",
	       N, extra);
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("tight"))
		return tight();
	struct rlimit rl;
	OK(getrlimit(RLIMIT_NOFILE, &rl));
	struct rlimit low = { LIMIT, rl.rlim_max };
	OK(setrlimit(RLIMIT_NOFILE, &low));
	pid_t pid = pftest_spawn_self("tight", NULL, NULL, 0, NULL, NULL);
	OK(setrlimit(RLIMIT_NOFILE, &rl));
	pftest_wait_ok(pid, "the segments under a low RLIMIT_NOFILE");
	return 0;
}

/*
 * t_secure: in a setuid or setgid program (the kernel marks it AT_SECURE), the shim stays inert: its
 * environment and any file named there belong to whoever started it, so it reads no setting, opens no pool
 * and writes no marker; a segment it writes is an ordinary file.
 *
 * The dynamic loader ignores LD_PRELOAD paths for such a program, so a setuid program meets the shim
 * through a system-wide preload (/etc/ld.so.preload). To test that without touching the machine, a setuid
 * copy of this program, started by an unprivileged user (uid 65534, through setpriv), dlopen()s the
 * library: its constructor runs as a preloaded one would, and its exported open and write are called
 * through dlsym. The same role run without setuid (the control) must activate the shim and create the
 * pool, which shows the method would see an activation. Needs root, setpriv and the shim; otherwise it
 * says why and skips.
 */
#include "pftest.h"

#include "pafka.h"

#include <dlfcn.h>
#include <sys/auxv.h>

typedef int (*open_fn)(const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef int (*close_fn)(int);

/* The role run in the child: through the library's own open/write, write a segment. */
static int write_segment(const char *lib, const char *seg, int expect_secure)
{
	CHECKF((getauxval(AT_SECURE) != 0) == expect_secure, "AT_SECURE is %lu, expected %d (test setup)",
	       getauxval(AT_SECURE), expect_secure);
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	CHECKF(h != NULL, "dlopen %s: %s", lib, dlerror());
	open_fn op = (open_fn)dlsym(h, "open");
	write_fn wr = (write_fn)dlsym(h, "write");
	close_fn cl = (close_fn)dlsym(h, "close");
	CHECK(op && wr && cl);
	int fd = op(seg, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECKF(fd >= 0, "open %s through the library", seg);
	static char buf[4 * PFTEST_BLK];
	memset(buf, 0x5a, sizeof buf);
	CHECK(wr(fd, buf, sizeof buf) == (ssize_t)sizeof buf);
	CHECK(cl(fd) == 0);
	return 0;
}

static int exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (argc >= 5 && !strcmp(argv[1], "write"))
		return write_segment(argv[2], argv[3], atoi(argv[4]));
	const char *lib = getenv("PAFKA_TEST_LIB");
	if (!pftest_shim_active() || !lib || !*lib) {
		printf("SKIP: only meaningful with the shim (it is the shim's behaviour in a setuid program)\n");
		return 77;
	}
	if (geteuid() != 0) {
		printf("SKIP: needs root, to make a setuid copy of this program\n");
		return 77;
	}
	if (access("/usr/bin/setpriv", X_OK) != 0) {
		printf("SKIP: needs setpriv (util-linux) to start the setuid copy as another user\n");
		return 77;
	}
	char seg[PATH_MAX], seg2[PATH_MAX], pool[PATH_MAX], marker[PATH_MAX], dir[PATH_MAX], copy[PATH_MAX];
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	pftest_mpath(seg2, "topic-1", PFTEST_SEG0);
	CHECK(pftest_pool_path(pool) != NULL);
	pftest_fmt(marker, sizeof marker, "%s/logs/%s", pftest_dir(), PAFKA_MARKER_FILE);

	STEP("a setuid-root copy of this program in a directory uid 65534 can reach");
	CHECK(mkdtemp(strcpy(dir, "/tmp/pafka-secure.XXXXXX")) != NULL);
	CHECK(chmod(dir, 0755) == 0);
	pftest_fmt(copy, sizeof copy, "%s/t_secure", dir);
	int in = OK(open("/proc/self/exe", O_RDONLY)), out = OK(open(copy, O_WRONLY | O_CREAT | O_EXCL, 0755));
	char b[65536];
	ssize_t n;
	while ((n = read(in, b, sizeof b)) > 0)
		CHECK(write(out, b, (size_t)n) == n);
	close(in);
	CHECK(close(out) == 0);
	CHECK(chown(copy, 0, 0) == 0 && chmod(copy, 04755) == 0);

	STEP("the setuid copy, started by uid 65534 with the shim's settings in its environment");
	{
		char *av[] = { "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", copy,
			       "write", (char *)lib, seg, "1", NULL };
		pid_t pid = pftest_spawn(av, (const char *const[]){ "LD_PRELOAD", NULL }, 0, NULL, NULL);
		pftest_wait_ok(pid, "setuid copy");
	}
	CHECKF(!exists(pool), "the setuid program created the pool %s: the shim read its environment", pool);
	CHECKF(!exists(marker), "the setuid program wrote the marker %s", marker);
	struct stat st;
	CHECK(stat(seg, &st) == 0);
	CHECKF((long long)st.st_blocks * 512 >= 4 * PFTEST_BLK, "the segment is sparse (%lld bytes allocated): its bytes "
		"went somewhere else than the file", (long long)st.st_blocks * 512);

	STEP("control: the same role without setuid activates the shim");
	{
		char *av[] = { copy, "write", (char *)lib, seg2, "0", NULL };
		CHECK(chmod(copy, 0755) == 0);
		pid_t pid = pftest_spawn(av, (const char *const[]){ "LD_PRELOAD", NULL }, 0, NULL, NULL);
		pftest_wait_ok(pid, "control");
	}
	CHECKF(exists(pool), "the control run did not create the pool: this test could not see an activation");
	CHECK(unlink(copy) == 0 && rmdir(dir) == 0);
	printf("PASS\n");
	return 0;
}

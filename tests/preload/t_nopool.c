/*
 * t_nopool (shim only): a log dir whose .pafka-pools marker names a pool that is missing (the pool file
 * deleted; the whole pool directory gone, as after a reboot cleared tmpfs) must make the shim stop at
 * activation, with one stderr line that names the missing pool and the log dir, and without leaving
 * anything behind: no new pool file (nor a half-made one) in the pool directory, the marker unchanged, the
 * segment untouched. A second attempt is refused the same way. A child that touches only unmanaged files
 * is not affected. The program re-executes itself under the shim for each child; the parent touches no
 * managed file.
 */
#include "pftest.h"

#define SIZE (PFTEST_MIB + 3)

static char seg[PATH_MAX], marker[PATH_MAX], pool[PATH_MAX];

static int child_write(void)
{
	int fd = OK(open(seg, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, SIZE, 1);
	pftest_write_all(fd, b, SIZE);
	CHECK(fsync(fd) == 0);
	CHECK(close(fd) == 0);
	pftest_check_sparse(seg, SIZE);
	pftest_free(b);
	return 0;
}

static int child_open(void)
{
	int fd = open(seg, O_RDONLY);
	if (fd < 0) {
		printf("open failed: %s\n", strerror(errno));
		return 0;
	}
	char c;
	ssize_t r = read(fd, &c, 1);
	printf("opened and read %zd bytes\n", r);
	close(fd);
	return 0;
}

static int child_inert(void)
{
	char p[PATH_MAX];
	int fd = OK(open(pftest_ppath(p, "x", "file.bin"), O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "abc", 3);
	CHECK(close(fd) == 0);
	return 0;
}

static char *run(const char *role, int *rc, char **out)
{
	int err = -1, o = -1;
	pid_t pid = pftest_spawn_self(role, NULL, NULL, PFTEST_CAPTURE_ERR | PFTEST_CAPTURE_OUT, &err, &o);
	*out = pftest_read_to_eof(o, 65536, NULL); /* small: stdout first, then stderr */
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	close(o);
	*rc = pftest_wait(pid);
	return msg;
}

/* The names in the pool directory (it may be missing: ""), space separated. */
static void pool_dir_entries(char *buf, size_t n)
{
	buf[0] = 0;
	DIR *d = opendir(getenv("PAFKA_TEST_POOLDIR"));
	if (!d) {
		CHECKF(errno == ENOENT, "opendir %s", getenv("PAFKA_TEST_POOLDIR"));
		return;
	}
	struct dirent *e;
	size_t len = 0;
	while ((e = readdir(d)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		int k = snprintf(buf + len, n - len, "%s ", e->d_name);
		if (k < 0 || (size_t)k >= n - len)
			break;
		len += (size_t)k;
	}
	closedir(d);
}

static void expect_refused(const char *how, const char *marker_before, size_t marker_len)
{
	for (int attempt = 1; attempt <= 2; attempt++) {
		int rc;
		char *out;
		STEP("%s: a child opening the segment (attempt %d)", how, attempt);
		char *msg = run("open", &rc, &out);
		CHECKF(rc != 0 && rc < 128, "%s: the child exited %d (expected a refusal: a non-zero exit, not a crash); "
					    "stdout \"%s\" stderr \"%s\"",
		       how, rc, out, msg);
		char logs[PATH_MAX];
		pftest_fmt(logs, sizeof logs, "%s/logs", pftest_dir());
		CHECKF(strstr(msg, pool) != NULL && strstr(msg, logs) != NULL,
		       "%s: stderr must name the missing pool %s and the log dir %s; got \"%s\" (exit %d, stdout \"%s\")",
		       how, pool, logs, msg, rc, out);
		printf("%s (attempt %d) -> %s", how, attempt, msg);
		STEP("%s: nothing left behind after the refusal (attempt %d)", how, attempt);
		char ents[4096];
		pool_dir_entries(ents, sizeof ents);
		CHECKF(ents[0] == 0, "%s: after the refused start the pool directory holds: %s(a new pool left behind "
				     "by a refused start)",
		       how, ents);
		CHECKF(pftest_count_lines(msg) == 1, "%s: stderr must be exactly one line; got \"%s\"", how, msg);
		size_t len;
		int fd = OK(open(marker, O_RDONLY));
		char *now = pftest_read_to_eof(fd, 65536, &len);
		CHECK(close(fd) == 0);
		CHECKF(len == marker_len && !memcmp(now, marker_before, len), "%s: the marker %s was changed: \"%s\"", how,
		       marker, now);
		CHECK_EQ(pftest_psize(seg), SIZE);
		pftest_free(now);
		pftest_free(msg);
		pftest_free(out);
	}
	int rc;
	char *out;
	STEP("%s: an inert child", how);
	char *msg = run("inert", &rc, &out);
	CHECKF(rc == 0 && msg[0] == 0, "%s: an inert child exited %d with stderr \"%s\"", how, rc, msg);
	pftest_free(msg);
	pftest_free(out);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	pftest_fmt(marker, sizeof marker, "%s/logs/.pafka-pools", pftest_dir());
	if (pftest_role("write"))
		return child_write();
	if (pftest_role("open"))
		return child_open();
	if (pftest_role("inert"))
		return child_inert();
	if (!pftest_shim_active())
		pftest_skip("the pool markers need the shim (LD_PRELOAD has no libpafka)");
	CHECK(pftest_pool_path(pool) != NULL);

	STEP("a segment written under the shim: the pool and the log dir's marker exist");
	pid_t pid = pftest_spawn_self("write", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "writer");
	CHECK(pftest_pool_exists());
	size_t mlen;
	int fd = OK(open(marker, O_RDONLY));
	char *mk = pftest_read_to_eof(fd, 65536, &mlen);
	CHECK(close(fd) == 0);
	CHECKF(mlen > 0, "the marker %s is empty", marker);

	STEP("the pool file deleted");
	CHECK(unlink(pool) == 0);
	expect_refused("pool file deleted", mk, mlen);

	STEP("the pool directory gone");
	const char *pdir = getenv("PAFKA_TEST_POOLDIR");
	char ents[4096];
	pool_dir_entries(ents, sizeof ents);
	CHECKF(ents[0] == 0, "the pool directory is not empty: %s", ents);
	CHECK(rmdir(pdir) == 0 || errno == ENOENT);
	expect_refused("pool directory gone", mk, mlen);
	pftest_free(mk);
	printf("PASS\n");
	return 0;
}

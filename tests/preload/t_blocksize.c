/*
 * t_blocksize (shim only): a pool block size too large to use (PAFKA_POOL_BLOCK_SIZE=1T, and 2G, 1TiB) is
 * refused at activation, by its own name: a child that opens a managed segment with it exits non-zero with
 * exactly one stderr line naming pafka.pool.block.size (and not the pool size,
 * storage.tiers.first.sizes), and creates no pool; the same environment in a child that touches only
 * unmanaged files exits 0 with an empty stderr. (tests/preload/t_badconfig.c covers the other keys.)
 */
#include "pftest.h"

static char seg[PATH_MAX];

static int child_open(void)
{
	int fd = open(seg, O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		printf("open failed: %s\n", strerror(errno));
		return 0;
	}
	ssize_t w = write(fd, "abc", 3);
	printf("opened and wrote %zd bytes\n", w);
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

static char *run(const char *role, const char *const env[], int *rc, char **out)
{
	int err = -1, o = -1;
	pid_t pid = pftest_spawn_self(role, NULL, env, PFTEST_CAPTURE_ERR | PFTEST_CAPTURE_OUT, &err, &o);
	*out = pftest_read_to_eof(o, 65536, NULL); /* small: stdout first, then stderr */
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	close(o);
	*rc = pftest_wait(pid);
	return msg;
}

static void expect_refused(const char *value)
{
	char kv[64];
	pftest_fmt(kv, sizeof kv, "PAFKA_POOL_BLOCK_SIZE=%s", value);
	const char *env[] = { kv, NULL };
	int rc;
	char *out;
	STEP("%s: a child opening a managed segment", kv);
	char *msg = run("open", env, &rc, &out);
	CHECKF(rc != 0 && rc < 128, "child with %s exited %d (expected a non-zero exit, not a crash); stdout \"%s\" "
				    "stderr \"%s\"",
	       kv, rc, out, msg);
	CHECKF(pftest_count_lines(msg) == 1 && strstr(msg, "pafka.pool.block.size") != NULL &&
		       strstr(msg, "storage.tiers.first.sizes") == NULL,
	       "child with %s: stderr must be exactly one line naming pafka.pool.block.size (not the pool size); "
	       "got \"%s\"",
	       kv, msg);
	printf("%s -> %s", kv, msg);
	CHECKF(!pftest_pool_exists(), "%s: the pool file was created", kv);
	pftest_free(msg);
	pftest_free(out);
	STEP("%s: an inert child", kv);
	msg = run("inert", env, &rc, &out);
	CHECKF(rc == 0 && msg[0] == 0, "an inert child with %s exited %d with stderr \"%s\"", kv, rc, msg);
	CHECKF(!pftest_pool_exists(), "%s: the pool file was created by an inert child", kv);
	pftest_free(msg);
	pftest_free(out);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	if (pftest_role("open"))
		return child_open();
	if (pftest_role("inert"))
		return child_inert();
	if (!pftest_shim_active())
		pftest_skip("configuration checks need the shim (LD_PRELOAD has no libpafka)");
	expect_refused("1T");
	expect_refused("1TiB");
	expect_refused("2G");
	printf("PASS\n");
	return 0;
}

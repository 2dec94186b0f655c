/*
 * t_badconfig (shim only): configuration errors are reported at activation, once, by name, and never kill
 * an inert process. A child whose environment has a bad value and that opens a managed segment must exit
 * non-zero with exactly one stderr line naming the key (log.channel.type=bogus, pafka.pool.block.size not a
 * power of two, storage.tiers.first.sizes garbage, storage.tiers.first.paths missing for pmem) and must not
 * create the pool. The same bad environment in a child that touches only unmanaged files exits 0 with an
 * empty stderr. log.channel.type=file makes the shim step aside: the segment is an ordinary file (its bytes
 * in the log-dir file, no pool created) and nothing is printed.
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
	uint8_t *b = pftest_patbuf(0, PFTEST_MIB, 1);
	ssize_t w = write(fd, b, PFTEST_MIB);
	printf("opened and wrote %zd bytes\n", w);
	close(fd);
	pftest_free(b);
	return 0;
}

static int child_inert(void)
{
	char p[PATH_MAX];
	int fd = OK(open(pftest_ppath(p, "x", "file.bin"), O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "abc", 3);
	CHECK(close(fd) == 0);
	fd = OK(open(pftest_mpath(p, "topic-0", "00000000000000000000.snapshot"), O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "abc", 3);
	CHECK(close(fd) == 0);
	struct stat st;
	FAILS(stat(seg, &st), ENOENT);
	return 0;
}

static int child_file_channel(void)
{
	int fd = OK(open(seg, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, PFTEST_MIB, 2);
	pftest_write_all(fd, b, PFTEST_MIB);
	CHECK(fsync(fd) == 0);
	CHECK(close(fd) == 0);
	struct pftest_shadow sh = { 0 };
	pftest_shadow_write(&sh, 0, b, PFTEST_MIB);
	pftest_check_path(seg, &sh);
	pftest_free(b);
	return 0;
}

static char *run(const char *role, const char *const env[], int *rc, char **out)
{
	int err = -1, o = -1;
	pid_t pid = pftest_spawn_self(role, NULL, env, PFTEST_CAPTURE_ERR | PFTEST_CAPTURE_OUT, &err, &o);
	/* both pipes are small: read stdout fully first (the child writes little), then stderr */
	*out = pftest_read_to_eof(o, 65536, NULL);
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	close(o);
	*rc = pftest_wait(pid);
	return msg;
}

static void no_pool(const char *what)
{
	CHECKF(!pftest_pool_exists(), "%s: the pool file was created", what);
}

static void expect_error(const char *const env[], const char *key)
{
	int rc;
	char *out;
	STEP("bad config %s: opening a managed file", env[0]);
	char *msg = run("open", env, &rc, &out);
	CHECKF(rc != 0 && rc < 128, "child with %s opening a managed file exited %d (expected a non-zero exit, not a "
				    "crash); stdout \"%s\" stderr \"%s\"",
	       env[0], rc, out, msg);
	CHECKF(pftest_count_lines(msg) == 1 && strstr(msg, key) != NULL,
	       "child with %s: stderr must be exactly one line naming %s; got \"%s\"", env[0], key, msg);
	printf("%s -> ", env[0]);
	fputs(msg, stdout);
	no_pool(env[0]);
	pftest_free(msg);
	pftest_free(out);
	STEP("bad config %s: inert child", env[0]);
	msg = run("inert", env, &rc, &out);
	CHECKF(rc == 0 && msg[0] == 0, "an inert child with %s exited %d with stderr \"%s\" (expected 0 and nothing)",
	       env[0], rc, msg);
	no_pool(env[0]);
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
	if (pftest_role("file"))
		return child_file_channel();
	if (!pftest_shim_active())
		pftest_skip("configuration checks need the shim (LD_PRELOAD has no libpafka)");

	const char *e1[] = { "PAFKA_LOG_CHANNEL_TYPE=bogus", NULL };
	expect_error(e1, "log.channel.type");
	const char *e2[] = { "PAFKA_POOL_BLOCK_SIZE=12345", NULL };
	expect_error(e2, "pool.block.size");
	const char *e3[] = { "PAFKA_STORAGE_TIERS_FIRST_SIZES=lots", NULL };
	expect_error(e3, "storage.tiers.first.sizes");
	const char *e4[] = { "PAFKA_STORAGE_TIERS_FIRST_PATHS", NULL };
	expect_error(e4, "storage.tiers.first.paths");

	STEP("log.channel.type=file");
	{
		const char *env[] = { "PAFKA_LOG_CHANNEL_TYPE=file", NULL };
		int rc;
		char *out, *msg = run("file", env, &rc, &out);
		CHECKF(rc == 0 && msg[0] == 0, "child with log.channel.type=file exited %d, stderr \"%s\"", rc, msg);
		no_pool("log.channel.type=file");
		pftest_check_kernel_resident(seg, PFTEST_MIB);
		pftest_free(msg);
		pftest_free(out);
	}
	printf("PASS\n");
	return 0;
}

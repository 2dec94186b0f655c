/*
 * t_locking (shim only): one process at a time owns the pool. While a holder child (under the shim) has a
 * managed segment open - and has also opened and closed the pool file itself, which must not drop a POSIX
 * record lock - a second process under the shim that opens a managed file must exit non-zero with exactly
 * one line on stderr that mentions "pool". Meanwhile processes that only touch unmanaged files (or only stat
 * the managed file) run normally under the shim, and a process without the shim sees the right size. After
 * the holder exits (normally, and in a second round by SIGKILL) the next process gets the pool and reads the
 * holder's bytes. The parent itself never touches a managed file.
 */
#include "pftest.h"

#define SIZE (PFTEST_MIB + 12345)

static char path[PATH_MAX], path2[PATH_MAX];

static int holder(int ready_fd, int hold_fd, uint32_t seed)
{
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, SIZE, seed);
	pftest_write_all(fd, b, SIZE);
	free(b);
	/* open and close the pool file like a tool would: must not release the lock */
	CHECK(pftest_pool_used_blocks() > 0);
	CHECK(write(ready_fd, "R", 1) == 1);
	char c;
	for (int i = 0; i < 1000; i++)
		if (read(hold_fd, &c, 1) <= 0)
			break;
	CHECK(close(fd) == 0);
	return 0;
}

static int contender(void)
{
	int fd = open(path2, O_RDWR | O_CREAT, 0644);
	/* the shim must have exited before we get here */
	printf("contender opened a managed file (fd %d) while the pool was held\n", fd);
	return 0;
}

static int bystander(void)
{
	char p[PATH_MAX];
	pftest_ppath(p, "by", "file.bin");
	int fd = OK(open(p, O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "hello", 5);
	CHECK(close(fd) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_EQ(st.st_size, SIZE);
	struct statx x;
	CHECK(statx(AT_FDCWD, path, 0, STATX_SIZE, &x) == 0);
	CHECK_EQ(x.stx_size, SIZE);
	return 0;
}

static int reader(uint32_t seed)
{
	struct pftest_shadow sh = { 0 };
	pftest_shadow_pat(&sh, 0, SIZE, seed);
	pftest_check_path(path, &sh);
	int fd = OK(open(path2, O_RDWR | O_CREAT, 0644)); /* a new file works too */
	pftest_write_all(fd, "x", 1);
	CHECK(close(fd) == 0);
	return 0;
}

static pid_t start_holder(int *ready_rd, int *hold_wr, uint32_t seed)
{
	int ready[2], hold[2];
	CHECK(pipe(ready) == 0 && pipe(hold) == 0);
	char a1[16], a2[16], a3[16];
	pftest_fmt(a1, sizeof a1, "%d", ready[1]);
	pftest_fmt(a2, sizeof a2, "%d", hold[0]);
	pftest_fmt(a3, sizeof a3, "%u", seed);
	const char *args[] = { a1, a2, a3, NULL };
	pid_t pid = pftest_spawn_self("holder", args, NULL, 0, NULL, NULL);
	CHECK(close(ready[1]) == 0 && close(hold[0]) == 0);
	char c;
	CHECKF(read(ready[0], &c, 1) == 1, "holder did not report; exit code %d", pftest_wait(pid));
	*ready_rd = ready[0];
	*hold_wr = hold[1];
	return pid;
}

static void expect_refused(const char *what)
{
	int err = -1;
	STEP("%s", what);
	pid_t pid = pftest_spawn_self("contender", NULL, NULL, PFTEST_CAPTURE_ERR, &err, NULL);
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	int rc = pftest_wait(pid);
	CHECKF(rc != 0 && rc < 128, "a second process opening a managed file while the pool is held exited with %d "
				    "(expected a non-zero exit, not a crash); stderr: \"%s\"", rc, msg);
	CHECKF(pftest_count_lines(msg) == 1 && strstr(msg, "pool") != NULL,
	       "the refused process must print exactly one line mentioning \"pool\" on stderr; got \"%s\"", msg);
	printf("refused as expected: %s", msg);
	free(msg);
}

static void expect_ok(const char *role, uint32_t seed, int flags)
{
	int err = -1;
	char a1[16];
	pftest_fmt(a1, sizeof a1, "%u", seed);
	const char *args[] = { a1, NULL };
	STEP("%s", role);
	pid_t pid = pftest_spawn_self(role, args, NULL, flags | PFTEST_CAPTURE_ERR, &err, NULL);
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	int rc = pftest_wait(pid);
	CHECKF(rc == 0, "%s exited with %d; stderr: \"%s\"", role, rc, msg);
	free(msg);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_mpath(path, "topic-0", PFTEST_SEG0);
	pftest_mpath(path2, "topic-9", PFTEST_SEG0);
	if (pftest_role("holder"))
		return holder(atoi(argv[2]), atoi(argv[3]), (uint32_t)atoi(argv[4]));
	if (pftest_role("contender"))
		return contender();
	if (pftest_role("bystander"))
		return bystander();
	if (pftest_role("reader"))
		return reader((uint32_t)atoi(argv[2]));
	if (!pftest_shim_active())
		pftest_skip("pool locking needs the shim (LD_PRELOAD has no libpafka)");

	int ready, hold;
	STEP("round 1: holder exits normally");
	pid_t h = start_holder(&ready, &hold, 1);
	expect_refused("contender while the holder runs");
	expect_refused("second contender while the holder runs");
	expect_ok("bystander", 0, 0);
	expect_ok("bystander", 0, PFTEST_NO_PRELOAD);
	CHECK(close(hold) == 0); /* holder reads EOF, closes and exits */
	pftest_wait_ok(h, "holder");
	close(ready);
	expect_ok("reader", 1, 0);

	STEP("round 2: holder killed");
	h = start_holder(&ready, &hold, 2);
	expect_refused("contender while the second holder runs");
	CHECK(kill(h, SIGKILL) == 0);
	CHECK_EQ(pftest_wait(h), 128 + SIGKILL);
	close(ready);
	close(hold);
	expect_ok("reader", 2, 0);
	CHECK_EQ(pftest_thread_count(), 1);
	printf("PASS\n");
	return 0;
}

/*
 * t_locking (shim only): one broker at a time owns the pool. While a holder child (under the shim, started
 * like a broker: "kafka.Kafka <server.properties>" on its command line) has a managed segment open - and has
 * also opened and closed the pool file itself, which must not drop a POSIX record lock - a second broker
 * under the shim that opens a managed file must exit non-zero with exactly one line on stderr that mentions
 * "pool". A process that is not a broker (a tool like kafka-dump-log or cat) attaches read-only instead and
 * must read the holder's bytes exactly, also those the holder appends after the tool attached. Processes
 * that only touch unmanaged files (or only stat the managed file) run normally, and a process without the
 * shim sees the right size. After the holder exits (normally, and in a second round by SIGKILL) the next
 * broker gets the pool and reads the holder's bytes. The parent itself never touches a managed file.
 */
#include "pftest.h"

#define SIZE (PFTEST_MIB + 12345)
#define MORE (3 * PFTEST_BLK + 7)

static char path[PATH_MAX], path2[PATH_MAX], props[PATH_MAX];

/*
 * The holder writes SIZE bytes, reports "R", then on each byte from the parent: 'A' appends MORE bytes and
 * reports "A"; EOF closes and exits.
 */
static int holder(int ready_fd, int hold_fd, uint32_t seed)
{
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, SIZE + MORE, seed);
	pftest_write_all(fd, b, SIZE);
	/* open and close the pool file like a tool would: must not release the lock */
	CHECK(pftest_pool_used_blocks() > 0);
	CHECK(write(ready_fd, "R", 1) == 1);
	char c;
	for (int i = 0; i < 1000; i++) {
		if (read(hold_fd, &c, 1) <= 0)
			break;
		if (c == 'A') {
			pftest_write_all(fd, b + SIZE, MORE);
			CHECK(write(ready_fd, "A", 1) == 1);
		}
	}
	pftest_free(b);
	CHECK(close(fd) == 0);
	return 0;
}

/* A tool (not a broker) while the pool is held: attaches read-only and reads the holder's bytes through
 * every read call. A stdio stream would read inside glibc, where the shim cannot serve pool bytes, and only
 * the pool's writer may move them to the real file: the tool's fopen is refused (EROFS), never a stream
 * of zeros. */
static int tool(uint32_t seed, long long size)
{
	struct pftest_shadow sh = { 0 };
	pftest_shadow_pat(&sh, 0, (uint64_t)size, seed);
	pftest_check_path(path, &sh);
	errno = 0;
	FILE *f = fopen(path, "r");
	CHECKF(f == NULL && errno == EROFS, "fopen of a pool-resident segment by a read-only attacher: %p", (void *)f);
	pftest_check_path(path, &sh);
	return 0;
}

static int contender(void)
{
	int fd = open(path2, O_RDWR | O_CREAT, 0644);
	/* the shim must have exited before we get here */
	printf("contender opened a managed file (fd %d) while the pool was held\n", fd);
	return 0;
}

static int bystander(long long size)
{
	char p[PATH_MAX];
	pftest_ppath(p, "by", "file.bin");
	int fd = OK(open(p, O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "hello", 5);
	CHECK(close(fd) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0);
	CHECK_EQ(st.st_size, size);
	struct statx x;
	CHECK(statx(AT_FDCWD, path, 0, STATX_SIZE, &x) == 0);
	CHECK_EQ(x.stx_size, size);
	return 0;
}

static int reader(uint32_t seed, long long size)
{
	struct pftest_shadow sh = { 0 };
	pftest_shadow_pat(&sh, 0, (uint64_t)size, seed);
	pftest_check_path(path, &sh);
	int fd = OK(open(path2, O_RDWR | O_CREAT, 0644)); /* a new file works too */
	pftest_write_all(fd, "x", 1);
	CHECK(close(fd) == 0);
	return 0;
}

static pid_t start_holder(int *ready_rd, int *hold_wr, uint32_t seed)
{
	int ready[2], hold[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	pftest_inherit(ready[1], 1);
	pftest_inherit(hold[0], 1);
	char a1[16], a2[16], a3[16];
	pftest_fmt(a1, sizeof a1, "%d", ready[1]);
	pftest_fmt(a2, sizeof a2, "%d", hold[0]);
	pftest_fmt(a3, sizeof a3, "%u", seed);
	const char *args[] = { a1, a2, a3, "kafka.Kafka", props, NULL };
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
	const char *args[] = { "kafka.Kafka", props, NULL };
	pid_t pid = pftest_spawn_self("contender", args, NULL, PFTEST_CAPTURE_ERR, &err, NULL);
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	int rc = pftest_wait(pid);
	CHECKF(rc != 0 && rc < 128, "a second broker opening a managed file while the pool is held exited with %d "
				    "(expected a non-zero exit, not a crash); stderr: \"%s\"", rc, msg);
	CHECKF(pftest_count_lines(msg) == 1 && strstr(msg, "pool") != NULL,
	       "the refused process must print exactly one line mentioning \"pool\" on stderr; got \"%s\"", msg);
	fputs("refused as expected: ", stdout);
	fputs(msg, stdout);
	pftest_free(msg);
}

static void expect_ok(const char *role, uint32_t seed, long long size, int broker, int flags)
{
	int err = -1;
	char a1[16], a2[32];
	pftest_fmt(a1, sizeof a1, "%u", seed);
	pftest_fmt(a2, sizeof a2, "%lld", size);
	const char *args[] = { a1, a2, broker ? "kafka.Kafka" : NULL, props, NULL };
	STEP("%s", role);
	pid_t pid = pftest_spawn_self(role, args, NULL, flags | PFTEST_CAPTURE_ERR, &err, NULL);
	char *msg = pftest_read_to_eof(err, 65536, NULL);
	close(err);
	int rc = pftest_wait(pid);
	CHECKF(rc == 0, "%s exited with %d; stderr: \"%s\"", role, rc, msg);
	pftest_free(msg);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_mpath(path, "topic-0", PFTEST_SEG0);
	pftest_mpath(path2, "topic-9", PFTEST_SEG0);
	pftest_fmt(props, sizeof props, "%s/server.properties", pftest_dir());
	if (pftest_role("holder"))
		return holder(atoi(argv[2]), atoi(argv[3]), (uint32_t)atoi(argv[4]));
	if (pftest_role("contender"))
		return contender();
	if (pftest_role("bystander"))
		return bystander(atoll(argv[3]));
	if (pftest_role("reader"))
		return reader((uint32_t)atoi(argv[2]), atoll(argv[3]));
	if (pftest_role("tool"))
		return tool((uint32_t)atoi(argv[2]), atoll(argv[3]));
	if (!pftest_shim_active())
		pftest_skip("pool locking needs the shim (LD_PRELOAD has no libpafka)");

	STEP("write %s", props);
	{
		/* the environment (PAFKA_*) has precedence; the file only makes a process a broker */
		FILE *f = fopen(props, "w");
		CHECK(f != NULL);
		fprintf(f, "broker.id=0\nlog.dirs=%s/logs\n", pftest_dir());
		CHECK(fclose(f) == 0);
	}
	int ready, hold;
	char c;
	STEP("round 1: holder exits normally");
	pid_t h = start_holder(&ready, &hold, 1);
	expect_refused("second broker while the holder runs");
	expect_refused("third broker while the holder runs");
	expect_ok("tool", 1, SIZE, 0, 0);
	CHECK(write(hold, "A", 1) == 1); /* the holder appends; a new tool sees it */
	CHECK(read(ready, &c, 1) == 1 && c == 'A');
	expect_ok("tool", 1, SIZE + MORE, 0, 0);
	expect_ok("bystander", 0, SIZE + MORE, 0, 0);
	expect_ok("bystander", 0, SIZE + MORE, 1, 0);
	expect_ok("bystander", 0, SIZE + MORE, 0, PFTEST_NO_PRELOAD);
	CHECK(close(hold) == 0); /* holder reads EOF, closes and exits */
	pftest_wait_ok(h, "holder");
	close(ready);
	expect_ok("reader", 1, SIZE + MORE, 1, 0);

	STEP("round 2: holder killed");
	h = start_holder(&ready, &hold, 2);
	expect_refused("second broker while the second holder runs");
	expect_ok("tool", 2, SIZE, 0, 0);
	CHECK(kill(h, SIGKILL) == 0);
	CHECK_EQ(pftest_wait(h), 128 + SIGKILL);
	close(ready);
	close(hold);
	expect_ok("reader", 2, SIZE, 1, 0);
	CHECK_EQ(pftest_thread_count(), 1);
	printf("PASS\n");
	return 0;
}

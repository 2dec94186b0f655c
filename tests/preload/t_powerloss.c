/*
 * t_powerloss: a pool-resident segment's size is durable in the pool, not in the real log-dir file.
 *
 * A writer under the shim appends to a few segments (O_APPEND, random lengths, an fdatasync now and then)
 * and reports every write and sync that returned through a pipe. The parent SIGKILLs it at a random point
 * of that stream, then does what a power loss can do to the slow tier: each real file that was fsynced is
 * cut back, with raw system calls, to a size between its size at its first fsync (the only real fsync an
 * append-only, pool-resident file gets: after it the shim persists the pool alone) and its current size.
 * The pool is kept whole, as persistent memory keeps it.
 *
 * Then a verifier under the shim must see, for every segment, at least every byte of every write that
 * returned (at most one more write, the one the kill interrupted), each byte the one written there, the
 * same size through every stat variant and in another process without the shim, and the real file
 * re-extended to it. Rounds take turns: the msync path, libpmem's flush path (PMEM_IS_PMEM_FORCE=1), and
 * a pool too small for the segments (a log dir and a 4 MiB pool of their own), so that they spill: there
 * the slow tier holds bytes of its own, the power loss cuts to the last fsync (all an fsync promises for
 * them), and the verifier must see at least every fsynced byte and never a zero where a byte was written
 * (recovery must not extend a file over disk bytes that never became durable). Seeded (PFTEST_SEED,
 * printed); only meaningful with the shim, skips without it.
 */
#include "pftest.h"

#define NSEG 3
#define ROUNDS 6
#define MAXW 70000

struct note {
	char type; /* 'W' a write returned, 'F' an fdatasync returned */
	int seg;
	uint64_t size; /* the segment's size after it */
};

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*s >> 33);
}

/* In the managed log dir of this process (PAFKA_LOG_DIRS: the spill rounds have their own). */
static void seg_path(char *buf, int round, int i)
{
	const char *logs = getenv("PAFKA_LOG_DIRS");
	CHECK(logs && *logs && !strchr(logs, ','));
	char dir[PATH_MAX];
	pftest_fmt(dir, sizeof dir, "%s/pl%d-%d", logs, round, i);
	if (mkdir(dir, 0755) != 0)
		CHECKF(errno == EEXIST, "mkdir %s", dir);
	pftest_fmt(buf, PATH_MAX, "%s/%s", dir, PFTEST_SEG0);
}

enum mode { MODE_MSYNC, MODE_PMEM, MODE_SPILL };
static const char *const mode_names[] = { "msync path", "libpmem flush path", "spilling, msync path" };

/* The writer: appends until killed. Each segment's bytes are pattern seed 700 + segment at their offset. */
static int role_writer(int argc, char **argv)
{
	CHECK(argc == 5);
	int round = atoi(argv[2]), out = atoi(argv[3]);
	uint64_t s = strtoull(argv[4], NULL, 10);
	int fd[NSEG];
	uint64_t size[NSEG];
	for (int i = 0; i < NSEG; i++) {
		char p[PATH_MAX];
		seg_path(p, round, i);
		fd[i] = OK(open(p, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644));
		size[i] = 0;
	}
	uint8_t *b = pftest_xmalloc(MAXW);
	for (;;) {
		int i = (int)(rnd(&s) % NSEG);
		size_t n = 1 + rnd(&s) % MAXW;
		pftest_fill(b, size[i], n, 700 + (uint32_t)i);
		CHECK_EQ(write(fd[i], b, n), n);
		size[i] += n;
		struct note w = { 'W', i, size[i] };
		CHECK_EQ(write(out, &w, sizeof w), sizeof w);
		if (rnd(&s) % 4 == 0) {
			CHECK_EQ(fdatasync(fd[i]), 0);
			struct note f = { 'F', i, size[i] };
			CHECK_EQ(write(out, &f, sizeof f), sizeof f);
		}
	}
}

/* The verifier: every segment holds at least want[i] bytes, at most one more write, all of them right. */
static int role_verify(int argc, char **argv)
{
	CHECK(argc == 3 + 2 * NSEG);
	int round = atoi(argv[2]);
	for (int i = 0; i < NSEG; i++) {
		uint64_t want = strtoull(argv[3 + i], NULL, 10);
		char p[PATH_MAX];
		seg_path(p, round, i);
		int fd = OK(open(p, O_RDONLY));
		long long size = pftest_fsize(fd);
		STEP("round %d: %s holds %lld bytes; it must keep %llu", round, p, size, (unsigned long long)want);
		CHECKF(size >= (long long)want, "%s: %lld bytes after the power loss, but the writes it must keep made it %llu",
		       p, size, (unsigned long long)want);
		uint64_t acked = strtoull(argv[3 + NSEG + i], NULL, 10);
		CHECKF(size <= (long long)(acked + MAXW), "%s: %lld bytes, more than one write past the %llu acknowledged", p,
		       size, (unsigned long long)acked);
		struct pftest_shadow sh = { 0 };
		pftest_shadow_pat(&sh, 0, (uint64_t)size, 700 + (uint32_t)i);
		pftest_check_fd(fd, &sh, "a segment after a kill and the slow tier's power loss");
		pftest_check_sizes(fd, p, size);
		OK(close(fd));
		pftest_shadow_free(&sh);
	}
	return 0;
}

/* The size of path as the kernel has it (raw system call, whatever LD_PRELOAD holds). */
static long long raw_size(const char *path)
{
	struct stat st;
	CHECKF(syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0, "raw stat %s", path);
	return (long long)st.st_size;
}

static void round_run(int round, uint64_t seed, enum mode mode)
{
	static char logs[PATH_MAX + 32], pool[PATH_MAX + 32];
	const char *env[5] = { mode == MODE_PMEM ? "PMEM_IS_PMEM_FORCE=1" : "PMEM_IS_PMEM_FORCE", NULL };
	if (mode == MODE_SPILL) {
		/* a log dir and a 4 MiB pool of their own (the main pool is too big to fill, and its log dir's
		 * marker names it) */
		pftest_fmt(logs, sizeof logs, "PAFKA_LOG_DIRS=%s/spill-logs", pftest_dir());
		pftest_fmt(pool, sizeof pool, "PAFKA_STORAGE_TIERS_FIRST_PATHS=%s/spill-pool", getenv("PAFKA_TEST_POOLDIR"));
		if (mkdir(strchr(logs, '=') + 1, 0755) != 0)
			CHECK(errno == EEXIST);
		if (mkdir(strchr(pool, '=') + 1, 0755) != 0)
			CHECK(errno == EEXIST);
		env[1] = logs;
		env[2] = pool;
		env[3] = "PAFKA_STORAGE_TIERS_FIRST_SIZES=4M";
		CHECK(setenv("PAFKA_LOG_DIRS", strchr(logs, '=') + 1, 1) == 0); /* seg_path here */
	} else {
		char d[PATH_MAX];
		pftest_fmt(d, sizeof d, "%s/logs", pftest_dir());
		CHECK(setenv("PAFKA_LOG_DIRS", d, 1) == 0);
	}
	int pp[2];
	CHECK(pipe2(pp, O_CLOEXEC) == 0);
	pftest_inherit(pp[1], 1);
	char a_round[16], a_fd[16], a_seed[32];
	pftest_fmt(a_round, sizeof a_round, "%d", round);
	pftest_fmt(a_fd, sizeof a_fd, "%d", pp[1]);
	pftest_fmt(a_seed, sizeof a_seed, "%llu", (unsigned long long)seed);
	pid_t pid = pftest_spawn_self("writer", (const char *const[]){ a_round, a_fd, a_seed, NULL }, env, 0, NULL, NULL);
	close(pp[1]);

	uint64_t s = seed ^ 0x9e3779b97f4a7c15ULL;
	/* notes to read before the kill (a spill round writes at least twice the pool: about 35 KB a write) */
	unsigned stop = mode == MODE_SPILL ? 300 + rnd(&s) % 100 : 40 + rnd(&s) % 160;
	uint64_t acked[NSEG] = { 0 }, first_sync[NSEG] = { 0 }, last_sync[NSEG] = { 0 };
	int synced[NSEG] = { 0 };
	for (unsigned k = 0; k < stop; k++) {
		struct note n;
		CHECKF(read(pp[0], &n, sizeof n) == (ssize_t)sizeof n, "the writer stopped after %u notes", k);
		CHECK(n.seg >= 0 && n.seg < NSEG);
		if (n.type == 'W')
			acked[n.seg] = n.size;
		else if (!synced[n.seg]++)
			first_sync[n.seg] = last_sync[n.seg] = n.size;
		else
			last_sync[n.seg] = n.size;
	}
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK_EQ(pftest_wait(pid), 128 + SIGKILL);
	/* notes the writer sent before it died still count: those writes returned */
	struct note n;
	while (read(pp[0], &n, sizeof n) == (ssize_t)sizeof n)
		if (n.type == 'W')
			acked[n.seg] = n.size;
		else if (!synced[n.seg]++)
			first_sync[n.seg] = last_sync[n.seg] = n.size;
		else
			last_sync[n.seg] = n.size;
	close(pp[0]);
	if (mode == MODE_SPILL)
		CHECKF(acked[0] + acked[1] + acked[2] > 8 * PFTEST_MIB,
		       "the spill round wrote %llu bytes, not more than twice its 4 MiB pool",
		       (unsigned long long)(acked[0] + acked[1] + acked[2]));

	char a_want[NSEG][32], a_acked[NSEG][32];
	for (int i = 0; i < NSEG; i++) {
		char p[PATH_MAX];
		seg_path(p, round, i);
		long long now = raw_size(p);
		CHECKF(now >= (long long)acked[i], "%s: the real file holds %lld bytes before the power loss, %llu acknowledged",
		       p, now, (unsigned long long)acked[i]);
		/* what the file must keep: every write that returned while all its bytes are in the pool; with a
		 * slow-tier part, what its last fsync made durable */
		uint64_t want = mode == MODE_SPILL ? last_sync[i] : acked[i];
		if (synced[i]) {
			/* the slow tier keeps the size its file had at its first fsync at least (its last, when the
			 * slow tier holds bytes of its own), anything up to now */
			uint64_t lo = mode == MODE_SPILL ? last_sync[i] : first_sync[i];
			long long cut = (long long)lo + (long long)(rnd(&s) % ((uint64_t)(now - (long long)lo) + 1));
			if (rnd(&s) % 2)
				cut = (long long)lo;
			STEP("round %d (%s): the power loss cuts %s from %lld to %lld bytes (first fsync at %llu, last at %llu, "
			     "%llu acked)",
			     round, mode_names[mode], p, now, cut, (unsigned long long)first_sync[i],
			     (unsigned long long)last_sync[i], (unsigned long long)acked[i]);
			CHECK(syscall(SYS_truncate, p, (off_t)cut) == 0);
		}
		pftest_fmt(a_want[i], sizeof a_want[i], "%llu", (unsigned long long)want);
		pftest_fmt(a_acked[i], sizeof a_acked[i], "%llu", (unsigned long long)acked[i]);
	}
	pid = pftest_spawn_self("verify",
				(const char *const[]){ a_round, a_want[0], a_want[1], a_want[2], a_acked[0], a_acked[1],
						       a_acked[2], NULL },
				env, 0, NULL, NULL);
	pftest_wait_ok(pid, "verify");
	if (mode != MODE_SPILL)
		for (int i = 0; i < NSEG; i++) {
			char p[PATH_MAX];
			seg_path(p, round, i);
			CHECKF(raw_size(p) >= (long long)acked[i],
			       "%s: recovery left the real file at %lld bytes, %llu acknowledged", p, raw_size(p),
			       (unsigned long long)acked[i]);
		}
	printf("round %d (%s, seed %llu): killed after %u notes; acknowledged %llu/%llu/%llu bytes, last fsynced "
	       "%llu/%llu/%llu; every byte it must keep is there after the power loss\n",
	       round, mode_names[mode], (unsigned long long)seed, stop, (unsigned long long)acked[0],
	       (unsigned long long)acked[1], (unsigned long long)acked[2], (unsigned long long)last_sync[0],
	       (unsigned long long)last_sync[1], (unsigned long long)last_sync[2]);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("writer"))
		return role_writer(argc, argv);
	if (pftest_role("verify"))
		return role_verify(argc, argv);
	if (!pftest_shim_active()) {
		printf("SKIP: only meaningful with the shim (the plain kernel keeps only what was fsynced to the disk)\n");
		return 77;
	}
	const char *e = getenv("PFTEST_SEED");
	uint64_t seed = e && *e ? strtoull(e, NULL, 10) : (uint64_t)time(NULL);
	printf("seed %llu (PFTEST_SEED=%llu reruns it)\n", (unsigned long long)seed, (unsigned long long)seed);
	for (int r = 0; r < ROUNDS; r++)
		round_run(r, seed + (uint64_t)r, (enum mode)(r % 3));
	printf("PASS\n");
	return 0;
}

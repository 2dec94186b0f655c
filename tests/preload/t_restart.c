/*
 * t_restart: data and sizes survive process death. The program re-executes itself (LD_PRELOAD inherited)
 * as writer children that follow one deterministic script of three phases; every verifier rebuilds the
 * expected contents by replaying the script without touching files.
 *   phase 1: eight segments in five partitions: appends of odd sizes (multi-MiB), a truncation plus a write
 *            past EOF, a rename to .log.deleted while open, a partition directory renamed to -delete while
 *            open, the cleaner's .cleaned -> .swap -> .log, a file unlinked while open, Kafka's preallocation
 *            (ftruncate to 4 MiB, then writes). Some files fsync'ed, some not. Then it reports through a pipe
 *            and blocks; the parent SIGKILLs it.
 *   phase 2: a new writer reopens the files by their new paths, appends, truncates, creates a segment, and
 *            exits normally without closing anything.
 *   phase 3: appends again, creates and unlinks an open file, renames; SIGKILL again.
 * After each phase a verifier child (under the shim) checks every byte and size and that removed names are
 * gone, and a child without LD_PRELOAD checks the sizes of the log-dir files (they must be exact on their
 * own). Finally a child verifies, deletes everything and (shim only) the pool must have no used blocks and
 * no live records left: nothing leaked by the crashes. The parent never touches a managed file.
 */
#include "pftest.h"

#define HEX "0123456789abcdef0123456789abcdef"
#define NF 12

struct file {
	char rel[PATH_MAX];
	int fd, gone, used;
	struct pftest_shadow sh;
};

static struct file F[NF];
static int real_phase; /* phase whose operations touch the files; 0 = none (verifier) */
static int cur_phase;
static char LOGS[PATH_MAX];

#define REAL (cur_phase == real_phase)

static char *abspath(char *buf, const char *rel)
{
	return pftest_fmt(buf, PATH_MAX, "%s/%s", LOGS, rel);
}

static void op_create(int i, const char *rel)
{
	struct file *f = &F[i];
	pftest_fmt(f->rel, sizeof f->rel, "%s", rel);
	f->used = 1;
	f->gone = 0;
	f->fd = -1;
	pftest_shadow_truncate(&f->sh, 0);
	if (REAL) {
		char p[PATH_MAX], d[PATH_MAX];
		abspath(p, rel);
		pftest_fmt(d, sizeof d, "%s", p);
		*strrchr(d, '/') = 0;
		pftest_mkdirs(d);
		STEP("phase %d: create %s", cur_phase, rel);
		f->fd = OK(open(p, O_RDWR | O_CREAT | O_TRUNC, 0644));
	}
}

static void op_open(int i)
{
	struct file *f = &F[i];
	f->fd = -1;
	if (REAL) {
		char p[PATH_MAX];
		STEP("phase %d: reopen %s", cur_phase, f->rel);
		f->fd = OK(open(abspath(p, f->rel), O_RDWR | O_CREAT, 0666));
		/* FileRecords.open: size twice, position at the end */
		CHECK_EQ(pftest_fsize(f->fd), f->sh.size);
		CHECK_EQ(lseek64(f->fd, (off64_t)f->sh.size, SEEK_SET), f->sh.size);
	}
}

/* Kafka appends: several write() calls of odd sizes totalling n */
static void op_append(int i, size_t n, uint32_t seed)
{
	struct file *f = &F[i];
	size_t done = 0;
	for (int k = 0; done < n; k++) {
		size_t len = (size_t)(k * 7919 % 300000) + 1 + (size_t)k * 13;
		if (len > n - done)
			len = n - done;
		uint64_t off = f->sh.size;
		uint8_t *b = pftest_patbuf(off, len, seed);
		if (REAL) {
			STEP("phase %d: append %zu to %s at %llu", cur_phase, len, f->rel, (unsigned long long)off);
			CHECK_EQ(lseek64(f->fd, 0, SEEK_CUR), off);
			pftest_write_all(f->fd, b, len);
		}
		pftest_shadow_write(&f->sh, off, b, len);
		pftest_free(b);
		done += len;
	}
}

static void op_pwrite(int i, uint64_t off, size_t n, uint32_t seed)
{
	struct file *f = &F[i];
	uint8_t *b = pftest_patbuf(off, n, seed);
	if (REAL)
		pftest_pwrite_all(f->fd, b, n, (off_t)off);
	pftest_shadow_write(&f->sh, off, b, n);
	pftest_free(b);
}

static void op_trunc(int i, uint64_t n)
{
	struct file *f = &F[i];
	if (REAL) {
		STEP("phase %d: ftruncate %s to %llu", cur_phase, f->rel, (unsigned long long)n);
		CHECK(ftruncate64(f->fd, (off64_t)n) == 0);
	}
	pftest_shadow_truncate(&f->sh, n);
}

static void op_seek_end(int i)
{
	if (REAL)
		CHECK_EQ(lseek64(F[i].fd, 0, SEEK_END), F[i].sh.size);
}

static void op_fsync(int i)
{
	if (REAL)
		CHECK(fsync(F[i].fd) == 0);
}

static void op_rename(int i, const char *rel)
{
	if (REAL) {
		char a[PATH_MAX], b[PATH_MAX];
		STEP("phase %d: rename %s -> %s", cur_phase, F[i].rel, rel);
		CHECK(rename(abspath(a, F[i].rel), abspath(b, rel)) == 0);
	}
	pftest_fmt(F[i].rel, sizeof F[i].rel, "%s", rel);
}

static void op_rendir(const char *from, const char *to)
{
	if (REAL) {
		char a[PATH_MAX], b[PATH_MAX];
		STEP("phase %d: rename dir %s -> %s", cur_phase, from, to);
		CHECK(rename(abspath(a, from), abspath(b, to)) == 0);
	}
	size_t n = strlen(from);
	for (int i = 0; i < NF; i++) {
		if (F[i].used && strncmp(F[i].rel, from, n) == 0 && F[i].rel[n] == '/') {
			char tmp[PATH_MAX];
			pftest_fmt(tmp, sizeof tmp, "%s%s", to, F[i].rel + n);
			pftest_fmt(F[i].rel, sizeof F[i].rel, "%s", tmp);
		}
	}
}

static void op_unlink(int i)
{
	if (REAL) {
		char a[PATH_MAX];
		CHECK(unlink(abspath(a, F[i].rel)) == 0);
	}
	F[i].gone = 1;
}

static void op_close(int i)
{
	if (REAL)
		CHECK(close(F[i].fd) == 0);
	F[i].fd = -1;
}

static void phase1(void)
{
	cur_phase = 1;
	op_create(0, "topic-0/00000000000000000000.log");
	op_append(0, 3 * PFTEST_MIB + 12345, 1);
	op_fsync(0);
	op_create(1, "topic-0/00000000000000003000.log");
	op_append(1, 2 * PFTEST_MIB + 1, 2);
	op_create(2, "topic-1/00000000000000000000.log");
	op_append(2, 5 * PFTEST_MIB + 77, 3);
	op_trunc(2, PFTEST_MIB + 3 * PFTEST_BLK + 9);
	op_pwrite(2, 4 * PFTEST_MIB + 3, 1000, 4);
	op_seek_end(2);
	op_append(2, 33333, 5);
	op_fsync(2);
	op_create(3, "topic-1/00000000000000001000.log");
	op_append(3, PFTEST_MIB + 5, 6);
	op_rename(3, "topic-1/00000000000000001000.log.deleted");
	op_append(3, 100000, 7);
	op_create(4, "topic-2/00000000000000000000.log");
	op_append(4, 3 * PFTEST_MIB / 2, 8);
	op_fsync(4);
	op_rendir("topic-2", "topic-2." HEX "-delete");
	op_append(4, 70000, 9);
	op_create(5, "topic-3/00000000000000000000.log.cleaned");
	op_append(5, 700000, 10);
	op_fsync(5);
	op_rename(5, "topic-3/00000000000000000000.log.swap");
	op_rename(5, "topic-3/00000000000000000000.log");
	op_create(6, "topic-3/00000000000000000100.log");
	op_append(6, PFTEST_MIB, 11);
	op_unlink(6); /* fd stays open until the crash */
	op_create(7, "topic-4/00000000000000000000.log");
	op_trunc(7, 4 * PFTEST_MIB); /* log.preallocate: RandomAccessFile.setLength */
	if (REAL)
		CHECK_EQ(lseek64(F[7].fd, 0, SEEK_SET), 0);
	F[7].sh.size = 4 * PFTEST_MIB; /* appends below start at offset 0, not at the end */
	{
		/* appends at the file offset from 0 */
		uint8_t *b = pftest_patbuf(0, 500000, 12);
		if (REAL)
			pftest_write_all(F[7].fd, b, 500000);
		memcpy(F[7].sh.b, b, 500000);
		pftest_free(b);
	}
}

static void phase2(void)
{
	cur_phase = 2;
	for (int i = 0; i < NF; i++)
		if (F[i].used && !F[i].gone)
			op_open(i);
	op_append(0, 777777, 20);
	op_append(1, PFTEST_BLK * 3, 21);
	op_fsync(1);
	op_trunc(2, PFTEST_MIB - 1); /* follower truncation */
	op_seek_end(2);
	op_append(2, 5, 22);
	op_append(3, 1, 23);
	op_append(4, PFTEST_BLK + 1, 24);
	op_trunc(7, 500000); /* trim on roll */
	op_create(8, "topic-4/00000000000000005000.log");
	op_append(8, 2 * PFTEST_MIB + 99, 25);
	/* exit without closing anything */
}

static void phase3(void)
{
	cur_phase = 3;
	for (int i = 0; i < NF; i++)
		if (F[i].used && !F[i].gone)
			op_open(i);
	op_append(8, 1234567, 30);
	op_append(0, 3, 31);
	op_fsync(0);
	op_create(9, "topic-5/00000000000000000000.log");
	op_append(9, 1500000, 32);
	op_unlink(9);
	op_rename(3, "topic-1/00000000000000001000.log"); /* back from .deleted */
	op_append(3, PFTEST_BLK, 33);
	op_close(5);
	op_unlink(5); /* closed, then deleted */
	op_create(10, "topic-5/00000000000000000500.log");
	op_append(10, 4 * PFTEST_MIB + 1, 34);
}

static void script(int upto)
{
	memset(F, 0, sizeof F);
	for (int i = 0; i < NF; i++)
		F[i].fd = -1;
	if (upto >= 1)
		phase1();
	if (upto >= 2)
		phase2();
	if (upto >= 3)
		phase3();
}

/* writer: run phases 1..phase, the last one for real; then tell the parent and block (or exit) */
static int writer(int phase, int ready_fd, int hold_fd)
{
	real_phase = phase;
	script(phase);
	STEP("phase %d done", phase);
	if (phase == 2)
		_exit(0); /* a normal exit (no close, no atexit handlers of the test) */
	CHECK(write(ready_fd, "R", 1) == 1);
	char c;
	for (int i = 0; i < 1000; i++) {
		ssize_t r = read(hold_fd, &c, 1); /* the parent never writes: blocks until SIGKILL */
		if (r == 0)
			break;
	}
	fprintf(stderr, "writer was not killed\n");
	return 3;
}

static int verify(int phase, int sizes_only)
{
	real_phase = 0;
	script(phase);
	for (int i = 0; i < NF; i++) {
		struct file *f = &F[i];
		if (!f->used)
			continue;
		char p[PATH_MAX];
		abspath(p, f->rel);
		STEP("verify after phase %d%s: %s", phase, sizes_only ? " (sizes, no preload)" : "", f->rel);
		struct stat st;
		if (f->gone) {
			FAILS(stat(p, &st), ENOENT);
			continue;
		}
		if (sizes_only) {
			CHECK(stat(p, &st) == 0);
			CHECKF((uint64_t)st.st_size == f->sh.size, "%s: size %lld in the log dir, expected %llu", p,
			       (long long)st.st_size, (unsigned long long)f->sh.size);
		} else {
			pftest_check_path(p, &f->sh);
		}
	}
	/* names from earlier phases that must be gone */
	static const char *gone[] = { "topic-2/00000000000000000000.log", "topic-3/00000000000000000000.log.cleaned",
				      "topic-3/00000000000000000000.log.swap", NULL };
	for (int i = 0; gone[i]; i++) {
		char p[PATH_MAX];
		struct stat st;
		FAILS(stat(abspath(p, gone[i]), &st), ENOENT);
	}
	return 0;
}

static int cleanup(void)
{
	verify(3, 0);
	STEP("delete everything");
	for (int i = 0; i < NF; i++) {
		char p[PATH_MAX];
		if (F[i].used && !F[i].gone)
			CHECK(unlink(abspath(p, F[i].rel)) == 0);
	}
	if (pftest_shim_active()) {
		long long u = pftest_pool_used_blocks(), l = pftest_pool_live_records();
		CHECKF(u == 0 && l == 0,
		       "after deleting every file the pool still has %lld used blocks and %lld live records "
		       "(leaked by the crashed writers: files unlinked while open, truncated tails, renamed files)",
		       u, l);
	}
	return 0;
}

static void run_writer(int phase, int kill_it)
{
	int ready[2], hold[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(hold, O_CLOEXEC) == 0);
	pftest_inherit(ready[1], 1);
	pftest_inherit(hold[0], 1);
	char a1[16], a2[16], a3[16];
	pftest_fmt(a1, sizeof a1, "%d", phase);
	pftest_fmt(a2, sizeof a2, "%d", ready[1]);
	pftest_fmt(a3, sizeof a3, "%d", hold[0]);
	const char *args[] = { a1, a2, a3, NULL };
	pid_t pid = pftest_spawn_self("writer", args, NULL, 0, NULL, NULL);
	CHECK(close(ready[1]) == 0 && close(hold[0]) == 0);
	if (kill_it) {
		char c;
		ssize_t r = read(ready[0], &c, 1);
		CHECKF(r == 1, "writer phase %d did not report (read returned %zd); exit code %d", phase, r, pftest_wait(pid));
		CHECK(kill(pid, SIGKILL) == 0);
		int rc = pftest_wait(pid);
		CHECKF(rc == 128 + SIGKILL, "writer phase %d ended with %d, expected SIGKILL", phase, rc);
	} else {
		int rc = pftest_wait(pid);
		CHECKF(rc == 0, "writer phase %d exited with %d", phase, rc);
	}
	CHECK(close(ready[0]) == 0 && close(hold[1]) == 0);
}

static void run_verify(int phase)
{
	char a1[16];
	pftest_fmt(a1, sizeof a1, "%d", phase);
	const char *args[] = { a1, NULL };
	pid_t pid = pftest_spawn_self("verify", args, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "verifier");
	pid = pftest_spawn_self("verify-sizes", args, NULL, PFTEST_NO_PRELOAD, NULL, NULL);
	pftest_wait_ok(pid, "verifier without preload");
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_fmt(LOGS, sizeof LOGS, "%s/logs", pftest_dir());
	if (pftest_role("writer"))
		return writer(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	if (pftest_role("verify"))
		return verify(atoi(argv[2]), 0);
	if (pftest_role("verify-sizes"))
		return verify(atoi(argv[2]), 1);
	if (pftest_role("cleanup"))
		return cleanup();

	STEP("phase 1 (killed)");
	run_writer(1, 1);
	run_verify(1);
	STEP("phase 2 (normal exit)");
	run_writer(2, 0);
	run_verify(2);
	STEP("phase 3 (killed)");
	run_writer(3, 1);
	run_verify(3);
	STEP("cleanup");
	pid_t pid = pftest_spawn_self("cleanup", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "cleanup");
	printf("PASS\n");
	return 0;
}

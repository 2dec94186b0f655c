/*
 * t_forkread: a fork child reads the parent's current bytes, not a snapshot taken at the fork. The parent
 * writes a pool-resident segment and forks; the child waits on a pipe; the parent appends (new pool
 * blocks), overwrites inside an existing block, shrinks and regrows, and signals; after each round the
 * child reads through the inherited descriptors and through a fresh open: sizes (fstat, lseek(SEEK_END))
 * and every byte must be the parent's, as the kernel gives them for the unmanaged twin. The child only
 * reads. Three rounds, each synchronised by pipes.
 */
#include "pftest.h"

#define ROUNDS 3

static void pat_both(struct pftest_twin *t, uint64_t off, size_t n, uint32_t seed, int io)
{
	uint8_t *b = pftest_patbuf(off, n, seed);
	if (io)
		CHECK_EQ(TWIN(t, pwrite(FD, b, n, (off_t)off)), n);
	pftest_shadow_write(&t->sh, off, b, n);
	pftest_free(b);
}

/* The parent's writes of round r (io = 1), or only their effect on the shadow (io = 0: the child). */
static void round_ops(struct pftest_twin *t, int r, int io)
{
	switch (r) {
	case 0:
		pat_both(t, t->sh.size, 3 * PFTEST_BLK + 5, 10, io); /* new blocks at the end */
		pat_both(t, 10, 50, 11, io);                            /* inside an existing block */
		break;
	case 1:
		if (io)
			CHECK_EQ(TWIN(t, ftruncate(FD, PFTEST_BLK + 7)), 0);
		pftest_shadow_truncate(&t->sh, PFTEST_BLK + 7);
		pat_both(t, t->sh.size, 2 * PFTEST_BLK, 12, io);
		break;
	default:
		pat_both(t, t->sh.size, PFTEST_MIB + 1, 13, io);
		pat_both(t, 3 * PFTEST_BLK - 2, 4, 14, io);
		break;
	}
}

static int child(struct pftest_twin *t, int go, int done)
{
	for (int r = 0; r < ROUNDS; r++) {
		char c;
		STEP("fork child: waiting for round %d", r);
		CHECK_EQ(pftest_read_full(go, &c, 1), 1);
		round_ops(t, r, 0);
		STEP("fork child, round %d: sizes through the inherited descriptors", r);
		CHECK_EQ(SAME(pftest_fsize(t->fm), pftest_fsize(t->fp)), t->sh.size);
		long long cm = lseek(t->fm, 0, SEEK_CUR);
		CHECK_EQ(SAME(lseek(t->fm, 0, SEEK_END), lseek(t->fp, 0, SEEK_END)), t->sh.size);
		CHECK_EQ(TWIN(t, lseek(FD, cm, SEEK_SET)), cm);
		STEP("fork child, round %d: bytes through the inherited descriptors", r);
		pftest_check_fd(t->fp, &t->sh, "fork child: inherited twin descriptor");
		pftest_check_fd(t->fm, &t->sh, "fork child: inherited descriptor");
		STEP("fork child, round %d: bytes through a fresh open", r);
		pftest_check_path(t->p, &t->sh);
		pftest_check_path(t->m, &t->sh);
		CHECK_EQ(write(done, "D", 1), 1);
	}
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	STEP("parent writes before the fork");
	pat_both(&t, 0, 2 * PFTEST_BLK + 100, 1, 1);
	pftest_check_sparse(t.m, (long long)t.sh.size);
	int go[2], done[2];
	CHECK(pipe2(go, O_CLOEXEC) == 0 && pipe2(done, O_CLOEXEC) == 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		close(done[0]);
		_exit(child(&t, go[0], done[1]));
	}
	CHECK(close(go[0]) == 0 && close(done[1]) == 0);
	signal(SIGPIPE, SIG_IGN); /* a child that stopped early: EPIPE and a failed check, not a silent kill */
	for (int r = 0; r < ROUNDS; r++) {
		STEP("parent, round %d: writes after the fork", r);
		round_ops(&t, r, 1);
		pftest_twin_check(&t);
		CHECK_EQ(write(go[1], "G", 1), 1);
		char c;
		size_t n = pftest_read_full(done[0], &c, 1);
		CHECKF(n == 1, "the fork child stopped in round %d (exit code %d)", r, n == 1 ? 0 : pftest_wait(pid));
	}
	pftest_wait_ok(pid, "fork child");
	CHECK(close(go[1]) == 0 && close(done[0]) == 0);
	pftest_twin_close(&t);
	pftest_check_path(t.m, &t.sh);
	printf("PASS\n");
	return 0;
}

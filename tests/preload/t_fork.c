/*
 * t_fork: a forked child and managed segments. Decided behaviour (README, "How it works"): under an active
 * shim a fork child is not the pool's writer, so its write, pwrite or ftruncate to a file whose bytes are
 * in the pool fails with EROFS and changes nothing (Kafka never writes segments from a child); everything
 * else is the kernel's: the child reads the parent's current bytes, also bytes the parent writes after the
 * fork, fsync works, and a file the child creates by path is written normally. Against the plain kernel
 * the child's writes succeed. The unmanaged twin always shows the kernel's behaviour: the child reads,
 * appends at the shared offset, pwrites and ftruncates it, and the parent sees every byte, size and the
 * moved offset. The parent then checks that the managed segment holds exactly the bytes that were written
 * (its own, plus the child's where the child may write), brings it level with the twin, and both go on.
 */
#include "pftest.h"

#define W1_OFF 1005
#define W1_LEN 69000
#define W2_OFF (3 * PFTEST_MIB)
#define W2_LEN (PFTEST_BLK + 3)
#define T_LEN (3 * PFTEST_MIB + 100)
#define OTHER_LEN 300001

static uint8_t *b;

/* The writes the child makes (through fd: write at the shared offset, pwrite, ftruncate). Each returns
 * what the call returned; the expectation is the caller's. */
static void child_writes(int fd, int erofs, const char *what)
{
	STEP("fork child: write at the shared offset through the %s", what);
	if (erofs)
		FAILS(write(fd, b + W1_OFF, W1_LEN), EROFS);
	else
		CHECK_EQ(write(fd, b + W1_OFF, W1_LEN), W1_LEN);
	STEP("fork child: pwrite past the end through the %s", what);
	if (erofs)
		FAILS(pwrite(fd, b + W2_OFF, W2_LEN, W2_OFF), EROFS);
	else
		CHECK_EQ(pwrite(fd, b + W2_OFF, W2_LEN, W2_OFF), W2_LEN);
	STEP("fork child: ftruncate through the %s", what);
	if (erofs)
		FAILS(ftruncate(fd, T_LEN), EROFS);
	else
		CHECK_EQ(ftruncate(fd, T_LEN), 0);
	STEP("fork child: fsync through the %s", what);
	CHECK_EQ(fsync(fd), 0);
}

static void child_shadow(struct pftest_shadow *sh)
{
	pftest_shadow_write(sh, W1_OFF, b + W1_OFF, W1_LEN);
	pftest_shadow_write(sh, W2_OFF, b + W2_OFF, W2_LEN);
	pftest_shadow_truncate(sh, T_LEN);
}

/* The parent's writes after the fork (io = 0: only their effect on the shadow, for the child). */
static void after_fork(struct pftest_twin *t, int io)
{
	uint64_t end = t->sh.size;
	uint8_t *x = pftest_patbuf(end, 3 * PFTEST_BLK + 5, 2);
	if (io)
		CHECK_EQ(TWIN(t, pwrite(FD, x, 3 * PFTEST_BLK + 5, (off_t)end)), 3 * PFTEST_BLK + 5);
	pftest_shadow_write(&t->sh, end, x, 3 * PFTEST_BLK + 5);
	pftest_free(x);
	x = pftest_patbuf(20, 70, 3);
	if (io)
		CHECK_EQ(TWIN(t, pwrite(FD, x, 70, 20)), 70);
	pftest_shadow_write(&t->sh, 20, x, 70);
	pftest_free(x);
}

static int child(struct pftest_twin *t, int erofs, const char *other_m, const char *other_p, int ready, int go)
{
	STEP("fork child: read at the shared offset");
	uint8_t c[1000];
	CHECK_EQ(SAME(read(t->fm, c, 1000), read(t->fp, t->bp, 1000)), 1000);
	pftest_cmp("child read", c, b + 5, 1000, 5);
	pftest_cmp("child read (twin)", t->bp, b + 5, 1000, 5);
	struct pftest_shadow before = { 0 };
	pftest_shadow_write(&before, 0, t->sh.b, t->sh.size);

	child_writes(t->fp, 0, "twin's inherited descriptor");
	child_writes(t->fm, erofs, "inherited descriptor");
	child_shadow(&t->sh); /* the twin's bytes; the managed file's too unless it refused */
	STEP("fork child: the segment holds exactly the bytes written");
	pftest_check_fd(t->fp, &t->sh, "fork child: twin");
	pftest_check_fd(t->fm, erofs ? &before : &t->sh, "fork child: inherited descriptor after its writes");

	STEP("fork child: open by path, write, fsync");
	const char *names[] = { other_p, other_m };
	for (int i = 0; i < 2; i++) {
		int fd = OK(open(names[i], O_RDWR | O_CREAT | O_TRUNC, 0644));
		pftest_write_all(fd, b, OTHER_LEN);
		CHECK_EQ(fsync(fd), 0);
		CHECK(close(fd) == 0);
	}
	CHECK_EQ(write(ready, "R", 1), 1);

	STEP("fork child: waiting for the parent's writes after the fork");
	char g;
	CHECK_EQ(pftest_read_full(go, &g, 1), 1);
	after_fork(t, 0); /* the parent made the managed file level with the twin, then wrote this */
	STEP("fork child: reads the parent's bytes written after the fork");
	CHECK_EQ(SAME(pftest_fsize(t->fm), pftest_fsize(t->fp)), t->sh.size);
	pftest_check_fd(t->fp, &t->sh, "fork child: twin after the parent's writes");
	pftest_check_fd(t->fm, &t->sh, "fork child: inherited descriptor after the parent's writes");
	pftest_check_path(t->p, &t->sh);
	pftest_check_path(t->m, &t->sh);
	pftest_shadow_free(&before);
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	b = pftest_patbuf(0, 4 * PFTEST_MIB, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, 2 * PFTEST_MIB)), 2 * PFTEST_MIB);
	pftest_shadow_write(&t.sh, 0, b, 2 * PFTEST_MIB);
	CHECK_EQ(TWIN(&t, lseek(FD, 5, SEEK_SET)), 5);
	/* Under the shim the segment must be pool-resident (this fails otherwise); then, and only then, the
	 * child's writes to it are refused. */
	pftest_check_sparse(t.m, 2 * PFTEST_MIB);
	int erofs = pftest_pool_resident(t.m);
	CHECK_EQ(erofs, pftest_shim_active());
	printf("the child's writes to the segment are expected to %s\n",
	       erofs ? "fail with EROFS (pool-resident under the shim)" : "succeed (plain kernel)");
	char other_m[PATH_MAX], other_p[PATH_MAX];
	pftest_mpath(other_m, "topic-1", PFTEST_SEG0);
	pftest_ppath(other_p, "topic-1", PFTEST_SEG0);
	struct pftest_shadow before = { 0 };
	pftest_shadow_write(&before, 0, t.sh.b, t.sh.size);

	int ready[2], go[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(go, O_CLOEXEC) == 0);
	STEP("fork");
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		_exit(child(&t, erofs, other_m, other_p, ready[1], go[0]));
	}
	CHECK(close(ready[1]) == 0 && close(go[0]) == 0);
	signal(SIGPIPE, SIG_IGN);
	char c;
	size_t n = pftest_read_full(ready[0], &c, 1);
	CHECKF(n == 1, "the fork child stopped before its writes were done (exit code %d)", n == 1 ? 0 : pftest_wait(pid));

	STEP("parent: the twin after the child's writes (the kernel's answer)");
	child_shadow(&t.sh);
	CHECK_EQ(lseek(t.fp, 0, SEEK_CUR), W1_OFF + W1_LEN);
	pftest_check_fd(t.fp, &t.sh, "twin after the child");
	pftest_check_path(t.p, &t.sh);
	STEP("parent: the segment holds exactly the bytes that were written");
	const struct pftest_shadow *want = erofs ? &before : &t.sh;
	CHECK_EQ(lseek(t.fm, 0, SEEK_CUR), erofs ? W1_OFF : W1_OFF + W1_LEN);
	pftest_check_sizes(t.fm, t.m, (long long)want->size);
	pftest_check_fd(t.fm, want, "segment after the child");
	pftest_check_path(t.m, want);
	STEP("parent: the files the child created by path");
	struct pftest_shadow so = { 0 };
	pftest_shadow_write(&so, 0, b, OTHER_LEN);
	pftest_check_path(other_p, &so);
	pftest_check_path(other_m, &so);
	pftest_shadow_free(&so);

	if (erofs) {
		STEP("parent (the pool's writer): the child's writes, made level with the twin");
		CHECK_EQ(write(t.fm, b + W1_OFF, W1_LEN), W1_LEN);
		CHECK_EQ(pwrite(t.fm, b + W2_OFF, W2_LEN, W2_OFF), W2_LEN);
		CHECK_EQ(ftruncate(t.fm, T_LEN), 0);
	}
	pftest_twin_check(&t);

	STEP("parent: writes after the fork, then the child reads them");
	after_fork(&t, 1);
	pftest_twin_check(&t);
	CHECK_EQ(write(go[1], "G", 1), 1);
	pftest_wait_ok(pid, "fork child");
	CHECK(close(ready[0]) == 0 && close(go[1]) == 0);

	STEP("parent appends after the child");
	CHECK_EQ(TWIN(&t, lseek(FD, 0, SEEK_END)), t.sh.size);
	uint64_t end = t.sh.size;
	CHECK_EQ(TWIN(&t, write(FD, b, 5000)), 5000);
	pftest_shadow_write(&t.sh, end, b, 5000);
	pftest_twin_check(&t);
	pftest_twin_close(&t);
	pftest_check_sparse(t.m, (long long)t.sh.size / 2);
	pftest_shadow_free(&before);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

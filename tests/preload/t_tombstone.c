/*
 * t_tombstone: a managed close leaves the descriptor number marked in the shim's table, so that a call on
 * the number while it is closed and reused is checked against what it is now. Here the number is reused
 * by an open, through a name the shim does not see as managed (a hard link made with the raw system call,
 * so the shim never learned of it), of a segment that a restarted shim knows only from its pool record:
 * no descriptor of it was ever open in this process, so the shim holds no size for it. The read through
 * the reused number must see the file's true length and bytes, never a short read or zeros.
 * The program re-executes itself (as tests/preload/t_restart.c does): "phase1" writes the segment and the
 * link; "phase2" is the restarted shim. Against the plain kernel the same steps simply read the file.
 */
#include "pftest.h"

#define SIZE (3 * PFTEST_BLK + 123)

static char seg[PATH_MAX], own[PATH_MAX], alias[PATH_MAX];
static struct pftest_shadow sh;

static int phase1(void)
{
	STEP("phase 1: write the segment, link it with the raw system call");
	int fd = OK(open(seg, O_RDWR | O_CREAT | O_TRUNC, 0644));
	pftest_write_all(fd, sh.b, sh.size);
	pftest_check_sparse(seg, (long long)sh.size);
	CHECK(close(fd) == 0);
	CHECK(syscall(SYS_linkat, AT_FDCWD, seg, AT_FDCWD, alias, 0) == 0);
	return 0;
}

static int phase2(void)
{
	STEP("phase 2: a managed open and close of another segment (the restarted shim activates)");
	int fd = OK(open(own, O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "restart", 7);
	int number = fd;
	CHECK(close(fd) == 0);
	STEP("phase 2: open the alias: the lowest free number, the one that close just gave back");
	int fa = OK(open(alias, O_RDONLY));
	CHECK_EQ(fa, number);
	pftest_check_fd(fa, &sh, "the alias on the reused number");
	CHECK(close(fa) == 0);
	return 0;
}

static void run(const char *role)
{
	pid_t pid = pftest_spawn_self(role, NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, role);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	pftest_mpath(own, "topic-1", PFTEST_SEG0);
	pftest_path_in(alias, "plain", "topic-0", "alias.bin");
	pftest_shadow_pat(&sh, 0, SIZE, 21);
	if (pftest_role("phase1"))
		return phase1();
	if (pftest_role("phase2"))
		return phase2();
	run("phase1");
	run("phase2");
	printf("PASS\n");
	return 0;
}

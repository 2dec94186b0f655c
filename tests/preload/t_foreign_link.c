/*
 * t_foreign_link: a hard link to a pool-resident segment made by a process WITHOUT the shim (an operator's
 * `cp -al` while the broker runs) is a documented limit: until the shim sees the extra link, the link's
 * name reads the sparse log-dir file. What is guaranteed, and asserted here, is only this: after a restart
 * of the shim that opens the segment (as a restarting broker opens its log, seeing the extra link at
 * open), the written bytes are readable through the link, under the shim, with raw system calls and by a
 * process without the shim.
 *   raw: the link made with the raw system call syscall(SYS_linkat), bypassing the interposed libc names;
 *   ln:  the link made by /bin/ln exec'd with LD_PRELOAD removed from its environment.
 * The program re-executes itself (LD_PRELOAD inherited, as tests/preload/t_restart.c does): "phase1"
 * writes the segments and makes the links while it runs; "phase2" is the restarted shim. The parent
 * touches no managed file.
 */
#include "pftest.h"

static char segA[PATH_MAX], segB[PATH_MAX], lnkA[PATH_MAX], lnkB[PATH_MAX];
static struct pftest_shadow shA, shB;

static void paths(void)
{
	pftest_mpath(segA, "topic-0", PFTEST_SEG0);
	pftest_mpath(segB, "topic-1", "00000000000000004000.log");
	pftest_path_in(lnkA, "backup", "topic-0", PFTEST_SEG0);
	pftest_path_in(lnkB, "backup", "topic-1", "seg.bin");
	pftest_shadow_pat(&shA, 0, 2 * PFTEST_BLK + 4321, 1);
	pftest_shadow_pat(&shB, 0, PFTEST_MIB + 99, 2);
}

static int phase1(void)
{
	STEP("phase 1: two pool-resident segments");
	const char *seg[] = { segA, segB };
	const struct pftest_shadow *sh[] = { &shA, &shB };
	int fds[2];
	for (int i = 0; i < 2; i++) {
		fds[i] = OK(open(seg[i], O_RDWR | O_CREAT | O_TRUNC, 0644));
		pftest_write_all(fds[i], sh[i]->b, sh[i]->size);
		CHECK(fsync(fds[i]) == 0);
		pftest_check_sparse(seg[i], (long long)sh[i]->size);
	}
	STEP("phase 1: a link made without the shim: raw syscall(SYS_linkat)");
	CHECK(syscall(SYS_linkat, AT_FDCWD, segA, AT_FDCWD, lnkA, 0) == 0);
	STEP("phase 1: a link made without the shim: /bin/ln without LD_PRELOAD");
	char *argv[] = { (char *)"/bin/ln", segB, lnkB, NULL };
	pid_t pid = pftest_spawn(argv, NULL, PFTEST_NO_PRELOAD, NULL, NULL);
	pftest_wait_ok(pid, "/bin/ln without LD_PRELOAD");
	for (int i = 0; i < 2; i++)
		CHECK(close(fds[i]) == 0);
	return 0;
}

static int phase2(void)
{
	STEP("phase 2: the restarted shim opens its segments");
	const char *seg[] = { segA, segB };
	const struct pftest_shadow *sh[] = { &shA, &shB };
	for (int i = 0; i < 2; i++) {
		int fd = OK(open(seg[i], O_RDONLY));
		pftest_check_fd(fd, sh[i], seg[i]);
		CHECK(close(fd) == 0);
	}
	STEP("phase 2: the links read under the shim");
	pftest_check_path(lnkA, &shA);
	pftest_check_path(lnkB, &shB);
	STEP("phase 2: the links read with raw system calls");
	pftest_check_path_raw(lnkA, &shA);
	pftest_check_path_raw(lnkB, &shB);
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	paths();
	if (pftest_role("phase1"))
		return phase1();
	if (pftest_role("phase2"))
		return phase2();
	STEP("phase 1 (write, links made without the shim)");
	pid_t pid = pftest_spawn_self("phase1", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "phase1");
	STEP("phase 2 (restart)");
	pid = pftest_spawn_self("phase2", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "phase2");
	STEP("after the restart: the links read by processes without the shim");
	pftest_check_path_nopreload(lnkA, &shA);
	pftest_check_path_nopreload(lnkB, &shB);
	printf("PASS\n");
	return 0;
}

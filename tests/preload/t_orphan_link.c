/*
 * t_orphan_link: a segment whose log-dir name is gone is not an orphan while a hard link still reaches
 * it. Like a `cp -al` backup taken before a segment is deleted: the segment is written (pool-resident),
 * hard-linked outside the log dirs, its log-dir name is unlinked through the shim and it is closed. After a
 * restart of the shim the link must still read the written bytes, under the shim, with raw system calls
 * and from a process without the shim, and keep doing so after one more restart.
 *   L: the link made under the shim with link(); the log-dir name unlinked while open, then closed.
 *   R: the link made by "a process without the shim": the raw system call syscall(SYS_linkat) bypasses
 *      the interposed libc names; the segment closed first, then its log-dir name unlinked.
 * The program re-executes itself (LD_PRELOAD inherited, as tests/preload/t_restart.c does): "phase1"
 * writes, links and unlinks; "phase2" is the restarted shim (activated by a segment of its own, as a
 * restarting broker opens its log) and reads the links. The parent touches no managed file.
 */
#include "pftest.h"

#define SIZE_L (3 * PFTEST_BLK + 777)
#define SIZE_R (2 * PFTEST_BLK + 555)

static char segL[PATH_MAX], segR[PATH_MAX], bakL[PATH_MAX], bakR[PATH_MAX];
static struct pftest_shadow shL, shR;

static void paths(void)
{
	pftest_mpath(segL, "topic-0", PFTEST_SEG0);
	pftest_mpath(segR, "topic-1", PFTEST_SEG0);
	pftest_path_in(bakL, "backup", "topic-0", PFTEST_SEG0);
	pftest_path_in(bakR, "backup", "topic-1", PFTEST_SEG0);
	pftest_shadow_pat(&shL, 0, SIZE_L, 1);
	pftest_shadow_pat(&shR, 0, SIZE_R, 2);
}

static void write_seg(const char *path, const struct pftest_shadow *sh, int *fdp)
{
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	pftest_write_all(fd, sh->b, sh->size);
	CHECK(fsync(fd) == 0);
	pftest_check_sparse(path, (long long)sh->size); /* shim: the bytes are in the pool */
	*fdp = fd;
}

static int phase1(void)
{
	int fd;
	STEP("phase 1: L: write, link() under the shim, unlink the log-dir name while open, close");
	write_seg(segL, &shL, &fd);
	CHECK(link(segL, bakL) == 0);
	CHECK(unlink(segL) == 0);
	CHECK(close(fd) == 0);

	STEP("phase 1: R: write, close, link by raw syscall(SYS_linkat) (no shim), unlink the log-dir name");
	write_seg(segR, &shR, &fd);
	CHECK(close(fd) == 0);
	CHECK(syscall(SYS_linkat, AT_FDCWD, segR, AT_FDCWD, bakR, 0) == 0);
	CHECK(unlink(segR) == 0);

	struct stat st;
	FAILS(stat(segL, &st), ENOENT);
	FAILS(stat(segR, &st), ENOENT);
	CHECK(stat(bakL, &st) == 0 && st.st_nlink == 1);
	CHECK(stat(bakR, &st) == 0 && st.st_nlink == 1);
	return 0;
}

static int phase2(void)
{
	STEP("phase 2: the restarted shim activates (a segment of its own)");
	char own[PATH_MAX];
	int fd = OK(open(pftest_mpath(own, "topic-2", PFTEST_SEG0), O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "restart", 7);
	CHECK(close(fd) == 0);

	STEP("phase 2: L (link made with link()) read under the shim");
	pftest_check_path(bakL, &shL);
	STEP("phase 2: L read with raw system calls");
	pftest_check_path_raw(bakL, &shL);
	STEP("phase 2: R (link made without the shim) read under the shim");
	pftest_check_path(bakR, &shR);
	STEP("phase 2: R read with raw system calls");
	pftest_check_path_raw(bakR, &shR);
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
	paths();
	if (pftest_role("phase1"))
		return phase1();
	if (pftest_role("phase2"))
		return phase2();

	STEP("phase 1 (write, link, unlink)");
	run("phase1");
	STEP("phase 2 (restart)");
	run("phase2");
	STEP("after the restart: the links read by processes without the shim");
	pftest_check_path_nopreload(bakL, &shL);
	pftest_check_path_nopreload(bakR, &shR);
	STEP("phase 2 again (one more restart)");
	run("phase2");
	pftest_check_path_nopreload(bakL, &shL);
	pftest_check_path_nopreload(bakR, &shR);
	printf("PASS\n");
	return 0;
}

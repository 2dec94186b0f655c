/*
 * t_orphan_handle: segments whose every change of name happened behind the shim's back. At a restart,
 * recovery finds their records in no log dir and never saw their last name go, so only the file handle
 * kept in each record can tell what became of them:
 *   K: hard-linked elsewhere and its log-dir name unlinked, both with raw system calls (a process without
 *      the shim): the inode lives, so the restarted shim moves its pool bytes into it and frees the
 *      record; the link then reads the bytes under the shim and without it;
 *   G: deleted with a raw unlink, no other name: the inode is gone, so the restarted shim frees its pool
 *      blocks (the pool's used blocks drop by exactly its blocks).
 * Opening by handle needs CAP_DAC_READ_SEARCH: without it the test says why and skips. It only makes
 * sense with the shim (a file handle in a pool record), so against the plain kernel it skips.
 * The program re-executes itself (as tests/preload/t_restart.c does): "phase1" writes the segments and
 * renames them behind the shim's back; "phase2" is the restarted shim.
 */
#include "pftest.h"


#define SIZE_K (3 * PFTEST_BLK + 321)
#define SIZE_G (5 * PFTEST_BLK)

static char segK[PATH_MAX], segG[PATH_MAX], bakK[PATH_MAX];
static struct pftest_shadow shK, shG;

static void paths(void)
{
	pftest_mpath(segK, "topic-0", PFTEST_SEG0);
	pftest_mpath(segG, "topic-1", PFTEST_SEG0);
	pftest_path_in(bakK, "backup", "topic-0", "seg.bin");
	pftest_shadow_pat(&shK, 0, SIZE_K, 11);
	pftest_shadow_pat(&shG, 0, SIZE_G, 12);
}

/* Does this process have CAP_DAC_READ_SEARCH (bit 2 of CapEff in /proc/self/status)? */
static int can_open_by_handle(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	if (f)
		fclose(f);
	return (eff >> 2) & 1;
}

static int phase1(void)
{
	int fd;
	STEP("phase 1: write K and G (pool-resident), close them");
	fd = OK(open(segK, O_RDWR | O_CREAT | O_TRUNC, 0644));
	pftest_write_all(fd, shK.b, shK.size);
	CHECK(close(fd) == 0);
	fd = OK(open(segG, O_RDWR | O_CREAT | O_TRUNC, 0644));
	pftest_write_all(fd, shG.b, shG.size);
	CHECK(close(fd) == 0);
	pftest_check_sparse(segK, (long long)shK.size);
	pftest_check_sparse(segG, (long long)shG.size);
	STEP("phase 1: behind the shim's back: link K elsewhere, unlink both log-dir names (raw syscalls)");
	CHECK(syscall(SYS_linkat, AT_FDCWD, segK, AT_FDCWD, bakK, 0) == 0);
	CHECK(syscall(SYS_unlinkat, AT_FDCWD, segK, 0) == 0);
	CHECK(syscall(SYS_unlinkat, AT_FDCWD, segG, 0) == 0);
	return 0;
}

static int phase2(void)
{
	STEP("phase 2: the restarted shim activates (a segment of its own)");
	char own[PATH_MAX];
	int fd = OK(open(pftest_mpath(own, "topic-2", PFTEST_SEG0), O_RDWR | O_CREAT, 0644));
	pftest_write_all(fd, "restart", 7);
	CHECK(close(fd) == 0);
	STEP("phase 2: K's link reads its bytes under the shim");
	pftest_check_path(bakK, &shK);
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
	if (!pftest_shim_active()) {
		printf("SKIP: only meaningful with the shim (pool records keep file handles)\n");
		return 77;
	}
	if (!can_open_by_handle()) {
		printf("SKIP: opening by file handle needs CAP_DAC_READ_SEARCH, which this process lacks\n");
		return 77;
	}

	STEP("phase 1 (write, then link and unlink behind the shim's back)");
	run("phase1");
	long long before = pftest_pool_used_blocks();
	STEP("phase 2 (restart)");
	run("phase2");
	long long after = pftest_pool_used_blocks();
	STEP("after the restart: K's pool bytes went into its inode, G's were freed");
	/* K (4 blocks) and G (5 blocks) left the pool; the restarted shim's own 7-byte segment took 1 */
	CHECK_EQ(after, before - 4 - 5 + 1);
	pftest_check_path_nopreload(bakK, &shK);
	pftest_check_path_raw(bakK, &shK);
	printf("PASS\n");
	return 0;
}

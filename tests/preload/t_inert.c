/*
 * t_inert: a process under the shim that never touches a managed segment stays inert: it does not create
 * $PAFKA_TEST_POOLDIR/pafka.pool and has exactly one thread (/proc/self/task). Child A works on files
 * outside the log dir (including a file with a segment's name, the unmanaged twin); child B works on the
 * non-segment files of a partition directory (.txnindex, .snapshot, checkpoints,
 * partition.metadata, look-alike names), lists the directory and stats missing segment names. Both do the
 * whole range of calls: open/creat/read/write/pread/pwrite/vectors/lseek/stat family/truncate/fallocate/
 * mmap/sendfile/copy_file_range/splice/dup/fcntl/rename/unlink/fsync and fork+exec. The parent itself stays
 * inert too. Passes without the shim trivially; meaningful under it.
 */
#include "pftest.h"

#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

static void no_pool(const char *who)
{
	char p[PATH_MAX];
	struct stat st;
	if (!pftest_pool_path(p))
		return;
	CHECKF(stat(p, &st) != 0 && errno == ENOENT, "%s: the pool file %s exists (a process that touched no managed file "
						     "activated the shim)", who, p);
}

static void one_thread(const char *who)
{
	int n = pftest_thread_count();
	CHECKF(n == 1, "%s: %d threads in /proc/self/task, expected 1 (an inert process must not start threads)", who, n);
}

/* Exercise every call on path (a file that must be unmanaged). */
static void exercise(const char *path)
{
	STEP("exercise %s", path);
	struct pftest_shadow sh = { 0 };
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, 300000, 1);
	pftest_write_all(fd, b, 300000);
	pftest_shadow_write(&sh, 0, b, 300000);
	pftest_pwrite_all(fd, b, 1000, 500000);
	pftest_shadow_write(&sh, 500000, b, 1000);
	struct iovec iov[2] = { { b, 10 }, { b + 10, 20 } };
	CHECK_EQ(pwritev(fd, iov, 2, 7), 30);
	pftest_shadow_write(&sh, 7, b, 30);
	CHECK_EQ(lseek64(fd, 0, SEEK_END), sh.size);
	CHECK_EQ(writev(fd, iov, 2), 30);
	pftest_shadow_write(&sh, sh.size, b, 30);
	pftest_check_fd(fd, &sh, path);
	uint8_t r[100];
	CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
	CHECK_EQ(read(fd, r, 100), 100);
	CHECK_EQ(readv(fd, iov, 2), 30);
	CHECK_EQ(preadv2(fd, iov, 2, 0, 0), 30);
	CHECK_EQ(pread64(fd, r, 100, 5), 100);
	struct stat st;
	struct stat64 st64;
	struct statx x;
	CHECK(fstat(fd, &st) == 0 && fstat64(fd, &st64) == 0 && stat(path, &st) == 0 && lstat64(path, &st64) == 0);
	CHECK(statx(AT_FDCWD, path, 0, STATX_ALL, &x) == 0 && x.stx_size == sh.size);
	CHECK(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_size == (off_t)sh.size);
	CHECK(ftruncate(fd, 400000) == 0);
	pftest_shadow_truncate(&sh, 400000);
	CHECK(truncate(path, 450000) == 0);
	pftest_shadow_truncate(&sh, 450000);
	int e = posix_fallocate(fd, 0, 460000);
	CHECK(e == 0 || e == EOPNOTSUPP);
	if (e == 0)
		pftest_shadow_truncate(&sh, 460000);
	void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	memcpy(m, "inert", 5);
	pftest_shadow_write(&sh, 0, "inert", 5);
	CHECK(msync(m, 4096, MS_SYNC) == 0 && munmap(m, 4096) == 0);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	off_t o = 0;
	CHECK_EQ(sendfile(sv[0], fd, &o, 1000), 1000);
	CHECK_EQ(pftest_read_full(sv[1], r, 100), 100);
	close(sv[0]);
	close(sv[1]);
	int pp[2];
	CHECK(pipe(pp) == 0);
	loff_t lo = 0;
	CHECK_EQ(splice(fd, &lo, pp[1], NULL, 100, 0), 100);
	close(pp[0]);
	close(pp[1]);
	char cp[PATH_MAX + 8];
	pftest_fmt(cp, sizeof cp, "%s.copy", path);
	int fd2 = OK(creat(cp, 0644));
	loff_t a = 0, c = 0;
	CHECK(copy_file_range(fd, &a, fd2, &c, 1000, 0) > 0);
	int d = OK(dup(fd)), d2 = OK(dup2(fd, 90)), d3 = OK(dup3(fd, 91, O_CLOEXEC)), d4 = OK(fcntl(fd, F_DUPFD_CLOEXEC, 92));
	CHECK(close(d) == 0 && close(d2) == 0 && close(d3) == 0 && close(d4) == 0);
	CHECK(fsync(fd) == 0 && fdatasync(fd) == 0 && sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) == 0);
	pftest_check_fd(fd, &sh, path);
	CHECK(close(fd) == 0 && close(fd2) == 0);
	char mv[PATH_MAX + 8];
	pftest_fmt(mv, sizeof mv, "%s.moved", path);
	CHECK(rename(path, mv) == 0 && rename(mv, path) == 0);
	CHECK(renameat2(AT_FDCWD, cp, AT_FDCWD, mv, RENAME_NOREPLACE) == 0);
	CHECK(unlink(mv) == 0);
	pftest_check_path(path, &sh);
	pftest_check_kernel_resident(path, 300000);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	CHECK(fread(r, 1, 5, f) == 5 && memcmp(r, "inert", 5) == 0);
	fclose(f);
	pftest_free(b);
	pftest_shadow_free(&sh);
}

static void fork_exec_true(void)
{
	char *av[] = { (char *)"/bin/true", NULL };
	if (access(av[0], X_OK) != 0)
		return;
	pid_t pid = pftest_spawn(av, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "/bin/true");
}

static int child_outside(void)
{
	char p[PATH_MAX];
	exercise(pftest_ppath(p, "topic-0", PFTEST_SEG0)); /* a segment's name outside the log dir */
	exercise(pftest_ppath(p, "misc", "data.bin"));
	pftest_fmt(p, sizeof p, "%s/loose-file.txt", pftest_dir());
	exercise(p);
	fork_exec_true();
	no_pool("child A");
	one_thread("child A");
	return 0;
}

static int child_logdir(void)
{
	static const char *names[] = { "00000000000000000000.txnindex", "00000000000000000000.snapshot",
				       "leader-epoch-checkpoint", "partition.metadata", "0000000000000000000.log",
				       "000000000000000000000.log", "00000000000000000000.log.tmp",
				       "00000000000000000000.LOG", "x00000000000000000000.log", "00000000000000000000.logs",
				       "00000000000000000000.indexx", "00000000000000000000.txnindex.swap",
				       "00000000000000000000.snapshot.deleted", NULL };
	char p[PATH_MAX];
	for (int i = 0; names[i]; i++)
		exercise(pftest_mpath(p, "topic-0", names[i]));
	exercise(pftest_fmt(p, sizeof p, "%s/logs/recovery-point-offset-checkpoint", pftest_dir()));
	exercise(pftest_fmt(p, sizeof p, "%s/logs/meta.properties", pftest_dir()));
	STEP("listing and stats of missing segments");
	DIR *d = opendir(pftest_fmt(p, sizeof p, "%s/logs/topic-0", pftest_dir()));
	CHECK(d != NULL);
	int n = 0;
	while (readdir(d) && n < 1000)
		n++;
	closedir(d);
	CHECK(n >= (int)(sizeof names / sizeof names[0]));
	struct stat st;
	struct statx x;
	pftest_mpath(p, "topic-0", "00000000000000012345.log");
	FAILS(stat(p, &st), ENOENT);
	FAILS(statx(AT_FDCWD, p, 0, STATX_SIZE, &x), ENOENT);
	FAILS(access(p, F_OK), ENOENT);
	FAILS(unlink(p), ENOENT);
	fork_exec_true();
	no_pool("child B");
	one_thread("child B");
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("outside"))
		return child_outside();
	if (pftest_role("logdir"))
		return child_logdir();

	no_pool("parent at start");
	one_thread("parent at start");
	pid_t pid = pftest_spawn_self("outside", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "child A (files outside the log dir)");
	no_pool("after child A");
	pid = pftest_spawn_self("logdir", NULL, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "child B (non-segment files in the log dir)");
	no_pool("after child B");
	STEP("parent: stat of the files");
	char p[PATH_MAX];
	struct stat st;
	CHECK(stat(pftest_mpath(p, "topic-0", "00000000000000000000.snapshot"), &st) == 0);
	no_pool("parent at end");
	one_thread("parent at end");
	printf("PASS\n");
	return 0;
}

/*
 * t_size: the size of a managed segment through every stat variant, new and old ABI, by fd, path, dirfd,
 * AT_EMPTY_PATH and through a symlink; raw syscalls (the log-dir file itself must have the exact size);
 * lseek/lseek64(SEEK_END); and from other processes: /usr/bin/stat -c %s with and without the shim and a
 * child of this program without LD_PRELOAD. Checked after appends, a hole, shrink and extend, and O_TRUNC.
 * st_ino/st_dev/st_mode/st_nlink must agree everywhere, and st_mode/st_nlink with the unmanaged twin.
 */
#include "pftest.h"

#include <sys/syscall.h>

/* The pre-2.33 glibc ABI (ver = 1 on x86-64), still exported by glibc 2.36. */
extern int __fxstat(int ver, int fd, struct stat *st);
extern int __fxstat64(int ver, int fd, struct stat64 *st);
extern int __xstat(int ver, const char *path, struct stat *st);
extern int __xstat64(int ver, const char *path, struct stat64 *st);
extern int __lxstat(int ver, const char *path, struct stat *st);
extern int __lxstat64(int ver, const char *path, struct stat64 *st);
extern int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
extern int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
#define STAT_VER 1

struct ident {
	dev_t dev;
	ino_t ino;
	mode_t mode;
	nlink_t nlink;
};

static struct ident ref;

#define SZ(name, call, st, expect) \
	do { \
		errno = 0; \
		int r_ = (call); \
		CHECKF(r_ == 0, "%s returned %d", name, r_); \
		CHECKF((long long)(st).st_size == (expect), "%s: st_size %lld, expected %lld", name, \
		       (long long)(st).st_size, (long long)(expect)); \
		CHECKF((st).st_ino == ref.ino && (st).st_dev == ref.dev && (st).st_mode == ref.mode && \
			       (st).st_nlink == ref.nlink, \
		       "%s: identity (ino %llu dev %llu mode %o nlink %llu) differs from fstat's (%llu %llu %o %llu)", \
		       name, (unsigned long long)(st).st_ino, (unsigned long long)(st).st_dev, (st).st_mode, \
		       (unsigned long long)(st).st_nlink, (unsigned long long)ref.ino, (unsigned long long)ref.dev, \
		       ref.mode, (unsigned long long)ref.nlink); \
	} while (0)

static long long run_stat_tool(const char *path, int no_preload)
{
	int out = -1;
	char *argv[] = { (char *)"/usr/bin/stat", (char *)"-c", (char *)"%s", (char *)path, NULL };
	pid_t pid = pftest_spawn(argv, NULL, PFTEST_CAPTURE_OUT | (no_preload ? PFTEST_NO_PRELOAD : 0), NULL, &out);
	char *s = pftest_read_to_eof(out, 4096, NULL);
	close(out);
	int rc = pftest_wait(pid);
	CHECKF(rc == 0, "stat -c %%s %s (%s) exited %d", path, no_preload ? "no preload" : "under LD_PRELOAD", rc);
	char *end;
	long long v = strtoll(s, &end, 10);
	CHECKF(end != s && *end == '\n', "stat -c %%s printed \"%s\"", s);
	pftest_free(s);
	return v;
}

static long long run_child_size(const char *path)
{
	int out = -1;
	const char *args[] = { path, NULL };
	pid_t pid = pftest_spawn_self("child-size", args, NULL, PFTEST_CAPTURE_OUT | PFTEST_NO_PRELOAD, NULL, &out);
	char *s = pftest_read_to_eof(out, 4096, NULL);
	close(out);
	pftest_wait_ok(pid, "child-size");
	long long v = strtoll(s, NULL, 10);
	pftest_free(s);
	return v;
}

/* Child without the shim: stat, fstat and statx of the log-dir file must all agree; print the size. */
static int child_size(const char *path)
{
	struct stat a, b;
	struct statx x;
	CHECK(stat(path, &a) == 0);
	int fd = OK(open(path, O_RDONLY));
	CHECK(fstat(fd, &b) == 0);
	CHECK(statx(AT_FDCWD, path, 0, STATX_SIZE, &x) == 0);
	CHECK_EQ(b.st_size, a.st_size);
	CHECK_EQ(x.stx_size, a.st_size);
	CHECK_EQ(lseek(fd, 0, SEEK_END), a.st_size);
	printf("%lld\n", (long long)a.st_size);
	return 0;
}

static void check_all(const char *path, int fd, long long expect)
{
	char dir[PATH_MAX], link[PATH_MAX];
	pftest_fmt(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	*slash = 0;
	const char *base = slash + 1;
	int dfd = OK(open(dir, O_RDONLY | O_DIRECTORY));
	pftest_fmt(link, sizeof link, "%s/plain/size-link", pftest_dir());

	struct stat st;
	struct stat64 st64;
	struct statx x;
	CHECK(fstat(fd, &st) == 0);
	ref = (struct ident){ st.st_dev, st.st_ino, st.st_mode, st.st_nlink };
	CHECK(S_ISREG(ref.mode));

	SZ("fstat", fstat(fd, &st), st, expect);
	SZ("fstat64", fstat64(fd, &st64), st64, expect);
	SZ("stat", stat(path, &st), st, expect);
	SZ("stat64", stat64(path, &st64), st64, expect);
	SZ("lstat", lstat(path, &st), st, expect);
	SZ("lstat64", lstat64(path, &st64), st64, expect);
	SZ("fstatat(AT_FDCWD, path)", fstatat(AT_FDCWD, path, &st, 0), st, expect);
	SZ("fstatat(dirfd, name)", fstatat(dfd, base, &st, 0), st, expect);
	SZ("fstatat(dirfd, name, NOFOLLOW)", fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW), st, expect);
	SZ("fstatat(fd, \"\", AT_EMPTY_PATH)", fstatat(fd, "", &st, AT_EMPTY_PATH), st, expect);
	SZ("fstatat64(AT_FDCWD, path)", fstatat64(AT_FDCWD, path, &st64, 0), st64, expect);
	SZ("fstatat64(dirfd, name)", fstatat64(dfd, base, &st64, AT_SYMLINK_NOFOLLOW), st64, expect);
	SZ("fstatat64(fd, \"\", AT_EMPTY_PATH)", fstatat64(fd, "", &st64, AT_EMPTY_PATH), st64, expect);
	SZ("__fxstat", __fxstat(STAT_VER, fd, &st), st, expect);
	SZ("__fxstat64", __fxstat64(STAT_VER, fd, &st64), st64, expect);
	SZ("__xstat", __xstat(STAT_VER, path, &st), st, expect);
	SZ("__xstat64", __xstat64(STAT_VER, path, &st64), st64, expect);
	SZ("__lxstat", __lxstat(STAT_VER, path, &st), st, expect);
	SZ("__lxstat64", __lxstat64(STAT_VER, path, &st64), st64, expect);
	SZ("__fxstatat", __fxstatat(STAT_VER, AT_FDCWD, path, &st, 0), st, expect);
	SZ("__fxstatat(dirfd)", __fxstatat(STAT_VER, dfd, base, &st, AT_SYMLINK_NOFOLLOW), st, expect);
	SZ("__fxstatat64", __fxstatat64(STAT_VER, dfd, base, &st64, 0), st64, expect);
	SZ("__fxstatat64(AT_EMPTY_PATH)", __fxstatat64(STAT_VER, fd, "", &st64, AT_EMPTY_PATH), st64, expect);
	/* raw syscalls bypass every wrapper: the log-dir file itself must have the exact size */
	SZ("syscall(SYS_fstat)", (int)syscall(SYS_fstat, fd, &st), st, expect);
	SZ("syscall(SYS_newfstatat)", (int)syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0), st, expect);

	static const struct {
		int dirfd_kind; /* 0 AT_FDCWD+path, 1 dfd+base, 2 fd+"" */
		int flags;
		unsigned mask;
	} sx[] = {
		{ 0, 0, STATX_SIZE },
		{ 0, 0, STATX_BASIC_STATS | STATX_BTIME },
		{ 0, AT_SYMLINK_NOFOLLOW, STATX_ALL },
		{ 1, AT_STATX_SYNC_AS_STAT, STATX_SIZE },
		{ 2, AT_EMPTY_PATH, STATX_SIZE | STATX_MODE },
		{ 2, AT_EMPTY_PATH | AT_STATX_FORCE_SYNC, STATX_BASIC_STATS },
		{ 0, 0, STATX_MODE }, /* size not requested: the kernel fills it anyway */
	};
	for (size_t i = 0; i < sizeof sx / sizeof sx[0]; i++) {
		memset(&x, 0xEE, sizeof x);
		int d = sx[i].dirfd_kind == 0 ? AT_FDCWD : sx[i].dirfd_kind == 1 ? dfd : fd;
		const char *p = sx[i].dirfd_kind == 0 ? path : sx[i].dirfd_kind == 1 ? base : "";
		STEP("statx variant %zu (size %lld)", i, expect);
		CHECK(statx(d, p, sx[i].flags, sx[i].mask, &x) == 0);
		CHECKF(x.stx_mask & STATX_SIZE, "statx variant %zu: mask 0x%x lacks STATX_SIZE", i, x.stx_mask);
		CHECKF((long long)x.stx_size == expect, "statx variant %zu: stx_size %llu, expected %lld", i,
		       (unsigned long long)x.stx_size, expect);
		CHECK_EQ(x.stx_ino, ref.ino);
		CHECK_EQ(x.stx_mode, ref.mode);
		CHECK_EQ(x.stx_blocks * 512 < (1ULL << 40), 1);
	}
	memset(&x, 0, sizeof x);
	CHECK(syscall(SYS_statx, AT_FDCWD, path, 0, STATX_SIZE, &x) == 0);
	CHECK_EQ(x.stx_size, expect);

	STEP("through a symlink (size %lld)", expect);
	unlink(link);
	CHECK(symlink(path, link) == 0);
	SZ("stat(symlink)", stat(link, &st), st, expect);
	SZ("stat64(symlink)", stat64(link, &st64), st64, expect);
	SZ("__xstat64(symlink)", __xstat64(STAT_VER, link, &st64), st64, expect);
	CHECK(lstat(link, &st) == 0);
	CHECK(S_ISLNK(st.st_mode) && st.st_size == (off_t)strlen(path));
	CHECK(__lxstat64(STAT_VER, link, &st64) == 0);
	CHECK(S_ISLNK(st64.st_mode) && st64.st_size == (off_t)strlen(path));
	CHECK(statx(AT_FDCWD, link, AT_SYMLINK_NOFOLLOW, STATX_SIZE, &x) == 0);
	CHECK(x.stx_size == strlen(path));
	CHECK(statx(AT_FDCWD, link, 0, STATX_SIZE, &x) == 0);
	CHECK_EQ(x.stx_size, expect);
	CHECK(unlink(link) == 0);

	STEP("lseek SEEK_END (size %lld)", expect);
	long long cur = OK(lseek(fd, 0, SEEK_CUR));
	CHECK_EQ(lseek(fd, 0, SEEK_END), expect);
	CHECK_EQ(lseek64(fd, -1, SEEK_END), expect - 1);
	CHECK_EQ(lseek64(fd, 100, SEEK_END), expect + 100);
	CHECK_EQ(lseek(fd, (off_t)cur, SEEK_SET), cur);

	STEP("other processes (size %lld)", expect);
	if (access("/usr/bin/stat", X_OK) == 0) {
		CHECK_EQ(run_stat_tool(path, 0), expect);
		CHECK_EQ(run_stat_tool(path, 1), expect);
	} else {
		printf("note: /usr/bin/stat missing, skipping the stat(1) checks\n");
	}
	CHECK_EQ(run_child_size(path), expect);
	close(dfd);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("child-size"))
		return child_size(argv[2]);

	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0640) >= 0);

	STEP("empty file");
	check_all(t.m, t.fm, 0);

	STEP("appends");
	uint8_t *b = pftest_patbuf(0, 3 << 20, 1);
	CHECK_EQ(TWIN(&t, write(FD, b, (3 << 20) + 12345 - (3 << 20))), 12345);
	check_all(t.m, t.fm, 12345);
	CHECK_EQ(TWIN(&t, write(FD, b, 3 << 20)), 3 << 20);
	long long size = 12345 + (3 << 20);
	check_all(t.m, t.fm, size);

	STEP("pwrite past EOF (hole)");
	CHECK_EQ(TWIN(&t, pwrite(FD, b, 7, (off_t)size + 2 * PFTEST_BLK + 1)), 7);
	size += 2 * PFTEST_BLK + 8;
	check_all(t.m, t.fm, size);

	STEP("shrink and extend with ftruncate");
	CHECK_EQ(TWIN(&t, ftruncate(FD, 100001)), 0);
	check_all(t.m, t.fm, 100001);
	CHECK_EQ(TWIN(&t, ftruncate64(FD, 9 * PFTEST_BLK + 3)), 0);
	check_all(t.m, t.fm, 9 * PFTEST_BLK + 3);

	STEP("identity agrees with the twin");
	{
		struct stat a, c;
		CHECK(fstat(t.fm, &a) == 0 && fstat(t.fp, &c) == 0);
		CHECK_EQ(a.st_mode, c.st_mode);
		CHECK_EQ(a.st_nlink, c.st_nlink);
		CHECK_EQ(a.st_uid, c.st_uid);
		CHECK_EQ(a.st_size, c.st_size);
		CHECK(fchmod(t.fm, 0600) == 0);
		CHECK(stat(t.m, &a) == 0);
		CHECK_EQ(a.st_mode & 07777, 0600);
	}

	STEP("O_TRUNC open");
	pftest_twin_close(&t);
	CHECK(pftest_twin_open(&t, O_RDWR | O_TRUNC, 0) >= 0);
	check_all(t.m, t.fm, 0);
	CHECK_EQ(TWIN(&t, write(FD, b, 65537)), 65537);
	check_all(t.m, t.fm, 65537);
	pftest_twin_close(&t);
	pftest_free(b);
	printf("PASS\n");
	return 0;
}

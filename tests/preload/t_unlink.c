/*
 * t_unlink: unlink, unlinkat and remove of managed segments. While an fd is open the data stays readable
 * and writable through it (fstat: nlink 0, right size), also through a dup after the first fd is closed;
 * the name is gone at once (ENOENT, same as the unmanaged twin). Shim only: after the last close the pool
 * used blocks and live records drop back to what they were before the file existed; unlinking a closed file
 * frees at once. A file re-created under the same name (inode numbers get reused) starts empty and never
 * shows the old bytes, even when extended by ftruncate. Kafka's topic deletion (rename the directory to
 * -delete, remove each file, rmdir) frees everything. Errors match the twin.
 */
#include "pftest.h"

static long long U0, L0;

static void pool_back(const char *what)
{
	if (!pftest_shim_active())
		return;
	long long u = pftest_pool_used0(), l = pftest_pool_live0();
	CHECKF(u == U0 && l == L0, "%s: pool used blocks %lld (expected %lld), live records %lld (expected %lld)", what, u,
	       U0, l, L0);
}

static int mkfile(const char *path, size_t n, uint32_t seed, struct pftest_shadow *sh)
{
	int fd = OK(open(path, O_RDWR | O_CREAT | O_TRUNC, 0644));
	uint8_t *b = pftest_patbuf(0, n, seed);
	pftest_write_all(fd, b, n);
	pftest_shadow_truncate(sh, 0);
	pftest_shadow_write(sh, 0, b, n);
	pftest_free(b);
	return fd;
}

/* kind: 0 unlink, 1 unlinkat, 2 remove */
static int del(int kind, const char *path)
{
	if (kind == 0)
		return unlink(path);
	if (kind == 2)
		return remove(path);
	char d[PATH_MAX];
	pftest_fmt(d, sizeof d, "%s", path);
	char *s = strrchr(d, '/');
	*s = 0;
	int dfd = OK(open(d, O_RDONLY | O_DIRECTORY));
	int r = unlinkat(dfd, s + 1, 0);
	int e = errno;
	close(dfd);
	errno = e;
	return r;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	char a[PATH_MAX], ta[PATH_MAX];
	pftest_mpath(a, "topic-0", PFTEST_SEG0);
	pftest_ppath(ta, "topic-0", PFTEST_SEG0);
	U0 = pftest_pool_used0();
	L0 = pftest_pool_live0();
	struct pftest_shadow sh = { 0 };
	uint8_t *buf = pftest_xmalloc(4 << 20);
	static const char *kn[] = { "unlink", "unlinkat", "remove" };

	for (int kind = 0; kind < 3; kind++) {
		STEP("%s while open", kn[kind]);
		int fd = mkfile(a, 2 * PFTEST_MIB + 3, 1 + (uint32_t)kind, &sh);
		int tfd = mkfile(ta, 2 * PFTEST_MIB + 3, 1 + (uint32_t)kind, &sh);
		pftest_check_sparse(a, 2 * PFTEST_MIB + 3);
		CHECK_EQ(SAME(del(kind, a), del(kind, ta)), 0);
		struct stat st;
		CHECK_EQ(SAME(stat(a, &st), stat(ta, &st)), -1);
		CHECK_EQ(errno, ENOENT);
		CHECK_EQ(SAME(open(a, O_RDONLY), open(ta, O_RDONLY)), -1);
		CHECK(fstat(fd, &st) == 0);
		CHECK_EQ(st.st_nlink, 0);
		CHECK_EQ(st.st_size, sh.size);
		pftest_check_fd(fd, &sh, "unlinked file through its fd");
		/* still writable */
		uint8_t *b = pftest_patbuf(sh.size, PFTEST_BLK + 5, 10);
		CHECK_EQ(lseek(fd, 0, SEEK_END), sh.size);
		pftest_write_all(fd, b, PFTEST_BLK + 5);
		pftest_shadow_write(&sh, sh.size, b, PFTEST_BLK + 5);
		pftest_pwrite_all(fd, b, 100, 7);
		pftest_shadow_write(&sh, 7, b, 100);
		pftest_free(b);
		pftest_check_fd(fd, &sh, "unlinked file after writes");
		int d = OK(dup(fd));
		CHECK(close(fd) == 0);
		pftest_check_fd(d, &sh, "dup of the unlinked file");
		if (pftest_shim_active())
			CHECKF(pftest_pool_used0() > U0, "pool blocks of an unlinked file freed while an fd is open (%lld)",
			       pftest_pool_used0());
		CHECK(close(d) == 0);
		CHECK(close(tfd) == 0);
		pool_back("after the last close of an unlinked file");
	}

	STEP("unlink of a closed file frees at once");
	for (int kind = 0; kind < 3; kind++) {
		int fd = mkfile(a, 3 * PFTEST_BLK + 1, 20 + (uint32_t)kind, &sh);
		CHECK(close(fd) == 0);
		if (pftest_shim_active())
			CHECK(pftest_pool_used0() >= U0 + 4);
		CHECK(del(kind, a) == 0);
		pool_back("after unlinking a closed file");
	}

	STEP("re-created files start empty");
	for (int i = 0; i < 10; i++) {
		int fd = mkfile(a, 3 * PFTEST_BLK + 100, 30 + (uint32_t)i, &sh);
		int keep = i % 2 ? fd : -1;
		if (keep < 0)
			CHECK(close(fd) == 0);
		CHECK(unlink(a) == 0);
		int nfd = OK(open(a, O_RDWR | O_CREAT | O_EXCL, 0644));
		CHECK_EQ(pftest_fsize(nfd), 0);
		CHECK_EQ(pread(nfd, buf, 100, 0), 0);
		CHECK(ftruncate(nfd, 4 * PFTEST_BLK) == 0);
		struct pftest_shadow z = { 0 };
		pftest_shadow_truncate(&z, 4 * PFTEST_BLK);
		pftest_check_fd(nfd, &z, "re-created file extended with ftruncate");
		uint8_t *b = pftest_patbuf(PFTEST_BLK, 10, 40 + (uint32_t)i);
		pftest_pwrite_all(nfd, b, 10, PFTEST_BLK);
		pftest_shadow_write(&z, PFTEST_BLK, b, 10);
		pftest_free(b);
		pftest_check_path(a, &z);
		if (keep >= 0) {
			pftest_check_fd(keep, &sh, "old file's fd after re-creation");
			CHECK(close(keep) == 0);
			pftest_check_path(a, &z);
		}
		CHECK(close(nfd) == 0);
		CHECK(unlink(a) == 0);
		pftest_shadow_free(&z);
	}
	pool_back("after the re-creation rounds");

	STEP("topic deletion: rename dir to -delete, remove files, rmdir");
	{
		char d[PATH_MAX], nd[PATH_MAX], f[PATH_MAX];
		int fds[4];
		for (int i = 0; i < 4; i++) {
			char name[64];
			pftest_fmt(name, sizeof name, "%020d.log", i * 1000);
			fds[i] = mkfile(pftest_mpath(f, "topic-7", name), PFTEST_MIB / 2 + (size_t)i, 50 + (uint32_t)i, &sh);
			pftest_mpath(f, "topic-7", i % 2 ? "00000000000000000000.index" : "00000000000000000000.timeindex");
			int x = OK(open(f, O_RDWR | O_CREAT, 0644));
			CHECK(ftruncate(x, 10 << 20) == 0 && close(x) == 0);
		}
		pftest_fmt(d, sizeof d, "%s/logs/topic-7", pftest_dir());
		pftest_fmt(nd, sizeof nd, "%s/logs/topic-7.%s-delete", pftest_dir(), "00112233445566778899aabbccddeeff");
		CHECK(close(fds[0]) == 0 && close(fds[1]) == 0);
		CHECK(rename(d, nd) == 0);
		DIR *dir = opendir(nd);
		CHECK(dir != NULL);
		struct dirent *e;
		int n = 0;
		while ((e = readdir(dir)) != NULL && n < 100) {
			if (e->d_name[0] == '.')
				continue;
			pftest_fmt(f, sizeof f, "%s/%s", nd, e->d_name);
			CHECK(n % 2 ? remove(f) == 0 : unlinkat(dirfd(dir), e->d_name, 0) == 0);
			n++;
		}
		closedir(dir);
		CHECK_EQ(n, 6);
		CHECK(rmdir(nd) == 0);
		CHECK(fstat(fds[2], &(struct stat){ 0 }) == 0);
		CHECK(close(fds[2]) == 0 && close(fds[3]) == 0);
		pool_back("after deleting a topic directory");
	}

	STEP("errors");
	{
		char m[PATH_MAX], p[PATH_MAX];
		pftest_mpath(m, "topic-0", "00000000000000000042.log");
		pftest_ppath(p, "topic-0", "00000000000000000042.log");
		CHECK_EQ(SAME(unlink(m), unlink(p)), -1);
		CHECK_EQ(errno, ENOENT);
		CHECK_EQ(SAME(remove(m), remove(p)), -1);
		CHECK_EQ(SAME(unlinkat(AT_FDCWD, m, 0), unlinkat(AT_FDCWD, p, 0)), -1);
		int fm = OK(open(m, O_RDWR | O_CREAT, 0644)), fp = OK(open(p, O_RDWR | O_CREAT, 0644));
		CHECK_EQ(SAME(unlinkat(AT_FDCWD, m, AT_REMOVEDIR), unlinkat(AT_FDCWD, p, AT_REMOVEDIR)), -1); /* ENOTDIR */
		CHECK_EQ(SAME(unlinkat(AT_FDCWD, m, 0x12345), unlinkat(AT_FDCWD, p, 0x12345)), -1);           /* EINVAL */
		char dm[PATH_MAX], dp[PATH_MAX];
		pftest_fmt(dm, sizeof dm, "%s/logs/topic-0", pftest_dir());
		pftest_fmt(dp, sizeof dp, "%s/plain/topic-0", pftest_dir());
		CHECK_EQ(SAME(unlink(dm), unlink(dp)), -1); /* EISDIR */
		CHECK_EQ(SAME(remove(dm), remove(dp)), -1); /* ENOTEMPTY */
		CHECK_EQ(SAME(unlink(m), unlink(p)), 0);
		CHECK(close(fm) == 0 && close(fp) == 0);
	}
	pool_back("at the end");
	pftest_free(buf);
	printf("PASS\n");
	return 0;
}

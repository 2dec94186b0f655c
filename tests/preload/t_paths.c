/*
 * t_paths: one managed segment reached through every spelling of its path must show the same bytes, and
 * writes through any spelling land in the same file: absolute, relative to the cwd (after chdir into the log
 * dir and into the partition), "./name", "topic-0/../topic-0/name", "//" and "/./" components, openat with
 * a directory fd (and openat64, an O_PATH fd, an absolute path ignoring the dirfd), and with
 * open/open64/openat/openat64/creat/creat64. (Symlinks, hard links and /proc/self/fd are t_aliases.) Shim only: data written through any spelling stays in the
 * pool (the log-dir file stays sparse). Error spellings (trailing slash, O_DIRECTORY) match the twin.
 */
#include "pftest.h"

static struct pftest_shadow sh;
static char abs_path[PATH_MAX];

/* write n pattern bytes at off through fd, then check the file through a fresh absolute open */
static void write_via(int fd, uint64_t off, size_t n, uint32_t seed, const char *how)
{
	STEP("write %zu at %llu via %s", n, (unsigned long long)off, how);
	uint8_t *b = pftest_patbuf(off, n, seed);
	pftest_pwrite_all(fd, b, n, (off_t)off);
	pftest_shadow_write(&sh, off, b, n);
	pftest_free(b);
	pftest_check_fd(fd, &sh, how);
	pftest_check_path(abs_path, &sh);
}

static int open_kind(int kind, int dirfd, const char *p, int flags)
{
	switch (kind) {
	case 0: return open(p, flags, 0644);
	case 1: return open64(p, flags, 0644);
	case 2: return openat(dirfd, p, flags, 0644);
	case 3: return openat64(dirfd, p, flags, 0644);
	case 4: return (flags & O_ACCMODE) == O_WRONLY || !(flags & O_CREAT) ? open(p, flags) : creat(p, 0644);
	default: return creat64(p, 0644);
	}
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	const char *D = pftest_dir();
	pftest_mpath(abs_path, "topic-0", PFTEST_SEG0);
	char p[PATH_MAX], q[PATH_MAX];
	uint32_t seed = 1;
	pftest_mkdirs(pftest_fmt(p, sizeof p, "%s/plain", D));

	STEP("create through the absolute path");
	int fd = OK(open(abs_path, O_RDWR | O_CREAT, 0644));
	write_via(fd, 0, 2 * PFTEST_MIB + 1, seed++, "absolute");
	CHECK(close(fd) == 0);

	const char *spell[] = { "%s/logs/topic-0/" PFTEST_SEG0,    "%s/logs//topic-0//" PFTEST_SEG0,
				"%s/logs/./topic-0/./" PFTEST_SEG0, "%s/logs/topic-0/../topic-0/" PFTEST_SEG0,
				"%s//logs/topic-0/" PFTEST_SEG0,   "%s/plain/../logs/topic-0/" PFTEST_SEG0, NULL };
	for (int i = 0; spell[i]; i++) {
		pftest_fmt(p, sizeof p, spell[i], D);
		STEP("spelling %s", p);
		pftest_check_path(p, &sh);
		fd = OK(open(p, O_RDWR));
		write_via(fd, (uint64_t)i * 100000 + 3, 70001, seed++, p);
		CHECK(close(fd) == 0);
	}

	STEP("relative to the cwd");
	char old[PATH_MAX];
	CHECK(getcwd(old, sizeof old) != NULL);
	pftest_fmt(p, sizeof p, "%s/logs", D);
	CHECK(chdir(p) == 0);
	static const char *rel1[] = { "topic-0/" PFTEST_SEG0, "./topic-0/" PFTEST_SEG0, "topic-0/./" PFTEST_SEG0, NULL };
	for (int i = 0; rel1[i]; i++) {
		pftest_check_path(rel1[i], &sh);
		fd = OK(open(rel1[i], O_RDWR));
		write_via(fd, sh.size, 5000 + (size_t)i, seed++, rel1[i]);
		CHECK(close(fd) == 0);
	}
	CHECK(chdir("topic-0") == 0);
	static const char *rel2[] = { PFTEST_SEG0, "./" PFTEST_SEG0, "../topic-0/" PFTEST_SEG0, NULL };
	for (int i = 0; rel2[i]; i++) {
		pftest_check_path(rel2[i], &sh);
		for (int kind = 0; kind < 4; kind++) {
			fd = OK(open_kind(kind, AT_FDCWD, rel2[i], O_RDWR | O_CREAT));
			write_via(fd, PFTEST_BLK * (uint64_t)(kind + 1) - 7, 999, seed++, rel2[i]);
			CHECK(close(fd) == 0);
		}
	}
	STEP("a relative path after the cwd moves away");
	fd = OK(open(PFTEST_SEG0, O_RDWR));
	CHECK(chdir(old) == 0);
	write_via(fd, 1, 10, seed++, "fd opened relative, cwd changed since");
	CHECK(close(fd) == 0);

	STEP("openat / openat64 with a directory fd");
	pftest_fmt(p, sizeof p, "%s/logs/topic-0", D);
	int dfd = OK(open(p, O_RDONLY | O_DIRECTORY));
	pftest_fmt(p, sizeof p, "%s/logs", D);
	int lfd = OK(open(p, O_RDONLY | O_DIRECTORY | O_PATH));
	for (int kind = 2; kind < 4; kind++) {
		fd = OK(open_kind(kind, dfd, PFTEST_SEG0, O_RDWR));
		write_via(fd, sh.size - 3, 77777, seed++, "openat(topic dir fd)");
		CHECK(close(fd) == 0);
		fd = OK(open_kind(kind, lfd, "topic-0/" PFTEST_SEG0, O_RDWR));
		write_via(fd, 12345, 3, seed++, "openat(log dir O_PATH fd)");
		CHECK(close(fd) == 0);
		fd = OK(open_kind(kind, lfd, abs_path, O_RDWR)); /* absolute path ignores the dirfd */
		write_via(fd, 54321, 3, seed++, "openat(dirfd, absolute)");
		CHECK(close(fd) == 0);
	}
	CHECK(close(dfd) == 0 && close(lfd) == 0);

	STEP("creat / creat64 truncate");
	{
		pftest_fmt(p, sizeof p, "%s/logs/topic-1/%s", D, PFTEST_SEG0);
		pftest_mkdirs(pftest_fmt(q, sizeof q, "%s/logs/topic-1", D));
		struct pftest_shadow s2 = { 0 };
		for (int kind = 4; kind < 6; kind++) {
			fd = OK(open(p, O_RDWR | O_CREAT, 0644));
			uint8_t *b = pftest_patbuf(0, 100000, 50);
			pftest_write_all(fd, b, 100000);
			CHECK(close(fd) == 0);
			fd = OK(open_kind(kind, AT_FDCWD, p, O_WRONLY | O_CREAT | O_TRUNC));
			CHECK_EQ(pftest_fsize(fd), 0);
			pftest_write_all(fd, b, 70000);
			CHECK(close(fd) == 0);
			pftest_shadow_truncate(&s2, 0);
			pftest_shadow_write(&s2, 0, b, 70000);
			pftest_check_path(p, &s2);
			pftest_free(b);
		}
		pftest_check_sparse(p, 70000);
		pftest_shadow_free(&s2);
	}

	STEP("error spellings match the twin");
	{
		char m[PATH_MAX + 8], t[PATH_MAX + 8], tw[PATH_MAX];
		pftest_ppath(tw, "topic-0", PFTEST_SEG0);
		int x = OK(open(tw, O_RDWR | O_CREAT, 0644));
		CHECK(close(x) == 0);
		pftest_fmt(m, sizeof m, "%s/", abs_path);
		pftest_fmt(t, sizeof t, "%s/", tw);
		CHECK_EQ(SAME(open(m, O_RDONLY), open(t, O_RDONLY)), -1);
		CHECK_EQ(SAME(open(abs_path, O_RDONLY | O_DIRECTORY), open(tw, O_RDONLY | O_DIRECTORY)), -1);
		pftest_fmt(m, sizeof m, "%s/x", abs_path);
		pftest_fmt(t, sizeof t, "%s/x", tw);
		CHECK_EQ(SAME(open(m, O_RDWR | O_CREAT, 0644), open(t, O_RDWR | O_CREAT, 0644)), -1);
	}
	pftest_check_path(abs_path, &sh);
	pftest_check_sparse(abs_path, (long long)sh.size);
	printf("PASS\n");
	return 0;
}

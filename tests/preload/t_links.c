/*
 * t_links: a pool-resident segment reached through a link whose own name is not a segment name, the link
 * made under the shim, shows the segment's bytes, and writes through it land in the same file.
 *   a. hard links: link() to a non-segment name in the partition directory, and linkat() (directory fds)
 *      to a name outside the log dirs;
 *   b. symbolic links: symlink() with a non-segment name outside the log dirs, symlinkat() (directory fd),
 *      and a relative symlink inside the partition directory.
 * Each variant starts from a fresh segment whose bytes are in the pool, and runs on it and on its
 * unmanaged twin (the same names under plain/). Through the link: every byte, a pwrite across the end, an
 * O_APPEND write; then every byte through the link's descriptors, the segment's name, sizes everywhere;
 * a fresh process under the shim that opens only the link and the segment's name must read the same bytes
 * through both; and the kernel's own view (raw system calls, a process without the shim) must hold them
 * too: the shim moves the bytes of a file linked under it to the real file for good.
 */
#include "pftest.h"

enum kind { HARD_LINK, HARD_LINKAT, SYM_LINK, SYM_LINKAT, SYM_RELATIVE };
static const char *kind_name[] = { "link()", "linkat()", "symlink()", "symlinkat()", "relative symlink()" };

static uint32_t seed = 1;

/* Make the link of the kind from seg to the name link_name (in link_dir); returns its path in out. */
static void make_link(enum kind k, const char *seg, const char *seg_dir, const char *link_dir, const char *link_name,
		      char *out)
{
	pftest_mkdirs(link_dir);
	pftest_fmt(out, PATH_MAX, "%s/%s", link_dir, link_name);
	int dfd = OK(open(link_dir, O_RDONLY | O_DIRECTORY));
	int sfd = OK(open(seg_dir, O_RDONLY | O_DIRECTORY));
	const char *base = strrchr(seg, '/') + 1;
	switch (k) {
	case HARD_LINK:
		CHECK(link(seg, out) == 0);
		break;
	case HARD_LINKAT:
		CHECK(linkat(sfd, base, dfd, link_name, 0) == 0);
		break;
	case SYM_LINK:
		CHECK(symlink(seg, out) == 0);
		break;
	case SYM_LINKAT:
		CHECK(symlinkat(seg, dfd, link_name) == 0);
		break;
	case SYM_RELATIVE:
		CHECK(symlink(base, out) == 0); /* link_dir is the segment's own directory */
		break;
	}
	CHECK(close(dfd) == 0 && close(sfd) == 0);
}

/* A fresh process under the shim: the link and the segment's name give the same size and bytes. */
static int child_same(const char *link, const char *seg)
{
	STEP("fresh process: %s and %s", link, seg);
	int a = OK(open(link, O_RDONLY)), b = OK(open(seg, O_RDONLY));
	long long n = pftest_fsize(b);
	CHECK_EQ(pftest_fsize(a), n);
	uint8_t *x = pftest_xmalloc((size_t)n + 1), *y = pftest_xmalloc((size_t)n + 1);
	CHECK_EQ(pread(b, y, (size_t)n + 1, 0), n);
	CHECK_EQ(pread(a, x, (size_t)n + 1, 0), n);
	pftest_cmp("read through the link vs through the segment's name (fresh process)", x, y, (size_t)n, 0);
	pftest_free(x);
	pftest_free(y);
	return 0;
}

static void variant(int i, enum kind k)
{
	const char *D = pftest_dir();
	char topic[32], link_m[PATH_MAX], link_p[PATH_MAX], dir_m[PATH_MAX], dir_p[PATH_MAX], ld_m[PATH_MAX],
		ld_p[PATH_MAX];
	pftest_fmt(topic, sizeof topic, "topic-%d", i);
	struct pftest_twin t;
	pftest_twin_init(&t, topic, PFTEST_SEG0);
	pftest_fmt(dir_m, sizeof dir_m, "%s/logs/%s", D, topic);
	pftest_fmt(dir_p, sizeof dir_p, "%s/plain/%s", D, topic);

	STEP("%s: a pool-resident segment", kind_name[k]);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	uint64_t size = PFTEST_MIB + 3 * PFTEST_BLK + 17;
	uint8_t *b = pftest_patbuf(0, size, seed++);
	CHECK_EQ(TWIN(&t, write(FD, b, size)), size);
	pftest_shadow_write(&t.sh, 0, b, size);
	pftest_free(b);
	pftest_check_sparse(t.m, (long long)size);

	STEP("%s: make the link", kind_name[k]);
	const char *name = "alias.bin";
	if (k == HARD_LINK) {
		pftest_fmt(ld_m, sizeof ld_m, "%s", dir_m); /* in the partition directory, a non-segment name */
		pftest_fmt(ld_p, sizeof ld_p, "%s", dir_p);
		name = "00000000000000000000.log.bak";
	} else if (k == SYM_RELATIVE) {
		pftest_fmt(ld_m, sizeof ld_m, "%s", dir_m);
		pftest_fmt(ld_p, sizeof ld_p, "%s", dir_p);
		name = "current.lnk";
	} else {
		pftest_fmt(ld_m, sizeof ld_m, "%s/plain/links-%d", D, i); /* outside the log dirs */
		pftest_fmt(ld_p, sizeof ld_p, "%s/plain/twinlinks-%d", D, i);
	}
	make_link(k, t.m, dir_m, ld_m, name, link_m);
	make_link(k, t.p, dir_p, ld_p, name, link_p);

	STEP("%s: read through %s", kind_name[k], link_m);
	pftest_check_path(link_p, &t.sh);
	pftest_check_path(link_m, &t.sh);

	STEP("%s: pwrite across the end through the link", kind_name[k]);
	int lm = OK(open(link_m, O_RDWR)), lp = OK(open(link_p, O_RDWR));
	uint64_t off = t.sh.size - 5;
	b = pftest_patbuf(off, PFTEST_BLK + 9, seed++);
	CHECK_EQ(SAME(pwrite(lm, b, PFTEST_BLK + 9, (off_t)off), pwrite(lp, b, PFTEST_BLK + 9, (off_t)off)),
		 PFTEST_BLK + 9);
	pftest_shadow_write(&t.sh, off, b, PFTEST_BLK + 9);
	pftest_free(b);

	STEP("%s: O_APPEND write through the link", kind_name[k]);
	int am = OK(open(link_m, O_WRONLY | O_APPEND)), ap = OK(open(link_p, O_WRONLY | O_APPEND));
	off = t.sh.size;
	b = pftest_patbuf(off, 1000, seed++);
	CHECK_EQ(SAME(write(am, b, 1000), write(ap, b, 1000)), 1000);
	pftest_shadow_write(&t.sh, off, b, 1000);
	pftest_free(b);

	STEP("%s: a write through the segment's own descriptor", kind_name[k]);
	b = pftest_patbuf(100, 2 * PFTEST_BLK, seed++);
	CHECK_EQ(TWIN(&t, pwrite(FD, b, 2 * PFTEST_BLK, 100)), 2 * PFTEST_BLK);
	pftest_shadow_write(&t.sh, 100, b, 2 * PFTEST_BLK);
	pftest_free(b);

	STEP("%s: every descriptor and name", kind_name[k]);
	pftest_check_fd(lp, &t.sh, "twin link fd");
	pftest_check_fd(lm, &t.sh, "link fd");
	CHECK_EQ(SAME(lseek(am, 0, SEEK_CUR), lseek(ap, 0, SEEK_CUR)), off + 1000);
	pftest_check_sizes(lm, t.m, (long long)t.sh.size);
	pftest_twin_check(&t);
	pftest_check_path(link_m, &t.sh);
	CHECK(close(lm) == 0 && close(lp) == 0 && close(am) == 0 && close(ap) == 0);
	pftest_twin_close(&t);

	STEP("%s: a fresh process under the shim", kind_name[k]);
	const char *args[] = { link_m, t.m, NULL };
	pid_t pid = pftest_spawn_self("same", args, NULL, 0, NULL, NULL);
	pftest_wait_ok(pid, "fresh process reading the link");

	STEP("%s: the kernel's view of the link (raw system calls, a process without the shim)", kind_name[k]);
	pftest_check_path_raw(link_m, &t.sh);
	pftest_check_path_nopreload(link_m, &t.sh);
	pftest_check_path_nopreload(t.m, &t.sh);
	pftest_shadow_free(&t.sh);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("same"))
		return child_same(argv[2], argv[3]);
	/* by hand, "t_links 2" runs one variant (0 link, 1 linkat, 2 symlink, 3 symlinkat, 4 relative) */
	for (int k = HARD_LINK; k <= SYM_RELATIVE; k++)
		if (argc < 2 || atoi(argv[1]) == k)
			variant(k, (enum kind)k);
	printf("PASS\n");
	return 0;
}

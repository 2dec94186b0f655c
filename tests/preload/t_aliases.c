/*
 * t_aliases: the bytes belong to the file (the inode), not to a name. A managed segment reached through a
 * name that does not look managed must show the same bytes, and writes through it must land in the same
 * file: a symlink to the log dir, a symlinked partition directory, a symlink to the file from outside the
 * log dir (symlink() and symlinkat()), a hard link outside the log dir (link() and linkat()), a hard link
 * with a non-segment name in the partition directory, /proc/self/fd/N; a segment renamed to a non-segment
 * name (and out of the log dir) and back; and the reverse, an ordinary file with data renamed onto a
 * segment name. Every link here is made under the shim (which moves the file's bytes to the real file for
 * good when it sees one). These go beyond what Kafka does (it always uses its log.dirs paths) but not
 * beyond what a tool, an operator or a log.dirs entry that is itself a symlink can do.
 */
#include "pftest.h"

static struct pftest_shadow sh;
static char seg[PATH_MAX];
static uint32_t seed = 1;

/* through path: check the bytes, write some, check again through the segment's own path */
static void via(const char *path, const char *how)
{
	STEP("%s: read via %s", how, path);
	pftest_check_path(path, &sh);
	int fd = OK(open(path, O_RDWR));
	uint64_t off = sh.size - 5;
	uint8_t *b = pftest_patbuf(off, PFTEST_BLK + 9, seed++);
	STEP("%s: write via %s", how, path);
	pftest_pwrite_all(fd, b, PFTEST_BLK + 9, (off_t)off);
	pftest_shadow_write(&sh, off, b, PFTEST_BLK + 9);
	pftest_free(b);
	pftest_check_fd(fd, &sh, how);
	CHECK(close(fd) == 0);
	pftest_check_path(seg, &sh);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	const char *D = pftest_dir();
	char p[PATH_MAX], q[PATH_MAX];
	pftest_mpath(seg, "topic-0", PFTEST_SEG0);
	pftest_mkdirs(pftest_fmt(p, sizeof p, "%s/plain", D));
	int fd = OK(open(seg, O_RDWR | O_CREAT, 0644));
	uint8_t *b = pftest_patbuf(0, 2 * PFTEST_MIB + 3, seed++);
	pftest_write_all(fd, b, 2 * PFTEST_MIB + 3);
	pftest_shadow_write(&sh, 0, b, 2 * PFTEST_MIB + 3);
	pftest_free(b);

	STEP("/proc/self/fd/N");
	pftest_fmt(p, sizeof p, "/proc/self/fd/%d", fd);
	via(p, "/proc/self/fd");
	CHECK(close(fd) == 0);

	STEP("symlink to the log dir");
	CHECK(symlink(pftest_fmt(p, sizeof p, "%s/logs", D), pftest_fmt(q, sizeof q, "%s/linklogs", D)) == 0);
	via(pftest_fmt(p, sizeof p, "%s/linklogs/topic-0/%s", D, PFTEST_SEG0), "symlinked log dir");

	STEP("symlinked partition directory");
	CHECK(symlink(pftest_fmt(p, sizeof p, "%s/logs/topic-0", D), pftest_fmt(q, sizeof q, "%s/plain/topiclink", D)) == 0);
	via(pftest_fmt(p, sizeof p, "%s/plain/topiclink/%s", D, PFTEST_SEG0), "symlinked partition dir");

	STEP("symlink to the file from outside the log dir");
	CHECK(symlink(seg, pftest_fmt(q, sizeof q, "%s/plain/alias.bin", D)) == 0);
	via(q, "file symlink");

	STEP("symlinkat to the file from outside the log dir");
	{
		int dfd = OK(open(pftest_fmt(p, sizeof p, "%s/plain", D), O_RDONLY | O_DIRECTORY));
		CHECK(symlinkat(seg, dfd, "alias-at.bin") == 0);
		CHECK(close(dfd) == 0);
		via(pftest_fmt(q, sizeof q, "%s/plain/alias-at.bin", D), "file symlinkat");
	}

	STEP("hard link outside the log dir");
	CHECK(link(seg, pftest_fmt(q, sizeof q, "%s/plain/hardlink.bin", D)) == 0);
	via(q, "hard link");
	CHECK(unlink(q) == 0);

	STEP("hard link made with linkat outside the log dir");
	{
		int sfd = OK(open(pftest_fmt(p, sizeof p, "%s/logs/topic-0", D), O_RDONLY | O_DIRECTORY));
		int dfd = OK(open(pftest_fmt(p, sizeof p, "%s/plain", D), O_RDONLY | O_DIRECTORY));
		CHECK(linkat(sfd, PFTEST_SEG0, dfd, "hardlink-at.bin", 0) == 0);
		CHECK(close(sfd) == 0 && close(dfd) == 0);
		via(pftest_fmt(q, sizeof q, "%s/plain/hardlink-at.bin", D), "hard link (linkat)");
		CHECK(unlink(q) == 0);
	}

	STEP("hard link with a non-segment name in the partition directory");
	pftest_mpath(q, "topic-0", "00000000000000000000.log.bak");
	CHECK(link(seg, q) == 0);
	via(q, "hard link in the partition dir");
	CHECK(unlink(q) == 0);

	STEP("renamed to a non-segment name in the partition dir, and back");
	pftest_mpath(p, "topic-0", "00000000000000000000.log.bak");
	CHECK(rename(seg, p) == 0);
	pftest_check_path(p, &sh);
	CHECK(rename(p, seg) == 0);
	via(seg, "after .bak and back");

	STEP("moved out of the log dir, and back");
	pftest_fmt(q, sizeof q, "%s/plain/moved.log", D);
	CHECK(rename(seg, q) == 0);
	pftest_check_path(q, &sh);
	fd = OK(open(q, O_RDWR | O_APPEND));
	b = pftest_patbuf(sh.size, 1000, seed++);
	pftest_write_all(fd, b, 1000);
	pftest_shadow_write(&sh, sh.size, b, 1000);
	pftest_free(b);
	CHECK(close(fd) == 0);
	pftest_check_path(q, &sh);
	CHECK(rename(q, seg) == 0);
	via(seg, "after a trip out of the log dir");

	STEP("an ordinary file renamed onto a segment name");
	{
		struct pftest_shadow s2 = { 0 };
		pftest_mpath(p, "topic-0", "import.tmp");
		pftest_mpath(q, "topic-0", "00000000000000000500.log");
		fd = OK(open(p, O_RDWR | O_CREAT, 0644));
		b = pftest_patbuf(0, PFTEST_MIB + 1, seed++);
		pftest_write_all(fd, b, PFTEST_MIB + 1);
		pftest_shadow_write(&s2, 0, b, PFTEST_MIB + 1);
		pftest_free(b);
		CHECK(close(fd) == 0);
		CHECK(rename(p, q) == 0);
		pftest_check_path(q, &s2);
		fd = OK(open(q, O_RDWR));
		CHECK_EQ(lseek(fd, 0, SEEK_END), s2.size);
		b = pftest_patbuf(s2.size, 2 * PFTEST_BLK, seed++);
		pftest_write_all(fd, b, 2 * PFTEST_BLK);
		pftest_shadow_write(&s2, s2.size, b, 2 * PFTEST_BLK);
		pftest_pwrite_all(fd, b, 100, 5);
		pftest_shadow_write(&s2, 5, b, 100);
		pftest_free(b);
		pftest_check_fd(fd, &s2, "renamed-in file");
		CHECK(close(fd) == 0);
		pftest_check_path(q, &s2);
		pftest_shadow_free(&s2);
	}
	pftest_check_path(seg, &sh);
	printf("PASS\n");
	return 0;
}

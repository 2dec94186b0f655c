/*
 * t_exec: managed fds inherited across execve. The process writes a managed segment, leaves one fd open
 * (file offset in the middle) and one O_CLOEXEC fd, then execs itself in place (same pid, LD_PRELOAD kept).
 * The new image must find the inherited fd working: fstat size, read at the inherited offset, the
 * pool-resident bytes, appends; and the O_CLOEXEC fd must be gone (EBADF). A dup of the inherited fd made
 * after exec shares the offset. Also an fd made close-on-exec later with fcntl(F_SETFD).
 */
#include "pftest.h"

#define SIZE1 (3 * PFTEST_MIB + 4321)
#define OFF1 (PFTEST_BLK * 5 + 77)

static int phase2(char **argv)
{
	int fd = atoi(argv[2]), cfd = atoi(argv[3]), sfd = atoi(argv[4]);
	const char *path = argv[5];
	STEP("after exec: the close-on-exec fds are closed");
	FAILS(fcntl(cfd, F_GETFD), EBADF);
	FAILS(fcntl(sfd, F_GETFD), EBADF);
	STEP("after exec: the inherited fd");
	CHECK_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	CHECK_EQ(pftest_fsize(fd), SIZE1);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), OFF1);
	struct pftest_shadow sh = { 0 };
	pftest_shadow_pat(&sh, 0, SIZE1, 1);
	uint8_t *buf = pftest_xmalloc(SIZE1);
	CHECK_EQ(read(fd, buf, 100000), 100000);
	pftest_cmp("read at the inherited offset", buf, sh.b + OFF1, 100000, OFF1);
	int d = OK(dup(fd));
	CHECK_EQ(lseek(d, 0, SEEK_CUR), OFF1 + 100000);
	pftest_check_fd(fd, &sh, "inherited fd after exec");
	STEP("after exec: append through the inherited fd");
	CHECK_EQ(lseek(d, 0, SEEK_END), SIZE1);
	uint8_t *b = pftest_patbuf(SIZE1, 2 * PFTEST_BLK + 3, 2);
	pftest_write_all(fd, b, 2 * PFTEST_BLK + 3);
	pftest_shadow_write(&sh, SIZE1, b, 2 * PFTEST_BLK + 3);
	pftest_free(b);
	pftest_check_fd(d, &sh, "dup of the inherited fd");
	pftest_check_path(path, &sh);
	CHECK(close(fd) == 0 && close(d) == 0);
	pftest_check_path(path, &sh);
	pftest_check_sparse(path, (long long)sh.size);
	pftest_free(buf);
	printf("PASS\n");
	return 0;
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	if (pftest_role("phase2"))
		return phase2(argv);

	char path[PATH_MAX], path2[PATH_MAX];
	pftest_mpath(path, "topic-0", PFTEST_SEG0);
	pftest_mpath(path2, "topic-0", "00000000000000000500.log");
	STEP("write the segment");
	int fd = OK(open(path, O_RDWR | O_CREAT, 0644));
	uint8_t *b = pftest_patbuf(0, SIZE1, 1);
	pftest_write_all(fd, b, SIZE1);
	pftest_free(b);
	CHECK_EQ(lseek(fd, OFF1, SEEK_SET), OFF1);
	int cfd = OK(open(path2, O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	pftest_write_all(cfd, "abc", 3);
	int sfd = OK(open(path2, O_RDONLY));
	CHECK(fcntl(sfd, F_SETFD, FD_CLOEXEC) == 0);

	char a1[16], a2[16], a3[16];
	pftest_fmt(a1, sizeof a1, "%d", fd);
	pftest_fmt(a2, sizeof a2, "%d", cfd);
	pftest_fmt(a3, sizeof a3, "%d", sfd);
	char *nargv[] = { (char *)"/proc/self/exe", (char *)"phase2", a1, a2, a3, path, NULL };
	fflush(stdout);
	execv(nargv[0], nargv);
	CHECK(!"execv failed");
	return 1;
}

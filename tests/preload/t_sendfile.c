/*
 * t_sendfile: sendfile/sendfile64 from a managed segment (vs the unmanaged twin) to a blocking AF_UNIX
 * socketpair and a TCP connection on 127.0.0.1: bytes, return values, the offset pointer updated and the
 * file offset untouched; a NULL offset uses and advances the file offset; counts beyond EOF are short;
 * offset at/after EOF returns 0; non-blocking sockets: a full buffer gives -1/EAGAIN with nothing sent,
 * a partly full one a partial count with exactly that many bytes delivered; sendfile into a pipe; the
 * JDK 21 transferTo sequence (copy_file_range to the socket fails with EINVAL, then sendfile64); errors.
 */
#include "pftest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#define FSIZE (3 * PFTEST_MIB + 4321)
static struct pftest_shadow sh;

/* sender, receiver */
static void unix_pair(int *s, int *r)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	*s = sv[0];
	*r = sv[1];
}

static void tcp_pair(int *s, int *r, int small)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(l >= 0);
	int one = 1, v = 4096;
	CHECK(setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
	if (small)
		CHECK(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(l, 1) == 0);
	socklen_t al = sizeof a;
	CHECK(getsockname(l, (struct sockaddr *)&a, &al) == 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	if (small)
		CHECK(setsockopt(c, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0);
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	int acc = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(acc >= 0);
	CHECK(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
	close(l);
	*s = c;
	*r = acc;
}

struct drain {
	pthread_t th;
	int fd;
	uint8_t *buf;
	size_t n, got;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	d->got = pftest_read_full(d->fd, d->buf, d->n);
	return NULL;
}

static void drain_start(struct drain *d, int fd, size_t n)
{
	d->fd = fd;
	d->n = n;
	d->got = 0;
	d->buf = pftest_xmalloc(n ? n : 1);
	CHECK(pthread_create(&d->th, NULL, drain_main, d) == 0);
}

static void drain_join(struct drain *d)
{
	CHECK(pthread_join(d->th, NULL) == 0);
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	CHECK(fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
}

/*
 * Blocking transfer of n bytes from start (or, if start < 0, at the file offset) to a fresh socket pair.
 * Checks the bytes, the offset pointer and the file offset. Returns sendfile's result.
 */
static long long blocking_send(int fd, int tcp, int use64, long long start, size_t n, long long expect)
{
	int s, r;
	if (tcp)
		tcp_pair(&s, &r, 0);
	else
		unix_pair(&s, &r);
	long long cur = OK(lseek(fd, 0, SEEK_CUR));
	uint64_t from = start < 0 ? (uint64_t)cur : (uint64_t)start;
	struct drain d;
	drain_start(&d, r, (size_t)expect);
	off64_t o64 = start;
	off_t o = (off_t)start;
	errno = 0;
	long long ret = start < 0 ? (use64 ? sendfile64(s, fd, NULL, n) : sendfile(s, fd, NULL, n))
				  : (use64 ? sendfile64(s, fd, &o64, n) : sendfile(s, fd, &o, n));
	int err = errno;
	if (ret != expect)
		shutdown(s, SHUT_WR); /* let the drainer finish */
	drain_join(&d);
	errno = err;
	CHECKF(ret == expect, "sendfile%s(%s, off %lld, %zu) returned %lld, expected %lld", use64 ? "64" : "",
	       tcp ? "tcp" : "unix", start, n, ret, expect);
	CHECK_EQ(d.got, expect);
	pftest_cmp("bytes received", d.buf, sh.b + from, (size_t)expect, from);
	if (start >= 0) {
		CHECK_EQ(use64 ? (long long)o64 : (long long)o, start + expect);
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur);
	} else {
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur + expect);
	}
	close(s);
	close(r);
	pftest_free(d.buf);
	return ret;
}

/* Send nothing-at-all cases on both files: offset at/after EOF, count 0. */
static void eof_cases(int fd)
{
	int s, r;
	unix_pair(&s, &r);
	off_t o = FSIZE;
	CHECK_EQ(sendfile(s, fd, &o, 1000), 0);
	CHECK_EQ(o, FSIZE);
	o = FSIZE + 5000;
	CHECK_EQ(sendfile(s, fd, &o, 1000), 0);
	CHECK_EQ(o, FSIZE + 5000);
	off64_t o64 = FSIZE + PFTEST_BLK * 3;
	CHECK_EQ(sendfile64(s, fd, &o64, 1 << 20), 0);
	o = 100;
	CHECK_EQ(sendfile(s, fd, &o, 0), 0);
	CHECK_EQ(o, 100);
	long long cur = lseek(fd, FSIZE, SEEK_SET);
	CHECK_EQ(sendfile(s, fd, NULL, 1000), 0);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur);
	set_nonblock(r);
	char x[16];
	FAILS(read(r, x, sizeof x), EAGAIN); /* nothing was sent */
	close(s);
	close(r);
}

/* Fill the sender's buffer with write() until EAGAIN; returns bytes written. */
static size_t fill(int s)
{
	static uint8_t junk[4096];
	memset(junk, 0xAB, sizeof junk);
	size_t total = 0;
	for (int i = 0; i < 100000; i++) {
		ssize_t w = write(s, junk, sizeof junk);
		if (w < 0) {
			CHECK(errno == EAGAIN);
			return total;
		}
		total += (size_t)w;
	}
	CHECK(!"socket never filled up");
	return 0;
}

/*
 * Non-blocking sender: (1) full buffer -> -1/EAGAIN, offset pointer and file offset unchanged;
 * (2) after draining, a large count -> partial; repeated until EAGAIN; exactly those bytes arrive.
 * For TCP the stack may free space between calls (acks), so a call after the fill may still send a
 * little; every byte sent is accounted for and an EAGAIN must come.
 */
static void nonblocking(int fd, int tcp)
{
	int s, r;
	if (tcp) {
		tcp_pair(&s, &r, 1);
	} else {
		unix_pair(&s, &r);
		int v = 4096;
		CHECK(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0);
	}
	set_nonblock(s);
	STEP("non-blocking %s: full buffer", tcp ? "tcp" : "unix");
	size_t junk = fill(s);
	off_t o = 1000;
	long long cur = lseek(fd, 555, SEEK_SET);
	size_t early = 0; /* file bytes sent after the fill (TCP only) */
	int saw_eagain = 0;
	for (int i = 0; i < 1000 && !saw_eagain; i++) {
		off_t before = o;
		errno = 0;
		ssize_t k = sendfile(s, fd, &o, 65536);
		if (k < 0) {
			CHECKF(errno == EAGAIN, "sendfile on a full non-blocking socket: errno %d", errno);
			CHECK_EQ(o, before);
			saw_eagain = 1;
		} else {
			CHECKF(tcp && k > 0, "sendfile on a full non-blocking socket returned %zd, expected -1/EAGAIN", k);
			CHECK_EQ(o, before + k);
			early += (size_t)k;
		}
	}
	CHECK(saw_eagain);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur);
	if (!tcp) {
		CHECK_EQ(early, 0);
		FAILS(sendfile(s, fd, NULL, 100), EAGAIN);
		CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur);
	}
	uint8_t *buf = pftest_xmalloc(junk + early + 1);
	CHECK_EQ(pftest_read_full(r, buf, junk + early), junk + early);
	for (size_t i = 0; i < junk; i++)
		CHECKF(buf[i] == 0xAB, "filler byte %zu is 0x%02x", i, buf[i]);
	pftest_cmp("bytes sent right after the fill", buf + junk, sh.b + 1000, early, 1000);
	pftest_free(buf);

	STEP("non-blocking %s: partial counts", tcp ? "tcp" : "unix");
	const size_t big = 4 << 20;
	off_t start = (off_t)(PFTEST_BLK - 3 + early);
	o = start;
	errno = 0;
	ssize_t k = sendfile(s, fd, &o, big);
	CHECKF(k > 0 && (size_t)k < big, "sendfile(%zu) on an empty non-blocking socket returned %zd", big, k);
	CHECK_EQ(o, start + k);
	size_t total = (size_t)k;
	saw_eagain = 0;
	for (int i = 0; i < 10000 && !saw_eagain; i++) {
		off_t before = o;
		k = sendfile(s, fd, &o, big);
		if (k < 0) {
			CHECK(errno == EAGAIN);
			CHECK_EQ(o, before);
			saw_eagain = 1;
		} else {
			CHECK(k > 0);
			CHECK_EQ(o, before + k);
			total += (size_t)k;
		}
	}
	CHECK(saw_eagain);
	CHECK(total < big);
	buf = pftest_xmalloc(total);
	CHECK_EQ(pftest_read_full(r, buf, total), total);
	pftest_cmp("bytes delivered by partial sendfiles", buf, sh.b + start, total, (uint64_t)start);
	pftest_free(buf);
	/* nothing more than what was reported was sent */
	set_nonblock(r);
	uint8_t extra[16];
	FAILS(read(r, extra, sizeof extra), EAGAIN);
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), cur);
	close(s);
	close(r);
}

static void to_pipe(int fd)
{
	int pp[2];
	CHECK(pipe2(pp, O_CLOEXEC) == 0);
	off_t o = PFTEST_BLK - 5;
	CHECK_EQ(sendfile(pp[1], fd, &o, 30000), 30000);
	CHECK_EQ(o, PFTEST_BLK - 5 + 30000);
	uint8_t b[30000];
	CHECK_EQ(pftest_read_full(pp[0], b, sizeof b), 30000);
	pftest_cmp("sendfile to a pipe", b, sh.b + PFTEST_BLK - 5, 30000, PFTEST_BLK - 5);
	close(pp[0]);
	close(pp[1]);
}

/* JDK 21 FileChannel.transferTo: fstat64, copy_file_range(file -> socket) == EINVAL, sendfile64. */
static void jdk21_transfer(int fd)
{
	int s, r;
	tcp_pair(&s, &r, 0);
	struct stat64 st;
	CHECK(fstat64(fd, &st) == 0 && st.st_size == FSIZE);
	off64_t o = 123456;
	long long count = st.st_size - o < 1000000 ? st.st_size - o : 1000000;
	FAILS(copy_file_range(fd, &o, s, NULL, (size_t)count, 0), EINVAL);
	CHECK_EQ(o, 123456);
	struct drain d;
	drain_start(&d, r, (size_t)count);
	CHECK_EQ(sendfile64(s, fd, &o, (size_t)count), count);
	drain_join(&d);
	CHECK_EQ(d.got, count);
	pftest_cmp("transferTo bytes", d.buf, sh.b + 123456, (size_t)count, 123456);
	pftest_free(d.buf);
	close(s);
	close(r);
}

int main(int argc, char **argv)
{
	pftest_init(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	struct pftest_twin t;
	pftest_twin_init(&t, "topic-0", PFTEST_SEG0);
	CHECK(pftest_twin_open(&t, O_RDWR | O_CREAT, 0644) >= 0);
	pftest_shadow_pat(&sh, 0, FSIZE, 1);
	CHECK_EQ(TWIN(&t, write(FD, sh.b, FSIZE)), FSIZE);
	t.sh = sh;
	pftest_twin_check(&t);
	TWIN(&t, lseek(FD, 777, SEEK_SET));

	int fds[2] = { t.fm, t.fp };
	for (int i = 0; i < 2; i++) {
		int fd = fds[i];
		const char *w = i == 0 ? "managed" : "twin";
		STEP("%s: blocking unix", w);
		blocking_send(fd, 0, 0, PFTEST_BLK - 3, PFTEST_MIB + 7, PFTEST_MIB + 7);
		blocking_send(fd, 0, 1, 0, 1, 1);
		STEP("%s: blocking tcp", w);
		blocking_send(fd, 1, 1, 12345, 2 * PFTEST_MIB + 1, 2 * PFTEST_MIB + 1);
		blocking_send(fd, 1, 0, 3 * PFTEST_BLK, PFTEST_BLK, PFTEST_BLK);
		STEP("%s: NULL offset", w);
		CHECK_EQ(lseek(fd, 1000, SEEK_SET), 1000);
		blocking_send(fd, 0, 0, -1, 5000, 5000);
		blocking_send(fd, 1, 1, -1, 3 * PFTEST_BLK, 3 * PFTEST_BLK);
		STEP("%s: count beyond EOF", w);
		blocking_send(fd, 0, 0, FSIZE - 100, 1000, 100);
		blocking_send(fd, 1, 1, FSIZE - PFTEST_BLK - 1, 4 * PFTEST_BLK, PFTEST_BLK + 1);
		CHECK_EQ(lseek(fd, FSIZE - 10, SEEK_SET), FSIZE - 10);
		blocking_send(fd, 0, 1, -1, 100, 10);
		STEP("%s: at and after EOF", w);
		eof_cases(fd);
		STEP("%s: non-blocking", w);
		nonblocking(fd, 0);
		nonblocking(fd, 1);
		STEP("%s: to a pipe", w);
		to_pipe(fd);
		STEP("%s: JDK 21 transferTo", w);
		jdk21_transfer(fd);
	}

	STEP("errors");
	{
		int s, r;
		unix_pair(&s, &r);
		int wm = OK(open(t.m, O_WRONLY)), wp = OK(open(t.p, O_WRONLY));
		off_t om = 0, op = 0;
		CHECK_EQ(SAME(sendfile(s, wm, &om, 10), sendfile(s, wp, &op, 10)), -1); /* EBADF */
		om = op = -1;
		CHECK_EQ(SAME(sendfile(s, t.fm, &om, 10), sendfile(s, t.fp, &op, 10)), -1); /* EINVAL */
		om = op = 0;
		int ro = OK(open(t.p, O_RDONLY));
		CHECK_EQ(SAME(sendfile(ro, t.fm, &om, 10), sendfile(ro, t.fp, &op, 10)), -1); /* out not writable */
		CHECK_EQ(SAME(sendfile(-1, t.fm, &om, 10), sendfile(-1, t.fp, &op, 10)), -1);
		CHECK(close(ro) == 0 && close(wm) == 0 && close(wp) == 0);
		set_nonblock(r);
		uint8_t x[4];
		FAILS(read(r, x, sizeof x), EAGAIN);
		close(s);
		close(r);
	}
	pftest_twin_check(&t);
	pftest_twin_close(&t);
	pftest_check_sparse(t.m, FSIZE);
	printf("PASS\n");
	return 0;
}

/*
 * real.c - resolution of the real libc functions listed once in real.h, and small I/O helpers that use
 * them. Resolution happens in the library constructor (before the JVM starts any thread) and lazily if a
 * wrapper runs before it, e.g. from another library's constructor.
 */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/resource.h>

#define PF_REAL_DEF(ret, name, params) pf_real_##name##_t pf_real_##name;
PF_REAL_FUNCS(PF_REAL_DEF)
#undef PF_REAL_DEF

void pf_real_resolve(void)
{
	static int resolving;
	if (__atomic_exchange_n(&resolving, 1, __ATOMIC_ACQ_REL))
		return; /* a call re-entered from inside dlsym: the pointer in question stays NULL */
#define PF_REAL_RESOLVE(ret, name, params) \
	if (!pf_real_##name) \
		__atomic_store_n(&pf_real_##name, (pf_real_##name##_t)dlsym(RTLD_NEXT, #name), __ATOMIC_RELEASE);
	PF_REAL_FUNCS(PF_REAL_RESOLVE)
#undef PF_REAL_RESOLVE
	__atomic_store_n(&resolving, 0, __ATOMIC_RELEASE);
}

int pf_fd_hide(int fd)
{
	if (fd < 0)
		return fd;
	struct rlimit rl;
	long floor = 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur / 2 > floor)
		floor = (long)rl.rlim_cur / 2;
	int e = errno;
	int hi = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, (int)floor);
	if (hi < 0) {
		errno = e;
		return fd; /* no room up there: keep the low one */
	}
	REAL(close)(fd);
	errno = e;
	return hi;
}

int pf_read_whole_file(const char *path, char **buf, size_t *len)
{
	int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = 4096, n = 0;
	char *b = malloc(cap + 1);
	if (!b)
		goto fail;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(b, cap * 2 + 1);
			if (!nb)
				goto fail;
			b = nb;
			cap *= 2;
		}
		ssize_t r = REAL(read)(fd, b + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	REAL(close)(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
fail:;
	int e = errno;
	free(b);
	REAL(close)(fd);
	errno = e;
	return -1;
}

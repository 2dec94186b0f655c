/*
 * sys.c - small I/O and clock helpers over the real libc table (see sys.h).
 *
 * Owns: nothing mutable. May call: real.h.
 */
#define _GNU_SOURCE
#include "sys.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "real.h"

static int write_all(int fd, const char *b, size_t n, uint64_t off, int positioned)
{
	while (n) {
		ssize_t w = positioned ? REAL(pwrite64)(fd, b, n, (off64_t)off) : REAL(write)(fd, b, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO; /* a regular file or socket never accepts 0 of n > 0 bytes without an error */
			return -1;
		}
		b += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

int pf_pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	return write_all(fd, buf, n, off, 1);
}

int pf_write_all(int fd, const void *buf, size_t n)
{
	return write_all(fd, buf, n, 0, 0);
}

int pf_boot_id(uint64_t out[2])
{
	out[0] = out[1] = 0;
	char *b;
	size_t len;
	if (pf_read_whole_file("/proc/sys/kernel/random/boot_id", &b, &len) < 0)
		return -1;
	int nd = 0;
	for (size_t i = 0; i < len && nd < 32; i++) {
		char c = b[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			continue; /* the dashes, the newline */
		out[nd / 16] = (out[nd / 16] << 4) | (uint64_t)v;
		nd++;
	}
	free(b);
	if (nd != 32) {
		out[0] = out[1] = 0;
		return -1;
	}
	return 0;
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

int pf_fsync_dir(const char *dir)
{
	int fd = REAL(open)(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = REAL(fsync)(fd);
	int e = errno;
	REAL(close)(fd);
	errno = e;
	return r;
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

void *pf_scratch_alloc(size_t n)
{
	size_t len = n + 16;
	char *p = REAL(mmap)(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	memcpy(p, &len, sizeof len);
	return p + 16;
}

void pf_scratch_free(void *p)
{
	if (!p)
		return;
	char *b = (char *)p - 16;
	size_t len;
	memcpy(&len, b, sizeof len);
	int e = errno;
	REAL(munmap)(b, len);
	errno = e;
}

static int spare_fd = -1;
static pthread_mutex_t spare_lock = PTHREAD_MUTEX_INITIALIZER;

void pf_spare_reserve(void)
{
	if (__atomic_load_n(&spare_fd, __ATOMIC_ACQUIRE) >= 0)
		return;
	int e = errno;
	pthread_mutex_lock(&spare_lock);
	if (spare_fd < 0) {
		int fd = REAL(open)("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			__atomic_store_n(&spare_fd, pf_fd_hide(fd), __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&spare_lock);
	errno = e;
}

/* The table is full: give the reserve up (1) so the caller can try once more, or say there is none (0). */
static int spare_give_up_locked(void)
{
	if (spare_fd < 0)
		return 0;
	REAL(close)(spare_fd);
	__atomic_store_n(&spare_fd, -1, __ATOMIC_RELEASE);
	return 1;
}

int pf_openat_spare(int dirfd, const char *path, int flags)
{
	int fd = REAL(openat)(dirfd, path, flags);
	if (fd >= 0 || (errno != EMFILE && errno != ENFILE))
		return fd;
	pthread_mutex_lock(&spare_lock);
	if (spare_give_up_locked())
		fd = REAL(openat)(dirfd, path, flags);
	pthread_mutex_unlock(&spare_lock);
	return fd;
}

int pf_dupfd_spare(int fd, int floor)
{
	int d = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, floor);
	if (d < 0 && errno != EBADF && floor > 0)
		d = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0); /* nothing free up there: anywhere */
	if (d >= 0 || (errno != EMFILE && errno != ENFILE))
		return d;
	pthread_mutex_lock(&spare_lock);
	if (spare_give_up_locked())
		d = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 0);
	pthread_mutex_unlock(&spare_lock);
	return d;
}

int64_t pf_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t pf_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t pf_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t pf_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Set in each thread pf_start_thread starts, before its function runs. */
static __thread int shim_thread;

struct start {
	void *(*fn)(void *);
};

static void *start_shim_thread(void *arg)
{
	struct start st = *(struct start *)arg;
	free(arg);
	shim_thread = 1;
	return st.fn(NULL);
}

int pf_start_thread(void *(*fn)(void *), const char *name)
{
	struct start *st = malloc(sizeof *st);
	if (!st)
		return -1;
	st->fn = fn;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int e = pthread_create(&t, &a, start_shim_thread, st);
	pthread_attr_destroy(&a);
	if (e) {
		free(st);
		errno = e;
		return -1;
	}
	pthread_setname_np(t, name);
	return 0;
}

int pf_in_shim_thread(void)
{
	return shim_thread;
}

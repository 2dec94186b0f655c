/*
 * movehook.c - libmovehook.so, a test helper: preloaded AFTER libpafka.so, it sits between the shim and libc.
 * Once armed with movehook_arm(ino, fn, arg), the first statx for a size that one of the shim's migration
 * threads makes on a descriptor of inode ino runs fn(arg) between the kernel's answer and its return: the
 * move goes on with a size from before whatever fn did (a write by the application, say), which is exactly
 * the moment a real scheduler may choose. movehook_wait(ms) waits until that thread has closed the
 * descriptor (the move is over) and says whether it did. Used by t_moverace; never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static void (*armed_fn)(void *);
static void *armed_arg;
static uint64_t armed_ino;
static int hooked_fd = -1, fired, closed;

static int in_migration_thread(void)
{
	char name[32] = "";
	pthread_getname_np(pthread_self(), name, sizeof name);
	return strncmp(name, "pafka-migrate", 13) == 0;
}

void movehook_arm(uint64_t ino, void (*fn)(void *), void *arg);
void movehook_arm(uint64_t ino, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&lock);
	armed_ino = ino;
	armed_arg = arg;
	fired = closed = 0;
	hooked_fd = -1;
	__atomic_store_n(&armed_fn, fn, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lock);
}

/* 1 when the hook ran and its move closed the descriptor within ms milliseconds, else 0. */
int movehook_wait(int ms);
int movehook_wait(int ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&lock);
	int r = 0;
	while (!closed && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&cond, &lock, &until);
	int ok = closed;
	pthread_mutex_unlock(&lock);
	return ok;
}

int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf)
{
	static int (*next)(int, const char *, int, unsigned, struct statx *);
	if (!next)
		next = (int (*)(int, const char *, int, unsigned, struct statx *))dlsym(RTLD_NEXT, "statx");
	int r = next(dirfd, path, flags, mask, buf);
	if (r == 0 && (flags & AT_EMPTY_PATH) && !*path && (mask & STATX_SIZE) &&
	    __atomic_load_n(&armed_fn, __ATOMIC_ACQUIRE) && buf->stx_ino == armed_ino && in_migration_thread()) {
		void (*fn)(void *) = __atomic_exchange_n(&armed_fn, NULL, __ATOMIC_ACQ_REL);
		if (fn) {
			int e = errno;
			fn(armed_arg);
			errno = e;
			pthread_mutex_lock(&lock);
			hooked_fd = dirfd;
			fired = 1;
			pthread_mutex_unlock(&lock);
		}
	}
	return r;
}

int close(int fd)
{
	static int (*next)(int);
	if (!next)
		next = (int (*)(int))dlsym(RTLD_NEXT, "close");
	if (__atomic_load_n(&fired, __ATOMIC_ACQUIRE) && in_migration_thread()) {
		pthread_mutex_lock(&lock);
		if (fired && !closed && fd == hooked_fd) {
			closed = 1;
			pthread_cond_broadcast(&cond);
		}
		pthread_mutex_unlock(&lock);
	}
	return next(fd);
}

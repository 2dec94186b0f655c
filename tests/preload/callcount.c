/*
 * callcount.c - libcallcount.so, a test helper: preloaded AFTER libpafka.so
 * (LD_PRELOAD="libpafka.so libcallcount.so"), it sits between the shim and libc, so it sees exactly the
 * fsync, fdatasync and msync calls the shim (and libpmem) make to the kernel, counts them (msync also
 * by bytes) and passes them on. A program reads the counts with dlsym(RTLD_DEFAULT, "callcount_get").
 * Used by t_durable; never installed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

struct callcount {
	uint64_t fsyncs, fdatasyncs, msyncs, msync_bytes;
};

static struct callcount counts;

void callcount_get(struct callcount *out);
void callcount_get(struct callcount *out)
{
	out->fsyncs = __atomic_load_n(&counts.fsyncs, __ATOMIC_RELAXED);
	out->fdatasyncs = __atomic_load_n(&counts.fdatasyncs, __ATOMIC_RELAXED);
	out->msyncs = __atomic_load_n(&counts.msyncs, __ATOMIC_RELAXED);
	out->msync_bytes = __atomic_load_n(&counts.msync_bytes, __ATOMIC_RELAXED);
}

int fsync(int fd)
{
	static int (*next)(int);
	if (!next)
		next = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	__atomic_add_fetch(&counts.fsyncs, 1, __ATOMIC_RELAXED);
	return next(fd);
}

int fdatasync(int fd)
{
	static int (*next)(int);
	if (!next)
		next = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	__atomic_add_fetch(&counts.fdatasyncs, 1, __ATOMIC_RELAXED);
	return next(fd);
}

int msync(void *addr, size_t len, int flags)
{
	static int (*next)(void *, size_t, int);
	if (!next)
		next = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
	__atomic_add_fetch(&counts.msyncs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&counts.msync_bytes, len, __ATOMIC_RELAXED);
	return next(addr, len, flags);
}

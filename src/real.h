/*
 * real.h - the one table of real libc functions that libpafka overrides or calls (SQLite os_unix.c style).
 *
 * PF_REAL_FUNCS(X) lists every function as X(return type, name, (parameters)). From that single list we
 * generate the function-pointer typedefs, the pointers, their dlsym(RTLD_NEXT) resolution and the override
 * slot (pf_real_override) through which tests put a fault-injecting function in front of any of them.
 * Code inside libpafka must call libc only through REAL(name)(...): a plain call to open() from inside the
 * library would bind to our own exported wrapper.
 *
 * Owns: the table. May call: dlsym only. This is the bottom layer: every other module may use it.
 */
#ifndef PAFKA_REAL_H
#define PAFKA_REAL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

struct statx;

/* Functions with a fixed parameter list: X(return type, name, (parameters), (arguments)). */
#define PF_REAL_FIXED_FUNCS(X) \
	X(int, __open_2, (const char *path, int flags), (path, flags)) \
	X(int, __open64_2, (const char *path, int flags), (path, flags)) \
	X(int, __openat_2, (int dirfd, const char *path, int flags), (dirfd, path, flags)) \
	X(int, __openat64_2, (int dirfd, const char *path, int flags), (dirfd, path, flags)) \
	X(int, creat, (const char *path, mode_t mode), (path, mode)) \
	X(int, creat64, (const char *path, mode_t mode), (path, mode)) \
	X(FILE *, fopen, (const char *path, const char *mode), (path, mode)) \
	X(FILE *, fopen64, (const char *path, const char *mode), (path, mode)) \
	X(FILE *, freopen, (const char *path, const char *mode, FILE *f), (path, mode, f)) \
	X(FILE *, freopen64, (const char *path, const char *mode, FILE *f), (path, mode, f)) \
	X(FILE *, fdopen, (int fd, const char *mode), (fd, mode)) \
	X(int, close, (int fd), (fd)) \
	X(int, close_range, (unsigned int first, unsigned int last, int flags), (first, last, flags)) \
	X(int, dup, (int fd), (fd)) \
	X(int, dup2, (int fd, int fd2), (fd, fd2)) \
	X(int, dup3, (int fd, int fd2, int flags), (fd, fd2, flags)) \
	X(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n)) \
	X(ssize_t, __read_chk, (int fd, void *buf, size_t n, size_t buflen), (fd, buf, n, buflen)) \
	X(ssize_t, __pread_chk, (int fd, void *buf, size_t n, off_t off, size_t buflen), (fd, buf, n, off, buflen)) \
	X(ssize_t, __pread64_chk, (int fd, void *buf, size_t n, off64_t off, size_t buflen), (fd, buf, n, off, buflen)) \
	X(ssize_t, pread, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off)) \
	X(ssize_t, pread64, (int fd, void *buf, size_t n, off64_t off), (fd, buf, n, off)) \
	X(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt)) \
	X(ssize_t, preadv, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off)) \
	X(ssize_t, preadv64, (int fd, const struct iovec *iov, int cnt, off64_t off), (fd, iov, cnt, off)) \
	X(ssize_t, preadv2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags), (fd, iov, cnt, off, flags)) \
	X(ssize_t, preadv64v2, (int fd, const struct iovec *iov, int cnt, off64_t off, int flags), (fd, iov, cnt, off, flags)) \
	X(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n)) \
	X(ssize_t, pwrite, (int fd, const void *buf, size_t n, off_t off), (fd, buf, n, off)) \
	X(ssize_t, pwrite64, (int fd, const void *buf, size_t n, off64_t off), (fd, buf, n, off)) \
	X(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt)) \
	X(ssize_t, pwritev, (int fd, const struct iovec *iov, int cnt, off_t off), (fd, iov, cnt, off)) \
	X(ssize_t, pwritev64, (int fd, const struct iovec *iov, int cnt, off64_t off), (fd, iov, cnt, off)) \
	X(ssize_t, pwritev2, (int fd, const struct iovec *iov, int cnt, off_t off, int flags), (fd, iov, cnt, off, flags)) \
	X(ssize_t, pwritev64v2, (int fd, const struct iovec *iov, int cnt, off64_t off, int flags), (fd, iov, cnt, off, flags)) \
	X(off_t, lseek, (int fd, off_t off, int whence), (fd, off, whence)) \
	X(off64_t, lseek64, (int fd, off64_t off, int whence), (fd, off, whence)) \
	X(int, ftruncate, (int fd, off_t len), (fd, len)) \
	X(int, ftruncate64, (int fd, off64_t len), (fd, len)) \
	X(int, truncate, (const char *path, off_t len), (path, len)) \
	X(int, truncate64, (const char *path, off64_t len), (path, len)) \
	X(int, fallocate, (int fd, int mode, off_t off, off_t len), (fd, mode, off, len)) \
	X(int, fallocate64, (int fd, int mode, off64_t off, off64_t len), (fd, mode, off, len)) \
	X(int, posix_fallocate, (int fd, off_t off, off_t len), (fd, off, len)) \
	X(int, posix_fallocate64, (int fd, off64_t off, off64_t len), (fd, off, len)) \
	X(int, fsync, (int fd), (fd)) \
	X(int, fdatasync, (int fd), (fd)) \
	X(int, sync_file_range, (int fd, off64_t off, off64_t n, unsigned int flags), (fd, off, n, flags)) \
	X(int, fstat, (int fd, struct stat *st), (fd, st)) \
	X(int, fstat64, (int fd, struct stat64 *st), (fd, st)) \
	X(int, stat, (const char *path, struct stat *st), (path, st)) \
	X(int, stat64, (const char *path, struct stat64 *st), (path, st)) \
	X(int, lstat, (const char *path, struct stat *st), (path, st)) \
	X(int, lstat64, (const char *path, struct stat64 *st), (path, st)) \
	X(int, fstatat, (int dirfd, const char *path, struct stat *st, int flags), (dirfd, path, st, flags)) \
	X(int, fstatat64, (int dirfd, const char *path, struct stat64 *st, int flags), (dirfd, path, st, flags)) \
	X(int, __fxstat, (int ver, int fd, struct stat *st), (ver, fd, st)) \
	X(int, __fxstat64, (int ver, int fd, struct stat64 *st), (ver, fd, st)) \
	X(int, __xstat, (int ver, const char *path, struct stat *st), (ver, path, st)) \
	X(int, __xstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st)) \
	X(int, __lxstat, (int ver, const char *path, struct stat *st), (ver, path, st)) \
	X(int, __lxstat64, (int ver, const char *path, struct stat64 *st), (ver, path, st)) \
	X(int, __fxstatat, (int ver, int dirfd, const char *path, struct stat *st, int flags), (ver, dirfd, path, st, flags)) \
	X(int, __fxstatat64, (int ver, int dirfd, const char *path, struct stat64 *st, int flags), (ver, dirfd, path, st, flags)) \
	X(int, statx, (int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx), (dirfd, path, flags, mask, stx)) \
	X(ssize_t, sendfile, (int out, int in, off_t *off, size_t n), (out, in, off, n)) \
	X(ssize_t, sendfile64, (int out, int in, off64_t *off, size_t n), (out, in, off, n)) \
	X(ssize_t, copy_file_range, (int in, off64_t *off_in, int out, off64_t *off_out, size_t n, unsigned int flags), (in, off_in, out, off_out, n, flags)) \
	X(ssize_t, splice, (int in, off64_t *off_in, int out, off64_t *off_out, size_t n, unsigned int flags), (in, off_in, out, off_out, n, flags)) \
	X(void *, mmap, (void *addr, size_t n, int prot, int flags, int fd, off_t off), (addr, n, prot, flags, fd, off)) \
	X(void *, mmap64, (void *addr, size_t n, int prot, int flags, int fd, off64_t off), (addr, n, prot, flags, fd, off)) \
	X(int, munmap, (void *addr, size_t n), (addr, n)) \
	X(int, msync, (void *addr, size_t n, int flags), (addr, n, flags)) \
	X(int, utimensat, (int dirfd, const char *path, const struct timespec t[2], int flags), (dirfd, path, t, flags)) \
	X(int, rename, (const char *from, const char *to), (from, to)) \
	X(int, renameat, (int fromfd, const char *from, int tofd, const char *to), (fromfd, from, tofd, to)) \
	X(int, renameat2, (int fromfd, const char *from, int tofd, const char *to, unsigned int flags), (fromfd, from, tofd, to, flags)) \
	X(int, unlink, (const char *path), (path)) \
	X(int, link, (const char *from, const char *to), (from, to)) \
	X(int, linkat, (int fromfd, const char *from, int tofd, const char *to, int flags), (fromfd, from, tofd, to, flags)) \
	X(int, symlink, (const char *target, const char *path), (target, path)) \
	X(int, symlinkat, (const char *target, int dirfd, const char *path), (target, dirfd, path)) \
	X(int, unlinkat, (int dirfd, const char *path, int flags), (dirfd, path, flags)) \
	X(int, remove, (const char *path), (path))

/* Variadic functions, and those that return nothing: X(return type, name, (parameters)). */
#define PF_REAL_SPECIAL_FUNCS(X) \
	X(int, open, (const char *path, int flags, ...)) \
	X(int, open64, (const char *path, int flags, ...)) \
	X(int, openat, (int dirfd, const char *path, int flags, ...)) \
	X(int, openat64, (int dirfd, const char *path, int flags, ...)) \
	X(void, closefrom, (int lowfd)) \
	X(int, fcntl, (int fd, int cmd, ...)) \
	X(int, fcntl64, (int fd, int cmd, ...)) \
	X(void *, mremap, (void *old, size_t olen, size_t nlen, int flags, ...))

/* All of them. A consumer's X takes (ret, name, params, ...). */
#define PF_REAL_FUNCS(X) PF_REAL_FIXED_FUNCS(X) PF_REAL_SPECIAL_FUNCS(X)

#define PF_REAL_TYPEDEF(ret, name, params, ...) typedef ret(*pf_real_##name##_t) params;
PF_REAL_FUNCS(PF_REAL_TYPEDEF)
#undef PF_REAL_TYPEDEF

/* Variables the wrappers read on every call are declared hidden: the compiler then loads them straight
 * from the library's data (one instruction) instead of through the GOT, which -fvisibility=hidden on the
 * definitions alone cannot tell it. */
#define PF_HIDDEN __attribute__((visibility("hidden")))

#define PF_REAL_DECL(ret, name, params, ...) extern PF_HIDDEN pf_real_##name##_t pf_real_##name;
PF_REAL_FUNCS(PF_REAL_DECL)
#undef PF_REAL_DECL

/* Resolve every pointer that is still unset (idempotent, thread-safe). Called from the constructor, before
 * the application starts any thread. */
void pf_real_resolve(void);
/* Resolve one pointer now (a wrapper called before the constructor ran, e.g. from another library's
 * constructor). Each thread that finds the slot empty looks it up itself, so none ever gets NULL for a
 * function libc has. Returns the function, or NULL if libc lacks it. */
void *pf_real_lookup(void **slot, const char *name);
/* One argument-less, out-of-line resolver per function: a wrapper's cold path calls it and re-reads the
 * slot, which lets the compiler keep the hot path frameless (a load, a test and a tail jump). */
#define PF_REAL_RESOLVER(ret, name, params, ...) PF_HIDDEN __attribute__((cold, noinline)) void pf_real_resolve_##name(void);
PF_REAL_FUNCS(PF_REAL_RESOLVER)
#undef PF_REAL_RESOLVER

#define REAL(name) \
	(__builtin_expect(pf_real_##name != NULL, 1) ? pf_real_##name : (pf_real_resolve_##name(), pf_real_##name))
/* For functions an older glibc may lack (close_range, closefrom, preadv64v2, ...): NULL when absent. */
#define REAL_OPT(name) REAL(name)

/* rename (how 0), renameat (1) or renameat2 (2 with flags): the real call a rename wrapper stands for. */
static inline int pf_rename_as(int how, int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	return how == 0 ? REAL(rename)(from, to)
	       : how == 1 ? REAL(renameat)(ofd, from, nfd, to)
			  : REAL(renameat2)(ofd, from, nfd, to, flags);
}

/* The override slot: from now on REAL(name) calls fn instead of libc's function (fn NULL puts libc's back).
 * Returns what was in the slot before (an injector chains to it), or NULL when name is not in the table.
 * For fault injection in tests; not for use while other threads run wrappers. */
void *pf_real_override(const char *name, void *fn);

#endif

/*
 * interpose.c - the exported libc names. Each wrapper only decides "managed or not" and hands off:
 * descriptors to the file model (file.h) through the fd table (an unmanaged fd costs one table load),
 * paths through the segment-name test (an unmanaged name costs a string scan). Everything else stays in
 * the modules. This is the top layer: nothing calls into it.
 *
 * The stat family is exported but passes through: the real file in the log dir always has the exact
 * logical size (file.c keeps it so), so every stat variant, from this process or any other, is already
 * right. Exporting them keeps the door open for size-virtualising designs without changing the ABI.
 *
 * Owns: nothing. May call: shim.h, file.h, fdtab.h, paths.h, real.h.
 * Errors: -1 and errno, exactly as the kernel (or libc) would give them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "fdtab.h"
#include "file.h"
#include "paths.h"
#include "real.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define NOINLINE __attribute__((noinline))

/* Old-ABI stat entry points are no longer declared by glibc >= 2.33 headers. */
int __fxstat(int ver, int fd, struct stat *st);
int __fxstat64(int ver, int fd, struct stat64 *st);
int __xstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags);
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags);
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);

/* ---------------------------------------------------------------- paths */

/* Is path a managed name in a managed directory? (Pure string work once the configuration is loaded.) */
static int managed_name(int dirfd, const char *path, char *abs, size_t abslen)
{
	if (!path)
		return 0;
	pf_shim_configure();
	if (pf_shim_state() == PF_ST_PASSTHROUGH || !pf_path_name_matches(path))
		return 0;
	return pf_path_absolute(dirfd, path, abs, abslen) == 0 && pf_path_in_managed_dir(abs);
}

/* Activate (the first time) and say whether managed files are being served from pools. */
static int activate(void)
{
	pf_shim_activate();
	return pf_shim_state() == PF_ST_ACTIVE;
}

static int exists(int dirfd, const char *path)
{
	int e = errno;
	struct statx stx;
	int r = REAL(statx)(dirfd, path, AT_SYMLINK_NOFOLLOW, 0, &stx) == 0;
	r |= errno != ENOENT && errno != ENOTDIR; /* cannot tell: as if it existed (activate, look closer) */
	errno = e;
	return r;
}

/* A path operation on an existing managed file: the first one activates the shim. A missing name never
 * does (the kernel's ENOENT is the whole answer). */
static int managed_path(int dirfd, const char *path, char *abs, size_t abslen)
{
	return managed_name(dirfd, path, abs, abslen) && exists(dirfd, path) && activate();
}

/* The cheap test every path wrapper starts with: a base name that cannot be a segment (and not a
 * /proc/self/fd or /dev/fd alias of one). */
static inline int fd_alias(const char *path)
{
	if (path[0] != '/')
		return 0;
	if (path[1] == 'p')
		return !strncmp(path, "/proc/self/fd/", 14);
	return path[1] == 'd' && !strncmp(path, "/dev/fd/", 8);
}

static inline int maybe_managed(const char *path)
{
	if (!path)
		return 0;
	int st = pf_shim_state();
	if (__builtin_expect(st < PF_ST_CONFIGURED, 0)) {
		pf_shim_configure();
		st = pf_shim_state();
	}
	return st != PF_ST_PASSTHROUGH && (pf_path_name_matches(path) || fd_alias(path));
}

static NOINLINE int open_managed(int dirfd, const char *path, int flags, mode_t mode)
{
	char abs[PATH_MAX];
	if (flags & O_PATH)
		return REAL(openat)(dirfd, path, flags, mode);
	if (!managed_name(dirfd, path, abs, sizeof abs)) {
		/* Another name for a file we may know: a hard link or symlink outside the log dirs, a log dir
		 * reached through a symlink made after start, /proc/self/fd/N. Only an active shim can know it. */
		int active = pf_shim_state() == PF_ST_ACTIVE;
		if (active)
			pf_fd_transition_begin();
		int fd = REAL(openat)(dirfd, path, flags, mode);
		if (active) {
			if (fd >= 0)
				pf_file_opened_alias(fd, flags);
			pf_fd_transition_end();
		}
		return fd;
	}
	/* Activate before an open that can create or change a file (a bad configuration must stop the process
	 * before it touches anything); an open of a missing name without O_CREAT changes nothing. */
	int active = ((flags & O_CREAT) || exists(dirfd, path)) && activate();
	if (active && pf_path_open_trunc(dirfd, path, flags) < 0)
		return -1;
	if (active)
		pf_fd_transition_begin(); /* from the real open until the fd is registered */
	int fd = REAL(openat)(dirfd, path, flags, mode);
	if (active) {
		if (fd >= 0 && pf_file_opened(fd, flags, abs) < 0) {
			int e = errno; /* what it is cannot be told: handed out, its reads could miss its pool bytes */
			REAL(close)(fd);
			errno = e;
			fd = -1;
		}
		pf_fd_transition_end();
	}
	return fd;
}

static inline int open_common(int dirfd, const char *path, int flags, mode_t mode)
{
	if (LIKELY(!maybe_managed(path)))
		return REAL(openat)(dirfd, path, flags, mode);
	return open_managed(dirfd, path, flags, mode);
}

/* Does this open carry a mode argument? */
static inline int open_has_mode(int flags)
{
	return (flags & O_CREAT) || (flags & __O_TMPFILE) == __O_TMPFILE;
}

/* The variadic open family: the mode is fetched only when the flags say one was passed, and only after the
 * common case has returned, so that case needs no va_list frame. */
#define OPEN_VARIADIC(dirfd) \
	do { \
		if (LIKELY(!open_has_mode(flags))) \
			return open_common(dirfd, path, flags, 0); \
		va_list ap; \
		va_start(ap, flags); \
		mode_t m = (mode_t)va_arg(ap, int); \
		va_end(ap); \
		return open_common(dirfd, path, flags, m); \
	} while (0)

EXPORT int open(const char *path, int flags, ...)
{
	OPEN_VARIADIC(AT_FDCWD);
}

EXPORT int open64(const char *path, int flags, ...)
{
	OPEN_VARIADIC(AT_FDCWD);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	OPEN_VARIADIC(dirfd);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	OPEN_VARIADIC(dirfd);
}

EXPORT int __open_2(const char *path, int flags)
{
	return open_common(AT_FDCWD, path, flags, 0);
}

EXPORT int __open64_2(const char *path, int flags)
{
	return open_common(AT_FDCWD, path, flags, 0);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	return open_common(dirfd, path, flags, 0);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	return open_common(dirfd, path, flags, 0);
}

EXPORT int creat(const char *path, mode_t mode)
{
	return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

EXPORT int creat64(const char *path, mode_t mode)
{
	return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* stdio reads and writes inside glibc where we cannot see them: give it a plain file, or refuse (-1 with
 * errno) when the file's bytes cannot be moved there. */
static int stdio_guard(const char *path)
{
	char abs[PATH_MAX];
	return managed_path(AT_FDCWD, path, abs, sizeof abs) ? pf_path_pin_real(abs) : 0;
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	return stdio_guard(path) < 0 ? NULL : REAL(fopen)(path, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return stdio_guard(path) < 0 ? NULL : REAL(fopen64)(path, mode);
}

EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	return stdio_guard(path) < 0 ? NULL : REAL(freopen)(path, mode, f);
}

EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	return stdio_guard(path) < 0 ? NULL : REAL(freopen64)(path, mode, f);
}

/* A stream on a managed descriptor: stdio reads and writes inside glibc, so the file goes to the slow
 * tier first and stays there. */
EXPORT FILE *fdopen(int fd, const char *mode)
{
	struct pf_ofd *o = pf_fd_lookup(fd);
	if (o && pf_io_pin_real(o, fd) < 0)
		return NULL;
	FILE *f = REAL(fdopen)(fd, mode);
	if (f && o)
		pf_ofd_put(pf_fd_take(fd)); /* the stream owns the fd now and closes it inside glibc, unseen */
	return f;
}

EXPORT int unlink(const char *path)
{
	char abs[PATH_MAX];
	if (LIKELY(!managed_path(AT_FDCWD, path, abs, sizeof abs)))
		return REAL(unlink)(path);
	return pf_path_unlink(PF_UNLINK, AT_FDCWD, path, 0);
}

EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	char abs[PATH_MAX];
	if (LIKELY(!managed_path(dirfd, path, abs, sizeof abs)))
		return REAL(unlinkat)(dirfd, path, flags);
	return pf_path_unlink(PF_UNLINKAT, dirfd, path, flags);
}

EXPORT int remove(const char *path)
{
	char abs[PATH_MAX];
	if (LIKELY(!managed_path(AT_FDCWD, path, abs, sizeof abs)))
		return REAL(remove)(path);
	return pf_path_unlink(PF_REMOVE, AT_FDCWD, path, 0);
}

/* A name operation that gives an existing file (at ofd/from) a managed name to, or takes one away. */
static int managed_move(int ofd, const char *from, int nfd, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];
	return managed_path(ofd, from, a, sizeof a) || (managed_name(nfd, to, b, sizeof b) && exists(ofd, from) && activate());
}

static int rename_common(int ofd, const char *from, int nfd, const char *to, unsigned flags, int how)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (managed_move(ofd, from, nfd, to))
		return pf_path_rename(ofd, from, nfd, to, flags, how);
	/* A partition directory (topic deletion renames it with segments open): keep the files' paths. */
	if (pf_shim_state() == PF_ST_ACTIVE && pf_path_absolute(ofd, from, a, sizeof a) == 0 &&
	    pf_path_under_managed_dir(a) && pf_path_absolute(nfd, to, b, sizeof b) == 0)
		return pf_path_rename_dir(a, b, ofd, from, nfd, to, flags, how);
	return pf_rename_as(how, ofd, from, nfd, to, flags);
}

EXPORT int rename(const char *from, const char *to)
{
	return rename_common(AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

EXPORT int renameat(int ofd, const char *from, int nfd, const char *to)
{
	return rename_common(ofd, from, nfd, to, 0, 1);
}

EXPORT int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned int flags)
{
	return rename_common(ofd, from, nfd, to, flags, 2);
}

/* Links: the slow path only where a name could be managed (either name looks like a segment, or the source
 * is a descriptor: AT_EMPTY_PATH, /proc/self/fd/N). */
static int link_common(int ofd, const char *from, int nfd, const char *to, int flags, int how)
{
	int empty = how == 1 && (flags & AT_EMPTY_PATH) && from && !from[0];
	if (LIKELY(!maybe_managed(from) && !maybe_managed(to) && !empty))
		return how == 0 ? REAL(link)(from, to) : REAL(linkat)(ofd, from, nfd, to, flags);
	char b[PATH_MAX];
	if (empty ? (pf_fd_lookup(ofd) != NULL || (managed_name(nfd, to, b, sizeof b) && activate()))
		  : managed_move(ofd, from, nfd, to))
		return pf_path_link(ofd, from, nfd, to, flags, how);
	return how == 0 ? REAL(link)(from, to) : REAL(linkat)(ofd, from, nfd, to, flags);
}

EXPORT int link(const char *from, const char *to)
{
	return link_common(AT_FDCWD, from, AT_FDCWD, to, 0, 0);
}

EXPORT int linkat(int ofd, const char *from, int nfd, const char *to, int flags)
{
	return link_common(ofd, from, nfd, to, flags, 1);
}

/* A symlink to a segment under a name that is not one: the shim would not see an open through it. (A
 * relative target is resolved from the directory the link is made in.) */
static int symlink_common(const char *target, int nfd, const char *path, int how)
{
	char link[PATH_MAX], abs[PATH_MAX];
	if (LIKELY(!maybe_managed(target)) || pf_path_absolute(nfd, path, link, sizeof link) < 0)
		return how == 0 ? REAL(symlink)(target, path) : REAL(symlinkat)(target, nfd, path);
	*strrchr(link, '/') = '\0';
	int n = target[0] == '/' ? snprintf(abs, sizeof abs, "%s", target) : snprintf(abs, sizeof abs, "%s/%s", link, target);
	if (n >= (int)sizeof abs || !managed_path(AT_FDCWD, abs, link, sizeof link))
		return how == 0 ? REAL(symlink)(target, path) : REAL(symlinkat)(target, nfd, path);
	return pf_path_symlink(target, abs, nfd, path, how);
}

EXPORT int symlink(const char *target, const char *path)
{
	return symlink_common(target, AT_FDCWD, path, 0);
}

EXPORT int symlinkat(const char *target, int nfd, const char *path)
{
	return symlink_common(target, nfd, path, 1);
}

EXPORT int truncate(const char *path, off_t len)
{
	char abs[PATH_MAX];
	if (LIKELY(!managed_path(AT_FDCWD, path, abs, sizeof abs)))
		return REAL(truncate)(path, len);
	return pf_path_truncate(path, len);
}

EXPORT int truncate64(const char *path, off64_t len)
{
	char abs[PATH_MAX];
	if (LIKELY(!managed_path(AT_FDCWD, path, abs, sizeof abs)))
		return REAL(truncate64)(path, len);
	return pf_path_truncate(path, len);
}

/* ---------------------------------------------------------------- descriptors */

/* Every descriptor wrapper has the same shape: MANAGED(fd) passes an unmanaged fd straight to libc, and
 * the managed case is one tail call to an out-of-line function (the file model's pf_io_*, or a served_<name>() /
 * managed_*() here where the managed case needs locals or checks of its own). Keeping the managed code
 * out of line lets the compiler turn the unmanaged case into a frameless check and a tail jump into libc
 * (about a dozen instructions, measured by bench/run-micro.sh). */
#define MANAGED(fd) struct pf_ofd *o = pf_fd_lookup(fd); if (LIKELY(o == NULL))

static NOINLINE int served_close(struct pf_ofd *o, int fd)
{
	pf_fd_transition_begin(); /* from unregistering until the kernel has closed it */
	o = pf_fd_set(fd, pf_ofd_tombstone());
	int r = REAL(close)(fd);
	pf_fd_transition_end();
	pf_ofd_put(o);
	return r;
}

EXPORT int close(int fd)
{
	MANAGED(fd) return REAL(close)(fd);
	return served_close(o, fd);
}

static void forget_range(unsigned first, unsigned last)
{
	size_t cap = __atomic_load_n(&pf_fdcap, __ATOMIC_ACQUIRE);
	for (size_t fd = first; fd <= last && fd < cap; fd++) {
		struct pf_ofd *o = pf_fd_get((int)fd);
		if (o && (o = pf_fd_set((int)fd, pf_ofd_tombstone())))
			pf_ofd_put(o);
	}
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!REAL_OPT(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	pf_fd_transition_begin();
	int r = REAL(close_range)(first, last, flags);
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		forget_range(first, last);
	pf_fd_transition_end();
	return r;
}

EXPORT void closefrom(int lowfd)
{
	pf_fd_transition_begin();
	if (REAL_OPT(closefrom))
		REAL(closefrom)(lowfd);
	if (lowfd >= 0)
		forget_range((unsigned)lowfd, UINT_MAX);
	pf_fd_transition_end();
}

/* A dup where either descriptor is managed. how: 0 dup, 1 dup2, 2 dup3, 3 fcntl F_DUPFD, 4 fcntl
 * F_DUPFD_CLOEXEC. The target's old entry (dup2/dup3 close it) leaves the table before the kernel replaces
 * the descriptor, and the new one enters it before anyone is told the number. */
static NOINLINE int dup_managed(struct pf_ofd *o, int fd, int fd2, int how, int flags, pf_real_fcntl_t fcntl_fn)
{
	struct pf_ofd *src = o;
	o = pf_ofd_hold(fd, o); /* its reference becomes the new descriptor's entry */
	pf_fd_transition_begin();
	struct pf_ofd *old = how == 1 || how == 2 ? pf_fd_take(fd2) : NULL;
	int nfd = how == 0 ? REAL(dup)(fd)
		  : how == 1 ? REAL(dup2)(fd, fd2)
		  : how == 2 ? REAL(dup3)(fd, fd2, flags)
			     : fcntl_fn(fd, how == 3 ? F_DUPFD : F_DUPFD_CLOEXEC, fd2);
	int e = errno;
	if (nfd >= 0) {
		struct pf_ofd *prev = pf_fd_set(nfd, o);
		if (prev)
			pf_ofd_put(prev);
	} else if (old) {
		pf_fd_set(fd2, old); /* the kernel left fd2 as it was */
		old = NULL;
	}
	if (nfd >= 0 && src && !o) {
		/* fd was closed or changed hands as the call began: the kernel duplicated whatever it was */
		int fl = REAL(fcntl)(nfd, F_GETFL);
		if (fl < 0 || !pf_file_opened_alias(nfd, fl))
			pf_fd_set(nfd, NULL);
	}
	pf_fd_transition_end();
	pf_ofd_put(old);
	if (nfd < 0)
		pf_ofd_put(o);
	errno = e;
	return nfd;
}

EXPORT int dup(int fd)
{
	MANAGED(fd) return REAL(dup)(fd);
	return dup_managed(o, fd, -1, 0, 0, NULL);
}

EXPORT int dup2(int fd, int fd2)
{
	struct pf_ofd *o = pf_fd_lookup(fd);
	if (LIKELY(o == NULL && pf_fd_lookup(fd2) == NULL) || fd == fd2)
		return REAL(dup2)(fd, fd2);
	return dup_managed(o, fd, fd2, 1, 0, NULL);
}

EXPORT int dup3(int fd, int fd2, int flags)
{
	struct pf_ofd *o = pf_fd_lookup(fd);
	if (LIKELY(o == NULL && pf_fd_lookup(fd2) == NULL))
		return REAL(dup3)(fd, fd2, flags);
	return dup_managed(o, fd, fd2, 2, flags, NULL);
}

static int fcntl_common(pf_real_fcntl_t real, int fd, int cmd, void *arg)
{
	struct pf_ofd *o = pf_fd_lookup(fd);
	if (LIKELY(o == NULL))
		return real(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		return dup_managed(o, fd, (int)(long)arg, cmd == F_DUPFD ? 3 : 4, 0, real);
	int r = real(fd, cmd, arg);
	if (r >= 0 && cmd == F_SETFL)
		pf_ofd_setfl(o, (int)(long)arg);
	return r;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(REAL(fcntl), fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(REAL_OPT(fcntl64) ? REAL(fcntl64) : REAL(fcntl), fd, cmd, arg);
}

/* ---------------------------------------------------------------- data */

static NOINLINE ssize_t served_read(struct pf_ofd *o, int fd, void *buf, size_t n)
{
	struct iovec v = { buf, n };
	return pf_io_read(o, fd, &v, 1, -1, 0);
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	MANAGED(fd) return REAL(read)(fd, buf, n);
	return served_read(o, fd, buf, n);
}

static NOINLINE ssize_t managed_pread(struct pf_ofd *o, int fd, void *buf, size_t n, off64_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	struct iovec v = { buf, n };
	return pf_io_read(o, fd, &v, 1, off, 0);
}

/* _FORTIFY_SOURCE variants: glibc's own check (it aborts on an overflow), then the same path. */
static NOINLINE ssize_t served___read_chk(struct pf_ofd *o, int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		return REAL(__read_chk)(fd, buf, n, buflen);
	struct iovec v = { buf, n };
	return pf_io_read(o, fd, &v, 1, -1, 0);
}

EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	MANAGED(fd) return REAL(__read_chk)(fd, buf, n, buflen);
	return served___read_chk(o, fd, buf, n, buflen);
}

static NOINLINE ssize_t served___pread_chk(struct pf_ofd *o, int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	if (n > buflen)
		return REAL(__pread_chk)(fd, buf, n, off, buflen);
	return managed_pread(o, fd, buf, n, off);
}

EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	MANAGED(fd) return REAL(__pread_chk)(fd, buf, n, off, buflen);
	return served___pread_chk(o, fd, buf, n, off, buflen);
}

static NOINLINE ssize_t served___pread64_chk(struct pf_ofd *o, int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	if (n > buflen)
		return REAL(__pread64_chk)(fd, buf, n, off, buflen);
	return managed_pread(o, fd, buf, n, off);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	MANAGED(fd) return REAL(__pread64_chk)(fd, buf, n, off, buflen);
	return served___pread64_chk(o, fd, buf, n, off, buflen);
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	MANAGED(fd) return REAL(pread)(fd, buf, n, off);
	return managed_pread(o, fd, buf, n, off);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	MANAGED(fd) return REAL(pread64)(fd, buf, n, off);
	return managed_pread(o, fd, buf, n, off);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	MANAGED(fd) return REAL(readv)(fd, iov, cnt);
	return pf_io_read(o, fd, iov, cnt, -1, 0);
}

/* preadv: a negative offset is EINVAL. */
static NOINLINE ssize_t managed_preadv(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off64_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return pf_io_read(o, fd, iov, cnt, off, 0);
}

/* preadv2: offset -1 means the file offset, below that EINVAL; flags go to the same path. */
static NOINLINE ssize_t managed_preadv2(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	if (off < -1) {
		errno = EINVAL;
		return -1;
	}
	return pf_io_read(o, fd, iov, cnt, off, flags);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	MANAGED(fd) return REAL(preadv)(fd, iov, cnt, off);
	return managed_preadv(o, fd, iov, cnt, off);
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	MANAGED(fd) return REAL(preadv64)(fd, iov, cnt, off);
	return managed_preadv(o, fd, iov, cnt, off);
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	MANAGED(fd) return REAL(preadv2)(fd, iov, cnt, off, flags);
	return managed_preadv2(o, fd, iov, cnt, off, flags);
}

EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	MANAGED(fd) return REAL(preadv64v2)(fd, iov, cnt, off, flags);
	return managed_preadv2(o, fd, iov, cnt, off, flags);
}

static NOINLINE ssize_t served_write(struct pf_ofd *o, int fd, const void *buf, size_t n)
{
	struct iovec v = { (void *)buf, n };
	return pf_io_write(o, fd, &v, 1, -1, 0);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	MANAGED(fd) return REAL(write)(fd, buf, n);
	return served_write(o, fd, buf, n);
}

/* pwritev: a negative offset is EINVAL. */
static NOINLINE ssize_t managed_pwritev(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off64_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return pf_io_write(o, fd, iov, cnt, off, 0);
}

/* pwritev2: offset -1 means the file offset, below that EINVAL; flags go to the same path. */
static NOINLINE ssize_t managed_pwritev2(struct pf_ofd *o, int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	if (off < -1) {
		errno = EINVAL;
		return -1;
	}
	return pf_io_write(o, fd, iov, cnt, off, flags);
}

/* pwrite and pwrite64 (off_t widens to off64_t losslessly) */
static NOINLINE ssize_t served_pwrite(struct pf_ofd *o, int fd, const void *buf, size_t n, off64_t off)
{
	struct iovec v = { (void *)buf, n };
	return managed_pwritev(o, fd, &v, 1, off);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	MANAGED(fd) return REAL(pwrite)(fd, buf, n, off);
	return served_pwrite(o, fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	MANAGED(fd) return REAL(pwrite64)(fd, buf, n, off);
	return served_pwrite(o, fd, buf, n, off);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	MANAGED(fd) return REAL(writev)(fd, iov, cnt);
	return pf_io_write(o, fd, iov, cnt, -1, 0);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	MANAGED(fd) return REAL(pwritev)(fd, iov, cnt, off);
	return managed_pwritev(o, fd, iov, cnt, off);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	MANAGED(fd) return REAL(pwritev64)(fd, iov, cnt, off);
	return managed_pwritev(o, fd, iov, cnt, off);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	MANAGED(fd) return REAL(pwritev2)(fd, iov, cnt, off, flags);
	return managed_pwritev2(o, fd, iov, cnt, off, flags);
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	MANAGED(fd) return REAL(pwritev64v2)(fd, iov, cnt, off, flags);
	return managed_pwritev2(o, fd, iov, cnt, off, flags);
}

static NOINLINE off_t served_lseek(struct pf_ofd *o, int fd, off_t off, int whence)
{
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return REAL(lseek)(fd, off, whence);
	return pf_io_lseek(o, fd, off, whence);
}

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	MANAGED(fd) return REAL(lseek)(fd, off, whence);
	return served_lseek(o, fd, off, whence);
}

static NOINLINE off64_t served_lseek64(struct pf_ofd *o, int fd, off64_t off, int whence)
{
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return REAL(lseek64)(fd, off, whence);
	return pf_io_lseek(o, fd, off, whence);
}

EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	MANAGED(fd) return REAL(lseek64)(fd, off, whence);
	return served_lseek64(o, fd, off, whence);
}

EXPORT int ftruncate(int fd, off_t len)
{
	MANAGED(fd) return REAL(ftruncate)(fd, len);
	return pf_io_ftruncate(o, fd, len);
}

EXPORT int ftruncate64(int fd, off64_t len)
{
	MANAGED(fd) return REAL(ftruncate64)(fd, len);
	return pf_io_ftruncate(o, fd, len);
}

EXPORT int fallocate(int fd, int mode, off_t off, off_t len)
{
	MANAGED(fd) return REAL(fallocate)(fd, mode, off, len);
	return pf_io_fallocate(o, fd, mode, off, len);
}

EXPORT int fallocate64(int fd, int mode, off64_t off, off64_t len)
{
	MANAGED(fd) return REAL(fallocate64)(fd, mode, off, len);
	return pf_io_fallocate(o, fd, mode, off, len);
}

static NOINLINE int managed_posix_fallocate(struct pf_ofd *o, int fd, off64_t off, off64_t len)
{
	int e = errno;
	int r = pf_io_fallocate(o, fd, 0, off, len) == 0 ? 0 : errno;
	errno = e;
	return r;
}

EXPORT int posix_fallocate(int fd, off_t off, off_t len)
{
	MANAGED(fd) return REAL(posix_fallocate)(fd, off, len);
	return managed_posix_fallocate(o, fd, off, len);
}

EXPORT int posix_fallocate64(int fd, off64_t off, off64_t len)
{
	MANAGED(fd) return REAL(posix_fallocate64)(fd, off, len);
	return managed_posix_fallocate(o, fd, off, len);
}

EXPORT int fsync(int fd)
{
	MANAGED(fd) return REAL(fsync)(fd);
	return pf_io_fsync(o, fd, 0);
}

EXPORT int fdatasync(int fd)
{
	MANAGED(fd) return REAL(fdatasync)(fd);
	return pf_io_fsync(o, fd, 1);
}

EXPORT int sync_file_range(int fd, off64_t off, off64_t n, unsigned int flags)
{
	MANAGED(fd) return REAL(sync_file_range)(fd, off, n, flags);
	return pf_io_sync_range(o, fd, off, n, flags);
}

/* The managed case goes to the file model, which looks the descriptors up again, so the unmanaged case
 * stays frameless (see MANAGED); pf_io_sendfile also takes the not-yet-resolved case, so the wrapper itself
 * makes no call that needs its arguments kept. */
EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t count)
{
	pf_real_sendfile64_t real = __atomic_load_n(&pf_real_sendfile64, __ATOMIC_RELAXED);
	if (LIKELY(real != NULL && !pf_fd_maybe_either(in, out)))
		return real(out, in, off, count);
	return pf_io_sendfile(out, in, off, count);
}

EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t count)
{
	return sendfile64(out, in, (off64_t *)off, count);
}

EXPORT ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out, size_t n, unsigned int flags)
{
	if (LIKELY(!pf_fd_maybe_either(in, out)))
		return REAL(copy_file_range)(in, off_in, out, off_out, n, flags);
	return pf_io_copy_file_range(in, off_in, out, off_out, n, flags);
}

EXPORT ssize_t splice(int in, off64_t *off_in, int out, off64_t *off_out, size_t n, unsigned int flags)
{
	if (LIKELY(!pf_fd_maybe_either(in, out)))
		return REAL(splice)(in, off_in, out, off_out, n, flags);
	return pf_io_splice(in, off_in, out, off_out, n, flags);
}

/* ---------------------------------------------------------------- mappings */

EXPORT void *mmap64(void *addr, size_t n, int prot, int flags, int fd, off64_t off)
{
	struct pf_ofd *o = (flags & MAP_ANONYMOUS) ? NULL : pf_fd_lookup(fd);
	if (LIKELY(!o && (!(flags & MAP_FIXED) || !pf_io_maps_any())))
		return REAL(mmap64)(addr, n, prot, flags, fd, off);
	return pf_io_mmap(o, fd, addr, n, prot, flags, off);
}

EXPORT void *mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
	return mmap64(addr, n, prot, flags, fd, off);
}

EXPORT int munmap(void *addr, size_t n)
{
	if (LIKELY(!pf_io_maps_any()))
		return REAL(munmap)(addr, n);
	return pf_io_munmap(addr, n);
}

EXPORT int msync(void *addr, size_t n, int flags)
{
	if (LIKELY(!pf_io_maps_any()))
		return REAL(msync)(addr, n, flags);
	return pf_io_msync(addr, n, flags);
}

EXPORT void *mremap(void *old, size_t olen, size_t nlen, int flags, ...)
{
	void *naddr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		naddr = va_arg(ap, void *);
		va_end(ap);
	}
	if (LIKELY(!pf_io_maps_any()))
		return REAL(mremap)(old, olen, nlen, flags, naddr);
	return pf_io_mremap(old, olen, nlen, flags, naddr);
}

/* the shim sets the mtime of a file stored into through a mapping of its pool blocks (mapped.c) */
EXPORT int utimensat(int d, const char *p, const struct timespec t[2], int fl) { return REAL(utimensat)(d, p, t, fl); }

/* ---------------------------------------------------------------- stat family (pass-through) */

EXPORT int fstat(int fd, struct stat *st) { return REAL(fstat)(fd, st); }
EXPORT int fstat64(int fd, struct stat64 *st) { return REAL(fstat64)(fd, st); }
EXPORT int stat(const char *p, struct stat *st) { return REAL(stat)(p, st); }
EXPORT int stat64(const char *p, struct stat64 *st) { return REAL(stat64)(p, st); }
EXPORT int lstat(const char *p, struct stat *st) { return REAL(lstat)(p, st); }
EXPORT int lstat64(const char *p, struct stat64 *st) { return REAL(lstat64)(p, st); }
EXPORT int fstatat(int d, const char *p, struct stat *st, int fl) { return REAL(fstatat)(d, p, st, fl); }
EXPORT int fstatat64(int d, const char *p, struct stat64 *st, int fl) { return REAL(fstatat64)(d, p, st, fl); }
EXPORT int __fxstat(int v, int fd, struct stat *st) { return REAL(__fxstat)(v, fd, st); }
EXPORT int __fxstat64(int v, int fd, struct stat64 *st) { return REAL(__fxstat64)(v, fd, st); }
EXPORT int __xstat(int v, const char *p, struct stat *st) { return REAL(__xstat)(v, p, st); }
EXPORT int __xstat64(int v, const char *p, struct stat64 *st) { return REAL(__xstat64)(v, p, st); }
EXPORT int __lxstat(int v, const char *p, struct stat *st) { return REAL(__lxstat)(v, p, st); }
EXPORT int __lxstat64(int v, const char *p, struct stat64 *st) { return REAL(__lxstat64)(v, p, st); }
EXPORT int __fxstatat(int v, int d, const char *p, struct stat *st, int fl) { return REAL(__fxstatat)(v, d, p, st, fl); }
EXPORT int __fxstatat64(int v, int d, const char *p, struct stat64 *st, int fl) { return REAL(__fxstatat64)(v, d, p, st, fl); }
EXPORT int statx(int d, const char *p, int fl, unsigned int mask, struct statx *stx) { return REAL(statx)(d, p, fl, mask, stx); }

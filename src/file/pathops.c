/*
 * pathops.c - path operations on managed names (see file.h): unlink, rename, truncate by path, a stdio
 * open, and the renames of whole partition directories (topic deletion renames topic-0 to
 * topic-0.<uuid>-delete with its segments open). Each performs the real call itself and keeps the table's
 * view of the file (its path, whether a name still reaches it) in step with it.
 *
 * Owns: nothing beyond the call. May call: table.c, moves.c, io.c, paths.h, tier.h, log.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "paths.h"
#include "real.h"
#include "tier.h"

int pf_path_unlink(enum pf_unlink_kind kind, int dirfd, const char *path, int flags)
{
	uint64_t nlink = 0;
	struct pf_file *f = (kind == PF_UNLINKAT && (flags & AT_REMOVEDIR)) ? NULL
									   : file_find_path(dirfd, path, 0, &nlink, NULL);
	int r = kind == PF_UNLINK ? REAL(unlink)(path)
		: kind == PF_REMOVE ? REAL(remove)(path)
				    : REAL(unlinkat)(dirfd, path, flags);
	if (f) {
		int e = errno;
		if (r == 0 && nlink <= 1)
			file_unlinked(f);
		file_put(f);
		errno = e;
	}
	return r;
}

void pf_path_pin_real(const char *path)
{
	struct pf_file *f = file_find_path(AT_FDCWD, path, 1, NULL, NULL);
	if (!f)
		return;
	if (pin_real_by_path(f, AT_FDCWD, path) < 0)
		pf_log(PF_LOG_ERROR, "cannot move %s out of the pool for a stdio open: %s", path, strerror(errno));
	file_put(f);
}

/* ---------------------------------------------------------------- truncate */

struct trunc_arg {
	const char *path;
	off_t len;
};

static int do_truncate(void *a)
{
	struct trunc_arg *t = a;
	return REAL(truncate64)(t->path, t->len);
}

int pf_path_truncate(const char *path, off_t len)
{
	uint64_t size = 0;
	struct pf_file *f = len < 0 ? NULL : file_find_path(AT_FDCWD, path, 1, NULL, &size);
	if (!f)
		return REAL(truncate64)(path, len);
	pthread_rwlock_wrlock(&f->lock);
	if (!f->size_known)
		f->size = size;
	struct trunc_arg a = { path, len };
	int r;
	if (!pf_tier_is_writer() && f->rec >= 0) {
		errno = EROFS;
		r = -1;
	} else {
		r = truncate_locked(f, (uint64_t)len, do_truncate, &a);
	}
	pthread_rwlock_unlock(&f->lock);
	int e = errno;
	file_put(f);
	errno = e;
	return r;
}

/* ---------------------------------------------------------------- rename */

/* Would a rename of a regular file to newpath get past the obvious checks (parent is a directory, target
 * not a directory)? Moving pool bytes out is only worth doing for a rename that will happen. */
static int rename_target_plausible(int dirfd, const char *newpath)
{
	int e = errno;
	char parent[PATH_MAX];
	snprintf(parent, sizeof parent, "%s", newpath);
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(parent, sizeof parent, ".");
	struct statx stx;
	int ok = REAL(statx)(dirfd, parent, 0, STATX_TYPE, &stx) == 0 && S_ISDIR(stx.stx_mode) &&
		 !(REAL(statx)(dirfd, newpath, AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) == 0 && S_ISDIR(stx.stx_mode));
	errno = e;
	return ok;
}

int pf_path_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags,
		   int how)
{
	uint64_t src_links = 0, dst_links = 0;
	struct pf_file *src = file_find_path(olddirfd, oldpath, 0, &src_links, NULL);
	struct pf_file *dst = file_find_path(newdirfd, newpath, 0, &dst_links, NULL);
	char oldabs[PATH_MAX], newabs[PATH_MAX];
	int have_old = pf_path_absolute(olddirfd, oldpath, oldabs, sizeof oldabs) == 0;
	int have_new = pf_path_absolute(newdirfd, newpath, newabs, sizeof newabs) == 0;
	int r = 0, e = 0;
	if (src && src->rec >= 0 && (!have_new || !pf_path_managed(newabs)) &&
	    rename_target_plausible(newdirfd, newpath)) {
		/* Leaving the managed directories: under its new name nobody would look in the pool. */
		r = pin_real_by_path(src, olddirfd, oldpath);
		e = errno;
	}
	if (r == 0) {
		r = pf_rename_as(how, olddirfd, oldpath, newdirfd, newpath, flags);
		e = errno;
	}
	if (r == 0) {
		if (src && have_new)
			file_set_path(src, newabs);
		if (dst && dst != src) {
			if (flags & RENAME_EXCHANGE) {
				if (have_old)
					file_set_path(dst, oldabs);
			} else if (dst_links <= 1) {
				file_unlinked(dst);
			}
		}
	}
	if (src)
		file_put(src);
	if (dst)
		file_put(dst);
	errno = e;
	return r;
}

/* ---------------------------------------------------------------- directory renames */

struct dir_move {
	const char *oldabs, *newabs;
	size_t ol;
	int failed;
};

/* Is f under the directory that moves? Then buf gets its new path, or "" when that is too long. */
static int moved_path(const struct pf_file *f, const struct dir_move *m, char *buf, size_t n)
{
	if (strncmp(f->path, m->oldabs, m->ol) != 0 || f->path[m->ol] != '/')
		return 0;
	if (snprintf(buf, n, "%s%s", m->newabs, f->path + m->ol) >= (int)n)
		buf[0] = '\0';
	return 1;
}

static void follow_rename(struct pf_file *f, void *arg)
{
	char np[PATH_MAX];
	if (moved_path(f, arg, np, sizeof np) && np[0])
		file_set_path(f, np);
}

/* A file with pool bytes whose new name is not managed (or too long to know) goes to the slow tier. */
static void leave_managed(struct pf_file *f, void *arg)
{
	struct dir_move *m = arg;
	char np[PATH_MAX];
	if (f->rec < 0 || !moved_path(f, m, np, sizeof np) || (np[0] && pf_path_managed(np)))
		return;
	char cur[PATH_MAX];
	snprintf(cur, sizeof cur, "%s", f->path);
	if (pin_real_by_path(f, AT_FDCWD, cur) < 0)
		m->failed = 1;
}

int pf_path_rename_dir(const char *oldabs, const char *newabs, int olddirfd, const char *oldpath, int newdirfd,
		       const char *newpath, unsigned flags, int how)
{
	struct dir_move m = { oldabs, newabs, strlen(oldabs), 0 };
	files_each_locked(leave_managed, &m);
	if (m.failed)
		return -1;
	int r = pf_rename_as(how, olddirfd, oldpath, newdirfd, newpath, flags);
	if (r == 0) {
		int e = errno;
		files_each_locked(follow_rename, &m);
		errno = e;
	}
	return r;
}

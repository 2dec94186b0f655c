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

/* ---------------------------------------------------------------- names of a file
 *
 * RULE: an inode keeps bytes in the pool only while every name and every descriptor that reaches it is
 * one the shim sees. A name the shim cannot see (a hard link or symlink whose own name is not a segment
 * name, a rename or exchange to such a name) or one it no longer sees (an unlink or replacement while
 * another name survives) first moves the file's pool bytes into its real file, for good (pinned). An
 * inode the shim did not track that gains a managed name has this process's descriptors of it adopted,
 * so that no descriptor of a managed file goes around the shim.
 */

/* Another name reaches f, or will: its pool bytes go to its real file now and stay there. dirfd/path name
 * it (for a descriptor to copy through when this process has none open). Returns 0, or -1 with errno and
 * a log line when the bytes could not be moved: the caller then refuses the operation, which would leave
 * a name reading the sparse file's zeros. */
static int keep_reachable(struct pf_file *f, int dirfd, const char *path, const char *why)
{
	if (pin_real_by_path(f, dirfd, path) == 0)
		return 0;
	pf_log(PF_LOG_ERROR, "cannot move %s out of the pool before %s: %s; refusing it", f->path, why,
	       strerror(errno));
	return -1;
}

/* The last name of f went away: from now on only descriptors reach it. Its record says so first (after
 * the real unlink), so that recovery after a crash before the last close frees its bytes. */
static void mark_unlinked(struct pf_file *f)
{
	pthread_rwlock_wrlock(&f->lock);
	if (f->rec >= 0 && pf_tier_is_writer())
		pf_pool_rec_set_flags(f->pool, (uint32_t)f->rec, pf_pool_rec_flags(f->pool, (uint32_t)f->rec) | PF_RECF_UNLINKED);
	pthread_rwlock_unlock(&f->lock);
	file_unlinked(f);
}

/* An inode the table does not know now has the managed name abspath (dirfd/path): adopt its descriptors. */
static void adopt_at(int dirfd, const char *path, const char *abspath)
{
	struct statx stx;
	int e = errno;
	if (REAL(statx)(dirfd, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_BTIME, &stx) == 0 &&
	    S_ISREG(stx.stx_mode) && (stx.stx_mask & STATX_BTIME)) {
		struct pf_key k;
		key_of_statx(&stx, &k, abspath);
		file_adopt_fds(&k, abspath);
	}
	errno = e;
}

int pf_path_unlink(enum pf_unlink_kind kind, int dirfd, const char *path, int flags)
{
	uint64_t nlink = 0;
	struct pf_file *f = (kind == PF_UNLINKAT && (flags & AT_REMOVEDIR)) ? NULL
									   : file_find_path(dirfd, path, 0, &nlink, NULL);
	int r = f && nlink > 1 ? keep_reachable(f, dirfd, path, "unlinking one of its names") : 0;
	if (r == 0)
		r = kind == PF_UNLINK ? REAL(unlink)(path)
		    : kind == PF_REMOVE ? REAL(remove)(path)
					: REAL(unlinkat)(dirfd, path, flags);
	if (f) {
		int e = errno;
		if (r == 0 && nlink <= 1)
			mark_unlinked(f);
		file_put(f);
		errno = e;
	}
	return r;
}

int pf_path_link(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags, int how)
{
	int follow = how == 1 && (flags & AT_SYMLINK_FOLLOW);
	struct pf_file *src = file_find_path(olddirfd, oldpath, follow, NULL, NULL);
	char newabs[PATH_MAX];
	int new_managed = pf_path_absolute(newdirfd, newpath, newabs, sizeof newabs) == 0 && pf_path_managed(newabs);
	int r = src && !new_managed ? keep_reachable(src, olddirfd, oldpath, "a hard link under a name the shim does not see") : 0;
	if (r == 0)
		r = how == 0 ? REAL(link)(oldpath, newpath) : REAL(linkat)(olddirfd, oldpath, newdirfd, newpath, flags);
	int e = errno;
	if (r == 0 && !src && new_managed)
		adopt_at(newdirfd, newpath, newabs);
	if (src)
		file_put(src);
	errno = e;
	return r;
}

int pf_path_symlink(const char *target, const char *target_abs, int newdirfd, const char *linkpath, int how)
{
	/* An open through the new name is seen as managed only if the name itself is a segment name. */
	if (!pf_path_name_matches(linkpath)) {
		struct pf_file *f = file_find_path(AT_FDCWD, target_abs, 1, NULL, NULL);
		if (f) {
			int r = keep_reachable(f, AT_FDCWD, target_abs, "a symlink under a name the shim does not see");
			int e = errno;
			file_put(f);
			if (r < 0) {
				errno = e;
				return -1;
			}
		}
	}
	return how == 0 ? REAL(symlink)(target, linkpath) : REAL(symlinkat)(target, newdirfd, linkpath);
}

int pf_path_pin_real(const char *path)
{
	struct pf_file *f = file_find_path(AT_FDCWD, path, 1, NULL, NULL);
	if (!f)
		return 0;
	int r = pin_real_by_path(f, AT_FDCWD, path);
	int e = errno;
	if (r < 0)
		pf_log(PF_LOG_ERROR, "cannot move %s out of the pool for a stdio open: %s; refusing it", path, strerror(e));
	file_put(f);
	errno = e;
	return r;
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
	if (f->broken) {
		file_eio();
		r = -1;
	} else if (!pf_tier_is_writer() && f->rec >= 0) {
		errno = EROFS;
		r = -1;
	} else {
		r = truncate_locked(f, -1, (uint64_t)len, do_truncate, &a);
	}
	pthread_rwlock_unlock(&f->lock);
	int e = errno;
	file_put(f);
	errno = e;
	return r;
}

int pf_path_open_trunc(int dirfd, const char *path, int flags)
{
	if (!(flags & O_TRUNC) || (flags & O_ACCMODE) == O_RDONLY || pf_tier_is_writer())
		return 0;
	struct statx stx;
	int e = errno;
	if (REAL(statx)(dirfd, path, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0, STATX_TYPE | STATX_INO | STATX_BTIME,
			&stx) < 0 ||
	    !S_ISREG(stx.stx_mode) || !(stx.stx_mask & STATX_BTIME)) {
		errno = e; /* missing, or not a regular file: the kernel's open decides */
		return 0;
	}
	struct pf_key k;
	key_of_statx(&stx, &k, path);
	if (ro_has_record(&k)) {
		errno = EROFS; /* its bytes are in a pool only the writer changes */
		return -1;
	}
	return 0;
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
	int old_managed = have_old && pf_path_managed(oldabs), new_managed = have_new && pf_path_managed(newabs);
	int exchange = (flags & RENAME_EXCHANGE) != 0;
	int r = 0;
	if (rename_target_plausible(newdirfd, newpath)) {
		/* Leaving the managed names: under its new name nobody would look in the pool. */
		if (src && src->rec >= 0 && !new_managed)
			r = keep_reachable(src, olddirfd, oldpath, "a rename to a name the shim does not see");
		if (r == 0 && dst && dst != src && dst->rec >= 0 && exchange && !old_managed)
			r = keep_reachable(dst, newdirfd, newpath, "an exchange with a name the shim does not see");
		if (r == 0 && dst && dst != src && !exchange && dst_links > 1)
			r = keep_reachable(dst, newdirfd, newpath, "replacing one of its names");
	}
	if (r == 0)
		r = pf_rename_as(how, olddirfd, oldpath, newdirfd, newpath, flags);
	int e = errno;
	if (r == 0) {
		if (src && have_new)
			file_set_path(src, newabs);
		else if (!src && new_managed)
			adopt_at(newdirfd, newpath, newabs);
		if (exchange) {
			if (dst && dst != src && have_old)
				file_set_path(dst, oldabs);
			else if (!dst && old_managed)
				adopt_at(olddirfd, oldpath, oldabs);
		} else if (dst && dst != src && dst_links <= 1) {
			mark_unlinked(dst);
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

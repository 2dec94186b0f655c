/*
 * orphans.c - at activation, as the pools' writer and before any file is opened: a record whose file no
 * longer exists in any managed directory is an orphan. Pool bytes are freed only once nothing can reach
 * them: when the shim saw the file's last name go (PF_RECF_UNLINKED: unlinked while open by a process
 * that then died), its descriptors died with that process and its space is taken back, and said so. Any
 * other missing file (deleted by hand, or moved away, behind the shim's back) may still be reachable
 * through another name: the record's file handle (name_to_handle_at, taken when it was made) tells
 * (open_by_handle_at, which needs CAP_DAC_READ_SEARCH): a living inode gets its pool bytes and the record
 * goes; a gone one (ESTALE) frees them; when it cannot tell, the bytes are kept, and said so ('pafka fsck'
 * can free them after checking). A record whose path hint is merely stale gets the path its file is found
 * at.
 *
 * Owns: nothing beyond the scan. May call: table.c, placement.c, paths.h, pool.h, log.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "paths.h"
#include "pool.h"
#include "real.h"

struct found {
	struct pf_key key;
	char path[PATH_MAX];
};

struct scan {
	struct found *v;
	size_t n, cap;
	int done;
	int incomplete; /* a directory or file that could not be read: absence proves nothing */
};

static void add_found(struct scan *s, const char *path)
{
	struct statx stx;
	if (REAL(statx)(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) < 0) {
		s->incomplete |= errno != ENOENT; /* (ENOENT: deleted since the directory was read) */
		return;
	}
	if (!(stx.stx_mask & STATX_BTIME))
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct found *nv = realloc(s->v, cap * sizeof *nv);
		if (!nv) {
			s->incomplete = 1;
			return;
		}
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n].key = (struct pf_key){ stx.stx_ino, stx.stx_btime.tv_sec, stx.stx_btime.tv_nsec };
	snprintf(s->v[s->n].path, sizeof s->v[s->n].path, "%s", path);
	s->n++;
}

/* Every managed-looking file in the managed directories, with its identity. */
static void scan_managed_dirs(struct scan *s)
{
	s->done = 1;
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		DIR *top = opendir(pf_paths_dir(d));
		if (!top) {
			s->incomplete |= errno != ENOENT;
			continue;
		}
		struct dirent *pe;
		while ((errno = 0, pe = readdir(top))) {
			char part[PATH_MAX];
			if (pe->d_name[0] == '.' ||
			    snprintf(part, sizeof part, "%s/%s", pf_paths_dir(d), pe->d_name) >= (int)sizeof part)
				continue;
			DIR *pd = opendir(part);
			if (!pd) {
				s->incomplete |= errno != ENOENT && errno != ENOTDIR;
				continue;
			}
			struct dirent *e;
			while ((errno = 0, e = readdir(pd))) {
				char p[PATH_MAX];
				if (pf_name_matches(e->d_name) && snprintf(p, sizeof p, "%s/%s", part, e->d_name) < (int)sizeof p)
					add_found(s, p);
			}
			s->incomplete |= errno != 0;
			closedir(pd);
		}
		s->incomplete |= errno != 0;
		closedir(top);
	}
}

/* A descriptor of the inode f's record names through its file handle, tried against every log dir's file
 * system; checked to be f. Returns it, or -1 with errno (ESTALE: the inode is gone). */
static int open_by_record_handle(struct pf_file *f)
{
	struct pf_rec_view v;
	pf_pool_rec_get(f->pool, (uint32_t)f->rec, &v);
	if (v.handle_bytes == 0 || v.handle_bytes > PF_HANDLE_MAX) {
		errno = ENOTSUP;
		return -1;
	}
	struct {
		struct file_handle fh;
		unsigned char buf[PF_HANDLE_MAX];
	} u;
	u.fh.handle_bytes = v.handle_bytes;
	u.fh.handle_type = (int)v.handle_type;
	memcpy(u.fh.f_handle, v.handle, v.handle_bytes);
	int err = ENOTSUP;
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		int mfd = REAL(open)(pf_paths_dir(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (mfd < 0)
			continue;
		int fd = open_by_handle_at(mfd, &u.fh, O_RDWR | O_CLOEXEC);
		int e = errno;
		REAL(close)(mfd);
		if (fd >= 0) {
			struct statx stx;
			int r = REAL(statx)(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_NLINK, &stx);
			e = errno;
			if (r == 0 && key_matches(&stx, &f->key) && stx.stx_nlink > 0)
				return fd;
			REAL(close)(fd);
			if (r == 0)
				e = ESTALE; /* another inode, or one no name reaches */
			else if (e == ESTALE)
				e = EIO; /* the statx of a live descriptor failed: that proves nothing */
		}
		if (e == ESTALE || err == ENOTSUP)
			err = e;
	}
	errno = err;
	return -1;
}

/* A record whose file is in no log dir and whose last name the shim did not see go: moved into the inode
 * when another name still reaches it, freed when its inode is provably gone, else kept. Returns 1 when the
 * record is settled (freed either way), 0 when it is kept. */
static int settle_unseen(struct pf_file *f)
{
	int fd = open_by_record_handle(f);
	if (fd >= 0) {
		struct stat st;
		pthread_rwlock_wrlock(&f->lock);
		int r = REAL(fstat)(fd, &st);
		if (r == 0) {
			f->size = (uint64_t)st.st_size;
			r = materialise(f, fd);
		}
		pthread_rwlock_unlock(&f->lock);
		int e = errno;
		REAL(close)(fd);
		if (r == 0) {
			pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) is in no log dir, but another name "
					    "still reaches it: its pool bytes moved to it",
			       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino);
			file_orphaned_locked(f); /* no record left: out of the table */
		} else
			pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) is in no log dir and another name "
					    "still reaches it, but its pool bytes could not be moved to it (%s): kept",
			       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino, strerror(e));
		return r == 0;
	}
	if (errno == ESTALE) {
		pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) no longer exists: freeing its pool bytes",
		       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino);
		file_orphaned_locked(f);
		return 1;
	}
	pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) is in no log dir, but its last name was not "
			    "seen to go and whether another name reaches it cannot be told (%s): keeping its pool bytes; "
			    "'pafka fsck' says what to do",
	       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino, strerror(errno));
	return 0;
}

static void reap(struct pf_file *f, void *arg)
{
	struct scan *s = arg;
	if (f->rec < 0 || f->nopen > 0)
		return;
	struct statx stx;
	int r = f->path[0] == '/' ? REAL(statx)(AT_FDCWD, f->path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) : 0;
	int path_err = r < 0 && errno != ENOENT && errno != ENOTDIR ? errno : 0;
	if (f->path[0] == '/' && r == 0 && key_matches(&stx, &f->key)) {
		durable_restore(f, f->path);
		return;
	}
	if (!s->done)
		scan_managed_dirs(s);
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(&s->v[i].key, &f->key, sizeof f->key)) {
			pthread_rwlock_wrlock(&f->lock);
			if (file_path_store(f, s->v[i].path) < 0) {
				pthread_rwlock_unlock(&f->lock);
				continue; /* out of memory: as if not found here */
			}
			pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, s->v[i].path);
			durable_restore(f, f->path);
			pthread_rwlock_unlock(&f->lock);
			return;
		}
	if (f->broken)
		return; /* left as it is, for 'pafka fsck' */
	if (path_err || s->incomplete) {
		/* Its name, or a log dir, could not be read: absence from the scan proves nothing. */
		pf_log(PF_LOG_WARN, "pool %s: whether the file last seen as %s (inode %llu) still exists cannot be told "
				    "(%s): keeping its pool bytes",
		       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino,
		       strerror(path_err ? path_err : EIO));
		return;
	}
	if (!(pf_pool_rec_flags(f->pool, (uint32_t)f->rec) & PF_RECF_UNLINKED)) {
		settle_unseen(f);
		return;
	}
	pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) was unlinked and is gone: freeing its %s pool bytes",
	       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino, f->maplen ? "orphaned" : "(no)");
	file_orphaned_locked(f);
}

void pf_files_reap_orphans(void)
{
	struct scan s = { NULL, 0, 0, 0, 0 };
	files_each_locked(reap, &s);
	free(s.v);
}

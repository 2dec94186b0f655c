/*
 * orphans.c - at activation, as the pools' writer and before any file is opened: a record whose file no
 * longer exists in any managed directory is an orphan. Pool bytes are freed only once nothing can reach
 * them: when the shim saw the file's last name go (PF_RECF_UNLINKED: unlinked while open by a process
 * that then died), its descriptors died with that process and its space is taken back, and said so. Any
 * other missing file (deleted by hand, or moved away, behind the shim's back) may still be reachable
 * through another name: its bytes are kept, and said so ('pafka fsck' can free them after checking). A
 * record whose path hint is merely stale gets the path its file is found at.
 *
 * Owns: nothing beyond the scan. May call: table.c, placement.c, paths.h, pool.h, log.h, real.h.
 */
#define _GNU_SOURCE
#include "file_impl.h"

#include <dirent.h>
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
};

static void add_found(struct scan *s, const char *path)
{
	struct statx stx;
	if (REAL(statx)(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) < 0 ||
	    !(stx.stx_mask & STATX_BTIME))
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct found *nv = realloc(s->v, cap * sizeof *nv);
		if (!nv)
			return;
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
		if (!top)
			continue;
		struct dirent *pe;
		while ((pe = readdir(top))) {
			char part[PATH_MAX];
			if (pe->d_name[0] == '.' ||
			    snprintf(part, sizeof part, "%s/%s", pf_paths_dir(d), pe->d_name) >= (int)sizeof part)
				continue;
			DIR *pd = opendir(part);
			if (!pd)
				continue;
			struct dirent *e;
			while ((e = readdir(pd))) {
				char p[PATH_MAX];
				if (pf_name_matches(e->d_name) && snprintf(p, sizeof p, "%s/%s", part, e->d_name) < (int)sizeof p)
					add_found(s, p);
			}
			closedir(pd);
		}
		closedir(top);
	}
}

static void reap(struct pf_file *f, void *arg)
{
	struct scan *s = arg;
	if (f->rec < 0 || f->nopen > 0)
		return;
	struct statx stx;
	if (f->path[0] == '/' && REAL(statx)(AT_FDCWD, f->path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME, &stx) == 0 &&
	    key_matches(&stx, &f->key))
		return;
	if (!s->done)
		scan_managed_dirs(s);
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(&s->v[i].key, &f->key, sizeof f->key)) {
			pthread_rwlock_wrlock(&f->lock);
			snprintf(f->path, sizeof f->path, "%s", s->v[i].path);
			pf_pool_rec_set_path(f->pool, (uint32_t)f->rec, s->v[i].path);
			pthread_rwlock_unlock(&f->lock);
			return;
		}
	if (!(pf_pool_rec_flags(f->pool, (uint32_t)f->rec) & PF_RECF_UNLINKED)) {
		pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) is in no log dir, but its last name "
				    "was not seen to go: keeping its pool bytes (another name may reach them); 'pafka fsck' "
				    "says what to do",
		       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino);
		return;
	}
	pf_log(PF_LOG_WARN, "pool %s: the file last seen as %s (inode %llu) was unlinked and is gone: freeing its %s pool bytes",
	       f->pool->path, f->path[0] ? f->path : "?", (unsigned long long)f->key.ino, f->maplen ? "orphaned" : "(no)");
	file_orphaned_locked(f);
}

void pf_files_reap_orphans(void)
{
	struct scan s = { NULL, 0, 0, 0 };
	files_each_locked(reap, &s);
	free(s.v);
}

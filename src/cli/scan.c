/*
 * scan.c - listing the files of the managed log dirs with their identity (see scan.h).
 *
 * Owns: struct cli_scan. May call: paths.h (the segment pattern), output.c (messages).
 */
#define _GNU_SOURCE
#include "scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "paths.h"

int cli_stat_file(const char *path, struct cli_file *out)
{
	struct statx stx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_BTIME | STATX_SIZE | STATX_BLOCKS,
		  &stx) < 0)
		return -1;
	if (!S_ISREG(stx.stx_mode)) {
		errno = EINVAL;
		return -1;
	}
	out->ino = stx.stx_ino;
	out->has_btime = (stx.stx_mask & STATX_BTIME) != 0;
	out->btime_sec = stx.stx_btime.tv_sec;
	out->btime_nsec = stx.stx_btime.tv_nsec;
	out->size = stx.stx_size;
	out->alloc = stx.stx_blocks * 512;
	return 0;
}

static struct cli_file *grow(struct cli_scan *s)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct cli_file *nf = realloc(s->f, cap * sizeof *nf);
		if (!nf)
			return NULL;
		s->f = nf;
		s->cap = cap;
	}
	struct cli_file *f = &s->f[s->n];
	memset(f, 0, sizeof *f);
	f->pool = -1;
	f->rec = -1;
	f->slot = -1;
	return f;
}

static int scan_partition(struct cli *c, struct cli_scan *s, const char *logdir, const char *pdir)
{
	DIR *d = opendir(pdir);
	if (!d) {
		if (errno != ENOENT && errno != ENOTDIR) {
			cli_err(c, "cannot read %s: %s (results for it are incomplete)", pdir, strerror(errno));
			s->errors++;
		}
		return 0;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		char path[PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", pdir, e->d_name) >= (int)sizeof path)
			continue;
		struct cli_file *f = grow(s);
		if (!f) {
			closedir(d);
			return -1;
		}
		if (cli_stat_file(path, f) < 0)
			continue;
		if (!(f->path = strdup(path))) {
			closedir(d);
			return -1;
		}
		f->logdir = logdir;
		f->managed = pf_name_matches(e->d_name);
		s->n++;
	}
	closedir(d);
	return 0;
}

static const struct cli_scan *sort_scan;

static int by_ino(const void *a, const void *b)
{
	uint64_t x = sort_scan->f[*(const size_t *)a].ino, y = sort_scan->f[*(const size_t *)b].ino;
	return x < y ? -1 : x > y;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct cli_file *)a)->path, ((const struct cli_file *)b)->path);
}

static int scan(struct cli *c, struct cli_scan *s)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < c->ndirs; i++) {
		DIR *d = opendir(c->dirs[i]);
		if (!d) {
			cli_err(c, "cannot read log dir %s: %s (results for it are incomplete)", c->dirs[i], strerror(errno));
			s->errors++;
			continue;
		}
		struct dirent *e;
		int rc = 0;
		while (rc == 0 && (e = readdir(d))) {
			if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
				continue;
			char pdir[PATH_MAX];
			if (snprintf(pdir, sizeof pdir, "%s/%s", c->dirs[i], e->d_name) >= (int)sizeof pdir)
				continue;
			rc = scan_partition(c, s, c->dirs[i], pdir);
		}
		closedir(d);
		if (rc < 0)
			return -1;
	}
	if (s->n)
		qsort(s->f, s->n, sizeof *s->f, by_path);
	for (size_t i = 0; i < s->n; i++) {
		struct cli_file *f = &s->f[i];
		const char *name = strrchr(f->path, '/');
		const char *p = name - 1;
		while (p > f->path && *p != '/')
			p--;
		f->partition = p + 1;
		f->partition_len = (size_t)(name - p - 1);
	}
	s->by_ino = malloc((s->n ? s->n : 1) * sizeof *s->by_ino);
	if (!s->by_ino)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		s->by_ino[i] = i;
	sort_scan = s;
	if (s->n)
		qsort(s->by_ino, s->n, sizeof *s->by_ino, by_ino);
	return 0;
}

int cli_scan(struct cli *c, struct cli_scan *s)
{
	if (scan(c, s) == 0)
		return 0;
	cli_scan_free(s);
	cli_err(c, "out of memory");
	return -1;
}

void cli_scan_free(struct cli_scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->f[i].path);
	free(s->f);
	free(s->by_ino);
	memset(s, 0, sizeof *s);
}

struct cli_file *cli_scan_find(const struct cli_scan *s, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->f[s->by_ino[mid]].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->n && s->f[s->by_ino[lo]].ino == ino; lo++) {
		struct cli_file *f = &s->f[s->by_ino[lo]];
		if (f->has_btime && f->btime_sec == btime_sec && f->btime_nsec == btime_nsec)
			return f;
	}
	return NULL;
}

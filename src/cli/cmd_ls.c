/*
 * cmd_ls.c - `pafka ls [--json] [PATH...]`: managed segment files with their tier (pool, slow, mixed),
 * logical size, pool blocks and physical extents (runs of consecutive file blocks in consecutive pool
 * blocks). Default: every file of the managed log dirs, plus pool records whose file was not found. A file
 * whose record fails its integrity checks is listed as "damaged" (the shim refuses it).
 *
 * Owns: the file listing (text and JSON). May call: opts.c, output.c, view.c (which loads the
 * configuration and scans the log dirs), scan.c, paths.h, json.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "json.h"
#include "paths.h"
#include "scan.h"
#include "view.h"

static const struct cli_syntax syntax = {
	.usage = "usage: pafka ls [--json] [--config FILE] [--pool DIR] [PATH...]\n"
		 "\n"
		 "List managed segment files: TIER SIZE BLOCKS EXTENTS PATH, one per line. TIER is pool, slow or mixed\n"
		 "(missing: a pool record whose file is not in the log dirs; damaged: its record fails its integrity\n"
		 "checks, see 'pafka fsck'); SIZE the logical size in bytes; BLOCKS the\n"
		 "pool blocks held; EXTENTS runs FILEBLOCKS@POOLBLOCKS (e.g. 0-15@32-47), '-' when none. PATH may be a\n"
		 "segment file, a partition directory or a log dir; default: every managed log dir. A file whose pool\n"
		 "window closed because the pool was full is marked '(spilled ...)': its appends go to the slow tier\n"
		 "until migration readmits its tail. --json adds window_start (bytes below it are the slow tier's)\n"
		 "and appends (pool or slow).\n",
	.json = 1,
	.operands = CLI_ANY,
};

struct ls {
	struct cli *c;
	struct cli_views vs;
	struct json j;
};

/* The next extent of cr from its *i-th block on: its first file block, first pool block and length.
 * Returns 0 when there is none. */
static int next_extent(const struct cli_rec *cr, uint64_t *i, uint64_t *file, uint64_t *pool, uint64_t *n)
{
	if (!cr || *i >= cr->nblk)
		return 0;
	const struct cli_blk *b = cr->blk;
	size_t k = *i, first = k;
	while (k + 1 < cr->nblk && b[k + 1].idx == b[k].idx + 1 && b[k + 1].phys == b[k].phys + 1)
		k++;
	*file = b[first].idx;
	*pool = b[first].phys;
	*n = k + 1 - first;
	*i = k + 1;
	return 1;
}

/* Write the extents of cr ("a-b@p-q,a@p"), or "-" for none. */
static void extents_text(const struct cli_rec *cr)
{
	uint64_t i = 0, f, p, n;
	int any = 0;
	for (; next_extent(cr, &i, &f, &p, &n); any = 1)
		if (n == 1)
			printf("%s%llu@%llu", any ? "," : "", (unsigned long long)f, (unsigned long long)p);
		else
			printf("%s%llu-%llu@%llu-%llu", any ? "," : "", (unsigned long long)f,
			       (unsigned long long)(f + n - 1), (unsigned long long)p, (unsigned long long)(p + n - 1));
	if (!any)
		putchar('-');
}

static void extents_json(struct json *j, const struct cli_rec *cr)
{
	uint64_t i = 0, f, p, n;
	json_arr(j, "extents");
	while (next_extent(cr, &i, &f, &p, &n)) {
		json_obj(j, NULL);
		json_u64(j, "file_block", f);
		json_u64(j, "pool_block", p);
		json_u64(j, "blocks", n);
		json_end_obj(j);
	}
	json_end_arr(j);
}

/* The record's window is closed: the pool was full when the file grew past it. */
static int spilled(const struct cli_rec *cr)
{
	return cr && !cr->broken && cr->r.lo != PF_HI_NONE && cr->r.hi != PF_HI_NONE;
}

/* Where the file's pool window starts (bytes below it were moved to, or always were in, the real file)
 * and where new appends go. */
static void window_json(struct json *j, const struct cli_rec *cr, const struct cli_view *v)
{
	if (!cr || cr->broken || cr->r.lo == PF_HI_NONE) {
		json_null(j, "window_start");
		json_null(j, "appends"); /* no record (a next append may take one), damaged, or being promoted */
		return;
	}
	uint64_t start = cr->r.lo <= UINT64_MAX / v->pool.bsize ? cr->r.lo * v->pool.bsize : UINT64_MAX;
	json_u64(j, "window_start", start);
	json_str(j, "appends", spilled(cr) ? "slow" : "pool");
}

static void show(struct ls *l, const char *path, uint64_t size, const struct cli_rec *cr, const struct cli_view *v)
{
	uint64_t pb, sb;
	const char *tier = cli_tier(cr, size, &pb, &sb);
	if (cr && cr->found == CLI_MISSING)
		tier = "missing";
	if (l->c->json) { /* text and JSON differ in form: one line, or an object with extents */
		json_obj(&l->j, NULL);
		json_str(&l->j, "path", path);
		json_str(&l->j, "tier", tier);
		json_u64(&l->j, "size", size);
		json_bool(&l->j, "size_known", !cr || cr->size_known);
		json_u64(&l->j, "pool_bytes", pb);
		json_u64(&l->j, "slow_bytes", sb);
		json_u64(&l->j, "pool_blocks", cr ? cr->nblocks : 0);
		if (cr) {
			json_str(&l->j, "pool", v->pool.path);
			json_u64(&l->j, "record", cr->idx);
			json_u64(&l->j, "inode", cr->r.ino);
		} else {
			json_null(&l->j, "pool");
			json_null(&l->j, "record");
			json_null(&l->j, "inode");
		}
		window_json(&l->j, cr, v);
		extents_json(&l->j, cr);
		json_end_obj(&l->j);
		return;
	}
	printf("%-7s %12llu %6llu ", tier, (unsigned long long)size, (unsigned long long)(cr ? cr->nblocks : 0));
	extents_text(cr);
	printf(" %s%s\n", path, spilled(cr) ? " (spilled: appends go to the slow tier until readmitted)" : "");
}

static const struct cli_rec *find_rec(const struct ls *l, const struct cli_file *f, const struct cli_view **vout)
{
	if (!f->has_btime)
		return NULL;
	for (int i = 0; i < l->vs.n; i++)
		for (size_t k = 0; k < l->vs.v[i].nrecs; k++) {
			const struct cli_rec *cr = &l->vs.v[i].recs[k];
			if (cr->r.ino == f->ino && cr->r.btime_sec == f->btime_sec && cr->r.btime_nsec == f->btime_nsec) {
				*vout = &l->vs.v[i];
				return cr;
			}
		}
	return NULL;
}

static void show_file(struct ls *l, const char *path, struct cli_file *f)
{
	const struct cli_view *v = f->pool >= 0 && f->slot >= 0 ? &l->vs.v[f->pool] : NULL;
	show(l, path, f->size, v ? &v->recs[f->slot] : NULL, v);
}

/* One PATH argument: a file, or a directory walked two levels deep (log dir / partition / file). */
static void list_path(struct ls *l, const char *arg, int depth)
{
	struct stat st;
	if (lstat(arg, &st) < 0) {
		cli_err(l->c, "%s: %s", arg, strerror(errno));
		return;
	}
	char abs[PATH_MAX];
	if (pf_path_absolute(AT_FDCWD, arg, abs, sizeof abs) < 0)
		snprintf(abs, sizeof abs, "%s", arg);
	if (S_ISREG(st.st_mode)) {
		struct cli_file f;
		memset(&f, 0, sizeof f);
		if (cli_stat_file(abs, &f) < 0) {
			cli_err(l->c, "%s: %s", arg, strerror(errno));
			return;
		}
		const struct cli_view *v = NULL;
		const struct cli_rec *cr = NULL;
		struct cli_file *sf = f.has_btime ? cli_scan_find(&l->vs.scan, f.ino, f.btime_sec, f.btime_nsec) : NULL;
		if (sf && sf->pool >= 0 && sf->slot >= 0) { /* the scan knows it: no search of the records */
			v = &l->vs.v[sf->pool];
			cr = &v->recs[sf->slot];
		} else if (!sf) {
			cr = find_rec(l, &f, &v);
		}
		if (!cr && !pf_name_matches(pf_basename(abs))) {
			if (depth == 0)
				cli_err(l->c, "%s: not a managed segment file (its name does not match pafka.segment.pattern)", arg);
			return;
		}
		show(l, abs, f.size, cr, v);
		return;
	}
	if (!S_ISDIR(st.st_mode) || depth >= 2) {
		if (depth == 0)
			cli_err(l->c, "%s: not a file or directory", arg);
		return;
	}
	struct dirent **names;
	int n = scandir(abs, &names, NULL, alphasort);
	if (n < 0) {
		cli_err(l->c, "cannot read %s: %s", arg, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.') {
			char p[PATH_MAX];
			if (snprintf(p, sizeof p, "%s/%s", abs, names[i]->d_name) < (int)sizeof p)
				list_path(l, p, depth + 1);
		}
		free(names[i]);
	}
	free(names);
}

/* Every managed file of the scan, then the records whose file is missing or outside the scanned dirs. */
static void list_all(struct ls *l)
{
	for (size_t i = 0; i < l->vs.scan.n; i++) {
		struct cli_file *f = &l->vs.scan.f[i];
		if (f->managed || f->pool >= 0)
			show_file(l, f->path, f);
	}
	for (int v = 0; v < l->vs.n; v++)
		for (size_t k = 0; k < l->vs.v[v].nrecs; k++) {
			const struct cli_rec *cr = &l->vs.v[v].recs[k];
			if (cr->file && cr->file != &cr->own)
				continue;
			char what[PF_PATH_MAX_REC + 64];
			if (cr->file)
				snprintf(what, sizeof what, "%s", cr->file->path);
			else if (cr->hint_ok)
				snprintf(what, sizeof what, "%s", cr->hint);
			else
				snprintf(what, sizeof what, "(inode %llu, record %u)", (unsigned long long)cr->r.ino, cr->idx);
			show(l, what, cr->size, cr, &l->vs.v[v]);
		}
}

int cmd_ls(struct cli *c, int argc, char **argv)
{
	int first, rc = cli_parse(c, &syntax, argc, argv, NULL, &first);
	if (rc != CLI_GO_ON)
		return rc;
	struct ls l;
	memset(&l, 0, sizeof l);
	l.c = c;
	if (cli_views_open(c, &l.vs) < 0) {
		cli_views_close(&l.vs);
		return CLI_FAIL;
	}
	rc = CLI_OK;
	cli_json_begin(c, &l.j);
	json_arr(&l.j, "files");
	if (first < argc)
		for (int i = first; i < argc; i++)
			list_path(&l, argv[i], 0);
	else
		list_all(&l);
	if (c->nerrors) /* a PATH or a log dir could not be listed (reported) */
		rc = CLI_FAIL;
	json_end_arr(&l.j);
	rc = cli_json_end(c, &l.j, rc);
	cli_views_close(&l.vs);
	return rc;
}

/*
 * status.c - the collection behind `pafka status` and `pafka status --watch` (status.h): the pools' views
 * (view.c: configuration, log-dir scan, pool tables), tallied per tier and per topic-partition, and each
 * pool's migration state from its header and control files.
 *
 * Owns: the tally. May call: view.c, scan.c (the scanned files), control.c (which control files exist),
 * output.c (messages), prom.h (tier indexes).
 */
#define _GNU_SOURCE
#include "status.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "pafka.h"
#include "pool_format.h"
#include "prom.h"
#include "scan.h"

static const char outside_dirs[] = "(outside the log dirs)";
static const char missing_dir[] = "(missing)";

struct part {
	const char *logdir;
	char *name;
	uint64_t files, bytes, pool_files, pool_bytes, slow_bytes;
};

struct status {
	struct cli *c;
	struct cli_views vs;
	uint64_t tier_files[2], tier_bytes[2];
	struct cli_part *parts;
	size_t nparts;
};

const char *cli_pool_state_name(enum cli_pool_state s)
{
	static const char *const names[] = {
		[CLI_POOL_RUNNING] = "running", [CLI_POOL_DRAINING] = "draining", [CLI_POOL_PAUSED] = "paused",
		[CLI_POOL_STOPPED] = "stopped", [CLI_POOL_OFF] = "off",
	};
	return names[s];
}

enum cli_pool_state cli_status_state(const struct cli_status *s, const struct cli_view *v)
{
	const struct cli *c = s->c;
	uint64_t st = v->pool.hdr->live.state;
	if (cli_exists(v->dir, PF_DRAIN_FILE) || (v->locked && (st & PF_LIVE_DRAINING)))
		return CLI_POOL_DRAINING;
	if (cli_exists(v->dir, PF_PAUSE_FILE) || (v->locked && (st & PF_LIVE_PAUSED)))
		return CLI_POOL_PAUSED;
	if (!v->locked)
		return CLI_POOL_STOPPED;
	if ((st & PF_LIVE_MIGRATING) || (c->cfg.channel == PF_CHANNEL_TIERED && c->cfg.migrate_threshold >= 0))
		return CLI_POOL_RUNNING;
	return CLI_POOL_OFF;
}

static struct cli_part *part_get(struct cli_status *s, const char *logdir, const char *name, size_t len)
{
	for (size_t i = s->nparts; i-- > 0;)
		if (s->parts[i].logdir == logdir && strlen(s->parts[i].name) == len && !strncmp(s->parts[i].name, name, len))
			return &s->parts[i];
	struct cli_part *np = realloc(s->parts, (s->nparts + 1) * sizeof *np);
	if (!np)
		return NULL;
	s->parts = np;
	struct cli_part *p = &s->parts[s->nparts];
	memset(p, 0, sizeof *p);
	p->logdir = logdir;
	if (!(p->name = strndup(name, len)))
		return NULL;
	s->nparts++;
	return p;
}

static int part_cmp(const void *a, const void *b)
{
	const struct cli_part *x = a, *y = b;
	int r = strcmp(x->logdir, y->logdir);
	return r ? r : strcmp(x->name, y->name);
}

static const struct cli_rec *rec_of(const struct cli_status *s, const struct cli_file *f)
{
	return f->pool >= 0 && f->slot >= 0 ? &s->vs.v[f->pool].recs[f->slot] : NULL;
}

static void account(struct cli_status *s, struct cli_part *p, const struct cli_rec *cr, uint64_t size)
{
	uint64_t pb, sb;
	cli_tier(cr, size, &pb, &sb);
	if (pb) {
		s->tier_files[PF_PROM_TIER_POOL]++;
		s->tier_bytes[PF_PROM_TIER_POOL] += pb;
	}
	if (sb || !cr) {
		s->tier_files[PF_PROM_TIER_SLOW]++;
		s->tier_bytes[PF_PROM_TIER_SLOW] += sb;
	}
	if (p) {
		p->files++;
		p->bytes += size;
		p->pool_files += pb != 0;
		p->pool_bytes += pb;
		p->slow_bytes += sb;
	}
}

/* Tiers and partitions from the scan, then the records whose file was not found (or lies outside the
 * scanned dirs). */
static int tally(struct cli_status *s)
{
	for (size_t i = 0; i < s->vs.scan.n; i++) {
		struct cli_file *f = &s->vs.scan.f[i];
		if (!f->managed && f->pool < 0)
			continue;
		struct cli_part *p = part_get(s, f->logdir, f->partition, f->partition_len);
		if (!p)
			return -1;
		account(s, p, rec_of(s, f), f->size);
	}
	for (int v = 0; v < s->vs.n; v++) {
		for (size_t k = 0; k < s->vs.v[v].nrecs; k++) {
			const struct cli_rec *cr = &s->vs.v[v].recs[k];
			if (cr->file && cr->file != &cr->own)
				continue;
			struct cli_part *p = NULL;
			const char *path = cr->file ? cr->file->path : cr->hint_ok ? cr->hint : NULL;
			const char *name = path ? strrchr(path, '/') : NULL;
			if (name && name > path) {
				const char *q = name - 1;
				while (q > path && *q != '/')
					q--;
				p = part_get(s, cr->file ? outside_dirs : missing_dir, q + 1, (size_t)(name - q - 1));
			} else {
				p = part_get(s, missing_dir, "(unknown)", 9);
			}
			if (!p)
				return -1;
			account(s, p, cr, cr->size);
		}
	}
	if (s->nparts)
		qsort(s->parts, s->nparts, sizeof *s->parts, part_cmp);
	return 0;
}

int cli_status_collect(struct cli *c, struct cli_status *st)
{
	memset(st, 0, sizeof *st);
	st->c = c;
	if (cli_views_open(c, &st->vs) < 0)
		return -1;
	if (tally(st) < 0) {
		cli_err(c, "out of memory");
		return -1;
	}
	return st->vs.scan.errors || st->vs.damaged ? CLI_FAIL : CLI_OK;
}

void cli_status_free(struct cli_status *st)
{
	cli_views_close(&st->vs);
	for (size_t i = 0; i < st->nparts; i++)
		free(st->parts[i].name);
	free(st->parts);
	st->parts = NULL;
	st->nparts = 0;
}

/*
 * cmd_pool.c - `pafka pool create|info|destroy`: explicit pool lifecycle.
 *   create   builds <dir>/pafka.pool as the shim would (posix_fallocate reserves the space) and pre-faults
 *            it: every page of the data area is written once, so the file system has allocated and
 *            zeroed it before the broker's first write;
 *   info     the header: geometry, uuid, creation time, use;
 *   destroy  removes an empty pool: refused while a broker holds it or any block is in use; also removes
 *            the pool's line from each log dir's .pafka-pools marker and the pool's control files.
 *
 * Owns: the three actions and their report (text and JSON). May call: opts.c, output.c, setup.c,
 * pool.h (create, open, unlink under the lock), view.c, control.c (control files, marker lines), json.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "json.h"
#include "pafka.h"
#include "pool.h"
#include "view.h"

enum { O_SIZE, O_BSIZE };
static const struct cli_opt opts[] = {
	[O_SIZE] = { "size", 0, "SIZE", "pool size (create)" },
	[O_BSIZE] = { "block-size", 0, "SIZE", "allocation unit, " PF_BLOCK_SIZE_RULE " (create)" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_syntax syntax = {
	.usage = "usage: pafka pool create [--size SIZE] [--block-size SIZE] [--json] [--config FILE] [--pool DIR]\n"
		 "       pafka pool info [--json] [--config FILE] [--pool DIR]\n"
		 "       pafka pool destroy [--json] [--config FILE] [--pool DIR]\n"
		 "\n"
		 "create   create the pool file (pafka.pool) in each pool directory, reserve its space and pre-fault it.\n"
		 "         SIZE: bytes with an optional K, M, G or T suffix; default storage.tiers.first.sizes (-1: that\n"
		 "         share of the free space, log.pmem.pool.ratio). --block-size: default pafka.pool.block.size.\n"
		 "info     print the pool header: geometry, uuid, creation time, blocks and files in use.\n"
		 "destroy  delete an empty pool (refused while a broker holds it or any file's bytes live there: run\n"
		 "         'pafka drain' first) and remove it from the log dirs' .pafka-pools markers.\n",
	.opts = opts,
	.json = 1,
	.operands = 1,
	.interleave = 1,
};

enum { A_CREATE, A_INFO, A_DESTROY, A_N };
static const char *const actions[A_N] = { "create", "info", "destroy" };

/* What an action did to one pool, for the JSON report (the text goes out as it happens). */
struct result {
	struct cli_pool_use use;        /* use.path empty: the pool could not be opened */
	int done;                       /* the action took effect (create, destroy) or the pool was read (info) */
	struct pf_pool_header hdr;      /* create and info */
	int pmem;                       /* create */
	char created[64];               /* info: creation time, ISO 8601 UTC */
	int format;                     /* info: 1 or 2 (pool_format.h) */
	int in_use;                     /* info */
	int unmarked[PF_MAX_PATHS * 2]; /* destroy: log dirs whose marker lost the pool's line */
	int removed[2];                 /* destroy: which control files were removed */
};

static const char *const control_files[2] = { PF_PAUSE_FILE, PF_DRAIN_FILE };

static void prefault(struct pf_pool *p)
{
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		page = 4096;
	volatile char *base = (volatile char *)p->base;
	for (size_t off = p->hdr->data_off; off < p->len; off += (size_t)page)
		base[off] = base[off];
	pf_pool_sync(p, p->data, p->len - p->hdr->data_off);
}

static int create(struct cli *c, int i, int64_t size, uint64_t bsize, struct result *res)
{
	if (cli_exists(c->pools[i], PAFKA_POOL_FILE)) {
		cli_err(c, "%s/%s already exists: see 'pafka pool info', or 'pafka pool destroy' it first", c->pools[i],
			PAFKA_POOL_FILE);
		return CLI_FAIL;
	}
	struct pf_pool p;
	struct pf_err err = { "" };
	if (pf_pool_open(&p, i, c->pools[i], size, c->cfg.pool_ratio, bsize, 0, &err) < 0) {
		cli_err(c, "%s", err.msg);
		return CLI_FAIL;
	}
	prefault(&p);
	cli_pool_use(&res->use, c->pools[i], &p, NULL);
	res->hdr = *p.hdr;
	res->pmem = p.is_pmem;
	res->done = 1;
	char b1[32], b2[32];
	cli_say(c, "%s: created: %s, %llu blocks of %s (data area pre-faulted), uuid %s%s", p.path,
		cli_human(p.hdr->pool_size, b1, sizeof b1), (unsigned long long)p.nblocks, cli_human(p.bsize, b2, sizeof b2),
		res->use.uuid, p.is_pmem ? ", persistent memory" : "");
	pf_pool_close(&p);
	return CLI_OK;
}

static int info(struct cli *c, int i, struct result *res)
{
	struct cli_view v;
	if (cli_view_open(c, i, &v) < 0)
		return CLI_FAIL;
	const struct pf_pool_header *h = v.pool.hdr;
	const struct cli_pool_use *u = &res->use;
	cli_pool_use(&res->use, c->pools[i], &v.pool, NULL);
	res->hdr = *h;
	res->in_use = v.locked;
	res->done = 1;
	time_t secs = (time_t)(h->created_ns / 1000000000ULL);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(res->created, sizeof res->created, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(res->created + n, sizeof res->created - n, ".%09lluZ",
		 (unsigned long long)(h->created_ns % 1000000000ULL));
	char b1[32], b2[32];
	cli_say(c, "pool %s", u->path);
	cli_say(c, "  uuid        %s", u->uuid);
	res->format = pf_pool_format(&v.pool);
	cli_say(c, "  version     %u (header checksum ok), tables in pool format %d%s", h->version, res->format,
		res->format == 1 ? " (an earlier release's: upgraded when the broker next starts)" : "");
	cli_say(c, "  created     %s", res->created);
	cli_say(c, "  size        %llu bytes (%s)", (unsigned long long)h->pool_size, cli_human(h->pool_size, b1, sizeof b1));
	cli_say(c, "  blocks      %llu of %s, data at offset %llu", (unsigned long long)h->nblocks,
		cli_human(h->block_size, b2, sizeof b2), (unsigned long long)h->data_off);
	cli_say(c, "  records     %llu slots at offset %llu, block table at offset %llu", (unsigned long long)h->nrecords,
		(unsigned long long)h->rec_off, (unsigned long long)h->blk_off);
	cli_say(c, "  in use      %llu blocks, %llu files%s", (unsigned long long)u->used_blocks,
		(unsigned long long)u->files, v.locked ? "; held by a running broker" : "");
	cli_view_close(&v);
	return CLI_OK;
}

/* After the pool file is gone: its marker lines and control files. */
static int forget(struct cli *c, int i, struct result *res)
{
	const char *path = res->use.path, *uuid = res->use.uuid;
	int rc = cli_unmark(c, uuid, res->unmarked);
	for (int d = 0; d < c->ndirs; d++)
		if (res->unmarked[d])
			cli_say(c, "%s/%s: removed the pool's line", c->dirs[d], PAFKA_MARKER_FILE);
	if (c->ndirs == 0)
		cli_say(c, "%s: no log dirs known: if a log dir's %s names uuid %s, remove that line", path,
			PAFKA_MARKER_FILE, uuid);
	for (int k = 0; k < 2; k++)
		if ((res->removed[k] = cli_control_set(c->pools[i], control_files[k], 0, NULL) > 0))
			cli_say(c, "%s/%s: removed", c->pools[i], control_files[k]);
	return rc;
}

static int destroy(struct cli *c, int i, struct result *res)
{
	if (!cli_exists(c->pools[i], PAFKA_POOL_FILE)) {
		cli_err(c, "no pool in %s: nothing to destroy", c->pools[i]);
		return CLI_FAIL;
	}
	struct pf_pool p;
	struct pf_err err = { "" };
	if (pf_pool_open(&p, i, c->pools[i], 0, 1.0, 4096, PF_POOL_NOCREATE, &err) < 0) {
		if (strstr(err.msg, "in use"))
			cli_err(c, "%s/%s is in use by a running broker: stop it, drain the pool, then destroy it", c->pools[i],
				PAFKA_POOL_FILE);
		else
			cli_err(c, "%s", err.msg);
		return CLI_FAIL;
	}
	struct cli_pool_use *u = &res->use;
	cli_pool_use(u, c->pools[i], &p, NULL);
	if (u->used_blocks) {
		cli_err(c, "%s still holds %llu blocks (%llu files): run 'pafka drain' first", u->path,
			(unsigned long long)u->used_blocks, (unsigned long long)u->files);
		pf_pool_close(&p);
		return CLI_FAIL;
	}
	int r = unlink(u->path); /* still holding the lock: no broker can open it meanwhile */
	int e = errno;
	pf_pool_close(&p);
	if (r < 0) {
		cli_err(c, "cannot remove %s: %s", u->path, strerror(e));
		return CLI_FAIL;
	}
	res->done = 1;
	cli_say(c, "%s: destroyed", u->path);
	return forget(c, i, res);
}

static void report_json(struct json *j, const struct cli *c, int action, const struct result *res)
{
	const struct pf_pool_header *h = &res->hdr;
	json_obj(j, NULL);
	cli_json_pool_use(j, &res->use);
	json_bool(j, "done", res->done);
	if (action == A_CREATE && res->done) {
		json_u64(j, "pool_size", h->pool_size);
		json_bool(j, "pmem", res->pmem);
	} else if (action == A_INFO && res->done) {
		/* the header's own fields, under their names in pool_format.h */
		json_u64(j, "version", h->version);
		json_u64(j, "format", (uint64_t)res->format);
		json_u64(j, "pool_size", h->pool_size);
		json_u64(j, "nblocks", h->nblocks);
		json_u64(j, "nrecords", h->nrecords);
		json_u64(j, "rec_off", h->rec_off);
		json_u64(j, "blk_off", h->blk_off);
		json_u64(j, "data_off", h->data_off);
		json_str(j, "created", res->created);
		json_u64(j, "created_ns", h->created_ns);
		json_u64(j, "next_seq", h->next_seq);
		json_u64(j, "live_records", res->use.files);
		json_bool(j, "in_use", res->in_use);
	} else if (action == A_DESTROY) {
		cli_json_unmarked(j, c, res->unmarked);
		json_arr(j, "removed");
		for (int k = 0; k < 2; k++)
			if (res->removed[k]) {
				char f[PATH_MAX];
				snprintf(f, sizeof f, "%s/%s", res->use.dir, control_files[k]);
				json_str(j, NULL, f);
			}
		json_end_arr(j);
	}
	json_end_obj(j);
}

int cmd_pool(struct cli *c, int argc, char **argv)
{
	const char *got[O_BSIZE + 1];
	int first, rc = cli_parse(c, &syntax, argc, argv, got, &first);
	if (rc != CLI_GO_ON)
		return rc;
	int64_t size = -1, bsize = 0;
	if (got[O_SIZE] && (cli_parse_size(got[O_SIZE], &size) < 0 || (size <= 0 && size != -1)))
		return cli_usage_error(c, "--size takes a size such as 64G or -1, not '%s'", got[O_SIZE]);
	if (got[O_BSIZE] &&
	    (cli_parse_size(got[O_BSIZE], &bsize) < 0 || bsize < 0 || !pf_valid_block_size((uint64_t)bsize)))
		return cli_usage_error(c, "--block-size takes " PF_BLOCK_SIZE_RULE ", not '%s'", got[O_BSIZE]);
	if (first >= argc)
		return cli_usage_error(c, "no action given (create, info or destroy)");
	int a = 0;
	while (a < A_N && strcmp(argv[first], actions[a]) != 0)
		a++;
	if (a == A_N)
		return cli_usage_error(c, "unknown action '%s' (create, info or destroy)", argv[first]);
	if (a != A_CREATE && (got[O_SIZE] || got[O_BSIZE]))
		return cli_usage_error(c, "--size and --block-size only apply to 'pool create'");
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	rc = CLI_OK;
	struct json j;
	cli_json_begin(c, &j);
	json_str(&j, "action", actions[a]);
	json_arr(&j, "pools");
	for (int i = 0; i < c->npools; i++) {
		struct result res;
		memset(&res, 0, sizeof res);
		res.use.dir = c->pools[i];
		int64_t sz = got[O_SIZE] ? size : c->cfg.n_first_sizes > i ? c->cfg.first_sizes[i] : -1;
		uint64_t bs = got[O_BSIZE] ? (uint64_t)bsize : c->cfg.block_size;
		int r = a == A_CREATE ? create(c, i, sz, bs, &res) : a == A_INFO ? info(c, i, &res) : destroy(c, i, &res);
		if (r != CLI_OK)
			rc = r;
		report_json(&j, c, a, &res);
	}
	json_end_arr(&j);
	return cli_json_end(c, &j, rc);
}

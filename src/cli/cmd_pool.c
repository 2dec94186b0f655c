/*
 * cmd_pool.c - `pafka pool create|info|destroy`: explicit pool lifecycle.
 *   create   builds <dir>/pafka.pool as the shim would (posix_fallocate reserves the space) and pre-faults
 *            it: every page of the data area is written once, so the file system has allocated and
 *            zeroed it before the broker's first write;
 *   info     the header: geometry, uuid, creation time, use;
 *   destroy  removes an empty pool: refused while a broker holds it or any block is in use; also removes
 *            the pool's line from each log dir's .pafka-pools marker and the pool's control files.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "json.h"
#include "marker.h"
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
	.usage = "usage: pafka pool create [--size SIZE] [--block-size SIZE] [--config FILE] [--pool DIR]\n"
		 "       pafka pool info [--json] [--config FILE] [--pool DIR]\n"
		 "       pafka pool destroy [--config FILE] [--pool DIR]\n"
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

static int pool_exists(const char *dir)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", dir, PAFKA_POOL_FILE);
	return lstat(p, &st) == 0;
}

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

static int create(struct cli *c, int64_t size, int have_size, int64_t bsize)
{
	int rc = CLI_OK;
	for (int i = 0; i < c->npools; i++) {
		if (pool_exists(c->pools[i])) {
			cli_err(c, "%s/%s already exists: see 'pafka pool info', or 'pafka pool destroy' it first", c->pools[i],
				PAFKA_POOL_FILE);
			rc = CLI_FAIL;
			continue;
		}
		int64_t sz = have_size ? size : c->cfg.n_first_sizes > i ? c->cfg.first_sizes[i] : -1;
		struct pf_pool p;
		struct pf_err err = { "" };
		if (pf_pool_open(&p, i, c->pools[i], sz, c->cfg.pool_ratio, (uint64_t)bsize, 0, &err) < 0) {
			cli_err(c, "%s", err.msg);
			rc = CLI_FAIL;
			continue;
		}
		prefault(&p);
		char uuid[33], b1[32], b2[32];
		pf_uuid_str(p.hdr->uuid, uuid);
		printf("%s: created: %s, %llu blocks of %s (data area pre-faulted), uuid %s%s\n", p.path,
		       cli_human(p.hdr->pool_size, b1, sizeof b1), (unsigned long long)p.nblocks,
		       cli_human(p.bsize, b2, sizeof b2), uuid, p.is_pmem ? ", persistent memory" : "");
		pf_pool_close(&p);
	}
	return rc;
}

static int info(struct cli *c, int json)
{
	int rc = CLI_OK;
	struct json j;
	if (json) {
		json_init(&j, stdout);
		json_obj(&j, NULL);
		json_arr(&j, "pools");
	}
	for (int i = 0; i < c->npools; i++) {
		struct cli_view v;
		if (cli_view_open(c, i, &v) < 0) {
			rc = CLI_FAIL;
			continue;
		}
		const struct pf_pool_header *h = v.pool.hdr;
		uint64_t live, used;
		pf_pool_usage(&v.pool, &live, &used);
		char uuid[33], created[64], b1[32], b2[32];
		pf_uuid_str(h->uuid, uuid);
		time_t secs = (time_t)(h->created_ns / 1000000000ULL);
		struct tm tm;
		gmtime_r(&secs, &tm);
		size_t n = strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(created + n, sizeof created - n, ".%09lluZ", (unsigned long long)(h->created_ns % 1000000000ULL));
		if (json) {
			json_obj(&j, NULL);
			json_str(&j, "path", v.pool.path);
			json_str(&j, "uuid", uuid);
			json_u64(&j, "version", h->version);
			json_u64(&j, "pool_size", h->pool_size);
			json_u64(&j, "block_size", h->block_size);
			json_u64(&j, "nblocks", h->nblocks);
			json_u64(&j, "nrecords", h->nrecords);
			json_u64(&j, "rec_off", h->rec_off);
			json_u64(&j, "blk_off", h->blk_off);
			json_u64(&j, "data_off", h->data_off);
			json_str(&j, "created", created);
			json_u64(&j, "created_ns", h->created_ns);
			json_u64(&j, "next_seq", h->next_seq);
			json_u64(&j, "live_records", live);
			json_u64(&j, "used_blocks", used);
			json_bool(&j, "in_use", v.locked);
			json_end_obj(&j);
		} else {
			printf("pool %s\n", v.pool.path);
			printf("  uuid        %s\n", uuid);
			printf("  version     %u (header checksum ok)\n", h->version);
			printf("  created     %s\n", created);
			printf("  size        %llu bytes (%s)\n", (unsigned long long)h->pool_size,
			       cli_human(h->pool_size, b1, sizeof b1));
			printf("  blocks      %llu of %s, data at offset %llu\n", (unsigned long long)h->nblocks,
			       cli_human(h->block_size, b2, sizeof b2), (unsigned long long)h->data_off);
			printf("  records     %llu slots at offset %llu, block table at offset %llu\n",
			       (unsigned long long)h->nrecords, (unsigned long long)h->rec_off, (unsigned long long)h->blk_off);
			printf("  in use      %llu blocks, %llu files%s\n", (unsigned long long)used, (unsigned long long)live,
			       v.locked ? "; held by a running broker" : "");
		}
		cli_view_close(&v);
	}
	if (json) {
		json_end_arr(&j);
		json_end_obj(&j);
		json_done(&j);
	}
	return rc;
}

static int destroy(struct cli *c)
{
	int rc = CLI_OK;
	for (int i = 0; i < c->npools; i++) {
		if (!pool_exists(c->pools[i])) {
			cli_err(c, "no pool in %s: nothing to destroy", c->pools[i]);
			rc = CLI_FAIL;
			continue;
		}
		struct pf_pool p;
		struct pf_err err = { "" };
		if (pf_pool_open(&p, i, c->pools[i], 0, 1.0, 4096, 0, &err) < 0) {
			if (strstr(err.msg, "in use"))
				cli_err(c, "%s/%s is in use by a running broker: stop it, drain the pool, then destroy it",
					c->pools[i], PAFKA_POOL_FILE);
			else
				cli_err(c, "%s", err.msg);
			rc = CLI_FAIL;
			continue;
		}
		uint64_t live, used;
		pf_pool_usage(&p, &live, &used);
		if (used) {
			cli_err(c, "%s still holds %llu blocks (%llu files): run 'pafka drain' first", p.path,
				(unsigned long long)used, (unsigned long long)live);
			pf_pool_close(&p);
			rc = CLI_FAIL;
			continue;
		}
		char uuid[33], path[PATH_MAX];
		pf_uuid_str(p.hdr->uuid, uuid);
		snprintf(path, sizeof path, "%s", p.path);
		int r = unlink(path); /* still holding the lock: no broker can open it meanwhile */
		int e = errno;
		pf_pool_close(&p);
		if (r < 0) {
			cli_err(c, "cannot remove %s: %s", path, strerror(e));
			rc = CLI_FAIL;
			continue;
		}
		printf("%s: destroyed\n", path);
		for (int d = 0; d < c->ndirs; d++) {
			struct pf_marker m;
			if (pf_marker_read(c->dirs[d], &m) <= 0)
				continue;
			if (pf_marker_remove(&m, uuid) > 0) {
				if (pf_marker_write(c->dirs[d], &m) < 0) {
					cli_err(c, "cannot update %s/%s: %s; remove the line of uuid %s by hand", c->dirs[d],
						PAFKA_MARKER_FILE, strerror(errno), uuid);
					rc = CLI_FAIL;
				} else {
					printf("%s/%s: removed the pool's line\n", c->dirs[d], PAFKA_MARKER_FILE);
				}
			}
			pf_marker_free(&m);
		}
		if (c->ndirs == 0)
			printf("%s: no log dirs known: if a log dir's %s names uuid %s, remove that line\n", path,
			       PAFKA_MARKER_FILE, uuid);
		const char *ctl[] = { PF_PAUSE_FILE, PF_DRAIN_FILE };
		for (int k = 0; k < 2; k++)
			if (cli_control_set(c->pools[i], ctl[k], 0, NULL) > 0)
				printf("%s/%s: removed\n", c->pools[i], ctl[k]);
	}
	return rc;
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
	const char *action = argv[first];
	int is_create = !strcmp(action, "create"), is_info = !strcmp(action, "info"), is_destroy = !strcmp(action, "destroy");
	if (!is_create && !is_info && !is_destroy)
		return cli_usage_error(c, "unknown action '%s' (create, info or destroy)", action);
	if (!is_create && (got[O_SIZE] || got[O_BSIZE]))
		return cli_usage_error(c, "--size and --block-size only apply to 'pool create'");
	if (!is_info && c->json)
		return cli_usage_error(c, "--json only applies to 'pool info'");
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	if (is_create)
		return create(c, size, got[O_SIZE] != NULL, got[O_BSIZE] ? bsize : (int64_t)c->cfg.block_size);
	if (is_info)
		return info(c, c->json);
	return destroy(c);
}

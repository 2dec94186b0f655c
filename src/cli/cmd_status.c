/*
 * cmd_status.c - `pafka status [--json|--prometheus] [-v]`: per pool its geometry and use, the writer
 * (broker) holding it, the migration state and the live counters the writer keeps in the pool header; per
 * tier the files and bytes; with -v a breakdown per topic-partition. Read-only: works while the broker runs
 * and while it is stopped. --watch hands over to watch.c, which draws the same collection (status.c)
 * again and again.
 *
 * Owns: the status report (text, JSON, Prometheus). May call: status.c (the collection: views, tiers,
 * partitions, migration state), opts.c, output.c, view.h (the views' fields), marker.h (uuids), prom.h
 * (the exposition format, shared with the shim), control.h (which control files exist), sys.h (the clock),
 * json.c, watch.c.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "marker.h"
#include "json.h"
#include "pafka.h"
#include "pool_format.h"
#include "sys.h"
#include "prom.h"
#include "status.h"
#include "view.h"
#include "watch.h"

enum { O_PROM, O_VERBOSE, O_WATCH, O_INTERVAL, O_COUNT };
static const struct cli_opt opts[] = {
	[O_PROM] = { "prometheus", 0, NULL, "Prometheus text exposition (for node_exporter's textfile collector)" },
	[O_VERBOSE] = { "verbose", 'v', NULL, "add a breakdown per topic-partition" },
	[O_WATCH] = { "watch", 'w', NULL, "a view refreshed every interval: fill, tiers, migration rate and ETA,\n"
				  "spills, the writer (text only; Ctrl-C ends it)" },
	[O_INTERVAL] = { "interval", 0, "SECONDS", "with --watch: seconds between refreshes (default 1; 0.1 to 3600)" },
	[O_COUNT] = { "count", 0, "N", "with --watch: stop after N refreshes" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_syntax syntax = {
	.usage = "usage: pafka status [--json | --prometheus] [-v] [--config FILE] [--pool DIR]\n"
		 "       pafka status --watch [--interval SECONDS] [--count N] [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Show each pool (capacity, used, free, threshold, the broker holding it, migration state, counters,\n"
		 "backlog) and each tier (files and bytes). Read-only: safe while the broker runs. --watch redraws a\n"
		 "compact view in place on a terminal (one block per refresh otherwise).\n",
	.opts = opts,
	.json = 1,
};

static void print_prometheus(struct cli_status *s)
{
	struct pf_prom_pool pools[PF_MAX_PATHS];
	struct pf_prom_sample m;
	memset(&m, 0, sizeof m);
	struct pf_pool_live live;
	memset(&live, 0, sizeof live);
	for (int i = 0; i < s->vs.n; i++) {
		const struct cli_view *v = &s->vs.v[i];
		uint64_t bs = v->pool.bsize;
		pools[i].path = v->pool.path;
		pools[i].capacity_bytes = v->pool.nblocks * bs;
		pools[i].used_bytes = v->used_blocks * bs;
		pools[i].free_bytes = (v->pool.nblocks - v->used_blocks) * bs;
		pools[i].in_use = v->locked;
		pools[i].heartbeat_ms = v->pool.hdr->live.heartbeat_ms;
		pools[i].damaged_records = v->broken_records + v->bad_records;
		pools[i].damaged_entries = v->bad_entries;
		pf_prom_sum_live(&live, &v->pool.hdr->live);
		enum cli_pool_state st = cli_status_state(s, v);
		m.paused |= st == CLI_POOL_PAUSED;
		m.draining |= st == CLI_POOL_DRAINING;
	}
	m.pools = pools;
	m.npools = s->vs.n;
	memcpy(m.tier_files, s->tier_files, sizeof m.tier_files);
	memcpy(m.tier_bytes, s->tier_bytes, sizeof m.tier_bytes);
	pf_prom_from_live(&m, &live);
	size_t need = pf_prom_format(NULL, 0, &m);
	char *buf = malloc(need + 1);
	if (!buf) {
		cli_err(s->c, "out of memory");
		return;
	}
	pf_prom_format(buf, need + 1, &m);
	fputs(buf, stdout);
	free(buf);
}

static void json_tier(struct json *j, const char *key, uint64_t files, uint64_t bytes)
{
	json_obj(j, key);
	json_u64(j, "files", files);
	json_u64(j, "bytes", bytes);
	json_end_obj(j);
}

static void json_live(struct json *j, const struct pf_pool_live *l)
{
	json_obj(j, "counters");
	json_u64(j, "demotions", l->demotions);
	json_u64(j, "promotions", l->promotions);
	json_u64(j, "migration_failures", l->migration_failures);
	json_u64(j, "migration_aborts", l->migration_aborts);
	json_u64(j, "bytes_demoted", l->bytes_demoted);
	json_u64(j, "bytes_promoted", l->bytes_promoted);
	json_dbl(j, "migration_seconds", (double)l->migration_ns / 1e9);
	json_u64(j, "head_demotions", l->head_demotions);
	json_u64(j, "readmissions", l->readmissions);
	json_u64(j, "spills", l->spills);
	json_u64(j, "errors", l->errors);
	uint64_t w = l->bytes_written[0] + l->bytes_written[1];
	if (w)
		json_dbl(j, "written_pool_ratio", (double)l->bytes_written[0] / (double)w);
	else
		json_null(j, "written_pool_ratio");
	const char *names[3] = { "bytes_written", "bytes_read", "bytes_sent" };
	const uint64_t *vals[3] = { l->bytes_written, l->bytes_read, l->bytes_sent };
	for (int i = 0; i < 3; i++) {
		json_obj(j, names[i]);
		json_u64(j, "pool", vals[i][0]);
		json_u64(j, "slow", vals[i][1]);
		json_end_obj(j);
	}
	json_end_obj(j);
}

/* The log dirs whose .pafka-pools marker names the pool with this uuid: the dirs it serves, and any whose
 * segments it holds bytes of (marker.h). */
static int names_pool(const char *dir, const char *uuid)
{
	struct pf_marker m;
	int r = pf_marker_read(dir, &m), has = r > 0 && pf_marker_has(&m, uuid);
	if (r > 0)
		pf_marker_free(&m);
	return has;
}

static void print_json(struct cli_status *s, int verbose, struct json *j)
{
	json_str(j, "version", PAFKA_VERSION);
	json_arr(j, "log_dirs");
	for (int i = 0; i < s->c->ndirs; i++)
		json_str(j, NULL, s->c->dirs[i]);
	json_end_arr(j);
	json_bool(j, "log_dirs_configured", s->c->dirs_configured);
	json_arr(j, "pools");
	uint64_t now = pf_wall_ms();
	for (int i = 0; i < s->vs.n; i++) {
		const struct cli_view *v = &s->vs.v[i];
		const struct pf_pool_header *h = v->pool.hdr;
		struct cli_pool_use u;
		cli_pool_use(&u, v->dir, &v->pool, v);
		json_obj(j, NULL);
		cli_json_pool_use(j, &u);
		json_u64(j, "pool_bytes", v->pool_bytes);
		char uuid[33];
		pf_uuid_str(h->uuid, uuid);
		json_arr(j, "log_dirs");
		for (int d = 0; d < s->c->ndirs; d++)
			if (names_pool(s->c->dirs[d], uuid))
				json_str(j, NULL, s->c->dirs[d]);
		json_end_arr(j);
		json_dbl(j, "threshold", s->c->cfg.migrate_threshold);
		json_obj(j, "writer");
		json_bool(j, "in_use", v->locked);
		if (v->writer_pid)
			json_u64(j, "pid", v->writer_pid);
		else
			json_null(j, "pid");
		json_bool(j, "pid_alive", v->pid_alive);
		if (h->live.heartbeat_ms)
			json_i64(j, "heartbeat_age_ms", (int64_t)(now - h->live.heartbeat_ms));
		else
			json_null(j, "heartbeat_age_ms");
		json_end_obj(j);
		json_obj(j, "migration");
		json_str(j, "state", cli_pool_state_name(cli_status_state(s, v)));
		json_bool(j, "pause_requested", cli_exists(v->dir, PF_PAUSE_FILE));
		json_bool(j, "drain_requested", cli_exists(v->dir, PF_DRAIN_FILE));
		json_bool(j, "migrating", (h->live.state & PF_LIVE_MIGRATING) != 0);
		json_bool(j, "paused", (h->live.state & PF_LIVE_PAUSED) != 0);
		json_bool(j, "draining", (h->live.state & PF_LIVE_DRAINING) != 0);
		json_u64(j, "backlog_bytes", h->live.backlog_bytes);
		json_end_obj(j);
		json_live(j, &h->live);
		json_end_obj(j);
	}
	json_end_arr(j);
	json_obj(j, "tiers");
	json_tier(j, "pool", s->tier_files[0], s->tier_bytes[0]);
	json_tier(j, "slow", s->tier_files[1], s->tier_bytes[1]);
	json_end_obj(j);
	if (verbose) {
		json_arr(j, "partitions");
		for (size_t i = 0; i < s->nparts; i++) {
			const struct cli_part *p = &s->parts[i];
			json_obj(j, NULL);
			json_str(j, "log_dir", p->logdir);
			json_str(j, "partition", p->name);
			json_u64(j, "files", p->files);
			json_u64(j, "bytes", p->bytes);
			json_u64(j, "pool_files", p->pool_files);
			json_u64(j, "pool_bytes", p->pool_bytes);
			json_u64(j, "slow_bytes", p->slow_bytes);
			json_end_obj(j);
		}
		json_end_arr(j);
	}
}

static void print_text(struct cli_status *s, int verbose)
{
	char b1[32], b2[32], b3[32];
	uint64_t now = pf_wall_ms();
	for (int i = 0; i < s->vs.n; i++) {
		const struct cli_view *v = &s->vs.v[i];
		const struct pf_pool_header *h = v->pool.hdr;
		const struct pf_pool_live *l = &h->live;
		char uuid[33];
		pf_uuid_str(h->uuid, uuid);
		uint64_t bs = v->pool.bsize, nb = v->pool.nblocks, used = v->used_blocks;
		printf("pool %s\n", v->pool.path);
		printf("  uuid        %s\n", uuid);
		printf("  capacity    %s (%llu blocks of %s)\n", cli_human(nb * bs, b1, sizeof b1), (unsigned long long)nb,
		       cli_human(bs, b2, sizeof b2));
		printf("  used        %s (%llu blocks, %.1f%%) in %zu files\n", cli_human(used * bs, b1, sizeof b1),
		       (unsigned long long)used, nb ? 100.0 * (double)used / (double)nb : 0.0, v->nrecs);
		printf("  free        %s (%llu blocks)\n", cli_human((nb - used) * bs, b1, sizeof b1),
		       (unsigned long long)(nb - used));
		printf("  log dirs    ");
		int nd = 0;
		for (int d = 0; d < s->c->ndirs; d++)
			if (names_pool(s->c->dirs[d], uuid))
				printf("%s%s", nd++ ? ", " : "", s->c->dirs[d]);
		printf("%s\n", nd ? "" : "none (no log dir's .pafka-pools marker names it)");
		if (s->c->cfg.migrate_threshold < 0)
			printf("  threshold   -1 (migration disabled)\n");
		else
			printf("  threshold   %.2f (demote above %s)\n", s->c->cfg.migrate_threshold,
			       cli_human((uint64_t)(s->c->cfg.migrate_threshold * (double)(nb * bs)), b1, sizeof b1));
		if (v->locked) {
			printf("  writer      in use");
			if (v->writer_pid)
				printf(", pid %llu%s", (unsigned long long)v->writer_pid, v->pid_alive ? "" : " (not running?)");
			if (l->heartbeat_ms)
				printf(", heartbeat %.1f s ago", (double)(int64_t)(now - l->heartbeat_ms) / 1000.0);
			printf("\n");
		} else {
			printf("  writer      none (no broker holds the pool)%s\n",
			       l->writer_pid ? "; the last one did not close it cleanly" : "");
		}
		printf("  migration   %s, backlog %s\n", cli_pool_state_name(cli_status_state(s, v)), cli_human(l->backlog_bytes, b1, sizeof b1));
		printf("  moved       %llu demotions, %llu head demotions (%s down), %llu promotions (%s up), "
		       "%llu readmissions, %llu failed, %llu aborted, %.1f s\n",
		       (unsigned long long)l->demotions, (unsigned long long)l->head_demotions,
		       cli_human(l->bytes_demoted, b1, sizeof b1), (unsigned long long)l->promotions,
		       cli_human(l->bytes_promoted, b2, sizeof b2), (unsigned long long)l->readmissions,
		       (unsigned long long)l->migration_failures, (unsigned long long)l->migration_aborts,
		       (double)l->migration_ns / 1e9);
		uint64_t w = l->bytes_written[0] + l->bytes_written[1];
		printf("  written     pool %s, slow %s", cli_human(l->bytes_written[0], b1, sizeof b1),
		       cli_human(l->bytes_written[1], b2, sizeof b2));
		if (w)
			printf(" (%.1f%% to the pool)", 100.0 * (double)l->bytes_written[0] / (double)w);
		printf("\n");
		printf("  read        pool %s, slow %s; sent pool %s, slow %s\n", cli_human(l->bytes_read[0], b1, sizeof b1),
		       cli_human(l->bytes_read[1], b2, sizeof b2), cli_human(l->bytes_sent[0], b3, sizeof b3),
		       cli_human(l->bytes_sent[1], b1, sizeof b1));
		printf("  spills      %llu, errors %llu\n", (unsigned long long)l->spills, (unsigned long long)l->errors);
	}
	printf("tiers\n");
	printf("  pool        %llu files, %s\n", (unsigned long long)s->tier_files[0], cli_human(s->tier_bytes[0], b1, sizeof b1));
	printf("  slow        %llu files, %s%s\n", (unsigned long long)s->tier_files[1],
	       cli_human(s->tier_bytes[1], b1, sizeof b1),
	       s->c->ndirs == 0 ? " (no log dirs known: set log.dirs or use --config)"
	       : s->c->dirs_configured ? "" : " (log dirs derived from the pool's records)");
	if (verbose) {
		printf("partitions\n");
		printf("  %-40s %6s %12s %12s %12s  %s\n", "PARTITION", "FILES", "BYTES", "POOL", "SLOW", "LOG DIR");
		for (size_t i = 0; i < s->nparts; i++) {
			const struct cli_part *p = &s->parts[i];
			printf("  %-40s %6llu %12llu %12llu %12llu  %s\n", p->name, (unsigned long long)p->files,
			       (unsigned long long)p->bytes, (unsigned long long)p->pool_bytes,
			       (unsigned long long)p->slow_bytes, p->logdir);
		}
	}
}

int cmd_status(struct cli *c, int argc, char **argv)
{
	const char *got[O_COUNT + 1];
	int first, rc = cli_parse(c, &syntax, argc, argv, got, &first);
	if (rc != CLI_GO_ON)
		return rc;
	int verbose = got[O_VERBOSE] != NULL;
	if (c->json && got[O_PROM])
		return cli_usage_error(c, "--json and --prometheus exclude each other");
	if (got[O_WATCH] && (c->json || got[O_PROM] || verbose))
		return cli_usage_error(c, "--watch is a text view: not with --json, --prometheus or -v");
	if (!got[O_WATCH] && (got[O_INTERVAL] || got[O_COUNT]))
		return cli_usage_error(c, "--interval and --count go with --watch");
	if (got[O_WATCH])
		return cli_watch(c, got[O_INTERVAL], got[O_COUNT]);
	struct cli_status s;
	rc = cli_status_collect(c, &s);
	if (rc < 0) {
		rc = CLI_FAIL;
	} else if (got[O_PROM]) {
		print_prometheus(&s);
	} else if (c->json) {
		struct json j;
		cli_json_begin(c, &j);
		print_json(&s, verbose, &j);
		rc = cli_json_end(c, &j, rc);
	} else {
		print_text(&s, verbose);
	}
	cli_status_free(&s);
	return rc;
}

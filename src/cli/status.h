/*
 * status.h - what `pafka status` collects: the pools' views, the files and bytes per tier and per
 * topic-partition, each pool's migration state. One collection serves both views of it: the report
 * (cmd_status.c: text, JSON, Prometheus) and the refreshed one of `pafka status --watch` (watch.c), so the
 * watch shows what status reports.
 *
 * Owns: the declarations of status.c. May call: view.h (types only).
 */
#ifndef PAFKA_CLI_STATUS_H
#define PAFKA_CLI_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "view.h"

struct cli;

/* One topic-partition directory (or a pool record's file outside the log dirs, or missing). */
struct cli_part {
	const char *logdir;   /* the log dir, or "(outside the log dirs)" / "(missing)" */
	char *name;
	uint64_t files, bytes, pool_files, pool_bytes, slow_bytes;
};

struct cli_status {
	struct cli *c;
	struct cli_views vs;
	uint64_t tier_files[2], tier_bytes[2]; /* [PF_PROM_TIER_POOL], [PF_PROM_TIER_SLOW] */
	struct cli_part *parts;                /* sorted by log dir, then name */
	size_t nparts;
};

/* Load the configuration (the first time), scan the log dirs and read every pool as `pafka status` does,
 * into *st. Returns CLI_OK, or CLI_FAIL when a log dir could not be read or a pool's metadata is damaged
 * (reported; *st is still complete); -1 with a message printed when nothing could be collected (no pool,
 * out of memory). Free it with cli_status_free in every case. */
int cli_status_collect(struct cli *c, struct cli_status *st);
void cli_status_free(struct cli_status *st);
/* A pool's migration state, as status reports it. */
enum cli_pool_state { CLI_POOL_RUNNING, CLI_POOL_DRAINING, CLI_POOL_PAUSED, CLI_POOL_STOPPED, CLI_POOL_OFF };
enum cli_pool_state cli_status_state(const struct cli_status *st, const struct cli_view *v);
/* Its name in the report: "running", "draining", "paused", "stopped" (no writer) or "off". */
const char *cli_pool_state_name(enum cli_pool_state s);

#endif

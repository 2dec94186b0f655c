/*
 * status.h - what `pafka status` collects (the pools' views, the files and bytes per tier, each pool's
 * migration state), for the other view of it: the refreshed one of `pafka status --watch` (watch.c). One
 * collection serves both, so the watch shows what status reports.
 *
 * Owns: the declarations of the collection in cmd_status.c. May call: nothing (types only).
 */
#ifndef PAFKA_CLI_STATUS_H
#define PAFKA_CLI_STATUS_H

#include <stdint.h>

struct cli;
struct cli_view;
struct cli_views;
struct cli_status;

/* Load (the first time), scan and read every pool as `pafka status` does. Returns the collection with
 * *rc CLI_FAIL when a log dir could not be read or a pool's metadata is damaged (reported), else CLI_OK;
 * or NULL with a message printed (no pool, out of memory). */
struct cli_status *cli_status_collect(struct cli *c, int *rc);
void cli_status_free(struct cli_status *st);
const struct cli_views *cli_status_views(const struct cli_status *st);
/* Files and bytes per tier ([PF_PROM_TIER_POOL], [PF_PROM_TIER_SLOW]). */
void cli_status_tiers(const struct cli_status *st, uint64_t files[2], uint64_t bytes[2]);
/* "running", "draining", "paused", "stopped" (no writer) or "off", as status reports it. */
const char *cli_status_state(const struct cli_status *st, const struct cli_view *v);

#endif

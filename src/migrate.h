/*
 * migrate.h - background migration between the pool and the slow tier (log.channel.type=tiered).
 * storage.migrate.threads threads start with the pool (never in an inert process) and move whole files
 * as policy.h decides, at most pafka.migrate.rate.bytes per second, unless paused.
 */
#ifndef PAFKA_MIGRATE_H
#define PAFKA_MIGRATE_H

#include <stdint.h>

struct pf_migrate_stats {
	uint64_t demotions, promotions, failures, aborted;
	uint64_t bytes_demoted, bytes_promoted;
	int paused;
};

int pf_migrate_start(void);
/* Pause or resume (also via the file <first pool dir>/pafka.pause, which tools create or remove). */
void pf_migrate_pause(int paused);
void pf_migrate_stats(struct pf_migrate_stats *out);
/* Run the scheduler once in the calling thread (tests, drain); returns the move made (enum pf_move). */
int pf_migrate_step(void);

#endif

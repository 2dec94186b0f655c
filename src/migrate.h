/*
 * migrate.h - background migration between the pool and the slow tier (log.channel.type=tiered).
 * storage.migrate.threads threads start with the pool (never in an inert process) and move whole files
 * as policy.h decides, at most pafka.migrate.rate.bytes per second, unless paused. One housekeeping
 * thread runs whenever a pool is active (pmem or tiered): heartbeat and statistics for tools, and the
 * control files (pafka.pause, pafka.drain: move every pool byte out and admit no new ones).
 */
#ifndef PAFKA_MIGRATE_H
#define PAFKA_MIGRATE_H

#include <stdint.h>

int pf_migrate_start(void);
/* Pause or resume (also via the file <first pool dir>/pafka.pause, which tools create or remove).
 * Counters go to the pools' live statistics (pool_format.h), where tools read them. */
void pf_migrate_pause(int paused);
/* Run the scheduler once in the calling thread (tests, drain); returns the move made (enum pf_move). */
int pf_migrate_step(void);

#endif

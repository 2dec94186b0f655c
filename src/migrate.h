/*
 * migrate.h - the migration workers (log.channel.type=tiered): storage.migrate.threads threads that take
 * a snapshot of the file table, ask the policy (policy.h) for one move, make it (moves in file.h), and
 * repeat, sleeping a tick when there is nothing to do. They never run in an inert process, and pause while
 * the operator says so (pafka.pause) or a drain runs.
 *
 * Owns: the workers. May call: file.h, policy.h, tier.h, rate.h, config.h, log.h, sys.h.
 */
#ifndef PAFKA_MIGRATE_H
#define PAFKA_MIGRATE_H

#include "config.h"

/* Start the workers if cfg asks for migration. Returns 0, or -1 with errno. */
int pf_migrate_start(const struct pf_config *cfg);
/* Choose and make one move in the calling thread; returns the move made (enum pf_move). */
int pf_migrate_step(void);

#endif

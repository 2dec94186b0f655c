/*
 * house.h - the housekeeping thread, running whenever this process writes a pool (pmem or tiered): it
 * follows the control files tools create in the pool directories (pafka.pause: migration paused;
 * pafka.drain: admit no new bytes to the pool and move every pool byte to the log dirs, so the broker can
 * later run without the shim), publishes a heartbeat, state and backlog for tools every tick, and faults
 * the pools' pages in once so first writes do not pay for it.
 *
 * Owns: the thread. May call: file.h, tier.h, rate.h, config.h, log.h, sys.h, real.h.
 */
#ifndef PAFKA_HOUSE_H
#define PAFKA_HOUSE_H

#include "config.h"

/* Read the control files once (a broker started during a drain admits nothing), then start the thread.
 * Returns 0, or -1 with errno. */
int pf_house_start(const struct pf_config *cfg);

#endif

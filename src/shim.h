/*
 * shim.h - process-wide state of the shim and its activation.
 *
 * A process starts NEW. The first path operation loads the configuration (never fatal: errors are kept).
 * The first open of a managed path ACTIVATES: a bad configuration or an unusable pool ends the process with
 * one line; log.channel.type=file (with no pool data to protect) makes it PASSTHROUGH; otherwise the pools
 * are opened, recovered and locked and the shim is ACTIVE. Nothing else starts a thread or opens a pool,
 * so the broker's shell, `java -version` probes and other children stay inert.
 */
#ifndef PAFKA_SHIM_H
#define PAFKA_SHIM_H

#include "config.h"
#include "pool.h"

enum pf_state { PF_ST_NEW = 0, PF_ST_CONFIGURED, PF_ST_PASSTHROUGH, PF_ST_ACTIVE };

extern __attribute__((visibility("hidden"))) int pf_state;
extern struct pf_config pf_cfg;
extern struct pf_pool pf_pools[PF_MAX_PATHS];
extern int pf_npools;
extern int pf_not_writer;   /* a fork child, or a read-only attach: never changes a pool */
extern int pf_readonly;     /* attached read-only to pools another process (the broker) holds */
extern int pf_draining;     /* <pool dir>/pafka.drain exists: admit no new bytes to the pool */

/* Add to a live statistic of the first pool (pool_format.h, struct pf_pool_live); cheap, relaxed. */
#define PF_STAT_ADD(field, n)                                                                 \
	do {                                                                                  \
		if (pf_npools > 0 && !pf_not_writer)                                        \
			__atomic_add_fetch(&pf_pools[0].hdr->live.field, (n), __ATOMIC_RELAXED); \
	} while (0)

/* Load the configuration once (idempotent, cheap after the first call). */
void pf_shim_configure(void);
/* Activate once; dies on invalid configuration or an unusable pool. */
void pf_shim_activate(void);

/* Is this path a candidate by its base name alone (the cheap test every path wrapper does first)? */
static inline int pf_shim_ready(void)
{
	return __atomic_load_n(&pf_state, __ATOMIC_ACQUIRE) >= PF_ST_CONFIGURED;
}

/* May the process place new bytes in the pool? */
int pf_shim_pool_writable(void);
/* The pool with the most free blocks (for a new record), or NULL. */
struct pf_pool *pf_shim_pick_pool(void);

#endif

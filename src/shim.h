/*
 * shim.h - the shim's life in a process: configuration, activation, the library constructor and
 * destructor, and descriptors inherited across exec.
 *
 * A process starts NEW. The first path operation loads the configuration (never fatal: errors are kept).
 * The first open of a managed path ACTIVATES: a bad configuration or an unusable pool ends the process with
 * one line; log.channel.type=file (with no pool data to protect) makes it PASSTHROUGH; otherwise the pools
 * are opened, recovered and locked and the shim is ACTIVE. Nothing else starts a thread or opens a pool,
 * so the broker's shell, `java -version` probes and other children stay inert.
 *
 * Owns: the process state (pf_state) and the configuration. May call: every module below it (tier.h,
 * file.h, migrate.h, house.h, metrics.h, marker.h, paths.h, fdtab.h, config.h, fault.h, log.h, sys.h).
 */
#ifndef PAFKA_SHIM_H
#define PAFKA_SHIM_H

#include "real.h"

enum pf_state { PF_ST_NEW = 0, PF_ST_CONFIGURED, PF_ST_PASSTHROUGH, PF_ST_ACTIVE };

/* Written only by shim.c; read on every path operation through pf_shim_state(). Hidden, so that read is
 * one load (see PF_HIDDEN in real.h). */
extern PF_HIDDEN int pf_state;

static inline int pf_shim_state(void)
{
	return __atomic_load_n(&pf_state, __ATOMIC_ACQUIRE);
}

/* Load the configuration once (idempotent, cheap after the first call). */
void pf_shim_configure(void);
/* Activate once; dies on invalid configuration or an unusable pool. */
void pf_shim_activate(void);

#endif

/*
 * metrics.h - the Prometheus endpoint of a running shim: with pafka.metrics.port set, one thread serves
 * GET /metrics on pafka.metrics.address (127.0.0.1 by default) in the text exposition format, from the
 * same formatter as `pafka status --prometheus`. Off by default.
 *
 * Owns: the endpoint. May call: file.h, tier.h, prom.h, log.h, sys.h, real.h.
 */
#ifndef PAFKA_METRICS_H
#define PAFKA_METRICS_H

#include "config.h"

/* Start the endpoint if cfg asks for it; returns 0, or -1 with errno (address in use, ...). */
int pf_metrics_start(const struct pf_config *cfg);

#endif

/*
 * metrics.h - the Prometheus endpoint of a running shim: with pafka.metrics.port set, one thread serves
 * GET /metrics on pafka.metrics.address (127.0.0.1 by default) in the text exposition format, from the
 * same formatter as `pafka status --prometheus`. Off by default.
 */
#ifndef PAFKA_METRICS_H
#define PAFKA_METRICS_H

/* Start the endpoint if configured; returns 0, or -1 with errno (address in use, ...). */
int pf_metrics_start(void);

#endif

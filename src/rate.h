/*
 * rate.h - the migration rate limit (pafka.migrate.rate.bytes): a token bucket shared by every thread that
 * moves bytes between the tiers (migration workers and the drain), with at most one second of burst.
 *
 * Owns: the bucket and rate_lock (a leaf lock). May call: sys.h.
 */
#ifndef PAFKA_RATE_H
#define PAFKA_RATE_H

#include <stdint.h>

/* Bytes per second; 0 or less means unlimited. */
void pf_rate_init(int64_t bytes_per_sec);
/* Wait until bytes may be moved. */
void pf_rate_take(uint64_t bytes);

#endif

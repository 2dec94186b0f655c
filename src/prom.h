/*
 * prom.h - libpafka's metrics in the Prometheus text exposition format (version 0.0.4), with # HELP and
 * # TYPE lines and Prometheus naming (base units, counters ending in _total). One formatter for
 * `pafka status --prometheus` (textfile collector) and the shim's own /metrics endpoint: it writes into a
 * caller's buffer, allocates nothing and uses no stdio stream, so it is safe inside the preloaded library.
 *
 * Pool gauges carry a pool="<pool file>" label (capacity, use, the writer's heartbeat, damaged metadata); tier metrics a tier="pool|slow" label. Migration outcomes
 * are labelled direction="demote|promote" and result="completed|failed|aborted"; when the source cannot
 * attribute failures and aborts to a direction (failures_by_direction == 0, true of pool format 1), they
 * are exported once with direction="any".
 *
 * Owns: nothing. May call: pool_format.h (the live statistics layout) and libc formatting.
 */
#ifndef PAFKA_PROM_H
#define PAFKA_PROM_H

#include <stddef.h>
#include <stdint.h>

enum { PF_PROM_TIER_POOL = 0, PF_PROM_TIER_SLOW = 1 };
enum { PF_PROM_DEMOTE = 0, PF_PROM_PROMOTE = 1 };
enum { PF_PROM_COMPLETED = 0, PF_PROM_FAILED = 1, PF_PROM_ABORTED = 2 };

struct pf_prom_pool {
	const char *path;            /* the pool file */
	uint64_t capacity_bytes, used_bytes, free_bytes;
	int in_use;                  /* a writer process holds the pool: 1/0 */
	uint64_t heartbeat_ms;       /* the pool's live.heartbeat_ms (CLOCK_REALTIME ms), 0 when never set */
	uint64_t damaged_records;    /* records in use that fail their integrity checks (see prom.c's HELP) */
	uint64_t damaged_entries;    /* block-table entries that fail their checks or name no record */
};

struct pf_prom_sample {
	const struct pf_prom_pool *pools;
	int npools;
	uint64_t tier_files[2], tier_bytes[2];                   /* [PF_PROM_TIER_*] */
	uint64_t bytes_written[2], bytes_read[2], bytes_sent[2]; /* [PF_PROM_TIER_*] */
	uint64_t migrations[2][3];   /* [PF_PROM_DEMOTE|PROMOTE][PF_PROM_COMPLETED|FAILED|ABORTED] */
	int failures_by_direction;   /* 0: failed/aborted are summed in migrations[PF_PROM_DEMOTE][...] and
					exported with direction="any" */
	uint64_t migration_bytes[2]; /* [direction] */
	double migration_seconds;
	uint64_t backlog_bytes;
	uint64_t spills;
	uint64_t head_demotions;     /* cold heads of active segments moved to the slow tier */
	uint64_t readmissions;       /* spilled files given a new window at their end */
	uint64_t errors;
	int paused;                  /* migration paused (1/0) */
	int draining;                /* drain requested (1/0) */
};

struct pf_pool_live;

/* Add the counters of one pool's live statistics to sum (everything after writer_pid, heartbeat_ms and
 * state, read with relaxed atomic loads: the writer updates them while we read). */
void pf_prom_sum_live(struct pf_pool_live *sum, const struct pf_pool_live *x);
/* Fill the counter fields of s (bytes, migrations, spills, errors, backlog) from summed live statistics. */
void pf_prom_from_live(struct pf_prom_sample *s, const struct pf_pool_live *live);

/* Format s into buf (at most cap bytes, always NUL-terminated when cap > 0). Returns the length the full
 * text needs (excluding the NUL), like snprintf: when it is >= cap, the output was cut. */
size_t pf_prom_format(char *buf, size_t cap, const struct pf_prom_sample *s);

#endif

/*
 * tier.h - the fast tier as the rest of the shim sees it: the open pools and the choice among them, the
 * process's role towards them (the pools' one writer; a read-only attacher such as kafka-dump-log while
 * the broker runs; a fork child of the writer, which may read but never changes a pool), the operator's
 * switches (draining, paused), and the live statistics that tools read from the first pool's header.
 *
 * Owns: the pools array and the role, switch and statistic state above. Nothing else in the shim keeps a
 * copy of it. May call: pool.h, config.h, log.h, sys.h.
 * Errors: pf_tier_open fills a struct pf_err (init time); the rest cannot fail.
 */
#ifndef PAFKA_TIER_H
#define PAFKA_TIER_H

#include <stdint.h>

#include "config.h"
#include "log.h"
#include "pool.h"

/* The two tiers, as statistics and metrics name them. */
enum pf_tier { PF_TIER_POOL = 0, PF_TIER_SLOW = 1, PF_TIER_NONE = -1 };

/* Live statistics (struct pf_pool_live in pool_format.h). The byte counts are per tier; the others take
 * PF_TIER_NONE. */
enum pf_stat {
	PF_STAT_BYTES_WRITTEN,
	PF_STAT_BYTES_READ,
	PF_STAT_BYTES_SENT,
	PF_STAT_SPILLS,             /* writes sent to the slow tier because the pool was full */
	PF_STAT_DEMOTIONS,
	PF_STAT_PROMOTIONS,
	PF_STAT_BYTES_DEMOTED,
	PF_STAT_BYTES_PROMOTED,
	PF_STAT_MIGRATION_FAILURES,
	PF_STAT_MIGRATION_ABORTS,
	PF_STAT_MIGRATION_NS,
	PF_STAT_ERRORS,
	PF_STAT_HEAD_DEMOTIONS,     /* cold heads of active segments moved down */
	PF_STAT_READMISSIONS,       /* spilled files given a new window at their end */
};

/* Open every pool of cfg, creating a missing one only where may_create(<its pool file path>) says so (a
 * pool a log dir's marker names must never be silently replaced by an empty one), as access says: the
 * writer takes each pool's lock. Returns 0, or -1 with err set (a second broker gets "pool ... is in use";
 * errno ENOENT for a missing pool that was not to be created). */
enum pf_tier_access {
	PF_TIER_EXCLUSIVE, /* a broker: the writer, or "in use" */
	PF_TIER_SHARED,    /* the writer when no process holds the pools, else a read-only attacher */
	PF_TIER_READER,    /* always a read-only attacher (Kafka's tools); pools that do not exist and that no
			      marker names are passed over (none at all: pf_tier_npools() is 0) */
};
int pf_tier_open(const struct pf_config *cfg, enum pf_tier_access access, int (*may_create)(const char *pool_path),
		 struct pf_err *err);
/* Register the fork handler that makes a child a read-only attacher (once, at activation). */
void pf_tier_atfork(void);

int pf_tier_npools(void);
struct pf_pool *pf_tier_pool(int i);
/* Which pools serve which log dirs (JBOD): with N pools and M log dirs (their slots, paths.h), pool i
 * serves slot d when N == 1 (one pool for every dir), i % M == d when N >= M (pool i pairs with dir i; more
 * pools than dirs go round the dirs again), and d % N == i when N < M (the dirs go round the pools). A
 * file's bytes go only to a pool that serves its log dir, so a dir's failure, or a full pool, stays with
 * its own dirs; slot -1 (a file with no known log dir) may go to any pool. */
int pf_tier_serves(int pool_index, int slot);
/* Of the pools serving slot, the one with the most free blocks, for a new record; NULL when they are all
 * full. */
struct pf_pool *pf_tier_pick_for(int slot);
/* The index of the pool a slow-tier file of slot would go to (the serving pool with the most free blocks,
 * full or not); -1 without pools. */
int pf_tier_home(int slot);
/* Used and total blocks of pool i, and over every pool. */
void pf_tier_pool_usage(int pool_index, uint64_t *used, uint64_t *capacity);
void pf_tier_usage(uint64_t *used, uint64_t *capacity);

/* Does this process change the pools (allocate, free, publish)? Not in a fork child or a read-only
 * attacher. */
int pf_tier_is_writer(void);
/* Attached read-only to pools another process (the broker) writes: placements must be re-read. */
int pf_tier_readonly(void);
/* May new bytes go to the pool? (the writer, not draining, with at least one pool) */
int pf_tier_writable(void);

/* The operator's switches: control files in the pool directories (pool_format.h), which tools create and
 * remove. Is name present in any pool directory? */
int pf_tier_control_exists(const char *name);
/* Migration paused (pafka.pause): looked up at each call. */
int pf_tier_paused(void);
/* Draining (pafka.drain): house.c follows the file and sets it. */
void pf_tier_set_draining(int on);
int pf_tier_draining(void);
/* Migration threads are running (for tools). */
void pf_tier_set_migrating(int on);

/* Add to a live statistic (relaxed; a no-op outside the writer). */
void pf_stat_add(enum pf_stat s, enum pf_tier t, uint64_t n);
/* The promotion boundary: the birth time of the newest file ever demoted (kept in the pool across
 * restarts, so a restart does not promote back what was demoted). Raise only moves it up. */
uint64_t pf_tier_demote_boundary(void);
void pf_tier_raise_demote_boundary(uint64_t birth_ns);
/* Publish heartbeat, state and backlog to every pool's header (once a tick, by the housekeeper), and mark
 * a clean exit. */
void pf_tier_publish_live(uint64_t backlog_bytes);
void pf_tier_mark_clean_exit(void);

#endif

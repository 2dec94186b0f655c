/*
 * policy.h - which file to migrate next. Pure functions of a snapshot (no I/O, no clock of their own), so
 * the policy is unit-tested with a fake clock.
 *
 * Pafka's rule, without its holes: above threshold x capacity demote the OLDEST sealed pool files until
 * usage is back under it; below it promote the NEWEST sealed slow-tier files that fit under it, but never
 * one older than the newest file already demoted (no ping-pong). Demotion goes first. A file is sealed
 * when Kafka will not append to it again: a newer segment exists in its partition directory, or it has had
 * no write for pafka.migrate.idle.ms. Age is the pool's persistent creation sequence for pool files, and
 * (birth time, base offset) for slow-tier files, so the order survives restarts.
 *
 * Owns: nothing (pure functions). May call: nothing.
 */
#ifndef PAFKA_POLICY_H
#define PAFKA_POLICY_H

#include <stdint.h>

enum pf_move { PF_MOVE_NONE = 0, PF_MOVE_DEMOTE = 1, PF_MOVE_PROMOTE = 2 };

struct pf_cand {
	uint64_t age;           /* larger = newer (comparable within one tier) */
	uint64_t birth_ns;      /* birth time, comparable across tiers (promotion boundary) */
	uint64_t blocks;        /* pool blocks it holds (pool file) or would need (slow-tier file) */
	int in_pool;            /* 1: has pool bytes, 0: all on the slow tier */
	int sealed;
	int busy;               /* being moved or otherwise not movable now */
};

struct pf_policy {
	double threshold;       /* storage.migrate.threshold; < 0 disables */
	int promote;            /* pafka.migrate.promote */
};

/* Is a file sealed? newer_exists: a newer segment is in the same partition directory. */
int pf_policy_sealed(int newer_exists, int64_t last_write_ms, int64_t now_ms, int64_t idle_ms);

/* The next move for this snapshot: sets *which to the candidate index and returns the direction, or
 * PF_MOVE_NONE. used/capacity are pool blocks; boundary_ns is the birth time of the newest file demoted
 * so far (0 if none). */
enum pf_move pf_policy_next(const struct pf_policy *pol, const struct pf_cand *c, int n, uint64_t used,
			    uint64_t capacity, uint64_t boundary_ns, int *which);

#endif

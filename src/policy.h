/*
 * policy.h - which move migration makes next. Pure functions of a snapshot (no I/O, no clock of their own),
 * so the policy is unit-tested with a fake clock.
 *
 * A file is SEALED when Kafka will not append to it again: a newer segment exists in its partition
 * directory, or it has had no write for pafka.migrate.idle.ms. Otherwise it is ACTIVE. Age is the pool's
 * persistent creation sequence for pool files, and (birth time, base offset) for slow-tier files, so the
 * order survives restarts. All sizes are in pool blocks; limit = threshold x capacity.
 *
 * The tail kept in the pool: every active segment keeps its most recent blocks in the pool, at most
 * pafka.migrate.tail.keep, and at most limit / (2 x active segments), so the tails of all active segments
 * together fill at most half of the limit; at least one block. Its COLD HEAD is the rest of its window:
 * the fully written blocks from the window's start up to the kept tail. Kafka never rewrites them.
 *
 * The order of moves (one per call):
 *   above the limit (used > limit), the oldest bytes go first:
 *     1. DEMOTE the oldest sealed pool file (all of it);
 *     2. else DEMOTE_HEAD: the oldest cold head, by when its first block was written (head_born, then age):
 *        order is per block range, not per file. At most max(limit / 32, used - limit) blocks of it move
 *        at once (at least one), so the heads of segments written side by side go down interleaved, the
 *        oldest range first; the blocks move to the real file, the tail stays in the pool and keeps
 *        taking appends;
 *     3. else nothing (only kept tails are left).
 *   at or below the limit (exactly at it too: head demotion stops there):
 *     1. READMIT: an active file whose window closed because the pool was full (it spilled) moves its pool
 *        part down and opens a new window at its end, so its next appends go to the pool again (the newest
 *        such file first); it frees blocks before its appends take any;
 *     2. PROMOTE the newest sealed slow-tier file born after the newest file ever demoted, if it fits under
 *        the limit (as before: an older file never jumps the queue; pafka.migrate.promote=false disables);
 *     3. else nothing.
 * A busy file (being moved) is never chosen. threshold < 0 or capacity 0 disables everything.
 *
 * Owns: nothing (pure functions). May call: nothing.
 */
#ifndef PAFKA_POLICY_H
#define PAFKA_POLICY_H

#include <stdint.h>

enum pf_move { PF_MOVE_NONE = 0, PF_MOVE_DEMOTE = 1, PF_MOVE_PROMOTE = 2, PF_MOVE_DEMOTE_HEAD = 3, PF_MOVE_READMIT = 4 };

#define PF_POLICY_NO_HI UINT64_MAX /* a window that is open at the end (not spilled) */

struct pf_cand {
	uint64_t age;           /* larger = newer (comparable within one tier) */
	uint64_t birth_ns;      /* birth time, comparable across tiers (promotion boundary) */
	uint64_t blocks;        /* pool blocks it holds (pool file) or would need (slow-tier file) */
	int in_pool;            /* 1: has a record (pool bytes, or a window for them), 0: all on the slow tier */
	int sealed;
	int busy;               /* being moved or otherwise not movable now */
	/* pool files: where the window is and how far the file is written */
	uint64_t win_lo;        /* first block of the window */
	uint64_t win_hi;        /* end of the window, PF_POLICY_NO_HI when open (not spilled) */
	uint64_t full_blocks;   /* blocks entirely below the end of file */
	uint64_t head_born;     /* when the first pool block of its window was written, comparable across
				   files (larger = newer; equal for blocks found at start: age decides) */
};

struct pf_policy {
	double threshold;       /* storage.migrate.threshold; < 0 disables */
	int promote;            /* pafka.migrate.promote */
	uint64_t tail_keep;     /* pafka.migrate.tail.keep in blocks (>= 1) */
};

/* limit = threshold x capacity (blocks): above it the oldest bytes go down, under it the newest come up. */
uint64_t pf_policy_limit(const struct pf_policy *pol, uint64_t capacity);
/* Is a file sealed? newer_exists: a newer segment is in the same partition directory. */
int pf_policy_sealed(int newer_exists, int64_t last_write_ms, int64_t now_ms, int64_t idle_ms);

/* The blocks of every active segment's tail kept in the pool, for this many active segments. */
uint64_t pf_policy_tail_keep(const struct pf_policy *pol, uint64_t capacity, int active);

/* The cold head of a pool file with this tail kept: its first block (*from) and how many blocks (the
 * return value, 0 for none). */
uint64_t pf_policy_cold_head(const struct pf_cand *c, uint64_t keep, uint64_t *from);

/* The next move for this snapshot: sets *which to the candidate index and returns the direction, or
 * PF_MOVE_NONE. For PF_MOVE_DEMOTE_HEAD, *count is the number of head blocks to move (from the window's
 * start). used/capacity are pool blocks; boundary_ns is the birth time of the newest file demoted so far
 * (0 if none). */
enum pf_move pf_policy_next(const struct pf_policy *pol, const struct pf_cand *c, int n, uint64_t used,
			    uint64_t capacity, uint64_t boundary_ns, int *which, uint64_t *count);
/* The whole-file moves of one direction in the order pf_policy_next takes them, for a batch made from one
 * snapshot: for PF_MOVE_DEMOTE every sealed, idle pool file, oldest first; for PF_MOVE_PROMOTE every
 * eligible slow-tier file (sealed, idle, born after boundary_ns), newest first. Fills ord (n entries of
 * room) with candidate indexes and returns how many. Taking them in this order, with used updated after
 * each move and the promotions stopped at the first that does not fit, makes the moves pf_policy_next
 * would make one call at a time on the same snapshot. O(n log n). */
int pf_policy_order(const struct pf_cand *c, int n, enum pf_move mv, uint64_t boundary_ns, int *ord);

#endif

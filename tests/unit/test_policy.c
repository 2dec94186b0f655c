/*
 * test_policy.c - unit tests of the migration policy (src/policy.c): pf_policy_sealed with a fake clock and
 * pf_policy_next on hand-built candidate snapshots; pf_policy_order (a batch's order) against pf_policy_next
 * called once per move on seeded random snapshots.
 *
 * The rules under test (policy.h): with limit = threshold x capacity (in blocks, rounded down),
 *   used > limit : demote the OLDEST (smallest age) sealed, non-busy pool file holding blocks; else the
 *                  OLDEST cold head (the fully written window blocks below the kept tail) of an active,
 *                  non-busy pool file, by when its first block was written (head_born, then age), at
 *                  most max(limit / 32, used - limit) blocks of it; else nothing;
 *   used <= limit: readmit the NEWEST active, non-busy pool file whose window was closed by a spill;
 *   used <= limit: promote the NEWEST (largest age) sealed, non-busy, non-empty slow-tier file born after
 *                  the boundary, only if used + its blocks <= limit; if it does not fit nothing is promoted
 *                  (an older, smaller file never jumps the queue);
 *   threshold < 0 or capacity 0 disables everything; promote = 0 disables promotion only.
 * The kept tail of each active segment: min(tail_keep, limit / (2 x active segments)), at least 1 block.
 * A file is sealed when a newer segment exists, or it had no write for idle_ms (idle_ms < 0: never idle).
 */
#define _GNU_SOURCE
#include "unit.h"

#include "policy.h"

#include <stdint.h>

/* The policy allocates nothing: under ASan every test ends with a leak check that says so. */
TestSuite(policy_sealed, .fini = unit_leak_check);
TestSuite(policy_next, .fini = unit_leak_check);

/* ---- helpers ------------------------------------------------------------------------------------------ */

/* A sealed, not busy candidate of age `age` holding `blocks` blocks, born at birth_ns. */
static struct pf_cand cand(uint64_t age, uint64_t birth_ns, uint64_t blocks, int in_pool)
{
	struct pf_cand c;
	memset(&c, 0, sizeof c);
	c.age = age;
	c.birth_ns = birth_ns;
	c.blocks = blocks;
	c.in_pool = in_pool;
	c.sealed = 1;
	c.win_hi = PF_POLICY_NO_HI; /* a window open at the end: not spilled */
	return c;
}

/* A pool-resident candidate. */
static struct pf_cand pool_file(uint64_t age, uint64_t blocks)
{
	return cand(age, age * 1000, blocks, 1);
}

/* A slow-tier candidate: its age is its birth time, as the shim builds it. */
static struct pf_cand slow_file(uint64_t age, uint64_t blocks)
{
	return cand(age, age, blocks, 0);
}

static const struct pf_policy POL = { 0.5, 1, 16 };

/* Run the policy; returns the move and stores the chosen index in *which (-1 if untouched). */
static enum pf_move next(const struct pf_policy *pol, const struct pf_cand *c, int n, uint64_t used, uint64_t cap,
			 uint64_t boundary, int *which)
{
	uint64_t count = 0;
	*which = -1;
	return pf_policy_next(pol, c, n, used, cap, boundary, which, &count);
}

/* An active pool file: window [win_lo, open), `full` blocks fully written, holding `blocks` pool blocks. */
static struct pf_cand active_file(uint64_t age, uint64_t win_lo, uint64_t full, uint64_t blocks)
{
	struct pf_cand c = pool_file(age, blocks);
	c.sealed = 0;
	c.win_lo = win_lo;
	c.full_blocks = full;
	return c;
}

/* ---- pf_policy_sealed with a fake clock --------------------------------------------------------------- */

struct fake_clock {
	int64_t now_ms;
};

static void tick(struct fake_clock *clk, int64_t ms)
{
	clk->now_ms += ms;
}

Test(policy_sealed, newer_segment_seals_at_once)
{
	struct fake_clock clk = { 1000000 };
	int64_t last = clk.now_ms; /* written just now */
	cr_expect_eq(pf_policy_sealed(1, last, clk.now_ms, 30000), 1);
	cr_expect_eq(pf_policy_sealed(1, last, clk.now_ms, -1), 1, "a newer segment seals even with idleness off");
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, 30000), 0, "just written, no newer segment: active");
}

Test(policy_sealed, idle_rule_with_fake_clock)
{
	struct fake_clock clk = { 5000 };
	int64_t last = clk.now_ms;
	const int64_t idle = 30000;
	tick(&clk, 1);
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, idle), 0);
	tick(&clk, idle - 2); /* idle - 1 ms since the write */
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, idle), 0, "1 ms short of idle_ms: not sealed");
	tick(&clk, 1); /* exactly idle_ms */
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, idle), 1, "exactly idle_ms since the last write: sealed");
	tick(&clk, 1000000);
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, idle), 1);
	/* a new write restarts the idle time */
	last = clk.now_ms;
	tick(&clk, idle / 2);
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, idle), 0, "written again: active again");
	tick(&clk, idle / 2);
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, idle), 1);
}

Test(policy_sealed, idle_zero_and_disabled)
{
	struct fake_clock clk = { 777 };
	int64_t last = clk.now_ms;
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, 0), 1, "idle_ms 0: every file counts as idle");
	tick(&clk, INT64_C(1) << 40);
	cr_expect_eq(pf_policy_sealed(0, last, clk.now_ms, -1), 0, "idle_ms < 0: idleness never seals");
}

Test(policy_sealed, never_written_file_at_clock_zero)
{
	/* last_write_ms 0 (never written in this process) with a monotonic clock far past idle */
	cr_expect_eq(pf_policy_sealed(0, 0, 3600 * 1000, 30000), 1);
	cr_expect_eq(pf_policy_sealed(0, 0, 29999, 30000), 0);
}

/* ---- thresholds --------------------------------------------------------------------------------------- */

Test(policy_next, threshold_exactly_at_above_below)
{
	/* capacity 100, threshold 0.5: limit 50 blocks */
	struct pf_cand c[2] = { pool_file(10, 5), slow_file(20, 3) };
	int w;
	cr_expect_eq(next(&POL, c, 2, 51, 100, 0, &w), PF_MOVE_DEMOTE, "one block above the limit: demote");
	cr_expect_eq(w, 0);
	cr_expect_eq(next(&POL, c, 2, 50, 100, 0, &w), PF_MOVE_NONE,
		     "exactly at the limit: no demotion, and the 3-block file does not fit");
	cr_expect_eq(next(&POL, c, 2, 47, 100, 0, &w), PF_MOVE_PROMOTE, "47 + 3 == limit: fits exactly");
	cr_expect_eq(w, 1);
	cr_expect_eq(next(&POL, c, 2, 48, 100, 0, &w), PF_MOVE_NONE, "48 + 3 > limit: does not fit");
	cr_expect_eq(next(&POL, c, 2, 0, 100, 0, &w), PF_MOVE_PROMOTE);
	cr_expect_eq(w, 1);
}

Test(policy_next, limit_rounds_down)
{
	/* capacity 101 x 0.5 = 50.5 -> 50 blocks */
	struct pf_cand c[2] = { pool_file(1, 1), slow_file(2, 1) };
	int w;
	cr_expect_eq(next(&POL, c, 2, 51, 101, 0, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(next(&POL, c, 2, 50, 101, 0, &w), PF_MOVE_NONE);
	cr_expect_eq(next(&POL, c, 2, 49, 101, 0, &w), PF_MOVE_PROMOTE);
}

Test(policy_next, threshold_one_and_tiny)
{
	struct pf_cand c[2] = { pool_file(1, 4), slow_file(2, 1) };
	int w;
	struct pf_policy full = { 1.0, 1, 16 };
	cr_expect_eq(next(&full, c, 2, 100, 100, 0, &w), PF_MOVE_NONE, "threshold 1: a full pool is not over it");
	cr_expect_eq(next(&full, c, 2, 99, 100, 0, &w), PF_MOVE_PROMOTE);
	struct pf_policy tiny = { 0.001, 1, 16 }; /* limit 0 */
	cr_expect_eq(next(&tiny, c, 2, 1, 100, 0, &w), PF_MOVE_DEMOTE, "limit 0: any used block is too many");
	cr_expect_eq(next(&tiny, c, 2, 0, 100, 0, &w), PF_MOVE_NONE, "limit 0: nothing ever fits");
}

Test(policy_next, threshold_negative_disables)
{
	struct pf_cand c[2] = { pool_file(1, 10), slow_file(2, 1) };
	int w;
	struct pf_policy off = { -1, 1, 16 };
	cr_expect_eq(next(&off, c, 2, 100, 100, 0, &w), PF_MOVE_NONE, "threshold -1: no demotion even when full");
	cr_expect_eq(next(&off, c, 2, 0, 100, 0, &w), PF_MOVE_NONE, "threshold -1: no promotion either");
	cr_expect_eq(w, -1);
}

Test(policy_next, capacity_zero_disables)
{
	struct pf_cand c[2] = { pool_file(1, 10), slow_file(2, 1) };
	int w;
	cr_expect_eq(next(&POL, c, 2, 0, 0, 0, &w), PF_MOVE_NONE);
	cr_expect_eq(next(&POL, c, 2, 5, 0, 0, &w), PF_MOVE_NONE);
}

Test(policy_next, empty_snapshot)
{
	int w;
	cr_expect_eq(next(&POL, NULL, 0, 90, 100, 0, &w), PF_MOVE_NONE);
	cr_expect_eq(next(&POL, NULL, 0, 0, 100, 0, &w), PF_MOVE_NONE);
	cr_expect_eq(w, -1);
}

/* ---- demotion ----------------------------------------------------------------------------------------- */

Test(policy_next, demotes_oldest_pool_file_first)
{
	/* ages deliberately not in index order */
	struct pf_cand c[5] = { pool_file(40, 3), pool_file(12, 2), pool_file(99, 9), pool_file(13, 1),
				pool_file(50, 7) };
	int w;
	cr_expect_eq(next(&POL, c, 5, 80, 100, 0, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 1, "the oldest (age 12) goes first, got index %d", w);
	/* the mover took it: the next call picks the next oldest */
	c[1].in_pool = 0;
	c[1].blocks = 2;
	cr_expect_eq(next(&POL, c, 5, 78, 100, 0, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 3, "then age 13, got index %d", w);
}

Test(policy_next, demotion_order_ignores_size)
{
	struct pf_cand c[3] = { pool_file(3, 100), pool_file(1, 1), pool_file(2, 50) };
	int w;
	cr_expect_eq(next(&POL, c, 3, 151, 200, 0, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 1, "oldest first even though it frees only one block");
}

Test(policy_next, demotion_skips_busy_unsealed_and_empty)
{
	struct pf_cand c[5] = { pool_file(1, 4), pool_file(2, 4), pool_file(3, 0), pool_file(4, 4), pool_file(5, 4) };
	c[0].busy = 1;   /* being moved */
	c[1].sealed = 0; /* the active segment */
	/* c[2] holds no block (spilled from its first byte): nothing to gain */
	int w;
	cr_expect_eq(next(&POL, c, 5, 90, 100, 0, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 3, "busy, unsealed and block-less files are skipped, got index %d", w);
	c[3].busy = 1;
	c[4].sealed = 0;
	cr_expect_eq(next(&POL, c, 5, 90, 100, 0, &w), PF_MOVE_NONE, "nothing movable: no move");
}

Test(policy_next, demotion_ignores_slow_tier_files)
{
	struct pf_cand c[2] = { slow_file(1, 5), pool_file(9, 5) };
	int w;
	cr_expect_eq(next(&POL, c, 2, 90, 100, 0, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 1, "a slow-tier file is never 'demoted', even when older");
}

Test(policy_next, demotion_before_promotion)
{
	struct pf_cand c[2] = { slow_file(1000, 1), pool_file(5, 5) };
	int w;
	cr_expect_eq(next(&POL, c, 2, 60, 100, 0, &w), PF_MOVE_DEMOTE, "over the limit: demotion, never promotion");
	cr_expect_eq(w, 1);
}

Test(policy_next, over_limit_without_demotable_file_does_not_promote)
{
	struct pf_cand c[2] = { slow_file(1000, 1), pool_file(5, 5) };
	c[1].sealed = 0;
	int w;
	cr_expect_eq(next(&POL, c, 2, 60, 100, 0, &w), PF_MOVE_NONE,
		     "above the limit with only an unsealed pool file: nothing, and surely no promotion");
	cr_expect_eq(w, -1);
}

/* ---- promotion ---------------------------------------------------------------------------------------- */

Test(policy_next, promotes_newest_slow_file_first)
{
	struct pf_cand c[5] = { slow_file(300, 2), slow_file(100, 2), slow_file(500, 2), slow_file(200, 2),
				pool_file(1, 5) };
	int w;
	cr_expect_eq(next(&POL, c, 5, 10, 100, 0, &w), PF_MOVE_PROMOTE);
	cr_expect_eq(w, 2, "the newest (age 500) first, got index %d", w);
	c[2].in_pool = 1; /* promoted */
	cr_expect_eq(next(&POL, c, 5, 12, 100, 0, &w), PF_MOVE_PROMOTE);
	cr_expect_eq(w, 0, "then age 300, got index %d", w);
}

Test(policy_next, promotion_orders_by_age_not_birth)
{
	/* age orders within the tier; birth_ns only feeds the boundary */
	struct pf_cand c[2] = { slow_file(10, 1), slow_file(20, 1) };
	c[0].birth_ns = 900;
	c[1].birth_ns = 800;
	int w;
	cr_expect_eq(next(&POL, c, 2, 0, 100, 0, &w), PF_MOVE_PROMOTE);
	cr_expect_eq(w, 1);
}

Test(policy_next, promotion_stops_when_newest_does_not_fit)
{
	/* limit 50, used 30: the newest needs 25 (does not fit), an older one needs 5 (would fit) */
	struct pf_cand c[3] = { slow_file(100, 5), slow_file(200, 25), slow_file(50, 1) };
	int w;
	cr_expect_eq(next(&POL, c, 3, 30, 100, 0, &w), PF_MOVE_NONE,
		     "no older file jumps ahead of the newest one that does not fit (got index %d)", w);
	cr_expect_eq(w, -1);
	cr_expect_eq(next(&POL, c, 3, 25, 100, 0, &w), PF_MOVE_PROMOTE, "25 + 25 == 50 fits");
	cr_expect_eq(w, 1);
}

Test(policy_next, promotion_skips_busy_unsealed_empty_and_pool_files)
{
	struct pf_cand c[6] = { slow_file(60, 2), slow_file(50, 2), slow_file(40, 0), slow_file(30, 2),
				pool_file(100, 2), slow_file(10, 2) };
	c[0].busy = 1;   /* being promoted by another thread */
	c[1].sealed = 0; /* the active segment */
	/* c[2]: empty (or size unknown): nothing to promote; c[4] is already in the pool */
	int w;
	cr_expect_eq(next(&POL, c, 6, 0, 100, 0, &w), PF_MOVE_PROMOTE);
	cr_expect_eq(w, 3, "got index %d", w);
}

Test(policy_next, promote_zero_disables_promotion_only)
{
	struct pf_policy nopromo = { 0.5, 0, 16 };
	struct pf_cand c[2] = { slow_file(100, 1), pool_file(1, 5) };
	int w;
	cr_expect_eq(next(&nopromo, c, 2, 0, 100, 0, &w), PF_MOVE_NONE, "promotion off");
	cr_expect_eq(next(&nopromo, c, 2, 51, 100, 0, &w), PF_MOVE_DEMOTE, "demotion still on");
	cr_expect_eq(w, 1);
}

Test(policy_next, file_larger_than_the_pool_is_never_promoted)
{
	struct pf_cand c[1] = { slow_file(100, UINT64_C(1) << 50) };
	int w;
	cr_expect_eq(next(&POL, c, 1, 0, 100, 0, &w), PF_MOVE_NONE);
	struct pf_policy full = { 1.0, 1, 16 };
	c[0].blocks = 101;
	cr_expect_eq(next(&full, c, 1, 0, 100, 0, &w), PF_MOVE_NONE);
}

/* ---- the boundary rule -------------------------------------------------------------------------------- */

Test(policy_next, boundary_blocks_files_older_than_last_demoted)
{
	/* births 100, 200, 300; the newest file demoted so far was born at 200 */
	struct pf_cand c[3] = { slow_file(100, 1), slow_file(200, 1), slow_file(300, 1) };
	int w;
	cr_expect_eq(next(&POL, c, 3, 0, 100, 200, &w), PF_MOVE_PROMOTE);
	cr_expect_eq(w, 2);
	c[2].in_pool = 1; /* promoted */
	cr_expect_eq(next(&POL, c, 3, 1, 100, 200, &w), PF_MOVE_NONE,
		     "born at (not after) the boundary, or before it: never promoted back (got index %d)", w);
	cr_expect_eq(next(&POL, c, 3, 1, 100, 199, &w), PF_MOVE_PROMOTE, "born after the boundary: promotable");
	cr_expect_eq(w, 1);
	cr_expect_eq(next(&POL, c, 3, 1, 100, 0, &w), PF_MOVE_PROMOTE, "no demotion yet: no boundary");
	cr_expect_eq(w, 1);
}

Test(policy_next, boundary_uses_birth_time_not_age)
{
	struct pf_cand c[1] = { slow_file(1000, 1) };
	c[0].birth_ns = 50; /* age says new, birth says older than the boundary */
	int w;
	cr_expect_eq(next(&POL, c, 1, 0, 100, 60, &w), PF_MOVE_NONE);
	c[0].birth_ns = 70;
	cr_expect_eq(next(&POL, c, 1, 0, 100, 60, &w), PF_MOVE_PROMOTE);
}

Test(policy_next, boundary_does_not_affect_demotion)
{
	struct pf_cand c[2] = { pool_file(1, 3), pool_file(2, 3) };
	c[0].birth_ns = 10;
	c[1].birth_ns = 20;
	int w;
	cr_expect_eq(next(&POL, c, 2, 60, 100, UINT64_MAX, &w), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 0);
}

/* ---- a small simulation: repeated decisions converge without ping-pong --------------------------------- */

Test(policy_next, simulation_settles_under_threshold_without_ping_pong)
{
	/* 8 pool files of 10 blocks (ages 1..8, births 1..8), pool of 100 blocks, limit 50; the last one is the
	 * active segment. Apply moves until none is left: demotions free the oldest, then nothing is promoted
	 * back (everything on the slow tier is older than the boundary). */
	struct pf_cand c[8];
	for (int i = 0; i < 8; i++) {
		c[i] = pool_file((uint64_t)i + 1, 10);
		c[i].birth_ns = (uint64_t)i + 1;
	}
	c[7].sealed = 0;
	uint64_t used = 80, boundary = 0;
	int moves = 0, w;
	enum pf_move mv;
	while ((mv = next(&POL, c, 8, used, 100, boundary, &w)) != PF_MOVE_NONE) {
		cr_assert_lt(++moves, 20, "the policy does not settle");
		cr_assert(w >= 0 && w < 8);
		if (mv == PF_MOVE_DEMOTE) {
			c[w].in_pool = 0;
			used -= c[w].blocks;
			if (c[w].birth_ns > boundary)
				boundary = c[w].birth_ns;
			c[w].age = c[w].birth_ns; /* slow-tier age */
		} else {
			c[w].in_pool = 1;
			used += c[w].blocks;
		}
	}
	cr_expect_eq(moves, 3, "three demotions (80 -> 50), got %d moves", moves);
	cr_expect_eq(used, 50);
	for (int i = 0; i < 8; i++)
		cr_expect_eq(c[i].in_pool, i >= 3, "file %d in_pool %d", i, c[i].in_pool);
}

/* ---- the hot tail: head demotion of active segments, re-admission of spilled ones --------------------- */

Test(policy_next, tail_keep_is_capped_by_the_setting_and_shared_out_under_the_limit)
{
	/* limit 50 of 100: the tails of all active segments together take at most 25 blocks */
	cr_expect_eq(pf_policy_tail_keep(&POL, 100, 1), 16, "one active segment: the setting (16)");
	cr_expect_eq(pf_policy_tail_keep(&POL, 100, 2), 12, "two: 50 / 4");
	cr_expect_eq(pf_policy_tail_keep(&POL, 100, 10), 2, "ten: 50 / 20");
	cr_expect_eq(pf_policy_tail_keep(&POL, 100, 1000), 1, "never less than one block");
	cr_expect_eq(pf_policy_tail_keep(&POL, 100, 0), 16, "no active segment: the setting");
}

Test(policy_next, cold_head_stops_at_the_kept_tail_and_at_a_spill)
{
	uint64_t from;
	struct pf_cand c = active_file(1, 4, 40, 36);
	cr_expect_eq(pf_policy_cold_head(&c, 10, &from), 26, "blocks 4..29 are cold, 30..39 kept");
	cr_expect_eq(from, 4);
	c.win_hi = 20;
	cr_expect_eq(pf_policy_cold_head(&c, 10, &from), 16, "spilled at 20: the window ends there");
	c = active_file(1, 35, 40, 5);
	cr_expect_eq(pf_policy_cold_head(&c, 10, &from), 0, "everything in the window is kept tail");
	c = active_file(1, 0, 3, 4);
	cr_expect_eq(pf_policy_cold_head(&c, 10, &from), 0, "smaller than the kept tail");
}

Test(policy_next, above_limit_sealed_files_go_before_any_head)
{
	struct pf_cand c[3] = { active_file(1, 0, 40, 40), pool_file(5, 10), active_file(2, 0, 40, 40) };
	int w;
	uint64_t count = 0;
	w = -1;
	cr_expect_eq(pf_policy_next(&POL, c, 3, 90, 100, 0, &w, &count), PF_MOVE_DEMOTE);
	cr_expect_eq(w, 1, "the sealed file, although it is newer than both active ones");
	c[1].busy = 1;
	cr_expect_eq(pf_policy_next(&POL, c, 3, 90, 100, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(w, 0, "then the head of the oldest active segment");
	/* two active segments: each keeps min(16, 50 / 4) = 12 blocks; 40 full blocks from 0: 28 cold */
	cr_expect_eq(count, 28);
}

Test(policy_next, heads_only_above_the_limit_and_never_of_busy_or_headless_files)
{
	struct pf_cand c[2] = { active_file(1, 0, 40, 40), active_file(2, 30, 40, 10) };
	int w;
	uint64_t count;
	cr_expect_eq(pf_policy_next(&POL, c, 2, 50, 100, 0, &w, &count), PF_MOVE_NONE, "at the limit: nothing");
	c[0].busy = 1;
	cr_expect_eq(pf_policy_next(&POL, c, 2, 60, 100, 0, &w, &count), PF_MOVE_NONE,
		     "the other one's window holds only its kept tail");
}

Test(policy_next, readmit_the_newest_spilled_active_file_below_the_limit)
{
	struct pf_cand c[3] = { active_file(1, 0, 40, 10), active_file(3, 0, 40, 10), pool_file(2, 5) };
	c[0].win_hi = 10;
	c[1].win_hi = 10;
	int w;
	uint64_t count;
	cr_expect_eq(pf_policy_next(&POL, c, 3, 30, 100, 0, &w, &count), PF_MOVE_READMIT);
	cr_expect_eq(w, 1, "the newest spilled one");
	cr_expect_eq(pf_policy_next(&POL, c, 3, 50, 100, 0, &w, &count), PF_MOVE_READMIT,
		     "exactly at the limit, where head demotion stops: readmitted");
	cr_expect_eq(pf_policy_next(&POL, c, 3, 51, 100, 0, &w, &count), PF_MOVE_DEMOTE, "above it: demotion first");
	c[1].sealed = 1;
	c[0].busy = 1;
	cr_expect_eq(pf_policy_next(&POL, c, 3, 30, 100, 0, &w, &count), PF_MOVE_NONE,
		     "a sealed spilled file takes no more appends: not readmitted");
}

Test(policy_next, simulation_of_appends_keeps_the_pool_at_the_limit_with_every_tail_in_it)
{
	/* 4 active segments appended round-robin, one block per step each, into a pool of 64 blocks with limit
	 * 32 (64 KiB blocks and an 8 MiB pool in the small reproduction). After every step the policy runs to
	 * quiescence. The pool must stay at most one round of appends above the limit, and every append must
	 * land in the pool (no spill: the pool never fills). */
	struct pf_cand c[4];
	for (int i = 0; i < 4; i++)
		c[i] = active_file((uint64_t)i + 1, 0, 0, 0);
	uint64_t used = 0, peak = 0;
	for (int step = 0; step < 400; step++) {
		int f = step % 4;
		cr_assert_lt(used, 64, "step %d: the pool is full, an append would spill", step);
		c[f].blocks++;
		c[f].full_blocks++;
		used++;
		if (used > peak)
			peak = used;
		int w, moves = 0;
		uint64_t count;
		enum pf_move mv;
		while ((mv = pf_policy_next(&POL, c, 4, used, 64, 0, &w, &count)) != PF_MOVE_NONE) {
			cr_assert_lt(++moves, 10, "the policy does not settle at step %d", step);
			cr_assert_eq(mv, PF_MOVE_DEMOTE_HEAD, "only heads move here");
			c[w].win_lo += count;
			c[w].blocks -= count;
			used -= count;
		}
	}
	cr_expect_leq(peak, 32 + 4, "the pool stays within a round of appends of its limit (peak %llu)",
		      (unsigned long long)peak);
	uint64_t keep = pf_policy_tail_keep(&POL, 64, 4);
	for (int i = 0; i < 4; i++)
		cr_expect_geq(c[i].blocks, keep, "segment %d keeps its tail (%llu >= %llu)", i,
			      (unsigned long long)c[i].blocks, (unsigned long long)keep);
}

Test(policy_next, heads_go_down_by_the_age_of_their_blocks_not_of_their_files)
{
	/* file 0 is the older file, but file 1's first head block was written first (it was readmitted, or
	 * its head moved less far): per block range, file 1's head is the oldest */
	struct pf_cand c[2] = { active_file(1, 0, 40, 40), active_file(2, 0, 40, 40) };
	c[0].head_born = 500;
	c[1].head_born = 100;
	int w;
	uint64_t count;
	cr_expect_eq(pf_policy_next(&POL, c, 2, 51, 100, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(w, 1, "the head written first");
	c[1].head_born = 500;
	cr_expect_eq(pf_policy_next(&POL, c, 2, 51, 100, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(w, 0, "the same birth: the older file");
}

Test(policy_next, a_head_goes_down_in_batches_unless_far_above_the_limit)
{
	struct pf_cand c[1] = { active_file(1, 0, 400, 400) };
	struct pf_policy pol = { 0.5, 1, 16 };
	int w;
	uint64_t count;
	/* limit 500 of 1000: batches of 500 / 32 = 15 blocks when just above it */
	cr_expect_eq(pf_policy_next(&pol, c, 1, 501, 1000, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(count, 15, "one batch, not the whole cold head of 384");
	cr_expect_eq(pf_policy_next(&pol, c, 1, 600, 1000, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(count, 100, "100 above the limit: all of it at once");
	cr_expect_eq(pf_policy_next(&pol, c, 1, 900, 1000, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(count, 384, "never more than the cold head (400 full blocks, 16 kept)");
	cr_expect_eq(pf_policy_next(&pol, c, 1, 2, 3, 0, &w, &count), PF_MOVE_DEMOTE_HEAD);
	cr_expect_eq(count, 1, "a tiny limit: one block at least");
}

Test(policy_next, simulation_of_uneven_writers_keeps_the_newest_blocks_in_the_pool)
{
	/* 3 active segments written at rates 1:2:5 blocks per round into a pool of 256 blocks, limit 128.
	 * Every block gets a birth number; a file's head_born is the birth of its first window block. After
	 * each round the policy runs to quiescence. At the end the pool must hold (about) the newest blocks of
	 * all files together, beyond each one's kept tail: no block demoted is newer than a block kept outside
	 * the tails by more than one batch (4 blocks of the 8 written per round), whatever the files'
	 * creation order. */
	enum { NF = 3, MAXB = 4096 };
	static uint64_t born[NF][MAXB];
	const int rate[NF] = { 1, 2, 5 };
	struct pf_cand c[NF];
	for (int i = 0; i < NF; i++)
		c[i] = active_file((uint64_t)i + 1, 0, 0, 0);
	uint64_t used = 0, clock = 0, newest_demoted = 0;
	struct pf_policy pol = { 0.5, 1, 1000 };
	for (int round = 0; round < 400; round++) {
		for (int f = 0; f < NF; f++)
			for (int k = 0; k < rate[f]; k++) {
				cr_assert_lt(c[f].full_blocks, MAXB);
				cr_assert_lt(used, 256, "round %d: the pool is full", round);
				born[f][c[f].full_blocks++] = ++clock;
				c[f].blocks++;
				used++;
			}
		for (int f = 0; f < NF; f++)
			c[f].head_born = c[f].win_lo < c[f].full_blocks ? born[f][c[f].win_lo] : UINT64_MAX;
		int w, moves = 0;
		uint64_t count;
		enum pf_move mv;
		while ((mv = pf_policy_next(&pol, c, NF, used, 256, 0, &w, &count)) != PF_MOVE_NONE) {
			cr_assert_lt(++moves, 50, "the policy does not settle in round %d", round);
			cr_assert_eq(mv, PF_MOVE_DEMOTE_HEAD);
			for (uint64_t b = c[w].win_lo; b < c[w].win_lo + count; b++)
				if (born[w][b] > newest_demoted)
					newest_demoted = born[w][b];
			c[w].win_lo += count;
			c[w].blocks -= count;
			used -= count;
			c[w].head_born = c[w].win_lo < c[w].full_blocks ? born[w][c[w].win_lo] : UINT64_MAX;
		}
	}
	cr_expect_leq(used, 128, "settled at the limit");
	/* the oldest block still in the pool outside the kept tails (each active segment keeps its newest
	 * `keep` blocks whatever their age), against the newest one demoted */
	uint64_t keep = pf_policy_tail_keep(&pol, 256, NF), oldest_kept = UINT64_MAX;
	for (int f = 0; f < NF; f++)
		if (c[f].full_blocks > keep && c[f].win_lo < c[f].full_blocks - keep && born[f][c[f].win_lo] < oldest_kept)
			oldest_kept = born[f][c[f].win_lo];
	cr_expect_lt(newest_demoted, oldest_kept + 4 * 8,
		     "a block newer than the oldest kept one by more than a batch went down (demoted %llu, kept %llu)",
		     (unsigned long long)newest_demoted, (unsigned long long)oldest_kept);
	/* the slowest writer keeps its share of recent blocks: about its rate's share of the limit */
	cr_expect_geq(c[0].blocks, 128 / 8 - 4, "the slow writer's recent blocks stay (%llu)", (unsigned long long)c[0].blocks);
}

/* ---- pf_policy_order: a batch from one snapshot makes the moves pf_policy_next makes one at a time ---- */

TestSuite(policy_order, .fini = unit_leak_check);

/* A seeded generator (xorshift64): the next value below n. */
static uint64_t unit_rnd(uint64_t *s, uint64_t n)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return n ? *s % n : 0;
}

/* n seeded random candidates: pool and slow-tier files, some busy, unsealed or empty, ages with ties. */
static void random_cands(struct pf_cand *c, int n, uint64_t *rng)
{
	for (int i = 0; i < n; i++) {
		c[i] = cand(1 + unit_rnd(rng, 40), 100 + unit_rnd(rng, 60), unit_rnd(rng, 6), (int)unit_rnd(rng, 2));
		c[i].sealed = unit_rnd(rng, 8) != 0;
		c[i].busy = unit_rnd(rng, 10) == 0;
	}
}

Test(policy_order, demotions_in_next_order)
{
	uint64_t rng = 77;
	for (int round = 0; round < 200; round++) {
		struct pf_cand c[64];
		int n = 1 + (int)unit_rnd(&rng, 64), ord[64];
		random_cands(c, n, &rng);
		int k = pf_policy_order(c, n, PF_MOVE_DEMOTE, 0, ord);
		/* pf_policy_next, one call per move, each time on the snapshot with the moved file gone; used stays
		 * above the limit so that demotion goes on until no demotable file is left */
		struct pf_policy pol = { 0.5, 1, 16 };
		for (int j = 0; j < k; j++) {
			int which = -1;
			uint64_t count = 0;
			enum pf_move mv = pf_policy_next(&pol, c, n, 1000, 1000, 0, &which, &count);
			cr_assert_eq(mv, PF_MOVE_DEMOTE, "round %d move %d: %d", round, j, mv);
			cr_assert_eq(which, ord[j], "round %d move %d: next takes %d, the order %d", round, j, which, ord[j]);
			c[which].in_pool = 0;
		}
		int which = -1;
		uint64_t count = 0;
		cr_assert_neq(pf_policy_next(&pol, c, n, 1000, 1000, 0, &which, &count), PF_MOVE_DEMOTE,
			      "round %d: a demotable file the order left out", round);
	}
}

Test(policy_order, promotions_in_next_order)
{
	uint64_t rng = 78;
	for (int round = 0; round < 200; round++) {
		struct pf_cand c[64];
		int n = 1 + (int)unit_rnd(&rng, 64), ord[64];
		random_cands(c, n, &rng);
		for (int i = 0; i < n; i++)
			c[i].win_hi = PF_POLICY_NO_HI; /* no readmission ahead of the promotions */
		uint64_t boundary = 100 + unit_rnd(&rng, 30);
		int k = pf_policy_order(c, n, PF_MOVE_PROMOTE, boundary, ord);
		struct pf_policy pol = { 1.0, 1, 16 };
		uint64_t used = 0, cap = 1000000;
		for (int j = 0; j < k; j++) {
			int which = -1;
			uint64_t count = 0;
			enum pf_move mv = pf_policy_next(&pol, c, n, used, cap, boundary, &which, &count);
			cr_assert_eq(mv, PF_MOVE_PROMOTE, "round %d move %d: %d", round, j, mv);
			cr_assert_eq(which, ord[j], "round %d move %d: next takes %d, the order %d", round, j, which, ord[j]);
			c[which].in_pool = 1;
			used += c[which].blocks;
		}
		int which = -1;
		uint64_t count = 0;
		cr_assert_neq(pf_policy_next(&pol, c, n, used, cap, boundary, &which, &count), PF_MOVE_PROMOTE,
			      "round %d: a promotable file the order left out", round);
	}
}

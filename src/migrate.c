/*
 * migrate.c - the migration workers (see migrate.h).
 *
 * Owns: the workers and their copy of the policy settings. May call: file.h, policy.h, tier.h, rate.h,
 * log.h, sys.h.
 */
#define _GNU_SOURCE
#include "migrate.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file.h"
#include "log.h"
#include "policy.h"
#include "rate.h"
#include "sys.h"
#include "tier.h"

#define TICK_MS 200
#define PROMOTE_SETTLE_MS 1000

static struct pf_policy policy;
static uint64_t tail_keep_bytes;
static int64_t idle_ms;

/* A file is sealed when a newer segment exists in its partition directory (or by idleness, set before):
 * every file of a directory whose base offset is below the directory's highest. O(n log n). */
struct dir_ent {
	uint64_t dir, base;
	int i;
};

static int by_dir(const void *a, const void *b)
{
	const struct dir_ent *x = a, *y = b;
	if (x->dir != y->dir)
		return x->dir < y->dir ? -1 : 1;
	return (x->base > y->base) - (x->base < y->base);
}

static void mark_sealed_by_newer(const struct pf_file_info *v, struct pf_cand *c, int n)
{
	struct dir_ent *d = pf_scratch_alloc((size_t)n * sizeof *d + 1);
	if (!d)
		return; /* out of memory: only idleness seals this round (fewer moves, none wrong) */
	for (int i = 0; i < n; i++)
		d[i] = (struct dir_ent){ v[i].dir_hash, v[i].base_offset, i };
	qsort(d, (size_t)n, sizeof *d, by_dir);
	for (int k = 0, g; k < n; k = g) {
		for (g = k; g < n && d[g].dir == d[k].dir; g++)
			;
		uint64_t newest = d[g - 1].base;
		for (int j = k; j < g; j++)
			if (d[j].base < newest)
				c[d[j].i].sealed = 1;
	}
	pf_scratch_free(d);
}

static void candidate(const struct pf_file_info *v, struct pf_cand *c, uint64_t bsize, int64_t now)
{
	memset(c, 0, sizeof *c);
	c->in_pool = v->in_pool;
	c->busy = v->busy;
	c->birth_ns = v->birth_ns;
	c->age = v->in_pool ? v->seq : v->birth_ns;
	c->blocks = v->in_pool ? v->pool_blocks : (v->size + bsize - 1) / bsize;
	c->sealed = pf_policy_sealed(0, v->last_write_ms, now, idle_ms);
	c->win_lo = v->win_lo;
	c->win_hi = v->win_hi == UINT64_MAX ? PF_POLICY_NO_HI : v->win_hi;
	c->full_blocks = v->full_blocks;
	c->head_born = v->head_born;
}

/* The plan: one snapshot's whole-file moves of one direction, in the policy's order (pf_policy_order),
 * handed out one at a time to the workers for up to PLAN_MS, so that a broker with 100k files pays for
 * a snapshot and a sort once per batch, not once per move. Usage is read afresh before each move, as
 * pf_policy_next would on a new snapshot; a file that changed meanwhile is refused by its move (the move
 * checks the file, not the plan). Under plan_lock, which is taken before files_lock. */
#define PLAN_MS 1000
static pthread_mutex_t plan_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct pf_file_info *v;
	struct pf_cand *c;
	int *ord;
	int n, nord, pos;
	enum pf_move mv;
	int pool;      /* the pool whose files the plan moves (pf_tier_pool index) */
	int64_t until_ms;
} plan;
static int next_pool; /* the pool plan_make looks at first, round robin (under plan_lock) */

static void plan_drop(void)
{
	if (plan.v)
		pf_files_snapshot_free(plan.v, plan.n);
	pf_scratch_free(plan.c);
	pf_scratch_free(plan.ord);
	memset(&plan, 0, sizeof plan);
}

/* The next move of the plan, claimed; PF_MOVE_NONE when the plan has none left. */
static enum pf_move plan_take(struct pf_file **out, uint64_t *birth, int *pool)
{
	if (!plan.v || pf_mono_ms() >= plan.until_ms || pf_tier_paused() || pf_tier_draining())
		return PF_MOVE_NONE;
	uint64_t used, cap;
	pf_tier_pool_usage(plan.pool, &used, &cap);
	uint64_t limit = pf_policy_limit(&policy, cap), boundary = pf_tier_demote_boundary();
	while (plan.pos < plan.nord) {
		int i = plan.ord[plan.pos];
		if (plan.mv == PF_MOVE_DEMOTE && used <= limit)
			return PF_MOVE_NONE;
		if (plan.mv == PF_MOVE_PROMOTE &&
		    (used + plan.c[i].blocks > limit || pf_mono_ms() - pf_files_learned_ms() < PROMOTE_SETTLE_MS))
			return PF_MOVE_NONE; /* an older file never jumps the queue */
		plan.pos++;
		if (plan.mv == PF_MOVE_PROMOTE && plan.c[i].birth_ns <= boundary)
			continue;
		if (pf_file_claim(plan.v[i].file)) {
			*out = plan.v[i].file;
			*birth = plan.v[i].birth_ns;
			*pool = plan.pool;
			return plan.mv;
		}
	}
	return PF_MOVE_NONE;
}

/* The pool a file belongs to: its own, or, on the slow tier, the one its log dir's new bytes would go to. */
static int pool_of(const struct pf_file_info *v)
{
	return v->in_pool ? v->pool : pf_tier_home(v->slot);
}

static int over_limit(int pool)
{
	uint64_t used, cap;
	pf_tier_pool_usage(pool, &used, &cap);
	return used > pf_policy_limit(&policy, cap);
}

/* A new snapshot and the policy's next move on it; a whole-file move starts a plan. Each pool has its own
 * limit and its own files (tier.h: a file moves only within the pools of its log dir): the policy looks at
 * one pool's files at a time, the pools over their limit first, then the others, round robin. */
static enum pf_move plan_make(struct pf_file **out, uint64_t *birth, uint64_t *count, int *pool)
{
	struct pf_file_info *v = NULL;
	int n = 0, np = pf_tier_npools();
	*out = NULL;
	if (pf_files_snapshot(&v, &n) < 0)
		return PF_MOVE_NONE;
	struct pf_cand *c = pf_scratch_alloc(((size_t)n + 1) * sizeof *c); /* zeroed, as mapped */
	int *grp = pf_scratch_alloc(((size_t)n + 1) * sizeof *grp);
	/* one pool: its files are all of them; several: one pool's, copied out (idx: where each came from) */
	struct pf_cand *sub = np > 1 ? pf_scratch_alloc(((size_t)n + 1) * sizeof *sub) : c;
	int *idx = np > 1 ? pf_scratch_alloc(((size_t)n + 1) * sizeof *idx) : NULL;
	enum pf_move mv = PF_MOVE_NONE;
	if (!c || !grp || !sub || (np > 1 && !idx))
		goto out;
	int64_t now = pf_mono_ms();
	for (int i = 0; i < n; i++) {
		grp[i] = pool_of(&v[i]);
		candidate(&v[i], &c[i], pf_tier_pool(grp[i] >= 0 ? grp[i] : 0)->bsize, now);
	}
	mark_sealed_by_newer(v, c, n);
	for (int i = 0; i < n; i++)
		if (v[i].mapped && !c[i].sealed)
			c[i].busy = 1; /* the index of an active segment: Kafka stores into it */
	int which = -1, m = n, g = -1;
	uint64_t boundary = pf_tier_demote_boundary();
	for (int pass = 0; pass < 2 && mv == PF_MOVE_NONE; pass++) {
		for (int k = 0; k < np && mv == PF_MOVE_NONE; k++) {
			g = (next_pool + k) % np;
			if (over_limit(g) != (pass == 0))
				continue;
			if (np > 1) {
				m = 0;
				for (int i = 0; i < n; i++)
					if (grp[i] == g) {
						sub[m] = c[i];
						idx[m++] = i;
					}
			}
			uint64_t used, cap, bs = pf_tier_pool(g)->bsize;
			pf_tier_pool_usage(g, &used, &cap);
			policy.tail_keep = tail_keep_bytes / bs > 0 ? tail_keep_bytes / bs : 1;
			mv = pf_policy_next(&policy, sub, m, used, cap, boundary, &which, count);
			if (mv == PF_MOVE_PROMOTE && now - pf_files_learned_ms() < PROMOTE_SETTLE_MS)
				mv = PF_MOVE_NONE; /* the set of files is still growing (a broker loading its logs) */
		}
	}
	if (mv == PF_MOVE_NONE)
		goto out;
	next_pool = (g + 1) % np;
	int *ord = NULL;
	if ((mv == PF_MOVE_DEMOTE || mv == PF_MOVE_PROMOTE) && (ord = pf_scratch_alloc((size_t)m * sizeof *ord + 1))) {
		plan.nord = pf_policy_order(sub, m, mv, boundary, ord);
		for (int j = 0; idx && j < plan.nord; j++)
			ord[j] = idx[ord[j]];
		plan.v = v;
		plan.c = c;
		plan.ord = ord;
		plan.n = n;
		plan.pos = 0;
		plan.mv = mv;
		plan.pool = g;
		plan.until_ms = now + PLAN_MS;
		if (sub != c)
			pf_scratch_free(sub);
		pf_scratch_free(idx);
		pf_scratch_free(grp);
		return plan_take(out, birth, pool);
	}
	which = idx ? idx[which] : which;
	if (pf_file_claim(v[which].file)) {
		*out = v[which].file;
		*birth = v[which].birth_ns;
		*pool = g;
	} else {
		mv = PF_MOVE_NONE;
	}
out:
	if (sub != c)
		pf_scratch_free(sub);
	pf_scratch_free(idx);
	pf_scratch_free(grp);
	pf_scratch_free(c);
	pf_files_snapshot_free(v, n);
	return mv;
}

/* While snapshots find nothing to do, the next one waits (QUIET_MIN_MS, doubling up to QUIET_MAX_MS): a
 * broker with 100k files at rest does not copy its table five times a second. The wait ends at once when
 * the pool goes over the limit or the table gains or loses files. Under plan_lock. */
#define QUIET_MIN_MS 400
#define QUIET_MAX_MS 3200
static struct {
	int64_t until_ms, wait_ms;
	unsigned files;
} quiet;

static int quiet_now(void)
{
	if (!quiet.until_ms)
		return 0;
	int over = 0;
	for (int i = 0; i < pf_tier_npools() && !over; i++)
		over = over_limit(i);
	if (pf_mono_ms() >= quiet.until_ms || over || pf_files_count() != quiet.files) {
		quiet.until_ms = 0;
		return 0;
	}
	return 1;
}

static enum pf_move choose(struct pf_file **out, uint64_t *birth, uint64_t *count, int *pool)
{
	pthread_mutex_lock(&plan_lock);
	enum pf_move mv = plan_take(out, birth, pool);
	if (mv == PF_MOVE_NONE && !quiet_now()) {
		plan_drop();
		unsigned files = pf_files_count();
		mv = plan_make(out, birth, count, pool);
		if (mv == PF_MOVE_NONE) {
			quiet.wait_ms = quiet.wait_ms ? (quiet.wait_ms * 2 > QUIET_MAX_MS ? QUIET_MAX_MS : quiet.wait_ms * 2)
						      : QUIET_MIN_MS;
			quiet.until_ms = pf_mono_ms() + quiet.wait_ms;
			quiet.files = files;
		} else {
			quiet.wait_ms = 0;
		}
	}
	pthread_mutex_unlock(&plan_lock);
	return mv;
}

static const char *const move_done[] = { "none", "demoted", "promoted", "demoted the cold head of",
					  "readmitted the tail of" };
static const char *const move_names[] = { "none", "demote", "promote", "head demote", "readmit" };

/* Count and log the outcome of a move. */
static void account(enum pf_move mv, struct pf_file *f, int r, const struct pf_move_ctx *ctx, int64_t t0)
{
	if (r == 0) {
		static const enum pf_stat count_of[] = { PF_STAT_DEMOTIONS, PF_STAT_DEMOTIONS, PF_STAT_PROMOTIONS,
							  PF_STAT_HEAD_DEMOTIONS, PF_STAT_READMISSIONS };
		pf_stat_add(count_of[mv], PF_TIER_NONE, 1);
		pf_stat_add(mv == PF_MOVE_PROMOTE ? PF_STAT_BYTES_PROMOTED : PF_STAT_BYTES_DEMOTED, PF_TIER_NONE, ctx->bytes);
	} else {
		pf_stat_add(r > 0 ? PF_STAT_MIGRATION_ABORTS : PF_STAT_MIGRATION_FAILURES, PF_TIER_NONE, 1);
	}
	pf_stat_add(PF_STAT_MIGRATION_NS, PF_TIER_NONE, (uint64_t)(pf_mono_ns() - t0));
	int e = errno;
	char path[PATH_MAX];
	pf_file_path(f, path, sizeof path);
	if (r < 0)
		pf_log(PF_LOG_WARN, "migration (%s) of %s failed: %s; will retry", move_names[mv], path, strerror(e));
	else if (r == 0)
		pf_log(PF_LOG_DEBUG, "%s %s (%llu bytes)", move_done[mv], path, (unsigned long long)ctx->bytes);
}

int pf_migrate_step(void)
{
	if (pf_tier_paused() || pf_tier_draining())
		return PF_MOVE_NONE;
	struct pf_file *f = NULL;
	uint64_t birth = 0, count = 0;
	int pool = -1;
	enum pf_move mv = choose(&f, &birth, &count, &pool);
	if (mv == PF_MOVE_NONE)
		return mv;
	struct pf_move_ctx ctx = { pf_rate_take, 0 };
	int64_t t0 = pf_mono_ns();
	int r = 1;
	if (mv == PF_MOVE_DEMOTE) {
		r = pf_file_demote(f, &ctx);
		if (r == 0)
			pf_tier_raise_demote_boundary(birth); /* a restart does not promote back what was demoted */
	} else if (mv == PF_MOVE_DEMOTE_HEAD) {
		r = pf_file_demote_head(f, count, &ctx);
	} else if (mv == PF_MOVE_READMIT) {
		r = pf_file_readmit(f, &ctx);
	} else {
		uint64_t used, cap;
		pf_tier_pool_usage(pool, &used, &cap);
		r = used < cap ? pf_file_promote(f, pf_tier_pool(pool), &ctx) : 1;
	}
	account(mv, f, r, &ctx, t0);
	pf_file_release(f);
	if (r != 0) {
		/* a move that failed or gave up is the policy's first choice again (as without a plan): a demotion
		 * that copied part of a file before failing must not be left half done while younger files go */
		pthread_mutex_lock(&plan_lock);
		plan_drop();
		pthread_mutex_unlock(&plan_lock);
	}
	return r == 0 ? (int)mv : PF_MOVE_NONE;
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		if (pf_migrate_step() == PF_MOVE_NONE) {
			struct timespec ts = { 0, TICK_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int pf_migrate_start(const struct pf_config *cfg)
{
	pf_rate_init(cfg->migrate_rate_bytes);
	if (pf_tier_npools() == 0 || cfg->channel != PF_CHANNEL_TIERED || cfg->migrate_threshold < 0)
		return 0;
	policy.threshold = cfg->migrate_threshold;
	policy.promote = cfg->migrate_promote;
	tail_keep_bytes = (uint64_t)cfg->migrate_tail_keep;
	idle_ms = cfg->migrate_idle_ms;
	for (int i = 0; i < cfg->migrate_threads; i++)
		if (pf_start_thread(worker, "pafka-migrate") < 0)
			return -1;
	pf_tier_set_migrating(1);
	return 0;
}

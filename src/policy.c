/*
 * policy.c - migration choices (see policy.h for the rules and their order).
 *
 * Owns: nothing (pure functions). May call: libc's qsort_r only.
 */
#define _GNU_SOURCE
#include "policy.h"

#include <stdlib.h>

int pf_policy_sealed(int newer_exists, int64_t last_write_ms, int64_t now_ms, int64_t idle_ms)
{
	return newer_exists || (idle_ms >= 0 && now_ms - last_write_ms >= idle_ms);
}

uint64_t pf_policy_limit(const struct pf_policy *pol, uint64_t capacity)
{
	return (uint64_t)(pol->threshold * (double)capacity);
}

uint64_t pf_policy_tail_keep(const struct pf_policy *pol, uint64_t capacity, int active)
{
	uint64_t share = pf_policy_limit(pol, capacity) / (2 * (uint64_t)(active > 0 ? active : 1));
	uint64_t keep = pol->tail_keep < share ? pol->tail_keep : share;
	return keep > 0 ? keep : 1;
}

uint64_t pf_policy_cold_head(const struct pf_cand *c, uint64_t keep, uint64_t *from)
{
	*from = c->win_lo;
	uint64_t end = c->full_blocks > keep ? c->full_blocks - keep : 0; /* the kept tail starts here */
	if (c->win_hi != PF_POLICY_NO_HI && c->win_hi < end)
		end = c->win_hi;
	return end > c->win_lo ? end - c->win_lo : 0;
}

/* The files each whole-file move may take (one rule, for pf_policy_next and pf_policy_order). */
static int demotable(const struct pf_cand *c)
{
	return c->in_pool && c->sealed && !c->busy && c->blocks > 0;
}

static int promotable(const struct pf_cand *c, uint64_t boundary_ns)
{
	return !c->in_pool && c->sealed && !c->busy && c->blocks > 0 && c->birth_ns > boundary_ns;
}

enum pf_move pf_policy_next(const struct pf_policy *pol, const struct pf_cand *c, int n, uint64_t used,
			    uint64_t capacity, uint64_t boundary_ns, int *which, uint64_t *count)
{
	if (pol->threshold < 0 || capacity == 0)
		return PF_MOVE_NONE;
	uint64_t limit = pf_policy_limit(pol, capacity);
	int best = -1;
	if (used > limit) {
		for (int i = 0; i < n; i++)
			if (demotable(&c[i]) && (best < 0 || c[i].age < c[best].age))
				best = i;
		if (best >= 0) {
			*which = best;
			return PF_MOVE_DEMOTE;
		}
		int active = 0;
		for (int i = 0; i < n; i++)
			active += c[i].in_pool && !c[i].sealed;
		uint64_t keep = pf_policy_tail_keep(pol, capacity, active), head = 0, from;
		for (int i = 0; i < n; i++) {
			if (!c[i].in_pool || c[i].sealed || c[i].busy || c[i].blocks == 0)
				continue;
			uint64_t h = pf_policy_cold_head(&c[i], keep, &from);
			if (h > 0 && (best < 0 || c[i].head_born < c[best].head_born ||
				      (c[i].head_born == c[best].head_born && c[i].age < c[best].age))) {
				best = i;
				head = h;
			}
		}
		if (best >= 0) {
			uint64_t batch = limit / 32 > used - limit ? limit / 32 : used - limit;
			*which = best;
			*count = head < batch ? head : batch; /* batch >= used - limit >= 1 */
			return PF_MOVE_DEMOTE_HEAD;
		}
		return PF_MOVE_NONE;
	}
	/* at or below the limit: a readmission frees blocks before it takes any, so the limit itself is room */
	for (int i = 0; i < n; i++)
		if (c[i].in_pool && !c[i].sealed && !c[i].busy && c[i].win_hi != PF_POLICY_NO_HI &&
		    (best < 0 || c[i].age > c[best].age))
			best = i;
	if (best >= 0) {
		*which = best;
		return PF_MOVE_READMIT;
	}
	if (!pol->promote)
		return PF_MOVE_NONE;
	/* The newest eligible slow-tier file, if it fits; an older one never jumps the queue. */
	for (int i = 0; i < n; i++)
		if (promotable(&c[i], boundary_ns) && (best < 0 || c[i].age > c[best].age))
			best = i;
	if (best >= 0 && used + c[best].blocks <= limit) {
		*which = best;
		return PF_MOVE_PROMOTE;
	}
	return PF_MOVE_NONE;
}

/* qsort_r's comparison for pf_policy_order: by age (ascending, or descending for promotions), then by
 * index, which is the order the scans of pf_policy_next prefer on equal ages (the first index wins). */
struct order_arg {
	const struct pf_cand *c;
	int newest_first;
};

static int by_age(const void *a, const void *b, void *arg)
{
	const struct order_arg *o = arg;
	int i = *(const int *)a, j = *(const int *)b;
	uint64_t x = o->c[i].age, y = o->c[j].age;
	if (x != y)
		return (x < y) == !o->newest_first ? -1 : 1;
	return (i > j) - (i < j);
}

int pf_policy_order(const struct pf_cand *c, int n, enum pf_move mv, uint64_t boundary_ns, int *ord)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		if (mv == PF_MOVE_DEMOTE ? demotable(&c[i]) : mv == PF_MOVE_PROMOTE && promotable(&c[i], boundary_ns))
			ord[k++] = i;
	struct order_arg o = { c, mv == PF_MOVE_PROMOTE };
	qsort_r(ord, (size_t)k, sizeof *ord, by_age, &o);
	return k;
}

/*
 * policy.c - migration choices (see policy.h).
 *
 * Owns: nothing (pure functions). May call: nothing.
 */
#include "policy.h"

int pf_policy_sealed(int newer_exists, int64_t last_write_ms, int64_t now_ms, int64_t idle_ms)
{
	return newer_exists || (idle_ms >= 0 && now_ms - last_write_ms >= idle_ms);
}

enum pf_move pf_policy_next(const struct pf_policy *pol, const struct pf_cand *c, int n, uint64_t used,
			    uint64_t capacity, uint64_t boundary_ns, int *which)
{
	if (pol->threshold < 0 || capacity == 0)
		return PF_MOVE_NONE;
	uint64_t limit = (uint64_t)(pol->threshold * (double)capacity);
	int best = -1;
	if (used > limit) {
		for (int i = 0; i < n; i++)
			if (c[i].in_pool && c[i].sealed && !c[i].busy && c[i].blocks > 0 &&
			    (best < 0 || c[i].age < c[best].age))
				best = i;
		if (best >= 0) {
			*which = best;
			return PF_MOVE_DEMOTE;
		}
		return PF_MOVE_NONE;
	}
	if (!pol->promote)
		return PF_MOVE_NONE;
	/* The newest eligible slow-tier file, if it fits; an older one never jumps the queue. */
	for (int i = 0; i < n; i++)
		if (!c[i].in_pool && c[i].sealed && !c[i].busy && c[i].blocks > 0 && c[i].birth_ns > boundary_ns &&
		    (best < 0 || c[i].age > c[best].age))
			best = i;
	if (best >= 0 && used + c[best].blocks <= limit) {
		*which = best;
		return PF_MOVE_PROMOTE;
	}
	return PF_MOVE_NONE;
}

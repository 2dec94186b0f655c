/*
 * house.c - the housekeeping thread (see house.h).
 *
 * Owns: the thread and its copy of the pool directories and threshold. May call: file.h, tier.h, rate.h,
 * log.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "house.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "file.h"
#include "log.h"
#include "rate.h"
#include "real.h"
#include "sys.h"
#include "tier.h"

#define TICK_MS 200

static const struct pf_config *cfg;

/* Follow pafka.drain. Returns whether a drain is asked for. */
static int poll_controls(void)
{
	int drain = pf_tier_control_exists(PF_DRAIN_FILE);
	if (drain != pf_tier_draining()) {
		pf_tier_set_draining(drain);
		pf_log(PF_LOG_INFO, drain ? "%s found: draining the pool to the slow tier, admitting no new data"
					  : "%s removed: the pool admits new data again",
		       PF_DRAIN_FILE);
	}
	return drain;
}

/* What migration wants to move now: everything while draining, else what is above the threshold. */
static uint64_t backlog_bytes(void)
{
	uint64_t used, cap;
	pf_tier_usage(&used, &cap);
	uint64_t bs = pf_tier_npools() ? pf_tier_pool(0)->bsize : 0;
	if (pf_tier_draining())
		return used * bs;
	int migrating = cfg->channel == PF_CHANNEL_TIERED && cfg->migrate_threshold >= 0;
	uint64_t limit = migrating ? (uint64_t)(cfg->migrate_threshold * (double)cap) : cap;
	return used > limit ? (used - limit) * bs : 0;
}

/* Move one file out of the pool; returns 1 if there was one. */
static int drain_step(void)
{
	struct pf_file *f = pf_files_claim_pooled();
	if (!f)
		return 0;
	struct pf_move_ctx ctx = { pf_rate_take, 0 };
	int r = pf_file_demote(f, &ctx);
	if (r == 1)
		r = pf_file_materialise(f); /* it keeps changing (an active segment): move it under the lock */
	if (r == 0) {
		pf_stat_add(PF_STAT_DEMOTIONS, PF_TIER_NONE, 1);
		pf_stat_add(PF_STAT_BYTES_DEMOTED, PF_TIER_NONE, ctx.bytes);
	} else {
		int e = errno;
		char path[PATH_MAX];
		pf_file_path(f, path, sizeof path);
		pf_stat_add(PF_STAT_MIGRATION_FAILURES, PF_TIER_NONE, 1);
		pf_log(PF_LOG_WARN, "drain: cannot move %s out of the pool: %s; will retry", path, strerror(e));
	}
	pf_file_release(f);
	return r == 0;
}

/* Fault the pools' pages in once, in the background, so first writes do not pay for page faults (the
 * space is already reserved; this only builds page tables). */
static void prefault_pools(void)
{
#ifdef MADV_POPULATE_WRITE
	for (int i = 0; i < pf_tier_npools(); i++) {
		struct pf_pool *p = pf_tier_pool(i);
		char *a = p->data;
		uint64_t left = p->nblocks << p->bshift, chunk = 64ULL << 20;
		for (; left; a += pf_min64(chunk, left), left -= pf_min64(chunk, left)) {
			if (madvise(a, pf_min64(chunk, left), MADV_POPULATE_WRITE) < 0)
				break; /* older kernel: first use faults them in, as without this */
			pf_tier_publish_live(backlog_bytes()); /* a large pool takes a while: the heartbeat goes on */
		}
	}
#endif
}

static void *housekeeper(void *arg)
{
	(void)arg;
	prefault_pools();
	for (;;) {
		int drain = poll_controls();
		pf_tier_publish_live(backlog_bytes());
		if (drain && drain_step())
			continue;
		struct timespec ts = { 0, TICK_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int pf_house_start(const struct pf_config *c)
{
	cfg = c;
	if (pf_tier_npools() == 0)
		return 0;
	poll_controls(); /* before any byte is written: a broker started during a drain admits nothing */
	pf_tier_publish_live(backlog_bytes());
	return pf_start_thread(housekeeper, "pafka-house");
}

/*
 * tier.c - the open pools, the process's role towards them, the operator's switches and the live
 * statistics (see tier.h).
 *
 * Owns: pools[], npools, the role (readonly, not_writer), the switches (draining, paused, migrating).
 * May call: pool.h, config.h, paths.h, log.h, sys.h.
 */
#define _GNU_SOURCE
#include "tier.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stddef.h>
#include <unistd.h>

#include "paths.h"
#include "real.h"
#include "sys.h"

static struct pf_pool pools[PF_MAX_PATHS];
static int npools;
static int readonly;     /* attached read-only to pools another process writes */
static int not_writer;   /* readonly, or a fork child of the writer */
static int draining;
static int migrating;
static pthread_mutex_t boundary_lock = PTHREAD_MUTEX_INITIALIZER;

int pf_tier_open(const struct pf_config *cfg, enum pf_tier_access access, int (*may_create)(const char *pool_path),
		 struct pf_err *err)
{
	if (access == PF_TIER_READER)
		readonly = not_writer = 1;
	for (int i = 0; i < cfg->first_paths.n; i++) {
		int64_t size = cfg->n_first_sizes ? cfg->first_sizes[i < cfg->n_first_sizes ? i : cfg->n_first_sizes - 1] : -1;
		const char *dir = cfg->first_paths.v[i];
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, PF_POOL_FILE);
		int flags = (readonly ? PF_POOL_RDONLY : 0) | (may_create(path) ? 0 : PF_POOL_NOCREATE);
		struct pf_err e = { "" };
		if (pf_pool_open(&pools[npools], npools, dir, size, cfg->pool_ratio, cfg->block_size, flags, &e) < 0) {
			/* A reader passes over a pool that does not exist and that no marker names: it holds nothing
			 * (the writer that would create it has not run yet). */
			if (access == PF_TIER_READER && errno == ENOENT && may_create(path))
				continue;
			/* Another process (the broker) holds the pool: a tool attaches read-only, a broker must not. */
			if (!(errno == EAGAIN && i == 0 && access == PF_TIER_SHARED))
				return pf_err_set(err, "%s", e.msg);
			readonly = not_writer = 1;
			if (pf_pool_open(&pools[npools], npools, dir, size, cfg->pool_ratio, cfg->block_size, 1, err) < 0)
				return -1;
		}
		npools++;
	}
	uint64_t boot[2];
	if (!readonly)
		pf_boot_id(boot); /* 0, 0 when unknown: every pool then counts as rebooted */
	for (int i = 0; i < npools && !readonly; i++) {
		__atomic_store_n(&pools[i].hdr->live.writer_pid, (uint64_t)getpid(), __ATOMIC_RELAXED);
		__atomic_store_n(&pools[i].hdr->live.state, 0, __ATOMIC_RELAXED);
		pf_pool_note_boot(&pools[i], boot);
	}
	return 0;
}

/* A fork child shares the pool mappings with its parent, which stays their writer: the child reads them as
 * a read-only attacher does (the placement of each file is read again from the shared tables before each
 * read, so it sees what the parent wrote after the fork) and changes nothing in them. */
static void on_fork_child(void)
{
	not_writer = 1;
	readonly = 1;
}

void pf_tier_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

int pf_tier_npools(void)
{
	return npools;
}

struct pf_pool *pf_tier_pool(int i)
{
	return i >= 0 && i < npools ? &pools[i] : NULL;
}

int pf_tier_serves(int i, int slot)
{
	int nd = pf_paths_nslots();
	if (i < 0 || i >= npools)
		return 0;
	if (slot < 0 || nd <= 0 || npools == 1)
		return 1;
	return npools >= nd ? i % nd == slot : slot % npools == i;
}

/* Of the pools serving slot, the one with the most free blocks (the first of equals). */
static struct pf_pool *most_free(int slot)
{
	struct pf_pool *best = NULL;
	for (int i = 0; i < npools; i++)
		if (pf_tier_serves(i, slot) && (!best || pf_pool_free_blocks(&pools[i]) > pf_pool_free_blocks(best)))
			best = &pools[i];
	return best;
}

struct pf_pool *pf_tier_pick_for(int slot)
{
	struct pf_pool *best = most_free(slot);
	return best && pf_pool_free_blocks(best) > 0 ? best : NULL;
}

int pf_tier_home(int slot)
{
	struct pf_pool *best = most_free(slot);
	return best ? best->index : -1;
}

void pf_tier_pool_usage(int i, uint64_t *used, uint64_t *capacity)
{
	*used = *capacity = 0;
	if (i >= 0 && i < npools) {
		*capacity = pools[i].nblocks;
		*used = pools[i].nblocks - pf_pool_free_blocks(&pools[i]);
	}
}

void pf_tier_usage(uint64_t *used, uint64_t *capacity)
{
	uint64_t u = 0, c = 0;
	for (int i = 0; i < npools; i++) {
		u += pools[i].nblocks - pf_pool_free_blocks(&pools[i]);
		c += pools[i].nblocks;
	}
	*used = u;
	*capacity = c;
}

int pf_tier_is_writer(void)
{
	return !not_writer;
}

int pf_tier_readonly(void)
{
	return readonly;
}

int pf_tier_writable(void)
{
	return npools > 0 && !not_writer && !__atomic_load_n(&draining, __ATOMIC_RELAXED);
}

void pf_tier_set_draining(int on)
{
	__atomic_store_n(&draining, on, __ATOMIC_RELAXED);
}

int pf_tier_draining(void)
{
	return __atomic_load_n(&draining, __ATOMIC_RELAXED);
}

int pf_tier_control_exists(const char *name)
{
	for (int i = 0; i < npools; i++) {
		char p[PATH_MAX];
		struct stat st;
		if (snprintf(p, sizeof p, "%s/%s", pools[i].dir, name) < (int)sizeof p && REAL(stat)(p, &st) == 0)
			return 1;
	}
	return 0;
}

int pf_tier_paused(void)
{
	return pf_tier_control_exists(PF_PAUSE_FILE);
}

void pf_tier_set_migrating(int on)
{
	__atomic_store_n(&migrating, on, __ATOMIC_RELAXED);
}

static uint64_t *stat_field(struct pf_pool_live *l, enum pf_stat s, enum pf_tier t)
{
	int k = t == PF_TIER_SLOW;
	switch (s) {
	case PF_STAT_BYTES_WRITTEN: return &l->bytes_written[k];
	case PF_STAT_BYTES_READ: return &l->bytes_read[k];
	case PF_STAT_BYTES_SENT: return &l->bytes_sent[k];
	case PF_STAT_SPILLS: return &l->spills;
	case PF_STAT_DEMOTIONS: return &l->demotions;
	case PF_STAT_PROMOTIONS: return &l->promotions;
	case PF_STAT_BYTES_DEMOTED: return &l->bytes_demoted;
	case PF_STAT_BYTES_PROMOTED: return &l->bytes_promoted;
	case PF_STAT_MIGRATION_FAILURES: return &l->migration_failures;
	case PF_STAT_MIGRATION_ABORTS: return &l->migration_aborts;
	case PF_STAT_MIGRATION_NS: return &l->migration_ns;
	case PF_STAT_ERRORS: return &l->errors;
	case PF_STAT_HEAD_DEMOTIONS: return &l->head_demotions;
	case PF_STAT_READMISSIONS: return &l->readmissions;
	}
	return NULL;
}

void pf_stat_add(enum pf_stat s, enum pf_tier t, uint64_t n)
{
	if (npools == 0 || not_writer)
		return;
	uint64_t *f = stat_field(&pools[0].hdr->live, s, t);
	if (f)
		__atomic_add_fetch(f, n, __ATOMIC_RELAXED);
}

uint64_t pf_tier_demote_boundary(void)
{
	return npools ? __atomic_load_n(&pools[0].hdr->live.demote_boundary_ns, __ATOMIC_RELAXED) : 0;
}

void pf_tier_raise_demote_boundary(uint64_t birth_ns)
{
	if (npools == 0 || not_writer)
		return;
	uint64_t *bp = &pools[0].hdr->live.demote_boundary_ns;
	pthread_mutex_lock(&boundary_lock);
	if (birth_ns > *bp)
		__atomic_store_n(bp, birth_ns, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&boundary_lock);
}

void pf_tier_publish_live(uint64_t backlog_bytes)
{
	if (not_writer)
		return;
	uint64_t now = pf_wall_ms();
	uint64_t state = (__atomic_load_n(&migrating, __ATOMIC_RELAXED) ? PF_LIVE_MIGRATING : 0) |
			 (pf_tier_paused() ? PF_LIVE_PAUSED : 0) | (pf_tier_draining() ? PF_LIVE_DRAINING : 0);
	for (int i = 0; i < npools; i++) {
		struct pf_pool_live *l = &pools[i].hdr->live;
		__atomic_store_n(&l->heartbeat_ms, now, __ATOMIC_RELAXED);
		__atomic_store_n(&l->state, state, __ATOMIC_RELAXED);
		__atomic_store_n(&l->backlog_bytes, i == 0 ? backlog_bytes : 0, __ATOMIC_RELAXED);
	}
}

void pf_tier_mark_clean_exit(void)
{
	if (not_writer)
		return;
	for (int i = 0; i < npools; i++)
		if (__atomic_load_n(&pools[i].hdr->live.writer_pid, __ATOMIC_RELAXED) == (uint64_t)getpid()) {
			pf_pool_mark_clean(&pools[i]);
			__atomic_store_n(&pools[i].hdr->live.writer_pid, 0, __ATOMIC_RELAXED);
		}
}

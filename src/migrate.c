/*
 * migrate.c - migration threads: take a snapshot of the file table, ask the policy for one move, do it
 * (file.c holds the crash-safe mechanics), repeat; sleep a tick when there is nothing to do.
 */
#define _GNU_SOURCE
#include "migrate.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "policy.h"
#include "real.h"
#include "shim.h"

#define TICK_MS 200

static pthread_mutex_t mig_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pf_migrate_stats stats;
static int forced_pause;
static uint64_t boundary_ns;       /* birth time of the newest file demoted so far */
static char pause_file[PATH_MAX];
/* rate limit: a token bucket shared by all threads */
static double tokens;
static int64_t tokens_at_ns;

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void throttle(void *arg, uint64_t bytes)
{
	(void)arg;
	int64_t rate = pf_cfg.migrate_rate_bytes;
	if (rate <= 0)
		return;
	for (;;) {
		pthread_mutex_lock(&mig_lock);
		int64_t now = mono_ns();
		tokens += (double)(now - tokens_at_ns) * (double)rate / 1e9;
		if (tokens > (double)rate)
			tokens = (double)rate; /* at most one second of burst */
		tokens_at_ns = now;
		double need = (double)bytes - tokens;
		if (need <= 0) {
			tokens -= (double)bytes;
			pthread_mutex_unlock(&mig_lock);
			return;
		}
		pthread_mutex_unlock(&mig_lock);
		int64_t wait_ns = (int64_t)(need * 1e9 / (double)rate);
		struct timespec ts = { wait_ns / 1000000000LL, wait_ns % 1000000000LL };
		nanosleep(&ts, NULL);
	}
}

static int paused(void)
{
	if (__atomic_load_n(&forced_pause, __ATOMIC_RELAXED))
		return 1;
	struct stat st;
	return pause_file[0] && REAL(stat)(pause_file, &st) == 0;
}

/* ---- snapshot */

struct snap {
	struct pf_file **f;
	struct pf_cand *c;
	int n, cap;
	int64_t now_ms;
};

static uint64_t base_offset(const char *path)
{
	const char *b = strrchr(path, '/');
	return strtoull(b ? b + 1 : path, NULL, 10);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void collect(struct pf_file *f, void *arg)
{
	struct snap *s = arg;
	if (!f->path[0] || f->unlinked || f->pinned_real)
		return;
	size_t len = strlen(f->path);
	if (len > 8 && !strcmp(f->path + len - 8, ".deleted"))
		return; /* about to be deleted: moving it would be wasted I/O */
	if (s->n == s->cap) {
		int cap = s->cap ? s->cap * 2 : 64;
		struct pf_file **nf = realloc(s->f, (size_t)cap * sizeof *nf);
		if (!nf)
			return;
		s->f = nf;
		struct pf_cand *nc = realloc(s->c, (size_t)cap * sizeof *nc);
		if (!nc)
			return;
		s->c = nc;
		s->cap = cap;
	}
	struct pf_cand *c = &s->c[s->n];
	memset(c, 0, sizeof *c);
	c->in_pool = f->rec >= 0;
	c->busy = f->migrating;
	c->birth_ns = (uint64_t)f->key.btime_sec * 1000000000ULL + f->key.btime_nsec;
	if (c->in_pool) {
		uint64_t blocks = 0;
		for (uint64_t i = 0; i < f->maplen; i++)
			blocks += f->map[i] != 0;
		c->blocks = blocks;
		c->age = f->pool->recs[f->rec].seq;
		c->busy |= f->lo == PF_HI_NONE; /* a promotion in progress */
	} else if (pf_npools > 0) {
		uint64_t bs = pf_pools[0].bsize;
		c->blocks = f->size_known ? (f->size + bs - 1) / bs : 0;
		c->age = c->birth_ns;
	}
	/* sealed: computed after the snapshot, from newer segments in the same directory, or idleness */
	c->sealed = pf_policy_sealed(0, f->last_write_ms, s->now_ms, pf_cfg.migrate_idle_ms);
	s->f[s->n++] = f;
}

static int same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	return sa && sb && sa - a == sb - b && !strncmp(a, b, (size_t)(sa - a));
}

static void mark_sealed_by_newer(struct snap *s)
{
	for (int i = 0; i < s->n; i++) {
		if (s->c[i].sealed)
			continue;
		uint64_t off = base_offset(s->f[i]->path);
		for (int j = 0; j < s->n; j++)
			if (j != i && same_dir(s->f[i]->path, s->f[j]->path) && base_offset(s->f[j]->path) > off) {
				s->c[i].sealed = 1;
				break;
			}
	}
}

struct pick {
	struct snap s;
};

static void pick_locked(struct pf_file *f, void *arg)
{
	collect(f, &((struct pick *)arg)->s);
}

struct claim {
	struct pf_file *f;
	int ok;
};

/* Claim the chosen file under the table lock: it may have started moving or been deleted meanwhile. */
static void claim_cb(struct pf_file *f, void *arg)
{
	struct claim *cl = arg;
	if (f == cl->f && !f->migrating && !f->unlinked) {
		f->migrating = 1;
		pf_file_hold(f);
		cl->ok = 1;
	}
}

/* Choose one move and hold the file; returns PF_MOVE_NONE when idle. */
static enum pf_move choose(struct pf_file **out)
{
	struct pick pk;
	memset(&pk, 0, sizeof pk);
	pk.s.now_ms = mono_ms();
	uint64_t used = 0, cap = 0;
	for (int i = 0; i < pf_npools; i++) {
		pthread_mutex_lock(&pf_pools[i].lock);
		used += pf_pools[i].nblocks - pf_pools[i].nfree;
		cap += pf_pools[i].nblocks;
		pthread_mutex_unlock(&pf_pools[i].lock);
	}
	struct pf_policy pol = { pf_cfg.migrate_threshold, pf_cfg.migrate_promote };
	pf_files_foreach(pick_locked, &pk);
	mark_sealed_by_newer(&pk.s);
	pthread_mutex_lock(&mig_lock);
	uint64_t boundary = boundary_ns;
	pthread_mutex_unlock(&mig_lock);
	int which = -1;
	enum pf_move mv = pf_policy_next(&pol, pk.s.c, pk.s.n, used, cap, boundary, &which);
	struct pf_file *chosen = NULL;
	if (mv != PF_MOVE_NONE) {
		struct claim cl = { pk.s.f[which], 0 };
		pf_files_foreach(claim_cb, &cl);
		if (cl.ok)
			chosen = cl.f;
		else
			mv = PF_MOVE_NONE;
	}
	free(pk.s.f);
	free(pk.s.c);
	*out = chosen;
	return mv;
}

int pf_migrate_step(void)
{
	if (paused())
		return PF_MOVE_NONE;
	struct pf_file *f = NULL;
	enum pf_move mv = choose(&f);
	if (mv == PF_MOVE_NONE)
		return mv;
	struct pf_move_ctx ctx = { throttle, NULL, 0 };
	int r;
	if (mv == PF_MOVE_DEMOTE) {
		r = pf_file_demote(f, &ctx);
	} else {
		struct pf_pool *p = pf_shim_pick_pool();
		r = p ? pf_file_promote(f, p, &ctx) : 1;
	}
	uint64_t birth = (uint64_t)f->key.btime_sec * 1000000000ULL + f->key.btime_nsec;
	pthread_mutex_lock(&mig_lock);
	if (r == 0 && mv == PF_MOVE_DEMOTE) {
		stats.demotions++;
		stats.bytes_demoted += ctx.bytes;
		if (birth > boundary_ns)
			boundary_ns = birth;
	} else if (r == 0) {
		stats.promotions++;
		stats.bytes_promoted += ctx.bytes;
	} else if (r > 0) {
		stats.aborted++;
	} else {
		stats.failures++;
	}
	pthread_mutex_unlock(&mig_lock);
	if (r < 0)
		pf_log(PF_LOG_WARN, "migration (%s) of %s failed: %s; will retry", mv == PF_MOVE_DEMOTE ? "demote" : "promote",
		       f->path, strerror(errno));
	else if (r == 0)
		pf_log(PF_LOG_DEBUG, "%s %s (%llu bytes)", mv == PF_MOVE_DEMOTE ? "demoted" : "promoted", f->path,
		       (unsigned long long)ctx.bytes);
	pf_file_release(f);
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

int pf_migrate_start(void)
{
	if (pf_cfg.channel != PF_CHANNEL_TIERED || pf_cfg.migrate_threshold < 0 || pf_npools == 0)
		return 0;
	snprintf(pause_file, sizeof pause_file, "%s/pafka.pause", pf_cfg.first_paths.v[0]);
	tokens_at_ns = mono_ns();
	for (int i = 0; i < pf_cfg.migrate_threads; i++) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		int e = pthread_create(&t, &a, worker, NULL);
		pthread_attr_destroy(&a);
		if (e) {
			errno = e;
			return -1;
		}
		pthread_setname_np(t, "pafka-migrate");
	}
	return 0;
}

void pf_migrate_pause(int p)
{
	__atomic_store_n(&forced_pause, p, __ATOMIC_RELAXED);
}

void pf_migrate_stats(struct pf_migrate_stats *out)
{
	pthread_mutex_lock(&mig_lock);
	*out = stats;
	out->paused = paused();
	pthread_mutex_unlock(&mig_lock);
}

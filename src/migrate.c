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
#include <sys/mman.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "policy.h"
#include "real.h"
#include "sys.h"
#include "shim.h"

#define TICK_MS 200
#define PROMOTE_SETTLE_MS 1000
#define MIN64(a, b) ((a) < (b) ? (a) : (b))

static pthread_mutex_t mig_lock = PTHREAD_MUTEX_INITIALIZER;
static int forced_pause;
static int workers_running;
/* Control files are looked for in every pool's directory (tools create them in each). */
static int control_exists(const char *name)
{
	for (int i = 0; i < pf_npools; i++) {
		char p[PATH_MAX];
		struct stat st;
		if (snprintf(p, sizeof p, "%s/%s", pf_cfg.first_paths.v[i], name) < (int)sizeof p &&
		    REAL(stat)(p, &st) == 0)
			return 1;
	}
	return 0;
}
/* rate limit: a token bucket shared by all threads */
static double tokens;
static int64_t tokens_at_ns;

static void throttle(void *arg, uint64_t bytes)
{
	(void)arg;
	int64_t rate = pf_cfg.migrate_rate_bytes;
	if (rate <= 0)
		return;
	for (;;) {
		pthread_mutex_lock(&mig_lock);
		int64_t now = pf_mono_ns();
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
	return control_exists(PF_PAUSE_FILE);
}

/* ---- snapshot */

struct snap {
	struct pf_file **f;
	struct pf_cand *c;
	uint64_t *dir;     /* hash of the partition directory */
	uint64_t *offset;  /* segment base offset */
	int n, cap;
	int64_t now_ms;
};

static uint64_t base_offset(const char *path)
{
	const char *b = strrchr(path, '/');
	return strtoull(b ? b + 1 : path, NULL, 10);
}

static void collect(struct pf_file *f, void *arg)
{
	struct snap *s = arg;
	if (f->unlinked)
		return;
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
		uint64_t *nd = realloc(s->dir, (size_t)cap * sizeof *nd);
		if (!nd)
			return;
		s->dir = nd;
		uint64_t *no = realloc(s->offset, (size_t)cap * sizeof *no);
		if (!no)
			return;
		s->offset = no;
		s->cap = cap;
	}
	/* files_lock is held: only try the file's lock, a file busy right now is simply skipped this round */
	if (pthread_rwlock_tryrdlock(&f->lock) != 0)
		return;
	size_t len = strlen(f->path);
	const char *slash = strrchr(f->path, '/');
	if (!len || !slash || f->pinned_real || (len > 8 && !strcmp(f->path + len - 8, ".deleted"))) {
		/* unknown path, kept on the slow tier, or about to be deleted (moving it would be wasted I/O) */
		pthread_rwlock_unlock(&f->lock);
		return;
	}
	s->dir[s->n] = pf_fnv1a(f->path, (uint64_t)(slash - f->path));
	s->offset[s->n] = base_offset(f->path);
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
	/* sealed: by idleness here, by a newer segment in the same directory after the snapshot */
	c->sealed = pf_policy_sealed(0, f->last_write_ms, s->now_ms, pf_cfg.migrate_idle_ms);
	pthread_rwlock_unlock(&f->lock);
	s->f[s->n++] = f;
}

static void mark_sealed_by_newer(struct snap *s)
{
	for (int i = 0; i < s->n; i++) {
		if (s->c[i].sealed)
			continue;
		for (int j = 0; j < s->n; j++)
			if (j != i && s->dir[j] == s->dir[i] && s->offset[j] > s->offset[i]) {
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
	pk.s.now_ms = pf_mono_ms();
	uint64_t used = 0, cap = 0;
	for (int i = 0; i < pf_npools; i++) {
		used += pf_pools[i].nblocks - pf_pool_free_blocks(&pf_pools[i]);
		cap += pf_pools[i].nblocks;
	}
	struct pf_policy pol = { pf_cfg.migrate_threshold, pf_cfg.migrate_promote };
	pf_files_foreach(pick_locked, &pk);
	mark_sealed_by_newer(&pk.s);
	uint64_t boundary = __atomic_load_n(&pf_pools[0].hdr->live.demote_boundary_ns, __ATOMIC_RELAXED);
	int which = -1;
	enum pf_move mv = pf_policy_next(&pol, pk.s.c, pk.s.n, used, cap, boundary, &which);
	if (mv == PF_MOVE_PROMOTE && pk.s.now_ms - __atomic_load_n(&pf_files_learned_ms, __ATOMIC_RELAXED) < PROMOTE_SETTLE_MS)
		mv = PF_MOVE_NONE; /* the set of files is still growing (a broker loading its logs) */
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
	free(pk.s.dir);
	free(pk.s.offset);
	*out = chosen;
	return mv;
}

int pf_migrate_step(void)
{
	if (paused() || __atomic_load_n(&pf_draining, __ATOMIC_RELAXED))
		return PF_MOVE_NONE;
	struct pf_file *f = NULL;
	enum pf_move mv = choose(&f);
	if (mv == PF_MOVE_NONE)
		return mv;
	struct pf_move_ctx ctx = { throttle, NULL, 0 };
	int64_t t0 = pf_mono_ns();
	int r;
	if (mv == PF_MOVE_DEMOTE) {
		r = pf_file_demote(f, &ctx);
	} else {
		struct pf_pool *p = pf_shim_pick_pool();
		r = p ? pf_file_promote(f, p, &ctx) : 1;
	}
	uint64_t birth = (uint64_t)f->key.btime_sec * 1000000000ULL + f->key.btime_nsec;
	if (r == 0 && mv == PF_MOVE_DEMOTE) {
		PF_STAT_ADD(demotions, 1);
		PF_STAT_ADD(bytes_demoted, ctx.bytes);
		/* kept in the pool so a restart does not promote back what was demoted */
		uint64_t *bp = &pf_pools[0].hdr->live.demote_boundary_ns;
		pthread_mutex_lock(&mig_lock);
		if (birth > *bp)
			__atomic_store_n(bp, birth, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&mig_lock);
	} else if (r == 0) {
		PF_STAT_ADD(promotions, 1);
		PF_STAT_ADD(bytes_promoted, ctx.bytes);
	} else if (r > 0) {
		PF_STAT_ADD(migration_aborts, 1);
	} else {
		PF_STAT_ADD(migration_failures, 1);
	}
	PF_STAT_ADD(migration_ns, (uint64_t)(pf_mono_ns() - t0));
	int e = errno;
	char path[PATH_MAX];
	pf_file_path(f, path, sizeof path);
	if (r < 0)
		pf_log(PF_LOG_WARN, "migration (%s) of %s failed: %s; will retry", mv == PF_MOVE_DEMOTE ? "demote" : "promote",
		       path, strerror(e));
	else if (r == 0)
		pf_log(PF_LOG_DEBUG, "%s %s (%llu bytes)", mv == PF_MOVE_DEMOTE ? "demoted" : "promoted", path,
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

/* ---- drain: every pool byte to the slow tier, while no new byte is admitted */

struct any_pool_file {
	struct pf_file *f;
};

static void find_pool_file(struct pf_file *f, void *arg)
{
	struct any_pool_file *a = arg;
	if (a->f || f->migrating || pthread_rwlock_tryrdlock(&f->lock) != 0)
		return;
	if (f->rec >= 0 && f->path[0]) {
		f->migrating = 1;
		pf_file_hold(f);
		a->f = f;
	}
	pthread_rwlock_unlock(&f->lock);
}

/* Move one file out; returns 1 if there was one. */
static int drain_step(void)
{
	struct any_pool_file a = { NULL };
	pf_files_foreach(find_pool_file, &a);
	if (!a.f)
		return 0;
	struct pf_move_ctx ctx = { throttle, NULL, 0 };
	int r = pf_file_demote(a.f, &ctx);
	if (r == 1)
		r = pf_file_materialise(a.f); /* it keeps changing (an active segment): move it under the lock */
	if (r == 0) {
		PF_STAT_ADD(demotions, 1);
		PF_STAT_ADD(bytes_demoted, ctx.bytes);
	} else {
		int e = errno;
		char path[PATH_MAX];
		pf_file_path(a.f, path, sizeof path);
		PF_STAT_ADD(migration_failures, 1);
		pf_log(PF_LOG_WARN, "drain: cannot move %s out of the pool: %s; will retry", path, strerror(e));
	}
	pf_file_release(a.f);
	return r == 0;
}

/* ---- housekeeping: heartbeat, control files, drain, backlog (one thread whenever the pool is active) */

/* Follow <pool dir>/pafka.drain: start or stop draining. */
static int poll_drain(void)
{
	int drain = control_exists(PF_DRAIN_FILE);
	if (drain != __atomic_load_n(&pf_draining, __ATOMIC_RELAXED)) {
		__atomic_store_n(&pf_draining, drain, __ATOMIC_RELAXED);
		pf_log(PF_LOG_INFO, drain ? "%s found: draining the pool to the slow tier, admitting no new data"
					  : "%s removed: the pool admits new data again",
		       PF_DRAIN_FILE);
	}
	return drain;
}

static void publish_live(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	uint64_t state = (workers_running ? PF_LIVE_MIGRATING : 0) | (paused() ? PF_LIVE_PAUSED : 0) |
			 (__atomic_load_n(&pf_draining, __ATOMIC_RELAXED) ? PF_LIVE_DRAINING : 0);
	uint64_t used = 0, cap = 0, bs = pf_pools[0].bsize;
	for (int i = 0; i < pf_npools; i++) {
		used += pf_pools[i].nblocks - pf_pool_free_blocks(&pf_pools[i]);
		cap += pf_pools[i].nblocks;
	}
	uint64_t limit = pf_cfg.migrate_threshold < 0 ? cap : (uint64_t)(pf_cfg.migrate_threshold * (double)cap);
	uint64_t backlog = (state & PF_LIVE_DRAINING) ? used * bs : used > limit && workers_running ? (used - limit) * bs : 0;
	for (int i = 0; i < pf_npools; i++) {
		struct pf_pool_live *l = &pf_pools[i].hdr->live;
		__atomic_store_n(&l->heartbeat_ms, now, __ATOMIC_RELAXED);
		__atomic_store_n(&l->state, state, __ATOMIC_RELAXED);
		__atomic_store_n(&l->backlog_bytes, i == 0 ? backlog : 0, __ATOMIC_RELAXED);
	}
}

/* Fault the pools' pages in once, in the background, so first writes do not pay for page faults
 * (the space is already reserved; this only builds page tables). */
static void prefault_pools(void)
{
#ifdef MADV_POPULATE_WRITE
	for (int i = 0; i < pf_npools; i++) {
		char *p = pf_pools[i].data;
		uint64_t left = pf_pools[i].nblocks << pf_pools[i].bshift, chunk = 64ULL << 20;
		for (; left; p += MIN64(chunk, left), left -= MIN64(chunk, left))
			if (madvise(p, MIN64(chunk, left), MADV_POPULATE_WRITE) < 0)
				break; /* older kernel: first use faults them in, as without this */
	}
#endif
}

static void *housekeeper(void *arg)
{
	(void)arg;
	prefault_pools();
	for (;;) {
		int drain = poll_drain();
		publish_live();
		if (drain && drain_step())
			continue;
		struct timespec ts = { 0, TICK_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int start_thread(void *(*fn)(void *), const char *name)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int e = pthread_create(&t, &a, fn, NULL);
	pthread_attr_destroy(&a);
	if (e) {
		errno = e;
		return -1;
	}
	pthread_setname_np(t, name);
	return 0;
}

int pf_migrate_start(void)
{
	if (pf_npools == 0)
		return 0;
	poll_drain(); /* before any byte is written: a broker started during a drain admits nothing */
	tokens_at_ns = pf_mono_ns();
	if (pf_cfg.channel == PF_CHANNEL_TIERED && pf_cfg.migrate_threshold >= 0) {
		for (int i = 0; i < pf_cfg.migrate_threads; i++)
			if (start_thread(worker, "pafka-migrate") < 0)
				return -1;
		workers_running = 1;
	}
	publish_live();
	return start_thread(housekeeper, "pafka-house");
}

void pf_migrate_pause(int p)
{
	__atomic_store_n(&forced_pause, p, __ATOMIC_RELAXED);
}

/*
 * view.c - a read-only view of a pool and its records resolved to files, and a pool's identity and use
 * as reports give them (see view.h).
 *
 * Owns: struct cli_view, struct cli_views, struct cli_pool_use. May call: pool.h (read-only mappings),
 * marker.h (uuids), setup.c (cli_views_open loads the configuration), scan.c, output.c (messages), json.c.
 */
#define _GNU_SOURCE
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "marker.h"
#include "pafka.h"

/* Does another open file description hold the writer lock of the pool open at fd? 1, 0, or -1 (errno). */
static int lock_held(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -1;
	return fl.l_type != F_UNLCK;
}

int cli_pool_locked(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, PAFKA_POOL_FILE);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = lock_held(fd);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

int cli_view_open(struct cli *c, int i, struct cli_view *v)
{
	memset(v, 0, sizeof *v);
	v->index = i;
	v->dir = c->pools[i];
	struct pf_err err = { "" };
	if (pf_pool_open(&v->pool, i, v->dir, 0, 1, 4096, PF_POOL_RDONLY, &err) < 0) {
		if (!strncmp(err.msg, "no pool at ", 11))
			cli_err(c, "%s: check --pool / storage.tiers.first.paths, or create one with 'pafka pool create'", err.msg);
		else
			cli_err(c, "%s", err.msg);
		return -1;
	}
	v->open = 1;
	v->locked = lock_held(v->pool.fd) == 1;
	v->writer_pid = __atomic_load_n(&v->pool.hdr->live.writer_pid, __ATOMIC_ACQUIRE);
	v->pid_alive = v->writer_pid > 0 && v->writer_pid < (uint64_t)INT32_MAX &&
		       (kill((pid_t)v->writer_pid, 0) == 0 || errno == EPERM);
	return 0;
}

int cli_rec_fill(struct cli_rec *cr, const struct pf_pool *p, uint32_t r)
{
	memset(cr, 0, sizeof *cr);
	cr->idx = r;
	int d = pf_pool_rec_decode(p, r, &cr->r);
	cr->broken = d > 0;
	int hint = d < 0 ? -1 : pf_pool_rec_path_at(p, r, cr->hint);
	if (hint < 0)
		cr->hint[0] = '\0';
	cr->hint_bad = hint < 0;
	cr->hint_ok = hint > 0;
	return d;
}

/* Does the hint name path? A hint that does not start with '/' is the tail of a path too long for the
 * record. */
static int hint_names(const char *hint, const char *path)
{
	if (!strcmp(hint, path))
		return 1;
	size_t h = strlen(hint), n = strlen(path);
	return hint[0] != '/' && h > 0 && n > h && !strcmp(path + n - h, hint);
}

void cli_resolve(struct cli_rec *cr, struct cli_scan *s)
{
	const struct pf_rec_view *r = &cr->r;
	cr->found = CLI_MISSING;
	cr->file = NULL;
	cr->hint_other = 0;
	struct cli_file *f = s ? cli_scan_find(s, r->ino, r->btime_sec, (uint32_t)r->btime_nsec) : NULL;
	if (f) {
		cr->file = f;
		cr->found = cr->hint_ok && hint_names(cr->hint, f->path) ? CLI_FOUND_HINT : CLI_FOUND_SEARCH;
	}
	if (cr->hint_ok && cr->hint[0] == '/' && cr->found != CLI_FOUND_HINT) {
		struct cli_file h;
		memset(&h, 0, sizeof h);
		if (cli_stat_file(cr->hint, &h) == 0) {
			if (h.has_btime && h.ino == r->ino && h.btime_sec == r->btime_sec && h.btime_nsec == r->btime_nsec) {
				if (!f) { /* outside the scanned dirs */
					cr->own = h;
					cr->own.path = cr->hint;
					cr->own.pool = -1;
					cr->own.rec = -1;
					cr->own.slot = -1;
					cr->file = &cr->own;
					cr->found = CLI_FOUND_HINT;
				}
			} else {
				cr->hint_other = 1;
			}
		}
	}
	cr->size_known = cr->file != NULL;
	cr->size = cr->file ? cr->file->size : r->size_hint;
}

int64_t cli_rec_phys(const struct cli_rec *cr, uint64_t i)
{
	size_t lo = 0, hi = cr->nblk;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cr->blk[mid].idx < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < cr->nblk && cr->blk[lo].idx == i ? (int64_t)cr->blk[lo].phys : -1;
}

static int by_idx(const void *a, const void *b)
{
	const struct cli_blk *x = a, *y = b;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

int cli_view_build(struct cli_view *v, struct cli_scan *s)
{
	struct pf_pool *p = &v->pool;
	int fmt2 = pf_pool_format(p) == 2;
	v->format = fmt2 ? 2 : 1;
	/* nrecords and nblocks are bounded by the checked geometry: these allocations are too. */
	int64_t *slot = malloc(p->nrecords * sizeof *slot); /* record index -> index in v->recs, -1 */
	struct cli_rec *all = NULL;
	uint64_t *entries = malloc(p->nblocks * sizeof *entries);
	if (!slot || !entries)
		goto oom;
	size_t nlive = 0;
	for (uint64_t r = 0; r < p->nrecords; r++) {
		slot[r] = -1;
		uint64_t st = pf_pool_rec_state(p, (uint32_t)r);
		if (st == PF_REC_FREE || st == PF_REC_DYING)
			continue;
		slot[r] = (int64_t)nlive++; /* LIVE or damaged: decided below */
	}
	all = calloc(nlive ? nlive : 1, sizeof *all);
	if (!all)
		goto oom;
	v->recs = all;
	v->nrecs = 0;
	for (uint64_t r = 0; r < p->nrecords; r++) {
		if (slot[r] < 0)
			continue;
		struct cli_rec cr;
		int d = cli_rec_fill(&cr, p, (uint32_t)r);
		if (d < 0) {
			v->bad_records++;
			slot[r] = -1;
		} else if (cr.r.state == PF_REC_FREE || (d == 0 && cr.r.state != PF_REC_LIVE) ||
			   (d > 0 && cr.r.state == PF_REC_DYING)) {
			slot[r] = -1; /* changed since the first pass, or being freed */
		} else {
			v->broken_records += d > 0;
			slot[r] = (int64_t)v->nrecs;
			v->recs[v->nrecs++] = cr;
		}
	}
	for (uint64_t b = 0; b < p->nblocks; b++)
		entries[b] = __atomic_load_n(&p->blocks[b], __ATOMIC_ACQUIRE);
	/* Pass 1: count each record's blocks; pass 2: place them. At most one cli_blk per pool block. */
	uint64_t total = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t b = 0; b < p->nblocks; b++) {
			uint32_t r, i;
			enum pf_entry_fault f;
			enum pf_entry_kind k = pf_entry_decode(p->salt, fmt2, p->nrecords, b, entries[b], &r, &i, &f);
			if (k == PF_ENT_FREE)
				continue;
			if (pass == 0)
				v->used_blocks++;
			if (k == PF_ENT_CORRUPT) {
				v->bad_entries += pass == 0;
				continue;
			}
			if (k != PF_ENT_OWNED || slot[r] < 0 || i >= PF_MAX_FILE_BLOCKS)
				continue;
			struct cli_rec *cr = &v->recs[slot[r]];
			if (!cr->broken && (cr->r.lo == PF_HI_NONE || i < cr->r.lo || i >= cr->r.hi))
				continue;
			if (pass == 0) {
				cr->nblk++;
				total++;
			} else {
				cr->blk[cr->nblocks++] = (struct cli_blk){ i, (uint32_t)b };
			}
		}
		if (pass == 0) {
			v->blk = malloc((total ? total : 1) * sizeof *v->blk);
			if (!v->blk)
				goto oom;
			struct cli_blk *next = v->blk;
			for (size_t k = 0; k < v->nrecs; k++) {
				v->recs[k].blk = next;
				next += v->recs[k].nblk;
			}
		}
	}
	free(entries);
	free(slot);
	entries = NULL;
	slot = NULL;
	for (size_t k = 0; k < v->nrecs; k++) {
		struct cli_rec *cr = &v->recs[k];
		/* by index, one block per index (a duplicate is fsck's to report) */
		qsort(cr->blk, cr->nblk, sizeof *cr->blk, by_idx);
		size_t n = 0;
		for (size_t j = 0; j < cr->nblk; j++)
			if (n == 0 || cr->blk[j].idx != cr->blk[n - 1].idx)
				cr->blk[n++] = cr->blk[j];
		cr->nblk = n;
		cr->nblocks = n;
		cr->maplen = n ? (uint64_t)cr->blk[n - 1].idx + 1 : 0;
		if (!cr->broken)
			v->window_blocks += n;
		cli_resolve(cr, s);
		if (cr->file && cr->file != &cr->own) {
			cr->file->pool = v->index;
			cr->file->rec = cr->idx;
			cr->file->slot = (int64_t)k;
		}
		/* A missing file's size is only the record's hint; without one, count whole blocks. */
		uint64_t size = cr->size_known || cr->size ? cr->size : UINT64_MAX;
		for (size_t j = 0; j < cr->nblk; j++) {
			uint64_t start = (uint64_t)cr->blk[j].idx * p->bsize;
			if (start >= size) {
				if (cr->size_known)
					cr->past_eof++;
				continue;
			}
			cr->pool_bytes += size - start < p->bsize ? size - start : p->bsize;
		}
		if (size != UINT64_MAX && !cr->broken) {
			uint64_t lo = cr->r.lo == PF_HI_NONE || cr->r.lo > size / p->bsize ? size : cr->r.lo * p->bsize;
			uint64_t hi = cr->r.hi == PF_HI_NONE || cr->r.hi > size / p->bsize ? size : cr->r.hi * p->bsize;
			cr->slow_bytes = (lo < size ? lo : size) + (hi < size ? size - hi : 0);
		}
		v->pool_bytes += cr->pool_bytes;
	}
	return 0;
oom:
	free(entries);
	free(slot);
	return -1;
}

const char *cli_tier(const struct cli_rec *cr, uint64_t size, uint64_t *pool_bytes, uint64_t *slow_bytes)
{
	if (cr && cr->broken) {
		if (pool_bytes)
			*pool_bytes = cr->pool_bytes;
		if (slow_bytes)
			*slow_bytes = 0;
		return "damaged";
	}
	uint64_t pb = cr ? cr->pool_bytes : 0, sb = cr ? cr->slow_bytes : size;
	if (pool_bytes)
		*pool_bytes = pb;
	if (slow_bytes)
		*slow_bytes = sb;
	if (pb && sb)
		return "mixed";
	if (pb || (cr && !sb))
		return "pool";
	return "slow";
}

void cli_view_close(struct cli_view *v)
{
	free(v->blk);
	v->blk = NULL;
	free(v->recs);
	v->recs = NULL;
	v->nrecs = 0;
	if (v->open)
		pf_pool_close(&v->pool);
	v->open = 0;
}

int cli_views_open(struct cli *c, struct cli_views *vs)
{
	memset(vs, 0, sizeof *vs);
	/* the configuration is loaded once per command: the watch (watch.c) opens the views every refresh */
	if ((!c->cfg_loaded && cli_setup(c, 1) < 0) || cli_scan(c, &vs->scan) < 0)
		return -1;
	if (!(vs->v = calloc((size_t)c->npools, sizeof *vs->v))) {
		cli_err(c, "out of memory");
		return -1;
	}
	for (; vs->n < c->npools; vs->n++) {
		if (cli_view_open(c, vs->n, &vs->v[vs->n]) < 0)
			return -1;
		struct cli_view *v = &vs->v[vs->n];
		if (cli_view_build(v, &vs->scan) < 0) {
			vs->n++;
			cli_err(c, "out of memory");
			return -1;
		}
		if (v->broken_records || v->bad_records || v->bad_entries) {
			vs->damaged = 1;
			cli_err(c, "%s: %llu records and %llu block entries fail their integrity checks (%llu files refused by "
				   "the shim): run 'pafka fsck'",
				v->pool.path, (unsigned long long)(v->broken_records + v->bad_records),
				(unsigned long long)v->bad_entries, (unsigned long long)v->broken_records);
		}
	}
	return 0;
}

void cli_views_close(struct cli_views *vs)
{
	for (int i = 0; i < vs->n; i++)
		cli_view_close(&vs->v[i]);
	free(vs->v);
	cli_scan_free(&vs->scan);
	memset(vs, 0, sizeof *vs);
}

void cli_pool_use(struct cli_pool_use *u, const char *dir, const struct pf_pool *p, const struct cli_view *v)
{
	uint64_t live, used;
	if (v) {
		live = v->nrecs;
		used = v->used_blocks;
	} else {
		pf_pool_usage(p, &live, &used);
	}
	u->dir = dir;
	snprintf(u->path, sizeof u->path, "%s", p->path);
	pf_uuid_str(p->hdr->uuid, u->uuid);
	u->block_size = p->bsize;
	u->capacity_blocks = p->nblocks;
	u->used_blocks = used;
	u->files = live;
}

void cli_json_pool_use(struct json *j, const struct cli_pool_use *u)
{
	uint64_t bs = u->block_size, nb = u->capacity_blocks, used = u->used_blocks;
	json_str(j, "dir", u->dir);
	if (!u->path[0])
		return;
	json_str(j, "path", u->path);
	json_str(j, "uuid", u->uuid);
	json_u64(j, "block_size", bs);
	json_u64(j, "capacity_bytes", nb * bs);
	json_u64(j, "used_bytes", used * bs);
	json_u64(j, "free_bytes", (nb - used) * bs);
	json_u64(j, "capacity_blocks", nb);
	json_u64(j, "used_blocks", used);
	json_u64(j, "free_blocks", nb - used);
	json_u64(j, "files", u->files);
}

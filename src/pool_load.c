/*
 * pool_load.c - recovery of a pool at activation (pool.h: pf_pool_load): every record and block-table entry
 * checked, half-done frees finished, reserved or stale blocks freed, the free lists built, each live record
 * handed to the caller; a file whose metadata fails its checks is handed over as broken, and anything the
 * protocol cannot produce stops the process with one line.
 *
 * Owns: nothing beyond the call. May call: pool_impl.h (pool.c's words, records and allocator), pool_format.h,
 * fault.h, log.h, sys.h.
 */
#define _GNU_SOURCE
#include "pool_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "log.h"
#include "sys.h"

#define ERR(...) pf_err_set(err, __VA_ARGS__)

/* ---------------------------------------------------------------- recovery */

enum { K_FREE, K_SKIP, K_LIVE, K_DYING, K_BROKEN };

struct rinfo {
	uint64_t lo, hi;
	uint64_t maxidx; /* 1 + highest block index delivered */
	uint32_t bad;    /* PF_RW_* of a broken record */
	uint8_t kind;
	uint8_t far;     /* read-only, format 1: a block index beyond PF_MAX_FILE_BLOCKS */
};

static const char *entry_fault_str(enum pf_entry_fault f)
{
	switch (f) {
	case PF_EF_CHECK:
		return "fails its integrity check (a flipped bit, or an entry moved or swapped), so no file can be "
		       "named for it";
	case PF_EF_FORMAT1:
		return "is in no format this pool uses";
	default:
		return "names no record of the table";
	}
}

int pf_pool_load(struct pf_pool *p, pf_pool_rec_cb cb, void *arg, struct pf_err *err)
{
	const char *fix = "run 'pafka fsck' on it; libpafka will not guess with segment data at stake";
	if (!p->readonly && pf_pool_upgrade(p, err) < 0)
		return -1;
	int fmt2 = pf_pool_format(p) == 2;
	struct rinfo *ri = calloc(p->nrecords, sizeof *ri); /* nrecords <= PF_MAX_RECORDS: checked at open */
	p->free_recs = malloc(p->nrecords * sizeof *p->free_recs);
	if (!ri || !p->free_recs) {
		free(ri);
		return ERR("out of memory loading pool %s", p->path);
	}
	int rc = 0;
	char why[160];
	/* Records: classify; a writer stops at one whose file cannot be known. */
	for (uint64_t r = 0; r < p->nrecords && rc == 0; r++) {
		struct pf_rec_view v;
		int d = pf_pool_rec_decode(p, (uint32_t)r, &v);
		ri[r].lo = v.lo;
		ri[r].hi = v.hi;
		ri[r].bad = v.bad;
		if (d == 0)
			ri[r].kind = v.state == PF_REC_FREE ? K_FREE : v.state == PF_REC_LIVE ? K_LIVE : K_DYING;
		else if (d > 0)
			ri[r].kind = v.state == PF_REC_DYING ? K_DYING : K_BROKEN; /* a dying one is freed whole anyway */
		else if (p->readonly)
			ri[r].kind = K_SKIP; /* the writer may be reusing it under us: not ours to judge */
		else if (v.format == 1)
			rc = ERR("%s: record %llu has invalid state %llu: %s", p->path, (unsigned long long)r,
				 (unsigned long long)pool_ld64((const uint64_t *)&p->recs[r]), fix);
		else
			rc = ERR("%s: record %llu is corrupt: its %s, so its file cannot be known: %s", p->path,
				 (unsigned long long)r, pf_rec_bad_str(v.bad, why, sizeof why), fix);
	}
	/* Blocks: free reserved ones, those of dying records and stale ones outside [lo, hi); keep every block
	 * of a broken record; stop at one whose owner cannot be known. */
	uint64_t used = 0;
	for (uint64_t b = 0; b < p->nblocks && rc == 0; b++) {
		uint64_t e = __atomic_load_n(&p->blocks[b], __ATOMIC_ACQUIRE);
		uint32_t r, i;
		enum pf_entry_fault f;
		enum pf_entry_kind k = pf_entry_decode(p->salt, fmt2, p->nrecords, b, e, &r, &i, &f);
		if (k == PF_ENT_FREE)
			continue;
		if (k == PF_ENT_RESERVED) {
			pool_store64(p, &p->blocks[b], PF_BLOCK_FREE);
			continue;
		}
		if (k == PF_ENT_CORRUPT) {
			if (f == PF_EF_RECORD && !p->readonly)
				rc = ERR("%s: block %llu belongs to record %llu, which is not in use: %s", p->path,
					 (unsigned long long)b, (unsigned long long)r, fix);
			else if (f != PF_EF_RECORD)
				rc = ERR("%s: the entry of block %llu (%#llx) %s: %s", p->path, (unsigned long long)b,
					 (unsigned long long)e, entry_fault_str(f), fix);
			continue;
		}
		struct rinfo *x = &ri[r];
		if (x->kind == K_FREE || x->kind == K_SKIP) {
			if (!p->readonly)
				rc = ERR("%s: block %llu belongs to record %llu, which is not in use: %s", p->path,
					 (unsigned long long)b, (unsigned long long)r, fix);
			continue;
		}
		if (x->kind == K_DYING) {
			pool_store64(p, &p->blocks[b], PF_BLOCK_FREE);
			continue;
		}
		if (i >= PF_MAX_FILE_BLOCKS) { /* only a format-1 entry, read-only: refuse the file */
			x->far = 1;
			continue;
		}
		if (x->kind == K_LIVE && (x->lo == PF_HI_NONE || i < x->lo || i >= x->hi)) {
			pool_store64(p, &p->blocks[b], PF_BLOCK_FREE);
			continue;
		}
		if (i + 1 > x->maxidx)
			x->maxidx = i + 1;
		used++;
	}
	for (uint64_t r = 0; r < p->nrecords && rc == 0; r++)
		if (ri[r].kind == K_DYING)
			pool_store64(p, &p->recs[r].state_w, PF_REC_FREE);
	uint32_t **maps = rc == 0 ? calloc(p->nrecords, sizeof *maps) : NULL;
	if (rc == 0 && !maps)
		rc = ERR("out of memory loading pool %s", p->path);
	/* maxidx <= PF_MAX_FILE_BLOCKS: at most 512 MiB per record, from a checked entry */
	for (uint64_t r = 0; r < p->nrecords && rc == 0; r++)
		if ((ri[r].kind == K_LIVE || ri[r].kind == K_BROKEN) && ri[r].maxidx &&
		    !(maps[r] = calloc(ri[r].maxidx, sizeof **maps)))
			rc = ERR("out of memory loading pool %s", p->path);
	for (uint64_t b = 0; b < p->nblocks && rc == 0; b++) {
		uint64_t e = __atomic_load_n(&p->blocks[b], __ATOMIC_ACQUIRE);
		uint32_t r, i;
		enum pf_entry_fault f;
		if (pf_entry_decode(p->salt, fmt2, p->nrecords, b, e, &r, &i, &f) != PF_ENT_OWNED)
			continue; /* only possible read-only: changed since the first pass */
		struct rinfo *x = &ri[r];
		if (!maps[r] || i >= x->maxidx)
			continue;
		if (p->readonly && x->kind == K_LIVE && (pool_state_of(p, r) != PF_REC_LIVE || i < x->lo || i >= x->hi))
			continue;
		if (maps[r][i] && p->readonly)
			continue;
		if (maps[r][i])
			rc = ERR("%s: blocks %u and %llu both hold block %llu of record %llu: %s", p->path, maps[r][i] - 1,
				 (unsigned long long)b, (unsigned long long)i, (unsigned long long)r, fix);
		else
			maps[r][i] = (uint32_t)b + 1;
	}
	p->nfree = p->nblocks - used;
	p->nfree_recs = 0;
	for (uint64_t r = p->nrecords; r-- > 0;)
		if (ri[r].kind == K_FREE || ri[r].kind == K_DYING)
			p->free_recs[p->nfree_recs++] = (uint32_t)r;
	for (uint64_t r = 0; maps && r < p->nrecords; r++) {
		int broken = ri[r].kind == K_BROKEN || ri[r].far;
		if (rc != 0 || (ri[r].kind != K_LIVE && ri[r].kind != K_BROKEN)) {
			free(maps[r]);
			continue;
		}
		if (ri[r].far)
			snprintf(why, sizeof why, "blocks lie beyond block %llu, which this release cannot address (pool format 1)",
				 (unsigned long long)PF_MAX_FILE_BLOCKS);
		else if (broken)
			pf_rec_bad_str(ri[r].bad, why, sizeof why);
		if (cb(arg, p, (uint32_t)r, maps[r], ri[r].maxidx, broken, broken ? why : NULL) != 0) /* cb owns maps[r] */
			rc = ERR("%s: cannot load record %llu (see the message above)", p->path, (unsigned long long)r);
	}
	free(maps);
	free(ri);
	if (rc == 0 && !p->readonly && pf_pool_sync_meta(p) < 0)
		rc = ERR("cannot sync pool %s: %s", p->path, strerror(errno));
	return rc;
}


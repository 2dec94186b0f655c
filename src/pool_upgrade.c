/*
 * pool_upgrade.c - a format-1 pool brought to format 2 in place, record by record, each one redone after a
 * crash from the copy it keeps (see pool_format.h), before the pool is loaded (pool.h: pf_pool_upgrade,
 * pf_pool_upgrade_check).
 *
 * Owns: nothing beyond the call. May call: pool_impl.h (pool.c's words and records), pool_format.h,
 * fault.h, log.h, sys.h, libpmem.
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

/* ---------------------------------------------------------------- upgrade from format 1 */

/* The format-2 form n of format-1 record o (index r). Returns 0, or -1 with one line in err when it cannot
 * be converted. */
static int v1_to_v2(const struct pf_pool *p, uint32_t r, const struct pf_pool_record_v1 *o, struct pf_pool_record *n,
		    struct pf_err *err)
{
	const char *fix = "run 'pafka fsck' with the release that wrote the pool; libpafka will not guess with segment "
			  "data at stake";
	memset(n, 0, sizeof *n);
	if (o->state != PF_REC_LIVE && o->state != PF_REC_DYING)
		return ERR("%s: record %u has invalid state %llu: %s", p->path, r, (unsigned long long)o->state, fix);
	uint64_t lo = o->lo, hi = o->hi;
	if (lo != PF_HI_NONE && lo >= PF_WORD32_NONE)
		return ERR("%s: record %u (inode %llu) starts its window at block %llu, beyond what pool format 2 holds: "
			   "drain the pool with the release that wrote it ('pafka drain --offline'), then start again",
			   p->path, r, (unsigned long long)o->ino, (unsigned long long)lo);
	if (hi != PF_HI_NONE && hi >= PF_WORD32_NONE)
		hi = PF_WORD32_NONE - 1; /* as pf_pool_rec_set_hi: no entry can be that high (checked first) */
	if (o->flags > UINT32_MAX)
		return ERR("%s: record %u has unknown flags %#llx: %s", p->path, r, (unsigned long long)o->flags, fix);
	n->ino = o->ino;
	n->btime_sec = o->btime_sec;
	n->btime_nsec = o->btime_nsec;
	n->seq = o->seq;
	n->ident_sum = pf_rec_ident(p->salt, r, n->ino, n->btime_sec, n->btime_nsec, n->seq, 0, 0, n->handle);
	n->lo_w = pf_rec_word32(p->salt, r, n->seq, PF_CK_LO, pf_win32(lo));
	n->hi_w = pf_rec_word32(p->salt, r, n->seq, PF_CK_HI, pf_win32(hi));
	n->flags_w = pf_rec_word32(p->salt, r, n->seq, PF_CK_FLAGS, (uint32_t)o->flags);
	n->size_w = 0;
	n->size_hint = o->size_hint;
	/* The path hint, its tail if longer than format 2 holds; a damaged one stays damaged. */
	uint32_t len = o->path_len;
	if (len <= PF_PATH_MAX_REC && o->path_sum == pf_fnv1a(o->path, len)) {
		const char *src = o->path;
		if (len > PF_REC2_PATH_CAP)
			src += len - PF_REC2_PATH_CAP, len = PF_REC2_PATH_CAP;
		memcpy(n->path, src, len);
		n->path_len = len;
		n->path_sum = pf_fnv1a(n->path, len);
	} else {
		n->path_len = 0;
		n->path_sum = 0;
	}
	n->state_w = pf_rec_word32(p->salt, r, n->seq, PF_CK_STATE, (uint32_t)o->state);
	return 0;
}

static int persist(const struct pf_pool *p, const void *addr, size_t len, struct pf_err *err)
{
	if (pf_pool_sync(p, addr, len) < 0)
		return ERR("cannot sync pool %s while upgrading it: %s", p->path, strerror(errno));
	return 0;
}

/* Write the format-2 form of the format-1 record in the upgrade's copy over record r, then mark it done. */
static int upgrade_redo(struct pf_pool *p, uint32_t r, struct pf_err *err)
{
	struct pf_pool_record_v1 o;
	struct pf_pool_record n;
	uint64_t w[NWORDS];
	pool_load_words(p->hdr->upgrade_rec, w);
	memcpy(&o, w, sizeof o);
	if (v1_to_v2(p, r, &o, &n, err) < 0)
		return -1;
	uint64_t *dst = (uint64_t *)&p->recs[r], *src = (uint64_t *)&n;
	for (int k = NWORDS - 1; k >= 0; k--) /* the state word last */
		pool_put64(&dst[k], src[k]);
	if (persist(p, dst, PF_RECORD_SIZE, err) < 0)
		return -1;
	PF_FAULT("pool.upgrade.record");
	__atomic_store_n(&p->hdr->upgrade, 2 * ((uint64_t)r + 1) + 1, __ATOMIC_RELEASE);
	if (persist(p, &p->hdr->upgrade, 8, err) < 0)
		return -1;
	PF_FAULT("pool.upgrade.done");
	return 0;
}

/* Is block index i of the (already converted or format-1) record r reachable, i.e. inside a LIVE record's
 * window? */
static int reachable(const struct pf_pool *p, uint32_t r, uint64_t i)
{
	struct pf_rec_view v;
	if (pf_pool_rec_decode(p, r, &v) != 0 || v.state != PF_REC_LIVE)
		return v.state != PF_REC_DYING && v.state != PF_REC_FREE; /* unknown: assume so */
	return v.lo != PF_HI_NONE && i >= v.lo && i < v.hi;
}

int pf_pool_upgrade_check(const struct pf_pool *p, struct pf_err *err)
{
	if (pf_pool_format(p) == 2)
		return 0;
	const struct pf_pool_header *h = p->hdr;
	uint64_t u = __atomic_load_n(&h->upgrade, __ATOMIC_ACQUIRE);
	int inprog = u != 0 && !(u & 1);
	uint64_t cur = u ? u / 2 - 1 : 0; /* bounds checked with the header */
	const char *fix = "run 'pafka fsck' with the release that wrote the pool; libpafka will not guess with segment "
			  "data at stake";
	for (uint64_t r = 0; r < p->nrecords; r++) {
		uint64_t w[NWORDS];
		pool_load_words(inprog && r == cur ? h->upgrade_rec : (const uint64_t *)&p->recs[r], w);
		if (w[0] == 0 || (w[0] & PF_W_SET))
			continue; /* free, or converted already */
		struct pf_pool_record_v1 o;
		struct pf_pool_record n;
		memcpy(&o, w, sizeof o);
		if (v1_to_v2(p, (uint32_t)r, &o, &n, err) < 0)
			return -1;
	}
	if (inprog && (h->upgrade_rec[0] == 0 || (h->upgrade_rec[0] & PF_W_SET)))
		return ERR("%s: an upgrade was interrupted, but its copy of record %llu is damaged: %s", p->path,
			   (unsigned long long)cur, fix);
	for (uint64_t b = 0; b < p->nblocks; b++) {
		uint64_t e = pool_ld64(&p->blocks[b]);
		if (e == PF_BLOCK_FREE || e == PF_BLOCK_RESERVED || (e & PF_E2_OWNED) || (e >> 32) == 0)
			continue;
		uint32_t r = PF_ENTRY1_REC(e), i = PF_ENTRY1_IDX(e);
		if (r < p->nrecords && i >= PF_MAX_FILE_BLOCKS && reachable(p, r, i)) {
			char path[PF_PATH_MAX_REC + 1];
			if (pf_pool_rec_path_at(p, r, path) <= 0)
				snprintf(path, sizeof path, "(no path hint)");
			return ERR("%s: block %llu holds block %u of record %u (%s), beyond what pool format 2 addresses "
				   "(%llu blocks per file): drain the pool with the release that wrote it ('pafka drain "
				   "--offline'), then start again",
				   p->path, (unsigned long long)b, i, r, path, (unsigned long long)PF_MAX_FILE_BLOCKS);
		}
	}
	return 0;
}

int pf_pool_upgrade(struct pf_pool *p, struct pf_err *err)
{
	if (p->readonly || pf_pool_format(p) == 2)
		return 0;
	/* 1. Can everything be converted? Nothing is written until it is known. */
	if (pf_pool_upgrade_check(p, err) < 0)
		return -1;
	struct pf_pool_header *h = p->hdr;
	uint64_t u = __atomic_load_n(&h->upgrade, __ATOMIC_ACQUIRE);
	int inprog = u != 0 && !(u & 1);
	uint64_t cur = u ? u / 2 - 1 : 0;
	/* 2. Records: an interrupted one first, then every one still in format 1. */
	uint64_t nrec = 0, nent = 0;
	if (inprog) {
		if (upgrade_redo(p, (uint32_t)cur, err) < 0)
			return -1;
		nrec++;
	}
	for (uint64_t r = 0; r < p->nrecords; r++) {
		uint64_t *rec = (uint64_t *)&p->recs[r];
		uint64_t s = pool_ld64(&rec[0]);
		if (s == 0 || (s & PF_W_SET))
			continue;
		for (int k = 0; k < NWORDS; k++)
			pool_put64(&h->upgrade_rec[k], pool_ld64(&rec[k]));
		if (persist(p, h->upgrade_rec, sizeof h->upgrade_rec, err) < 0)
			return -1;
		PF_FAULT("pool.upgrade.scratch");
		__atomic_store_n(&h->upgrade, 2 * (r + 1), __ATOMIC_RELEASE);
		if (persist(p, &h->upgrade, 8, err) < 0)
			return -1;
		PF_FAULT("pool.upgrade.mark");
		if (upgrade_redo(p, (uint32_t)r, err) < 0)
			return -1;
		nrec++;
	}
	/* 3. Entries, one 8-byte store each (a converted entry has bit 63: idempotent). One that names no
	 * record in use still names no record in use (or none of the table) afterwards, with a valid check:
	 * recovery refuses it as the release that wrote it did, and fsck --discard-unowned may free it. So
	 * a format-1 entry in a format-2 pool is always damage. */
	for (uint64_t b = 0; b < p->nblocks; b++) {
		uint64_t e = pool_ld64(&p->blocks[b]);
		if (e == PF_BLOCK_FREE || e == PF_BLOCK_RESERVED || (e & PF_E2_OWNED))
			continue;
		uint64_t r1 = e >> 32;
		uint32_t r = PF_ENTRY1_REC(e), i = PF_ENTRY1_IDX(e);
		uint64_t ne;
		if (r1 == 0 || r >= p->nrecords) /* no record of the table: keep it so (index 0: never all ones) */
			ne = pf_entry2(p->salt, b, (uint32_t)((1ULL << PF_E2_REC_BITS) - 2), 0);
		else if (pool_state_of(p, r) == PF_REC_FREE) /* a free record: keep it so */
			ne = pf_entry2(p->salt, b, r, i & (PF_MAX_FILE_BLOCKS - 1));
		else if (i >= PF_MAX_FILE_BLOCKS) /* beyond format 2, unreachable (checked above): stale */
			ne = PF_BLOCK_FREE;
		else
			ne = pf_entry2(p->salt, b, r, i);
		__atomic_store_n(&p->blocks[b], ne, __ATOMIC_RELEASE);
		if (persist(p, &p->blocks[b], 8, err) < 0)
			return -1;
		PF_FAULT("pool.upgrade.entry");
		nent++;
	}
	/* 4. The commit point of the whole upgrade. */
	__atomic_store_n(&h->format, PF_FORMAT_2, __ATOMIC_RELEASE);
	if (persist(p, &h->format, 8, err) < 0)
		return -1;
	PF_FAULT("pool.upgrade.format");
	pf_log(PF_LOG_INFO, "pool %s upgraded to format 2 (%llu records, %llu blocks converted)", p->path,
	       (unsigned long long)nrec, (unsigned long long)nent);
	return 0;
}


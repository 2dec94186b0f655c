/*
 * lf_pool.c - libFuzzer target: the pool loader on arbitrary pool bytes (lf_common.h says how an input
 * becomes a pool file). Each input is opened read-only (what every CLI view does) and as the writer (which
 * upgrades a format-1 pool in place, recovers and delivers every live record), then the loaded pool is
 * used: every record decoded with its path hint, every entry decoded, a record allocated, a block
 * reserved, published and freed, the record freed.
 *
 * Besides any sanitizer report, these stop the run (each is a promise of pool.h):
 *   - a delivered block map names a block outside the pool, or names one block twice;
 *   - a record the loader delivered as LIVE and intact does not decode as intact afterwards;
 *   - the free-block count exceeds the pool's blocks;
 *   - a header that pf_pool_check_header refuses was opened anyway.
 */
#include "lf_common.h"

#include "log.h"
#include "pool.h"

static const char *dir;
static char path[512];
static uint8_t *seen; /* one byte per block: delivered in some map */
static uint64_t seen_n;

static int deliver(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen, int broken,
		   const char *why)
{
	(void)arg;
	(void)why;
	if (rec >= p->nrecords)
		lf_stop("lf_pool: record %u delivered, outside the table of %llu", rec, (unsigned long long)p->nrecords);
	for (uint64_t i = 0; i < maplen; i++) {
		if (!map[i])
			continue;
		uint64_t phys = (uint64_t)map[i] - 1;
		if (phys >= p->nblocks)
			lf_stop("lf_pool: a delivered map names block %llu, outside the pool of %llu", (unsigned long long)phys,
				(unsigned long long)p->nblocks);
		if (!broken) {
			if (seen[phys])
				lf_stop("lf_pool: two delivered maps (or one twice) name block %llu (record %u)", (unsigned long long)phys, rec);
			seen[phys] = 1;
		}
	}
	if (!broken) {
		struct pf_rec_view v;
		if (pf_pool_rec_decode(p, rec, &v) != 0 || v.state != PF_REC_LIVE)
			lf_stop("lf_pool: record %u, delivered intact, does not decode as a live intact record (state %llu)", rec,
				(unsigned long long)v.state);
	}
	free(map);
	return 0;
}

static void use(struct pf_pool *p)
{
	char hint[PF_PATH_MAX_REC + 1];
	struct pf_rec_view v;
	for (uint64_t r = 0; r < p->nrecords; r++) {
		(void)pf_pool_rec_decode(p, (uint32_t)r, &v);
		(void)pf_pool_rec_path_at(p, (uint32_t)r, hint);
		(void)pf_pool_rec_state(p, (uint32_t)r);
	}
	for (uint64_t b = 0; b < p->nblocks; b++) {
		uint32_t rec, idx;
		(void)pf_pool_entry(p, b, &rec, &idx);
	}
	uint64_t live, used;
	pf_pool_usage(p, &live, &used);
	if (pf_pool_free_blocks(p) > p->nblocks)
		lf_stop("lf_pool: %llu free blocks of %llu", (unsigned long long)pf_pool_free_blocks(p), (unsigned long long)p->nblocks);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = lf_scratch("pool");
	snprintf(path, sizeof path, "%s/" PF_POOL_FILE, dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (lf_write_pool(path, d, n) < 0)
		return 0;
	struct pf_err err = { .msg = "" };
	struct pf_pool p;
	memset(&p, 0, sizeof p);
	p.fd = -1;
	if (pf_pool_open(&p, 0, dir, -1, 0, 4096, PF_POOL_RDONLY, &err) == 0) {
		char buf[256];
		if (pf_pool_header_problem(p.hdr, p.len, buf, sizeof buf) != 0)
			lf_stop("lf_pool: a pool whose header is refused was opened (%s)", buf);
		struct pf_err uerr = { .msg = "" };
		(void)pf_pool_upgrade_check(&p, &uerr);
		use(&p);
		pf_pool_close(&p);
	}
	err.msg[0] = 0;
	memset(&p, 0, sizeof p);
	p.fd = -1;
	if (pf_pool_open(&p, 0, dir, -1, 0, 4096, PF_POOL_NOCREATE, &err) < 0)
		return 0;
	seen_n = p.nblocks;
	seen = calloc(seen_n ? seen_n : 1, 1);
	if (!seen)
		lf_stop("lf_pool: out of memory");
	if (pf_pool_load(&p, deliver, NULL, &err) == 0) {
		use(&p);
		int64_t rec = pf_pool_rec_alloc(&p, 12345, 1, 2, 0, "/lf/00000000000000000000.log");
		if (rec >= 0) {
			int64_t b = pf_pool_block_reserve(&p, 0);
			if (b >= 0) {
				if ((uint64_t)b >= p.nblocks || seen[b])
					lf_stop("lf_pool: reserved block %lld is outside the pool of %llu or belongs to a live file", (long long)b,
						(unsigned long long)p.nblocks);
				pf_pool_block_publish(&p, (uint64_t)b, (uint32_t)rec, 0);
				uint32_t m = (uint32_t)b + 1;
				pf_pool_rec_free(&p, (uint32_t)rec, &m, 1);
			} else {
				pf_pool_rec_free(&p, (uint32_t)rec, NULL, 0);
			}
		}
		use(&p);
	}
	free(seen);
	seen = NULL;
	pf_pool_close(&p);
	return 0;
}

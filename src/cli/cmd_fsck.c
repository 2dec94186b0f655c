/*
 * cmd_fsck.c - `pafka fsck [--repair]`: check each pool's metadata against the log dirs, one line per
 * finding: "pafka fsck: <pool>: <finding>". Exit 0 when clean, 1 when anything was found, 2 on usage.
 *
 * Checked: the header, by the shim's own check (pf_pool_header_problem: magic, version, checksum, a
 * geometry that fits the file); the integrity check of every record word and entry (pool format 2: a
 * broken record names a file the shim refuses; a record whose identity fails or an entry that fails its
 * check names none, and the shim refuses the pool); a format-1 pool, as the shim's upgrade would see it;
 * record states; blocks that are RESERVED, owned by a record that is free, dying, invalid or beyond the
 * table, duplicated, or outside their record's window [lo, hi); records whose file is missing, renamed
 * (stale path hint, file found by inode + birth time), or whose hint names another file (identity
 * mismatch); pool blocks past a file's size; two records for one file; the log dirs' .pafka-pools markers.
 * Tables are read only through pool_format.h's decoders, allocations sized from the checked geometry.
 *
 * --repair first upgrades a format-1 pool as the shim would (repairs write format 2), then does only what
 * cannot lose data: free RESERVED blocks, stale blocks outside a window and blocks
 * past the end of a file; finish DYING records and unfinished promotions (the real file holds those
 * bytes); refresh stale path hints; add a missing marker line; free the record of a file that is provably
 * gone from every managed log dir (log dirs configured, all readable, each one's marker naming this pool,
 * and the record's last path inside one of them). --discard-unowned also frees blocks that no record can
 * claim (owned by a free record or one beyond the table): the protocol never leaves them, no file can be
 * named for them, and the shim refuses to start while they exist. It refuses to run while a broker holds
 * the pool. Without
 * --repair, a pool in use is checked read-only and states that a running writer passes through (reserved
 * blocks, dying records, stale copies, bytes past EOF during a write) are not reported.
 *
 * Every finding goes through one function: a text line, or with --json an object of the "findings" list.
 * Progress through each pool's block table goes to stderr (progress.c); --quiet silences it.
 *
 * Owns: the checks and repairs of pool metadata, and their report. May call: opts.c, output.c, setup.c,
 * pool.h (a writable mapping for --repair), pool_format.h, view.c, scan.c, marker.h, paths.h, json.c,
 * progress.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "marker.h"
#include "pafka.h"
#include "paths.h"
#include "pool.h"
#include "progress.h"
#include "scan.h"
#include "view.h"

enum { O_REPAIR, O_DISCARD, O_PROGRESS, O_QUIET };
static const struct cli_opt opts[] = {
	[O_REPAIR] = { "repair", 0, NULL, "fix what cannot lose data (see pafka-fsck(1)); refused while a broker holds the pool" },
	[O_DISCARD] = { "discard-unowned", 0, NULL,
			"with --repair, also free blocks no record can claim (owned by a free record or one\n"
			"beyond the record table); save a copy of the pool first" },
	[O_PROGRESS] = { "progress", 0, NULL, "show progress on stderr from the start (by default: once a\n"
						"pool's check has taken a second)" },
	[O_QUIET] = { "quiet", 'q', NULL, "no progress on stderr" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_syntax syntax = {
	.usage = "usage: pafka fsck [--repair [--discard-unowned]] [--progress | -q] [--json] [--config FILE]\n"
		 "                  [--pool DIR]\n"
		 "\n"
		 "Check pool metadata against the log dirs and print one line per finding\n"
		 "(\"pafka fsck: <pool>: <finding>\"). Progress (percent of the block table, ETA) goes to stderr.\n"
		 "Exit status: 0 clean, 1 findings, 2 usage error.\n",
	.opts = opts,
	.json = 1,
};

/* The whole run: where findings go, and what each pool came to. */
struct fsck_run {
	struct cli *c;
	struct cli_scan scan;
	int repair;
	int discard;            /* --discard-unowned */
	enum cli_progress_mode progress;
	struct json j;          /* the "findings" list (writes nothing without --json) */
	int findings;
	struct pool_sum {
		char label[PATH_MAX];   /* the pool file, as findings name it */
		struct cli_pool_use use; /* after the check (use.path empty: the pool could not be read) */
		int checked;            /* the pool could be checked (else an error says why) */
		int format;             /* 1 or 2, 0 when not known */
		int online;
		int found, repaired, skipped;
	} pools[PF_MAX_PATHS];
};

/* One pool's check. */
struct fsck {
	struct fsck_run *run;
	struct cli *c;
	struct cli_scan *scan;
	int repair;
	int discard;
	int online;             /* a broker holds the pool: read-only, transient states skipped */
	struct pf_pool *p;
	const char *label;
	uint8_t uuid[16];
	int findings, repaired, skipped;
	int gone_provable;      /* freeing a record whose file is missing cannot lose data (see top) */
	const char *gone_why;   /* why not */
	const char *norepair;   /* set: --repair changes nothing in this pool, for this reason */
	struct cli_progress pr; /* through the block table */
};

/* One finding about subject (a pool file, a marker): the line "pafka fsck: SUBJECT: FINDING; ..." or an
 * object of the JSON "findings" list. safe: --repair may fix it (returns 1: the caller fixes it now); else
 * why_not says why it is left alone. */
static int vfinding(struct fsck_run *run, const char *subject, int safe, const char *why_not, const char *fmt,
		    va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	run->findings++;
	int fix = run->repair && safe;
	const char *tail = fix ? "; repaired" : safe ? "; 'pafka fsck --repair' fixes it" : "";
	const char *lead = !safe && why_not ? (run->repair ? "; not repaired: " : "; --repair leaves it: ") : "";
	cli_say(run->c, "pafka fsck: %s: %s%s%s%s", subject, msg ? msg : "(out of memory)", tail, lead,
		!safe && why_not ? why_not : "");
	json_obj(&run->j, NULL);
	json_str(&run->j, "subject", subject);
	json_str(&run->j, "finding", msg);
	json_bool(&run->j, "repairable", safe);
	json_bool(&run->j, "repaired", fix);
	json_str(&run->j, "why_not", safe ? NULL : why_not);
	json_end_obj(&run->j);
	free(msg);
	return fix;
}

__attribute__((format(printf, 5, 6))) static int finding(struct fsck_run *run, const char *subject, int safe,
							 const char *why_not, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int fix = vfinding(run, subject, safe, why_not, fmt, ap);
	va_end(ap);
	return fix;
}

/* A finding about the pool being checked. */
__attribute__((format(printf, 4, 5))) static int report(struct fsck *k, int safe, const char *why_not,
							const char *fmt, ...)
{
	if (safe && k->norepair) { /* the pool could not be brought to the format repairs write */
		safe = 0;
		why_not = k->norepair;
	}
	va_list ap;
	va_start(ap, fmt);
	int fix = vfinding(k->run, k->label, safe, why_not, fmt, ap);
	va_end(ap);
	k->findings++;
	k->repaired += fix;
	return fix;
}

/* Free a record and every block it owns, in the protocol's order (DYING, entries, FREE). */
static void free_record(struct fsck *k, uint64_t r)
{
	pf_pool_rec_free_all(k->p, (uint32_t)r);
}

/* ---- the header, read directly so a damaged one is described rather than refused */

/* Read the header of the pool file at path (as the shim opens it: no symlink). Returns 1 with *h, 0 when
 * the file is too short to hold one, -1 with errno when it cannot be opened; *size is the file's size. */
static int read_header(const char *path, struct pf_pool_header *h, long long *size)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	*size = fstat(fd, &st) == 0 ? (long long)st.st_size : 0;
	int ok = *size >= PF_HEADER_SIZE && pread(fd, h, sizeof *h, 0) == (ssize_t)sizeof *h;
	close(fd);
	return ok;
}

static int check_header(struct fsck *k, const char *path)
{
	struct pf_pool_header h;
	long long size;
	int r = read_header(path, &h, &size);
	if (r < 0) {
		if (errno == ENOENT)
			report(k, 0, NULL, "no pool file (nothing to check; 'pafka pool create' makes one)");
		else
			report(k, 0, NULL, "cannot open the pool: %s", strerror(errno));
		return -1;
	}
	const char *never = "the header describes where everything is; restore it or move the pool away";
	if (r == 0) {
		report(k, 0, never, "file too short to be a pool (%lld bytes)", size);
		return -1;
	}
	/* exactly the shim's check (pool.c), described */
	char what[256];
	int bad = pf_pool_header_problem(&h, (uint64_t)size, what, sizeof what);
	if (bad) {
		report(k, 0, bad == PF_HDR_VERSION ? "use a pafka that reads this version" : never, "%s", what);
		return -1;
	}
	memcpy(k->uuid, h.uuid, sizeof k->uuid);
	return 0;
}

/* ---- records and blocks */

struct rec_info {
	struct pf_rec_view v;   /* decoded */
	int d;                  /* pf_pool_rec_decode: 0 intact (or free), 1 broken, -1 identity fails */
	uint64_t stale;         /* blocks outside [lo, hi) */
	uint64_t owned;         /* blocks of a record that is not LIVE, or is damaged */
	uint64_t first_block;   /* one of them, for the message */
};

/* A block held by a record, for finding two blocks that hold one block of a file. */
struct held {
	uint32_t rec, idx, phys;
};

static int by_rec_idx(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	if (x->rec != y->rec)
		return x->rec < y->rec ? -1 : 1;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

/* The state a record is in, for the block checks. */
enum { R_FREE, R_LIVE, R_DYING, R_BROKEN, R_BAD };
static int rec_kind(const struct rec_info *x)
{
	if (x->d < 0)
		return R_BAD;
	if (x->v.state == PF_REC_FREE)
		return R_FREE;
	if (x->v.state == PF_REC_DYING)
		return R_DYING;
	return x->d > 0 ? R_BROKEN : R_LIVE;
}

static const char *damaged = "the record is damaged; its bytes may be a segment's only copy";

static int check_tables(struct fsck *k)
{
	struct pf_pool *p = k->p;
	int fmt2 = pf_pool_format(p) == 2;
	/* sized from the checked geometry only */
	struct rec_info *ri = calloc(p->nrecords, sizeof *ri);
	struct held *held = malloc((p->nblocks ? p->nblocks : 1) * sizeof *held);
	if (!ri || !held) {
		free(ri);
		free(held);
		return -1;
	}
	size_t nheld = 0;
	for (uint64_t r = 0; r < p->nrecords; r++)
		ri[r].d = pf_pool_rec_decode(p, (uint32_t)r, &ri[r].v);
	uint64_t reserved = 0, beyond = 0;
	const char *unowned = "no record says which file it belongs to (--discard-unowned frees it)";
	const char *unknown = "no file can be named for it, and it may hold a segment's only copy of a block: restore "
			      "the pool from a copy, or copy the block out by hand";
	/* blocks: classify against their owner */
	for (uint64_t b = 0; b < p->nblocks; b++) {
		if (!(b & 4095))
			cli_progress_update(&k->pr, b * p->bsize);
		uint64_t e = __atomic_load_n(&p->blocks[b], __ATOMIC_ACQUIRE);
		uint32_t r, i;
		enum pf_entry_fault f;
		enum pf_entry_kind kind = pf_entry_decode(p->salt, fmt2, p->nrecords, b, e, &r, &i, &f);
		if (kind == PF_ENT_FREE)
			continue;
		if (kind == PF_ENT_RESERVED) {
			reserved++;
			continue;
		}
		if (kind == PF_ENT_CORRUPT && f == PF_EF_CHECK) {
			report(k, 0, unknown,
			       "block %llu: its entry %#llx fails its integrity check (it reads as block %u of record %u): a "
			       "flipped bit, or an entry moved or swapped; the shim refuses the pool",
			       (unsigned long long)b, (unsigned long long)e, i, r);
			continue;
		}
		if (kind == PF_ENT_CORRUPT && f == PF_EF_RECORD) {
			if (!beyond++)
				report(k, k->discard, unowned, "block %llu names record %llu, beyond the record table (%llu records)",
				       (unsigned long long)b, (unsigned long long)r, (unsigned long long)p->nrecords);
			if (k->repair && k->discard && !k->norepair)
				pf_pool_block_free(p, b);
			continue;
		}
		if (kind == PF_ENT_CORRUPT) { /* a format-1 entry in a format-2 pool: the upgrade leaves none */
			report(k, 0, unknown,
			       "block %llu: its entry %#llx is in no format this pool uses (it reads as block %u of record %u in "
			       "format 1): a flipped bit; the shim refuses the pool",
			       (unsigned long long)b, (unsigned long long)e, i, r);
			continue;
		}
		struct rec_info *x = &ri[r];
		int rk = rec_kind(x);
		if (rk != R_LIVE) {
			if (!x->owned++)
				x->first_block = b;
			if (rk == R_BROKEN && i < PF_MAX_FILE_BLOCKS)
				held[nheld++] = (struct held){ r, i, (uint32_t)b };
		} else if (x->v.lo == PF_HI_NONE) {
			x->stale++; /* an unfinished promotion: handled with its record */
		} else if (i < x->v.lo || i >= x->v.hi) {
			if (!x->stale++)
				x->first_block = b;
		} else {
			held[nheld++] = (struct held){ r, i, (uint32_t)b };
		}
	}
	if (beyond > 1)
		report(k, k->discard, "no record says which file they belong to (--discard-unowned frees them)",
		       "%llu blocks name records beyond the table", (unsigned long long)beyond);
	if (reserved) {
		if (k->online)
			k->skipped++;
		else if (report(k, 1, NULL, "%llu blocks are RESERVED (taken for a write that never completed)",
				(unsigned long long)reserved))
			for (uint64_t b = 0; b < p->nblocks; b++)
				if (__atomic_load_n(&p->blocks[b], __ATOMIC_ACQUIRE) == PF_BLOCK_RESERVED)
					pf_pool_block_free(p, b);
	}
	/* records */
	char why[160];
	for (uint64_t r = 0; r < p->nrecords; r++) {
		struct rec_info *x = &ri[r];
		const struct pf_rec_view *v = &x->v;
		int rk = rec_kind(x);
		if (rk == R_FREE && x->owned) {
			if (report(k, k->discard,
				   "a free record names no file, and the shim refuses the pool until they are gone: save a "
				   "copy of the pool, then 'pafka fsck --repair --discard-unowned' frees them",
				   "record %llu is free but owns %llu blocks (block %llu, ...)", (unsigned long long)r,
				   (unsigned long long)x->owned, (unsigned long long)x->first_block))
				free_record(k, r);
		} else if (rk == R_BAD && v->format == 1) {
			report(k, 0, damaged, "record %llu has invalid state %llu (owning %llu blocks)", (unsigned long long)r,
			       (unsigned long long)__atomic_load_n((const uint64_t *)&p->recs[r], __ATOMIC_ACQUIRE),
			       (unsigned long long)x->owned);
		} else if (rk == R_BAD) {
			report(k, 0, damaged,
			       "record %llu is corrupt: its %s (state word %#llx), so no file can be named for it; %llu "
			       "blocks name it; the shim refuses the pool",
			       (unsigned long long)r, pf_rec_bad_str(v->bad, why, sizeof why),
			       (unsigned long long)__atomic_load_n((const uint64_t *)&p->recs[r], __ATOMIC_ACQUIRE),
			       (unsigned long long)x->owned);
		} else if (rk == R_BROKEN) {
			char hint[PF_PATH_MAX_REC + 1];
			if (pf_pool_rec_path_at(p, (uint32_t)r, hint) <= 0)
				snprintf(hint, sizeof hint, "no usable path hint");
			report(k, 0,
			       "its window and flags cannot be known: restore the pool from a copy, or recover the file's "
			       "bytes from its blocks by hand",
			       "record %llu (inode %llu, %s): its %s; the shim refuses the file (reads and writes fail with "
			       "EIO); %llu blocks name it",
			       (unsigned long long)r, (unsigned long long)v->ino, hint, pf_rec_bad_str(v->bad, why, sizeof why),
			       (unsigned long long)x->owned);
		} else if (rk == R_DYING) {
			if (k->online)
				k->skipped++;
			else if (report(k, 1, NULL, "record %llu is dying (a free that a crash interrupted), %llu blocks",
					(unsigned long long)r, (unsigned long long)x->owned))
				free_record(k, r);
		} else if (rk == R_LIVE && v->lo == PF_HI_NONE) {
			if (k->online)
				k->skipped++;
			else if (report(k, 1, NULL,
					"record %llu is an unfinished promotion (%llu blocks copied; the real file holds "
					"every byte)",
					(unsigned long long)r, (unsigned long long)x->stale))
				free_record(k, r);
		} else if (rk == R_LIVE && x->stale) {
			if (k->online)
				k->skipped++;
			else if (report(k, 1, NULL, "record %llu: %llu stale blocks outside its window [%llu, %llu)",
					(unsigned long long)r, (unsigned long long)x->stale, (unsigned long long)v->lo,
					(unsigned long long)v->hi))
				for (uint64_t b = 0; b < p->nblocks; b++) {
					uint32_t er, ei;
					if (pf_pool_entry(p, b, &er, &ei) == PF_ENT_OWNED && er == r && (ei < v->lo || ei >= v->hi))
						pf_pool_block_free(p, b);
				}
		}
	}
	/* duplicate ownership of one file block */
	qsort(held, nheld, sizeof *held, by_rec_idx);
	for (size_t n = 1; n < nheld; n++)
		if (held[n].rec == held[n - 1].rec && held[n].idx == held[n - 1].idx)
			report(k, 0, "which copy is current cannot be known", "blocks %u and %u both hold block %u of record %u",
			       held[n - 1].phys, held[n].phys, held[n].idx, held[n].rec);
	free(held);
	free(ri);
	return 0;
}

/* ---- records against the log dirs */

static int by_identity(const void *a, const void *b)
{
	const struct cli_rec *x = a, *y = b;
	if (x->r.ino != y->r.ino)
		return x->r.ino < y->r.ino ? -1 : 1;
	if (x->r.btime_sec != y->r.btime_sec)
		return x->r.btime_sec < y->r.btime_sec ? -1 : 1;
	return x->r.btime_nsec < y->r.btime_nsec ? -1 : x->r.btime_nsec > y->r.btime_nsec;
}

static void check_files(struct fsck *k, struct cli_view *v)
{
	struct pf_pool *p = k->p;
	for (size_t n = 0; n < v->nrecs; n++) {
		struct cli_rec *cr = &v->recs[n];
		uint64_t r = cr->idx;
		if (cr->broken || cr->r.lo == PF_HI_NONE || pf_pool_rec_state(p, (uint32_t)r) != PF_REC_LIVE)
			continue; /* handled with the tables */
		char bytes[32];
		cli_human(cr->pool_bytes, bytes, sizeof bytes);
		if (!cr->file) {
			char last[PF_PATH_MAX_REC + 64];
			if (cr->hint_ok)
				snprintf(last, sizeof last, "last path %s%s", cr->hint,
					 cr->hint_other ? ", which now names another file (identity mismatch)" : "");
			else
				snprintf(last, sizeof last, "no usable path hint");
			int provable = k->gone_provable && !k->online && (!cr->hint_ok || pf_path_logdir(cr->hint) != NULL);
			const char *why = !k->gone_provable ? k->gone_why
					  : "its last path is outside the managed log dirs, so it may still exist";
			if (report(k, provable, why,
				   "record %llu (inode %llu, %s): the file is missing from every managed log dir; %llu "
				   "blocks (%s) in the pool",
				   (unsigned long long)r, (unsigned long long)cr->r.ino, last,
				   (unsigned long long)cr->nblocks, bytes))
				free_record(k, r);
			continue;
		}
		if (cr->file == &cr->own && k->c->dirs_configured)
			report(k, 0, "add its log dir to log.dirs or move the file back",
			       "record %llu: its file %s is outside the managed log dirs", (unsigned long long)r,
			       cr->file->path);
		if (cr->hint_bad) {
			if (k->online)
				k->skipped++;
			else if (report(k, 1, NULL, "record %llu: the path hint is unreadable (checksum); the file is %s",
					(unsigned long long)r, cr->file->path))
				pf_pool_rec_set_path(p, (uint32_t)r, cr->file->path);
		} else if (cr->found == CLI_FOUND_SEARCH) {
			if (report(k, !k->online, "the broker keeps its own hints current",
				   "record %llu: renamed: the path hint %s is stale%s; the file is now %s",
				   (unsigned long long)r, cr->hint_ok ? cr->hint : "(none)",
				   cr->hint_other ? " and names another file (identity mismatch)" : "", cr->file->path))
				pf_pool_rec_set_path(p, (uint32_t)r, cr->file->path);
		}
		if (cr->past_eof) {
			if (k->online)
				k->skipped++;
			else if (report(k, 1, NULL, "record %llu (%s): %llu pool blocks past the end of the file (%llu bytes)",
					(unsigned long long)r, cr->file->path, (unsigned long long)cr->past_eof,
					(unsigned long long)cr->size))
				for (size_t j = 0; j < cr->nblk; j++)
					if (((uint64_t)cr->blk[j].idx << p->bshift) >= cr->size)
						pf_pool_block_free(p, cr->blk[j].phys);
		}
	}
	/* two live records for one file */
	struct cli_rec *sorted = malloc((v->nrecs ? v->nrecs : 1) * sizeof *sorted);
	if (!sorted)
		return;
	memcpy(sorted, v->recs, v->nrecs * sizeof *sorted);
	qsort(sorted, v->nrecs, sizeof *sorted, by_identity);
	for (size_t n = 1; n < v->nrecs; n++)
		if (!by_identity(&sorted[n - 1], &sorted[n]))
			report(k, 0, "which one is current cannot be known", "records %u and %u both describe inode %llu (%s)",
			       sorted[n - 1].idx, sorted[n].idx, (unsigned long long)sorted[n].r.ino,
			       sorted[n].file ? sorted[n].file->path : sorted[n].hint_ok ? sorted[n].hint : "missing");
	free(sorted);
}

/* ---- markers */

/* May a record whose file is missing be freed? See the top comment. */
static void decide_gone(struct fsck *k)
{
	char uuid[33];
	pf_uuid_str(k->uuid, uuid);
	k->gone_provable = 0;
	if (!k->c->dirs_configured) {
		k->gone_why = "no log dirs are configured (log.dirs or --config), so the file may be elsewhere";
		return;
	}
	if (k->scan->errors) {
		k->gone_why = "some log dirs could not be read";
		return;
	}
	for (int d = 0; d < k->c->ndirs; d++) {
		struct pf_marker m;
		int r = pf_marker_read(k->c->dirs[d], &m);
		int names = r > 0 && pf_marker_has(&m, uuid);
		if (r > 0)
			pf_marker_free(&m);
		if (!names) {
			k->gone_why = "a managed log dir's .pafka-pools marker does not name this pool (is it the right "
				      "directory, mounted?)";
			return;
		}
	}
	k->gone_provable = 1;
	k->gone_why = NULL;
}

/* Log dirs holding files of this pool must name it in their marker. */
static void check_markers_of(struct fsck *k, struct cli_view *v)
{
	char uuid[33];
	pf_uuid_str(k->uuid, uuid);
	for (int d = 0; d < k->c->ndirs; d++) {
		int used = 0;
		for (size_t n = 0; n < v->nrecs && !used; n++)
			used = v->recs[n].file && v->recs[n].file->logdir == k->c->dirs[d] && v->recs[n].nblocks;
		if (!used)
			continue;
		struct pf_marker m;
		int r = pf_marker_read(k->c->dirs[d], &m);
		if (r < 0) {
			report(k, 0, "fix its permissions", "cannot read %s/%s: %s", k->c->dirs[d], PAFKA_MARKER_FILE,
			       strerror(errno));
			continue;
		}
		if (!pf_marker_has(&m, uuid) &&
		    report(k, !k->online, "the running broker rewrites it",
			   "log dir %s holds files with bytes in this pool, but its %s does not name the pool",
			   k->c->dirs[d], PAFKA_MARKER_FILE)) {
			if (pf_marker_add(&m, uuid, k->p->path) < 0 || pf_marker_write(k->c->dirs[d], &m) < 0)
				cli_err(k->c, "cannot update %s/%s: %s", k->c->dirs[d], PAFKA_MARKER_FILE, strerror(errno));
		}
		pf_marker_free(&m);
	}
}

/* Every marker line must name an existing pool with that uuid (else the shim refuses to start). */
static void check_markers(struct fsck_run *run)
{
	struct cli *c = run->c;
	for (int d = 0; d < c->ndirs; d++) {
		struct pf_marker m;
		int r = pf_marker_read(c->dirs[d], &m);
		if (r <= 0)
			continue;
		char marker[PATH_MAX];
		snprintf(marker, sizeof marker, "%s/%s", c->dirs[d], PAFKA_MARKER_FILE);
		if (m.malformed)
			finding(run, marker, 0, "check the file by hand", "%d malformed lines", m.malformed);
		for (int i = 0; i < m.n; i++) {
			struct pf_pool_header h;
			long long size;
			int r = read_header(m.line[i].path, &h, &size);
			int ok = r > 0 && h.magic == PF_POOL_MAGIC;
			char u[33];
			if (ok)
				pf_uuid_str(h.uuid, u);
			if (!ok)
				finding(run, m.line[i].path, 0,
					"restore that pool (an unmounted PMem?) or, if its data is gone for good, remove the line",
					"named by %s (uuid %s) but %s: the shim refuses to start", marker, m.line[i].uuid,
					r < 0 ? "missing" : "not a readable pool");
			else if (strcmp(u, m.line[i].uuid) != 0)
				finding(run, m.line[i].path, 0, "restore the original pool",
					"has uuid %s, but %s expects uuid %s (the pool was replaced): the shim refuses to start", u,
					marker, m.line[i].uuid);
		}
		pf_marker_free(&m);
	}
}

/* ---- one pool */

static int fsck_pool(struct fsck_run *run, int i)
{
	struct cli *c = run->c;
	struct pool_sum *sum = &run->pools[i];
	snprintf(sum->label, sizeof sum->label, "%s/%s", c->pools[i], PAFKA_POOL_FILE);
	sum->use.dir = c->pools[i];
	struct fsck k = { .run = run, .c = c, .scan = &run->scan, .repair = run->repair, .discard = run->discard,
			  .label = sum->label };
	int rc = CLI_OK;
	if (check_header(&k, sum->label) < 0) {
		sum->checked = 1;
		goto out;
	}
	struct cli_view v;
	memset(&v, 0, sizeof v);
	struct pf_pool rw;
	struct pf_err err = { "" };
	if (k.repair) {
		if (pf_pool_open(&rw, i, c->pools[i], 0, 1.0, 4096, PF_POOL_NOCREATE, &err) < 0) {
			if (strstr(err.msg, "in use"))
				cli_err(c, "%s: refusing --repair while a broker holds the pool: stop the broker first (or run "
					   "without --repair for a read-only check)",
					sum->label);
			else
				cli_err(c, "%s", err.msg);
			rc = CLI_FAIL;
			goto out;
		}
		k.p = &rw;
	}
	if (cli_view_open(c, i, &v) < 0) {
		rc = CLI_FAIL;
		goto close;
	}
	if (!k.repair)
		k.p = &v.pool;
	k.online = v.locked && !k.repair;
	/* A format-1 pool: what the shim's upgrade would say; --repair upgrades it first, as the shim would,
	 * since repairs write format 2. */
	sum->format = pf_pool_format(k.p);
	if (sum->format != 2) {
		int up = k.repair ? pf_pool_upgrade(&rw, &err) : pf_pool_upgrade_check(&v.pool, &err);
		const char *msg = err.msg;
		size_t ln = strlen(sum->label);
		if (!strncmp(msg, sum->label, ln) && !strncmp(msg + ln, ": ", 2))
			msg += ln + 2;
		if (up < 0) {
			report(&k, 0, "use the release that wrote the pool", "the shim cannot upgrade it to pool format 2: %s",
			       msg);
			k.norepair = "the pool could not be upgraded to format 2 (see above)";
		} else if (k.repair) {
			cli_say(c, "pafka fsck: %s: upgraded to pool format 2", sum->label);
			sum->format = 2;
		} else {
			cli_say(c, "pafka fsck: %s: pool format 1 (an earlier release's)%s: the shim upgrades it to format 2 "
				   "when it next starts",
				sum->label, v.pool.hdr->upgrade ? ", an upgrade was interrupted" : "");
		}
	}
	decide_gone(&k);
	cli_progress_start(&k.pr, c, run->progress, k.p->nblocks * k.p->bsize);
	if (check_tables(&k) < 0 || cli_view_build(&v, &run->scan) < 0) {
		cli_progress_end(&k.pr, k.pr.done);
		cli_err(c, "out of memory");
		rc = CLI_FAIL;
		goto close;
	}
	check_files(&k, &v);
	check_markers_of(&k, &v);
	cli_progress_end(&k.pr, k.pr.total);
	sum->checked = 1;
	if (k.repair && k.repaired && pf_pool_sync_meta(k.p) < 0) {
		cli_err(c, "%s: cannot sync the repaired metadata: %s", sum->label, strerror(errno));
		rc = CLI_FAIL;
	}
	cli_pool_use(&sum->use, c->pools[i], k.p, NULL);
	if (k.online)
		cli_say(c, "pafka fsck: %s: in use by a running broker: checked read-only%s", sum->label,
			k.skipped ? "; states a running writer passes through were not reported" : "");
	if (!k.findings)
		cli_say(c, "pafka fsck: %s: clean (%llu files, %llu blocks in use)", sum->label,
			(unsigned long long)sum->use.files, (unsigned long long)sum->use.used_blocks);
	else if (k.repair)
		cli_say(c, "pafka fsck: %s: %d findings, %d repaired", sum->label, k.findings, k.repaired);
close:
	cli_view_close(&v);
	if (k.repair && k.p)
		pf_pool_close(&rw);
out:
	sum->online = k.online;
	sum->found = k.findings;
	sum->repaired = k.repaired;
	sum->skipped = k.skipped;
	return rc;
}

static void report_pools(struct fsck_run *run)
{
	struct json *j = &run->j;
	json_arr(j, "pools");
	for (int i = 0; i < run->c->npools; i++) {
		const struct pool_sum *sum = &run->pools[i];
		json_obj(j, NULL);
		cli_json_pool_use(j, &sum->use);
		json_bool(j, "checked", sum->checked);
		if (sum->format)
			json_u64(j, "format", (uint64_t)sum->format);
		else
			json_null(j, "format");
		json_bool(j, "clean", sum->checked && !sum->found);
		json_bool(j, "in_use", sum->online);
		json_u64(j, "found", (uint64_t)sum->found);
		json_u64(j, "repaired", (uint64_t)sum->repaired);
		json_u64(j, "skipped", (uint64_t)sum->skipped);
		json_end_obj(j);
	}
	json_end_arr(j);
}

int cmd_fsck(struct cli *c, int argc, char **argv)
{
	const char *got[O_QUIET + 1];
	int first, rc = cli_parse(c, &syntax, argc, argv, got, &first);
	if (rc != CLI_GO_ON)
		return rc;
	if (got[O_DISCARD] && !got[O_REPAIR])
		return cli_usage_error(c, "--discard-unowned goes with --repair");
	enum cli_progress_mode progress;
	if ((rc = cli_progress_mode(c, got[O_PROGRESS], got[O_QUIET], &progress)) != 0)
		return rc;
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	static struct fsck_run run; /* large (PATH_MAX per pool): not on the stack */
	memset(&run, 0, sizeof run);
	run.c = c;
	run.repair = got[O_REPAIR] != NULL;
	run.discard = got[O_DISCARD] != NULL;
	run.progress = progress;
	if (cli_scan(c, &run.scan) < 0)
		return CLI_FAIL;
	cli_json_begin(c, &run.j);
	json_bool(&run.j, "repair", run.repair);
	json_arr(&run.j, "findings");
	rc = CLI_OK;
	for (int i = 0; i < c->npools; i++)
		if (fsck_pool(&run, i) != CLI_OK)
			rc = CLI_FAIL;
	check_markers(&run);
	cli_scan_free(&run.scan);
	json_end_arr(&run.j);
	report_pools(&run);
	json_bool(&run.j, "clean", rc == CLI_OK && !run.findings);
	return cli_json_end(c, &run.j, rc != CLI_OK || run.findings ? CLI_FAIL : CLI_OK);
}

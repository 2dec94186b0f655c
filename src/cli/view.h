/*
 * view.h - a tool's view of one pool: its LIVE records with the blocks each holds inside its window
 * [lo, hi), resolved to their files in the log dirs, and block-table totals. Built from a read-only
 * mapping, so it works while a broker writes the pool (a snapshot that may be a moment old) and when the
 * broker is stopped. Identity is inode number + birth time; the record's path is only a hint. Also what
 * every report says to identify a pool and its use (struct cli_pool_use), so status, pool, drain and
 * fsck give those fields the same names.
 *
 * Owns: the declarations of view.c. May call: pool.h, scan.h (types only).
 */
#ifndef PAFKA_CLI_VIEW_H
#define PAFKA_CLI_VIEW_H

#include <limits.h>
#include <stdint.h>

#include "pool.h"
#include "scan.h"

struct cli;
struct json;

enum cli_found { CLI_MISSING = 0, CLI_FOUND_HINT, CLI_FOUND_SEARCH };

/* One pool block of a record: block idx of the file lives in pool block phys. */
struct cli_blk {
	uint32_t idx;
	uint32_t phys;
};

struct cli_rec {
	uint32_t idx;
	struct pf_rec_view r;        /* the record, decoded (pool_format.h) */
	int broken;                  /* its identity holds but other words fail their checks (r.bad): its file
					is refused by the shim, and its window is unknown */
	struct cli_blk *blk;         /* its blocks inside its window (every block naming it when broken),
					by idx, one per idx; points into the view's storage */
	size_t nblk;
	uint64_t maplen;             /* 1 + the highest idx in blk, 0 when none */
	uint64_t nblocks;            /* blocks held (nblk) */
	uint64_t past_eof;           /* of those, blocks starting at or past the file's size */
	uint64_t pool_bytes;         /* bytes served from the pool (below the size) */
	uint64_t slow_bytes;         /* bytes outside the window [lo, hi): in the real file */
	char hint[PF_PATH_MAX_REC + 1];
	int hint_ok;                 /* there is a path hint and it is intact (checksum) */
	int hint_bad;                /* the hint fails its checksum (a path update was interrupted) */
	int hint_other;              /* the hint names an existing file with another identity */
	enum cli_found found;
	struct cli_file *file;       /* the record's file, or NULL when missing */
	struct cli_file own;         /* storage when found by the hint outside the scanned dirs */
	uint64_t size;               /* real size, or the record's size_hint when missing */
	int size_known;
};

struct cli_view {
	int index;
	const char *dir;
	struct pf_pool pool;         /* read-only mapping */
	int open;
	int locked;                  /* a writer (the broker) holds the pool's lock */
	uint64_t writer_pid;
	int pid_alive;
	int format;                  /* 1 or 2 (pool_format.h) when the view was built */
	struct cli_rec *recs;        /* LIVE records, and broken ones */
	size_t nrecs;
	struct cli_blk *blk;         /* storage of every record's blk */
	uint64_t used_blocks;        /* every non-free entry */
	uint64_t window_blocks;      /* owned by a LIVE record, inside its window */
	uint64_t pool_bytes;
	uint64_t broken_records;     /* identity holds, other words fail: those files are refused */
	uint64_t bad_records;        /* in use, but whose identity fails: no file can be named */
	uint64_t bad_entries;        /* entries failing their check or naming no record */
};

/* Every pool of a command as a view, built against one scan of the log dirs. */
struct cli_views {
	struct cli_scan scan;
	struct cli_view *v;
	int n;
	int damaged;                 /* some pool's metadata fails its checks (reported: "run 'pafka fsck'") */
};

/* Is the pool in dir locked by a writer? 1 yes, 0 no, -1 no pool/unreadable (errno). */
int cli_pool_locked(const char *dir);
/* Open pool i of c read-only and probe its lock. Returns 0, or -1 with a message printed. */
int cli_view_open(struct cli *c, int i, struct cli_view *v);
/* Read the tables (through the decoders only) and resolve the records against the scan (which gets
 * pool/rec filled in). Allocations are bounded by the checked geometry (at most one cli_blk per pool
 * block). Returns 0, or -1 when out of memory. */
int cli_view_build(struct cli_view *v, struct cli_scan *s);
void cli_view_close(struct cli_view *v);
/* What a read-only report needs: the configuration (cli_setup, unless loaded already; a pool is required),
 * a scan of the log dirs, and a view of each pool built against it. Returns 0, or -1 with a message
 * printed; cli_views_close in either case. */
int cli_views_open(struct cli *c, struct cli_views *vs);
void cli_views_close(struct cli_views *vs);

/* A pool's identity and use, as every report gives them. */
struct cli_pool_use {
	const char *dir;             /* the pool directory, as configured */
	char path[PATH_MAX];         /* the pool file; empty: not known (the pool could not be read) */
	char uuid[33];
	uint64_t block_size, capacity_blocks, used_blocks, files;
};
/* Fill u from an open pool: used blocks and files (LIVE records) from v's snapshot when given, else
 * counted now. */
void cli_pool_use(struct cli_pool_use *u, const char *dir, const struct pf_pool *p, const struct cli_view *v);
/* Write u's fields into the current JSON object: dir, path, uuid, block_size, capacity_bytes, used_bytes,
 * free_bytes, capacity_blocks, used_blocks, free_blocks, files; only dir when u->path is empty (the pool
 * could not be read). */
void cli_json_pool_use(struct json *j, const struct cli_pool_use *u);

/* Where a file's bytes are: "pool", "slow" or "mixed", from its record (NULL: none) and size. Sets the
 * pool and slow-tier byte counts (holes inside the pool window count in neither). */
const char *cli_tier(const struct cli_rec *cr, uint64_t size, uint64_t *pool_bytes, uint64_t *slow_bytes);
/* Decode record r of p into cr (clearing it): r, broken, hint, hint_ok, hint_bad. Returns what
 * pf_pool_rec_decode returns (0 intact or free, 1 broken, -1 identity fails). */
int cli_rec_fill(struct cli_rec *cr, const struct pf_pool *p, uint32_t r);
/* Resolve one filled record (ino/btime/path hint) to a file: sets found, file, own, hint_other, size. */
void cli_resolve(struct cli_rec *cr, struct cli_scan *s);
/* The pool block holding block i of cr's file, or -1. */
int64_t cli_rec_phys(const struct cli_rec *cr, uint64_t i);

#endif

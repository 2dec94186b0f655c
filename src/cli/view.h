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

struct cli_rec {
	uint32_t idx;
	struct pf_pool_record r;     /* snapshot of the record */
	uint32_t *map;               /* map[i] = physical block + 1 of file block i (in-window only), 0 none */
	uint64_t maplen;
	uint64_t nblocks;            /* in-window blocks held */
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
	struct cli_rec *recs;        /* LIVE records */
	size_t nrecs;
	uint64_t used_blocks;        /* every non-free entry */
	uint64_t window_blocks;      /* owned by a LIVE record, inside its window */
	uint64_t pool_bytes;
};

/* Every pool of a command as a view, built against one scan of the log dirs. */
struct cli_views {
	struct cli_scan scan;
	struct cli_view *v;
	int n;
};

/* Is the pool in dir locked by a writer? 1 yes, 0 no, -1 no pool/unreadable (errno). */
int cli_pool_locked(const char *dir);
/* Open pool i of c read-only and probe its lock. Returns 0, or -1 with a message printed. */
int cli_view_open(struct cli *c, int i, struct cli_view *v);
/* Read the tables and resolve the records against the scan (which gets pool/rec filled in). Returns 0, or
 * -1 when out of memory. */
int cli_view_build(struct cli_view *v, struct cli_scan *s);
void cli_view_close(struct cli_view *v);
/* What a read-only report needs: the configuration (cli_setup; a pool is required), a scan of the log
 * dirs, and a view of each pool built against it. Returns 0, or -1 with a message printed;
 * cli_views_close in either case. */
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
/* Resolve one record (ino/btime/path hint) to a file: sets found, file, own, hint_ok, hint_other. */
void cli_resolve(struct cli_rec *cr, struct cli_scan *s);

#endif

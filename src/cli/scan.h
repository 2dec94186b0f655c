/*
 * scan.h - the files in the managed log dirs, at partition depth (<logdir>/<partition>/<name>), with the
 * identity the pool records use (inode number + statx birth time) and their real size. Every regular file
 * is listed (a record's file may have been renamed to a name outside the segment pattern); `managed` says
 * whether its name matches the pattern.
 *
 * Owns: the declarations of scan.c. May call: nothing (types only).
 */
#ifndef PAFKA_CLI_SCAN_H
#define PAFKA_CLI_SCAN_H

#include <stddef.h>
#include <stdint.h>

struct cli;

struct cli_file {
	char *path;             /* absolute */
	const char *logdir;     /* the managed dir it is in (points into struct cli) */
	const char *partition;  /* points into path: the partition directory's name, up to '/' */
	size_t partition_len;
	uint64_t ino;
	int64_t btime_sec;
	uint32_t btime_nsec;
	int has_btime;
	uint64_t size;          /* logical size (the real file's size) */
	uint64_t alloc;         /* bytes allocated on the slow tier (st_blocks * 512) */
	int managed;            /* base name matches pafka.segment.pattern */
	/* filled by the pool views (view.h) */
	int pool;               /* index into struct cli pools, -1 when no record */
	int64_t rec;            /* record index in that pool */
	int64_t slot;           /* index of the record in that pool's view (struct cli_view recs) */
};

struct cli_scan {
	struct cli_file *f;
	size_t n, cap;
	int errors;             /* directories that could not be read (a search there is not conclusive) */
	size_t *by_ino;         /* indexes sorted by inode number */
};

/* Scan every managed dir of c. Unreadable directories are reported on stderr and counted. Returns 0,
 * or -1 when out of memory (reported; s is then empty). */
int cli_scan(struct cli *c, struct cli_scan *s);
void cli_scan_free(struct cli_scan *s);
/* The scanned file with this identity, or NULL. */
struct cli_file *cli_scan_find(const struct cli_scan *s, uint64_t ino, int64_t btime_sec, uint32_t btime_nsec);
/* Identity and size of one path (no symlink following). Returns 0, or -1 with errno (ENOENT ...). */
int cli_stat_file(const char *path, struct cli_file *out);

#endif

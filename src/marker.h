/*
 * marker.h - the <logdir>/.pafka-pools marker: one line "<32 hex uuid> <pool path>" per pool that may hold
 * bytes of that log dir's segments. The shim writes it at activation and refuses to start when a pool it
 * names is missing (a tmpfs cleared by a reboot, a changed storage.tiers.first.paths), instead of serving
 * the zeros of the sparse log-dir files; the CLI reads it to find pools and rewrites it (fsck adds a
 * missing line, drain and pool destroy remove one). Kafka ignores regular files in a log dir.
 *
 * Owns: the marker format. May call: sys.h, real.h.
 * Errors: -1 with errno.
 */
#ifndef PAFKA_MARKER_H
#define PAFKA_MARKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pafka.h"

struct pf_marker_line {
	char uuid[33];  /* 32 lower-case hex digits */
	char *path;     /* absolute path of the pool file */
};

struct pf_marker {
	int n;                        /* well-formed lines */
	int malformed;                /* lines that are not "<uuid> </absolute path>" */
	struct pf_marker_line *line;
	uid_t owner;                  /* pf_marker_read: the marker file's owner and mode */
	mode_t mode;
};

/* Parse marker text (any bytes; never reads past len). Returns 0, or -1 when out of memory. */
int pf_marker_parse(const char *text, size_t len, struct pf_marker *m);
/* Read dir's marker (never through a symlink: ELOOP). Returns 1 when it exists (m filled, with its owner
 * and mode), 0 when there is none, -1 on a read error (errno set). Free with pf_marker_free. */
int pf_marker_read(const char *dir, struct pf_marker *m);
/* May a process with effective uid euid trust this marker: owned by euid (or, for root, by anyone) and
 * writable by nobody else? */
int pf_marker_trusted(const struct pf_marker *m, uid_t euid);
void pf_marker_free(struct pf_marker *m);
/* Rewrite dir's marker atomically with m's lines (tmp file, fsync, rename, directory fsync), unless it
 * already holds exactly them; with no lines the marker is removed. Returns 0 or -1 with errno. */
int pf_marker_write(const char *dir, const struct pf_marker *m);
/* Add a line; returns 0 or -1 (out of memory). */
int pf_marker_add(struct pf_marker *m, const char *uuid, const char *path);
/* Remove the lines naming uuid; returns how many were removed. */
int pf_marker_remove(struct pf_marker *m, const char *uuid);
/* Does m name uuid? */
int pf_marker_has(const struct pf_marker *m, const char *uuid);

/* 32 lower-case hex digits of a pool uuid into out[33]. */
void pf_uuid_str(const uint8_t uuid[16], char out[33]);

#endif

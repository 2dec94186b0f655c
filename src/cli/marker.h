/*
 * marker.h - the <logdir>/.pafka-pools marker the shim writes: one line "<32 hex uuid> <pool path>" per
 * pool that may hold bytes of that log dir's segments. Tools read it (to find pools, fsck), and rewrite
 * it atomically (fsck adds a missing line, pool destroy removes one).
 */
#ifndef PAFKA_CLI_MARKER_H
#define PAFKA_CLI_MARKER_H

#include <stddef.h>

struct cli_marker {
	int n;            /* well-formed lines */
	int malformed;    /* lines that are not "<uuid> <path>" */
	char (*uuid)[33];
	char **path;
};

/* Read dir's marker. Returns 1 when it exists (m filled), 0 when there is none, -1 on a read error
 * (errno set). Free with cli_marker_free. */
int cli_marker_read(const char *dir, struct cli_marker *m);
void cli_marker_free(struct cli_marker *m);
/* Rewrite dir's marker atomically with m's lines (tmp file, fsync, rename, directory fsync); with no
 * lines left the marker is removed. Returns 0 or -1 with errno. */
int cli_marker_write(const char *dir, const struct cli_marker *m);
/* Add a line (uuid, path) to m. Returns 0 or -1 (out of memory). */
int cli_marker_add(struct cli_marker *m, const char *uuid, const char *path);
/* Remove the lines naming uuid; returns how many were removed. */
int cli_marker_remove(struct cli_marker *m, const char *uuid);

#endif

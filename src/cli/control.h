/*
 * control.h - what tools change beside a pool's tables: the control files in a pool's directory
 * (pafka.pause, pafka.drain; see pool_format.h), created and removed by tools and polled by the running
 * broker's shim, and a pool's lines in the log dirs' .pafka-pools markers (marker.h).
 *
 * Owns: the declarations of control.c. May call: nothing (types only).
 */
#ifndef PAFKA_CLI_CONTROL_H
#define PAFKA_CLI_CONTROL_H

struct cli;
struct json;

/* Create (on) or remove <dir>/<name>. Returns 1 if it changed, 0 if it already was so, -1 with errno.
 * A created file holds one line: why, by which pid, when. */
int cli_control_set(const char *dir, const char *name, int on, const char *why);
/* Does <dir>/<name> exist (as any kind of file)? */
int cli_exists(const char *dir, const char *name);

/* One control file set or removed in every pool, and the outcome reported: pause, resume, drain --cancel. */
struct cli_control {
	const char *file;       /* PF_PAUSE_FILE or PF_DRAIN_FILE */
	int on;                 /* create it (else remove it) */
	const char *why;        /* the line a created file holds */
	const char *key;        /* the JSON field of the resulting state, as pafka status names it */
	const char *changed;    /* text after "<pool dir>: " when it changed; %s is the control file */
	const char *unchanged;  /* the same when it already was so */
};
/* Returns CLI_OK, or CLI_FAIL when a file could not be changed (message printed). */
int cli_control_all(struct cli *c, const struct cli_control *what);

/* Remove the lines naming uuid (32 hex digits) from every managed log dir's marker; updated[d] is set for
 * each log dir d whose marker changed. Returns CLI_OK, or CLI_FAIL (message printed). */
int cli_unmark(struct cli *c, const char *uuid, int *updated);
/* The JSON "unmarked" list: the marker file of each log dir d with updated[d] set. */
void cli_json_unmarked(struct json *j, const struct cli *c, const int *updated);

#endif

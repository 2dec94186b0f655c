/*
 * watch.h - `pafka status --watch`: the status collection (status.h) redrawn every interval.
 *
 * Owns: the declaration of watch.c. May call: nothing (types only).
 */
#ifndef PAFKA_CLI_WATCH_H
#define PAFKA_CLI_WATCH_H

struct cli;

/* Run the watch with --interval and --count as given (NULL: 1 s, until SIGINT/SIGTERM). Returns CLI_OK
 * (also after SIGINT), CLI_FAIL when the pools cannot be read (message printed), CLI_USAGE on a bad value. */
int cli_watch(struct cli *c, const char *interval, const char *count);

#endif

/*
 * cli.h - the `pafka` operator command: shared state, option handling, messages and exit codes.
 *
 * Every subcommand is one function `int cmd_NAME(struct cli *c, int argc, char **argv)` (argv[0] is the
 * subcommand name) in its own file. Conventions: results go to stdout; a problem is one line on stderr
 * "pafka NAME: <what is wrong>; <what to do>"; exit 0 on success, 1 on failure, 2 on a usage error (after
 * printing the usage). The configuration comes from the same sources as the shim (PAFKA_* environment,
 * PAFKA_CONFIG, a server.properties) plus --config FILE and --pool DIR.
 */
#ifndef PAFKA_CLI_H
#define PAFKA_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* Long options every subcommand accepts; their short codes are reserved values above 0xff. */
enum { OPT_CONFIG = 0x100, OPT_POOL, OPT_HELP, OPT_FIRST_FREE };
#define CLI_COMMON_LONGOPTS                                        \
	{ "config", required_argument, NULL, OPT_CONFIG },         \
	{ "pool", required_argument, NULL, OPT_POOL },             \
	{ "help", no_argument, NULL, OPT_HELP }

struct cli {
	const char *cmd;                 /* subcommand name, for messages ("pafka status: ...") */
	const char *usage;               /* its usage text (printed by --help and after usage errors) */
	const char *config_file;         /* --config FILE */
	char *pool_opt[PF_MAX_PATHS];    /* --pool DIR (repeatable, or a comma list) */
	int npool_opt;
	/* filled by cli_setup() */
	struct pf_config cfg;
	int cfg_loaded;
	char *pools[PF_MAX_PATHS];       /* pool directories (each holds pafka.pool) */
	int npools;
	int pools_from_markers;          /* no pool configured: found through the log dirs' markers */
	char *dirs[PF_MAX_PATHS * 2];    /* managed log dirs, absolute, each directory once */
	int ndirs;
	int dirs_configured;             /* dirs come from the configuration (log.dirs / second paths) */
};

/* Messages. cli_err prints "pafka CMD: ..." on stderr. cli_usage_error prints the message and the usage
 * and returns CLI_USAGE. */
void cli_err(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_usage_error(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_help(const struct cli *c);

/* Handle a common option (getopt_long result ch with optarg). Returns 1 if handled, -1 on --help (the
 * caller returns cli_help(c)), 0 if ch is not a common option, or -2 after a usage error was printed. */
int cli_common_opt(struct cli *c, int ch, const char *arg);
/* Report an option getopt rejected ('?' or ':'); returns CLI_USAGE. */
int cli_bad_option(struct cli *c, int ch, char **argv);
/* What a command's option loop does not handle itself: a common option, --help, or a rejected or unknown
 * option. Returns CLI_GO_ON when parsing goes on, else the exit status the command returns. */
#define CLI_GO_ON (-1)
int cli_other_opt(struct cli *c, int ch, char **argv);

/* Load the configuration and resolve pools and managed log dirs. need_pools: fail (return -1 with a
 * message) when no pool directory is known. Returns 0 or -1 (message printed). */
int cli_setup(struct cli *c, int need_pools);
void cli_teardown(struct cli *c);

/* Parse a size with K/M/G/T suffix (as the configuration does). */
int cli_parse_size(const char *s, int64_t *out);
/* "12.3 MiB" style rendering of a byte count into buf. */
const char *cli_human(uint64_t bytes, char *buf, size_t n);

/* Subcommands. */
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_drain(struct cli *c, int argc, char **argv);
int cmd_fsck(struct cli *c, int argc, char **argv);
int cmd_pause(struct cli *c, int argc, char **argv);
int cmd_resume(struct cli *c, int argc, char **argv);
int cmd_pool(struct cli *c, int argc, char **argv);

#endif

/*
 * cli.h - the `pafka` operator command: what its parts share, i.e. the command-wide state, the conventions
 * and the declarations of the pieces every subcommand uses.
 *
 * Every subcommand is one function `int cmd_NAME(struct cli *c, int argc, char **argv)` (argv[0] is the
 * subcommand name) in its own file, which declares its options in a struct cli_syntax and hands argv to
 * cli_parse. Conventions: results go to stdout (text, or one JSON object with --json); a problem is one
 * line on stderr "pafka NAME: <what is wrong>; <what to do>"; exit 0 on success, 1 on failure, 2 on a
 * usage error (after printing the usage). The configuration comes from the same sources as the shim
 * (PAFKA_* environment, PAFKA_CONFIG, a server.properties) plus --config FILE and --pool DIR.
 *
 * The pieces: opts.c (options, --help, usage), output.c (messages, text lines, the JSON document frame),
 * setup.c (configuration to pools and log dirs), scan.c (the log dirs' files), view.c (a read-only view
 * of a pool), control.c (control files and marker lines), json.c (the JSON writer), progress.c (the
 * progress line of long commands on stderr), status.c (what status collects), watch.c (status --watch,
 * over that collection).
 *
 * Owns: struct cli, struct cli_opt, struct cli_syntax, the exit statuses. May call: config.h (types).
 */
#ifndef PAFKA_CLI_H
#define PAFKA_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2
/* cli_parse's "go on": not an exit status. */
#define CLI_GO_ON (-1)

struct json;

/* One option of a command, besides the common ones (--config, --pool, --help, --json). A command's table
 * ends with { NULL }; an option's index in it is its id in the values cli_parse returns. */
struct cli_opt {
	const char *name;   /* long name, without the dashes */
	char letter;        /* short form (-v), or 0 */
	const char *arg;    /* the name of its value in the help (SIZE), or NULL for a switch */
	const char *help;   /* help text; a '\n' continues it on the next line, under the first */
};
#define CLI_MAX_OPTS 8

#define CLI_ANY (-1)

/* What a command accepts, and the help text made from it. */
struct cli_syntax {
	const char *usage;          /* usage lines and description (printed before the options) */
	const struct cli_opt *opts; /* the command's own options, or NULL */
	int json;                   /* it takes --json (sets struct cli json) */
	int operands;               /* how many operands may follow the options; CLI_ANY: any number */
	int interleave;             /* options may stand after operands too (else the first operand ends them) */
	const char *no_pool;        /* --pool is refused, for this reason (NULL: it is accepted) */
	const char *tail;           /* text printed after the options, or NULL */
};

struct cli {
	const char *cmd;                 /* subcommand name, for messages ("pafka status: ...") */
	const struct cli_syntax *syntax; /* of the command being parsed (its usage follows usage errors) */
	const char *config_file;         /* --config FILE */
	char *pool_opt[PF_MAX_PATHS];    /* --pool DIR (repeatable, or a comma list) */
	int npool_opt;
	int json;                        /* --json */
	char **errors;                   /* every message cli_err printed (without "pafka CMD: ") */
	size_t nerrors;
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

/* ---- opts.c: the command line */

/* Parse argv (argv[0] is the command) against syn: the command's options, plus --config, --pool, --help
 * (-h) and, when syn->json, --json. got[id] receives each own option's value ("" for a switch; NULL when
 * not given; the last one given wins). Returns CLI_GO_ON with *first the index of the first operand, or
 * the status the command exits with: CLI_OK after --help, CLI_USAGE after a usage error was printed. */
int cli_parse(struct cli *c, const struct cli_syntax *syn, int argc, char **argv, const char **got, int *first);
/* Print the current syntax's usage and options on stdout; returns CLI_OK (CLI_FAIL if stdout fails). */
int cli_help(struct cli *c);
void cli_print_usage(const struct cli *c, FILE *f);
/* Parse a size with K/M/G/T suffix (as the configuration does). */
int cli_parse_size(const char *s, int64_t *out);
/* Parse a whole decimal number from min to max (the whole argument); returns 0, or -1 when it is not one. */
int cli_parse_long(const char *s, long min, long max, long *out);

/* ---- output.c: what the commands print */

/* "pafka CMD: ..." on stderr (also kept in c->errors for the JSON "errors" list). */
void cli_err(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same followed by the usage; returns CLI_USAGE. */
int cli_usage_error(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One line of text output on stdout (the newline is added); nothing with --json. */
void cli_say(const struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "12.3 MiB" style rendering of a byte count into buf. */
const char *cli_human(uint64_t bytes, char *buf, size_t n);
/* The JSON document every command writes with --json: begin opens its object on stdout (without --json
 * the writer writes nothing, so a command may make the same calls either way); end adds "errors" (every
 * message cli_err printed, in order), closes it, and returns rc, or CLI_FAIL after a message when the
 * writer was misused. */
void cli_json_begin(const struct cli *c, struct json *j);
int cli_json_end(struct cli *c, struct json *j, int rc);

/* ---- setup.c: the configuration */

/* Load the configuration and resolve pools and managed log dirs. need_pools: fail (return -1 with a
 * message) when no pool directory is known. Returns 0 or -1 (message printed). */
int cli_setup(struct cli *c, int need_pools);
void cli_teardown(struct cli *c);

/* ---- subcommands */
int cmd_run(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_ls(struct cli *c, int argc, char **argv);
int cmd_drain(struct cli *c, int argc, char **argv);
int cmd_fsck(struct cli *c, int argc, char **argv);
int cmd_pause(struct cli *c, int argc, char **argv);
int cmd_resume(struct cli *c, int argc, char **argv);
int cmd_pool(struct cli *c, int argc, char **argv);

#endif

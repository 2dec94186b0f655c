/*
 * main.c - `pafka`: the operator command of libpafka. Dispatches to one subcommand; options common to all
 * (--config FILE, --pool DIR) may also stand before the subcommand name.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pafka.h"

static const char usage[] =
	"usage: pafka [--config FILE] [--pool DIR] COMMAND [ARGS...]\n"
	"\n"
	"Operate libpafka, the LD_PRELOAD shim that keeps Kafka's newest log segments in a pool on a fast tier.\n"
	"\n"
	"commands:\n"
	"  run -- CMD...        run CMD (a Kafka broker) with libpafka.so preloaded\n"
	"  status               pools, tiers, migration state and counters (--json, --prometheus, -v)\n"
	"  ls [PATH...]         managed segment files: tier, size, pool blocks and extents\n"
	"  drain                move every pool byte to the log dirs (online or --offline)\n"
	"  fsck [--repair]      check pool metadata against the log dirs\n"
	"  pause | resume       pause or resume migration of the running broker\n"
	"  pool create|info|destroy\n"
	"                       explicit pool lifecycle\n"
	"\n"
	"common options:\n"
	"  --config FILE        read settings from FILE (a server.properties or a PAFKA_CONFIG file)\n"
	"  --pool DIR           the pool directory (holding pafka.pool); repeat or comma-separate for several\n"
	"  --help               help for pafka or for a command (pafka COMMAND --help)\n"
	"  --version            print the version\n"
	"\n"
	"Settings also come from PAFKA_* variables, PAFKA_CONFIG and storage.tiers.first.paths, as for the\n"
	"shim. Exit status: 0 success, 1 failure, 2 usage error. See pafka(1) and pafka-COMMAND(1).\n";

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
};

static const struct command commands[] = {
	{ "run", cmd_run },     { "status", cmd_status }, { "ls", cmd_ls },     { "drain", cmd_drain },
	{ "fsck", cmd_fsck },   { "pause", cmd_pause },   { "resume", cmd_resume }, { "pool", cmd_pool },
};

static int dispatch(struct cli *c, int argc, char **argv)
{
	int i = 1;
	/* options before the command name */
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return cli_help(c);
		if (!strcmp(a, "--version")) {
			printf("pafka %s\n", PAFKA_VERSION);
			return CLI_OK;
		}
		const char *val = NULL;
		int code = 0;
		if (!strcmp(a, "--config") || !strcmp(a, "--pool")) {
			if (i + 1 >= argc)
				return cli_usage_error(c, "option '%s' needs a value", a);
			code = a[2] == 'c' ? OPT_CONFIG : OPT_POOL;
			val = argv[++i];
		} else if (!strncmp(a, "--config=", 9)) {
			code = OPT_CONFIG;
			val = a + 9;
		} else if (!strncmp(a, "--pool=", 7)) {
			code = OPT_POOL;
			val = a + 7;
		} else {
			return cli_usage_error(c, "unknown option '%s'", a);
		}
		if (cli_common_opt(c, code, val) < 0)
			return CLI_USAGE;
		i++;
	}
	if (i >= argc)
		return cli_usage_error(c, "no command given");
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc)
			return cli_help(c);
		/* "pafka help CMD" is "pafka CMD --help" */
		char *hargv[] = { argv[i + 1], (char *)"--help", NULL };
		for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
			if (!strcmp(commands[k].name, argv[i + 1])) {
				c->cmd = commands[k].name;
				return commands[k].fn(c, 2, hargv);
			}
		return cli_usage_error(c, "unknown command '%s'", argv[i + 1]);
	}
	for (size_t k = 0; k < sizeof commands / sizeof *commands; k++) {
		if (strcmp(commands[k].name, argv[i]) != 0)
			continue;
		c->cmd = commands[k].name;
		c->usage = NULL;
		return commands[k].fn(c, argc - i, argv + i);
	}
	return cli_usage_error(c, "unknown command '%s' (see 'pafka --help')", argv[i]);
}

int main(int argc, char **argv)
{
	struct cli c;
	memset(&c, 0, sizeof c);
	c.usage = usage;
	int rc = dispatch(&c, argc, argv);
	cli_teardown(&c);
	if (fflush(stdout) != 0 && rc == CLI_OK) {
		perror("pafka: cannot write the output");
		rc = CLI_FAIL;
	}
	return rc;
}

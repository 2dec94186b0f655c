/*
 * main.c - `pafka`: the operator command of libpafka. Dispatches to one subcommand; options common to all
 * (--config FILE, --pool DIR) may also stand before the subcommand name.
 *
 * Owns: the list of subcommands and the top-level usage. May call: opts.c, output.c, setup.c (teardown),
 * the cmd_* functions.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "pafka.h"

static const struct cli_opt opts[] = {
	{ "version", 0, NULL, "print the version" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_syntax syntax = {
	.usage = "usage: pafka [--config FILE] [--pool DIR] COMMAND [ARGS...]\n"
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
		 "Every command but run takes --json: one JSON object instead of text. 'pafka COMMAND --help' (or\n"
		 "'pafka help COMMAND') describes a command; --config and --pool may also follow the command name.\n",
	.opts = opts,
	.operands = CLI_ANY,
	.tail = "Settings also come from PAFKA_* variables, PAFKA_CONFIG and storage.tiers.first.paths, as for the\n"
		"shim. Exit status: 0 success, 1 failure, 2 usage error. See pafka(1) and pafka-COMMAND(1).\n",
};

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
};

static const struct command commands[] = {
	{ "run", cmd_run },     { "status", cmd_status }, { "ls", cmd_ls },     { "drain", cmd_drain },
	{ "fsck", cmd_fsck },   { "pause", cmd_pause },   { "resume", cmd_resume }, { "pool", cmd_pool },
};

static const struct command *find(const char *name)
{
	for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
		if (!strcmp(commands[k].name, name))
			return &commands[k];
	return NULL;
}

static int dispatch(struct cli *c, int argc, char **argv)
{
	const char *got[1];
	int i, r = cli_parse(c, &syntax, argc, argv, got, &i);
	if (r != CLI_GO_ON)
		return r;
	if (got[0]) {
		printf("pafka %s\n", PAFKA_VERSION);
		return CLI_OK;
	}
	if (i >= argc)
		return cli_usage_error(c, "no command given");
	const struct command *cmd;
	if (!strcmp(argv[i], "help")) {
		if (i + 1 >= argc)
			return cli_help(c);
		/* "pafka help CMD" is "pafka CMD --help" */
		if (!(cmd = find(argv[i + 1])))
			return cli_usage_error(c, "unknown command '%s'", argv[i + 1]);
		char *hargv[] = { argv[i + 1], (char *)"--help", NULL };
		c->cmd = cmd->name;
		return cmd->fn(c, 2, hargv);
	}
	if (!(cmd = find(argv[i])))
		return cli_usage_error(c, "unknown command '%s' (see 'pafka --help')", argv[i]);
	c->cmd = cmd->name;
	return cmd->fn(c, argc - i, argv + i);
}

/* Exported (pafka_LDFLAGS): libpafka.so, preloaded into this command as an injected environment would
 * (a container's ENV, a unit's Environment=), finds it and stays inert. The command reads and writes the
 * pools and segment files itself: through the shim, an offline drain's writes to the segments would find
 * the pool locked by the command and fail with EROFS. */
__attribute__((used, visibility("default"))) const int pafka_shim_inert = 1;

int main(int argc, char **argv)
{
	struct cli c;
	memset(&c, 0, sizeof c);
	int rc = dispatch(&c, argc, argv);
	cli_teardown(&c);
	if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_OK) {
		perror("pafka: cannot write the output");
		rc = CLI_FAIL;
	}
	return rc;
}

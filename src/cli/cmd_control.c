/*
 * cmd_control.c - `pafka pause` and `pafka resume`: create or remove <pool dir>/pafka.pause, which the
 * running broker's shim polls (migration stops while it exists).
 *
 * Owns: the two commands' syntax and words. May call: opts.c, setup.c, control.c.
 */
#include "cli.h"
#include "control.h"
#include "pool_format.h"

static const struct cli_syntax pause_syntax = {
	.usage = "usage: pafka pause [--json] [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Pause migration between the pool and the log dirs: creates pafka.pause in each pool directory. The\n"
		 "running broker stops starting migrations while it exists (one in progress finishes); writes and reads\n"
		 "go on. It persists across broker restarts until 'pafka resume'.\n",
	.json = 1,
};

static const struct cli_syntax resume_syntax = {
	.usage = "usage: pafka resume [--json] [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Resume migration: removes pafka.pause from each pool directory.\n",
	.json = 1,
};

static const struct cli_control pause_words = {
	.file = PF_PAUSE_FILE,
	.on = 1,
	.why = "paused with 'pafka pause'",
	.key = "pause_requested",
	.changed = "migration paused (%s); 'pafka resume' ends it",
	.unchanged = "migration was already paused (%s); 'pafka resume' ends it",
};

static const struct cli_control resume_words = {
	.file = PF_PAUSE_FILE,
	.on = 0,
	.key = "pause_requested",
	.changed = "migration resumed",
	.unchanged = "migration was not paused",
};

static int control(struct cli *c, int argc, char **argv, const struct cli_syntax *syn, const struct cli_control *what)
{
	int first, r = cli_parse(c, syn, argc, argv, NULL, &first);
	if (r != CLI_GO_ON)
		return r;
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	return cli_control_all(c, what);
}

int cmd_pause(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, &pause_syntax, &pause_words);
}

int cmd_resume(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, &resume_syntax, &resume_words);
}

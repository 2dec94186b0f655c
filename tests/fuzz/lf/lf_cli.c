/*
 * lf_cli.c - libFuzzer target: the pafka command's views of a pool (status, status -v --json,
 * status --prometheus, ls, ls --json, fsck, fsck --json, pool info) on arbitrary pool bytes, run in this
 * process through the command's own main (src/cli/main.c, built with main renamed pafka_cli_main). The
 * input becomes <scratch>/pool/pafka.pool as lf_common.h says; the log dir is an empty <scratch>/logs, so
 * every record's file is missing or elsewhere, as after a lost log dir. No --repair: the views only read.
 * A command may refuse the pool (exit 1, one line); any sanitizer report, or an exit status that is not
 * 0, 1 or 2, stops the run. Run with -close_fd_mask=3 (the views print a lot; libFuzzer keeps its report).
 */
#include "lf_common.h"

int pafka_cli_main(int argc, char **argv);

static char pooldir[512], logdir[512], poolfile[600];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *dir = lf_scratch("cli");
	snprintf(pooldir, sizeof pooldir, "%s/pool", dir);
	snprintf(logdir, sizeof logdir, "%s/logs", dir);
	snprintf(poolfile, sizeof poolfile, "%s/" PF_POOL_FILE, pooldir);
	if (mkdir(pooldir, 0700) < 0 || mkdir(logdir, 0700) < 0)
		lf_stop("lf_cli: cannot make %s and %s: %m", pooldir, logdir);
	setenv("PAFKA_STORAGE_TIERS_FIRST_PATHS", pooldir, 1);
	setenv("PAFKA_LOG_DIRS", logdir, 1);
	return 0;
}

static void run(const char *a, const char *b, const char *c)
{
	char *argv[8];
	int argc = 0;
	argv[argc++] = (char *)"pafka";
	argv[argc++] = (char *)"--pool";
	argv[argc++] = pooldir;
	argv[argc++] = (char *)a;
	if (b)
		argv[argc++] = (char *)b;
	if (c)
		argv[argc++] = (char *)c;
	argv[argc] = NULL;
	int rc = pafka_cli_main(argc, argv);
	if (rc < 0 || rc > 2)
		lf_stop("lf_cli: 'pafka %s %s %s' exited %d", a, b ? b : "", c ? c : "", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	if (lf_write_pool(poolfile, d, n) < 0)
		return 0;
	run("status", NULL, NULL);
	run("status", "-v", "--json");
	run("status", "--prometheus", NULL);
	run("ls", NULL, NULL);
	run("ls", "--json", NULL);
	run("fsck", NULL, NULL);
	run("fsck", "--json", NULL);
	run("pool", "info", NULL);
	return 0;
}

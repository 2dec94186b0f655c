/*
 * cmd_control.c - `pafka pause` and `pafka resume`: create or remove <pool dir>/pafka.pause, which the
 * running broker's shim polls (migration stops while it exists). Also the helper that drain uses for
 * <pool dir>/pafka.drain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "pool_format.h"

static const char usage_pause[] =
	"usage: pafka pause [--config FILE] [--pool DIR]\n"
	"\n"
	"Pause migration between the pool and the log dirs: creates pafka.pause in each pool directory. The\n"
	"running broker stops starting migrations while it exists (one in progress finishes); writes and reads\n"
	"go on. It persists across broker restarts until 'pafka resume'.\n"
	"\n"
	"options:\n"
	"  --config FILE   settings file (server.properties or PAFKA_CONFIG style)\n"
	"  --pool DIR      the pool directory (instead of storage.tiers.first.paths)\n"
	"  --help          this help\n";

static const char usage_resume[] =
	"usage: pafka resume [--config FILE] [--pool DIR]\n"
	"\n"
	"Resume migration: removes pafka.pause from each pool directory.\n"
	"\n"
	"options:\n"
	"  --config FILE   settings file (server.properties or PAFKA_CONFIG style)\n"
	"  --pool DIR      the pool directory (instead of storage.tiers.first.paths)\n"
	"  --help          this help\n";

int cli_control_set(const char *dir, const char *name, int on, const char *why)
{
	char p[PATH_MAX];
	if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!on) {
		if (unlink(p) < 0)
			return errno == ENOENT ? 0 : -1;
		return 1;
	}
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	char text[256];
	int n = snprintf(text, sizeof text, "%s by pid %d at %lld\n", why, (int)getpid(), (long long)time(NULL));
	int r = write(fd, text, (size_t)n) == n ? 0 : -1;
	int e = errno;
	close(fd);
	if (r < 0) {
		unlink(p);
		errno = e;
		return -1;
	}
	return 1;
}

static int control(struct cli *c, int argc, char **argv, const char *usage, int on)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, { 0, 0, 0, 0 } };
	c->usage = usage;
	optind = 0;
	opterr = 0;
	int ch;
	while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (ch == 'h')
			return cli_help(c);
		int r = cli_other_opt(c, ch, argv);
		if (r != CLI_GO_ON)
			return r;
	}
	if (optind < argc)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind]);
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	int rc = CLI_OK;
	for (int i = 0; i < c->npools; i++) {
		int r = cli_control_set(c->pools[i], PF_PAUSE_FILE, on, "paused with 'pafka pause'");
		if (r < 0) {
			cli_err(c, "cannot %s %s/%s: %s", on ? "create" : "remove", c->pools[i], PF_PAUSE_FILE, strerror(errno));
			rc = CLI_FAIL;
		} else if (on) {
			printf("%s: migration %s (%s/%s); 'pafka resume' ends it\n", c->pools[i],
			       r ? "paused" : "was already paused", c->pools[i], PF_PAUSE_FILE);
		} else {
			printf("%s: migration %s\n", c->pools[i], r ? "resumed" : "was not paused");
		}
	}
	return rc;
}

int cmd_pause(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, usage_pause, 1);
}

int cmd_resume(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, usage_resume, 0);
}

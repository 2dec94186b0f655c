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

static const struct cli_syntax pause_syntax = {
	.usage = "usage: pafka pause [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Pause migration between the pool and the log dirs: creates pafka.pause in each pool directory. The\n"
		 "running broker stops starting migrations while it exists (one in progress finishes); writes and reads\n"
		 "go on. It persists across broker restarts until 'pafka resume'.\n",
};

static const struct cli_syntax resume_syntax = {
	.usage = "usage: pafka resume [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Resume migration: removes pafka.pause from each pool directory.\n",
};

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

static int control(struct cli *c, int argc, char **argv, const struct cli_syntax *syn, int on)
{
	int first, rc = cli_parse(c, syn, argc, argv, NULL, &first);
	if (rc != CLI_GO_ON)
		return rc;
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	rc = CLI_OK;
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
	return control(c, argc, argv, &pause_syntax, 1);
}

int cmd_resume(struct cli *c, int argc, char **argv)
{
	return control(c, argc, argv, &resume_syntax, 0);
}

/*
 * control.c - control files and marker lines (see control.h): the pool-side switches that pause, resume
 * and drain --cancel turn, and the marker lines that drain --unmark and pool destroy remove.
 *
 * Owns: the control files' content and the report of a switch. May call: marker.h, output.c, json.c.
 */
#define _GNU_SOURCE
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "marker.h"
#include "pafka.h"

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

int cli_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;
	return snprintf(p, sizeof p, "%s/%s", dir, name) < (int)sizeof p && lstat(p, &st) == 0;
}

int cli_control_all(struct cli *c, const struct cli_control *what)
{
	struct json j;
	int rc = CLI_OK;
	cli_json_begin(c, &j);
	json_arr(&j, "pools");
	for (int i = 0; i < c->npools; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", c->pools[i], what->file);
		int r = cli_control_set(c->pools[i], what->file, what->on, what->why);
		if (r < 0) {
			cli_err(c, "cannot %s %s: %s", what->on ? "create" : "remove", path, strerror(errno));
			rc = CLI_FAIL;
		} else {
			char text[PATH_MAX + 256];
			snprintf(text, sizeof text, r ? what->changed : what->unchanged, path);
			cli_say(c, "%s: %s", c->pools[i], text);
		}
		json_obj(&j, NULL);
		json_str(&j, "dir", c->pools[i]);
		json_str(&j, "control_file", path);
		json_bool(&j, what->key, r < 0 ? cli_exists(c->pools[i], what->file) : what->on);
		json_bool(&j, "changed", r > 0);
		json_end_obj(&j);
	}
	json_end_arr(&j);
	return cli_json_end(c, &j, rc);
}

int cli_unmark(struct cli *c, const char *uuid, int *updated)
{
	int rc = CLI_OK;
	for (int d = 0; d < c->ndirs; d++) {
		struct pf_marker m;
		updated[d] = 0;
		if (pf_marker_read(c->dirs[d], &m) <= 0)
			continue;
		if (pf_marker_remove(&m, uuid) > 0) {
			if (pf_marker_write(c->dirs[d], &m) < 0) {
				cli_err(c, "cannot update %s/%s: %s; remove the line of uuid %s by hand", c->dirs[d],
					PAFKA_MARKER_FILE, strerror(errno), uuid);
				rc = CLI_FAIL;
			} else {
				updated[d] = 1;
			}
		}
		pf_marker_free(&m);
	}
	return rc;
}

void cli_json_unmarked(struct json *j, const struct cli *c, const int *updated)
{
	json_arr(j, "unmarked");
	for (int d = 0; d < c->ndirs; d++)
		if (updated[d]) {
			char m[PATH_MAX];
			snprintf(m, sizeof m, "%s/%s", c->dirs[d], PAFKA_MARKER_FILE);
			json_str(j, NULL, m);
		}
	json_end_arr(j);
}

/*
 * marker.c - reading and atomically rewriting a log dir's .pafka-pools marker (see marker.h).
 */
#define _GNU_SOURCE
#include "marker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pafka.h"
#include "real.h"

static int is_hex32(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int cli_marker_add(struct cli_marker *m, const char *uuid, const char *path)
{
	char(*u)[33] = realloc(m->uuid, (size_t)(m->n + 1) * sizeof *u);
	if (!u)
		return -1;
	m->uuid = u;
	char **p = realloc(m->path, (size_t)(m->n + 1) * sizeof *p);
	if (!p)
		return -1;
	m->path = p;
	char *dup = strdup(path);
	if (!dup)
		return -1;
	snprintf(m->uuid[m->n], 33, "%s", uuid);
	m->path[m->n] = dup;
	m->n++;
	return 0;
}

int cli_marker_read(const char *dir, struct cli_marker *m)
{
	memset(m, 0, sizeof *m);
	char mp[PATH_MAX], *buf;
	size_t len;
	snprintf(mp, sizeof mp, "%s/%s", dir, PAFKA_MARKER_FILE);
	if (pf_read_whole_file(mp, &buf, &len) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strlen(line) < 34 || line[32] != ' ' || !is_hex32(line) || line[33] != '/') {
			m->malformed++;
			continue;
		}
		line[32] = '\0';
		if (cli_marker_add(m, line, line + 33) < 0) {
			free(buf);
			cli_marker_free(m);
			errno = ENOMEM;
			return -1;
		}
	}
	free(buf);
	return 1;
}

void cli_marker_free(struct cli_marker *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->path[i]);
	free(m->path);
	free(m->uuid);
	memset(m, 0, sizeof *m);
}

int cli_marker_remove(struct cli_marker *m, const char *uuid)
{
	int removed = 0, w = 0;
	for (int i = 0; i < m->n; i++) {
		if (!strcmp(m->uuid[i], uuid)) {
			free(m->path[i]);
			removed++;
			continue;
		}
		if (w != i) {
			memcpy(m->uuid[w], m->uuid[i], 33);
			m->path[w] = m->path[i];
		}
		w++;
	}
	m->n = w;
	return removed;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

int cli_marker_write(const char *dir, const struct cli_marker *m)
{
	char mp[PATH_MAX], tmp[PATH_MAX];
	snprintf(mp, sizeof mp, "%s/%s", dir, PAFKA_MARKER_FILE);
	if (m->n == 0) {
		if (unlink(mp) < 0 && errno != ENOENT)
			return -1;
		return fsync_dir(dir);
	}
	snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, PAFKA_MARKER_FILE);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = errno;
		close(fd);
		unlink(tmp);
		errno = e;
		return -1;
	}
	for (int i = 0; i < m->n; i++)
		fprintf(f, "%s %s\n", m->uuid[i], m->path[i]);
	if (fflush(f) != 0 || fsync(fd) < 0) {
		int e = errno;
		fclose(f);
		unlink(tmp);
		errno = e;
		return -1;
	}
	if (fclose(f) != 0 || rename(tmp, mp) < 0) {
		int e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return fsync_dir(dir);
}

/*
 * marker.c - reading, parsing and atomically rewriting a log dir's .pafka-pools marker (see marker.h).
 *
 * Owns: the marker format. May call: sys.h, real.h.
 */
#define _GNU_SOURCE
#include "marker.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real.h"
#include "sys.h"

static int is_hex32(const char *s)
{
	for (int i = 0; i < 32; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

void pf_uuid_str(const uint8_t uuid[16], char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[uuid[i] >> 4];
		out[2 * i + 1] = hex[uuid[i] & 15];
	}
	out[32] = '\0';
}

int pf_marker_add(struct pf_marker *m, const char *uuid, const char *path)
{
	struct pf_marker_line *l = realloc(m->line, (size_t)(m->n + 1) * sizeof *l);
	if (!l)
		return -1;
	m->line = l;
	char *dup = strdup(path);
	if (!dup)
		return -1;
	snprintf(l[m->n].uuid, sizeof l[m->n].uuid, "%s", uuid);
	l[m->n].path = dup;
	m->n++;
	return 0;
}

int pf_marker_parse(const char *text, size_t len, struct pf_marker *m)
{
	memset(m, 0, sizeof *m);
	for (size_t i = 0; i < len;) {
		const char *line = text + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + (nl != NULL);
		if (n == 0)
			continue;
		if (n < 34 || n >= PATH_MAX + 33 || line[32] != ' ' || !is_hex32(line) || line[33] != '/' ||
		    memchr(line, '\0', n)) {
			m->malformed++;
			continue;
		}
		char uuid[33], path[PATH_MAX];
		memcpy(uuid, line, 32);
		uuid[32] = '\0';
		memcpy(path, line + 33, n - 33);
		path[n - 33] = '\0';
		if (pf_marker_add(m, uuid, path) < 0) {
			pf_marker_free(m);
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

/* A marker is a few lines; anything much bigger is not one. */
#define MARKER_MAX_BYTES (1 << 20)

int pf_marker_read(const char *dir, struct pf_marker *m)
{
	memset(m, 0, sizeof *m);
	char mp[PATH_MAX];
	if (snprintf(mp, sizeof mp, "%s/%s", dir, PAFKA_MARKER_FILE) >= (int)sizeof mp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int fd = REAL(open)(mp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	struct stat st;
	char *buf = NULL;
	int r = -1;
	if (REAL(fstat)(fd, &st) < 0)
		goto out;
	if (!S_ISREG(st.st_mode) || st.st_size > MARKER_MAX_BYTES) {
		errno = EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto out;
	size_t len = 0;
	while (len < (size_t)st.st_size) {
		ssize_t k = REAL(read)(fd, buf + len, (size_t)st.st_size - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	r = pf_marker_parse(buf, len, m) < 0 ? -1 : 1;
	m->owner = st.st_uid;
	m->mode = st.st_mode;
out:;
	int e = errno;
	free(buf);
	REAL(close)(fd);
	errno = e;
	return r;
}

int pf_marker_trusted(const struct pf_marker *m, uid_t euid)
{
	return (m->owner == euid || euid == 0) && !(m->mode & (S_IWGRP | S_IWOTH));
}

void pf_marker_free(struct pf_marker *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->line[i].path);
	free(m->line);
	memset(m, 0, sizeof *m);
}

int pf_marker_remove(struct pf_marker *m, const char *uuid)
{
	int removed = 0, w = 0;
	for (int i = 0; i < m->n; i++) {
		if (!strcmp(m->line[i].uuid, uuid)) {
			free(m->line[i].path);
			removed++;
			continue;
		}
		m->line[w++] = m->line[i];
	}
	m->n = w;
	return removed;
}

int pf_marker_has(const struct pf_marker *m, const char *uuid)
{
	for (int i = 0; i < m->n; i++)
		if (!strcmp(m->line[i].uuid, uuid))
			return 1;
	return 0;
}

/* The marker's text for m: malloc'd, length in *len. */
static char *render(const struct pf_marker *m, size_t *len)
{
	size_t need = 1;
	for (int i = 0; i < m->n; i++)
		need += 34 + strlen(m->line[i].path);
	char *t = malloc(need);
	if (!t)
		return NULL;
	size_t n = 0;
	for (int i = 0; i < m->n; i++)
		n += (size_t)snprintf(t + n, need - n, "%s %s\n", m->line[i].uuid, m->line[i].path);
	*len = n;
	return t;
}

int pf_marker_write(const char *dir, const struct pf_marker *m)
{
	char mp[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(mp, sizeof mp, "%s/%s", dir, PAFKA_MARKER_FILE) >= (int)sizeof mp ||
	    snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, PAFKA_MARKER_FILE) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (m->n == 0) {
		if (REAL(unlink)(mp) < 0) {
			if (errno == ENOENT)
				return 0;
			return -1;
		}
		return pf_fsync_dir(dir);
	}
	size_t len = 0;
	char *text = render(m, &len);
	if (!text) {
		errno = ENOMEM;
		return -1;
	}
	char *old = NULL;
	size_t oldlen = 0;
	if (pf_read_whole_file(mp, &old, &oldlen) == 0 && oldlen == len && !memcmp(old, text, len)) {
		free(old);
		free(text);
		return 0; /* already says exactly this */
	}
	free(old);
	/* a new file of our own (never one someone else left under that name), renamed over the marker */
	if (REAL(unlink)(tmp) < 0 && errno != ENOENT)
		return -1;
	int fd = REAL(open)(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	int r = -1;
	if (fd >= 0 && pf_write_all(fd, text, len) == 0 && REAL(fsync)(fd) == 0) {
		REAL(close)(fd);
		fd = -1;
		if (REAL(rename)(tmp, mp) == 0)
			r = pf_fsync_dir(dir);
	}
	int e = errno;
	if (fd >= 0)
		REAL(close)(fd);
	if (r < 0)
		REAL(unlink)(tmp);
	free(text);
	errno = e;
	return r;
}

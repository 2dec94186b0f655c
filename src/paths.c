/*
 * paths.c - the managed-path decision (see paths.h). The default pattern has a hand-written matcher, so
 * the usual case never calls regexec; a custom pafka.segment.pattern is compiled once with regcomp.
 *
 * Owns: the pattern and the list of managed directories. May call: config.h, log.h, real.h.
 */
#define _GNU_SOURCE
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "real.h"

static int use_regex;
static regex_t pattern_re;
static int ndirs;
static char *dirs[PF_MAX_PATHS * 2]; /* configured paths and, where different, their realpath() */
static size_t dirlens[PF_MAX_PATHS * 2];
static int dirslot[PF_MAX_PATHS * 2]; /* the position of the configured log dir each entry names */
static int nslots;                    /* configured log dirs */

static int default_match(const char *n)
{
	static const struct {
		const char *s;
		size_t n;
	} kinds[] = { { ".log", 4 }, { ".index", 6 }, { ".timeindex", 10 } };
	for (int i = 0; i < 20; i++)
		if (n[i] < '0' || n[i] > '9')
			return 0;
	const char *s = NULL;
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && !s; k++)
		if (!strncmp(n + 20, kinds[k].s, kinds[k].n))
			s = n + 20 + kinds[k].n;
	return s && (*s == '\0' || !strcmp(s, ".cleaned") || !strcmp(s, ".swap") || !strcmp(s, ".deleted"));
}

int pf_name_matches(const char *name)
{
	if (!use_regex)
		return default_match(name);
	return regexec(&pattern_re, name, 0, NULL, 0) == 0;
}

int pf_path_name_matches(const char *path)
{
	if (use_regex)
		return pf_name_matches(pf_basename(path));
	size_t n = strlen(path);
	/* The last byte alone turns away almost every other name (this runs on every open of the process):
	 * ".log" ends in 'g', ".index" and ".timeindex" (and ".txnindex") in 'x', ".swap" in 'p', ".deleted" and
	 * ".cleaned" in 'd'. */
	switch (n ? path[n - 1] : '\0') {
	case 'g':
	case 'x':
	case 'p':
	case 'd':
		break;
	default:
		return 0;
	}
	const char *b = pf_basename(path);
	return strlen(b) >= 24 && default_match(b);
}

const char *pf_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Lexical normalisation in place of an absolute path. */
static void normalise(char *p)
{
	char *out = p;
	const char *in = p;
	while (*in) {
		while (*in == '/')
			in++;
		if (!*in)
			break;
		const char *end = strchrnul(in, '/');
		size_t n = (size_t)(end - in);
		if (n == 1 && in[0] == '.') {
			/* skip */
		} else if (n == 2 && in[0] == '.' && in[1] == '.') {
			while (out > p && *--out != '/')
				;
		} else {
			*out++ = '/';
			memmove(out, in, n);
			out += n;
		}
		in = end;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

int pf_path_absolute(int dirfd, const char *path, char *out, size_t outlen)
{
	size_t plen = strlen(path);
	if (path[0] == '/') {
		if (plen >= outlen)
			return -1;
		memcpy(out, path, plen + 1);
	} else {
		char base[PATH_MAX];
		if (dirfd == AT_FDCWD) {
			int e = errno;
			if (!getcwd(base, sizeof base)) {
				errno = e;
				return -1;
			}
		} else {
			char link[64];
			snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
			ssize_t n = readlink(link, base, sizeof base - 1);
			if (n <= 0)
				return -1;
			base[n] = '\0';
		}
		size_t blen = strlen(base);
		if (blen + 1 + plen >= outlen)
			return -1;
		memcpy(out, base, blen);
		out[blen] = '/';
		memcpy(out + blen + 1, path, plen + 1);
	}
	normalise(out);
	return 0;
}

/* The entry of dirs[] containing abspath at partition depth, or -1. */
static int logdir_entry(const char *abspath)
{
	const char *name = strrchr(abspath, '/');
	if (!name || name == abspath)
		return -1;
	/* the partition directory component ends at name; find its start */
	const char *part = name - 1;
	while (part > abspath && *part != '/')
		part--;
	if (*part != '/' || part + 1 == name)
		return -1;
	size_t dlen = (size_t)(part - abspath); /* length of the log dir prefix */
	if (dlen == 0)
		dlen = 1; /* log dir "/" */
	for (int i = 0; i < ndirs; i++)
		if (dirlens[i] == dlen && !memcmp(dirs[i], abspath, dlen))
			return i;
	return -1;
}

const char *pf_path_logdir(const char *abspath)
{
	int i = logdir_entry(abspath);
	return i >= 0 ? dirs[i] : NULL;
}

int pf_path_logdir_slot(const char *abspath)
{
	int i = logdir_entry(abspath);
	return i >= 0 ? dirslot[i] : -1;
}

int pf_path_in_managed_dir(const char *abspath)
{
	return pf_path_logdir(abspath) != NULL;
}

int pf_path_under_managed_dir(const char *abs)
{
	for (int i = 0; i < ndirs; i++)
		if (!strncmp(abs, dirs[i], dirlens[i]) && abs[dirlens[i]] == '/' && abs[dirlens[i] + 1])
			return 1;
	return 0;
}

int pf_path_managed(const char *abspath)
{
	return pf_name_matches(pf_basename(abspath)) && pf_path_in_managed_dir(abspath);
}

static int add_dir(const char *d, int slot)
{
	for (int i = 0; i < ndirs; i++)
		if (!strcmp(dirs[i], d))
			return 0;
	if (ndirs >= PF_MAX_PATHS * 2)
		return 0;
	dirs[ndirs] = strdup(d);
	if (!dirs[ndirs])
		return -1;
	dirlens[ndirs] = strlen(d);
	dirslot[ndirs] = slot;
	ndirs++;
	return 0;
}

int pf_paths_init(const struct pf_config *cfg, struct pf_err *err)
{
	pf_paths_fini();
	const char *pat = cfg->segment_pattern ? cfg->segment_pattern : PF_DEFAULT_PATTERN;
	if (strcmp(pat, PF_DEFAULT_PATTERN) != 0) {
		if (regcomp(&pattern_re, pat, REG_EXTENDED | REG_NOSUB) != 0) {
			pf_err_set(err, "invalid pafka.segment.pattern '%s': not a POSIX extended regex", pat);
			return -1;
		}
		use_regex = 1;
	}
	const struct pf_paths *src = cfg->second_paths.n ? &cfg->second_paths : &cfg->log_dirs;
	nslots = src->n;
	for (int i = 0; i < src->n; i++) {
		char abs[PATH_MAX];
		if (pf_path_absolute(AT_FDCWD, src->v[i], abs, sizeof abs) < 0) {
			pf_err_set(err, "log directory '%s' is not a usable path", src->v[i]);
			return -1;
		}
		if (add_dir(abs, i) < 0)
			return -1;
		/* The JVM may reach the same directory through its resolved name. */
		char real[PATH_MAX];
		int e = errno;
		if (realpath(abs, real))
			add_dir(real, i);
		errno = e;
	}
	return 0;
}

void pf_paths_fini(void)
{
	if (use_regex)
		regfree(&pattern_re);
	use_regex = 0;
	for (int i = 0; i < ndirs; i++)
		free(dirs[i]);
	ndirs = 0;
	nslots = 0;
}

int pf_paths_ndirs(void)
{
	return ndirs;
}

const char *pf_paths_dir(int i)
{
	return i >= 0 && i < ndirs ? dirs[i] : NULL;
}

int pf_paths_dir_slot(int i)
{
	return i >= 0 && i < ndirs ? dirslot[i] : -1;
}

int pf_paths_nslots(void)
{
	return nslots;
}

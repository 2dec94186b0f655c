/*
 * setup.c - resolving the configuration into pool directories and managed log dirs, for every command.
 *
 * Owns: struct cli's configuration part (cfg, pools, dirs). May call: config.h, paths.h, marker.h, pool.h
 * (reading record path hints), view.c (a record's path hint), log.h, output.c (messages).
 *
 * Pools, first found wins: --pool DIR; storage.tiers.first.paths; the pools named by the managed log dirs'
 * .pafka-pools markers (so a broker switched to log.channel.type=file can still be drained). Log dirs:
 * storage.tiers.second.paths, else log.dirs (as the shim decides), each directory once; with none
 * configured, the log dirs are derived from the pools' record path hints (<logdir>/<partition>/<file>)
 * and marked as not configured, so nothing that needs the complete set (fsck freeing records) relies on
 * them.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "marker.h"
#include "paths.h"
#include "pool.h"
#include "view.h"

extern char **environ;

static int add_unique(char **v, int *n, int max, const char *s)
{
	for (int i = 0; i < *n; i++)
		if (!strcmp(v[i], s))
			return 0;
	if (*n == max)
		return 0;
	if (!(v[*n] = strdup(s)))
		return -1;
	(*n)++;
	return 0;
}

/* The configured managed dirs (pf_paths lists each one and its realpath): keep each directory once. */
static int collect_dirs(struct cli *c)
{
	struct stat seen[PF_MAX_PATHS * 2];
	int nseen = 0;
	for (int i = 0; i < pf_paths_ndirs(); i++) {
		const char *d = pf_paths_dir(i);
		struct stat st;
		if (stat(d, &st) == 0) {
			int dup = 0;
			for (int k = 0; k < nseen && !dup; k++)
				dup = seen[k].st_dev == st.st_dev && seen[k].st_ino == st.st_ino;
			if (dup)
				continue;
			seen[nseen++] = st;
		}
		if (add_unique(c->dirs, &c->ndirs, PF_MAX_PATHS * 2, d) < 0)
			return -1;
	}
	c->dirs_configured = c->ndirs > 0;
	return 0;
}

/* No pool configured: the pools the log dirs' markers name. */
static int pools_from_markers(struct cli *c)
{
	for (int d = 0; d < c->ndirs; d++) {
		struct pf_marker m;
		if (pf_marker_read(c->dirs[d], &m) <= 0)
			continue;
		for (int i = 0; i < m.n; i++) {
			char *dir = strdup(m.line[i].path);
			if (!dir) {
				pf_marker_free(&m);
				return -1;
			}
			char *slash = strrchr(dir, '/');
			if (slash && slash != dir)
				*slash = '\0';
			int r = add_unique(c->pools, &c->npools, PF_MAX_PATHS, dir);
			free(dir);
			if (r < 0) {
				pf_marker_free(&m);
				return -1;
			}
		}
		pf_marker_free(&m);
	}
	c->pools_from_markers = c->npools > 0;
	return 0;
}

/* No log dir configured: <logdir> of each readable record path hint <logdir>/<partition>/<file>. */
static int dirs_from_hints(struct cli *c)
{
	for (int i = 0; i < c->npools; i++) {
		struct pf_pool p;
		struct pf_err err = { "" };
		if (pf_pool_open(&p, i, c->pools[i], 0, 1, 4096, PF_POOL_RDONLY, &err) < 0)
			continue;
		for (uint64_t r = 0; r < p.nrecords; r++) {
			char path[PF_PATH_MAX_REC + 1];
			if (pf_pool_rec_state(&p, (uint32_t)r) != PF_REC_LIVE || pf_pool_rec_path_at(&p, (uint32_t)r, path) <= 0 ||
			    path[0] != '/')
				continue;
			char *s = strrchr(path, '/');
			if (!s || s == path)
				continue;
			*s = '\0';
			s = strrchr(path, '/');
			if (!s || s == path)
				continue;
			*s = '\0';
			struct stat st;
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
			    add_unique(c->dirs, &c->ndirs, PF_MAX_PATHS * 2, path) < 0) {
				pf_pool_close(&p);
				return -1;
			}
		}
		pf_pool_close(&p);
	}
	return 0;
}

int cli_setup(struct cli *c, int need_pools)
{
	/* The library's own log lines (pool creation, warnings) would duplicate ours. */
	pf_log_set_level(PF_LOG_ERROR);
	char *cmdline = NULL;
	size_t cmdlen = 0;
	if (c->config_file) {
		if (access(c->config_file, R_OK) < 0) {
			cli_err(c, "cannot read --config file '%s': %s; give a readable server.properties or PAFKA_CONFIG-style file",
				c->config_file, strerror(errno));
			return -1;
		}
		/* Read it as the broker's own server.properties: the lowest source, under PAFKA_CONFIG and PAFKA_*. */
		cmdlen = strlen("kafka.Kafka") + 1 + strlen(c->config_file) + 1;
		cmdline = malloc(cmdlen);
		if (!cmdline)
			return cli_err(c, "out of memory"), -1;
		memcpy(cmdline, "kafka.Kafka", 12);
		memcpy(cmdline + 12, c->config_file, strlen(c->config_file) + 1);
	}
	/* --pool stands in for storage.tiers.first.paths, so a channel needing it validates. */
	size_t nenv = 0;
	while (environ && environ[nenv])
		nenv++;
	char **env = calloc(nenv + 2, sizeof *env);
	char *poolvar = NULL;
	if (!env) {
		free(cmdline);
		return cli_err(c, "out of memory"), -1;
	}
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++)
		if (!c->npool_opt || strncmp(environ[i], "PAFKA_STORAGE_TIERS_FIRST_PATHS=", 32))
			env[k++] = environ[i];
	if (c->npool_opt) {
		size_t len = 40;
		for (int i = 0; i < c->npool_opt; i++)
			len += strlen(c->pool_opt[i]) + 1;
		poolvar = malloc(len);
		if (!poolvar) {
			free(env);
			free(cmdline);
			return cli_err(c, "out of memory"), -1;
		}
		strcpy(poolvar, "PAFKA_STORAGE_TIERS_FIRST_PATHS=");
		for (int i = 0; i < c->npool_opt; i++) {
			if (i)
				strcat(poolvar, ",");
			strcat(poolvar, c->pool_opt[i]);
		}
		env[k++] = poolvar;
	}
	env[k] = NULL;
	struct pf_err err = { "" };
	int r = pf_config_load(&c->cfg, env, cmdline, cmdlen, &err);
	c->cfg_loaded = 1;
	free(poolvar);
	free(env);
	free(cmdline);
	if (r < 0) {
		const char *e = err.msg;
		if (!strncmp(e, "pafka: ", 7))
			e += 7;
		cli_err(c, "%s", e);
		return -1;
	}
	if (pf_paths_init(&c->cfg, &err) < 0) {
		cli_err(c, "%s", err.msg);
		return -1;
	}
	if (collect_dirs(c) < 0)
		return cli_err(c, "out of memory"), -1;
	for (int i = 0; i < c->cfg.first_paths.n; i++)
		if (add_unique(c->pools, &c->npools, PF_MAX_PATHS, c->cfg.first_paths.v[i]) < 0)
			return cli_err(c, "out of memory"), -1;
	if (c->npools == 0 && pools_from_markers(c) < 0)
		return cli_err(c, "out of memory"), -1;
	if (c->npools == 0 && need_pools) {
		cli_err(c, "no pool configured: give --pool DIR or --config FILE (a server.properties or PAFKA_CONFIG "
			   "file), or set PAFKA_STORAGE_TIERS_FIRST_PATHS");
		return -1;
	}
	if (c->ndirs == 0 && dirs_from_hints(c) < 0)
		return cli_err(c, "out of memory"), -1;
	return 0;
}

void cli_teardown(struct cli *c)
{
	for (int i = 0; i < c->npool_opt; i++)
		free(c->pool_opt[i]);
	for (int i = 0; i < c->npools; i++)
		free(c->pools[i]);
	for (int i = 0; i < c->ndirs; i++)
		free(c->dirs[i]);
	for (size_t i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	free(c->errors);
	c->errors = NULL;
	c->nerrors = 0;
	c->npool_opt = c->npools = c->ndirs = 0;
	if (c->cfg_loaded)
		pf_config_free(&c->cfg);
	c->cfg_loaded = 0;
	pf_paths_fini();
}

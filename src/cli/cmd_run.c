/*
 * cmd_run.c - `pafka run [--config FILE] [--] CMD [ARGS...]`: exec CMD with libpafka.so first in
 * LD_PRELOAD (in the style of eatmydata and numactl). The library: $PAFKA_LIB, else the one installed in
 * $(libdir), else the build tree's .libs/libpafka.so next to this program. It has no --json: it replaces
 * itself with CMD and reports nothing of its own.
 *
 * Owns: finding the library and preparing the environment. May call: opts.c, output.c, setup.c
 * (teardown before exec), paths.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "paths.h"

#ifndef PAFKA_LIBDIR
#define PAFKA_LIBDIR "/usr/local/lib"
#endif

static const struct cli_syntax syntax = {
	.usage = "usage: pafka run [--config FILE] [--] CMD [ARGS...]\n"
		 "\n"
		 "Run CMD (for example bin/kafka-server-start.sh config/server.properties) with libpafka.so preloaded:\n"
		 "LD_PRELOAD gets the library in front of what it already holds, and with --config, PAFKA_CONFIG names\n"
		 "FILE. Everything else (PAFKA_* variables) is passed on as it is.\n",
	.operands = CLI_ANY,
	.no_pool = "--pool is not used by 'run': the shim takes its pools from storage.tiers.first.paths "
		   "(PAFKA_STORAGE_TIERS_FIRST_PATHS or --config)",
	.tail = "The library is $PAFKA_LIB if set, else " PAFKA_LIBDIR "/libpafka.so, else .libs/libpafka.so next to\n"
		"the pafka program (a build tree). Exit status: CMD's own (pafka execs it); 126 or 127 when CMD cannot\n"
		"be run; 1 when the library is missing; 2 on a usage error. No --json: run reports nothing itself.\n",
};

/* The library to preload, into out. Returns 0, or -1 with a message printed. */
static int find_lib(struct cli *c, char *out, size_t n)
{
	const char *env = getenv("PAFKA_LIB");
	if (env && *env) {
		if (access(env, R_OK) < 0) {
			cli_err(c, "PAFKA_LIB names %s, which cannot be read: %s; fix or unset PAFKA_LIB", env, strerror(errno));
			return -1;
		}
		if (pf_path_absolute(AT_FDCWD, env, out, n) < 0)
			snprintf(out, n, "%s", env);
		return 0;
	}
	snprintf(out, n, "%s/libpafka.so", PAFKA_LIBDIR);
	if (access(out, R_OK) == 0)
		return 0;
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len > 0) {
		self[len] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(out, n, "%s/.libs/libpafka.so", self) < (int)n && access(out, R_OK) == 0)
				return 0;
		}
	}
	cli_err(c, "libpafka.so not found in %s nor next to this program: install libpafka or set PAFKA_LIB to the library",
		PAFKA_LIBDIR);
	return -1;
}

/* Is lib already one of the entries of the LD_PRELOAD list (separated by spaces or colons)? */
static int preload_has(const char *list, const char *lib)
{
	size_t n = strlen(lib);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, " :");
		if (k == n && !strncmp(p, lib, n))
			return 1;
		p += k;
		p += strspn(p, " :");
	}
	return 0;
}

int cmd_run(struct cli *c, int argc, char **argv)
{
	int first, r = cli_parse(c, &syntax, argc, argv, NULL, &first);
	if (r != CLI_GO_ON)
		return r;
	if (first >= argc)
		return cli_usage_error(c, "no command given to run");
	char lib[PATH_MAX];
	if (find_lib(c, lib, sizeof lib) < 0)
		return CLI_FAIL;
	const char *old = getenv("LD_PRELOAD");
	if (!old || !preload_has(old, lib)) {
		size_t n = strlen(lib) + (old ? strlen(old) + 1 : 0) + 1;
		char *v = malloc(n);
		if (!v) {
			cli_err(c, "out of memory");
			return CLI_FAIL;
		}
		snprintf(v, n, "%s%s%s", lib, old && *old ? " " : "", old ? old : "");
		int r = setenv("LD_PRELOAD", v, 1);
		free(v);
		if (r < 0) {
			cli_err(c, "cannot set LD_PRELOAD: %s", strerror(errno));
			return CLI_FAIL;
		}
	}
	if (c->config_file) {
		char abs[PATH_MAX];
		if (access(c->config_file, R_OK) < 0) {
			cli_err(c, "cannot read --config file '%s': %s", c->config_file, strerror(errno));
			return CLI_FAIL;
		}
		if (pf_path_absolute(AT_FDCWD, c->config_file, abs, sizeof abs) < 0 || setenv("PAFKA_CONFIG", abs, 1) < 0) {
			cli_err(c, "cannot set PAFKA_CONFIG to '%s'", c->config_file);
			return CLI_FAIL;
		}
	}
	fflush(NULL);
	cli_teardown(c);
	execvp(argv[first], argv + first);
	int e = errno;
	cli_err(c, "cannot run '%s': %s", argv[first], strerror(e));
	return e == ENOENT ? 127 : 126;
}

/*
 * shim.c - configuration loading, activation, the library constructor and destructor, and descriptors
 * inherited across exec (see shim.h).
 *
 * Activation refuses rather than guesses: every pool a log dir's marker (marker.h) names must be among
 * the open pools, and log.channel.type=file may pass through only when no such pool holds file data.
 *
 * A setuid or setgid process (AT_SECURE) never leaves PASSTHROUGH: it reads neither its environment's
 * settings nor any file they name.
 *
 * Owns: pf_state, the configuration, shim_lock. May call: tier.h, file.h, migrate.h, house.h, metrics.h,
 * marker.h, paths.h, fdtab.h, config.h, fault.h, log.h, sys.h, real.h.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fail.h"
#include "fault.h"
#include "fdtab.h"
#include "file.h"
#include "house.h"
#include "log.h"
#include "marker.h"
#include "metrics.h"
#include "migrate.h"
#include "paths.h"
#include "sys.h"
#include "tier.h"

int pf_state;
static struct pf_config cfg;
static char deferred_error[PF_ERR_LEN];
static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;

extern char **environ;

void pf_shim_configure(void)
{
	if (pf_shim_state() >= PF_ST_CONFIGURED)
		return;
	pthread_mutex_lock(&shim_lock);
	if (pf_state == PF_ST_NEW && (getauxval(AT_SECURE) || dlsym(RTLD_DEFAULT, "pafka_shim_inert"))) {
		/* A setuid or setgid program: its environment and files named in it belong to whoever started
		 * it. Inert, before reading either. The pafka command (which exports pafka_shim_inert) works on
		 * the pools and segment files itself, also under an injected LD_PRELOAD: inert too. */
		__atomic_store_n(&pf_state, PF_ST_PASSTHROUGH, __ATOMIC_RELEASE);
	} else if (pf_state == PF_ST_NEW) {
		char *cmd = NULL;
		size_t len = 0;
		if (pf_read_whole_file("/proc/self/cmdline", &cmd, &len) < 0)
			cmd = NULL;
		struct pf_err err = { "" };
		if (pf_config_load(&cfg, environ, cmd, len, &err) < 0)
			snprintf(deferred_error, sizeof deferred_error, "%s", err.msg);
		free(cmd);
		pf_log_set_level(cfg.log_level);
		pf_fault_init();
		struct pf_err ferr = { "" };
		if (pf_fail_init(getenv("PAFKA_FAIL"), &ferr) < 0 && !deferred_error[0])
			snprintf(deferred_error, sizeof deferred_error, "%s", ferr.msg);
		struct pf_err perr = { "" };
		if (pf_paths_init(&cfg, &perr) < 0 && !deferred_error[0])
			snprintf(deferred_error, sizeof deferred_error, "%s", perr.msg);
		__atomic_store_n(&pf_state, PF_ST_CONFIGURED, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&shim_lock);
}

/* The marker of log dir d, or die: a marker that exists but cannot be read, or that another user could
 * have planted, must not be ignored. */
static void read_marker_or_die(int d, struct pf_marker *m)
{
	int r = pf_marker_read(pf_paths_dir(d), m);
	if (r < 0)
		pf_die("cannot read %s/%s: %s", pf_paths_dir(d), PAFKA_MARKER_FILE, strerror(errno));
	if (r > 0 && !pf_marker_trusted(m, geteuid()))
		pf_die("%s/%s is owned by uid %u with mode %04o: another user could have written it; check its "
		       "contents, then make it owned by uid %u and writable only by it (chown, chmod 0644)",
		       pf_paths_dir(d), PAFKA_MARKER_FILE, (unsigned)m->owner, (unsigned)(m->mode & 07777),
		       (unsigned)geteuid());
}

/* Passing through (log.channel.type=file, or a controller-only process; why says which) is only safe if no
 * pool named by a marker holds file data. */
static void check_passthrough(const char *why)
{
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		struct pf_marker m;
		read_marker_or_die(d, &m);
		for (int i = 0; i < m.n; i++) {
			const char *pool_path = m.line[i].path;
			char dir[PATH_MAX];
			snprintf(dir, sizeof dir, "%s", pool_path);
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			struct pf_pool p;
			struct pf_err err = { "" };
			if (pf_pool_open(&p, 0, dir, 0, 1, PF_BLOCK_SIZE_MIN, 1, &err) < 0)
				pf_die("%s, but log dir %s was served from pool %s, which cannot be "
				       "checked (%s): run with log.channel.type=pmem or tiered, or drain it first",
				       why, pf_paths_dir(d), pool_path, err.msg);
			uint64_t live, used;
			pf_pool_usage(&p, &live, &used);
			pf_pool_close(&p);
			if (used > 0)
				pf_die("%s, but pool %s still holds %llu blocks of %llu segment files "
				       "from %s: passing through would read zeros. Run with log.channel.type=pmem or "
				       "tiered, or 'pafka drain' first",
				       why, pool_path, (unsigned long long)used, (unsigned long long)live, pf_paths_dir(d));
		}
		pf_marker_free(&m);
	}
}

/* Log dir d's marker line i names a pool that is missing, or was replaced: stop. */
static void die_marker_pool(int d, const struct pf_marker_line *l)
{
	pf_die("log dir %s holds segments whose bytes live in pool %s (uuid %s), which is not among "
	       "storage.tiers.first.paths or was replaced: restore that pool or point storage.tiers.first.paths "
	       "at it; starting would lose those bytes",
	       pf_paths_dir(d), l->path, l->uuid);
}

/* May activation create the pool file at path if it is missing? Not when a log dir's marker names it: a
 * missing pool that held segment bytes is an error, never an empty new one (die_missing_pool says so). */
static int may_create_pool(const char *path)
{
	int named = 0;
	for (int d = 0; d < pf_paths_ndirs() && !named; d++) {
		struct pf_marker m;
		read_marker_or_die(d, &m);
		for (int i = 0; i < m.n && !named; i++)
			named = !strcmp(m.line[i].path, path);
		pf_marker_free(&m);
	}
	return !named;
}

/* A pool a marker names is missing (opening it without creating failed with ENOENT): stop with the
 * marker's message, before anything was created. */
static void die_missing_pool(void)
{
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		struct pf_marker m;
		read_marker_or_die(d, &m);
		for (int i = 0; i < m.n; i++) {
			struct stat st;
			if (REAL(lstat)(m.line[i].path, &st) < 0 && errno == ENOENT)
				die_marker_pool(d, &m.line[i]);
		}
		pf_marker_free(&m);
	}
}

/* Every pool a log dir was served from must be open now. */
static void check_markers(void)
{
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		struct pf_marker m;
		read_marker_or_die(d, &m);
		for (int i = 0; i < m.n; i++) {
			int found = 0;
			for (int k = 0; k < pf_tier_npools() && !found; k++) {
				char u[33];
				pf_uuid_str(pf_tier_pool(k)->hdr->uuid, u);
				found = !strcmp(u, m.line[i].uuid);
			}
			if (!found)
				die_marker_pool(d, &m.line[i]);
		}
		pf_marker_free(&m);
	}
}

/* Name, in the marker of each writable log dir, the pools that serve it (tier.h) and keep every open pool
 * its marker already names (it may still hold bytes of that dir's segments, written when the pairing of
 * pools and dirs was another; only drain and pool destroy take a line away). */
static void write_markers(void)
{
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		if (access(pf_paths_dir(d), W_OK) != 0)
			continue;
		struct pf_marker old, m = { 0 };
		read_marker_or_die(d, &old);
		for (int i = 0; i < pf_tier_npools(); i++) {
			char u[33];
			pf_uuid_str(pf_tier_pool(i)->hdr->uuid, u);
			if ((pf_tier_serves(i, pf_paths_dir_slot(d)) || pf_marker_has(&old, u)) &&
			    pf_marker_add(&m, u, pf_tier_pool(i)->path) < 0)
				pf_die("out of memory writing the log dirs' markers");
		}
		if (pf_marker_write(pf_paths_dir(d), &m) < 0)
			pf_die("cannot write %s/%s: %s (the log dir must be writable)", pf_paths_dir(d), PAFKA_MARKER_FILE,
			       strerror(errno));
		pf_marker_free(&old);
		pf_marker_free(&m);
	}
}

/* Load every pool's records into the file table; returns the files and blocks recovered. */
static void load_pools(uint64_t *files, uint64_t *blocks)
{
	*files = *blocks = 0;
	for (int i = 0; i < pf_tier_npools(); i++) {
		struct pf_pool *p = pf_tier_pool(i);
		struct pf_err err = { "" };
		if (pf_pool_load(p, pf_files_load_record, NULL, &err) < 0)
			pf_die("%s", err.msg);
		uint64_t l, u;
		pf_pool_usage(p, &l, &u);
		*files += l;
		*blocks += u;
	}
}

/* Start what the pools' writer runs: orphan reaping, markers, housekeeping, migration, metrics. */
static void start_writer(void)
{
	pf_spare_reserve(); /* the one descriptor in reserve for libpafka's own opens (sys.h) */
	pf_files_reap_orphans();
	write_markers();
	if (pf_house_start(&cfg) < 0 || pf_migrate_start(&cfg) < 0)
		pf_die("cannot start the migration threads: %s", strerror(errno));
	if (pf_metrics_start(&cfg) < 0)
		pf_die("cannot serve metrics on %s:%d (pafka.metrics.address, pafka.metrics.port): %s",
		       cfg.metrics_address ? cfg.metrics_address : "127.0.0.1", cfg.metrics_port, strerror(errno));
}

static void activate_locked(void)
{
	if (deferred_error[0])
		pf_die("%s", strncmp(deferred_error, "pafka: ", 7) ? deferred_error : deferred_error + 7);
	if (cfg.channel != PF_CHANNEL_FILE && cfg.controller_only) {
		/* A dedicated KRaft controller serves no partition: its metadata log is small and stays on its log
		 * dir, and it never competes with the broker beside it (same injected environment) for the pool. */
		check_passthrough("process.roles is controller only");
		pf_log(PF_LOG_INFO, "inert: process.roles has no broker role (a KRaft controller), so this process "
				    "opens no pool and its log dirs (%s%s) stay as they are; only brokers use the pool",
		       pf_paths_ndirs() > 0 ? pf_paths_dir(0) : "none", pf_paths_ndirs() > 1 ? ", ..." : "");
		__atomic_store_n(&pf_state, PF_ST_PASSTHROUGH, __ATOMIC_RELEASE);
		return;
	}
	if (cfg.channel == PF_CHANNEL_FILE) {
		check_passthrough("log.channel.type=file");
		/* Silent, so an A/B run with the preload behaves (and logs) exactly as one without it. */
		pf_log(PF_LOG_DEBUG, "log.channel.type=file: segments stay on the log dirs (inert)");
		__atomic_store_n(&pf_state, PF_ST_PASSTHROUGH, __ATOMIC_RELEASE);
		return;
	}
	/* Who may become the pools' writer (pafka.role): a broker must be; Kafka's tools, Java programs run
	 * under the same injected environment, never are, even with no broker running (one would otherwise
	 * take the pools, and the broker started next would stop with "in use"). */
	enum pf_tier_access access = cfg.role == PF_ROLE_READER ? PF_TIER_READER
				     : cfg.server_properties ? PF_TIER_EXCLUSIVE
				     : cfg.role == PF_ROLE_AUTO && cfg.java_tool ? PF_TIER_READER
										   : PF_TIER_SHARED;
	struct pf_err err = { "" };
	if (pf_tier_open(&cfg, access, may_create_pool, &err) < 0) {
		if (errno == ENOENT)
			die_missing_pool();
		pf_die("%s", err.msg);
	}
	if (pf_tier_npools() == 0) {
		/* a reader, and no pool exists that any marker names: no byte lives in a pool */
		pf_log(PF_LOG_DEBUG, "no pool exists yet: segments are read from the log dirs");
		__atomic_store_n(&pf_state, PF_ST_PASSTHROUGH, __ATOMIC_RELEASE);
		return;
	}
	check_markers();
	if (pf_fdtab_init() < 0)
		pf_die("cannot reserve the descriptor table: %s", strerror(errno));
	uint64_t files, blocks;
	load_pools(&files, &blocks);
	pf_tier_atfork();
	pf_files_atfork();
	if (pf_tier_is_writer())
		start_writer();
	struct pf_pool *p0 = pf_tier_pool(0);
	pf_log(PF_LOG_INFO, "active%s (log.channel.type=%s): %d pool(s), first %s (%s), %llu files with %llu blocks recovered",
	       !pf_tier_readonly()         ? ""
	       : access == PF_TIER_SHARED ? ", read-only: another process holds the pool"
	       : cfg.role == PF_ROLE_READER ? ", read-only (pafka.role=reader)"
					  : ", read-only: a Java program that is not a broker never writes the pools (pafka.role)",
	       cfg.channel == PF_CHANNEL_PMEM ? "pmem" : "tiered", pf_tier_npools(), p0->path,
	       p0->is_pmem ? "persistent memory: a write is durable when it returns"
	       : pf_pool_volatile(p0) ? "tmpfs, not persistent memory: msync on fsync; a reboot clears the pool, and "
					"the log dirs' .pafka-pools marker then stops the broker rather than serve zeros"
				      : "not persistent memory: msync on fsync", (unsigned long long)files,
	       (unsigned long long)blocks);
	__atomic_store_n(&pf_state, PF_ST_ACTIVE, __ATOMIC_RELEASE);
}

void pf_shim_activate(void)
{
	if (pf_shim_state() >= PF_ST_PASSTHROUGH)
		return;
	pf_shim_configure();
	pthread_mutex_lock(&shim_lock);
	if (pf_state < PF_ST_PASSTHROUGH)
		activate_locked();
	pthread_mutex_unlock(&shim_lock);
}

/* A program started by exec can inherit descriptors of managed files: adopt them, or their reads would
 * see the sparse log-dir file's zeros. Costs a look at /proc/self/fd per process start; a process whose
 * descriptors are all sockets, pipes or ttys does nothing more. */
static void adopt_inherited_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd < 3 || fd == dirfd(d))
			continue;
		char link[64], target[PATH_MAX];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof target - 1);
		if (n <= 0 || target[0] != '/')
			continue;
		target[n] = '\0';
		pf_shim_configure();
		if (pf_shim_state() == PF_ST_PASSTHROUGH)
			break;
		if (!pf_path_managed(target))
			continue;
		pf_shim_activate();
		if (pf_shim_state() != PF_ST_ACTIVE)
			break;
		int fl = REAL(fcntl)(fd, F_GETFL);
		if (fl >= 0)
			pf_file_opened(fd, fl, target);
	}
	closedir(d);
}

__attribute__((constructor)) static void pf_shim_init(void)
{
	int e = errno;
	pf_real_resolve();
	adopt_inherited_fds();
	errno = e;
}

/* A clean exit says so in the pools, for tools (a SIGKILL leaves the pid, which tools check). */
__attribute__((destructor)) static void pf_shim_fini(void)
{
	if (pf_shim_state() == PF_ST_ACTIVE)
		pf_tier_mark_clean_exit();
}

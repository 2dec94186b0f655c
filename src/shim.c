/*
 * shim.c - configuration loading, activation, the file-mode safety check, log-dir markers, and fork.
 *
 * Markers: an active shim writes <logdir>/.pafka-pools listing the uuid and path of each pool, so that
 * a later start that cannot find one of those pools (tmpfs cleared by a reboot, a changed
 * storage.tiers.first.paths, log.channel.type=file) refuses to run instead of serving the zeros of the
 * sparse log-dir files. Kafka ignores regular files in a log dir.
 */
#define _GNU_SOURCE
#include "shim.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "fdtab.h"
#include "file.h"
#include "log.h"
#include "marker.h"
#include "metrics.h"
#include "migrate.h"
#include "paths.h"
#include "real.h"
#include "sys.h"

int pf_state;
struct pf_config pf_cfg;
struct pf_pool pf_pools[PF_MAX_PATHS];
int pf_npools;
int pf_not_writer;
int pf_readonly;
int pf_draining;
static char deferred_error[PF_ERR_LEN];
static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;

extern char **environ;

static void on_fork_child(void)
{
	pf_not_writer = 1;
}

void pf_shim_configure(void)
{
	if (pf_shim_ready())
		return;
	pthread_mutex_lock(&shim_lock);
	if (pf_state == PF_ST_NEW) {
		char *cmd = NULL;
		size_t len = 0;
		if (pf_read_whole_file("/proc/self/cmdline", &cmd, &len) < 0)
			cmd = NULL;
		struct pf_err err = { "" };
		if (pf_config_load(&pf_cfg, environ, cmd, len, &err) < 0)
			snprintf(deferred_error, sizeof deferred_error, "%s", err.msg);
		free(cmd);
		pf_log_set_level(pf_cfg.log_level);
		pf_fault_init();
		if (pf_paths_init(&pf_cfg, &err) < 0 && !deferred_error[0])
			snprintf(deferred_error, sizeof deferred_error, "%s", err.msg);
		__atomic_store_n(&pf_state, PF_ST_CONFIGURED, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&shim_lock);
}

/* Write dir's marker naming every pool of this process. */
static void write_marker(const char *dir)
{
	struct pf_marker m = { 0 };
	for (int i = 0; i < pf_npools; i++) {
		char u[33];
		pf_uuid_str(pf_pools[i].hdr->uuid, u);
		if (pf_marker_add(&m, u, pf_pools[i].path) < 0)
			pf_die("out of memory writing the marker of %s", dir);
	}
	if (pf_marker_write(dir, &m) < 0)
		pf_die("cannot write %s/%s: %s (the log dir must be writable)", dir, PAFKA_MARKER_FILE, strerror(errno));
	pf_marker_free(&m);
}

/* log.channel.type=file: passing through is only safe if no pool named by a marker holds file data. */
static void check_file_mode(void)
{
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		struct pf_marker m;
		if (pf_marker_read(pf_paths_dir(d), &m) < 0)
			pf_die("cannot read %s/%s: %s", pf_paths_dir(d), PAFKA_MARKER_FILE, strerror(errno));
		for (int i = 0; i < m.n; i++) {
			const char *pool_path = m.line[i].path;
			char dir[PATH_MAX];
			struct pf_err err = { "" };
			snprintf(dir, sizeof dir, "%s", pool_path);
			char *slash = strrchr(dir, '/');
			if (slash)
				*slash = '\0';
			struct pf_pool p;
			if (pf_pool_open(&p, 0, dir, 0, 1, 4096, 1, &err) < 0)
				pf_die("log.channel.type=file, but log dir %s was served from pool %s, which cannot be "
				       "checked (%s): run with log.channel.type=pmem or tiered, or drain it first",
				       pf_paths_dir(d), pool_path, err.msg);
			uint64_t live, used;
			pf_pool_usage(&p, &live, &used);
			pf_pool_close(&p);
			if (used > 0)
				pf_die("log.channel.type=file, but pool %s still holds %llu blocks of %llu segment files "
				       "from %s: passing through would read zeros. Run with log.channel.type=pmem or "
				       "tiered, or 'pafka drain' first",
				       pool_path, (unsigned long long)used, (unsigned long long)live, pf_paths_dir(d));
		}
		pf_marker_free(&m);
	}
}

static void activate_locked(void)
{
	if (deferred_error[0])
		pf_die("%s", strncmp(deferred_error, "pafka: ", 7) ? deferred_error : deferred_error + 7);
	if (pf_cfg.channel == PF_CHANNEL_FILE) {
		check_file_mode();
		/* Silent, so an A/B run with the preload behaves (and logs) exactly as one without it. */
		pf_log(PF_LOG_DEBUG, "log.channel.type=file: segments stay on the log dirs (inert)");
		__atomic_store_n(&pf_state, PF_ST_PASSTHROUGH, __ATOMIC_RELEASE);
		return;
	}
	struct pf_err err = { "" };
	for (int i = 0; i < pf_cfg.first_paths.n; i++) {
		int64_t size = pf_cfg.first_sizes[i < pf_cfg.n_first_sizes ? i : pf_cfg.n_first_sizes - 1];
		if (pf_cfg.n_first_sizes == 0)
			size = -1;
		if (pf_pool_open(&pf_pools[i], i, pf_cfg.first_paths.v[i], size, pf_cfg.pool_ratio, pf_cfg.block_size,
				 pf_readonly, &err) < 0) {
			/* Another process (the broker) holds the pool: a tool such as kafka-dump-log or cat attaches
			 * read-only; a second broker must not. */
			if (errno == EAGAIN && i == 0 && !pf_cfg.server_properties) {
				pf_readonly = pf_not_writer = 1;
				if (pf_pool_open(&pf_pools[i], i, pf_cfg.first_paths.v[i], size, pf_cfg.pool_ratio,
						 pf_cfg.block_size, 1, &err) == 0) {
					pf_npools = i + 1;
					continue;
				}
			}
			pf_die("%s", err.msg);
		}
		pf_npools = i + 1;
	}
	/* Every pool a log dir was served from must be here. */
	for (int d = 0; d < pf_paths_ndirs(); d++) {
		struct pf_marker m;
		if (pf_marker_read(pf_paths_dir(d), &m) < 0)
			pf_die("cannot read %s/%s: %s", pf_paths_dir(d), PAFKA_MARKER_FILE, strerror(errno));
		for (int i = 0; i < m.n; i++) {
			int found = 0;
			for (int k = 0; k < pf_npools && !found; k++) {
				char u[33];
				pf_uuid_str(pf_pools[k].hdr->uuid, u);
				found = !strcmp(u, m.line[i].uuid);
			}
			if (!found)
				pf_die("log dir %s holds segments whose bytes live in pool %s (uuid %s), which is not among "
				       "storage.tiers.first.paths or was replaced: restore that pool or point "
				       "storage.tiers.first.paths at it; starting would lose those bytes",
				       pf_paths_dir(d), m.line[i].path, m.line[i].uuid);
		}
		pf_marker_free(&m);
	}
	if (pf_fdtab_init() < 0)
		pf_die("cannot reserve the descriptor table: %s", strerror(errno));
	uint64_t files = 0, blocks = 0;
	for (int i = 0; i < pf_npools; i++) {
		if (pf_pool_load(&pf_pools[i], pf_files_load_record, NULL, &err) < 0)
			pf_die("%s", err.msg);
		uint64_t l, u;
		pf_pool_usage(&pf_pools[i], &l, &u);
		files += l;
		blocks += u;
	}
	pthread_atfork(NULL, NULL, on_fork_child);
	pf_files_atfork();
	if (!pf_readonly) {
		pf_files_reap_orphans();
		for (int d = 0; d < pf_paths_ndirs(); d++)
			if (access(pf_paths_dir(d), W_OK) == 0)
				write_marker(pf_paths_dir(d));
		for (int i = 0; i < pf_npools; i++) {
			pf_pools[i].hdr->live.writer_pid = (uint64_t)getpid();
			pf_pools[i].hdr->live.state = 0;
		}
		if (pf_migrate_start() < 0)
			pf_die("cannot start the migration threads: %s", strerror(errno));
		if (pf_metrics_start() < 0)
			pf_die("cannot serve metrics on %s:%d (pafka.metrics.address, pafka.metrics.port): %s",
			       pf_cfg.metrics_address ? pf_cfg.metrics_address : "127.0.0.1", pf_cfg.metrics_port,
			       strerror(errno));
	}
	pf_log(PF_LOG_INFO, "active%s (log.channel.type=%s): %d pool(s), first %s (%s), %llu files with %llu blocks recovered",
	       pf_readonly ? ", read-only: another process holds the pool" : "",
	       pf_cfg.channel == PF_CHANNEL_PMEM ? "pmem" : "tiered", pf_npools, pf_pools[0].path,
	       pf_pools[0].is_pmem ? "persistent memory" : "not persistent memory: msync on fsync",
	       (unsigned long long)files, (unsigned long long)blocks);
	__atomic_store_n(&pf_state, PF_ST_ACTIVE, __ATOMIC_RELEASE);
}

void pf_shim_activate(void)
{
	if (__atomic_load_n(&pf_state, __ATOMIC_ACQUIRE) >= PF_ST_PASSTHROUGH)
		return;
	pf_shim_configure();
	pthread_mutex_lock(&shim_lock);
	if (pf_state < PF_ST_PASSTHROUGH)
		activate_locked();
	pthread_mutex_unlock(&shim_lock);
}

int pf_shim_pool_writable(void)
{
	return pf_npools > 0 && !pf_not_writer && !__atomic_load_n(&pf_draining, __ATOMIC_RELAXED);
}

struct pf_pool *pf_shim_pick_pool(void)
{
	struct pf_pool *best = NULL;
	for (int i = 0; i < pf_npools; i++)
		if (!best || pf_pool_free_blocks(&pf_pools[i]) > pf_pool_free_blocks(best))
			best = &pf_pools[i];
	return best && pf_pool_free_blocks(best) > 0 ? best : NULL;
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
		if (__atomic_load_n(&pf_state, __ATOMIC_ACQUIRE) == PF_ST_PASSTHROUGH)
			break;
		if (!pf_path_managed(target))
			continue;
		pf_shim_activate();
		if (__atomic_load_n(&pf_state, __ATOMIC_ACQUIRE) != PF_ST_ACTIVE)
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
	if (pf_not_writer || __atomic_load_n(&pf_state, __ATOMIC_ACQUIRE) != PF_ST_ACTIVE)
		return;
	for (int i = 0; i < pf_npools; i++)
		if (pf_pools[i].hdr->live.writer_pid == (uint64_t)getpid())
			__atomic_store_n(&pf_pools[i].hdr->live.writer_pid, 0, __ATOMIC_RELAXED);
}

/*
 * cmd_drain.c - `pafka drain [--offline] [--timeout S] [--cancel]`: leave every pool empty, with every byte
 * in the log-dir files, so the broker can run without LD_PRELOAD.
 *
 * Online (a broker holds the pool): create <pool dir>/pafka.drain, which tells the broker's shim to admit
 * no new bytes to the pool and to move every pool byte to the slow tier, then wait (bounded) until the pool
 * has no used block. If the broker exits meanwhile, finish offline.
 * Offline (no broker): take the writer lock, run recovery (pf_pool_load), and for each LIVE record find its
 * file (path hint verified by inode + birth time, else a search of the managed log dirs), write the pool
 * blocks into it at their offsets (only below its size), fsync it, then free the record. A record whose file
 * cannot be found stays in the pool and is reported (exit 1).
 * --unmark: once a pool is empty, remove its line from the log dirs' .pafka-pools markers, so the broker
 * may later start with a new, empty pool in its place (a tmpfs or emptyDir pool that does not survive a
 * restart). pafka.drain stays, so a running broker puts nothing new into the pool before it stops.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "marker.h"
#include "sys.h"
#include "pafka.h"
#include "pool.h"
#include "scan.h"
#include "view.h"

#define POLL_MS 200

enum { O_OFFLINE, O_TIMEOUT, O_CANCEL, O_UNMARK };
static const struct cli_opt opts[] = {
	[O_OFFLINE] = { "offline", 0, NULL, "require the broker to be stopped and drain directly (fails if the pool is in use)" },
	[O_TIMEOUT] = { "timeout", 0, "SECONDS", "how long an online drain waits (default 600; 0: only ask, do not wait)" },
	[O_CANCEL] = { "cancel", 0, NULL, "remove pafka.drain: the running broker admits data to the pool again" },
	[O_UNMARK] = { "unmark", 0, NULL,
		       "once empty, remove the pool from the log dirs' .pafka-pools markers, so the broker\n"
		       "may start with a new pool (for pools that do not survive a restart, e.g. tmpfs)" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_syntax syntax = {
	.usage = "usage: pafka drain [--offline] [--timeout SECONDS] [--unmark] [--config FILE] [--pool DIR]\n"
		 "       pafka drain --cancel [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Move every pool-resident byte back to the segment files in the log dirs and leave the pool empty, so\n"
		 "the broker can run without LD_PRELOAD. With a broker running (the pool is locked), ask its shim to\n"
		 "drain (creates pafka.drain in the pool directory) and wait until the pool is empty; with no broker,\n"
		 "copy the bytes into the files directly.\n",
	.opts = opts,
};

struct drain {
	struct cli *c;
	struct cli_scan *scan;
	const char *pool;
	uint64_t files, bytes, emptied, missing, failed;
};

static int unmark_flag;

/* --unmark: the pool (uuid u) is empty; drop it from every managed log dir's marker. */
static int unmark(struct cli *c, const uint8_t *u, const char *pool)
{
	char uuid[33];
	pf_uuid_str(u, uuid);
	int rc = CLI_OK;
	for (int d = 0; d < c->ndirs; d++) {
		struct pf_marker m;
		if (pf_marker_read(c->dirs[d], &m) <= 0)
			continue;
		if (pf_marker_remove(&m, uuid) > 0) {
			if (pf_marker_write(c->dirs[d], &m) < 0) {
				cli_err(c, "cannot update %s/%s: %s", c->dirs[d], PAFKA_MARKER_FILE, strerror(errno));
				rc = CLI_FAIL;
			} else {
				printf("%s: unmarked from %s/%s\n", pool, c->dirs[d], PAFKA_MARKER_FILE);
			}
		}
		pf_marker_free(&m);
	}
	return rc;
}

/* Recovery callback, once per LIVE record: copy its blocks into its file, then free it. */
static int drain_record(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen)
{
	struct drain *d = arg;
	uint64_t nb = 0;
	for (uint64_t i = 0; i < maplen; i++)
		nb += map[i] != 0;
	if (nb == 0) { /* nothing in the pool (holes, or an unfinished promotion): nothing to lose */
		pf_pool_rec_free(p, rec, map, maplen);
		free(map);
		d->emptied++;
		return 0;
	}
	struct cli_rec cr;
	memset(&cr, 0, sizeof cr);
	cr.idx = rec;
	memcpy(&cr.r, &p->recs[rec], sizeof cr.r);
	cli_resolve(&cr, d->scan);
	if (!cr.file) {
		cli_err(d->c, "%s: record %u (inode %llu%s%s) holds %llu blocks, but its file is not in the log dirs%s: left "
			      "in the pool; run 'pafka fsck'",
			d->pool, rec, (unsigned long long)cr.r.ino, cr.hint_ok ? ", last seen at " : "", cr.hint,
			(unsigned long long)nb, cr.hint_other ? " (its old path now names another file)" : "");
		free(map);
		d->missing++;
		return 0;
	}
	const char *path = cr.file->path;
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct statx stx;
	if (fd < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME | STATX_SIZE, &stx) < 0) {
		cli_err(d->c, "%s: cannot open %s: %s; its record is left in the pool", d->pool, path, strerror(errno));
		goto fail;
	}
	if (stx.stx_ino != cr.r.ino || stx.stx_btime.tv_sec != cr.r.btime_sec ||
	    stx.stx_btime.tv_nsec != cr.r.btime_nsec) {
		cli_err(d->c, "%s: %s changed while it was being drained; its record is left in the pool (run drain again)",
			d->pool, path);
		goto fail;
	}
	uint64_t size = stx.stx_size, bytes = 0;
	for (uint64_t i = 0; i < maplen; i++) {
		uint64_t start = i << p->bshift;
		if (!map[i] || start >= size)
			continue;
		uint64_t n = size - start < p->bsize ? size - start : p->bsize;
		if (pf_pwrite_all(fd, pf_pool_block_ptr(p, map[i] - 1), n, start) < 0) {
			cli_err(d->c, "%s: cannot write %s: %s; its record is left in the pool", d->pool, path, strerror(errno));
			goto fail;
		}
		bytes += n;
	}
	if (fsync(fd) < 0) {
		cli_err(d->c, "%s: cannot fsync %s: %s; its record is left in the pool", d->pool, path, strerror(errno));
		goto fail;
	}
	close(fd);
	pf_pool_rec_free(p, rec, map, maplen); /* the file holds every byte now: the commit point */
	free(map);
	d->files++;
	d->bytes += bytes;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(map);
	d->failed++;
	return 0;
}

/* Drain pool dir i directly. Returns CLI_OK or CLI_FAIL (reported). *busy set when a broker took it. */
static int drain_offline(struct cli *c, struct cli_scan *scan, int i, int *busy)
{
	struct pf_pool p;
	struct pf_err err = { "" };
	*busy = 0;
	/* size 0: never create a pool here */
	if (pf_pool_open(&p, i, c->pools[i], 0, 1.0, c->cfg.block_size, 0, &err) < 0) {
		*busy = strstr(err.msg, "in use") != NULL;
		if (!*busy)
			cli_err(c, "%s", err.msg);
		return CLI_FAIL;
	}
	struct drain d = { .c = c, .scan = scan, .pool = p.path };
	int rc = CLI_OK;
	if (pf_pool_load(&p, drain_record, &d, &err) < 0) {
		cli_err(c, "%s", err.msg);
		rc = CLI_FAIL;
	}
	uint64_t live, used;
	pf_pool_usage(&p, &live, &used);
	uint8_t uuid[16];
	memcpy(uuid, p.hdr->uuid, sizeof uuid);
	char hb[32];
	if (rc == CLI_OK && used == 0) {
		printf("%s: moved %s of %llu files to the log dirs; the pool is empty: the broker can run without "
		       "LD_PRELOAD\n",
		       p.path, cli_human(d.bytes, hb, sizeof hb), (unsigned long long)d.files);
	} else if (rc == CLI_OK) {
		printf("%s: moved %s of %llu files; %llu blocks of %llu files remain in the pool\n", p.path,
		       cli_human(d.bytes, hb, sizeof hb), (unsigned long long)d.files, (unsigned long long)used,
		       (unsigned long long)(d.missing + d.failed));
		rc = CLI_FAIL;
	}
	pf_pool_close(&p);
	if (rc == CLI_OK && unmark_flag && unmark(c, uuid, c->pools[i]) != CLI_OK)
		rc = CLI_FAIL;
	return rc;
}

static int cancel(struct cli *c)
{
	int rc = CLI_OK;
	for (int i = 0; i < c->npools; i++) {
		int r = cli_control_set(c->pools[i], PF_DRAIN_FILE, 0, NULL);
		if (r < 0) {
			cli_err(c, "cannot remove %s/%s: %s", c->pools[i], PF_DRAIN_FILE, strerror(errno));
			rc = CLI_FAIL;
		} else {
			printf("%s: %s\n", c->pools[i], r ? "drain cancelled: the broker may admit data to the pool again"
							 : "no drain was requested");
		}
	}
	return rc;
}

/* Ask the broker holding pool i to drain; wait for the pools marked in online[]. */
static int drain_online(struct cli *c, struct cli_scan *scan, const int *online, long timeout)
{
	int rc = CLI_OK, pending = 0;
	int done[PF_MAX_PATHS] = { 0 };
	for (int i = 0; i < c->npools; i++) {
		if (!online[i])
			continue;
		if (cli_control_set(c->pools[i], PF_DRAIN_FILE, 1, "drain requested with 'pafka drain'") < 0) {
			cli_err(c, "cannot create %s/%s: %s", c->pools[i], PF_DRAIN_FILE, strerror(errno));
			done[i] = 1;
			rc = CLI_FAIL;
			continue;
		}
		pending++;
	}
	uint64_t deadline = (uint64_t)pf_mono_ms() + (uint64_t)timeout * 1000;
	int acked[PF_MAX_PATHS] = { 0 };
	uint64_t left[PF_MAX_PATHS] = { 0 };
	for (;;) {
		for (int i = 0; i < c->npools; i++) {
			if (!online[i] || done[i])
				continue;
			struct cli_view v;
			if (cli_view_open(c, i, &v) < 0) {
				done[i] = 1;
				pending--;
				rc = CLI_FAIL;
				continue;
			}
			uint64_t live, used;
			pf_pool_usage(&v.pool, &live, &used);
			uint8_t uuid[16];
			memcpy(uuid, v.pool.hdr->uuid, sizeof uuid);
			acked[i] |= (v.pool.hdr->live.state & PF_LIVE_DRAINING) != 0;
			left[i] = used * v.pool.bsize;
			int locked = v.locked;
			char path[PATH_MAX];
			snprintf(path, sizeof path, "%s", v.pool.path);
			cli_view_close(&v);
			if (used == 0) {
				printf("%s: empty: every byte is in the log dirs; the broker can be restarted without LD_PRELOAD. "
				       "While %s/%s exists the shim admits no new data to the pool: remove it (pafka drain "
				       "--cancel) to use the pool again\n",
				       path, c->pools[i], PF_DRAIN_FILE);
				done[i] = 1;
				pending--;
				if (unmark_flag && unmark(c, uuid, c->pools[i]) != CLI_OK)
					rc = CLI_FAIL;
			} else if (!locked) {
				int busy;
				printf("%s: the broker stopped before the pool was empty: finishing offline\n", path);
				if (drain_offline(c, scan, i, &busy) != CLI_OK && !busy)
					rc = CLI_FAIL;
				if (!busy) {
					done[i] = 1;
					pending--;
				}
			}
		}
		if (pending == 0)
			break;
		if (timeout == 0) {
			for (int i = 0; i < c->npools; i++)
				if (online[i] && !done[i])
					printf("%s: drain requested; the broker moves the pool's bytes to the log dirs ('pafka "
					       "status' shows progress)\n",
					       c->pools[i]);
			break;
		}
		if ((uint64_t)pf_mono_ms() >= deadline) {
			char hb[32];
			for (int i = 0; i < c->npools; i++)
				if (online[i] && !done[i])
					cli_err(c, "%s: timed out after %ld s with %s still in the pool%s; %s stays: wait and run "
						   "'pafka drain' again, or stop the broker and run 'pafka drain --offline'",
						c->pools[i], timeout, cli_human(left[i], hb, sizeof hb),
						acked[i] ? "" : " (the broker never acknowledged draining: its libpafka may not "
								"support online drain)",
						PF_DRAIN_FILE);
			rc = CLI_FAIL;
			break;
		}
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return rc;
}

int cmd_drain(struct cli *c, int argc, char **argv)
{
	const char *got[O_UNMARK + 1];
	int first, r = cli_parse(c, &syntax, argc, argv, got, &first);
	if (r != CLI_GO_ON)
		return r;
	int offline = got[O_OFFLINE] != NULL, cancel_ = got[O_CANCEL] != NULL;
	long timeout = 600;
	unmark_flag = got[O_UNMARK] != NULL;
	if (got[O_TIMEOUT]) {
		char *end;
		errno = 0;
		timeout = strtol(got[O_TIMEOUT], &end, 10);
		if (end == got[O_TIMEOUT] || *end || errno || timeout < 0 || timeout > 86400 * 7)
			return cli_usage_error(c, "--timeout takes a number of seconds (0 to 604800), not '%s'", got[O_TIMEOUT]);
	}
	if (cancel_ && (offline || unmark_flag))
		return cli_usage_error(c, "--cancel goes alone (not with --offline or --unmark)");
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	if (cancel_)
		return cancel(c);
	struct cli_scan scan;
	if (cli_scan(c, &scan) < 0) {
		cli_scan_free(&scan);
		cli_err(c, "out of memory");
		return CLI_FAIL;
	}
	int rc = CLI_OK, online[PF_MAX_PATHS] = { 0 }, any_online = 0;
	for (int i = 0; i < c->npools; i++) {
		int locked = cli_pool_locked(c->pools[i]);
		if (locked < 0) {
			if (errno == ENOENT) {
				printf("%s: no pool here: nothing to drain\n", c->pools[i]);
			} else {
				cli_err(c, "cannot open the pool in %s: %s", c->pools[i], strerror(errno));
				rc = CLI_FAIL;
			}
			continue;
		}
		if (locked && offline) {
			cli_err(c, "%s: the pool is in use by a running broker: stop it first, or drop --offline to drain "
				   "it online",
				c->pools[i]);
			rc = CLI_FAIL;
			continue;
		}
		int busy = 0;
		if (!locked && drain_offline(c, &scan, i, &busy) != CLI_OK && !busy)
			rc = CLI_FAIL;
		if (locked || busy) {
			if (offline) {
				cli_err(c, "%s: a broker took the pool: drain it online (without --offline)", c->pools[i]);
				rc = CLI_FAIL;
				continue;
			}
			online[i] = 1;
			any_online = 1;
		}
	}
	if (any_online && drain_online(c, &scan, online, timeout) != CLI_OK)
		rc = CLI_FAIL;
	cli_scan_free(&scan);
	return rc;
}

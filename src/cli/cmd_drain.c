/*
 * cmd_drain.c - `pafka drain [--offline] [--timeout S] [--unmark] [--cancel] [--json]`: leave every pool
 * empty, with every byte in the log-dir files, so the broker can run without LD_PRELOAD.
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
 *
 * Progress (bytes moved of those the pool held) goes to stderr through progress.c, as the copy or the
 * broker goes; --quiet silences it, --progress shows it for short drains too.
 *
 * Owns: both ways of draining and their report (text as it goes, JSON at the end). May call: opts.c,
 * output.c, setup.c, pool.h (offline: lock, recovery, freeing records), view.c, scan.c, control.c, sys.h,
 * json.c, progress.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "json.h"
#include "pafka.h"
#include "pool.h"
#include "progress.h"
#include "scan.h"
#include "sys.h"
#include "view.h"

#define POLL_MS 200

enum { O_OFFLINE, O_TIMEOUT, O_CANCEL, O_UNMARK, O_PROGRESS, O_QUIET };
static const struct cli_opt opts[] = {
	[O_OFFLINE] = { "offline", 0, NULL, "require the broker to be stopped and drain directly (fails if the pool is in use)" },
	[O_TIMEOUT] = { "timeout", 0, "SECONDS", "how long an online drain waits (default 600; 0: only ask, do not wait)" },
	[O_CANCEL] = { "cancel", 0, NULL, "remove pafka.drain: the running broker admits data to the pool again" },
	[O_UNMARK] = { "unmark", 0, NULL,
		       "once empty, remove the pool from the log dirs' .pafka-pools markers, so the broker\n"
		       "may start with a new pool (for pools that do not survive a restart, e.g. tmpfs)" },
	[O_PROGRESS] = { "progress", 0, NULL, "show progress on stderr from the start (by default: once a drain\n"
						"has taken a second)" },
	[O_QUIET] = { "quiet", 'q', NULL, "no progress on stderr" },
	{ NULL, 0, NULL, NULL },
};

static const struct cli_syntax syntax = {
	.usage = "usage: pafka drain [--offline] [--timeout SECONDS] [--unmark] [--progress | -q] [--json]\n"
		 "                   [--config FILE] [--pool DIR]\n"
		 "       pafka drain --cancel [--json] [--config FILE] [--pool DIR]\n"
		 "\n"
		 "Move every pool-resident byte back to the segment files in the log dirs and leave the pool empty, so\n"
		 "the broker can run without LD_PRELOAD. With a broker running (the pool is locked), ask its shim to\n"
		 "drain (creates pafka.drain in the pool directory) and wait until the pool is empty; with no broker,\n"
		 "copy the bytes into the files directly. Progress (percent, bytes, ETA) goes to stderr.\n",
	.opts = opts,
	.json = 1,
};

static const struct cli_control cancel_words = {
	.file = PF_DRAIN_FILE,
	.on = 0,
	.key = "drain_requested",
	.changed = "drain cancelled: the broker may admit data to the pool again",
	.unchanged = "no drain was requested",
};

/* One pool's drain, as the report gives it. */
struct drained {
	const char *mode;            /* "offline", "online", "absent" (no pool file), NULL (refused) */
	struct cli_pool_use use;     /* the pool's latest state (what is left: used blocks and files) */
	uint64_t moved_files, moved_blocks, moved_bytes;
	int watched;                 /* online: start_* hold the pool's use before the broker was asked */
	uint64_t start_files, start_blocks;
	int acked;                   /* online: the shim acknowledged draining (PF_LIVE_DRAINING) */
	int timed_out;
	int unmarked[PF_MAX_PATHS * 2]; /* log dirs whose marker lost the pool's line */
};

struct drain_run {
	struct cli *c;
	struct cli_scan scan;
	int unmark;                  /* --unmark */
	long timeout;
	enum cli_progress_mode progress;
	struct drained d[PF_MAX_PATHS];
};

/* The offline drain of one pool (pf_pool_load's callback argument). */
struct drain_ctx {
	struct drain_run *r;
	const char *pool;
	uint64_t files, blocks, bytes, missing, failed;
	uint64_t seen;               /* blocks of the records handled so far (moved or left) */
	struct cli_progress pr;
};

/* --unmark: pool i (whose use is known) is empty; drop it from every managed log dir's marker. */
static int unmark(struct drain_run *r, int i)
{
	struct cli *c = r->c;
	int rc = cli_unmark(c, r->d[i].use.uuid, r->d[i].unmarked);
	for (int d = 0; d < c->ndirs; d++)
		if (r->d[i].unmarked[d])
			cli_say(c, "%s: unmarked from %s/%s", c->pools[i], c->dirs[d], PAFKA_MARKER_FILE);
	return rc;
}

/* Recovery callback, once per LIVE record: copy its blocks into its file, then free it. A broken record
 * (its window is unknown: some of its blocks may be stale) is left in the pool. */
static int drain_record(void *arg, struct pf_pool *p, uint32_t rec, uint32_t *map, uint64_t maplen, int broken,
			const char *why)
{
	struct drain_ctx *d = arg;
	if (broken) {
		struct cli_rec cr;
		cli_rec_fill(&cr, p, rec);
		cli_err(d->r->c, "%s: record %u (inode %llu%s%s): its %s; left in the pool: run 'pafka fsck'", d->pool, rec,
			(unsigned long long)cr.r.ino, cr.hint_ok ? ", last seen at " : "", cr.hint, why);
		free(map);
		d->failed++;
		return 0;
	}
	uint64_t nb = 0;
	for (uint64_t i = 0; i < maplen; i++)
		nb += map[i] != 0;
	d->seen += nb;
	cli_progress_update(&d->pr, d->seen * p->bsize);
	if (nb == 0) { /* nothing in the pool (holes, or an unfinished promotion): nothing to lose */
		pf_pool_rec_free(p, rec, map, maplen);
		free(map);
		return 0;
	}
	struct cli_rec cr;
	cli_rec_fill(&cr, p, rec);
	cli_resolve(&cr, &d->r->scan);
	if (!cr.file) {
		cli_err(d->r->c, "%s: record %u (inode %llu%s%s) holds %llu blocks, but its file is not in the log dirs%s: left "
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
		cli_err(d->r->c, "%s: cannot open %s: %s; its record is left in the pool", d->pool, path, strerror(errno));
		goto fail;
	}
	if (stx.stx_ino != cr.r.ino || stx.stx_btime.tv_sec != cr.r.btime_sec ||
	    stx.stx_btime.tv_nsec != cr.r.btime_nsec) {
		cli_err(d->r->c, "%s: %s changed while it was being drained; its record is left in the pool (run drain again)",
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
			cli_err(d->r->c, "%s: cannot write %s: %s; its record is left in the pool", d->pool, path, strerror(errno));
			goto fail;
		}
		bytes += n;
	}
	if (fsync(fd) < 0) {
		cli_err(d->r->c, "%s: cannot fsync %s: %s; its record is left in the pool", d->pool, path, strerror(errno));
		goto fail;
	}
	close(fd);
	pf_pool_rec_free(p, rec, map, maplen); /* the file holds every byte now: the commit point */
	free(map);
	d->files++;
	d->blocks += nb;
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
static int drain_offline(struct drain_run *r, int i, int *busy)
{
	struct cli *c = r->c;
	struct drained *dr = &r->d[i];
	struct pf_pool p;
	struct pf_err err = { "" };
	*busy = 0;
	/* never create a pool here */
	if (pf_pool_open(&p, i, c->pools[i], 0, 1.0, c->cfg.block_size, PF_POOL_NOCREATE, &err) < 0) {
		*busy = strstr(err.msg, "in use") != NULL;
		if (!*busy)
			cli_err(c, "%s", err.msg);
		return CLI_FAIL;
	}
	if (!dr->mode)
		dr->mode = "offline";
	struct drain_ctx d = { .r = r, .pool = p.path };
	int rc = CLI_OK;
	cli_pool_use(&dr->use, c->pools[i], &p, NULL);
	cli_progress_start(&d.pr, c, r->progress, dr->use.used_blocks * p.bsize);
	if (pf_pool_load(&p, drain_record, &d, &err) < 0) {
		cli_err(c, "%s", err.msg);
		rc = CLI_FAIL;
	}
	cli_pool_use(&dr->use, c->pools[i], &p, NULL);
	/* an empty pool is all done, even when recovery freed blocks no record kept */
	cli_progress_end(&d.pr, rc == CLI_OK && !dr->use.used_blocks ? d.pr.total : d.seen * p.bsize);
	dr->moved_files += d.files;
	dr->moved_blocks += d.blocks;
	dr->moved_bytes += d.bytes;
	char hb[32];
	if (rc == CLI_OK && dr->use.used_blocks == 0) {
		cli_say(c, "%s: moved %s of %llu files to the log dirs; the pool is empty: the broker can run without "
			   "LD_PRELOAD",
			p.path, cli_human(d.bytes, hb, sizeof hb), (unsigned long long)d.files);
	} else if (rc == CLI_OK) {
		cli_say(c, "%s: moved %s of %llu files; %llu blocks of %llu files remain in the pool", p.path,
			cli_human(d.bytes, hb, sizeof hb), (unsigned long long)d.files,
			(unsigned long long)dr->use.used_blocks, (unsigned long long)(d.missing + d.failed));
		rc = CLI_FAIL;
	}
	pf_pool_close(&p);
	if (rc == CLI_OK && r->unmark && unmark(r, i) != CLI_OK)
		rc = CLI_FAIL;
	return rc;
}

/* Online: what the pool holds now, through a read-only view. Returns 0, or -1 (reported). */
static int observe(struct drain_run *r, int i, int *locked)
{
	struct drained *dr = &r->d[i];
	struct cli_view v;
	if (cli_view_open(r->c, i, &v) < 0)
		return -1;
	cli_pool_use(&dr->use, r->c->pools[i], &v.pool, NULL);
	if (!dr->watched) {
		dr->watched = 1;
		dr->start_files = dr->use.files;
		dr->start_blocks = dr->use.used_blocks;
	}
	/* what the broker released while the command watched */
	dr->moved_files = dr->start_files > dr->use.files ? dr->start_files - dr->use.files : 0;
	dr->moved_blocks = dr->start_blocks > dr->use.used_blocks ? dr->start_blocks - dr->use.used_blocks : 0;
	dr->acked |= (v.pool.hdr->live.state & PF_LIVE_DRAINING) != 0;
	*locked = v.locked;
	cli_view_close(&v);
	return 0;
}

/* Online progress: the bytes the broker released of those the pools held when it was asked. */
static uint64_t online_bytes(const struct drain_run *r, const int *online, int moved)
{
	uint64_t n = 0;
	for (int i = 0; i < r->c->npools; i++)
		if (online[i] && r->d[i].watched)
			n += (moved ? r->d[i].moved_blocks : r->d[i].start_blocks) * r->d[i].use.block_size;
	return n;
}

/* Ask the broker holding each pool marked in online[] to drain, and wait. */
static int drain_online(struct drain_run *r, const int *online)
{
	struct cli *c = r->c;
	int rc = CLI_OK, pending = 0;
	int done[PF_MAX_PATHS] = { 0 };
	for (int i = 0; i < c->npools; i++) {
		if (!online[i])
			continue;
		r->d[i].mode = "online";
		int locked;
		if (observe(r, i, &locked) < 0) { /* what the pool holds before the broker is asked */
			done[i] = 1;
			rc = CLI_FAIL;
			continue;
		}
		if (cli_control_set(c->pools[i], PF_DRAIN_FILE, 1, "drain requested with 'pafka drain'") < 0) {
			cli_err(c, "cannot create %s/%s: %s", c->pools[i], PF_DRAIN_FILE, strerror(errno));
			done[i] = 1;
			rc = CLI_FAIL;
			continue;
		}
		pending++;
	}
	uint64_t deadline = (uint64_t)pf_mono_ms() + (uint64_t)r->timeout * 1000;
	struct cli_progress pr; /* --timeout 0 only asks: nothing to show */
	cli_progress_start(&pr, c, r->timeout ? r->progress : CLI_PROGRESS_NEVER, online_bytes(r, online, 0));
	for (;;) {
		for (int i = 0; i < c->npools; i++) {
			if (!online[i] || done[i])
				continue;
			int locked;
			if (observe(r, i, &locked) < 0) {
				done[i] = 1;
				pending--;
				rc = CLI_FAIL;
				continue;
			}
			cli_progress_update(&pr, online_bytes(r, online, 1));
			const struct cli_pool_use *u = &r->d[i].use;
			if (u->used_blocks == 0) {
				if (pending == 1) /* the last one: the line ends before the report */
					cli_progress_end(&pr, pr.total);
				cli_say(c, "%s: empty: every byte is in the log dirs; the broker can be restarted without LD_PRELOAD. "
					   "While %s/%s exists the shim admits no new data to the pool: remove it (pafka drain "
					   "--cancel) to use the pool again",
					u->path, c->pools[i], PF_DRAIN_FILE);
				done[i] = 1;
				pending--;
				if (r->unmark && unmark(r, i) != CLI_OK)
					rc = CLI_FAIL;
			} else if (!locked) {
				int busy;
				cli_progress_end(&pr, online_bytes(r, online, 1));
				cli_say(c, "%s: the broker stopped before the pool was empty: finishing offline", u->path);
				if (drain_offline(r, i, &busy) != CLI_OK && !busy)
					rc = CLI_FAIL;
				if (!busy) {
					done[i] = 1;
					pending--;
				}
			}
		}
		if (pending == 0)
			break;
		if (r->timeout == 0) {
			for (int i = 0; i < c->npools; i++)
				if (online[i] && !done[i])
					cli_say(c, "%s: drain requested; the broker moves the pool's bytes to the log dirs ('pafka "
						   "status' shows progress)",
						c->pools[i]);
			break;
		}
		if ((uint64_t)pf_mono_ms() >= deadline) {
			char hb[32];
			cli_progress_end(&pr, online_bytes(r, online, 1));
			for (int i = 0; i < c->npools; i++) {
				if (!online[i] || done[i])
					continue;
				const struct drained *dr = &r->d[i];
				r->d[i].timed_out = 1;
				cli_err(c, "%s: timed out after %ld s with %s still in the pool%s; %s stays: wait and run "
					   "'pafka drain' again, or stop the broker and run 'pafka drain --offline'",
					c->pools[i], r->timeout,
					cli_human(dr->use.used_blocks * dr->use.block_size, hb, sizeof hb),
					dr->acked ? "" : " (the broker never acknowledged draining: its libpafka may not "
							 "support online drain)",
					PF_DRAIN_FILE);
			}
			rc = CLI_FAIL;
			break;
		}
		struct timespec ts = { 0, POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return rc;
}

static void report_json(struct drain_run *r, struct json *j)
{
	struct cli *c = r->c;
	json_arr(j, "pools");
	for (int i = 0; i < c->npools; i++) {
		const struct drained *dr = &r->d[i];
		json_obj(j, NULL);
		cli_json_pool_use(j, &dr->use);
		json_str(j, "mode", dr->mode);
		json_bool(j, "empty", (dr->mode && !strcmp(dr->mode, "absent")) || (dr->use.path[0] && !dr->use.used_blocks));
		json_obj(j, "moved");
		json_u64(j, "files", dr->moved_files);
		json_u64(j, "blocks", dr->moved_blocks);
		if (dr->watched) /* the broker moved them: their byte count is its own */
			json_null(j, "bytes");
		else
			json_u64(j, "bytes", dr->moved_bytes);
		json_end_obj(j);
		json_bool(j, "drain_requested", cli_exists(c->pools[i], PF_DRAIN_FILE));
		json_bool(j, "draining", dr->acked);
		json_bool(j, "timed_out", dr->timed_out);
		cli_json_unmarked(j, c, dr->unmarked);
		json_end_obj(j);
	}
	json_end_arr(j);
}

int cmd_drain(struct cli *c, int argc, char **argv)
{
	const char *got[O_QUIET + 1];
	int first, rc = cli_parse(c, &syntax, argc, argv, got, &first);
	if (rc != CLI_GO_ON)
		return rc;
	static struct drain_run r; /* large (PATH_MAX per pool): not on the stack */
	memset(&r, 0, sizeof r);
	r.c = c;
	r.unmark = got[O_UNMARK] != NULL;
	r.timeout = 600;
	if ((rc = cli_progress_mode(c, got[O_PROGRESS], got[O_QUIET], &r.progress)) != 0)
		return rc;
	if (got[O_TIMEOUT] && cli_parse_long(got[O_TIMEOUT], 0, 86400 * 7, &r.timeout) < 0)
		return cli_usage_error(c, "--timeout takes a number of seconds (0 to 604800), not '%s'", got[O_TIMEOUT]);
	if (got[O_CANCEL] && (got[O_OFFLINE] || r.unmark))
		return cli_usage_error(c, "--cancel goes alone (not with --offline or --unmark)");
	if (cli_setup(c, 1) < 0)
		return CLI_FAIL;
	if (got[O_CANCEL])
		return cli_control_all(c, &cancel_words);
	if (cli_scan(c, &r.scan) < 0)
		return CLI_FAIL;
	for (int i = 0; i < c->npools; i++)
		r.d[i].use.dir = c->pools[i];
	int online[PF_MAX_PATHS] = { 0 }, any_online = 0;
	rc = CLI_OK;
	for (int i = 0; i < c->npools; i++) {
		int locked = cli_pool_locked(c->pools[i]);
		if (locked < 0) {
			if (errno == ENOENT) {
				r.d[i].mode = "absent";
				cli_say(c, "%s: no pool here: nothing to drain", c->pools[i]);
			} else {
				cli_err(c, "cannot open the pool in %s: %s", c->pools[i], strerror(errno));
				rc = CLI_FAIL;
			}
			continue;
		}
		if (locked && got[O_OFFLINE]) {
			cli_err(c, "%s: the pool is in use by a running broker: stop it first, or drop --offline to drain "
				   "it online",
				c->pools[i]);
			rc = CLI_FAIL;
			continue;
		}
		int busy = 0;
		if (!locked && drain_offline(&r, i, &busy) != CLI_OK && !busy)
			rc = CLI_FAIL;
		if (locked || busy) {
			if (got[O_OFFLINE]) {
				cli_err(c, "%s: a broker took the pool: drain it online (without --offline)", c->pools[i]);
				rc = CLI_FAIL;
				continue;
			}
			online[i] = 1;
			any_online = 1;
		}
	}
	if (any_online && drain_online(&r, online) != CLI_OK)
		rc = CLI_FAIL;
	cli_scan_free(&r.scan);
	struct json j;
	cli_json_begin(c, &j);
	report_json(&r, &j);
	return cli_json_end(c, &j, rc);
}

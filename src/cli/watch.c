/*
 * watch.c - `pafka status --watch [--interval SECONDS] [--count N]`: a compact view of every pool,
 * refreshed every interval while a broker runs (or not): fill (used of capacity, a bar), files and bytes
 * per tier, migration backlog with the observed rate and an ETA, spills (total and per second), errors,
 * the writer's pid and heartbeat age, and the state (running, draining, paused, no writer).
 *
 * Each refresh is one `pafka status` collection (status.c: the same reading code as the report, read-only
 * from outside the broker). Rates come from successive samples of the pool header's live counters
 * (bytes_demoted + bytes_promoted, spills) against the monotonic clock, over the last few seconds.
 * On a terminal the view is redrawn in place (ANSI home + clear, width from TIOCGWINSZ, redrawn at once on
 * SIGWINCH) and the cursor is left below it on exit; otherwise each refresh is one plain block under a
 * timestamped header, blocks separated by a blank line, without escape codes. SIGINT/SIGTERM end it with
 * exit 0.
 *
 * Owns: the watch loop, its samples and its layout. May call: status.c (the collection), view.h (the
 * pools' views), output.c (messages, byte counts), progress.c (the ETA wording, the bar), sys.h (the
 * clocks), prom.h (tier indexes).
 */
#define _GNU_SOURCE
#include "watch.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "pool_format.h"
#include "progress.h"
#include "prom.h"
#include "status.h"
#include "sys.h"
#include "view.h"

#define HISTORY 64
#define RATE_WINDOW_NS (5 * 1000000000LL) /* rates over about the last 5 s */

/* One pool's counters at one refresh. */
struct sample {
	int64_t t_ns;        /* monotonic */
	uint64_t moved;      /* bytes_demoted + bytes_promoted */
	uint64_t spills;
};

struct track {
	uint8_t uuid[16];    /* the pool these samples are of (a pool re-created in place starts afresh) */
	struct sample s[HISTORY];
	unsigned n, next;    /* samples held, the ring's next slot */
};

static volatile sig_atomic_t stop_sig, winch_sig;

static void on_stop(int sig)
{
	stop_sig = sig;
}

static void on_winch(int sig)
{
	(void)sig;
	winch_sig = 1;
}

static int parse_interval(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0.1 || v > 3600)
		return -1;
	*out = v;
	return 0;
}

/* The fill bar's width: on a terminal what keeps the fill line (about 68 columns besides the bar) inside
 * its width (TIOCGWINSZ, else 80 columns), 10 to 50; otherwise 20. */
static int bar_width(int tty)
{
	struct winsize ws;
	int cols = 80;
	if (!tty)
		return 20;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		cols = ws.ws_col;
	return cols - 68 < 10 ? 10 : cols - 68 > 50 ? 50 : cols - 68;
}

/* Record this refresh's counters for pool i; *rate and *spill_rate over the window (-1: not known yet). */
static void observe(struct track *tr, const struct pf_pool_live *l, const uint8_t uuid[16], int64_t now,
		    double *rate, double *spill_rate)
{
	if (memcmp(tr->uuid, uuid, 16)) {
		memcpy(tr->uuid, uuid, 16);
		tr->n = tr->next = 0;
	}
	struct sample cur = { now, l->bytes_demoted + l->bytes_promoted, l->spills };
	*rate = *spill_rate = -1;
	/* the oldest sample inside the window (else the newest before it) */
	const struct sample *base = NULL;
	for (unsigned k = 1; k <= tr->n; k++) {
		const struct sample *s = &tr->s[(tr->next + HISTORY - k) % HISTORY];
		if (base && now - s->t_ns > RATE_WINDOW_NS)
			break;
		base = s;
	}
	if (base && now > base->t_ns && cur.moved >= base->moved && cur.spills >= base->spills) {
		double dt = (double)(now - base->t_ns) / 1e9;
		*rate = (double)(cur.moved - base->moved) / dt;
		*spill_rate = (double)(cur.spills - base->spills) / dt;
	}
	tr->s[tr->next] = cur;
	tr->next = (tr->next + 1) % HISTORY;
	if (tr->n < HISTORY)
		tr->n++;
}

static void draw_pool(FILE *f, const struct cli_status *st, const struct cli_view *v, struct track *tr,
		      int64_t now_ns, uint64_t now_ms, int barw)
{
	const struct pf_pool_live *l = &v->pool.hdr->live;
	char b1[32], b2[32], b3[32];
	uint64_t bs = v->pool.bsize, nb = v->pool.nblocks, used = v->used_blocks;
	double rate, spill_rate;
	observe(tr, l, v->pool.hdr->uuid, now_ns, &rate, &spill_rate);
	enum cli_pool_state state = cli_status_state(st, v);
	fprintf(f, "pool %s\n", v->pool.path);
	double frac = nb ? (double)used / (double)nb : 0;
	char fillbar[64];
	fprintf(f, "  fill       [%s]", cli_bar(fillbar, sizeof fillbar, frac, barw));
	fprintf(f, " %5.1f%%  %s of %s (%llu of %llu blocks)\n", 100 * frac, cli_human(used * bs, b1, sizeof b1),
		cli_human(nb * bs, b2, sizeof b2), (unsigned long long)used, (unsigned long long)nb);
	fprintf(f, "  pool tier  %zu files, %s\n", v->nrecs, cli_human(v->pool_bytes, b1, sizeof b1));
	if (v->locked) {
		fprintf(f, "  state      %s; writer pid %llu%s", cli_pool_state_name(state), (unsigned long long)v->writer_pid,
			v->pid_alive ? "" : " (not running?)");
		if (l->heartbeat_ms)
			fprintf(f, ", heartbeat %.1f s ago", (double)(int64_t)(now_ms - l->heartbeat_ms) / 1000.0);
		fputc('\n', f);
	} else {
		fprintf(f, "  state      no writer%s\n",
			state == CLI_POOL_DRAINING ? " (drain requested)" : state == CLI_POOL_PAUSED ? " (pause requested)" : "");
	}
	if (!v->locked) { /* the header's backlog is the last writer's */
		fprintf(f, "  migration  stopped: no writer migrates\n");
	} else {
		/* draining: every pool byte is to leave */
		uint64_t backlog = state == CLI_POOL_DRAINING ? used * bs : l->backlog_bytes;
		fprintf(f, "  migration  backlog %s", cli_human(backlog, b1, sizeof b1));
		if (rate >= 0)
			fprintf(f, ", %s/s", cli_human((uint64_t)rate, b2, sizeof b2));
		if (state == CLI_POOL_PAUSED)
			fprintf(f, ", paused\n");
		else if (!backlog)
			fprintf(f, ", idle\n");
		else
			fprintf(f, ", %s\n", cli_eta(rate > 0 ? (double)backlog / rate : -1, b3, sizeof b3));
	}
	/* as pafka status counts them: whole files, and the cold heads of active segments */
	fprintf(f, "  moved      %s down (%llu demotions, %llu head demotions), %s up (%llu promotions)\n",
		cli_human(l->bytes_demoted, b1, sizeof b1), (unsigned long long)l->demotions,
		(unsigned long long)l->head_demotions, cli_human(l->bytes_promoted, b2, sizeof b2),
		(unsigned long long)l->promotions);
	fprintf(f, "  spills     %llu", (unsigned long long)l->spills);
	if (spill_rate >= 0)
		fprintf(f, " (%.1f/s)", spill_rate);
	fprintf(f, ", errors %llu, migration failures %llu\n", (unsigned long long)l->errors,
		(unsigned long long)l->migration_failures);
}

static void draw(FILE *f, const struct cli_status *st, struct track *tracks, int tty, int barw, long n, long count,
		 double interval)
{
	char when[64];
	time_t t = time(NULL);
	struct tm tm;
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&t, &tm));
	int64_t now_ns = pf_mono_ns();
	uint64_t now_ms = pf_wall_ms();
	if (tty)
		fputs("\033[H\033[2J", f);
	else if (n > 1)
		fputc('\n', f);
	fprintf(f, "pafka status --watch  %s  every %g s", when, interval);
	if (count)
		fprintf(f, ", %ld of %ld", n, count);
	fputs(tty ? "  (Ctrl-C quits)\n" : "\n", f);
	for (int i = 0; i < st->vs.n; i++)
		draw_pool(f, st, &st->vs.v[i], &tracks[i], now_ns, now_ms, barw);
	const uint64_t *files = st->tier_files, *bytes = st->tier_bytes;
	char b1[32];
	fprintf(f, "tiers      pool %llu files, %s", (unsigned long long)files[PF_PROM_TIER_POOL],
		cli_human(bytes[PF_PROM_TIER_POOL], b1, sizeof b1));
	fprintf(f, "; slow %llu files, %s\n", (unsigned long long)files[PF_PROM_TIER_SLOW],
		cli_human(bytes[PF_PROM_TIER_SLOW], b1, sizeof b1));
	fflush(f);
}

/* Wait for the interval (or a signal); on SIGWINCH return early to redraw. */
static void pause_for(double interval)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	long long ns = until.tv_nsec + (long long)(interval * 1e9);
	until.tv_sec += (time_t)(ns / 1000000000LL);
	until.tv_nsec = (long)(ns % 1000000000LL);
	while (!stop_sig && !winch_sig) {
		int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		if (r == 0 || r != EINTR)
			break;
	}
}

int cli_watch(struct cli *c, const char *interval_s, const char *count_s)
{
	double interval = 1;
	long count = 0;
	if (interval_s && parse_interval(interval_s, &interval) < 0)
		return cli_usage_error(c, "--interval takes seconds from 0.1 to 3600 (e.g. 1 or 0.5), not '%s'", interval_s);
	if (count_s && cli_parse_long(count_s, 1, LONG_MAX, &count) < 0)
		return cli_usage_error(c, "--count takes a number of refreshes of at least 1, not '%s'", count_s);
	int tty = isatty(STDOUT_FILENO) == 1;
	struct sigaction sa = { 0 }, old_int, old_term, old_winch;
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop; /* no SA_RESTART: the wait returns at once */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, &old_winch);
	stop_sig = winch_sig = 0;
	static struct track tracks[PF_MAX_PATHS];
	memset(tracks, 0, sizeof tracks);
	int rc = CLI_OK;
	for (long n = 1; !stop_sig; n++) {
		struct cli_status st;
		int src = cli_status_collect(c, &st);
		if (src < 0) {
			cli_status_free(&st);
			rc = CLI_FAIL;
			break;
		}
		if (src != CLI_OK)
			rc = src; /* reported on stderr; the view goes on */
		winch_sig = 0;
		draw(stdout, &st, tracks, tty, bar_width(tty), n, count, interval);
		cli_status_free(&st);
		if (ferror(stdout))
			break; /* main reports it */
		if (count && n >= count)
			break;
		pause_for(interval);
	}
	if (tty && stop_sig)
		fputc('\n', stdout); /* the shell's prompt below the view, not after ^C */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGWINCH, &old_winch, NULL);
	return rc;
}

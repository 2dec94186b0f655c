/*
 * progress.c - the progress line of long commands on stderr (see progress.h).
 *
 * Owns: drawing and pacing the progress line, the ETA wording. May call: output.c (cli_human, usage
 * errors), sys.h (the monotonic clock).
 */
#define _GNU_SOURCE
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sys.h"

#define TTY_EVERY_MS 200
#define LINE_EVERY_MS 1000
#define BAR 24

int cli_progress_mode(struct cli *c, const char *progress, const char *quiet, enum cli_progress_mode *mode)
{
	if (progress && quiet)
		return cli_usage_error(c, "--progress and --quiet exclude each other");
	*mode = progress ? CLI_PROGRESS_ALWAYS : quiet ? CLI_PROGRESS_NEVER : CLI_PROGRESS_AUTO;
	return 0;
}

const char *cli_bar(char *buf, size_t n, double frac, int width)
{
	if (n == 0)
		return buf;
	if (width < 0)
		width = 0;
	if ((size_t)width > n - 1)
		width = (int)(n - 1);
	int fill = frac <= 0 ? 0 : frac >= 1 ? width : (int)(frac * width);
	for (int i = 0; i < width; i++)
		buf[i] = i < fill ? '#' : '.';
	buf[width] = '\0';
	return buf;
}

const char *cli_eta(double s, char *buf, size_t n)
{
	if (s < 0)
		snprintf(buf, n, "ETA -");
	else if (s < 60)
		snprintf(buf, n, "ETA %.0f s", s);
	else if (s < 3600)
		snprintf(buf, n, "ETA %d min %d s", (int)(s / 60), (int)s % 60);
	else if (s < 100 * 3600.0)
		snprintf(buf, n, "ETA %d h %d min", (int)(s / 3600), (int)(s / 60) % 60);
	else
		snprintf(buf, n, "ETA > 100 h");
	return buf;
}

void cli_progress_start(struct cli_progress *pr, const struct cli *c, enum cli_progress_mode mode, uint64_t total)
{
	memset(pr, 0, sizeof *pr);
	pr->c = c;
	pr->mode = mode;
	pr->tty = isatty(STDERR_FILENO) == 1;
	pr->total = total;
	pr->t0_ms = pf_mono_ms();
}

static void draw(struct cli_progress *pr, int64_t now, int end)
{
	uint64_t done = pr->done < pr->total ? pr->done : pr->total;
	unsigned pct = pr->total ? (unsigned)(done * 100 / pr->total) : 100;
	if (end && pr->done >= pr->total)
		pct = 100;
	char d[32], t[32], eta[32] = "";
	cli_human(done, d, sizeof d);
	cli_human(pr->total, t, sizeof t);
	double secs = (double)(now - pr->t0_ms) / 1000.0;
	if (!end) {
		/* the mean rate since the start: the work is one steady copy or walk */
		double rate = secs > 0 && done ? (double)done / secs : 0;
		strcpy(eta, ", ");
		cli_eta(rate > 0 ? (double)(pr->total - done) / rate : -1, eta + 2, sizeof eta - 2);
	} else {
		snprintf(eta, sizeof eta, ", %.1f s", secs);
	}
	if (pr->tty) {
		char line[256], bar[BAR + 1];
		int len = snprintf(line, sizeof line, "pafka %s: [%s] %3u%% %s of %s%s", pr->c->cmd,
				   cli_bar(bar, sizeof bar, pct / 100.0, BAR), pct, d, t, eta);
		size_t w = len > 0 ? (size_t)len : 0;
		/* blank what a longer previous line left */
		fprintf(stderr, "\r%s%*s%s", line, pr->width > w ? (int)(pr->width - w) : 0, "", end ? "\n" : "");
		pr->width = end ? 0 : w;
	} else {
		fprintf(stderr, "pafka %s: %u%% %s of %s%s\n", pr->c->cmd, pct, d, t, eta);
	}
	fflush(stderr);
	pr->last_ms = now;
	pr->shown = 1;
}

void cli_progress_update(struct cli_progress *pr, uint64_t done)
{
	pr->done = done;
	if (pr->mode == CLI_PROGRESS_NEVER)
		return;
	int64_t now = pf_mono_ms();
	if (pr->mode == CLI_PROGRESS_AUTO && now - pr->t0_ms < LINE_EVERY_MS)
		return;
	if (pr->last_ms && now - pr->last_ms < (pr->tty ? TTY_EVERY_MS : LINE_EVERY_MS))
		return;
	draw(pr, now, 0);
}

void cli_progress_end(struct cli_progress *pr, uint64_t done)
{
	pr->done = done;
	enum cli_progress_mode mode = pr->mode;
	pr->mode = CLI_PROGRESS_NEVER; /* ended: once */
	if (mode == CLI_PROGRESS_NEVER || (!pr->shown && mode != CLI_PROGRESS_ALWAYS))
		return;
	draw(pr, pf_mono_ms(), 1);
}

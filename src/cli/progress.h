/*
 * progress.h - progress of a long command (drain, fsck) on stderr: a bar with percent, bytes done of the
 * total and an ETA, redrawn in place with \r when stderr is a terminal; otherwise plain lines
 * ("pafka drain: 37% 1.2 GiB of 3.3 GiB, ETA 12 s") at most once a second and at the end, so logs stay
 * readable. Automatic mode shows nothing for work done within its first second (a small pool's drain
 * leaves stderr empty); --progress shows it from the start, --quiet never. Also the ETA wording the
 * watch view (watch.c) shares, and the bar both draw.
 *
 * Owns: struct cli_progress, the progress line. May call: output.c (byte counts), sys.h (the clock).
 */
#ifndef PAFKA_CLI_PROGRESS_H
#define PAFKA_CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct cli;

enum cli_progress_mode { CLI_PROGRESS_AUTO = 0, CLI_PROGRESS_ALWAYS, CLI_PROGRESS_NEVER };

struct cli_progress {
	const struct cli *c;
	enum cli_progress_mode mode;
	int tty;                /* stderr is a terminal: redraw in place */
	uint64_t total, done;   /* bytes */
	int64_t t0_ms;          /* monotonic */
	int64_t last_ms;        /* when a line was last printed, 0: never */
	int shown;              /* something was printed (the end line follows it) */
	size_t width;           /* the last tty line's length, to blank it when shorter */
};

/* The mode from --progress / --quiet (either may be NULL); returns CLI_USAGE after a message when both
 * are given, else 0. */
int cli_progress_mode(struct cli *c, const char *progress, const char *quiet, enum cli_progress_mode *mode);
/* Start measuring work of total bytes. */
void cli_progress_start(struct cli_progress *pr, const struct cli *c, enum cli_progress_mode mode, uint64_t total);
/* done bytes of the total are done: draws when due (each second; a tty a few times a second). */
void cli_progress_update(struct cli_progress *pr, uint64_t done);
/* The work ended with done bytes done: the final line, when anything was shown (or mode is ALWAYS). */
void cli_progress_end(struct cli_progress *pr, uint64_t done);
/* A bar of width characters (at most n - 1), '#' for the done fraction (rounded down) and '.' for the
 * rest, in buf. */
const char *cli_bar(char *buf, size_t n, double frac, int width);
/* "ETA 12 s", "ETA 3 min 20 s", "ETA 2 h 5 min" for seconds left (< 0: "ETA -", not known yet). */
const char *cli_eta(double seconds, char *buf, size_t n);

#endif

/*
 * output.c - what the commands print: problem lines on stderr ("pafka CMD: ..."), text
 * result lines on stdout (silent under --json), byte counts for humans, and the frame of the JSON
 * document every reporting command writes (its closing "errors" list and the check of the writer).
 *
 * Owns: the message format and the list of messages printed. May call: json.c.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>

#include "json.h"

static void vline(struct cli *c, const char *fmt, va_list ap)
{
	char *msg = NULL;
	fflush(stdout);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	fprintf(stderr, "pafka%s%s: %s\n", c->cmd ? " " : "", c->cmd ? c->cmd : "", msg ? msg : "out of memory");
	char **grown = msg ? realloc(c->errors, (c->nerrors + 1) * sizeof *grown) : NULL;
	if (grown) {
		c->errors = grown;
		c->errors[c->nerrors++] = msg;
	} else {
		free(msg);
	}
}

void cli_err(struct cli *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vline(c, fmt, ap);
	va_end(ap);
}

void cli_say(const struct cli *c, const char *fmt, ...)
{
	if (c->json)
		return;
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

const char *cli_human(uint64_t b, char *buf, size_t n)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, n, "%.1f %s", v, units[u]);
	return buf;
}

void cli_json_begin(const struct cli *c, struct json *j)
{
	json_init(j, c->json ? stdout : NULL);
	json_obj(j, NULL);
}

int cli_json_end(struct cli *c, struct json *j, int rc)
{
	if (!j->out)
		return rc;
	json_arr(j, "errors");
	for (size_t i = 0; i < c->nerrors; i++)
		json_str(j, NULL, c->errors[i]);
	json_end_arr(j);
	json_end_obj(j);
	if (json_done(j) < 0) {
		cli_err(c, "internal error: the JSON output is incomplete (%s); please report this", j->error);
		return CLI_FAIL;
	}
	return rc;
}

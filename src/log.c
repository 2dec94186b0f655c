/*
 * log.c - stderr logging and the one-line error (see log.h).
 *
 * Owns: the log level. May call: sys.h, real.h.
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sys.h"

static int log_level = PF_LOG_INFO;

void pf_log_set_level(int level)
{
	log_level = level;
}

static void emit(const char *prefix, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "pafka[%d]: %s", (int)getpid(), prefix);
	if (n < 0)
		return;
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof buf - 2)
		len = sizeof buf - 2;
	buf[len++] = '\n';
	pf_write_all(2, buf, len);
}

void pf_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error: ", "warning: ", "", "debug: " };
	if (level > log_level)
		return;
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	emit(names[level < 0 ? 0 : level > 3 ? 3 : level], fmt, ap);
	va_end(ap);
	errno = e;
}

void pf_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit("fatal: ", fmt, ap);
	va_end(ap);
	_exit(1);
}

int pf_err_set(struct pf_err *e, const char *fmt, ...)
{
	if (!e || e->msg[0])
		return -1; /* keep the first problem only */
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	for (char *p = e->msg; *p; p++) /* one line, whatever a value in it contained */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (!e->msg[0])
		snprintf(e->msg, sizeof e->msg, "unknown error");
	errno = saved;
	return -1;
}

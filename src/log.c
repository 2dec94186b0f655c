/*
 * log.c - stderr logging for the shim (see log.h).
 */
#define _GNU_SOURCE
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "real.h"

int pf_log_level = PF_LOG_INFO;

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
	for (size_t off = 0; off < len;) {
		ssize_t w = REAL(write)(2, buf + off, len - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
}

void pf_log(int level, const char *fmt, ...)
{
	static const char *const names[] = { "error: ", "warning: ", "", "debug: " };
	if (level > pf_log_level)
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

/*
 * log.h - one line per event on stderr, with a level (pafka.log.level). Never used on a per-write path.
 * Messages are formatted into a stack buffer and written with the real write(), so logging is safe
 * inside any wrapper and never allocates.
 */
#ifndef PAFKA_LOG_H
#define PAFKA_LOG_H

enum pf_log_level { PF_LOG_ERROR = 0, PF_LOG_WARN = 1, PF_LOG_INFO = 2, PF_LOG_DEBUG = 3 };

extern int pf_log_level;

void pf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print one line and end the process with status 1: for invalid configuration or an unusable pool at
 * activation, where continuing could lose data. Never returns. */
void pf_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

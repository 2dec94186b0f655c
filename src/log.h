/*
 * log.h - messages: one line per event on stderr, with a level (pafka.log.level), never on a per-write
 * path; the one-line error of init-time code (struct pf_err); and pf_die for the few places where going
 * on would be unsafe.
 *
 * Error style, one per layer (also in the shim-wide note on locks and errors in src/file/file_impl.h):
 *   - the interposed calls and the data operations under them return -1 with errno, as the kernel would;
 *   - init-time code (configuration, pool opening and recovery, markers, CLI setup) fills one struct pf_err
 *     with a single line that says what is wrong and what to do, and returns -1; its caller prints it
 *     (the shim through pf_die at activation, the CLI as "pafka CMD: ...");
 *   - background work (migration, drain, metrics) logs a warning and retries later;
 *   - pf_die only where the protocol makes going on unsafe (a pool or marker that cannot be trusted).
 * Messages are formatted into a stack buffer and written with the real write(), so logging is safe inside
 * any wrapper and never allocates.
 *
 * Owns: the log level. May call: sys.h, real.h.
 */
#ifndef PAFKA_LOG_H
#define PAFKA_LOG_H

#include <stddef.h>

enum pf_log_level { PF_LOG_ERROR = 0, PF_LOG_WARN = 1, PF_LOG_INFO = 2, PF_LOG_DEBUG = 3 };

#define PF_ERR_LEN 512

/* One problem, as one line: what is wrong and what to do. The first one set is kept. */
struct pf_err {
	char msg[PF_ERR_LEN];
};

/* Set e's message if it has none yet (control characters become spaces, so it stays one line).
 * Returns -1, so `return pf_err_set(e, ...)` reports a failure in one statement. */
int pf_err_set(struct pf_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int pf_err_isset(const struct pf_err *e)
{
	return e->msg[0] != '\0';
}

void pf_log_set_level(int level);
void pf_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print one line and end the process with status 1: for invalid configuration or an unusable pool at
 * activation, where continuing could lose data. Never returns. */
void pf_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif

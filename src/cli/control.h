/*
 * control.h - the control files in a pool's directory (pafka.pause, pafka.drain; see pool_format.h),
 * created and removed by tools and polled by the running broker's shim.
 */
#ifndef PAFKA_CLI_CONTROL_H
#define PAFKA_CLI_CONTROL_H

/* Create (on) or remove <dir>/<name>. Returns 1 if it changed, 0 if it already was so, -1 with errno.
 * A created file holds one line: why, by which pid, when. */
int cli_control_set(const char *dir, const char *name, int on, const char *why);

#endif

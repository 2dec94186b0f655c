/*
 * fault.c - crash injection (see fault.h).
 *
 * Owns: the armed point and its counter. May call: log.h.
 */
#define _GNU_SOURCE
#include "fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int pf_fault_armed;
static char fault_point[128];
static long fault_count;
static long fault_seen;

void pf_fault_init(void)
{
	const char *v = getenv("PAFKA_FAULT");
	if (!v || !*v)
		return;
	const char *colon = strrchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);
	if (n >= sizeof fault_point)
		return;
	memcpy(fault_point, v, n);
	fault_point[n] = '\0';
	fault_count = colon ? strtol(colon + 1, NULL, 10) : 1;
	if (fault_count < 1)
		fault_count = 1;
	pf_fault_armed = 1;
}

void pf_fault_hit(const char *point)
{
	if (strcmp(point, fault_point) != 0)
		return;
	if (__atomic_add_fetch(&fault_seen, 1, __ATOMIC_RELAXED) != fault_count)
		return;
	pf_log(PF_LOG_WARN, "fault injection: killing the process at %s (hit %ld)", point, fault_count);
	kill(getpid(), SIGKILL);
	_exit(137);
}

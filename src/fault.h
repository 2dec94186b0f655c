/*
 * fault.h - crash injection for the recovery tests. PAFKA_FAULT=<point>:<n> kills the process with
 * SIGKILL the n-th time execution reaches PF_FAULT("<point>"). Every persist point of allocation, freeing,
 * growth, spill and both migration directions has one; tests/crash/fault.sh enumerates them from the sources.
 * Unarmed, a point costs one predictable branch (and none on the unmanaged-fd path).
 *
 * Owns: the armed point and its counter. May call: log.h.
 */
#ifndef PAFKA_FAULT_H
#define PAFKA_FAULT_H

extern int pf_fault_armed;

void pf_fault_init(void);
void pf_fault_hit(const char *point);

#define PF_FAULT(point)                                  \
	do {                                             \
		if (__builtin_expect(pf_fault_armed, 0)) \
			pf_fault_hit(point);             \
	} while (0)

#endif

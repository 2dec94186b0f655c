/*
 * fdtab.c - the fd -> managed open file table (see fdtab.h).
 *
 * Owns: the table. May call: real.h, sys.h.
 */
#define _GNU_SOURCE
#include "fdtab.h"

#include <stdlib.h>
#include <sys/mman.h>

#include "real.h"
#include "sys.h"

/* Present only under LeakSanitizer: the table is an anonymous mapping it would not otherwise scan. */
extern void __lsan_register_root_region(const void *p, size_t size) __attribute__((weak));

struct pf_ofd **pf_fdtab;
size_t pf_fdcap;
int pf_fd_transitions;

int pf_fdtab_init(void)
{
	if (pf_fdtab)
		return 0;
	size_t cap = 1u << 20;
	char *buf = NULL;
	size_t len = 0;
	if (pf_read_whole_file("/proc/sys/fs/nr_open", &buf, &len) == 0) {
		unsigned long v = strtoul(buf, NULL, 10);
		if (v >= 1024)
			cap = v;
		free(buf);
	}
	void *t = REAL(mmap)(NULL, cap * sizeof(struct pf_ofd *), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t == MAP_FAILED)
		return -1;
	if (__lsan_register_root_region)
		__lsan_register_root_region(t, cap * sizeof(struct pf_ofd *)); /* entries live only here */
	pf_fdtab = t;
	__atomic_store_n(&pf_fdcap, cap, __ATOMIC_RELEASE); /* publishes the table (see fdtab.h) */
	return 0;
}

struct pf_ofd *pf_fd_set(int fd, struct pf_ofd *o)
{
	if ((size_t)(unsigned)fd >= __atomic_load_n(&pf_fdcap, __ATOMIC_ACQUIRE))
		return NULL;
	return __atomic_exchange_n(&pf_fdtab[fd], o, __ATOMIC_ACQ_REL);
}

struct pf_ofd *pf_fd_take(int fd)
{
	return pf_fd_set(fd, NULL);
}

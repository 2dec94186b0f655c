/*
 * fdtab.h - fd -> open managed file, as a flat array of atomic pointers indexed by fd.
 *
 * Every interposed call on a descriptor asks "is this fd managed?", and for sockets and every other
 * unmanaged fd the answer must cost almost nothing: no lock, no hashing, no system call. The array is
 * reserved once at activation for the kernel's fd ceiling (fs.nr_open) with MAP_NORESERVE, so untouched
 * pages cost nothing and it never has to grow. Before activation the table pointer is NULL.
 */
#ifndef PAFKA_FDTAB_H
#define PAFKA_FDTAB_H

#include <stddef.h>

struct pf_ofd;

extern struct pf_ofd **pf_fdtab;
extern size_t pf_fdcap;

static inline struct pf_ofd *pf_fd_get(int fd)
{
	struct pf_ofd **t = __atomic_load_n(&pf_fdtab, __ATOMIC_ACQUIRE);
	if (t == NULL || (size_t)(unsigned)fd >= pf_fdcap)
		return NULL;
	return __atomic_load_n(&t[fd], __ATOMIC_ACQUIRE);
}

int pf_fdtab_init(void);
/* Install o for fd, returning what was there (a stale entry, if an fd was closed behind our back). */
struct pf_ofd *pf_fd_set(int fd, struct pf_ofd *o);
/* Remove and return the entry for fd (before the real close, so a reused number is never misread). */
struct pf_ofd *pf_fd_take(int fd);

#endif

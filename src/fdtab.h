/*
 * fdtab.h - fd -> open managed file, as a flat array of atomic pointers indexed by fd.
 *
 * Every interposed call on a descriptor asks "is this fd managed?", and for sockets and every other
 * unmanaged fd the answer must cost almost nothing: no lock, no hashing, no system call. The array is
 * reserved once at activation for the kernel's fd ceiling (fs.nr_open) with MAP_NORESERVE, so untouched
 * pages cost nothing and it never has to grow. Before activation the table pointer is NULL.
 *
 * Owns: the fd table (lock-free: atomic pointer swaps). May call: real.h, sys.h.
 * The table pointer and size are read inline by pf_fd_get on every descriptor call; only fdtab.c writes
 * them.
 */
#ifndef PAFKA_FDTAB_H
#define PAFKA_FDTAB_H

#include <stddef.h>

struct pf_ofd;

extern __attribute__((visibility("hidden"))) struct pf_ofd **pf_fdtab; /* hidden: see PF_HIDDEN in real.h */
/* 0 until the table exists, then its size. pf_fdtab is published before pf_fdcap (release), so one
 * unsigned compare against pf_fdcap answers "no table yet", "negative fd" and "fd out of range" alike. */
extern __attribute__((visibility("hidden"))) size_t pf_fdcap;

static inline struct pf_ofd *pf_fd_get(int fd)
{
	if (__builtin_expect((size_t)(unsigned)fd >= __atomic_load_n(&pf_fdcap, __ATOMIC_ACQUIRE), 1))
		return NULL;
	return __atomic_load_n(&pf_fdtab[fd], __ATOMIC_ACQUIRE);
}

/* Is either descriptor managed? (The two-descriptor calls: sendfile, copy_file_range, splice.) */
static inline int pf_fd_either(int a, int b)
{
	return pf_fd_get(a) != NULL || pf_fd_get(b) != NULL;
}

int pf_fdtab_init(void);
/* Install o for fd, returning what was there (a stale entry, if an fd was closed behind our back). */
struct pf_ofd *pf_fd_set(int fd, struct pf_ofd *o);
/* Remove and return the entry for fd (before the real close, so a reused number is never misread). */
struct pf_ofd *pf_fd_take(int fd);

#endif

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

/* Managed descriptors changing hands right now: a managed open between the real open and its
 * registration, a dup of a managed descriptor, a managed close between unregistering and the real close.
 * A call on a descriptor that looks unmanaged while this is not zero may be racing with one of them (the
 * kernel already knows the descriptor, the table not yet): it waits until they are done and looks again,
 * instead of serving the sparse real file's zeros. */
extern __attribute__((visibility("hidden"))) int pf_fd_transitions;

static inline void pf_fd_transition_begin(void)
{
	__atomic_add_fetch(&pf_fd_transitions, 1, __ATOMIC_SEQ_CST);
}

static inline void pf_fd_transition_end(void)
{
	__atomic_sub_fetch(&pf_fd_transitions, 1, __ATOMIC_SEQ_CST);
}

static inline void pf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Slow part of the lookups below (inline, see there): spin until fd is registered or no transition is
 * left. */
static inline struct pf_ofd *pf_fd_settle(int fd)
{
	struct pf_ofd *o;
	while ((o = pf_fd_get(fd)) == NULL && __atomic_load_n(&pf_fd_transitions, __ATOMIC_SEQ_CST) != 0)
		pf_cpu_relax();
	return o;
}

/* The entry of fd, or NULL when it is unmanaged: the lookup every descriptor wrapper starts with. Without
 * a table (an inert process) nothing is managed. While a transition is in flight, an fd that looks
 * unmanaged is looked up again until it is registered or no transition is left. Transitions last
 * microseconds (activation is outside them), so this spins in place: a call here would cost every
 * wrapper's unmanaged path a stack frame. */
static inline struct pf_ofd *pf_fd_lookup(int fd)
{
	/* one load of the size answers "no table yet" and "out of range" alike (see pf_fd_get) */
	if (__builtin_expect((size_t)(unsigned)fd >= __atomic_load_n(&pf_fdcap, __ATOMIC_ACQUIRE), 0))
		return NULL;
	struct pf_ofd *o = __atomic_load_n(&pf_fdtab[fd], __ATOMIC_ACQUIRE);
	if (__builtin_expect(o == NULL, 1) &&
	    __builtin_expect(__atomic_load_n(&pf_fd_transitions, __ATOMIC_SEQ_CST) != 0, 0))
		o = pf_fd_settle(fd);
	return o;
}

/* May either descriptor be managed? (The two-descriptor calls: sendfile, copy_file_range, splice.) Also
 * yes while a transition is in flight: the out-of-line code then looks both up with pf_fd_lookup. */
static inline __attribute__((always_inline)) int pf_fd_maybe_either(int a, int b)
{
	size_t cap = __atomic_load_n(&pf_fdcap, __ATOMIC_ACQUIRE); /* 0: no table, nothing below it */
	return ((size_t)(unsigned)a < cap && __atomic_load_n(&pf_fdtab[a], __ATOMIC_ACQUIRE) != NULL) ||
	       ((size_t)(unsigned)b < cap && __atomic_load_n(&pf_fdtab[b], __ATOMIC_ACQUIRE) != NULL) ||
	       __atomic_load_n(&pf_fd_transitions, __ATOMIC_SEQ_CST) != 0;
}

int pf_fdtab_init(void);
/* Install o for fd, returning what was there (a stale entry, if an fd was closed behind our back). */
struct pf_ofd *pf_fd_set(int fd, struct pf_ofd *o);
/* Remove and return the entry for fd (before the real close, so a reused number is never misread). */
struct pf_ofd *pf_fd_take(int fd);

#endif

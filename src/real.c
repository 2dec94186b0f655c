/*
 * real.c - resolution of the real libc functions listed once in real.h, and their override slot.
 * Resolution happens in the library constructor (before the JVM starts any thread) and, for a wrapper that
 * runs before it (another library's constructor), one function at a time in pf_real_lookup.
 *
 * Owns: the function pointers. May call: dlsym.
 */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <string.h>

#define PF_REAL_DEF(ret, name, params, ...) pf_real_##name##_t pf_real_##name;
PF_REAL_FUNCS(PF_REAL_DEF)
#undef PF_REAL_DEF

void *pf_real_lookup(void **slot, const char *name)
{
	void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (p)
		return p;
	p = dlsym(RTLD_NEXT, name);
	if (p)
		__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	return p;
}

#define PF_REAL_RESOLVER(ret, name, params, ...) \
	void pf_real_resolve_##name(void) \
	{ \
		pf_real_lookup((void **)&pf_real_##name, #name); \
	}
PF_REAL_FUNCS(PF_REAL_RESOLVER)
#undef PF_REAL_RESOLVER

void pf_real_resolve(void)
{
#define PF_REAL_RESOLVE(ret, name, params, ...) pf_real_lookup((void **)&pf_real_##name, #name);
	PF_REAL_FUNCS(PF_REAL_RESOLVE)
#undef PF_REAL_RESOLVE
}

void *pf_real_override(const char *name, void *fn)
{
	void **slot = NULL;
#define PF_REAL_SLOT(ret, n, params, ...) \
	if (!slot && strcmp(name, #n) == 0) \
		slot = (void **)&pf_real_##n;
	PF_REAL_FUNCS(PF_REAL_SLOT)
#undef PF_REAL_SLOT
	if (!slot)
		return NULL;
	void *old = pf_real_lookup(slot, name);
	if (!fn)
		fn = dlsym(RTLD_NEXT, name);
	__atomic_store_n(slot, fn, __ATOMIC_RELEASE);
	return old;
}

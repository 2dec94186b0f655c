/*
 * fail.c - errno injection (see fail.h).
 *
 * Each function of the table gets an injector with its own signature (generated from real.h's list; the
 * variadic ones are written out below): it counts the call, and either fails it or calls what the slot
 * held before. Only the functions named in PAFKA_FAIL get theirs installed.
 *
 * Owns: the specs and counters. May call: real.h, sys.h (which thread is calling), log.h.
 */
#define _GNU_SOURCE
#include "fail.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"
#include "sys.h"

enum {
#define PF_FAIL_ID(ret, name, params, ...) FAIL_ID_##name,
	PF_REAL_FUNCS(PF_FAIL_ID)
#undef PF_FAIL_ID
	FAIL_NFUNCS
};

struct spec {
	int armed;
	int err;
	long first;      /* the first failing call, 1-based */
	long count;      /* how many fail from there; LONG_MAX: all */
	long seen;       /* calls so far */
	int bg_only;     /* "@bg": only the shim's own threads' calls count */
};

static struct spec specs[FAIL_NFUNCS];

static const char *const id_names[FAIL_NFUNCS] = {
#define PF_FAIL_NAME(ret, name, params, ...) #name,
	PF_REAL_FUNCS(PF_FAIL_NAME)
#undef PF_FAIL_NAME
};

/* Does this call of function id fail? Then *e is its errno, and stderr says so (written by the raw
 * syscall: the line must not pass through the table it is about). */
static int take(int id, int *e, const void *caller)
{
	struct spec *s = &specs[id];
	if (s->bg_only && !pf_in_shim_thread())
		return 0;
	long n = __atomic_add_fetch(&s->seen, 1, __ATOMIC_RELAXED);
	if (n < s->first || n - s->first >= s->count)
		return 0;
	*e = s->err;
	/* where from: the object and offset of the call (addr2line -e OBJECT OFFSET), and the thread */
	Dl_info di;
	const char *obj = "?";
	uintptr_t off = (uintptr_t)caller;
	if (dladdr(caller, &di) && di.dli_fname) {
		obj = strrchr(di.dli_fname, '/') ? strrchr(di.dli_fname, '/') + 1 : di.dli_fname;
		off -= (uintptr_t)di.dli_fbase;
	}
	char thr[16] = "?";
	pthread_getname_np(pthread_self(), thr, sizeof thr);
	char line[256];
	int k = snprintf(line, sizeof line,
			 "pafka[%ld]: warning: PAFKA_FAIL: failing call %ld of %s with errno %d (from %s+%#lx, thread %s)\n",
			 (long)syscall(SYS_getpid), n, id_names[id], *e, obj, (unsigned long)off, thr);
	if (k > 0)
		(void)!syscall(SYS_write, 2, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
	return 1;
}

/* What a failing call returns: NULL for a FILE *, -1 (MAP_FAILED for the mmap family) otherwise. */
#define FAIL_VALUE(ret) _Generic((ret)0, FILE *: (ret)0, default: (ret)-1)

#define PF_FAIL_INJ(ret, name, params, args) \
	static pf_real_##name##_t next_##name; \
	static ret inj_##name params \
	{ \
		int e; \
		if (take(FAIL_ID_##name, &e, __builtin_return_address(0))) { \
			errno = e; \
			return FAIL_VALUE(ret); \
		} \
		return next_##name args; \
	}
PF_REAL_FIXED_FUNCS(PF_FAIL_INJ)
#undef PF_FAIL_INJ

/* ---- the variadic ones: the optional argument is read as glibc's own wrappers read it */

#define OPEN_INJ(name, params, fixed, last) \
	static pf_real_##name##_t next_##name; \
	static int inj_##name params \
	{ \
		mode_t mode = 0; \
		if (flags & (O_CREAT | __O_TMPFILE)) { \
			va_list ap; \
			va_start(ap, last); \
			mode = va_arg(ap, mode_t); \
			va_end(ap); \
		} \
		int e; \
		if (take(FAIL_ID_##name, &e, __builtin_return_address(0))) { \
			errno = e; \
			return -1; \
		} \
		return next_##name fixed; \
	}
OPEN_INJ(open, (const char *path, int flags, ...), (path, flags, mode), flags)
OPEN_INJ(open64, (const char *path, int flags, ...), (path, flags, mode), flags)
OPEN_INJ(openat, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode), flags)
OPEN_INJ(openat64, (int dirfd, const char *path, int flags, ...), (dirfd, path, flags, mode), flags)
#undef OPEN_INJ

#define FCNTL_INJ(name) \
	static pf_real_##name##_t next_##name; \
	static int inj_##name(int fd, int cmd, ...) \
	{ \
		va_list ap; \
		va_start(ap, cmd); \
		void *arg = va_arg(ap, void *); \
		va_end(ap); \
		int e; \
		if (take(FAIL_ID_##name, &e, __builtin_return_address(0))) { \
			errno = e; \
			return -1; \
		} \
		return next_##name(fd, cmd, arg); \
	}
FCNTL_INJ(fcntl)
FCNTL_INJ(fcntl64)
#undef FCNTL_INJ

static pf_real_mremap_t next_mremap;
static void *inj_mremap(void *old, size_t olen, size_t nlen, int flags, ...)
{
	void *naddr = NULL;
	if (flags & MREMAP_FIXED) {
		va_list ap;
		va_start(ap, flags);
		naddr = va_arg(ap, void *);
		va_end(ap);
	}
	int e;
	if (take(FAIL_ID_mremap, &e, __builtin_return_address(0))) {
		errno = e;
		return MAP_FAILED;
	}
	return next_mremap(old, olen, nlen, flags, naddr);
}

/* ---- the table of injectors */

struct injector {
	const char *name;
	void *fn;
	void **next;
};

static const struct injector injectors[] = {
#define PF_FAIL_ROW(ret, name, params, ...) { #name, (void *)inj_##name, (void **)&next_##name },
	PF_REAL_FIXED_FUNCS(PF_FAIL_ROW)
#undef PF_FAIL_ROW
	{ "open", (void *)inj_open, (void **)&next_open },
	{ "open64", (void *)inj_open64, (void **)&next_open64 },
	{ "openat", (void *)inj_openat, (void **)&next_openat },
	{ "openat64", (void *)inj_openat64, (void **)&next_openat64 },
	{ "fcntl", (void *)inj_fcntl, (void **)&next_fcntl },
	{ "fcntl64", (void *)inj_fcntl64, (void **)&next_fcntl64 },
	{ "mremap", (void *)inj_mremap, (void **)&next_mremap },
};

static const struct {
	const char *name;
	int e;
} errnos[] = {
	{ "ENOSPC", ENOSPC }, { "EIO", EIO },	  { "EINTR", EINTR },	{ "EDQUOT", EDQUOT }, { "ENOMEM", ENOMEM },
	{ "EAGAIN", EAGAIN }, { "EBADF", EBADF }, { "EACCES", EACCES }, { "EPERM", EPERM },   { "EROFS", EROFS },
	{ "EFBIG", EFBIG },   { "EMFILE", EMFILE }, { "ENFILE", ENFILE },
};

/* The decimal number s[0, n) in [lo, hi]: 0, or -1. */
static int parse_num(const char *s, size_t n, long lo, long hi, long *out)
{
	char buf[24];
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = 0;
	char *end;
	long v = strtol(buf, &end, 10);
	if (*end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_errno(const char *s, size_t n, int *e)
{
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
		if (strlen(errnos[i].name) == n && strncmp(s, errnos[i].name, n) == 0) {
			*e = errnos[i].e;
			return 0;
		}
	long v;
	if (parse_num(s, n, 1, 4095, &v) < 0)
		return -1;
	*e = (int)v;
	return 0;
}

/* A call count (from 1), or with star "*" for "all the rest" (-1). */
static int parse_count(const char *s, size_t n, long *out, int star)
{
	if (star && n == 1 && *s == '*') {
		*out = -1;
		return 0;
	}
	return parse_num(s, n, 1, __LONG_MAX__, out);
}

/* One spec "name:errno:n[:count][@bg]" of length len at s. */
static int parse_one(const char *s, size_t len, struct pf_err *err)
{
	size_t whole = len;
	int bg = len >= 3 && memcmp(s + len - 3, "@bg", 3) == 0;
	if (bg)
		len -= 3;
	const char *f[4];
	size_t fl[4];
	int nf = 0;
	const char *p = s, *end = s + len;
	while (nf < 4) {
		const char *c = memchr(p, ':', (size_t)(end - p));
		f[nf] = p;
		fl[nf++] = (size_t)((c ? c : end) - p);
		if (!c)
			break;
		p = c + 1;
	}
	int id = -1;
	for (int i = 0; i < FAIL_NFUNCS && nf >= 3; i++)
		if (strlen(id_names[i]) == fl[0] && strncmp(id_names[i], f[0], fl[0]) == 0)
			id = i;
	int e = 0;
	long first = 0, count = 1;
	if (nf < 3 || p + fl[nf - 1] != end || id < 0 || parse_errno(f[1], fl[1], &e) < 0 ||
	    parse_count(f[2], fl[2], &first, 0) < 0 || (nf == 4 && parse_count(f[3], fl[3], &count, 1) < 0)) {
		pf_err_set(err, "PAFKA_FAIL: '%.*s' is not <function>:<errno>:<n>[:<count>|*][@bg] with a function of the "
				"shim's real-call table (e.g. pwrite64:ENOSPC:3); fix or unset PAFKA_FAIL",
			   (int)whole, s);
		return -1;
	}
	if (strcmp(id_names[id], "closefrom") == 0) {
		pf_err_set(err, "PAFKA_FAIL: closefrom cannot fail; name another function");
		return -1;
	}
	specs[id] = (struct spec){ 1, e, first, count < 0 ? __LONG_MAX__ : count, 0, bg };
	return 0;
}

int pf_fail_init(const char *v, struct pf_err *err)
{
	if (!v || !*v)
		return 0;
	for (const char *p = v; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (parse_one(p, n, err) < 0) {
			memset(specs, 0, sizeof specs);
			return -1;
		}
		p += n + (c ? 1 : 0);
	}
	for (size_t i = 0; i < sizeof injectors / sizeof injectors[0]; i++)
		for (int id = 0; id < FAIL_NFUNCS; id++)
			if (specs[id].armed && strcmp(id_names[id], injectors[i].name) == 0) {
				*injectors[i].next = pf_real_override(injectors[i].name, injectors[i].fn);
				char last[32] = "and on";
				if (specs[id].count != __LONG_MAX__)
					snprintf(last, sizeof last, "to %ld", specs[id].first + specs[id].count - 1);
				pf_log(PF_LOG_WARN, "PAFKA_FAIL: calls %ld %s of %s%s fail with %s", specs[id].first, last,
				       injectors[i].name, specs[id].bg_only ? " by the shim's threads" : "",
				       strerror(specs[id].err));
			}
	return 0;
}

/*
 * unit.h - what the criterion unit tests of tests/unit share (header only): criterion itself, a fresh
 * temporary directory per test and its removal, and the end-of-test leak check under AddressSanitizer.
 * Criterion runs each test in its own process, so a test's directory, cwd and static state never leak
 * into the next one. Include it after defining _GNU_SOURCE and before any other header.
 */
#ifndef PAFKA_UNIT_H
#define PAFKA_UNIT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Under ASan, LeakSanitizer's report at a worker's exit does not fail a criterion test: each test's
 * teardown checks for leaks instead (unit_leak_check). */
#if defined(__SANITIZE_ADDRESS__)
#define PF_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PF_LSAN 1
#endif
#endif
#ifdef PF_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* Create the directory "<base>/<name>.XXXXXX" into buf (n bytes). base NULL: $TMPDIR when it is an absolute
 * path, else /tmp; trailing '/' are dropped, since tests compare paths as strings. */
static inline void unit_mkdtemp(char *buf, size_t n, const char *base, const char *name)
{
	if (!base) {
		const char *t = getenv("TMPDIR");
		base = t && t[0] == '/' ? t : "/tmp";
	}
	size_t bl = strlen(base);
	while (bl > 1 && base[bl - 1] == '/')
		bl--;
	int r = snprintf(buf, n, "%.*s/%s.XXXXXX", (int)bl, base, name);
	cr_assert(r > 0 && (size_t)r < n, "temporary directory name too long for %zu bytes", n);
	cr_assert_not_null(mkdtemp(buf), "mkdtemp %s: %s", buf, strerror(errno));
}

static inline int unit_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Leave dir (cwd to "/") and remove it with everything below it; an empty name removes nothing. */
static inline void unit_rmtree(const char *dir)
{
	if (chdir("/") != 0)
		perror("chdir");
	if (dir[0])
		nftw(dir, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The end of every test's teardown: under ASan, a leak crashes the test (an assertion failing in .fini is
 * not counted); otherwise nothing. */
static inline void unit_leak_check(void)
{
#ifdef PF_LSAN
	if (__lsan_do_recoverable_leak_check() != 0) {
		fprintf(stderr, "memory leaked (see the LeakSanitizer report above)\n");
		abort();
	}
#endif
}

#endif

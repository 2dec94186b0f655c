/*
 * test_paths.c - unit tests of the managed-path decision (src/paths.c): the segment-name pattern (the
 * hand-written default matcher and a custom regex), lexical normalisation of absolute paths, and which
 * paths sit at partition depth inside a managed log dir. The configuration is filled by hand. Every test
 * gets its own temporary directory (criterion runs each test in its own process, so chdir() and the
 * module's static state do not leak between tests).
 */
#define _GNU_SOURCE
#include "unit.h"

#include "config.h"
#include "paths.h"

#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>

/* ---- fixture -------------------------------------------------------------------------------------- */

static char tmpdir[PATH_MAX / 4]; /* as created */
static char real[PATH_MAX / 4];   /* its realpath(): what getcwd() and /proc/self/fd report */
static struct pf_err E;
static struct pf_config cfg;

static void setup(void)
{
	unit_mkdtemp(tmpdir, sizeof tmpdir, NULL, "pafka-paths");
	cr_assert_not_null(realpath(tmpdir, real));
	memset(&cfg, 0, sizeof cfg);
}

static void teardown(void)
{
	pf_paths_fini();
	unit_rmtree(tmpdir);
	for (int i = 0; i < cfg.log_dirs.n; i++)
		free(cfg.log_dirs.v[i]);
	for (int i = 0; i < cfg.second_paths.n; i++)
		free(cfg.second_paths.v[i]);
	free(cfg.segment_pattern);
	memset(&cfg, 0, sizeof cfg);
	unit_leak_check();
}

TestSuite(paths, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------------------------------------- */

/* printf into a static ring of buffers (no allocation, good for a handful of live strings) */
__attribute__((format(printf, 1, 2))) static const char *fmt(const char *f, ...)
{
	static char bufs[16][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 16];
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(b, PATH_MAX, f, ap);
	va_end(ap);
	cr_assert(n >= 0 && n < PATH_MAX);
	return b;
}

static void add_path(struct pf_paths *ps, const char *p)
{
	cr_assert_lt(ps->n, PF_MAX_PATHS);
	ps->v[ps->n] = strdup(p);
	cr_assert_not_null(ps->v[ps->n]);
	ps->n++;
}

static void set_pattern(const char *pat)
{
	free(cfg.segment_pattern);
	cfg.segment_pattern = pat ? strdup(pat) : NULL;
}

static void init_ok(void)
{
	E.msg[0] = '\0';
	int rc = pf_paths_init(&cfg, &E);
	cr_assert_eq(rc, 0, "pf_paths_init: %s", E.msg);
}

static void mkdir_ok(const char *d)
{
	cr_assert_eq(mkdir(d, 0755), 0, "mkdir %s: %s", d, strerror(errno));
}

#define assert_in(path) cr_assert(pf_path_in_managed_dir(path), "'%s' should be in a managed dir", (path))
#define assert_not_in(path) cr_assert_not(pf_path_in_managed_dir(path), "'%s' should not be in a managed dir", (path))

static void assert_logdir(const char *path, const char *want)
{
	const char *d = pf_path_logdir(path);
	if (!want) {
		cr_assert_null(d, "pf_path_logdir(%s) = '%s', want NULL", path, d);
		return;
	}
	cr_assert_not_null(d, "pf_path_logdir(%s) = NULL, want '%s'", path, want);
	cr_assert_str_eq(d, want, "pf_path_logdir(%s)", path);
}

static void assert_abs(int dirfd, const char *in, const char *want)
{
	char out[PATH_MAX];
	memset(out, 'Z', sizeof out);
	int rc = pf_path_absolute(dirfd, in, out, sizeof out);
	cr_assert_eq(rc, 0, "pf_path_absolute('%s') failed", in);
	cr_assert_str_eq(out, want, "pf_path_absolute('%s')", in);
}

/* ---- segment names ------------------------------------------------------------------------------------ */

static const char *const good_names[] = {
	"00000000000000000000.log",
	"00000000000000000000.log.deleted",
	"00000000000000000000.log.cleaned",
	"00000000000000000000.log.swap",
	"12345678901234567890.log",
	"99999999999999999999.log.deleted",
	"00000000000000123456.log",
	"00000000000000000000.index",
	"00000000000000000000.timeindex",
	"00000000000000000000.index.deleted",
	"00000000000000000042.timeindex.swap",
};

static const char *const bad_names[] = {
	"",
	".log",
	"00000000000000000000.txnindex",
	"00000000000000000000.snapshot",
	"00000000000000000000.index.foo",
	"00000000000000000000.indexx",
	"00000000000000000000.timeindex.",
	"00000000000000000000.log.foo",
	"00000000000000000000.log.",
	"00000000000000000000.logx",
	"00000000000000000000.lo",
	"00000000000000000000.LOG",
	"00000000000000000000.log.deleted.swap",
	"00000000000000000000.log.cleaned.swap",
	"00000000000000000000.log.deletedx",
	"00000000000000000000.log.swap ",
	"0000000000000000000.log",   /* 19 digits */
	"000000000000000000000.log", /* 21 digits */
	"0000000000000000000a.log",
	"a0000000000000000000.log",
	"0000000000 000000000.log",
	"-0000000000000000000.log",
	"+0000000000000000000.log",
	"00000000000000000000",
	"00000000000000000000log",
	"00000000000000000000_log",
	"leader-epoch-checkpoint",
	"partition.metadata",
	"x00000000000000000000.log",
};

Test(paths, default_pattern_accepts_segments)
{
	init_ok();
	for (size_t i = 0; i < sizeof good_names / sizeof good_names[0]; i++)
		cr_expect(pf_name_matches(good_names[i]), "'%s' should match", good_names[i]);
}

Test(paths, default_pattern_rejects_others)
{
	init_ok();
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
		cr_expect_not(pf_name_matches(bad_names[i]), "'%s' should not match", bad_names[i]);
}

/* The hand-written matcher must be exactly the documented default regex. */
static void agrees_with_default_regex(void)
{
	regex_t re;
	cr_assert_eq(regcomp(&re, PF_DEFAULT_PATTERN, REG_EXTENDED | REG_NOSUB), 0);
	static const char *const suffixes[] = { "",	    ".log",	 ".log.deleted", ".log.cleaned",
						".log.swap", ".log.swp", ".log.",	 ".index", ".timeindex", ".txnindex", ".index.swap", ".indexx",
						".log.del",  "x.log",	 ".log.cleaned.x" };
	static const char *const stems[] = { "00000000000000000000", "0000000000000000000", "000000000000000000000",
					     "1234567890123456789x", "", "99999999999999999999" };
	int checked = 0;
	for (size_t s = 0; s < sizeof stems / sizeof stems[0]; s++)
		for (size_t x = 0; x < sizeof suffixes / sizeof suffixes[0]; x++) {
			const char *n = fmt("%s%s", stems[s], suffixes[x]);
			int want = regexec(&re, n, 0, NULL, 0) == 0;
			cr_expect_eq(!!pf_name_matches(n), want, "'%s': matcher says %d, the default regex %d", n,
				     !!pf_name_matches(n), want);
			checked++;
		}
	for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
		cr_expect_eq(!!pf_name_matches(bad_names[i]), regexec(&re, bad_names[i], 0, NULL, 0) == 0, "'%s'",
			     bad_names[i]);
	regfree(&re);
	cr_assert_gt(checked, 50);
}

Test(paths, default_matcher_equals_default_regex)
{
	init_ok();
	agrees_with_default_regex();
}

/* The whole-path test (only the end of the string is looked at) agrees with the base-name test, for
 * every name above placed at the end of various paths, for the default and for a custom pattern. */
static void path_test_agrees(void)
{
	static const char *const dirs[] = { "", "/", "/var/lib/kafka/topic-0/", "rel/dir/", "/x/00000000000000000000.log/",
					    "//" };
	static const char *const names[] = { "00000000000000000000.log", "00000000000000000000.log.deleted",
					     "00000000000000000000.log.cleaned", "00000000000000000000.log.swap",
					     "0000000000000000000.log", "x00000000000000000000.log",
					     "000000000000000000000.log", "00000000000000000000.index", "a.log",
					     "00000000000000000000.log.swp", "1.seg", "" };
	int checked = 0;
	for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++)
		for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
			const char *p = fmt("%s%s", dirs[d], names[n]);
			cr_expect_eq(!!pf_path_name_matches(p), !!pf_name_matches(pf_basename(p)), "'%s'", p);
			checked++;
		}
	cr_assert_eq(checked, 72);
}

Test(paths, whole_path_test_agrees_with_base_name_test)
{
	init_ok();
	path_test_agrees();
	cr_assert(pf_path_name_matches("/l/t-0/00000000000000000000.log"));
	cr_assert_not(pf_path_name_matches("/l/t-0/x00000000000000000000.log"));
	set_pattern("^[0-9]+\\.seg$");
	init_ok();
	path_test_agrees();
}

Test(paths, explicit_default_pattern_same_as_none)
{
	set_pattern(PF_DEFAULT_PATTERN);
	init_ok();
	agrees_with_default_regex();
}

Test(paths, custom_pattern)
{
	set_pattern("^[0-9]+\\.seg$");
	init_ok();
	cr_assert(pf_name_matches("1.seg"));
	cr_assert(pf_name_matches("0042.seg"));
	cr_assert_not(pf_name_matches("00000000000000000000.log"), "the default pattern still applies");
	cr_assert_not(pf_name_matches("1.seg.deleted"));
	cr_assert_not(pf_name_matches("x.seg"));
	/* a pattern without anchors matches anywhere, as an ERE does */
	set_pattern("\\.log$");
	init_ok();
	cr_assert(pf_name_matches("anything.log"));
	cr_assert(pf_name_matches("00000000000000000000.log"));
	cr_assert_not(pf_name_matches("00000000000000000000.log.deleted"));
}

Test(paths, custom_pattern_is_extended_regex)
{
	set_pattern("^(a|b){2}\\.log$");
	init_ok();
	cr_assert(pf_name_matches("ab.log"));
	cr_assert(pf_name_matches("ba.log"));
	cr_assert_not(pf_name_matches("abc.log"));
	cr_assert_not(pf_name_matches("(a|b){2}.log"));
}

Test(paths, invalid_pattern_rejected)
{
	set_pattern("^([0-9]+\\.log");
	memset(E.msg, 0, sizeof E.msg);
	int rc = pf_paths_init(&cfg, &E);
	cr_assert_eq(rc, -1, "an invalid regex was accepted");
	cr_assert_neq(E.msg[0], '\0');
	cr_assert_null(strchr(E.msg, '\n'));
	cr_assert(strstr(E.msg, "pafka.segment.pattern") != NULL, "error '%s' does not name the key", E.msg);
	cr_assert(strstr(E.msg, "^([0-9]+\\.log") != NULL, "error '%s' does not quote the pattern", E.msg);
	cr_assert(strstr(E.msg, "regex") != NULL, "error '%s' does not say what is wrong", E.msg);
	set_pattern("a{2,1}");
	cr_assert_eq(pf_paths_init(&cfg, &E), -1);
	set_pattern("[z-a]");
	cr_assert_eq(pf_paths_init(&cfg, &E), -1);
}

Test(paths, reinit_replaces_pattern_and_dirs)
{
	set_pattern("^x$");
	add_path(&cfg.log_dirs, "/nonexistent-pafka/a");
	init_ok();
	cr_assert(pf_name_matches("x"));
	cr_assert_eq(pf_paths_ndirs(), 1);
	free(cfg.log_dirs.v[0]);
	cfg.log_dirs.v[0] = strdup("/nonexistent-pafka/b");
	set_pattern(NULL);
	init_ok();
	cr_assert_not(pf_name_matches("x"), "the old custom pattern survived a re-init");
	cr_assert(pf_name_matches("00000000000000000000.log"));
	cr_assert_eq(pf_paths_ndirs(), 1);
	cr_assert_str_eq(pf_paths_dir(0), "/nonexistent-pafka/b");
	assert_not_in("/nonexistent-pafka/a/p/00000000000000000000.log");
	pf_paths_fini();
	cr_assert_eq(pf_paths_ndirs(), 0);
	cr_assert_null(pf_paths_dir(0));
	cr_assert_null(pf_paths_dir(-1));
	assert_not_in("/nonexistent-pafka/b/p/00000000000000000000.log");
}

Test(paths, basename)
{
	cr_assert_str_eq(pf_basename("/a/b/c.log"), "c.log");
	cr_assert_str_eq(pf_basename("c.log"), "c.log");
	cr_assert_str_eq(pf_basename("/c"), "c");
	cr_assert_str_eq(pf_basename("/a/b/"), "");
	const char *p = "/x/y/z";
	cr_assert_eq(pf_basename(p), p + 5, "pf_basename copies");
}

/* ---- pf_path_absolute ----------------------------------------------------------------------------------- */

Test(paths, absolute_normalises)
{
	static const char *const cases[][2] = {
		{ "/", "/" },
		{ "//", "/" },
		{ "///", "/" },
		{ "/a", "/a" },
		{ "/a/b/c", "/a/b/c" },
		{ "//a//b", "/a/b" },
		{ "/a//b///c", "/a/b/c" },
		{ "/a/b/", "/a/b" },
		{ "/a/b//", "/a/b" },
		{ "/./", "/" },
		{ "/.", "/" },
		{ "/a/./b", "/a/b" },
		{ "/a/././b/.", "/a/b" },
		{ "/./a/./", "/a" },
		{ "/a/b/../c", "/a/c" },
		{ "/a/b/..", "/a" },
		{ "/a/..", "/" },
		{ "/a/../", "/" },
		{ "/..", "/" },
		{ "/../a", "/a" },
		{ "/../../a/..", "/" },
		{ "/a/b/../../..", "/" },
		{ "/a/b/c/../../d", "/a/d" },
		{ "/a//..//b", "/b" },
		{ "/a/./../b/./c/..", "/b" },
		{ "/...", "/..." },
		{ "/a/.b", "/a/.b" },
		{ "/a/..b", "/a/..b" },
		{ "/a/b..", "/a/b.." },
		{ "/a/.../b", "/a/.../b" },
		{ "/logs/t-0/00000000000000000000.log", "/logs/t-0/00000000000000000000.log" },
		{ "/logs//t-0/./00000000000000000000.log", "/logs/t-0/00000000000000000000.log" },
		{ "/logs/x/../t-0/00000000000000000000.log", "/logs/t-0/00000000000000000000.log" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		assert_abs(AT_FDCWD, cases[i][0], cases[i][1]);
}

Test(paths, absolute_relative_to_cwd)
{
	mkdir_ok(fmt("%s/sub", tmpdir));
	cr_assert_eq(chdir(fmt("%s/sub", tmpdir)), 0);
	const char *cwd = fmt("%s/sub", real);
	assert_abs(AT_FDCWD, "x", fmt("%s/x", cwd));
	assert_abs(AT_FDCWD, "x/y/", fmt("%s/x/y", cwd));
	assert_abs(AT_FDCWD, "./x/../y", fmt("%s/y", cwd));
	assert_abs(AT_FDCWD, ".", cwd);
	assert_abs(AT_FDCWD, "", cwd);
	assert_abs(AT_FDCWD, "..", real);
	assert_abs(AT_FDCWD, "../z", fmt("%s/z", real));
	assert_abs(AT_FDCWD, "x//y", fmt("%s/x/y", cwd));
	/* an absolute path ignores the cwd */
	assert_abs(AT_FDCWD, "/q//r", "/q/r");
	/* from "/" */
	cr_assert_eq(chdir("/"), 0);
	assert_abs(AT_FDCWD, "etc", "/etc");
	assert_abs(AT_FDCWD, ".", "/");
	assert_abs(AT_FDCWD, "..", "/");
}

Test(paths, absolute_relative_to_dirfd)
{
	mkdir_ok(fmt("%s/d", tmpdir));
	mkdir_ok(fmt("%s/d/e", tmpdir));
	mkdir_ok(fmt("%s/elsewhere", tmpdir));
	cr_assert_eq(chdir(fmt("%s/elsewhere", tmpdir)), 0);
	int fd = open(fmt("%s/d/e", tmpdir), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	assert_abs(fd, "a/b", fmt("%s/d/e/a/b", real));
	assert_abs(fd, "./a//b/", fmt("%s/d/e/a/b", real));
	assert_abs(fd, "../c", fmt("%s/d/c", real));
	assert_abs(fd, "../../x/../y", fmt("%s/y", real));
	assert_abs(fd, ".", fmt("%s/d/e", real));
	/* absolute paths ignore dirfd */
	assert_abs(fd, "/q/./r", "/q/r");
	/* an O_PATH descriptor works too */
	int pfd = open(fmt("%s/d", tmpdir), O_PATH | O_DIRECTORY);
	cr_assert_geq(pfd, 0);
	assert_abs(pfd, "t-0/00000000000000000000.log", fmt("%s/d/t-0/00000000000000000000.log", real));
	close(pfd);
	/* the directory reached through a symlink: the descriptor names the real directory */
	cr_assert_eq(symlink(fmt("%s/d", tmpdir), fmt("%s/link", tmpdir)), 0);
	int lfd = open(fmt("%s/link", tmpdir), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(lfd, 0);
	assert_abs(lfd, "f", fmt("%s/d/f", real));
	close(lfd);
	/* an unknown descriptor is an error, not the cwd */
	close(fd);
	char out[PATH_MAX];
	cr_assert_eq(pf_path_absolute(fd, "a/b", out, sizeof out), -1, "a closed dirfd gave '%s'", out);
	cr_assert_eq(pf_path_absolute(-5, "a/b", out, sizeof out), -1);
}

Test(paths, absolute_too_long)
{
	char out[8];
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "/abcdef", out, sizeof out), 0, "7 chars + NUL fit in 8");
	cr_assert_str_eq(out, "/abcdef");
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "/abcdefg", out, sizeof out), -1);
	cr_assert_eq(chdir(tmpdir), 0);
	char big[64];
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "x", big, strlen(real) + 2), -1, "no room for the NUL");
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "x", big, strlen(real) + 3), 0);
	cr_assert_str_eq(big, fmt("%s/x", real));
	/* PATH_MAX-long input into a PATH_MAX buffer */
	char *longp = malloc(PATH_MAX + 10);
	cr_assert_not_null(longp);
	memset(longp, 'a', PATH_MAX + 9);
	longp[0] = '/';
	longp[PATH_MAX + 9] = '\0';
	char o2[PATH_MAX];
	int rc = pf_path_absolute(AT_FDCWD, longp, o2, sizeof o2);
	int rc2 = pf_path_absolute(AT_FDCWD, longp + 1, o2, sizeof o2);
	free(longp);
	cr_assert_eq(rc, -1);
	cr_assert_eq(rc2, -1);
}

/* ---- managed directories ---------------------------------------------------------------------------------- */

Test(paths, partition_depth_only)
{
	add_path(&cfg.log_dirs, "/data/kafka");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 1, "a nonexistent dir has no realpath form");
	assert_in("/data/kafka/t-0/00000000000000000000.log");
	assert_in("/data/kafka/t-0/anything"); /* the name is not looked at */
	assert_not_in("/data/kafka/00000000000000000000.log");
	assert_not_in("/data/kafka/t-0/sub/00000000000000000000.log");
	assert_not_in("/data/kafka");
	assert_not_in("/data/kafka/t-0");
	assert_not_in("/data/kafka2/t-0/00000000000000000000.log");
	assert_not_in("/data/kafk/t-0/00000000000000000000.log");
	assert_not_in("/data/t-0/00000000000000000000.log");
	assert_not_in("/other/kafka/t-0/00000000000000000000.log");
	assert_not_in("/data/kafka/t-0/x/y/00000000000000000000.log");
	assert_not_in("/data/kafka//00000000000000000000.log"); /* an empty partition component */
	assert_not_in("/");
	assert_not_in("/00000000000000000000.log");
	assert_not_in("");
	assert_not_in("00000000000000000000.log");
}

Test(paths, managed_combines_name_and_depth)
{
	add_path(&cfg.log_dirs, "/data/kafka");
	init_ok();
	cr_assert(pf_path_managed("/data/kafka/t-0/00000000000000000000.log"));
	cr_assert(pf_path_managed("/data/kafka/t-0/00000000000000000000.log.deleted"));
	cr_assert(pf_path_managed("/data/kafka/t-0/00000000000000000000.log.swap"));
	cr_assert(pf_path_managed("/data/kafka/t-0/00000000000000000000.index"));
	cr_assert(pf_path_managed("/data/kafka/t-0/00000000000000000000.timeindex"));
	cr_assert_not(pf_path_managed("/data/kafka/t-0/00000000000000000000.txnindex"));
	cr_assert_not(pf_path_managed("/data/kafka/t-0/00000000000000000000.snapshot"));
	cr_assert_not(pf_path_managed("/data/kafka/00000000000000000000.log"));
	cr_assert_not(pf_path_managed("/data/other/t-0/00000000000000000000.log"));
	cr_assert_not(pf_path_managed("/data/kafka/t-0/x/00000000000000000000.log"));
}

Test(paths, log_dir_with_trailing_slash_and_unnormalised)
{
	add_path(&cfg.log_dirs, "/data/kafka/");
	add_path(&cfg.log_dirs, "//data2/./x/../kafka//");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 2);
	cr_assert_str_eq(pf_paths_dir(0), "/data/kafka");
	cr_assert_str_eq(pf_paths_dir(1), "/data2/kafka");
	assert_in("/data/kafka/t-0/00000000000000000000.log");
	assert_in("/data2/kafka/t-0/00000000000000000000.log");
	assert_not_in("/data/kafka/00000000000000000000.log");
	assert_not_in("/data2/x/kafka/t-0/00000000000000000000.log");
	assert_logdir("/data/kafka/t-0/00000000000000000000.log", "/data/kafka");
}

Test(paths, duplicate_log_dirs_collapse)
{
	add_path(&cfg.log_dirs, "/data/kafka");
	add_path(&cfg.log_dirs, "/data/kafka/");
	add_path(&cfg.log_dirs, "/data//kafka");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 1);
	assert_in("/data/kafka/t-0/00000000000000000000.log");
}

Test(paths, root_as_log_dir)
{
	add_path(&cfg.log_dirs, "/");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 1, "'/' and its realpath are the same dir");
	cr_assert_str_eq(pf_paths_dir(0), "/");
	assert_in("/t-0/00000000000000000000.log");
	assert_logdir("/t-0/00000000000000000000.log", "/");
	assert_not_in("/00000000000000000000.log");
	assert_not_in("/a/t-0/00000000000000000000.log");
	assert_not_in("/t-0");
	assert_not_in("//00000000000000000000.log"); /* an empty partition component */
	cr_assert(pf_path_managed("/t-0/00000000000000000000.log"));
}

Test(paths, second_paths_override_log_dirs)
{
	add_path(&cfg.log_dirs, "/from/log-dirs");
	add_path(&cfg.second_paths, "/from/second-a");
	add_path(&cfg.second_paths, "/from/second-b");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 2);
	assert_in("/from/second-a/t-0/00000000000000000000.log");
	assert_in("/from/second-b/t-1/00000000000000000000.log");
	assert_not_in("/from/log-dirs/t-0/00000000000000000000.log");
	assert_logdir("/from/second-b/t-1/00000000000000000000.log", "/from/second-b");
	assert_logdir("/from/log-dirs/t-0/00000000000000000000.log", NULL);
}

Test(paths, log_dirs_used_without_second_paths)
{
	add_path(&cfg.log_dirs, "/a/logs");
	add_path(&cfg.log_dirs, "/b/logs");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 2);
	assert_in("/a/logs/t-0/00000000000000000000.log");
	assert_in("/b/logs/t-0/00000000000000000000.log");
}

Test(paths, no_dirs_manages_nothing)
{
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 0);
	assert_not_in("/t-0/00000000000000000000.log");
	assert_not_in("/data/kafka/t-0/00000000000000000000.log");
	cr_assert_not(pf_path_managed("/data/kafka/t-0/00000000000000000000.log"));
}

Test(paths, log_dir_through_symlink)
{
	const char *target = fmt("%s/real-logs", tmpdir);
	const char *link = fmt("%s/link-logs", tmpdir);
	mkdir_ok(target);
	cr_assert_eq(symlink(target, link), 0);
	add_path(&cfg.log_dirs, link);
	init_ok();
	const char *link_abs = fmt("%s/link-logs", tmpdir); /* as configured (normalised) */
	const char *real_abs = fmt("%s/real-logs", real);   /* what realpath() and the kernel report */
	cr_assert_eq(pf_paths_ndirs(), 2, "want the configured and the resolved form");
	assert_in(fmt("%s/t-0/00000000000000000000.log", link_abs));
	assert_in(fmt("%s/t-0/00000000000000000000.log", real_abs));
	assert_logdir(fmt("%s/t-0/00000000000000000000.log", link_abs), link_abs);
	assert_logdir(fmt("%s/t-0/00000000000000000000.log", real_abs), real_abs);
	assert_not_in(fmt("%s/t-0/00000000000000000000.log", real));
	/* a path built from a dirfd of a partition dir under the link resolves to the real form: managed */
	mkdir_ok(fmt("%s/t-0", target));
	int fd = open(fmt("%s/t-0", link), O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	char abs[PATH_MAX];
	cr_assert_eq(pf_path_absolute(fd, "00000000000000000000.log", abs, sizeof abs), 0);
	close(fd);
	cr_assert(pf_path_managed(abs), "'%s' (via a dirfd) is not managed", abs);
}

Test(paths, relative_log_dir_resolved_against_cwd)
{
	mkdir_ok(fmt("%s/logs", tmpdir));
	cr_assert_eq(chdir(tmpdir), 0);
	add_path(&cfg.log_dirs, "logs");
	init_ok();
	cr_assert_str_eq(pf_paths_dir(0), fmt("%s/logs", real));
	assert_in(fmt("%s/logs/t-0/00000000000000000000.log", real));
	/* a later chdir does not change the managed dir */
	cr_assert_eq(chdir("/"), 0);
	assert_in(fmt("%s/logs/t-0/00000000000000000000.log", real));
	assert_not_in("/logs/t-0/00000000000000000000.log");
}

Test(paths, logdir_picks_the_right_dir)
{
	add_path(&cfg.log_dirs, "/d/logs");
	add_path(&cfg.log_dirs, "/d/logs2");
	add_path(&cfg.log_dirs, "/d");
	add_path(&cfg.log_dirs, "/d/logs/nested");
	init_ok();
	cr_assert_eq(pf_paths_ndirs(), 4);
	assert_logdir("/d/logs/t-0/00000000000000000000.log", "/d/logs");
	assert_logdir("/d/logs2/t-0/00000000000000000000.log", "/d/logs2");
	assert_logdir("/d/t-0/00000000000000000000.log", "/d");
	assert_logdir("/d/logs/nested/t-0/00000000000000000000.log", "/d/logs/nested");
	/* "logs" is a partition-depth directory of "/d" */
	assert_logdir("/d/logs/00000000000000000000.log", "/d");
	assert_logdir("/d/logs3/t-0/00000000000000000000.log", NULL);
	assert_logdir("/d/log/t-0/00000000000000000000.log", NULL);
	assert_logdir("/e/t-0/00000000000000000000.log", NULL);
	/* the returned string is one of the managed dirs */
	const char *d = pf_path_logdir("/d/logs2/t-0/x");
	int found = 0;
	for (int i = 0; i < pf_paths_ndirs(); i++)
		found |= pf_paths_dir(i) == d;
	cr_assert(found);
}

Test(paths, normalised_path_then_decision)
{
	/* what interpose.c does: normalise, then decide */
	add_path(&cfg.log_dirs, fmt("%s/logs", real));
	mkdir_ok(fmt("%s/logs", real));
	mkdir_ok(fmt("%s/logs/t-0", real));
	init_ok();
	cr_assert_eq(chdir(fmt("%s/logs/t-0", real)), 0);
	char abs[PATH_MAX];
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "00000000000000000000.log", abs, sizeof abs), 0);
	cr_assert(pf_path_managed(abs), "'%s'", abs);
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "./../t-0//00000000000000000000.log", abs, sizeof abs), 0);
	cr_assert(pf_path_managed(abs), "'%s'", abs);
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "../00000000000000000000.log", abs, sizeof abs), 0);
	cr_assert_not(pf_path_managed(abs), "'%s'", abs);
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "x/00000000000000000000.log", abs, sizeof abs), 0);
	cr_assert_not(pf_path_managed(abs), "'%s'", abs);
	cr_assert_eq(pf_path_absolute(AT_FDCWD, "00000000000000000000.snapshot", abs, sizeof abs), 0);
	cr_assert_not(pf_path_managed(abs), "'%s'", abs);
}

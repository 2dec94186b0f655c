/*
 * test_config.c - unit tests of the configuration module (src/config.c): precedence of the three sources,
 * defaults, validation messages, size and env-name helpers, the Java .properties parser and path handling.
 * Every test gets its own temporary directory (criterion runs each test in its own process, so chdir()
 * and static state do not leak between tests).
 */
#define _GNU_SOURCE
#include "unit.h"

#include <limits.h>
#include <stdarg.h>

#include "config.h"

/* ---- fixture: a temp dir, files in it, strings to free --------------------------------------------- */

static char tmpdir[PATH_MAX];
static char *owned[64];
static int n_owned;

static char *own(char *s)
{
	cr_assert_not_null(s);
	cr_assert_lt(n_owned, 64);
	owned[n_owned++] = s;
	return s;
}

/* printf into a string freed at teardown */
__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	int r = vasprintf(&s, f, ap);
	va_end(ap);
	cr_assert_geq(r, 0);
	return own(s);
}

/* Write name (relative to tmpdir) with content; returns its absolute path. */
static char *write_file(const char *name, const char *content)
{
	char *path = fmt("%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "fopen %s", path);
	cr_assert_eq(fputs(content, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	return path;
}

static void setup(void)
{
	unit_mkdtemp(tmpdir, sizeof tmpdir, NULL, "pafka-config");
}

static void teardown(void)
{
	unit_rmtree(tmpdir);
	for (int i = 0; i < n_owned; i++)
		free(owned[i]);
	n_owned = 0;
	unit_leak_check();
}

TestSuite(config, .init = setup, .fini = teardown);

/* A NUL-separated command line, as in /proc/self/cmdline. */
struct cmd {
	char buf[4096];
	size_t len;
};

static void mkcmd(struct cmd *c, const char *const *argv)
{
	c->len = 0;
	for (; *argv; argv++) {
		size_t n = strlen(*argv) + 1;
		cr_assert_lt(c->len + n, sizeof c->buf);
		memcpy(c->buf + c->len, *argv, n);
		c->len += n;
	}
}

#define ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ENV(...) ((char *[]){ __VA_ARGS__, NULL })

static char *no_env[] = { NULL };

/* the problem reported by the last load */
static struct pf_err err;

/* load with a command line given as an argv (or NULL for none) */
static int load(struct pf_config *c, char **env, const char *const *argv)
{
	struct cmd cmd;
	memset(&err, 0, sizeof err);
	if (!argv)
		return pf_config_load(c, env, NULL, 0, &err);
	mkcmd(&cmd, argv);
	return pf_config_load(c, env, cmd.buf, cmd.len, &err);
}

/* a broker command line reading props */
#define KAFKA(props, ...) ARGV("java", "-Xmx1G", "-cp", "/opt/kafka/libs/*", "kafka.Kafka", props, ##__VA_ARGS__)

#define assert_error_has(s) cr_assert(strstr(err.msg, (s)) != NULL, "error '%s' lacks '%s'", err.msg, (s))
#define assert_ok(rc) cr_assert_eq((rc), 0, "unexpected error: %s", err.msg)

/* ---- defaults ------------------------------------------------------------------------------------- */

Test(config, defaults_without_any_source)
{
	struct pf_config c;
	int rc = load(&c, no_env, NULL);
	assert_ok(rc);
	cr_assert_str_empty(err.msg);
	cr_assert_eq(c.channel, PF_CHANNEL_FILE);
	cr_assert_str_eq(c.tier_types[0], "PMEM");
	cr_assert_str_eq(c.tier_types[1], "HDD");
	cr_assert_eq(c.first_paths.n, 0);
	cr_assert_eq(c.n_first_sizes, 0);
	cr_assert_eq(c.second_paths.n, 0);
	cr_assert_eq(c.log_dirs.n, 0, "no server.properties: no default log dir");
	cr_assert_float_eq(c.migrate_threshold, 0.5, 1e-12);
	cr_assert_eq(c.migrate_threads, 1);
	cr_assert_float_eq(c.pool_ratio, 0.8, 1e-12);
	cr_assert_str_eq(c.segment_pattern, PF_DEFAULT_PATTERN);
	cr_assert_eq(c.block_size, 1u << 20);
	cr_assert_eq(c.migrate_idle_ms, 30000);
	cr_assert_eq(c.migrate_promote, 1);
	cr_assert_eq(c.migrate_rate_bytes, 0);
	cr_assert_eq(c.log_level, 2);
	cr_assert_eq(c.metrics_port, 0);
	cr_assert_str_eq(c.metrics_address, "127.0.0.1");
	cr_assert_null(c.server_properties);
	pf_config_free(&c);
}

Test(config, default_log_dir_only_with_server_properties)
{
	char *props = write_file("server.properties", "broker.id=0\n");
	struct pf_config c;
	int rc = load(&c, no_env, KAFKA(props));
	assert_ok(rc);
	cr_assert_str_eq(c.server_properties, props);
	cr_assert_eq(c.log_dirs.n, 1);
	cr_assert_str_eq(c.log_dirs.v[0], "/tmp/kafka-logs");
	pf_config_free(&c);
}

Test(config, cmdline_without_kafka_main_class)
{
	char *props = write_file("server.properties", "log.dirs=/data/k\nlog.channel.type=pmem\n");
	struct pf_config c;
	int rc = load(&c, no_env, ARGV("java", "-cp", "x.jar", "org.example.Other", props));
	assert_ok(rc); /* pmem from the file would need first paths: the file must not be read */
	cr_assert_null(c.server_properties);
	cr_assert_eq(c.log_dirs.n, 0);
	cr_assert_eq(c.channel, PF_CHANNEL_FILE);
	pf_config_free(&c);
}

Test(config, kafka_main_class_without_properties_file)
{
	struct pf_config c;
	int rc = load(&c, no_env, ARGV("java", "kafka.Kafka", "--version"));
	assert_ok(rc);
	cr_assert_null(c.server_properties);
	cr_assert_eq(c.log_dirs.n, 0);
	pf_config_free(&c);
	rc = load(&c, no_env, ARGV("java", "kafka.Kafka"));
	assert_ok(rc);
	cr_assert_null(c.server_properties);
	pf_config_free(&c);
}

Test(config, cmdline_last_argument_without_nul)
{
	char *props = write_file("s.properties", "log.dirs=/d\n");
	struct cmd cmd;
	mkcmd(&cmd, ARGV("java", "kafka.Kafka", props));
	struct pf_config c;
	int rc = pf_config_load(&c, no_env, cmd.buf, cmd.len - 1, &err); /* drop the final NUL */
	assert_ok(rc);
	cr_assert_str_eq(c.server_properties, props);
	cr_assert_str_eq(c.log_dirs.v[0], "/d");
	pf_config_free(&c);
}

Test(config, unreadable_server_properties_is_an_error)
{
	struct pf_config c;
	char *missing = fmt("%s/nope.properties", tmpdir);
	int rc = load(&c, no_env, KAFKA(missing));
	cr_assert_eq(rc, -1);
	assert_error_has(missing);
	cr_assert_null(c.server_properties);
	pf_config_free(&c);
}

Test(config, unreadable_pafka_config_is_an_error)
{
	struct pf_config c;
	char *missing = fmt("%s/nope.conf", tmpdir);
	int rc = load(&c, ENV(fmt("PAFKA_CONFIG=%s", missing)), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("PAFKA_CONFIG");
	assert_error_has(missing);
	pf_config_free(&c);
}

/* ---- precedence ----------------------------------------------------------------------------------- */

Test(config, env_beats_pafka_config_beats_server_properties)
{
	char *props = write_file("server.properties",
				 "storage.migrate.threads=2\n"
				 "storage.migrate.threshold=0.2\n"
				 "log.pmem.pool.ratio=0.2\n"
				 "pafka.migrate.idle.ms=2\n");
	char *conf = write_file("pafka.conf",
				"storage.migrate.threads=3\n"
				"storage.migrate.threshold=0.3\n"
				"pafka.migrate.idle.ms=3\n");
	struct pf_config c;
	int rc = load(&c,
		      ENV(fmt("PAFKA_CONFIG=%s", conf), "PAFKA_STORAGE_MIGRATE_THREADS=4", "HOME=/root"),
		      KAFKA(props));
	assert_ok(rc);
	cr_assert_eq(c.migrate_threads, 4, "env beats PAFKA_CONFIG and server.properties");
	cr_assert_float_eq(c.migrate_threshold, 0.3, 1e-12, "PAFKA_CONFIG beats server.properties");
	cr_assert_eq(c.migrate_idle_ms, 3, "PAFKA_CONFIG beats server.properties");
	cr_assert_float_eq(c.pool_ratio, 0.2, 1e-12, "server.properties used when nothing else sets it");
	pf_config_free(&c);
}

Test(config, override_beats_server_properties_but_not_the_others)
{
	char *props = write_file("server.properties",
				 "storage.migrate.threads=2\n"
				 "log.pmem.pool.ratio=0.2\n"
				 "pafka.migrate.idle.ms=2\n"
				 "pafka.metrics.port=2\n");
	char *conf = write_file("pafka.conf", "pafka.migrate.idle.ms=3\n");
	struct pf_config c;
	int rc = load(&c, ENV(fmt("PAFKA_CONFIG=%s", conf), "PAFKA_METRICS_PORT=4"),
		      KAFKA(props, "--override", "storage.migrate.threads=5", "--override=log.pmem.pool.ratio=0.5",
			    "--override", "pafka.migrate.idle.ms=5", "--override", "pafka.metrics.port=5"));
	assert_ok(rc);
	cr_assert_eq(c.migrate_threads, 5, "--override beats the file");
	cr_assert_float_eq(c.pool_ratio, 0.5, 1e-12, "--override=k=v form");
	cr_assert_eq(c.migrate_idle_ms, 3, "PAFKA_CONFIG beats --override");
	cr_assert_eq(c.metrics_port, 4, "env beats --override");
	pf_config_free(&c);
}

Test(config, later_override_wins_and_unknown_overrides_are_ignored)
{
	char *props = write_file("server.properties", "broker.id=1\n");
	struct pf_config c;
	int rc = load(&c, no_env,
		      KAFKA(props, "--override", "storage.migrate.threads=7", "--override", "broker.id=3",
			    "--override", "storage.migrate.threads=8", "--override", "noequals"));
	assert_ok(rc);
	cr_assert_eq(c.migrate_threads, 8);
	pf_config_free(&c);
}

Test(config, first_duplicate_env_entry_wins)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_MIGRATE_IDLE_MS=10", "PAFKA_MIGRATE_IDLE_MS=20"), NULL);
	assert_ok(rc);
	cr_assert_eq(c.migrate_idle_ms, 10);
	pf_config_free(&c);
}

/* ---- log.dirs vs log.dir -------------------------------------------------------------------------- */

Test(config, log_dirs_beats_log_dir_in_the_same_source)
{
	char *props = write_file("server.properties", "log.dir=/one\nlog.dirs=/a,/b\n");
	struct pf_config c;
	int rc = load(&c, no_env, KAFKA(props));
	assert_ok(rc);
	cr_assert_eq(c.log_dirs.n, 2);
	cr_assert_str_eq(c.log_dirs.v[0], "/a");
	cr_assert_str_eq(c.log_dirs.v[1], "/b");
	pf_config_free(&c);
}

Test(config, log_dir_used_without_log_dirs)
{
	char *props = write_file("server.properties", "log.dir=/one/\n");
	struct pf_config c;
	int rc = load(&c, no_env, KAFKA(props));
	assert_ok(rc);
	cr_assert_eq(c.log_dirs.n, 1);
	cr_assert_str_eq(c.log_dirs.v[0], "/one");
	pf_config_free(&c);
}

Test(config, log_dir_override_does_not_beat_log_dirs_of_the_file)
{
	/* Kafka merges the overrides into the file, then prefers log.dirs */
	char *props = write_file("server.properties", "log.dirs=/a\n");
	struct pf_config c;
	int rc = load(&c, no_env, KAFKA(props, "--override", "log.dir=/b"));
	assert_ok(rc);
	cr_assert_str_eq(c.log_dirs.v[0], "/a");
	pf_config_free(&c);
}

Test(config, log_dir_from_a_higher_source_beats_log_dirs)
{
	char *props = write_file("server.properties", "log.dirs=/a\n");
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_LOG_DIR=/env"), KAFKA(props));
	assert_ok(rc);
	cr_assert_eq(c.log_dirs.n, 1);
	cr_assert_str_eq(c.log_dirs.v[0], "/env");
	pf_config_free(&c);
}

Test(config, log_dirs_from_env_without_server_properties)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_LOG_DIRS=/x/logs"), NULL);
	assert_ok(rc);
	cr_assert_eq(c.log_dirs.n, 1);
	cr_assert_str_eq(c.log_dirs.v[0], "/x/logs");
	pf_config_free(&c);
}

/* ---- env names ------------------------------------------------------------------------------------ */

Test(config, env_name_mapping)
{
	char buf[64];
	cr_assert_eq(pf_config_env_name("log.dirs", buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "PAFKA_LOG_DIRS");
	cr_assert_eq(pf_config_env_name("pafka.migrate.idle.ms", buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "PAFKA_MIGRATE_IDLE_MS");
	cr_assert_eq(pf_config_env_name("storage.tiers.first.paths", buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "PAFKA_STORAGE_TIERS_FIRST_PATHS");
	cr_assert_eq(pf_config_env_name("log.pmem.pool.ratio", buf, sizeof buf), 0);
	cr_assert_str_eq(buf, "PAFKA_LOG_PMEM_POOL_RATIO");
	/* exact fit and one byte short */
	char small[sizeof "PAFKA_LOG_DIRS"];
	cr_assert_eq(pf_config_env_name("log.dirs", small, sizeof small), 0);
	cr_assert_str_eq(small, "PAFKA_LOG_DIRS");
	cr_assert_eq(pf_config_env_name("log.dirs", small, sizeof small - 1), -1);
}

/* Every key is reachable under its env name (checked through the loaded value). */
Test(config, every_key_settable_from_env)
{
	struct pf_config c;
	int rc = load(&c,
		      ENV("PAFKA_LOG_CHANNEL_TYPE=tiered", "PAFKA_STORAGE_TIERS_TYPES=NVME,SSD",
			  "PAFKA_STORAGE_TIERS_FIRST_PATHS=/p1,/p2", "PAFKA_STORAGE_TIERS_FIRST_SIZES=1G,2G",
			  "PAFKA_STORAGE_TIERS_SECOND_PATHS=/s", "PAFKA_STORAGE_MIGRATE_THRESHOLD=0.25",
			  "PAFKA_STORAGE_MIGRATE_THREADS=64", "PAFKA_LOG_PMEM_POOL_RATIO=1",
			  "PAFKA_LOG_DIRS=/l", "PAFKA_SEGMENT_PATTERN=^x$", "PAFKA_POOL_BLOCK_SIZE=4096",
			  "PAFKA_MIGRATE_IDLE_MS=0", "PAFKA_MIGRATE_PROMOTE=false", "PAFKA_MIGRATE_RATE_BYTES=10M",
			  "PAFKA_LOG_LEVEL=debug", "PAFKA_METRICS_PORT=65535", "PAFKA_METRICS_ADDRESS=0.0.0.0"),
		      NULL);
	assert_ok(rc);
	cr_assert_eq(c.channel, PF_CHANNEL_TIERED);
	cr_assert_str_eq(c.tier_types[0], "NVME");
	cr_assert_str_eq(c.tier_types[1], "SSD");
	cr_assert_eq(c.first_paths.n, 2);
	cr_assert_str_eq(c.first_paths.v[1], "/p2");
	cr_assert_eq(c.n_first_sizes, 2);
	cr_assert_eq(c.first_sizes[0], 1LL << 30);
	cr_assert_eq(c.first_sizes[1], 2LL << 30);
	cr_assert_str_eq(c.second_paths.v[0], "/s");
	cr_assert_float_eq(c.migrate_threshold, 0.25, 1e-12);
	cr_assert_eq(c.migrate_threads, 64);
	cr_assert_float_eq(c.pool_ratio, 1.0, 1e-12);
	cr_assert_str_eq(c.log_dirs.v[0], "/l");
	cr_assert_str_eq(c.segment_pattern, "^x$");
	cr_assert_eq(c.block_size, 4096);
	cr_assert_eq(c.migrate_idle_ms, 0);
	cr_assert_eq(c.migrate_promote, 0);
	cr_assert_eq(c.migrate_rate_bytes, 10LL << 20);
	cr_assert_eq(c.log_level, 3);
	cr_assert_eq(c.metrics_port, 65535);
	cr_assert_str_eq(c.metrics_address, "0.0.0.0");
	pf_config_free(&c);
}

/* ---- the table of keys ---------------------------------------------------------------------------- */

/* What pf_config_keys() gives the documentation is usable: a doc for every key, an environment name that
 * pf_config_env_name agrees with and load_env accepts, and a default that the key's own parser accepts. */
Test(config, key_table_docs_env_names_and_defaults)
{
	size_t n = 0;
	const struct pf_config_key *keys = pf_config_keys(&n);
	cr_assert_not_null(keys);
	cr_assert_geq(n, 18);
	for (size_t i = 0; i < n; i++) {
		const struct pf_config_key *k = &keys[i];
		cr_assert(k->name && k->name[0], "key %zu has no name", i);
		cr_expect(k->doc && k->doc[0], "%s has no doc", k->name);
		cr_expect(k->type >= PF_CONFIG_BOOL && k->type <= PF_CONFIG_LIST, "%s: type %d", k->name, (int)k->type);
		char env[64];
		cr_assert_eq(pf_config_env_name(k->name, env, sizeof env), 0, "%s", k->name);
		cr_expect_str_eq(k->env, env, "%s: environment name", k->name);
		for (size_t j = 0; j < i; j++) {
			cr_expect_str_neq(k->name, keys[j].name);
			cr_expect_str_neq(k->env, keys[j].env);
		}

		struct pf_config c;
		int rc = load(&c, ENV(fmt("%s=%s", k->env, k->def ? k->def : "")), NULL);
		cr_expect_null(strstr(err.msg, "unknown setting"), "%s not accepted: %s", k->env, err.msg);
		if (k->def)
			cr_expect_eq(rc, 0, "%s's default '%s' refused: %s", k->name, k->def, err.msg);
		else /* nothing to try but an empty value, refused as this key's */
			cr_expect(rc == -1 && strstr(err.msg, k->name), "%s= gave '%s'", k->env, err.msg);
		pf_config_free(&c);
	}
}

Test(config, unknown_pafka_env_var_is_an_error)
{
	struct pf_config c;
	int rc = load(&c, ENV("PATH=/bin", "PAFKA_FOO=1"), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("unknown setting PAFKA_FOO");
	assert_error_has("README");
	pf_config_free(&c);
	/* the Pafka-key form of a pafka.* key is not accepted under its long name */
	rc = load(&c, ENV("PAFKA_PAFKA_LOG_LEVEL=debug"), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("PAFKA_PAFKA_LOG_LEVEL");
	pf_config_free(&c);
}

Test(config, reserved_and_foreign_env_vars_are_ignored)
{
	struct pf_config c;
	int rc = load(&c,
		      ENV("PAFKA_TEST_DIR=/x", "PAFKA_TEST_ANYTHING=1", "PAFKA_FAULT=crash@write", "PAFKA_FAULTS=1",
			  "PAFKA_CONFIG=", "PAFKAX=1", "pafka_foo=1", "KAFKA_HEAP_OPTS=-Xmx1G", "PAFKA_NOEQUALS"),
		      NULL);
	assert_ok(rc);
	cr_assert_str_empty(err.msg);
	pf_config_free(&c);
}

/* ---- validation errors ---------------------------------------------------------------------------- */

struct bad {
	const char *env;  /* NAME=value */
	const char *key;  /* must appear in the message */
	const char *shown; /* the value as shown in the message */
};

Test(config, each_invalid_value_names_key_value_and_source)
{
	static const struct bad bad[] = {
		{ "PAFKA_LOG_CHANNEL_TYPE=bogus", "log.channel.type", "'bogus'" },
		{ "PAFKA_STORAGE_TIERS_FIRST_SIZES=12Q", "storage.tiers.first.sizes", "'12Q'" },
		{ "PAFKA_STORAGE_TIERS_FIRST_SIZES=0", "storage.tiers.first.sizes", "'0'" },
		{ "PAFKA_STORAGE_TIERS_FIRST_SIZES=-2", "storage.tiers.first.sizes", "'-2'" },
		{ "PAFKA_STORAGE_TIERS_SECOND_PATHS=/a,,/b", "storage.tiers.second.paths", "'/a,,/b'" },
		{ "PAFKA_STORAGE_TIERS_FIRST_PATHS=/a,", "storage.tiers.first.paths", "'/a,'" },
		{ "PAFKA_LOG_DIRS=", "log.dirs", "''" },
		{ "PAFKA_STORAGE_MIGRATE_THRESHOLD=0", "storage.migrate.threshold", "'0'" },
		{ "PAFKA_STORAGE_MIGRATE_THRESHOLD=1.5", "storage.migrate.threshold", "'1.5'" },
		{ "PAFKA_STORAGE_MIGRATE_THRESHOLD=-0.5", "storage.migrate.threshold", "'-0.5'" },
		{ "PAFKA_STORAGE_MIGRATE_THRESHOLD=half", "storage.migrate.threshold", "'half'" },
		{ "PAFKA_STORAGE_MIGRATE_THRESHOLD=nan", "storage.migrate.threshold", "'nan'" },
		{ "PAFKA_STORAGE_MIGRATE_THREADS=0", "storage.migrate.threads", "'0'" },
		{ "PAFKA_STORAGE_MIGRATE_THREADS=65", "storage.migrate.threads", "'65'" },
		{ "PAFKA_STORAGE_MIGRATE_THREADS=2x", "storage.migrate.threads", "'2x'" },
		{ "PAFKA_LOG_PMEM_POOL_RATIO=0", "log.pmem.pool.ratio", "'0'" },
		{ "PAFKA_LOG_PMEM_POOL_RATIO=1.01", "log.pmem.pool.ratio", "'1.01'" },
		{ "PAFKA_SEGMENT_PATTERN=([0-9]", "pafka.segment.pattern", "'([0-9]'" },
		{ "PAFKA_SEGMENT_PATTERN=", "pafka.segment.pattern", "''" },
		{ "PAFKA_POOL_BLOCK_SIZE=2048", "pafka.pool.block.size", "'2048'" },
		{ "PAFKA_POOL_BLOCK_SIZE=12K", "pafka.pool.block.size", "'12K'" },
		{ "PAFKA_POOL_BLOCK_SIZE=-1", "pafka.pool.block.size", "'-1'" },
		{ "PAFKA_MIGRATE_IDLE_MS=-1", "pafka.migrate.idle.ms", "'-1'" },
		{ "PAFKA_MIGRATE_IDLE_MS=1s", "pafka.migrate.idle.ms", "'1s'" },
		{ "PAFKA_MIGRATE_PROMOTE=yes", "pafka.migrate.promote", "'yes'" },
		{ "PAFKA_MIGRATE_RATE_BYTES=-1", "pafka.migrate.rate.bytes", "'-1'" },
		{ "PAFKA_MIGRATE_RATE_BYTES=fast", "pafka.migrate.rate.bytes", "'fast'" },
		{ "PAFKA_LOG_LEVEL=verbose", "pafka.log.level", "'verbose'" },
		{ "PAFKA_METRICS_PORT=65536", "pafka.metrics.port", "'65536'" },
		{ "PAFKA_METRICS_PORT=-1", "pafka.metrics.port", "'-1'" },
		{ "PAFKA_METRICS_ADDRESS=", "pafka.metrics.address", "''" },
		{ "PAFKA_METRICS_ADDRESS=a b", "pafka.metrics.address", "'a b'" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pf_config c;
		int rc = load(&c, ENV((char *)bad[i].env), NULL);
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(strchr(bad[i].env, '=') - bad[i].env), bad[i].env);
		cr_expect_eq(rc, -1, "%s accepted", bad[i].env);
		cr_expect(strstr(err.msg, bad[i].key) != NULL, "%s: error '%s' lacks the key", bad[i].env, err.msg);
		cr_expect(strstr(err.msg, bad[i].shown) != NULL, "%s: error '%s' lacks the value", bad[i].env, err.msg);
		cr_expect(strstr(err.msg, name) != NULL, "%s: error '%s' lacks the source", bad[i].env, err.msg);
		cr_expect(strncmp(err.msg, "pafka: ", 7) == 0, "%s: '%s'", bad[i].env, err.msg);
		cr_expect(strchr(err.msg, '\n') == NULL);
		pf_config_free(&c);
	}
}

Test(config, channel_error_message_exact)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_LOG_CHANNEL_TYPE=bogus"), NULL);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err.msg,
			 "pafka: invalid log.channel.type 'bogus' (from PAFKA_LOG_CHANNEL_TYPE): use file, pmem or tiered");
	pf_config_free(&c);
}

Test(config, error_names_the_file_or_override_it_came_from)
{
	char *props = write_file("server.properties", "storage.migrate.threads=99\n");
	char *conf = write_file("p.conf", "log.pmem.pool.ratio=7\n");
	struct pf_config c;
	int rc = load(&c, no_env, KAFKA(props));
	cr_assert_eq(rc, -1);
	assert_error_has("storage.migrate.threads");
	assert_error_has(props);
	pf_config_free(&c);

	rc = load(&c, ENV(fmt("PAFKA_CONFIG=%s", conf)), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("log.pmem.pool.ratio");
	assert_error_has(conf);
	pf_config_free(&c);

	rc = load(&c, no_env, KAFKA(props, "--override", "storage.migrate.threads=0"));
	cr_assert_eq(rc, -1);
	assert_error_has("'0'");
	assert_error_has("--override");
	pf_config_free(&c);
}

Test(config, values_with_newlines_give_a_one_line_error)
{
	char *conf = write_file("p.conf", "pafka.log.level=a\\nb\n");
	struct pf_config c;
	int rc = load(&c, ENV(fmt("PAFKA_CONFIG=%s", conf)), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("pafka.log.level");
	cr_assert_null(strchr(err.msg, '\n'));
	pf_config_free(&c);
}

Test(config, first_error_is_kept)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_STORAGE_MIGRATE_THREADS=0", "PAFKA_LOG_CHANNEL_TYPE=bogus", "PAFKA_LOG_LEVEL=x"),
		      NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("log.channel.type");
	cr_assert_null(strstr(err.msg, "storage.migrate.threads"));
	cr_assert_null(strstr(err.msg, "pafka.log.level"));
	pf_config_free(&c);
}

Test(config, first_paths_required_unless_file)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_LOG_CHANNEL_TYPE=pmem"), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("storage.tiers.first.paths is not set");
	pf_config_free(&c);
	rc = load(&c, ENV("PAFKA_LOG_CHANNEL_TYPE=tiered"), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("storage.tiers.first.paths is not set");
	pf_config_free(&c);
	rc = load(&c, ENV("PAFKA_LOG_CHANNEL_TYPE=file"), NULL);
	assert_ok(rc);
	pf_config_free(&c);
	rc = load(&c, ENV("PAFKA_LOG_CHANNEL_TYPE=PMEM", "PAFKA_STORAGE_TIERS_FIRST_PATHS=/mnt/pmem"), NULL);
	assert_ok(rc);
	cr_assert_eq(c.channel, PF_CHANNEL_PMEM);
	pf_config_free(&c);
}

Test(config, tier_types_checked_when_tiered)
{
	static const char *const bad[] = { "PMEM", "PMEM,HDD,SSD", "PMEM,TAPE", "PMEM,", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pf_config c;
		int rc = load(&c,
			      ENV("PAFKA_LOG_CHANNEL_TYPE=tiered", "PAFKA_STORAGE_TIERS_FIRST_PATHS=/p",
				  fmt("PAFKA_STORAGE_TIERS_TYPES=%s", bad[i])),
			      NULL);
		cr_expect_eq(rc, -1, "'%s' accepted", bad[i]);
		cr_expect(strstr(err.msg, "storage.tiers.types") != NULL, "'%s': %s", bad[i], err.msg);
		pf_config_free(&c);
	}
	struct pf_config c;
	int rc = load(&c,
		      ENV("PAFKA_LOG_CHANNEL_TYPE=tiered", "PAFKA_STORAGE_TIERS_FIRST_PATHS=/p",
			  "PAFKA_STORAGE_TIERS_TYPES= pmem , hdd "),
		      NULL);
	assert_ok(rc);
	cr_assert_str_eq(c.tier_types[0], "PMEM");
	cr_assert_str_eq(c.tier_types[1], "HDD");
	pf_config_free(&c);
}

Test(config, tier_types_not_checked_unless_tiered)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_STORAGE_TIERS_TYPES=PMEM"), NULL);
	assert_ok(rc);
	cr_assert_str_eq(c.tier_types[0], "PMEM");
	cr_assert_str_eq(c.tier_types[1], "HDD");
	pf_config_free(&c);
}

Test(config, migrate_threshold_minus_one_disables)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_STORAGE_MIGRATE_THRESHOLD=-1"), NULL);
	assert_ok(rc);
	cr_assert_float_eq(c.migrate_threshold, -1.0, 1e-12);
	pf_config_free(&c);
	rc = load(&c, ENV("PAFKA_STORAGE_MIGRATE_THRESHOLD=1"), NULL);
	assert_ok(rc);
	cr_assert_float_eq(c.migrate_threshold, 1.0, 1e-12);
	pf_config_free(&c);
}

Test(config, promote_and_log_level_spellings)
{
	static const struct { const char *v; int want; } promote[] = {
		{ "true", 1 }, { "TRUE", 1 }, { "1", 1 }, { "false", 0 }, { "False", 0 }, { "0", 0 },
	};
	for (size_t i = 0; i < sizeof promote / sizeof promote[0]; i++) {
		struct pf_config c;
		int rc = load(&c, ENV(fmt("PAFKA_MIGRATE_PROMOTE=%s", promote[i].v)), NULL);
		cr_expect_eq(rc, 0, "%s: %s", promote[i].v, err.msg);
		cr_expect_eq(c.migrate_promote, promote[i].want, "%s", promote[i].v);
		pf_config_free(&c);
	}
	static const char *const levels[] = { "error", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++) {
		struct pf_config c;
		int rc = load(&c, ENV(fmt("PAFKA_LOG_LEVEL=%s", levels[i])), NULL);
		cr_expect_eq(rc, 0, "%s: %s", levels[i], err.msg);
		cr_expect_eq(c.log_level, i, "%s", levels[i]);
		pf_config_free(&c);
	}
}

/* ---- sizes ---------------------------------------------------------------------------------------- */

Test(config, parse_size_suffixes)
{
	static const struct { const char *s; int64_t v; } good[] = {
		{ "0", 0 }, { "4096", 4096 }, { "4K", 4096 }, { "4k", 4096 }, { "4KB", 4096 }, { "4KiB", 4096 },
		{ "1M", 1LL << 20 }, { "3m", 3LL << 20 }, { "2G", 2LL << 30 }, { "2GiB", 2LL << 30 },
		{ "1T", 1LL << 40 }, { "-1", -1 }, { " 64M ", 64LL << 20 }, { "100B", 100 }, { "007", 7 },
		{ "9223372036854775807", INT64_MAX }, { "8388607T", 8388607LL << 40 },
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int64_t v = 12345;
		cr_expect_eq(pf_parse_size(good[i].s, &v), 0, "'%s' rejected", good[i].s);
		cr_expect_eq(v, good[i].v, "'%s' -> %lld", good[i].s, (long long)v);
	}
	static const char *const bad[] = {
		"", " ", "K", "-2", "-1K", "--1", "+1", "1.5G", "1X", "1KK", "1 K", "1iB", "9223372036854775808",
		"8388608T", "1e3", "0x10", "-",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 12345;
		cr_expect_eq(pf_parse_size(bad[i], &v), -1, "'%s' accepted", bad[i]);
		cr_expect_eq(v, 12345, "'%s' changed the output", bad[i]);
	}
	int64_t v;
	cr_expect_eq(pf_parse_size(NULL, &v), -1);
}

Test(config, first_sizes_last_repeats_and_default_is_minus_one)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_STORAGE_TIERS_FIRST_PATHS=/a,/b,/c", "PAFKA_STORAGE_TIERS_FIRST_SIZES=1G, 2M"),
		      NULL);
	assert_ok(rc);
	cr_assert_eq(c.n_first_sizes, 3);
	cr_assert_eq(c.first_sizes[0], 1LL << 30);
	cr_assert_eq(c.first_sizes[1], 2LL << 20);
	cr_assert_eq(c.first_sizes[2], 2LL << 20);
	pf_config_free(&c);

	rc = load(&c, ENV("PAFKA_STORAGE_TIERS_FIRST_PATHS=/a,/b"), NULL);
	assert_ok(rc);
	cr_assert_eq(c.n_first_sizes, 2);
	cr_assert_eq(c.first_sizes[0], -1);
	cr_assert_eq(c.first_sizes[1], -1);
	pf_config_free(&c);

	rc = load(&c, ENV("PAFKA_STORAGE_TIERS_FIRST_PATHS=/a", "PAFKA_STORAGE_TIERS_FIRST_SIZES=1G,2G"), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("storage.tiers.first.sizes");
	pf_config_free(&c);
}

/* ---- paths ---------------------------------------------------------------------------------------- */

Test(config, path_lists_trimmed_and_normalized)
{
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_STORAGE_TIERS_SECOND_PATHS= /a/ ,\t/b//c//, / ,///,/d/./e/."), NULL);
	assert_ok(rc);
	cr_assert_eq(c.second_paths.n, 5);
	cr_assert_str_eq(c.second_paths.v[0], "/a");
	cr_assert_str_eq(c.second_paths.v[1], "/b/c");
	cr_assert_str_eq(c.second_paths.v[2], "/");
	cr_assert_str_eq(c.second_paths.v[3], "/");
	cr_assert_str_eq(c.second_paths.v[4], "/d/e");
	pf_config_free(&c);
}

Test(config, too_many_paths)
{
	char list[512] = "";
	for (int i = 0; i <= PF_MAX_PATHS; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s/p%d", i ? "," : "", i);
	struct pf_config c;
	int rc = load(&c, ENV(fmt("PAFKA_LOG_DIRS=%s", list)), NULL);
	cr_assert_eq(rc, -1);
	assert_error_has("log.dirs");
	cr_assert_eq(c.log_dirs.n, 0);
	pf_config_free(&c);
	/* exactly the maximum is fine */
	*strrchr(list, ',') = '\0';
	rc = load(&c, ENV(fmt("PAFKA_LOG_DIRS=%s", list)), NULL);
	assert_ok(rc);
	cr_assert_eq(c.log_dirs.n, PF_MAX_PATHS);
	pf_config_free(&c);
}

Test(config, relative_paths_resolved_against_cwd)
{
	cr_assert_eq(chdir(tmpdir), 0);
	char cwd[PATH_MAX];
	cr_assert_not_null(getcwd(cwd, sizeof cwd)); /* tmpdir may contain a symlink */
	write_file("server.properties", "log.dirs=logs/\n");
	write_file("pafka.conf", "storage.tiers.second.paths=hdd\n");
	struct pf_config c;
	int rc = load(&c, ENV("PAFKA_CONFIG=./pafka.conf", "PAFKA_STORAGE_TIERS_FIRST_PATHS=pool/, ./b//c/."),
		      KAFKA("server.properties"));
	assert_ok(rc);
	cr_assert_str_eq(c.server_properties, fmt("%s/server.properties", cwd));
	cr_assert_str_eq(c.log_dirs.v[0], fmt("%s/logs", cwd));
	cr_assert_str_eq(c.second_paths.v[0], fmt("%s/hdd", cwd));
	cr_assert_eq(c.first_paths.n, 2);
	cr_assert_str_eq(c.first_paths.v[0], fmt("%s/pool", cwd));
	cr_assert_str_eq(c.first_paths.v[1], fmt("%s/b/c", cwd));
	pf_config_free(&c);
}

/* ---- properties format ---------------------------------------------------------------------------- */

struct kvs {
	int n;
	char *k[32], *v[32];
};

static void collect(void *arg, const char *key, const char *value)
{
	struct kvs *kv = arg;
	cr_assert_lt(kv->n, 32);
	kv->k[kv->n] = own(strdup(key));
	kv->v[kv->n] = own(strdup(value));
	kv->n++;
}

static void parse(struct kvs *kv, const char *text)
{
	memset(kv, 0, sizeof *kv);
	cr_assert_eq(pf_properties_parse(text, strlen(text), collect, kv), 0);
}

#define assert_kv(kv, i, key, val)                                                                          \
	do {                                                                                                 \
		cr_assert_gt((kv)->n, (i), "only %d pairs", (kv)->n);                                         \
		cr_assert_str_eq((kv)->k[i], (key));                                                         \
		cr_assert_str_eq((kv)->v[i], (val));                                                         \
	} while (0)

Test(config, properties_separators)
{
	struct kvs kv;
	parse(&kv, "a=1\nb:2\nc 3\nd\t=\t4\ne :  5\nf = = 6\ng:=7\n  h=8  \nonlykey\nempty=\n");
	cr_assert_eq(kv.n, 10);
	assert_kv(&kv, 0, "a", "1");
	assert_kv(&kv, 1, "b", "2");
	assert_kv(&kv, 2, "c", "3");
	assert_kv(&kv, 3, "d", "4");
	assert_kv(&kv, 4, "e", "5");
	assert_kv(&kv, 5, "f", "= 6");
	assert_kv(&kv, 6, "g", "=7");
	assert_kv(&kv, 7, "h", "8  "); /* trailing white space belongs to the value */
	assert_kv(&kv, 8, "onlykey", "");
	assert_kv(&kv, 9, "empty", "");
}

Test(config, properties_comments_and_blank_lines)
{
	struct kvs kv;
	parse(&kv, "# comment\n! bang comment\n   # indented comment\n\n  \t \na=1 # not a comment\n"
		   "# comment ending in a backslash \\\nb=2\n");
	cr_assert_eq(kv.n, 2);
	assert_kv(&kv, 0, "a", "1 # not a comment");
	assert_kv(&kv, 1, "b", "2");
}

Test(config, properties_continuations)
{
	struct kvs kv;
	parse(&kv, "a=one \\\n    two\\\n\tthree\n"
		   "b=even\\\\\nc=odd\\\\\\\n  more\n"
		   "d=x\\\n# not a comment\n"
		   "e=y\\\n\nf=z\n"
		   "key\\\n  cont=v\n"
		   "g=end\\");
	cr_assert_eq(kv.n, 8);
	assert_kv(&kv, 0, "a", "one twothree");
	assert_kv(&kv, 1, "b", "even\\");
	assert_kv(&kv, 2, "c", "odd\\more");
	assert_kv(&kv, 3, "d", "x# not a comment");
	assert_kv(&kv, 4, "e", "y"); /* an empty continuation line ends the value */
	assert_kv(&kv, 5, "f", "z");
	assert_kv(&kv, 6, "keycont", "v");
	assert_kv(&kv, 7, "g", "end"); /* a backslash at end of input is dropped */
}

Test(config, properties_escapes)
{
	struct kvs kv;
	parse(&kv, "t=a\\tb\\nc\\rd\\fe\\\\f\n"
		   "u=\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\n"
		   "k\\=ey\\:x\\ y=v\\=\\:\\#\\!\\q\n"
		   "bad=\\u12G4\n"
		   "lone=\\uD800x\n"
		   "\\ lead=sp\n"
		   "v=\\  padded\n");
	cr_assert_eq(kv.n, 7);
	assert_kv(&kv, 0, "t", "a\tb\nc\rd\fe\\f");
	assert_kv(&kv, 1, "u", "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_kv(&kv, 2, "k=ey:x y", "v=:#!q");
	assert_kv(&kv, 3, "bad", "u12G4");
	assert_kv(&kv, 4, "lone", "\xef\xbf\xbdx");
	assert_kv(&kv, 5, " lead", "sp");
	assert_kv(&kv, 6, "v", "  padded");
}

Test(config, properties_line_endings)
{
	struct kvs kv;
	parse(&kv, "a=1\r\nb=2\rc=3\r\n\r\nd=x\\\r\n  y\r\ne=\\\r  z\n");
	cr_assert_eq(kv.n, 5);
	assert_kv(&kv, 0, "a", "1");
	assert_kv(&kv, 1, "b", "2");
	assert_kv(&kv, 2, "c", "3");
	assert_kv(&kv, 3, "d", "xy");
	assert_kv(&kv, 4, "e", "z");
}

Test(config, properties_empty_and_unterminated)
{
	struct kvs kv;
	parse(&kv, "");
	cr_assert_eq(kv.n, 0);
	parse(&kv, "   ");
	cr_assert_eq(kv.n, 0);
	parse(&kv, "last=no newline");
	cr_assert_eq(kv.n, 1);
	assert_kv(&kv, 0, "last", "no newline");
	/* only len bytes are read */
	memset(&kv, 0, sizeof kv);
	pf_properties_parse("a=1\nb=2", 4, collect, &kv);
	cr_assert_eq(kv.n, 1);
	assert_kv(&kv, 0, "a", "1");
}

Test(config, properties_file_values_are_trimmed_and_unknown_keys_ignored)
{
	char *props = write_file("server.properties",
				 "# Kafka\r\nbroker.id=0\r\nzookeeper.connect=localhost:2181\r\n"
				 "log.channel.type = pmem   \r\n"
				 "storage.tiers.first.paths=/mnt/pmem0/,\\\r\n    /mnt/pmem1\r\n"
				 "storage.tiers.first.sizes : 1G\r\n"
				 "pafka.segment.pattern=^[0-9]{20}\\\\.log$\r\n");
	struct pf_config c;
	int rc = load(&c, no_env, KAFKA(props));
	assert_ok(rc);
	cr_assert_eq(c.channel, PF_CHANNEL_PMEM);
	cr_assert_eq(c.first_paths.n, 2);
	cr_assert_str_eq(c.first_paths.v[0], "/mnt/pmem0");
	cr_assert_str_eq(c.first_paths.v[1], "/mnt/pmem1");
	cr_assert_eq(c.first_sizes[1], 1LL << 30);
	cr_assert_str_eq(c.segment_pattern, "^[0-9]{20}\\.log$");
	pf_config_free(&c);
}

Test(config, process_roles_without_broker_is_controller_only)
{
	static const struct { const char *roles; int controller_only; } cases[] = {
		{ "controller", 1 }, { "broker", 0 }, { "broker,controller", 0 }, { " Controller , BROKER ", 0 },
		{ "CONTROLLER", 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char text[128];
		snprintf(text, sizeof text, "node.id=3\nprocess.roles=%s\nlog.dirs=/l\n", cases[i].roles);
		char *props = write_file("server.properties", text);
		struct pf_config c;
		int rc = load(&c, no_env, KAFKA(props));
		assert_ok(rc);
		cr_assert_eq(c.controller_only, cases[i].controller_only, "process.roles=%s", cases[i].roles);
		pf_config_free(&c);
	}
	/* unset (ZooKeeper mode, or a tool): a broker */
	struct pf_config c;
	assert_ok(load(&c, ENV("PAFKA_LOG_DIRS=/l"), NULL));
	cr_assert_eq(c.controller_only, 0);
	pf_config_free(&c);
	/* a word Kafka does not know: one line naming the key */
	char *props = write_file("server.properties", "process.roles=broker,observer\n");
	cr_assert_eq(load(&c, no_env, KAFKA(props)), -1);
	assert_error_has("process.roles");
	assert_error_has("observer");
	pf_config_free(&c);
}

/* ---- freeing -------------------------------------------------------------------------------------- */

Test(config, free_is_safe_on_zeroed_loaded_failed_and_twice)
{
	struct pf_config c;
	memset(&c, 0, sizeof c);
	pf_config_free(&c);
	pf_config_free(&c);
	cr_assert_null(c.segment_pattern);

	int rc = load(&c, ENV("PAFKA_STORAGE_TIERS_FIRST_PATHS=/a,/b", "PAFKA_LOG_DIRS=/l"), NULL);
	assert_ok(rc);
	pf_config_free(&c);
	cr_assert_null(c.first_paths.v[0]);
	cr_assert_eq(c.first_paths.n, 0);
	pf_config_free(&c);

	/* partially filled: an error after some fields were set */
	rc = load(&c, ENV("PAFKA_STORAGE_TIERS_FIRST_PATHS=/a", "PAFKA_LOG_DIRS=/l,,/m"), NULL);
	cr_assert_eq(rc, -1);
	cr_assert_eq(c.first_paths.n, 1);
	cr_assert_eq(c.log_dirs.n, 0);
	cr_assert_not_null(c.metrics_address);
	pf_config_free(&c);
	pf_config_free(&c);
	pf_config_free(NULL);
}

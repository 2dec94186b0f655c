/*
 * config.h - libpafka configuration: Pafka's keys plus our own `pafka.*` keys.
 *
 * Sources, highest precedence first:
 *   1. environment PAFKA_<KEY> (upper case, '.' -> '_'; a key starting with "pafka." drops that prefix,
 *      so pafka.migrate.idle.ms is PAFKA_MIGRATE_IDLE_MS),
 *   2. the Java-properties file named by PAFKA_CONFIG,
 *   3. Kafka's server.properties found on the process command line (the argument after the main class
 *      kafka.Kafka), with its `--override key=value` arguments applied on top of it.
 * Parsing never exits: an invalid value leaves one message in a struct pf_err (naming the key, the value,
 * its source and what to do) and the caller reports it at activation, so inert children of the broker are
 * never killed.
 *
 * The keys themselves, with their types, defaults, bounds and documentation, are one table:
 * config_keys.h.
 *
 * Owns: struct pf_config and its loading (config.c), the .properties format (config_properties.c).
 * May call: sys.h (files are read only through pf_read_whole_file), log.h (struct pf_err).
 */
#ifndef PAFKA_CONFIG_H
#define PAFKA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config_keys.h"
#include "config_properties.h"
#include "log.h"

#define PF_MAX_PATHS 16

/* The one rule for a pool's block size (pafka.pool.block.size, `pafka pool create --block-size`, and the
 * header of every pool that is opened): a power of two from 4 KiB to 1 GiB. */
#define PF_BLOCK_SIZE_MIN 4096ULL
#define PF_BLOCK_SIZE_MAX (1ULL << 30)
static inline int pf_valid_block_size(uint64_t b)
{
	return b >= PF_BLOCK_SIZE_MIN && b <= PF_BLOCK_SIZE_MAX && (b & (b - 1)) == 0;
}
#define PF_BLOCK_SIZE_RULE "a power of two from 4K to 1G"

enum pf_channel { PF_CHANNEL_FILE = 0, PF_CHANNEL_PMEM = 1, PF_CHANNEL_TIERED = 2 };
enum pf_role { PF_ROLE_AUTO = 0, PF_ROLE_WRITER = 1, PF_ROLE_READER = 2 }; /* pafka.role */

struct pf_paths {
	int n;
	char *v[PF_MAX_PATHS]; /* malloc'd, trailing '/' removed, never empty */
};

/* Every setting, after pf_config_load. The simple keys' fields come first, made from the table: one
 * `C type field;` per SIMPLE line of config_keys.h (e.g. `double migrate_threshold;` from the line of
 * storage.migrate.threshold, which also gives its default and bounds). The keys with rules of their own
 * fill the fields after them. */
struct pf_config {
#define PF_CONFIG_FIELD(id, key, type, ctype, field, ...) ctype field;
#define PF_CONFIG_NO_FIELD(...)
	PF_CONFIG_KEYS(PF_CONFIG_FIELD, PF_CONFIG_NO_FIELD)
#undef PF_CONFIG_FIELD
#undef PF_CONFIG_NO_FIELD

	const char *tier_types[2];         /* storage.tiers.types, upper case (static strings) */
	struct pf_paths first_paths;       /* storage.tiers.first.paths */
	int64_t first_sizes[PF_MAX_PATHS]; /* storage.tiers.first.sizes, bytes or -1, one per first path */
	int n_first_sizes;                 /* = first_paths.n */
	struct pf_paths second_paths;      /* storage.tiers.second.paths; if empty, log_dirs is used */
	struct pf_paths log_dirs;          /* log.dirs, else log.dir, else /tmp/kafka-logs with server.properties */
	char *segment_pattern;             /* pafka.segment.pattern */
	uint64_t block_size;               /* pafka.pool.block.size */
	char *metrics_address;             /* pafka.metrics.address */
	char *server_properties;           /* path of the server.properties that was read, or NULL */
	int controller_only;               /* process.roles names controller and not broker */
	int java_tool;                     /* the process is a JVM whose main class is not kafka.Kafka */
};

#define PF_DEFAULT_PATTERN "^[0-9]{20}\\.(log|index|timeindex)(\\.(cleaned|swap|deleted))?$"

/* Fill cfg from all sources. environ is passed explicitly so tests can supply their own; cmdline is the
 * NUL-separated argv of the process (as in /proc/self/cmdline) of length cmdline_len, or NULL. Returns 0,
 * or -1 with the first problem found set in err (one line starting "pafka: "). Always leaves cfg in a state
 * pf_config_free can release, with each key that is not set, or not valid, at its default. */
int pf_config_load(struct pf_config *cfg, char *const *environ_, const char *cmdline, size_t cmdline_len,
		   struct pf_err *err);

/* Parse a byte size: decimal integer with an optional K/M/G/T suffix (binary, optionally followed by
 * 'B' or "iB"), or -1. Returns 0 and sets *out, or -1 on bad input. */
int pf_parse_size(const char *s, int64_t *out);

/* The environment variable name for a key: "log.dirs" -> "PAFKA_LOG_DIRS",
 * "pafka.migrate.idle.ms" -> "PAFKA_MIGRATE_IDLE_MS". Returns 0, or -1 if buf is too small. */
int pf_config_env_name(const char *key, char *buf, size_t buflen);

void pf_config_free(struct pf_config *cfg);

/* The form of a key's value (the TYPE of its line in config_keys.h). */
enum pf_config_type {
	PF_CONFIG_BOOL,
	PF_CONFIG_INT,
	PF_CONFIG_DOUBLE,
	PF_CONFIG_SIZE,
	PF_CONFIG_CHOICE,
	PF_CONFIG_STRING,
	PF_CONFIG_LIST,
};

/* One key, as the documentation shows it. */
struct pf_config_key {
	const char *name;         /* "pafka.migrate.idle.ms" */
	const char *env;          /* "PAFKA_MIGRATE_IDLE_MS" */
	enum pf_config_type type;
	const char *def;          /* the default, as a value is written ("30000"), or NULL: see doc */
	const char *doc;          /* one sentence: what the key does */
};

/* The table of keys, read-only, in the order of config_keys.h; sets *n to its length. */
const struct pf_config_key *pf_config_keys(size_t *n);

#endif

/*
 * config_keys.h - the one table of configuration keys: Pafka's keys and our own pafka.* keys, each once.
 *
 * PF_CONFIG_KEYS(SIMPLE, SPECIAL) lists the keys in the order their values are checked. config.h makes
 * struct pf_config's fields of the simple keys from it; config.c makes the key ids, the names, the
 * environment names, the defaults, the checks and the read-only table of pf_config_keys() (for the
 * manual). A line is one of:
 *
 *   SIMPLE(ID, "key", TYPE, C type, field, bounds, "default", "advice", "doc")
 *   SPECIAL(ID, "key", TYPE, handler, "default", "doc")
 *
 * ID       the environment variable less its PAFKA_ prefix: the key in upper case, '.' as '_', and a
 *          leading "pafka." dropped (pf_config_env_name; the unit test checks that they agree).
 * TYPE     the form of a value. The simple types, parsed and checked in config.c from the line alone:
 *            BOOL    true or false in any case, or 1 or 0                     (C type int)
 *            INT     a whole number, bounds FROM_TO(min, max)                 (int or int64_t)
 *            DOUBLE  a decimal number, bounds ABOVE_UPTO(lo, hi): lo < v <= hi,
 *                    or ABOVE_UPTO_OR(lo, hi, x): x too                      (double)
 *            SIZE    a byte count with an optional K, M, G or T suffix (pf_parse_size),
 *                    bounds FROM_TO(min, max)                                 (int64_t)
 *            CHOICE  one of WORDS("a", "b", ...) in any case; the field gets its index, so the words
 *                    are in the order of the field's enum                     (int or an enum)
 *            STRING  any text that is not empty, bounds NO_BOUNDS              (char *, malloc'd)
 *          BOOL has NO_BOUNDS too. Special keys also say LIST: comma separated entries.
 * default  the text a value would be written as, parsed like one before any source is read; NULL if
 *          the key has none or its default depends on other keys (the doc then says which).
 * advice   what to do: the end of "pafka: invalid KEY 'VALUE' (from SOURCE): ADVICE".
 * doc      one sentence for the manual: what the key does.
 * handler  a special key's function in config.c, which parses and checks a value and stores it in
 *          fields written by hand in struct pf_config (lists, paths, the segment regex, ...).
 *
 * Adding a simple key is one SIMPLE line here, plus its test in tests/unit/test_config.c: its field,
 * environment variable, default, check and message all follow from the line.
 *
 * Owns: the list of keys. May call: nothing (it is a macro; config.c defines the bounds macros).
 */
#ifndef PAFKA_CONFIG_KEYS_H
#define PAFKA_CONFIG_KEYS_H

#define PF_CONFIG_KEYS(SIMPLE, SPECIAL)                                                                    \
	SIMPLE(LOG_CHANNEL_TYPE, "log.channel.type", CHOICE, enum pf_channel, channel,                    \
	       WORDS("file", "pmem", "tiered"), "file", "use file, pmem or tiered",                      \
	       "file passes everything through untouched (for A/B runs with the same preload), pmem keeps " \
	       "the newest segments in the pool, tiered also migrates older ones to the second tier")      \
	SPECIAL(STORAGE_TIERS_TYPES, "storage.tiers.types", LIST, parse_tier_types, "PMEM,HDD",            \
		"the types of the first and the second tier, two of PMEM, NVME, SSD and HDD; checked only " \
		"when log.channel.type is tiered")                                                         \
	SPECIAL(STORAGE_TIERS_FIRST_PATHS, "storage.tiers.first.paths", LIST, parse_paths, NULL,           \
		"the fast-tier directories, comma separated, with one pool file pafka.pool in each; "       \
		"required unless log.channel.type is file")                                                \
	SPECIAL(STORAGE_TIERS_FIRST_SIZES, "storage.tiers.first.sizes", LIST, parse_first_sizes, "-1",     \
		"the pool sizes in bytes (K, M, G, T suffixes allowed), one per first-tier path, the last "  \
		"one repeating; -1 is the free space times log.pmem.pool.ratio")                           \
	SPECIAL(STORAGE_TIERS_SECOND_PATHS, "storage.tiers.second.paths", LIST, parse_paths, NULL,         \
		"the managed slow-tier directories, comma separated; when unset, Kafka's log.dirs")          \
	SIMPLE(STORAGE_MIGRATE_THRESHOLD, "storage.migrate.threshold", DOUBLE, double, migrate_threshold, \
	       ABOVE_UPTO_OR(0, 1, -1), "0.5",                                                            \
	       "use a fraction of the first tier in (0, 1], e.g. 0.5, or -1 to disable migration",          \
	       "the share of the first tier that migration keeps it under (demoting the oldest segments "  \
	       "above it, promoting below it); -1 disables migration")                                     \
	SIMPLE(STORAGE_MIGRATE_THREADS, "storage.migrate.threads", INT, int, migrate_threads,             \
	       FROM_TO(1, 64), "1", "use a whole number from 1 to 64", "the number of migration threads")  \
	SIMPLE(LOG_PMEM_POOL_RATIO, "log.pmem.pool.ratio", DOUBLE, double, pool_ratio, ABOVE_UPTO(0, 1),  \
	       "0.8", "use a fraction in (0, 1], e.g. 0.8",                                               \
	       "the share of a file system's free space that a pool of size -1 takes")                     \
	SPECIAL(LOG_DIRS, "log.dirs", LIST, parse_paths, NULL,                                             \
		"Kafka's log directories, comma separated; beats log.dir given in the same source; when "   \
		"neither is set and server.properties was found, Kafka's default /tmp/kafka-logs")          \
	SPECIAL(LOG_DIR, "log.dir", LIST, parse_paths, NULL, "Kafka's older name of log.dirs")             \
	SPECIAL(PROCESS_ROLES, "process.roles", LIST, parse_process_roles, NULL,                            \
		"Kafka's KRaft roles of the process; one without the broker role (a dedicated controller) "  \
		"stays inert: its metadata log stays on its log dir and it opens no pool")                  \
	SPECIAL(SEGMENT_PATTERN, "pafka.segment.pattern", STRING, parse_segment_pattern,                   \
		PF_DEFAULT_PATTERN, "the base names of the managed segment files, a POSIX extended regex")  \
	SPECIAL(POOL_BLOCK_SIZE, "pafka.pool.block.size", SIZE, parse_block_size, "1M",                   \
		"the allocation unit of a new pool, " PF_BLOCK_SIZE_RULE)                                   \
	SIMPLE(MIGRATE_IDLE_MS, "pafka.migrate.idle.ms", INT, int64_t, migrate_idle_ms,                   \
	       FROM_TO(0, INT64_MAX), "30000", "use a number of milliseconds >= 0, e.g. 30000",            \
	       "a segment without a write for this long is sealed, so migration may move it")              \
	SIMPLE(MIGRATE_PROMOTE, "pafka.migrate.promote", BOOL, int, migrate_promote, NO_BOUNDS, "true",   \
	       "use true or false",                                                                      \
	       "whether migration brings the newest sealed segments back to the first tier when there is " \
	       "room below the threshold")                                                                \
	SIMPLE(MIGRATE_RATE_BYTES, "pafka.migrate.rate.bytes", SIZE, int64_t, migrate_rate_bytes,         \
	       FROM_TO(0, INT64_MAX), "0",                                                                \
	       "use bytes per second (K, M, G, T suffixes allowed), or 0 for unlimited",                   \
	       "the most bytes per second that migration copies; 0 is unlimited")                          \
	SIMPLE(MIGRATE_TAIL_KEEP, "pafka.migrate.tail.keep", SIZE, int64_t, migrate_tail_keep,             \
	       FROM_TO(1, INT64_MAX), "64M", "use a byte count of at least 1 (K, M, G, T suffixes allowed)", \
	       "the most recent bytes of every active segment kept in the first tier while migration moves "  \
	       "its older head down (at most half the threshold, shared out among active segments)")         \
	SIMPLE(ROLE, "pafka.role", CHOICE, int, role, WORDS("auto", "writer", "reader"), "auto",            \
	       "use auto, writer or reader",                                                              \
	       "who may become the pools' writer: auto lets only a Kafka broker (kafka.Kafka with its "       \
	       "server.properties) and programs that are not Java take the pools, and makes every other "      \
	       "Java program (Kafka's tools) attach read-only; writer takes the pools when no process holds " \
	       "them (else attaches read-only); reader always attaches read-only")                          \
	SIMPLE(LOG_LEVEL, "pafka.log.level", CHOICE, int, log_level, WORDS("error", "warn", "info", "debug"), \
	       "info", "use error, warn, info or debug",                                                  \
	       "the most detailed messages written to stderr, one line per event, never per write")        \
	SIMPLE(METRICS_PORT, "pafka.metrics.port", INT, int, metrics_port, FROM_TO(0, 65535), "0",        \
	       "use a TCP port from 1 to 65535, or 0 to turn metrics off",                                 \
	       "the TCP port of the broker's Prometheus endpoint /metrics; 0 turns it off")                \
	SPECIAL(METRICS_ADDRESS, "pafka.metrics.address", STRING, parse_metrics_address, "127.0.0.1",     \
		"the address that the /metrics endpoint listens on")

#endif

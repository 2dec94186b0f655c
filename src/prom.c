/*
 * prom.c - the Prometheus text formatter (see prom.h). Appends with snprintf into the caller's buffer and
 * keeps counting past its end, so the caller learns the size it needs.
 *
 * Owns: nothing. May call: pool_format.h.
 */
#include "prom.h"

#include "pool_format.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct out {
	char *buf;
	size_t cap, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->len < o->cap ? o->cap - o->len : 0;
	int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label(struct out *o, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			put(o, "\\\\");
		else if (*v == '"')
			put(o, "\\\"");
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const tier_names[2] = { "pool", "slow" };
static const char *const dir_names[2] = { "demote", "promote" };
static const char *const result_names[3] = { "completed", "failed", "aborted" };

static void per_tier(struct out *o, const char *name, const char *type, const char *help, const uint64_t v[2])
{
	head(o, name, type, help);
	for (int t = 0; t < 2; t++)
		put(o, "%s{tier=\"%s\"} %llu\n", name, tier_names[t], (unsigned long long)v[t]);
}

enum pool_field { CAPACITY, USED, FREE, IN_USE, DAMAGED_RECORDS, DAMAGED_ENTRIES, HEARTBEAT };

static uint64_t pool_value(const struct pf_prom_pool *p, enum pool_field f)
{
	switch (f) {
	case CAPACITY:
		return p->capacity_bytes;
	case USED:
		return p->used_bytes;
	case FREE:
		return p->free_bytes;
	case DAMAGED_RECORDS:
		return p->damaged_records;
	case DAMAGED_ENTRIES:
		return p->damaged_entries;
	case HEARTBEAT:
		return p->heartbeat_ms;
	default:
		return (uint64_t)(p->in_use != 0);
	}
}

static void per_pool(struct out *o, const struct pf_prom_sample *s, const char *name, const char *help,
		     enum pool_field field)
{
	head(o, name, "gauge", help);
	for (int i = 0; i < s->npools; i++) {
		const struct pf_prom_pool *p = &s->pools[i];
		uint64_t v = pool_value(p, field);
		put(o, "%s{pool=\"", name);
		put_label(o, p->path ? p->path : "");
		if (field == HEARTBEAT) /* milliseconds to seconds, exactly */
			put(o, "\"} %llu.%03llu\n", (unsigned long long)(v / 1000), (unsigned long long)(v % 1000));
		else
			put(o, "\"} %llu\n", (unsigned long long)v);
	}
}

static void scalar(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
	head(o, name, type, help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

size_t pf_prom_format(char *buf, size_t cap, const struct pf_prom_sample *s)
{
	struct out o = { buf, cap, 0 };
	if (cap)
		buf[0] = '\0';
	per_pool(&o, s, "pafka_pool_capacity_bytes", "Size of the pool's data area.", CAPACITY);
	per_pool(&o, s, "pafka_pool_used_bytes", "Pool data blocks in use, in bytes.", USED);
	per_pool(&o, s, "pafka_pool_free_bytes", "Free pool data blocks, in bytes.", FREE);
	per_pool(&o, s, "pafka_pool_in_use", "1 when a broker (the pool's writer process) holds the pool.", IN_USE);
	per_pool(&o, s, "pafka_pool_heartbeat_timestamp_seconds",
		 "When the pool's writer last refreshed its live statistics (Unix time; several times a second while "
		 "it runs, 0 if never). Old while pafka_pool_in_use is 1: the writer is hung.",
		 HEARTBEAT);
	per_pool(&o, s, "pafka_pool_damaged_records",
		 "Pool records in use that fail their integrity checks: their files' reads and writes fail with EIO "
		 "(run pafka fsck). The shim counts those it loaded and still holds; pafka status also counts records "
		 "whose file cannot be named, on which a writer refuses to start.",
		 DAMAGED_RECORDS);
	per_pool(&o, s, "pafka_pool_damaged_entries",
		 "Pool block-table entries that fail their integrity check or name no record of the table, as pafka status "
		 "reads them (run pafka fsck). A writer refuses to start on one, so the shim's endpoint reports 0.",
		 DAMAGED_ENTRIES);
	per_tier(&o, "pafka_tier_files", "gauge",
		 "Managed segment files with bytes on the tier (a file split between tiers counts on both).",
		 s->tier_files);
	per_tier(&o, "pafka_tier_bytes", "gauge", "Logical bytes of managed segment files held by the tier.",
		 s->tier_bytes);
	per_tier(&o, "pafka_bytes_written_total", "counter", "Bytes written to managed files, by tier.",
		 s->bytes_written);
	per_tier(&o, "pafka_bytes_read_total", "counter", "Bytes read from managed files, by tier.", s->bytes_read);
	per_tier(&o, "pafka_bytes_sent_total", "counter",
		 "Bytes of managed files sent to sockets (sendfile and its kin), by tier.", s->bytes_sent);

	head(&o, "pafka_migrations_total", "counter", "Migrations between the pool and the slow tier, by outcome.");
	for (int d = 0; d < 2; d++)
		put(&o, "pafka_migrations_total{direction=\"%s\",result=\"completed\"} %llu\n", dir_names[d],
		    (unsigned long long)s->migrations[d][PF_PROM_COMPLETED]);
	for (int r = PF_PROM_FAILED; r <= PF_PROM_ABORTED; r++) {
		if (s->failures_by_direction) {
			for (int d = 0; d < 2; d++)
				put(&o, "pafka_migrations_total{direction=\"%s\",result=\"%s\"} %llu\n", dir_names[d],
				    result_names[r], (unsigned long long)s->migrations[d][r]);
		} else {
			put(&o, "pafka_migrations_total{direction=\"any\",result=\"%s\"} %llu\n", result_names[r],
			    (unsigned long long)s->migrations[PF_PROM_DEMOTE][r]);
		}
	}
	head(&o, "pafka_migration_bytes_total", "counter", "Bytes moved by completed migrations, by direction.");
	for (int d = 0; d < 2; d++)
		put(&o, "pafka_migration_bytes_total{direction=\"%s\"} %llu\n", dir_names[d],
		    (unsigned long long)s->migration_bytes[d]);
	head(&o, "pafka_migration_seconds_total", "counter", "Time spent moving data between tiers.");
	put(&o, "pafka_migration_seconds_total %.9g\n", s->migration_seconds);
	scalar(&o, "pafka_migration_backlog_bytes", "gauge", "Bytes the migration policy wants to move now.",
	       s->backlog_bytes);
	scalar(&o, "pafka_spills_total", "counter", "Writes sent to the slow tier because the pool was full.", s->spills);
	scalar(&o, "pafka_head_demotions_total", "counter",
	       "Cold heads of active segments moved to the slow tier (their tails stay in the pool).", s->head_demotions);
	scalar(&o, "pafka_readmissions_total", "counter",
	       "Files whose window had closed (the pool was full) given a new one at their end.", s->readmissions);
	uint64_t all = s->bytes_written[PF_PROM_TIER_POOL] + s->bytes_written[PF_PROM_TIER_SLOW];
	head(&o, "pafka_bytes_written_pool_ratio", "gauge",
	     "Fraction of the bytes written to managed files that went to the pool (1 when none were written).");
	put(&o, "pafka_bytes_written_pool_ratio %.6g\n",
	    all ? (double)s->bytes_written[PF_PROM_TIER_POOL] / (double)all : 1.0);
	scalar(&o, "pafka_errors_total", "counter",
	       "Calls on managed files that the shim answered with EIO: damaged pool metadata, or bytes that "
	       "could not be made durable (migration failures are in pafka_migrations_total).",
	       s->errors);
	scalar(&o, "pafka_migration_paused", "gauge", "1 while migration is paused (pafka.pause).",
	       (uint64_t)(s->paused != 0));
	scalar(&o, "pafka_drain_requested", "gauge", "1 while a drain is requested (pafka.drain).",
	       (uint64_t)(s->draining != 0));
	return o.len;
}

void pf_prom_sum_live(struct pf_pool_live *sum, const struct pf_pool_live *x)
{
	const uint64_t *a = (const uint64_t *)x;
	uint64_t *b = (uint64_t *)sum;
	size_t n = sizeof *x / sizeof(uint64_t);
	for (size_t i = 3; i < n; i++) /* counters: everything after writer_pid, heartbeat_ms, state */
		b[i] += __atomic_load_n(&a[i], __ATOMIC_RELAXED);
}

void pf_prom_from_live(struct pf_prom_sample *m, const struct pf_pool_live *live)
{
	memcpy(m->bytes_written, live->bytes_written, sizeof m->bytes_written);
	memcpy(m->bytes_read, live->bytes_read, sizeof m->bytes_read);
	memcpy(m->bytes_sent, live->bytes_sent, sizeof m->bytes_sent);
	m->migrations[PF_PROM_DEMOTE][PF_PROM_COMPLETED] = live->demotions;
	m->migrations[PF_PROM_PROMOTE][PF_PROM_COMPLETED] = live->promotions;
	m->migrations[PF_PROM_DEMOTE][PF_PROM_FAILED] = live->migration_failures; /* format 1: no direction */
	m->migrations[PF_PROM_DEMOTE][PF_PROM_ABORTED] = live->migration_aborts;
	m->failures_by_direction = 0;
	m->migration_bytes[PF_PROM_DEMOTE] = live->bytes_demoted;
	m->migration_bytes[PF_PROM_PROMOTE] = live->bytes_promoted;
	m->migration_seconds = (double)live->migration_ns / 1e9;
	m->backlog_bytes = live->backlog_bytes;
	m->spills = live->spills;
	m->head_demotions = live->head_demotions;
	m->readmissions = live->readmissions;
	m->errors = live->errors;
}

/*
 * config.c - loads libpafka's configuration (see config.h) from the environment, the PAFKA_CONFIG file and
 * the broker's own server.properties + --override arguments, and checks every value.
 *
 * This code runs inside the preloaded library, possibly before main(): it reads files only through
 * pf_read_whole_file() (a plain open() would hit our own wrapper), never prints and never exits. The first
 * problem found is left as one line in the caller's struct pf_err, to be reported at activation.
 *
 * The keys are the table in config_keys.h; everything per key here is generated from it (the ids, the
 * names and environment names, the bounds of the simple keys and the storing of their values), except the
 * handlers of the special keys, in "checking values" below. Loading then works in three steps:
 *   1. every key with a default gets it, parsed and checked like any value;
 *   2. the raw string of every known key is collected, source by source from the lowest precedence to the
 *      highest, each overwriting the last (server.properties, its --override arguments, PAFKA_CONFIG, the
 *      environment);
 *   3. each collected string is parsed and checked, and replaces the default if valid; an error names the
 *      key, the value and the source it came from.
 *
 * Owns: nothing beyond the struct pf_config it fills. May call: sys.h, log.h (struct pf_err), regex.
 */
#define _GNU_SOURCE
#include "config.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the keys (from config_keys.h) ----------------------------------------------------------------- */

#define SKIP(...) /* the lines a generator leaves out */
#define KEY_ID(ID, ...) K_##ID,
enum key_id { PF_CONFIG_KEYS(KEY_ID, KEY_ID) K_COUNT };
#undef KEY_ID

#define KEY(ID, key, type, def, doc) [K_##ID] = { key, "PAFKA_" #ID, PF_CONFIG_##type, def, doc },
#define SIMPLE_KEY(ID, key, type, ctype, field, bounds, def, advice, doc) KEY(ID, key, type, def, doc)
#define SPECIAL_KEY(ID, key, type, handler, def, doc) KEY(ID, key, type, def, doc)
static const struct pf_config_key keys[K_COUNT] = { PF_CONFIG_KEYS(SIMPLE_KEY, SPECIAL_KEY) };
#undef KEY
#undef SIMPLE_KEY
#undef SPECIAL_KEY

const struct pf_config_key *pf_config_keys(size_t *n)
{
	*n = K_COUNT;
	return keys;
}

/* Where a raw value came from. server.properties and its --override arguments form one layer (Kafka
 * merges them itself), so they share a rank. */
enum src_kind { SRC_NONE, SRC_KAFKA_FILE, SRC_OVERRIDE, SRC_CONFIG_FILE, SRC_ENV };

static int src_rank(enum src_kind s)
{
	switch (s) {
	case SRC_KAFKA_FILE:
	case SRC_OVERRIDE:
		return 1;
	case SRC_CONFIG_FILE:
		return 2;
	case SRC_ENV:
		return 3;
	default:
		return 0;
	}
}

struct loader {
	struct pf_config *cfg;
	char *value[K_COUNT];      /* winning raw value of each key, malloc'd, or NULL */
	enum src_kind src[K_COUNT];
	enum src_kind cur;         /* the source being read */
	char *config_path;         /* absolute path of the PAFKA_CONFIG file, for messages */
	int have_cwd;
	char cwd[PATH_MAX];
	struct pf_err err;         /* the first problem found */
};

/* ---- errors ---------------------------------------------------------------------------------------- */

static void describe_source(const struct loader *L, enum key_id k, char *buf, size_t n)
{
	switch (L->src[k]) {
	case SRC_ENV:
		snprintf(buf, n, "%s", keys[k].env);
		break;
	case SRC_CONFIG_FILE:
		snprintf(buf, n, "PAFKA_CONFIG file %s", L->config_path ? L->config_path : "?");
		break;
	case SRC_KAFKA_FILE:
		snprintf(buf, n, "%s", L->cfg->server_properties ? L->cfg->server_properties : "server.properties");
		break;
	case SRC_OVERRIDE:
		snprintf(buf, n, "--override on the command line");
		break;
	default:
		snprintf(buf, n, "default");
		break;
	}
}

/* "pafka: invalid KEY 'VALUE' (from SOURCE): ADVICE" */
static void invalid(struct loader *L, enum key_id k, const char *value, const char *advice)
{
	char src[PATH_MAX + 64];
	describe_source(L, k, src, sizeof src);
	pf_err_set(&L->err, "pafka: invalid %s '%.160s' (from %.200s): %s", keys[k].name, value, src, advice);
}

static void out_of_memory(struct loader *L)
{
	pf_err_set(&L->err, "pafka: out of memory while reading the configuration");
}

/* ---- small parsers ----------------------------------------------------------------------------------- */

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Trim s in place; returns the first non-space character. */
static char *trim(char *s)
{
	while (is_space(*s))
		s++;
	size_t n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int parse_i64(const char *s, int64_t *out)
{
	if (!*s || is_space(*s))
		return -1;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	if (!*s || is_space(*s))
		return -1;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

int pf_parse_size(const char *s, int64_t *out)
{
	if (!s)
		return -1;
	while (is_space(*s))
		s++;
	const char *p = s;
	uint64_t v = 0, mult = 1;
	if (p[0] == '-') {
		if (p[1] != '1')
			return -1;
		p += 2;
		while (is_space(*p))
			p++;
		if (*p)
			return -1;
		*out = -1;
		return 0;
	}
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 'k': case 'K': mult = 1ULL << 10; p++; break;
	case 'm': case 'M': mult = 1ULL << 20; p++; break;
	case 'g': case 'G': mult = 1ULL << 30; p++; break;
	case 't': case 'T': mult = 1ULL << 40; p++; break;
	default: break;
	}
	if (mult > 1 && (*p == 'i' || *p == 'I') && (p[1] == 'B' || p[1] == 'b'))
		p += 2;
	else if (*p == 'B' || *p == 'b')
		p++;
	while (is_space(*p))
		p++;
	if (*p)
		return -1;
	if (v > (uint64_t)INT64_MAX / mult)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

int pf_config_env_name(const char *key, char *buf, size_t buflen)
{
	static const char prefix[] = "PAFKA_";
	if (strncmp(key, "pafka.", 6) == 0)
		key += 6;
	size_t need = sizeof prefix - 1 + strlen(key) + 1;
	if (!buf || buflen < need)
		return -1;
	memcpy(buf, prefix, sizeof prefix - 1);
	char *o = buf + sizeof prefix - 1;
	for (; *key; key++) {
		char c = *key;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			c = '_';
		*o++ = c;
	}
	*o = '\0';
	return 0;
}

/* ---- collecting raw values --------------------------------------------------------------------------- */

static int find_key(const char *key)
{
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(key, keys[k].name) == 0)
			return k;
	return -1;
}

static void set_raw(struct loader *L, enum key_id k, const char *value, size_t vlen)
{
	if (L->cur == SRC_ENV && L->src[k] == SRC_ENV)
		return; /* a duplicate environment entry: the first one wins, as with getenv() */
	char *v = strndup(value, vlen);
	if (!v) {
		out_of_memory(L);
		return;
	}
	free(L->value[k]);
	L->value[k] = v;
	L->src[k] = L->cur;
}

static void prop_cb(void *arg, const char *key, const char *value)
{
	struct loader *L = arg;
	int k = find_key(key);
	if (k >= 0) /* unknown keys are ignored: server.properties holds all of Kafka's own */
		set_raw(L, (enum key_id)k, value, strlen(value));
}

/* Make path absolute against the current directory, drop "." components, repeated and trailing slashes
 * ("/" stays "/"). Returns a malloc'd string, or NULL with the error set. */
static char *absolute_path(struct loader *L, const char *path)
{
	size_t cl = 0, pl = strlen(path);
	int rel = path[0] != '/';
	if (rel) {
		if (!L->have_cwd) {
			pf_err_set(&L->err, "pafka: cannot resolve the relative path '%.200s': the current directory "
					     "is unknown (getcwd failed); use an absolute path", path);
			return NULL;
		}
		cl = strlen(L->cwd);
	}
	char *joined = malloc(cl + 1 + pl + 1);
	if (!joined) {
		out_of_memory(L);
		return NULL;
	}
	if (rel) {
		memcpy(joined, L->cwd, cl);
		joined[cl] = '/';
		memcpy(joined + cl + 1, path, pl + 1);
	} else {
		memcpy(joined, path, pl + 1);
	}
	/* normalize in place: the output never gets ahead of the input */
	size_t r = 0, w = 0;
	joined[w++] = '/';
	for (;;) {
		while (joined[r] == '/')
			r++;
		if (!joined[r])
			break;
		size_t start = r;
		while (joined[r] && joined[r] != '/')
			r++;
		size_t clen = r - start;
		if (clen == 1 && joined[start] == '.')
			continue;
		if (w > 1)
			joined[w++] = '/';
		memmove(joined + w, joined + start, clen);
		w += clen;
	}
	joined[w] = '\0';
	return joined;
}

/* The value of NAME in environ_, or NULL. */
static const char *env_lookup(char *const *environ_, const char *name)
{
	size_t n = strlen(name);
	for (char *const *e = environ_; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

/* Read a properties file as source L->cur. Returns 0, or -1 with the error set. */
static int read_properties(struct loader *L, const char *path)
{
	char *text;
	size_t len;
	if (pf_read_whole_file(path, &text, &len) != 0) {
		int e = errno;
		if (L->cur == SRC_CONFIG_FILE)
			pf_err_set(&L->err, "pafka: cannot read the PAFKA_CONFIG file '%.300s': %s; fix the path or "
					     "unset PAFKA_CONFIG", path, strerror(e));
		else
			pf_err_set(&L->err, "pafka: cannot read Kafka's properties file '%.300s' (from the command "
					     "line): %s; check the path and its permissions", path, strerror(e));
		return -1;
	}
	pf_properties_parse(text, len, prop_cb, L);
	free(text);
	return 0;
}

/* The next argument of a NUL-separated command line, or NULL at its end. */
static const char *next_arg(const char *buf, size_t len, size_t *pos)
{
	if (*pos >= len)
		return NULL;
	const char *a = buf + *pos;
	*pos += strlen(a) + 1;
	return a;
}

static void apply_override(struct loader *L, const char *kv)
{
	const char *eq = strchr(kv, '=');
	if (!eq)
		return; /* Kafka itself rejects it */
	char *key = strndup(kv, (size_t)(eq - kv));
	if (!key) {
		out_of_memory(L);
		return;
	}
	int k = find_key(key);
	if (k >= 0)
		set_raw(L, (enum key_id)k, eq + 1, strlen(eq + 1));
	free(key);
}

/* Layer 3: server.properties after the main class kafka.Kafka, then its --override arguments. */
static void load_cmdline(struct loader *L, const char *cmdline, size_t cmdline_len)
{
	if (!cmdline || cmdline_len == 0)
		return;
	char *buf = malloc(cmdline_len + 1); /* the last argument may lack its NUL */
	if (!buf) {
		out_of_memory(L);
		return;
	}
	memcpy(buf, cmdline, cmdline_len);
	buf[cmdline_len] = '\0';
	size_t pos = 0;
	const char *a = next_arg(buf, cmdline_len, &pos), *base = a ? strrchr(a, '/') : NULL;
	int java = a && !strcmp(base ? base + 1 : a, "java");
	while (a && strcmp(a, "kafka.Kafka") != 0)
		a = next_arg(buf, cmdline_len, &pos);
	L->cfg->java_tool = java && !a; /* a JVM running another main class: one of Kafka's tools */
	const char *file = a ? next_arg(buf, cmdline_len, &pos) : NULL;
	if (!file || !file[0] || file[0] == '-')
		goto out;
	L->cfg->server_properties = absolute_path(L, file);
	if (!L->cfg->server_properties)
		goto out;
	L->cur = SRC_KAFKA_FILE;
	if (read_properties(L, L->cfg->server_properties) != 0) {
		free(L->cfg->server_properties);
		L->cfg->server_properties = NULL;
	}
	L->cur = SRC_OVERRIDE;
	while ((a = next_arg(buf, cmdline_len, &pos))) {
		if (strcmp(a, "--override") == 0) {
			const char *kv = next_arg(buf, cmdline_len, &pos);
			if (!kv)
				break;
			apply_override(L, kv);
		} else if (strncmp(a, "--override=", 11) == 0) {
			apply_override(L, a + 11);
		}
	}
out:
	free(buf);
}

/* PAFKA_* names that are not settings: PAFKA_CONFIG, and names reserved for the project's tools and
 * tests (PAFKA_TEST_*, PAFKA_TOP_*, PAFKA_SMOKE_*, PAFKA_FAULT*, PAFKA_FAIL, PAFKA_CACHE, PAFKA_LIB). */
static int reserved_env_name(const char *s, size_t nl)
{
	static const char *const exact[] = { "PAFKA_CONFIG", "PAFKA_CACHE", "PAFKA_LIB", "PAFKA_FAIL" };
	static const char *const prefix[] = { "PAFKA_TEST_", "PAFKA_TOP_", "PAFKA_SMOKE_", "PAFKA_FAULT" };
	for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
		if (nl == strlen(exact[i]) && !strncmp(s, exact[i], nl))
			return 1;
	for (size_t i = 0; i < sizeof prefix / sizeof *prefix; i++)
		if (nl >= strlen(prefix[i]) && !strncmp(s, prefix[i], strlen(prefix[i])))
			return 1;
	return 0;
}

/* Layer 1: PAFKA_<KEY> variables; any other PAFKA_* name is an error unless reserved. */
static void load_env(struct loader *L, char *const *environ_)
{
	L->cur = SRC_ENV;
	for (char *const *e = environ_; e && *e; e++) {
		const char *s = *e, *eq = strchr(s, '=');
		if (strncmp(s, "PAFKA_", 6) != 0 || !eq)
			continue;
		size_t nl = (size_t)(eq - s);
		if (reserved_env_name(s, nl))
			continue;
		int found = -1;
		for (int k = 0; k < K_COUNT && found < 0; k++)
			if (strlen(keys[k].env) == nl && strncmp(keys[k].env, s, nl) == 0)
				found = k;
		if (found < 0) {
			pf_err_set(&L->err, "pafka: unknown setting %.*s: it is not a libpafka or Pafka key (a typo?); "
					     "remove it or see README for the settings", (int)(nl > 200 ? 200 : nl), s);
			continue;
		}
		set_raw(L, (enum key_id)found, eq + 1, strlen(eq + 1));
	}
}

/* ---- checking values: the simple types ------------------------------------------------------------ */

/* The bounds of the table's lines, as fields of struct simple_rule. */
#define FROM_TO(lo, hi) .min = (lo), .max = (hi)
#define ABOVE_UPTO(lo, hi) .above = (lo), .upto = (hi)
#define ABOVE_UPTO_OR(lo, hi, x) ABOVE_UPTO(lo, hi), .also = (x), .has_also = 1
#define WORDS(...) .words = (const char *const[]){ __VA_ARGS__, NULL }
#define NO_BOUNDS

struct simple_rule {
	const char *advice;
	int64_t min, max;           /* INT, SIZE: from min to max */
	double above, upto, also;   /* DOUBLE: more than above and at most upto, or also if has_also */
	int has_also;
	const char *const *words;   /* CHOICE: NULL-terminated */
};

#define SIMPLE_RULE(ID, key, type, ctype, field, bounds, def, advice_, doc) [K_##ID] = { .advice = advice_, bounds },
static const struct simple_rule simple_rules[K_COUNT] = { PF_CONFIG_KEYS(SIMPLE_RULE, SKIP) };
#undef SIMPLE_RULE

/* A parsed value of a simple type: one member per type, named as the table's TYPE, so that generated code
 * can write v.TYPE. */
union value {
	int64_t BOOL, INT, SIZE, CHOICE; /* CHOICE: the index of the word */
	double DOUBLE;
	char *STRING;                    /* malloc'd */
};

/* Put v into the field of simple key k, releasing the string that was there (nothing for a special key). */
static void store(struct pf_config *c, enum key_id k, union value v)
{
	union value old = { 0 };
	switch (k) {
#define STORE(ID, key, type, ctype, field, ...)   \
	case K_##ID:                               \
		old.type = c->field;               \
		c->field = (ctype)v.type;          \
		break;
		PF_CONFIG_KEYS(STORE, SKIP)
#undef STORE
	default:
		break;
	}
	if (keys[k].type == PF_CONFIG_STRING)
		free(old.STRING);
}

static char *dup_value(struct loader *L, const char *v)
{
	char *s = strdup(v);
	if (!s)
		out_of_memory(L);
	return s;
}

static int parse_bool(const char *s, int64_t *out)
{
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int parse_word(const char *s, const char *const *words, int64_t *out)
{
	for (int64_t i = 0; words[i]; i++)
		if (strcasecmp(s, words[i]) == 0) {
			*out = i;
			return 0;
		}
	return -1;
}

/* Parse and check the value v of a simple key by its type and bounds, and store it. */
static void parse_simple(struct loader *L, enum key_id k, const char *v)
{
	const struct simple_rule *r = &simple_rules[k];
	union value x = { 0 };
	int ok = 0;
	switch (keys[k].type) {
	case PF_CONFIG_BOOL:
		ok = parse_bool(v, &x.BOOL) == 0;
		break;
	case PF_CONFIG_INT:
		ok = parse_i64(v, &x.INT) == 0 && x.INT >= r->min && x.INT <= r->max;
		break;
	case PF_CONFIG_SIZE:
		ok = pf_parse_size(v, &x.SIZE) == 0 && x.SIZE >= r->min && x.SIZE <= r->max;
		break;
	case PF_CONFIG_DOUBLE:
		ok = parse_double(v, &x.DOUBLE) == 0 &&
		     ((x.DOUBLE > r->above && x.DOUBLE <= r->upto) || (r->has_also && x.DOUBLE == r->also));
		break;
	case PF_CONFIG_CHOICE:
		ok = parse_word(v, r->words, &x.CHOICE) == 0;
		break;
	case PF_CONFIG_STRING:
		ok = *v != '\0';
		if (ok && !(x.STRING = dup_value(L, v)))
			return; /* out of memory, reported */
		break;
	case PF_CONFIG_LIST: /* special keys only */
		break;
	}
	if (ok)
		store(L->cfg, k, x);
	else
		invalid(L, k, v, r->advice);
}

/* ---- checking values: the special keys --------------------------------------------------------------- */

/* A comma separated value, split into trimmed entries that point into copy. */
struct list {
	char *copy; /* malloc'd: the caller frees it */
	char *item[PF_MAX_PATHS];
};

/* Split the value v of key k into l; what names the entries for the message. Returns the number of
 * entries, or -1 (with the error set if report) for an empty value, an empty entry or too many. */
static int split_list(struct loader *L, enum key_id k, const char *v, const char *what, int report,
		      struct list *l)
{
	int n = 0;
	char *p = l->copy = dup_value(L, v);
	if (!p)
		return -1;
	if (!*trim(p)) {
		if (report)
			invalid(L, k, v, "the value is empty; set it (comma separated for several entries) or unset it");
		return -1;
	}
	for (;;) {
		char *comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		char *item = trim(p);
		if (!*item) {
			if (report)
				invalid(L, k, v, "an entry of the comma separated list is empty; remove the extra comma");
			return -1;
		}
		if (n == PF_MAX_PATHS) {
			char advice[128];
			snprintf(advice, sizeof advice, "at most %d %s are supported", PF_MAX_PATHS, what);
			if (report)
				invalid(L, k, v, advice);
			return -1;
		}
		l->item[n++] = item;
		if (!comma)
			break;
		p = comma + 1;
	}
	return n;
}

static void free_paths(struct pf_paths *p)
{
	for (int i = 0; i < PF_MAX_PATHS; i++) {
		free(p->v[i]);
		p->v[i] = NULL;
	}
	p->n = 0;
}

/* storage.tiers.first.paths, storage.tiers.second.paths, log.dirs and log.dir (both fill log_dirs). */
static void parse_paths(struct loader *L, enum key_id k, const char *v)
{
	struct pf_paths *out = &L->cfg->log_dirs;
	if (k == K_STORAGE_TIERS_FIRST_PATHS)
		out = &L->cfg->first_paths;
	else if (k == K_STORAGE_TIERS_SECOND_PATHS)
		out = &L->cfg->second_paths;
	struct list l;
	int n = split_list(L, k, v, "paths", 1, &l);
	for (int i = 0; i < n; i++) {
		out->v[i] = absolute_path(L, l.item[i]);
		if (!out->v[i]) {
			free_paths(out);
			break;
		}
		out->n = i + 1;
	}
	free(l.copy);
}

static void parse_tier_types(struct loader *L, enum key_id k, const char *v)
{
	static const char *const names[] = { "PMEM", "NVME", "SSD", "HDD" };
	const char *types[2] = { NULL, NULL };
	/* only the tiered channel uses the types, so only it is held to them; otherwise a bad value is
	 * ignored and the default stays */
	int strict = L->cfg->channel == PF_CHANNEL_TIERED;
	struct list l;
	int n = split_list(L, k, v, "types", strict, &l);
	int ok = n == 2;
	for (int i = 0; ok && i < 2; i++) {
		for (size_t j = 0; j < sizeof names / sizeof names[0]; j++)
			if (strcasecmp(l.item[i], names[j]) == 0)
				types[i] = names[j];
		ok = types[i] != NULL;
	}
	free(l.copy);
	if (ok) {
		L->cfg->tier_types[0] = types[0];
		L->cfg->tier_types[1] = types[1];
	} else if (strict && n >= 0) {
		invalid(L, k, v, "use exactly two of PMEM, NVME, SSD, HDD, e.g. PMEM,HDD");
	}
}

/* process.roles: broker, controller or both (Kafka's words); a process without the broker role serves no
 * partition, so the shim leaves it alone (shim.c). */
static void parse_process_roles(struct loader *L, enum key_id k, const char *v)
{
	struct list l;
	int n = split_list(L, k, v, "roles", 1, &l), broker = 0, controller = 0;
	for (int i = 0; i < n; i++) {
		if (!strcasecmp(l.item[i], "broker")) {
			broker = 1;
		} else if (!strcasecmp(l.item[i], "controller")) {
			controller = 1;
		} else {
			invalid(L, k, v, "use broker, controller or broker,controller (Kafka's KRaft roles)");
			n = -1;
			break;
		}
	}
	free(l.copy);
	if (n > 0)
		L->cfg->controller_only = controller && !broker;
}

static void parse_first_sizes(struct loader *L, enum key_id k, const char *v)
{
	int64_t sizes[PF_MAX_PATHS];
	struct list l;
	int n = split_list(L, k, v, "sizes", 1, &l);
	for (int i = 0; i < n; i++) {
		if (pf_parse_size(l.item[i], &sizes[i]) != 0 || sizes[i] == 0) {
			invalid(L, k, v,
				"use a positive byte count per path (K, M, G, T suffixes allowed, e.g. 64G) or -1 for "
				"the free space times log.pmem.pool.ratio");
			n = -1;
			break;
		}
	}
	free(l.copy);
	if (n > 0) {
		memcpy(L->cfg->first_sizes, sizes, (size_t)n * sizeof sizes[0]);
		L->cfg->n_first_sizes = n;
	}
}

static void replace_string(struct loader *L, char **field, const char *v)
{
	char *s = dup_value(L, v);
	if (s) {
		free(*field);
		*field = s;
	}
}

static void parse_segment_pattern(struct loader *L, enum key_id k, const char *v)
{
	regex_t re;
	int rc = *v ? regcomp(&re, v, REG_EXTENDED | REG_NOSUB) : REG_BADPAT;
	if (rc != 0) {
		char msg[128], advice[256];
		if (*v)
			regerror(rc, &re, msg, sizeof msg);
		else
			snprintf(msg, sizeof msg, "empty");
		snprintf(advice, sizeof advice, "use a POSIX extended regex matching segment file names (%s)", msg);
		invalid(L, k, v, advice);
		return;
	}
	regfree(&re);
	replace_string(L, &L->cfg->segment_pattern, v);
}

static void parse_block_size(struct loader *L, enum key_id k, const char *v)
{
	int64_t i;
	if (pf_parse_size(v, &i) != 0 || i < 0 || !pf_valid_block_size((uint64_t)i))
		invalid(L, k, v, "use " PF_BLOCK_SIZE_RULE " bytes, e.g. 1M");
	else
		L->cfg->block_size = (uint64_t)i;
}

static void parse_metrics_address(struct loader *L, enum key_id k, const char *v)
{
	int bad = !*v;
	for (const char *p = v; *p; p++)
		if (is_space(*p) || *p == ',')
			bad = 1;
	if (bad)
		invalid(L, k, v, "use one IP address or host name to listen on, e.g. 127.0.0.1");
	else
		replace_string(L, &L->cfg->metrics_address, v);
}

/* ---- loading ------------------------------------------------------------------------------------------ */

/* Who parses, checks and stores each key's value: parse_simple, or the special key's handler. */
typedef void check_fn(struct loader *L, enum key_id k, const char *v);
#define SIMPLE_CHECK(ID, ...) [K_##ID] = parse_simple,
#define SPECIAL_CHECK(ID, key, type, handler, ...) [K_##ID] = handler,
static check_fn *const checks[K_COUNT] = { PF_CONFIG_KEYS(SIMPLE_CHECK, SPECIAL_CHECK) };
#undef SIMPLE_CHECK
#undef SPECIAL_CHECK

/* Check the value collected for k. */
static void check_value(struct loader *L, enum key_id k)
{
	checks[k](L, k, trim(L->value[k]));
}

int pf_config_load(struct pf_config *cfg, char *const *environ_, const char *cmdline, size_t cmdline_len,
		   struct pf_err *err)
{
	memset(cfg, 0, sizeof *cfg);
	struct loader *L = calloc(1, sizeof *L);
	if (!L)
		return pf_err_set(err, "pafka: out of memory while reading the configuration");
	L->cfg = cfg;
	L->have_cwd = getcwd(L->cwd, sizeof L->cwd) != NULL && L->cwd[0] == '/';

	/* 1. the defaults, in table order (the channel's first) */
	for (int k = 0; k < K_COUNT; k++)
		if (keys[k].def)
			checks[k](L, (enum key_id)k, keys[k].def);

	/* 2. collect, lowest precedence first */
	load_cmdline(L, cmdline, cmdline_len);
	const char *conf = env_lookup(environ_, "PAFKA_CONFIG");
	if (conf && *conf) {
		L->config_path = absolute_path(L, conf);
		if (L->config_path) {
			L->cur = SRC_CONFIG_FILE;
			read_properties(L, L->config_path);
		}
	}
	load_env(L, environ_);

	/* 3. check; the channel first, as other checks depend on it */
	if (L->value[K_LOG_CHANNEL_TYPE])
		check_value(L, K_LOG_CHANNEL_TYPE);
	for (int k = 0; k < K_COUNT; k++) {
		if (k == K_LOG_CHANNEL_TYPE || k == K_LOG_DIRS || k == K_LOG_DIR || !L->value[k])
			continue;
		check_value(L, (enum key_id)k);
	}
	/* log.dirs beats log.dir within one source; otherwise the higher source wins */
	if (L->value[K_LOG_DIRS] && src_rank(L->src[K_LOG_DIRS]) >= src_rank(L->src[K_LOG_DIR]))
		check_value(L, K_LOG_DIRS);
	else if (L->value[K_LOG_DIR])
		check_value(L, K_LOG_DIR);
	else if (cfg->server_properties) /* Kafka's own default, only when Kafka's config was found */
		parse_paths(L, K_LOG_DIRS, "/tmp/kafka-logs");

	if (cfg->channel != PF_CHANNEL_FILE && !L->value[K_STORAGE_TIERS_FIRST_PATHS])
		pf_err_set(&L->err, "pafka: storage.tiers.first.paths is not set: log.channel.type is %s, so set it "
				    "(or PAFKA_STORAGE_TIERS_FIRST_PATHS) to the PMem directory, or use "
				    "log.channel.type=file",
			   cfg->channel == PF_CHANNEL_PMEM ? "pmem" : "tiered");
	/* one size per first-tier path: the last one given (or the default -1) repeats */
	if (cfg->first_paths.n > 0 && cfg->n_first_sizes > cfg->first_paths.n) {
		char advice[160];
		snprintf(advice, sizeof advice, "give at most one size per path (%d entries in "
			 "storage.tiers.first.paths)", cfg->first_paths.n);
		invalid(L, K_STORAGE_TIERS_FIRST_SIZES, L->value[K_STORAGE_TIERS_FIRST_SIZES], advice);
	}
	int64_t last = cfg->n_first_sizes > 0 ? cfg->first_sizes[cfg->n_first_sizes - 1] : -1;
	for (int i = cfg->n_first_sizes; i < cfg->first_paths.n; i++)
		cfg->first_sizes[i] = last;
	cfg->n_first_sizes = cfg->first_paths.n;

	for (int k = 0; k < K_COUNT; k++)
		free(L->value[k]);
	free(L->config_path);
	int rc = 0;
	if (pf_err_isset(&L->err))
		rc = pf_err_set(err, "%s", L->err.msg);
	free(L);
	return rc;
}

void pf_config_free(struct pf_config *cfg)
{
	if (!cfg)
		return;
	for (int k = 0; k < K_COUNT; k++) /* the simple keys' strings */
		store(cfg, (enum key_id)k, (union value){ 0 });
	free_paths(&cfg->first_paths);
	free_paths(&cfg->second_paths);
	free_paths(&cfg->log_dirs);
	free(cfg->segment_pattern);
	free(cfg->metrics_address);
	free(cfg->server_properties);
	memset(cfg, 0, sizeof *cfg);
}

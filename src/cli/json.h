/*
 * json.h - a small streaming JSON writer for the commands' --json output: indented, keys in call order.
 *
 * Owns: turning values into RFC 8259 text. May call: stdio only.
 *
 * Every string it writes is valid JSON whatever bytes it is given: control characters are escaped, and
 * bytes that are not UTF-8 become U+FFFD (one for each maximal invalid subpart, as Unicode recommends and
 * as Python's "replace" decoder does). Inside an object pass a key; inside an array pass NULL. Misuse (a
 * key missing or where none belongs, more than JSON_MAX_DEPTH open containers, closing what is not open,
 * a second top-level value, an unclosed container at json_done) is never silent: the writer stops writing,
 * keeps the first problem in j->error and json_done returns -1. A writer initialised with no FILE writes
 * nothing: a command can then make the same calls whether or not --json was given.
 */
#ifndef PAFKA_CLI_JSON_H
#define PAFKA_CLI_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;                       /* open containers */
	int count[JSON_MAX_DEPTH + 1];   /* values written at each level (level 0: the document) */
	char kind[JSON_MAX_DEPTH + 1];   /* '{' or '[' for each open level */
	const char *error;               /* the first misuse, or NULL; once set nothing more is written */
};

void json_init(struct json *j, FILE *out); /* out NULL: every call does nothing */
void json_obj(struct json *j, const char *key);  /* begin an object */
void json_arr(struct json *j, const char *key);  /* begin an array */
void json_end_obj(struct json *j);
void json_end_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *v); /* NULL v writes null */
void json_strn(struct json *j, const char *key, const char *v, size_t n);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_dbl(struct json *j, const char *key, double v); /* NaN and infinities write null */
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);
/* Finish the document (a newline). Returns 0, or -1 when the writer was misused (j->error says how; the
 * output is then incomplete). */
int json_done(struct json *j);

#endif

/*
 * json.h - a small streaming JSON writer for the tools' --json output (indented, keys in call order,
 * strings escaped per RFC 8259). Inside an object pass a key; inside an array pass NULL.
 */
#ifndef PAFKA_CLI_JSON_H
#define PAFKA_CLI_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *out;
	int depth;
	int count[JSON_MAX_DEPTH]; /* members written at each level */
};

void json_init(struct json *j, FILE *out);
void json_obj(struct json *j, const char *key);  /* begin an object */
void json_arr(struct json *j, const char *key);  /* begin an array */
void json_end_obj(struct json *j);
void json_end_arr(struct json *j);
void json_str(struct json *j, const char *key, const char *v); /* NULL v writes null */
void json_strn(struct json *j, const char *key, const char *v, size_t n);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_dbl(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, int v);
void json_null(struct json *j, const char *key);
/* Finish the document (a newline). */
void json_done(struct json *j);

#endif

/*
 * json.c - the streaming JSON writer (see json.h).
 *
 * Owns: escaping, UTF-8 repair, nesting bookkeeping. May call: stdio only.
 */
#include "json.h"

#include <math.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

void json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof *j);
	j->out = out;
}

/* Record the first misuse; nothing is written after it. */
static int misuse(struct json *j, const char *what)
{
	if (!j->error)
		j->error = what;
	return -1;
}

static void indent(struct json *j)
{
	fputc('\n', j->out);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->out);
}

/* The length of the well-formed UTF-8 sequence at s (n > 0 bytes available), or 0 when it is not one;
 * then *bad is the length of its maximal invalid subpart (replaced by one U+FFFD). RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		*bad = 1;
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if (i >= n || s[i] < lo || s[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

static void raw_string(struct json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	fputc('"', j->out);
	for (size_t i = 0; i < n;) {
		unsigned char ch = s[i];
		size_t bad = 0, len = utf8_seq(s + i, n - i, &bad);
		if (!len) {
			fputs("\\ufffd", j->out);
			i += bad;
			continue;
		}
		i += len;
		if (len > 1) {
			fwrite(s + i - len, 1, len, j->out);
			continue;
		}
		switch (ch) {
		case '"':
			fputs("\\\"", j->out);
			break;
		case '\\':
			fputs("\\\\", j->out);
			break;
		case '\n':
			fputs("\\n", j->out);
			break;
		case '\r':
			fputs("\\r", j->out);
			break;
		case '\t':
			fputs("\\t", j->out);
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				fprintf(j->out, "\\u%04x", ch);
			else
				fputc(ch, j->out);
		}
	}
	fputc('"', j->out);
}

/* Separator, newline and key before a value. Returns -1 (nothing written) on misuse. */
static int member(struct json *j, const char *key)
{
	if (j->error || !j->out)
		return -1;
	if (j->depth == 0) {
		if (j->count[0])
			return misuse(j, "a second top-level value");
		if (key)
			return misuse(j, "a key outside any object");
	} else if (j->kind[j->depth] == '{' && !key) {
		return misuse(j, "a value without a key inside an object");
	} else if (j->kind[j->depth] == '[' && key) {
		return misuse(j, "a key inside an array");
	}
	if (j->count[j->depth]++)
		fputc(',', j->out);
	if (j->depth > 0)
		indent(j);
	if (key) {
		raw_string(j, key, strlen(key));
		fputs(": ", j->out);
	}
	return 0;
}

static void open_(struct json *j, const char *key, char ch)
{
	if (j->depth == JSON_MAX_DEPTH && !j->error)
		misuse(j, "containers nested more than " STR(JSON_MAX_DEPTH) " deep");
	if (member(j, key) < 0)
		return;
	fputc(ch, j->out);
	j->depth++;
	j->count[j->depth] = 0;
	j->kind[j->depth] = ch;
}

static void close_(struct json *j, char open, char ch)
{
	if (j->error || !j->out)
		return;
	if (j->depth == 0 || j->kind[j->depth] != open) {
		misuse(j, "closing a container that is not the innermost open one");
		return;
	}
	int had = j->count[j->depth];
	j->depth--;
	if (had)
		indent(j);
	fputc(ch, j->out);
}

void json_obj(struct json *j, const char *key)
{
	open_(j, key, '{');
}

void json_arr(struct json *j, const char *key)
{
	open_(j, key, '[');
}

void json_end_obj(struct json *j)
{
	close_(j, '{', '}');
}

void json_end_arr(struct json *j)
{
	close_(j, '[', ']');
}

void json_str(struct json *j, const char *key, const char *v)
{
	if (!v)
		json_null(j, key);
	else
		json_strn(j, key, v, strlen(v));
}

void json_strn(struct json *j, const char *key, const char *v, size_t n)
{
	if (member(j, key) == 0)
		raw_string(j, v, n);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	if (member(j, key) == 0)
		fprintf(j->out, "%llu", (unsigned long long)v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	if (member(j, key) == 0)
		fprintf(j->out, "%lld", (long long)v);
}

void json_dbl(struct json *j, const char *key, double v)
{
	if (member(j, key) < 0)
		return;
	if (isfinite(v))
		fprintf(j->out, "%.6g", v);
	else
		fputs("null", j->out);
}

void json_bool(struct json *j, const char *key, int v)
{
	if (member(j, key) == 0)
		fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	if (member(j, key) == 0)
		fputs("null", j->out);
}

int json_done(struct json *j)
{
	if (!j->out)
		return 0;
	if (!j->error && j->depth != 0)
		misuse(j, "an object or array left open");
	if (!j->error && j->count[0] == 0)
		misuse(j, "an empty document");
	if (j->error)
		return -1;
	fputc('\n', j->out);
	return 0;
}

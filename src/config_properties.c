/*
 * config_properties.c - the Java .properties format (see config_properties.h): key=value,
 * key:value and key value lines, # and ! comments, backslash line continuations and the \t \n \r \f
 * \uXXXX escapes, as java.util.Properties.load reads them. Used for Kafka's server.properties and the
 * PAFKA_CONFIG file.
 *
 * Owns: nothing (pure text work). May call: libc string and memory functions only.
 */
#include "config_properties.h"

#include <stdlib.h>

static int prop_space(char c)
{
	return c == ' ' || c == '\t' || c == '\f';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The code unit of "\uXXXX" at in[i] (i at the backslash), or -1. */
static long u_escape(const char *in, size_t n, size_t i)
{
	if (i + 6 > n || in[i] != '\\' || in[i + 1] != 'u')
		return -1;
	long v = 0;
	for (size_t j = i + 2; j < i + 6; j++) {
		int h = hexval(in[j]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_put(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Undo Java escapes of in[0..n) into out (which has room for n + 1 bytes: no escape grows). A surrogate
 * pair of \u escapes becomes one 4-byte UTF-8 character; a lone surrogate or \u0000 becomes U+FFFD; a
 * malformed \u is taken as a plain 'u'. */
static void prop_unescape(const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		char c = in[i];
		if (c != '\\') {
			out[o++] = c;
			i++;
			continue;
		}
		if (i + 1 >= n) /* a lone trailing backslash: drop it */
			break;
		long u = u_escape(in, n, i);
		if (u >= 0) {
			unsigned long cp = (unsigned long)u;
			i += 6;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				long lo = u_escape(in, n, i);
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
					i += 6;
				} else {
					cp = 0xFFFD;
				}
			} else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
				cp = 0xFFFD;
			}
			o += utf8_put(out + o, cp);
			continue;
		}
		c = in[i + 1];
		i += 2;
		switch (c) {
		case 't': out[o++] = '\t'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 'f': out[o++] = '\f'; break;
		default: out[o++] = c; break; /* \\ \= \: \# \  \u(malformed) ... */
		}
	}
	out[o] = '\0';
}

int pf_properties_parse(const char *text, size_t len,
			void (*cb)(void *arg, const char *key, const char *value), void *arg)
{
	if (!text || len == 0)
		return 0;
	/* a logical line, its key and its value each fit in len + 1 bytes */
	char *line = malloc(len + 1), *key = malloc(len + 1), *val = malloc(len + 1);
	if (!line || !key || !val)
		goto out;
	size_t i = 0;
	while (i < len) {
		/* start of a logical line: skip leading white space, blank lines and comment lines */
		while (i < len && prop_space(text[i]))
			i++;
		if (i >= len)
			break;
		if (text[i] == '\n' || text[i] == '\r') {
			i++;
			continue;
		}
		if (text[i] == '#' || text[i] == '!') { /* comments never continue */
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			continue;
		}
		/* join natural lines ending in an odd number of backslashes */
		size_t n = 0;
		for (;;) {
			size_t seg = n;
			while (i < len && text[i] != '\n' && text[i] != '\r')
				line[n++] = text[i++];
			size_t bs = 0;
			while (n - bs > seg && line[n - bs - 1] == '\\')
				bs++;
			int cont = bs % 2 == 1;
			if (cont)
				n--; /* the continuation backslash itself */
			if (i >= len)
				break;
			if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
			i++;
			if (!cont)
				break;
			while (i < len && prop_space(text[i]))
				i++;
		}
		/* key: up to the first unescaped '=', ':' or white space */
		size_t k = 0, vstart = n;
		int has_sep = 0, esc = 0;
		for (; k < n; k++) {
			char c = line[k];
			if (!esc && (c == '=' || c == ':')) {
				vstart = k + 1;
				has_sep = 1;
				break;
			}
			if (!esc && prop_space(c)) {
				vstart = k + 1;
				break;
			}
			esc = c == '\\' ? !esc : 0;
		}
		/* value: after white space and at most one separator */
		while (vstart < n) {
			char c = line[vstart];
			if (!prop_space(c)) {
				if (!has_sep && (c == '=' || c == ':'))
					has_sep = 1;
				else
					break;
			}
			vstart++;
		}
		prop_unescape(line, k, key);
		prop_unescape(line + vstart, n - vstart, val);
		cb(arg, key, val);
	}
out:
	free(line);
	free(key);
	free(val);
	return 0;
}

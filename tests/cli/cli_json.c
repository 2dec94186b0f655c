/*
 * cli_json - drive the pafka command's JSON writer (src/cli/json.c) with arbitrary input, for
 * tests/cli/json.sh, which parses what it writes.
 *
 *   cli_json strings HEX...  {"strings": [...], "keys": {...}}: each argument's bytes (hex digits, any
 *                            bytes at all) as a string, and again as a key (its value: the argument's index)
 *   cli_json depth N         N arrays nested in one another, then closed
 *   cli_json misuse CASE     one misuse of the writer: key-in-array, no-key, close-extra, close-wrong,
 *                            unclosed, two-values
 * Exit 0 when json_done accepts the document; 1 with json_done's complaint on stderr otherwise; 2 on bad
 * arguments.
 *
 * Owns: nothing but the driving. May call: src/cli/json.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/json.h"

static size_t unhex(const char *hex, char *out)
{
	size_t n = 0;
	for (; hex[0] && hex[1]; hex += 2) {
		char pair[3] = { hex[0], hex[1], '\0' };
		out[n++] = (char)strtoul(pair, NULL, 16);
	}
	return n;
}

static void misuse(struct json *j, const char *what)
{
	json_obj(j, NULL);
	if (!strcmp(what, "key-in-array")) {
		json_arr(j, "a");
		json_u64(j, "k", 1);
		json_end_arr(j);
	} else if (!strcmp(what, "no-key")) {
		json_u64(j, NULL, 1);
	} else if (!strcmp(what, "close-extra")) {
		json_end_obj(j);
		json_end_obj(j);
		return;
	} else if (!strcmp(what, "close-wrong")) {
		json_end_arr(j);
	} else if (!strcmp(what, "unclosed")) {
		json_arr(j, "a");
		return;
	} else if (!strcmp(what, "two-values")) {
		json_end_obj(j);
		json_obj(j, NULL);
	}
	json_end_obj(j);
}

int main(int argc, char **argv)
{
	struct json j;
	json_init(&j, stdout);
	if (argc >= 2 && !strcmp(argv[1], "strings")) {
		char *buf = malloc(4096);
		if (!buf)
			return 2;
		json_obj(&j, NULL);
		for (int pass = 0; pass < 2; pass++) {
			if (pass == 0)
				json_arr(&j, "strings");
			else
				json_obj(&j, "keys");
			for (int i = 2; i < argc; i++) {
				if (strlen(argv[i]) / 2 >= 4096)
					return 2;
				size_t n = unhex(argv[i], buf);
				if (pass == 0) {
					json_strn(&j, NULL, buf, n);
				} else {
					buf[n] = '\0'; /* a key is a C string: it ends at the first NUL */
					json_u64(&j, buf, (uint64_t)(i - 2));
				}
			}
			if (pass == 0)
				json_end_arr(&j);
			else
				json_end_obj(&j);
		}
		json_end_obj(&j);
		free(buf);
	} else if (argc == 3 && !strcmp(argv[1], "depth")) {
		int n = atoi(argv[2]);
		for (int i = 0; i < n; i++)
			json_arr(&j, NULL);
		for (int i = 0; i < n; i++)
			json_end_arr(&j);
	} else if (argc == 3 && !strcmp(argv[1], "misuse")) {
		misuse(&j, argv[2]);
	} else {
		fprintf(stderr, "usage: cli_json strings HEX... | depth N | misuse CASE\n");
		return 2;
	}
	if (json_done(&j) < 0) {
		fflush(stdout);
		fprintf(stderr, "cli_json: %s\n", j.error);
		return 1;
	}
	return 0;
}

/*
 * man/gen-keys.c - writes the key table of libpafka(7) from the configuration parser's own table, so the
 * manual and the parser cannot drift apart (a build-time tool; never installed).
 *
 *   gen-keys TEMPLATE   copy TEMPLATE (man/libpafka.7.in) to stdout, replacing its one line `.\" @KEYS@`
 *                       with a .TP entry per key: name, PAFKA_ environment name, default, doc sentence;
 *   gen-keys --list     print one line per key: name, environment name, default ("none" when the key
 *                       has none), doc sentence, separated by tabs (for tests/cli/man7.sh).
 *
 * Refuses (exit 1, one line on stderr) a template without exactly one marker line and a key without a doc
 * sentence, so a key added to src/config_keys.h without documentation fails the build.
 *
 * Owns: nothing. May call: config.h (pf_config_keys() only), stdio.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"

#define MARKER ".\\\" @KEYS@"

/* Write s as roff text: backslashes as \e, a leading '.' or '\'' guarded by \&, and a '-' that starts a
 * word (a minus sign or an option, as in -1) or stands in a name, value or variable (minus_all) as \-. */
static void roff(FILE *o, const char *s, int minus_all)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", o);
	for (const char *p = s; *p; p++) {
		if (*p == '\\')
			fputs("\\e", o);
		else if (*p == '-' && (minus_all || p == s || p[-1] == ' ' || p[-1] == '('))
			fputs("\\-", o);
		else if (*p == '"')
			fputs("\\(dq", o);
		else
			fputc(*p, o);
	}
}

static const char *def_text(const struct pf_config_key *k)
{
	return k->def ? k->def : "none";
}

static int check_keys(const struct pf_config_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!keys[i].doc || !keys[i].doc[0]) {
			fprintf(stderr, "gen-keys: key %s has no doc sentence in src/config_keys.h: document it\n",
				keys[i].name);
			return -1;
		}
	return 0;
}

static void list(const struct pf_config_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s\t%s\t%s\t%s\n", keys[i].name, keys[i].env, def_text(&keys[i]),
		       keys[i].doc ? keys[i].doc : "");
}

/* One entry: the tag "KEY (PAFKA_KEY, default DEFAULT)", then the doc sentence. */
static void table(FILE *o, const struct pf_config_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs(".TP\n.BR \"", o);
		roff(o, keys[i].name, 1);
		fputs("\" \" (\" \"", o);
		roff(o, keys[i].env, 1);
		fputs("\" \", default \" \"", o);
		roff(o, def_text(&keys[i]), 1);
		fputs("\" )\n\\&", o);
		roff(o, keys[i].doc, 0);
		fputs(".\n", o);
	}
}

int main(int argc, char **argv)
{
	size_t n;
	const struct pf_config_key *keys = pf_config_keys(&n);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		list(keys, n);
		return 0;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: gen-keys TEMPLATE | gen-keys --list\n");
		return 2;
	}
	if (check_keys(keys, n) < 0)
		return 1;
	FILE *in = fopen(argv[1], "r");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	char line[4096];
	int markers = 0;
	while (fgets(line, sizeof line, in)) {
		if (!strcmp(line, MARKER "\n")) {
			markers++;
			table(stdout, keys, n);
		} else {
			fputs(line, stdout);
		}
	}
	int bad = ferror(in);
	fclose(in);
	if (bad || markers != 1) {
		fprintf(stderr, "gen-keys: %s: %s\n", argv[1],
			bad ? "read error" : "needs exactly one line '" MARKER "'");
		return 1;
	}
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}

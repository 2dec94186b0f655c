/*
 * opts.c - the command line of `pafka` and its subcommands: one table-driven parser (getopt_long) for
 * every command, the options they all share (--config, --pool, --help/-h, --json where it reports), and
 * the --help text made from the same table, so an option and its help are declared once.
 *
 * Owns: parsing argv into struct cli and a command's option values; usage and help text. May call:
 * output.c (usage errors), paths.h (making --pool absolute), config.h (sizes).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pafka.h"
#include "paths.h"

/* getopt codes of the common options and of a table option without a letter (base + its index). */
enum { OPT_CONFIG = 0x100, OPT_POOL, OPT_HELP, OPT_JSON, OPT_TABLE = 0x200 };

static const struct cli_opt common_json = { "json", 0, NULL, NULL };
static const struct cli_opt common[] = {
	{ "config", 0, "FILE", "settings file (server.properties or PAFKA_CONFIG style)" },
	{ "pool", 0, "DIR", "the pool directory, instead of storage.tiers.first.paths (repeat or\n"
			    "comma-separate for several)" },
	{ "help", 'h', NULL, "this help" },
};

static size_t nopts(const struct cli_syntax *syn)
{
	size_t n = 0;
	while (syn->opts && syn->opts[n].name)
		n++;
	return n;
}

/* --pool accepts a directory or the pool file itself, several times or as a comma list. Returns 0, or
 * CLI_USAGE / CLI_FAIL after a message. */
static int add_pool_opt(struct cli *c, const char *arg)
{
	char *copy = strdup(arg), *save = NULL;
	if (!copy)
		return cli_err(c, "out of memory"), CLI_FAIL;
	int rc = 0;
	for (char *t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		if (!*t)
			continue;
		char abs[PATH_MAX];
		if (c->npool_opt == PF_MAX_PATHS) {
			rc = cli_usage_error(c, "at most %d pools can be named with --pool", PF_MAX_PATHS);
		} else if (pf_path_absolute(AT_FDCWD, t, abs, sizeof abs) < 0) {
			rc = cli_usage_error(c, "--pool '%s' is not a usable path", t);
		} else {
			size_t n = strlen(abs), fl = strlen(PAFKA_POOL_FILE);
			struct stat st;
			if (n > fl + 1 && !strcmp(abs + n - fl, PAFKA_POOL_FILE) && abs[n - fl - 1] == '/' &&
			    stat(abs, &st) == 0 && S_ISREG(st.st_mode))
				abs[n - fl - 1] = '\0';
			if ((c->pool_opt[c->npool_opt] = strdup(abs)))
				c->npool_opt++;
			else
				rc = (cli_err(c, "out of memory"), CLI_FAIL);
		}
	}
	free(copy);
	return rc;
}

/* The getopt code of table option i: its letter, or one above the common codes. */
static int code_of(const struct cli_opt *o, size_t i)
{
	return o->letter ? o->letter : OPT_TABLE + (int)i;
}

static int bad_option(struct cli *c, int ch, char **argv)
{
	const char *a = argv[optind - 1];
	char shortopt[3] = { '-', (char)optopt, '\0' };
	if (optopt > 0 && optopt < 0x100 && strncmp(a, "--", 2) != 0)
		a = shortopt; /* in a cluster (-vx) argv names the cluster, not the option */
	if (ch == ':')
		return cli_usage_error(c, "option '%s' needs a value", a);
	if (optopt && !strncmp(a, "--", 2) && strchr(a, '=')) /* a known switch given a value */
		return cli_usage_error(c, "option '%.*s' takes no value", (int)(strchr(a, '=') - a), a);
	return cli_usage_error(c, "unknown option '%s'", a);
}

int cli_parse(struct cli *c, const struct cli_syntax *syn, int argc, char **argv, const char **got, int *first)
{
	struct option lo[CLI_MAX_OPTS + 5];
	char so[2 * CLI_MAX_OPTS + 8];
	size_t n = nopts(syn), k = 0, s = 0;
	c->syntax = syn;
	if (n > CLI_MAX_OPTS) { /* a programming error, caught by every test of the command */
		cli_err(c, "internal error: more than %d options", CLI_MAX_OPTS);
		return CLI_FAIL;
	}
	if (!syn->interleave)
		so[s++] = '+'; /* stop at the first operand */
	so[s++] = ':';
	so[s++] = 'h';
	for (size_t i = 0; i < n; i++) {
		const struct cli_opt *o = &syn->opts[i];
		got[i] = NULL;
		lo[k++] = (struct option){ o->name, o->arg ? required_argument : no_argument, NULL, code_of(o, i) };
		if (o->letter) {
			so[s++] = o->letter;
			if (o->arg)
				so[s++] = ':';
		}
	}
	so[s] = '\0';
	/* --pool is known even where it is refused, so that the refusal can say why */
	lo[k++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	lo[k++] = (struct option){ "pool", required_argument, NULL, OPT_POOL };
	lo[k++] = (struct option){ "help", no_argument, NULL, OPT_HELP };
	if (syn->json)
		lo[k++] = (struct option){ "json", no_argument, NULL, OPT_JSON };
	lo[k] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0;
	opterr = 0;
	int ch, r;
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		switch (ch) {
		case 'h':
		case OPT_HELP:
			return cli_help(c);
		case OPT_CONFIG:
			c->config_file = optarg;
			break;
		case OPT_POOL:
			if (syn->no_pool)
				return cli_usage_error(c, "%s", syn->no_pool);
			if ((r = add_pool_opt(c, optarg)) != 0)
				return r;
			break;
		case OPT_JSON:
			c->json = 1;
			break;
		case '?':
		case ':':
			return bad_option(c, ch, argv);
		default:
			for (size_t i = 0; i < n; i++)
				if (ch == code_of(&syn->opts[i], i))
					got[i] = optarg ? optarg : "";
		}
	}
	if (syn->no_pool && c->npool_opt) /* given before the command name */
		return cli_usage_error(c, "%s", syn->no_pool);
	if (syn->operands != CLI_ANY && argc - optind > syn->operands)
		return cli_usage_error(c, "unexpected argument '%s'", argv[optind + syn->operands]);
	*first = optind;
	return CLI_GO_ON;
}

/* "-v, --verbose SIZE" into buf; returns its length. */
static int label(const struct cli_opt *o, char *buf, size_t n)
{
	char letter[8] = "";
	if (o->letter)
		snprintf(letter, sizeof letter, "-%c, ", o->letter);
	return snprintf(buf, n, "%s--%s%s%s", letter, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void row(FILE *f, const struct cli_opt *o, int width)
{
	char l[64];
	label(o, l, sizeof l);
	fprintf(f, "  %-*s", width, l);
	for (const char *h = o->help; *h;) {
		size_t len = strcspn(h, "\n");
		fprintf(f, "%.*s\n", (int)len, h);
		h += len;
		if (*h == '\n' && *++h)
			fprintf(f, "  %-*s", width, "");
	}
}

void cli_print_usage(const struct cli *c, FILE *f)
{
	const struct cli_syntax *syn = c->syntax;
	if (!syn)
		return;
	/* the rows: --json, the command's own options, then the common ones */
	const struct cli_opt *rows[CLI_MAX_OPTS + 4];
	size_t nr = 0, n = nopts(syn);
	char jhelp[96];
	struct cli_opt json = common_json;
	if (syn->json) {
		snprintf(jhelp, sizeof jhelp, "print one JSON object instead of text (its shape: pafka-%s(1))", c->cmd);
		json.help = jhelp;
		rows[nr++] = &json;
	}
	for (size_t i = 0; i < n && i < CLI_MAX_OPTS; i++)
		rows[nr++] = &syn->opts[i];
	for (size_t i = 0; i < sizeof common / sizeof *common; i++)
		if (strcmp(common[i].name, "pool") != 0 || !syn->no_pool)
			rows[nr++] = &common[i];
	int width = 14;
	for (size_t i = 0; i < nr; i++) {
		char l[64];
		int len = label(rows[i], l, sizeof l);
		if (len > width)
			width = len;
	}
	fputs(syn->usage, f);
	fputs("\noptions:\n", f);
	for (size_t i = 0; i < nr; i++)
		row(f, rows[i], width + 2);
	if (syn->tail) {
		fputc('\n', f);
		fputs(syn->tail, f);
	}
}

int cli_usage_error(struct cli *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cli_err(c, "%s", msg);
	cli_print_usage(c, stderr);
	return CLI_USAGE;
}

int cli_help(struct cli *c)
{
	cli_print_usage(c, stdout);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

int cli_parse_size(const char *s, int64_t *out)
{
	return pf_parse_size(s, out);
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

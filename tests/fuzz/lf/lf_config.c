/*
 * lf_config.c - libFuzzer target: the configuration parsers (src/config.c, src/config_properties.c) on
 * arbitrary bytes. An input is up to three sections separated by the byte 0x1e:
 *   1. the text of a .properties file, written to <scratch>/p.properties;
 *   2. environment entries, one per line (lines without '=' are dropped, as no environment holds them);
 *   3. the process's command line, NUL-separated as /proc/self/cmdline gives it.
 * "@P@" in sections 2 and 3 becomes the properties file's path, so PAFKA_CONFIG=@P@ and a broker command
 * line ending in @P@ (its server.properties) both reach the file. The properties text also goes to
 * pf_properties_parse directly, and its first line to pf_parse_size.
 * Besides any sanitizer report, these stop the run: pf_config_load returning other than 0 or -1, a
 * refusal that is not one line starting "pafka: ", or an accepted block size that breaks the rule.
 */
#include "config.h"
#include "config_properties.h"
#include "lf_common.h"
#include "log.h"

static char ppath[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(ppath, sizeof ppath, "%s/p.properties", lf_scratch("config"));
	return 0;
}

/* s (n bytes) with every "@P@" replaced by the properties path; malloc'd, NUL-terminated, *outn its
 * length. */
static char *subst(const uint8_t *s, size_t n, size_t *outn)
{
	size_t pl = strlen(ppath), cap = n + 1 + (n / 3 + 1) * pl;
	char *o = malloc(cap);
	if (!o)
		lf_stop("lf_config: out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		if (i + 3 <= n && !memcmp(s + i, "@P@", 3)) {
			memcpy(o + k, ppath, pl);
			k += pl, i += 3;
		} else {
			o[k++] = (char)s[i++];
		}
	}
	o[k] = '\0';
	*outn = k;
	return o;
}

static void count(void *arg, const char *key, const char *value)
{
	(void)key;
	(void)value;
	++*(size_t *)arg;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const uint8_t *sec[3] = { d, NULL, NULL };
	size_t len[3] = { n, 0, 0 };
	for (int k = 0; k < 2 && sec[k]; k++) {
		const uint8_t *sep = memchr(sec[k], 0x1e, len[k]);
		if (!sep)
			break;
		sec[k + 1] = sep + 1;
		len[k + 1] = len[k] - (size_t)(sep + 1 - sec[k]);
		len[k] = (size_t)(sep - sec[k]);
	}
	size_t pairs = 0;
	pf_properties_parse((const char *)sec[0], len[0], count, &pairs);

	char first[64];
	size_t fl = 0;
	while (fl < len[0] && fl < sizeof first - 1 && sec[0][fl] != '\n')
		fl++;
	memcpy(first, sec[0], fl);
	first[fl] = '\0';
	int64_t size;
	(void)pf_parse_size(first, &size);
	char envname[128];
	(void)pf_config_env_name(first, envname, sizeof envname);

	FILE *f = fopen(ppath, "w");
	if (!f || (len[0] && fwrite(sec[0], 1, len[0], f) != len[0]) || fclose(f) != 0)
		lf_stop("lf_config: cannot write %s: %m", ppath);

	size_t en = 0, cn = 0;
	char *env = sec[1] ? subst(sec[1], len[1], &en) : NULL;
	char *cmd = sec[2] ? subst(sec[2], len[2], &cn) : NULL;
	char *vars[65];
	int nv = 0;
	for (char *line = env; line && nv < 64;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strchr(line, '='))
			vars[nv++] = line;
		line = nl ? nl + 1 : NULL;
	}
	vars[nv] = NULL;

	struct pf_config cfg;
	struct pf_err err = { .msg = "" };
	int r = pf_config_load(&cfg, vars, cmd, cn, &err);
	if (r != 0 && r != -1)
		lf_stop("lf_config: pf_config_load returned %d, neither 0 nor -1", r);
	if (r == -1 && (strncmp(err.msg, "pafka: ", 7) || strchr(err.msg, '\n')))
		lf_stop("lf_config: a refusal that is not one line starting 'pafka: ': %s", err.msg);
	if (r == 0 && !pf_valid_block_size(cfg.block_size))
		lf_stop("lf_config: an accepted block size breaks the rule: %llu", (unsigned long long)cfg.block_size);
	pf_config_free(&cfg);
	free(env);
	free(cmd);
	return 0;
}

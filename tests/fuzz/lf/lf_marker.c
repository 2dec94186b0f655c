/*
 * lf_marker.c - libFuzzer target: the log-dir marker parser (src/marker.c) on arbitrary bytes, and its
 * round trip. Whatever the input, these stop the run (besides any sanitizer report):
 *   - a parsed line whose uuid is not 32 hex digits, or whose path is not absolute or holds a newline;
 *   - more lines (well-formed + malformed) than the input has non-empty lines;
 *   - writing the parsed marker to a directory and reading it back gives other lines, or any malformed one;
 *   - a uuid the marker has is not found by pf_marker_has, or removing it leaves it there.
 */
#include <ctype.h>

#include "lf_common.h"
#include "marker.h"

static const char *dir;

static void stop(const char *what, int a)
{
	fprintf(stderr, "lf_marker: %s (%d)\n", what, a);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	dir = lf_scratch("marker");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct pf_marker m, back;
	if (pf_marker_parse((const char *)d, n, &m) < 0)
		return 0; /* out of memory */
	int lines = 0;
	for (size_t i = 0; i < n;) {
		const uint8_t *nl = memchr(d + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (d + i)) : n - i;
		lines += len > 0;
		i += len + 1;
	}
	if (m.n + m.malformed > lines)
		stop("more lines parsed than the input has", m.n + m.malformed);
	for (int k = 0; k < m.n; k++) {
		const struct pf_marker_line *l = &m.line[k];
		for (int j = 0; j < 32; j++)
			if (!isxdigit((unsigned char)l->uuid[j]))
				stop("a uuid that is not 32 hex digits", k);
		if (l->uuid[32] || l->path[0] != '/' || strchr(l->path, '\n'))
			stop("a path that is not absolute, or holds a newline", k);
		if (!pf_marker_has(&m, l->uuid))
			stop("pf_marker_has misses a uuid the marker has", k);
	}
	if (pf_marker_write(dir, &m) == 0) {
		int r = pf_marker_read(dir, &back);
		if (r != (m.n > 0))
			stop("the marker written is not read back", r);
		if (r == 1) {
			if (back.n != m.n || back.malformed)
				stop("read back: a different number of lines, or malformed ones", back.n);
			for (int k = 0; k < m.n; k++)
				if (strcmp(back.line[k].uuid, m.line[k].uuid) || strcmp(back.line[k].path, m.line[k].path))
					stop("read back: a different line", k);
			pf_marker_free(&back);
		}
	}
	if (m.n > 0) {
		char u[33];
		memcpy(u, m.line[0].uuid, sizeof u);
		if (pf_marker_remove(&m, u) < 1 || pf_marker_has(&m, u))
			stop("removing a uuid leaves it in the marker", m.n);
	}
	pf_marker_free(&m);
	return 0;
}

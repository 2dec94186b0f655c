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
		lf_stop("lf_marker: more lines parsed than the input has (%d)", m.n + m.malformed);
	for (int k = 0; k < m.n; k++) {
		const struct pf_marker_line *l = &m.line[k];
		for (int j = 0; j < 32; j++)
			if (!isxdigit((unsigned char)l->uuid[j]))
				lf_stop("lf_marker: a uuid that is not 32 hex digits (%d)", k);
		if (l->uuid[32] || l->path[0] != '/' || strchr(l->path, '\n'))
			lf_stop("lf_marker: a path that is not absolute, or holds a newline (%d)", k);
		if (!pf_marker_has(&m, l->uuid))
			lf_stop("lf_marker: pf_marker_has misses a uuid the marker has (%d)", k);
	}
	if (pf_marker_write(dir, &m) == 0) {
		int r = pf_marker_read(dir, &back);
		if (r != (m.n > 0))
			lf_stop("lf_marker: the marker written is not read back (%d)", r);
		if (r == 1) {
			if (back.n != m.n || back.malformed)
				lf_stop("lf_marker: read back: a different number of lines, or malformed ones (%d)", back.n);
			for (int k = 0; k < m.n; k++)
				if (strcmp(back.line[k].uuid, m.line[k].uuid) || strcmp(back.line[k].path, m.line[k].path))
					lf_stop("lf_marker: read back: a different line (%d)", k);
			pf_marker_free(&back);
		}
	}
	if (m.n > 0) {
		char u[33];
		memcpy(u, m.line[0].uuid, sizeof u);
		if (pf_marker_remove(&m, u) < 1 || pf_marker_has(&m, u))
			lf_stop("lf_marker: removing a uuid leaves it in the marker (%d)", m.n);
	}
	pf_marker_free(&m);
	return 0;
}

#!/bin/sh
# tests/cli/man.sh: every pafka subcommand has a man page; each page renders without a groff warning; every
# option a command's --help lists is documented in its page. Skips (77) without groff.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
M=$top_src/man
CLI_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-man.XXXXXX")
OUT=$CLI_TMP/out ERR=$CLI_TMP/err
trap 'rm -rf "$CLI_TMP"' EXIT
command -v groff >/dev/null || skip "groff missing (apt-get install groff-base)"

for c in "" run status ls drain fsck pause resume pool; do
	page=$M/pafka${c:+-$c}.1
	[ -f "$page" ] || fail "no man page for '${c:-pafka}'"
	if head -1 "$page" | grep -q '^\.so '; then
		target=$M/$(sed -n 's/^\.so man1\///p' "$page")
		[ -f "$target" ] || fail "$page points to a missing page"
		page=$target
	fi
	run_rc 0 groff -man -Tutf8 -ww -z "$page"
	[ -s "$ERR" ] && fail "groff warns about $page"
	grep -q '^\.SH NAME' "$page" && grep -q '^\.SH SYNOPSIS' "$page" && grep -q '^\.SH EXIT STATUS' "$page" ||
		fail "$page lacks NAME, SYNOPSIS or EXIT STATUS"
	# every option the command's --help describes (lines starting with --) is in its page
	run_rc 0 "$PAFKA" ${c:+"$c"} --help
	for o in $(sed -n 's/^ *\(--[a-z][a-z-]*\).*/\1/p' "$OUT" | sort -u); do
		sed 's/\\-/-/g' "$page" | grep -qF -- "$o" || fail "$page does not document $o"
	done
done
pass "man pages: one per command, clean groff output, every --help option documented"

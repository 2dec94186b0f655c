#!/bin/sh
# tests/cli/man7.sh: libpafka(7), the shim's contract. The built page (man/libpafka.7, its key table made
# by man/gen-keys) renders without a groff warning; it has its sections; every key of pf_config_keys() (as
# man/gen-keys --list prints it from the parser's table, never from the page) is in the rendered page with
# its PAFKA_ name, its default and its doc sentence, and the page has no other key entry; every message the
# page quotes is printed by src/ (tests/cli/man7msgs.py). Skips (77) without groff or python3.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
PAGE=$top_build/man/libpafka.7
GEN=$top_build/man/gen-keys
CLI_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-man7.XXXXXX")
OUT=$CLI_TMP/out ERR=$CLI_TMP/err
trap 'rm -rf "$CLI_TMP"' EXIT
command -v groff >/dev/null || skip "groff missing (apt-get install groff-base)"
command -v python3 >/dev/null || skip "python3 is needed to check the quoted messages"
[ -f "$PAGE" ] || fail "man/libpafka.7 was not built"
[ -x "$GEN" ] || fail "man/gen-keys was not built"
# the build put the install directory in place of the template's placeholder
grep -q '%libdir%' "$PAGE" && fail "man/libpafka.7 still says %libdir%"
grep -q '^\.I /.*/libpafka\.so$' "$PAGE" || fail "man/libpafka.7 names no installed libpafka.so under FILES"

run_rc 0 groff -man -Tutf8 -ww -z "$PAGE"
[ -s "$ERR" ] && fail "groff warns about $PAGE"

for s in NAME SYNOPSIS DESCRIPTION 'CONFIGURATION SOURCES' KEYS REFUSALS DURABILITY 'SIGNALS, FORK AND EXEC' \
	LIMITS ENVIRONMENT FILES 'SEE ALSO'; do
	grep -qxF ".SH $s" "$PAGE" || fail "$PAGE has no section $s"
done
for s in Configuration 'Pools and their owners' "The log dirs' markers" 'While running' 'Signals and crashes' \
	Fork Exec 'Read-only attach and pafka.role'; do
	grep -qxF ".SS $s" "$PAGE" || fail "$PAGE has no subsection $s"
done

# The page as text: one paragraph a line (no wrapping, no hyphenation), no overstriking or SGR.
TXT=$CLI_TMP/page.txt
groff -man -Tascii -P-cbou -rLL=4000n "$PAGE" >"$TXT" 2>"$ERR" && [ -s "$TXT" ] || fail "groff -Tascii failed"
run_rc 0 "$GEN" --list
KEYS=$CLI_TMP/keys
cp "$OUT" "$KEYS"
nkeys=$(wc -l <"$KEYS")
[ "$nkeys" -gt 0 ] || fail "man/gen-keys --list printed no key"
tab=$(printf '\t')
while IFS=$tab read -r key env def doc; do
	[ -n "$doc" ] || fail "key $key has no doc sentence in src/config_keys.h"
	grep -qF -- "$key ($env, default $def)" "$TXT" || fail "the page lacks '$key ($env, default $def)'"
	grep -qF -- "$doc." "$TXT" || fail "the page lacks the doc sentence of $key: '$doc.'"
done <"$KEYS"
entries=$(grep -c '^ *[a-z][a-z.]* (PAFKA_[A-Z_]*, default ' "$TXT")
[ "$entries" = "$nkeys" ] || fail "the page has $entries key entries, the parser $nkeys keys"

run_rc 0 python3 "$top_src/tests/cli/man7msgs.py" "$top_src/man/libpafka.7.in" "$top_src/src"
pass "libpafka(7): clean groff output, every section, all $nkeys keys with their PAFKA_ names, defaults and docs, $(tail -1 "$OUT" | cut -d' ' -f1) quoted messages found in src/"

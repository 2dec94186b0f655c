#!/bin/sh
# tests/cli/json.sh: every string the pafka command writes as JSON is valid JSON whatever bytes it is
# given. The writer itself (through tests/cli/cli_json): arbitrary bytes, invalid UTF-8 and control
# characters come out as a parsable string equal to Python's UTF-8 decoding with errors="replace"
# (U+FFFD per maximal invalid subpart), as strings and as keys; nesting deeper than the limit and other
# misuse is an error the caller sees, never silent. Then the commands on real paths with such bytes: a
# segment written under the shim in a partition directory whose name is not UTF-8 and holds control
# characters (ls, status -v, fsck after a rename), and a pool directory with such a name (pool create).
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
command -v python3 >/dev/null || skip "python3 is needed to parse the JSON"
cli_env
J=$top_build/tests/cli/cli_json

# strings and keys: hand-picked edge cases, then random byte strings
python3 - "$J" >"$OUT" 2>"$ERR" <<'PY' || fail "the writer's strings"
import json, random, subprocess, sys
cases = [b"", b"plain", b'"\\/', bytes(range(0x20)), b"\x7f", "é€😀".encode(),
         b"\x80", b"\xbf", b"\xc0\xaf", b"\xc1\xbf", b"\xc2", b"\xc2\x41", b"\xe0\x80\x80", b"\xe0\xa0",
         b"\xed\xa0\x80", b"\xed\x9f\xbf", b"\xef\xbf\xbf", b"\xf0\x8f\xbf\xbf", b"\xf0\x90\x80", b"\xf4\x90\x80\x80",
         b"\xf4\x8f\xbf\xbf", b"\xf5\x80\x80\x80", b"\xfe\xff", b"a\x00b", b"\xe2\x82", b"\xe2\x82\xac\xe2",
         b"x\xf0\x9f\x98\x80\xf0\x9f\x98"]
rnd = random.Random(20240611)
alphabet = list(range(0x20)) + [0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
                                 0x41, 0x22, 0x5c, 0xa0, 0x90, 0x8f] + list(range(0x80, 0x100, 7))
for _ in range(400):
    cases.append(bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 24))))
out = subprocess.run([sys.argv[1], "strings"] + [c.hex() for c in cases], capture_output=True, check=True)
text = out.stdout.decode("utf-8", "strict")  # the output itself is UTF-8
doc = dict(json.loads(text, object_pairs_hook=lambda pairs: pairs))  # keep every key, even repeated ones
strings, keys = doc["strings"], doc["keys"]
assert len(strings) == len(cases), (len(strings), len(cases))
for i, c in enumerate(cases):
    want = c.decode("utf-8", "replace")
    assert strings[i] == want, (i, c, strings[i], want)
for k, v in keys:  # a key is a C string: it ends at the first NUL
    want = cases[v].split(b"\x00")[0].decode("utf-8", "replace")
    assert k == want, (v, cases[v], k, want)
assert len(keys) == len(cases)
# no raw control character in the output
assert all(ord(ch) >= 0x20 or ch == "\n" for ch in text)
print(len(cases), "strings")
PY
pass "the writer: $(cat "$OUT") (invalid UTF-8, control characters, random bytes) decode as Python's replace does"

# nesting: up to the limit is fine, beyond it an error (exit 1, the writer says why)
run_rc 0 "$J" depth 16
[ "$(json 'str(d).count("[")')" = 16 ] || fail "depth 16: not 16 nested arrays"
run_rc 1 "$J" depth 17
err_has '^cli_json: containers nested more than 16 deep$'
for case in key-in-array no-key close-extra close-wrong unclosed two-values; do
	run_rc 1 "$J" misuse $case
	[ "$(wc -l <"$ERR")" = 1 ] || fail "misuse $case: expected one complaint"
done
run_rc 1 "$J" misuse key-in-array
err_has 'a key inside an array'
run_rc 1 "$J" misuse unclosed
err_has 'left open'
pass "the writer: nesting beyond 16 and misuse are errors its caller sees"

# a partition directory whose name is not UTF-8 and holds control characters, a quote and a backslash
BAD=$(printf 'b\001\377\300\257\355\240\200\t"\\-0')
export BAD L
run_rc 0 shimmed "$W" w "$L/$BAD/$SEG0" 100000 1 w "$L/t-0/$SEG0" 1000 2
# want EXPR: the Python value of a path built from the environment's bytes, decoded as the writer must
want() { python3 -c 'import os, sys; e = os.environb; print(eval(sys.argv[1]).decode("utf-8", "replace"))' "$1"; }
badpath=$(want 'e[b"L"] + b"/" + e[b"BAD"] + b"/00000000000000000000.log"')
run_rc 0 "$PAFKA" ls --json
[ "$(json 'len(d["files"])')" = 2 ] || fail "ls --json: 2 files"
[ "$(json 'd["files"][0]["path"]')" = "$badpath" ] || fail "ls --json: the path with bad bytes"
[ "$(json '"\ufffd" in d["files"][0]["path"] and "\x01" in d["files"][0]["path"]')" = True ] ||
	fail "ls --json: U+FFFD and the control character"
[ "$(json 'd["files"][0]["size"]')" = 100000 ] || fail "ls --json: size"
run_rc 0 "$PAFKA" status --json -v
[ "$(json 'sorted(p["partition"] for p in d["partitions"])[0]')" = "$(want 'e[b"BAD"]')" ] ||
	fail "status --json -v: the partition name"
run_rc 0 "$PAFKA" fsck --json
[ "$(json 'd["clean"]')" = True ] || fail "fsck --json: clean"
# renamed without the shim: the finding names both paths
BAD2=$(printf 'c\377\033[0m-1')
export BAD2
mkdir "$L/$BAD2" && mv "$L/$BAD/$SEG0" "$L/$BAD2/$SEG0"
run_rc 1 "$PAFKA" fsck --json
[ "$(json 'len(d["findings"])')" = 1 ] || fail "fsck --json: one finding"
[ "$(json 'd["findings"][0]["finding"]')" = \
	"$(want 'b"record 0: renamed: the path hint " + e[b"L"] + b"/" + e[b"BAD"] + b"/00000000000000000000.log is stale; the file is now " + e[b"L"] + b"/" + e[b"BAD2"] + b"/00000000000000000000.log"')" ] ||
	fail "fsck --json: the finding with both paths"
pass "ls, status -v, fsck: paths with invalid UTF-8 and control characters are valid JSON strings"

# a pool directory with such a name
PD=$CLI_TMP/$(printf 'p\376\002')
export PD
run_rc 0 "$PAFKA" pool create --json --pool "$PD" --size 2M
[ "$(json 'd["pools"][0]["path"]')" = "$(want 'e[b"PD"] + b"/pafka.pool"')" ] || fail "pool create --json: path"
[ "$(json 'd["pools"][0]["done"]')" = True ] || fail "pool create --json: done"
pass "pool create: a pool directory whose name is not UTF-8"

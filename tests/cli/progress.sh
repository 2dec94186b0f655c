#!/bin/sh
# tests/cli/progress.sh: the progress of `pafka drain` (offline and online) and `pafka fsck` on stderr. Not
# on a terminal: plain lines "pafka CMD: N% X of Y, ETA ..." ending with one at 100%, no \r; under a
# pseudo-terminal (script(1)) a bar redrawn with \r; --quiet prints none, and a short run prints none by
# default (stderr stays empty for logs); stdout keeps its text and JSON.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
export PAFKA_POOL_BLOCK_SIZE=4096
cli_env 16M

fill() { run_rc 0 shimmed "$W" w "$L/p-0/$SEG0" 1500000 1 w "$L/p-0/$SEG1" 1500000 2 w "$L/q-0/$SEG0" 1500000 3; }
# plain_progress CMD: stderr is progress lines only, increasing, the last one at 100%
plain_progress() {
	[ -s "$ERR" ] || fail "$1: no progress on stderr"
	LC_ALL=C grep -q "$(printf '\r')" "$ERR" && fail "$1: \\r in progress to a file"
	grep -Evq "^pafka $1: [0-9]+% [0-9.]+ ([KM]i)?B of [0-9.]+ [KM]iB, (ETA (-|[0-9]+ s)|[0-9.]+ s)\$" "$ERR" &&
		fail "$1: a line on stderr that is not progress"
	tail -1 "$ERR" | grep -Eq "^pafka $1: 100% ([0-9.]+ [KM]iB) of \\1, [0-9.]+ s\$" || fail "$1: the last line is not 100%"
	sed 's/^pafka [a-z]*: \([0-9]*\)%.*/\1/' "$ERR" | sort -nc || fail "$1: the percentage went down"
}

fill
run_rc 0 "$PAFKA" fsck --progress
out_has "^pafka fsck: $POOL: clean \\(3 files, [0-9]+ blocks in use\\)\$"
plain_progress fsck
run_rc 0 "$PAFKA" fsck
[ -s "$ERR" ] && fail "fsck: a short check printed progress by default"
run_rc 2 "$PAFKA" fsck --quiet --progress
err_has '^pafka fsck: --progress and --quiet exclude each other$'
run_rc 0 "$PAFKA" fsck --json --progress
[ "$(json 'd["clean"]')" = True ] || fail "fsck --json --progress: stdout is still the JSON"
plain_progress fsck
pass "fsck: plain progress lines to 100%, none by default for a short check, --json unchanged"

run_rc 0 "$PAFKA" drain --offline --progress
out_has "^$POOL: moved [0-9.]+ MiB of 3 files to the log dirs; the pool is empty"
plain_progress drain
run_rc 0 "$W" v "$L/p-0/$SEG0" 1500000 1 v "$L/p-0/$SEG1" 1500000 2 v "$L/q-0/$SEG0" 1500000 3
fill
run_rc 0 "$PAFKA" drain --quiet
[ -s "$ERR" ] && fail "drain --quiet wrote to stderr"
out_has 'the pool is empty'
pass "offline drain: plain progress lines to 100%; --quiet: none"

if command -v script >/dev/null; then
	fill
	script -qec "'$PAFKA' drain --offline --progress >/dev/null" /dev/null >"$OUT" 2>"$ERR" </dev/null ||
		fail "drain under script(1) failed"
	LC_ALL=C grep -q "$(printf '\r')pafka drain: \\[#\\{24\\}\\] 100% " "$OUT" || fail "a terminal: no \\r bar at 100%"
	fill
	script -qec "'$PAFKA' fsck --progress >/dev/null" /dev/null >"$OUT" 2>"$ERR" </dev/null ||
		fail "fsck under script(1) failed"
	LC_ALL=C grep -q "$(printf '\r')pafka fsck: \\[[#.]\\{24\\}\\] " "$OUT" || fail "fsck on a terminal: no \\r bar"
	script -qec "'$PAFKA' fsck --quiet >/dev/null" /dev/null >"$OUT" 2>"$ERR" </dev/null
	[ -s "$OUT" ] && fail "fsck --quiet on a terminal printed something"
	run_rc 0 "$PAFKA" drain --offline --quiet
	pass "a terminal: a bar redrawn with \\r; --quiet: nothing"
else
	echo "SKIP (part): script(1) from util-linux missing: the terminal bar is not checked"
fi

# online: the broker's progress, as the command watches the pool empty
hold_start w "$L/o-0/$SEG0" 1500000 4 w "$L/o-1/$SEG0" 1500000 5
run_rc 0 "$PAFKA" drain --progress --timeout 60
out_has "^$POOL: empty: every byte is in the log dirs"
plain_progress drain
hold_stop
run_rc 0 "$PAFKA" drain --cancel
pass "online drain: plain progress lines to 100%"

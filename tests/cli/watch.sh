#!/bin/sh
# tests/cli/watch.sh: `pafka status --watch`. Not on a terminal: one plain block per refresh (--count N
# blocks, no escape bytes) with the used blocks `pafka status --json` gives and the writer's pid; under a
# pseudo-terminal (script(1)) the ANSI home + clear redraw and a bar fitted to the width; during a rate-limited online drain the
# observed rate and an ETA, then idle; SIGINT ends it with exit 0; no writer, no pool, bad values.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
export PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_MIGRATE_THRESHOLD=0.9 PAFKA_MIGRATE_RATE_BYTES=2M
cli_env 16M

# blocks: WATCH_OUTPUT -> the number of refreshes in it
blocks() { grep -c '^pafka status --watch ' "$1"; }

hold_start w "$L/a-0/$SEG0" 3000000 1 w "$L/a-0/$SEG1" 3000000 2 w "$L/b-0/$SEG0" 3000000 3
run_rc 0 "$PAFKA" status --json
used=$(json 'd["pools"][0]["used_blocks"]')
cap=$(json 'd["pools"][0]["capacity_blocks"]')
[ "$used" -gt 100 ] || fail "setup: the writer's files in the pool ($used blocks)"
run_rc 0 "$PAFKA" status --watch --count 3 --interval 0.2
[ "$(blocks "$OUT")" = 3 ] || fail "--count 3: expected 3 blocks, got $(blocks "$OUT")"
[ "$(grep -c '^$' "$OUT")" = 2 ] || fail "blocks are not separated by one blank line each"
LC_ALL=C grep -q "$(printf '\033')" "$OUT" && fail "escape bytes in the output to a file"
[ "$(grep -c "^  fill .* ($used of $cap blocks)\$" "$OUT")" = 3 ] || fail "fill: $used of $cap blocks in each block"
[ "$(grep -Ec "^  state      running; writer pid $HOLD_WPID, heartbeat [0-9.]+ s ago\$" "$OUT")" = 3 ] ||
	fail "state: running with the writer's pid $HOLD_WPID"
out_has "^  pool tier  3 files, "
out_has "^tiers      pool 3 files, [0-9.]+ MiB; slow 0 files, 0 B\$"
out_has '^pafka status --watch  [0-9-]+ [0-9:]+ UTC  every 0.2 s, 3 of 3$'
[ -s "$ERR" ] && fail "the watch wrote to stderr"
pass "not a terminal: 3 plain blocks, the used blocks status gives, the writer's pid"

if command -v script >/dev/null; then
	script -qec "'$PAFKA' status --watch --count 2 --interval 0.1" /dev/null >"$OUT" 2>"$ERR" </dev/null ||
		fail "--watch under script(1) failed"
	[ "$(LC_ALL=C grep -c "$(printf '\033\\[H\033\\[2J')" "$OUT")" = 2 ] || fail "a terminal: no home + clear before each of 2 refreshes"
	out_has '\(Ctrl-C quits\)'
	[ "$(grep -c "pafka status --watch  " "$OUT")" = 2 ] || fail "a terminal: 2 refreshes"
	script -qec "stty cols 100 rows 40; '$PAFKA' status --watch --count 1" /dev/null >"$OUT" 2>"$ERR" </dev/null ||
		fail "--watch under script(1) with 100 columns failed"
	grep -Eq '^  fill       \[[#.]{32}\] ' "$OUT" || fail "a terminal of 100 columns: the bar is not 32 wide"
	pass "a terminal: redrawn in place (ANSI home + clear), the bar fitted to its width"
else
	echo "SKIP (part): script(1) from util-linux missing: the terminal redraw is not checked"
fi

# SIGINT after the first block: exit 0 (the file emptied first: the poll must not see an earlier run's)
: >"$OUT"
"$PAFKA" status --watch --interval 0.2 >>"$OUT" 2>"$ERR" &
wpid=$!
bg_pids="$bg_pids $wpid"
i=0
until grep -q '^tiers ' "$OUT"; do
	kill -0 "$wpid" 2>/dev/null || fail "the watch exited before its first block"
	i=$((i + 1)); [ $i -lt 300 ] || fail "no block within 30 s"
	sleep 0.1
done
kill -INT "$wpid"
wait "$wpid"
rc=$?
[ $rc = 0 ] || fail "SIGINT: exit $rc, expected 0"
[ -s "$ERR" ] && fail "SIGINT: something on stderr"
pass "SIGINT ends the watch with exit 0"

# a rate-limited online drain (2 MiB/s of 9 MB): the rate and an ETA while it moves, idle once done
run_rc 0 "$PAFKA" drain --timeout 0
run_rc 0 "$PAFKA" status --watch --count 60 --interval 0.25
head -9 "$OUT" | grep -Eq '^  migration  backlog [0-9.]+ MiB, ETA -$' || fail "first refresh: a backlog and no rate yet (ETA -)"
out_has '^  state      draining; writer pid '
out_has '^  migration  backlog [0-9.]+ [KM]iB, [0-9.]+ [KM]iB/s, ETA [0-9]+ s$'
tail -9 "$OUT" | grep -Eq '^  migration  backlog 0 B, [0-9.]+ ([KM]i)?B/s, idle$' || fail "last refresh: drained, idle"
out_has '^  moved      [0-9.]+ MiB down \([1-9][0-9]* demotions, [0-9]+ head demotions\)'
hold_stop
run_rc 0 "$PAFKA" drain --cancel
pass "migration: the observed rate and an ETA, idle once drained"

# no writer: read from outside
run_rc 0 "$PAFKA" status --watch --count 1
out_has '^  state      no writer$'
out_has '^  migration  stopped: no writer migrates$'
[ "$(blocks "$OUT")" = 1 ] || fail "--count 1: one block"
pass "no writer: the pool read from outside"

# no pool: what status says
run_rc 1 "$PAFKA" status --pool "$CLI_TMP/nowhere"
cp "$ERR" "$CLI_TMP/status.err"
run_rc 1 "$PAFKA" status --watch --count 2 --pool "$CLI_TMP/nowhere"
one_line_err
cmp -s "$ERR" "$CLI_TMP/status.err" || fail "no pool: not what 'pafka status' says ($(cat "$CLI_TMP/status.err"))"
[ -s "$OUT" ] && fail "no pool: something on stdout"
pass "no pool: exit 1 with status's message"

# bad values: exit 2, one line saying what is wrong, then the usage
for args in "--interval 0" "--interval -1" "--interval abc" "--interval 1e9" "--count abc" "--count 0" "--count -2"; do
	# shellcheck disable=SC2086
	run_rc 2 "$PAFKA" status --watch $args
	[ "$(grep -c '^pafka status: ' "$ERR")" = 1 ] || fail "$args: expected one message line"
	err_has "^pafka status: --(interval|count) takes .*, not '"
	err_has '^usage: pafka status'
	[ -s "$OUT" ] && fail "$args: something on stdout"
done
for args in "--interval 1" "--count 2" "--watch --json" "--watch --prometheus" "--watch -v"; do
	# shellcheck disable=SC2086
	run_rc 2 "$PAFKA" status $args
	[ "$(grep -c '^pafka status: ' "$ERR")" = 1 ] || fail "$args: expected one message line"
	err_has '^usage: pafka status'
done
pass "bad values and combinations: exit 2 with one line and the usage"

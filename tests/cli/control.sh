#!/bin/sh
# tests/cli/control.sh: `pafka pause` / `pafka resume` create and remove <pool dir>/pafka.pause (idempotent),
# status shows the state, and a running writer's shim acknowledges the pause in the pool header.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env
PAUSE=$PAFKA_TEST_POOLDIR/pafka.pause

run_rc 0 "$PAFKA" pause
out_has "^$PAFKA_TEST_POOLDIR: migration paused \($PAUSE\); 'pafka resume' ends it\$"
[ -f "$PAUSE" ] || fail "pafka.pause was not created"
grep -Eq "^paused with 'pafka pause' by pid [0-9]+ at [0-9]+\$" "$PAUSE" || fail "pafka.pause content"
run_rc 0 "$PAFKA" pause
out_has 'was already paused'
run_rc 0 "$PAFKA" resume
out_has "^$PAFKA_TEST_POOLDIR: migration resumed\$"
[ -e "$PAUSE" ] && fail "pafka.pause was not removed"
run_rc 0 "$PAFKA" resume
out_has 'was not paused'
pass "pause/resume create and remove pafka.pause, idempotently"

# --json: the resulting state, under the name pafka status gives it
run_rc 0 "$PAFKA" pause --json
[ "$(json 'd["pools"][0]["dir"]')" = "$PAFKA_TEST_POOLDIR" ] || fail "pause --json: dir"
[ "$(json 'd["pools"][0]["control_file"]')" = "$PAUSE" ] || fail "pause --json: control_file"
[ "$(json 'd["pools"][0]["pause_requested"]')" = True ] || fail "pause --json: pause_requested"
[ "$(json 'd["pools"][0]["changed"]')" = True ] || fail "pause --json: changed"
[ "$(json 'd["errors"]')" = "[]" ] || fail "pause --json: errors"
[ -f "$PAUSE" ] || fail "pause --json did not create pafka.pause"
run_rc 0 "$PAFKA" pause --json
[ "$(json 'd["pools"][0]["changed"]')" = False ] || fail "pause --json again: changed"
[ "$(json 'd["pools"][0]["pause_requested"]')" = True ] || fail "pause --json again: pause_requested"
run_rc 0 "$PAFKA" resume --json
[ "$(json '(d["pools"][0]["pause_requested"], d["pools"][0]["changed"])')" = "(False, True)" ] || fail "resume --json"
[ -e "$PAUSE" ] && fail "resume --json did not remove pafka.pause"
run_rc 0 "$PAFKA" resume --json
[ "$(json '(d["pools"][0]["pause_requested"], d["pools"][0]["changed"])')" = "(False, False)" ] || fail "resume --json again"
# a "pool directory" that is a file: the control file cannot be created; the state stays, the error is listed
: >"$CLI_TMP/afile"
run_rc 1 "$PAFKA" pause --json --pool "$CLI_TMP/afile"
one_line_err
[ "$(json '(d["pools"][0]["pause_requested"], d["pools"][0]["changed"])')" = "(False, False)" ] || fail "pause --json: state after a failure"
[ "$(json 'd["errors"]')" = "['cannot create $CLI_TMP/afile/pafka.pause: Not a directory']" ] || fail "pause --json: the error"
pass "pause/resume --json: the resulting state"

# with a running writer (tiered: migration threads run)
export PAFKA_LOG_CHANNEL_TYPE=tiered
hold_start w "$L/t-0/$SEG0" 100000 1
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["pools"][0]["migration"]["state"]')" = running ] || fail "state: running"
run_rc 0 "$PAFKA" pause
i=0
until "$PAFKA" status --json >"$OUT" 2>"$ERR" && [ "$(json 'd["pools"][0]["migration"]["paused"]')" = True ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "the shim did not acknowledge the pause within 10 s"
	sleep 0.2
done
[ "$(json 'd["pools"][0]["migration"]["state"]')" = paused ] || fail "state: paused"
[ "$(json 'd["pools"][0]["migration"]["pause_requested"]')" = True ] || fail "status: pause requested"
run_rc 0 "$PAFKA" status --prometheus
out_has '^pafka_migration_paused 1$'
run_rc 0 "$PAFKA" resume
i=0
until "$PAFKA" status --json >"$OUT" 2>"$ERR" && [ "$(json 'd["pools"][0]["migration"]["paused"]')" = False ]; do
	i=$((i + 1)); [ $i -lt 50 ] || fail "the shim did not see the resume within 10 s"
	sleep 0.2
done
[ "$(json 'd["pools"][0]["migration"]["state"]')" = running ] || fail "state: running again"
hold_stop
pass "a running writer acknowledges pause and resume"

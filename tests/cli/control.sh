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

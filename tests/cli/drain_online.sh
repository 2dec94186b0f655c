#!/bin/sh
# tests/cli/drain_online.sh: online `pafka drain` while a writer under the shim holds the pool: pafka.drain
# asks the shim to move every pool byte to the log-dir files; when the command returns, the files read back
# complete WITHOUT the shim even though the writer still runs. Skips (77) when the shim does not support
# pafka.drain. Also: --timeout 0 only asks, --cancel withdraws the request.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env

hold_start w "$L/t-0/$SEG0" 300000 1 w "$L/t-0/$SEG1" 70001 2 w "$L/u-1/$SEG0" 1500000 3
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["tiers"]["pool"]["files"]')" = 3 ] || fail "setup: 3 files in the pool"

"$PAFKA" drain --timeout 60 >"$OUT" 2>"$ERR"
rc=$?
if [ $rc != 0 ] && grep -q 'never acknowledged draining' "$ERR"; then
	hold_stop
	"$PAFKA" drain --cancel >/dev/null
	skip "the shim does not support online drain (pafka.drain in the pool directory, PF_LIVE_DRAINING)"
fi
[ $rc = 0 ] || fail "online drain exited $rc"
out_has "^$POOL: empty: every byte is in the log dirs; the broker can be restarted without LD_PRELOAD"
out_has 'pafka drain --cancel'
[ -f "$PAFKA_TEST_POOLDIR/pafka.drain" ] || fail "pafka.drain should stay while the broker runs"
# The writer still holds the pool, yet the files are complete on their own.
run_rc 0 "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/t-0/$SEG1" 70001 2 v "$L/u-1/$SEG0" 1500000 3
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["pools"][0]["used_blocks"]')" = 0 ] || fail "the pool is not empty"
[ "$(json 'd["pools"][0]["migration"]["state"]')" = draining ] || fail "state: draining"
[ "$(json 'd["pools"][0]["migration"]["draining"]')" = True ] || fail "the shim did not acknowledge draining"
hold_stop
pass "online drain: the pool is empty and the files complete while the writer runs"

# While pafka.drain exists new data stays out of the pool (the shim polls it: the writer waits a second
# after activating); --cancel lets it in again.
run_rc 0 shimmed "$W" w "$L/v-0/00000000000000000001.log" 10 3 sleep 1000 w "$L/v-0/$SEG0" 100000 4
run_rc 0 "$PAFKA" ls "$L/v-0/$SEG0"
out_has '^slow '
run_rc 0 "$PAFKA" drain --cancel
out_has 'drain cancelled'
[ -f "$PAFKA_TEST_POOLDIR/pafka.drain" ] && fail "--cancel left pafka.drain"
run_rc 0 "$PAFKA" drain --cancel
out_has 'no drain was requested'
run_rc 0 shimmed "$W" w "$L/v-1/$SEG0" 100000 5
run_rc 0 "$PAFKA" ls "$L/v-1/$SEG0"
out_has '^pool '
pass "pafka.drain keeps new data out of the pool; --cancel admits it again"

# --json: what the broker moved while the command watched, and what is left
hold_start w "$L/j-0/$SEG0" 200000 9 w "$L/j-1/$SEG0" 100000 10
run_rc 0 "$PAFKA" status --json
before=$(json '{"files": d["pools"][0]["files"], "blocks": d["pools"][0]["used_blocks"], "bytes": None}')
[ "$(json 'd["pools"][0]["files"] >= 3 and d["pools"][0]["used_blocks"] >= 8')" = True ] ||
	fail "setup: j-0, j-1 (and v-1) in the pool"
run_rc 0 "$PAFKA" drain --json --timeout 60
[ "$(json '(d["pools"][0]["mode"], d["pools"][0]["empty"], d["pools"][0]["used_blocks"], d["pools"][0]["files"])')" = \
	"('online', True, 0, 0)" ] || fail "drain --json online: mode and what is left"
[ "$(json 'd["pools"][0]["moved"]')" = "$before" ] || fail "drain --json online: what moved, expected $before"
[ "$(json '(d["pools"][0]["drain_requested"], d["pools"][0]["draining"], d["pools"][0]["timed_out"], d["errors"])')" = \
	"(True, True, False, [])" ] || fail "drain --json online: request acknowledged"
hold_stop
run_rc 0 "$W" v "$L/j-0/$SEG0" 200000 9 v "$L/j-1/$SEG0" 100000 10
run_rc 0 "$PAFKA" drain --cancel --json
[ "$(json '(d["pools"][0]["control_file"], d["pools"][0]["drain_requested"], d["pools"][0]["changed"])')" = \
	"('$PAFKA_TEST_POOLDIR/pafka.drain', False, True)" ] || fail "drain --cancel --json"
[ -e "$PAFKA_TEST_POOLDIR/pafka.drain" ] && fail "drain --cancel --json left pafka.drain"
pass "online drain --json: moved, left, acknowledged; --cancel --json"

# --timeout 0 only asks
hold_start w "$L/w-0/$SEG0" 100000 6
run_rc 0 "$PAFKA" drain --timeout 0 --json
[ "$(json '(d["pools"][0]["mode"], d["pools"][0]["drain_requested"], d["pools"][0]["timed_out"])')" = "('online', True, False)" ] ||
	fail "drain --timeout 0 --json"
[ -f "$PAFKA_TEST_POOLDIR/pafka.drain" ] || fail "--timeout 0 did not ask"
i=0
until "$PAFKA" status --json >"$OUT" 2>"$ERR" && [ "$(json 'd["pools"][0]["used_blocks"]')" = 0 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "the pool did not drain within 60 s"
	sleep 0.2
done
hold_stop
run_rc 0 "$W" v "$L/w-0/$SEG0" 100000 6 v "$L/v-1/$SEG0" 100000 5
run_rc 0 "$PAFKA" drain --cancel
pass "drain --timeout 0 asks without waiting"

# --unmark online: once empty, the running broker's pool leaves the markers (a preStop/stop hook for
# tmpfs pools); the next start may then use a new pool.
hold_start w "$L/x-0/$SEG0" 100000 7
grep -q " $POOL\$" "$L/.pafka-pools" || fail "setup: the marker names the pool"
run_rc 0 "$PAFKA" drain --unmark --timeout 60
out_has "^$PAFKA_TEST_POOLDIR: unmarked from $L/.pafka-pools\$"
[ -e "$L/.pafka-pools" ] && fail "the marker still names the pool"
hold_stop
rm -f "$POOL" "$PAFKA_TEST_POOLDIR/pafka.drain"
run_rc 0 shimmed "$W" v "$L/x-0/$SEG0" 100000 7 w "$L/x-1/$SEG0" 1000 8
pass "online drain --unmark: a new pool may replace the drained one"

#!/bin/sh
# tests/cli/drain.sh: offline `pafka drain`. A writer under the shim leaves segments in the pool (one spilled
# part-way to the slow tier, one renamed afterwards without the shim); after the drain every byte reads back
# WITHOUT the shim, the pool is empty and can be destroyed. A record whose file is gone is reported and
# kept (exit 1) until fsck --repair frees it; --offline refuses a pool in use.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env 2M

run_rc 0 shimmed "$W" w "$L/t-0/$SEG0" 300000 1 w "$L/t-0/$SEG1" 70001 2 w "$L/w-2/$SEG0" 65536 5 \
	w "$L/u-1/$SEG0" 1500000 3
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["tiers"]["pool"]["files"]')" = 4 ] || fail "setup: 4 files in the pool"
[ "$(json 'd["tiers"]["slow"]["files"]')" = 1 ] || fail "setup: one of them spilled to the slow tier"
# Without the shim the log-dir files are sparse: their bytes are elsewhere.
run_rc 1 "$W" v "$L/t-0/$SEG0" 300000 1
# Renamed without the shim: the record's path hint is now stale; drain finds the file by inode.
mkdir "$L/w-3" && mv "$L/w-2/$SEG0" "$L/w-3/$SEG0" && rmdir "$L/w-2"

run_rc 0 "$PAFKA" drain
out_has "^$POOL: moved [0-9.]+ [KM]iB of 4 files to the log dirs; the pool is empty: the broker can run without LD_PRELOAD\$"
[ -s "$ERR" ] && fail "drain wrote to stderr"
run_rc 0 "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/t-0/$SEG1" 70001 2 v "$L/u-1/$SEG0" 1500000 3 v "$L/w-3/$SEG0" 65536 5
pass "offline drain: every byte reads back without the shim"

run_rc 0 "$PAFKA" status --json
[ "$(json 'd["pools"][0]["used_blocks"]')" = 0 ] || fail "the pool is not empty"
[ "$(json 'd["tiers"]["pool"]["files"]')" = 0 ] || fail "files left in the pool"
run_rc 0 "$PAFKA" ls
[ "$(grep -c '^slow ' "$OUT")" = 4 ] || fail "ls: 4 slow files after the drain"
run_rc 0 "$PAFKA" fsck
run_rc 0 "$PAFKA" drain
out_has 'moved 0 B of 0 files'
# The shim reads them back too (no record: plain files).
run_rc 0 shimmed "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/u-1/$SEG0" 1500000 3
pass "after the drain: pool empty, fsck clean, files plain under the shim too"

# A record whose file was removed without the shim: reported, kept, exit 1.
run_rc 0 shimmed "$W" w "$L/x-0/$SEG0" 200000 9 w "$L/x-0/$SEG1" 100000 10
rm "$L/x-0/$SEG0"
run_rc 1 "$PAFKA" drain
err_has "record [0-9]+ \(inode [0-9]+, last seen at $L/x-0/$SEG0\) holds 4 blocks, but its file is not in the log dirs"
out_has 'moved .* of 1 files; 4 blocks of 1 files remain in the pool'
run_rc 1 "$PAFKA" drain --json
[ "$(json '(d["pools"][0]["empty"], d["pools"][0]["used_blocks"], d["pools"][0]["files"])')" = "(False, 4, 1)" ] ||
	fail "drain --json: a record left in the pool"
[ "$(json 'd["pools"][0]["moved"]["files"]')" = 0 ] || fail "drain --json: nothing more moved"
[ "$(json 'len(d["errors"]) == 1 and "holds 4 blocks, but its file is not in the log dirs" in d["errors"][0]')" = True ] ||
	fail "drain --json: the error"
run_rc 0 "$W" v "$L/x-0/$SEG1" 100000 10
run_rc 1 "$PAFKA" fsck --repair
out_has "missing from every managed log dir.*; repaired\$"
run_rc 0 "$PAFKA" drain
out_has 'the pool is empty'
pass "a record whose file is gone: reported and kept, freed by fsck --repair"

# --offline refuses a pool a writer holds
hold_start w "$L/y-0/$SEG0" 1000 11
run_rc 1 "$PAFKA" drain --offline
one_line_err
err_has 'in use by a running broker: stop it first'
hold_stop
run_rc 0 "$PAFKA" drain --offline --json
[ "$(json 'd["pools"][0]["mode"]')" = offline ] || fail "drain --json: mode"
[ "$(json 'd["pools"][0]["moved"]')" = "{'files': 1, 'blocks': 1, 'bytes': 1000}" ] || fail "drain --json: what moved"
[ "$(json '(d["pools"][0]["empty"], d["pools"][0]["used_blocks"], d["pools"][0]["files"])')" = "(True, 0, 0)" ] ||
	fail "drain --json: what is left"
[ "$(json '(d["pools"][0]["path"], d["pools"][0]["drain_requested"], d["pools"][0]["unmarked"], d["errors"])')" = \
	"('$POOL', False, [], [])" ] || fail "drain --json: path, request, markers, errors"
run_rc 0 "$W" v "$L/y-0/$SEG0" 1000 11
run_rc 0 "$PAFKA" pool destroy
out_has "^$POOL: destroyed\$"
pass "drain --offline refuses a pool in use; the drained pool can be destroyed"

# --unmark: a drained pool that then vanishes (a tmpfs pool after a reboot) can be replaced by a new one;
# without it the shim refuses to start, since the marker names a pool that is gone.
run_rc 0 shimmed "$W" w "$L/z-0/$SEG0" 1000 12
mv "$POOL" "$CLI_TMP/saved.pool"
run_rc 1 shimmed "$W" v "$L/z-0/$SEG0" 1000 12
err_has 'which is not among storage.tiers.first.paths or was replaced'
mv "$CLI_TMP/saved.pool" "$POOL"
run_rc 0 "$PAFKA" drain --unmark
out_has "^$PAFKA_TEST_POOLDIR: unmarked from $L/.pafka-pools\$"
rm -f "$POOL"
run_rc 0 shimmed "$W" w "$L/z-1/$SEG0" 1000 13 v "$L/z-0/$SEG0" 1000 12
pass "drain --unmark lets a broker start with a new pool in place of a drained one"

#!/bin/sh
# tests/cli/pool.sh: `pafka pool create|info|destroy`: create reserves and pre-faults the file, refuses an
# existing pool and bad sizes; info shows the header (text and JSON); destroy refuses while a writer holds
# the pool or any file's bytes live there, and removes the pool's marker line.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env
P2=$CLI_TMP/p2

run_rc 0 "$PAFKA" pool create --pool "$P2" --size 4M --block-size 64K
out_has "^$P2/pafka.pool: created: 4.0 MiB, [0-9]+ blocks of 64.0 KiB \(data area pre-faulted\), uuid [0-9a-f]{32}"
[ "$(stat -c %s "$P2/pafka.pool")" = 4194304 ] || fail "pool size"
[ "$(stat -c %a "$P2/pafka.pool")" = 600 ] || fail "pool mode"
[ "$(( $(stat -c %b "$P2/pafka.pool") * $(stat -c %B "$P2/pafka.pool") ))" -ge 4194304 ] || fail "space not reserved"
run_rc 1 "$PAFKA" pool create --pool "$P2" --size 4M
one_line_err
err_has 'already exists'
run_rc 1 "$PAFKA" pool create --pool "$CLI_TMP/p3" --size 64K
one_line_err
err_has 'too small'
run_rc 2 "$PAFKA" pool create --pool "$CLI_TMP/p3" --size 0
pass "pool create: reserved, mode 0600, refuses an existing pool and bad sizes"

run_rc 0 "$PAFKA" pool info --pool "$P2"
out_has "^pool $P2/pafka.pool\$"
out_has '^  uuid +[0-9a-f]{32}$'
out_has '^  created +[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'
out_has '^  in use +0 blocks, 0 files$'
run_rc 0 "$PAFKA" pool info --json --pool "$P2"
python3 -m json.tool "$OUT" >/dev/null || fail "pool info --json is not JSON"
for k in path uuid version pool_size block_size nblocks nrecords rec_off blk_off data_off created created_ns \
	next_seq live_records used_blocks in_use; do
	[ "$(json "'$k' in d['pools'][0]")" = True ] || fail "pool info --json lacks $k"
done
[ "$(json 'd["pools"][0]["pool_size"]')" = 4194304 ] || fail "json pool_size"
[ "$(json 'd["pools"][0]["block_size"]')" = 65536 ] || fail "json block_size"
[ "$(json '(d["action"], d["pools"][0]["done"], d["pools"][0]["dir"], d["errors"])')" = "('info', True, '$P2', [])" ] ||
	fail "pool info --json: action, done, dir, errors"
[ "$(json 'd["pools"][0]["capacity_blocks"] == d["pools"][0]["nblocks"] and d["pools"][0]["files"] == d["pools"][0]["live_records"] == 0')" = True ] ||
	fail "pool info --json: the shared fields agree with the header's"
# the fields every report shares have the same names and values in pool create, pool info and status
shared='{k: d["pools"][0][k] for k in ("dir", "path", "uuid", "block_size", "capacity_bytes", "used_bytes", "free_bytes", "capacity_blocks", "used_blocks", "free_blocks", "files")}'
info=$(json "$shared")
run_rc 0 "$PAFKA" status --json --pool "$P2"
[ "$(json "$shared")" = "$info" ] || fail "status --json and pool info --json differ: $(json "$shared") / $info"
pass "pool info: text and JSON"

P4=$CLI_TMP/p4
run_rc 0 "$PAFKA" pool create --json --pool "$P4" --size 4M --block-size 64K
[ "$(json '(d["action"], d["pools"][0]["done"], d["pools"][0]["path"], d["pools"][0]["pool_size"], d["pools"][0]["block_size"])')" = \
	"('create', True, '$P4/pafka.pool', 4194304, 65536)" ] || fail "pool create --json"
[ "$(json '(d["pools"][0]["used_blocks"], d["pools"][0]["files"], d["pools"][0]["pmem"], len(d["pools"][0]["uuid"]))')" = \
	"(0, 0, False, 32)" ] || fail "pool create --json: an empty pool"
created=$(json "$shared")
uuid=$(json 'd["pools"][0]["uuid"]')
run_rc 0 "$PAFKA" pool info --json --pool "$P4"
[ "$(json "$shared")" = "$created" ] || fail "pool create --json and pool info --json differ"
run_rc 1 "$PAFKA" pool create --json --pool "$P4" --size 4M
[ "$(json 'd["pools"]')" = "[{'dir': '$P4', 'done': False}]" ] || fail "pool create --json of an existing pool"
[ "$(json 'len(d["errors"]) == 1 and "already exists" in d["errors"][0]')" = True ] || fail "pool create --json: the error"
run_rc 0 "$PAFKA" pause --pool "$P4"
run_rc 0 "$PAFKA" pool destroy --json --pool "$P4"
[ "$(json '(d["action"], d["pools"][0]["done"], d["pools"][0]["uuid"], d["pools"][0]["unmarked"], d["pools"][0]["removed"])')" = \
	"('destroy', True, '$uuid', [], ['$P4/pafka.pause'])" ] || fail "pool destroy --json"
[ -e "$P4/pafka.pool" ] && fail "pool destroy --json left the pool"
pass "pool create and destroy --json"

run_rc 0 "$PAFKA" pool destroy --pool "$P2"
out_has "^$P2/pafka.pool: destroyed\$"
[ -e "$P2/pafka.pool" ] && fail "the pool file is still there"
run_rc 1 "$PAFKA" pool destroy --pool "$P2"
one_line_err
err_has 'no pool in'
pass "pool destroy of an empty pool"

# a pool the shim created and filled
run_rc 0 shimmed "$W" w "$L/t-0/$SEG0" 100000 1
grep -q " $POOL\$" "$L/.pafka-pools" || fail "setup: the shim wrote no marker"
run_rc 1 "$PAFKA" pool destroy
one_line_err
err_has "still holds 2 blocks \(1 files\): run 'pafka drain' first"
hold_start w "$L/t-1/$SEG0" 1000 2
run_rc 1 "$PAFKA" pool destroy
one_line_err
err_has 'in use by a running broker'
hold_stop
[ -f "$POOL" ] || fail "a refused destroy removed the pool"
run_rc 0 "$PAFKA" drain
"$PAFKA" pause >/dev/null
run_rc 0 "$PAFKA" pool destroy
out_has "^$POOL: destroyed\$"
out_has "^$L/.pafka-pools: removed the pool's line\$"
out_has "^$PAFKA_TEST_POOLDIR/pafka.pause: removed\$"
[ -e "$L/.pafka-pools" ] && fail "the marker still names the pool"
run_rc 0 "$W" v "$L/t-0/$SEG0" 100000 1 v "$L/t-1/$SEG0" 1000 2
pass "pool destroy refuses a pool in use or holding data, then removes the pool and its marker line"

# --json of a destroy that is refused (data in the pool), then of one that removes a marker line
run_rc 0 shimmed "$W" w "$L/t-2/$SEG0" 100000 3
run_rc 1 "$PAFKA" pool destroy --json
[ "$(json '(d["pools"][0]["done"], d["pools"][0]["used_blocks"], d["pools"][0]["files"])')" = "(False, 2, 1)" ] ||
	fail "pool destroy --json of a pool holding data"
run_rc 0 "$PAFKA" drain
run_rc 0 "$PAFKA" pool destroy --json
[ "$(json '(d["pools"][0]["done"], d["pools"][0]["unmarked"], d["pools"][0]["removed"])')" = "(True, ['$L/.pafka-pools'], [])" ] ||
	fail "pool destroy --json: the marker line"
[ -e "$L/.pafka-pools" ] && fail "the marker still names the pool"
pass "pool destroy --json: refused with data, then removing the marker line"

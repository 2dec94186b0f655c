#!/bin/sh
# tests/cli/status.sh: `pafka status` (text, --json, --prometheus, -v) and `pafka ls` on a pool populated by
# a writer under the shim, with a file that spilled to the slow tier (small pool), while the writer holds
# the pool and after it exited, and with the configuration from --config / --pool only.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env 2M # about 27 blocks of 64 KiB

run_rc 0 shimmed "$W" w "$L/t-0/$SEG0" 300000 1 w "$L/t-0/$SEG1" 70000 2 w "$L/u-1/$SEG0" 1500000 3
echo plain >"$L/t-0/00000000000000000000.snapshot"

# ls: tiers, sizes, blocks, extents
run_rc 0 "$PAFKA" ls
[ "$(wc -l <"$OUT")" = 3 ] || fail "ls: expected 3 files"
out_has "^pool +300000 +5 0-4@[0-9]+-[0-9]+ $L/t-0/$SEG0\$"
out_has "^pool +70000 +2 [0-9@,-]+ $L/t-0/$SEG1\$"
out_has "^mixed +1500000 +[0-9]+ [0-9@,-]+ $L/u-1/$SEG0 \(spilled: appends go to the slow tier until readmitted\)\$"
out_lacks 'snapshot'
run_rc 0 "$PAFKA" ls "$L/t-0"
[ "$(wc -l <"$OUT")" = 2 ] || fail "ls DIR: expected 2 files"
run_rc 0 "$PAFKA" ls "$L/u-1/$SEG0"
out_has "^mixed "
run_rc 1 "$PAFKA" ls "$L/t-0/00000000000000000000.snapshot"
err_has 'not a managed segment file'
run_rc 1 "$PAFKA" ls "$L/nothing"
run_rc 0 "$PAFKA" ls --json
python3 -m json.tool "$OUT" >/dev/null || fail "ls --json is not JSON"
[ "$(json 'len(d["files"])')" = 3 ] || fail "ls --json: 3 files"
[ "$(json 'sorted(f["tier"] for f in d["files"])')" = "['mixed', 'pool', 'pool']" ] || fail "ls --json tiers"
[ "$(json 'sum(e["blocks"] for f in d["files"] for e in f["extents"]) == sum(f["pool_blocks"] for f in d["files"])')" = True ] ||
	fail "ls --json: extents cover the pool blocks"
[ "$(json 'd["errors"] == [] and all(isinstance(f["inode"], int) and f["pool"] == "'"$POOL"'" for f in d["files"])')" = True ] ||
	fail "ls --json: inode and pool of each file, no errors"
[ "$(json '[(f["appends"], f["window_start"]) for f in sorted(d["files"], key=lambda f: f["path"])]')" = \
	"[('pool', 0), ('pool', 0), ('slow', 0)]" ] || fail "ls --json: where appends go and where the windows start"
run_rc 1 "$PAFKA" ls --json "$L/nothing" "$L/t-0/$SEG1"
[ "$(json '[f["path"] for f in d["files"]]')" = "['$L/t-0/$SEG1']" ] || fail "ls --json PATH: the file that exists"
[ "$(json 'len(d["errors"]) == 1 and d["errors"][0].startswith("'"$L/nothing"': ")')" = True ] || fail "ls --json: the error"
pass "ls: tiers, sizes, blocks, extents, paths, spilled files, --json"

# status: text
run_rc 0 "$PAFKA" status
out_has "^pool $POOL\$"
out_has '^  capacity +[0-9.]+ [KMG]iB \([0-9]+ blocks of 64.0 KiB\)'
out_has '^  writer +none'
out_has '^  migration +stopped'
out_has '^  spills +[1-9]'
out_has '^  moved +0 demotions, 0 head demotions \(0 B down\), 0 promotions \(0 B up\), 0 readmissions, 0 failed'
out_has '^  written +pool [0-9.]+ [KM]iB, slow [0-9.]+ [KM]iB \([0-9]+\.[0-9]% to the pool\)$'
out_has '^  pool +3 files'
out_has '^  slow +1 files'
run_rc 0 "$PAFKA" status -v
out_has '^  t-0 +2 +370000 +370000 +0 '
out_has '^  u-1 +1 +1500000 +[0-9]+ +[1-9][0-9]* '
pass "status: text and -v"

# status --json: shape and values
run_rc 0 "$PAFKA" status --json -v
python3 -m json.tool "$OUT" >/dev/null || fail "status --json is not JSON"
python3 "$top_src/tests/cli/jsoncheck.py" "$OUT" verbose || fail "status --json shape"
[ "$(json 'd["tiers"]["pool"]["files"]')" = 3 ] || fail "json: 3 pool files"
[ "$(json 'd["tiers"]["slow"]["files"]')" = 1 ] || fail "json: 1 slow file"
[ "$(json 'd["tiers"]["pool"]["bytes"] + d["tiers"]["slow"]["bytes"]')" = 1870000 ] || fail "json: tier bytes add up"
[ "$(json 'd["pools"][0]["used_blocks"] * 65536 >= d["tiers"]["pool"]["bytes"]')" = True ] || fail "json: used"
[ "$(json 'd["pools"][0]["writer"]["in_use"]')" = False ] || fail "json: no writer"
[ "$(json 'len(d["partitions"])')" = 2 ] || fail "json: 2 partitions"
[ "$(json '[abs(c["written_pool_ratio"] - w["pool"] / (w["pool"] + w["slow"])) < 1e-5 and 0 < c["written_pool_ratio"] < 1 and c["head_demotions"] == 0 and c["readmissions"] == 0 for c in [d["pools"][0]["counters"]] for w in [c["bytes_written"]]][0]')" = True ] ||
	fail "json: written_pool_ratio, head_demotions, readmissions"
run_rc 0 "$PAFKA" status --json
[ "$(json '"partitions" in d')" = False ] || fail "json: partitions only with -v"
pass "status --json: shape and values"

# status --prometheus
run_rc 0 "$PAFKA" status --prometheus
for m in pafka_pool_capacity_bytes pafka_pool_used_bytes pafka_pool_free_bytes 'pafka_tier_files{tier="pool"}' \
	'pafka_tier_files{tier="slow"}' 'pafka_tier_bytes{tier="pool"}' 'pafka_bytes_written_total{tier="pool"}' \
	'pafka_bytes_read_total{tier="slow"}' 'pafka_bytes_sent_total{tier="pool"}' \
	'pafka_migrations_total{direction="demote",result="completed"}' \
	'pafka_migrations_total{direction="promote",result="completed"}' 'pafka_migration_bytes_total{direction="demote"}' \
	pafka_migration_seconds_total pafka_migration_backlog_bytes pafka_spills_total pafka_errors_total \
	pafka_migration_paused pafka_head_demotions_total pafka_readmissions_total pafka_bytes_written_pool_ratio; do
	grep -qF "$m" "$OUT" || fail "prometheus: no $m"
done
grep -q '^pafka_tier_files{tier="pool"} 3$' "$OUT" || fail "prometheus: pool files"
python3 "$top_src/tests/cli/promcheck.py" "$OUT" || fail "prometheus format"
if command -v promtool >/dev/null; then
	promtool check metrics <"$OUT" || fail "promtool check metrics"
	pass "status --prometheus: promtool check metrics"
else
	pass "status --prometheus: format checked by promcheck.py (promtool missing: apt-get install prometheus)"
fi

# while a writer holds the pool
hold_start w "$L/v-0/$SEG0" 100000 4
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["pools"][0]["writer"]["in_use"]')" = True ] || fail "json: the writer holds the pool"
pid=$(json 'd["pools"][0]["writer"]["pid"]')
[ "$pid" = None ] || [ "$pid" = "$HOLD_WPID" ] || fail "json: writer pid $pid, expected $HOLD_WPID"
[ "$(json 'd["pools"][0]["migration"]["state"] in ("running", "off")')" = True ] || fail "json: migration state"
[ "$(json 'd["tiers"]["slow"]["files"]')" = 2 ] || fail "json: the new file went to the slow tier (the pool is full)"
run_rc 0 "$PAFKA" status
out_has '^  writer +in use'
run_rc 0 "$PAFKA" ls "$L/v-0"
out_has "^slow +100000 +0 - $L/v-0/$SEG0"
hold_stop
pass "status and ls while a writer holds the pool"

# configuration from --config (a server.properties) or --pool alone
cat >"$CLI_TMP/server.properties" <<EOF
log.dirs=$L
log.channel.type=pmem
storage.tiers.first.paths=$PAFKA_TEST_POOLDIR
EOF
(
	unset PAFKA_LOG_DIRS PAFKA_LOG_CHANNEL_TYPE PAFKA_STORAGE_TIERS_FIRST_PATHS PAFKA_STORAGE_TIERS_FIRST_SIZES \
		PAFKA_POOL_BLOCK_SIZE
	run_rc 0 "$PAFKA" status --config "$CLI_TMP/server.properties" --json
	[ "$(json 'd["tiers"]["pool"]["files"]')" = 3 ] || fail "--config: 3 pool files"
	[ "$(json 'd["tiers"]["slow"]["files"]')" = 2 ] || fail "--config: 2 slow files"
	[ "$(json 'd["log_dirs_configured"]')" = True ] || fail "--config: log dirs from the file"
	run_rc 0 "$PAFKA" --pool "$PAFKA_TEST_POOLDIR" status --json
	[ "$(json 'd["tiers"]["pool"]["files"]')" = 3 ] || fail "--pool: 3 pool files"
	[ "$(json 'd["log_dirs_configured"]')" = False ] || fail "--pool: log dirs derived"
	[ "$(json 'd["log_dirs"]')" = "['$L']" ] || fail "--pool: log dirs derived from the records"
	run_rc 0 "$PAFKA" ls --pool "$POOL"
	[ "$(wc -l <"$OUT")" = 4 ] || fail "ls --pool FILE: 4 files"
) || exit 1
pass "configuration from --config and --pool"

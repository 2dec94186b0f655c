#!/bin/sh
# tests/cli/jbod.sh: several log dirs and several pools (JBOD). Pool i serves log dir i (tier.h): a
# segment's bytes go only to its own dir's pool, a full pool spills its dirs' segments to their slow tier
# while the other pool keeps taking its own, each dir's marker names its own pool, and `pafka ls` and
# `pafka status` show it. Then 3 dirs on 2 pools (the dirs go round the pools), and a pool that also holds
# another dir's bytes from an earlier pairing keeps being named by that dir's marker.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env 4M
export PAFKA_POOL_BLOCK_SIZE=65536
LA=$PAFKA_TEST_DIR/logsA LB=$PAFKA_TEST_DIR/logsB LC=$PAFKA_TEST_DIR/logsC
PA=$PAFKA_TEST_POOLDIR/a PB=$PAFKA_TEST_POOLDIR/b
mkdir -p "$LA" "$LB" "$LC" "$PA" "$PB"
export PAFKA_LOG_DIRS="$LA,$LB" PAFKA_STORAGE_TIERS_FIRST_PATHS="$PA,$PB" PAFKA_STORAGE_TIERS_FIRST_SIZES="2M,4M"

# pool a (2 MiB: about 11 blocks of 64 KiB after its tables) is too small for dir A's 2 MB segment; pool b takes dir B's
run_rc 0 shimmed "$W" w "$LA/t-0/$SEG0" 100000 1 w "$LB/t-1/$SEG0" 100000 2 w "$LA/t-2/$SEG0" 2000000 3 \
	w "$LB/t-3/$SEG0" 2000000 4
run_rc 0 "$PAFKA" ls --json
[ "$(json 'len(d["files"])')" = 4 ] || fail "ls --json: 4 files"
[ "$(json 'all(f["pool"] == ("'"$PA"'/pafka.pool" if f["path"].startswith("'"$LA"'/") else "'"$PB"'/pafka.pool") for f in d["files"])')" = True ] ||
	fail "each segment's bytes are in its own log dir's pool"
[ "$(json 'sorted((f["path"].split("/")[-2], f["tier"]) for f in d["files"])')" = \
	"[('t-0', 'pool'), ('t-1', 'pool'), ('t-2', 'mixed'), ('t-3', 'pool')]" ] ||
	fail "dir A's big segment spilled (its pool is full), dir B's stayed in pool b"
pass "JBOD: a segment's bytes go to its own log dir's pool; a full pool spills its own dir only"

# every byte reads back through the shim and in a plain process (the spilled part is on the slow tier)
run_rc 0 shimmed "$W" v "$LA/t-0/$SEG0" 100000 1 v "$LB/t-1/$SEG0" 100000 2 v "$LA/t-2/$SEG0" 2000000 3 \
	v "$LB/t-3/$SEG0" 2000000 4
pass "JBOD: every byte reads back"

# markers: each dir names its own pool only
grep -q "$PA/pafka.pool" "$LA/.pafka-pools" && ! grep -q "$PB/pafka.pool" "$LA/.pafka-pools" ||
	fail "dir A's marker names pool a only: $(cat "$LA/.pafka-pools")"
grep -q "$PB/pafka.pool" "$LB/.pafka-pools" && ! grep -q "$PA/pafka.pool" "$LB/.pafka-pools" ||
	fail "dir B's marker names pool b only: $(cat "$LB/.pafka-pools")"
pass "JBOD: each log dir's marker names its own pool"

# status: both pools, each with the log dirs whose markers name it
run_rc 0 "$PAFKA" status
out_has "^pool $PA/pafka.pool\$"
out_has "^pool $PB/pafka.pool\$"
out_has "^  log dirs +$LA\$"
out_has "^  log dirs +$LB\$"
run_rc 0 "$PAFKA" status --json
[ "$(json '[p["log_dirs"] for p in d["pools"]]')" = "[['$LA'], ['$LB']]" ] || fail "status --json: log dirs per pool"
pass "JBOD: status shows which log dirs each pool serves"

# 3 dirs on 2 pools: A and C go to pool a, B to pool b; fsck is clean
export PAFKA_LOG_DIRS="$LA,$LB,$LC" PAFKA_STORAGE_TIERS_FIRST_SIZES="4M,4M"
run_rc 0 "$PAFKA" drain --offline
run_rc 0 shimmed "$W" w "$LC/t-4/$SEG0" 100000 5 w "$LA/t-5/$SEG0" 100000 6 w "$LB/t-6/$SEG0" 100000 7
run_rc 0 "$PAFKA" ls --json
[ "$(json 'sorted((f["path"].split("/")[-2], f["pool"].split("/")[-2]) for f in d["files"] if f["tier"] == "pool")')" = \
	"[('t-4', 'a'), ('t-5', 'a'), ('t-6', 'b')]" ] || fail "3 dirs on 2 pools: A and C on pool a, B on pool b"
run_rc 0 "$PAFKA" fsck
pass "JBOD: three log dirs go round two pools"

# the pairing changes (the pools given in the other order): the bytes stay where they are and read back;
# each dir's marker keeps naming the pool that holds its bytes, and new bytes go to the new pairing
export PAFKA_LOG_DIRS="$LA,$LB" PAFKA_STORAGE_TIERS_FIRST_PATHS="$PB,$PA"
run_rc 0 shimmed "$W" v "$LA/t-5/$SEG0" 100000 6 v "$LB/t-6/$SEG0" 100000 7 w "$LA/t-7/$SEG0" 100000 8
grep -q "$PA/pafka.pool" "$LA/.pafka-pools" && grep -q "$PB/pafka.pool" "$LA/.pafka-pools" ||
	fail "dir A's marker names its old pool (which holds t-5) and its new one: $(cat "$LA/.pafka-pools")"
run_rc 0 "$PAFKA" ls --json "$LA/t-7/$SEG0" "$LA/t-5/$SEG0"
[ "$(json '[f["pool"].split("/")[-2] for f in d["files"]]')" = "['b', 'a']" ] ||
	fail "a new segment of dir A goes to its new pool b, the old one stays in a"
pass "JBOD: a changed pairing keeps every byte and every pool that holds a dir's bytes named by its marker"

# migration keeps each pool under its own limit: pool a over its threshold demotes its sealed segment
# although both pools together are far under theirs (pool b is big and almost empty), and pool b's file
# stays in pool b (pool a: 27 blocks of 64 KiB, 15 used, limit 13; pool b: 251 blocks, 2 used)
export PAFKA_LOG_DIRS="$LA,$LB" PAFKA_STORAGE_TIERS_FIRST_PATHS="$PA,$PB" PAFKA_STORAGE_TIERS_FIRST_SIZES="2M,16M"
run_rc 0 "$PAFKA" drain --offline
run_rc 0 "$PAFKA" pool destroy
rm -f "$LA/.pafka-pools" "$LB/.pafka-pools" "$LC/.pafka-pools"
rm -rf "$LA"/* "$LB"/* "$LC"/*
# paused while the writer writes: a migration tick in the middle of m-0's first segment, before its
# second exists, would find it active and move only its cold head (which brings pool a to its limit), not
# the whole sealed segment this checks for
run_rc 0 "$PAFKA" pause
PAFKA_LOG_CHANNEL_TYPE=tiered hold_start w "$LA/m-0/$SEG0" 850000 11 w "$LA/m-0/$SEG1" 100000 12 \
	w "$LB/m-1/$SEG0" 100000 13
run_rc 0 "$PAFKA" resume
i=0
until "$PAFKA" ls --json "$LA/m-0/$SEG0" >"$OUT" 2>"$ERR" && [ "$(json 'd["files"][0]["tier"]')" = slow ]; do
	i=$((i + 1)); [ $i -lt 300 ] || fail "pool a over its limit: its sealed segment was not demoted within 30 s"
	sleep 0.1
done
run_rc 0 "$PAFKA" ls --json
[ "$(json 'sorted((f["path"].split("/")[-2] + "/" + f["path"][-8:-4], f["tier"]) for f in d["files"])')" = \
	"[('m-0/0000', 'slow'), ('m-0/0100', 'pool'), ('m-1/0000', 'pool')]" ] ||
	fail "after the demotion: m-0's old segment on the slow tier, its new one and m-1's in their pools"
hold_stop
run_rc 0 shimmed "$W" v "$LA/m-0/$SEG0" 850000 11 v "$LA/m-0/$SEG1" 100000 12 v "$LB/m-1/$SEG0" 100000 13
pass "JBOD: migration keeps each pool under its own limit"

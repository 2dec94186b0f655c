#!/bin/sh
# tests/cli/fsck.sh: `pafka fsck` on crafted damage. Safe cases (RESERVED blocks, a DYING record, blocks past
# EOF, a stale path hint after a rename done without the shim, a missing marker line, a path length of
# 0xffffffff) are reported and fixed by --repair; unsafe ones (a block owned by a free record, duplicate
# ownership, a corrupt header, a marker naming a missing pool, a crafted geometry with a valid checksum, a
# record word or entry failing its integrity check) are reported and left alone, and the shim refuses them;
# --discard-unowned frees blocks no record claims. --repair is refused while a writer holds the pool.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env

run_rc 0 shimmed "$W" w "$L/t-0/$SEG0" 300000 1 w "$L/t-0/$SEG1" 70001 2
run_rc 0 "$PAFKA" fsck
out_has "^pafka fsck: $POOL: clean \(2 files, 7 blocks in use\)\$"
pass "a healthy pool is clean"

# --json: the findings, what each pool came to
run_rc 0 "$PAFKA" fsck --json
[ "$(json '(d["clean"], d["repair"], d["findings"], d["errors"])')" = "(True, False, [], [])" ] || fail "fsck --json: clean"
[ "$(json '[(p["path"], p["checked"], p["clean"], p["files"], p["used_blocks"], p["found"]) for p in d["pools"]]')" = \
	"[('$POOL', True, True, 2, 7, 0)]" ] || fail "fsck --json: the pool"
run_rc 0 "$CRAFT" "$POOL" reserve
run_rc 1 "$PAFKA" fsck --json
[ "$(json 'd["clean"]')" = False ] || fail "fsck --json: not clean"
[ "$(json '[(f["subject"], f["finding"], f["repairable"], f["repaired"], f["why_not"]) for f in d["findings"]]')" = \
	"[('$POOL', '1 blocks are RESERVED (taken for a write that never completed)', True, False, None)]" ] ||
	fail "fsck --json: the finding"
[ "$(json '(d["pools"][0]["found"], d["pools"][0]["repaired"], d["pools"][0]["used_blocks"])')" = "(1, 0, 8)" ] ||
	fail "fsck --json: the pool's counts"
run_rc 1 "$PAFKA" fsck --repair --json
[ "$(json '(d["repair"], d["findings"][0]["repaired"], d["pools"][0]["repaired"], d["pools"][0]["used_blocks"])')" = \
	"(True, True, 1, 7)" ] || fail "fsck --repair --json"
run_rc 0 "$PAFKA" fsck --json
pass "fsck --json: findings, repairs, per-pool counts"

# repair_case NAME REGEX: fsck finds REGEX (exit 1), --repair fixes it, fsck is clean again.
repair_case() {
	run_rc 1 "$PAFKA" fsck
	out_has "^pafka fsck: $POOL: $2; 'pafka fsck --repair' fixes it\$"
	run_rc 1 "$PAFKA" fsck --repair
	out_has "^pafka fsck: $POOL: $2; repaired\$"
	run_rc 0 "$PAFKA" fsck
	run_rc 0 shimmed "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/t-0/$SEG1" 70001 2 # the data is untouched
	pass "$1: found and repaired"
}

run_rc 0 "$CRAFT" "$POOL" reserve
repair_case "RESERVED block" "1 blocks are RESERVED \(taken for a write that never completed\)"
run_rc 0 "$CRAFT" "$POOL" dying
repair_case "DYING record" "record [0-9]+ is dying \(a free that a crash interrupted\), 1 blocks"
run_rc 0 "$CRAFT" "$POOL" past-eof
repair_case "blocks past EOF" "record [0-9]+ \($L/t-0/[0-9]{20}\.log\): 1 pool blocks past the end of the file \([0-9]+ bytes\)"

# a rename without the shim: the hint is stale, the file is found by inode + birth time
mkdir "$L/t-9" && mv "$L/t-0/$SEG1" "$L/t-9/$SEG1"
run_rc 1 "$PAFKA" fsck
out_has "record [0-9]+: renamed: the path hint $L/t-0/$SEG1 is stale; the file is now $L/t-9/$SEG1; 'pafka fsck --repair' fixes it"
run_rc 1 "$PAFKA" fsck --repair
out_has "renamed: .*; repaired\$"
run_rc 0 "$PAFKA" fsck
run_rc 0 "$CRAFT" "$POOL" list
out_has "path=$L/t-9/$SEG1\$"
# the same name reused by another file: identity mismatch
mv "$L/t-9/$SEG1" "$L/t-0/$SEG1" && echo other >"$L/t-9/$SEG1"
run_rc 1 "$PAFKA" fsck
out_has "renamed: the path hint $L/t-9/$SEG1 is stale and names another file \(identity mismatch\); the file is now $L/t-0/$SEG1"
run_rc 1 "$PAFKA" fsck --repair
run_rc 0 "$PAFKA" fsck
rm -r "$L/t-9"
pass "stale path hints (rename without the shim, identity mismatch): found and repaired"

# markers: a log dir without the line naming the pool; a line naming a pool that is gone
mv "$L/.pafka-pools" "$CLI_TMP/marker"
run_rc 1 "$PAFKA" fsck
out_has "log dir $L holds files with bytes in this pool, but its .pafka-pools does not name the pool"
run_rc 1 "$PAFKA" fsck --repair
run_rc 0 "$PAFKA" fsck
cmp -s "$L/.pafka-pools" "$CLI_TMP/marker" || fail "the repaired marker differs from the shim's"
echo "0123456789abcdef0123456789abcdef $CLI_TMP/gone/pafka.pool" >>"$L/.pafka-pools"
run_rc 1 "$PAFKA" fsck --repair
out_has "^pafka fsck: $CLI_TMP/gone/pafka.pool: named by $L/.pafka-pools \(uuid 0123456789abcdef0123456789abcdef\) but missing: .*not repaired"
run_rc 1 "$PAFKA" fsck --json
[ "$(json '[(f["subject"], f["repairable"], f["why_not"] is not None) for f in d["findings"]]')" = \
	"[('$CLI_TMP/gone/pafka.pool', False, True)]" ] || fail "fsck --json: the marker finding"
[ "$(json 'd["pools"][0]["clean"]')" = True ] || fail "fsck --json: the pool itself is clean"
cp "$CLI_TMP/marker" "$L/.pafka-pools"
run_rc 0 "$PAFKA" fsck
pass "markers: a missing line is added back, a line naming a missing pool is reported"

# refused while a writer holds the pool; a read-only check works
hold_start w "$L/h-0/$SEG0" 1000 3
run_rc 1 "$PAFKA" fsck --repair
one_line_err
err_has "refusing --repair while a broker holds the pool"
run_rc 0 "$PAFKA" fsck
out_has "^pafka fsck: $POOL: in use by a running broker: checked read-only"
run_rc 1 "$PAFKA" fsck --repair --json
[ "$(json '(d["pools"][0]["checked"], d["pools"][0]["clean"], len(d["errors"]))')" = "(False, False, 1)" ] ||
	fail "fsck --repair --json while in use"
run_rc 0 "$PAFKA" fsck --json
[ "$(json '(d["pools"][0]["in_use"], d["pools"][0]["clean"])')" = "(True, True)" ] || fail "fsck --json while in use"
hold_stop
pass "--repair refused while in use; read-only check while in use"

# corrupt header (on a copy): reported, never repaired
mkdir "$CLI_TMP/copy" && cp "$POOL" "$CLI_TMP/copy/pafka.pool"
run_rc 0 "$CRAFT" "$CLI_TMP/copy/pafka.pool" header-flip 41
run_rc 1 "$PAFKA" --pool "$CLI_TMP/copy" fsck --repair
out_has "^pafka fsck: $CLI_TMP/copy/pafka.pool: header checksum mismatch \(stored 0x[0-9a-f]+\): the header is corrupt; not repaired: "
run_rc 1 "$PAFKA" --pool "$CLI_TMP/copy" status
err_has 'checksum mismatch'
cp "$POOL" "$CLI_TMP/copy/pafka.pool" && run_rc 0 "$CRAFT" "$CLI_TMP/copy/pafka.pool" header-flip 0
run_rc 1 "$PAFKA" --pool "$CLI_TMP/copy" fsck
out_has 'bad magic'
pass "a corrupt header is reported, not repaired"

# Crafted headers (valid checksum) and damaged records and entries, each on the pool in place (the good
# pool is put back after): fsck reports it (never "clean") and --repair leaves it; the shim refuses at
# activation or answers EIO, never zeros or another block's bytes; status, ls and pool info report it
# without crashing (these tests also run in the sanitizer build).
cp "$POOL" "$CLI_TMP/pool.good"
# no_crash CMD...: exits 0 or 1, with no sanitizer report
no_crash() {
	"$@" >"$OUT" 2>"$ERR"
	rc=$?
	[ $rc -le 1 ] || fail "'$*' exited $rc (a crash?)"
	! grep -Eq 'Sanitizer|runtime error' "$ERR" || fail "'$*': sanitizer report"
}
# damage_case NAME REGEX CRAFT_OP [ARGS...]: fsck's finding matches REGEX
damage_case() {
	name=$1 regex=$2
	shift 2
	cp "$CLI_TMP/pool.good" "$POOL"
	run_rc 0 "$CRAFT" "$POOL" "$@"
	run_rc 1 "$PAFKA" fsck
	out_has "^pafka fsck: $POOL: $regex.*; --repair leaves it: "
	out_lacks ': clean'
	run_rc 1 "$PAFKA" fsck --json
	[ "$(json '(d["clean"], d["pools"][0]["clean"], d["pools"][0]["found"] > 0)')" = "(False, False, True)" ] ||
		fail "$name: fsck --json calls it clean"
	run_rc 1 "$PAFKA" fsck --repair
	out_has "^pafka fsck: $POOL: $regex.*; not repaired: "
	run_rc 1 shimmed "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/t-0/$SEG1" 70001 2
	err_has "pafka fsck|Input/output error"
	! grep -q 'differs at byte' "$ERR" || fail "$name: the shim served wrong bytes: $(cat "$ERR")"
	for c in status 'status --json' 'status -v' ls 'ls --json' 'pool info' 'pool info --json'; do
		# shellcheck disable=SC2086 # words
		no_crash "$PAFKA" $c
	done
	pass "$name: fsck reports it, --repair leaves it, the shim refuses, status/ls/info report"
}
damage_case "2^56 records with blk_off = rec_off" "header geometry does not match the file .*record count is out of range" \
	header-wrap-records
damage_case "huge nblocks" "header geometry does not match the file .*block count is out of range" \
	header-set nblocks 2305843009213693952
damage_case "wrapped data_off" "header geometry does not match the file .*the blocks do not fit the file" header-wrap-data
damage_case "a moved window (lo)" \
	"record [0-9]+ \(inode [0-9]+, $L/t-0/[0-9]{20}\.log\): its window start \(lo\) fails its integrity check; the shim refuses the file \(reads and writes fail with EIO\)" \
	move-lo
damage_case "two swapped entries" "block [0-9]+: its entry 0x[0-9a-f]+ fails its integrity check" swap
damage_case "an index near 2^32" "block [0-9]+: its entry 0x[0-9a-f]+ is in no format this pool uses" index-high
damage_case "the index field at its largest" "block [0-9]+: its entry 0x[0-9a-f]+ fails its integrity check" index-max
damage_case "a flipped bit in an entry" "block [0-9]+: its entry 0x[0-9a-f]+ fails its integrity check" flip-entry 9
damage_case "bit 63 of an entry" "block [0-9]+: its entry 0x[0-9a-f]+ is in no format this pool uses" flip-entry 63
damage_case "a flipped bit in a record word" "record [0-9]+ \(inode [0-9]+, .*\): its flags word fails its integrity check" \
	flip-rec flags 0
damage_case "a flipped bit in a record's identity" "record [0-9]+ is corrupt: its identity \(inode, birth time, sequence\) fails" \
	flip-rec ino 3
# a path length of 0xffffffff: only the hint is lost; the bytes are served, fsck repairs the hint
cp "$CLI_TMP/pool.good" "$POOL"
run_rc 0 "$CRAFT" "$POOL" path-len
for c in status 'status --json' ls 'ls --json' 'pool info'; do
	# shellcheck disable=SC2086 # words
	no_crash "$PAFKA" $c
done
run_rc 0 shimmed "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/t-0/$SEG1" 70001 2
cp "$CLI_TMP/pool.good" "$POOL" && run_rc 0 "$CRAFT" "$POOL" path-len
repair_case "a path length of 0xffffffff" "record [0-9]+: the path hint is unreadable \(checksum\); the file is $L/t-0/[0-9]{20}\.log"
# the offline drain moves the intact file and leaves the damaged one in the pool, saying so
cp "$CLI_TMP/pool.good" "$POOL"
run_rc 0 "$CRAFT" "$POOL" move-lo
run_rc 1 "$PAFKA" drain --offline
err_has "record [0-9]+ \(inode [0-9]+, last seen at $L/t-0/$SEG0\): its window start \(lo\) fails its integrity check; left in the pool: run 'pafka fsck'"
run_rc 0 "$W" v "$L/t-0/$SEG1" 70001 2 # drained: the log-dir file holds it without the shim
run_rc 1 "$PAFKA" fsck
out_has "its window start \(lo\) fails its integrity check"
cp "$CLI_TMP/pool.good" "$POOL"
run_rc 0 "$PAFKA" fsck
run_rc 0 shimmed "$W" v "$L/t-0/$SEG0" 300000 1 v "$L/t-0/$SEG1" 70001 2
pass "the offline drain leaves a damaged record in the pool and reports it, and drains the rest"

# unsafe table damage: reported, left alone by --repair, and the offline drain refuses to guess
run_rc 0 "$CRAFT" "$POOL" dup
run_rc 0 "$CRAFT" "$POOL" free-owner
run_rc 1 "$PAFKA" fsck --repair
out_has "blocks [0-9]+ and [0-9]+ both hold block [0-9]+ of record [0-9]+; not repaired: which copy is current cannot be known"
out_has "record [0-9]+ is free but owns 1 blocks \(block [0-9]+, ...\); not repaired: "
run_rc 1 "$PAFKA" fsck
out_has 'both hold block'
out_has 'is free but owns'
run_rc 1 "$PAFKA" drain
err_has 'run .pafka fsck.'
pass "duplicate ownership and a block owned by a free record: reported, not repaired"
run_rc 1 "$PAFKA" fsck --repair --discard-unowned
out_has "record [0-9]+ is free but owns 1 blocks \(block [0-9]+, ...\); repaired\$"
out_has 'both hold block .*; not repaired'
run_rc 1 "$PAFKA" fsck
out_lacks 'is free but owns'
pass "--discard-unowned frees the blocks no record can claim, and only those"

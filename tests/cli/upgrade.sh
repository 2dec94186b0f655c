#!/bin/sh
# tests/cli/upgrade.sh: a pool written by the last release of pool format 1, through that release's own
# shim, is read and upgraded by this one with every byte intact, also when the upgrade is killed at each
# of its persist points; the upgraded pool keeps working, and the earlier release refuses it rather than
# misread it.
#
# The earlier release is built at test time from this repository's history (the newest commit whose
# src/pool_format.h still says PF_POOL_VERSION 1, or $PAFKA_UPGRADE_FROM), with `git archive` into a
# temporary directory (the repository is not changed); no pool file is checked in. Without git history
# (a release tarball) it says why and skips. $PAFKA_UPGRADE_PREV_LIB names an already built libpafka.so of
# that release instead (saves the build).
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env 16M

if [ -n "${PAFKA_UPGRADE_PREV_LIB:-}" ]; then
	PREV=$PAFKA_UPGRADE_PREV_LIB
	[ -f "$PREV" ] || fail "PAFKA_UPGRADE_PREV_LIB=$PREV does not exist"
	echo "# earlier release: $PREV"
else
	command -v git >/dev/null 2>&1 || skip "git is not installed: cannot build the earlier release to write a format-1 pool"
	[ -e "$top_src/.git" ] && git -C "$top_src" rev-parse --git-dir >/dev/null 2>&1 ||
		skip "$top_src is not a git checkout (a release tarball?): cannot build the earlier release to write a format-1 pool"
	from=${PAFKA_UPGRADE_FROM:-}
	if [ -z "$from" ]; then
		for c in $(git -C "$top_src" log --format=%H -n 500 HEAD); do
			if git -C "$top_src" show "$c:src/pool_format.h" 2>/dev/null | grep -q '^#define PF_POOL_VERSION 1$'; then
				from=$c
				break
			fi
		done
	fi
	[ -n "$from" ] || skip "no commit in the history writes pool format 1"
	echo "# earlier release: commit $(git -C "$top_src" log -1 --format='%h %s' "$from")"
	mkdir "$CLI_TMP/prev"
	git -C "$top_src" archive "$from" | tar -x -C "$CLI_TMP/prev" || fail "git archive $from"
	(
		cd "$CLI_TMP/prev" && ./bootstrap && mkdir build && cd build &&
			../configure -q --disable-java-tests --disable-kafka-tests && make -j2 libpafka.la
	) >"$CLI_TMP/prev.log" 2>&1 || { tail -20 "$CLI_TMP/prev.log"; fail "cannot build the earlier release ($from)"; }
	PREV=$CLI_TMP/prev/build/.libs/libpafka.so
fi
old() { LD_PRELOAD="${PAFKA_TEST_PRELOAD_FIRST:+$PAFKA_TEST_PRELOAD_FIRST }$PREV" "$@"; }

# Files of two partitions, written through the earlier release's shim: sizes around block boundaries,
# one truncated, one renamed, one deleted, so the pool holds free, reused and partly used blocks.
F0=$L/topic-0/00000000000000000000.log
F1=$L/topic-0/00000000000000001000.log
F2=$L/topic-1/00000000000000000000.log
F3=$L/topic-1/00000000000000000500.log
run_rc 0 old "$W" w "$F0" 200000 11 w "$F1" 65536 12 w "$F2" 1000001 13 w "$F3" 300000 14 w "$L/topic-1/00000000000000000900.log" 90000 15
run_rc 0 old sh -c "rm '$L/topic-1/00000000000000000900.log' && mv '$F3' '$F3.swap' && mv '$F3.swap' '$F3' && truncate -s 250001 '$F3'"
verify_all() { # verify_all PRELOAD-FN: every file, every byte
	"$@" "$W" v "$F0" 200000 11 v "$F1" 65536 12 v "$F2" 1000001 13 v "$F3" 250001 14
}
run_rc 0 verify_all old
blocks=$(stat -c %b "$F2")
[ "$blocks" -lt 200 ] || fail "the earlier release kept $F2 on disk ($blocks blocks): the test needs its bytes in the pool"
run_rc 0 "$PAFKA" pool info --json
[ "$(json '(d["pools"][0]["version"], d["pools"][0]["format"])')" = "(1, 1)" ] || fail "the earlier release did not write format 1"
run_rc 0 "$PAFKA" fsck
out_has "pool format 1 \(an earlier release's\): the shim upgrades it to format 2 when it next starts"
out_has "clean"
pass "the earlier release wrote a format-1 pool; this release reads it (pool info, fsck) without changing it"
cp -p "$POOL" "$CLI_TMP/v1.pool"
cp -p "$L/.pafka-pools" "$CLI_TMP/v1.marker"

# killed at each persist point of the upgrade: the next start finishes it with every byte
for point in pool.upgrade.scratch pool.upgrade.mark pool.upgrade.record pool.upgrade.done pool.upgrade.entry pool.upgrade.format; do
	for n in 1 3; do
		cp -p "$CLI_TMP/v1.pool" "$POOL"
		PAFKA_FAULT=$point:$n shimmed "$W" v "$F0" 200000 11 >"$OUT" 2>"$ERR"
		rc=$?
		if [ $rc = 0 ]; then
			[ $n -gt 1 ] || fail "the upgrade never reached $point"
			continue
		fi
		[ $rc = 137 ] && grep -q "killing the process at $point" "$ERR" || fail "$point:$n: exit $rc"
		run_rc 0 "$PAFKA" pool info --json
		[ "$(json 'd["pools"][0]["format"]')" = 1 ] || [ $point = pool.upgrade.format ] || fail "$point:$n: format 2 before the end"
		run_rc 0 verify_all shimmed
		run_rc 0 "$PAFKA" fsck
		out_lacks "format 1"
	done
done
pass "an upgrade killed at each of its persist points is finished by the next start, every byte intact"

# the upgrade in one go, then the pool keeps working
cp -p "$CLI_TMP/v1.pool" "$POOL"
PAFKA_LOG_LEVEL=info run_rc 0 verify_all shimmed
err_has "upgraded to format 2"
run_rc 0 "$PAFKA" pool info --json
[ "$(json '(d["pools"][0]["version"], d["pools"][0]["format"], d["pools"][0]["files"])')" = "(1, 2, 4)" ] ||
	fail "after the upgrade: $(json 'd["pools"][0]')"
run_rc 0 shimmed "$W" w "$L/topic-2/00000000000000000000.log" 333333 16
run_rc 0 verify_all shimmed
run_rc 0 shimmed "$W" v "$L/topic-2/00000000000000000000.log" 333333 16
run_rc 0 "$PAFKA" fsck
pass "the shim upgrades the pool at its start, serves every byte, and goes on writing"

# the earlier release must not misread an upgraded pool
old "$W" v "$F0" 200000 11 >"$OUT" 2>"$ERR"
rc=$?
[ $rc != 0 ] || fail "the earlier release served an upgraded pool"
! grep -q 'differs at byte' "$ERR" || fail "the earlier release read wrong bytes from an upgraded pool"
err_has "pafka fsck"
pass "the earlier release refuses an upgraded pool (exit $rc) instead of misreading it"

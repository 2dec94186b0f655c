# tests/cli/cli_lib.sh - shared helpers for the pafka CLI tests (sourced). Sets PAFKA (the command), W
# (tests/cli/cli_writer), CRAFT (tests/cli/cli_craft); cli_env makes a log dir and a pool dir (tests/lib.sh)
# removed at exit; shimmed runs a command under LD_PRELOAD=libpafka.so; run_rc checks an exit status and
# keeps stdout/stderr in $OUT/$ERR. Every wait is bounded.
set -u
top_src=${PAFKA_TOP_SRCDIR:?run through make check}
top_build=${PAFKA_TOP_BUILDDIR:?run through make check}
. "$top_src/tests/lib.sh"
PAFKA=$top_build/pafka
W=$top_build/tests/cli/cli_writer
CRAFT=$top_build/tests/cli/cli_craft
SEG0=00000000000000000000.log
SEG1=00000000000000000100.log
OUT= ERR=
bg_pids=

fail() { echo "FAIL: $*"; [ -n "$OUT" ] && [ -f "$OUT" ] && sed 's/^/  stdout: /' "$OUT" | head -40; [ -n "$ERR" ] && [ -f "$ERR" ] && sed 's/^/  stderr: /' "$ERR" | head -20; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
pass() { echo "PASS: $*"; }

cli_cleanup() {
	for p in $bg_pids; do kill "$p" 2>/dev/null; done
	pf_test_cleanup
	[ -n "${CLI_TMP:-}" ] && rm -rf "$CLI_TMP"
}

# cli_env [POOL SIZE]: fresh log dir ($L) and pool dir ($PAFKA_TEST_POOLDIR), PAFKA_* exported.
cli_env() {
	CLI_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-cli.XXXXXX")
	OUT=$CLI_TMP/out ERR=$CLI_TMP/err
	[ -n "${1:-}" ] && export PAFKA_STORAGE_TIERS_FIRST_SIZES=$1
	pf_test_env "$CLI_TMP/t"
	L=$PAFKA_TEST_DIR/logs
	POOL=$PAFKA_TEST_POOLDIR/pafka.pool
	trap cli_cleanup EXIT
}

shimmed() {
	LD_PRELOAD="${PAFKA_TEST_PRELOAD_FIRST:+$PAFKA_TEST_PRELOAD_FIRST }$PAFKA_TEST_LIB" "$@"
}

# run_rc WANT CMD...: run CMD, fail unless it exits WANT.
run_rc() {
	want=$1; shift
	"$@" >"$OUT" 2>"$ERR"
	rc=$?
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want"
}

# out_has / err_has REGEX: the last run_rc's stdout / stderr matches (grep -E).
out_has() { grep -Eq -- "$1" "$OUT" || fail "stdout lacks /$1/"; }
err_has() { grep -Eq -- "$1" "$ERR" || fail "stderr lacks /$1/"; }
out_lacks() { ! grep -Eq -- "$1" "$OUT" || fail "stdout has /$1/"; }
# one_line_err: a failure explains itself in exactly one line.
one_line_err() { [ "$(wc -l <"$ERR")" = 1 ] || fail "expected one line on stderr, got $(wc -l <"$ERR")"; }

# json QUERY: evaluate a Python expression on the JSON in $OUT (bound to d); prints the value. A document
# that is not JSON, or has an object with a key twice, prints a complaint on stderr and nothing on stdout.
json() {
	python3 -c 'import json, sys
def once(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        sys.exit("duplicate key in %r" % keys)
    return dict(pairs)
d = json.load(open(sys.argv[1], encoding="utf-8"), object_pairs_hook=once)
print(eval(sys.argv[2]))' "$OUT" "$1"
}

# hold_start OP...: a writer under the shim that runs OP... (cli_writer) and keeps the pool locked until
# hold_stop; its pid is HOLD_WPID.
hold_start() {
	READY=$CLI_TMP/ready
	rm -f "$READY"
	shimmed "$W" "$@" hold "$READY" &
	HOLD_PID=$!
	bg_pids="$bg_pids $HOLD_PID"
	i=0
	while [ ! -f "$READY" ]; do
		kill -0 "$HOLD_PID" 2>/dev/null || fail "the holding writer died"
		i=$((i + 1)); [ $i -lt 600 ] || fail "the holding writer never became ready"
		sleep 0.1
	done
	HOLD_WPID=$(cat "$READY") # the writer itself (HOLD_PID may be a subshell around it)
}
hold_stop() {
	rm -f "$READY"
	wait "$HOLD_PID" || fail "the holding writer failed"
}

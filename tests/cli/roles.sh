#!/bin/sh
# tests/cli/roles.sh: who becomes the pools' writer when LD_PRELOAD and PAFKA_* are injected into every
# process (a container image, a systemd unit), pafka.role=auto:
#  - a Java program that is not a broker (Kafka's tools; here cli_writer run under the name "java", which is
#    what the shim looks at) attaches read-only even when no broker holds the pool, reads every byte, cannot
#    write, and a writer started while it runs takes the pool instead of stopping with "in use";
#  - with no pool at all it stays inert (no pool is created);
#  - pafka.role=writer lets such a program take the pools; pafka.role=reader keeps any program read-only;
#  - the pafka command itself under the preload (an injected environment) stays inert: its offline drain
#    writes the segments directly.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env 4M
JAVA=$CLI_TMP/bin/java
mkdir -p "$CLI_TMP/bin" && cp "$W" "$JAVA"
S=$L/t-0/$SEG0

# no pool yet: a Java tool reads the plain file and creates nothing
mkdir -p "$L/t-0" && head -c 5000 /dev/zero >"$S"
shimmed "$JAVA" v "$S" 5000 0 >/dev/null 2>&1
[ ! -e "$PAFKA_TEST_POOLDIR/pafka.pool" ] || fail "a Java tool created the pool"
rm -rf "$L/t-0"
pass "roles: with no pool, a Java tool stays inert and creates none"

run_rc 0 shimmed "$W" w "$S" 300000 1
# a Java tool with no broker running: read-only, every byte, no write, the pool's writer pid stays 0
hold_start_as() { # like cli_lib's hold_start, with the program given
	prog=$1; shift
	READY=$CLI_TMP/ready
	rm -f "$READY"
	shimmed "$prog" "$@" hold "$READY" 2>"$CLI_TMP/hold.err" &
	HOLD_PID=$!
	bg_pids="$bg_pids $HOLD_PID"
	i=0
	while [ ! -f "$READY" ]; do
		kill -0 "$HOLD_PID" 2>/dev/null || fail "the holding program died: $(cat "$CLI_TMP/hold.err")"
		i=$((i + 1)); [ $i -lt 600 ] || fail "the holding program never became ready"
		sleep 0.1
	done
}
hold_start_as "$JAVA" v "$S" 300000 1
grep -q 'active, read-only: a Java program that is not a broker' "$CLI_TMP/hold.err" ||
	fail "the Java tool did not attach read-only: $(cat "$CLI_TMP/hold.err")"
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["pools"][0]["writer"]["in_use"]')" = False ] || fail "a Java tool holds the pool's writer lock"
# while it runs, a writer takes the pool (a broker would, instead of stopping with "in use")
run_rc 0 shimmed "$W" w "$L/t-1/$SEG0" 100000 2
hold_stop
run_rc 1 shimmed "$JAVA" w "$S" 1000 3
err_has 'Read-only file system'
run_rc 0 shimmed "$W" v "$S" 300000 1 v "$L/t-1/$SEG0" 100000 2
pass "roles: a Java tool attaches read-only with no broker running, and a writer can start beside it"

# pafka.role=writer: the same program takes the pool and writes
PAFKA_ROLE=writer run_rc 0 shimmed "$JAVA" w "$L/t-2/$SEG0" 70000 4
run_rc 0 "$PAFKA" ls --json "$L/t-2/$SEG0"
[ "$(json 'd["files"][0]["tier"]')" = pool ] || fail "pafka.role=writer: the Java program's segment is in the pool"
# pafka.role=reader: any program stays read-only (a pool-resident file cannot be written)
PAFKA_ROLE=reader run_rc 1 shimmed "$W" w "$L/t-2/$SEG0" 1000 5
err_has 'Read-only file system'
# its O_TRUNC open was refused before the kernel cut the file: the size is the pool's, in every process
[ "$(stat -c %s "$L/t-2/$SEG0")" = 70000 ] || fail "a read-only attacher's O_TRUNC open cut a pool-resident file"
PAFKA_ROLE=bogus run_rc 1 shimmed "$W" v "$S" 300000 1
err_has "invalid pafka.role 'bogus'"
pass "roles: pafka.role=writer and reader"

# the pafka command under an injected LD_PRELOAD: inert, so its offline drain works
run_rc 0 shimmed "$PAFKA" drain --offline
run_rc 0 "$PAFKA" status --json
[ "$(json 'd["pools"][0]["used_blocks"]')" = 0 ] || fail "the drain under LD_PRELOAD left pool blocks"
run_rc 0 "$W" v "$S" 300000 1 v "$L/t-1/$SEG0" 100000 2 v "$L/t-2/$SEG0" 70000 4
pass "roles: pafka under LD_PRELOAD stays inert (offline drain)"

#!/bin/sh
# tests/cli/run.sh: `pafka run` puts the library first in LD_PRELOAD (once), exports PAFKA_CONFIG for
# --config, passes the command's exit status through, and really runs a writer under the shim.
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env

# Mechanics with a stand-in library (ld.so ignores a file it cannot preload, with a warning on stderr).
fake=$CLI_TMP/libfake.so
: >"$fake"
PAFKA_LIB=$fake run_rc 0 "$PAFKA" run -- sh -c 'echo "LD_PRELOAD=$LD_PRELOAD"; echo "PAFKA_CONFIG=${PAFKA_CONFIG:-}"'
out_has "^LD_PRELOAD=$fake\$"
out_has '^PAFKA_CONFIG=$'
LD_PRELOAD=$fake PAFKA_LIB=$fake run_rc 0 "$PAFKA" run sh -c 'echo "LD_PRELOAD=$LD_PRELOAD"'
out_has "^LD_PRELOAD=$fake\$"
echo "log.channel.type=file" >"$CLI_TMP/p.properties"
(cd "$CLI_TMP" && PAFKA_LIB=$fake run_rc 0 "$PAFKA" run --config p.properties -- sh -c 'echo "PAFKA_CONFIG=$PAFKA_CONFIG"') || exit 1
out_has "^PAFKA_CONFIG=$CLI_TMP/p.properties\$"
PAFKA_LIB=$fake run_rc 3 "$PAFKA" run -- sh -c 'exit 3'
PAFKA_LIB=$fake run_rc 127 "$PAFKA" run -- "$CLI_TMP/no-such-command"
err_has "cannot run"
PAFKA_LIB=$CLI_TMP/missing.so run_rc 1 "$PAFKA" run -- true
one_line_err
err_has 'PAFKA_LIB names'
pass "run: LD_PRELOAD, PAFKA_CONFIG, exit status, errors"

# The real thing: a writer under `pafka run` puts its segment's bytes in the pool. (Under sanitizers their
# runtime stays in LD_PRELOAD behind libpafka.so; the test environment's ASAN_OPTIONS allow that order.)
export LD_PRELOAD="${PAFKA_TEST_PRELOAD_FIRST:-}"
PAFKA_LIB=$PAFKA_TEST_LIB run_rc 0 "$PAFKA" run -- "$W" w "$L/t-0/$SEG0" 200000 7
run_rc 0 "$PAFKA" ls
out_has "^pool +200000 +4 .*$L/t-0/$SEG0\$"
run_rc 1 "$W" v "$L/t-0/$SEG0" 200000 7 # without the shim: a sparse file
PAFKA_LIB=$PAFKA_TEST_LIB run_rc 0 "$PAFKA" run -- "$W" v "$L/t-0/$SEG0" 200000 7
unset LD_PRELOAD
pass "run: a writer under 'pafka run' uses the pool"

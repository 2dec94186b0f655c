#!/bin/sh
# tests/cli/usage.sh: pafka's command line: --help for pafka and every subcommand (exit 0, usage on stdout),
# bad arguments (exit 2 with the usage on stderr), failures (exit 1 with one line naming the problem).
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
cli_env

cmds="run status ls drain fsck pause resume pool"

run_rc 0 "$PAFKA" --help
out_has '^usage: pafka '
for c in $cmds; do out_has "^  (.* )?$c( |\$)"; done
run_rc 0 "$PAFKA" --version
out_has '^pafka [0-9]+\.[0-9]+\.[0-9]+$'
run_rc 2 "$PAFKA"
err_has 'no command given'
err_has '^usage: pafka '
run_rc 2 "$PAFKA" frobnicate
err_has "unknown command 'frobnicate'"
run_rc 2 "$PAFKA" --bogus status
err_has "unknown option '--bogus'"
run_rc 2 "$PAFKA" --pool
err_has 'needs a value'
pass "top level: --help, --version, usage errors"

for c in $cmds; do
	run_rc 0 "$PAFKA" "$c" --help
	out_has "^usage: pafka $c"
	run_rc 0 "$PAFKA" "$c" -h
	out_has "^usage: pafka $c"
	run_rc 0 "$PAFKA" help "$c"
	out_has "^usage: pafka $c"
	[ -s "$ERR" ] && fail "$c --help wrote to stderr"
	run_rc 2 "$PAFKA" "$c" --no-such-option
	err_has "^pafka $c: unknown option '--no-such-option'"
	err_has "^usage: pafka $c"
	[ -s "$OUT" ] && fail "$c usage error wrote to stdout"
done
pass "every subcommand: --help, -h, help CMD, unknown option"

# option values and combinations (exit 2)
for args in "status --json --prometheus" "status extra" "status --pool" "ls --config" "drain --timeout x" \
	"drain --timeout -1" "drain --cancel --offline" "drain --cancel --unmark" "drain now" "fsck extra" "fsck --discard-unowned" "pause now" "resume now" "pool" \
	"pool frob" "pool info extra" "pool info --size 1M" "pool create --block-size 1000" "pool create --size x" \
	"pool destroy --size 1M" "run" "run --pool /tmp -- true" "run --json -- true" "status -vx" "drain --timeout" \
	"status --json=1"; do
	# shellcheck disable=SC2086
	run_rc 2 "$PAFKA" $args
	err_has '^pafka [a-z]+: '
	err_has '^usage: pafka '
done
run_rc 2 "$PAFKA" status -vx
err_has "^pafka status: unknown option '-x'\$"
run_rc 2 "$PAFKA" status --json=1
err_has "^pafka status: option '--json' takes no value\$"
run_rc 2 "$PAFKA" drain --timeout
err_has "^pafka drain: option '--timeout' needs a value\$"
run_rc 2 "$PAFKA" --pool /tmp run -- true
err_has "^pafka run: --pool is not used by 'run'"
pass "bad values and combinations exit 2 with the usage"

# failures: exit 1, one line naming the problem and what to do
(
	for v in $(env | sed -n 's/^\(PAFKA_[A-Z_]*\)=.*/\1/p'); do
		case $v in PAFKA_TEST_* | PAFKA_TOP_*) ;; *) unset "$v" ;; esac
	done
	run_rc 1 "$PAFKA" status
	one_line_err
	err_has '^pafka status: no pool configured: give --pool DIR'
	PAFKA_NO_SUCH_KEY=1 run_rc 1 "$PAFKA" status
	one_line_err
	err_has '^pafka status: unknown setting PAFKA_NO_SUCH_KEY'
	run_rc 1 "$PAFKA" --pool "$CLI_TMP/nowhere" status
	one_line_err
	err_has "no pool at $CLI_TMP/nowhere/pafka.pool"
	run_rc 1 "$PAFKA" status --config "$CLI_TMP/missing.properties"
	one_line_err
	err_has 'cannot read --config file'
	run_rc 1 "$PAFKA" ls --pool "$CLI_TMP/nowhere"
	one_line_err
) || exit 1
pass "failures exit 1 with one line"

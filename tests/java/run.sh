#!/bin/sh
# tests/java/run.sh - run KafkaIoSequences.java (the JDK call sequences a Kafka broker performs on its
# segment files) with every JDK on the machine:
#   suite  plain  : the whole suite against the plain kernel (validates the test itself)
#   suite  shim   : the same suite under LD_PRELOAD=libpafka.so, plus pool-residency assertions
#   crash  shim   : phase "write" prints READY, is SIGKILLed, phase "verify" (fresh JVM) checks every byte
#   live   shim   : the same, but the SIGKILL lands while two threads append, roll and delete segments
#   crash/live plain: the same crash tests without the shim
# Each run gets a fresh tests/lib.sh pf_test_env. Ends with "N passed, M failed"; exits 1 on any failure,
# 77 when libpafka.so is missing or no JDK is installed.
#
# usage: tests/java/run.sh [--plain-only]     (--plain-only: no shim runs; for developing the test)
# environment: PAFKA_TEST_LIB (default <top>/build/.libs/libpafka.so), PAFKA_TOP_SRCDIR (default ../..),
#   PAFKA_TEST_JDKS ("name=JAVA_HOME ..."), PAFKA_TEST_JAVA_OPTS, PAFKA_TEST_KEEP=1 (keep failed dirs),
#   PAFKA_TEST_TIMEOUT (seconds per JVM, default 120), PAFKA_TEST_VERBOSE=1 (show passing runs' output).
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=${PAFKA_TOP_SRCDIR:-$(cd "$here/../.." && pwd)}
export PAFKA_TOP_SRCDIR=$top # the JVM finds tests/lib/pafkapool.py through it
. "$top/tests/lib.sh"
src=$here/KafkaIoSequences.java
lib=${PAFKA_TEST_LIB:-$top/build/.libs/libpafka.so}
jdks=${PAFKA_TEST_JDKS:-"openjdk-17=/usr/lib/jvm/java-17-openjdk-amd64 temurin-25=/usr/lib/jvm/temurin-25-jdk-amd64"}
tmo=${PAFKA_TEST_TIMEOUT:-120}
jopts=${PAFKA_TEST_JAVA_OPTS:-}

plain_only=0
case "${1:-}" in
--plain-only) plain_only=1 ;;
"") ;;
*) echo "usage: $0 [--plain-only]" >&2; exit 2 ;;
esac

if [ ! -f "$src" ]; then
	echo "ERROR: $src not found" >&2
	exit 1
fi
if [ $plain_only = 0 ] && [ ! -f "$lib" ]; then
	echo "SKIP: libpafka not found at $lib (build it, set PAFKA_TEST_LIB, or use --plain-only)"
	exit 77
fi
case "$lib" in /*) ;; *) lib=$(cd "$(dirname "$lib")" && pwd)/$(basename "$lib") ;; esac

work=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-java.XXXXXX") || exit 1
passed=0
failed=0
jvm_pid=
bg_pid=
summary=

cleanup() {
	[ -n "$jvm_pid" ] && kill -9 "$jvm_pid" 2>/dev/null
	[ -n "$bg_pid" ] && wait "$bg_pid" 2>/dev/null
	pf_test_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }

# new_env: a fresh log dir + pool (tests/lib.sh); pf_test_cleanup removes both.
new_env() {
	PAFKA_TEST_DIR=
	PAFKA_TEST_POOLDIR=
	pf_test_env "$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-java-env.XXXXXX")"
}

# end_env OK: remove the run's dirs (kept on failure with PAFKA_TEST_KEEP=1).
end_env() {
	if [ "$1" != 0 ] && [ "${PAFKA_TEST_KEEP:-0}" = 1 ]; then
		echo "    kept: $PAFKA_TEST_DIR and $PAFKA_TEST_POOLDIR"
		PAFKA_TEST_DIR=
		PAFKA_TEST_POOLDIR=
		return
	fi
	pf_test_cleanup
	PAFKA_TEST_DIR=
	PAFKA_TEST_POOLDIR=
}

# jrun MODE PHASE: run the program in the current env; plain leaves LD_PRELOAD as it is, shim prepends lib.
jrun() {
	if [ "$1" = shim ]; then
		# (it stands in for a broker, so it is the pools' writer: a Java program that is not kafka.Kafka would
		# otherwise attach read-only, pafka.role=auto)
		# shellcheck disable=SC2086
		timeout -s KILL "$tmo" env LD_PRELOAD="$lib${LD_PRELOAD:+ $LD_PRELOAD}" PAFKA_ROLE=writer "$java" $jopts $jcp "$2" "$1"
	else
		# shellcheck disable=SC2086
		timeout -s KILL "$tmo" "$java" $jopts $jcp "$2" "$1"
	fi
}

# report NAME MODE OK T0 OUTFILE...
report() {
	name=$1 mode=$2 ok=$3 t0=$4
	shift 4
	secs=$(awk -v a="$t0" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')
	if [ "$ok" = 0 ]; then
		if [ "${PAFKA_TEST_VERBOSE:-0}" = 1 ]; then
			for f in "$@"; do
				[ -s "$f" ] && sed 's/^/    /' "$f"
			done
		fi
		line=$(printf 'PASS  %-11s %-6s %-5s (%s s)' "$jname" "$name" "$mode" "$secs")
		passed=$((passed + 1))
	else
		line=$(printf 'FAIL  %-11s %-6s %-5s (%s s)' "$jname" "$name" "$mode" "$secs")
		failed=$((failed + 1))
		for f in "$@"; do
			[ -s "$f" ] || continue
			echo "---- $(basename "$f") (last 60 lines)"
			tail -n 60 "$f" | sed 's/^/    /'
		done
		grep -h '^FAIL \[' "$@" </dev/null 2>/dev/null | sed 's/^/      /' >"$work/reason"
		line="$line$(printf '\n%s' "$(cat "$work/reason")")"
	fi
	echo "$line"
	summary="$summary$line
"
}

run_suite() { # MODE
	t0=$(now_ms)
	out=$work/$jname-suite-$1.out
	new_env
	jrun "$1" suite >"$out" 2>"$out.err"
	rc=$?
	[ $rc = 137 ] && echo "FAIL [timeout]: the JVM was killed after ${tmo}s" >>"$out"
	end_env $rc
	report suite "$1" $rc "$t0" "$out" "$out.err"
}

# run_crash MODE PREFIX: PREFIX-write prints "READY <pid>" and blocks on stdin (crash: everything written;
# live: threads still appending); it gets SIGKILL as soon as that line is read; PREFIX-verify then runs.
run_crash() {
	t0=$(now_ms)
	pfx=$2
	out=$work/$jname-$pfx-$1.out
	new_env
	fo=$PAFKA_TEST_DIR/stdout.fifo
	fin=$PAFKA_TEST_DIR/stdin.fifo
	if ! mkfifo "$fo" "$fin"; then
		echo "FAIL [setup]: mkfifo failed" >"$out"
		end_env 1
		report "$pfx" "$1" 1 "$t0" "$out"
		return
	fi
	: >"$out"
	# the writer opens stdout (fo) then stdin (fin); open our ends in the same order. The subshell
	# keeps bash from reporting the SIGKILLed job on our stderr.
	(
		jrun "$1" "$pfx-write"
		exit $?
	) >"$fo" <"$fin" 2>"$out.err" &
	bg_pid=$!
	exec 9<"$fo"
	exec 8>"$fin"
	jvm_pid=
	while IFS= read -r line <&9; do
		echo "$line" >>"$out"
		case "$line" in
		"READY "*) jvm_pid=${line#READY }; break ;;
		esac
	done
	ok=1
	if [ -n "$jvm_pid" ]; then
		kill -9 "$jvm_pid"
		wait "$bg_pid"
		wrc=$?
		if [ $wrc = 137 ]; then
			echo "killed JVM $jvm_pid with SIGKILL after READY" >>"$out"
			ok=0
		else
			echo "FAIL [$pfx-write]: JVM exit status $wrc after SIGKILL, want 137" >>"$out"
		fi
	else
		wait "$bg_pid"
		echo "FAIL [$pfx-write]: no READY line (JVM exit status $?)" >>"$out"
	fi
	jvm_pid=
	bg_pid=
	exec 8>&- 9<&-
	if [ $ok = 0 ]; then
		jrun "$1" "$pfx-verify" >>"$out" 2>>"$out.err"
		ok=$?
		[ $ok = 137 ] && echo "FAIL [timeout]: $pfx-verify killed after ${tmo}s" >>"$out"
	fi
	end_env $ok
	report "$pfx" "$1" $ok "$t0" "$out" "$out.err"
}

ran=0
for spec in $jdks; do
	jname=${spec%%=*}
	jhome=${spec#*=}
	java=$jhome/bin/java
	if [ ! -x "$java" ]; then
		line="SKIP  $jname: $java not found"
		echo "$line"
		summary="$summary$line
"
		continue
	fi
	ran=$((ran + 1))
	echo "== $jname: $("$java" -version 2>&1 | head -n 1)"
	if [ -x "$jhome/bin/javac" ]; then
		cls=$work/classes-$jname
		mkdir -p "$cls"
		if ! "$jhome/bin/javac" -nowarn -d "$cls" "$src" >"$work/javac-$jname.out" 2>&1; then
			cat "$work/javac-$jname.out"
			line="FAIL  $jname: javac failed (runs not attempted)"
			echo "$line"
			summary="$summary$line
"
			failed=$((failed + 1))
			continue
		fi
		jcp="-cp $cls KafkaIoSequences"
	else
		echo "   (no javac in $jhome: single-file source launch)"
		jcp=$src
	fi
	run_suite plain
	if [ $plain_only = 0 ]; then
		run_suite shim
		run_crash shim crash
		run_crash shim live
	fi
	run_crash plain crash
	run_crash plain live
done

echo
echo "==== summary (libpafka: $([ $plain_only = 1 ] && echo "not used, --plain-only" || echo "$lib"))"
printf '%s' "$summary"
echo "$passed passed, $failed failed"
if [ $ran = 0 ]; then
	echo "SKIP: no JDK found ($jdks)"
	exit 77
fi
[ $failed = 0 ]

#!/bin/sh
# libfuzz.sh - the coverage-guided fuzzers (clang's libFuzzer, with ASan and UBSan): builds the targets of
# tests/fuzz/lf/ from the shim's and the CLI's own sources with clang, makes the seed corpus, runs each
# target for a bounded time, and fails on any crash, sanitizer report or broken promise (each target's
# comment lists them). Targets: pool (the pool loader, read-only and as writer), cli (pafka status, ls,
# fsck and pool info on the same bytes), config (properties, environment and command line), marker (the
# log-dir marker and its round trip).
#
#   libfuzz.sh                       make check: each target for PAFKA_TEST_LIBFUZZER_SECONDS (default 20)
#   libfuzz.sh --seconds N [TARGET...]   longer runs (make fuzz)
# Seeds: tests/fuzz/corpus/config and tests/fuzz/corpus/marker are in the repository; pool seeds are made
# here, by the real shim writing real segment files into small pools (then cut at the data area, and some
# damaged with tests/cli/cli_craft), so they always follow the current format and no pool file is checked
# in. What a run finds goes to <build>/tests/fuzz/lf-work/<target>/ (kept between runs, so a long run
# builds on the last); a crash leaves crash-* there, replayed with: <build>/tests/fuzz/lf-build/lf_TARGET FILE.
# Needs clang with its libFuzzer runtime (Debian: apt-get install clang); without it, says so and skips.
set -u
top_src=${PAFKA_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
top_build=${PAFKA_TOP_BUILDDIR:-$top_src}
seconds=${PAFKA_TEST_LIBFUZZER_SECONDS:-20}
if [ "${1:-}" = --seconds ]; then
	seconds=$2
	shift 2
fi
targets=${*:-pool cli config marker}
CLANG=${PAFKA_TEST_CLANG:-clang}
lfb=$top_build/tests/fuzz/lf-build
lfw=$top_build/tests/fuzz/lf-work

# The targets carry their own ASan+UBSan build: in a tree configured --enable-sanitizers (whose tests
# preload a sanitizer runtime) they would only repeat the plain tree's run.
[ -z "${PAFKA_TEST_PRELOAD_FIRST:-}" ] || { echo "SKIP: the libFuzzer targets are built with their own ASan+UBSan; they run in the plain build tree"; exit 77; }
command -v "$CLANG" >/dev/null 2>&1 || { echo "SKIP: $CLANG is not installed (Debian: apt-get install clang): no libFuzzer"; exit 77; }
mkdir -p "$lfb" "$lfw" || exit 1
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return (int)(d && n > 99); }\n' >"$lfb/probe.c"
"$CLANG" -fsanitize=fuzzer,address,undefined "$lfb/probe.c" -o "$lfb/probe" 2>"$lfb/probe.log" ||
	{ echo "SKIP: $CLANG cannot link -fsanitize=fuzzer,address,undefined (its libFuzzer runtime is missing: $(head -n1 "$lfb/probe.log"))"; exit 77; }

# The sources: the lists the build uses (src/Makefile.inc: libpafkacore; src/cli/Makefile.inc: pafka).
sources() { # sources FRAGMENT VARIABLE
	awk -v v="$2" '$1 == v && $2 == "=" { on = 1 } on { for (i = 1; i <= NF; i++) if ($i ~ /\.c$/) print $i; if ($NF != "\\") on = 0 }' "$top_src/$1"
}
core=$(sources src/Makefile.inc libpafkacore_la_SOURCES)
cli=$(sources src/cli/Makefile.inc pafka_SOURCES)
[ -n "$core" ] && [ -n "$cli" ] || { echo "FAIL: cannot read the source lists from src/Makefile.inc and src/cli/Makefile.inc"; exit 1; }
CFLAGS="-std=gnu11 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CPPFLAGS="-I$top_src/include -I$top_src/src -I$top_src/tests/fuzz/lf -DPAFKA_LIBDIR=\"/nonexistent\""
compile() { # compile SRC OBJ [EXTRA...]
	src=$1 obj=$2
	shift 2
	# shellcheck disable=SC2086 # word splitting of the flag lists is meant
	[ "$obj" -nt "$top_src/$src" ] || "$CLANG" $CFLAGS $CPPFLAGS "$@" -c "$top_src/$src" -o "$obj" || return 1
}
t0=$(date +%s)
objs_core= objs_cli=
for s in $core; do
	o=$lfb/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
	objs_core="$objs_core $o"
	compile "$s" "$o" || { echo "FAIL: clang cannot compile $s"; exit 1; }
done
for s in $cli; do
	o=$lfb/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
	objs_cli="$objs_cli $o"
	extra=
	[ "$s" = src/cli/main.c ] && extra=-Dmain=pafka_cli_main
	# shellcheck disable=SC2086
	compile "$s" "$o" $extra || { echo "FAIL: clang cannot compile $s"; exit 1; }
done
rm -f "$lfb/libcore.a" "$lfb/libcli.a"
# shellcheck disable=SC2086
ar rcs "$lfb/libcore.a" $objs_core && ar rcs "$lfb/libcli.a" $objs_cli || exit 1
for t in $targets; do
	# shellcheck disable=SC2086
	"$CLANG" $CFLAGS $CPPFLAGS -fsanitize=fuzzer "$top_src/tests/fuzz/lf/lf_$t.c" "$lfb/libcli.a" "$lfb/libcore.a" \
		-lpmem -ldl -lpthread -o "$lfb/lf_$t" || { echo "FAIL: cannot build lf_$t"; exit 1; }
done
echo "# built $(echo $targets | wc -w) targets with $($CLANG --version | head -n1) in $(($(date +%s) - t0))s"

# Pool seeds (pool and cli targets).
make_pool_seeds() { # make_pool_seeds DIR
	out=$1
	mkdir -p "$out"
	(
		unset PAFKA_TEST_PRELOAD_FIRST # the writer is not the instrumented one: only the seeds matter
		. "$top_src/tests/cli/cli_lib.sh"
		seed_of() { # seed_of NAME: the pool file, control byte 3, cut at its data area and with its record
			# table shortened to the records in use (at least 16; the layout's minimum of 1024 empty ones
			# would make every input 256 KiB, and the fuzzer slow), the header re-summed
			python3 - "$top_src/tests/lib" "$POOL" "$out/$1" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
import pafkapool
b = bytearray(open(sys.argv[2], "rb").read())
h = pafkapool.parse_header(bytes(b[:pafkapool.HEADER_SIZE]))
used = [r for r in range(h.nrecords) if any(b[h.rec_off + r * 256:h.rec_off + (r + 1) * 256])]
keep = max(16, (used[-1] + 1) if used else 0)
recs = b[h.rec_off:h.rec_off + keep * pafkapool.RECORD_SIZE]
table = b[h.blk_off:h.blk_off + h.nblocks * 8]
blk_off = h.rec_off + keep * pafkapool.RECORD_SIZE
data_off = (blk_off + h.nblocks * 8 + h.block_size - 1) // h.block_size * h.block_size
hdr = b[:h.rec_off]
# the header's words (src/pool_format.h): pool_size at 32, nrecords 56, blk_off 72, data_off 80
struct.pack_into("<Q", hdr, 32, data_off + h.nblocks * h.block_size)
struct.pack_into("<Q", hdr, 56, keep)
struct.pack_into("<QQ", hdr, 72, blk_off, data_off)
struct.pack_into("<Q", hdr, pafkapool.CHECKSUM_OFF, pafkapool.header_checksum(hdr))
open(sys.argv[3], "wb").write(b"\x03" + bytes(hdr + recs + table))
PY
		}
		for bs in 4096 65536; do
			PAFKA_POOL_BLOCK_SIZE=$bs
			export PAFKA_POOL_BLOCK_SIZE
			cli_env $((bs / 4096))M
			shimmed "$W" w "$L/t-0/$SEG0" 9000 1 w "$L/t-0/$SEG1" 70000 2 w "$L/t-1/$SEG0" 3 3 >/dev/null ||
				fail "the seed writer failed"
			seed_of "written-$bs"
			[ "$bs" = 4096 ] || { cli_cleanup; continue; }
			shimmed rm "$L/t-0/$SEG0" && seed_of "deleted-$bs"
			cp "$POOL" "$CLI_TMP/keep"
			for dmg in dying reserve past-eof dup swap path-len move-lo free-owner index-max; do
				cp "$CLI_TMP/keep" "$POOL"
				"$CRAFT" "$POOL" "$dmg" >/dev/null 2>&1 && seed_of "$dmg-$bs"
			done
			cli_cleanup
		done
	) >"$out.log" 2>&1 || { cat "$out.log"; return 1; }
	[ "$(ls "$out" | wc -l)" -ge 4 ]
}
seeds=$lfw/pool-seeds
rm -rf "$seeds"
make_pool_seeds "$seeds" || { echo "FAIL: cannot make the pool seeds"; exit 1; }
maxlen=$(for f in "$seeds"/*; do wc -c <"$f"; done | sort -n | tail -n1)
maxlen=$((maxlen + 4096))

bad=0
for t in $targets; do
	w=$lfw/$t
	mkdir -p "$w/corpus"
	case $t in
	pool | cli) set -- "$seeds" -max_len="$maxlen" ;;
	*) set -- "$top_src/tests/fuzz/corpus/$t" -max_len=4096 ;;
	esac
	mask=0
	[ "$t" = cli ] && mask=3
	env -u PAFKA_CONFIG $(env | sed -n 's/^\(PAFKA_[A-Z0-9_]*\)=.*/-u \1/p' | grep -v PAFKA_TEST_) \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$lfb/lf_$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
		-close_fd_mask=$mask -artifact_prefix="$w/" "$w/corpus" "$@" >"$w/log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$w/log" | tail -n1)
	cov=$(grep -o 'cov: [0-9]*' "$w/log" | tail -n1)
	units=$(ls "$w/corpus" | wc -l)
	if [ $rc -eq 0 ]; then
		echo "PASS: lf_$t: ${execs:-?} executions in ${seconds}s, ${cov:-cov: ?} edges, corpus $units inputs"
	else
		bad=$((bad + 1))
		echo "FAIL: lf_$t exited $rc after ${execs:-?} executions; replay: $lfb/lf_$t $(ls "$w"/crash-* "$w"/leak-* "$w"/timeout-* "$w"/oom-* 2>/dev/null | head -n1)"
		grep -v '^#\|^INFO\|^\[' "$w/log" | head -40 | sed 's/^/    /'
	fi
done
[ $bad -eq 0 ]

#!/bin/bash
# bench/scale.sh - what many managed segment files cost (bench/micro/bench_scale.c), with and without the
# shim in the same run, for N = BENCH_SCALE_N (default "10000 50000 100000") files of BENCH_SCALE_SIZE bytes
# (4096; one pool block each, blocks of 4 KiB):
#   descriptors per open file; anonymous memory per file after the first and what the first open cost (the
#   shim's run minus the plain run); the first
#   managed open after a restart (activation + recovery of N records) and all N opens; the CPU of the
#   migration threads while idle (BENCH_SCALE_IDLE s, nothing to move) and while migration demotes files
#   (the restart with the threshold lowered to 0.25, BENCH_SCALE_HOLD s): CPU per decision = that CPU over
#   the demotions made.
# Big pools: BENCH_SCALE_POOL (a size, e.g. 16G; default: what the files need) and BENCH_SCALE_BS (block size,
# default 4096), e.g. BENCH_SCALE_N=2000 BENCH_SCALE_SIZE=1048576 BENCH_SCALE_POOL=16G BENCH_SCALE_BS=1048576;
# after the shim's runs `pafka fsck` must find the pool clean (its verdict is printed).
# A process may hold at most RLIMIT_NOFILE descriptors (this machine's hard limit: `ulimit -Hn`); files past
# half of it are closed after their write (the shim keeps knowing them). Fast tier: tmpfs (BENCH_SHM)
# standing in for PMem; log dirs on BENCH_DIR. A benchmark: it reports, it never asserts.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAFKA_TOP_BUILDDIR:-$top/build}
lib=${PAFKA_TEST_LIB:-$build/.libs/libpafka.so}
NS=${BENCH_SCALE_N:-10000 50000 100000}
SIZE=${BENCH_SCALE_SIZE:-4096}
IDLE=${BENCH_SCALE_IDLE:-5}
HOLD=${BENCH_SCALE_HOLD:-10}
POOL=${BENCH_SCALE_POOL:-}
BS=${BENCH_SCALE_BS:-4096}
DISK=${BENCH_DIR:-/var/tmp}
SHM=${BENCH_SHM:-/dev/shm}
[ -f "$lib" ] || { echo "bench/scale.sh: no $lib: build first"; exit 1; }
[ -x "$build/pafka" ] || { echo "bench/scale.sh: no $build/pafka: build first"; exit 1; }
for v in $(env | sed -n 's/^\(PAFKA_[A-Z0-9_]*\)=.*/\1/p'); do
	case $v in PAFKA_TEST_LIB | PAFKA_TOP_BUILDDIR) ;; *) unset "$v" ;; esac
done
tmp=$(mktemp -d "$DISK/pafka-scale.XXXXXX")
trap 'rm -rf "$tmp" "$SHM"/pafka-scale.*' EXIT
${CC:-gcc} -O2 -Wall -o "$tmp/bench_scale" "$top/bench/micro/bench_scale.c" || exit 1
ulimit -n "$(ulimit -Hn)" 2>/dev/null
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

printf '# libpafka scale: %s-byte files, blocks of %s bytes, pool %s, fast tier = tmpfs standing in for PMem, RLIMIT_NOFILE %s\n' \
	"$SIZE" "$BS" "${POOL:-sized for the files}" "$(ulimit -n)"
printf '%-7s %-6s %8s %10s %12s %10s %10s %12s %12s %10s %10s %14s %s\n' N run open fds/file anon_B/file fixed_KiB \
	first_ms all_opens_s idle_cpu_ms demotions move_cpu_ms cpu_ms/decision fsck
for n in $NS; do
	declare -A anon=() fixed=()
	for run in plain shim; do
		d=$tmp/$run-$n
		mkdir -p "$d/logs"
		shm=$(mktemp -d "$SHM/pafka-scale.XXXXXX")
		chmod 0700 "$shm"
		pre=
		if [ $run = shim ]; then
			pre=$lib
			export PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_LOG_DIRS=$d/logs PAFKA_STORAGE_TIERS_FIRST_PATHS=$shm \
				PAFKA_POOL_BLOCK_SIZE=$BS \
				PAFKA_STORAGE_TIERS_FIRST_SIZES=${POOL:-$(( n * ((SIZE + BS - 1) / BS * BS) * 14 / 10 + 16 * 1048576 ))}
		fi
		w=$(PAFKA_STORAGE_MIGRATE_THRESHOLD=0.99 LD_PRELOAD=$pre "$tmp/bench_scale" "$d/logs" "$n" "$SIZE" write "$IDLE" 2>"$d.err") ||
			{ echo "bench/scale.sh: the $run write of $n files failed:"; tail -3 "$d.err"; exit 1; }
		r=$(PAFKA_STORAGE_MIGRATE_THRESHOLD=0.25 LD_PRELOAD=$pre "$tmp/bench_scale" "$d/logs" "$n" "$SIZE" reopen "$HOLD" 2>>"$d.err") ||
			{ echo "bench/scale.sh: the $run restart with $n files failed:"; tail -3 "$d.err"; exit 1; }
		dem=0 fsck=-
		if [ $run = shim ]; then
			"$build/pafka" fsck >"$d.fsck" 2>&1 && fsck=clean || fsck="NOT-CLEAN($(head -c 200 "$d.fsck" | tr '\n' ' '))"
			dem=$("$build/pafka" status --json 2>/dev/null | python3 -c 'import json, sys; print(json.load(sys.stdin)["pools"][0]["counters"]["demotions"])')
			unset PAFKA_LOG_CHANNEL_TYPE PAFKA_LOG_DIRS PAFKA_STORAGE_TIERS_FIRST_PATHS PAFKA_POOL_BLOCK_SIZE \
				PAFKA_STORAGE_TIERS_FIRST_SIZES
		fi
		anon[$run]=$(kv anon_kib "$w") fixed[$run]=$(kv anon_fixed_kib "$w")
		extra=- fix=-
		[ $run = shim ] && extra=$(( (${anon[shim]} - ${anon[plain]}) * 1024 / (n - 1) )) fix=$((${fixed[shim]} - ${fixed[plain]}))
		mc=$(kv threads_cpu_ms "$r")
		per=-
		[ "${dem:-0}" -gt 0 ] && per=$(awk -v c="$mc" -v d="$dem" 'BEGIN { printf "%.3f", c / d }')
		printf '%-7s %-6s %8s %10s %12s %10s %10s %12s %12s %10s %10s %14s %s\n' "$n" "$run" "$(kv open "$w")" \
			"$(kv fds_per_open_file "$w")" "$extra" "$fix" "$(kv first_open_ms "$r")" "$(kv all_opens_s "$r")" \
			"$(kv threads_cpu_ms "$w")" "$dem" "$mc" "$per" "$fsck"
		rm -rf "$d" "$shm"
	done
done
echo "# anon_B/file: what each file after the first added to the anonymous memory, the shim's run minus the plain"
echo "# run; fixed_KiB: what the first open added (for the shim: activation: its tables, threads and, while a"
echo "# migration round runs, its snapshot); first_ms: the first open after"
echo "# a restart (for the shim: activation and recovery of every record); idle_cpu_ms: the migration threads over ${IDLE}s"
echo "# with nothing to move; move_cpu_ms: over ${HOLD}s after the restart with the threshold at 0.25 (demotions made then)."

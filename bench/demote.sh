#!/bin/bash
# bench/demote.sh - sustained demotion throughput (pool to log dir), as a ratio to the slow tier's own write
# bandwidth measured in the same run. A benchmark, not a test: it reports, it never asserts a time.
#
# 1. baseline: dd of BENCH_DEMOTE_MB MiB into the slow-tier directory with O_DIRECT and a final fsync
#    (what the disk can take), twice, median;
# 2. the shim: a writer under LD_PRELOAD (log.channel.type=tiered, threshold 0.001, idle 0) puts the same
#    amount into the pool as 16 MiB segments, then holds; we time from "written" until the pool is empty
#    (the migration thread copied every block to the log dir, fsynced it and freed the pool blocks);
# 3. repeat BENCH_REPS times, interleaved; print medians and the ratio demotion/baseline.
# The fast tier is tmpfs (/dev/shm) standing in for PMem. Needs a build (make; make check builds the
# writer tests/cli/cli_writer). Env: BENCH_DEMOTE_MB (512), BENCH_REPS (3), BENCH_SLOW_DIR (/var/tmp),
# PAFKA_TEST_LIB, PAFKA_TOP_BUILDDIR.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAFKA_TOP_BUILDDIR:-$top/build}
lib=${PAFKA_TEST_LIB:-$build/.libs/libpafka.so}
writer=$build/tests/cli/cli_writer
MB=${BENCH_DEMOTE_MB:-512}
REPS=${BENCH_REPS:-3}
SLOW=${BENCH_SLOW_DIR:-/var/tmp}
[ -f "$lib" ] || { echo "bench/demote.sh: no $lib: build first (./bootstrap && ./configure && make)"; exit 1; }
[ -x "$writer" ] || { echo "bench/demote.sh: no $writer: run 'make check' (or make tests/cli/cli_writer) first"; exit 1; }
command -v python3 >/dev/null || { echo "bench/demote.sh: python3 is needed (apt-get install python3)"; exit 1; }

used_blocks() { python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
nb, blk = struct.unpack_from('<Q', d, 48)[0], struct.unpack_from('<Q', d, 72)[0]
print(sum(1 for i in range(nb) if struct.unpack_from('<Q', d, blk + 8 * i)[0]))
PY
}
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

baseline() {
	local f=$SLOW/pafka-bench-dd.$$
	local t0 t1
	t0=$(now)
	dd if=/dev/zero of="$f" bs=1M count="$MB" oflag=direct conv=fsync status=none || return 1
	t1=$(now)
	rm -f "$f"
	python3 -c "print($MB / ($t1 - $t0))"
}

demote() {
	local work pool ready pid t0 t1 i ops=()
	work=$(mktemp -d "$SLOW/pafka-bench-demote.XXXXXX")
	pool=$(mktemp -d /dev/shm/pafka-bench-pool.XXXXXX)
	ready=$work/ready
	local nseg=$(( (MB + 15) / 16 ))
	for i in $(seq 0 $((nseg - 1))); do
		ops+=(w "$work/logs/bench-0/$(printf '%020d' $((i * 1000))).log" $((16 << 20)) $((i + 1)))
	done
	PAFKA_LOG_DIRS=$work/logs PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_PATHS=$pool \
	PAFKA_STORAGE_TIERS_FIRST_SIZES=$(( (MB + 64) ))M PAFKA_STORAGE_MIGRATE_THRESHOLD=0.001 PAFKA_MIGRATE_IDLE_MS=0 \
	PAFKA_MIGRATE_PROMOTE=false PAFKA_LOG_LEVEL=warn \
	LD_PRELOAD=$lib "$writer" "${ops[@]}" hold "$ready" &
	pid=$!
	for i in $(seq 6000); do [ -f "$ready" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.05; done
	t0=$(now)
	for i in $(seq 12000); do
		[ "$(used_blocks "$pool/pafka.pool")" = 0 ] && break
		sleep 0.05
	done
	t1=$(now)
	local left; left=$(used_blocks "$pool/pafka.pool")
	rm -f "$ready"; wait $pid
	rm -rf "$work" "$pool"
	[ "$left" = 0 ] || { echo "demotion did not finish ($left blocks left)" >&2; return 1; }
	python3 -c "print($MB / ($t1 - $t0))"
}

echo "# bench/demote.sh: $MB MiB, $REPS repetitions, slow tier $SLOW ($(findmnt -no FSTYPE -T "$SLOW")), fast tier tmpfs (/dev/shm) standing in for PMem"
echo "# machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)"
b=() d=()
for r in $(seq "$REPS"); do
	x=$(baseline) || { echo "baseline failed"; exit 1; }
	y=$(demote) || { echo "demotion run failed"; exit 1; }
	b+=("$x"); d+=("$y")
	printf '# rep %d: slow-tier O_DIRECT write %.0f MiB/s, demotion %.0f MiB/s\n' "$r" "$x" "$y"
done
bm=$(printf '%s\n' "${b[@]}" | median); dm=$(printf '%s\n' "${d[@]}" | median)
printf '| slow-tier write (dd O_DIRECT+fsync) | demotion (pool -> log dir) | ratio demotion/slow tier |\n|---:|---:|---:|\n| %.0f MiB/s | %.0f MiB/s | %.2f |\n' "$bm" "$dm" "$(python3 -c "print($dm/$bm)")"

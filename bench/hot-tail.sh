#!/bin/bash
# bench/hot-tail.sh - where appends land when a broker has more active segments than fit in the pool.
#
# NFILES append-only segments are written round-robin at a fixed rate (bench/micro/bench_hottail.c) through
# a pool much smaller than what is written, with migration on (tiered, threshold 0.5, idle 200 ms). The
# active segments never seal, so only head demotion (moving the cold head of an active segment to the log
# dir while its newest blocks stay in the pool) can keep room for new appends; a segment whose window
# closed because the pool was full is readmitted once there is room again. While the writer runs, the pool's
# fill is sampled with `pafka status --json`; afterwards the shim's counters give the bytes written to each
# tier. Every byte is read back and checked by the writer.
#
# Reports per run and as medians: the share of appended bytes that landed in the pool, head demotions,
# readmissions, spills, and the pool's fill (median and maximum over the second half of the run) against
# the threshold. A placement benchmark: it reports, it never asserts a time.
#
# Fast tier: tmpfs (/dev/shm) standing in for PMem. Slow tier: BENCH_DIR (/var/tmp).
# Env: BENCH_FILES (4), BENCH_RATE_MB (16 MiB/s in total), BENCH_SECONDS (8), BENCH_POOL (8M),
# BENCH_BLOCK (64K), BENCH_THRESHOLD (0.5), BENCH_IDLE_MS (200), BENCH_TAIL_KEEP (the default),
# BENCH_REPS (3), BENCH_DIR (/var/tmp), BENCH_SHM (/dev/shm), CC (gcc), PAFKA_TEST_LIB, PAFKA_TOP_BUILDDIR.
# Exit 0 when every run wrote and read back every byte; 1 otherwise (the figures are then incomplete).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAFKA_TOP_BUILDDIR:-$top/build}
lib=${PAFKA_TEST_LIB:-$build/.libs/libpafka.so}
pafka=$build/pafka
FILES=${BENCH_FILES:-4}
RATE=${BENCH_RATE_MB:-16}
SECS=${BENCH_SECONDS:-8}
POOLSZ=${BENCH_POOL:-8M}
BLOCK=${BENCH_BLOCK:-64K}
THR=${BENCH_THRESHOLD:-0.5}
IDLE=${BENCH_IDLE_MS:-200}
REPS=${BENCH_REPS:-3}
[ -f "$lib" ] || { echo "bench/hot-tail.sh: no $lib: build first (./bootstrap && ./configure && make)"; exit 1; }
[ -x "$pafka" ] || { echo "bench/hot-tail.sh: no $pafka: build first"; exit 1; }
command -v python3 >/dev/null || { echo "bench/hot-tail.sh: python3 is needed (apt-get install python3)"; exit 1; }

tmp=$(mktemp -d "${BENCH_DIR:-/var/tmp}/pafka-hottail.XXXXXX")
trap 'rm -rf "$tmp" "${shm:-}"' EXIT
${CC:-gcc} -O2 -Wall -o "$tmp/bench_hottail" "$top/bench/micro/bench_hottail.c" || exit 1
for v in $(env | sed -n 's/^\(PAFKA_[A-Z0-9_]*\)=.*/\1/p'); do
	case $v in PAFKA_TEST_LIB|PAFKA_TOP_BUILDDIR) ;; *) unset "$v" ;; esac
done

# status_field JSON EXPR: one value from `pafka status --json` (d is the document, p its first pool).
status_field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["pools"][0]; print(eval(sys.argv[2]))' "$1" "$2"; }

echo "# Hot tail: $FILES active segments, $RATE MiB/s for $SECS s, pool $POOLSZ of $BLOCK blocks, threshold $THR"
echo
echo "Fast tier: tmpfs (${BENCH_SHM:-/dev/shm}) standing in for PMem; slow tier: ${BENCH_DIR:-/var/tmp}. Shim: $lib"
echo
echo "| run | written MiB | to the pool | head demotions | readmissions | spills | fill median (2nd half) | fill max (2nd half) |"
echo "|---|---|---|---|---|---|---|---|"
fail=0
results=$tmp/results
: >"$results"
for rep in $(seq 1 "$REPS"); do
	shm=$(mktemp -d "${BENCH_SHM:-/dev/shm}/pafka-hottail.XXXXXX")
	chmod 0700 "$shm"
	logs=$tmp/logs-$rep
	mkdir -p "$logs"
	export PAFKA_LOG_DIRS=$logs PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_PATHS=$shm \
		PAFKA_STORAGE_TIERS_FIRST_SIZES=$POOLSZ PAFKA_POOL_BLOCK_SIZE=$BLOCK \
		PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR PAFKA_MIGRATE_IDLE_MS=$IDLE
	[ -n "${BENCH_TAIL_KEEP:-}" ] && export PAFKA_MIGRATE_TAIL_KEEP=$BENCH_TAIL_KEEP
	LD_PRELOAD=$lib "$tmp/bench_hottail" "$logs" "$FILES" "$RATE" "$SECS" >"$tmp/w.out" 2>"$tmp/w.err" &
	wpid=$!
	samples=$tmp/samples-$rep
	: >"$samples"
	start=$(date +%s.%N)
	while kill -0 "$wpid" 2>/dev/null; do
		if "$pafka" status --json >"$tmp/s.json" 2>/dev/null; then
			t=$(python3 -c "import time; print(time.time() - $start)")
			echo "$t $(status_field "$tmp/s.json" 'p["used_blocks"] / p["capacity_blocks"]')" >>"$samples"
		fi
		sleep 0.25 # sampling interval of a benchmark, not a synchronisation
	done
	wait "$wpid"
	rc=$?
	if [ "$rc" != 0 ] || ! grep -q verified "$tmp/w.out"; then
		echo "FAILED: run $rep: the writer exited $rc: $(cat "$tmp/w.err" "$tmp/w.out" | tail -3)"
		fail=1
		rm -rf "$shm" "$logs"
		continue
	fi
	"$pafka" status --json >"$tmp/s.json" || { echo "FAILED: run $rep: pafka status"; fail=1; continue; }
	python3 - "$tmp/s.json" "$samples" "$rep" "$SECS" >>"$tmp/row" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1])); c = d["pools"][0]["counters"]; w = c["bytes_written"]
secs = float(sys.argv[4])
fills = [float(l.split()[1]) for l in open(sys.argv[2]) if l.strip() and float(l.split()[0]) >= secs / 2]
tot = w["pool"] + w["slow"]
frac = w["pool"] / tot if tot else 0.0
med = statistics.median(fills) if fills else float("nan")
mx = max(fills) if fills else float("nan")
print(f"{sys.argv[3]} {tot / 1048576:.0f} {frac:.4f} {c['head_demotions']} {c['readmissions']} {c['spills']} {med:.3f} {mx:.3f}")
PY
	tail -1 "$tmp/row" | tee -a "$results" | awk '{printf "| %s | %s | %.1f%% | %s | %s | %s | %.0f%% | %.0f%% |\n", $1, $2, 100*$3, $4, $5, $6, 100*$7, 100*$8}'
	rm -rf "$shm" "$logs"
done
if [ -s "$results" ]; then
	python3 - "$results" "$THR" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
frac = statistics.median(float(r[2]) for r in rows)
fill = statistics.median(float(r[6]) for r in rows)
print(f"\nmedians over {len(rows)} runs: {100 * frac:.1f}% of appended bytes landed in the pool; "
      f"pool fill {100 * fill:.0f}% in the second half, against a threshold of {float(sys.argv[2]) * 100:.0f}%")
PY
fi
exit $fail

#!/bin/bash
# bench/fsync.sh - the cost of a durable append: a 4 KiB append + fdatasync on a segment that already holds
# 1 MiB, 256 MiB and 1 GiB (bench/micro/bench_fsync.c), side by side in one run, interleaved, for:
#   disk        no shim, the segment on BENCH_DIR (ext4 here)
#   tmpfs       no shim, the segment on BENCH_SHM
#   shim        LD_PRELOAD=libpafka.so (log.channel.type=pmem), log dir on BENCH_DIR, pool on BENCH_SHM:
#               the msync path (tmpfs is not persistent memory)
#   shim-pmem   the same with PMEM_IS_PMEM_FORCE=1: libpmem's flush path (non-temporal copies, drains)
#   base, base-pmem   the same two with BENCH_BASE_LIB (an earlier build), when it is set
# and prints the median (and p90) per append in microseconds, with the ratio of each shim variant to the
# disk. Fast tier: tmpfs (BENCH_SHM) standing in for PMem. A benchmark: it reports, it never asserts.
# Env: BENCH_N (200 appends per run), BENCH_REPS (3), BENCH_PREFIXES ("1 256 1024" MiB), BENCH_DIR (/var/tmp),
# BENCH_SHM (/dev/shm), BENCH_BASE_LIB, PAFKA_TEST_LIB, PAFKA_TOP_BUILDDIR, CC.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PAFKA_TOP_BUILDDIR:-$top/build}
lib=${PAFKA_TEST_LIB:-$build/.libs/libpafka.so}
N=${BENCH_N:-200}
REPS=${BENCH_REPS:-3}
PREFIXES=${BENCH_PREFIXES:-1 256 1024}
DISK=${BENCH_DIR:-/var/tmp}
SHM=${BENCH_SHM:-/dev/shm}
base=${BENCH_BASE_LIB:-}
[ -f "$lib" ] || { echo "bench/fsync.sh: no $lib: build first"; exit 1; }
[ -z "$base" ] || [ -f "$base" ] || { echo "bench/fsync.sh: BENCH_BASE_LIB=$base does not exist"; exit 1; }
for v in $(env | sed -n 's/^\(PAFKA_[A-Z0-9_]*\)=.*/\1/p'); do
	case $v in PAFKA_TEST_LIB | PAFKA_TOP_BUILDDIR) ;; *) unset "$v" ;; esac
done
unset PMEM_IS_PMEM_FORCE
tmp=$(mktemp -d "$DISK/pafka-fsync.XXXXXX")
shm=$(mktemp -d "$SHM/pafka-fsync.XXXXXX")
chmod 0700 "$shm"
trap 'rm -rf "$tmp" "$shm"' EXIT
cp "$lib" "$tmp/lib.so"
[ -n "$base" ] && cp "$base" "$tmp/base.so"
${CC:-gcc} -O2 -Wall -o "$tmp/bench_fsync" "$top/bench/micro/bench_fsync.c" || exit 1
variants="disk tmpfs shim shim-pmem"
[ -n "$base" ] && variants="$variants base base-pmem"
max=0
for p in $PREFIXES; do [ "$p" -gt "$max" ] && max=$p; done
poolmb=$((max + max / 2 + 64))

# one VARIANT PREFIX: one run, prints its figures line
one() {
	local v=$1 p=$2 d so=
	case $v in
	disk) d=$tmp/d ;;
	tmpfs) d=$shm/d ;;
	shim | shim-pmem) d=$tmp/d so=$tmp/lib.so ;;
	base | base-pmem) d=$tmp/d so=$tmp/base.so ;;
	esac
	rm -rf "$d" "$shm/pool"
	mkdir -p "$d" "$shm/pool"
	chmod 0700 "$shm/pool"
	if [ -z "$so" ]; then
		"$tmp/bench_fsync" "$d" "$p" "$N"
	else
		local -a e=(LD_PRELOAD="$so" PAFKA_LOG_DIRS="$d" PAFKA_LOG_CHANNEL_TYPE=pmem
			PAFKA_STORAGE_TIERS_FIRST_PATHS="$shm/pool" PAFKA_STORAGE_TIERS_FIRST_SIZES="${poolmb}M" PAFKA_LOG_LEVEL=warn)
		case $v in *-pmem) e+=(PMEM_IS_PMEM_FORCE=1) ;; esac
		env "${e[@]}" "$tmp/bench_fsync" "$d" "$p" "$N"
	fi
	rm -rf "$d" "$shm/pool"
}

echo "# Durable append: ${N} x (4 KiB append + fdatasync) per run, $REPS runs, interleaved"
echo
echo "Fast tier: tmpfs ($SHM) standing in for PMem; disk: $DISK ($(df --output=fstype "$DISK" | tail -n1 | tr -d ' ')). Shim: $lib${base:+; base: $base}"
echo
res=$tmp/res
: >"$res"
for r in $(seq 1 "$REPS"); do
	for p in $PREFIXES; do
		set -- $variants
		k=$((r % $#))
		vs="${*:$((k + 1))} ${*:1:$k}"
		for v in $vs; do
			line=$(one "$v" "$p" 2>"$tmp/err") || { echo "FAILED: $v at $p MiB: $(tail -n 2 "$tmp/err")"; exit 1; }
			echo "$v $line" >>"$res"
		done
	done
done
python3 - "$res" "$variants" "$PREFIXES" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
variants, prefixes = sys.argv[2].split(), sys.argv[3].split()
med = {}
for v in variants:
    for p in prefixes:
        xs = [float(r[2]) for r in rows if r[0] == v and r[1] == p]
        p90 = [float(r[3]) for r in rows if r[0] == v and r[1] == p]
        med[v, p] = (statistics.median(xs), statistics.median(p90))
print("| variant | " + " | ".join(f"{p} MiB: median (p90) µs" for p in prefixes) + " | " +
      " | ".join(f"{p} MiB ÷ disk" for p in prefixes) + " |")
print("|---" * (1 + 2 * len(prefixes)) + "|")
for v in variants:
    cells = [f"{med[v, p][0]:.1f} ({med[v, p][1]:.1f})" for p in prefixes]
    ratios = [f"{med[v, p][0] / med['disk', p][0]:.3f}" for p in prefixes]
    print(f"| {v} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
print()
print("goal (durable append): shim and shim-pmem <= 0.25x the disk, and flat in the prefix")
PY

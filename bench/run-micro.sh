#!/bin/bash
# bench/run-micro.sh - libpafka's micro-benchmarks (not part of `make check`; see bench/README.md).
#
#   1. callgrind: extra user-space instructions per interposed call on an UNMANAGED descriptor
#      (shim active / inert / unconfigured, each against the same program without LD_PRELOAD).
#   2. data path: write / pread64 / sendfile64 throughput on a managed file under the shim vs. the same
#      program without the shim on tmpfs (/dev/shm, the ceiling) and on the log dir's disk.
#
# Benchmarks report, they do not judge: the only non-zero exits are a bench program that failed, got
# wrong data back or crashed (exit 1, with the message), or bad usage (exit 2).
#
# Environment (all optional):
#   PAFKA_TEST_LIB      the shim (default: <srcdir>/build/.libs/libpafka.so, i.e. /work/main/build/.libs/libpafka.so)
#   BENCH_DIR           disk directory for log dirs and plain files (default /var/tmp); must not be tmpfs
#   BENCH_SHM           tmpfs directory for pools and tmpfs files (default /dev/shm)
#   BENCH_OUT           where results go (default <srcdir>/bench/results, git-ignored)
#   BENCH_SIZE_MB       bytes written/read per data-path test (default 1024)
#   BENCH_REPS          measured repetitions of each data-path variant (default 5, minimum 1)
#   BENCH_WARMUP_REPS   discarded repetitions run first (default 1: the first runs on a fresh VM are slow)
#   BENCH_CALLS_N       calls per type in the callgrind part (default 100000)
#   BENCH_DROP_CACHES   1 (default when root): sync + drop page cache before every data-path run
#   BENCH_COLD          1 (default when root): add a cold sequential pread after drop_caches
#   BENCH_SKIP_CALLGRIND / BENCH_SKIP_DATAPATH   1 to skip a part
#   CC                  compiler (default gcc)
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
lib=${PAFKA_TEST_LIB:-$top/build/.libs/libpafka.so}
disk=${BENCH_DIR:-/var/tmp}
shm=${BENCH_SHM:-/dev/shm}
out=${BENCH_OUT:-$here/results}
size_mb=${BENCH_SIZE_MB:-1024}
reps=${BENCH_REPS:-5}
warm=${BENCH_WARMUP_REPS:-1}
calls_n=${BENCH_CALLS_N:-100000}
root=0; [ "$(id -u)" = 0 ] && root=1
drop=${BENCH_DROP_CACHES:-$root}
cold=${BENCH_COLD:-$root}
cc=${CC:-gcc}

[ -f "$lib" ] || { echo "run-micro.sh: no shim at $lib (build it, or set PAFKA_TEST_LIB)" >&2; exit 2; }
case $size_mb in ''|*[!0-9]*) echo "run-micro.sh: BENCH_SIZE_MB must be a number" >&2; exit 2;; esac
case $reps in ''|*[!0-9]*|0) echo "run-micro.sh: BENCH_REPS must be >= 1" >&2; exit 2;; esac
case $warm in ''|*[!0-9]*) echo "run-micro.sh: BENCH_WARMUP_REPS must be a number" >&2; exit 2;; esac
if [ "$root" = 0 ]; then drop=0; cold=0; fi

# Only our own settings reach the shim: drop any PAFKA_* setting inherited from the caller's shell.
for v in $(env | sed -n 's/^\(PAFKA_[A-Za-z0-9_]*\)=.*/\1/p'); do
	case $v in PAFKA_TEST_*|PAFKA_TOP_*|PAFKA_SMOKE_*|PAFKA_FAULT*|PAFKA_CACHE|PAFKA_LIB) ;; *) unset "$v";; esac
done
unset LD_PRELOAD

mkdir -p "$out" || exit 2
work=$(mktemp -d "$disk/pafka-bench.XXXXXX") || exit 2
shmw=$(mktemp -d "$shm/pafka-bench.XXXXXX") || exit 2
trap 'rm -rf "$work" "$shmw"' EXIT
# Every run uses one snapshot of the shim, so a rebuild during the run cannot mix two builds.
lib_src=$lib
lib=$work/libpafka.so
cp "$lib_src" "$lib" || exit 2
failed=0
report=$out/report.md
: >"$report"
say() { printf '%s\n' "$*" | tee -a "$report"; }

fs_of() { df -PT "$1" 2>/dev/null | awk 'NR==2 {print $2 " (" $1 ")"}'; }
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
say "# libpafka micro-benchmarks"
say ""
say "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), host: $(uname -n)"
say "- machine: nproc=$(nproc), memory $mem, kernel $(uname -r), CPU: ${cpu:-unknown}"
say "- fast tier: tmpfs (/dev/shm) standing in for PMem (no real persistent memory; libpmem falls back to msync)"
say "- shim: $lib_src (sha256 $(sha256sum "$lib" | cut -c1-12), built $(date -u -r "$lib_src" '+%Y-%m-%d %H:%M:%S UTC'); a snapshot copy is used throughout)"
say "- disk dir: $disk, $(fs_of "$disk"); tmpfs dir: $shm, $(fs_of "$shm")"
say "- compiler: $($cc --version | head -1)"
say ""

# ---------------------------------------------------------------- build
bin=$work/bin
mkdir -p "$bin"
cflags="-O2 -g -std=gnu11 -Wall -Wextra"
"$cc" $cflags -pthread -o "$bin/bench_datapath" "$here/micro/bench_datapath.c" || { echo "build failed" >&2; exit 2; }
have_cg=1
if ! command -v valgrind >/dev/null 2>&1 || [ ! -f /usr/include/valgrind/callgrind.h ]; then
	have_cg=0
elif ! "$cc" $cflags -pthread -o "$bin/bench_calls" "$here/micro/bench_calls.c"; then
	echo "build of bench_calls failed" >&2; exit 2
fi

# Environment that makes <dir>/logs/<topic>-<partition>/<20 digits>.log managed, pool in <pooldir>.
shim_env() { # DIR POOLDIR POOLSIZE
	echo "PAFKA_LOG_DIRS=$1/logs PAFKA_LOG_CHANNEL_TYPE=pmem PAFKA_STORAGE_TIERS_FIRST_PATHS=$2 PAFKA_STORAGE_TIERS_FIRST_SIZES=$3"
}

# ---------------------------------------------------------------- 1. callgrind
if [ "${BENCH_SKIP_CALLGRIND:-0}" = 1 ]; then
	say "## 1. Unmanaged-call overhead (callgrind): skipped (BENCH_SKIP_CALLGRIND=1)"
elif [ "$have_cg" = 0 ]; then
	say "## 1. Unmanaged-call overhead (callgrind): skipped: valgrind or valgrind/callgrind.h missing (apt-get install valgrind)"
else
	say "## 1. Unmanaged-call overhead (callgrind, N=$calls_n calls per type)"
	say ""
	cgd=$work/cg
	mkdir -p "$cgd/files"
	managed=$cgd/logs/topic-0/00000000000000000000.log
	vg="valgrind -q --tool=callgrind --collect-atstart=no"
	cg_run() { # NAME [ENV-ARGS...] -- [MANAGED_FILE]   ($thr: "-t" or empty)
		local name=$1; shift
		local envs=()
		while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
		mkdir -p "$cgd/$name" "$cgd/logs/topic-0"
		rm -rf "$shmw/cgpool"; mkdir -p "$shmw/cgpool"
		rm -f "$cgd/logs/.pafka-pools" "$managed"
		if ! env "${envs[@]}" $vg --callgrind-out-file="$cgd/$name/cg.out" \
			"$bin/bench_calls" $thr "$calls_n" "$cgd/files" "$@" >"$cgd/$name/stdout" 2>"$cgd/$name/stderr"; then
			say "FAILED: bench_calls ($name) exited non-zero:"; sed 's/^/    /' "$cgd/$name/stderr" | tee -a "$report"
			failed=1
		fi
		# One dump per call type: "desc: Trigger: Client Request: <type>" ... "totals: <Ir>"
		awk '/^desc: Trigger: Client Request:/ {n = $5} /^totals:/ {if (n != "") print n, $2; n = ""}' \
			"$cgd/$name"/cg.out.* >"$cgd/$name/totals" 2>/dev/null
	}
	sh_env=$(shim_env "$cgd" "$shmw/cgpool" 64M)
	# Main figures: the program has an idle extra thread, as a broker (a JVM) is always multi-threaded, so
	# glibc takes the same multi-thread syscall paths with and without the shim. Then the same pair for a
	# single-threaded program, where an active shim's own background threads switch glibc's paths too.
	thr=-t
	cg_run base -u LD_PRELOAD -- "$managed"
	cg_run active $sh_env LD_PRELOAD="$lib" -- "$managed"
	cg_run inert $sh_env LD_PRELOAD="$lib" --
	cg_run unconfigured LD_PRELOAD="$lib" --
	thr=
	cg_run base1 -u LD_PRELOAD -- "$managed"
	cg_run active1 $sh_env LD_PRELOAD="$lib" -- "$managed"
	grep -q 'pafka.*active' "$cgd/active/stderr" ||
		say "NOTE: the shim did not report activation in the 'active' run: $(head -3 "$cgd/active/stderr")"

	csv=$out/callgrind.csv
	echo "call,n,base_ir_per_call,active_extra,inert_extra,unconfigured_extra,base_1thread_ir_per_call,active_1thread_extra" >"$csv"
	awk -v n="$calls_n" -v csv="$csv" '
		FILENAME ~ /\/base\/totals$/ {b[$1] = $2; order[++k] = $1; next}
		FILENAME ~ /\/active\/totals$/ {a[$1] = $2; next}
		FILENAME ~ /\/inert\/totals$/ {i[$1] = $2; next}
		FILENAME ~ /\/unconfigured\/totals$/ {u[$1] = $2; next}
		FILENAME ~ /\/base1\/totals$/ {b1[$1] = $2; next}
		FILENAME ~ /\/active1\/totals$/ {a1[$1] = $2; next}
		function ex(x, base, c) { return (x[c] == "" || base[c] == "") ? "n/a" : sprintf("%+.1f", (x[c] - base[c]) / n) }
		END {
			print "| call (unmanaged fd) | baseline Ir/call | extra Ir/call, shim active | extra, shim inert | extra, no settings | active vs goal <= 25 | extra, active, 1-thread program |"
			print "| --- | ---: | ---: | ---: | ---: | --- | ---: |"
			for (j = 1; j <= k; j++) {
				c = order[j]
				e = (a[c] - b[c]) / n
				if (a[c] == "") goal = "n/a"
				else if (c == "open+close") goal = sprintf("%s (%.1f per call, 2 calls)", (e / 2 <= 25) ? "met" : "NOT met", e / 2)
				else goal = (e <= 25) ? "met" : "NOT met"
				printf "| %s | %.1f | %s | %s | %s | %s | %s |\n", c, b[c] / n, ex(a, b, c), ex(i, b, c), ex(u, b, c), goal, ex(a1, b1, c)
				printf "%s,%d,%.2f,%s,%s,%s,%s,%s\n", c, n, b[c] / n, ex(a, b, c), ex(i, b, c), ex(u, b, c),
					(b1[c] == "") ? "n/a" : sprintf("%.2f", b1[c] / n), ex(a1, b1, c) >> csv
			}
		}' "$cgd/base/totals" "$cgd/active/totals" "$cgd/inert/totals" "$cgd/unconfigured/totals" \
		"$cgd/base1/totals" "$cgd/active1/totals" | tee -a "$report"
	say ""
	say "Ir = instructions executed in user space (valgrind does not see the kernel), counted only inside"
	say "the N-call loop of each type (CALLGRIND_TOGGLE_COLLECT), after 1000 warm-up calls. baseline = same"
	say "program without LD_PRELOAD (loop + libc wrapper). The program runs with one extra idle thread, as a"
	say "broker (JVM) is always multi-threaded, so glibc takes its multi-thread system-call paths in every"
	say "variant. active = a managed segment opened first and kept open (the broker's case); inert = settings"
	say "present, no managed file touched yet; no settings = LD_PRELOAD alone. open+close is per pair. Last"
	say "column: a single-threaded program against its single-threaded baseline: there an active shim's own"
	say "background threads also switch glibc to its multi-thread paths, which shows up as extra. Compiler"
	say "flags of the shim matter (this build: $(sed -n 's/^CFLAGS = //p' "$(dirname "$(dirname "$lib_src")")/Makefile" 2>/dev/null | head -1))."
	say ""
	# Where the active run's extra instructions go: self cost of the shim's own functions, per call.
	attr=$out/callgrind-attribution.txt
	: >"$attr"
	k=1
	while read -r call _; do
		f=$cgd/active/cg.out.$k
		[ -f "$f" ] || f=$(ls "$cgd"/active/cg.out.*."$k" 2>/dev/null | head -1)
		if [ -n "$f" ] && [ -f "$f" ]; then
			line=$(awk -f "$here/cg-self.awk" "$f" | grep 'libpafka' | sort -k1,1nr | head -5 |
				awk -v n="$calls_n" '{printf "%s%s %.1f", sep, $3, $1 / n; sep = ", "}')
			printf '%s: %s\n' "$call" "$line" >>"$attr"
		fi
		k=$((k + 1))
	done <"$cgd/base/totals"
	say "Shim-side self instructions per call, active run (function Ir/call; the rest of the extra is the"
	say "libc entry the shim calls instead of the application's, e.g. openat for open):"
	say ""
	sed 's/^/    /' "$attr" | tee -a "$report"
	say ""
	cp "$cgd"/active/stderr "$out/callgrind-active.stderr" 2>/dev/null
fi

# ---------------------------------------------------------------- 2. data path
drop_caches() { [ "$drop" = 1 ] && sync && echo 3 >/proc/sys/vm/drop_caches; }
if [ "${BENCH_SKIP_DATAPATH:-0}" = 1 ]; then
	say "## 2. Data-path throughput: skipped (BENCH_SKIP_DATAPATH=1)"
else
	say "## 2. Data-path throughput (${size_mb} MiB per test; medians of $reps interleaved repetitions after $warm discarded)"
	say ""
	raw=$out/datapath-raw.csv
	errs=$out/datapath-stderr.txt
	echo "variant,rep,test,bytes,seconds,mib_per_s" >"$raw"
	: >"$errs"
	pool_mb=$((2 * size_mb + 32))
	seg=topic-0/00000000000000000000.log
	variants=(shim tmpfs disk)
	t_start=$(date +%s)
	for rep in $(seq $((1 - warm)) "$reps"); do # rep <= 0: warm-up, kept in the raw CSV, not in medians
		for j in 0 1 2; do # rotate the order each repetition
			v=${variants[$(((j + rep + 3 * warm - 1) % 3))]}
			d=$work/dp; s=$shmw/dp
			rm -rf "$d" "$s"; mkdir -p "$d/logs/topic-0" "$d/plain/topic-0" "$s/pool" "$s/plain/topic-0"
			drop_caches
			case $v in
			shim) cmd=(env $(shim_env "$d" "$s/pool" "${pool_mb}M") LD_PRELOAD="$lib") file=$d/logs/$seg ;;
			tmpfs) cmd=(env -u LD_PRELOAD) file=$s/plain/$seg ;;
			disk) cmd=(env -u LD_PRELOAD) file=$d/plain/$seg ;;
			esac
			echo "== $v rep $rep" >>"$errs"
			"${cmd[@]}" BENCH_COLD="$cold" "$bin/bench_datapath" "$v" "$rep" "$file" "$size_mb" >>"$raw" 2>"$work/err"
			rc=$?
			cat "$work/err" >>"$errs"
			if [ $rc -eq 0 ] && [ "$v" = shim ]; then # a new process must find the same bytes in the pool
				"${cmd[@]}" "$bin/bench_datapath" "$v" "$rep" "$file" "$size_mb" verify >/dev/null 2>"$work/err"
				rc=$?
				cat "$work/err" >>"$errs"
			fi
			if [ $rc -ne 0 ]; then
				failed=1
				if [ $rc -gt 128 ]; then why="killed by signal $((rc - 128))"; else why="exit $rc"; fi
				say "FAILED: bench_datapath $v rep $rep ($why):"
				grep -v '^pafka\[[0-9]*\]: \(created\|active\)' "$work/err" | tail -5 | sed 's/^/    /' | tee -a "$report"
			fi
			grep 'WARNING' "$work/err" | sed 's/^/    /' | tee -a "$report"
			rm -rf "$d" "$s"
		done
	done
	t_end=$(date +%s)
	sum=$out/datapath.csv
	md=$out/datapath.md
	# Median per (test, variant), then ratios. Rows keep the order of the first run's output.
	awk -F, 'NR > 1 && $2 > 0 {print $3 "," $1 "," $6}' "$raw" | sort -t, -k1,1 -k2,2 -k3,3g |
		awk -F, '{k = $1 "," $2; v[k, ++c[k]] = $3; if (!(k in seen)) {seen[k] = 1; keys[++nk] = k}}
			END {for (i = 1; i <= nk; i++) {k = keys[i]; n = c[k]
				m = (n % 2) ? v[k, (n + 1) / 2] : (v[k, n / 2] + v[k, n / 2 + 1]) / 2
				mn = v[k, 1]; mx = v[k, n]; print k "," m "," mn "," mx "," n}}' >"$work/med"
	order=$(awk -F, 'NR > 1 && !s[$3]++ {print $3}' "$raw")
	echo "test,shim_mib_s,tmpfs_mib_s,disk_mib_s,shim_over_tmpfs,shim_over_disk,runs,shim_min,shim_max,tmpfs_min,tmpfs_max,disk_min,disk_max" >"$sum"
	{
		echo "| test | shim MiB/s (min..max) | tmpfs MiB/s (min..max) | disk MiB/s (min..max) | shim/tmpfs | shim/disk |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: |"
		for t in $order; do
			awk -F, -v t="$t" -v sum="$sum" '
				$1 == t {m[$2] = $3; lo[$2] = $4; hi[$2] = $5; n = $6}
				function r(a, b) { return (a != "" && b != "" && b > 0) ? sprintf("%.2f", a / b) : "n/a" }
				function f(x) { return x == "" ? "n/a" : sprintf("%.0f", x) }
				function g(v) { return m[v] == "" ? "n/a" : sprintf("%.0f (%.0f..%.0f)", m[v], lo[v], hi[v]) }
				END {
					printf "| %s | %s | %s | %s | %s | %s |\n", t, g("shim"), g("tmpfs"), g("disk"),
						r(m["shim"], m["tmpfs"]), r(m["shim"], m["disk"])
					printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", t, m["shim"], m["tmpfs"], m["disk"],
						r(m["shim"], m["tmpfs"]), r(m["shim"], m["disk"]), n, lo["shim"], hi["shim"],
						lo["tmpfs"], hi["tmpfs"], lo["disk"], hi["disk"] >> sum
				}' "$work/med"
		done
	} >"$md"
	tee -a "$report" <"$md"
	say ""
	say "MiB/s = bytes / CLOCK_MONOTONIC seconds of the timed loop only (open, close, verification outside)."
	say "shim = LD_PRELOAD on a managed segment (bytes in the pool on tmpfs); tmpfs = no shim, file on $shm;"
	say "disk = no shim, file in $disk. Ratios > 1: the shim is faster. Writes: no fsync in the timed loop,"
	say "so disk writes are page-cache writes. Page cache: $( [ "$drop" = 1 ] && echo "sync + echo 3 > /proc/sys/vm/drop_caches before every run" || echo "NOT dropped between runs (not root or BENCH_DROP_CACHES=0)");"
	say "reads follow the writes, so disk/tmpfs reads are served from the page cache (warm) except"
	say "pread_seq_64k_cold $( [ "$cold" = 1 ] && echo "(after sync + drop_caches inside the run: disk reads from the device; tmpfs and the pool cannot be dropped)" || echo "(not run: needs root)")."
	say "write_1m_first includes the first touch of the pool mapping (shim). Every byte written was read back"
	say "and compared outside the timed loops (bench_datapath.c), and after each shim run a new process under"
	say "the shim re-read the final file from the pool and compared it. Data-path wall time: $((t_end - t_start)) s."
	say ""
fi

say "Files: $out/{report.md,callgrind.csv,callgrind-attribution.txt,datapath.csv,datapath-raw.csv,datapath.md,datapath-stderr.txt}"
if [ "$failed" != 0 ]; then
	say "RESULT: a bench program FAILED (see above): figures are incomplete"
	exit 1
fi
exit 0

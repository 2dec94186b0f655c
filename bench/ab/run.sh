#!/bin/bash
# bench/ab/run.sh - A/B benchmark: a real, unmodified Kafka broker with and without libpafka on emulated
# tiers, side by side in one invocation, interleaved, repeated; CSV/JSON, PNG plots and summary.md.
# Not part of `make check` (see bench/ab/README.md). Run as root, from anywhere:
#
#   bench/ab/run.sh                  # default run (3 repetitions, ~20-25 minutes on a 2-core VM)
#   BENCH_QUICK=1 bench/ab/run.sh    # ~5 minute smoke of the whole pipeline (1 repetition, small sizes)
#
# Tiers (set up here, torn down on any exit by the EXIT trap):
#   slow tier "HDD": ext4 on a loop device (backing file in BENCH_SLOW_DIR, direct I/O to the backing file),
#     throttled with cgroup v1 blkio (bps and iops, read and write) for the loop device's major:minor in the
#     bench's blkio group, which the broker runs in, AND in the root blkio group: cgroup v1 charges kernel
#     writeback (flusher threads, the ext4 journal) to the root group, so without the root rule buffered
#     writes would reach the "HDD" at the real disk's speed;
#   fast tier: tmpfs (/dev/shm) as the PMem stand-in, labelled so everywhere.
#   The script itself moves into a cpuacct-only cgroup (accounting, no limit), so the CPU that other
#   processes on the machine take during each scenario (the noise) is measured and reported.
#   The broker runs in a cgroup v1 memory group (BENCH_MEM_MB, JVM + page cache) so the page cache cannot
#   hide the slow tier. The shim's pool is created (posix_fallocate on tmpfs) by a short warm-up process
#   OUTSIDE that group before the broker starts: tmpfs pages are charged to the memory cgroup of the task
#   that allocates them and stay there, so the pool is not charged to the broker's limit (checked: the
#   group's shmem figure is recorded per run).
#
# Variants (order rotated every repetition): vanilla (log dir on the slow tier, no preload), shim
# (LD_PRELOAD, log.channel.type=tiered, same slow-tier log dir, pool on /dev/shm), ceiling (no preload,
# log dir on tmpfs), inert (LD_PRELOAD, log.channel.type=file, slow-tier log dir).
# Scenarios per broker run (1 KiB records, ProducerPerformance/ConsumerPerformance from Kafka's tools):
#   S1 sustained produce acks=1 and acks=all (time-bounded); S2 burst (fits the pool) then low rate;
#   S2slow the same burst with the slow tier throttled down to BENCH_S2_SLOW_BPS for its duration (a busy
#   HDD: with only 2 cores the CPU caps every variant near the default 150 MiB/s, so the default point
#   cannot show a disk-bound burst; this second point can);
#   S3 catch-up consumer over older data while a fixed-rate producer runs, against the same producer idle;
#   S4 flush.messages=1 (the topic-level form of log.flush.interval.messages=1);
#   S5 Kafka's default 1 GiB segments (a topic-level segment.bytes) on more partitions than fit in the pool as
#   whole segments, produced at full speed for several times the pool size: the segments stay active (never
#   sealed), so the shim keeps their newest bytes in the pool by demoting their cold heads; then the newest
#   BENCH_S5_RECENT_MB of the topic is read back (kcat, a relative offset from every partition's end).
#
# Environment (all optional; sizes in MiB unless stated):
#   BENCH_QUICK=1          small smoke preset (every knob below can still be set)
#   BENCH_REPS             repetitions of every variant (3; quick 1)
#   BENCH_VARIANTS         subset/order, comma list of vanilla,shim,ceiling,inert (all four)
#   BENCH_SCENARIOS        subset, comma list of s1,s2,s2slow,s3,s4,s5 (all)
#   BENCH_HDD_BPS          slow-tier bytes/s, read and write, K/M/G suffixes = 2^10.. (150M)
#   BENCH_HDD_IOPS         slow-tier I/Os per second, read and write (200)
#   BENCH_MEM_MB           broker memory cgroup limit incl. page cache (1536); ceiling: + BENCH_CEIL_MB
#   BENCH_HEAP_MB          broker heap, -Xms=-Xmx, pre-touched (768)
#   BENCH_POOL_MB          pool size on the fast tier (1536; quick 512)
#   BENCH_THRESHOLD        storage.migrate.threshold (0.5)
#   BENCH_SEGMENT_MB       log.segment.bytes (64; quick 32)   BENCH_PARTITIONS (3)   BENCH_RECORD_SIZE (1024)
#   BENCH_S1_SECS          S1 produce duration per acks setting (8; quick 4)
#   BENCH_S2_BURST_MB      S2 burst volume, must fit the pool (1024; quick 384)
#   BENCH_S2_LOW_MBS / BENCH_S2_LOW_SECS   S2 low phase rate and duration (8 / 12; quick 8 / 5)
#   BENCH_S2_SLOW_BPS      slow-tier bytes/s (read and write; IOPS unchanged) during S2slow (30M)
#   BENCH_S3_OLD_MB        S3 older data read by the catch-up consumer (1024; quick 256)
#   BENCH_S3_RATE_MBS / BENCH_S3_SECS      S3 producer rate and duration per phase (16 / 8; quick 8 / 4)
#   BENCH_S4_SECS          S4 produce duration (6; quick 4)
#   BENCH_S5_MB            S5 volume produced at full speed (3 x BENCH_POOL_MB: 4608; quick 1536). A volume, not a
#                          duration: ProducerPerformance prints its latency percentiles only when it completes
#                          its record count, and a known volume keeps the ceiling's tmpfs log dir within its budget
#   BENCH_S5_PARTITIONS    S5 partitions (6)   BENCH_S5_SEGMENT_MB  S5 topic's segment.bytes (1024, Kafka's default)
#   BENCH_S5_RECENT_MB     S5 newest data read back after the produce, in total over the partitions (256; quick 64)
#   BENCH_S5_RATE_MBS      S5 produce rate cap in MiB/s (0: full speed, the default). Below the slow tier's
#                          bandwidth (e.g. 100 with the default 150 MiB/s throttle) demotion can keep up, the
#                          condition of both S5 goals
#   BENCH_VERIFY_RECORDS   self-checking records produced first and verified last (20000; quick 5000)
#   BENCH_WARMUP_MB        unmeasured full-speed produce right after the broker starts (JIT) (256; quick 64)
#   BENCH_CEIL_MB          tmpfs budget of the ceiling's log dir, added to its memory limit (6144; quick 3072)
#   BENCH_SLOW_GB          slow-tier file system size (12; quick 6)     BENCH_SLOW_DIR (/var/tmp)
#   BENCH_SHM              the fast tier (/dev/shm)   BENCH_OUT (<repo>/bench/results)   BENCH_SAMPLE_S (1)
#   BENCH_SHIM_LOG_LEVEL   pafka.log.level of the shim variant (info)
#   BENCH_JSTACK_S         debugging: a broker thread dump (jcmd Thread.print) every N seconds into raw/ (0: off)
#   PAFKA_TEST_LIB         the shim (default <repo>/build/.libs/libpafka.so; a snapshot copy is used)
# Exit: 0 when every run completed (figures may still miss goals: benchmarks report, they do not judge);
# 1 on a missing prerequisite (one line naming the Debian package) or a setup failure; 3 when a run failed
# (broker crash, wrong data, stall, tool failure): the summary lists every anomaly.
set -u
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
die() { echo "bench/ab/run.sh: $*" >&2; exit 1; }

# ------------------------------------------------------------------ prerequisites (one line, exit 1)
[ "$(id -u)" = 0 ] || die "must run as root (it sets up a loop device, cgroups and mounts); try: sudo $0"
need() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: apt-get install $2"; }
need losetup mount; need mount mount; need umount mount; need mkfs.ext4 e2fsprogs
need java default-jre-headless; need kcat kcat; need python3 python3; need gnuplot gnuplot-nox
need dd coreutils; need gzip gzip; need timeout coreutils; need sha256sum coreutils; need sync coreutils; need awk gawk
[ -d /sys/fs/cgroup/blkio ] && [ -f /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device ] ||
	die "cgroup v1 blkio controller not mounted at /sys/fs/cgroup/blkio (this bench needs cgroup v1 blkio and memory)"
[ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
	die "cgroup v1 memory controller not mounted at /sys/fs/cgroup/memory (this bench needs cgroup v1 blkio and memory)"
echo 'set terminal pngcairo' | gnuplot >/dev/null 2>&1 ||
	die "gnuplot has no pngcairo terminal: apt-get install gnuplot-nox"

lib_src=${PAFKA_TEST_LIB:-$top/build/.libs/libpafka.so}
[ -f "$lib_src" ] || die "no shim at $lib_src (build it, or set PAFKA_TEST_LIB)"

# ------------------------------------------------------------------ settings
quick=${BENCH_QUICK:-0}
q() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }
reps=${BENCH_REPS:-$(q 3 1)}
variants=${BENCH_VARIANTS:-vanilla,shim,ceiling,inert}
scenarios=${BENCH_SCENARIOS:-s1,s2,s2slow,s3,s4,s5}
scenarios=$(echo "$scenarios" | tr -s ' ' ',') # "s1 s4" too: a space list used to run nothing
hdd_bps_s=${BENCH_HDD_BPS:-150M}
hdd_iops=${BENCH_HDD_IOPS:-200}
mem_mb=${BENCH_MEM_MB:-1536}
heap_mb=${BENCH_HEAP_MB:-768}
pool_mb=${BENCH_POOL_MB:-$(q 1536 512)}
threshold=${BENCH_THRESHOLD:-0.5}
seg_mb=${BENCH_SEGMENT_MB:-$(q 64 32)}
parts=${BENCH_PARTITIONS:-3}
rsize=${BENCH_RECORD_SIZE:-1024}
s1_secs=${BENCH_S1_SECS:-$(q 8 4)}
s2_burst_mb=${BENCH_S2_BURST_MB:-$(q 1024 384)}
s2_low_mbs=${BENCH_S2_LOW_MBS:-8}
s2_low_secs=${BENCH_S2_LOW_SECS:-$(q 12 5)}
s2slow_bps_s=${BENCH_S2_SLOW_BPS:-30M}
s3_old_mb=${BENCH_S3_OLD_MB:-$(q 1024 256)}
s3_rate_mbs=${BENCH_S3_RATE_MBS:-$(q 16 8)}
s3_secs=${BENCH_S3_SECS:-$(q 8 4)}
s4_secs=${BENCH_S4_SECS:-$(q 6 4)}
s5_mb=${BENCH_S5_MB:-$((3 * pool_mb))}
s5_parts=${BENCH_S5_PARTITIONS:-6}
s5_seg_mb=${BENCH_S5_SEGMENT_MB:-1024}
s5_recent_mb=${BENCH_S5_RECENT_MB:-$(q 256 64)}
s5_rate=${BENCH_S5_RATE_MBS:-0}
verify_n=${BENCH_VERIFY_RECORDS:-$(q 20000 5000)}
warmup_mb=${BENCH_WARMUP_MB:-$(q 256 64)}
ceil_mb=${BENCH_CEIL_MB:-$(q 6144 3072)}
slow_gb=${BENCH_SLOW_GB:-$(q 12 6)}
slow_dir=${BENCH_SLOW_DIR:-/var/tmp}
shm=${BENCH_SHM:-/dev/shm}
out_base=${BENCH_OUT:-$top/bench/results}
sample_s=${BENCH_SAMPLE_S:-1}
shim_log=${BENCH_SHIM_LOG_LEVEL:-info}
jstack_s=${BENCH_JSTACK_S:-0}

num() { case $2 in '' | *[!0-9]*) die "$1 must be a whole number (got '$2')" ;; esac; }
for v in reps:$reps hdd_iops:$hdd_iops mem_mb:$mem_mb heap_mb:$heap_mb pool_mb:$pool_mb seg_mb:$seg_mb \
	parts:$parts rsize:$rsize s1_secs:$s1_secs s2_burst_mb:$s2_burst_mb s2_low_mbs:$s2_low_mbs \
	s2_low_secs:$s2_low_secs s3_old_mb:$s3_old_mb s3_rate_mbs:$s3_rate_mbs s3_secs:$s3_secs s4_secs:$s4_secs \
	s5_mb:$s5_mb s5_parts:$s5_parts s5_seg_mb:$s5_seg_mb s5_recent_mb:$s5_recent_mb \
	verify_n:$verify_n warmup_mb:$warmup_mb ceil_mb:$ceil_mb slow_gb:$slow_gb jstack_s:$jstack_s; do
	num "${v%%:*}" "${v#*:}"
done
[ "$reps" -ge 1 ] || die "BENCH_REPS must be >= 1"
# bytes NAME VALUE: a byte count with an optional K/M/G suffix (powers of 2).
bytes() {
	case $2 in
	[0-9]*[kK]) echo $((${2%?} << 10)) ;; [0-9]*[mM]) echo $((${2%?} << 20)) ;; [0-9]*[gG]) echo $((${2%?} << 30)) ;;
	'' | *[!0-9]*) die "$1: a number with an optional K/M/G suffix (got '$2')" ;;
	*) echo "$2" ;;
	esac
}
hdd_bps=$(bytes BENCH_HDD_BPS "$hdd_bps_s") || exit 1
s2slow_bps=$(bytes BENCH_S2_SLOW_BPS "$s2slow_bps_s") || exit 1
[ "$hdd_bps" -gt 0 ] && [ "$s2slow_bps" -gt 0 ] || die "BENCH_HDD_BPS and BENCH_S2_SLOW_BPS must be > 0"
for v in ${variants//,/ }; do case $v in vanilla | shim | ceiling | inert) ;; *) die "BENCH_VARIANTS: unknown variant '$v'" ;; esac; done
for s in ${scenarios//,/ }; do case $s in s1 | s2 | s2slow | s3 | s4 | s5) ;; *) die "BENCH_SCENARIOS: unknown scenario '$s'" ;; esac; done
has_scn() { case ",$scenarios," in *",$1,"*) return 0 ;; esac; return 1; }
[ "$s2_burst_mb" -lt "$pool_mb" ] || echo "bench/ab/run.sh: note: BENCH_S2_BURST_MB ($s2_burst_mb) does not fit the pool ($pool_mb)" >&2
if has_scn s5; then
	[ "$s5_parts" -ge 1 ] && [ "$s5_seg_mb" -ge 1 ] || die "BENCH_S5_PARTITIONS and BENCH_S5_SEGMENT_MB must be >= 1"
	case $s5_rate in '' | *[!0-9]*) die "BENCH_S5_RATE_MBS ($s5_rate) must be a whole number of MiB/s (0: full speed)" ;; esac
	[ "$s5_recent_mb" -lt "$s5_mb" ] || die "BENCH_S5_RECENT_MB ($s5_recent_mb) must be less than BENCH_S5_MB ($s5_mb)"
	case ",$variants," in *,ceiling,*) [ $((s5_mb + 512)) -le "$ceil_mb" ] ||
		die "BENCH_S5_MB ($s5_mb) does not fit the ceiling's tmpfs log dir budget BENCH_CEIL_MB ($ceil_mb) with 512 MiB to spare" ;; esac
	[ $((s5_mb + 2048)) -le $((slow_gb << 10)) ] || die "BENCH_S5_MB ($s5_mb) does not fit the slow tier (BENCH_SLOW_GB $slow_gb) with 2 GiB to spare"
	[ $((s5_mb / s5_parts)) -lt "$s5_seg_mb" ] || echo "bench/ab/run.sh: note: BENCH_S5_MB / BENCH_S5_PARTITIONS ($((s5_mb / s5_parts)) MiB) reaches BENCH_S5_SEGMENT_MB ($s5_seg_mb): S5's segments roll (sealed segments are demoted whole)" >&2
	[ "$s5_mb" -gt "$pool_mb" ] || echo "bench/ab/run.sh: note: BENCH_S5_MB ($s5_mb) fits the pool ($pool_mb): S5 then shows no head demotion" >&2
fi
[ $((heap_mb + 256)) -lt "$mem_mb" ] || die "BENCH_MEM_MB ($mem_mb) must exceed BENCH_HEAP_MB ($heap_mb) by more than 256"

# Only our own settings reach the shim: drop any PAFKA_* setting inherited from the caller's shell.
for v in $(env | sed -n 's/^\(PAFKA_[A-Za-z0-9_]*\)=.*/\1/p'); do
	case $v in PAFKA_TEST_* | PAFKA_TOP_* | PAFKA_SMOKE_* | PAFKA_FAULT* | PAFKA_CACHE | PAFKA_LIB) ;; *) unset "$v" ;; esac
done
unset LD_PRELOAD KAFKA_HOME

# ------------------------------------------------------------------ state + teardown (EXIT trap)
ts=$(date '+%Y%m%d-%H%M%S')
res=$out_base/ab-$ts
rep=- variant=- raw='' pending_delete=''
work='' shmw='' loopdev='' mnt='' blkcg='' memcg='' cpucg='' cpucg_home='' blk_root_rules=0 sampler_pid='' bg_pids=''
T0=$SECONDS
note() { printf '# [%4ds] %s\n' $((SECONDS - T0)) "$*" | tee -a "$res/run.log" >&2; }

# kill_tree PID: SIGTERM (then SIGKILL) PID and its descendants (processes this script started).
kill_tree() {
	local p=$1 c kids=
	[ -n "$p" ] && [ -d "/proc/$p" ] || return 0
	for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do kids="$kids $c"; done
	kill -TERM "$p" 2>/dev/null
	for c in $kids; do kill_tree "$c"; done
}

cleanup() {
	local rc=$? i p
	trap - EXIT INT TERM
	set +e
	[ -n "$sampler_pid" ] && kill_tree "$sampler_pid"
	for p in $bg_pids; do kill_tree "$p"; done
	if declare -F kafka_alive >/dev/null && kafka_alive; then
		note "teardown: stopping the broker (pid $KAFKA_PID)"
		kafka_stop 30 >/dev/null 2>&1 || kafka_kill >/dev/null 2>&1
	fi
	# anything still in our cgroups was started by this script (the broker and its children)
	for cg in "$memcg" "$blkcg"; do
		[ -n "$cg" ] && [ -d "$cg" ] || continue
		for i in 1 2 3 4 5 6 7 8 9 10; do
			[ -s "$cg/cgroup.procs" ] || break
			sig=TERM; [ "$i" -gt 5 ] && sig=KILL
			for p in $(cat "$cg/cgroup.procs"); do kill -"$sig" "$p" 2>/dev/null; done
			sleep 1
		done
	done
	if [ -n "$loopdev" ] && [ "$blk_root_rules" = 1 ]; then
		local mm
		mm=$(cat "/sys/block/${loopdev#/dev/}/dev" 2>/dev/null)
		for f in read_bps_device write_bps_device read_iops_device write_iops_device; do
			[ -n "$mm" ] && echo "$mm 0" >"/sys/fs/cgroup/blkio/blkio.throttle.$f" 2>/dev/null
		done
	fi
	[ -n "$memcg" ] && [ -d "$memcg" ] && { echo 1 >"$memcg/memory.force_empty" 2>/dev/null; rmdir "$memcg" 2>/dev/null || echo "teardown: could not remove $memcg" >&2; }
	[ -n "$blkcg" ] && [ -d "$blkcg" ] && { rmdir "$blkcg" 2>/dev/null || echo "teardown: could not remove $blkcg" >&2; }
	if [ -n "$cpucg" ] && [ -d "$cpucg" ]; then
		echo $$ >"$cpucg_home/cgroup.procs" 2>/dev/null
		for p in $(cat "$cpucg/cgroup.procs" 2>/dev/null); do echo "$p" >"$cpucg_home/cgroup.procs" 2>/dev/null; done
		rmdir "$cpucg" 2>/dev/null || echo "teardown: could not remove $cpucg" >&2
	fi
	if [ -n "$mnt" ] && mountpoint -q "$mnt"; then
		umount "$mnt" 2>/dev/null || { sleep 2; umount "$mnt" 2>/dev/null; } || umount -l "$mnt" || echo "teardown: could not unmount $mnt" >&2
	fi
	[ -n "$loopdev" ] && { losetup -d "$loopdev" 2>/dev/null || echo "teardown: could not detach $loopdev" >&2; }
	[ -n "$shmw" ] && rm -rf "$shmw"
	[ -n "$work" ] && rm -rf "$work"
	[ -d "$res" ] && echo "results: $res" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$res/raw" || die "cannot create $res"
: >"$res/run.log"
work=$(mktemp -d "$slow_dir/pafka-ab.XXXXXX") || die "cannot create a work dir in $slow_dir"
shmw=$(mktemp -d "$shm/pafka-ab.XXXXXX") || die "cannot create a dir in $shm"
lib=$work/libpafka.so
cp "$lib_src" "$lib" || die "cannot copy $lib_src"
meta=$res/meta.tsv
: >"$meta"
m() { printf '%s\t%s\n' "$1" "$2" >>"$meta"; }

# ------------------------------------------------------------------ Kafka (cache or Maven Central)
# shellcheck source=tests/kafka/kafka.sh
. "$top/tests/kafka/kafka.sh"
if [ ! -f "$PAFKA_CACHE/kafka-$KAFKA_VERSION/.complete" ]; then need mvn maven; fi
KAFKA_QUIET=1
kafka_fetch || die "could not fetch Kafka $KAFKA_VERSION (Maven Central unreachable?); see $PAFKA_CACHE/kafka-$KAFKA_VERSION/fetch.log"
# kafka.sh's KAFKA_HOME mode starts the broker with $KAFKA_HOME/bin/kafka-server-start.sh: ours joins the
# cgroups and execs the JVM (so $! is the JVM, as with a distribution).
khome=$work/kafka-home
mkdir -p "$khome/bin" && ln -s "$KAFKA_LIBS" "$khome/libs" && cp "$here/kafka-server-start.sh" "$khome/bin/" &&
	chmod +x "$khome/bin/kafka-server-start.sh" || die "cannot set up $khome"
tool_libs=$KAFKA_LIBS

# ------------------------------------------------------------------ slow tier: ext4 on a throttled loop device
note "slow tier: ${slow_gb} GiB ext4 on a loop device in $slow_dir"
truncate -s "${slow_gb}G" "$work/slow.img" || die "cannot create $work/slow.img"
loopdev=$(losetup --direct-io=on -f --show "$work/slow.img") || die "losetup failed (is the loop module available?)"
ldev=${loopdev#/dev/}
dio=$(cat "/sys/block/$ldev/loop/dio" 2>/dev/null || echo 0)
[ "$dio" = 1 ] || note "WARNING: $loopdev does not use direct I/O to its backing file (the host page cache may serve it)"
mkfs.ext4 -q -F -N 65536 -E lazy_itable_init=0,lazy_journal_init=0 "$loopdev" || die "mkfs.ext4 on $loopdev failed"
mnt=$work/slow
mkdir -p "$mnt" && mount -o noatime "$loopdev" "$mnt" || die "cannot mount $loopdev"
majmin=$(cat "/sys/block/$ldev/dev")

mycg() { sed -n "s/^[0-9]*:\([^:]*,\)\{0,1\}$1\(,[^:]*\)\{0,1\}:\(.*\)/\3/p" /proc/self/cgroup | head -n1; }
blkcg=/sys/fs/cgroup/blkio$(mycg blkio)
blkcg=${blkcg%/}/pafka-ab-$$
memcg=/sys/fs/cgroup/memory$(mycg memory)
memcg=${memcg%/}/pafka-ab-$$
mkdir "$blkcg" || { blkcg=; die "cannot create blkio cgroup"; }
mkdir "$memcg" || { memcg=; die "cannot create memory cgroup"; }
# set_bps BYTES_PER_S: the slow tier's bandwidth limit, read and write, in the bench's group and the root
# group (kernel writeback); S2slow lowers it for its duration.
set_bps() {
	local f
	for f in read_bps_device write_bps_device; do
		echo "$majmin $1" >"$blkcg/blkio.throttle.$f" || die "cannot set $blkcg/blkio.throttle.$f"
		[ "$blk_root_rules" = 1 ] || continue
		echo "$majmin $1" >"/sys/fs/cgroup/blkio/blkio.throttle.$f" || die "cannot set the root blkio rule"
	done
}
blk_root_rules=1 # from here on the EXIT trap removes the root group's rules too
set_bps "$hdd_bps"
for f in read_iops_device write_iops_device; do
	echo "$majmin $hdd_iops" >"$blkcg/blkio.throttle.$f" || die "cannot set $blkcg/blkio.throttle.$f"
done
for f in read_iops_device write_iops_device; do echo "$majmin $hdd_iops" >"/sys/fs/cgroup/blkio/blkio.throttle.$f" || die "cannot set the root blkio rule"; done
echo 1 >"$memcg/memory.use_hierarchy" 2>/dev/null
export BENCH_CG_BLKIO=$blkcg BENCH_CG_MEM=$memcg
# CPU accounting only (no limit): this script and everything it starts, so that the CPU other processes on
# the machine use during a scenario (the noise) can be reported
if [ -f /sys/fs/cgroup/cpuacct/cpuacct.usage ]; then
	cpucg_home=/sys/fs/cgroup/cpuacct$(mycg cpuacct)
	cpucg_home=${cpucg_home%/}
	if mkdir "$cpucg_home/pafka-ab-$$" 2>/dev/null; then
		cpucg=$cpucg_home/pafka-ab-$$
		echo $$ >"$cpucg/cgroup.procs" || cpucg=''
	fi
fi

# Does the throttle hold? (in the broker's blkio group, and kernel writeback in the root group)
ingrp() { bash -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$blkcg" "$@"; }
ddmbs() { sed -n 's/.* copied, \([0-9.]*\) s, .*/\1/p' | tail -n1; }
chk_mb=$(((hdd_bps >> 20) * 2)); [ "$chk_mb" -lt 16 ] && chk_mb=16; [ "$chk_mb" -gt 512 ] && chk_mb=512
chk_mb=$(((chk_mb + 3) / 4 * 4))
secs=$(ingrp dd if=/dev/zero of="$mnt/ddcheck" bs=4M count=$((chk_mb / 4)) oflag=direct 2>&1 | ddmbs)
w_direct=$(awk -v b="$chk_mb" -v s="$secs" 'BEGIN {printf "%.1f", (s > 0) ? b / s : 0}')
secs=$(ingrp dd if="$mnt/ddcheck" of=/dev/null bs=4M iflag=direct 2>&1 | ddmbs)
r_direct=$(awk -v b="$chk_mb" -v s="$secs" 'BEGIN {printf "%.1f", (s > 0) ? b / s : 0}')
rm -f "$mnt/ddcheck"; sync -f "$mnt"
t1=$EPOCHREALTIME
ingrp dd if=/dev/zero of="$mnt/ddcheck" bs=1M count="$chk_mb" 2>/dev/null
sync -f "$mnt"   # writeback by this (root-group) process and the flusher: the root rule
t2=$EPOCHREALTIME
w_buffered=$(awk -v b="$chk_mb" -v a="$t1" -v c="$t2" 'BEGIN {printf "%.1f", b / (c - a)}')
rm -f "$mnt/ddcheck"; sync -f "$mnt"
n_iops=$((hdd_iops * 2))
secs=$(ingrp dd if=/dev/zero of="$mnt/ddcheck" bs=4k count="$n_iops" oflag=direct 2>&1 | ddmbs)
iops=$(awk -v n="$n_iops" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0) ? n / s : 0}')
rm -f "$mnt/ddcheck"; sync -f "$mnt"
limit_mib=$(awk -v b="$hdd_bps" 'BEGIN {printf "%.1f", b / 1048576}')
note "throttle check on $loopdev ($majmin), limit $limit_mib MiB/s and $hdd_iops IOPS: 4 MiB O_DIRECT writes in the group $w_direct MiB/s, 4 MiB O_DIRECT reads $r_direct MiB/s, buffered write + sync (kernel writeback) $w_buffered MiB/s, 4 KiB O_DIRECT writes $iops IOPS"

# ------------------------------------------------------------------ metadata
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
m date "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"; m host "$(uname -n)"; m nproc "$(nproc)"
m mem_total "$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"; m kernel "$(uname -r)"; m cpu "${cpu:-unknown}"
m loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)"
m shim "$lib_src"; m shim_sha256 "$(sha256sum "$lib" | cut -c1-12)"; m shim_built "$(date -u -r "$lib_src" '+%Y-%m-%d %H:%M:%S UTC')"
m kafka_version "$KAFKA_VERSION"; m java "$(java -version 2>&1 | head -n1)"
m fast_tier "tmpfs ($shm) standing in for PMem"
m slow_tier "ext4 on $loopdev (${slow_gb} GiB file in $slow_dir, loop direct I/O $dio), cgroup v1 blkio throttle $limit_mib MiB/s + $hdd_iops IOPS read and write (broker group and root group)"
m hdd_bps "$hdd_bps"; m hdd_iops "$hdd_iops"; m s2slow_bps "$s2slow_bps"
m check_dd_block 4M; m check_write_direct_mibs "$w_direct"; m check_read_direct_mibs "$r_direct"; m check_write_buffered_sync_mibs "$w_buffered"; m check_iops_4k "$iops"
m mem_limit_mb "$mem_mb"; m heap_mb "$heap_mb"; m ceil_tmpfs_mb "$ceil_mb"; m pool_mb "$pool_mb"; m threshold "$threshold"
m segment_mb "$seg_mb"; m partitions "$parts"; m record_size "$rsize"; m reps "$reps"; m quick "$quick"
m variants "$variants"; m scenarios "$scenarios"; m s1_secs "$s1_secs"; m s2_burst_mb "$s2_burst_mb"
m s2_low_mbs "$s2_low_mbs"; m s2_low_secs "$s2_low_secs"; m s3_old_mb "$s3_old_mb"; m s3_rate_mbs "$s3_rate_mbs"
m s3_secs "$s3_secs"; m s4_secs "$s4_secs"; m s5_mb "$s5_mb"; m s5_partitions "$s5_parts"; m s5_segment_mb "$s5_seg_mb"
m s5_recent_mb "$s5_recent_mb"; m s5_rate_mbs "$s5_rate"; m verify_records "$verify_n"; m sample_s "$sample_s"; m warmup_mb "$warmup_mb"

# ------------------------------------------------------------------ call census (the inert goal)
# What the inert shim costs cannot be read off throughput on a shared 2-core machine (the repetitions
# spread far wider than 1 %), so it is also derived: the kernel's syscall tracepoints count, through perf
# stat, the calls of the families the shim wraps that the broker makes during the unmeasured warm-up
# (calls per MiB produced), and bench/run-micro.sh's callgrind part measures the shim's extra instructions
# per call; analyze.py multiplies the two and sets them against the broker's CPU per MiB. Counting syscalls
# over-counts (libc-internal calls are in it too), which only makes the bound more conservative.
census_events='' census_pid=''
if command -v perf >/dev/null 2>&1 && perf stat -e syscalls:sys_enter_write -- true >/dev/null 2>&1; then
	for e in read write pread64 pwrite64 readv writev preadv pwritev preadv2 pwritev2 lseek newfstat newfstatat \
		statx openat close sendfile64 copy_file_range splice fsync fdatasync sync_file_range ftruncate fallocate \
		mmap munmap msync rename renameat renameat2 unlink unlinkat fcntl dup dup2 dup3; do
		census_events="$census_events${census_events:+,}syscalls:sys_enter_$e"
	done
else
	note "no call census: perf with the syscall tracepoints is not available (apt-get install linux-perf; needs tracefs)"
fi
if [ -n "$census_events" ] && command -v valgrind >/dev/null 2>&1; then
	note "callgrind: the shim's extra instructions per interposed call (bench/run-micro.sh, about a minute)"
	BENCH_SKIP_DATAPATH=1 BENCH_OUT="$res/micro" PAFKA_TEST_LIB="$lib" bash "$top/bench/run-micro.sh" \
		>"$res/micro.log" 2>&1 || note "bench/run-micro.sh failed (see micro.log): no derived inert cost"
elif [ -n "$census_events" ]; then
	note "no derived inert cost: valgrind is not installed (apt-get install valgrind)"
fi
# census_start FILE / census_stop: count the broker's calls (every thread it has now) until stopped.
census_start() {
	[ -n "$census_events" ] || return 0
	(ulimit -n 1048576 2>/dev/null; exec perf stat -x, -e "$census_events" -p "$KAFKA_PID" -o "$1") &
	census_pid=$!
	bg_pids="$bg_pids $census_pid"
}
census_stop() {
	[ -n "$census_pid" ] || return 0
	kill -INT "$census_pid" 2>/dev/null
	wait "$census_pid" 2>/dev/null
	bg_pids=${bg_pids/ $census_pid/}
	census_pid=
}

# ------------------------------------------------------------------ helpers for one broker run
props_opt=--producer-props
kafka_tool_has_opt org.apache.kafka.tools.ProducerPerformance --command-property && props_opt=--command-property
nrec_opt=--messages
kafka_tool_has_opt org.apache.kafka.tools.ConsumerPerformance --num-records && nrec_opt=--num-records

stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
ev() { printf '%s,%s,%s\n' "$EPOCHREALTIME" "$1" "$2" >>"$raw/events.csv"; }
anomaly() { printf '%s\t%s\t%s\n' "$rep" "$variant" "$*" >>"$res/anomalies.tsv"; note "ANOMALY ($variant, rep $rep): $*"; }
mb2rec() { echo $((($1 << 20) / rsize)); }

# prod OUT TOPIC RECORDS RATE ACKS TIMEOUT [WARMUP]: ProducerPerformance, 1 s reports, stamped lines.
# Returns the tool's status (124: stopped by the timeout, which is how time-bounded runs end).
prod() {
	local o=$1 t=$2 n=$3 rate=$4 acks=$5 tmo=$6 warm=${7:-0} st
	local -a w=()
	[ "$warm" -gt 0 ] && w=(--warmup-records "$warm")
	touch "$raw/.producing"   # for the sampler's stall detector
	KAFKA_TOOL_TIMEOUT=$tmo kafka_java org.apache.kafka.tools.ProducerPerformance --topic "$t" --num-records "$n" \
		--record-size "$rsize" --throughput "$rate" --reporting-interval 1000 "${w[@]}" "$props_opt" \
		bootstrap.servers="$KAFKA_BOOTSTRAP" acks="$acks" linger.ms=10 batch.size=262144 compression.type=none \
		2>&1 | stamp >"$o"
	st=${PIPESTATUS[0]}
	rm -f "$raw/.producing"
	return "$st"
}
# prod_n: record-count-bound; anything but success is an anomaly (a timeout here is a stall).
prod_n() {
	local o=$1 st
	prod "$@"; st=$?
	[ "$st" = 0 ] || anomaly "ProducerPerformance $(basename "$o") exited with status $st$([ "$st" = 124 ] && echo ' (timeout: stall?)'): $(grep -v ' records sent' "$o" | tail -n 2 | cut -d' ' -f2- | tr '\n' ' ')"
	grep -q ' records sent, .* 99th' "$o" || anomaly "no summary line in $(basename "$o")"
	return "$st"
}
# prod_t: time-bounded (ended by the timeout; callers add 2 s for the tool's JVM start).
prod_t() {
	local o=$1 st
	prod "$@"; st=$?
	[ "$st" = 0 ] || [ "$st" = 124 ] || anomaly "ProducerPerformance $(basename "$o") exited with status $st: $(tail -n 2 "$o" | cut -d' ' -f2- | tr '\n' ' ')"
	[ "$(grep -c ' records sent' "$o")" -ge 2 ] || anomaly "$(basename "$o"): fewer than 2 progress lines (stall?)"
}
topic_create() { # TOPIC PARTITIONS [--config k=v]
	local t=$1 n=$2; shift 2
	kafka_topic_create "$t" "$n" "$@" 2>>"$raw/errors.txt" || { anomaly "creating topic $t failed"; return 1; }
}
# topic_delete TOPIC...: delete (one tool run), and wait until their directories (incl. -delete renames) are gone.
topic_delete() {
	local start=$SECONDS t re
	re=$(IFS='|'; echo "$*")
	kafka_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BOOTSTRAP" --delete --topic "$re" \
		>>"$raw/topic-delete.out" 2>&1 || anomaly "deleting topics $re failed"
	for t in "$@"; do
		while compgen -G "$logdir/$t-[0-9]*" >/dev/null; do
			[ $((SECONDS - start)) -ge 90 ] && { anomaly "topic $t: directories still present 90 s after deletion"; return 1; }
			sleep 0.5
		done
	done
}
broker_ok() {
	kafka_alive && return 0
	anomaly "the broker died during $1 (see raw/$(basename "$raw")/broker.out)"
	return 1
}

# ------------------------------------------------------------------ scenarios
run_s1() {
	local a
	for a in 1 all; do
		local t=s1-acks$a
		ev "$t" start
		prod_t "$raw/$t.out" s1 1000000000 -1 "$a" $((s1_secs + 2))
		ev "$t" end
		broker_ok "$t" || return 1
	done
	pending_delete="$pending_delete s1"
}
# burst TAG: S2's burst then low phase, into topic TAG (events and files are named after TAG too).
burst() {
	local t=$1 n_b n_l
	n_b=$(mb2rec "$s2_burst_mb"); n_l=$(($(mb2rec "$s2_low_mbs") * s2_low_secs))
	ev "$t" start
	ev "$t" burst-start
	prod_n "$raw/$t-burst.out" "$t" "$n_b" -1 1 $((60 + s2_burst_mb / 4)) $((n_b / 10))
	ev "$t" burst-end
	broker_ok "$t" || return 1
	ev "$t" low-start
	prod_n "$raw/$t-low.out" "$t" "$n_l" "$(mb2rec "$s2_low_mbs")" 1 $((60 + s2_low_secs * 3))
	ev "$t" low-end
	ev "$t" end
	broker_ok "$t" || return 1
	pending_delete="$pending_delete $t"
}
run_s2() { burst s2; }
# The same burst on a slower disk. It starts from a clean slate at the default rate (dirty pages written
# back, the shim's pool settled under its threshold) so the backlog of the scenario before does not eat the
# lowered budget, and the default rate comes back when it ends, whatever happened.
run_s2slow() {
	settle
	set_bps "$s2slow_bps"
	burst s2slow
	local st=$?
	set_bps "$hdd_bps"
	return "$st"
}
# settle: migration settled (the shim's pool back under its threshold, up to 120 s) and every dirty page of
# the log dir written back to the slow tier.
settle() {
	if [ -n "$pooldir" ]; then
		local s0=$SECONDS
		while [ $((SECONDS - s0)) -lt 120 ]; do
			[ "$(python3 "$here/sampler.py" --once "$pooldir" | awk '{print $3}')" = 0 ] && break
			sleep 1
		done
	fi
	timeout 180 sync -f "$logdir" 2>/dev/null
}
run_s3() {
	local n_old rate n_p warm deadline cpid
	n_old=$(mb2rec "$s3_old_mb"); rate=$(mb2rec "$s3_rate_mbs"); n_p=$((rate * s3_secs)); warm=$((rate * 2))
	[ "$warm" -ge "$n_p" ] && warm=$((n_p / 4))
	ev s3 start
	ev s3 load-start
	prod_n "$raw/s3-load.out" s3 "$n_old" -1 1 $((60 + s3_old_mb / 4)) || return 1
	ev s3 load-end
	# Older data at rest: written back to the slow tier and out of the broker's page cache; for the shim,
	# migration settled (the pool back under its threshold).
	settle
	python3 - "$logdir" <<-'EOF'
		import os, sys
		for d, _, fs in os.walk(sys.argv[1]):
		    for n in fs:
		        if n.endswith(".log"):
		            try:
		                fd = os.open(os.path.join(d, n), os.O_RDONLY)
		                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
		                os.close(fd)
		            except OSError:
		                pass
	EOF
	ev s3 settled
	broker_ok s3 || return 1
	ev s3 idle-start
	prod_n "$raw/s3-idle.out" s3 "$n_p" "$rate" 1 $((60 + s3_secs * 3)) "$warm"
	ev s3 idle-end
	# catch-up consumers from the beginning (a new group per pass) until the loaded producer is done; they
	# start with it (both JVMs need ~2 s; the producer's first 2 s are its warm-up records, not in the figures)
	deadline=$((SECONDS + s3_secs + 60))
	(
		i=0
		while [ "$SECONDS" -lt "$deadline" ] && [ ! -e "$raw/.s3-stop" ]; do
			i=$((i + 1))
			KAFKA_TOOL_TIMEOUT=$((deadline - SECONDS + 1)) kafka_java org.apache.kafka.tools.ConsumerPerformance \
				--bootstrap-server "$KAFKA_BOOTSTRAP" --topic s3 "$nrec_opt" "$n_old" --timeout 30000 \
				--group "ab-s3-$rep-$i" --show-detailed-stats --reporting-interval 1000 2>&1 | stamp >"$raw/s3-consumer-$i.out"
		done
	) &
	cpid=$!
	bg_pids="$bg_pids $cpid"
	ev s3 loaded-start
	prod_n "$raw/s3-loaded.out" s3 "$n_p" "$rate" 1 $((60 + s3_secs * 3)) "$warm"
	ev s3 loaded-end
	touch "$raw/.s3-stop"
	kill_tree "$cpid"
	wait "$cpid" 2>/dev/null
	rm -f "$raw/.s3-stop"
	bg_pids=${bg_pids/ $cpid/}
	ev s3 end
	grep -hqE '^[0-9.]+ [0-9]{4}-[0-9]{2}-[0-9]{2}' "$raw"/s3-consumer-*.out 2>/dev/null || anomaly "S3: the catch-up consumer reported no progress"
	grep -hiE 'Exception|CorruptRecord|ERROR' "$raw"/s3-consumer-*.out 2>/dev/null | grep -v 'WakeupException\|InterruptException' | head -n 3 |
		while IFS= read -r l; do anomaly "S3 consumer: ${l#* }"; done
	broker_ok s3 || return 1
	pending_delete="$pending_delete s3"
}
run_s4() {
	ev s4 start
	census_start "$raw/s4.census" # where a flush goes: fsync and msync calls per MiB, every variant
	prod_t "$raw/s4.out" s4 1000000000 -1 1 $((s4_secs + 2))
	census_stop
	ev s4 end
	broker_ok s4 || return 1
	pending_delete="$pending_delete s4"
}
# S5: Kafka's default segment size on more partitions than fit in the pool as whole segments. The topic gets
# its own segment.bytes (the broker's log.segment.bytes stays for the other scenarios), BENCH_S5_MB is produced
# at full speed (acks=1; several times the pool, under one segment per partition, so every segment stays
# active: only head demotion can make room in the pool), then the newest BENCH_S5_RECENT_MB of the topic is read
# back at once, the same share from every partition: what a consumer that keeps up reads next.
run_s5() {
	local n warm per tmo t1 t2 st got
	n=$(mb2rec "$s5_mb"); warm=$((n / 10)); per=$(($(mb2rec "$s5_recent_mb") / s5_parts))
	settle # a clean slate: the previous scenario's writeback and migration do not eat into this one
	topic_create s5 "$s5_parts" --config segment.bytes=$((s5_seg_mb << 20)) || return 1
	ev s5 start
	local rate=-1
	[ "$s5_rate" -gt 0 ] && rate=$(((s5_rate << 20) / rsize))
	prod_n "$raw/s5.out" s5 "$n" "$rate" 1 $((60 + s5_mb / 4 + (s5_rate > 0 ? 2 * s5_mb / s5_rate : 0))) "$warm"
	ev s5 produce-end
	broker_ok s5 || return 1
	# every partition from PER records before its end to its end; '%p %o %S': partition, offset, value bytes
	tmo=$((60 + s5_recent_mb / 4))
	ev s5 recent-start
	t1=$EPOCHREALTIME
	LD_PRELOAD='' timeout "$tmo" kcat -C -b "$KAFKA_BOOTSTRAP" -t s5 -o "-$per" -e -q -f '%p %o %S\n' \
		-X fetch.wait.max.ms=100 >"$work/s5-recent.txt" 2>>"$raw/errors.txt"
	st=$?
	t2=$EPOCHREALTIME
	ev s5 recent-end
	# the produced count (acknowledged records) is every partition's end offset summed (the topic is new)
	got=$(sed -n 's/^[0-9.]* \([0-9]*\) records sent, .*99th.*/\1/p' "$raw/s5.out" | head -n1)
	awk -v per="$per" -v parts="$s5_parts" -v produced="${got:-}" -v st="$st" -v t1="$t1" -v t2="$t2" '
		{ o = $2 + 0; n[$1]++; b += $3; if (!($1 in lo) || o < lo[$1]) lo[$1] = o; if (!($1 in hi) || o > hi[$1]) hi[$1] = o }
		END {
			bad = ""; np = 0; ends = 0
			for (p in n) {
				np++; ends += hi[p] + 1
				if (n[p] != per) bad = bad sprintf(" partition %s: %d records (asked %d);", p, n[p], per)
				else if (hi[p] - lo[p] + 1 != per) bad = bad sprintf(" partition %s: offsets %d..%d are not %d consecutive ones;", p, lo[p], hi[p], per)
			}
			if (np != parts) bad = bad sprintf(" %d partitions read of %d;", np, parts)
			if (produced != "" && ends != produced) bad = bad sprintf(" end offsets sum to %d, the producer had %d acknowledged;", ends, produced)
			printf "status\t%s\nrecords\t%d\nrecords_asked\t%d\nbytes\t%d\nsecs\t%.6f\npartitions\t%d\nend_offsets_sum\t%d\nproduced\t%s\nproblems\t%s\n", st, NR, per * parts, b, t2 - t1, np, ends, produced, bad
		}' "$work/s5-recent.txt" >"$raw/s5-recent.tsv"
	rm -f "$work/s5-recent.txt"
	[ "$st" = 0 ] || anomaly "S5: kcat reading the newest records exited with status $st$([ "$st" = 124 ] && echo ' (timeout)'): $(tail -n 2 "$raw/errors.txt" | tr '\n' ' ')"
	local problems
	problems=$(sed -n 's/^problems\t//p' "$raw/s5-recent.tsv")
	[ -z "$problems" ] || anomaly "S5: the newest records read back are not what was asked:$problems"
	ev s5 end
	broker_ok s5 || return 1
	pending_delete="$pending_delete s5"
}

# ------------------------------------------------------------------ one broker run
run_variant() {
	rep=$1 variant=$2 order=$3
	local run=r$rep-$variant
	raw=$res/raw/$run
	mkdir -p "$raw"
	printf '%s,%s,%s,%s,%s\n' "$rep" "$order" "$variant" "$EPOCHREALTIME" "$(cut -d' ' -f1 /proc/loadavg)" >>"$res/runs.csv"
	: >"$raw/events.csv"
	pooldir=
	local limit=$mem_mb
	case $variant in
	ceiling) logdir=$shmw/$run/logs; limit=$((mem_mb + ceil_mb)) ;;
	*) logdir=$mnt/$run/logs ;;
	esac
	KAFKA_SEGMENT_BYTES=$((seg_mb << 20)) \
		KAFKA_EXTRA_PROPS="log.segment.delete.delay.ms=200
num.partitions=$parts
auto.create.topics.enable=true" kafka_config "$work/$run" || { anomaly "kafka_config failed"; return 1; }
	mkdir -p "$logdir" && sed -i "s|^log.dirs=.*|log.dirs=$logdir|" "$KAFKA_PROPS" && rmdir "$KAFKA_DIR/logs"
	kafka_format || { anomaly "kafka_format failed"; return 1; }
	local -a shimenv=()
	case $variant in
	shim)
		pooldir=$shmw/$run/pool
		mkdir -p "$pooldir"
		shimenv=(PAFKA_LOG_CHANNEL_TYPE=tiered PAFKA_STORAGE_TIERS_FIRST_PATHS="$pooldir"
			PAFKA_STORAGE_TIERS_FIRST_SIZES="${pool_mb}M" PAFKA_STORAGE_MIGRATE_THRESHOLD="$threshold" PAFKA_LOG_LEVEL="$shim_log")
		# Create the pool now, outside the broker's memory cgroup (its tmpfs pages stay charged here).
		local t1=$EPOCHREALTIME
		env LD_PRELOAD="$lib" PAFKA_LOG_DIRS="$logdir" "${shimenv[@]}" python3 -c '
import os, sys
d = sys.argv[1] + "/pafka-ab-warmup-0"
os.makedirs(d)
p = d + "/00000000000000000000.log"
fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"x" * 4096)
os.close(fd)
os.unlink(p)
os.rmdir(d)' "$logdir" >"$raw/pool-create.out" 2>&1 || { anomaly "pool creation (warm-up process under the shim) failed: $(tail -n 2 "$raw/pool-create.out")"; return 1; }
		[ -f "$pooldir/pafka.pool" ] || { anomaly "no pool file after the warm-up"; return 1; }
		note "pool of $pool_mb MiB created in $(awk -v a="$t1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') s outside the broker's memory cgroup"
		;;
	inert) shimenv=(PAFKA_LOG_CHANNEL_TYPE=file) ;;
	esac
	echo 1 >"$memcg/memory.force_empty" 2>/dev/null
	echo "$((limit << 20))" >"$memcg/memory.limit_in_bytes" || { anomaly "cannot set the memory limit"; return 1; }
	echo 0 >"$memcg/memory.max_usage_in_bytes" 2>/dev/null; echo 0 >"$memcg/memory.failcnt" 2>/dev/null
	echo 1 >"$blkcg/blkio.reset_stats" 2>/dev/null
	local oom0
	oom0=$(awk '$1 == "oom_kill" {print $2}' "$memcg/memory.oom_control")
	# start the broker (in the cgroups, through the launcher)
	local v
	for v in "${shimenv[@]}"; do export "${v?}"; done
	export KAFKA_HOME=$khome
	KAFKA_PRELOAD=
	[ "$variant" = shim ] || [ "$variant" = inert ] && KAFKA_PRELOAD=$lib
	KAFKA_HEAP_OPTS="-Xms${heap_mb}m -Xmx${heap_mb}m -XX:+AlwaysPreTouch"
	ev broker start
	local ok=1
	kafka_start 2>>"$raw/errors.txt" || ok=0
	for v in "${shimenv[@]}"; do unset "${v%%=*}"; done
	unset KAFKA_HOME
	KAFKA_LIBS=$tool_libs
	KAFKA_PRELOAD=
	ev broker ready
	if [ "$ok" = 0 ]; then
		anomaly "broker did not start (see raw/$run/broker.out)"
		cp "$KAFKA_DIR/broker.out" "$raw/" 2>/dev/null
		kafka_kill 2>/dev/null
		return 1
	fi
	note "rep $rep, $variant: broker pid $KAFKA_PID up (log dir $logdir${pooldir:+, pool $pooldir})"
	local sargs=(--dev "$ldev" --memcg "$memcg" ${cpucg:+--cpuacct "$cpucg"} --pid "$KAFKA_PID" --flag "$raw/.producing" --dumps "$raw/stall-dumps")
	[ -n "$pooldir" ] && sargs+=(--pool "$pooldir")
	python3 "$here/sampler.py" "$raw/samples.csv" "$sample_s" "${sargs[@]}" &
	sampler_pid=$!
	local jpid=
	if [ "$jstack_s" -gt 0 ]; then
		mkdir -p "$raw/jstack"
		(
			while kafka_alive; do
				timeout 20 jcmd "$KAFKA_PID" Thread.print >"$raw/jstack/$EPOCHREALTIME.txt" 2>&1
				sleep "$jstack_s"
			done
		) &
		jpid=$!
		bg_pids="$bg_pids $jpid"
	fi
	# Topics are created by their first producer (auto.create.topics.enable, num.partitions), except s4,
	# which needs its flush.messages=1 (created while the self-checking records are produced), and s5 (its
	# segment.bytes and partitions), created when S5 starts: its empty segments would otherwise be active
	# segments during S1..S4, and the shim shares the room it keeps for active segments' tails among them.
	local cpid=
	if has_scn s4; then topic_create s4 "$parts" --config flush.messages=1 & cpid=$!; fi
	# self-checking records first: they are the oldest data, demoted first under the shim, checked last
	python3 "$top/tests/kafka/records.py" gen 0 "$verify_n" "$rep" |
		kafka_produce verify 2>>"$raw/errors.txt" || anomaly "producing the verify records failed"
	[ -n "$cpid" ] && wait "$cpid"
	# warm-up (unmeasured, into S1's topic): the broker's JIT, so the first scenario does not pay for it
	ev warmup start
	census_start "$raw/warmup.census"
	prod "$raw/warmup.out" s1 "$(mb2rec "$warmup_mb")" -1 1 $((60 + warmup_mb / 4)) >/dev/null
	census_stop
	ev warmup end
	pending_delete=''
	has_scn s1 || pending_delete=s1
	local s
	for s in s1 s2 s2slow s3 s4 s5; do
		has_scn "$s" || continue
		kafka_alive || break
		# the previous scenario's topics go first, so each scenario starts with an empty pool
		# shellcheck disable=SC2086
		[ -n "$pending_delete" ] && topic_delete $pending_delete
		pending_delete=
		note "rep $rep, $variant: $s"
		"run_$s" || anomaly "$s did not complete"
	done
	if kafka_alive; then
		kafka_consume verify '%p %o %k %s\n' >"$raw/verify.records" 2>>"$raw/errors.txt"
		python3 "$top/tests/kafka/records.py" verify "$verify_n" "$parts" <"$raw/verify.records" >"$raw/verify.txt" 2>&1 ||
			anomaly "verify topic: $(grep -m3 '^FAIL' "$raw/verify.txt" | tr '\n' ' ')"
		rm -f "$raw/verify.records"
		[ -n "$pooldir" ] && python3 "$top/tests/kafka/poolcheck.py" "$pooldir" "$logdir" >"$raw/poolcheck.txt" 2>&1
	fi
	kill_tree "$sampler_pid"; wait "$sampler_pid" 2>/dev/null; sampler_pid=
	if [ -n "$jpid" ]; then kill_tree "$jpid"; wait "$jpid" 2>/dev/null; bg_pids=${bg_pids/ $jpid/}; fi
	ev broker stop
	local mem_peak failcnt oom1 shmem
	mem_peak=$(cat "$memcg/memory.max_usage_in_bytes"); failcnt=$(cat "$memcg/memory.failcnt")
	shmem=$(awk '$1 == "total_shmem" {print $2}' "$memcg/memory.stat")
	if kafka_alive; then
		kafka_stop >>"$raw/errors.txt" 2>&1 || anomaly "unclean broker stop (exit status ${KAFKA_EXIT:-?})"
	else
		kafka_reap 2>/dev/null
		anomaly "broker was not running at the end (exit status ${KAFKA_EXIT:-?})"
	fi
	oom1=$(awk '$1 == "oom_kill" {print $2}' "$memcg/memory.oom_control")
	[ "${oom1:-0}" -gt "${oom0:-0}" ] && anomaly "the memory cgroup OOM-killed $((oom1 - oom0)) process(es)"
	[ -n "$pooldir" ] && python3 "$top/tests/kafka/poolcheck.py" "$pooldir" "$logdir" --stopped >"$raw/poolcheck-stopped.txt" 2>&1
	printf 'mem_peak_bytes\t%s\nmem_failcnt\t%s\nmem_shmem_bytes_at_end\t%s\nmem_limit_bytes\t%s\n' \
		"$mem_peak" "$failcnt" "$shmem" "$((limit << 20))" >"$raw/cgroup.tsv"
	grep -E "^$majmin " "$blkcg/blkio.throttle.io_service_bytes" | sed 's/^/blkio_group\t/' >>"$raw/cgroup.tsv"
	# the broker's own files: stdout/stderr (the shim's lines), crash reports, log excerpts
	cp "$KAFKA_DIR/broker.out" "$raw/" 2>/dev/null
	grep -E '^pafka|pafka:' "$KAFKA_DIR/broker.out" >"$raw/shim-lines.txt" 2>/dev/null
	grep -iE 'pafka.*(error|fatal|corrupt|cannot|refus|abort)' "$KAFKA_DIR/broker.out" | head -n 5 |
		while IFS= read -r l; do anomaly "shim: $l"; done
	local f
	for f in "$KAFKA_DIR"/hs_err_pid*.log; do
		[ -f "$f" ] || continue
		cp "$f" "$raw/"
		anomaly "JVM crash report $(basename "$f"): $(grep -m1 -E '^# +(SIGSEGV|SIGBUS|SIGABRT|Problematic)' "$f")"
	done
	if [ -f "$KAFKA_DIR/applogs/server.log" ]; then
		grep -E ' (ERROR|FATAL) ' "$KAFKA_DIR/applogs/server.log" | head -n 200 >"$raw/server-errors.log"
		gzip -c "$KAFKA_DIR/applogs/server.log" >"$raw/server.log.gz"
		[ -s "$raw/server-errors.log" ] && note "rep $rep, $variant: $(wc -l <"$raw/server-errors.log") ERROR lines in server.log (raw/$run/server-errors.log)"
	fi
	# free the run's space: slow-tier log dir, ceiling tmpfs, pool
	rm -rf "${logdir%/logs}" "${shmw:?}/$run" "${work:?}/$run"
	echo 1 >"$memcg/memory.force_empty" 2>/dev/null
	sync -f "$mnt"
	return 0
}

# ------------------------------------------------------------------ the runs, interleaved
IFS=, read -r -a vlist <<<"$variants"
nv=${#vlist[@]}
echo "rep,order,variant,epoch,loadavg1" >"$res/runs.csv"
note "results in $res; variants ${variants}; scenarios ${scenarios}; $reps repetition(s); fast tier: tmpfs ($shm) as the PMem stand-in"
for ((r = 1; r <= reps; r++)); do
	for ((k = 0; k < nv; k++)); do
		v=${vlist[$(((k + r - 1) % nv))]}
		run_variant "$r" "$v" "$((k + 1))"
	done
done
m loadavg_end "$(cut -d' ' -f1-3 /proc/loadavg)"
m duration_s "$((SECONDS - T0))"

# ------------------------------------------------------------------ analysis, plots, summary
note "analysing"
python3 "$here/analyze.py" "$res" || { note "analysis failed"; exit 3; }
cat "$res/summary.md"
if [ -s "$res/anomalies.tsv" ]; then
	note "$(wc -l <"$res/anomalies.tsv") anomalies (see summary.md)"
	exit 3
fi
exit 0

#!/bin/bash
# tests/e2e/case-existing.sh - turning the shim on for a broker that already holds data, and off again.
#  1. a broker WITHOUT the shim takes acks=all records into topics "ea" (3 partitions) and "eb" (2), with
#     1 MiB segments (several per partition); clean stop. Every pre-shim segment file is recorded: path,
#     size, inode, birth time, sha256 (read plainly).
#  2. the same broker restarted UNDER the shim (log.channel.type=tiered, a 32M pool of 64 KiB blocks,
#     storage.migrate.threshold 0.5, promotion on), with migration paused (pafka pause before the start):
#     - right after the restart every pre-shim segment is where it was: same inode and size, on the slow
#       tier, no pool record (pafka ls), its bytes identical (read under the shim, read-only attach);
#     - more records into ea: the new segments (base offset >= the pre-shim log end offset) are in the
#       pool; each partition's pre-shim active segment got a pool window at its end (README: "a segment
#       with no record at all ... gets a window at its end on its next append"), its pre-shim bytes stay
#       on the slow tier; the sealed pre-shim segments stay untouched;
#     - pafka resume: below the threshold the policy promotes the newest sealed slow-tier segments born
#       after the newest demoted one, newest first, while they fit under the threshold (src/policy.h):
#       pre-shim segments were promoted, every promoted one is newer than every one left on the slow
#       tier, and the newest one left does not fit; their bytes read back identical (Kafka and sha256);
#     - topic eb (the newest pre-shim data, so promoted first) is deleted: its pool space comes back, no
#       block stays with a vanished file, and the room lets older pre-shim segments of ea be promoted;
#     - more records into ea at a fixed rate, the broker SIGKILLed and restarted under the shim while the
#       producer retries: every acknowledged record there; migration brings the pool back under the
#       threshold by demotion, the oldest pool records (the pre-shim active segments' windows) first,
#       which land complete on the slow tier; once a segment is demoted no older one is promoted (the
#       shim's debug log, in order); pafka fsck clean;
#  3. pafka drain (online, the broker running), clean stop, pafka fsck clean, then the broker WITHOUT the
#     shim: the pool holds nothing, every segment file in the log dir holds its bytes (allocated in full,
#     sha256 equal to what the shim served), every acknowledged record reads back identical.
# E2E_NO_SHIM=1 runs every broker without the preload: the record and byte checks must pass, the pool
# and placement checks fail by design.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
case_begin existing
A_MB=${E2E_EXISTING_A_MB:-18}  # pre-shim data of ea
B_MB=${E2E_EXISTING_B_MB:-8}   # pre-shim data of eb
C_MB=${E2E_EXISTING_C_MB:-6}   # ea under the shim, migration paused
D_MB=${E2E_EXISTING_D_MB:-12}  # ea under the shim, SIGKILL during it
RATE=${E2E_EXISTING_RATE:-400} # records/s of the last part
POOLSIZE=32M BS=65536 THR=0.5
# records of 2000..6000 characters (about 4.1 KB with key and framing)
recs() { echo $(($1 * 1024 * 1024 / 4100)); }
NA0=$(recs "$A_MB") NB0=$(recs "$B_MB") NA2=$(recs "$C_MB") NA3=$(recs "$D_MB")
EX="$E2E_WORK/existing.py"
PRE="$E2E_WORK/pre.tsv"

# ---- the case's own checker (prints "  ok - " / "  not ok - " lines for run_check)
cat >"$EX" <<'PYEOF'
import hashlib, json, os, re, subprocess, sys
R = []
SEG = re.compile(r"^[0-9]{20}\.log$")


def check(ok, what, detail=""):
    R.append(bool(ok))
    print(("  ok - " if ok else "  not ok - ") + what + ("" if ok or not detail else f" ({detail})"))
    return ok


def part(p):
    return os.path.basename(os.path.dirname(p))


def topic(p):
    return part(p).rsplit("-", 1)[0]


def base(p):
    return int(os.path.basename(p)[:20])


def btime_ns(p):
    s = subprocess.run(["stat", "-c", "%.9W", p], capture_output=True, text=True, check=True).stdout.strip()
    sec, _, ns = s.partition(".")
    return int(sec) * 10**9 + int((ns + "000000000")[:9])


def sha(p, n=-1):
    h = hashlib.sha256()
    got = 0
    with open(p, "rb") as f:
        while n < 0 or got < n:
            b = f.read(1 << 20 if n < 0 else min(1 << 20, n - got))
            if not b:
                break
            h.update(b)
            got += len(b)
    return got, h.hexdigest()


def load_pre(f):
    rows = []
    for line in open(f):
        p, size, bt, ino, h, newest = line.split()
        rows.append(dict(path=p, size=int(size), btime=int(bt), ino=int(ino), sha=h, newest=newest == "1"))
    return rows


def load_ls(f):
    try:
        j = json.load(open(f))
    except (OSError, ValueError) as e:
        check(False, "pafka ls --json gave a listing", str(e))
        sys.exit(1)
    return {e["path"]: e for e in j.get("files", [])}


def leo(ackfiles):
    """partition dir name -> log end offset (1 + the highest acknowledged offset)"""
    out = {}
    for af in ackfiles:
        t = os.path.basename(af).split(".")[0]
        for line in open(af):
            w = line.split()
            if w and w[0] == "ack":
                k = f"{t}-{w[1]}"
                out[k] = max(out.get(k, 0), int(w[2]) + 1)
    return out


def cmd_pre(logdir, topics):
    """the pre-shim segments of TOPICS: PATH SIZE BTIME_NS INODE SHA256 NEWEST"""
    for d in sorted(os.listdir(logdir)):
        if not os.path.isdir(os.path.join(logdir, d)) or d.rsplit("-", 1)[0] not in topics:
            continue
        segs = sorted(n for n in os.listdir(os.path.join(logdir, d)) if SEG.match(n))
        for n in segs:
            p = os.path.join(logdir, d, n)
            st = os.stat(p)
            size, h = sha(p)
            print(p, size, btime_ns(p), st.st_ino, h, 1 if n == segs[-1] else 0)
    return 0


def cmd_hash():
    """stdin: PATH LEN (-1: all of it) -> PATH LEN SHA256 of its first LEN bytes (what this process reads)"""
    for line in sys.stdin:
        p, n = line.split()
        try:
            got, h = sha(p, int(n))
        except OSError as e:
            got, h = -1, type(e).__name__
        print(p, got, h)
    return 0


def cmd_fresh(ls, pre):
    """right after the restart under the shim: every pre-shim segment where it was, untouched"""
    ls, rows = load_ls(ls), load_pre(pre)
    bad = []
    for r in rows:
        e = ls.get(r["path"])
        st = os.stat(r["path"]) if os.path.exists(r["path"]) else None
        if not st or st.st_ino != r["ino"] or st.st_size != r["size"]:
            bad.append((r["path"], "gone, moved or resized"))
        elif not e or e["tier"] != "slow" or e["record"] is not None or e["pool_blocks"] != 0:
            bad.append((part(r["path"]) + "/" + os.path.basename(r["path"]), e and (e["tier"], e["record"], e["pool_blocks"])))
    check(rows and not bad, f"all {len(rows)} pre-shim segments kept their inode and size and are on the slow tier "
          "with no pool record (pafka ls)", f"{len(bad)} not: {bad[:4]}")
    return 0


def cmd_batch2(ls, pre, bs, acks, tp):
    """after records went to TP under the shim (migration paused)"""
    ls, rows, bs, ends = load_ls(ls), load_pre(pre), int(bs), leo([acks])
    prepaths = {r["path"] for r in rows}
    bad_sealed, bad_act, quiet = [], [], []
    for r in rows:
        e = ls.get(r["path"])
        if not e:
            bad_sealed.append((r["path"], "not listed"))
            continue
        if not r["newest"]:
            if e["tier"] != "slow" or e["record"] is not None or e["size"] != r["size"]:
                bad_sealed.append((part(r["path"]), base(r["path"]), e["tier"], e["record"], e["size"]))
        elif topic(r["path"]) == tp:
            s, z, ws = r["size"], e["size"], e["window_start"]
            want = -(-s // bs) * bs
            if (ws != want or e["appends"] != "pool" or e["pool_bytes"] != max(0, z - want) or
                    e["slow_bytes"] != min(z, want) or z <= s):
                bad_act.append((part(r["path"]), dict(pre_size=s, size=z, window_start=ws, want=want,
                                                        pool_bytes=e["pool_bytes"], slow_bytes=e["slow_bytes"])))
            else:
                print(f"#   {part(r['path'])}: pre-shim active segment, {s} bytes before the shim, now {z}; window "
                      f"at {ws}: {e['slow_bytes']} bytes slow, {e['pool_bytes']} in the pool")
        else:
            if e["tier"] != "slow" or e["record"] is not None or e["size"] != r["size"]:
                quiet.append((part(r["path"]), e["tier"], e["record"], e["size"]))
    sealed = sum(1 for r in rows if not r["newest"])
    check(sealed and not bad_sealed, f"the {sealed} sealed pre-shim segments are untouched on the slow tier (no record)",
          f"{bad_sealed[:4]}")
    nact = sum(1 for r in rows if r["newest"] and topic(r["path"]) == tp)
    check(nact and not bad_act, f"the {nact} pre-shim active segments of {tp} got a pool window at their pre-shim end "
          f"(rounded up to a {bs}-byte block): bytes below it on the slow tier, appends above it in the pool",
          f"{bad_act[:3]}")
    check(not quiet, "the pre-shim active segments of the other topics (no appends) stay on the slow tier", f"{quiet[:3]}")
    new, bad_new, per = [], [], {}
    for p, e in ls.items():
        if not SEG.match(os.path.basename(p)) or topic(p) != tp or p in prepaths:
            continue
        new.append(p)
        per[part(p)] = per.get(part(p), 0) + 1
        if base(p) < ends.get(part(p), 1 << 62):
            bad_new.append((part(p), base(p), "below the pre-shim end", ends.get(part(p))))
        elif e["size"] > 0 and (e["tier"] != "pool" or e["pool_bytes"] != e["size"] or e["window_start"] != 0):
            bad_new.append((part(p), base(p), e["tier"], e["pool_bytes"], e["size"], e["window_start"]))
    nparts = len({part(r["path"]) for r in rows if topic(r["path"]) == tp})
    check(len(per) == nparts and not bad_new, f"the {len(new)} segments {tp} created under the shim (in all {nparts} "
          "partitions) start at or after the pre-shim log end offset and are in the pool",
          f"per partition {per}, bad {bad_new[:4]}")
    return 0


def classify(ls, rows):
    """the sealed pre-shim segments that still exist: (promoted, slow, other)"""
    pro, slow, other = [], [], []
    for r in rows:
        if r["newest"] or not os.path.exists(r["path"]):
            continue
        e = ls.get(r["path"])
        if e and e["record"] is not None and e["tier"] == "pool" and e["pool_bytes"] == e["size"]:
            pro.append(r)
        elif e and e["tier"] == "slow" and e["record"] is None:
            slow.append(r)
        else:
            other.append((part(r["path"]), base(r["path"]), e and e["tier"]))
    return pro, slow, other


def cmd_promo(ls, pre, used, nblocks, bs, thr, label):
    ls, rows, used, bs = load_ls(ls), load_pre(pre), int(used), int(bs)
    limit = int(float(thr) * int(nblocks))
    pro, slow, other = classify(ls, rows)
    by = {}
    for r in pro:
        by[topic(r["path"])] = by.get(topic(r["path"]), 0) + 1
    print(f"# [{label}] sealed pre-shim segments: {len(pro)} promoted {by}, {len(slow)} on the slow tier; "
          f"pool used {used} of {nblocks} blocks, limit {limit}")
    check(not other, f"every sealed pre-shim segment is either in the pool whole or on the slow tier whole",
          f"{other[:4]}")
    check(pro, f"pre-shim segments were promoted into the pool ({len(pro)})")
    if pro and slow:
        ymin = min(pro, key=lambda r: r["btime"])
        oldmax = max(slow, key=lambda r: r["btime"])
        check(ymin["btime"] > oldmax["btime"], f"promotion went newest first: every promoted pre-shim "
              "segment is newer than every one left on the slow tier",
              f"promoted {part(ymin['path'])}/{base(ymin['path'])} is older than slow "
              f"{part(oldmax['path'])}/{base(oldmax['path'])}")
        need = -(-oldmax["size"] // bs)
        check(used + need > limit, f"promotion stopped because the newest one left does not fit: "
              f"{used} used + {need} blocks > limit {limit}")
    return 0


def cmd_count(ls, pre, tp):
    """the number of promoted sealed pre-shim segments of TP (0 when there is no listing)"""
    try:
        ls = {e["path"]: e for e in json.load(open(ls)).get("files", [])}
    except (OSError, ValueError):
        ls = {}
    pro, _, _ = classify(ls, load_pre(pre))
    print(sum(1 for r in pro if topic(r["path"]) == tp))
    return 0


def cmd_demoted(ls, pre, tp, files):
    """after demotion: the pre-shim active segments of TP (the oldest pool records) are on the slow tier,
    complete (FILES: e2e.py pool files lines)"""
    ls, rows = load_ls(ls), load_pre(pre)
    alloc = {}
    for line in open(files):
        w = line.split()
        if len(w) >= 5 and not line.startswith("#"):
            alloc[w[4]] = (w[0], int(w[1]), int(w[2]))
    bad = []
    acts = [r for r in rows if r["newest"] and topic(r["path"]) == tp]
    for r in acts:
        e = ls.get(r["path"])
        a = alloc.get(r["path"])
        # (a record may stay when the window, at the pre-shim end rounded up to a block, got no block
        # before the segment rolled: nothing of it was ever in the pool)
        if not e or e["tier"] != "slow" or e["pool_blocks"] != 0 or not a or a[2] < a[1]:
            bad.append((part(r["path"]), e and e["tier"], e and e["pool_blocks"], a))
        else:
            print(f"#   {part(r['path'])}: pre-shim active segment, {e['size']} bytes, all on the slow tier "
                  f"({'record freed' if e['record'] is None else 'record kept, no block'})")
    check(acts and not bad, f"the {len(acts)} pre-shim active segments of {tp} (the oldest pool records) were demoted "
          "whole: on the slow tier, no pool block, allocated in full", f"{bad[:3]}")
    return 0


def cmd_boundary(out, pre):
    """the shim's debug log in order: once a file is demoted, nothing born before it is promoted"""
    rows = {r["path"]: r for r in load_pre(pre)}
    bound, bad, npro, ndem = 0, [], 0, 0
    rx = re.compile(r"^pafka\[\d+\]: debug: (promoted|demoted) (/.*) \(\d+ bytes\)$")
    for line in open(out, errors="replace"):
        m = rx.match(line.rstrip("\n"))
        if not m:
            continue
        p = m.group(2)
        r = rows.get(p)
        if m.group(1) == "demoted":
            ndem += 1
            # a file created under the shim was born after every pre-shim one
            bound = max(bound, r["btime"] if r else 1 << 62)
        elif r:
            npro += 1
            if r["btime"] <= bound:
                bad.append((part(p), base(p)))
    check(ndem > 0 and npro > 0 and not bad, f"no pre-shim segment was promoted after a segment born later was "
          f"demoted ({npro} pre-shim promotions, {ndem} demotions in the shim's log)", f"{bad[:4]}")
    return 0


def cmd_alloc(logdir):
    """every segment file in the log dir holds its bytes (allocated in full)"""
    n, bad = 0, []
    for d, _, fs in os.walk(logdir):
        for f in fs:
            if SEG.match(f):
                st = os.stat(os.path.join(d, f))
                n += 1
                if st.st_blocks * 512 < st.st_size:
                    bad.append((os.path.basename(d), f[:20].lstrip("0") or "0", st.st_size, st.st_blocks * 512))
    check(n and not bad, f"all {n} segment files in the log dir are allocated in full (none sparse)", f"{bad[:4]}")
    return 0


def main(a):
    c = a[0]
    try:
        if c == "pre":
            return cmd_pre(a[1], a[2:])
        if c == "hash":
            return cmd_hash()
        if c == "count":
            return cmd_count(*a[1:])
        f = dict(fresh=cmd_fresh, batch2=cmd_batch2, promo=cmd_promo, demoted=cmd_demoted,
                 boundary=cmd_boundary, alloc=cmd_alloc)[c]
        f(*a[1:])
    except Exception as e:  # a checker that breaks is a failed check, never a silent one
        check(False, f"{c}: the checker ran", f"{type(e).__name__}: {e}")
    return 0 if all(R) else 1


sys.exit(main(sys.argv[1:]))
PYEOF

e2e_config b 1 ""
e2e_format b || die "format"
LOGS="${E2E_DIR[b]}/logs" PROPS="${E2E_DIR[b]}/server.properties"
# the pool directory e2e_shim gives b (also under E2E_NO_SHIM=1, where nothing creates it: the pool checks
# then fail, by design)
POOLDIR="$E2E_SHM/b.pool"
# pafka CMD...: the CLI, without the harness' own PAFKA_* variables (an unknown PAFKA_* is an error)
pafka() {
	local v a=(env)
	for v in $(compgen -e); do case $v in PAFKA_*) a+=(-u "$v") ;; esac; done
	"${a[@]}" "$E2E_PAFKA" "$@"
}
# lsjson OUT: pafka ls --json of the whole log dir
lsjson() { pafka ls --json --pool "$POOLDIR" "$LOGS" >"$1" 2>"$1.err"; }
pool_geom() { read -r USED NBLOCKS _ < <(py pool used "$POOLDIR" 2>/dev/null) || { USED=-1 NBLOCKS=0; }; }
# hashcheck LABEL LIST WANT: the bytes of LIST ("PATH LEN" lines) as a process under b's current preload reads
# them (read-only attach to the broker's pool) equal WANT ("PATH LEN SHA256" lines)
hashcheck() {
	local label=$1 list=$2 want=$3 out="$E2E_WORK/hash.$RANDOM"
	e2e_env_args b
	"${E2E_ENVARGS[@]}" PAFKA_LOG_DIRS="$LOGS" python3 "$EX" hash <"$list" >"$out" 2>"$out.err"
	if cmp -s "$want" "$out"; then
		ok "[$label] $(wc -l <"$want") segment files read back byte for byte as expected (sha256$([ -n "${E2E_PRE[b]}" ] && echo ", read under the shim"))"
	else
		notok "[$label] $(wc -l <"$want") segment files read back byte for byte as expected (differences:)"
		diff "$want" "$out" | head -n 6 | sed 's/^/#   /'
		head -n 3 "$out.err" | sed 's/^/#   /'
	fi
}
# fsck LABEL: pafka fsck against b's log dirs (read-only while the broker runs)
fsck() {
	local out="$E2E_WORK/fsck.out"
	pafka fsck --config "$PROPS" --pool "$POOLDIR" >"$out" 2>&1
	local rc=$?
	expect "[$1] pafka fsck: clean ($(head -c 300 "$out" | tr '\n' ' '))" test $rc -eq 0
}
# consume and verify every acknowledged record of ea (and eb while it exists)
# (verify_ea TAG LABEL: the records consumed go to ea.TAG.out)
verify_ea() {
	consume b ea "$E2E_WORK/ea.$1.out" || notok "[$2] consume ea"
	cat "${AACKS[@]}" >"$E2E_WORK/ea.acks"
	run_check "$2 ea" py verify-acked "$E2E_WORK/ea.acks" "$E2E_WORK/ea.in" 3 <"$E2E_WORK/ea.$1.out"
}
verify_eb() {
	consume b eb "$E2E_WORK/eb.$1.out" || notok "[$2] consume eb"
	run_check "$2 eb" py verify-acked "$E2E_WORK/eb.acks" "$E2E_WORK/eb.in" 2 <"$E2E_WORK/eb.$1.out"
}
# spoll WHAT TIMEOUT CMD...: poll, for a condition only the shim's pool can meet (without it: not ok at once)
spoll() {
	if [ -n "${E2E_PRE[b]}" ]; then
		poll "$@"
	else
		notok "$1 (no shim: no pool)"
		return 1
	fi
}
# settled SECONDS: the pool's move counters have not changed for SECONDS (state kept across poll's calls)
ST_LAST='' ST_T=0
settled() {
	local s c
	s=$(pool_summary b 2>/dev/null) || return 1
	c="$(kv promotions "$s") $(kv demotions "$s") $(kv head_demotions "$s") $(kv readmissions "$s")"
	if [ "$c" != "$ST_LAST" ]; then ST_LAST=$c ST_T=$SECONDS; return 1; fi
	[ $((SECONDS - ST_T)) -ge "$1" ]
}

# ================================================================ 1. without the shim
e2e_shim b none
e2e_start b 180 || die "broker start without the shim"
topic b ea 3 || die "create topic ea"
topic b eb 2 || die "create topic eb"
py gen 0 "$NA0" 81 2000 6000 >"$E2E_WORK/ea.0.in"
py gen 0 "$NB0" 82 2000 6000 >"$E2E_WORK/eb.in"
tool produce "${E2E_BOOT[b]}" ea "$E2E_WORK/ea.0.acks" 0 <"$E2E_WORK/ea.0.in" 2>"$E2E_WORK/ea.0.err"
expect "[no shim] producer: all $NA0 records ($A_MB MB) to ea acknowledged (acks=all)" test $? -eq 0
tool produce "${E2E_BOOT[b]}" eb "$E2E_WORK/eb.acks" 0 <"$E2E_WORK/eb.in" 2>"$E2E_WORK/eb.err"
expect "[no shim] producer: all $NB0 records ($B_MB MB) to eb acknowledged (acks=all)" test $? -eq 0
AACKS=("$E2E_WORK/ea.0.acks")
cp "$E2E_WORK/ea.0.in" "$E2E_WORK/ea.in"
verify_ea noshim "no shim"
verify_eb noshim "no shim"
expect "[no shim] clean stop" e2e_stop b
python3 "$EX" pre "$LOGS" ea eb >"$PRE" || die "listing the pre-shim segments"
nseal=$(awk '$6 == 0' "$PRE" | wc -l)
per=$(awk '{ n = split($1, a, "/"); c[a[n - 1]]++ } END { for (p in c) if (c[p] < m || m == "") m = c[p]; print m + 0 }' "$PRE")
expect "[no shim] several segments per partition before the shim ($(wc -l <"$PRE") in 5 partitions, at least $per each, $nseal sealed)" \
	test "$per" -ge 3
# the byte lists: every pre-shim segment (its pre-shim length: the active ones grow under the shim)
awk '{ print $1, $2 }' "$PRE" >"$E2E_WORK/pre.list"
awk '{ print $1, $2, $5 }' "$PRE" >"$E2E_WORK/pre.want"
grep '/ea-' "$E2E_WORK/pre.list" >"$E2E_WORK/pre-ea.list"
grep '/ea-' "$E2E_WORK/pre.want" >"$E2E_WORK/pre-ea.want"

# ================================================================ 2. under the shim, tiered
e2e_shim b tiered "$POOLSIZE" PAFKA_POOL_BLOCK_SIZE=$BS PAFKA_STORAGE_MIGRATE_THRESHOLD=$THR PAFKA_LOG_LEVEL=debug
# migration paused from the first moment, so "right after the restart" is a state, not a race
expect "[shim] pafka pause before the start" pafka pause --pool "$POOLDIR"
e2e_start b 180 || die "broker start under the shim (existing data)"
lsjson "$E2E_WORK/ls.1.json"
run_check "right after the restart" python3 "$EX" fresh "$E2E_WORK/ls.1.json" "$PRE"
hashcheck "right after the restart" "$E2E_WORK/pre.list" "$E2E_WORK/pre.want"
verify_ea fresh "right after the restart"
verify_eb fresh "right after the restart"
expect "[shim] the records read under the shim are identical to the ones read without it" \
	same_records "$E2E_WORK/ea.noshim.out" "$E2E_WORK/ea.fresh.out"

# ---- new records, migration still paused
py gen "$NA0" "$NA2" 83 2000 6000 >"$E2E_WORK/ea.2.in"
cat "$E2E_WORK/ea.2.in" >>"$E2E_WORK/ea.in"
tool produce "${E2E_BOOT[b]}" ea "$E2E_WORK/ea.2.acks" 0 <"$E2E_WORK/ea.2.in" 2>"$E2E_WORK/ea.2.err"
expect "[shim, paused] producer: all $NA2 records ($C_MB MB) to ea acknowledged" test $? -eq 0
AACKS+=("$E2E_WORK/ea.2.acks")
lsjson "$E2E_WORK/ls.2.json"
run_check "paused, new records" python3 "$EX" batch2 "$E2E_WORK/ls.2.json" "$PRE" "$BS" "$E2E_WORK/ea.0.acks" ea
s=$(pool_summary b)
echo "# [paused] $s"
expect "[paused] nothing moved while paused (promotions=$(kv promotions "$s") demotions=$(kv demotions "$s"))" \
	test "$(kv promotions "$s")" = 0 -a "$(kv demotions "$s")" = 0
verify_ea paused "paused"
hashcheck "paused" "$E2E_WORK/pre.list" "$E2E_WORK/pre.want"

# ---- migration on: promotion of pre-shim segments while there is room
expect "[shim] pafka resume" pafka resume --pool "$POOLDIR"
promoted_settled() { [ "$(kv promotions "$(pool_summary b 2>/dev/null)")" -gt 0 ] 2>/dev/null && settled 5; }
spoll "[resumed] promotions happened and migration settled (no move for 5 s)" 120 promoted_settled
pool_geom
lsjson "$E2E_WORK/ls.3.json"
run_check "resumed" python3 "$EX" promo "$E2E_WORK/ls.3.json" "$PRE" "$USED" "$NBLOCKS" "$BS" "$THR" resumed
s=$(pool_summary b)
echo "# [resumed] $s"
expect "[resumed] no migration failures (migration_failures=$(kv migration_failures "$s"), errors=$(kv errors "$s"))" \
	test "$(kv migration_failures "$s")" = 0 -a "$(kv errors "$s")" = 0
hashcheck "resumed" "$E2E_WORK/pre.list" "$E2E_WORK/pre.want"
verify_ea resumed "resumed"
verify_eb resumed "resumed"
expect "[resumed] ea reads the same as before the promotions" same_records "$E2E_WORK/ea.paused.out" "$E2E_WORK/ea.resumed.out"
expect "[resumed] eb reads the same as before the shim" same_records "$E2E_WORK/eb.noshim.out" "$E2E_WORK/eb.resumed.out"
used_pool_check b resumed

# ---- topic eb (the newest pre-shim data, promoted first) deleted: its pool space comes back, older
# pre-shim segments of ea take the room
ea_before=$(python3 "$EX" count "$E2E_WORK/ls.3.json" "$PRE" ea 2>/dev/null || echo 0)
eb_blocks=$(py pool files "$POOLDIR" "$LOGS" 2>/dev/null | awk '$5 ~ /\/eb-/ { s += $4 } END { print s + 0 }')
ea_slow=$(python3 - "$E2E_WORK/ls.3.json" "$PRE" <<'EOF' 2>/dev/null || echo 0
import json, sys
ls = {e["path"]: e for e in json.load(open(sys.argv[1]))["files"]}
print(sum(1 for l in open(sys.argv[2]) if "/ea-" in l and l.split()[5] == "0"
          and ls.get(l.split()[0], {}).get("tier") == "slow"))
EOF
)
note "[delete] before: eb holds $eb_blocks pool blocks; ea has $ea_before promoted and $ea_slow slow sealed pre-shim segments"
expect "[delete] eb's pre-shim segments (the newest) were promoted: it holds pool blocks ($eb_blocks >= $((1048576 / BS)))" \
	test "$eb_blocks" -ge $((1048576 / BS))
expect "[delete] topic eb deleted" tool admin "${E2E_BOOT[b]}" delete eb
eb_gone() {
	local s
	s=$(pool_summary b 2>/dev/null) || return 1
	! py pool files "$POOLDIR" "$LOGS" 2>/dev/null | grep -q '/eb-' && ! ls -d "$LOGS"/eb-* >/dev/null 2>&1 &&
		[ "$(kv missing_blocks "$s")" = 0 ]
}
spoll "[delete] eb's files are gone from the log dir and the pool, no block left to a vanished file" 120 eb_gone
ST_LAST=
more_promoted() {
	lsjson "$E2E_WORK/ls.4.json" && [ "$(python3 "$EX" count "$E2E_WORK/ls.4.json" "$PRE" ea 2>/dev/null)" -gt "$ea_before" ] 2>/dev/null &&
		settled 5
}
if [ "$ea_slow" -gt 0 ]; then
	spoll "[delete] with eb's room free, more pre-shim segments of ea were promoted (more than $ea_before) and migration settled" 120 more_promoted
else
	notok "[delete] the case's sizes leave sealed pre-shim segments of ea on the slow tier before the deletion ($ea_slow)"
fi
pool_geom
lsjson "$E2E_WORK/ls.4.json"
run_check "after deleting eb" python3 "$EX" promo "$E2E_WORK/ls.4.json" "$PRE" "$USED" "$NBLOCKS" "$BS" "$THR" "after deleting eb"
hashcheck "after deleting eb" "$E2E_WORK/pre-ea.list" "$E2E_WORK/pre-ea.want"
verify_ea deleted "after deleting eb"
expect "[after deleting eb] ea reads the same as before" same_records "$E2E_WORK/ea.paused.out" "$E2E_WORK/ea.deleted.out"
used_pool_check b "after deleting eb"

# ---- more records at a fixed rate: the pool goes over the threshold; SIGKILL and restart meanwhile
py gen $((NA0 + NA2)) "$NA3" 84 2000 6000 >"$E2E_WORK/ea.3.in"
cat "$E2E_WORK/ea.3.in" >>"$E2E_WORK/ea.in"
AACKS+=("$E2E_WORK/ea.3.acks")
E2E_TOOL_TIMEOUT=300 tool produce "${E2E_BOOT[b]}" ea "$E2E_WORK/ea.3.acks" "$RATE" <"$E2E_WORK/ea.3.in" 2>"$E2E_WORK/ea.3.err" &
prod=$!
# (the producer flushes its ack file every 500 acknowledgements)
nacks() {
	local n
	n=$(grep -c '^ack' "$E2E_WORK/ea.3.acks" 2>/dev/null)
	echo "${n:-0}"
}
acked() { [ "$(nacks)" -ge 500 ]; }
poll "[kill] the producer is under way (500+ records acknowledged)" 90 acked
before=$(nacks)
e2e_kill b
note "[kill] SIGKILL with $before of $NA3 records acknowledged; restarting under the shim while the producer retries"
e2e_start b 180 || die "broker start after SIGKILL"
pass_wait=0
wait "$prod" && pass_wait=1
na=$(grep -c '^ack' "$E2E_WORK/ea.3.acks")
expect "[kill] producer finished ($(tail -n1 "$E2E_WORK/ea.3.err" | sed 's/^E2eTool produce: //'))" test "$pass_wait" = 1 -o -s "$E2E_WORK/ea.3.acks"
expect "[kill] records were acknowledged before ($before) and after the crash ($na of $NA3 in all)" \
	test "$before" -lt "$na" -a "$na" -gt $((NA3 / 2))
pool_geom
LIMIT=$(awk -v n="$NBLOCKS" -v t=$THR 'BEGIN { printf "%d", n * t }')
ST_LAST=
below_settled() {
	local s
	s=$(pool_summary b 2>/dev/null) || return 1
	[ "$(kv used "$s")" -le "$LIMIT" ] 2>/dev/null && [ "$(kv demotions "$s")" -gt 0 ] 2>/dev/null && settled 5
}
spoll "[kill] after the restart demotion brought the pool under the threshold ($LIMIT of $NBLOCKS blocks) and settled" 180 below_settled
s=$(pool_summary b)
echo "# [after SIGKILL] $s"
expect "[after SIGKILL] no migration failures (migration_failures=$(kv migration_failures "$s"), errors=$(kv errors "$s"))" \
	test "$(kv migration_failures "$s")" = 0 -a "$(kv errors "$s")" = 0
verify_ea killed "after SIGKILL"
lsjson "$E2E_WORK/ls.5.json"
py pool files "$POOLDIR" "$LOGS" >"$E2E_WORK/files.5" 2>&1
run_check "after SIGKILL" python3 "$EX" demoted "$E2E_WORK/ls.5.json" "$PRE" ea "$E2E_WORK/files.5"
run_check "after SIGKILL" python3 "$EX" boundary "${E2E_DIR[b]}/broker.out" "$PRE"
hashcheck "after SIGKILL" "$E2E_WORK/pre-ea.list" "$E2E_WORK/pre-ea.want"
used_pool_check b "after SIGKILL"
fsck "broker running"

# ================================================================ 3. drain, then without the shim
# what the shim serves of every segment of ea now, all of it: the log dir must hold exactly this afterwards
find "$LOGS" -path '*/ea-*' -regextype posix-extended -regex '.*/[0-9]{20}\.log' | sort | sed 's/$/ -1/' >"$E2E_WORK/all-ea.list"
e2e_env_args b
"${E2E_ENVARGS[@]}" PAFKA_LOG_DIRS="$LOGS" python3 "$EX" hash <"$E2E_WORK/all-ea.list" >"$E2E_WORK/all-ea.want" 2>"$E2E_WORK/all-ea.err"
pafka drain --pool "$POOLDIR" --timeout 240 --json >"$E2E_WORK/drain.json" 2>"$E2E_WORK/drain.err"
rc=$? dmode=unreadable dfiles=0 dempty=
read -r dmode dfiles dempty < <(python3 -c 'import json, sys
p = json.load(open(sys.argv[1]))["pools"][0]
print(p["mode"], p["moved"]["files"], p["empty"])' "$E2E_WORK/drain.json" 2>/dev/null)
expect "[drain] pafka drain, online, emptied the pool (exit $rc, mode $dmode, $dfiles files moved, empty $dempty)" \
	test $rc -eq 0 -a "$dmode" = online -a "${dfiles:-0}" -gt 0 -a "$dempty" = True
pool_geom
expect "[drain] the pool has no used block while the broker still runs ($USED)" test "$USED" = 0
verify_ea drained "drained, shim still on"
expect "[drain] clean stop" e2e_stop b
fsck "stopped, drained"
s=$(pool_summary b 2>/dev/null)
expect "[drain] the pool holds nothing (used=$(kv used "$s") live=$(kv live "$s") pool_files=$(kv pool_files "$s") mixed_files=$(kv mixed_files "$s"))" \
	test "$(kv used "$s")" = 0 -a "$(kv live "$s")" = 0 -a "$(kv pool_files "$s")" = 0 -a "$(kv mixed_files "$s")" = 0
run_check "drained" python3 "$EX" alloc "$LOGS"
e2e_shim b none
hashcheck "drained, read plainly" "$E2E_WORK/all-ea.list" "$E2E_WORK/all-ea.want"
hashcheck "drained, pre-shim bytes read plainly" "$E2E_WORK/pre-ea.list" "$E2E_WORK/pre-ea.want"
e2e_start b 180 || die "broker start without the shim after the drain"
verify_ea plain "without the shim again"
expect "[without the shim again] ea reads the same as under the shim" \
	same_records "$E2E_WORK/ea.killed.out" "$E2E_WORK/ea.plain.out"
pool_geom
expect "[without the shim again] the pool still holds nothing ($USED used blocks)" test "$USED" = 0
expect "[without the shim again] clean stop" e2e_stop b
no_errors b
exit 0

#!/bin/bash
# tests/pkg/deb.sh - the Debian packages (debian/), end to end.
#
# 1. copies the sources (the files git tracks or would add, as in the working tree) into a temp dir and builds them there
#    with `dpkg-buildpackage -us -uc -b` (log kept, shown on failure);
# 2. lintian on the .changes: any E: line fails;
# 3. the packages' contents (dpkg-deb -c): libpafka.so in /usr/lib/<multiarch>/, no .la or header, pafka
#    in /usr/bin, every man/*.1 page (and libpafka(7) in libpafka), the systemd drop-in in
#    the examples;
# 4. as root: installs both with dpkg -i, checks that LD_PRELOAD=libpafka.so loads the installed library
#    by name and that `pafka run` preloads it;
# 5. unless configure said --disable-kafka-tests: a real KRaft broker (tests/kafka/kafka.sh) under the
#    environment of the INSTALLED drop-in (its Environment= lines, with the pool in a temp dir on /dev/shm
#    and a 256M pool instead of the PMem mount's 64G), records produced and consumed with kcat (checked
#    one by one) and Kafka's own ProducerPerformance/ConsumerPerformance, and the installed `pafka status`
#    showing the broker as the pool's writer and segment bytes in the pool;
# 6. dpkg -r and dpkg -P of both packages (also from the EXIT trap, whatever failed), then every packaged
#    file is gone and the library no longer loads by name.
#
# Exit 0 = pass, 77 = skipped (one SKIP line says why), 1 = fail. Skips: a sanitizer build tree (the
# package builds its own unsanitized copy; the plain tree runs this once), a tree without debian/ or git
# (make dist's tarball is the orig of the 3.0 (quilt) package and has no debian/), missing packaging
# tools or build dependencies; steps 4-6 need root and no libpafka package installed by someone else.
# Environment: PAFKA_PKG_KEEP=1 keeps the temp dir (build log, .debs).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
pf_locate "$HERE"
TOP=$(cd "$TOP" && pwd)
T0=$SECONDS

note() { printf '# [%3ds] %s\n' $((SECONDS - T0)) "$*"; }
skip() { echo "SKIP: $*"; exit 77; }
# die WHAT: a step the rest depends on failed
die() { pf_fail "$*"; exit 1; }

# ---- where this cannot run
[ -z "${PAFKA_TEST_PKG_SAN:-}" ] ||
	skip "sanitizer build tree ($PAFKA_TEST_PKG_SAN): the package builds its own unsanitized copy, and the plain tree's make check runs this test"
[ -f "$TOP/debian/control" ] ||
	skip "no debian/ in $TOP (make dist's tarball is the orig of the 3.0 (quilt) package and does not carry it)"
command -v git >/dev/null 2>&1 || skip "git not found: the test packages the files git tracks"
git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1 || skip "$TOP is not a git checkout"
for t in dpkg-buildpackage dpkg-checkbuilddeps dpkg-architecture dh lintian; do
	command -v $t >/dev/null 2>&1 || skip "$t not found (apt-get install dpkg-dev debhelper lintian)"
done
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH) || die "dpkg-architecture -qDEB_HOST_MULTIARCH"
VERSION=$(dpkg-parsechangelog -l "$TOP/debian/changelog" -S Version) || die "reading debian/changelog"
ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-deb.XXXXXX") || die "mktemp"
SRC=$WORK/libpafka-${VERSION%-*}
POOLDIR=
INSTALLED=0
DROPIN=/usr/share/doc/libpafka/examples/systemd/kafka.service.d/pafka.conf

# dpkg_retry CMD...: a dpkg command, again while dpkg's lock is held by someone else (apt on this machine),
# at most 120 s; its output goes to $WORK/dpkg.out
dpkg_retry() {
	local start=$SECONDS
	while :; do
		"$@" >"$WORK/dpkg.out" 2>&1 && return 0
		grep -qiE 'lock.*(held|locked)|locked by another process' "$WORK/dpkg.out" || return 1
		[ $((SECONDS - start)) -lt 120 ] || return 1
		sleep 0.5
	done
}

finish() {
	local rc=$?
	trap - EXIT INT TERM HUP
	kafka_cleanup
	if [ "$INSTALLED" = 1 ]; then
		note "cleanup: purging the packages this test installed"
		dpkg_retry dpkg -P pafka-tools libpafka || { echo "# dpkg -P failed:"; cat "$WORK/dpkg.out"; rc=1; }
	fi
	[ -n "$POOLDIR" ] && rm -rf "$POOLDIR"
	if [ "${PAFKA_PKG_KEEP:-0}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
	[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ "$PF_FAILED" -eq 0 ] && PF_FAILED=1
	note "done: $PF_PASSED passed, $PF_FAILED failed"
	[ "$rc" -eq 77 ] && [ "$PF_FAILED" -eq 0 ] && exit 77
	[ "$PF_FAILED" -eq 0 ] && exit 0
	exit 1
}
trap finish EXIT
trap 'echo "interrupted"; exit 130' INT TERM HUP

# ---- 1. build from a copy of the tracked files
note "copying the sources git knows of in $TOP into $SRC"
mkdir -p "$SRC" || die "mkdir $SRC"
# what git tracks plus what it would add (not ignored), as the working tree has them: a file deleted from
# the working tree stays out
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
	xargs -0 cp -a --parents -t "$SRC") || die "copying the tracked files"
if ! (cd "$SRC" && dpkg-checkbuilddeps) >"$WORK/builddeps.out" 2>&1; then
	cat "$WORK/builddeps.out"
	skip "build dependencies missing (see above; tests/install-deps.sh installs them)"
fi
note "dpkg-buildpackage -us -uc -b (log: $WORK/build.log)"
# nothing of the calling make (make check's MAKEFLAGS holds TESTS=... and its jobserver) reaches the build
if ! (cd "$SRC" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u LD_PRELOAD \
	dpkg-buildpackage -us -uc -b -J"$(nproc 2>/dev/null || echo 2)") >"$WORK/build.log" 2>&1; then
	tail -n 60 "$WORK/build.log"
	die "dpkg-buildpackage -us -uc -b (the end of its log above)"
fi
CHANGES=$WORK/libpafka_${VERSION}_$ARCH.changes
LIBDEB=$WORK/libpafka_${VERSION}_$ARCH.deb
TOOLSDEB=$WORK/pafka-tools_${VERSION}_$ARCH.deb
pf_check "dpkg-buildpackage built libpafka and pafka-tools $VERSION ($((SECONDS - T0))s)" \
	test -f "$CHANGES" -a -f "$LIBDEB" -a -f "$TOOLSDEB"

# ---- 2. lintian
note "lintian"
lint_rc=0
lintian --display-info --display-experimental --pedantic --show-overrides --fail-on error "$CHANGES" >"$WORK/lintian.out" 2>&1 ||
	lint_rc=$?
grep -v 'running with root privileges' "$WORK/lintian.out" | sed 's/^/#   lintian: /'
lint_count() { grep -c "^$1:" "$WORK/lintian.out"; }
pf_check "lintian: no error ($(lint_count E) E, $(lint_count W) W, $(lint_count I) I, $(lint_count P) P, $(lint_count X) X, $(lint_count O) overridden; exit status $lint_rc)" \
	test "$(lint_count E)" -eq 0 -a "$lint_rc" -eq 0

# ---- 3. contents
dpkg-deb -c "$LIBDEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/lib.list" || die "dpkg-deb -c libpafka"
dpkg-deb -c "$TOOLSDEB" | awk '{print $6}' | sed 's|^\./|/|' >"$WORK/tools.list" || die "dpkg-deb -c pafka-tools"
has() { grep -qx -- "$2" "$WORK/$1.list"; }
pf_check "libpafka has /usr/lib/$MA/libpafka.so" has lib "/usr/lib/$MA/libpafka.so"
pf_check "libpafka has no libtool archive, static library or header" \
	test -z "$(grep -E '\.(la|a)$|^/usr/include' "$WORK/lib.list" "$WORK/tools.list")"
pf_check "libpafka has the systemd drop-in in its examples" has lib "$DROPIN"
pf_check "libpafka has the Grafana dashboard in its examples" \
	has lib /usr/share/doc/libpafka/examples/grafana/pafka-dashboard.json
pf_check "libpafka has the Prometheus alert rules in its examples" \
	has lib /usr/share/doc/libpafka/examples/prometheus/pafka-alerts.yml
pf_check "pafka-tools has /usr/bin/pafka" has tools /usr/bin/pafka
missing_man='' nman=0
for m in "$TOP"/man/*.1; do
	nman=$((nman + 1))
	has tools "/usr/share/man/man1/$(basename "$m").gz" || missing_man="$missing_man $(basename "$m")"
done
pf_check "pafka-tools has every man/*.1 page ($nman)${missing_man:+, missing:$missing_man}" test -z "$missing_man"
# libpafka(7), generated at build time (man/gen-keys), documents the library: it is in the runtime package
pf_check "libpafka has libpafka(7)" has lib /usr/share/man/man7/libpafka.7.gz
pf_check "pafka-tools depends on libpafka (= $VERSION)" \
	grep -q "libpafka (= $VERSION)" <<<"$(dpkg-deb -f "$TOOLSDEB" Depends)"

# ---- 4. install (root only, never over someone else's libpafka)
[ "$(id -u)" = 0 ] || skip "not root: the packages built and passed lintian; installing them needs root"
# one run of this test at a time on a machine (another tree's make check may run it too)
lock=/run/lock/libpafka-deb-test.lock
[ -d /run/lock ] || lock=/tmp/libpafka-deb-test.lock
exec 9>"$lock" || die "opening $lock"
flock -w 300 9 || skip "another run of this test held $lock for 300 s"
for p in libpafka pafka-tools; do
	st=$(dpkg-query -W -f='${db:Status-Abbrev} ${Version}' "$p" 2>/dev/null) || st=
	case $st in '' | 'un '* | 'pn '*) ;; *)
		skip "package $p is already on this machine ($st): this test installs and removes its own build, so it leaves that one alone (dpkg -P pafka-tools libpafka if it is a leftover)" ;;
	esac
done
for f in "/usr/lib/$MA/libpafka.so" /usr/bin/pafka; do
	[ -e "$f" ] && skip "$f exists without a package (make install --prefix=/usr?): dpkg -i would replace it"
done

note "dpkg -i"
INSTALLED=1
dpkg_retry dpkg -i "$LIBDEB" "$TOOLSDEB" || { cat "$WORK/dpkg.out"; die "dpkg -i of both packages"; }
pf_pass "dpkg -i installed libpafka and pafka-tools"
pf_check "dpkg-query: both packages installed" \
	test "$(dpkg-query -W -f='${db:Status-Abbrev}|' libpafka pafka-tools)" = "ii |ii |"
# by name, as the drop-in says: the loader must open the installed file
LD_DEBUG=libs LD_PRELOAD=libpafka.so /usr/bin/pafka --version >"$WORK/ld.out" 2>"$WORK/ld.err"
loaded=$(sed -n 's|.*calling init: \(.*/libpafka\.so\)$|\1|p' "$WORK/ld.err" | head -n1)
pf_check "LD_PRELOAD=libpafka.so (by name) loads /usr/lib/$MA/libpafka.so (the loader opened ${loaded:-nothing})" \
	test -n "$loaded" -a "$(readlink -f "${loaded:-/nonexistent}")" = "/usr/lib/$MA/libpafka.so"
pf_check "a program runs under it: pafka --version says pafka ${VERSION%-*}" grep -qx "pafka ${VERSION%-*}" "$WORK/ld.out"
pf_check "the ldconfig trigger ran: the loader's cache knows libpafka.so" grep -q 'libpafka\.so ' <<<"$(ldconfig -p)"
# shellcheck disable=SC2016 # the child's $LD_PRELOAD
pre=$(env -u LD_PRELOAD -u PAFKA_LIB /usr/bin/pafka run -- sh -c 'echo "$LD_PRELOAD"' 2>"$WORK/run.err")
pf_check "pafka run preloads the installed library (LD_PRELOAD=$pre)" test "$pre" = "/usr/lib/$MA/libpafka.so"
if command -v man >/dev/null 2>&1; then
	pf_check "man -w pafka finds the installed page" test "$(man -w pafka 2>/dev/null)" = /usr/share/man/man1/pafka.1.gz
	pf_check "man -w libpafka finds the installed page" test "$(man -w libpafka 2>/dev/null)" = /usr/share/man/man7/libpafka.7.gz
fi

# quiet CMD...: CMD with its stdout dropped (for pf_check, whose own line goes to stdout)
quiet() { "$@" >/dev/null; }

# ---- 5. a real broker under the installed drop-in's environment
broker_part() {
	local why=
	if [ "${PAFKA_TEST_PKG_KAFKA:-yes}" = no ]; then
		why="configure --disable-kafka-tests"
	elif ! command -v java >/dev/null 2>&1 || ! command -v kcat >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
		why="java, kcat or python3 missing"
	elif ! [ -d /dev/shm ] || ! [ -w /dev/shm ]; then
		why="/dev/shm (the pool's stand-in for PMem) is not writable"
	fi
	if [ -z "$why" ]; then
		# shellcheck source=tests/kafka/kafka.sh
		. "$TOP/tests/kafka/kafka.sh"
		note "fetching Kafka $KAFKA_VERSION"
		kafka_fetch_for_test
		case $? in
		0) ;;
		77) why=$KAFKA_FETCH_WHY ;;
		*) die "$KAFKA_FETCH_WHY" ;;
		esac
	fi
	if [ -n "$why" ]; then
		note "the broker part is skipped: $why"
		return 0
	fi

	# the drop-in's Environment= assignments, as systemd reads them (quotes, several on one line)
	python3 - "$DROPIN" >"$WORK/dropin.env" <<'PY' || die "parsing the installed drop-in's Environment= lines"
import shlex, sys
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.strip()
    if line.startswith("Environment="):
        for a in shlex.split(line[len("Environment="):]):
            print(a)
PY
	grep -qx 'LD_PRELOAD=libpafka.so' "$WORK/dropin.env" || die "the installed drop-in preloads libpafka.so by name"
	# the broker (and pafka status) get the drop-in's PAFKA_* settings and no other: make check's own
	# PAFKA_TEST_*, PAFKA_CACHE (kafka.sh has read it) stay in this shell only
	local v
	for v in $(compgen -e); do
		case $v in PAFKA_*) export -n "${v?}" ;; esac
	done
	POOLDIR=$(mktemp -d /dev/shm/pafka-deb.XXXXXX) || die "mktemp /dev/shm"
	local a preload=
	# shellcheck disable=SC2013
	while IFS= read -r a; do
		case $a in
		LD_PRELOAD=*) preload=${a#LD_PRELOAD=} ;;
		# the PMem mount becomes a temp dir on /dev/shm, and 64G a size that fits there
		PAFKA_STORAGE_TIERS_FIRST_PATHS=*) export "PAFKA_STORAGE_TIERS_FIRST_PATHS=$POOLDIR/pafka" ;;
		PAFKA_STORAGE_TIERS_FIRST_SIZES=*) export PAFKA_STORAGE_TIERS_FIRST_SIZES=256M ;;
		PAFKA_*=*) export "${a?}" ;;
		*) die "unexpected assignment in the drop-in: $a" ;;
		esac
	done <"$WORK/dropin.env"
	note "the drop-in's environment: LD_PRELOAD=$preload $(env | grep '^PAFKA_' | sort | tr '\n' ' ')"
	[ -n "${PAFKA_LOG_CHANNEL_TYPE:-}" ] || die "the drop-in sets PAFKA_LOG_CHANNEL_TYPE"

	# shellcheck disable=SC2034 # read by kafka_config: small segments, so that some roll
	KAFKA_SEGMENT_BYTES=1048576
	kafka_config "$WORK/broker" || die "writing server.properties"
	kafka_format || die "formatting the log dir"
	# KAFKA_PRELOAD wants a path; the drop-in names the library, so LD_PRELOAD goes in as it is
	LD_PRELOAD=$preload kafka_start || die "starting the broker under LD_PRELOAD=$preload"
	pf_pass "broker started under LD_PRELOAD=$preload with the drop-in's PAFKA_* settings"
	kafka_topic_create pkg 3 >/dev/null || die "creating topic pkg (TopicCommand)"
	kafka_topic_create perf 3 >/dev/null || die "creating topic perf (TopicCommand)"
	local n=5000 perf_n=20000
	python3 "$TOP/tests/kafka/records.py" gen 0 $n 1 >"$WORK/records.txt" || die "generating records"
	pf_check "kcat produced $n records to pkg" kafka_produce pkg <"$WORK/records.txt"
	pf_check "ProducerPerformance wrote $perf_n records of 1 KiB to perf" quiet kafka_perf_produce perf $perf_n 1024
	pf_check "ConsumerPerformance read them back" quiet kafka_perf_consume perf $perf_n
	kafka_consume pkg '%p %o %k %s\n' >"$WORK/consumed.txt" 2>"$WORK/consume.err" || pf_fail "kcat consumed pkg"
	python3 "$TOP/tests/kafka/records.py" verify $n 3 <"$WORK/consumed.txt" >"$WORK/verify.txt"
	sed 's/^/#   /' "$WORK/verify.txt"
	pf_check "every record of pkg came back in order with its checksum" \
		test "$(grep -c '^FAIL' "$WORK/verify.txt")" -eq 0 -a "$(grep -c '^PASS' "$WORK/verify.txt")" -gt 0

	# the installed pafka, with the same settings (as the drop-in's "Check:" line says)
	/usr/bin/pafka status --json -v >"$WORK/status.json" 2>"$WORK/status.err" || pf_fail "pafka status --json (stderr: $(head -c 300 "$WORK/status.err"))"
	python3 - "$WORK/status.json" "$KAFKA_PID" "$KAFKA_DIR/logs" "${PAFKA_STORAGE_MIGRATE_THRESHOLD:-}" \
		>"$WORK/status.check" 2>&1 <<'PY' || pf_fail "reading pafka status's JSON (see below)"
import json, sys
d = json.load(open(sys.argv[1]))
pid, logs, threshold = int(sys.argv[2]), sys.argv[3], sys.argv[4]
def check(what, cond):
    print(("PASS: " if cond else "FAIL: ") + what)
pools = d.get("pools", [])
p = pools[0] if pools else {}
w = p.get("writer", {})
check(f"pafka status: one pool ({len(pools)})", len(pools) == 1)
check(f"pafka status: the broker (pid {pid}) is the pool's writer (pid {w.get('pid')}, in use {w.get('in_use')})",
      w.get("pid") == pid and w.get("in_use") is True)
if threshold:
    check(f"pafka status: the pool's threshold is the drop-in's {threshold} ({p.get('threshold')})",
          abs(float(p.get("threshold", -1)) - float(threshold)) < 1e-9)
check(f"pafka status: the pool's marker names the broker's log dir ({p.get('log_dirs')})", logs in p.get("log_dirs", []))
pool = d.get("tiers", {}).get("pool", {})
check(f"pafka status: segment bytes in the pool tier ({pool.get('bytes')} bytes in {pool.get('files')} files)",
      pool.get("bytes", 0) > 0 and pool.get("files", 0) > 0)
parts = {q["partition"]: q for q in d.get("partitions", [])}
inpool = sorted(k for k, q in parts.items() if k.startswith(("pkg-", "perf-")) and q.get("pool_bytes", 0) > 0)
check(f"pafka status -v: every partition of pkg and perf has bytes in the pool ({inpool})", len(inpool) == 6)
PY
	sed 's/^/#   /' "$WORK/status.check"
	pf_count "$WORK/status.check"
	pf_check "clean stop of the broker (SIGTERM)" kafka_stop
}
broker_part

# ---- 6. remove and purge
note "dpkg -r, dpkg -P"
dpkg_retry dpkg -r pafka-tools libpafka || { cat "$WORK/dpkg.out"; die "dpkg -r of both packages"; }
left=
while IFS= read -r f; do
	[ -f "$f" ] || [ -L "$f" ] || continue
	left="$left $f"
done < <(cat "$WORK/lib.list" "$WORK/tools.list")
pf_check "dpkg -r removed every packaged file${left:+ (left:$left)}" test -z "$left"
dpkg_retry dpkg -P pafka-tools libpafka || { cat "$WORK/dpkg.out"; die "dpkg -P of both packages"; }
INSTALLED=0
pf_check "dpkg -P: no trace of either package in dpkg's database" \
	test -z "$(dpkg-query -W -f='${db:Status-Abbrev}\n' libpafka pafka-tools 2>/dev/null | grep -v '^un')"
pf_check "the packages' doc dirs are gone" test ! -e /usr/share/doc/libpafka -a ! -e /usr/share/doc/pafka-tools
pf_check "the loader's cache no longer knows libpafka.so" test -z "$(ldconfig -p | grep 'libpafka\.so ')"
LD_PRELOAD=libpafka.so /bin/true 2>"$WORK/ld-gone.err"
pf_check "LD_PRELOAD=libpafka.so no longer loads anything" grep -q 'cannot be preloaded' "$WORK/ld-gone.err"
note "runtime $((SECONDS - T0))s"

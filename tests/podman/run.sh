#!/bin/bash
# tests/podman/run.sh - contrib/docker-compose.yml and contrib/docker-compose.split.yml in a real container
# runtime (rootful podman + runc + podman-compose), with the CURRENT build's libpafka.so and pafka. Behind its
# own command, never part of make check: `make podman` from a build directory, or by hand
#   sudo PAFKA_TOP_BUILDDIR=$PWD/build bash tests/podman/run.sh
#
# What it does:
#   1. prerequisites: root, podman, runc, debootstrap, podman-compose, kcat, python3 (apt-get installs the
#      missing ones when it can, else SKIP, exit 77); /etc/containers/containers.conf gets
#      `default_ulimits = []` when a probe container cannot start without it (a machine without
#      CAP_SYS_RESOURCE: podman's default ulimits make runc call setrlimit, which fails with EPERM).
#   2. the image libpafka-kafka:0.1.0 (the name the compose files use). It is NOT built from
#      contrib/docker/Dockerfile (that needs a Debian registry pull, a compiler in the image and the Kafka
#      tarball from archive.apache.org); instead: a Debian 12 rootfs made once by debootstrap (minbase +
#      openjdk-17-jre-headless, libpmem1, procps) and cached in $PAFKA_CACHE/podman-rootfs, imported once as
#      localhost/pafka-podtest-base:bookworm, then per run a COPY-only build on top of it with Kafka's jars
#      (tests/kafka/kafka.sh's Maven Central fetch, so small bin/*.sh stand-ins call the classes), the build's
#      .libs/libpafka.so (/usr/local/lib) and pafka (/usr/local/bin), and the repository's
#      contrib/docker/kafka-start and *.properties at the Dockerfile's paths. The cached rootfs, the base
#      image and the final image are kept; the image the new one replaces is removed.
#   3. each compose file through podman-compose with runc, from a copy that drops only the `ulimits` key
#      (see "compose copies" below), under its own project name (pafka-podtest-ab, pafka-podtest-split) so
#      a real deployment's volumes are never touched; clients are kcat on the host (the brokers advertise
#      localhost:9092 / localhost:9094, which only the host can reach). Checks, one PASS/FAIL line each:
#      A/B pair: both brokers up; N records produced to each and consumed back identical (every key once,
#        same sha256 of the sorted records); kafka-pafka's pool in use (`pafka status --json`: used blocks,
#        pool files, writer alive and it is the kafka.Kafka process with libpafka mapped); kafka-plain has no
#        shim, no /pool, no pool marker; `podman-compose down` (kafka-start drains the pool into the volume:
#        the volume's segment files then hold every record) and `up` again: every record still there; a
#        second batch produced to t (appended to its drained segments, in the log dir) and to a new topic t2
#        (new segments: the new pool has used blocks) and everything consumed back.
#      split: controller and broker up; records round-trip through the broker; the controller logged the
#        `pafka[PID]: inert: process.roles has no broker role` line once, has no pool and keeps its metadata log
#        in its volume; the broker's pool in use; down/up as above, the new controller inert again.
#   4. "N passed, M failed" at the end; exit 1 on a failure. A trap removes the containers, networks and
#      volumes of both projects (also those a killed earlier run left behind).
#
# Variables: PAFKA_PODMAN_RECORDS (records per batch, default 20000), PAFKA_PODMAN_TIMEOUT (s a broker may
# take to come up, default 300), PAFKA_PODMAN_STOP (s for `podman-compose down -t`, default 180, the compose
# files' stop_grace_period), PAFKA_PODMAN_MIRROR (debootstrap mirror), PAFKA_PODMAN_KEEP=1 (leave the
# containers running on exit, for inspection), PAFKA_CACHE, KAFKA_VERSION (tests/kafka/kafka.sh).
# Runtime on 2 shared cores: 1-2 minutes (about 35 s more for the first debootstrap); the timeouts allow
# a much slower machine.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$HERE/../lib.sh"
pf_locate "$HERE"
T0=$SECONDS
NREC=${PAFKA_PODMAN_RECORDS:-20000}
UP_TIMEOUT=${PAFKA_PODMAN_TIMEOUT:-300}
STOP_T=${PAFKA_PODMAN_STOP:-180}
IMAGE=libpafka-kafka:0.1.0                  # what both compose files name
BASE=localhost/pafka-podtest-base:bookworm
PROJECTS="pafka-podtest-ab pafka-podtest-split"
DEB_PKGS=openjdk-17-jre-headless,libpmem1,procps
PASSED=0 FAILED=0

skip() {
	FINISHED=1
	[ -z "${RUN:-}" ] || { for p in $PROJECTS; do remove_project "$p"; done; rm -rf "$RUN"; }
	echo "SKIP: $*"; echo "0 passed, 0 failed"; exit 77
}
note() { printf '# [%4ds] %s\n' $((SECONDS - T0)) "$*"; }
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND...: PASS or FAIL by COMMAND's status
check() { local d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
die() { fail "$*"; finish; }

# ---- 1. prerequisites ------------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || skip "not root (rootful podman with runc, debootstrap and containers.conf need root)"
missing=
for c in podman:podman runc:runc debootstrap:debootstrap podman-compose:podman-compose kcat:kcat \
	python3:python3; do
	command -v "${c%%:*}" >/dev/null 2>&1 || missing="$missing ${c#*:}"
done
if [ -n "$missing" ]; then
	command -v apt-get >/dev/null 2>&1 || skip "missing:$missing (and no apt-get to install them)"
	note "installing$missing with apt-get"
	# shellcheck disable=SC2086 # a list of package names
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing >/tmp/pafka-podman-apt.log 2>&1 ||
		skip "apt-get install$missing failed (see /tmp/pafka-podman-apt.log)"
fi
[ -f "$LIB" ] || skip "libpafka.so not found at $LIB (build first or set PAFKA_TEST_LIB)"
[ -x "$BUILD/pafka" ] || skip "no pafka in $BUILD (build first)"
[ -z "${PAFKA_TEST_PRELOAD_FIRST:-}" ] || skip "sanitizer build (PAFKA_TEST_PRELOAD_FIRST is set): a JVM cannot run under it"

# every podman command of this script and of podman-compose runs with runc: crun refuses a hybrid cgroup
# layout
PODMAN=(podman --runtime runc)

# shellcheck source=tests/kafka/kafka.sh
. "$TOP/tests/kafka/kafka.sh"
RUN=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-podman.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }

# ---- cleanup ---------------------------------------------------------------------------------------------
# remove_project P: every container, pod, volume and network podman-compose made for project P (by label)
remove_project() {
	local p=$1 ids
	ids=$(podman ps -aq --filter "label=io.podman.compose.project=$p" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || podman rm -f -t 5 $ids >/dev/null 2>&1
	ids=$(podman pod ls -q --filter "label=io.podman.compose.project=$p" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || podman pod rm -f $ids >/dev/null 2>&1
	ids=$(podman volume ls -q --filter "label=io.podman.compose.project=$p" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || podman volume rm -f $ids >/dev/null 2>&1
	ids=$(podman network ls -q --filter "label=io.podman.compose.project=$p" 2>/dev/null)
	# shellcheck disable=SC2086
	[ -z "$ids" ] || podman network rm -f $ids >/dev/null 2>&1
	return 0
}
cleanup() {
	trap - EXIT INT TERM
	if [ "${PAFKA_PODMAN_KEEP:-0}" = 1 ]; then
		note "PAFKA_PODMAN_KEEP=1: containers left running; remove with: podman-compose -p P -f $RUN/compose/*.yml down -v"
		return
	fi
	for p in $PROJECTS; do remove_project "$p"; done
	if [ "$FAILED" = 0 ]; then rm -rf "$RUN"; else note "logs kept in $RUN"; fi
}
finish() {
	FINISHED=1
	cleanup
	note "done in $((SECONDS - T0)) s"
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ] || exit 1
	exit 0
}
trap 'echo "FAIL: interrupted"; FAILED=$((FAILED + 1)); finish' INT TERM
# an exit other than through finish (a bash error, an unforeseen exit): a FAIL, then the summary
# shellcheck disable=SC2154 # st is set in the trap
trap 'st=$?; [ -n "${FINISHED:-}" ] || { echo "FAIL: aborted (exit status $st)"; FAILED=$((FAILED + 1));
	cleanup; echo "$PASSED passed, $FAILED failed"; exit 1; }' EXIT
# what a killed earlier run left behind; then the ports the compose files publish must be free
for p in $PROJECTS; do remove_project "$p"; done
for port in 9092 9094; do
	python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null ||
		skip "127.0.0.1:$port is in use (the compose files publish 9092 and 9094)"
done

# ---- 2. the image ----------------------------------------------------------------------------------------
kafka_fetch || die "fetching Kafka $KAFKA_VERSION (tests/kafka/kafka.sh kafka_fetch)"
ROOTFS=$PAFKA_CACHE/podman-rootfs
STAMP="debootstrap --variant=minbase --include=$DEB_PKGS bookworm"
if [ -f "$ROOTFS/.pafka-rootfs" ] && [ "$(head -n1 "$ROOTFS/.pafka-rootfs")" = "$STAMP" ]; then
	note "reusing the rootfs in $ROOTFS"
else
	note "debootstrap of a Debian 12 rootfs into $ROOTFS (once; 2-3 minutes)"
	rm -rf "$ROOTFS" "$ROOTFS.tmp"
	mkdir -p "$PAFKA_CACHE"
	# shellcheck disable=SC2086 # STAMP's words are the arguments
	if ! timeout 1800 debootstrap --variant=minbase --include=$DEB_PKGS bookworm "$ROOTFS.tmp" \
		${PAFKA_PODMAN_MIRROR:-} >"$RUN/debootstrap.log" 2>&1; then
		tail -n 20 "$RUN/debootstrap.log"
		rm -rf "$ROOTFS.tmp"
		die "debootstrap (log: $RUN/debootstrap.log)"
	fi
	rm -rf "$ROOTFS.tmp"/var/cache/apt/archives/*.deb "$ROOTFS.tmp"/var/lib/apt/lists/*
	printf '%s\n%s\n' "$STAMP" "$(date -u +%Y%m%dT%H%M%SZ)" >"$ROOTFS.tmp/.pafka-rootfs"
	mv "$ROOTFS.tmp" "$ROOTFS" || die "mv $ROOTFS.tmp $ROOTFS"
fi
ROOTFS_ID=$(sha256sum <"$ROOTFS/.pafka-rootfs" | cut -c1-16)
if [ "$(podman image inspect -f '{{index .Labels "pafka.rootfs"}}' "$BASE" 2>/dev/null)" != "$ROOTFS_ID" ]; then
	note "importing the rootfs as $BASE"
	old=$(podman image inspect -f '{{.Id}}' "$BASE" 2>/dev/null)
	tar -C "$ROOTFS" --exclude=./.pafka-rootfs -cf - . |
		"${PODMAN[@]}" import --change "LABEL pafka.rootfs=\"$ROOTFS_ID\"" - "$BASE" >"$RUN/import.log" 2>&1 ||
		die "podman import of $ROOTFS (log: $RUN/import.log)"
	[ -z "$old" ] || podman rmi "$old" >/dev/null 2>&1
fi

# the build context: Kafka's jars and stand-in scripts, the build's library and command, contrib/docker/*
CTX=$RUN/ctx
mkdir -p "$CTX/kafka/bin" "$CTX/kafka/config" || die "mkdir $CTX"
cp -a "$KAFKA_LIBS" "$CTX/kafka/libs" || die "copying $KAFKA_LIBS"
cat >"$CTX/kafka/bin/kafka-run-class.sh" <<'EOF'
#!/bin/sh
# kafka-run-class.sh CLASS ARGS... - a stand-in for Kafka's script (this image holds Maven Central's jars,
# not the distribution, which has no scripts); tools log warnings to stderr, the broker INFO to stdout
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -Djava.awt.headless=true \
	-Dlog4j2.configurationFile=${KAFKA_LOG4J_CONF:-/opt/kafka/config/tools-log4j2.properties} \
	${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' "$@"
EOF
cat >"$CTX/kafka/bin/kafka-server-start.sh" <<'EOF'
#!/bin/sh
KAFKA_LOG4J_CONF=${KAFKA_LOG4J_CONF:-/opt/kafka/config/log4j2.properties}; export KAFKA_LOG4J_CONF
exec /opt/kafka/bin/kafka-run-class.sh kafka.Kafka "$@"
EOF
for t in kafka-storage.sh:kafka.tools.StorageTool kafka-topics.sh:org.apache.kafka.tools.TopicCommand \
	kafka-console-producer.sh:org.apache.kafka.tools.ConsoleProducer \
	kafka-console-consumer.sh:org.apache.kafka.tools.consumer.ConsoleConsumer \
	kafka-dump-log.sh:org.apache.kafka.tools.DumpLogSegments; do
	printf '#!/bin/sh\nexec /opt/kafka/bin/kafka-run-class.sh %s "$@"\n' "${t#*:}" >"$CTX/kafka/bin/${t%%:*}"
done
chmod 755 "$CTX"/kafka/bin/*
cat >"$CTX/kafka/config/log4j2.properties" <<'EOF'
status = warn
name = broker
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
sed -e 's/^name = broker/name = tools/' -e 's/^appender.out.type = Console/&\nappender.out.target = SYSTEM_ERR/' \
	-e 's/^rootLogger.level = info/rootLogger.level = warn/' "$CTX/kafka/config/log4j2.properties" \
	>"$CTX/kafka/config/tools-log4j2.properties"
{ cp "$LIB" "$CTX/libpafka.so" && cp "$BUILD/pafka" "$CTX/pafka" &&
	cp "$TOP"/contrib/docker/kafka-start "$TOP"/contrib/docker/*.properties "$CTX/"; } || die "copying the build's files"
cat >"$CTX/Containerfile" <<EOF
FROM $BASE
COPY kafka /opt/kafka
COPY libpafka.so /usr/local/lib/libpafka.so
COPY pafka kafka-start /usr/local/bin/
COPY server.properties controller.properties broker.properties /etc/kafka/
LABEL pafka.test=podman pafka.lib.sha256="$(sha256sum "$LIB" | cut -c1-64)"
EXPOSE 9092
ENTRYPOINT ["/usr/local/bin/kafka-start"]
EOF
note "building $IMAGE (Kafka $KAFKA_VERSION, $LIB, $BUILD/pafka)"
old=$(podman image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null)
"${PODMAN[@]}" build --layers=false -t "$IMAGE" -f "$CTX/Containerfile" "$CTX" >"$RUN/build.log" 2>&1 ||
	{ tail -n 20 "$RUN/build.log"; die "podman build of $IMAGE (log: $RUN/build.log)"; }
new=$(podman image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null)
[ -z "$old" ] || [ "$old" = "$new" ] || podman rmi "$old" >/dev/null 2>&1
rm -rf "$CTX/kafka/libs"

# containers.conf: a probe container; when it fails on rlimits, default_ulimits = [] (no CAP_SYS_RESOURCE)
probe() { "${PODMAN[@]}" run --rm --network none --entrypoint /bin/true "$IMAGE" >"$RUN/probe.log" 2>&1; }
if ! probe; then
	if grep -qiE 'rlimit|ulimit|operation not permitted' "$RUN/probe.log" &&
		! grep -qE '^[[:space:]]*default_ulimits[[:space:]]*=' /etc/containers/containers.conf 2>/dev/null; then
		conf=/etc/containers/containers.conf
		note "a container cannot set its default ulimits here ($(head -c 200 "$RUN/probe.log")): setting default_ulimits = [] in $conf"
		[ -f "$conf" ] && [ ! -f "$conf.pafka-bak" ] && cp "$conf" "$conf.pafka-bak"
		if grep -q '^\[containers\]' "$conf" 2>/dev/null; then
			sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
		else
			printf '\n[containers]\ndefault_ulimits = []\n' >>"$conf"
		fi
		probe || { cat "$RUN/probe.log"; die "a probe container does not start even with default_ulimits = []"; }
	else
		cat "$RUN/probe.log"
		die "a probe container (podman --runtime runc run $IMAGE) does not start"
	fi
fi
pass "image $IMAGE built from the cached rootfs with this build's libpafka.so and pafka; a probe container runs"

# ---- compose copies --------------------------------------------------------------------------------------
# The compose files' `ulimits: nofile: 262144` is dropped (and only it): podman passes it to runc as
# --ulimit, and runc then sets RLIMIT_NPROC as well, which needs CAP_SYS_RESOURCE (EPERM here), and 262144
# may exceed the hard RLIMIT_NOFILE of a sandbox (20000 on the machine this was written on).
mkdir -p "$RUN/compose"
compose_copy() { # SRC DST: SRC without the two lines `  ulimits:` / `    nofile: N`; anything else = FAIL
	sed -e '/^  ulimits:$/{N;/\n    nofile: [0-9]*$/d;}' "$1" >"$2"
	[ "$(diff "$1" "$2" | grep -c '^<')" = 2 ] && [ "$(diff "$1" "$2" | grep -c '^>')" = 0 ] &&
		! grep -q ulimits "$2"
}
compose_copy "$TOP/contrib/docker-compose.yml" "$RUN/compose/ab.yml" || die "the ulimits-free copy of contrib/docker-compose.yml"
compose_copy "$TOP/contrib/docker-compose.split.yml" "$RUN/compose/split.yml" || die "the ulimits-free copy of contrib/docker-compose.split.yml"

# ---- helpers ---------------------------------------------------------------------------------------------
# pc PROJECT FILE ARGS...: podman-compose with runc (its output in $RUN/compose.log). Notes on
# podman-compose 1.0.3: it ignores the files' top-level `name:` (hence -p) and `stop_grace_period`, and its
# `down` stops with `podman stop -t 1` unless given -t, which would kill kafka-start's drain (hence -t).
pc() {
	local p=$1 f=$2; shift 2
	echo "== $(date +%T) podman-compose -p $p $*" >>"$RUN/compose.log"
	timeout $((STOP_T * 3 + 120)) podman-compose --podman-args=--runtime=runc -p "$p" -f "$f" "$@" \
		>>"$RUN/compose.log" 2>&1
}
cname() { echo "${1}_${2}_1"; }
running() { [ "$(podman container inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
# wait_broker PORT CONTAINER...: until kcat sees a broker at 127.0.0.1:PORT (bounded; early out when a
# container stops)
wait_broker() {
	local port=$1 c t=$((SECONDS + UP_TIMEOUT)); shift
	while [ $SECONDS -lt $t ]; do
		if timeout 20 kcat -X broker.address.family=v4 -L -b "127.0.0.1:$port" -m 5 2>/dev/null |
			grep -q ' brokers:'; then
			return 0
		fi
		for c in "$@"; do
			running "$c" || { echo "# $c is not running:"; podman logs --tail 30 "$c" 2>&1 | sed 's/^/#   /'; return 1; }
		done
		sleep 2
	done
	echo "# no broker at 127.0.0.1:$port after ${UP_TIMEOUT}s"
	return 1
}
# make_records FILE FIRST COUNT: COUNT lines "kNNNNNNN<TAB>value" (unique keys from FIRST, ~200-byte values)
make_records() {
	python3 - "$@" <<'EOF'
import hashlib, sys
path, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for i in range(first, first + count):
        h = hashlib.sha256(str(i).encode()).hexdigest()
        f.write("k%07d\t%s-%s-%s\n" % (i, h, h[:64], h[::-1][:64]))
EOF
}
# shellcheck disable=SC2317 # (reached: shellcheck takes die's exit for the end of the script)
# produce PORT TOPIC FILE: every line as one record (key<TAB>value), acks=all
produce() {
	timeout 300 kcat -X broker.address.family=v4 -P -b "127.0.0.1:$1" -t "$2" -K "$(printf '\t')" \
		-X acks=all -X linger.ms=20 -X message.timeout.ms=120000 -X topic.metadata.refresh.interval.ms=1000 \
		<"$3" >>"$RUN/kcat.log" 2>&1
}
# consume_check PORT TOPIC EXPECTED WHAT: consume TOPIC from the beginning, compare with the lines of
# EXPECTED (every record exactly once, sha256 of the sorted records); retried a few times within 5 minutes
# (a broker just restarted may still be loading its partitions)
consume_check() {
	local port=$1 topic=$2 exp=$3 what=$4 out="$RUN/consumed.$2.$1" t=$((SECONDS + 300)) want got n
	want=$(sort "$exp" | sha256sum | cut -c1-16)
	n=$(wc -l <"$exp")
	while :; do
		timeout 180 kcat -X broker.address.family=v4 -C -b "127.0.0.1:$port" -t "$topic" -o beginning -e -q \
			-f '%k\t%s\n' >"$out" 2>>"$RUN/kcat.log"
		got=$(sort "$out" | sha256sum | cut -c1-16)
		if [ "$got" = "$want" ]; then
			pass "$what: $n records consumed back, sha256 $got as produced"
			return 0
		fi
		[ $SECONDS -lt $t ] || break
		sleep 5
	done
	fail "$what: consumed $(wc -l <"$out") records (sha256 $got), expected $n (sha256 $want); $(sort "$exp" |
		comm -23 - <(sort -u "$out") | wc -l) missing"
	return 1
}
# pool_check CONTAINER WHAT: `pafka status --json` in CONTAINER shows a pool with used blocks and pool files
# and a live writer that is the container's kafka.Kafka process with libpafka.so mapped
pool_check() {
	local c=$1 what=$2 js="$RUN/status.$1.json" pid msg
	podman exec "$c" pafka status --json >"$js" 2>"$js.err"
	if ! msg=$(python3 - "$js" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
p = s["pools"][0]
w = p["writer"]
ok = p["used_blocks"] > 0 and s["tiers"]["pool"]["files"] > 0 and w["in_use"] and w["pid_alive"] and w["pid"]
print("%s used_blocks=%d pool_files=%d writer pid=%s in_use=%s alive=%s" % (
    "ok" if ok else "BAD", p["used_blocks"], s["tiers"]["pool"]["files"], w["pid"], w["in_use"], w["pid_alive"]))
sys.exit(0 if ok else 1)
EOF
	); then
		fail "$what: pafka status --json: ${msg:-$(head -c 300 "$js" "$js.err")}"
		return 1
	fi
	pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pools"][0]["writer"]["pid"])' "$js")
	if podman exec "$c" sh -c "tr '\\0' ' ' </proc/$pid/cmdline | grep -q 'kafka\\.Kafka' && grep -q libpafka /proc/$pid/maps"; then
		pass "$what: pool in use ($msg; pid $pid is kafka.Kafka with libpafka.so mapped)"
	else
		fail "$what: the pool writer pid $pid is not a kafka.Kafka process with libpafka.so mapped ($msg)"
		return 1
	fi
}
# volume_check PROJECT VOLUME TOPIC FILE WHAT STOPLOG: with the containers down, the volume's TOPIC segment files
# hold every key of FILE (the pool was drained into the log dirs)
volume_check() {
	local mp keys want
	mp=$(podman volume inspect -f '{{.Mountpoint}}' "${1}_$2" 2>/dev/null)
	{ [ -n "$mp" ] && [ -d "$mp/logs" ]; } || { fail "$5: no volume ${1}_$2"; return 1; }
	keys=$(cat "$mp"/logs/"$3"-*/*.log 2>/dev/null | grep -aoE 'k[0-9]{7}' | sort -u | wc -l)
	want=$(wc -l <"$4")
	if [ "$keys" = "$want" ]; then
		pass "$5: the stopped broker's segment files in volume ${1}_$2 hold all $want keys (pool drained)"
	else
		fail "$5: the segment files in volume ${1}_$2 hold $keys of $want keys"
	fi
	# kafka-start's `pafka drain --unmark` reported an empty pool while the container stopped
	if grep -q 'empty: every byte is in the log dirs' "$6" 2>/dev/null; then
		pass "$5: kafka-start drained the pool on the stop ('$(grep -m1 'empty: every byte' "$6" | cut -c1-70)...')"
	else
		fail "$5: no 'empty: every byte is in the log dirs' from kafka-start's drain in the stop log $6"
	fi
}
up() { # PROJECT FILE WHAT PORT CONTAINER...
	local p=$1 f=$2 what=$3 port=$4; shift 4
	local t0=$SECONDS
	pc "$p" "$f" up -d --no-build
	if wait_broker "$port" "$@"; then
		pass "$what: up (podman-compose up -d), broker at localhost:$port in $((SECONDS - t0)) s"
	else
		fail "$what: up (podman-compose up -d): no broker at localhost:$port (log: $RUN/compose.log)"
		return 1
	fi
}
down() { # PROJECT FILE WHAT [-v]
	local p=$1 f=$2 what=$3 t0=$SECONDS c t fpids=; shift 3
	# follow each container's output through its stop (kafka-start's drain), into $RUN/CONTAINER.stop.log
	for c in $(podman ps -q --filter "label=io.podman.compose.project=$p" --format '{{.Names}}'); do
		podman logs -f --tail 0 "$c" >"$RUN/$c.stop.log" 2>&1 &
		fpids="$fpids $!"
	done
	pc "$p" "$f" down -t "$STOP_T" "$@"
	for c in $fpids; do # the followers end with their containers; bounded anyway
		t=$((SECONDS + 15))
		while kill -0 "$c" 2>/dev/null && [ $SECONDS -lt $t ]; do sleep 1; done
		kill "$c" 2>/dev/null
		wait "$c" 2>/dev/null
	done
	if podman ps -aq --filter "label=io.podman.compose.project=$p" | grep -q .; then
		fail "$what: podman-compose down left containers behind"
		return 1
	fi
	pass "$what: podman-compose down -t $STOP_T${*:+ $*} in $((SECONDS - t0)) s"
}
dump_logs() { # CONTAINER...: the containers' logs into $RUN (kept on a failure)
	local c
	for c in "$@"; do podman logs "$c" >"$RUN/$c.$SECONDS.log" 2>&1; done
}

# ---- 3a. the A/B pair ------------------------------------------------------------------------------------
P=pafka-podtest-ab F=$RUN/compose/ab.yml
PLAIN=$(cname $P kafka-plain) PAFKA=$(cname $P kafka-pafka)
make_records "$RUN/batch1" 1 "$NREC"
make_records "$RUN/batch2" $((NREC + 1)) $((NREC / 4))
cat "$RUN/batch1" "$RUN/batch2" >"$RUN/batch12"
note "A/B pair (contrib/docker-compose.yml): project $P, $NREC records per broker"
if up $P "$F" "A/B" 9092 "$PLAIN" "$PAFKA" && wait_broker 9094 "$PLAIN" "$PAFKA"; then
	for port in 9092 9094; do
		check "A/B: $NREC records produced to localhost:$port (kcat, acks=all)" produce $port t "$RUN/batch1"
	done
	consume_check 9092 t "$RUN/batch1" "A/B kafka-plain"
	consume_check 9094 t "$RUN/batch1" "A/B kafka-pafka"
	pool_check "$PAFKA" "A/B kafka-pafka"
	# shellcheck disable=SC2016 # expanded in the container
	check "A/B kafka-plain: no shim (LD_PRELOAD unset, libpafka in no process), no /pool, no .pafka-pools marker" \
		podman exec "$PLAIN" sh -c '[ -z "${LD_PRELOAD:-}" ] && [ ! -e /pool ] && [ ! -e /data/logs/.pafka-pools ] &&
			! grep -qs libpafka /proc/[0-9]*/maps && ls -d /data/logs/t-0 >/dev/null'
	dump_logs "$PLAIN" "$PAFKA"
	if down $P "$F" "A/B"; then
		volume_check $P data-pafka t "$RUN/batch1" "A/B kafka-pafka after down" "$RUN/$PAFKA.stop.log"
		if up $P "$F" "A/B after down/up" 9092 "$PLAIN" "$PAFKA" && wait_broker 9094 "$PLAIN" "$PAFKA"; then
			consume_check 9092 t "$RUN/batch1" "A/B kafka-plain after down/up"
			consume_check 9094 t "$RUN/batch1" "A/B kafka-pafka after down/up"
			# appends to t go to its drained (log-dir) segments; a new topic t2 gets new segments, in the new pool
			for port in 9092 9094; do
				# shellcheck disable=SC2016 # expanded by eval
				check "A/B after down/up: $((NREC / 4)) more records produced to localhost:$port, to t and to a new t2" \
					eval 'produce $port t "$RUN/batch2" && produce $port t2 "$RUN/batch2"'
			done
			consume_check 9092 t "$RUN/batch12" "A/B kafka-plain after down/up, t both batches"
			consume_check 9094 t "$RUN/batch12" "A/B kafka-pafka after down/up, t both batches"
			consume_check 9092 t2 "$RUN/batch2" "A/B kafka-plain after down/up, t2"
			consume_check 9094 t2 "$RUN/batch2" "A/B kafka-pafka after down/up, t2"
			pool_check "$PAFKA" "A/B kafka-pafka after down/up (a new pool, t2 in it)"
		fi
	fi
	dump_logs "$PLAIN" "$PAFKA"
fi
down $P "$F" "A/B final" -v
remove_project $P

# ---- 3b. the split layout --------------------------------------------------------------------------------
P=pafka-podtest-split F=$RUN/compose/split.yml
CTL=$(cname $P controller) BRK=$(cname $P broker)
# (contrib/README.md and the split file's comment quote it as "pafka: inert: ..."; the shim prints
# "pafka[PID]: inert: ...")
INERT='pafka(\[[0-9]+\])?: inert: process\.roles has no broker role'
# inert_check WHAT: the controller's log has the inert line exactly once (polled: it comes at the first
# metadata segment), no pool, no marker, and its metadata log in its own volume
inert_check() {
	local n=0 t=$((SECONDS + 120))
	while [ $SECONDS -lt $t ]; do
		n=$(podman logs "$CTL" 2>&1 | grep -cE "$INERT")
		[ "$n" = 0 ] || break
		sleep 2
	done
	if [ "$n" = 1 ]; then
		pass "$1: controller logged '$(podman logs "$CTL" 2>&1 | grep -m1 -E "$INERT" | cut -c1-100)...' once"
	else
		fail "$1: controller logged the inert line $n times"
	fi
	# shellcheck disable=SC2016 # expanded in the container
	check "$1: controller has the shim loaded but no pool, no .pafka-pools marker, its metadata log in /data/logs" \
		podman exec "$CTL" sh -c '[ -n "${LD_PRELOAD:-}" ] && { [ ! -e /pool ] || [ -z "$(ls -A /pool)" ]; } &&
			[ ! -e /data/logs/.pafka-pools ] && [ -s "$(ls /data/logs/__cluster_metadata-0/*.log | head -n1)" ] &&
			pid=$(pgrep -f "^java .*kafka\.Kafka" | head -n1) && grep -q libpafka /proc/$pid/maps'
}
note "split layout (contrib/docker-compose.split.yml): project $P, $NREC records"
if up $P "$F" "split" 9094 "$CTL" "$BRK"; then
	check "split: $NREC records produced to localhost:9094" produce 9094 t "$RUN/batch1"
	consume_check 9094 t "$RUN/batch1" "split broker"
	pool_check "$BRK" "split broker"
	inert_check "split"
	dump_logs "$CTL" "$BRK"
	if down $P "$F" "split"; then
		volume_check $P data-broker t "$RUN/batch1" "split broker after down" "$RUN/$BRK.stop.log"
		if up $P "$F" "split after down/up" 9094 "$CTL" "$BRK"; then
			consume_check 9094 t "$RUN/batch1" "split broker after down/up"
			# shellcheck disable=SC2016 # expanded by eval
			check "split after down/up: $((NREC / 4)) more records produced, to t and to a new t2" \
				eval 'produce 9094 t "$RUN/batch2" && produce 9094 t2 "$RUN/batch2"'
			consume_check 9094 t "$RUN/batch12" "split broker after down/up, t both batches"
			consume_check 9094 t2 "$RUN/batch2" "split broker after down/up, t2"
			pool_check "$BRK" "split broker after down/up (a new pool, t2 in it)"
			inert_check "split after down/up"
		fi
	fi
	dump_logs "$CTL" "$BRK"
fi
down $P "$F" "split final" -v
remove_project $P
finish

#!/bin/sh
# tests/cli/contrib.sh: the deployment files in contrib/ pass their linters: yamllint (docker-compose.yml,
# the Kubernetes manifests; Debian package yamllint), systemd-analyze verify (the kafka.service drop-in,
# as written and in its tmpfs variant; Debian package systemd), sh -n and shellcheck if present (the image's
# entry point). A linter that is missing skips its part; with none available the test skips (77).
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
C=$top_src/contrib
CLI_TMP=$(mktemp -d "${TMPDIR:-/var/tmp}/pafka-contrib.XXXXXX")
OUT=$CLI_TMP/out ERR=$CLI_TMP/err
trap 'rm -rf "$CLI_TMP"' EXIT
ran=0 missing=

if command -v yamllint >/dev/null; then
	run_rc 0 yamllint -s -c "$C/.yamllint" "$C/docker-compose.yml" "$C"/kubernetes/*.yaml
	# the manifests' content, with a Python that has PyYAML (yamllint's own, from its #! line)
	py=$(sed -n '1s/^#! *//p' "$(command -v yamllint)" | awk '{print $1}')
	"$py" -c 'import yaml' 2>/dev/null || py=python3
	"$py" - "$C/kubernetes/kafka-pafka.yaml" "$C/docker-compose.yml" >"$OUT" 2>&1 <<'PY' || fail "manifest content"
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
kinds = [d["kind"] for d in docs]
assert "StatefulSet" in kinds, kinds
sts = docs[kinds.index("StatefulSet")]
pod = sts["spec"]["template"]["spec"]
broker = pod["containers"][0]
assert broker["args"][:3] == ["pafka", "run", "--"], broker["args"]
pool = [v for v in pod["volumes"] if v["name"] == "pool"][0]
assert pool["emptyDir"]["medium"] == "Memory", pool
assert any(m["name"] == "pool" for m in broker["volumeMounts"])
cm = docs[kinds.index("ConfigMap")]["data"]
# the pool directory lies inside the pool volume, below its root: an emptyDir's root is world-writable,
# and the shim refuses a pool directory others may write
mount = [m for m in broker["volumeMounts"] if m["name"] == "pool"][0]["mountPath"].rstrip("/")
assert cm["PAFKA_STORAGE_TIERS_FIRST_PATHS"].startswith(mount + "/"), (cm, mount)
compose = yaml.safe_load(open(sys.argv[2]))
s = compose["services"]
assert set(s) == {"kafka-plain", "kafka-pafka"}, set(s)
assert s["kafka-pafka"]["command"][:3] == ["pafka", "run", "--"]
assert not any(k.startswith("PAFKA_") for k in s["kafka-plain"]["environment"])
assert s["kafka-plain"]["image"] == s["kafka-pafka"]["image"]
PY
	pass "yamllint: docker-compose.yml and the Kubernetes manifests; their content"
	ran=$((ran + 1))
else
	missing="$missing yamllint"
fi

if command -v systemd-analyze >/dev/null; then
	for variant in pmem tmpfs; do
		u=$CLI_TMP/$variant
		mkdir -p "$u/kafka.service.d"
		printf '[Unit]\nDescription=Kafka broker (test stand-in)\n[Service]\nExecStart=/bin/sleep infinity\n' >"$u/kafka.service"
		if [ $variant = pmem ]; then
			cp "$C/systemd/kafka.service.d/pafka.conf" "$u/kafka.service.d/pafka.conf"
		else
			# the commented tmpfs alternative, without the PMem mount and pool lines it replaces
			{ grep -v -e '^RequiresMountsFor' -e '^Environment=PAFKA_STORAGE_TIERS_FIRST_PATHS' \
				"$C/systemd/kafka.service.d/pafka.conf"
				# (ExecStop= must name an existing program: the pafka just built)
				sed -n 's/^#   \([A-Z][A-Za-z]*=.*\)$/\1/p' "$C/systemd/kafka.service.d/pafka.conf" |
					sed "s|/usr/local/bin/pafka|$PAFKA|"; } \
				>"$u/kafka.service.d/pafka.conf"
			grep -q '^RuntimeDirectory=pafka$' "$u/kafka.service.d/pafka.conf" || fail "no tmpfs variant found"
		fi
		# systemd-analyze reports problems on stderr but may still exit 0: any output is a failure.
		(cd "$u" && SYSTEMD_UNIT_PATH="$u:" systemd-analyze verify --man=no "$u/kafka.service") >"$OUT" 2>"$ERR" ||
			fail "systemd-analyze verify ($variant) failed"
		[ -s "$ERR" ] && fail "systemd-analyze verify ($variant) complained"
	done
	# the harness really reads the drop-in: a bad line must be reported
	echo "NoSuchKey=1" >>"$u/kafka.service.d/pafka.conf"
	(cd "$u" && SYSTEMD_UNIT_PATH="$u:" systemd-analyze verify --man=no "$u/kafka.service") >"$OUT" 2>"$ERR"
	err_has "Unknown key 'NoSuchKey'"
	pass "systemd-analyze verify: the drop-in and its tmpfs variant"
	ran=$((ran + 1))
else
	missing="$missing systemd-analyze(systemd)"
fi

run_rc 0 sh -n "$C/docker/kafka-start"
if command -v shellcheck >/dev/null; then
	run_rc 0 shellcheck -s sh "$C/docker/kafka-start"
	pass "shellcheck: contrib/docker/kafka-start"
else
	pass "sh -n: contrib/docker/kafka-start (shellcheck missing)"
fi
grep -q '^COPY contrib/docker/kafka-start ' "$C/docker/Dockerfile" || fail "the Dockerfile does not install kafka-start"

[ -z "$missing" ] || echo "# not run, missing:$missing"
[ $ran -gt 0 ] || skip "no linter available:$missing (apt-get install yamllint systemd)"

#!/bin/sh
# tests/install-deps.sh: install what building and testing libpafka needs on Debian (run as root).
# Idempotent: packages already present are left alone.
set -eu
pkgs="build-essential autoconf automake libtool pkg-config libpmem-dev uthash-dev libcriterion-dev
      maven openjdk-17-jdk-headless kcat python3 valgrind binutils procps yamllint shellcheck groff-base
      prometheus clang"
# the Debian packaging (debian/) and its test (tests/pkg/deb.sh)
pkgs="$pkgs debhelper lintian dpkg-dev fakeroot"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages:$missing; run as root or install them with apt-get" >&2
		exit 1
	fi
	echo "install-deps: installing$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

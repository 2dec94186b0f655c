#!/bin/bash
# tests/e2e/kafka39.sh - the e2e suite on Kafka 3.9 (the most deployed line; Kafka 3 logs through reload4j,
# which tests/e2e/log4j.properties configures like Kafka 4's log4j2), part of make check beside run.sh on
# the pinned 4.x. To keep CI under an hour it runs group 1 and restart on OpenJDK 17 (about 3 minutes);
# `make e2e-full` runs every case on both JDKs on both Kafka lines.
#   E2E_KAFKA39_VERSION (default 3.9.2), E2E_KAFKA39_CASES, E2E_KAFKA39_JDKS; the rest as run.sh.
export KAFKA_VERSION=${E2E_KAFKA39_VERSION:-3.9.2}
export E2E_CASES=${E2E_KAFKA39_CASES:-${E2E_CASES:-1 restart}}
export E2E_JDKS=${E2E_KAFKA39_JDKS:-/usr/lib/jvm/java-17-openjdk-amd64}
unset KAFKA_HOME # a 4.x distribution must not stand in for it
exec bash "$(dirname "${BASH_SOURCE[0]}")/run.sh" "$@"

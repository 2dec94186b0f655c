#!/bin/bash
# tests/e2e/scale.sh - a broker with 2000 partitions with and without the shim (tests/e2e/case-scale.sh),
# behind its own command (never part of make check): run from a build directory, or `make scale`.
#   E2E_SCALE_PARTITIONS (2000), E2E_SCALE_ROUNDS (3), E2E_SCALE_RECORDS per round (40000),
#   E2E_SCALE_ROLL_MS (60000), E2E_SCALE_POOL (4G), E2E_SCALE_BROKERS ("v s": vanilla, shim); E2E_JDKS (default
#   Debian's OpenJDK 17).
export E2E_CASES=scale
export E2E_JDKS=${E2E_JDKS:-/usr/lib/jvm/java-17-openjdk-amd64}
export E2E_CASE_TIMEOUT=${E2E_CASE_TIMEOUT:-7200}
exec bash "$(dirname "$0")/run.sh" "$@"

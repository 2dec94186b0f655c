#!/bin/bash
# tests/e2e/soak.sh - the kill soak (tests/e2e/case-soak.sh) with a real broker, behind its own command
# (never part of make check): run from a build directory, or `make soak`.
#   E2E_SOAK_KILLS (default 100), E2E_SOAK_MINUTES (stop earlier; 0: no limit), E2E_SOAK_RECORDS per round
#   (6000), E2E_SOAK_RATE (3000/s), E2E_SOAK_SEED; E2E_JDKS (default Debian's OpenJDK 17).
export E2E_CASES=soak
export E2E_JDKS=${E2E_JDKS:-/usr/lib/jvm/java-17-openjdk-amd64}
export E2E_CASE_TIMEOUT=${E2E_CASE_TIMEOUT:-10800}
exec bash "$(dirname "$0")/run.sh" "$@"

# tests/lib.sh - shared shell helpers for libpafka's test scripts (sourced, not run).
# pf_test_env DIR: make DIR/logs (a managed Kafka log dir) and a pool dir on /dev/shm (the PMem stand-in),
# and export the PAFKA_* variables that make files DIR/logs/<partition>/<20 digits>.log managed.
pf_test_env() {
	PAFKA_TEST_DIR=$1
	mkdir -p "$PAFKA_TEST_DIR/logs"
	PAFKA_TEST_POOLDIR=$(mktemp -d /dev/shm/pafka-test.XXXXXX)
	export PAFKA_TEST_DIR PAFKA_TEST_POOLDIR
	export PAFKA_LOG_DIRS="$PAFKA_TEST_DIR/logs"
	export PAFKA_LOG_CHANNEL_TYPE="${PAFKA_LOG_CHANNEL_TYPE:-pmem}"
	export PAFKA_STORAGE_TIERS_FIRST_PATHS="$PAFKA_TEST_POOLDIR"
	export PAFKA_STORAGE_TIERS_FIRST_SIZES="${PAFKA_STORAGE_TIERS_FIRST_SIZES:-64M}"
	export PAFKA_POOL_BLOCK_SIZE="${PAFKA_POOL_BLOCK_SIZE:-65536}"
}
pf_test_cleanup() {
	[ -n "${PAFKA_TEST_POOLDIR:-}" ] && rm -rf "$PAFKA_TEST_POOLDIR"
	[ -n "${PAFKA_TEST_DIR:-}" ] && rm -rf "$PAFKA_TEST_DIR"
}

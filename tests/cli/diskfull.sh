#!/bin/sh
# tests/cli/diskfull.sh: a log dir whose file system is full. Without the shim a segment append there fails
# with ENOSPC, and Kafka takes the dir offline; under the shim the bytes would go to the pool, the append
# would succeed, and the index Kafka maps from the full disk would raise SIGBUS at its next store (found by
# tests/e2e/case-dirfail.sh: acknowledged records lost). So a write that grows a pool-resident file while
# the log dir's disk is full fails with ENOSPC, as the kernel's does (also inside a pool block that is
# already there); the bytes already written read back, and once there is room again appends go to the pool.
# Needs root (a small tmpfs mount).
. "${PAFKA_TOP_SRCDIR:?}/tests/cli/cli_lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs as a full log dir"
cli_env 4M
FULL=$CLI_TMP/full
mkdir -p "$FULL"
mount -t tmpfs -o size=4m tmpfs "$FULL" 2>/dev/null || skip "cannot mount a tmpfs (mount -t tmpfs failed)"
cleanup_full() { umount "$FULL" 2>/dev/null; cli_cleanup; }
trap cleanup_full EXIT
export PAFKA_LOG_DIRS=$FULL
mkdir -p "$FULL/t-0" "$FULL/u-0"

# the first 100000 bytes go in while there is room; then the disk is filled
run_rc 0 shimmed "$W" w "$FULL/t-0/$SEG0" 100000 1 w "$FULL/t-1/$SEG0" 1000 4
# filled up to 512 KiB: the kernel still takes a plain write there, the shim keeps its last MiB for the
# kernel's own allocations (the index pages Kafka maps) and answers ENOSPC already
dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null
[ "$(stat -f -c %f "$FULL")" = 0 ] || fail "the tmpfs is not full"
truncate -s -512K "$FULL/filler"
run_rc 1 shimmed "$W" w "$FULL/t-0/$SEG1" 100000 3
err_has 'No space left on device'
dd if=/dev/zero of="$FULL/filler" bs=4k conv=notrunc oflag=append 2>/dev/null
# the kernel's answer for a plain file there, and the shim's for a managed one
run_rc 1 "$W" w "$FULL/u-0/plain.txt" 100000 2
err_has 'No space left on device'
run_rc 1 shimmed "$W" w "$FULL/t-0/$SEG1" 100000 3
err_has 'No space left on device'
run_rc 0 "$PAFKA" ls --json "$FULL/t-0/$SEG1"
[ "$(json 'd["files"][0]["size"]')" = 0 ] || fail "the refused append left bytes behind"
# an append inside the pool block t-1's first 1000 bytes already took (no new pool block needed)
run_rc 0 "$PAFKA" ls --json "$FULL/t-1/$SEG0"
[ "$(json 'd["files"][0]["tier"]')" = pool ] || fail "t-1 is in the pool"
run_rc 1 shimmed python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"x" * 3000)
except OSError as e:
    sys.exit(e.strerror)' "$FULL/t-1/$SEG0"
err_has 'No space left on device'
[ "$(stat -c %s "$FULL/t-1/$SEG0")" = 1000 ] || fail "the refused append inside a pool block grew the file"
run_rc 0 shimmed "$W" v "$FULL/t-0/$SEG0" 100000 1
pass "diskfull: a managed append to a full log dir fails with ENOSPC, as a plain one does; earlier bytes read back"

# room again: appends go to the pool
rm -f "$FULL/filler"
run_rc 0 shimmed "$W" w "$FULL/t-0/$SEG1" 100000 3
run_rc 0 "$PAFKA" ls --json "$FULL/t-0/$SEG1"
[ "$(json 'd["files"][0]["tier"]')" = pool ] || fail "after the disk has room again, the segment is in the pool"
run_rc 0 shimmed "$W" v "$FULL/t-0/$SEG0" 100000 1 v "$FULL/t-0/$SEG1" 100000 3
pass "diskfull: with room again, appends go to the pool"

#!/bin/sh
# tests/kafka/smoke-tiered.sh - the real-broker smoke test with log.channel.type=tiered and a pool smaller
# than the data (48M for about 90 MB), so the migration threads are demoting while the broker is
# SIGKILLed: after the restart every record is verified again, and again after the drain
# without the shim.
PAFKA_SMOKE_CHANNEL_TYPE=tiered PAFKA_SMOKE_POOL_SIZE=48M exec bash "$(dirname "$0")/smoke.sh" "$@"

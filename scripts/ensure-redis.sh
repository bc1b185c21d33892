#!/bin/sh
# Make sure Debian's redis-server is installed: the Redis tests start their own
# redis-server processes (tests/e2e/redis.ts) and none of them may skip because it
# is absent. Called by `npm test`, hence also by .ci/run. How: ensure-packages.sh.
exec sh "$(dirname "$0")/ensure-packages.sh" redis-server

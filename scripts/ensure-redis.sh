#!/bin/sh
# Make sure Debian's redis-server is installed: the Redis tests start their own
# redis-server processes (tests/e2e/redis.ts) and none of them may skip because it
# is absent. Called by `npm test`, hence also by .ci/run.
#
# - Already on PATH: returns at once (one `command -v`).
# - Missing, as root: `apt-get update` once, then `apt-get install -y redis-server`.
#   The package's system service is NOT started: while installing, a policy-rc.d
#   that denies every service start is put in place (unless one already exists) and
#   removed afterwards. The tests never use the system service.
# - Missing, not root: one line saying what to install, exit 1.
set -eu

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "redis-server is missing: install Debian's package as root (apt-get install -y redis-server), or run this script (scripts/ensure-redis.sh) as root" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "redis-server is missing and apt-get is not available: install redis-server 7.x by hand" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
  # Exit status 101 = "action forbidden": invoke-rc.d and deb-systemd-invoke start nothing.
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=1
fi
cleanup() { if [ -n "$ours" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "redis-server is missing: installing Debian's redis-server (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends redis-server >&2

if ! command -v redis-server >/dev/null 2>&1; then
  echo "apt-get install redis-server finished but redis-server is still not on PATH" >&2
  exit 1
fi
echo "installed: $(redis-server --version)" >&2

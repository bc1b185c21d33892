#!/bin/sh
# Make sure Debian packages whose program bears the package's name are installed:
#   sh scripts/ensure-packages.sh redis-server          (npm test, via ensure-redis.sh)
#   sh scripts/ensure-packages.sh ngircd inspircd       (the bench, via ensure-ircd.sh)
#
# - All present (on PATH, or in /usr/sbin, /usr/bin): returns at once.
# - Missing, as root: `apt-get update` once, then `apt-get install -y` of what is missing.
#   The packages' system services are NOT started (whoever needs a daemon starts its
#   own, in the foreground): while installing, a policy-rc.d that denies every service
#   start is put in place (unless one already exists) and removed afterwards.
# - Missing, not root, or no apt-get: one line saying what to install, exit 1.
set -eu

have() { [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] || command -v "$1" >/dev/null 2>&1; }

missing=""
for p in "$@"; do
  if ! have "$p"; then missing="$missing $p"; fi
done
if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "missing:$missing: install Debian's packages as root (apt-get install -y$missing), or run $0 as root" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing:$missing, and apt-get is not available: install them by hand" >&2
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

echo "missing:$missing: installing Debian's packages (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2

for p in $missing; do
  if ! have "$p"; then
    echo "apt-get install $p finished but $p is still not installed" >&2
    exit 1
  fi
done
echo "installed:$missing" >&2

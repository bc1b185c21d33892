#!/bin/sh
# Make sure the bench's IRC baselines are installed: Debian's ngircd and inspircd.
# Called by bench/run.ts when a run asks for ngircd or inspircd and one is missing,
# and by `npm run bench`.
#
# - Both present: returns at once.
# - Missing, as root: `apt-get update` once, then `apt-get install -y ngircd inspircd`.
#   The packages' system services are NOT started (the bench starts each daemon in
#   the foreground with a config of its own): while installing, a policy-rc.d that
#   denies every service start is put in place (unless one already exists) and
#   removed afterwards.
# - Missing, not root: one line saying what to install, exit 1.
set -eu

have() { [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ] || command -v "$1" >/dev/null 2>&1; }

missing=""
for p in ngircd inspircd; do
  if ! have "$p"; then missing="$missing $p"; fi
done
if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "missing:$missing: install Debian's packages as root (apt-get install -y$missing), or run bench/ensure-ircd.sh as root" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing:$missing, and apt-get is not available: install ngIRCd 26 and InspIRCd 3 by hand" >&2
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

#!/bin/sh
# Make sure the bench's IRC baselines are installed: Debian's ngircd and inspircd.
# Called by bench/run.ts when a run asks for ngircd or inspircd and one is missing.
# How (and that their services are not started): scripts/ensure-packages.sh.
exec sh "$(dirname "$0")/../scripts/ensure-packages.sh" ngircd inspircd

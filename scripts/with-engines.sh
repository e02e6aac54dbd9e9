#!/usr/bin/env bash
# Runs a command with the private test engines up: installs packages if missing, starts a "builder"
# and a "laptop" dockerd on private sockets with a local busybox base image, runs the command,
# and stops the engines again (unless DEPOT_KEEP_ENGINES=1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure-packages.sh"
"$here/engines.sh" start builder laptop
"$here/engines.sh" base builder laptop
export DEPOT_TEST_BUILDER_ENGINE="unix://$("$here/engines.sh" sock builder)"
export DEPOT_TEST_LAPTOP_ENGINE="unix://$("$here/engines.sh" sock laptop)"
status=0
"$@" || status=$?
[ "${DEPOT_KEEP_ENGINES:-}" = 1 ] || "$here/engines.sh" stop builder laptop
exit $status

#!/usr/bin/env bash
# Runs a command with the private test engines up: installs packages if missing, starts a "builder"
# and a "laptop" dockerd on private sockets with a local busybox base image, runs the command,
# and stops the engines again (unless DEPOT_KEEP_ENGINES=1).
# When aarch64 binaries can run here through qemu binfmt, it also starts "builder-arm64" (an
# emulated arm64 builder whose busybox:latest is arm64) and exports DEPOT_TEST_ARM64_ENGINE;
# otherwise it prints why, leaves that unset and exports the reason as DEPOT_TEST_ARM64_UNAVAILABLE.
# DEPOT_TEST_ARM64=0 skips the arm64 engine on purpose.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/ensure-packages.sh"
engines=(builder laptop)
unset DEPOT_TEST_ARM64_ENGINE DEPOT_TEST_ARM64_UNAVAILABLE
if [ "${DEPOT_TEST_ARM64:-}" = 0 ]; then
  export DEPOT_TEST_ARM64_UNAVAILABLE="DEPOT_TEST_ARM64=0"
elif why=$("$here/engines.sh" binfmt 2>&1); then
  engines+=(builder-arm64)
else
  why=$(printf '%s' "$why" | tail -1)
  echo "with-engines: no arm64 engine: ${why}" >&2
  export DEPOT_TEST_ARM64_UNAVAILABLE="$why"
fi
"$here/engines.sh" start "${engines[@]}"
"$here/engines.sh" base "${engines[@]}"
export DEPOT_TEST_BUILDER_ENGINE="unix://$("$here/engines.sh" sock builder)"
export DEPOT_TEST_LAPTOP_ENGINE="unix://$("$here/engines.sh" sock laptop)"
if [[ " ${engines[*]} " == *" builder-arm64 "* ]]; then
  export DEPOT_TEST_ARM64_ENGINE="unix://$("$here/engines.sh" sock builder-arm64)"
fi
status=0
"$@" || status=$?
[ "${DEPOT_KEEP_ENGINES:-}" = 1 ] || "$here/engines.sh" stop "${engines[@]}"
exit $status

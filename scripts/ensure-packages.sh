#!/usr/bin/env bash
# Installs the Debian packages depot's tests and examples need, when they are missing (idempotent).
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /usr/bin/docker ] || need+=(docker.io)
command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils) # registry auth tests
command -v ssh-agent >/dev/null 2>&1 || need+=(openssh-client) # --ssh tests (a real agent)
# The emulated arm64 builder (builder-arm64): qemu-aarch64-static registered with binfmt_misc
# (the F flag, so it runs inside containers). The arm64 busybox base: scripts/arm64-base.sh.
command -v qemu-aarch64-static >/dev/null 2>&1 || need+=(qemu-user-static)
command -v update-binfmts >/dev/null 2>&1 || need+=(binfmt-support)
# The shared build history's tests and bench: a private server per test (scripts/postgres.sh).
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

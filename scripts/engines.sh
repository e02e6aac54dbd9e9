#!/usr/bin/env bash
# Starts, stops or describes private Docker engines used by depot's tests, benches and examples.
#   scripts/engines.sh start [NAME...]   start engines (default: builder laptop), idempotent
#   scripts/engines.sh stop [NAME...]    stop them and clean pid files and sockets
#   scripts/engines.sh sock NAME         print the socket path of an engine
#   scripts/engines.sh base NAME         make sure the local busybox base image exists in an engine
#   scripts/engines.sh binfmt            make aarch64 binaries run here through qemu-user-static
#                                        (binfmt_misc with the F flag); prints why not and fails
# Each engine gets its own data root, exec root, socket and bridge, so several run side by side.
# An engine whose name ends in -arm64 (e.g. builder-arm64) is an x86_64 dockerd whose busybox:latest
# is the arm64 busybox (scripts/arm64-base.sh) and whose RUN steps execute through qemu binfmt:
# builds on it must ask for --platform linux/arm64 (the daemon's default platform stays amd64).
set -euo pipefail
ROOT=${DEPOT_ENGINES_ROOT:-/tmp/depot-engines}
cmd=${1:-start}; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(builder laptop)

here=$(cd "$(dirname "$0")" && pwd)

sock() { echo "$ROOT/$1/docker.sock"; }

is_arm64() { [[ $1 == *-arm64 ]]; }

binfmt() { # register qemu-aarch64 with binfmt_misc and check that an aarch64 binary runs
  local bm=/proc/sys/fs/binfmt_misc entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
  if [ "$(uname -m)" = aarch64 ]; then return 0; fi
  command -v qemu-aarch64-static >/dev/null 2>&1 ||
    { echo "qemu-aarch64-static is not installed (apt-get install qemu-user-static binfmt-support)" >&2; return 1; }
  if [ ! -e "$bm/register" ]; then
    mount -t binfmt_misc binfmt_misc "$bm" 2>/dev/null ||
      { echo "binfmt_misc is not mounted at $bm and mounting it failed (no privilege in this sandbox?)" >&2; return 1; }
  fi
  if [ ! -e "$entry" ]; then
    command -v update-binfmts >/dev/null 2>&1 ||
      { echo "update-binfmts is missing (apt-get install binfmt-support)" >&2; return 1; }
    update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  [ -e "$entry" ] || { echo "could not register qemu-aarch64 in $bm (update-binfmts --enable qemu-aarch64 failed)" >&2; return 1; }
  grep -qx enabled "$entry" || echo 1 >"$entry" 2>/dev/null || true
  grep -qx enabled "$entry" || { echo "$entry is registered but disabled" >&2; return 1; }
  # F (fix-binary): the kernel keeps the interpreter open, so it works inside containers' mounts.
  grep -q '^flags:.*F' "$entry" ||
    { echo "$entry lacks the F flag ($(grep '^flags' "$entry")): qemu would not be found inside containers" >&2; return 1; }
  local bb out; bb=$("$here/arm64-base.sh" --binary) || { echo "could not get the arm64 busybox (scripts/arm64-base.sh)" >&2; return 1; }
  out=$("$bb" uname -m 2>&1) || true
  [ "$out" = aarch64 ] || { echo "an aarch64 binary does not run through binfmt (got: $out)" >&2; return 1; }
}

alive() { # NAME
  local s; s=$(sock "$1")
  [ -S "$s" ] && curl -sf --unix-socket "$s" http://d/_ping >/dev/null 2>&1
}

start_one() { # NAME
  local n=$1 dir="$ROOT/$1" s; s=$(sock "$1")
  if alive "$n"; then return 0; fi
  if is_arm64 "$n"; then binfmt || { echo "engine $n needs qemu binfmt for aarch64" >&2; exit 1; }; fi
  mkdir -p "$dir/data" "$dir/exec"
  if [ -f "$dir/dockerd.pid" ]; then kill "$(cat "$dir/dockerd.pid")" 2>/dev/null || true; sleep 1; fi
  rm -f "$s" "$dir/dockerd.pid" "$dir/exec/containerd/containerd.pid"
  # Short exec-root paths: containerd's socket path must stay under the unix socket length limit.
  local exec="/tmp/de-$n"; mkdir -p "$exec"
  local br; br=$(bridge_one "$n")
  nohup dockerd --iptables=false --ip-masq=false --ip-forward=false --bridge="$br" \
    --data-root "$dir/data" --exec-root "$exec" --pidfile "$dir/dockerd.pid" \
    -H "unix://$s" >"$dir/dockerd.log" 2>&1 &
  for _ in $(seq 1 120); do alive "$n" && break; sleep 0.5; done
  alive "$n" || { echo "engine $n did not start; see $dir/dockerd.log" >&2; tail -20 "$dir/dockerd.log" >&2; exit 1; }
}

base_one() { # NAME: import busybox-static as busybox:latest (the arm64 one on *-arm64 engines)
  local s arch want=amd64; s=$(sock "$1")
  is_arm64 "$1" && want=arm64
  arch=$(DOCKER_HOST="unix://$s" /usr/bin/docker image inspect -f '{{.Architecture}}' busybox:latest 2>/dev/null || true)
  if [ "$arch" = "$want" ]; then return 0; fi
  if [ "$want" = arm64 ]; then "$here/arm64-base.sh" --load "unix://$s"; return 0; fi
  local bb; bb=$(command -v busybox || echo /bin/busybox)
  local t; t=$(mktemp -d)
  mkdir -p "$t/rootfs/bin" "$t/rootfs/tmp" "$t/rootfs/etc"
  cp "$bb" "$t/rootfs/bin/busybox"
  for a in $("$bb" --list); do [ "$a" = busybox ] || ln -sf busybox "$t/rootfs/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$t/rootfs/etc/passwd"
  echo 'root:x:0:' >"$t/rootfs/etc/group"
  tar -C "$t/rootfs" -cf "$t/rootfs.tar" .
  DOCKER_HOST="unix://$s" docker import -c 'CMD ["/bin/sh"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$t/rootfs.tar" busybox:latest >/dev/null
  rm -rf "$t"
}

bridge_one() { # NAME: a bridge of the engine's own (RUN steps need one); prints its name
  local n=$1 br="dpt-${1:0:10}" idx
  if ! ip link show "$br" >/dev/null 2>&1; then
    idx=$(( $(printf '%s' "$n" | cksum | cut -d' ' -f1) % 200 + 20 ))
    ip link add name "$br" type bridge
    ip addr add "10.213.$idx.1/24" dev "$br"
  fi
  ip link set "$br" up
  echo "$br"
}

stop_one() { # NAME
  local dir="$ROOT/$1"
  if [ -f "$dir/dockerd.pid" ]; then
    local pid; pid=$(cat "$dir/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(sock "$1")" "$dir/dockerd.pid"
}

case "$cmd" in
  start) for n in "${names[@]}"; do start_one "$n"; done ;;
  stop) for n in "${names[@]}"; do stop_one "$n"; done ;;
  sock) sock "${names[0]}" ;;
  base) for n in "${names[@]}"; do base_one "$n"; done ;;
  binfmt) binfmt ;;
  *) echo "usage: $0 start|stop|sock|base|binfmt [NAME...]" >&2; exit 2 ;;
esac

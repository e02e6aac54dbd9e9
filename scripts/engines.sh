#!/usr/bin/env bash
# Starts, stops or describes private Docker engines used by depot's tests, benches and examples.
#   scripts/engines.sh start [NAME...]   start engines (default: builder laptop), idempotent
#   scripts/engines.sh stop [NAME...]    stop them and clean pid files and sockets
#   scripts/engines.sh sock NAME         print the socket path of an engine
#   scripts/engines.sh base NAME         make sure the local busybox base image exists in an engine
# Each engine gets its own data root, exec root, socket and no bridge, so several run side by side.
set -euo pipefail
ROOT=${DEPOT_ENGINES_ROOT:-/tmp/depot-engines}
cmd=${1:-start}; shift || true
names=("$@"); [ ${#names[@]} -gt 0 ] || names=(builder laptop)

sock() { echo "$ROOT/$1/docker.sock"; }

alive() { # NAME
  local s; s=$(sock "$1")
  [ -S "$s" ] && curl -sf --unix-socket "$s" http://d/_ping >/dev/null 2>&1
}

start_one() { # NAME
  local n=$1 dir="$ROOT/$1" s; s=$(sock "$1")
  if alive "$n"; then return 0; fi
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

base_one() { # NAME: import busybox-static as busybox:latest (and depot/busybox:latest)
  local s; s=$(sock "$1")
  if DOCKER_HOST="unix://$s" docker image inspect busybox:latest >/dev/null 2>&1; then return 0; fi
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
  *) echo "usage: $0 start|stop|sock|base [NAME...]" >&2; exit 2 ;;
esac

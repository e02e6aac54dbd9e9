#!/usr/bin/env bash
# The main job on a fresh machine: make sure a Docker engine is reachable (installing Debian's
# docker.io and starting dockerd if none is), build examples/hello with depot's embedded builder,
# load it into Docker and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
ping() { curl -sf --unix-socket "$1" http://d/_ping >/dev/null 2>&1; }
sock=${DOCKER_HOST:-unix:///var/run/docker.sock}; sock=${sock#unix://}
if ! ping "$sock"; then
  command -v curl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
  scripts/ensure-packages.sh
  sock=/var/run/docker.sock; unset DOCKER_HOST
  if ! ping "$sock"; then
    echo "starting dockerd on $sock" >&2
    # No iptables here: builds need only the engine's own bridge, never outside traffic.
    nohup dockerd --iptables=false --ip-masq=false >/var/log/depot-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do ping "$sock" && break; sleep 0.5; done
    ping "$sock" || { echo "dockerd did not start; see /var/log/depot-dockerd.log" >&2; exit 1; }
  fi
fi
export DOCKER_HOST=${DOCKER_HOST:-unix:///var/run/docker.sock}
[ -d node_modules ] || npm ci --no-audit --no-fund
[ -f dist/bundle/depot.mjs ] || npm run build
# examples/hello starts FROM busybox: make one from Debian's busybox-static when the engine has none.
if ! /usr/bin/docker image inspect busybox:latest >/dev/null 2>&1; then
  scripts/ensure-packages.sh
  t=$(mktemp -d); mkdir -p "$t/bin" "$t/tmp" "$t/etc"; cp "$(command -v busybox)" "$t/bin/busybox"
  for a in $("$t/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$t/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$t/etc/passwd"
  tar -C "$t" -c . | /usr/bin/docker import -c 'CMD ["/bin/sh"]' - busybox:latest >/dev/null; rm -rf "$t"
fi
node dist/bundle/depot.mjs build -t depot-hello --load examples/hello
/usr/bin/docker run --rm depot-hello

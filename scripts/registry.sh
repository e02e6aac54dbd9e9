#!/usr/bin/env bash
# Starts or stops private Docker registries (Debian's docker-registry) for depot's tests and examples.
#   scripts/registry.sh start NAME [--htpasswd USER:PASS]   start (idempotent); prints HOST:PORT
#   scripts/registry.sh stop NAME                           stop it and remove its state
#   scripts/registry.sh addr NAME                           print HOST:PORT of a running registry
# Each registry listens on 127.0.0.1 only (a free port), with its own storage, config and log under
# $DEPOT_REGISTRIES_ROOT/NAME (default /tmp/depot-registries/NAME); its pid is in registry.pid there.
# With --htpasswd the registry requires HTTP Basic auth (bcrypt entry made with `htpasswd -B`).
# Docker engines treat 127.0.0.0/8 as an insecure registry, so plain HTTP works without daemon flags.
set -euo pipefail
ROOT=${DEPOT_REGISTRIES_ROOT:-/tmp/depot-registries}
REGISTRY_BIN=${DEPOT_REGISTRY_BIN:-/usr/bin/docker-registry}
cmd=${1:-}; name=${2:-}
usage() { echo "usage: $0 start|stop|addr NAME [--htpasswd USER:PASS]" >&2; exit 2; }
[ -n "$cmd" ] && [ -n "$name" ] || usage
case "$name" in *[!A-Za-z0-9._-]*) echo "invalid registry name: $name" >&2; exit 2 ;; esac
shift 2
htpasswd_cred=""
while [ $# -gt 0 ]; do
  case "$1" in
    --htpasswd) htpasswd_cred=${2:?--htpasswd needs USER:PASS}; shift 2 ;;
    --htpasswd=*) htpasswd_cred=${1#--htpasswd=}; shift ;;
    *) usage ;;
  esac
done
dir="$ROOT/$name"

alive() {
  [ -f "$dir/registry.pid" ] && kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null && [ -f "$dir/addr" ] || return 1
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://$(cat "$dir/addr")/v2/" || true)
  [ "$code" = 200 ] || [ "$code" = 401 ]
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  if alive; then cat "$dir/addr"; return 0; fi
  [ -x "$REGISTRY_BIN" ] || { echo "docker-registry not found at $REGISTRY_BIN (apt-get install docker-registry)" >&2; exit 1; }
  stop_quiet
  mkdir -p "$dir/data"
  chmod 700 "$dir"
  local port auth=""
  port=$(free_port)
  if [ -n "$htpasswd_cred" ]; then
    command -v htpasswd >/dev/null 2>&1 || { echo "htpasswd not found (apt-get install apache2-utils)" >&2; exit 1; }
    local user=${htpasswd_cred%%:*} pass=${htpasswd_cred#*:}
    [ "$user" != "$htpasswd_cred" ] && [ -n "$user" ] || { echo "--htpasswd wants USER:PASS" >&2; exit 2; }
    # -i reads the password from stdin, so it never shows in the process list.
    printf '%s' "$pass" | htpasswd -iBc "$dir/htpasswd" "$user" 2>/dev/null
    auth="auth:
  htpasswd:
    realm: depot-registry-$name
    path: $dir/htpasswd"
  fi
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
$auth
EOF
  echo "127.0.0.1:$port" >"$dir/addr"
  nohup "$REGISTRY_BIN" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 100); do alive && break; sleep 0.1; done
  alive || { echo "registry $name did not start; see $dir/registry.log" >&2; tail -20 "$dir/registry.log" >&2; exit 1; }
  cat "$dir/addr"
}

stop_quiet() {
  if [ -f "$dir/registry.pid" ]; then
    local pid; pid=$(cat "$dir/registry.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/registry.pid"
  fi
}

case "$cmd" in
  start) start ;;
  stop) stop_quiet; rm -rf "$dir" ;;
  addr) alive || { echo "registry $name is not running" >&2; exit 1; }; cat "$dir/addr" ;;
  *) usage ;;
esac

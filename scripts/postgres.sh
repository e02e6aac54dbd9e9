#!/usr/bin/env bash
# Starts or stops private PostgreSQL servers (Debian's postgresql-15) for depot's tests and benches.
#   scripts/postgres.sh start NAME   initdb (once) and start (idempotent); prints the server's URL
#   scripts/postgres.sh stop NAME    stop it and remove its state
#   scripts/postgres.sh url NAME     print the URL of a running server
# Each server has its own data directory, log and unix socket under $DEPOT_POSTGRES_ROOT/NAME
# (default /tmp/depot-postgres/NAME) and listens on no TCP port. Its superuser is "depot" with trust
# authentication on the socket only, and the URL names the database "depot":
#   postgres:///depot?host=/tmp/depot-postgres/NAME/sock&user=depot
# PostgreSQL refuses to run as root: as root, the server runs as the "postgres" user (made by the
# Debian package) and owns its directory; otherwise as the caller.
set -euo pipefail
ROOT=${DEPOT_POSTGRES_ROOT:-/tmp/depot-postgres}
BIN=${DEPOT_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}; name=${2:-}
usage() { echo "usage: $0 start|stop|url NAME" >&2; exit 2; }
[ -n "$cmd" ] && [ -n "$name" ] || usage
case "$name" in *[!A-Za-z0-9._-]*) echo "invalid server name: $name" >&2; exit 2 ;; esac
dir="$ROOT/$name"

as_owner() { # run a command as the user the server runs as
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgres:///depot?host=$dir/sock&user=depot"; }

alive() {
  [ -S "$dir/sock/.s.PGSQL.5432" ] && "$BIN/pg_isready" -q -h "$dir/sock" -U depot -d postgres
}

start() {
  if alive; then url; return 0; fi
  [ -x "$BIN/initdb" ] || { echo "PostgreSQL not found at $BIN (apt-get install postgresql-15)" >&2; exit 1; }
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "running as root and there is no postgres user to run the server as" >&2; exit 1
  fi
  # A server that died leaves its pid file; pg_ctl start refuses nothing but a live one.
  [ -f "$dir/data/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  mkdir -p "$ROOT" "$dir/sock"
  chmod 755 "$ROOT"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
  chmod 700 "$dir"
  [ "$(id -u)" = 0 ] && chmod 711 "$dir" # root's tests reach the socket; postgres owns the rest
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_owner "$BIN/initdb" -D "$dir/data" -U depot --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
      { echo "initdb failed; see $dir/initdb.log" >&2; tail -20 "$dir/initdb.log" >&2; exit 1; }
  fi
  # Test data: durability is not wanted, speed is.
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-k $dir/sock -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    >/dev/null || { echo "postgres $name did not start; see $dir/server.log" >&2; tail -20 "$dir/server.log" >&2; exit 1; }
  "$BIN/psql" -q -h "$dir/sock" -U depot -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'depot'" |
    grep -q 1 || "$BIN/createdb" -h "$dir/sock" -U depot depot
  url
}

stop() {
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  url) alive || { echo "postgres $name is not running" >&2; exit 1; }; url ;;
  *) usage ;;
esac

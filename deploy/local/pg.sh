#!/usr/bin/env bash
# Throwaway PostgreSQL servers for projector's tests and demo.
#
#   deploy/local/pg.sh up|down|status|restart [PORT ...]
#
# Each port gets its own independent cluster under .testbed/pg/PORT (git-ignored),
# configured for logical replication and listening on 127.0.0.1 only. Service
# databases live on different servers in real deployments, so by default two
# servers are managed: 5433 and 5434 (override with PG_PORTS="5433 5434").
# Every command is idempotent.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
base="$root/.testbed/pg"

die() { echo "pg.sh: $*" >&2; exit 1; }

# bindir finds the server binaries: pg_config knows where they are on Debian,
# otherwise the newest /usr/lib/postgresql/N/bin is used.
bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then echo "$PG_BINDIR"; return; fi
  local d
  d=$(pg_config --bindir 2>/dev/null || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] ||
    die "no PostgreSQL server binaries found; install them with: apt-get install -y postgresql"
  echo "$d"
}
BIN=$(bindir)

# as_owner runs a command as the cluster owner: initdb and postgres refuse to
# run as root, so root hands the cluster to the postgres system user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

init_cluster() {
  local port=$1 dir="$base/$1"
  [ -f "$dir/data/PG_VERSION" ] && return 0
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$base" "$dir"
  as_owner "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb for port $port failed"; }
  # fsync is off because these clusters are disposable: it keeps tests fast,
  # while a clean or fast restart (what the tests do) still loses nothing.
  cat >>"$dir/data/postgresql.conf" <<CONF

# projector test bed
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 200
shared_buffers = 256MB
fsync = off
full_page_writes = off
logging_collector = off
log_min_messages = warning
CONF
  cat >"$dir/data/pg_hba.conf" <<HBA
local all         all                  trust
local replication all                  trust
host  all         all    127.0.0.1/32  trust
host  replication all    127.0.0.1/32  trust
HBA
}

running() { as_owner "$BIN/pg_ctl" -D "$base/$1/data" status >/dev/null 2>&1; }

up() {
  local port=$1 dir="$base/$1"
  init_cluster "$port"
  if running "$port"; then echo "postgres on 127.0.0.1:$port already running"; return 0; fi
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$dir/server.log" >&2; die "postgres on port $port did not start (log: $dir/server.log)"; }
  echo "postgres on 127.0.0.1:$port started (data: $dir/data)"
}

down() {
  local port=$1
  [ -d "$base/$port/data" ] || return 0
  if running "$port"; then
    as_owner "$BIN/pg_ctl" -D "$base/$port/data" -m fast -w -t 60 stop >/dev/null
    echo "postgres on 127.0.0.1:$port stopped"
  fi
}

restart() {
  local port=$1
  running "$port" || { up "$port"; return; }
  as_owner "$BIN/pg_ctl" -D "$base/$port/data" -l "$base/$port/server.log" -m fast -w -t 60 restart >/dev/null
  echo "postgres on 127.0.0.1:$port restarted"
}

status() {
  local port=$1
  if running "$port" && "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    echo "postgres on 127.0.0.1:$port: up"
  else
    echo "postgres on 127.0.0.1:$port: down"
    return 1
  fi
}

cmd=${1:-}
shift || true
ports=("$@")
[ ${#ports[@]} -gt 0 ] || read -r -a ports <<<"${PG_PORTS:-5433 5434}"
case "$cmd" in
  up | down | restart)
    for p in "${ports[@]}"; do "$cmd" "$p"; done ;;
  status)
    rc=0
    for p in "${ports[@]}"; do status "$p" || rc=1; done
    exit $rc ;;
  *) die "usage: pg.sh up|down|status|restart [PORT ...]" ;;
esac

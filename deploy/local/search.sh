#!/usr/bin/env bash
# Local search-engine test bed: one real OpenSearch 2.19 node in a plain JVM,
# built from Maven Central artifacts (deploy/local/search-engine/pom.xml), so
# tests and the demo need neither Docker nor an Elasticsearch download.
#
# With --engine elasticsearch it runs a real Elasticsearch 8.19 node instead,
# also built from Maven Central (deploy/local/elasticsearch/pom.xml; what that
# node lacks is in docs/search-engines.md), on ports 9201/9301 so that both
# engines can run side by side. Elasticsearch refuses to run as root, so root
# runs it as the system user projector-es (created when missing). The Maven
# build is cached in ${PROJECTOR_CACHE:-~/.cache/projector}/elasticsearch.
#
# Usage: deploy/local/search.sh up | down | status | logs [-f]  [--engine opensearch|elasticsearch]
#
# Environment:
#   SEARCH_PORT            HTTP port                       (9200; 9201 for elasticsearch)
#   SEARCH_TRANSPORT_PORT  transport port                  (9300; 9301 for elasticsearch)
#   SEARCH_HEAP            JVM heap, -Xms = -Xmx           (1g)
#   SEARCH_WAIT            seconds `up` waits for health   (180)
#   SEARCH_JAVA            java binary, 17 or newer        (java)
#   SEARCH_SETTINGS        extra node settings, "k=v k=v"  (none)
#
# Everything it writes lives in .testbed/search/ (.testbed/elasticsearch/ for
# --engine elasticsearch; git-ignored): build/ (launcher jar + classpath),
# data/, logs/stdout.log, search.pid, search.port.
# One node per engine and checkout: a data dir can only be used by one node at a time.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"

# The engine comes from --engine anywhere on the command line.
ENGINE=opensearch
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --engine) [[ $# -ge 2 ]] || { echo "search: --engine needs opensearch or elasticsearch" >&2; exit 2; }; ENGINE="$2"; shift 2 ;;
    --engine=*) ENGINE="${1#--engine=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
set -- "${ARGS[@]+"${ARGS[@]}"}"

case "$ENGINE" in
  opensearch)
    ENGINE_DIR="$ROOT/deploy/local/search-engine"
    STATE_DIR="$ROOT/.testbed/search"
    DEFAULT_PORT=9200 DEFAULT_TRANSPORT_PORT=9300
    ;;
  elasticsearch)
    ENGINE_DIR="$ROOT/deploy/local/elasticsearch"
    STATE_DIR="$ROOT/.testbed/elasticsearch"
    DEFAULT_PORT=9201 DEFAULT_TRANSPORT_PORT=9301
    ;;
  *) echo "search: unknown engine '$ENGINE'; use --engine opensearch or --engine elasticsearch" >&2; exit 2 ;;
esac
POM="$ENGINE_DIR/pom.xml"
BUILD_DIR="$STATE_DIR/build"
LOG_DIR="$STATE_DIR/logs"
LOG_FILE="$LOG_DIR/stdout.log"
PID_FILE="$STATE_DIR/search.pid"
PORT_FILE="$STATE_DIR/search.port" # HTTP port of the node in PID_FILE
CACHE_DIR="${PROJECTOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/projector}/elasticsearch"
ES_USER=projector-es

PORT="${SEARCH_PORT:-$DEFAULT_PORT}"
TRANSPORT_PORT="${SEARCH_TRANSPORT_PORT:-$DEFAULT_TRANSPORT_PORT}"
HEAP="${SEARCH_HEAP:-1g}"
WAIT="${SEARCH_WAIT:-180}"
JAVA="${SEARCH_JAVA:-java}"
URL="http://127.0.0.1:$PORT"

say() { printf 'search: %s\n' "$*"; }
die() { printf 'search: ERROR: %s\n' "$*" >&2; exit 1; }

need() {
  local cmd="$1" hint="$2"
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is not installed; install it with: $hint"
}

# The pid we started, if that process is still alive.
live_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# True when anything answers the OpenSearch root endpoint on our port.
answers() {
  curl -fsS -m 2 "$URL/" >/dev/null 2>&1
}

# Prints green/yellow/red, or nothing when the node does not answer.
health_status() {
  curl -fsS -m 5 "$URL/_cluster/health" 2>/dev/null |
    grep -o '"status":"[a-z]*"' | cut -d'"' -f4 || true
}

# Fingerprint of everything that goes into the build, so the slow Maven step
# only runs when the pom or the launcher changed.
build_stamp() {
  (cd "$ENGINE_DIR" && find pom.xml src -type f -print0 | sort -z | xargs -0 sha256sum) |
    sha256sum | cut -d' ' -f1
}

# Every jar in the saved classpath must still exist (~/.m2 may have been wiped).
classpath_intact() {
  local jar
  [[ -s "$BUILD_DIR/classpath.txt" && -f "$BUILD_DIR/search-engine-0.0.0.jar" ]] || return 1
  while IFS= read -r -d: jar; do
    [[ -f "$jar" ]] || return 1
  done < <(tr -d '\n' < "$BUILD_DIR/classpath.txt"; printf ':')
}

# The Elasticsearch build (launcher jar + lib/ of every runtime jar) is made
# once per stamp in the cache, then copied where the non-root node user can
# read it: root's home, where the cache and ~/.m2 live, is closed to others.
build_elasticsearch() {
  local stamp cached
  stamp="$(build_stamp)"
  if [[ "$(cat "$BUILD_DIR/.stamp" 2>/dev/null)" == "$stamp" && -f "$BUILD_DIR/elasticsearch-node-0.0.0.jar" ]]; then
    return 0
  fi
  cached="$CACHE_DIR/$stamp"
  if [[ ! -f "$cached/.done" ]]; then
    need mvn "apt-get install -y maven"
    say "building the Elasticsearch node with Maven (first run downloads ~70 MB into ~/.m2)"
    mkdir -p "$LOG_DIR" "$CACHE_DIR"
    rm -rf "$cached"
    if ! mvn -B -q -f "$POM" -Des.build.dir="$cached" package >"$LOG_DIR/maven.log" 2>&1; then
      tail -n 40 "$LOG_DIR/maven.log" >&2
      die "Maven build of $POM failed (full output: $LOG_DIR/maven.log)"
    fi
    touch "$cached/.done"
  fi
  rm -rf "$BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  cp -r "$cached/elasticsearch-node-0.0.0.jar" "$cached/lib" "$BUILD_DIR/"
  chmod -R a+rX "$BUILD_DIR"
  echo "$stamp" >"$BUILD_DIR/.stamp"
}

build_classpath() {
  local stamp
  if [[ "$ENGINE" == elasticsearch ]]; then
    build_elasticsearch
    return
  fi
  stamp="$(build_stamp)"
  if [[ "$(cat "$BUILD_DIR/.stamp" 2>/dev/null)" == "$stamp" ]] && classpath_intact; then
    return 0
  fi
  need mvn "apt-get install -y maven"
  say "building the node classpath with Maven (first run downloads ~90 MB into ~/.m2)"
  mkdir -p "$LOG_DIR"
  if ! mvn -B -q -f "$POM" package >"$LOG_DIR/maven.log" 2>&1; then
    tail -n 40 "$LOG_DIR/maven.log" >&2
    die "Maven build of $POM failed (full output: $LOG_DIR/maven.log)"
  fi
  echo "$stamp" >"$BUILD_DIR/.stamp"
}

check_java() {
  local major
  need "$JAVA" "apt-get install -y openjdk-17-jre-headless"
  major="$("$JAVA" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
  [[ -n "$major" && "$major" -ge 17 ]] || die "$JAVA is Java ${major:-?}; the $ENGINE node here needs 17+ (set SEARCH_JAVA)"
}

# node_user prints the user the Elasticsearch node runs as: the caller, or
# projector-es (created when missing) when the caller is root.
node_user() {
  if [[ "$(id -u)" != 0 ]]; then
    id -un
    return
  fi
  id "$ES_USER" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER" ||
    die "could not create the system user $ES_USER to run Elasticsearch (it refuses root)"
  echo "$ES_USER"
}

# Starts the Elasticsearch node detached, as node_user. setpriv execs, so the
# pid recorded is the JVM's own. -Dtests.security.manager=false: the test
# framework would otherwise install a security manager for its test runs.
start_elasticsearch() {
  local user settings as=()
  user="$(node_user)"
  mkdir -p "$LOG_DIR" "$STATE_DIR/data" "$STATE_DIR/tmp" "$STATE_DIR/node"
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  if [[ "$(id -u)" == 0 ]]; then
    chown -R "$user:" "$STATE_DIR/data" "$STATE_DIR/tmp" "$STATE_DIR/node"
    as=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups)
  fi
  settings=(
    cluster.name=projector-test-es
    node.name=projector-test-es-node
    discovery.type=single-node
    network.host=127.0.0.1
    http.port="$PORT"
    transport.port="$TRANSPORT_PORT"
    path.data="$STATE_DIR/data"
    cluster.routing.allocation.disk.threshold_enabled=false
  )
  # shellcheck disable=SC2206 # word splitting of "k=v k=v" is intended
  settings+=(${SEARCH_SETTINGS:-})
  setsid nohup "${as[@]}" "$JAVA" \
    -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -XX:-OmitStackTraceInFastThrow -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Djava.io.tmpdir="$STATE_DIR/tmp" -Dtests.security.manager=false \
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
    -cp "$BUILD_DIR/elasticsearch-node-0.0.0.jar:$BUILD_DIR/lib/*" dev.projector.testbed.es.ElasticsearchNode \
    "$STATE_DIR/node" "${settings[@]}" \
    </dev/null >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  echo "$PORT" >"$PORT_FILE"
}

# Starts the JVM detached (own session, no stdin) so it outlives the caller's
# shell, CI step or terminal. An embedded node skips OpenSearch's bootstrap
# checks, including the "don't run as root" one, so root is fine here.
start_node() {
  local cp settings
  if [[ "$ENGINE" == elasticsearch ]]; then
    start_elasticsearch
    return
  fi
  mkdir -p "$LOG_DIR" "$STATE_DIR/data" "$STATE_DIR/tmp"
  [[ -f "$LOG_FILE" ]] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  cp="$BUILD_DIR/search-engine-0.0.0.jar:$(cat "$BUILD_DIR/classpath.txt")"
  settings=(
    cluster.name=projector-test
    node.name=projector-test-node
    node.roles=cluster_manager,data,ingest
    discovery.type=single-node
    network.host=127.0.0.1
    http.port="$PORT"
    transport.port="$TRANSPORT_PORT"
    # Tests must not go read-only because the dev disk is fuller than 85-95%.
    cluster.routing.allocation.disk.threshold_enabled=false
  )
  # shellcheck disable=SC2206 # word splitting of "k=v k=v" is intended
  settings+=(${SEARCH_SETTINGS:-})
  # -Dlog4j.shutdownHookEnabled=false keeps logging alive while the node closes.
  setsid nohup "$JAVA" \
    -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
    -XX:-OmitStackTraceInFastThrow -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Djava.io.tmpdir="$STATE_DIR/tmp" -Djna.nosys=true \
    -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
    -cp "$cp" dev.projector.testbed.SearchNode "$STATE_DIR" "${settings[@]}" \
    </dev/null >"$LOG_FILE" 2>&1 &
  echo $! >"$PID_FILE"
  echo "$PORT" >"$PORT_FILE"
}

show_log_tail() {
  [[ -f "$LOG_FILE" ]] || return 0
  echo "---- last 40 lines of $LOG_FILE ----" >&2
  tail -n 40 "$LOG_FILE" >&2
  echo "----" >&2
}

# Waits until the cluster is green or yellow; fails early if the JVM dies.
# On timeout it stops the node only if this call started it ($2 = ours).
wait_healthy() {
  local pid="$1" ours="$2" deadline=$((SECONDS + WAIT)) status
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail
      rm -f "$PID_FILE" "$PORT_FILE"
      die "the node process (pid $pid) exited during startup"
    fi
    status="$(health_status)"
    if [[ "$status" == green || "$status" == yellow ]]; then
      return 0
    fi
    sleep 1
  done
  show_log_tail
  if [[ "$ours" == ours ]]; then
    stop_pid "$pid"
    die "the node did not report green/yellow on $URL/_cluster/health within ${WAIT}s (stopped it; raise SEARCH_WAIT if the machine is slow)"
  fi
  die "node pid $pid did not report green/yellow on $URL/_cluster/health within ${WAIT}s (left running; see '$0 logs', or '$0 down')"
}

stop_pid() {
  local pid="$1" i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid ignored SIGTERM for 30s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PID_FILE" "$PORT_FILE"
}

cmd_up() {
  local pid port start=$SECONDS
  need curl "apt-get install -y curl"
  if answers; then
    say "already running at $URL (health: $(health_status))"
    return 0
  fi
  # A node we started that is still booting: wait for it, don't start a second.
  if pid="$(live_pid)"; then
    port="$(cat "$PORT_FILE" 2>/dev/null || echo '?')"
    [[ "$port" == "$PORT" ]] ||
      die "this checkout's node (pid $pid) already uses HTTP port $port, not $PORT; run '$0 down' first"
    say "node pid $pid is starting; waiting for it"
    wait_healthy "$pid" theirs
  else
    check_java
    build_classpath
    start_node
    pid="$(cat "$PID_FILE")"
    say "started node pid $pid (heap $HEAP, log $LOG_FILE); waiting up to ${WAIT}s"
    wait_healthy "$pid" ours
  fi
  say "up at $URL in $((SECONDS - start))s (health: $(health_status))"
}

cmd_down() {
  local pid
  if pid="$(live_pid)"; then
    stop_pid "$pid"
    say "stopped (pid $pid)"
  else
    rm -f "$PID_FILE" "$PORT_FILE"
    if answers; then
      say "not started by this script, but something answers on $URL; leaving it alone"
    else
      say "not running"
    fi
  fi
}

cmd_status() {
  local pid
  need curl "apt-get install -y curl"
  if answers; then
    pid="$(live_pid || echo '?')"
    say "running at $URL (pid $pid)"
    curl -fsS -m 5 "$URL/_cluster/health?pretty" || true
    return 0
  fi
  if pid="$(live_pid)"; then
    say "pid $pid (HTTP port $(cat "$PORT_FILE" 2>/dev/null || echo '?')) is alive but $URL does not answer (starting, or hung: see '$0 logs')"
  else
    say "not running"
  fi
  return 1
}

cmd_logs() {
  [[ -f "$LOG_FILE" ]] || die "no log yet at $LOG_FILE"
  if [[ "${1:-}" == "-f" ]]; then
    tail -n 100 -F "$LOG_FILE"
  else
    tail -n "${SEARCH_LOG_LINES:-100}" "$LOG_FILE"
  fi
}

main() {
  case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    logs) shift; cmd_logs "$@" ;;
    *)
      echo "usage: $0 up | down | status | logs [-f]  [--engine opensearch|elasticsearch]" >&2
      exit 2
      ;;
  esac
}

main "$@"

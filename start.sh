#!/usr/bin/env bash
# start.sh: run the whole seat map (Redis, NATS, booking service, edge servers
# and NGINX) with one command. Run ./start.sh --help for the options.
#
# Natively when redis-server, nats-server and nginx are present (installs them
# with apt-get when it can), otherwise with `docker compose` when a Docker
# engine runs. Ctrl+C, SIGTERM, SIGHUP or any failure stops exactly the
# processes this script started, in reverse order.
#
# Its parts: scripts/start/help.txt (--help), parts.sh (what each part is: command, ports,
# health check, logs), procs.sh (finding and stopping
# processes, --stop), settings.sh (secrets, per-IP limits, admin access), tls.sh (HTTPS at
# NGINX, --tls), secure.sh (SECURE=1),
# install.sh (apt-get, docker compose), checks.sh (ports, the WebSocket check,
# the text printed once it is up), monitoring.sh (--monitoring: Prometheus's config
# for the run), and scripts/render-nginx.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CALLER_PWD="$PWD"
# nginx and nats-server live in /usr/sbin on Debian, which is not on every user's PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
if [[ -n ${HOME:-} && -d $HOME/.cargo/bin ]]; then PATH="$PATH:$HOME/.cargo/bin"; fi

usage() { cat "$ROOT/scripts/start/help.txt"; }

say()  { printf '[start] %s\n' "$*"; }
warn() { printf '[start] warning: %s\n' "$*" >&2; }
die()  { printf '[start] error: %s\n' "$*" >&2; exit 1; }

# A path from the environment: absolute, or relative to where start.sh was called from.
abs_path() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$CALLER_PWD/$1" ;; esac; }

# ---------------------------------------------------------------- options
NO_BUILD=0 FRESH=0 FORCE_DOCKER=0 DO_STOP=0 CLUSTER=0 MONITORING=0 TLS=0
for arg in "$@"; do
  case $arg in
    -h|--help) usage; exit 0 ;;
    --no-build) NO_BUILD=1 ;;
    --fresh) FRESH=1 ;;
    --docker) FORCE_DOCKER=1 ;;
    --stop) DO_STOP=1 ;;
    --cluster) CLUSTER=1 ;;
    --monitoring) MONITORING=1 ;;
    --tls) TLS=1 ;;
    *) die "unknown option: $arg (see ./start.sh --help)" ;;
  esac
done

HTTP_PORT=${HTTP_PORT:-80}
EDGES=${EDGES:-2}
EDGE_BASE_PORT=${EDGE_BASE_PORT:-3000}
BOOKING_PORT=${BOOKING_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6379}
NATS_PORT=${NATS_PORT:-4222}
NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-8222}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-7}
RESTART=${RESTART:-0}
export RUST_LOG=${RUST_LOG:-info}
RUN_DIR=$(abs_path "${RUN_DIR:-$ROOT/.run}")
NATS_CLUSTER_PORT=${NATS_CLUSTER_PORT:-6222}
# --cluster: a 6-node Redis Cluster (3 masters, 3 replicas), a 3-node NATS cluster and
# BOOKINGS booking services; otherwise one of each.
if (( CLUSTER )); then
  BOOKINGS=${BOOKINGS:-2}
  REDIS_WAIT_REPLICAS=${REDIS_WAIT_REPLICAS:-1}
else
  BOOKINGS=${BOOKINGS:-1}
fi
# The demo serves the 10x10 grid and the shipped arena chart; the booking service runs in the
# project root, so the chart's relative path resolves there.
VENUES=${VENUES:-main:10x10,arena:@venues/arena.json}
# Optional booking-service settings: passed on only when set, so the service's
# own defaults (the contract's) apply otherwise.
for v in HOLD_SECONDS MAX_HOLDS_PER_USER VENUES USER_RATE_LIMIT MAX_SHOPPERS SHOPPING_SECONDS \
         EVENT_HISTORY REDIS_WAIT_REPLICAS SINGLE_SEAT_RULE; do
  if [[ -n ${!v:-} ]]; then export "${v?}"; fi
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in HTTP_PORT EDGE_BASE_PORT BOOKING_PORT REDIS_PORT NATS_PORT NATS_MONITOR_PORT NATS_CLUSTER_PORT PROMETHEUS_PORT; do
  if ! is_uint "${!v}" || (( ${!v} < 1 || ${!v} > 65535 )); then
    die "$v must be a port number (1-65535), got '${!v}'"
  fi
done
if ! is_uint "$EDGES" || (( EDGES < 1 )); then die "EDGES must be a whole number >= 1, got '$EDGES'"; fi
if ! is_uint "$BOOKINGS" || (( BOOKINGS < 1 || BOOKINGS > 16 )); then die "BOOKINGS must be 1-16, got '$BOOKINGS'"; fi
(( EDGE_BASE_PORT + EDGES - 1 <= 65535 )) || die "EDGE_BASE_PORT + EDGES goes past port 65535"
for v in HEALTH_TIMEOUT STOP_TIMEOUT; do
  if ! is_uint "${!v}" || (( ${!v} < 1 )); then die "$v must be a whole number of seconds >= 1, got '${!v}'"; fi
done
[[ ${NGINX_WORKERS:-auto} == auto || ${NGINX_WORKERS:-} =~ ^[1-9][0-9]*$ ]] ||
  die "NGINX_WORKERS must be auto or a whole number >= 1, got '$NGINX_WORKERS'"
[[ -z ${NGINX_CONNECTIONS:-} || $NGINX_CONNECTIONS =~ ^[1-9][0-9]*$ ]] ||
  die "NGINX_CONNECTIONS must be a whole number >= 1, got '$NGINX_CONNECTIONS'"
if [[ -n ${NATS_CONFIG:-} ]]; then
  NATS_CONFIG=$(abs_path "$NATS_CONFIG")
  [[ -r $NATS_CONFIG ]] || die "NATS_CONFIG=$NATS_CONFIG is not a readable file"
fi
# The waiting room: checked here too, so a typo fails before anything starts.
if [[ -n ${MAX_SHOPPERS:-} ]] && ! is_uint "$MAX_SHOPPERS"; then
  die "MAX_SHOPPERS must be a whole number (0: no waiting room), got '$MAX_SHOPPERS'"
fi
if [[ -n ${SHOPPING_SECONDS:-} ]] && { ! is_uint "$SHOPPING_SECONDS" || (( 10#$SHOPPING_SECONDS < 1 )); }; then
  die "SHOPPING_SECONDS must be a whole number of seconds >= 1, got '$SHOPPING_SECONDS'"
fi

EDGE_PORTS=()
for (( i = 0; i < EDGES; i++ )); do EDGE_PORTS+=( $(( EDGE_BASE_PORT + i )) ); done
EDGE_NAMES=()
for p in "${EDGE_PORTS[@]}"; do EDGE_NAMES+=("edge-$p"); done
# The parts of each kind. One machine: redis-server, nats-server, booking-service.
# --cluster: redis-<port> ×6, nats-<port> ×3, booking-<port> ×BOOKINGS.
BOOKING_PORTS=()
for (( i = 0; i < BOOKINGS; i++ )); do BOOKING_PORTS+=( $(( BOOKING_PORT + i )) ); done
if (( CLUSTER )); then
  REDIS_PORTS=() NATS_PORTS=()
  for (( i = 0; i < 6; i++ )); do REDIS_PORTS+=( $(( REDIS_PORT + i )) ); done
  for (( i = 0; i < 3; i++ )); do NATS_PORTS+=( $(( NATS_PORT + i )) ); done
  REDIS_NAMES=() NATS_NAMES=() BOOKING_NAMES=()
  for p in "${REDIS_PORTS[@]}"; do REDIS_NAMES+=("redis-$p"); done
  for p in "${NATS_PORTS[@]}"; do NATS_NAMES+=("nats-$p"); done
  for p in "${BOOKING_PORTS[@]}"; do BOOKING_NAMES+=("booking-$p"); done
else
  REDIS_PORTS=("$REDIS_PORT") NATS_PORTS=("$NATS_PORT")
  REDIS_NAMES=(redis-server) NATS_NAMES=(nats-server)
  BOOKING_NAMES=(booking-service)
  for p in "${BOOKING_PORTS[@]:1}"; do BOOKING_NAMES+=("booking-$p"); done
fi
# What the services are given: every node of each cluster, each service starting with a
# different one so the load spreads.
join_by() { local IFS=$1; shift; printf '%s' "$*"; }
REDIS_URL_ALL="redis://127.0.0.1:$REDIS_PORT"
REDIS_HOSTS=()
for p in "${REDIS_PORTS[@]}"; do REDIS_HOSTS+=("127.0.0.1:$p"); done
(( CLUSTER )) && REDIS_URL_ALL="redis-cluster://$(join_by , "${REDIS_HOSTS[@]}")"
# rotated KIND N: the comma list of KIND (nats or booking) starting at the Nth entry.
rotated() {
  local -a list=() out=()
  local i n
  case $1 in
    nats) for p in "${NATS_PORTS[@]}"; do list+=("nats://127.0.0.1:$p"); done ;;
    booking) for p in "${BOOKING_PORTS[@]}"; do list+=("http://127.0.0.1:$p"); done ;;
  esac
  n=${#list[@]}
  for (( i = 0; i < n; i++ )); do out+=("${list[(i + $2) % n]}"); done
  join_by , "${out[@]}"
}

LOG_DIR="$RUN_DIR/logs"
MONITORING_DIR="$RUN_DIR/monitoring"
PID_DIR="$RUN_DIR/pids"
REDIS_DIR="$RUN_DIR/redis"
NGINX_DIR="$RUN_DIR/nginx"
FRONTEND_DIR="$ROOT/frontend"

# What each part is: its command, ports, health check, logs (part NAME).
# shellcheck source=scripts/start/parts.sh
. "$ROOT/scripts/start/parts.sh"

# Process helpers (live, stop_parts, …) and --stop.
# shellcheck source=scripts/start/procs.sh
. "$ROOT/scripts/start/procs.sh"
if (( DO_STOP )); then stop_previous_run; fi

# Checks (ports free, a WebSocket handshake through NGINX) and the "it is up" text.
# shellcheck source=scripts/start/checks.sh
. "$ROOT/scripts/start/checks.sh"

# Secrets, per-IP limits, admin access.
# shellcheck source=scripts/start/settings.sh
. "$ROOT/scripts/start/settings.sh"

# SECURE=1: TLS and a user per role on every link (secure_prepare writes the configs).
# shellcheck source=scripts/start/secure.sh
. "$ROOT/scripts/start/secure.sh"

# HTTPS at NGINX: TLS_CERT/TLS_KEY, or --tls's local CA (tls_prepare makes it).
# shellcheck source=scripts/start/tls.sh
. "$ROOT/scripts/start/tls.sh"

# --monitoring: Prometheus's config, alerts and targets for this run.
# shellcheck source=scripts/start/monitoring.sh
. "$ROOT/scripts/start/monitoring.sh"
MONITOR_NAMES=()
(( MONITORING )) && MONITOR_NAMES=(prometheus)

# Programs (apt-get) and the docker compose fallback.
# shellcheck source=scripts/start/install.sh
. "$ROOT/scripts/start/install.sh"
(( FORCE_DOCKER )) && run_compose   # scripts/docker-start.sh: starts an engine when none runs

mapfile -t MISSING < <(missing_programs)
if (( ${#MISSING[@]} )); then
  say "missing: ${MISSING[*]}"
  mapfile -t PKGS < <(for p in "${MISSING[@]}"; do package_of "$p"; done | sort -u)
  install_packages "${PKGS[@]}" || warn "could not install ${PKGS[*]}"
  mapfile -t MISSING < <(missing_programs)
  if (( ${#MISSING[@]} )); then
    docker_ok && { say "falling back to docker compose (missing: ${MISSING[*]})"; run_compose; }
    die "missing ${MISSING[*]} and could not install them. Install them yourself
        (Debian/Ubuntu: sudo apt-get install redis-server nats-server nginx curl$( (( MONITORING )) && echo ' prometheus')),
        or start a Docker engine and run ./start.sh --docker."
  fi
fi
NGINX_BIN=$(command -v nginx)
# -e (nginx >= 1.19.5): the error log used before nginx.conf is read, so an
# unprivileged run never tries /var/log/nginx/error.log.
NGINX_E=()
if "$NGINX_BIN" -h 2>&1 | grep -q -- '-e filename'; then NGINX_E=(-e "$RUN_DIR/nginx/error.log"); fi

# Binaries: BIN_DIR, --no-build (target/release) or a cargo build.
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case $TARGET_DIR in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
NEED_BUILD=0
if [[ -n ${BIN_DIR:-} ]]; then
  BIN_DIR=$(abs_path "$BIN_DIR")
elif (( NO_BUILD )); then
  BIN_DIR="$TARGET_DIR/release"
else
  BIN_DIR="$TARGET_DIR/release"
  NEED_BUILD=1
  if ! command -v cargo >/dev/null 2>&1; then
    docker_ok && { say "cargo not found; falling back to docker compose"; run_compose; }
    die "cargo not found: install Rust (https://rustup.rs) or set BIN_DIR to prebuilt binaries"
  fi
fi

# ---------------------------------------------------------------- run dir, lock
# The edges' Unix sockets, for NGINX (see render-nginx.sh); none when the path would not fit in a
# socket address (108 bytes), and NGINX then reaches the edges over their TCP ports.
SOCKET_DIR="$RUN_DIR/sockets"
(( ${#SOCKET_DIR} + 20 <= 107 )) || SOCKET_DIR=
edge_socket() { [[ -z $SOCKET_DIR ]] || echo "$SOCKET_DIR/edge-$1.sock"; }   # edge_socket PORT
mkdir -p "$RUN_DIR" "$LOG_DIR" "$PID_DIR" "$REDIS_DIR" "$NGINX_DIR" ${SOCKET_DIR:+"$SOCKET_DIR"}
# One start.sh per RUN_DIR. fd 9 is closed for every child, so the lock dies
# with this script even if its children outlive it.
exec 9>"$RUN_DIR/start.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  die "another start.sh is running with RUN_DIR=$RUN_DIR (pid $(cat "$RUN_DIR/start.pid" 2>/dev/null || echo '?')); stop it with Ctrl+C there or ./start.sh --stop"
fi
echo $$ >"$RUN_DIR/start.pid"

# Parts left running by an earlier start.sh that was killed with -9.
STALE=()
for f in "$PID_DIR"/*.pid; do
  [[ -f $f ]] || continue
  name=$(basename "$f" .pid)
  pid=$(<"$f")
  if comm=$(part_comm "$name") && pid_is "$pid" "$comm"; then
    STALE+=("$name (pid $pid)")
  else
    rm -f "$f"
  fi
done
(( ${#STALE[@]} == 0 )) || die "an earlier run (RUN_DIR=$RUN_DIR) left these running: ${STALE[*]}.
        Stop them with: ./start.sh --stop"

# ---------------------------------------------------------------- ports
check_ports

# ---------------------------------------------------------------- build
# (The build itself runs further down, once the stop-on-exit trap is in place.)
if (( ! NEED_BUILD )); then
  for b in booking-service edge-server; do
    [[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b not found or not executable$( (( NO_BUILD )) && echo ' (run without --no-build to build it)')"
  done
fi

# ---------------------------------------------------------------- stop on exit
declare -A PIDS=()
ORDER=()
SLEEP_PID=
BUILD_PID=
STARTED_ANY=0

# Each part (and the build) gets its own session (setsid), so Ctrl+C in the
# terminal reaches only this script, which then stops the parts in order.
# setsid execs in place, so $! is the PID of the part itself.
SETSID=()
command -v setsid >/dev/null 2>&1 && SETSID=(setsid)

cleanup() {
  local rc=$? i name pid
  trap '' INT TERM HUP   # a second Ctrl+C must not cut the cleanup short
  trap - EXIT
  [[ -n $SLEEP_PID ]] && { kill "$SLEEP_PID" 2>/dev/null || true; wait "$SLEEP_PID" 2>/dev/null || true; }
  if [[ -n $BUILD_PID ]] && live "$BUILD_PID" child; then
    printf '[stop] stopping the cargo build\n'
    # The build runs in its own process group (setsid): stop cargo and its rustc children.
    if (( ${#SETSID[@]} )); then kill -TERM -- "-$BUILD_PID" 2>/dev/null || true
    else kill -TERM "$BUILD_PID" 2>/dev/null || true; fi
    wait "$BUILD_PID" 2>/dev/null || true
  fi
  if (( STARTED_ANY )); then
    # Reverse start order; parts of one kind (the edges) together.
    local -a group=()
    local kind='' k
    for (( i = ${#ORDER[@]} - 1; i >= -1; i-- )); do
      if (( i >= 0 )); then name=${ORDER[i]}; k=$(part_kind "$name"); else k=''; fi
      if [[ $k != "$kind" || $i -lt 0 ]]; then
        (( ${#group[@]} == 0 )) || stop_parts child "${group[@]}"
        group=()
        kind=$k
      fi
      (( i >= 0 )) || break
      pid=${PIDS[$name]:-}
      [[ -n $pid ]] && group+=("$name=$pid")
      rm -f "$PID_DIR/$name.pid"
    done
    printf '[stop] everything start.sh started is stopped\n'
  fi
  rm -f "$RUN_DIR/start.pid"
  exit "$rc"
}
on_signal() {
  printf '\n[stop] %s received, stopping\n' "$1"
  exit "$2"
}
trap cleanup EXIT
trap 'on_signal SIGINT 130' INT
trap 'on_signal SIGTERM 143' TERM
trap 'on_signal SIGHUP 129' HUP

# ---------------------------------------------------------------- the parts
launch() {
  local name=$1 log="$LOG_DIR/$1.log"
  part "$name"
  (( ${#P_DIRS[@]} == 0 )) || mkdir -p "${P_DIRS[@]}"
  printf '=== %s start.sh: %s\n' "$(date '+%F %T')" "${P_CMD[*]}" >>"$log"
  # P_ENV (SECURE=1: credentials) reaches the part through its environment only.
  ( (( ${#P_ENV[@]} == 0 )) || export "${P_ENV[@]}"; exec "${SETSID[@]}" "${P_CMD[@]}" ) </dev/null >>"$log" 2>&1 9>&- &
  PIDS[$name]=$!
  STARTED_ANY=1
  [[ " ${ORDER[*]} " == *" $name "* ]] || ORDER+=("$name")
  echo "${PIDS[$name]}" >"$PID_DIR/$name.pid"
}

show_log() { # show_log LOG...: the last lines of each that is not empty
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2
    printf -- '-----\n' >&2
  done
}

wait_healthy() {
  local name=$1 pid=${PIDS[$1]} t0=$SECONDS
  part "$name"
  printf '[start] %-16s %-28s ... ' "$name" "$P_DESC"
  while :; do
    if "${P_HEALTH[@]}"; then
      printf 'ok (pid %s, %ss)\n' "$pid" $(( SECONDS - t0 ))
      return 0
    fi
    if ! live "$pid" child; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      printf 'FAILED: exited with status %s\n' "$rc"
      show_log "${P_LOGS[@]}"
      die "$name did not start; see $LOG_DIR/$name.log"
    fi
    if (( SECONDS - t0 >= HEALTH_TIMEOUT )); then
      printf 'FAILED: no healthy answer within %ss\n' "$HEALTH_TIMEOUT"
      show_log "${P_LOGS[@]}"
      die "$name did not become healthy; see $LOG_DIR/$name.log"
    fi
    sleep 0.2
  done
}

# --cluster: make the six nodes one Redis Cluster (3 masters, 3 replicas) and wait until it is ok
# and every replica is in sync: scripts/lib/redis-cluster.sh, which the tests use too.
form_redis_cluster() {
  local t0=$SECONDS
  printf '[start] %-16s %-28s ... ' "redis-cluster" "3 masters + 3 replicas"
  # SECURE=1: as the admin user over TLS (secure_cluster_cli sets its options and password).
  ( (( ! SECURE )) || secure_cluster_cli
    exec "$ROOT/scripts/lib/redis-cluster.sh" form --replicas 1 --timeout "$HEALTH_TIMEOUT" "${REDIS_HOSTS[@]}" ) \
    >>"$LOG_DIR/redis-cluster.log" 2>&1 ||
    { printf 'FAILED\n'; show_log "$LOG_DIR/redis-cluster.log"; die "the Redis Cluster did not form; see $LOG_DIR/redis-cluster.log"; }
  printf 'ok (%ss)\n' $(( SECONDS - t0 ))
}

render_nginx_conf() {
  local sockets=() p
  [[ -z $SOCKET_DIR ]] || for p in "${EDGE_PORTS[@]}"; do sockets+=("$(edge_socket "$p")"); done
  env HTTP_PORT="$HTTP_PORT" BOOKING_PORTS="${BOOKING_PORTS[*]}" EDGE_PORTS="${EDGE_PORTS[*]}" \
    EDGE_SOCKETS="${sockets[*]}" FRONTEND_DIR="$FRONTEND_DIR" NGINX_DIR="$NGINX_DIR" NGINX_BIN="$NGINX_BIN" \
    "$ROOT/scripts/render-nginx.sh" native "$NGINX_DIR/nginx.conf" ||
    die "could not render the NGINX configuration"
}


# ---------------------------------------------------------------- build
if (( NEED_BUILD )); then
  say "building: cargo build --release --bins (in $ROOT)"
  # shellcheck disable=SC2016
  "${SETSID[@]}" bash -c 'cd "$1" && exec cargo build --release --bins' cargo-build "$ROOT" </dev/null 9>&- &
  BUILD_PID=$!
  build_rc=0
  wait "$BUILD_PID" || build_rc=$?
  BUILD_PID=
  (( build_rc == 0 )) || die "cargo build failed (status $build_rc, see above)"
  check_ports   # the build can take minutes; check again right before starting
fi
for b in booking-service edge-server; do
  [[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b not found or not executable$( (( NO_BUILD )) && echo ' (run without --no-build to build it)')"
done

# ---------------------------------------------------------------- start
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # many WebSockets need many file descriptors
if (( FRESH )); then
  say "--fresh: deleting Redis data in $REDIS_DIR"
  rm -rf "$REDIS_DIR"
  mkdir -p "$REDIS_DIR"
fi
[[ -f $FRONTEND_DIR/index.html ]] || warn "$FRONTEND_DIR/index.html not found: the page will answer 404"
for name in "${REDIS_NAMES[@]}" "${NATS_NAMES[@]}" "${BOOKING_NAMES[@]}" "${EDGE_NAMES[@]}" nginx "${MONITOR_NAMES[@]}"; do
  : >"$LOG_DIR/$name.log"
done
write_settings   # $RUN_DIR/admin_token and $RUN_DIR/limits.env
tls_prepare      # --tls: $RUN_DIR/tls (the local CA and the certificate)
secure_prepare   # SECURE=1: $RUN_DIR/secure (Redis's ACL file, nats-server's config)

say "run dir: $RUN_DIR"
for name in "${REDIS_NAMES[@]}"; do launch "$name"; done
for name in "${REDIS_NAMES[@]}"; do wait_healthy "$name"; done
(( CLUSTER )) && form_redis_cluster
for name in "${NATS_NAMES[@]}"; do launch "$name"; done
for name in "${NATS_NAMES[@]}"; do wait_healthy "$name"; done
for name in "${BOOKING_NAMES[@]}"; do launch "$name"; done
for name in "${BOOKING_NAMES[@]}"; do wait_healthy "$name"; done
for name in "${EDGE_NAMES[@]}"; do launch "$name"; done
for name in "${EDGE_NAMES[@]}"; do wait_healthy "$name"; done
render_nginx_conf
launch nginx;           wait_healthy nginx
if (( MONITORING )); then
  write_monitoring_config
  launch prometheus;    wait_healthy prometheus
fi

check_websocket
print_ready

# ---------------------------------------------------------------- watch
# Report parts that exit while the system runs (scripts/kill-edge.sh, a crash)
# and, with RESTART=1, start them again. Never exits on its own.
while :; do
  sleep 1 9>&- &
  SLEEP_PID=$!
  wait "$SLEEP_PID" || true
  SLEEP_PID=
  for name in "${ORDER[@]}"; do
    pid=${PIDS[$name]:-}
    [[ -n $pid ]] || continue
    live "$pid" child && continue
    rc=0
    wait "$pid" 2>/dev/null || rc=$?
    rm -f "$PID_DIR/$name.pid"
    PIDS[$name]=
    printf '[watch] %s (pid %s) exited with status %s; see %s\n' "$name" "$pid" "$rc" "$LOG_DIR/$name.log"
    if (( RESTART )); then
      launch "$name"
      printf '[watch] %s restarted (pid %s)\n' "$name" "${PIDS[$name]}"
    fi
  done
done

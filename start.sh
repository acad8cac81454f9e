#!/usr/bin/env bash
# start.sh: run the whole seat map (Redis, NATS, booking service, edge servers
# and NGINX) with one command. Run ./start.sh --help for the options.
#
# Natively when redis-server, nats-server and nginx are present (installs them
# with apt-get when it can), otherwise with `docker compose` when a Docker
# engine runs. Ctrl+C, SIGTERM, SIGHUP or any failure stops exactly the
# processes this script started, in reverse order.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CALLER_PWD="$PWD"
# nginx and nats-server live in /usr/sbin on Debian, which is not on every user's PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
if [[ -n ${HOME:-} && -d $HOME/.cargo/bin ]]; then PATH="$PATH:$HOME/.cargo/bin"; fi

usage() {
  cat <<'EOF'
Usage: ./start.sh [--no-build] [--fresh] [--docker] [--stop] [--help]

Runs redis-server, nats-server, the booking service, the edge servers and NGINX,
waits until every part answers its health check, prints the URL and then waits.
Ctrl+C (or SIGTERM) stops everything it started, in reverse order.

Options:
  --no-build   Do not run cargo; use the binaries in target/release
               (the same as BIN_DIR=target/release).
  --fresh      Delete the Redis data in $RUN_DIR/redis first (all bookings).
  --docker     Use `docker compose up --build` even if the native programs exist.
  --stop       Stop a start.sh running with the same RUN_DIR (or the processes a
               killed one left behind, as recorded in $RUN_DIR/pids), then exit.
  -h, --help   Show this help.

Environment (defaults in brackets):
  HTTP_PORT           NGINX port, the URL to open                        [80]
  EDGES               number of edge servers                              [2]
  EDGE_BASE_PORT      port of the first edge; edges use consecutive ports [3000]
  BOOKING_PORT        booking service port                                [8080]
  REDIS_PORT          redis-server port                                   [6379]
  NATS_PORT           nats-server client port                             [4222]
  NATS_MONITOR_PORT   nats-server monitoring port (/healthz)              [8222]
  HOLD_SECONDS        passed to the booking service if set                [service default: 30]
  MAX_HOLDS_PER_USER  passed to the booking service if set                [service default: 4]
  VENUES              passed to the booking service if set                [service default: main:10x10]
  ADMIN_TOKEN         bearer token for POST /api/admin/reset              [random, printed at start]
  RUST_LOG            log filter for the Rust services                    [info]
  RUN_DIR             state dir: logs/, pids/, redis/, nginx/             [<repo>/.run]
  BIN_DIR             dir with prebuilt booking-service and edge-server;
                      when set, nothing is built                          [build with cargo]
  HEALTH_TIMEOUT      seconds to wait for each part's health check        [60]
  STOP_TIMEOUT        seconds a part gets after SIGTERM before SIGKILL    [7]
  RESTART             1 = restart a part that exits while running         [0]

The booking service and the edges listen on 127.0.0.1 only (HOST=127.0.0.1),
Redis and NATS too; NGINX listens on all interfaces.

Files (under RUN_DIR):
  logs/<part>.log     output of redis-server, nats-server, booking-service,
                      edge-<port>, nginx (NGINX access/error logs: nginx/)
  pids/<part>.pid     PID of each part, e.g. pids/edge-3000.pid
                      (scripts/kill-edge.sh edge-3000 kills that edge with -9)
  redis/              Redis AOF data (survives restarts; --fresh deletes it)
  admin_token         the ADMIN_TOKEN in use (mode 600)

Examples:
  ./start.sh                              # http://localhost
  HTTP_PORT=8000 EDGES=3 ./start.sh       # http://localhost:8000, edges 3000-3002
  BIN_DIR=/opt/seatmap/bin ./start.sh     # prebuilt binaries, no cargo
EOF
}

say()  { printf '[start] %s\n' "$*"; }
warn() { printf '[start] warning: %s\n' "$*" >&2; }
die()  { printf '[start] error: %s\n' "$*" >&2; exit 1; }

# A path from the environment: absolute, or relative to where start.sh was called from.
abs_path() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$CALLER_PWD/$1" ;; esac; }

# ---------------------------------------------------------------- options
NO_BUILD=0 FRESH=0 FORCE_DOCKER=0 DO_STOP=0
for arg in "$@"; do
  case $arg in
    -h|--help) usage; exit 0 ;;
    --no-build) NO_BUILD=1 ;;
    --fresh) FRESH=1 ;;
    --docker) FORCE_DOCKER=1 ;;
    --stop) DO_STOP=1 ;;
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
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-7}
RESTART=${RESTART:-0}
export RUST_LOG=${RUST_LOG:-info}
RUN_DIR=$(abs_path "${RUN_DIR:-$ROOT/.run}")
# Optional booking-service settings: passed on only when set, so the service's
# own defaults (the contract's) apply otherwise.
for v in HOLD_SECONDS MAX_HOLDS_PER_USER VENUES USER_RATE_LIMIT; do
  if [[ -n ${!v:-} ]]; then export "${v?}"; fi
done

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in HTTP_PORT EDGE_BASE_PORT BOOKING_PORT REDIS_PORT NATS_PORT NATS_MONITOR_PORT; do
  if ! is_uint "${!v}" || (( ${!v} < 1 || ${!v} > 65535 )); then
    die "$v must be a port number (1-65535), got '${!v}'"
  fi
done
if ! is_uint "$EDGES" || (( EDGES < 1 )); then die "EDGES must be a whole number >= 1, got '$EDGES'"; fi
(( EDGE_BASE_PORT + EDGES - 1 <= 65535 )) || die "EDGE_BASE_PORT + EDGES goes past port 65535"
for v in HEALTH_TIMEOUT STOP_TIMEOUT; do
  if ! is_uint "${!v}" || (( ${!v} < 1 )); then die "$v must be a whole number of seconds >= 1, got '${!v}'"; fi
done

EDGE_PORTS=()
for (( i = 0; i < EDGES; i++ )); do EDGE_PORTS+=( $(( EDGE_BASE_PORT + i )) ); done
EDGE_NAMES=()
for p in "${EDGE_PORTS[@]}"; do EDGE_NAMES+=("edge-$p"); done

LOG_DIR="$RUN_DIR/logs"
PID_DIR="$RUN_DIR/pids"
REDIS_DIR="$RUN_DIR/redis"
NGINX_DIR="$RUN_DIR/nginx"
FRONTEND_DIR="$ROOT/frontend"

# ---------------------------------------------------------------- process helpers
# The program name (/proc/PID/comm) each pid file must point at. Checked before
# any signal is sent, so a recycled PID is never killed by mistake.
expected_comm() {
  case $1 in
    redis-server|nats-server|booking-service|nginx) printf '%s\n' "$1" ;;
    edge-*) printf 'edge-server\n' ;;
    *) return 1 ;;
  esac
}
proc_comm() {
  if [[ -r /proc/$1/comm ]]; then cat "/proc/$1/comm" 2>/dev/null
  else ps -o comm= -p "$1" 2>/dev/null; fi
}
# "STATE PPID" of a process (from /proc/PID/stat, after the "(comm)" field).
proc_state_ppid() {
  if [[ -d /proc/$$ ]]; then
    sed -n 's/^.*) \([A-Za-z]\) \([0-9]*\) .*/\1 \2/p' "/proc/$1/stat" 2>/dev/null
  else
    ps -o stat=,ppid= -p "$1" 2>/dev/null
  fi
}
# live PID WANT: PID runs (zombies do not count) and is ours. WANT is either
# "child" (a direct child of this script: its PID cannot have been recycled)
# or the program name the process must have (for PIDs read from pid files).
live() {
  local pid=$1 want=$2 st='' ppid=''
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  read -r st ppid < <(proc_state_ppid "$pid") || true
  [[ -n $st && $st != Z* && $st != X* ]] || return 1
  if [[ $want == child ]]; then [[ $ppid == "$$" ]]
  else [[ "$(proc_comm "$pid")" == "$want" ]]; fi
}
pid_is() { live "$1" "$2"; }

# stop_parts WANT NAME=PID...: TERM them all at once (parts of one kind, e.g.
# every edge, stop in parallel), wait up to STOP_TIMEOUT s, then KILL what is
# left. Only PIDs that pass `live PID WANT` are signalled; WANT "comm" means
# the program name that belongs to NAME.
stop_parts() {
  local want=$1 entry name pid w i j left
  shift
  local -a names=() pids=() wants=()
  for entry in "$@"; do
    name=${entry%%=*} pid=${entry#*=} w=$want
    [[ $want == comm ]] && { w=$(expected_comm "$name") || continue; }
    if live "$pid" "$w"; then
      kill -TERM "$pid" 2>/dev/null || true
      names+=("$name") pids+=("$pid") wants+=("$w")
    else
      printf '[stop] %s (pid %s) had already exited\n' "$name" "$pid"
    fi
  done
  (( ${#pids[@]} )) || return 0
  for (( i = 0; i < STOP_TIMEOUT * 10; i++ )); do
    left=0
    for j in "${!pids[@]}"; do live "${pids[j]}" "${wants[j]}" && { left=1; break; }; done
    (( left )) || break
    sleep 0.1
  done
  for j in "${!pids[@]}"; do
    if live "${pids[j]}" "${wants[j]}"; then
      printf '[stop] %s (pid %s) still running after %s s: KILL\n' "${names[j]}" "${pids[j]}" "$STOP_TIMEOUT"
      kill -KILL "${pids[j]}" 2>/dev/null || true
    fi
  done
  for j in "${!pids[@]}"; do
    for (( i = 0; i < 20; i++ )); do live "${pids[j]}" "${wants[j]}" || break; sleep 0.1; done
    # Reap our own children here, so none is left as a zombie after we exit.
    [[ $want != child ]] || wait "${pids[j]}" 2>/dev/null || true
    printf '[stop] %s (pid %s) stopped\n' "${names[j]}" "${pids[j]}"
  done
}
part_kind() { case $1 in edge-*) echo edge ;; *) echo "$1" ;; esac; }

# ---------------------------------------------------------------- --stop
if (( DO_STOP )); then
  stopped=0
  if [[ -f $RUN_DIR/start.pid ]]; then
    spid=$(<"$RUN_DIR/start.pid")
    if [[ $spid =~ ^[0-9]+$ ]] && kill -0 "$spid" 2>/dev/null &&
       tr '\0' ' ' <"/proc/$spid/cmdline" 2>/dev/null | grep -q 'start\.sh'; then
      say "stopping start.sh (pid $spid); it stops its parts"
      kill -TERM "$spid"
      for (( i = 0; i < 400; i++ )); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$spid" 2>/dev/null && die "start.sh (pid $spid) is still running after 40 s"
      stopped=1
    fi
  fi
  # Leftovers of a start.sh that was itself killed with -9, newest part first.
  if [[ -d $PID_DIR ]]; then
    for group in nginx 'edge-*' booking-service nats-server redis-server; do
      parts=()
      for f in "$PID_DIR"/$group.pid; do
        [[ -f $f ]] || continue
        name=$(basename "$f" .pid)
        pid=$(<"$f")
        if comm=$(expected_comm "$name") && pid_is "$pid" "$comm"; then parts+=("$name=$pid"); stopped=1; fi
        rm -f "$f"
      done
      (( ${#parts[@]} == 0 )) || stop_parts comm "${parts[@]}"
    done
  fi
  if (( stopped )); then say "stopped"; else say "nothing to stop (RUN_DIR=$RUN_DIR)"; fi
  exit 0
fi

# ---------------------------------------------------------------- docker compose
docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

new_admin_token() {
  local t
  t=$(od -vAn -N16 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n') || true
  [[ -n $t ]] || t="$(date +%s%N)$RANDOM$RANDOM"
  printf 'admin-%s\n' "$t"
}
ADMIN_TOKEN_GENERATED=0
if [[ -z ${ADMIN_TOKEN:-} ]]; then
  ADMIN_TOKEN=$(new_admin_token)
  ADMIN_TOKEN_GENERATED=1
fi
export ADMIN_TOKEN

run_compose() {
  local compose=()
  if docker compose version >/dev/null 2>&1; then compose=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then compose=(docker-compose)
  else die "a Docker engine runs, but neither 'docker compose' nor 'docker-compose' is installed"
  fi
  (( EDGES == 2 )) || warn "docker compose always runs two edges (edge1, edge2); EDGES=$EDGES is ignored"
  export HTTP_PORT
  say "running the stack with: ${compose[*]} up --build (Ctrl+C stops the containers)"
  say "URL: http://localhost$( (( HTTP_PORT == 80 )) || printf ':%s' "$HTTP_PORT")"
  (( ADMIN_TOKEN_GENERATED )) && say "ADMIN_TOKEN=$ADMIN_TOKEN (generated for this run)"
  cd "$ROOT"
  exec "${compose[@]}" -f "$ROOT/docker-compose.yml" up --build
}

(( FORCE_DOCKER )) && { docker_ok || die "--docker given, but no Docker engine answers ('docker info' fails)"; run_compose; }

# ---------------------------------------------------------------- native programs
REQUIRED=(redis-server redis-cli nats-server nginx curl)
missing_programs() {
  local p
  for p in "${REQUIRED[@]}"; do command -v "$p" >/dev/null 2>&1 || printf '%s\n' "$p"; done
}
package_of() {
  case $1 in redis-server|redis-cli) echo redis-server ;; *) echo "$1" ;; esac
}

# apt-get install, as root or through sudo. The packages' own system services
# (redis on 6379, nginx on 80) are kept from starting with a temporary
# policy-rc.d, so they do not take the ports this script is about to use.
install_packages() {
  local pkgs=("$@") sudo=()
  command -v apt-get >/dev/null 2>&1 || { warn "apt-get not found"; return 1; }
  if (( EUID != 0 )); then
    command -v sudo >/dev/null 2>&1 || { warn "not root and no sudo"; return 1; }
    # Never wait for a password without a terminal (CI, no stdin).
    if [[ -t 0 && -z ${CI:-} ]]; then sudo=(sudo); else sudo=(sudo -n); fi
  fi
  say "installing ${pkgs[*]} with apt-get (their system services are not started)"
  # shellcheck disable=SC2016  # the script is expanded by sh, not here
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive sh -c '
    set -e
    made=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      made=1
    fi
    trap "if [ -n \"\$made\" ]; then rm -f /usr/sbin/policy-rc.d; fi" EXIT
    apt-get update
    apt-get install -y --no-install-recommends "$@"
  ' sh "${pkgs[@]}" </dev/null
}

mapfile -t MISSING < <(missing_programs)
if (( ${#MISSING[@]} )); then
  say "missing: ${MISSING[*]}"
  mapfile -t PKGS < <(for p in "${MISSING[@]}"; do package_of "$p"; done | sort -u)
  install_packages "${PKGS[@]}" || warn "could not install ${PKGS[*]}"
  mapfile -t MISSING < <(missing_programs)
  if (( ${#MISSING[@]} )); then
    docker_ok && { say "falling back to docker compose (missing: ${MISSING[*]})"; run_compose; }
    die "missing ${MISSING[*]} and could not install them. Install them yourself
        (Debian/Ubuntu: sudo apt-get install redis-server nats-server nginx curl),
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
mkdir -p "$RUN_DIR" "$LOG_DIR" "$PID_DIR" "$REDIS_DIR" "$NGINX_DIR"
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
  if comm=$(expected_comm "$name") && pid_is "$pid" "$comm"; then
    STALE+=("$name (pid $pid)")
  else
    rm -f "$f"
  fi
done
(( ${#STALE[@]} == 0 )) || die "an earlier run (RUN_DIR=$RUN_DIR) left these running: ${STALE[*]}.
        Stop them with: ./start.sh --stop"

# ---------------------------------------------------------------- ports
port_user() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
}
port_busy() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
check_ports() {
  local -A seen=()
  local entry name var port who
  local -a list=("nginx|HTTP_PORT|$HTTP_PORT" "redis-server|REDIS_PORT|$REDIS_PORT"
                 "nats-server|NATS_PORT|$NATS_PORT" "nats-server monitoring|NATS_MONITOR_PORT|$NATS_MONITOR_PORT"
                 "booking-service|BOOKING_PORT|$BOOKING_PORT")
  for port in "${EDGE_PORTS[@]}"; do list+=("edge-$port|EDGE_BASE_PORT|$port"); done
  for entry in "${list[@]}"; do
    IFS='|' read -r name var port <<<"$entry"
    [[ -z ${seen[$port]:-} ]] || die "port $port is given to both ${seen[$port]} and $name; choose different ports"
    seen[$port]=$name
    if port_busy "$port"; then
      who=$(port_user "$port")
      local base=${!var}
      die "port $port (for $name, $var) is already in use${who:+ by $who}.
        Stop that program or choose another port, e.g. $var=$(( base + 10000 > 65000 ? base - 1000 : base + 10000 )) ./start.sh"
    fi
  done
  if (( EUID != 0 && HTTP_PORT < $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024) )); then
    die "port $HTTP_PORT needs root; run as root or choose e.g. HTTP_PORT=8000 ./start.sh"
  fi
}
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
# part_cmd NAME: sets CMD to the command line of that part.
part_cmd() {
  case $1 in
    redis-server)
      CMD=(redis-server "$ROOT/redis/redis.conf" --port "$REDIS_PORT" --dir "$REDIS_DIR" --daemonize no) ;;
    nats-server)
      CMD=(nats-server -a 127.0.0.1 -p "$NATS_PORT" -m "$NATS_MONITOR_PORT") ;;
    booking-service)
      CMD=(env HOST=127.0.0.1 PORT="$BOOKING_PORT" REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
           NATS_URL="nats://127.0.0.1:$NATS_PORT" "$BIN_DIR/booking-service") ;;
    edge-*)
      CMD=(env HOST=127.0.0.1 PORT="${1#edge-}" EDGE_ID="$1" BOOKING_URL="http://127.0.0.1:$BOOKING_PORT"
           NATS_URL="nats://127.0.0.1:$NATS_PORT" "$BIN_DIR/edge-server") ;;
    nginx)
      CMD=("$NGINX_BIN" -p "$NGINX_DIR/" -c "$NGINX_DIR/nginx.conf" "${NGINX_E[@]}" -g 'daemon off;') ;;
  esac
}

launch() {
  local name=$1 log="$LOG_DIR/$1.log"
  part_cmd "$name"
  printf '=== %s start.sh: %s\n' "$(date '+%F %T')" "${CMD[*]}" >>"$log"
  "${SETSID[@]}" "${CMD[@]}" </dev/null >>"$log" 2>&1 9>&- &
  PIDS[$name]=$!
  STARTED_ANY=1
  [[ " ${ORDER[*]} " == *" $name "* ]] || ORDER+=("$name")
  echo "${PIDS[$name]}" >"$PID_DIR/$name.pid"
}

http_ok() { curl -fsS -o /dev/null --noproxy '*' --max-time 2 "$1" 2>/dev/null; }
healthy() {
  case $1 in
    redis-server)    [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] ;;
    nats-server)     http_ok "http://127.0.0.1:$NATS_MONITOR_PORT/healthz" ;;
    booking-service) http_ok "http://127.0.0.1:$BOOKING_PORT/health" ;;
    edge-*)          http_ok "http://127.0.0.1:${1#edge-}/health" ;;
    nginx)           http_ok "http://127.0.0.1:$HTTP_PORT/health" ;;
  esac
}
describe() {
  case $1 in
    redis-server)    echo ":$REDIS_PORT" ;;
    nats-server)     echo ":$NATS_PORT, monitoring :$NATS_MONITOR_PORT" ;;
    booking-service) echo ":$BOOKING_PORT" ;;
    edge-*)          echo ":${1#edge-}" ;;
    nginx)           echo ":$HTTP_PORT" ;;
  esac
}

show_log() {
  local f
  for f in "$LOG_DIR/$1.log" ${2:+"$2"}; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 30 "$f" >&2
    printf -- '-----\n' >&2
  done
}

wait_healthy() {
  local name=$1 pid=${PIDS[$1]} t0=$SECONDS extra=
  [[ $name == nginx ]] && extra="$NGINX_DIR/error.log"
  printf '[start] %-16s %-28s ... ' "$name" "$(describe "$name")"
  while :; do
    if healthy "$name"; then
      printf 'ok (pid %s, %ss)\n' "$pid" $(( SECONDS - t0 ))
      return 0
    fi
    if ! live "$pid" child; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      printf 'FAILED: exited with status %s\n' "$rc"
      show_log "$name" "$extra"
      die "$name did not start; see $LOG_DIR/$name.log"
    fi
    if (( SECONDS - t0 >= HEALTH_TIMEOUT )); then
      printf 'FAILED: no healthy answer within %ss\n' "$HEALTH_TIMEOUT"
      show_log "$name" "$extra"
      die "$name did not become healthy; see $LOG_DIR/$name.log"
    fi
    sleep 0.2
  done
}

render_nginx_conf() {
  local tmpl="$ROOT/nginx/nginx.conf.template" out="$NGINX_DIR/nginx.conf" servers="$NGINX_DIR/edge-servers.conf"
  [[ -f $tmpl ]] || die "$tmpl not found"
  : >"$servers"
  for p in "${EDGE_PORTS[@]}"; do
    printf '        server 127.0.0.1:%s max_fails=1 fail_timeout=5s;\n' "$p" >>"$servers"
  done
  # Escape for the right-hand side of a sed s||| command.
  sed_rhs() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
  sed -e "/@EDGE_SERVERS@/{
r $servers
d
}" \
      -e "s|@HTTP_PORT@|$(sed_rhs "$HTTP_PORT")|g" \
      -e "s|@BOOKING_ADDR@|$(sed_rhs "127.0.0.1:$BOOKING_PORT")|g" \
      -e "s|@FRONTEND_DIR@|$(sed_rhs "$FRONTEND_DIR")|g" \
      -e "s|@RUN_DIR@|$(sed_rhs "$NGINX_DIR")|g" \
      "$tmpl" >"$out"
  if grep -qE '@[A-Z_]+@' "$out"; then
    die "unreplaced placeholder in $out: $(grep -oE '@[A-Z_]+@' "$out" | sort -u | tr '\n' ' ')"
  fi
  # Also listen on IPv6 when the host has it: "localhost" resolves to ::1 first
  # for some clients (Node >= 17, some browsers), and nothing else listens there.
  if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then
    sed -i "s|^\( *\)listen $HTTP_PORT default_server;|&\n\1listen [::]:$HTTP_PORT default_server;|" "$out"
  fi
  # Run as root, NGINX workers switch to user nobody, who may not be able to
  # read the frontend (e.g. a checkout under /root). Then serve it as the user
  # who owns it.
  if (( EUID == 0 )) && [[ -d $FRONTEND_DIR ]] && command -v runuser >/dev/null 2>&1 &&
     ! runuser -u nobody -- test -r "$FRONTEND_DIR/index.html" 2>/dev/null; then
    local owner
    owner=$(stat -c '%U %G' "$FRONTEND_DIR")
    sed -i "1i user $owner;  # added by start.sh: user nobody cannot read $FRONTEND_DIR" "$out"
  fi
  local out_t
  if ! out_t=$("$NGINX_BIN" -t -q -p "$NGINX_DIR/" -c "$out" "${NGINX_E[@]}" 2>&1); then
    printf '%s\n' "$out_t" >&2
    die "nginx rejected $out (rendered from $tmpl)"
  fi
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
for name in redis-server nats-server booking-service "${EDGE_NAMES[@]}" nginx; do : >"$LOG_DIR/$name.log"; done
(umask 077 && printf '%s\n' "$ADMIN_TOKEN" >"$RUN_DIR/admin_token")

say "run dir: $RUN_DIR"
launch redis-server;    wait_healthy redis-server
launch nats-server;     wait_healthy nats-server
launch booking-service; wait_healthy booking-service
for name in "${EDGE_NAMES[@]}"; do launch "$name"; done
for name in "${EDGE_NAMES[@]}"; do wait_healthy "$name"; done
render_nginx_conf
launch nginx;           wait_healthy nginx

# A WebSocket handshake through NGINX must reach an edge (101 Switching Protocols).
ws_code=$(curl -sS -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 2 \
  -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: c2VhdG1hcC1zdGFydC1zaA==' "http://127.0.0.1:$HTTP_PORT/ws" 2>/dev/null || true)
[[ $ws_code == 101 ]] || warn "WebSocket handshake through NGINX answered '${ws_code:-nothing}' instead of 101"

KILL_EDGE="$ROOT/scripts/kill-edge.sh"
[[ $CALLER_PWD == "$ROOT" ]] && KILL_EDGE=scripts/kill-edge.sh
URL="http://localhost$( (( HTTP_PORT == 80 )) || printf ':%s' "$HTTP_PORT")"
if command -v nats >/dev/null 2>&1; then
  WATCH="nats --server nats://127.0.0.1:$NATS_PORT sub 'seats.>'"
else
  # Plain bash, no install: speaks the NATS text protocol, answers PINGs so the
  # server keeps the connection, prints "subject payload" per event.
  WATCH="NATS_PORT=$NATS_PORT $ROOT/scripts/watch-events.sh  (the nats CLI is not installed; this needs nothing)"
fi

cat <<EOF

[start] the seat map is up: $URL

  Open in a browser:  $URL
  Booking API:        http://127.0.0.1:$BOOKING_PORT  (health: $URL/health)
  Edges (WebSocket):  $(for p in "${EDGE_PORTS[@]}"; do printf 'ws://127.0.0.1:%s/ws ' "$p"; done)(through NGINX: ${URL/http/ws}/ws)
  Watch every event:  $WATCH
  Reset the demo:     curl -X POST -H 'Authorization: Bearer $ADMIN_TOKEN' $URL/api/admin/reset
                      (ADMIN_TOKEN $( (( ADMIN_TOKEN_GENERATED )) && echo "generated for this run" || echo "from the environment"); also in $RUN_DIR/admin_token)
  Kill an edge:       $KILL_EDGE ${EDGE_NAMES[0]}$( [[ $RUN_DIR == "$ROOT/.run" ]] || printf ' %s' "$RUN_DIR")
  Logs:               $LOG_DIR/<part>.log  (tail -f $LOG_DIR/*.log); NGINX access/error logs in $NGINX_DIR/
  PIDs:               $PID_DIR/<part>.pid

  Press Ctrl+C to stop everything$( (( RESTART )) && echo " (RESTART=1: parts that exit are restarted)").
EOF

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

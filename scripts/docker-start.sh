#!/usr/bin/env bash
# docker-start.sh: the seat map in containers, what ./start.sh --docker runs. Up and down like
# the native start: builds, starts, waits until every service is healthy, prints the URL and the
# hints, waits; Ctrl+C (SIGINT, SIGTERM, SIGHUP) removes every container and network it made.
#
#   scripts/docker-start.sh [--cluster] [--fresh] [--no-build] [--monitoring]
#
# In order:
#   1. a Docker engine: scripts/docker-engine.sh (starts dockerd when none answers; stopped
#      again at the end when this script started it);
#   2. the base image: scripts/docker-base.sh (BASE_IMAGE, or a local one from debootstrap when
#      Docker Hub cannot be reached);
#   3. the binaries: cargo build --release of booking-service and edge-server (none with
#      --no-build, which takes target/release, or with BIN_DIR set);
#   4. the images seatmap-{app,redis,nats,nginx}:SEATMAP_TAG from that base (Dockerfile,
#      docker/*/Dockerfile; --monitoring adds seatmap-prometheus; --no-build keeps images that
#      exist);
#   5. docker-compose.yml + docker-compose.debian.yml + docker-compose.host.yml (NGINX on this
#      machine's network, configured by scripts/render-nginx.sh compose-host in
#      $RUN_DIR/nginx/nginx.conf), project COMPOSE_PROJECT_NAME (default seatmap).
# Volumes: the data volumes the run used are kept for the next one; --fresh deletes the
# project's volumes before it starts and when it stops. Volumes compose made that the run did
# not use (the other topology's) are removed.
#
# start.sh sets what this reads: RUN_DIR, HTTP_PORT, the secrets, LIMIT_*, ADMIN_FROM and
# ADMIN_ACCESS (scripts/start/settings.sh, which also wrote $RUN_DIR/limits.env and
# admin_token). Also: SEATMAP_NET (the compose network's /24 prefix, default 172.30.213),
# SEATMAP_TAG (image tag, default local), BASE_IMAGE, BIN_DIR, HEALTH_TIMEOUT (seconds for every
# container to be healthy once compose has started them; start.sh passes its own, default 60),
# SEATMAP_DOCKER_NO_CACHE=1 (build every image layer anew), SEATMAP_LOCAL_BASE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
say()  { printf '[start] %s\n' "$*"; }
warn() { printf '[start] warning: %s\n' "$*" >&2; }
die()  { printf '[start] error: %s\n' "$*" >&2; exit 1; }

CLUSTER=0 FRESH=0 NO_BUILD=0 MONITORING=0
for arg in "$@"; do
  case $arg in
    --cluster) CLUSTER=1 ;;
    --fresh) FRESH=1 ;;
    --no-build) NO_BUILD=1 ;;
    --monitoring) MONITORING=1 ;;
    *) die "docker-start.sh: unknown option $arg" ;;
  esac
done
: "${RUN_DIR:?RUN_DIR is not set (./start.sh --docker sets it)}" "${TOKEN_SECRET:?}" "${ADMIN_ACCESS:?}"
HTTP_PORT=${HTTP_PORT:-80}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
export SEATMAP_NET=${SEATMAP_NET:-172.30.213} SEATMAP_TAG=${SEATMAP_TAG:-local}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-seatmap}
export COMPOSE_FILE="$ROOT/docker-compose.yml:$ROOT/docker-compose.debian.yml:$ROOT/docker-compose.host.yml"
export NGINX_CONF="$RUN_DIR/nginx/nginx.conf" HTTP_PORT
PROJECT=$COMPOSE_PROJECT_NAME
LOG_DIR="$RUN_DIR/logs"
mkdir -p "$LOG_DIR" "$RUN_DIR/nginx"
compose() { docker-compose --project-directory "$ROOT" "$@"; }

# The topology: the profiles, the service NGINX is (started by name, with what it depends on),
# and the addresses NGINX reaches on the compose network (docker-compose.host.yml).
if (( CLUSTER )); then
  export COMPOSE_PROFILES=cluster,host-cluster
  TARGETS=(nginx-cluster-host)
  EDGE_ADDRESSES="$SEATMAP_NET.51:3000 $SEATMAP_NET.52:3000" BOOKING_ADDRESSES="$SEATMAP_NET.31:8080 $SEATMAP_NET.32:8080"
  EDGE_IDS=(edge-1 edge-2) NATS_ADDRESS=$SEATMAP_NET.21
else
  export COMPOSE_PROFILES=single,host
  TARGETS=(nginx-host)
  EDGE_ADDRESSES="$SEATMAP_NET.41:3000 $SEATMAP_NET.42:3001" BOOKING_ADDRESSES="$SEATMAP_NET.30:8080"
  EDGE_IDS=(edge-3000 edge-3001) NATS_ADDRESS=$SEATMAP_NET.20
fi
if (( MONITORING )); then
  # Prometheus on the compose network (it scrapes the services by name), its port on 127.0.0.1.
  COMPOSE_PROFILES+=",$( (( CLUSTER )) && echo monitoring-cluster || echo monitoring)"
  TARGETS+=("$( (( CLUSTER )) && echo prometheus-cluster || echo prometheus)")
fi
export EDGE_ADDRESSES BOOKING_ADDRESSES

# One start per RUN_DIR, as natively; fd 9 is closed for every child.
exec 9>"$RUN_DIR/start.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  die "another start.sh is running with RUN_DIR=$RUN_DIR; stop it with Ctrl+C there"
fi
echo $$ >"$RUN_DIR/start.pid"

# ---------------------------------------------------------------- 1. the engine
ENGINE=$("$ROOT/scripts/docker-engine.sh" start 9>&-) || die "no Docker engine (see above)"
[[ $ENGINE == started ]] && say "started a Docker engine for this run; it stops again with the stack"
command -v docker-compose >/dev/null 2>&1 || die "docker-compose is not installed (Debian: apt-get install docker-compose)"
left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
if [[ -n $left ]]; then
  left=$(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}} ({{.Status}})' | paste -sd ' ')
  [[ $ENGINE == started ]] && "$ROOT/scripts/docker-engine.sh" stop 9>&-
  die "containers of the compose project $PROJECT exist already (another ./start.sh --docker, or one that was killed):
        $left
        Stop it with Ctrl+C where it runs, or remove them: docker rm -f \$(docker ps -aq --filter label=com.docker.compose.project=$PROJECT)"
fi

# ---------------------------------------------------------------- stop on exit
VOLUMES_BEFORE=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | sort)
VOLUMES_USED=
STARTED_ANY=0
cleanup() {
  local rc=$? made v
  trap '' INT TERM HUP
  trap - EXIT
  if (( STARTED_ANY )); then
    printf '[stop] docker-compose down%s (project %s)\n' "$( (( FRESH )) && echo ' --volumes')" "$PROJECT"
    local down=(down --remove-orphans)
    (( FRESH )) && down+=(--volumes)
    compose "${down[@]}" 9>&- >>"$LOG_DIR/compose.log" 2>&1 ||
      printf '[stop] warning: docker-compose down failed (see %s)\n' "$LOG_DIR/compose.log" >&2
    # Compose makes every volume docker-compose.yml names; remove those this run made and left unused.
    for v in $(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT"); do
      printf '%s\n' "$VOLUMES_BEFORE" "$VOLUMES_USED" | grep -qxF "$v" || docker volume rm "$v" >/dev/null 2>&1 || true
    done
    made=$(docker volume ls -q --filter "label=com.docker.compose.project=$PROJECT" | paste -sd ' ')
    [[ -z $made ]] || printf '[stop] kept the data volumes %s (./start.sh --docker --fresh deletes them)\n' "$made"
  fi
  if [[ $ENGINE == started ]]; then "$ROOT/scripts/docker-engine.sh" stop 9>&- || true; fi
  (( STARTED_ANY )) && printf '[stop] everything start.sh started is stopped\n'
  rm -f "$RUN_DIR/start.pid"
  exit "$rc"
}
on_signal() { printf '\n[stop] %s received, stopping\n' "$1"; exit "$2"; }
trap cleanup EXIT
trap 'on_signal SIGINT 130' INT
trap 'on_signal SIGTERM 143' TERM
trap 'on_signal SIGHUP 129' HUP

# ---------------------------------------------------------------- 2-4. base, binaries, images
# shellcheck source=scripts/docker-images.sh
. "$ROOT/scripts/docker-images.sh"   # prepare_images
# shellcheck source=scripts/docker-ready.sh
. "$ROOT/scripts/docker-ready.sh"    # wait_healthy, print_docker_ready
T0=$SECONDS
prepare_images
BUILD_SECONDS=$(( SECONDS - T0 ))

# ---------------------------------------------------------------- 5. up
# shellcheck source=scripts/start/checks.sh
. "$ROOT/scripts/start/checks.sh"   # port_busy, check_websocket
# The compose stack's NGINX serves plain HTTP here (HTTPS in compose: docker-compose.tls.yml), so
# check_websocket probes it as start.sh does without --tls (scripts/start/tls.sh).
TLS_ON=0
nginx_curl_base() { NGINX_CURL=() NGINX_BASE="http://127.0.0.1:$HTTP_PORT"; }
if port_busy "$HTTP_PORT"; then die "port $HTTP_PORT (HTTP_PORT) is already in use; choose another, e.g. HTTP_PORT=8000 ./start.sh --docker"; fi
"$ROOT/scripts/render-nginx.sh" compose-host "$NGINX_CONF" || die "could not render the NGINX configuration"
if (( FRESH )) && [[ -n $VOLUMES_BEFORE ]]; then
  say "--fresh: deleting the volumes $(paste -sd ' ' <<<"$VOLUMES_BEFORE")"
  # shellcheck disable=SC2086  # one volume name a line
  docker volume rm $VOLUMES_BEFORE >/dev/null || die "could not delete the volumes of $PROJECT"
  VOLUMES_BEFORE=
fi
T0=$SECONDS
say "docker-compose up -d ${TARGETS[*]} (project $PROJECT, profiles $COMPOSE_PROFILES; output in $LOG_DIR/compose.log)"
STARTED_ANY=1
compose up -d --no-build "${TARGETS[@]}" 9>&- >>"$LOG_DIR/compose.log" 2>&1 ||
  { tail -n 30 "$LOG_DIR/compose.log" >&2; die "docker-compose up failed (see $LOG_DIR/compose.log)"; }
wait_healthy
VOLUMES_USED=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" |
  xargs -r docker inspect --format '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}{{"\n"}}{{end}}{{end}}' | sort -u)
check_websocket
print_docker_ready
say "images ready in ${BUILD_SECONDS}s, the stack up and healthy in $(( SECONDS - T0 ))s"

# ---------------------------------------------------------------- watch
# Report containers that exit while the system runs (scripts/docker-kill-edge.sh, a crash the
# restart policy gave up on). Never exits on its own.
declare -A REPORTED=()
while :; do
  sleep 2 9>&- & wait $! || true
  while read -r name status; do
    [[ -n $name && -z ${REPORTED[$name]:-} && $name != *redis-cluster-init* ]] || continue
    REPORTED[$name]=1
    printf '[watch] %s exited (%s); logs: docker logs %s\n' "$name" "$status" "$name"
  done < <(docker ps -a --filter "label=com.docker.compose.project=$PROJECT" --filter status=exited \
             --format '{{.Names}} {{.Status}}' 2>/dev/null)
done

#!/usr/bin/env bash
# The compose stack from nothing, tested as the native one is: ./start.sh --docker --fresh builds
# every image on this machine (a base image from debootstrap made in this run, Debian's Redis,
# NATS and NGINX, the services' image; no image cached, no Docker Hub), starts the stack and
# waits until it is healthy; then, through its NGINX, the websocat session, the curl and
# websocat commands of the docs, the frames and NATS events against docs/asyncapi.yaml, the
# stack tests (per-IP limits, admin access, tokens, Origin, reads, refused frames) and the
# browser tests, whose last one kills an edge container (scripts/docker-kill-edge.sh) and sees
# its browser move to the other edge. Then SIGTERM (what Ctrl+C does) and the check that no
# container, network or volume of the compose project is left.
#
#   tests/compose/run.sh          (the test command runs it after the native stack)
#
# The engine: when none answers, one of its own (scripts/docker-engine.sh) with a new, empty
# data root, stopped and deleted at the end. When one answers, that one, with images of this
# run's own tag built without the layer cache, and removed at the end.
# Environment: BIN_DIR (the booking-service and edge-server the images get; default: a cargo
# build --release, as ./start.sh --docker does), SEATMAP_NET (the compose network, default
# 172.30.214), TOKEN_SECRET. Needs root (dockerd, debootstrap), websocat, node and chromium
# (./test.sh installs them); installs docker.io, docker-compose and debootstrap with apt-get.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin:${CARGO_HOME:-$HOME/.cargo}/bin"
step() { printf '\n[compose] %s\n' "$*"; }
die() { printf '[compose] FAILED: %s\n' "$*" >&2; exit 1; }
T_ALL=$SECONDS

# --- what it needs ---------------------------------------------------------------------------
(( EUID == 0 )) || die "run as root: dockerd and debootstrap need it"
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if (( ${#missing[@]} )); then
  step "installing ${missing[*]} with apt-get"
  # A temporary policy-rc.d keeps docker.io's own service from starting: the engine this test
  # uses is the one it starts itself, with an empty data root.
  made_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && made_policy=1
  fi
  installed=0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null &&
    installed=1
  (( ! made_policy )) || rm -f /usr/sbin/policy-rc.d
  (( installed )) || die "apt-get install ${missing[*]} failed"
fi
for p in websocat node chromium curl; do command -v "$p" >/dev/null 2>&1 || die "$p is not installed (./test.sh installs it)"; done
[[ -d tests/browser/node_modules ]] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/browser failed"
[[ -d tests/asyncapi/node_modules ]] || (cd tests/asyncapi && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in tests/asyncapi failed"

# --- an engine, and nothing cached ------------------------------------------------------------
work=$(mktemp -d /var/tmp/seatmap-compose-test.XXXXXX)
own_engine=0
export SEATMAP_DOCKER_CACHE="$work/cache"   # so docker-base.sh runs debootstrap in this run
export SEATMAP_NET=${SEATMAP_NET:-172.30.214} COMPOSE_PROJECT_NAME="seatmaptest$$"
if docker info >/dev/null 2>&1; then
  export SEATMAP_TAG="test-$$" SEATMAP_LOCAL_BASE="seatmap-base:test-$$" SEATMAP_DOCKER_NO_CACHE=1
  step "a Docker engine answers: images tagged $SEATMAP_TAG, built without the layer cache"
else
  export SEATMAP_DOCKER_ROOT="$work/docker"
  step "starting a Docker engine with an empty data root ($SEATMAP_DOCKER_ROOT)"
  [[ $(scripts/docker-engine.sh start) == started ]] || die "could not start dockerd"
  own_engine=1
fi
finish() {
  local t
  if declare -F stack_stop >/dev/null; then stack_stop || true; fi
  if (( own_engine )); then
    scripts/docker-engine.sh stop || true
  else
    for t in app redis nats nginx; do docker rmi -f "seatmap-$t:$SEATMAP_TAG" >/dev/null 2>&1 || true; done
    docker rmi -f "$SEATMAP_LOCAL_BASE" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap finish EXIT
[[ -z $(docker images -q --filter "reference=seatmap-*:${SEATMAP_TAG:-local}") && -z $(docker images -q "${SEATMAP_LOCAL_BASE:-seatmap-base:bookworm}") ]] ||
  die "images of this run's tag exist before it built any"

# --- up: ./start.sh --docker --fresh from nothing --------------------------------------------
source scripts/free-port.sh
source scripts/lib/stack.sh
# This stack's settings are its own, whatever the caller exported (test.sh's waiting-room stacks
# leave MAX_SHOPPERS=1 and EDGES=1 behind): the service defaults, as for the native main stack.
unset MAX_SHOPPERS SHOPPING_SECONDS EDGES MAX_HOLDS_PER_USER USER_RATE_LIMIT EVENT_HISTORY \
  SINGLE_SEAT_RULE VENUES ALLOWED_ORIGINS ADMIN_FROM COMPOSE_FILE COMPOSE_PROFILES
if [[ -z ${TOKEN_SECRET:-} ]]; then TOKEN_SECRET=$(od -vAn -N32 -tx1 /dev/urandom | tr -d ' \n'); fi
# shellcheck disable=SC2119  # free_port takes no argument here
# HOLD_SECONDS=8, not the native run's 4: a killed edge container's address goes silent instead
# of refusing, so its browsers move only after NGINX's 2 s connect timeout, and the kill test
# checks that a hold made before the kill is still there after the move.
RUN_DIR="$work/run" HOLD_SECONDS=8 ADMIN_TOKEN="test-admin-$RANDOM$RANDOM" HTTP_PORT=$(free_port)
export TOKEN_SECRET RUN_DIR HOLD_SECONDS ADMIN_TOKEN HTTP_PORT
[[ -z ${BIN_DIR:-} ]] || export BIN_DIR
step "./start.sh --docker --fresh: base, images, stack (NGINX on $HTTP_PORT, project $COMPOSE_PROJECT_NAME, output in $RUN_DIR/start.out)"
T0=$SECONDS
STACK_UP_TIMEOUT=900 stack_start --docker --fresh || die "the compose stack did not come up"
T_UP=$(( SECONDS - T0 ))
grep -E '^\[(docker-base|start)\] (made|images built|images ready)' "$RUN_DIR/start.out" || true
step "up from nothing in ${T_UP}s"

# --- the tests, through the compose stack's NGINX ---------------------------------------------
url="http://127.0.0.1:$HTTP_PORT"
step "websocat session through NGINX"
tests/websocat-session.sh "ws://127.0.0.1:$HTTP_PORT/ws" || die "websocat session failed"
step "the curl and websocat commands README.md and DEMO.md show, against the compose stack"
tests/docs-commands.sh "$url" "$RUN_DIR" || die "a command the docs show does not do what they say"
step "frames and NATS events from the compose stack against docs/asyncapi.yaml"
node tests/asyncapi/live.mjs docs/asyncapi.yaml "ws://127.0.0.1:$HTTP_PORT/ws" "$SEATMAP_NET.20:4222" ||
  die "a frame or event does not match docs/asyncapi.yaml"
curl -sf -X POST -H "Authorization: Bearer $ADMIN_TOKEN" "$url/api/admin/reset" >/dev/null || die "the admin reset failed"

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
export SEATMAP_URL=$url SEATMAP_ADMIN_TOKEN=$ADMIN_TOKEN SEATMAP_RUN_DIR=$RUN_DIR SEATMAP_HOLD_SECONDS=$HOLD_SECONDS
export SEATMAP_BIN_DIR=${BIN_DIR:-$ROOT/target/release}
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium)} SEATMAP_SCREENSHOT_DIR="$ROOT/tests/browser/artifacts/compose"
export SEATMAP_KILL_EDGE="$ROOT/scripts/docker-kill-edge.sh {edge} $COMPOSE_PROJECT_NAME"
step "stack tests through the compose stack's NGINX (client addresses 127.0.0.1-7)"
(cd tests/browser && node --test --test-concurrency=1 --test-reporter=spec stack.test.mjs) || die "stack tests failed"
step "browser tests (headless Chromium); the last kills an edge container"
(cd tests/browser && node --test --test-concurrency=1 --test-reporter=spec waiting-room-page.test.mjs) ||
  die "browser tests failed"
(cd tests/browser && node --test --test-concurrency=1 --test-reporter=spec arena.test.mjs groups.test.mjs resilience.test.mjs seatmap.test.mjs) ||
  die "browser tests failed"
grep -q '^\[watch\] .*edge.* exited' "$RUN_DIR/start.out" || die "start.sh did not report the killed edge container"

# --- down, and nothing left --------------------------------------------------------------------
step "SIGTERM to start.sh (what Ctrl+C does), then nothing of project $COMPOSE_PROJECT_NAME may be left"
T0=$SECONDS
stack_stop || die "start.sh did not stop"
filter="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"
remains=$( { docker ps -aq --filter "$filter"; docker network ls -q --filter "$filter"; docker volume ls -q --filter "$filter"; } )
[[ -z $remains ]] || die "left behind: $(docker ps -a --filter "$filter" --format '{{.Names}}') $(docker network ls --filter "$filter" --format '{{.Name}}') $(docker volume ls --filter "$filter" --format '{{.Name}}')"
grep -q '^\[stop\] everything start.sh started is stopped' "$RUN_DIR/start.out" || die "start.sh did not say it stopped everything"
step "down in $(( SECONDS - T0 ))s; no container, network or volume of $COMPOSE_PROJECT_NAME is left"
echo "compose: up from nothing ${T_UP}s, all in $(( SECONDS - T_ALL ))s: every test passed"

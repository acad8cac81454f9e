#!/usr/bin/env bash
# docker-engine.sh: a Docker engine for the compose stack, started only when none answers.
#
#   scripts/docker-engine.sh start   prints "running" when an engine already answers; otherwise
#                                    starts Debian's dockerd as root (installs docker.io with
#                                    apt-get when missing) and prints "started"
#   scripts/docker-engine.sh stop    stops the dockerd that `start` started (its pid file), and
#                                    nothing else
#
# The engine `start` makes keeps its images and volumes in SEATMAP_DOCKER_ROOT (default
# /var/lib/seatmap-docker) and its state in /run/seatmap-docker (pid file, dockerd.log), and
# listens on the default socket, so plain `docker` and `docker-compose` commands reach it.
# DOCKER_HOST, when set, is the engine asked; `start` then only checks it. Messages go to stderr.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
say() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { printf '[docker-engine] error: %s\n' "$*" >&2; exit 1; }

DATA_ROOT=${SEATMAP_DOCKER_ROOT:-/var/lib/seatmap-docker}
STATE=/run/seatmap-docker
PID_FILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log

SUDO=()
if (( EUID != 0 )); then
  command -v sudo >/dev/null 2>&1 || die "dockerd runs as root: run as root or install sudo"
  if [[ -t 0 && -z ${CI:-} ]]; then SUDO=(sudo); else SUDO=(sudo -n); fi
fi
answers() { docker info >/dev/null 2>&1; }

start() {
  command -v docker >/dev/null 2>&1 && answers && { echo running; return 0; }
  [[ -z ${DOCKER_HOST:-} ]] || die "DOCKER_HOST=$DOCKER_HOST does not answer"
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    say "installing docker.io with apt-get (its system service is not started)"
    # shellcheck disable=SC2016  # the script is expanded by sh, not here
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive sh -c '
      set -e
      made=
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made=1
      fi
      trap "if [ -n \"\$made\" ]; then rm -f /usr/sbin/policy-rc.d; fi" EXIT
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    ' </dev/null || die "could not install docker.io with apt-get"
  fi
  "${SUDO[@]}" mkdir -p "$DATA_ROOT" "$STATE"
  # setsid: its own session, so a Ctrl+C in the terminal reaches only whoever stops it.
  "${SUDO[@]}" setsid dockerd --data-root "$DATA_ROOT" --exec-root "$STATE/exec" \
    --pidfile "$PID_FILE" </dev/null >>"$LOG" 2>&1 &
  local i
  for (( i = 0; i < 300; i++ )); do
    answers && break
    sleep 0.1
  done
  answers || { tail -n 20 "$LOG" >&2; die "dockerd did not answer within 30 s (log: $LOG)"; }
  say "started dockerd (pid $(cat "$PID_FILE"), data in $DATA_ROOT, log $LOG)"
  echo started
}

stop() {
  [[ -f $PID_FILE ]] || { say "no $PID_FILE: no dockerd of ours runs"; return 0; }
  local pid i
  pid=$(<"$PID_FILE")
  if [[ $(cat "/proc/$pid/comm" 2>/dev/null) != dockerd ]]; then
    say "dockerd (pid $pid) is not running"
    return 0
  fi
  "${SUDO[@]}" kill -TERM "$pid"
  for (( i = 0; i < 300; i++ )); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
  [[ ! -e /proc/$pid ]] || die "dockerd (pid $pid) still runs 30 s after SIGTERM"
  say "stopped dockerd (pid $pid)"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  *) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2 ;;
esac

# Sourced by start.sh: the programs the native run needs (installed with apt-get when it
# can), and the docker compose fallback.
# Needs: ROOT, RUN_DIR, EDGES, HTTP_PORT, CLUSTER, FRESH, NO_BUILD, MONITORING, PROMETHEUS_PORT,
# ADMIN_TOKEN(_GENERATED), TOKEN_SECRET(_GENERATED), write_settings, say, warn, die.

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

# The stack in containers: scripts/docker-start.sh (starts a Docker engine when none runs, builds
# the images, even without Docker Hub, and removes the containers on Ctrl+C).
run_compose() {
  (( EDGES == 2 )) || warn "docker compose always runs two edges; EDGES=$EDGES is ignored"
  mkdir -p "$RUN_DIR"
  write_settings   # $RUN_DIR/admin_token and $RUN_DIR/limits.env, as natively
  local flags=()
  (( CLUSTER )) && flags+=(--cluster)
  (( FRESH )) && flags+=(--fresh)
  (( NO_BUILD )) && flags+=(--no-build)
  (( MONITORING )) && flags+=(--monitoring)
  export RUN_DIR HTTP_PORT HEALTH_TIMEOUT PROMETHEUS_PORT CALLER_PWD ADMIN_TOKEN_GENERATED TOKEN_SECRET_GENERATED
  exec "$ROOT/scripts/docker-start.sh" "${flags[@]}"
}

REQUIRED=(redis-server redis-cli nats-server nginx curl)
(( MONITORING )) && REQUIRED+=(prometheus)
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

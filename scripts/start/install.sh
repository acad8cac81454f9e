# Sourced by start.sh: the programs the native run needs (installed with apt-get when it
# can), and the docker compose fallback.
# Needs: ROOT, EDGES, HTTP_PORT, MONITORING, PROMETHEUS_PORT, ADMIN_TOKEN(_GENERATED),
# TOKEN_SECRET(_GENERATED), say, warn, die.

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

run_compose() {
  local compose=()
  if docker compose version >/dev/null 2>&1; then compose=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then compose=(docker-compose)
  else die "a Docker engine runs, but neither 'docker compose' nor 'docker-compose' is installed"
  fi
  (( EDGES == 2 )) || warn "docker compose always runs two edges (edge1, edge2); EDGES=$EDGES is ignored"
  warn "docker compose uses the default per-IP limits in nginx/nginx.compose.conf; LIMIT_* and ADMIN_FROM apply to the native run only"
  export HTTP_PORT TOKEN_SECRET ADMIN_TOKEN INTERNAL_TOKEN
  if (( MONITORING )); then
    # Prometheus beside the stack, on 127.0.0.1:PROMETHEUS_PORT (docker-compose.yml's profile).
    export PROMETHEUS_PORT COMPOSE_PROFILES="${COMPOSE_PROFILES:-single},monitoring"
  fi
  say "running the stack with: ${compose[*]} up --build (Ctrl+C stops the containers)"
  say "URL: http://localhost$( (( HTTP_PORT == 80 )) || printf ':%s' "$HTTP_PORT")"
  (( ADMIN_TOKEN_GENERATED )) && say "ADMIN_TOKEN=$ADMIN_TOKEN (generated for this run)"
  (( TOKEN_SECRET_GENERATED )) && say "TOKEN_SECRET generated for this run (identities last as long as it does)"
  say "admin reset (only from inside the compose network):"
  say "  docker compose exec booking curl -s -X POST -H 'Authorization: Bearer $ADMIN_TOKEN' http://127.0.0.1:8080/api/admin/reset"
  cd "$ROOT"
  exec "${compose[@]}" -f "$ROOT/docker-compose.yml" up --build
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

# shellcheck shell=bash disable=SC2034  # LIMIT_SPECS is read by the scripts that source this
# The per-IP limits NGINX enforces: name, default, what it limits. Sourced by start.sh's
# settings.sh (which lets the environment override each) and by scripts/render-nginx.sh (which
# writes the defaults into the compose configs). Why these numbers: docs/security.md.
LIMIT_SPECS=(
  "LIMIT_SESSION_PER_MIN 10 POST /api/session per minute"
  "LIMIT_SESSION_BURST 20 POST /api/session burst"
  "LIMIT_SEAT_PER_SEC 20 /api/seats/ commands per second"
  "LIMIT_SEAT_BURST 40 /api/seats/ burst"
  "LIMIT_WS_PER_SEC 5 WebSocket upgrades per second"
  "LIMIT_WS_BURST 30 WebSocket upgrade burst"
  "LIMIT_WS_CONN 50 open WebSockets"
)

#!/usr/bin/env bash
# watch-events.sh: print every seat change published on NATS, one line each, like
# `nats sub 'seats.>'` (which it runs when the nats CLI is installed).
#
#   scripts/watch-events.sh                 # NATS at 127.0.0.1:4222
#   NATS_PORT=24222 scripts/watch-events.sh
#   scripts/watch-events.sh 'seats.main.booked'   # only bookings
#   NATS_ENV=.run/secure/watcher.env scripts/watch-events.sh   # SECURE=1: the read-only user
#
# NATS_ENV names a file of NATS_USER, NATS_PASSWORD and NATS_CA settings (start.sh writes one
# with SECURE=1); they can also come from the environment. Credentials never go on a command
# line. Without the nats CLI it speaks the NATS text protocol: over bash's /dev/tcp, or with TLS
# or credentials through scripts/lib/nats_text.py (python3): no install needed.
set -euo pipefail
case ${1:-} in -h|--help) sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;; esac
subject=${1:-seats.>}
if [[ -n ${NATS_ENV:-} ]]; then
  [[ -r $NATS_ENV ]] || { echo "watch-events: NATS_ENV=$NATS_ENV is not readable" >&2; exit 1; }
  set -a
  # shellcheck source=/dev/null
  . "$NATS_ENV"
  set +a
fi
host=${NATS_HOST:-127.0.0.1}
port=${NATS_PORT:-4222}
if command -v nats >/dev/null 2>&1; then
  # The nats CLI reads NATS_USER, NATS_PASSWORD and NATS_CA from the environment itself.
  exec nats --server "$( [[ -n ${NATS_CA:-} ]] && echo tls || echo nats )://$host:$port" sub "$subject"
fi
if [[ -n ${NATS_CA:-}${NATS_USER:-} ]]; then
  exec python3 "$(dirname "${BASH_SOURCE[0]}")/lib/nats_text.py" "$host" "$port" sub "$subject"
fi
exec 3<>"/dev/tcp/$host/$port" || { echo "watch-events: cannot reach NATS at $host:$port" >&2; exit 1; }
printf 'CONNECT {"verbose":false,"name":"watch-events"}\r\nSUB %s 1\r\n' "$subject" >&3
echo "watch-events: listening on $subject at $host:$port (Ctrl+C to stop)" >&2
current=
while IFS= read -r line <&3; do
  line=${line%$'\r'}
  case $line in
    PING) printf 'PONG\r\n' >&3 ;;
    MSG\ *) set -- $line; current=$2 ;;
    INFO\ * | +OK | PONG) ;;
    -ERR*) echo "watch-events: NATS says $line" >&2 ;;
    *) printf '%s %s\n' "$current" "$line" ;;
  esac
done
echo "watch-events: NATS closed the connection" >&2
